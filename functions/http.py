"""HTTP plumbing shared by the route handlers: JSON errors, body limits, staff auth."""
from __future__ import annotations

import functools
import hmac
from typing import Any, Callable, Mapping, Optional, TypeVar

from chalice import Response

from functions import settings
from functions.errors import HeedError, PayloadTooLarge, Unauthorized
from functions.log import log

# WhatsApp documents payloads of up to 3 MB, the largest any platform sends.
MAX_BODY_BYTES = 3 * 1024 * 1024

F = TypeVar("F", bound=Callable[..., Any])


def json_response(status: int, body: Any, headers: Optional[dict[str, str]] = None) -> Response:
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json", **(headers or {})})


def guarded(handler: F) -> F:
    """Turn :class:`HeedError` into its JSON answer: ``{"error": code, "message": ...}``."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except HeedError as err:
            if err.status >= 500:
                log("request_failed", level="ERROR", status=err.status, error=err.code)
            headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
            return json_response(err.status, {"error": err.code, "message": err.message}, headers)

    return wrapper  # type: ignore[return-value]


def body_of(request: Any) -> bytes:
    """The raw request bytes (what signatures cover), refused with 413 above the limit."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is larger than {MAX_BODY_BYTES} bytes")
    body = request.raw_body or b""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is larger than {MAX_BODY_BYTES} bytes")
    return body


def require_staff(headers: Mapping[str, str]) -> None:
    """Every staff route: ``Authorization: Bearer <STAFF_API_TOKEN>``, else 401."""
    expected = settings.secret("STAFF_API_TOKEN")
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token")
    if not hmac.compare_digest(token.strip().encode("utf-8", "surrogateescape"), expected.encode()):
        raise Unauthorized("invalid bearer token")
