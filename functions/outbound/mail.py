"""Email as an outbound channel: an :class:`OutboundMessage` on channel ``email`` -> MIME -> SES.

Used by ``deliver_outbound`` for the handoff email and for staff replies in a
conversation that moved to email, so both get the queue's exactly-once claim,
retries and dead-letter queue like any platform send. The stored message's id
is the Message-ID Heed set (not SES's id): the customer's answer names it in
``In-Reply-To``, and threading and deduplication both use it.
"""
from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, formatdate

from functions import settings
from functions.adapters.email import LOOP_HEADER
from functions.domain.outbound import OutboundMessage, SendFailed, Sent
from functions.outbound import email

# SES errors that retrying won't fix (the identity, the recipient, the message itself).
REFUSALS = frozenset({"MessageRejected", "MailFromDomainNotVerifiedException", "MailFromDomainNotVerified",
                      "ConfigurationSetDoesNotExist", "AccountSendingPausedException", "InvalidParameterValue",
                      "ValidationError", "AccessDenied", "AccessDeniedException"})


def compose(message: OutboundMessage, brand_name: str) -> EmailMessage:
    """The MIME message: plain text (plus HTML when given), threading headers, Reply-To the conversation's address."""
    mail = message.email or {}
    out = EmailMessage()
    out["From"] = formataddr((brand_name, settings.required("HEED_EMAIL_FROM")))
    out["To"] = mail["to"]
    out["Reply-To"] = mail["reply_to"]
    out["Subject"] = mail["subject"]
    out["Date"] = formatdate(usegmt=True)
    out["Message-ID"] = f"<{mail['message_id']}>"
    if mail.get("in_reply_to"):
        out["In-Reply-To"] = f"<{mail['in_reply_to']}>"
    if mail.get("references"):
        out["References"] = " ".join(f"<{ref}>" for ref in mail["references"])
    out[LOOP_HEADER] = message.conversation_id  # our own mail coming back is dropped, never stored
    if message.automated:
        out["Auto-Submitted"] = "auto-generated"  # RFC 3834: other robots must not answer it
    out.set_content(message.text)
    if mail.get("html"):
        out.add_alternative(mail["html"], subtype="html")
    return out


def send(message: OutboundMessage) -> Sent:
    """Send through SES; SendFailed(retryable) for throttling and outages, not for refusals."""
    from functions.config import load_config

    try:
        ses_id = email.send(compose(message, load_config().brand_name))
    except email.EmailNotSent as failed:
        raise SendFailed(f"ses:{failed.reason}", retryable=failed.reason not in REFUSALS) from None
    return Sent(platform_message_id=message.email["message_id"] if message.email else ses_id,
                raw={"ses_message_id": ses_id})
