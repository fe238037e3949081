"""Business calendars: adding and measuring open time across nights, weekends, holidays and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.domain.calendar import ALWAYS, END_OF_DAY, BusinessCalendar, parse_window

AMS = ZoneInfo("Europe/Amsterdam")
NYC = ZoneInfo("America/New_York")
WEEKDAYS = range(5)
ALL_WEEK = range(7)
AROUND_THE_CLOCK = ((time(0), END_OF_DAY),)


def split_day(**extra: object) -> BusinessCalendar:
    """Europe/Amsterdam, Mon-Fri 09:00-12:30 and 13:30-17:30."""
    hours = {day: ((time(9), time(12, 30)), (time(13, 30), time(17, 30))) for day in WEEKDAYS}
    return BusinessCalendar(name="support", timezone="Europe/Amsterdam", hours=hours, **extra)  # type: ignore[arg-type]


def full_days(timezone: str, **extra: object) -> BusinessCalendar:
    """Open around the clock, every day, in ``timezone`` (so DST days are 23 or 25 hours long)."""
    hours = {day: AROUND_THE_CLOCK for day in ALL_WEEK}
    return BusinessCalendar(name="full", timezone=timezone, hours=hours, **extra)  # type: ignore[arg-type]


def ams(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)  # type: ignore[misc]


def nyc(*args: int) -> datetime:
    return datetime(*args, tzinfo=NYC)  # type: ignore[misc]


# --- the basics -----------------------------------------------------------------------


def test_friday_evening_plus_15_minutes_is_monday_morning() -> None:
    calendar = split_day()
    due = calendar.add(ams(2026, 6, 12, 17, 20), timedelta(minutes=15))
    assert due == ams(2026, 6, 15, 9, 5)
    assert due.tzinfo is UTC
    assert calendar.elapsed(ams(2026, 6, 12, 17, 20), due) == timedelta(minutes=15)


def test_target_ending_exactly_at_closing_time_is_closing_time() -> None:
    assert split_day().add(ams(2026, 6, 12, 17, 20), timedelta(minutes=10)) == ams(2026, 6, 12, 17, 30)


def test_start_outside_hours_counts_from_next_opening() -> None:
    calendar = split_day()
    assert calendar.add(ams(2026, 6, 13, 11, 0), timedelta(minutes=30)) == ams(2026, 6, 15, 9, 30)  # Saturday
    assert calendar.add(ams(2026, 6, 15, 6, 0), timedelta(hours=1)) == ams(2026, 6, 15, 10, 0)  # early Monday
    assert calendar.add(ams(2026, 6, 15, 20, 0), timedelta(hours=1)) == ams(2026, 6, 16, 10, 0)  # Monday night


def test_lunch_gap_is_not_counted() -> None:
    calendar = split_day()
    assert calendar.add(ams(2026, 6, 15, 12, 20), timedelta(minutes=15)) == ams(2026, 6, 15, 13, 35)
    assert calendar.add(ams(2026, 6, 15, 12, 45), timedelta(minutes=10)) == ams(2026, 6, 15, 13, 40)
    assert calendar.elapsed(ams(2026, 6, 15, 12, 0), ams(2026, 6, 15, 14, 0)) == timedelta(hours=1)
    assert calendar.elapsed(ams(2026, 6, 15, 12, 40), ams(2026, 6, 15, 13, 20)) == timedelta(0)


def test_multi_day_target() -> None:
    calendar = split_day()  # 7.5 open hours a weekday
    # 48 h of open time from Monday 09:00: two weeks' five days (37.5 h + 7.5 h), then Tuesday 09:00-12:00.
    assert calendar.add(ams(2026, 6, 8, 9, 0), timedelta(days=2)) == ams(2026, 6, 16, 12, 0)
    assert calendar.elapsed(ams(2026, 6, 8, 9, 0), ams(2026, 6, 16, 12, 0)) == timedelta(days=2)
    single = BusinessCalendar("single", "Europe/Amsterdam", {day: ((time(9), time(17, 30)),) for day in WEEKDAYS})
    # 8.5 h a day: five days are 42.5 h, the remaining 5.5 h end the next Monday at 14:30.
    assert single.add(ams(2026, 6, 8, 9, 0), timedelta(days=2)) == ams(2026, 6, 15, 14, 30)


def test_elapsed_is_zero_unless_end_is_after_start() -> None:
    calendar = split_day()
    assert calendar.elapsed(ams(2026, 6, 15, 10, 0), ams(2026, 6, 15, 10, 0)) == timedelta(0)
    assert calendar.elapsed(ams(2026, 6, 15, 11, 0), ams(2026, 6, 15, 10, 0)) == timedelta(0)


def test_is_open_and_next_open() -> None:
    calendar = split_day()
    assert calendar.is_open(ams(2026, 6, 15, 9, 0))
    assert calendar.is_open(ams(2026, 6, 15, 17, 29, 59))
    assert not calendar.is_open(ams(2026, 6, 15, 17, 30))
    assert not calendar.is_open(ams(2026, 6, 15, 12, 30))
    assert not calendar.is_open(ams(2026, 6, 13, 12, 0))
    at = ams(2026, 6, 15, 10, 0)
    assert calendar.next_open(at) == at and calendar.next_open(at).tzinfo is UTC
    assert calendar.next_open(ams(2026, 6, 15, 12, 30)) == ams(2026, 6, 15, 13, 30)
    assert calendar.next_open(ams(2026, 6, 12, 17, 30)) == ams(2026, 6, 15, 9, 0)
    assert calendar.add(ams(2026, 6, 13, 9, 0), timedelta(0)) == ams(2026, 6, 15, 9, 0)


def test_always_is_wall_clock_time() -> None:
    start = datetime(2026, 3, 28, 22, 17, 3, tzinfo=AMS).astimezone(UTC)  # UTC: real-time arithmetic
    assert ALWAYS.add(start, timedelta(hours=30)) == start + timedelta(hours=30)
    assert ALWAYS.elapsed(start, start + timedelta(days=9, seconds=5)) == timedelta(days=9, seconds=5)
    assert ALWAYS.is_open(start) and ALWAYS.next_open(start) == start


def test_inputs_must_be_aware_and_durations_not_negative() -> None:
    calendar = split_day()
    with pytest.raises(ValueError, match="no time zone"):
        calendar.add(datetime(2026, 6, 15, 10, 0), timedelta(minutes=1))
    with pytest.raises(ValueError, match="no time zone"):
        calendar.elapsed(ams(2026, 6, 15, 10, 0), datetime(2026, 6, 15, 11, 0))
    with pytest.raises(ValueError, match="negative"):
        calendar.add(ams(2026, 6, 15, 10, 0), timedelta(minutes=-1))


# --- holidays ----------------------------------------------------------------------------


def test_explicit_holiday_closes_the_day() -> None:
    calendar = split_day(holidays=frozenset({date(2026, 6, 15)}))
    assert calendar.add(ams(2026, 6, 12, 17, 20), timedelta(minutes=15)) == ams(2026, 6, 16, 9, 5)
    assert not calendar.is_open(ams(2026, 6, 15, 10, 0))


def test_country_holiday_kings_day() -> None:
    calendar = split_day(country="NL")
    # Monday 2026-04-27 is King's Day.
    assert calendar.add(ams(2026, 4, 24, 17, 20), timedelta(minutes=15)) == ams(2026, 4, 28, 9, 5)
    assert not calendar.is_open(ams(2026, 4, 27, 10, 0))
    assert calendar.elapsed(ams(2026, 4, 24, 17, 0), ams(2026, 4, 28, 9, 30)) == timedelta(hours=1)
    assert split_day().is_open(ams(2026, 4, 27, 10, 0))


def test_country_holiday_us_thanksgiving() -> None:
    hours = {day: ((time(9), time(17)),) for day in WEEKDAYS}
    calendar = BusinessCalendar("us", "America/New_York", hours, country="US", subdivision="NY")
    # Thursday 2026-11-26 is Thanksgiving; Friday is an ordinary day.
    assert calendar.add(nyc(2026, 11, 25, 16, 50), timedelta(minutes=20)) == nyc(2026, 11, 27, 9, 10)
    assert not calendar.is_open(nyc(2026, 11, 26, 12, 0))


def test_holidays_are_local_dates() -> None:
    calendar = full_days("Europe/Amsterdam", holidays=frozenset({date(2026, 12, 25)}))
    late_on_christmas_eve_in_utc = datetime(2026, 12, 24, 23, 30, tzinfo=UTC)  # 00:30 on the 25th in Amsterdam
    assert not calendar.is_open(late_on_christmas_eve_in_utc)
    assert calendar.next_open(late_on_christmas_eve_in_utc) == ams(2026, 12, 26, 0, 0)
    assert calendar.elapsed(ams(2026, 12, 24, 0, 0), ams(2026, 12, 27, 0, 0)) == timedelta(days=2)


def test_unknown_country_or_subdivision_is_refused() -> None:
    with pytest.raises(ValueError, match="'XX' is not a country"):
        split_day(country="XX")
    with pytest.raises(ValueError, match="'ZZ' is not a subdivision of US"):
        split_day(country="US", subdivision="ZZ")
    with pytest.raises(ValueError, match="needs a country"):
        split_day(subdivision="CA")


# --- daylight saving ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timezone", "day", "hours"),
    [
        ("Europe/Amsterdam", date(2026, 3, 29), 23),  # last Sunday of March
        ("Europe/Amsterdam", date(2026, 10, 25), 25),  # last Sunday of October
        ("America/New_York", date(2026, 3, 8), 23),  # second Sunday of March
        ("America/New_York", date(2026, 11, 1), 25),  # first Sunday of November
        ("Europe/Amsterdam", date(2026, 6, 14), 24),
    ],
)
def test_a_whole_day_window_lasts_the_real_length_of_the_day(timezone: str, day: date, hours: int) -> None:
    zone = ZoneInfo(timezone)
    sunday_only = BusinessCalendar("sunday", timezone, {6: AROUND_THE_CLOCK})
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    week = (midnight - timedelta(days=1), next_midnight + timedelta(days=1))
    assert sunday_only.elapsed(*week) == timedelta(hours=hours)
    assert sunday_only.add(midnight, timedelta(hours=hours)) == next_midnight
    assert sunday_only.add(midnight, timedelta(hours=hours, minutes=1)) == next_midnight + timedelta(days=6, minutes=1)


def test_window_spanning_spring_forward_counts_real_time() -> None:
    calendar = BusinessCalendar("night", "Europe/Amsterdam", {6: ((time(1), time(4)),)})
    # 01:00 CET to 04:00 CEST on 2026-03-29 is two real hours.
    assert calendar.elapsed(ams(2026, 3, 28), ams(2026, 3, 30)) == timedelta(hours=2)
    assert calendar.add(ams(2026, 3, 29, 1, 0), timedelta(hours=1, minutes=30)) == ams(2026, 3, 29, 3, 30)


def test_window_spanning_fall_back_counts_real_time() -> None:
    calendar = BusinessCalendar("night", "America/New_York", {6: ((time(0, 30), time(3)),)})
    # 00:30 EDT to 03:00 EST on 2026-11-01 is three and a half real hours.
    assert calendar.elapsed(nyc(2026, 10, 31), nyc(2026, 11, 2)) == timedelta(hours=3, minutes=30)
    assert calendar.add(nyc(2026, 11, 1, 0, 30), timedelta(hours=3)) == nyc(2026, 11, 1, 2, 30)  # 02:30 EST


def test_business_hours_across_dst_weekend() -> None:
    calendar = split_day()
    # Friday before the change (CET) to Monday after (CEST): each side keeps its wall-clock hours.
    assert calendar.add(ams(2026, 3, 27, 17, 0), timedelta(hours=1)) == ams(2026, 3, 30, 9, 30)
    assert calendar.add(ams(2026, 3, 27, 17, 0), timedelta(hours=1)) == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)
    assert calendar.elapsed(ams(2026, 10, 23, 9, 0), ams(2026, 10, 26, 9, 0)) == timedelta(hours=7, minutes=30)
    us = BusinessCalendar("us", "America/New_York", {day: ((time(9), time(17)),) for day in WEEKDAYS})
    assert us.add(nyc(2026, 3, 6, 16, 0), timedelta(hours=2)) == nyc(2026, 3, 9, 10, 0)
    assert us.add(nyc(2026, 10, 30, 16, 0), timedelta(hours=2)) == nyc(2026, 11, 2, 10, 0)


def test_wall_clock_hours_cross_dst_in_real_time() -> None:
    calendar = full_days("Europe/Amsterdam")
    assert calendar.add(ams(2026, 3, 28, 12, 0), timedelta(hours=24)) == ams(2026, 3, 29, 13, 0)
    assert calendar.add(ams(2026, 10, 24, 12, 0), timedelta(hours=24)) == ams(2026, 10, 25, 11, 0)


def test_window_bounds_in_the_skipped_hour_move_forward_and_never_overlap() -> None:
    # 02:00-03:00 doesn't exist on 2026-03-29 in Amsterdam: 02:50 reads as 03:50 CEST, later than
    # the next window's 03:00 start, which is then cut so no instant counts twice.
    calendar = BusinessCalendar("gap", "Europe/Amsterdam", {6: ((time(1), time(2, 50)), (time(3), time(4)))})
    assert calendar.elapsed(ams(2026, 3, 28), ams(2026, 3, 30)) == timedelta(hours=2)
    assert calendar.add(ams(2026, 3, 29, 0, 0), timedelta(hours=2)) == ams(2026, 3, 29, 4, 0)


def test_window_bounds_in_the_repeated_hour_are_their_first_occurrence() -> None:
    calendar = BusinessCalendar("repeat", "Europe/Amsterdam", {6: ((time(2, 30), time(4)),)})
    # 02:30 CEST (00:30 UTC) to 04:00 CET (03:00 UTC) on 2026-10-25.
    assert calendar.next_open(ams(2026, 10, 25)) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert calendar.elapsed(ams(2026, 10, 24), ams(2026, 10, 26)) == timedelta(hours=2, minutes=30)


# --- construction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "reason"),
    [
        ({}, "no opening hours"),
        ({0: ()}, "no opening hours"),
        ({0: ((time(17), time(9)),)}, "mon 17:00-09:00 is empty, ends before it starts, or overlaps"),
        ({1: ((time(9), time(9)),)}, "tue 09:00-09:00 is empty"),
        ({2: ((time(9), time(13)), (time(12), time(17)))}, "wed 12:00-17:00 is empty, ends before it starts, or"),
        ({3: ((time(13), time(17)), (time(9), time(12)))}, "thu 09:00-12:00"),
        ({7: ((time(9), time(17)),)}, "weekday 7 is not 0"),
    ],
)
def test_bad_hours_are_refused(hours: dict[int, tuple[tuple[time, time], ...]], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        BusinessCalendar("bad", "Europe/Amsterdam", hours)


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="'Mars/Olympus' is not an IANA time zone"):
        BusinessCalendar("bad", "Mars/Olympus", {0: ((time(9), time(17)),)})


def test_calendar_closed_for_years_gives_up() -> None:
    mondays = frozenset(date(2026, 1, 5) + timedelta(weeks=week) for week in range(4 * 53))
    calendar = BusinessCalendar("never", "UTC", {0: ((time(9), time(17)),)}, holidays=mondays)
    with pytest.raises(ValueError, match="no open time for 3 years"):
        calendar.add(datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1))
    assert calendar.elapsed(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)) == timedelta(0)


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("09:00-17:30", (time(9), time(17, 30))),
        (" 09:00 - 17:30 ", (time(9), time(17, 30))),
        ("00:00-24:00", (time(0), END_OF_DAY)),
        ("22:00-24:00", (time(22), END_OF_DAY)),
    ],
)
def test_parse_window(text: str, window: tuple[time, time]) -> None:
    assert parse_window(text) == window


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("17:30-09:00", "'17:30-09:00' ends before it starts"),
        ("09:00-09:00", "'09:00-09:00' is empty"),
        ("9-17", "'9-17' is not a time range like 09:00-17:30"),
        ("24:00-24:00", "not a time range"),
        ("09:00-24:30", "not a time range"),
        ("09:60-10:00", "not a time range"),
    ],
)
def test_parse_window_rejects(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_window(text)


def test_parse_window_that_may_wrap() -> None:
    assert parse_window("22:00-07:00", may_wrap=True) == (time(22), time(7))
    with pytest.raises(ValueError, match="not none or all of it"):
        parse_window("07:00-07:00", may_wrap=True)
    with pytest.raises(ValueError, match="not none or all of it"):
        parse_window("00:00-24:00", may_wrap=True)


# --- properties and speed -------------------------------------------------------------------

REALISTIC = split_day(country="NL", holidays=frozenset({date(2026, 12, 24), date(2027, 12, 31)}))
US_SUPPORT = BusinessCalendar(
    "us",
    "America/New_York",
    {
        **{day: ((time(8), time(12)), (time(12, 30), time(20))) for day in WEEKDAYS},
        5: ((time(10), time(16)),),
        6: ((time(0), time(3)), (time(22), END_OF_DAY)),  # crosses 02:00 on DST Sundays
    },
    country="US",
)
DST_DAYS = [date(2026, 3, 29), date(2026, 10, 25), date(2026, 3, 8), date(2026, 11, 1), date(2027, 3, 28)]

random_instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
near_dst = st.builds(
    lambda day, seconds: datetime.combine(day, time(0), tzinfo=UTC) + timedelta(seconds=seconds),
    st.sampled_from(DST_DAYS),
    st.integers(min_value=-3 * 86_400, max_value=2 * 86_400),
)
instants = st.one_of(random_instants, near_dst)
durations = st.one_of(
    st.integers(min_value=0, max_value=3 * 86_400).map(lambda s: timedelta(seconds=s)),
    st.integers(min_value=0, max_value=10**12).map(lambda us: timedelta(microseconds=us)),
)
calendars = st.sampled_from([REALISTIC, US_SUPPORT])


@settings(max_examples=300, deadline=None)
@given(calendars, instants, durations)
def test_elapsed_undoes_add(calendar: BusinessCalendar, start: datetime, duration: timedelta) -> None:
    due = calendar.add(start, duration)
    assert due >= start
    assert calendar.elapsed(start, due) == duration
    if duration:
        assert calendar.is_open(due - timedelta(microseconds=1))
    else:
        assert due == calendar.next_open(start)


@settings(max_examples=200, deadline=None)
@given(calendars, instants, durations, durations.filter(bool))
def test_add_composes(calendar: BusinessCalendar, start: datetime, first: timedelta, second: timedelta) -> None:
    # A zero ``second`` would differ when ``first`` ends exactly at a closing: add(closing, 0) is the next opening.
    assert calendar.add(calendar.add(start, first), second) == calendar.add(start, first + second)


@settings(max_examples=200, deadline=None)
@given(calendars, st.lists(instants, min_size=3, max_size=3).map(sorted))
def test_elapsed_adds_up(calendar: BusinessCalendar, moments: list[datetime]) -> None:
    first, middle, last = moments
    assert calendar.elapsed(first, last) == calendar.elapsed(first, middle) + calendar.elapsed(middle, last)
    assert calendar.elapsed(first, last) <= last - first
