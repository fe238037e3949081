"""Response-time clocks: when they open, stop, warn, breach and escalate.

Pure functions over immutable state. The SLA stream handler feeds new
messages in (in any order, possibly twice); the checker asks which alert is due
next and records that it went out; the ack link records who took it.

One clock runs per conversation at a time. A customer message opens a
first-response clock (the brand never answered) or a next-response clock; the
brand's next message stops it. Customer messages while a clock runs don't
restart it, but one that was *sent* earlier than the clock's start (it arrived
late) moves the start back, since the customer has waited since then.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable, Iterable, Literal, Optional, Protocol

from functions.domain.message import iso_utc

ClockKind = Literal["first_response", "next_response"]
ClockState = Literal["ok", "warning", "breached", "met"]
AlertKind = Literal["warning", "breach", "escalation"]


class Calendar(Protocol):
    def add(self, start: datetime, duration: timedelta) -> datetime: ...

    def elapsed(self, start: datetime, end: datetime) -> timedelta: ...


class PolicyLike(Protocol):
    name: str
    first_response: timedelta
    next_response: timedelta
    resolution: Optional[timedelta]
    warn_at: tuple[float, ...]
    calendar: Calendar


@dataclass(frozen=True)
class Fact:
    """What the clocks need to know about one stored message."""

    message_id: str
    direction: Literal["in", "out"]
    sent_at: datetime
    from_bot: bool = False  # Telegram says when another bot wrote; it gets no acknowledgement
    automated: bool = False  # Heed's own acknowledgement: not a response, stops no clock
    labels: tuple[str, ...] = ()  # triage labels; noise and spam open no clock and are no follow-up
    priority: str = "normal"  # the conversation's priority when this message came: picks the policy

    @property
    def dismissed(self) -> bool:
        return self.direction == "in" and bool({"noise", "spam"} & set(self.labels))


@dataclass(frozen=True)
class Clock:
    id: str
    kind: ClockKind
    policy: str
    target: timedelta
    started_at: datetime
    due_at: datetime
    warn_times: tuple[datetime, ...]
    state: ClockState = "ok"
    warnings_sent: int = 0
    levels_paged: int = 0  # ladder levels paged since the breach
    breached_at: Optional[datetime] = None
    stopped_at: Optional[datetime] = None
    response_seconds: Optional[int] = None  # wall clock, once stopped by a brand reply
    business_seconds: Optional[int] = None  # business time, same
    acknowledged_by: Optional[str] = None
    acknowledged_at: Optional[datetime] = None

    @property
    def running(self) -> bool:
        """Stopped by a brand reply (met, or breached and answered late) or by resolving."""
        return self.stopped_at is None


@dataclass(frozen=True)
class Sla:
    """A conversation's SLA state: the current (or last) clock and what the clocks have seen."""

    clock: Optional[Clock] = None
    brand_replied: bool = False
    last_outbound_at: Optional[datetime] = None
    resolved_at: Optional[datetime] = None
    # The policy's optional resolution target, set by the first customer message
    # after the conversation was (re)opened; shown and recorded, not paged.
    resolution_due_at: Optional[datetime] = None


@dataclass(frozen=True)
class Event:
    """One line of the append-only SLA history."""

    kind: str  # opened, restarted, warned, breached, escalated, acknowledged, met, responded_late, stopped
    clock_id: str
    at: datetime
    policy: str
    detail: dict


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    level: int  # ladder index to page (0 = first level)
    at: datetime
    number: int  # warning number, or 0


class Policies(Protocol):
    """The conversation's policy book: the policy matching it now, and any policy by name."""

    def matching(self, priority: str = "normal") -> Optional[PolicyLike]: ...

    def named(self, name: str) -> Optional[PolicyLike]: ...


