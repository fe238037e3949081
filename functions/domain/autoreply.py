"""Whether Heed acknowledges a customer's message automatically, and how.

Pure: :func:`decide` takes the message's facts, the acknowledgement rule that
matched it (``[[acknowledge.rules]]`` in the policy file, see
``functions/config.py``), whether this response clock was already acknowledged,
and ``now``; it returns an :class:`Acknowledge` (which template kind, where the
text goes, a WhatsApp template if the free-form window is closed) or a
:class:`Skip` with the reason. In order, it never acknowledges:

1. ``outbound``: the brand's own messages, echoes included;
2. ``bot``: another bot (Telegram ``from.is_bot``);
3. ``noise``: what triage marks as noise (nothing yet);
4. ``already_acknowledged``: a clock that already got its one acknowledgement
   (a customer who sends five messages in a row gets one);
5. ``no_rule`` / ``rule_never``: no rule matches, or the rule says ``never``;
6. ``business_hours``: an ``outside_hours`` rule while the rule's calendar is open;
7. ``window_closed`` (or ``private_reply_window_closed``): the platform's
   policy window is closed (:mod:`functions.domain.windows`); on WhatsApp an
   approved template is sent instead when one is configured.

The kind is ``ack`` while the calendar is open, ``ack_after_hours`` while it is
closed. A comment answered with ``reply = "private"`` gets a private message on
platforms that have private replies (Facebook, Instagram: ``channel`` is
``private_reply``) and a public reply elsewhere (X mentions).

The queue consumer enforces "one per clock" with the outbound id
:func:`idempotency_key`; ``already_acknowledged`` makes the decision say so too.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Optional, Protocol

from functions.domain.windows import PRIVATE_REPLY_PLATFORMS, PUBLIC_CHANNELS, automatic_allowed

When = Literal["always", "outside_hours", "never"]
Reply = Literal["public", "private"]
AckKind = Literal["ack", "ack_after_hours"]

WHEN: tuple[str, ...] = ("always", "outside_hours", "never")
REPLY: tuple[str, ...] = ("public", "private")
CLOCKS: frozenset[str] = frozenset({"first_response", "next_response"})
RULE_MATCH_KEYS: tuple[str, ...] = ("channel", "platform", "account_id", "priority", "clock")
"""What a rule may match on: a policy's keys plus ``clock``, the kind of response clock the message opened."""


class Calendar(Protocol):
    def is_open(self, at: datetime) -> bool: ...


@dataclass(frozen=True)
class AckRule:
    """One ``[[acknowledge.rules]]`` entry. ``calendar`` None: the matched SLA policy's (filled in by the config)."""

    name: str
    match: dict[str, frozenset[str]]
    when: When
    reply: Reply = "private"
    calendar: Optional[Any] = None

    def matches(self, platform: str, channel: str, account_id: str, priority: str = "normal",
                clock: str = "first_response") -> bool:
        facts = {"platform": platform, "channel": channel, "account_id": account_id, "priority": priority,
                 "clock": clock}
        return all(facts[key] in accepted for key, accepted in self.match.items())

    def shadows(self, later: AckRule) -> bool:
        """Whether every message ``later`` matches is matched by this rule first."""
        return all(key in later.match and later.match[key] <= accepted for key, accepted in self.match.items())


@dataclass(frozen=True)
class WhatsAppTemplate:
    """An approved WhatsApp message template, sent instead of text outside the 24 h window."""

    name: str
    language: str

    def to_json(self) -> dict[str, str]:
        """The form :class:`functions.domain.outbound.OutboundMessage` carries in ``template``."""
        return {"name": self.name, "language": self.language}


@dataclass(frozen=True)
class MessageFacts:
    """What the decision needs to know about the customer's message."""

    platform: str
    channel: str  # dm, comment, mention
    direction: Literal["in", "out"]
    sent_at: datetime
    sender_is_bot: bool = False
    noise: bool = False

    @classmethod
    def from_message(cls, message: Any, *, noise: bool = False) -> MessageFacts:
        """From a :class:`functions.domain.message.Message`; Telegram says in its raw update whether a bot wrote."""
        return cls(platform=message.platform, channel=message.channel, direction=message.direction,
                   sent_at=message.sent_at, sender_is_bot=sender_is_bot(message.platform, message.raw), noise=noise)


