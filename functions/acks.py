"""One-tap acknowledgement links: short, signed, expiring tokens.

A token is 16 bytes in URL-safe base64 (22 characters, short enough for an SMS
segment): a random id (6 bytes) naming the stored ack record, the expiry in
minutes since the epoch (4 bytes) and an HMAC-SHA256 tag over both (6 bytes).
Forged or expired tokens are refused before any database read; the record binds
the token to its conversation, clock and phone.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from datetime import UTC, datetime, timedelta

from functions import settings

TOKEN_BYTES = 16
VALID_FOR = timedelta(hours=24)


class InvalidToken(Exception):
    """The token is malformed, forged or expired; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def new_token(now: datetime) -> tuple[str, str]:
    """A fresh ``(token_id, token)``; store the record under ``token_id``, put ``token`` in the link."""
    token_id = secrets.token_bytes(6)
    expires = int((now + VALID_FOR).timestamp() // 60)
    body = token_id + struct.pack(">I", expires)
    return _id(token_id), _encode(body + _tag(body))


def verify(token: str, now: datetime) -> str:
    """The token's id if it is ours and current; raises :class:`InvalidToken` otherwise."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise InvalidToken("malformed") from None
    if len(raw) != TOKEN_BYTES or _encode(raw) != token:  # exactly one spelling per token
        raise InvalidToken("malformed")
    body, tag = raw[:10], raw[10:]
    if not hmac.compare_digest(tag, _tag(body)):
        raise InvalidToken("forged")
    (expires,) = struct.unpack(">I", body[6:])
    if now >= datetime.fromtimestamp(expires * 60, tz=UTC):
        raise InvalidToken("expired")
    return _id(body[:6])


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _tag(body: bytes) -> bytes:
    return hmac.new(settings.secret("HEED_ACK_SECRET").encode(), body, hashlib.sha256).digest()[:6]


def _id(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()
