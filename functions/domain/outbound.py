"""What Heed sends to a platform, and how a send can end.

One model for automatic acknowledgements and staff replies: built by the
domain, queued (SQS), sent by a platform client in ``functions/outbound/``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Optional

Kind = Literal["ack", "reply", "handoff"]


@dataclass(frozen=True)
class OutboundMessage:
    """One message to send.

    ``id`` is the idempotency key: the same id is sent at most once, however
    often the queue delivers it (``ack:<conversation>:<clock>`` for an
    acknowledgement, ``reply:<uuid or client key>`` for a staff reply).
    ``reply_to`` is the platform id being answered: the comment for a comment
    reply or private reply, the tweet for an X reply; ``None`` for DMs.
    ``tag`` is Meta's message tag (``HUMAN_AGENT`` for a human reply 24 h-7 d
    after the customer's last message); ``template`` is a WhatsApp approved
    template (``{"name", "language"}``) used instead of ``text`` outside the
    24 h customer-service window.
    """

    id: str
    kind: Kind
    conversation_id: str
    platform: str
    channel: str
    account_id: str
    customer_id: str
    text: str
    reply_to: Optional[str] = None
    root_id: Optional[str] = None  # the conversation's root post, so replies to this one thread
    private: bool = False
    tag: Optional[str] = None
    template: Optional[dict[str, str]] = None
    not_after: Optional[str] = None  # ISO time: an automatic send's platform window closes then; not sent later
    # channel "email" only: {"to", "subject", "message_id", "in_reply_to", "references", "reply_to", "html"}
    email: Optional[dict[str, Any]] = None

    @property
    def automated(self) -> bool:
        """Heed's own words (acknowledgements, handoff notices): they answer nobody, stop no clock."""
        return self.kind in ("ack", "handoff")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutboundMessage:
        return cls(**data)


@dataclass(frozen=True)
class Sent:
    """The platform accepted the message under ``platform_message_id``."""

    platform_message_id: str
    raw: dict[str, Any]


class SendFailed(Exception):
    """The platform (or the network) refused the message.

    ``retryable``: 429, 5xx, timeouts and connection errors; ``retry_after``
    seconds when the platform said when (``Retry-After``, ``x-rate-limit-reset``,
    Telegram's ``retry_after``). Not retryable: policy and permission errors
    (window closed, user blocked the page, bad token), recorded on the
    conversation and paged to staff.

    ``ambiguous``: the request went out and no answer came back in time (a
    read timeout): the platform may have carried it out. The delivery looks for
    the platform's echo before sending again (functions/domain/echoes.py).
    """

    def __init__(self, reason: str, retryable: bool, status: Optional[int] = None,
                 retry_after: Optional[float] = None, ambiguous: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.ambiguous = ambiguous
