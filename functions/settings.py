"""Settings and secrets, read from the environment when first needed.

Stages set plain settings in ``.chalice/config.json``; secrets are never there
(the local stage gets documented throwaway values from ``local/stack.py``). A
missing setting fails the request with a 503 and a log line naming it, instead
of crashing the function on import.
"""
from __future__ import annotations

import os

from functions.errors import ServiceUnavailable
from functions.log import log


def required(name: str) -> str:
    """The value of environment variable ``name``; 503 when it is unset or empty."""
    value = os.environ.get(name, "")
    if not value:
        log("setting_missing", level="ERROR", setting=name)
        raise ServiceUnavailable(f"Heed is not configured: {name} is not set")
    return value


def secret(name: str) -> str:
    """A secret (app secret, token). Same contract as :func:`required`; never logged."""
    return required(name)
