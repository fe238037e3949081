"""Fault injection at the botocore level: fail chosen AWS calls as the service would."""
from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace

from botocore.exceptions import ReadTimeoutError

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

    with _hooked(f"before-call.{service}.{operation}", hook, service):
        yield failed


@contextmanager
def answer_lost(operation: str, should_lose: Callable[[int], bool], service: str = "dynamodb",
                matching: bytes = b"") -> Iterator[list[int]]:
    """Carry out ``operation`` on the calls ``should_lose(n)`` picks, then lose the service's answer.

    Only calls whose request body contains ``matching`` are counted.

    The request reaches the emulator and is applied; the client sees a read
    timeout, and botocore's retry sends the same request again (the same
    idempotency token where the operation has one): what a slow or congested
    DynamoDB looks like from a Lambda. Yields the call numbers whose answer was lost.
    """
    calls = {"n": 0}
    lost: list[int] = []

    def hook(request, **_: object):
        if matching not in (request.body or b""):
            return None
        calls["n"] += 1
        if not should_lose(calls["n"]):
            return None
        lost.append(calls["n"])
        sent = urllib.request.Request(request.url, data=request.body, method=request.method,
                                      headers={k: v.decode() if isinstance(v, bytes) else v
                                               for k, v in request.headers.items()})
        try:
            urllib.request.urlopen(sent).close()
        except urllib.error.HTTPError as refused:  # applied or refused, the answer is lost all the same
            refused.close()
        raise ReadTimeoutError(endpoint_url=request.url)

    with _hooked(f"before-send.{service}.{operation}", hook, service):
        yield lost


@contextmanager
def _hooked(event: str, hook: Callable[..., object], service: str) -> Iterator[None]:
    events = aws.client(service).meta.events
    events.register(event, hook)
    try:
        yield
    finally:
        events.unregister(event, hook)
