"""Errors that become a JSON 4xx/5xx answer instead of a crash.

Every layer raises these; ``functions.http`` turns them into responses, so a
route never answers 500 for bad input.
"""
from __future__ import annotations


class HeedError(Exception):
    """Base: ``status`` is the HTTP status, ``code`` a stable machine name."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(HeedError):
    status = 400
    code = "bad_request"


class Unauthorized(HeedError):
    status = 401
    code = "unauthorized"


class Forbidden(HeedError):
    status = 403
    code = "forbidden"


class NotFound(HeedError):
    status = 404
    code = "not_found"


class Conflict(HeedError):
    """The request is valid but the conversation's state refuses it (a platform window has closed)."""

    status = 409
    code = "conflict"


class PayloadTooLarge(HeedError):
    status = 413
    code = "payload_too_large"


class ServiceUnavailable(HeedError):
    """A dependency (a secret, storage) is missing or failing: the caller should retry."""

    status = 503
    code = "unavailable"
