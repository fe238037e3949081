"""SLA clocks over storage: new messages from the table's stream, and resolving.

The webhook path stores and answers; clocks are worked out here, after the
fact, from the table's stream (Lambda; locally the pump), so a slow clock never
delays a platform's delivery. Stream records may come twice, out of order and
in parallel: the domain ignores facts it has seen, and every write is
conditioned on the SLA version (re-read and retried).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Callable, Iterable, Optional

from functions.config import Config, load_config
from functions.domain import autoreply, sla
from functions.domain.message import iso_utc
from functions.domain.triage import Rollup
from functions.log import log
from functions.store import dynamo

MAX_ROUNDS = 5
NEVER = "9999"  # sorts after every ISO time in the checker's index


@dataclass(frozen=True)
class ConversationPolicies:
    """:class:`sla.Policies` for one conversation."""

    config: Config
    platform: str
    channel: str
    account_id: str

    def matching(self, priority: str = "normal") -> Optional[sla.PolicyLike]:
        return self.config.policy_for(self.platform, self.channel, self.account_id, priority)

    def named(self, name: str) -> Optional[sla.PolicyLike]:
        return next((p for p in self.config.policies if p.name == name), None)


def handle_records(records: Iterable[dict[str, Any]]) -> int:
    """Apply the messages inserted in a batch of DynamoDB stream records; returns conversations changed.

    Per message, in order: repeated-text spam (needs what other customers sent,
    so it is found here, not in intake), then per conversation the triage
    roll-up and the clocks in one conditional write, then incident detection
    over the batch's complaints, then, for conversations a customer wrote in,
    whether it is time to move them to email (``[handoff]``; functions/handoff.py).
    """
    from functions import incidents, repeats

    config = load_config()
    stored: dict[str, list[dynamo.StreamMessage]] = {}
    for record in records:
        image = record.get("dynamodb", {}).get("NewImage") or {}
        if record.get("eventName") != "INSERT" or image.get("type", {}).get("S") != "message":
            continue
        platform = image["platform"]["S"]
        message = dynamo.stream_message(image, from_bot=platform == "telegram" and
                                        autoreply.sender_is_bot(platform, _raw(image)))
        if repeats.is_repeated(message, config.triage):
            message = message.as_spam()
        stored.setdefault(message.conversation_id, []).append(message)
    changed = sum(_apply(conversation_id, messages, config) for conversation_id, messages in stored.items())
    incidents.observe([m for messages in stored.values() for m in messages], config)
    _consider_handoff(stored, config)
    return changed


def _consider_handoff(stored: dict[str, list[dynamo.StreamMessage]], config: Config) -> None:
    from functions import handoff

    for conversation_id, messages in stored.items():
        # Only what was written in a DM is searched for an email address.
        texts = [m.text if m.channel == "dm" else "" for m in messages if m.fact.direction == "in"]
        if texts:
            handoff.consider(conversation_id, texts, config)


def carry_over(conversation_id: str) -> None:
    """The conversation moved to email: its running clock continues under the policy now matching it."""
    config = load_config()

    def change(record: dynamo.SlaRecord, before: sla.Sla) -> Outcome:
        policies = ConversationPolicies(config, record.platform, record.channel, record.account_id)
        return (*sla.carry_over(before, policies.matching(record.priority), datetime.now(UTC)), None)

    _update(conversation_id, change, config)


def _apply(conversation_id: str, messages: list[dynamo.StreamMessage], config: Config) -> bool:
    def change(record: dynamo.SlaRecord, before: sla.Sla) -> Outcome:
        rollup = Rollup.load(record.triage)
        for m in messages:
            if m.fact.direction == "in" and not m.fact.automated:
                rollup = rollup.add(m.fact.labels, m.fact.priority, m.sentiment, iso_utc(m.fact.sent_at))
        facts = [replace(m.fact, priority=rollup.priority) for m in messages]
        policies = ConversationPolicies(config, record.platform, record.channel, record.account_id)
        after, events = sla.apply(before, facts, policies)
        _acknowledge(record, after, events, facts, config)
        return after, events, rollup.dump()

    return _update(conversation_id, change, config) is not None


def relabel(conversation_id: str, labels: list[str], priority: Optional[str]) -> bool:
    """Staff's labels (and priority) for a conversation; False if it doesn't exist.

    Taking noise/spam away opens the clock its customer messages would have
    opened, as of the earliest one the brand hasn't answered (so it may be
    breached already: the checker pages as usual). No acknowledgement is sent
    for it: staff are looking at the conversation. Marking it noise/spam stops
    a running clock. The same relabel twice changes nothing.
    """
    now = datetime.now(UTC)
    config = load_config()

    def change(record: dynamo.SlaRecord, before: sla.Sla) -> Outcome:
        rollup = Rollup.load(record.triage).relabel(labels, priority)
        if rollup.dismissed:
            after, events = sla.dismiss(before, now)
            return after, events, rollup.dump()
        facts = [replace(fact, labels=(), priority=rollup.priority) if fact.direction == "in" else fact
                 for fact in dynamo.conversation_facts(conversation_id)]
        policies = ConversationPolicies(config, record.platform, record.channel, record.account_id)
        after, events = sla.apply(before, facts, policies)
        return after, events, rollup.dump()

    found = _update(conversation_id, change, config)
    if found is not None:
        log("conversation_relabelled", conversation_id=conversation_id, labels=len(labels))
    return found is not None


def _acknowledge(record: dynamo.SlaRecord, state: sla.Sla, events: list[sla.Event], facts: list[sla.Fact],
                 config: Config) -> None:
    """Queue the acknowledgement of a newly opened clock before the clock is saved (see functions/acknowledgements)."""
    from functions import acknowledgements
    from functions.outbound import queue

    opened = {e.detail.get("message_id") for e in events if e.kind == "opened"}
    by_id = {f.message_id: f for f in facts}
    for message_id in opened:
        fact = by_id.get(message_id)
        if fact is None or state.clock is None:
            continue
        message = acknowledgements.for_new_clock(record, state.clock, fact, config, datetime.now(UTC))
        if message is not None:
            queue.enqueue(message)


def _raw(image: dict[str, Any]) -> Any:
    try:
        return json.loads(image.get("raw", {}).get("S", "null"))
    except ValueError:
        return None


def resolve(conversation_id: str) -> bool:
    """Staff resolved the conversation: stop its clock, list it as resolved. False if it doesn't exist."""
    now = datetime.now(UTC)
    return _update(conversation_id, lambda _, before: (*sla.resolve(before, now), None), load_config(),
                   status="resolved") is not None


