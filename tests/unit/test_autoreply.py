"""The acknowledgement decision: rules, business hours, bots and echoes, one per clock, platform windows."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any, Optional

import pytest

from functions.domain.autoreply import (
    Acknowledge,
    AckRule,
    MessageFacts,
    Skip,
    WhatsAppTemplate,
    decide,
    idempotency_key,
    sender_is_bot,
)
from functions.domain.calendar import BusinessCalendar
from functions.domain.message import Message

CALENDAR = BusinessCalendar(  # Mon-Fri 09:00-17:30 UTC
    name="support", timezone="UTC", hours={day: ((time(9), time(17, 30)),) for day in range(5)}
)
OPEN = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # Monday morning
CLOSED = datetime(2026, 6, 13, 22, 0, tzinfo=UTC)  # Saturday night
TEMPLATE = WhatsAppTemplate("message_received", "en_US")


def rule(when: str = "always", reply: str = "private", **match: str) -> AckRule:
    return AckRule(name="test", match={k: frozenset({v}) for k, v in match.items()}, when=when,  # type: ignore[arg-type]
                   reply=reply, calendar=CALENDAR)  # type: ignore[arg-type]


def facts(platform: str = "facebook", channel: str = "dm", at: datetime = OPEN, **extra: Any) -> MessageFacts:
    return MessageFacts(platform=platform, channel=channel, direction=extra.pop("direction", "in"), sent_at=at,
                        **extra)


def run(message: MessageFacts, ack_rule: Optional[AckRule], now: datetime, **extra: Any) -> Acknowledge | Skip:
    return decide(message, ack_rule, now=now, already_acknowledged=extra.pop("already_acknowledged", False), **extra)


# --- DMs: at once -------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["facebook", "instagram", "whatsapp", "x", "telegram"])
def test_dm_always_is_acknowledged_at_once(platform: str) -> None:
    during = run(facts(platform), rule(), OPEN)
    assert during == Acknowledge(kind="ack", channel="dm", private=False, rule="test")
    after = run(facts(platform, at=CLOSED), rule(), CLOSED)
    assert isinstance(after, Acknowledge) and after.kind == "ack_after_hours" and after


def test_one_acknowledgement_per_clock() -> None:
    # The caller keys the send on ack:<conversation>:<clock>; the second message of a burst is told so too.
    first = run(facts(), rule(), OPEN)
    later = run(facts(at=OPEN + timedelta(seconds=30)), rule(), OPEN + timedelta(seconds=30), already_acknowledged=True)
    assert isinstance(first, Acknowledge)
    assert later == Skip("already_acknowledged", "this response clock already got its acknowledgement")
    assert not later
    assert idempotency_key("facebook:1:2", "f1781517600000") == "ack:facebook:1:2:f1781517600000"


# --- comments: outside hours only --------------------------------------------------------------


def test_comment_outside_hours_only() -> None:
    outside = rule("outside_hours", channel="comment")
    skipped = run(facts(channel="comment"), outside, OPEN)
    assert isinstance(skipped, Skip) and skipped.reason == "business_hours"
    answered = run(facts(channel="comment", at=CLOSED), outside, CLOSED)
    assert answered == Acknowledge("ack_after_hours", "private_reply", True, "test")


@pytest.mark.parametrize("platform", ["facebook", "instagram"])
def test_comment_public_reply(platform: str) -> None:
    got = run(facts(platform, "comment", at=CLOSED), rule("outside_hours", reply="public"), CLOSED)
    assert got == Acknowledge("ack_after_hours", "comment", False, "test")


def test_x_mention_has_no_private_reply_so_it_is_public() -> None:
    got = run(facts("x", "mention", at=CLOSED), rule("outside_hours", reply="private"), CLOSED)
    assert got == Acknowledge("ack_after_hours", "mention", False, "test")


def test_private_reply_only_within_7_days_of_the_comment() -> None:
    late = CLOSED + timedelta(days=7)
    # A comment delivered a week late (Meta retries for days); a later message doesn't extend it.
    got = run(facts("instagram", "comment", at=CLOSED), rule(), late, last_inbound_at=late)
    assert isinstance(got, Skip) and got.reason == "private_reply_window_closed"
    public = run(facts("instagram", "comment", at=CLOSED), rule(reply="public"), late)
    assert isinstance(public, Acknowledge)


# --- never ---------------------------------------------------------------------------------------


def test_the_brands_own_messages_and_echoes_are_never_answered() -> None:
    got = run(facts(direction="out"), rule(), OPEN)
    assert isinstance(got, Skip) and got.reason == "outbound"


def test_another_bot_is_never_answered() -> None:
    got = run(facts("telegram", sender_is_bot=True), rule(), OPEN)
    assert isinstance(got, Skip) and got.reason == "bot"


def test_noise_is_never_answered() -> None:
    got = run(facts(noise=True), rule(), OPEN)
    assert isinstance(got, Skip) and got.reason == "noise"


def test_rule_never_and_no_rule() -> None:
    assert run(facts(), rule("never"), CLOSED) == Skip("rule_never", "rule 'test' says never")
    got = run(facts(), None, CLOSED)
    assert isinstance(got, Skip) and got.reason == "no_rule"


def test_a_rule_without_its_calendar_is_a_programming_error() -> None:
    bare = AckRule(name="bare", match={}, when="always")
    with pytest.raises(ValueError, match="Config.acknowledge_rule_for"):
        run(facts(), bare, OPEN)


# --- windows -------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["facebook", "instagram"])
def test_meta_dm_outside_24_hours_is_not_acknowledged(platform: str) -> None:
    sent = OPEN - timedelta(days=2)  # a webhook retried for two days
    got = run(facts(platform, at=sent), rule(), OPEN)
    assert isinstance(got, Skip) and got.reason == "window_closed"


def test_a_newer_customer_message_keeps_the_window_open() -> None:
    sent = OPEN - timedelta(days=2)
    got = run(facts(at=sent), rule(), OPEN, last_inbound_at=OPEN - timedelta(minutes=1))
    assert isinstance(got, Acknowledge)


def test_whatsapp_outside_24_hours_uses_the_template_or_nothing() -> None:
    sent = OPEN - timedelta(hours=30)
    assert run(facts("whatsapp", at=sent), rule(), OPEN, whatsapp_template=TEMPLATE) == Acknowledge(
        "ack", "dm", False, "test", whatsapp_template=TEMPLATE)
    got = run(facts("whatsapp", at=sent), rule(), OPEN)
    assert isinstance(got, Skip) and got.reason == "window_closed"
    inside = run(facts("whatsapp"), rule(), OPEN, whatsapp_template=TEMPLATE)
    assert isinstance(inside, Acknowledge) and inside.whatsapp_template is None
    assert TEMPLATE.to_json() == {"name": "message_received", "language": "en_US"}


@pytest.mark.parametrize("platform", ["x", "telegram"])
def test_x_and_telegram_have_no_window(platform: str) -> None:
    got = run(facts(platform, at=OPEN - timedelta(days=3)), rule(), OPEN)
    assert isinstance(got, Acknowledge)


# --- rules and facts -------------------------------------------------------------------------------


def test_rule_matching_includes_the_clock() -> None:
    new_dm = rule(channel="dm", clock="first_response")
    assert new_dm.matches("facebook", "dm", "1")
    assert not new_dm.matches("facebook", "dm", "1", clock="next_response")
    assert not new_dm.matches("facebook", "comment", "1")
    assert rule().shadows(new_dm) and not new_dm.shadows(rule())


def telegram(sender: dict[str, Any]) -> Message:
    raw = {"update_id": 1, "message": {"message_id": 7, "date": 1, "chat": {"id": 42}, "from": sender}}
    return Message(platform="telegram", channel="dm", account_id="7000000001", platform_message_id="42:7",
                   direction="in", sent_at=OPEN, text="hi", raw=raw, customer_id="42")


def test_facts_from_a_message_see_telegram_bots() -> None:
    assert MessageFacts.from_message(telegram({"id": 9, "is_bot": True})).sender_is_bot
    assert not MessageFacts.from_message(telegram({"id": 9, "is_bot": False})).sender_is_bot
    human = MessageFacts.from_message(telegram({"id": 9, "is_bot": False}))
    assert (human.platform, human.channel, human.direction, human.sent_at, human.noise) == (
        "telegram", "dm", "in", OPEN, False)
    assert not sender_is_bot("facebook", {"message": {"from": {"is_bot": True}}})
    assert not sender_is_bot("telegram", {"edited_message": {}})
