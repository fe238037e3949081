"""Fault injection at the botocore level: fail chosen AWS calls as the service would."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace

from functions import aws

ERRORS = {
    500: ("InternalServerError", "Internal server error (injected)"),
    400: ("ProvisionedThroughputExceededException", "Throughput exceeded (injected)"),
}


@contextmanager
def failing(operation: str, should_fail: Callable[[int], bool], status: int = 500,
            service: str = "dynamodb") -> Iterator[list[int]]:
    """Make ``operation`` (e.g. ``"TransactWriteItems"``) fail on the calls ``should_fail(n)`` picks.

    Yields the list of call numbers that were failed. The hook answers before the
    request leaves the client, like a service-side error the retries gave up on.
    """
    code, message = ERRORS[status]
    calls = {"n": 0}
    failed: list[int] = []

    def hook(**_: object):
        calls["n"] += 1
        if not should_fail(calls["n"]):
            return None
        failed.append(calls["n"])
        return SimpleNamespace(status_code=status), {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    events = aws.client(service).meta.events
    event = f"before-call.{service}.{operation}"
    events.register(event, hook)
    try:
        yield failed
    finally:
        events.unregister(event, hook)
