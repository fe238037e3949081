"""Helpers shared by the platform adapters: JSON loading, shape checks, signatures, times."""
from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime
from typing import Any, Mapping, Optional, TypeVar

from functions.errors import BadRequest, Forbidden, ServiceUnavailable, Unauthorized

T = TypeVar("T")


def load_json_object(body: bytes) -> dict[str, Any]:
    """Parse a webhook body; anything but a JSON object is a 400 naming the problem."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BadRequest(f"body is not valid JSON: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def path(where: str, key: str) -> str:
    """Join a JSON path for error messages; ``where == ""`` is the body's top level."""
    return f"{where}.{key}" if where else key


def field(obj: Mapping[str, Any], key: str, kind: type[T], where: str) -> T:
    """Return ``obj[key]`` if present and of ``kind``; otherwise a 400 naming ``where.key``."""
    value = obj.get(key)
    if value is None:
        raise BadRequest(f"{path(where, key)} is missing")
    # bool is an int subclass; a platform never sends a bool where a number belongs.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRequest(f"{path(where, key)} must be {kind.__name__}")
    return value


def optional_field(obj: Mapping[str, Any], key: str, kind: type[T], where: str) -> Optional[T]:
    """Like :func:`field`, but an absent or null value is ``None``."""
    if obj.get(key) is None:
        return None
    return field(obj, key, kind, where)


MAX_ID_LENGTH = 256


def id_field(obj: Mapping[str, Any], key: str, where: str) -> str:
    """Platform ids arrive as strings or numbers; both become a non-empty string.

    Real ids are well under 100 characters; the bound keeps hostile ids out of
    DynamoDB keys (which have hard size limits) with a 400 instead of a 500.
    """
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise BadRequest(f"{path(where, key)} must be a non-empty id")
    value = str(value)
    if len(value) > MAX_ID_LENGTH:
        raise BadRequest(f"{path(where, key)} is longer than {MAX_ID_LENGTH} characters")
    return value


def optional_id(obj: Mapping[str, Any], key: str, where: str) -> Optional[str]:
    """Like :func:`id_field`, but an absent or null id is ``None``."""
    if obj.get(key) is None:
        return None
    return id_field(obj, key, where)


def objects(obj: Mapping[str, Any], key: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    """An optional list of JSON objects as ``(path, object)`` pairs; absent means empty."""
    items = optional_field(obj, key, list, where) or []
    out: list[tuple[str, dict[str, Any]]] = []
    for index, item in enumerate(items):
        where_item = f"{path(where, key)}[{index}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{where_item} must be an object")
        out.append((where_item, item))
    return out


def header(headers: Mapping[str, str], name: str) -> Optional[str]:
    """Case-insensitive header lookup that works on plain dicts too."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def check_secret(presented: Optional[str], expected: str, what: str) -> None:
    """401 when the proof is missing, 403 when it is wrong; constant-time compare."""
    if not presented:
        raise Unauthorized(f"missing {what}")
    if not hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), expected.encode()):
        raise Forbidden(f"invalid {what}")


def configured(secret: str, what: str) -> str:
    """An empty secret is our misconfiguration, never a pass: 503 so the platform retries."""
    if not secret:
        raise ServiceUnavailable(f"{what} is not configured")
    return secret


def utc_from_seconds(value: Any, where: str) -> datetime:
    """Unix seconds (int, float or numeric string) to an aware UTC datetime."""
    return _utc(value, 1, where)


def utc_from_millis(value: Any, where: str) -> datetime:
    """Unix milliseconds (int or numeric string) to an aware UTC datetime."""
    return _utc(value, 1000, where)


def _utc(value: Any, per_second: int, where: str) -> datetime:
    if isinstance(value, bool):
        raise BadRequest(f"{where} must be a timestamp")
    try:
        seconds = float(value) / per_second
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise BadRequest(f"{where} must be a timestamp") from None
