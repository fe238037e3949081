"""Telegram Bot API: ``sendMessage`` to the chat.

Relied on (core.telegram.org/bots/api): ``POST /bot<token>/sendMessage`` with
``{"chat_id", "text"}`` (1-4096 characters) and optional ``reply_parameters
{"message_id", "allow_sending_without_reply"}``; the answer is ``{"ok": true,
"result": Message}``, errors ``{"ok": false, "error_code", "description",
"parameters": {"retry_after", "migrate_to_chat_id"}}``; 429 carries
``parameters.retry_after``; a user who blocked the bot gives 403.

The platform message id is ``f"{chat.id}:{message_id}"``, the form
functions/adapters/telegram.py stores (a message id is unique per chat only).
"""
from __future__ import annotations

from typing import Any

from functions.domain.outbound import OutboundMessage, SendFailed, Sent
from functions.outbound.platforms import transport

API_URL = "https://api.telegram.org"
MAX_CHARS = 4096
REFUSALS = {
    400: "bad request (chat not found, or the chat moved)",
    401: "bot token rejected",
    403: "forbidden (the user blocked the bot, or the bot was removed from the chat)",
    404: "bot token rejected",
}


def api() -> str:
    return transport.base_url("TELEGRAM_API_URL", API_URL)


def send(message: OutboundMessage) -> Sent:
    text = message.text
    if not text or not text.strip():
        raise SendFailed("telegram: empty text", retryable=False)
    if len(text) > MAX_CHARS:
        raise SendFailed(f"telegram: text is {len(text)} characters (at most {MAX_CHARS})", retryable=False)
    body: dict[str, Any] = {"chat_id": _chat_id(message.customer_id), "text": text}
    if message.reply_to:
        # reply_to is a stored platform message id, "<chat id>:<message id>".
        answered = message.reply_to.rsplit(":", 1)[-1]
        if answered.isdigit():
            body["reply_parameters"] = {"message_id": int(answered), "allow_sending_without_reply": True}
    token = transport.credential("TELEGRAM_BOT_TOKEN")
    reply = transport.post("telegram", f"{api()}/bot{token}/sendMessage", body)
    result = reply.body.get("result") if isinstance(reply.body, dict) else None
    if not reply.ok or not isinstance(result, dict) or reply.body.get("ok") is not True:
        raise classify(reply)
    chat = result.get("chat") if isinstance(result.get("chat"), dict) else {}
    chat_id, message_id = chat.get("id", body["chat_id"]), result.get("message_id")
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        raise SendFailed(f"telegram: HTTP {reply.status} without result.message_id", retryable=False,
                         status=reply.status)
    return Sent(platform_message_id=f"{chat_id}:{message_id}", raw=reply.body)


def _chat_id(customer_id: str) -> Any:
    """Numeric chat ids go as JSON numbers (as Telegram sends them); ``@channel`` names as strings."""
    digits = customer_id[1:] if customer_id.startswith("-") else customer_id
    return int(customer_id) if digits.isdigit() else customer_id


def classify(reply: transport.Reply) -> SendFailed:
    body = reply.body if isinstance(reply.body, dict) else {}
    code = body.get("error_code") if isinstance(body.get("error_code"), int) else reply.status
    parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    if code == 429 or reply.status == 429:
        wait = transport.number(parameters.get("retry_after"))
        return SendFailed("telegram: rate limited (HTTP 429)", retryable=True, status=reply.status,
                          retry_after=wait if wait is not None else transport.retry_after_header(reply.headers))
    if reply.status >= 500 or code >= 500:
        return transport.generic_failure("telegram", reply)
    if reply.ok:  # 2xx without ok/result: accepted or not, unknown; retrying could send twice
        return SendFailed(f"telegram: HTTP {reply.status} without a result", retryable=False, status=reply.status)
    reason = REFUSALS.get(code, "refused")
    if "migrate_to_chat_id" in parameters:
        reason = "the group became a supergroup (new chat id)"
    return SendFailed(f"telegram: {reason} (HTTP {reply.status})", retryable=False, status=reply.status)
