"""Meta Graph API sends: Messenger and Instagram DMs, private replies, comment replies, WhatsApp.

Relied on (Meta developer documentation; see also /work/shared/platform-facts.md):

* Send API: ``POST /{PAGE_ID|IG_ID}/messages`` with a Page access token,
  ``{"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text"}}``;
  human agents 24 h-7 d after the customer's last message use
  ``"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"``. The answer is
  ``{"recipient_id", "message_id"}``, and ``message_id`` is the ``mid`` the echo
  webhook carries (functions/adapters/meta.py stores echoes under ``mid``), so the
  echo deduplicates against the stored outbound message.
* ``message.metadata`` (a developer-defined string, Send API reference) comes back
  in the ``message_echoes`` webhook (messenger-platform/webhooks/webhook-events/
  message-echoes); WhatsApp's ``biz_opaque_callback_data`` comes back in the
  message's status webhooks. Both carry Heed's marker (functions/domain/echoes.py).
* Private replies: the same call with ``"recipient": {"comment_id": ...}``
  (messenger-platform/discovery/private-replies; one per comment, within 7 days).
* Public comment replies: Facebook ``POST /{comment_id}/comments {"message"}``,
  Instagram ``POST /{ig_comment_id}/replies {"message"}``; both answer ``{"id"}``,
  the id the ``feed``/``comments`` webhook of the reply carries.
* WhatsApp Cloud API: ``POST /{PHONE_NUMBER_ID}/messages`` with ``Authorization:
  Bearer``; text or an approved template; the answer's ``messages[0].id`` is the
  ``wamid`` later status webhooks name.
* Errors: ``{"error": {"message", "type", "code", "error_subcode", "is_transient",
  "fbtrace_id"}}``, usually HTTP 400/403 whatever the cause: the code decides.
  Rate limits 4, 17, 32, 613, 80001-80014 (graph-api/overview/rate-limiting),
  WhatsApp 130429/131048/131056; 1 and 2 are temporary. Policy: 10 (with
  subcode 2018278 "sent outside of allowed window"), 200-299 permissions, 551
  "person isn't available", 190 bad token, 131047 WhatsApp's 24 h window.
"""
from __future__ import annotations

from typing import Any, Optional

from functions.domain.echoes import marker
from functions.domain.outbound import OutboundMessage, SendFailed, Sent
from functions.outbound.platforms import transport

GRAPH_URL = "https://graph.facebook.com/v21.0"
MESSENGER_MAX_CHARS = 2000
INSTAGRAM_MAX_BYTES = 1000
WHATSAPP_MAX_CHARS = 4096

RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 613, *range(80001, 80015), 130429, 131048, 131056})
TRANSIENT_CODES = frozenset({1, 2})
POLICY_REASONS = {
    190: "access token invalid or expired",
    551: "recipient unavailable (blocked the Page or cannot be messaged)",
    368: "temporarily blocked for policy violations",
    100: "invalid parameter",
    131047: "outside WhatsApp's 24-hour customer-service window (send a template)",
    131026: "message undeliverable to this WhatsApp user",
    2018001: "no matching user found",
    2018108: "recipient cannot be messaged by this Page",
    2018278: "outside the allowed messaging window",
}


def graph() -> str:
    return transport.base_url("META_GRAPH_URL", GRAPH_URL)


def send(message: OutboundMessage) -> Sent:
    if message.platform == "whatsapp":
        return _whatsapp(message)
    if message.channel == "dm":
        return _messages(message, {"id": message.customer_id})
    if message.channel == "comment":
        comment = _reply_to(message)
        if message.private:
            return _messages(message, {"comment_id": comment})
        return _comment_reply(message, comment)
    raise SendFailed(f"{message.platform}: cannot send on channel {message.channel!r}", retryable=False)


def _messages(message: OutboundMessage, recipient: dict[str, str]) -> Sent:
    """Send API: a DM, or a private reply to a comment."""
    _check_text(message)
    # ``metadata`` comes back in the page's message_echoes webhook: Heed's marker, so a send that timed out
    # can be recognised when the platform did carry it out (functions/domain/echoes.py).
    body: dict[str, Any] = {"recipient": recipient, "messaging_type": "RESPONSE",
                            "message": {"text": message.text, "metadata": marker(message.id, message.automated)}}
    if message.tag and "id" in recipient:  # a private reply has its own 7-day rule, no tag
        body["messaging_type"] = "MESSAGE_TAG"
        body["tag"] = message.tag
    reply = _post(message, f"{message.account_id}/messages", body, _page_token(message))
    return _sent(message, reply, reply.body.get("message_id"))


