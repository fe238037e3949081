"""X API v2 sends: a DM to the customer, or a public reply to their tweet.

Relied on (docs.x.com, X API v2; see also /work/shared/platform-facts.md):

* DM: ``POST /2/dm_conversations/with/{participant_id}/messages {"text"}`` answers
  201 ``{"data": {"dm_conversation_id", "dm_event_id"}}``. ``dm_event_id`` is the
  event ``id`` the Account Activity webhook delivers for the brand's own DM
  (functions/adapters/x.py stores DMs under it), so the echo deduplicates.
* Reply: ``POST /2/tweets {"text", "reply": {"in_reply_to_tweet_id"}}`` answers 201
  ``{"data": {"id", "text"}}``; ``id`` is the ``id_str`` of the echoed tweet.
* OAuth 1.0a user context: ``requests_oauthlib``'s ``OAuth1`` (what
  ``OAuth1Session`` signs with) on the shared session, so connections are reused.
  A JSON body is not part of the signature base string (RFC 5849 3.4.1.3.1).
* Rate limits: 429 with ``x-rate-limit-reset`` (Unix seconds); the 24-hour caps
  use ``x-user-limit-24hour-reset`` / ``x-app-limit-24hour-reset`` when their
  ``-remaining`` is 0. Errors are problem documents (``title``, ``detail``,
  ``type``); ``detail`` may quote content, so only the status is used.
"""
from __future__ import annotations

from typing import Any, Optional

from functions.domain.outbound import OutboundMessage, SendFailed, Sent
from functions.outbound.platforms import transport

API_URL = "https://api.x.com"
DM_MAX_CHARS = 10_000
RESETS = (  # (remaining header, reset header): the limit that ran out says when to retry
    ("x-rate-limit-remaining", "x-rate-limit-reset"),
    ("x-user-limit-24hour-remaining", "x-user-limit-24hour-reset"),
    ("x-app-limit-24hour-remaining", "x-app-limit-24hour-reset"),
)
REFUSALS = {
    400: "invalid request",
    401: "credentials rejected (consumer key or access token)",
    403: "not permitted (the recipient's DM settings, duplicate content, or the app's access level)",
    404: "not found (the user or tweet is gone)",
}


def api() -> str:
    return transport.base_url("X_API_URL", API_URL)


def send(message: OutboundMessage) -> Sent:
    text = message.text
    if not text or not text.strip():
        raise SendFailed("x: empty text", retryable=False)
    if message.channel == "dm":
        if len(text) > DM_MAX_CHARS:
            raise SendFailed(f"x: DM text is {len(text)} characters (at most {DM_MAX_CHARS})", retryable=False)
        reply = _post(message, f"/2/dm_conversations/with/{message.customer_id}/messages", {"text": text})
        return _sent(reply, "dm_event_id")
    if message.channel == "mention":
        if not message.reply_to:
            raise SendFailed("x: a reply needs reply_to (the tweet id)", retryable=False)
        reply = _post(message, "/2/tweets", {"text": text, "reply": {"in_reply_to_tweet_id": message.reply_to}})
        return _sent(reply, "id")
    raise SendFailed(f"x: cannot send on channel {message.channel!r}", retryable=False)


def _auth(account: str) -> Any:
    from requests_oauthlib import OAuth1

    return OAuth1(
        transport.credential("X_CONSUMER_KEY"),
        client_secret=transport.credential("X_CONSUMER_SECRET"),
        resource_owner_key=transport.credential("X_ACCESS_TOKEN", account),
        resource_owner_secret=transport.credential("X_ACCESS_TOKEN_SECRET", account),
    )


def _post(message: OutboundMessage, path: str, body: dict[str, Any]) -> transport.Reply:
    reply = transport.post("x", f"{api()}{path}", body, auth=_auth(message.account_id))
    if not reply.ok:
        raise classify(reply)
    return reply


def _sent(reply: transport.Reply, key: str) -> Sent:
    data = reply.body.get("data") if isinstance(reply.body, dict) else None
    platform_id = data.get(key) if isinstance(data, dict) else None
    if not isinstance(platform_id, str) or not platform_id:
        raise SendFailed(f"x: HTTP {reply.status} without data.{key}", retryable=False, status=reply.status)
    return Sent(platform_message_id=platform_id, raw=reply.body)


def classify(reply: transport.Reply) -> SendFailed:
    if reply.status == 429:
        return SendFailed("x: rate limited (HTTP 429)", retryable=True, status=429,
                          retry_after=retry_after(reply))
    if reply.status >= 500:
        return transport.generic_failure("x", reply)
    reason = REFUSALS.get(reply.status, "refused")
    return SendFailed(f"x: {reason} (HTTP {reply.status})", retryable=False, status=reply.status)


def retry_after(reply: transport.Reply) -> Optional[float]:
    """Seconds until the exhausted limit resets (the latest, if several ran out)."""
    headers = reply.headers
    exhausted = [transport.seconds_until(headers.get(reset)) for remaining, reset in RESETS
                 if headers.get(remaining) == "0" and headers.get(reset)]
    waits = [wait for wait in exhausted if wait is not None]
    if waits:
        return max(waits)
    if headers.get("x-rate-limit-reset"):
        return transport.seconds_until(headers["x-rate-limit-reset"])
    return transport.retry_after_header(headers)
