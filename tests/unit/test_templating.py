"""Templates: every one on every platform, the fallback order, strictness, customer text as data, platform limits."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import functions
from functions import templating
from functions.domain import phrases
from functions.domain.calendar import BusinessCalendar
from functions.templating import (
    LIMITS,
    SURFACES,
    LimitExceeded,
    TemplateError,
    TemplateName,
    TemplateNotFound,
    candidates,
    check,
    check_limit,
    fits,
    render,
    resolve,
)

AMS = ZoneInfo("Europe/Amsterdam")
SUPPORT = BusinessCalendar(
    name="support", timezone="Europe/Amsterdam", hours={day: ((time(9), time(17, 30)),) for day in range(5)}
)
FRIDAY_NIGHT = datetime(2026, 6, 12, 22, 0, tzinfo=AMS)
MONDAY_MORNING = datetime(2026, 6, 15, 10, 0, tzinfo=AMS)
SHIPPED = [(kind, language) for kind in templating.ACK_KINDS for language in ("en", "nl")]
EVERYWHERE = [(platform, channel) for platform, channels in SURFACES.items() for channel in channels]


def variables(now: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "customer_name": "Ana",
        "brand_name": "Heed Demo",
        "next_available": phrases.next_available(SUPPORT, now),
        "expected_response": phrases.expected_response(SUPPORT, timedelta(hours=4), now),
        "conversation_id": "ckbu67nkckh7afvifedce45aq",
        **extra,
    }


def write(directory: Path, **templates: str) -> Path:
    """Templates by file name with dots as double underscores: ack__mention__en="..."."""
    directory.mkdir(exist_ok=True)
    for name, text in templates.items():
        (directory / (name.replace("__", ".") + templating.SUFFIX)).write_text(text)
    return directory


GOOD = {"ack__en": "Thanks{% if customer_name %}, {{ customer_name }}{% endif %}! Back {{ expected_response }}.",
        "ack_after_hours__en": "Thanks! We're back {{ next_available }}."}


# --- every shipped template, everywhere it is used ---------------------------------------------


@pytest.mark.parametrize(("platform", "channel"), EVERYWHERE)
@pytest.mark.parametrize(("kind", "language"), SHIPPED)
def test_every_template_on_every_platform(kind: str, language: str, platform: str, channel: str) -> None:
    now = MONDAY_MORNING if kind == "ack" else FRIDAY_NIGHT
    for name in ("Ana", None, templating.LONG_NAME):
        text = render(kind, platform, channel, language, variables(now, customer_name=name))
        assert fits(platform, channel, text)
        assert "None" not in text and "{{" not in text and "{%" not in text
        assert (name or "") in text or channel == "mention"  # the @-mention names an X customer
    name = resolve(kind, platform, channel, language)
    assert name.language == language and name.kind == kind
    if channel != "dm":
        assert name.channel == channel  # public and private replies to comments have their own wording
    if kind == "ack_after_hours":
        assert {"en": "Monday at 09:00", "nl": "maandag om 09:00"}[language] in text
    else:
        assert {"en": "within 4 hours", "nl": "binnen 4 uur"}[language] in text


def test_after_hours_says_when_the_team_is_back() -> None:
    text = render("ack_after_hours", "facebook", "dm", "en", variables(FRIDAY_NIGHT))
    assert "We're back Monday at 09:00" in text and "by Monday at 13:00" in text
    dutch = render("ack_after_hours", "whatsapp", "dm", "nl", variables(FRIDAY_NIGHT))
    assert "We zijn er weer maandag om 09:00" in dutch and "uiterlijk maandag om 13:00" in dutch


def test_make_check_templates_passes() -> None:
    problems, renders = check()
    assert problems == []
    # the handoff notice (English and Dutch) goes to DMs and private replies, never public: 7 places
    handoff_places = [(p, c) for p, c in EVERYWHERE if c in templating.KIND_CHANNELS["handoff"]]
    assert len(handoff_places) == 7
    assert renders == (len(SHIPPED) * len(EVERYWHERE) + 2 * len(handoff_places)) * len(templating.samples())
    assert templating.main(["--check"]) == 0  # what `make check-templates` runs


def test_templates_sit_beside_the_package() -> None:
    # In the Lambda zip functions/ and templates/ are both at the root, as in the repo.
    assert templating.TEMPLATES_DIR == Path(functions.__file__).resolve().parent.parent / "templates"
    assert (templating.TEMPLATES_DIR / "ack.en.txt.j2").is_file()
    assert templating.available_languages() == ("en", "nl")


# --- the fallback order -------------------------------------------------------------------------------


def test_fallback_order() -> None:
    assert [name.filename for name in candidates("ack", "x", "mention", "pt_BR", "en")] == [
        "ack.x.mention.pt-br.txt.j2", "ack.mention.pt-br.txt.j2", "ack.x.pt-br.txt.j2", "ack.pt-br.txt.j2",
        "ack.x.mention.pt.txt.j2", "ack.mention.pt.txt.j2", "ack.x.pt.txt.j2", "ack.pt.txt.j2",
        "ack.x.mention.en.txt.j2", "ack.mention.en.txt.j2", "ack.x.en.txt.j2", "ack.en.txt.j2",
    ]
    assert [name.filename for name in candidates("ack", "telegram", "dm", None, "nl")] == [
        "ack.telegram.dm.nl.txt.j2", "ack.dm.nl.txt.j2", "ack.telegram.nl.txt.j2", "ack.nl.txt.j2"]


def test_the_first_template_that_exists_wins(tmp_path: Path) -> None:
    order = ["ack__x__mention__nl", "ack__mention__nl", "ack__x__nl", "ack__nl",
             "ack__x__mention__en", "ack__mention__en", "ack__x__en", "ack__en"]
    for index, name in enumerate(order):
        directory = write(tmp_path / str(index), **{later: f"from {later}" for later in order[index:]})
        assert render("ack", "x", "mention", "nl-BE", variables(MONDAY_MORNING), directory=directory) == f"from {name}"
    with pytest.raises(TemplateNotFound, match="no template for ack on x mention in nl .*tried: ack.x.mention.nl"):
        resolve("ack", "x", "mention", "nl", directory=write(tmp_path / "none"))


def test_unknown_language_uses_the_default(tmp_path: Path) -> None:
    text = render("ack_after_hours", "telegram", "dm", "de", variables(FRIDAY_NIGHT))
    assert "We're back Monday at 09:00" in text  # English template, English words
    assert resolve("ack", "telegram", "dm", "not a language!").language == "en"
    assert resolve("ack", "telegram", "dm", None, default_language="nl").language == "nl"


def test_a_template_name_is_kind_platform_channel_language() -> None:
    assert TemplateName.parse("ack_after_hours.instagram.private_reply.pt-br.txt.j2") == TemplateName(
        "ack_after_hours", "pt-br", "instagram", "private_reply")
    assert TemplateName.parse("ack.comment.facebook.en.txt.j2").filename == "ack.facebook.comment.en.txt.j2"
    for bad in ("ack.txt.j2", "ack.tiktok.en.txt.j2", "ack.x.x.en.txt.j2", "ack.EN.txt.j2", "Ack.en.txt.j2"):
        with pytest.raises(ValueError):
            TemplateName.parse(bad)


# --- strict, sandboxed, customer text as data ---------------------------------------------------------


def test_a_missing_variable_is_an_error_not_a_blank(tmp_path: Path) -> None:
    directory = write(tmp_path, ack__en="Hi {{ customer_nmae }}!")
    with pytest.raises(TemplateError, match="ack.en.txt.j2: 'customer_nmae' is undefined"):
        render("ack", "telegram", "dm", "en", variables(MONDAY_MORNING), directory=directory)


def test_variables_must_all_be_given_and_known() -> None:
    given = variables(MONDAY_MORNING)
    del given["conversation_id"]
    with pytest.raises(TemplateError, match=r"missing \['conversation_id'\]"):
        render("ack", "telegram", "dm", "en", given)
    with pytest.raises(TemplateError, match=r"unknown \['order'\]"):
        render("ack", "telegram", "dm", "en", {**variables(MONDAY_MORNING), "order": "1"})
    with pytest.raises(TemplateError, match="brand_name: expected a string"):
        render("ack", "telegram", "dm", "en", variables(MONDAY_MORNING, brand_name=None))


def test_customer_text_is_never_template_source() -> None:
    for platform, channel in EVERYWHERE:
        text = render("ack", platform, channel, "en", variables(MONDAY_MORNING, customer_name="{{ 7*7 }}"))
        assert "49" not in text
        if channel != "mention":
            assert "{{ 7*7 }}" in text
    text = render("ack", "facebook", "dm", "en", variables(MONDAY_MORNING, customer_name="{% raw %}{{ x }}"))
    assert "{% raw %}{{ x }}" in text


def test_a_name_cannot_break_the_layout() -> None:
    text = render("ack", "telegram", "dm", "en", variables(MONDAY_MORNING, customer_name="  Ana\n\nvan  Dijk "))
    assert text.startswith("Hi Ana van Dijk, thanks")
    blank = render("ack", "telegram", "dm", "en", variables(MONDAY_MORNING, customer_name="  "))
    assert blank.startswith("Thanks for getting in touch")


def test_the_sandbox_refuses_python_internals(tmp_path: Path) -> None:
    directory = write(tmp_path, ack__en="{{ brand_name.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateError, match="ack.en.txt.j2: .*unsafe"):
        render("ack", "telegram", "dm", "en", variables(MONDAY_MORNING), directory=directory)


def test_phrases_may_be_given_as_words() -> None:
    text = render("ack_after_hours", "telegram", "dm", "en", variables(
        FRIDAY_NIGHT, next_available="after the holidays", expected_response="in the new year"))
    assert "We're back after the holidays" in text and "in the new year" in text


# --- platform limits -----------------------------------------------------------------------------------


def test_instagram_counts_bytes_messenger_characters() -> None:
    emoji = "😀" * 300  # 300 code points, 600 UTF-16 units, 1200 bytes
    assert fits("facebook", "dm", emoji) and not fits("instagram", "dm", emoji)
    assert fits("instagram", "dm", "a" * 1000) and not fits("instagram", "dm", "a" * 1001)
    assert not fits("instagram", "private_reply", "é" * 501)  # 1002 bytes, 501 characters
    assert fits("instagram", "comment", "é" * 2200)


@pytest.mark.parametrize(
    ("platform", "channel", "most"),
    [("facebook", "dm", 1999), ("facebook", "private_reply", 1999), ("facebook", "comment", 8000),
     ("whatsapp", "dm", 4096), ("x", "dm", 10_000), ("telegram", "dm", 4096), ("instagram", "comment", 2200)],
)
def test_character_limits(platform: str, channel: str, most: int) -> None:
    assert fits(platform, channel, "a" * most)
    assert not fits(platform, channel, "a" * (most + 1))
    assert not fits(platform, channel, "😀" * (most // 2 + 1))  # an emoji is 2 UTF-16 units: the safer count


def test_x_reply_keeps_room_for_the_mention() -> None:
    assert templating.X_MENTION_RESERVE == len("@") + 15 + len(" ")
    assert fits("x", "mention", "a" * 263) and not fits("x", "mention", "a" * 264)
    assert fits("x", "mention", "日" * 131) and not fits("x", "mention", "日" * 132)  # CJK weighs 2
    assert templating.x_weighted_length("see https://e.co/a ok") == len("see ") + 23 + len(" ok")
    assert templating.x_weighted_length("héllo — Привет") == 14  # Latin, punctuation, Cyrillic weigh 1
    assert templating.x_weighted_length("see shop.example.com.") == len("see ") + 23 + len(".")
    assert templating.x_weighted_length("a." * 10_000) == 20_000  # no domain; and linear (it took seconds)
    with pytest.raises(LimitExceeded, match=r"x mention: 281 is over the limit \(X reply: at most 280 weighted "
                                            r"characters, 17 of them kept for the @-mention\)"):
        check_limit("x", "mention", "a" * 264)


def test_empty_text_never_fits() -> None:
    assert not fits("telegram", "dm", "") and not fits("telegram", "dm", " \n")
    with pytest.raises(LimitExceeded, match="telegram dm: the text is empty"):
        check_limit("telegram", "dm", "")


def test_nothing_is_sent_where_heed_cannot_send() -> None:
    with pytest.raises(ValueError, match="Heed sends nothing on whatsapp comment"):
        fits("whatsapp", "comment", "hi")
    with pytest.raises(ValueError, match="Heed sends nothing on telegram mention"):
        render("ack", "telegram", "mention", "en", variables(MONDAY_MORNING))
    assert set(LIMITS) == set(EVERYWHERE)


def test_a_name_too_long_for_the_limit_is_left_out() -> None:
    name = "Ana " + "a" * 1000
    text = render("ack", "instagram", "dm", "en", variables(MONDAY_MORNING, customer_name=name))
    assert text.startswith("Thanks for getting in touch") and fits("instagram", "dm", text)


def test_a_template_too_long_even_without_a_name_fails(tmp_path: Path) -> None:
    directory = write(tmp_path, **GOOD, ack__mention__en="Thanks! " + "x" * 260)
    with pytest.raises(LimitExceeded, match=r"ack.mention.en.txt.j2 on x mention: 285 is over the limit"):
        render("ack", "x", "mention", "en", variables(MONDAY_MORNING), directory=directory)


# --- the check fails loudly ------------------------------------------------------------------------------


def test_check_names_the_template_and_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = write(tmp_path, **GOOD, ack_after_hours__mention__en="We're back {{ next_available }}. " + "z" * 230)
    problems, _ = check(directory)
    assert any(p.startswith("ack_after_hours.mention.en.txt.j2 on x mention with a long name and the longest "
                            "wordings: 291 breaks the limit (X reply: at most 280 weighted characters, 17 of them "
                            "kept for the @-mention)") for p in problems), problems
    assert templating.main(["--check", "--templates", str(directory), "--default-language", "en"]) == 1
    assert "ack_after_hours.mention.en.txt.j2 on x mention" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("templates", "problem"),
    [
        ({"ack__en": "Hi {{ nmae }}"}, "ack.en.txt.j2: 'nmae' is undefined"),
        ({"ack__en": "Hi {{ customer_name }}"}, "ack.en.txt.j2 on facebook dm with no name: says 'None'"),
        ({"ack__nl": "Hoi", "ack__comment__en": "Thanks"}, "ack.comment.nl.txt.j2: missing; ack.comment.en.txt.j2 "
                                                           "exists, so nl comment would fall back"),
        ({"ack__de": "Hallo"}, "templates in 'de': functions/domain/phrases.py has no wording for it"),
        ({"ack__telegram__comment__en": "Hi"}, "ack.telegram.comment.en.txt.j2: never used"),
        ({"handoff__nl": "Hoi"}, "handoff.en.txt.j2: missing; every kind needs a general template in the default"),
        ({"ack__tiktok__en": "Hi"}, "ack.tiktok.en.txt.j2: 'tiktok' is not a platform"),
        ({"ack__mention__en": "{{ '' }}"}, "ack.mention.en.txt.j2 on x mention with a short name: empty"),
    ],
)
def test_check_finds(tmp_path: Path, templates: dict[str, str], problem: str) -> None:
    problems, _ = check(write(tmp_path, **{**GOOD, **templates}))
    assert any(p.startswith(problem) for p in problems), problems


def test_the_handoff_notice_names_the_reply_address_and_fits_everywhere_it_goes() -> None:
    address = templating.SAMPLE_EXTRAS["reply_address"]
    for platform, channel in [(p, c) for p, c in EVERYWHERE if c in ("dm", "private_reply")]:
        variables = {**templating.samples()[2][1], "reply_address": address}
        for language, words in (("en", "email"), ("nl", "e-mail")):
            text = templating.render("handoff", platform, channel, language, variables)
            assert address in text and words in text and templating.fits(platform, channel, text)
    dutch = templating.render("handoff", "facebook", "private_reply", None, {**templating.samples()[0][1],
                              "reply_address": address}, default_language="nl")
    assert dutch.startswith(("Hoi ", "Bedankt")) and "openbaar" in dutch  # chosen like the acks: [acknowledge] nl
    with pytest.raises(templating.TemplateError, match="reply_address"):
        templating.render("handoff", "telegram", "dm", "en", templating.samples()[0][1])