def apply(sla: Sla, facts: Iterable[Fact], policies: Policies) -> tuple[Sla, list[Event]]:
    """Fold new messages into the SLA state; idempotent for facts already applied."""
    events: list[Event] = []
    for fact in sorted(facts, key=lambda f: f.sent_at):
        sla, new = _fact(sla, fact, policies)
        events += new
    return sla, events


def _fact(sla: Sla, fact: Fact, policies: Policies) -> tuple[Sla, list[Event]]:
    clock = sla.clock
    if fact.automated or fact.dismissed:
        return sla, []
    if fact.direction == "out":
        last_out = max(filter(None, [sla.last_outbound_at, fact.sent_at]))
        sla = replace(sla, brand_replied=True, last_outbound_at=last_out)
        if clock is None or not clock.running or fact.sent_at < clock.started_at:
            return sla, []
        return _stop_by_reply(sla, clock, fact, policies.named(clock.policy))

    if sla.last_outbound_at is not None and fact.sent_at <= sla.last_outbound_at:
        return sla, []  # the brand had already answered after this message was sent
    if sla.resolved_at is not None and fact.sent_at <= sla.resolved_at:
        return sla, []  # staff resolved the conversation after this message was sent
    if clock is not None and clock.running:
        if fact.sent_at >= clock.started_at:
            return sla, []  # the clock already runs; another message doesn't restart it
        policy = policies.named(clock.policy)  # the policy in force when the clock opened
        if policy is None:
            return sla, []
        moved = _open(policy, clock.kind, fact.sent_at)
        moved = replace(moved, id=clock.id, warnings_sent=clock.warnings_sent, levels_paged=clock.levels_paged,
                        acknowledged_by=clock.acknowledged_by, acknowledged_at=clock.acknowledged_at)
        return replace(sla, clock=moved), [_event("restarted", moved, fact.sent_at, message_id=fact.message_id)]
    policy = policies.matching(fact.priority)
    if policy is None:
        return sla, []
    kind: ClockKind = "next_response" if sla.brand_replied else "first_response"
    opened = _open(policy, kind, fact.sent_at)
    resolution_due = sla.resolution_due_at
    if resolution_due is None and policy.resolution is not None:
        resolution_due = policy.calendar.add(fact.sent_at, policy.resolution)
    return replace(sla, clock=opened, resolution_due_at=resolution_due), [
        _event("opened", opened, fact.sent_at, message_id=fact.message_id, due_at=iso_utc(opened.due_at),
               priority=fact.priority)]


def _open(policy: PolicyLike, kind: ClockKind, start: datetime) -> Clock:
    target = policy.first_response if kind == "first_response" else policy.next_response
    calendar = policy.calendar
    return Clock(
        id=f"{kind[0]}{int(start.timestamp() * 1000)}",
        kind=kind,
        policy=policy.name,
        target=target,
        started_at=start,
        due_at=calendar.add(start, target),
        warn_times=tuple(calendar.add(start, target * fraction) for fraction in policy.warn_at),
    )


def carry_over(sla: Sla, policy: Optional[PolicyLike], at: datetime) -> tuple[Sla, list[Event]]:
    """The conversation moved channel (to email): a running clock continues under ``policy``.

    It keeps its id, kind, start and the alerts already sent, so the
    first-response time still counts from the customer's first message; its due
    and warning times are worked out again from that start with ``policy``'s
    targets. A clock already breached stays breached (its pages went out).
    Later clocks simply match ``policy`` when they open.
    """
    clock = sla.clock
    if policy is None or clock is None or not clock.running or clock.policy == policy.name:
        return sla, []
    moved = _open(policy, clock.kind, clock.started_at)
    moved = replace(moved, id=clock.id, warnings_sent=clock.warnings_sent, levels_paged=clock.levels_paged,
                    acknowledged_by=clock.acknowledged_by, acknowledged_at=clock.acknowledged_at,
                    state=clock.state, breached_at=clock.breached_at,
                    due_at=clock.due_at if clock.state == "breached" else moved.due_at)
    return replace(sla, clock=moved), [_event("policy_changed", moved, at, previous_policy=clock.policy,
                                              due_at=iso_utc(moved.due_at))]


