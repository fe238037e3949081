"""Inbound email: raw RFC 5322 bytes (as SES stored them in S3) -> :class:`InboundMail`. Pure, stdlib only.

What a customer's reply needs before it joins a conversation:

* the text they wrote: the ``text/plain`` part, or the ``text/html`` part
  turned into text (``html.parser``) when there is no plain part; quoted
  history (``On ... wrote:``, ``>`` lines, ``-----Original Message-----``,
  Outlook's ``From:``/``Sent:`` block) and signatures (``-- ``, "Sent from my
  iPhone") trimmed;
* attachments listed by name and type only (never stored inline);
* the conversation token: from a recipient ``<local>+<token>@<domain>``, else
  from our own Message-IDs in ``In-Reply-To``/``References``
  (``<heed.<token>.<random>@<domain>>``, see :func:`functions.domain.handoff.message_id`);
* why it must be dropped, if it must: auto-replies (``Auto-Submitted`` other
  than ``no``, ``Precedence: bulk|junk|list``, ``X-Autoreply``,
  ``X-Autorespond``, ``X-Auto-Response-Suppress``) and loops (sent from our own
  domain, or carrying our ``X-Heed-Loop`` header).

Nothing here logs or raises on odd mail: malformed headers and undecodable
parts degrade to what can be read.
"""
from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Optional

from functions.domain.handoff import TOKEN_PATTERN

LOOP_HEADER = "X-Heed-Loop"
MAX_TEXT = 20_000  # characters kept of a reply's text; the raw mail stays in S3

_MESSAGE_ID = re.compile(r"<([^<>\s]{1,900})>")
_OUR_ID = re.compile(rf"^heed\.({TOKEN_PATTERN})\.[a-z0-9]+@", re.IGNORECASE)
_QUOTE_STARTS = (
    re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.IGNORECASE | re.DOTALL),  # Gmail, Apple Mail
    re.compile(r"^\s*Op\b.{0,300}\bschreef.{0,60}:\s*$", re.IGNORECASE | re.DOTALL),  # Dutch clients
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's rule above its From:/Sent: block
    re.compile(r"^\s*-{2,}\s*Forwarded message\s*-{2,}\s*$", re.IGNORECASE),
)
_WRAPPED_ON = re.compile(r"^\s*On\s.{0,300}?\swrote:", re.IGNORECASE)  # "On ... wrote:" over several lines
_OUTLOOK_HEADER = re.compile(r"^\s*\*?(From|Van):\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(Sent|Date|Verzonden|To|Aan|Subject|Onderwerp):\*?\s", re.IGNORECASE)
_SIGNATURE = (
    re.compile(r"^-- ?$"),
    re.compile(r"^\s*Sent from my \w+", re.IGNORECASE),
    re.compile(r"^\s*(Get|Sent from) Outlook for \w+", re.IGNORECASE),
    re.compile(r"^\s*Verzonden vanaf mijn \w+", re.IGNORECASE),
)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class InboundMail:
    """One parsed inbound email. ``drop`` is why it must not be stored or answered (None: keep)."""

    message_id: str  # without <>; a digest of the raw bytes when the mail has none
    sender: Optional[str]  # the From address, lower case
    sender_name: Optional[str]
    recipients: tuple[str, ...]  # To, Cc, Delivered-To, X-Original-To (lower case)
    in_reply_to: Optional[str]
    references: tuple[str, ...]
    subject: str
    sent_at: datetime
    text: str
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    drop: Optional[str] = None

    def token(self, domain: str) -> Optional[str]:
        """The conversation token: a plus-address at ``domain`` first, then our Message-IDs it answers."""
        for address in self.recipients:
            local, _, host = address.rpartition("@")
            _, plus, tag = local.partition("+")
            if plus and host == domain.lower() and re.fullmatch(TOKEN_PATTERN, tag):
                return tag
        for ref in (self.in_reply_to, *reversed(self.references)):
            found = _OUR_ID.match(ref or "")
            if found and ref and ref.lower().endswith("@" + domain.lower()):
                return found.group(1).lower()
        return None


