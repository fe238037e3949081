"""HTTP for the platform clients: one session per process, a timeout on every call.

``requests`` is imported on the first send, never by ``import app`` (cold start).
The session is created then and reused, so a warm Lambda keeps its TLS
connections to the platforms. Nothing here retries: a failed send raises
:class:`SendFailed` and the queue decides (``retryable``, ``retry_after``).

Never logged or put in a reason: tokens, URLs (Meta's carry ``access_token``),
phone numbers, customer ids, message text, or a platform's free-text error
message (it may quote the customer). Reasons carry the platform, the HTTP
status and the platform's error code.
"""
from __future__ import annotations

import email.utils
import math
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from functions import settings
from functions.domain.outbound import SendFailed
from functions.errors import ServiceUnavailable

CONNECT_TIMEOUT = 3.0  # seconds; HEED_HTTP_CONNECT_TIMEOUT overrides
READ_TIMEOUT = 10.0  # seconds; HEED_HTTP_READ_TIMEOUT overrides
USER_AGENT = "Heed (serverless social customer service)"

_session: Any = None
_session_lock = threading.Lock()


def session() -> Any:
    """The process's ``requests.Session``, created on first use."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                import requests

                created = requests.Session()
                created.headers["User-Agent"] = USER_AGENT
                _session = created
    return _session


def reset_session() -> None:
    """Drop the session (tests; a process otherwise keeps it)."""
    global _session
    with _session_lock:
        if _session is not None:
            _session.close()
        _session = None


def timeouts() -> tuple[float, float]:
    """``(connect, read)`` seconds, read from the environment on every call."""
    return (_seconds("HEED_HTTP_CONNECT_TIMEOUT", CONNECT_TIMEOUT), _seconds("HEED_HTTP_READ_TIMEOUT", READ_TIMEOUT))


def _seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name) or default)
    except ValueError:
        return default
    return value if math.isfinite(value) and value > 0 else default


def base_url(setting: str, default: str) -> str:
    return (os.environ.get(setting) or default).rstrip("/")


@dataclass(frozen=True)
class Reply:
    """What came back: status, headers (case-insensitive) and the JSON body (``None`` if not JSON)."""

    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def post(platform: str, url: str, payload: dict[str, Any], *, params: Optional[dict[str, str]] = None,
         headers: Optional[dict[str, str]] = None, auth: Any = None) -> Reply:
    """POST ``payload`` as JSON; network failures become :class:`SendFailed` (never with the URL)."""
    import requests

    failure: Optional[SendFailed] = None
    try:
        response = session().post(url, json=payload, params=params, headers=headers, auth=auth,
                                  timeout=timeouts(), allow_redirects=False)
    except requests.ConnectTimeout:
        failure = SendFailed(f"{platform}: connect timeout", retryable=True)
    except requests.ReadTimeout:
        # The platform may have accepted the message before the answer was lost.
        failure = SendFailed(f"{platform}: read timeout (the platform may have accepted it)", retryable=True,
                             ambiguous=True)
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError) as exc:
        failure = SendFailed(f"{platform}: connection failed ({type(exc).__name__})", retryable=True)
    except requests.RequestException as exc:  # invalid URL, schema...: our configuration
        failure = SendFailed(f"{platform}: request not sent ({type(exc).__name__})", retryable=False)
    if failure is not None:
        raise failure  # outside the except: no __context__ holding the URL (Meta's carries the token)
    try:
        body = response.json()
    except ValueError:  # an HTML error page from a proxy, an empty body
        body = None
    return Reply(response.status_code, response.headers, body)


def generic_failure(platform: str, reply: Reply, detail: str = "",
                    retry_after: Optional[float] = None) -> SendFailed:
    """429, 5xx: retryable; anything else not. ``detail`` names the platform's code."""
    status = reply.status
    suffix = f" {detail}" if detail else ""
    if status == 429:
        return SendFailed(f"{platform}: rate limited (HTTP 429){suffix}", retryable=True, status=status,
                          retry_after=retry_after if retry_after is not None else retry_after_header(reply.headers))
    if status >= 500:
        return SendFailed(f"{platform}: server error (HTTP {status}){suffix}", retryable=True, status=status,
                          retry_after=retry_after if retry_after is not None else retry_after_header(reply.headers))
    return SendFailed(f"{platform}: refused (HTTP {status}){suffix}", retryable=False, status=status)


def retry_after_header(headers: Mapping[str, str], now: Optional[float] = None) -> Optional[float]:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3); ``None`` if absent or bad."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def seconds_until(epoch: Any, now: Optional[float] = None) -> Optional[float]:
    """Seconds from now until ``epoch`` (Unix seconds, e.g. ``x-rate-limit-reset``); never negative."""
    try:
        target = float(epoch)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(target):
        return None
    return max(0.0, target - (time.time() if now is None else now))


def number(value: Any) -> Optional[float]:
    """A finite, non-negative number from JSON (int, float or numeric string), else ``None``."""
    if isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) and result >= 0 else None


_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def credential(name: str, account: Optional[str] = None) -> str:
    """The secret ``<name>_<account>`` if set, else ``<name>`` (``settings.secret``: env or SSM).

    A missing credential is the brand's configuration, fixable without a deploy:
    a retryable :class:`SendFailed` naming the setting (never a value).
    """
    if account:
        specific = f"{name}_{_UNSAFE.sub('_', account)}"
        try:
            value = settings.optional_secret(specific)
        except ServiceUnavailable as exc:
            raise SendFailed(f"credentials unavailable: {exc.message}", retryable=True) from None
        if value:
            return value
    try:
        return settings.secret(name)
    except ServiceUnavailable as exc:
        raise SendFailed(f"credentials unavailable: {exc.message}", retryable=True) from None
