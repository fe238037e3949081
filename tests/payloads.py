"""Realistic webhook payloads, shaped like the platforms' documented examples."""
from __future__ import annotations

from typing import Any

PAGE_ID = "104612345678901"
IG_ID = "17841400000000001"
WA_PHONE_ID = "106540352242922"
X_BRAND = "3001969357"
NOW_MS = 1_763_800_000_000  # 2025-11-22T08:26:40Z


def meta(obj: str, *entries: dict) -> dict[str, Any]:
    return {"object": obj, "entry": list(entries)}


def messenger_entry(*events: dict, page_id: str = PAGE_ID, time_ms: int = NOW_MS) -> dict:
    return {"id": page_id, "time": time_ms, "messaging": list(events)}


def messenger_event(psid: str, mid: str, text: str, ts_ms: int = NOW_MS, page_id: str = PAGE_ID,
                    echo: bool = False) -> dict:
    message: dict[str, Any] = {"mid": mid, "text": text}
    if echo:
        message.update(is_echo=True, app_id=1517776481860111)
        return {"sender": {"id": page_id}, "recipient": {"id": psid}, "timestamp": ts_ms, "message": message}
    return {"sender": {"id": psid}, "recipient": {"id": page_id}, "timestamp": ts_ms, "message": message}


def page_comment_entry(*values: dict, page_id: str = PAGE_ID) -> dict:
    return {"id": page_id, "time": NOW_MS // 1000, "changes": [{"field": "feed", "value": v} for v in values]}


def page_comment(comment_id: str, post_id: str, from_id: str, name: str, text: str,
                 created: int = NOW_MS // 1000, parent_id: str | None = None) -> dict:
    return {"item": "comment", "verb": "add", "comment_id": comment_id, "post_id": post_id,
            "parent_id": parent_id or post_id, "from": {"id": from_id, "name": name},
            "message": text, "created_time": created}


def whatsapp_entry(messages: list[dict], contacts: list[dict], statuses: list[dict] | None = None) -> dict:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": WA_PHONE_ID},
        "contacts": contacts,
        "messages": messages,
    }
    if statuses is not None:
        value["statuses"] = statuses
    return {"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}


def whatsapp_message(wamid: str, wa_id: str, text: str, ts: int = NOW_MS // 1000) -> dict:
    return {"from": wa_id, "id": wamid, "timestamp": str(ts), "type": "text", "text": {"body": text}}


def x_dms(*events: dict, users: dict | None = None, for_user_id: str = X_BRAND) -> dict:
    return {"for_user_id": for_user_id, "direct_message_events": list(events), "users": users or {}}


def x_dm(event_id: str, sender: str, recipient: str, text: str, ts_ms: int = NOW_MS) -> dict:
    return {"type": "message_create", "id": event_id, "created_timestamp": str(ts_ms),
            "message_create": {"target": {"recipient_id": recipient}, "sender_id": sender,
                               "message_data": {"text": text, "entities": {}}}}


def x_mention(tweet_id: str, user_id: str, screen_name: str, text: str, ts_ms: int = NOW_MS,
              in_reply_to: str | None = None, in_reply_to_user: str | None = None) -> dict:
    return {"created_at": "Sat Nov 22 08:26:40 +0000 2025", "id_str": tweet_id, "id": int(tweet_id),
            "text": text, "timestamp_ms": str(ts_ms), "in_reply_to_status_id_str": in_reply_to,
            "in_reply_to_user_id_str": in_reply_to_user,
            "user": {"id_str": user_id, "screen_name": screen_name, "name": screen_name.title()}}


def telegram_update(update_id: int, chat_id: int, message_id: int, text: str, date: int = NOW_MS // 1000,
                    first_name: str = "Ana", is_bot: bool = False) -> dict:
    return {"update_id": update_id,
            "message": {"message_id": message_id, "date": date, "text": text,
                        "chat": {"id": chat_id, "type": "private", "first_name": first_name},
                        "from": {"id": chat_id, "is_bot": is_bot, "first_name": first_name}}}
