"""The platforms' policy windows, with frozen times passed in as ``now``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from functions.domain.windows import automatic_allowed, human_reply_mode

LAST = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)  # the customer's last message
H = timedelta(hours=1)
D = timedelta(days=1)


# --- automatic messages ---------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["facebook", "instagram", "whatsapp"])
def test_24_hour_window_for_automatic_dms(platform: str) -> None:
    assert automatic_allowed(platform, LAST, LAST)
    assert automatic_allowed(platform, LAST, LAST + 23 * H + timedelta(minutes=59, seconds=59))
    closed = automatic_allowed(platform, LAST, LAST + 24 * H)  # exactly 24 h: closed (the safer reading)
    assert not closed and closed.reason == "window_closed" and "24 hours" in closed.detail
    assert not automatic_allowed(platform, LAST, LAST + 3 * D)


@pytest.mark.parametrize("platform", ["x", "telegram"])
def test_x_and_telegram_have_no_window(platform: str) -> None:
    assert automatic_allowed(platform, LAST, LAST + 365 * D)
    assert automatic_allowed(platform, None, LAST)


@pytest.mark.parametrize(("platform", "channel"), [("facebook", "comment"), ("instagram", "comment"), ("x", "mention")])
def test_public_replies_have_no_window(platform: str, channel: str) -> None:
    assert automatic_allowed(platform, LAST, LAST + 30 * D, channel=channel)


@pytest.mark.parametrize("platform", ["facebook", "instagram"])
def test_private_reply_within_7_days_of_the_comment(platform: str) -> None:
    assert automatic_allowed(platform, LAST, LAST + 6 * D + 23 * H, channel="private_reply")
    closed = automatic_allowed(platform, LAST, LAST + 7 * D, channel="private_reply")
    assert not closed and closed.reason == "private_reply_window_closed"


def test_no_private_replies_on_x() -> None:
    verdict = automatic_allowed("x", LAST, LAST, channel="private_reply")
    assert not verdict and verdict.reason == "no_private_reply"


def test_clock_skew_counts_as_inside() -> None:
    assert automatic_allowed("facebook", LAST, LAST - 5 * timedelta(seconds=1))


def test_no_customer_message_means_closed() -> None:
    verdict = automatic_allowed("whatsapp", None, LAST)
    assert not verdict and verdict.reason == "no_inbound"


def test_unknown_platform_or_channel_is_an_error() -> None:
    with pytest.raises(ValueError, match="'tiktok' is not a platform"):
        automatic_allowed("tiktok", LAST, LAST)
    with pytest.raises(ValueError, match="'story' is not dm"):
        automatic_allowed("facebook", LAST, LAST, channel="story")


# --- staff replies --------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["facebook", "instagram"])
@pytest.mark.parametrize(
    ("after", "mode"),
    [
        (timedelta(0), "RESPONSE"),
        (24 * H - timedelta(seconds=1), "RESPONSE"),
        (24 * H, "HUMAN_AGENT"),
        (6 * D + 23 * H, "HUMAN_AGENT"),
        (7 * D, None),
        (30 * D, None),
    ],
)
def test_meta_human_agent_tag_between_24_hours_and_7_days(platform: str, after: timedelta, mode: str | None) -> None:
    got, refusal = human_reply_mode(platform, LAST, LAST + after)
    assert got == mode
    assert (refusal is None) == (mode is not None)
    if mode is None:
        assert "more than 7 days" in refusal  # type: ignore[operator]


def test_whatsapp_free_form_for_24_hours_then_only_a_template() -> None:
    assert human_reply_mode("whatsapp", LAST, LAST + 23 * H) == ("RESPONSE", None)
    mode, refusal = human_reply_mode("whatsapp", LAST, LAST + 25 * H)
    assert mode is None and "approved template" in refusal  # type: ignore[operator]
    assert human_reply_mode("whatsapp", LAST, LAST + 25 * H, template=True) == ("TEMPLATE", None)
    assert human_reply_mode("whatsapp", LAST, LAST + 10 * D, template=True) == ("TEMPLATE", None)


@pytest.mark.parametrize("platform", ["x", "telegram"])
def test_x_and_telegram_always_take_a_reply(platform: str) -> None:
    assert human_reply_mode(platform, LAST, LAST + 90 * D) == ("RESPONSE", None)


def test_meta_refuses_a_customer_who_never_wrote() -> None:
    mode, refusal = human_reply_mode("instagram", None, LAST)
    assert mode is None and "never written" in refusal  # type: ignore[operator]
