"""Shared fixtures: moto in server mode (in-process, free port) with the infra template deployed.

Unit tests need none of this; integration, e2e and bench tests ask for ``stack_env``.
"""
from __future__ import annotations

import os
import socket
import urllib.request
from collections.abc import Iterator

import pytest

from local.stack import LOCAL_SECRETS, LOCAL_SETTINGS

# Set before anything creates a boto3 client; never real credentials in tests.
for _name, _value in {**LOCAL_SECRETS, **LOCAL_SETTINGS}.items():
    os.environ[_name] = _value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from local.emulator import SerializedMotoServer

    port = free_port()
    server = SerializedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    yield endpoint
    server.stop()
    if previous is None:
        os.environ.pop("AWS_ENDPOINT_URL", None)
    else:
        os.environ["AWS_ENDPOINT_URL"] = previous


@pytest.fixture
def stack_env(moto_endpoint: str) -> Iterator[dict[str, str]]:
    """A fresh emulator state with the infra template deployed; HEED_TABLE set for the app."""
    from local import infra

    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request).close()
    outputs = infra.deploy(moto_endpoint)
    os.environ["HEED_TABLE"] = outputs["HeedTableName"]
    os.environ["HEED_OUTBOUND_QUEUE_URL"] = outputs["OutboundQueueUrl"]
    yield {"endpoint": moto_endpoint, "table": outputs["HeedTableName"], "queue": outputs["OutboundQueueUrl"],
           "bucket": outputs["InboundMailBucketName"], "inbound_failures": outputs["InboundMailFailuresQueueUrl"]}
    os.environ.pop("HEED_TABLE", None)
    os.environ.pop("HEED_OUTBOUND_QUEUE_URL", None)


@pytest.fixture
def client(stack_env: dict[str, str]):
    from chalice.test import Client

    from app import app

    # The local stage's settings (the default, dev, is a cloud stage: SSM secrets, IAM auth).
    with Client(app, stage_name="local") as test_client:
        yield test_client
