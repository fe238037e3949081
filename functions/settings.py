"""Settings and secrets, read when first needed.

Stages set plain settings in ``.chalice/config.json``; secrets are never there.
In the cloud (``HEED_SSM_PREFIX`` set, e.g. ``/heed/prod``) each secret is the
SSM Parameter Store SecureString ``<prefix>/<NAME>``: all of Heed's parameters
are fetched in one ``GetParametersByPath`` when first needed and kept for
:data:`SECRETS_TTL` seconds, so a rotated secret is picked up within minutes
without a deploy. Locally and in tests (no prefix) secrets come from the
environment (the local stage's throwaway values are in ``local/stack.py``).

A missing setting or secret, or SSM failing, fails the request with a 503 and a
log line naming the setting or parameter (never a value), instead of crashing
the function on import.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable, Optional

from functions.errors import ServiceUnavailable
from functions.log import log

SECRETS_TTL = 300.0  # seconds a fetched set of parameters is used before fetching again
RECHECK = 30.0  # a secret not found is looked for again after this long; SSM after a failure too


def required(name: str) -> str:
    """The value of environment variable ``name``; 503 when it is unset or empty."""
    value = os.environ.get(name, "")
    if not value:
        log("setting_missing", level="ERROR", setting=name)
        raise ServiceUnavailable(f"Heed is not configured: {name} is not set")
    return value


def secret(name: str) -> str:
    """A secret (app secret, token): from SSM under ``HEED_SSM_PREFIX`` when set, else the environment.

    Same contract as :func:`required`; the value is never logged.
    """
    prefix = os.environ.get("HEED_SSM_PREFIX", "").rstrip("/")
    if not prefix:
        return required(name)
    value = _secrets.get(prefix, name)
    if not value:
        log("setting_missing", level="ERROR", setting=f"{prefix}/{name}", source="ssm")
        raise ServiceUnavailable(f"Heed is not configured: SSM parameter {prefix}/{name} is missing")
    return value


def optional_secret(name: str) -> Optional[str]:
    """A secret that may be absent (a per-account override): its value, or None without a log line.

    SSM failing is still a 503, as for :func:`secret`.
    """
    prefix = os.environ.get("HEED_SSM_PREFIX", "").rstrip("/")
    if not prefix:
        return os.environ.get(name) or None
    return _secrets.get(prefix, name)


class SsmSecrets:
    """Every parameter under a prefix, fetched together and cached for the process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.reset()

    def get(self, prefix: str, name: str) -> Optional[str]:
        """The parameter's value, or None when it doesn't exist; 503 when SSM can't be read."""
        parameter = f"{prefix}/{name}"
        with self._lock:
            now = self._clock()
            age = now - self._fetched_at
            due = self._prefix != prefix or age >= SECRETS_TTL or (name not in self._values and age >= RECHECK)
            if due and now >= self._retry_at:
                self._refresh(prefix, parameter, now)
            value = self._values.get(name) if self._prefix == prefix else None
            if value is None and self._failed:
                log("secret_unavailable", level="ERROR", parameter=parameter, error=self._failed)
                raise ServiceUnavailable(f"Heed cannot read its secrets from SSM ({parameter}); retry")
        return value or None

    def _refresh(self, prefix: str, parameter: str, now: float) -> None:
        try:
            values = _fetch(prefix)
        except Exception as exc:  # noqa: BLE001 - any SSM/botocore failure: keep what we had, or 503
            self._failed = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
            self._retry_at = now + RECHECK  # don't hammer SSM while it fails
            if self._prefix == prefix and self._values:
                log("secrets_refresh_failed", level="WARNING", parameter=parameter, error=self._failed)
            return
        self._prefix, self._values, self._fetched_at = prefix, values, now
        self._failed, self._retry_at = None, float("-inf")

    def reset(self) -> None:
        with self._lock:
            self._prefix: Optional[str] = None
            self._values: dict[str, str] = {}
            self._fetched_at = float("-inf")
            self._retry_at = float("-inf")
            self._failed: Optional[str] = None


def _fetch(prefix: str) -> dict[str, str]:
    """``{NAME: value}`` for every parameter directly under ``prefix`` (decrypted)."""
    from functions import aws

    values: dict[str, str] = {}
    pages = aws.client("ssm").get_paginator("get_parameters_by_path")
    for page in pages.paginate(Path=prefix, Recursive=False, WithDecryption=True):
        for parameter in page["Parameters"]:
            values[parameter["Name"].rsplit("/", 1)[-1]] = parameter["Value"]
    return values


_secrets = SsmSecrets()


def reset_secrets() -> None:
    """Forget the cached parameters (tests; a process otherwise refreshes by itself)."""
    _secrets.reset()