def _comment_reply(message: OutboundMessage, comment: str) -> Sent:
    _check_text(message)
    edge = "replies" if message.platform == "instagram" else "comments"
    reply = _post(message, f"{comment}/{edge}", {"message": message.text}, _page_token(message))
    return _sent(message, reply, reply.body.get("id"))


def _whatsapp(message: OutboundMessage) -> Sent:
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                            "to": message.customer_id,
                            # echoed in the status webhooks of this message (functions/domain/echoes.py)
                            "biz_opaque_callback_data": marker(message.id, message.automated)}
    if message.template:
        language = message.template.get("language")
        if not message.template.get("name") or not language:
            raise SendFailed("whatsapp: a template needs a name and a language", retryable=False)
        code = language.get("code") if isinstance(language, dict) else language
        body.update(type="template", template={"name": message.template["name"], "language": {"code": code}})
    else:
        _check_text(message)
        body.update(type="text", text={"body": message.text})
    token = transport.credential("WHATSAPP_TOKEN", message.account_id)
    reply = _post(message, f"{message.account_id}/messages", body, None,
                  headers={"Authorization": f"Bearer {token}"})
    messages = reply.body.get("messages")
    first = messages[0] if isinstance(messages, list) and messages and isinstance(messages[0], dict) else {}
    return _sent(message, reply, first.get("id"))


def _page_token(message: OutboundMessage) -> str:
    return transport.credential("META_PAGE_TOKEN", message.account_id)


def _reply_to(message: OutboundMessage) -> str:
    if not message.reply_to:
        raise SendFailed(f"{message.platform}: a comment reply needs reply_to (the comment id)", retryable=False)
    return message.reply_to


def _check_text(message: OutboundMessage) -> None:
    """The documented limits, checked before spending a call (no text in the reason)."""
    text, platform = message.text, message.platform
    if not text or not text.strip():
        raise SendFailed(f"{platform}: empty text", retryable=False)
    if platform == "whatsapp":
        size, limit, unit = len(text), WHATSAPP_MAX_CHARS, "characters"
    elif message.channel == "comment" and not message.private:
        return  # public comments: Graph's own limits (far above a reply's length)
    elif platform == "instagram":
        size, limit, unit = len(text.encode("utf-8")), INSTAGRAM_MAX_BYTES, "bytes UTF-8"
    else:
        size, limit, unit = len(text), MESSENGER_MAX_CHARS, "characters"
    if size > limit:
        raise SendFailed(f"{platform}: text is {size} {unit} (at most {limit})", retryable=False)


def _post(message: OutboundMessage, path: str, body: dict[str, Any], access_token: Optional[str],
          headers: Optional[dict[str, str]] = None) -> transport.Reply:
    params = {"access_token": access_token} if access_token else None
    reply = transport.post(message.platform, f"{graph()}/{path}", body, params=params, headers=headers)
    if not reply.ok:
        raise classify(message.platform, reply)
    if not isinstance(reply.body, dict):
        raise SendFailed(f"{message.platform}: HTTP {reply.status} without a JSON answer", retryable=False,
                         status=reply.status)
    return reply


def _sent(message: OutboundMessage, reply: transport.Reply, platform_id: Any) -> Sent:
    if not isinstance(platform_id, (str, int)) or isinstance(platform_id, bool) or platform_id == "":
        # Accepted but no id: retrying could send it twice.
        raise SendFailed(f"{message.platform}: HTTP {reply.status} without a message id", retryable=False,
                         status=reply.status)
    return Sent(platform_message_id=str(platform_id), raw=reply.body)


def classify(platform: str, reply: transport.Reply) -> SendFailed:
    """A Graph error answer as :class:`SendFailed` (the code decides, then the HTTP status)."""
    error = reply.body.get("error") if isinstance(reply.body, dict) else None
    if not isinstance(error, dict):
        return transport.generic_failure(platform, reply)
    code = _int(error.get("code"))
    subcode = _int(error.get("error_subcode"))
    label = f"(Meta code {code}{f'/{subcode}' if subcode is not None else ''})"
    retry_after = transport.retry_after_header(reply.headers)
    if code in RATE_LIMIT_CODES or reply.status == 429:
        return SendFailed(f"{platform}: rate limited {label}", retryable=True, status=reply.status,
                          retry_after=retry_after)
    if code in TRANSIENT_CODES or error.get("is_transient") is True or reply.status >= 500:
        return SendFailed(f"{platform}: temporary Graph error {label}", retryable=True, status=reply.status,
                          retry_after=retry_after)
    reason = POLICY_REASONS.get(subcode) or POLICY_REASONS.get(code)
    if reason is None and code == 10:
        reason = "permission denied by policy"
    elif reason is None and code is not None and 200 <= code <= 299:
        reason = "permission missing"
    return SendFailed(f"{platform}: {reason or 'refused'} {label}", retryable=False, status=reply.status)


def _int(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
