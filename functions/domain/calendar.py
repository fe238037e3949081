"""Business hours: when an SLA clock runs.

A :class:`BusinessCalendar` is weekly opening hours in one time zone, minus
holidays. Every window is turned into real instants by reading its bounds as
local wall times on that date and converting them to UTC, so a window that
spans a daylight-saving change counts the time that really passes (a
00:00-24:00 window lasts 23 hours on the day clocks go forward, 25 on the day
they go back).

Local times that don't exist or exist twice follow PEP 495's ``fold=0``: a time
inside the hour skipped in spring moves forward by the gap (like
``java.time``), a time in the repeated hour in autumn is its first occurrence.

The calendar walks day by day and window by window, never minute by minute.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Window = tuple[time, time]

END_OF_DAY = time(0)
"""As a window's end, ``24:00``: the midnight that ends the day (a start is never 24:00)."""

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_ONE_DAY = timedelta(days=1)
_MAX_CLOSED_DAYS = 3 * 366
_WINDOW = re.compile(r"([0-9]{2}):([0-9]{2})\s*-\s*([0-9]{2}):([0-9]{2})")


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError if there is none by that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name!r} is not an IANA time zone like Europe/Amsterdam") from None


def parse_window(text: str, *, may_wrap: bool = False) -> Window:
    """``"09:00-17:30"`` as ``(start, end)``; ``24:00`` only as the end, read as :data:`END_OF_DAY`.

    A business-hours window must end after it starts; with ``may_wrap`` (quiet
    hours) ``"22:00-07:00"`` runs over midnight and only an empty window is refused.
    """
    match = _WINDOW.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a time range like 09:00-17:30")
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    if start_h > 23 or start_m > 59 or end_m > 59 or end_h > 24 or (end_h == 24 and end_m):
        raise ValueError(f"{text!r} is not a time range like 09:00-17:30 (00:00 to 24:00)")
    window = (time(start_h, start_m), END_OF_DAY if end_h == 24 else time(end_h, end_m))
    opens, closes = window_span(window)
    if may_wrap:
        if window[0] == window[1]:
            raise ValueError(f"{text!r} must cover part of the day, not none or all of it")
    elif closes <= opens:
        raise ValueError(f"{text!r} ends before it starts" if closes < opens else f"{text!r} is empty")
    return window


def window_span(window: Window) -> tuple[timedelta, timedelta]:
    """A window's bounds as offsets from local midnight; :data:`END_OF_DAY` as an end is 24 hours."""
    start, end = window
    closes = _ONE_DAY if end == END_OF_DAY else _since_midnight(end)
    return _since_midnight(start), closes


def format_window(window: Window) -> str:
    start, end = window
    return f"{start:%H:%M}-{'24:00' if end == END_OF_DAY else f'{end:%H:%M}'}"


