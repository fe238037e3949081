"""Moving a conversation to email: decide, record once, queue the notice and the first email.

Triggered from the table's stream (``[handoff]`` rules: message or character
thresholds, an email address in a DM) or by staff
(``POST /conversations/{id}/handoff``). Once per conversation: the move is
recorded with a conditional write (token, reply address, mailbox item), and
what goes out is queued under fixed idempotency keys (``handoff:<id>`` for the
notice on the platform, ``handoff-email:<id>`` for the first email), so a
repeated trigger, a stream retry or a second staff call never sends twice.
If queueing failed after the move was recorded, the next trigger queues it
(``handoff_queued`` is set only once both are queued).

Where the notice goes: the DM; a private reply for Facebook/Instagram comments;
nowhere for X mentions (no private reply, and the address must not be public),
so those move only when the customer's email address is known. Automatic
notices respect the platforms' windows like acknowledgements do.
"""
from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from typing import Optional

from functions import clocks, settings
from functions.config import Config, load_config
from functions.domain import handoff as rules
from functions.domain import phrases, windows
from functions.domain.message import iso_utc
from functions.domain.outbound import OutboundMessage
from functions.errors import Conflict, NotFound
from functions.log import log
from functions.store import dynamo

PLATFORM_NAMES = {"facebook": "Facebook", "instagram": "Instagram", "whatsapp": "WhatsApp", "x": "X",
                  "telegram": "Telegram"}


def consider(conversation_id: str, new_texts: list[str], config: Config) -> None:
    """After new customer messages: hand off when a ``[handoff]`` rule says so (stream path; never raises 4xx)."""
    if not os.environ.get("HEED_EMAIL_DOMAIN"):
        return  # email isn't set up for this stage: nothing to hand off to
    state = dynamo.get_handoff(conversation_id)
    if state is None or state.status != "open":
        return
    if state.handoff is not None:
        if not state.handoff.queued:
            _queue(state, state.handoff, config)
        elif not state.handoff.customer_email:
            _address_given_later(state, state.handoff, new_texts, config)
        return
    reason, customer_email = rules.reason_to_hand_off(config.handoff, state.channel, state.inbound_count,
                                                      state.inbound_chars, new_texts)
    if reason is None:
        return
    try:
        hand_off(conversation_id, reason, customer_email=customer_email, config=config)
    except (Conflict, NotFound) as refused:
        log("handoff_skipped", conversation_id=conversation_id, reason=reason, why=refused.message[:120])


def hand_off(conversation_id: str, reason: str, *, customer_email: Optional[str] = None,
             config: Optional[Config] = None) -> dynamo.HandoffState:
    """Move the conversation to email (idempotent); NotFound/Conflict when it can't be."""
    config = config or load_config()
    state = dynamo.get_handoff(conversation_id)
    if state is None:
        raise NotFound(f"no conversation {conversation_id[:64]}")
    if state.handoff is None:
        if state.status != "open":
            raise Conflict("the conversation is resolved; reopen it to move it to email")
        _check_notice_possible(state, customer_email)
        domain = settings.required("HEED_EMAIL_DOMAIN")
        token = rules.new_token()
        record = dynamo.Handoff(
            token=token,
            reply_address=rules.reply_address(settings.required("HEED_EMAIL_FROM"), domain, token),
            email_root=rules.message_id(token, domain), handed_off_from=state.channel,
            handed_off_at=iso_utc(datetime.now(UTC)), reason=reason, customer_email=customer_email, queued=False)
        if dynamo.start_handoff(conversation_id, record):
            log("handoff_started", conversation_id=conversation_id, reason=reason, email_known=bool(customer_email))
        clocks.carry_over(conversation_id)
        state = dynamo.get_handoff(conversation_id)
        assert state is not None and state.handoff is not None
    if not state.handoff.queued:
        _queue(state, state.handoff, config)
    return state


def _address_given_later(state: dynamo.HandoffState, record: dynamo.Handoff, new_texts: list[str],
                         config: Config) -> None:
    """Handed off without an address, and now the customer wrote one in the DM: send the first email then.

    Queued under the same key as at the move (``handoff-email:<id>``), then the address is recorded
    (never overwritten): a stream retry in between queues the same key again, which is sent once; once
    recorded, later addresses change nothing.
    """
    from functions.outbound import queue

    if not config.handoff.on_email_address or record.handed_off_from != "dm":
        return
    address = next((found for text in new_texts if (found := rules.email_address_in(text))), None)
    if address is None:
        return
    queue.enqueue(_first_email(state, replace(record, customer_email=address), config))
    dynamo.set_customer_email(state.conversation_id, address)
    log("handoff_email_address_given", conversation_id=state.conversation_id)


