"""AWS clients, created lazily and once per process.

Importing this module costs nothing: boto3 is imported on the first call, so a
cold start that never touches AWS (a rejected webhook, ``/health``) never pays
for it. Retries use botocore's ``standard`` mode (exponential backoff with
jitter, throttling-aware), which suits DynamoDB far better than ``legacy``.
``AWS_ENDPOINT_URL`` (read by botocore itself) points every client at the
local emulator.
"""
from __future__ import annotations

import functools
from typing import Any


@functools.cache
def client(service: str) -> Any:
    """The process-wide client for ``service`` (``"dynamodb"``, ``"sns"``, ...)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": 4}, connect_timeout=3, read_timeout=10)
    return boto3.session.Session().client(service, config=config)