def _stop_by_reply(sla: Sla, clock: Clock, fact: Fact, policy: Optional[PolicyLike]) -> tuple[Sla, list[Event]]:
    wall = int((fact.sent_at - clock.started_at).total_seconds())
    business = None if policy is None else int(policy.calendar.elapsed(clock.started_at, fact.sent_at).total_seconds())
    late = fact.sent_at > clock.due_at
    stopped = replace(clock, state="breached" if late else "met", stopped_at=fact.sent_at, response_seconds=wall,
                      business_seconds=business)
    kind = "responded_late" if late else "met"
    extra = {"paged_breach": clock.state == "breached"} if late else {}  # reports count each breach once
    return replace(sla, clock=stopped), [_event(kind, stopped, fact.sent_at, message_id=fact.message_id,
                                                response_seconds=wall, business_seconds=business, **extra)]


def resolve(sla: Sla, at: datetime) -> tuple[Sla, list[Event]]:
    """Resolving a conversation stops its running clock and settles its resolution target."""
    clock = sla.clock
    events: list[Event] = []
    if clock is not None and sla.resolution_due_at is not None:
        events.append(_event("resolved", clock, at, resolution_due_at=iso_utc(sla.resolution_due_at),
                             late=at > sla.resolution_due_at))
    sla = replace(sla, resolved_at=max(filter(None, [sla.resolved_at, at])), resolution_due_at=None)
    if clock is None or not clock.running:
        return sla, events
    stopped = replace(clock, stopped_at=at)
    return replace(sla, clock=stopped), [*events, _event("stopped", stopped, at, reason="resolved")]


def dismiss(sla: Sla, at: datetime) -> tuple[Sla, list[Event]]:
    """Staff marked the conversation noise or spam: its running clock stops (nobody is paged for it)."""
    clock = sla.clock
    if clock is None or not clock.running:
        return sla, []
    stopped = replace(clock, stopped_at=at)
    return replace(sla, clock=stopped), [_event("stopped", stopped, at, reason="dismissed")]


def next_alert(clock: Optional[Clock], escalation_after: tuple[timedelta, ...], now: datetime) -> Optional[Alert]:
    """The page this clock owes at ``now`` if one is due, else the next one coming (``at > now``).

    ``escalation_after[k]`` is when ladder level ``k`` is paged, measured from
    the breach (level 0 is paged by the breach itself). Warnings and the breach
    page level 0. Pages that a late checker would send in a burst collapse:
    past due, warnings are skipped for the breach; of several due warnings only
    the latest goes out. An acknowledged clock pages no further level.
    """
    if clock is None or not clock.running:
        return None
    if clock.state != "breached":
        if now >= clock.due_at:
            return Alert("breach", 0, clock.due_at, 0)
        pending = [(n, t) for n, t in enumerate(clock.warn_times, 1) if n > clock.warnings_sent and t < clock.due_at]
        due_now = [(n, t) for n, t in pending if t <= now]
        if due_now or pending:
            number, at = due_now[-1] if due_now else pending[0]
            return Alert("warning", 0, at, number)
        return Alert("breach", 0, clock.due_at, 0)
    if clock.acknowledged_by is not None or clock.levels_paged >= len(escalation_after):
        return None
    level = clock.levels_paged
    return Alert("escalation", level, clock.due_at + escalation_after[level], 0)


def recipients(ladder: tuple[tuple[str, ...], ...], level: int, quiet: Callable[[str], bool]) -> tuple[str, ...]:
    """The phones to page for ``level``: a phone in its quiet hours hands over to the next level.

    Never dropped: a quiet phone on the last level is paged anyway.
    """
    chosen: list[str] = []
    for phone in ladder[level]:
        if not quiet(phone):
            chosen.append(phone)
            continue
        awake_later = (awake for later in ladder[level + 1:] if (awake := [p for p in later if not quiet(p)]))
        chosen += next(awake_later, [phone])
    return tuple(dict.fromkeys(chosen))


