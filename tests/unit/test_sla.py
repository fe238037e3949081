"""Clock transitions and alert schedule: pure domain, no AWS, time passed in explicitly."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from functions.domain import sla
from functions.domain.calendar import ALWAYS, BusinessCalendar, parse_window
from functions.domain.policies import Policy

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
OFFICE = BusinessCalendar("office", "Europe/Amsterdam", {d: (parse_window("09:00-17:30"),) for d in range(5)})


def policy(name: str = "dm", first: int = 60, nxt: int = 30, warn=(0.5, 0.8), calendar=ALWAYS,
           resolution: int | None = None) -> Policy:
    return Policy(name, {}, timedelta(minutes=first), timedelta(minutes=nxt),
                  None if resolution is None else timedelta(minutes=resolution), warn, calendar)


@dataclass
class Book:
    current: Policy | None
    older: tuple[Policy, ...] = ()

    def matching(self, priority="normal"):
        return self.current

    def named(self, name):
        return next((p for p in (self.current, *self.older) if p and p.name == name), None)


def inbound(mid: str, minutes: float) -> sla.Fact:
    return sla.Fact(mid, "in", T0 + timedelta(minutes=minutes))


def outbound(mid: str, minutes: float) -> sla.Fact:
    return sla.Fact(mid, "out", T0 + timedelta(minutes=minutes))


def test_customer_message_opens_first_response_clock():
    state, events = sla.apply(sla.Sla(), [inbound("m1", 0)], Book(policy()))
    clock = state.clock
    assert (clock.kind, clock.policy, clock.started_at, clock.due_at) == (
        "first_response", "dm", T0, T0 + timedelta(minutes=60))
    assert clock.warn_times == (T0 + timedelta(minutes=30), T0 + timedelta(minutes=48))
    assert [e.kind for e in events] == ["opened"]


def test_more_customer_messages_do_not_restart_and_replays_change_nothing():
    state, _ = sla.apply(sla.Sla(), [inbound("m1", 0)], Book(policy()))
    again, events = sla.apply(state, [inbound("m2", 5), inbound("m1", 0)], Book(policy()))
    assert (again, events) == (state, [])


def test_brand_reply_meets_the_clock_and_records_response_times():
    state, events = sla.apply(sla.Sla(), [inbound("m1", 0), outbound("r1", 20)], Book(policy()))
    assert (state.clock.state, state.clock.running, state.clock.response_seconds) == ("met", False, 1200)
    assert state.clock.business_seconds == 1200 and state.brand_replied
    assert [e.kind for e in events] == ["opened", "met"]


def test_late_reply_stays_breached_and_next_message_opens_next_response():
    state, _ = sla.apply(sla.Sla(), [inbound("m1", 0), outbound("r1", 90)], Book(policy()))
    assert (state.clock.state, state.clock.running) == ("breached", False)
    state, events = sla.apply(state, [inbound("m2", 100)], Book(policy()))
    assert (state.clock.kind, state.clock.due_at) == ("next_response", T0 + timedelta(minutes=130))


def test_reply_in_business_time():
    friday = datetime(2026, 11, 27, 16, 20, tzinfo=UTC)  # 17:20 Amsterdam
    book = Book(policy(first=15, calendar=OFFICE))
    state, _ = sla.apply(sla.Sla(), [sla.Fact("m1", "in", friday)], book)
    assert state.clock.due_at == datetime(2026, 11, 30, 8, 5, tzinfo=UTC)  # Monday 09:05 Amsterdam
    monday = datetime(2026, 11, 30, 8, 2, tzinfo=UTC)
    state, _ = sla.apply(state, [sla.Fact("r1", "out", monday)], book)
    assert (state.clock.state, state.clock.business_seconds) == ("met", 12 * 60)
    assert state.clock.response_seconds == int((monday - friday).total_seconds())


def test_out_of_order_reply_before_message_arrives():
    # The brand's reply (sent at 10) is processed before the question (sent at 5).
    state, _ = sla.apply(sla.Sla(), [outbound("r1", 10)], Book(policy()))
    state, events = sla.apply(state, [inbound("m1", 5)], Book(policy()))
    assert state.clock is None and events == []


def test_late_arriving_earlier_message_moves_the_start_back():
    state, _ = sla.apply(sla.Sla(), [inbound("m2", 10)], Book(policy()))
    state, events = sla.apply(state, [inbound("m1", 2)], Book(policy()))
    assert state.clock.started_at == T0 + timedelta(minutes=2)
    assert state.clock.due_at == T0 + timedelta(minutes=62)
    assert [e.kind for e in events] == ["restarted"]


def test_policy_in_force_is_kept_when_the_file_changes():
    state, _ = sla.apply(sla.Sla(), [inbound("m1", 0)], Book(policy(first=60)))
    changed = Book(policy(name="dm-v2", first=5), older=(policy(first=60),))
    state, _ = sla.apply(state, [outbound("r1", 30)], changed)
    assert (state.clock.policy, state.clock.state) == ("dm", "met")


def test_no_policy_no_clock():
    assert sla.apply(sla.Sla(), [inbound("m1", 0)], Book(None)) == (sla.Sla(), [])


def test_resolve_stops_and_a_later_message_reopens_as_next_response():
    state, _ = sla.apply(sla.Sla(), [inbound("m1", 0), outbound("r1", 10), inbound("m2", 20)], Book(policy()))
    state, events = sla.resolve(state, T0 + timedelta(minutes=25))
    assert not state.clock.running and [e.kind for e in events] == ["stopped"]
    earlier, _ = sla.apply(state, [inbound("m3", 24)], Book(policy()))
    assert earlier == state  # sent before the resolution: no new clock
    state, _ = sla.apply(state, [inbound("m4", 40)], Book(policy()))
    assert (state.clock.kind, state.clock.running) == ("next_response", True)


AFTER = (timedelta(0), timedelta(minutes=10), timedelta(minutes=30))


def walk(state: sla.Sla, minutes: float):
    return sla.next_alert(state.clock, AFTER, T0 + timedelta(minutes=minutes))


def test_alert_schedule_warn_breach_escalate_until_acknowledged():
    state, _ = sla.apply(sla.Sla(), [inbound("m1", 0)], Book(policy()))
    upcoming = walk(state, 1)
    assert (upcoming.kind, upcoming.number, upcoming.at) == ("warning", 1, T0 + timedelta(minutes=30))
    clock, event = sla.record_alert(state.clock, walk(state, 30), T0 + timedelta(minutes=30))
    assert (clock.state, event.kind) == ("warning", "warned")
    state = replace(state, clock=clock)
    assert (walk(state, 31).kind, walk(state, 31).number) == ("warning", 2)
    clock, _ = sla.record_alert(clock, walk(state, 48), T0 + timedelta(minutes=48))
    state = replace(state, clock=clock)
    breach = walk(state, 60)
    assert (breach.kind, breach.level, breach.at) == ("breach", 0, T0 + timedelta(minutes=60))
    clock, event = sla.record_alert(clock, breach, T0 + timedelta(minutes=60))
    assert (clock.state, clock.levels_paged, event.kind) == ("breached", 1, "breached")
    state = replace(state, clock=clock)
    escalation = walk(state, 61)
    assert (escalation.kind, escalation.level, escalation.at) == ("escalation", 1, T0 + timedelta(minutes=70))
    clock, event = sla.acknowledge(clock, "+15555550100", T0 + timedelta(minutes=65))
    assert event.kind == "acknowledged"
    assert sla.next_alert(clock, AFTER, T0 + timedelta(minutes=71)) is None
    assert sla.acknowledge(clock, "+15555550101", T0 + timedelta(minutes=66)) == (clock, None)


def test_a_late_checker_skips_stale_warnings():
    state, _ = sla.apply(sla.Sla(), [inbound("m1", 0)], Book(policy()))
    assert walk(state, 50).number == 2  # both warnings due: only the latest goes out
    assert walk(state, 75).kind == "breach"  # past due: straight to the breach


def test_quiet_phone_hands_over_to_the_next_level_never_dropped():
    ladder = (("+1a",), ("+1b", "+1c"), ("+1d",))
    assert sla.recipients(ladder, 0, lambda p: p == "+1a") == ("+1b", "+1c")
    assert sla.recipients(ladder, 0, lambda p: p in ("+1a", "+1b", "+1c")) == ("+1d",)
    assert sla.recipients(ladder, 2, lambda p: True) == ("+1d",)
    assert sla.recipients(ladder, 1, lambda p: False) == ("+1b", "+1c")


def test_stored_form_round_trips_and_view_uses_z_times():
    state, _ = sla.apply(sla.Sla(), [inbound("m1", 0), outbound("r1", 20)], Book(policy()))
    assert sla.load(sla.dump(state)) == state
    assert sla.load(None) == sla.Sla()
    shown = sla.view(sla.dump(state))
    assert shown["due_at"] == "2026-11-23T10:00:00.000Z" and shown["state"] == "met"


def test_resolution_target_is_set_once_per_open_period_and_settled_on_resolve():
    book = Book(policy(resolution=120))
    state, _ = sla.apply(sla.Sla(), [inbound("m1", 0), outbound("r1", 10), inbound("m2", 20)], book)
    assert state.resolution_due_at == T0 + timedelta(minutes=120)  # from the first message, not the second
    state, events = sla.resolve(state, T0 + timedelta(minutes=130))
    assert [(e.kind, e.detail.get("late")) for e in events] == [("resolved", True), ("stopped", None)]
    assert state.resolution_due_at is None
    state, _ = sla.apply(state, [inbound("m3", 200)], book)
    assert state.resolution_due_at == T0 + timedelta(minutes=320)
    assert sla.view(sla.dump(state))["resolution_due_at"] == "2026-11-23T14:20:00.000Z"


def test_heeds_own_acknowledgement_stops_no_clock():
    state, _ = sla.apply(sla.Sla(), [inbound("m1", 0)], Book(policy()))
    ack = sla.Fact("a1", "out", T0 + timedelta(seconds=5), automated=True)
    after, events = sla.apply(state, [ack], Book(policy()))
    assert (after, events) == (state, [])
    assert after.clock.running and not after.brand_replied