def _check_notice_possible(state: dynamo.HandoffState, customer_email: Optional[str]) -> None:
    if customer_email or rules.notice_channel(state.platform, state.channel):
        return
    raise Conflict(f"{state.platform} {state.channel}s have no private reply to carry the reply address, and "
                   "Heed never posts it in public; ask the customer to send a DM")


def _queue(state: dynamo.HandoffState, record: dynamo.Handoff, config: Config) -> None:
    """Queue the platform notice and (when the address is known) the first email; then mark them queued."""
    from functions.outbound import queue

    now = datetime.now(UTC)
    notice = _notice(state, record, config, now)
    if notice is not None:
        queue.enqueue(notice)
    if record.customer_email:
        queue.enqueue(_first_email(state, record, config))
    dynamo.mark_handoff_queued(state.conversation_id)


def _notice(state: dynamo.HandoffState, record: dynamo.Handoff, config: Config,
            now: datetime) -> Optional[OutboundMessage]:
    from functions import templating

    where = rules.notice_channel(state.platform, record.handed_off_from)
    if where is None:
        return None
    target = dynamo.reply_target(state.conversation_id)
    if target is None:
        return None
    last_iso = target.latest_inbound_at if where == "private_reply" else target.last_inbound_at
    last = datetime.fromisoformat(last_iso) if last_iso else None
    verdict = windows.automatic_allowed(state.platform, last, now, channel=where)
    if not verdict:
        log("handoff_notice_skipped", conversation_id=state.conversation_id, reason=verdict.reason)
        return None
    policy = config.policy_for(state.platform, "email", state.account_id)
    calendar = policy.calendar if policy else config.calendars["always"]
    variables = {"customer_name": state.customer_name, "brand_name": config.brand_name,
                 "next_available": phrases.next_available(calendar, now),
                 "expected_response": phrases.expected_response(
                     calendar, policy.first_response if policy else windows.STANDARD_WINDOW, now),
                 "conversation_id": state.conversation_id, "reply_address": record.reply_address}
    try:
        text = templating.render("handoff", state.platform, where, None, variables,
                                 default_language=config.acknowledge.language)
    except templating.TemplateError as error:
        log("handoff_not_rendered", level="ERROR", conversation_id=state.conversation_id, error=str(error)[:200])
        return None
    window = windows.PRIVATE_REPLY_WINDOW if where == "private_reply" else windows.STANDARD_WINDOW
    return OutboundMessage(
        id=f"handoff:{state.conversation_id}", kind="handoff", conversation_id=state.conversation_id,
        platform=state.platform, channel=record.handed_off_from, account_id=state.account_id,
        customer_id=state.customer_id, text=text,
        reply_to=target.latest_inbound_id if where == "private_reply" else None, root_id=state.root_id,
        private=where == "private_reply",
        not_after=None if state.platform in windows.NO_WINDOW or last is None else iso_utc(last + window))


def _first_email(state: dynamo.HandoffState, record: dynamo.Handoff, config: Config) -> OutboundMessage:
    """Heed's first email: a short transcript, Reply-To the conversation's address, the thread's root id."""
    from functions import emails

    conversation = dynamo.get_conversation(state.conversation_id)
    history = [(m.direction, m.text, m.sent_at[:16].replace("T", " ") + " UTC")
               for m in (conversation.messages if conversation else [])]
    lines, left_out = rules.transcript(history)
    platform_name = PLATFORM_NAMES.get(state.platform, state.platform)
    subject, text, html = emails.render("handoff", config.acknowledge.language, {
        "customer_name": state.customer_name, "brand_name": config.brand_name, "platform_name": platform_name,
        "reply_address": record.reply_address, "transcript": lines, "left_out": left_out})
    return OutboundMessage(
        id=f"handoff-email:{state.conversation_id}", kind="handoff", conversation_id=state.conversation_id,
        platform=state.platform, channel="email", account_id=state.account_id, customer_id=state.customer_id,
        text=text, root_id=state.root_id,
        email={"to": record.customer_email, "reply_to": record.reply_address, "message_id": record.email_root,
               "subject": subject,
               "in_reply_to": None, "references": [], "html": html})