def record_alert(clock: Clock, alert: Alert, at: datetime) -> tuple[Clock, Event]:
    """The clock after ``alert`` went out."""
    if alert.kind == "warning":
        sent = replace(clock, state="warning", warnings_sent=alert.number)
        return sent, _event("warned", sent, at, number=alert.number)
    if alert.kind == "breach":
        sent = replace(clock, state="breached", breached_at=alert.at, levels_paged=1,
                       warnings_sent=len(clock.warn_times))
        return sent, _event("breached", sent, at, level=1)
    sent = replace(clock, levels_paged=alert.level + 1)
    return sent, _event("escalated", sent, at, level=alert.level + 1)


def acknowledge(clock: Clock, by: str, at: datetime) -> tuple[Clock, Optional[Event]]:
    """Who took it; a second acknowledgement changes nothing."""
    if clock.acknowledged_by is not None:
        return clock, None
    taken = replace(clock, acknowledged_by=by, acknowledged_at=at)
    return taken, _event("acknowledged", taken, at)


def _event(kind: str, clock: Clock, at: datetime, **detail: object) -> Event:
    return Event(kind, clock.id, at, clock.policy, {"target_seconds": int(clock.target.total_seconds()), **detail})


# ---------------------------------------------------------------- stored form

_TIMES = ("started_at", "due_at", "breached_at", "stopped_at", "acknowledged_at")


def dump(sla: Sla) -> dict:
    """A JSON-ready form of the state (times ISO-8601, durations in seconds)."""
    clock = sla.clock
    return {
        "brand_replied": sla.brand_replied,
        "last_outbound_at": _iso(sla.last_outbound_at),
        "resolved_at": _iso(sla.resolved_at),
        "resolution_due_at": _iso(sla.resolution_due_at),
        "clock": None if clock is None else {
            **{k: getattr(clock, k) for k in ("id", "kind", "policy", "state", "warnings_sent", "levels_paged",
                                              "response_seconds", "business_seconds", "acknowledged_by")},
            **{k: _iso(getattr(clock, k)) for k in _TIMES},
            "target_seconds": int(clock.target.total_seconds()),
            "warn_times": [_iso(t) for t in clock.warn_times],
        },
    }


def load(data: Optional[dict]) -> Sla:
    if not data:
        return Sla()
    raw = data.get("clock")
    clock = None
    if raw:
        fields = {k: v for k, v in raw.items() if k not in (*_TIMES, "target_seconds", "warn_times")}
        clock = Clock(**fields, **{k: _time(raw.get(k)) for k in _TIMES},
                      target=timedelta(seconds=raw["target_seconds"]),
                      warn_times=tuple(_time(t) for t in raw["warn_times"]))
    return Sla(clock=clock, brand_replied=data["brand_replied"], last_outbound_at=_time(data.get("last_outbound_at")),
               resolved_at=_time(data.get("resolved_at")), resolution_due_at=_time(data.get("resolution_due_at")))


def _iso(moment: Optional[datetime]) -> Optional[str]:
    return None if moment is None else iso_utc(moment)


def _time(text: Optional[str]) -> Optional[datetime]:
    return None if text is None else datetime.fromisoformat(text)


def view(data: dict) -> Optional[dict]:
    """What staff see of the current (or last) clock, from the stored form."""
    clock = data.get("clock")
    if not clock:
        return None
    return {
        "policy": clock["policy"],
        "kind": clock["kind"],
        "target_seconds": clock["target_seconds"],
        "started_at": clock["started_at"],
        "due_at": clock["due_at"],
        "state": clock["state"],
        "running": clock["stopped_at"] is None,
        "response_seconds": clock["response_seconds"],
        "acknowledged_by": clock["acknowledged_by"],
        "resolution_due_at": data.get("resolution_due_at"),
    }
