"""CloudWatch metrics as Embedded Metric Format (EMF) log lines.

Lambda's stdout goes to CloudWatch Logs, which turns each EMF line into metric
data points: no API call, no extra latency, no IAM permission. Locally the
lines are just logs. Namespace ``Heed``; every metric has the ``Stage``
dimension (``HEED_STAGE``, ``local`` when unset) plus the ones the caller
names, e.g. ``count("MessagesReceived", 3, Platform="whatsapp")``.

Dimension values are names (platform, channel, stage): never customer text,
ids or phone numbers. The alarms in ``infra/template.yaml`` rely on the metric
names and dimensions used here.
"""
from __future__ import annotations

import json
import os
import sys
import time

NAMESPACE = "Heed"


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """Add ``value`` to metric ``name`` (unit Count) for ``Stage`` plus ``dimensions``."""
    emit(name, value, "Count", **dimensions)


def emit(name: str, value: float, unit: str = "Count", **dimensions: str) -> None:
    """One EMF record: a single metric, one dimension set (``Stage`` first, then the given ones, sorted)."""
    dims = {"Stage": os.environ.get("HEED_STAGE") or "local",
            **{key: str(val) for key, val in sorted(dimensions.items())}}
    record = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [list(dims)],
                                   "Metrics": [{"Name": name, "Unit": unit}]}],
        },
        **dims,
        name: value,
    }
    sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
