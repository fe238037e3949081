"""What acknowledgements tell a customer about time, in words: when the team is back, when to expect an answer.

Pure. Two values come from a business calendar and are worded later, in the
language of the template that ends up being used (``functions/templating.py``
resolves the template first, then asks for the words in its language):

* :func:`next_available`: when the calendar next opens, e.g. ``today at 13:30``,
  ``tomorrow at 09:00``, ``Monday at 09:00`` (within the coming week), else
  ``Monday 28 December at 09:00``. Local time of the calendar, 24-hour clock.
* :func:`expected_response`: the SLA target as a promise. ``within 4 hours``
  when the target runs out without the calendar closing in between (always so
  on the 24/7 calendar), otherwise the moment it runs out, rounded up to the
  quarter hour: ``by Monday at 13:00``. Telling someone at 22:00 on a Friday
  "within 4 hours" when the team only starts on Monday would be a false promise.

Wordings exist for the languages in :data:`LANGUAGES`; a template language
without one is refused (``make check-templates`` says so).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

LANGUAGES: tuple[str, ...] = ("en", "nl")

_WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
}
_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
           "november", "december"),
}
_WORDS = {
    "en": {"now": "right now", "today": "today", "tomorrow": "tomorrow", "at": "at", "within": "within",
           "by": "by", "minute": ("minute", "minutes"), "hour": ("hour", "hours"), "day": ("day", "days"),
           "one_hour": "an hour", "one_day": "a day"},
    "nl": {"now": "nu", "today": "vandaag", "tomorrow": "morgen", "at": "om", "within": "binnen",
           "by": "uiterlijk", "minute": ("minuut", "minuten"), "hour": ("uur", "uur"), "day": ("dag", "dagen"),
           "one_hour": "een uur", "one_day": "een dag"},
}
_QUARTER = timedelta(minutes=15)


class Calendar(Protocol):
    timezone: str

    def is_open(self, at: datetime) -> bool: ...

    def next_open(self, at: datetime) -> datetime: ...

    def add(self, start: datetime, duration: timedelta) -> datetime: ...

    def elapsed(self, start: datetime, end: datetime) -> timedelta: ...


def words(language: str) -> dict:
    if language not in _WORDS:
        raise ValueError(f"no wording for language {language!r} (have: {', '.join(LANGUAGES)})")
    return _WORDS[language]


@dataclass(frozen=True)
class NextAvailable:
    """When the team is next there: ``at`` (UTC) seen from ``now``, in ``timezone``; ``at == now`` if open."""

    at: datetime
    now: datetime
    timezone: str

    @property
    def open_now(self) -> bool:
        return self.at <= self.now

    def text(self, language: str) -> str:
        if self.open_now:
            return words(language)["now"]
        return when(self.at, self.now, self.timezone, language)


@dataclass(frozen=True)
class ExpectedResponse:
    """An answer is due ``target`` of open time after ``now``, at ``due`` (UTC).

    ``continuous``: the calendar stays open from ``now`` to ``due``, so the wait
    is simply ``target`` and is worded as a duration; else as the moment ``due``.
    """

    target: timedelta
    due: datetime
    now: datetime
    timezone: str
    continuous: bool

    def text(self, language: str) -> str:
        w = words(language)
        if self.continuous:
            return f"{w['within']} {duration(self.target, language)}"
        return f"{w['by']} {when(_round_up(self.due, self.timezone), self.now, self.timezone, language)}"


def next_available(calendar: Calendar, now: datetime) -> NextAvailable:
    return NextAvailable(at=calendar.next_open(now), now=now, timezone=calendar.timezone)


def expected_response(calendar: Calendar, target: timedelta, now: datetime) -> ExpectedResponse:
    due = calendar.add(now, target)
    continuous = calendar.is_open(now) and calendar.elapsed(now, due) == due - now
    return ExpectedResponse(target=target, due=due, now=now, timezone=calendar.timezone, continuous=continuous)


def when(at: datetime, now: datetime, timezone: str, language: str) -> str:
    """``today at 13:30``, ``tomorrow at 09:00``, ``Monday at 09:00`` (2-6 days on), ``Monday 28 December at 09:00``.

    Days are counted between local dates in ``timezone``.
    """
    w = words(language)
    tz = ZoneInfo(timezone)
    local, today = at.astimezone(tz), now.astimezone(tz).date()
    days = (local.date() - today).days
    clock = f"{local:%H:%M}"
    weekday = _WEEKDAYS[language][local.weekday()]
    if days <= 0:
        day = w["today"]
    elif days == 1:
        day = w["tomorrow"]
    elif days < 7:
        day = weekday
    else:
        day = f"{weekday} {local.day} {_MONTHS[language][local.month - 1]}"
    return f"{day} {w['at']} {clock}"


def duration(span: timedelta, language: str) -> str:
    """A wait in words, never shorter than ``span``: ``15 minutes``, ``an hour``, ``90 minutes``, ``2 days``.

    Whole days and whole hours stay as they are; under 3 hours the rest is in
    minutes; longer spans are rounded up to the hour.
    """
    w = words(language)
    minutes = max(1, math.ceil(span.total_seconds() / 60))
    if minutes % (24 * 60) == 0:
        return _count(minutes // (24 * 60), "day", w)
    if minutes % 60 == 0 or minutes >= 180:
        return _count(math.ceil(minutes / 60), "hour", w)
    return _count(minutes, "minute", w)


def _count(number: int, unit: str, w: dict) -> str:
    if number == 1 and unit in ("hour", "day"):
        return w[f"one_{unit}"]
    singular, plural = w[unit]
    return f"{number} {singular if number == 1 else plural}"


def _round_up(moment: datetime, timezone: str) -> datetime:
    """``moment`` rounded up to a quarter hour of local time (a promise is better late than early)."""
    local = moment.astimezone(ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    since = local - midnight
    quarters = math.ceil(since / _QUARTER)
    return midnight + quarters * _QUARTER