def check_region(country: str, subdivision: Optional[str] = None) -> None:
    """ValueError unless the ``holidays`` package knows ``country`` (and its ``subdivision``)."""
    import holidays  # imported when a calendar needs it: it costs ~50 ms

    try:
        region = holidays.country_holidays(country, years=())
    except NotImplementedError:
        raise ValueError(f"{country!r} is not a country the holidays package knows (codes like NL, US, GB)") from None
    if subdivision is not None:
        try:
            holidays.country_holidays(country, subdiv=subdivision, years=())
        except NotImplementedError:
            known = ", ".join(region.subdivisions) or "none"
            raise ValueError(f"{subdivision!r} is not a subdivision of {country} (known: {known})") from None


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours in ``timezone``; holidays (local dates) close the whole day.

    ``hours`` maps a weekday (0 = Monday .. 6 = Sunday) to its windows, sorted
    and not overlapping; a missing day is closed. ``holidays`` are explicit
    dates; ``country`` (and ``subdivision``) add that region's public holidays
    from the ``holidays`` package, looked up once per year when first needed.
    All methods take timezone-aware datetimes and return UTC ones.
    """

    name: str
    timezone: str
    hours: Mapping[int, tuple[Window, ...]]
    holidays: frozenset[date] = frozenset()
    country: Optional[str] = None
    subdivision: Optional[str] = None
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _country_years: dict[int, frozenset[date]] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", zone(self.timezone))
        for day, windows in self.hours.items():
            if day not in range(7):
                raise ValueError(f"calendar {self.name!r}: weekday {day!r} is not 0 (Monday) to 6 (Sunday)")
            previous_end = timedelta(0)
            for window in windows:
                opens, closes = window_span(window)
                if closes <= opens or opens < previous_end:
                    raise ValueError(
                        f"calendar {self.name!r}: {WEEKDAYS[day]} {format_window(window)} is empty, "
                        "ends before it starts, or overlaps the window before it"
                    )
                previous_end = closes
        if not any(self.hours.values()):
            raise ValueError(f"calendar {self.name!r} has no opening hours")
        if self.subdivision is not None and self.country is None:
            raise ValueError(f"calendar {self.name!r}: a subdivision needs a country")
        if self.country is not None:
            check_region(self.country, self.subdivision)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant ``duration`` of open time after ``start``; outside hours the count starts at the next opening.

        A zero duration gives :meth:`next_open`.
        """
        if duration < timedelta(0):
            raise ValueError(f"cannot add a negative duration ({duration})")
        start = _utc(start)
        remaining = duration
        windows = self._windows_from(self._local_date(start) - _ONE_DAY)
        while True:
            opens, closes = next(windows)
            if closes <= start:
                continue
            begin = max(opens, start)
            if begin + remaining <= closes:
                return begin + remaining
            remaining -= closes - begin

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Open time between ``start`` and ``end``; zero if ``end`` is not after ``start``."""
        start, end = _utc(start), _utc(end)
        total = timedelta(0)
        if end <= start:
            return total
        for opens, closes in self._windows_from(self._local_date(start) - _ONE_DAY, until=self._local_date(end)):
            if opens >= end:
                break
            if closes > start:
                total += min(closes, end) - max(opens, start)
        return total

    def is_open(self, at: datetime) -> bool:
        at = _utc(at)
        windows = self._windows_from(self._local_date(at) - _ONE_DAY)
        while True:
            opens, closes = next(windows)
            if opens > at:
                return False
            if at < closes:
                return True

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself (in UTC) if the calendar is open then, else the next opening."""
        return self.add(at, timedelta(0))

    def _windows_from(self, day: date, until: Optional[date] = None) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals in UTC, in order, of local dates ``day`` to ``until`` (without end if None).

        Each interval starts no earlier than the one before ended: only a window
        bound inside a skipped hour could otherwise overlap its neighbour.
        """
        last_end: Optional[datetime] = None
        closed_days = 0
        while until is None or day <= until:
            opened = False
            for window in () if self._is_holiday(day) else self.hours.get(day.weekday(), ()):
                opens, closes = window_span(window)
                start, end = self._instant(day, opens), self._instant(day, closes)
                if last_end is not None and start < last_end:
                    start = last_end
                if start < end:
                    opened = True
                    last_end = end
                    yield start, end
            closed_days = 0 if opened else closed_days + 1
            if closed_days > _MAX_CLOSED_DAYS:
                raise ValueError(f"calendar {self.name!r} has no open time for 3 years after {day}")
            day += _ONE_DAY

    def _instant(self, day: date, offset: timedelta) -> datetime:
        """Local wall time ``offset`` after midnight of ``day`` (24 hours: the next midnight), in UTC."""
        if offset == _ONE_DAY:
            day, offset = day + _ONE_DAY, timedelta(0)
        local = datetime.combine(day, time(0), tzinfo=self._zone) + offset
        return local.astimezone(UTC)

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self._zone).date()

    def _is_holiday(self, day: date) -> bool:
        if day in self.holidays:
            return True
        if self.country is None:
            return False
        known = self._country_years.get(day.year)
        if known is None:
            import holidays

            region = holidays.country_holidays(self.country, subdiv=self.subdivision, years=day.year)
            known = self._country_years[day.year] = frozenset(region)
        return day in known


def _since_midnight(clock: time) -> timedelta:
    return timedelta(hours=clock.hour, minutes=clock.minute, seconds=clock.second, microseconds=clock.microsecond)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone")
    return moment.astimezone(UTC)


ALWAYS = BusinessCalendar(
    name="always",
    timezone="UTC",
    hours={day: ((time(0), END_OF_DAY),) for day in range(7)},
)
"""Wall-clock time: open around the clock, every day."""
