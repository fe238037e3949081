"""What staff see: read models of conversations and messages, and their JSON form."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class MessageView:
    id: str
    direction: str
    text: str
    sent_at: str  # ISO-8601 UTC with Z
    labels: tuple[str, ...] = ()  # triage labels (customer messages)
    priority: Optional[str] = None
    sentiment: Optional[float] = None
    channel: Optional[str] = None  # where it was written: "email" after a handoff, else the conversation's
    sender_address: Optional[str] = None  # an email's From address


@dataclass(frozen=True)
class ConversationView:
    id: str
    platform: str
    channel: str
    account_id: str
    customer_id: str
    customer_name: Optional[str]
    status: str
    message_count: int
    last_message_at: str
    last_inbound_at: Optional[str]
    sla: Optional[dict[str, Any]] = None
    delivery_failed: Optional[dict[str, Any]] = None  # the last send that gave up, until one goes out
    handed_off_from: Optional[str] = None  # the channel before the conversation moved to email
    handed_off_at: Optional[str] = None
    labels: tuple[str, ...] = ()  # the triage roll-up (functions/domain/triage.Rollup)
    priority: str = "normal"
    sentiment: Optional[float] = None  # of the latest customer message
    incident_id: Optional[str] = None
    relabelled_by_staff: bool = False
    messages: list[MessageView] = field(default_factory=list)

    def to_json(self, with_messages: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "platform": self.platform,
            "channel": self.channel,
            "account_id": self.account_id,
            "customer": {"id": self.customer_id, "name": self.customer_name},
            "status": self.status,
            "message_count": self.message_count,
            "last_message_at": self.last_message_at,
            "last_inbound_at": self.last_inbound_at,
            "sla": self.sla,
            "delivery_failed": self.delivery_failed,
            "handed_off_from": self.handed_off_from,
            "handed_off_at": self.handed_off_at,
            "labels": list(self.labels),
            "priority": self.priority,
            "sentiment": self.sentiment,
            "incident_id": self.incident_id,
            "relabelled_by_staff": self.relabelled_by_staff,
        }
        if with_messages:
            body["messages"] = [
                {"id": m.id, "direction": m.direction, "text": m.text, "sent_at": m.sent_at,
                 "labels": list(m.labels), "priority": m.priority, "sentiment": m.sentiment,
                 "channel": m.channel or self.channel, "from": m.sender_address}
                for m in self.messages
            ]
        return body