def sender_is_bot(platform: str, raw: Any) -> bool:
    """Telegram's ``message.from.is_bot``; other platforms don't say (False)."""
    if platform != "telegram" or not isinstance(raw, dict):
        return False
    msg = raw.get("message")
    sender = msg.get("from") if isinstance(msg, dict) else None
    return isinstance(sender, dict) and sender.get("is_bot") is True


@dataclass(frozen=True)
class Acknowledge:
    """Send an acknowledgement: render template ``kind`` for ``channel`` (dm, comment, mention, private_reply).

    ``private``: a private reply to a comment (``OutboundMessage.private``).
    ``whatsapp_template``: send this approved template instead of text (the
    24 h window is closed).
    """

    kind: AckKind
    channel: str
    private: bool
    rule: str
    whatsapp_template: Optional[WhatsAppTemplate] = None

    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True)
class Skip:
    """Don't acknowledge: ``reason`` is a short code for logs and metrics, ``detail`` says why."""

    reason: str
    detail: str

    def __bool__(self) -> bool:
        return False


def idempotency_key(conversation_id: str, clock_id: str) -> str:
    """The outbound id of a clock's acknowledgement: the same clock is acknowledged at most once."""
    return f"ack:{conversation_id}:{clock_id}"


def decide(message: MessageFacts, rule: Optional[AckRule], *, now: datetime, already_acknowledged: bool,
           last_inbound_at: Optional[datetime] = None,
           whatsapp_template: Optional[WhatsAppTemplate] = None) -> Acknowledge | Skip:
    """Acknowledge ``message`` at ``now``, or say why not (see the module docstring for the order).

    ``rule`` comes from ``Config.acknowledge_rule_for`` (its calendar filled in).
    ``last_inbound_at`` is the conversation's latest customer message (for the
    platform window; defaults to ``message.sent_at``). ``whatsapp_template`` is
    ``[acknowledge] whatsapp_template``, if configured.
    """
    if message.direction != "in":
        return Skip("outbound", "the brand's own message or an echo of it")
    if message.sender_is_bot:
        return Skip("bot", "the sender is a bot")
    if message.noise:
        return Skip("noise", "triage marked the message as noise")
    if already_acknowledged:
        return Skip("already_acknowledged", "this response clock already got its acknowledgement")
    if rule is None:
        return Skip("no_rule", "no acknowledge rule matches the conversation")
    if rule.when == "never":
        return Skip("rule_never", f"rule {rule.name!r} says never")
    if rule.calendar is None:
        raise ValueError(f"rule {rule.name!r} has no calendar; take rules from Config.acknowledge_rule_for")
    is_open = rule.calendar.is_open(now)
    if rule.when == "outside_hours" and is_open:
        return Skip("business_hours", f"rule {rule.name!r} acknowledges only outside business hours")
    kind: AckKind = "ack" if is_open else "ack_after_hours"

    channel = message.channel
    private = False
    since = max(message.sent_at, last_inbound_at) if last_inbound_at is not None else message.sent_at
    if channel in PUBLIC_CHANNELS and rule.reply == "private" and message.platform in PRIVATE_REPLY_PLATFORMS:
        channel, private, since = "private_reply", True, message.sent_at  # 7 days from this very comment
    verdict = automatic_allowed(message.platform, since, now, channel=channel)
    if not verdict:
        if message.platform == "whatsapp" and channel == "dm" and whatsapp_template is not None:
            return Acknowledge(kind, channel, private, rule.name, whatsapp_template=whatsapp_template)
        return Skip(verdict.reason or "window_closed", verdict.detail)
    return Acknowledge(kind, channel, private, rule.name)