def parse(raw: bytes, *, own_domain: str, received_at: datetime) -> InboundMail:
    """Parse ``raw``; ``own_domain`` is Heed's mail domain (mail from it is a loop)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    sender_name, sender = _address(_header(message, "From"))
    listed = [str(v) for name in ("To", "Cc", "Delivered-To", "X-Original-To") for v in _all(message, name)]
    recipients = tuple(dict.fromkeys(addr.lower() for _, addr in getaddresses(listed) if "@" in addr))
    message_id = _first_id(_header(message, "Message-ID")) or "sha256-" + hashlib.sha256(raw).hexdigest()
    text, attachments = _body(message)
    return InboundMail(
        message_id=message_id,
        sender=sender,
        sender_name=sender_name,
        recipients=recipients,
        in_reply_to=_first_id(_header(message, "In-Reply-To")),
        references=tuple(_MESSAGE_ID.findall(_header(message, "References"))),
        subject=" ".join(_header(message, "Subject").split())[:300],
        sent_at=_date(_header(message, "Date"), received_at),
        text=trim_reply(text)[:MAX_TEXT],
        attachments=attachments,
        drop=_drop_reason(message, sender, own_domain),
    )


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):  # a malformed header the policy can't fold
        return ""
    return str(value) if value is not None else ""


def _all(message: EmailMessage, name: str) -> list[object]:
    try:
        return list(message.get_all(name) or [])
    except (ValueError, IndexError, TypeError):
        return []


def _address(value: str) -> tuple[Optional[str], Optional[str]]:
    pairs = getaddresses([value]) if value else []
    if not pairs or "@" not in pairs[0][1]:
        return None, None
    name, addr = pairs[0]
    return (" ".join(name.split()) or None), addr.lower()


def _first_id(value: str) -> Optional[str]:
    found = _MESSAGE_ID.search(value)
    return found.group(1) if found else None


def _date(value: str, fallback: datetime) -> datetime:
    """The Date header, unless missing, unreadable or in the future (then when SES received it)."""
    try:
        sent = parsedate_to_datetime(value) if value else None
    except (ValueError, TypeError, IndexError):
        sent = None
    if sent is None or sent.tzinfo is None or sent > fallback:
        return fallback
    return sent.astimezone(UTC)


def _drop_reason(message: EmailMessage, sender: Optional[str], own_domain: str) -> Optional[str]:
    if message.get(LOOP_HEADER) is not None:
        return "loop_header"
    if sender is None:
        return "no_sender"
    host = sender.rpartition("@")[2]
    if host == own_domain.lower() or host.endswith("." + own_domain.lower()):
        return "loop_own_domain"
    auto = _header(message, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return "auto_submitted"
    if _header(message, "Precedence").strip().lower() in ("bulk", "junk", "list"):
        return "precedence_bulk"
    if any(message.get(name) is not None for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress")):
        return "auto_reply_header"
    if sender.split("@")[0] in ("mailer-daemon", "postmaster") or message.get_content_type() == "multipart/report":
        return "bounce"
    return None


def _body(message: EmailMessage) -> tuple[str, tuple[Attachment, ...]]:
    plain: Optional[str] = None
    html: Optional[str] = None
    attachments: list[Attachment] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        content_type = part.get_content_type()
        if disposition == "attachment" or filename or not content_type.startswith("text/"):
            payload = part.get_payload(decode=True) or b""
            attachments.append(Attachment((filename or "unnamed")[:200], content_type, len(payload)))
            continue
        text = _decoded(part)
        if content_type == "text/plain" and plain is None:
            plain = text
        elif content_type == "text/html" and html is None:
            html = text
    if plain is None and html is not None:
        plain = html_to_text(html)
    return (plain or "").replace("\r\n", "\n"), tuple(attachments)


def _decoded(part: EmailMessage) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return payload.decode("utf-8", errors="replace")


class _Text(HTMLParser):
    """HTML to readable text: block elements become line breaks; script, style and quoted blocks are skipped."""

    BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"})
    SKIP = frozenset({"script", "style", "head", "title", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        classes = dict(attrs).get("class") or ""
        if tag in self.SKIP or (tag == "div" and ("gmail_quote" in classes or "moz-cite" in classes)):
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(" ".join(data.split()) if data.strip() else (" " if data else ""))


def html_to_text(html: str) -> str:
    """Readable text from an HTML body (no markup, entities decoded, quoted blocks dropped)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def trim_reply(text: str) -> str:
    """What the customer wrote in this mail: quoted history and signature cut off."""
    lines = text.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        window = " ".join(lines[index:index + 3])  # "On ... wrote:" may wrap over lines
        if any(p.match(line) for p in _QUOTE_STARTS) or _WRAPPED_ON.match(window):
            break
        if _OUTLOOK_HEADER.match(line) and any(_OUTLOOK_NEXT.match(n) for n in lines[index + 1:index + 4]):
            break
        if any(p.match(line) for p in _SIGNATURE):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()
