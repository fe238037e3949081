"""Signatures computed independently of Heed's adapters, for integration tests."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from local.stack import LOCAL_SECRETS


def body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def meta_headers(raw: bytes, secret: str = LOCAL_SECRETS["META_APP_SECRET"]) -> dict[str, str]:
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


def x_headers(raw: bytes, secret: str = LOCAL_SECRETS["X_CONSUMER_SECRET"]) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json", "x-twitter-webhooks-signature": f"sha256={digest}"}


def telegram_headers(token: str = LOCAL_SECRETS["TELEGRAM_SECRET_TOKEN"]) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": token}


def staff_headers(token: str = LOCAL_SECRETS["STAFF_API_TOKEN"]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
