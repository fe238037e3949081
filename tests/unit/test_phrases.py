"""When the team is back and when to expect an answer, in words, from a business calendar."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from functions.domain import phrases
from functions.domain.calendar import ALWAYS, BusinessCalendar

AMS = ZoneInfo("Europe/Amsterdam")


def support(**extra: object) -> BusinessCalendar:
    """Europe/Amsterdam, Mon-Fri 09:00-12:30 and 13:30-17:30."""
    hours = {day: ((time(9), time(12, 30)), (time(13, 30), time(17, 30))) for day in range(5)}
    return BusinessCalendar(name="support", timezone="Europe/Amsterdam", hours=hours, **extra)  # type: ignore[arg-type]


def ams(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)  # type: ignore[misc]


# --- next available --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "en", "nl"),
    [
        (ams(2026, 6, 12, 17, 40), "Monday at 09:00", "maandag om 09:00"),  # Friday evening
        (ams(2026, 6, 15, 7, 10), "today at 09:00", "vandaag om 09:00"),  # early Monday
        (ams(2026, 6, 15, 12, 45), "today at 13:30", "vandaag om 13:30"),  # lunch
        (ams(2026, 6, 15, 18, 0), "tomorrow at 09:00", "morgen om 09:00"),  # Monday evening
        (ams(2026, 6, 13, 23, 59), "Monday at 09:00", "maandag om 09:00"),  # Saturday night: 2 days on
    ],
)
def test_next_available(now: datetime, en: str, nl: str) -> None:
    value = phrases.next_available(support(), now)
    assert (value.text("en"), value.text("nl")) == (en, nl)
    assert not value.open_now


def test_next_available_while_open_is_now() -> None:
    value = phrases.next_available(support(), ams(2026, 6, 15, 10, 0))
    assert value.open_now and (value.text("en"), value.text("nl")) == ("right now", "nu")


def test_a_week_or_more_away_names_the_date() -> None:
    # Closed from Christmas Eve to the 4th of January.
    holidays = frozenset(ams(2026, 12, 24).date() + timedelta(days=n) for n in range(11))
    value = phrases.next_available(support(holidays=holidays), ams(2026, 12, 23, 18, 0))
    assert value.text("en") == "Monday 4 January at 09:00"
    assert value.text("nl") == "maandag 4 januari om 09:00"


def test_public_holidays_count() -> None:
    # King's Day 2026 is Monday 27 April.
    value = phrases.next_available(support(country="NL"), ams(2026, 4, 24, 18, 0))
    assert value.text("en") == "Tuesday at 09:00"


def test_days_are_counted_in_the_calendars_zone() -> None:
    # 23:30 UTC on Sunday is already Monday 01:30 in Amsterdam: "today", not "tomorrow".
    value = phrases.next_available(support(), datetime(2026, 6, 14, 23, 30, tzinfo=ZoneInfo("UTC")))
    assert value.text("en") == "today at 09:00"


def test_an_unknown_language_is_refused() -> None:
    value = phrases.next_available(support(), ams(2026, 6, 12, 18, 0))
    with pytest.raises(ValueError, match="no wording for language 'de'"):
        value.text("de")


# --- expected response --------------------------------------------------------------------------


def test_inside_hours_with_time_to_spare_is_a_duration() -> None:
    value = phrases.expected_response(support(), timedelta(hours=2), ams(2026, 6, 15, 9, 30))
    assert value.continuous
    assert (value.text("en"), value.text("nl")) == ("within 2 hours", "binnen 2 uur")


def test_across_lunch_it_is_a_time() -> None:
    # 11:00 + 4 h of open time: 12:30 closes for lunch, so due 16:00.
    value = phrases.expected_response(support(), timedelta(hours=4), ams(2026, 6, 15, 11, 0))
    assert not value.continuous
    assert (value.text("en"), value.text("nl")) == ("by today at 16:00", "uiterlijk vandaag om 16:00")


def test_after_hours_it_is_a_day_and_time() -> None:
    value = phrases.expected_response(support(), timedelta(hours=4), ams(2026, 6, 12, 22, 0))
    assert value.due == ams(2026, 6, 15, 14, 0)
    assert value.text("en") == "by Monday at 14:00"
    assert value.text("nl") == "uiterlijk maandag om 14:00"


def test_a_time_is_rounded_up_to_the_quarter_hour() -> None:
    # 09:47 + 15 minutes = 10:02, promised as 10:15 (never earlier than due).
    value = phrases.expected_response(support(), timedelta(minutes=15), ams(2026, 6, 13, 9, 47))  # Saturday
    assert value.text("en") == "by Monday at 09:15"
    late = phrases.expected_response(support(), timedelta(minutes=15), ams(2026, 6, 15, 12, 20))
    assert late.text("en") == "by today at 13:45"  # 12:20-12:30, then 13:30-13:35 -> 13:45


def test_the_24_7_calendar_always_gives_a_duration() -> None:
    value = phrases.expected_response(ALWAYS, timedelta(minutes=15), ams(2026, 6, 13, 3, 0))
    assert value.continuous and value.text("en") == "within 15 minutes"


@pytest.mark.parametrize(
    ("span", "en", "nl"),
    [
        (timedelta(seconds=20), "1 minute", "1 minuut"),
        (timedelta(minutes=15), "15 minutes", "15 minuten"),
        (timedelta(minutes=59, seconds=1), "an hour", "een uur"),  # 60 minutes once rounded up
        (timedelta(hours=1), "an hour", "een uur"),
        (timedelta(hours=1, minutes=30), "90 minutes", "90 minuten"),
        (timedelta(hours=4), "4 hours", "4 uur"),
        (timedelta(hours=4, minutes=10), "5 hours", "5 uur"),  # rounded up, never shorter
        (timedelta(days=1), "a day", "een dag"),
        (timedelta(days=2), "2 days", "2 dagen"),
        (timedelta(hours=36), "36 hours", "36 uur"),
    ],
)
def test_durations(span: timedelta, en: str, nl: str) -> None:
    assert (phrases.duration(span, "en"), phrases.duration(span, "nl")) == (en, nl)
