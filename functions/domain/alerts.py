"""The text of an SLA alert SMS: one 160-character GSM-7 segment, link included.

A single character outside GSM-7 (an emoji or a Cyrillic letter in a customer
name) makes the carrier switch the whole message to UCS-2 and cut segments to
70 characters, so names are folded to ASCII and everything else is ASCII too.
"""
from __future__ import annotations

import unicodedata
from datetime import timedelta

from functions.domain.durations import short_duration

SEGMENT = 160
PLATFORM_NAMES = {"facebook": "Facebook", "instagram": "Instagram", "whatsapp": "WhatsApp", "x": "X",
                  "telegram": "Telegram", "email": "Email"}
CHANNEL_NAMES = {"dm": "DM", "comment": "comment", "mention": "mention", "email": "email"}


def compose(kind: str, platform: str, channel: str, customer: str | None, delta: timedelta, link: str) -> str:
    """``kind`` is warning/breach/escalation; ``delta`` is time left (warning) or how late (otherwise)."""
    head = {"warning": "Heed SLA warning", "breach": "Heed SLA BREACH", "escalation": "Heed ESCALATION"}[kind]
    timing = f"{short_duration(delta)} left" if kind == "warning" else f"{short_duration(delta)} late"
    where = f"{PLATFORM_NAMES.get(platform, platform)} {CHANNEL_NAMES.get(channel, channel)}"
    tail = f", {timing}. Ack: {link}"
    name = gsm_safe(customer or "") or "a customer"
    room = SEGMENT - len(f"{head}: {where} from ") - len(tail)
    if len(name) > room:
        name = name[: max(room - 1, 0)].rstrip() + "." if room > 1 else ""
    return f"{head}: {where} from {name}{tail}"[:SEGMENT]


# Latin letters that Unicode doesn't decompose into a base letter plus accent.
_LATIN = str.maketrans({"Ø": "O", "ø": "o", "Æ": "AE", "æ": "ae", "ß": "ss", "Ł": "L", "ł": "l", "Đ": "D",
                        "đ": "d", "Œ": "OE", "œ": "oe", "Þ": "Th", "þ": "th"})


def gsm_safe(text: str) -> str:
    """Fold to printable ASCII (a subset of GSM-7): 'Zoë Ørsted 🙂' -> 'Zoe Orsted'; other scripts drop out."""
    folded = unicodedata.normalize("NFKD", text.translate(_LATIN)).encode("ascii", "ignore").decode()
    return " ".join("".join(ch for ch in folded if ch.isprintable() and ch not in "`^{}[]~|\\").split())


def compose_failure(platform: str, channel: str, customer: str | None, kind: str, reason: str) -> str:
    """A page for a reply or acknowledgement the platform refused for good (one segment)."""
    what = "Reply" if kind == "reply" else "Auto-acknowledgement"
    where = f"{PLATFORM_NAMES.get(platform, platform)} {CHANNEL_NAMES.get(channel, channel)}"
    name = gsm_safe(customer or "") or "a customer"
    text = f"Heed: {what} to {where} from {name} failed: {gsm_safe(reason)}. Open Heed to follow up."
    return text if len(text) <= SEGMENT else text[: SEGMENT - 1] + "."


def compose_incident(customers: int, terms: tuple[str, ...], where: list[tuple[str, str]], link: str) -> str:
    """A page for an incident (one segment): how many customers, the shared terms, where; never who.

    The terms are words the customers used (stopwords and names of feelings
    taken out), folded to ASCII; no customer name, id or phone is in it.
    """
    places = ", ".join(f"{PLATFORM_NAMES.get(p, p)} {CHANNEL_NAMES.get(c, c)}" for p, c in where[:3])
    head = f"Heed INCIDENT: {customers} customers complain about"
    tail = f" ({places}). {link}" if places else f". {link}"
    words = gsm_safe(" ".join(terms)) or "the same thing"
    room = SEGMENT - len(head) - len(tail) - 3
    if len(words) > room:
        words = words[: max(room - 1, 0)].rstrip() + "."
    return f'{head} "{words}"{tail}'[:SEGMENT]
