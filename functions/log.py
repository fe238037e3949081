"""Structured JSON logs, one object per line.

Callers pass ids, counts and reasons only: never customer text or phone
numbers. ``log`` has no ``text`` parameter on purpose.
"""
from __future__ import annotations

import json
import sys
from typing import Any


def log(event: str, level: str = "INFO", **fields: Any) -> None:
    """Write one log record to stdout (CloudWatch picks up Lambda's stdout)."""
    record = {"level": level, "event": event, **fields}
    sys.stdout.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