# The new SLA state, its events and the triage roll-up's attributes (None: unchanged).
Outcome = tuple[sla.Sla, list[sla.Event], Optional[dict]]
Change = Callable[[dynamo.SlaRecord, sla.Sla], Outcome]


def _update(conversation_id: str, change: Change, config: Config,
            status: Optional[str] = None) -> Optional[sla.Sla]:
    """Read, change and conditionally write a conversation's SLA state, retrying on conflict."""
    for _ in range(MAX_ROUNDS):
        record = dynamo.get_sla(conversation_id)
        if record is None:
            log("sla_conversation_missing", level="WARNING", conversation_id=conversation_id)
            return None
        before = sla.load(record.sla)
        after, events, triage = change(record, before)
        if triage is not None and Rollup.load(triage) == Rollup.load(record.triage):
            triage = None
        if after == before and triage is None:
            return after
        if save(record, after, events, config, datetime.now(UTC), status=status, triage=triage):
            for event in events:
                log("sla_" + event.kind, conversation_id=conversation_id, clock_id=event.clock_id,
                    policy=event.policy)
            return after
    log("sla_contention", level="WARNING", conversation_id=conversation_id)
    raise dynamo.StorageUnavailable("SLA state kept changing; retry")


def save(record: dynamo.SlaRecord, state: sla.Sla, events: list[sla.Event], config: Config, now: datetime,
         status: Optional[str] = None, alert_done: bool = False, triage: Optional[dict] = None) -> bool:
    """Write ``state`` with its events and its place in the checker's index (False: changed meanwhile)."""
    clock = state.clock
    due = None
    if clock is not None and clock.running:
        alert = sla.next_alert(clock, config.escalation_after, now)
        # Breached and acknowledged (or past the last level): listed as breached, never due again.
        due = (clock.state, iso_utc(alert.at) if alert else NEVER)
    return dynamo.save_sla(record, sla.dump(state), due, [_event_json(e) for e in events], status=status,
                           alert_done=alert_done, triage=triage)


def _event_json(event: sla.Event) -> dict[str, Any]:
    return {"kind": event.kind, "clock_id": event.clock_id, "at": iso_utc(event.at), "policy": event.policy,
            "detail": event.detail}
