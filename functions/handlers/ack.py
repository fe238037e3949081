"""``GET /ack/{token}``: the one-tap acknowledgement from an alert SMS. Answers small HTML pages."""
from __future__ import annotations

import html
from dataclasses import replace
from datetime import UTC, datetime

from chalice import Response

from functions import acks
from functions.errors import HeedError
from functions.log import log

REFUSED = {"malformed": (400, "This link is not valid."),
           "forged": (403, "This link is not valid."),
           "expired": (410, "This link has expired. Open Heed to take the conversation.")}


def acknowledge(token: str) -> Response:
    now = datetime.now(UTC)
    try:
        token_id = acks.verify(token, now)
    except acks.InvalidToken as refused:
        log("ack_refused", reason=refused.reason)
        status, text = REFUSED[refused.reason]
        return _page(status, "Not acknowledged", text)
    except HeedError as err:  # e.g. the signing secret is missing
        return _page(err.status, "Not available", "Heed cannot check this link right now. Try again shortly.")
    return _take(token_id, now)


def _take(token_id: str, now: datetime) -> Response:
    """The verified link's clock becomes the tapper's. Imported here: a refused link never loads storage or SLA."""
    from functions.clocks import save
    from functions.config import load_config
    from functions.domain import sla
    from functions.store import dynamo

    ack = dynamo.get_ack(token_id)
    if ack is None:
        return _page(404, "Not acknowledged", "This link is not valid.")
    for _ in range(5):
        record = dynamo.get_sla(ack["conversation_id"])
        state = sla.load(record.sla if record else None)
        clock = state.clock
        if record is None or clock is None or clock.id != ack["clock_id"]:
            return _page(200, "Nothing to do", "This alert is over: the conversation has moved on.")
        if clock.acknowledged_by is not None:
            return _page(200, "Already acknowledged",
                         f"{_masked(clock.acknowledged_by)} took this at {_clock_time(clock.acknowledged_at)}.")
        taken, event = sla.acknowledge(clock, ack["phone"], now)
        if save(record, replace(state, clock=taken), [event] if event else [], load_config(), now):
            log("sla_acknowledged", conversation_id=record.conversation_id, clock_id=clock.id)
            return _page(200, "Acknowledged", "Thanks, it's yours. Nobody else will be paged for this one.")
    return _page(503, "Not acknowledged", "Heed is busy. Tap the link again in a moment.")


def _masked(phone: str) -> str:
    return f"{phone[:3]}•••{phone[-2:]}" if len(phone) > 6 else "someone"


def _clock_time(moment: datetime | None) -> str:
    return moment.strftime("%H:%M UTC") if moment else "an earlier time"


def _page(status: int, title: str, text: str) -> Response:
    body = (f"<!doctype html><html lang=en><meta charset=utf-8>"
            f"<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>Heed: {html.escape(title)}</title>"
            f"<body style='font-family:system-ui;margin:2em'><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(text)}</p></body></html>")
    return Response(body=body, status_code=status, headers={"Content-Type": "text/html; charset=utf-8",
                                                            "Cache-Control": "no-store"})
