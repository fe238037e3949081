"""Public webhook routes: size limit -> platform proof -> parse -> ingest.

Order matters: nothing is parsed before the proof checks out, and nothing is
stored unless the whole delivery parsed.
"""
from __future__ import annotations

from typing import Any

from chalice import Response

from functions import settings
from functions.adapters import meta, telegram, x
from functions.http import body_of, guarded, json_response
from functions.ingest import ingest


@guarded
def meta_handshake(request: Any) -> Response:
    challenge = meta.handshake(request.query_params, settings.secret("META_VERIFY_TOKEN"))
    return Response(body=challenge, status_code=200, headers={"Content-Type": "text/plain"})


@guarded
def meta_delivery(request: Any) -> Response:
    body = body_of(request)
    meta.verify(request.headers, body, settings.secret("META_APP_SECRET"))
    messages, echoes = meta.parse_with_echoes(body)
    return _received(ingest("meta", messages, body, echoes))


@guarded
def x_crc(request: Any) -> Response:
    return json_response(200, x.crc_response(request.query_params, settings.secret("X_CONSUMER_SECRET")))


@guarded
def x_delivery(request: Any) -> Response:
    body = body_of(request)
    x.verify(request.headers, body, settings.secret("X_CONSUMER_SECRET"))
    return _received(ingest("x", x.parse(body), body))


@guarded
def telegram_delivery(request: Any) -> Response:
    body = body_of(request)
    telegram.verify(request.headers, settings.secret("TELEGRAM_SECRET_TOKEN"))
    return _received(ingest("telegram", telegram.parse(body, settings.required("TELEGRAM_BOT_ID")), body))


def _received(count: int) -> Response:
    return json_response(200, {"received": count})
