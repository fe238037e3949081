"""SLA policies and the alert ladder, as read from the policy file (``functions/config.py``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Optional
from zoneinfo import ZoneInfo

from functions.domain.calendar import BusinessCalendar, zone

MATCH_VALUES: dict[str, frozenset[str]] = {
    "channel": frozenset({"dm", "comment", "mention", "email"}),
    "platform": frozenset({"facebook", "instagram", "whatsapp", "x", "telegram", "email"}),
    "priority": frozenset({"low", "normal", "high", "urgent"}),
}
"""What a policy may match on, with the values each key takes; ``account_id`` takes any string."""
MATCH_KEYS: tuple[str, ...] = ("channel", "platform", "account_id", "priority")


@dataclass(frozen=True)
class Policy:
    """Response targets for the conversations ``match`` selects, counted in ``calendar`` time.

    ``match`` maps a key of :data:`MATCH_KEYS` to the values it accepts; a key
    left out accepts anything, so an empty ``match`` is a catch-all.
    ``warn_at`` are fractions of a target at which to warn before it is breached.
    """

    name: str
    match: dict[str, frozenset[str]]
    first_response: timedelta
    next_response: timedelta
    resolution: Optional[timedelta]
    warn_at: tuple[float, ...]
    calendar: BusinessCalendar

    def matches(self, platform: str, channel: str, account_id: str, priority: str) -> bool:
        facts = {"platform": platform, "channel": channel, "account_id": account_id, "priority": priority}
        return all(facts[key] in accepted for key, accepted in self.match.items())

    def shadows(self, later: Policy) -> bool:
        """Whether every conversation ``later`` matches is matched by this policy first."""
        return all(key in later.match and later.match[key] <= accepted for key, accepted in self.match.items())


@dataclass(frozen=True)
class LadderLevel:
    """Who is paged ``after`` this long (wall-clock) past a breach."""

    after: timedelta
    phones: tuple[str, ...]


@dataclass(frozen=True)
class QuietHours:
    """A daily stretch of local time, possibly over midnight, when a phone is not paged."""

    start: time
    end: time
    timezone: str
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("quiet hours must cover part of the day, not none or all of it")
        object.__setattr__(self, "_zone", zone(self.timezone))

    def covers(self, at: datetime) -> bool:
        """Whether the aware instant ``at`` falls in these quiet hours (start included, end excluded)."""
        local = at.astimezone(self._zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end
