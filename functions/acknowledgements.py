"""Automatic acknowledgements: when a customer's message opens a response clock, maybe say so.

Runs in the SLA stream handler (``functions/clocks.py``) right after the new
clock is worked out and before it is saved, so a stream retry rebuilds the same
acknowledgement under the same idempotency key (``ack:<conversation>:<clock>``)
and the queue consumer sends it at most once: one per clock, however many
messages the customer sends.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from functions.config import Config
from functions.domain import autoreply, phrases, sla, windows
from functions.domain.message import iso_utc
from functions.domain.outbound import OutboundMessage
from functions.log import log
from functions.store.dynamo import SlaRecord


def for_new_clock(record: SlaRecord, clock: sla.Clock, fact: sla.Fact, config: Config,
                  now: datetime) -> Optional[OutboundMessage]:
    """The acknowledgement of the message ``fact`` that opened ``clock``, or None (logged with the reason)."""
    from functions import templating

    rule = config.acknowledge_rule_for(record.platform, record.channel, record.account_id, clock=clock.kind)
    facts = autoreply.MessageFacts(platform=record.platform, channel=record.channel, direction=fact.direction,
                                   sent_at=fact.sent_at, sender_is_bot=fact.from_bot)
    decision = autoreply.decide(facts, rule, now=now, already_acknowledged=False,
                                whatsapp_template=config.acknowledge.whatsapp_template)
    if not decision:
        log("ack_skipped", conversation_id=record.conversation_id, clock_id=clock.id, reason=decision.reason)
        return None
    policy = next((p for p in config.policies if p.name == clock.policy), None)
    calendar = policy.calendar if policy else rule.calendar
    variables = {
        "customer_name": record.customer_name,
        "brand_name": config.brand_name,
        "next_available": phrases.next_available(rule.calendar, now),
        "expected_response": phrases.expected_response(calendar, clock.target, now),
        "conversation_id": record.conversation_id,
    }
    try:
        text = templating.render(decision.kind, record.platform, decision.channel, None, variables,
                                 default_language=config.acknowledge.language)
    except templating.TemplateError as error:  # never let a template block the clocks
        log("ack_not_rendered", level="ERROR", conversation_id=record.conversation_id, error=str(error)[:200])
        return None
    window = windows.PRIVATE_REPLY_WINDOW if decision.private else windows.STANDARD_WINDOW
    unbounded = (record.channel in windows.PUBLIC_CHANNELS and not decision.private) or decision.whatsapp_template
    return OutboundMessage(
        id=autoreply.idempotency_key(record.conversation_id, clock.id), kind="ack",
        conversation_id=record.conversation_id, platform=record.platform, channel=record.channel,
        account_id=record.account_id, customer_id=record.customer_id, text=text,
        reply_to=fact.message_id if record.channel != "dm" else None, root_id=record.root_id,
        private=decision.private,
        template=decision.whatsapp_template.to_json() if decision.whatsapp_template else None,
        not_after=None if unbounded or record.platform in windows.NO_WINDOW else iso_utc(fact.sent_at + window),
    )
