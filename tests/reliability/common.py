"""Shared pieces: the Result, an in-process emulator, the local stack over HTTP, small readers."""
from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3

from local.stack import LOCAL_SECRETS, LOCAL_SETTINGS
from tests.conftest import free_port
from tests.localstack import STAFF, LocalStack
from tests.policy import ack_rule, acknowledge, ladder, policy_file, sla_policy

DM_KINDS = ("telegram", "messenger", "instagram", "whatsapp", "x-dm")
KINDS = (*DM_KINDS, "x-mention", "facebook-comment", "instagram-comment")

for _name, _value in {**LOCAL_SECRETS, **LOCAL_SETTINGS}.items():
    os.environ.setdefault(_name, _value)


@dataclass
class Result:
    name: str
    passed: bool
    counts: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def line(self, number: int) -> str:
        counts = " ".join(f"{k}={v}" for k, v in self.counts.items())
        verdict = "PASS" if self.passed else "FAIL"
        text = f"scenario {number} {self.name}: {verdict} {counts}".rstrip()
        return text + "".join(f"\n    ! {p}" for p in self.problems[:10])


def check(result: Result, ok: bool, problem: str) -> None:
    if not ok:
        result.passed = False
        result.problems.append(problem)


# ------------------------------------------------------------------ in process (moto server mode)

_server = None


def emulator() -> str:
    """The emulator in this process (reused when AWS_ENDPOINT_URL is already set, e.g. by pytest's fixture)."""
    global _server
    if os.environ.get("AWS_ENDPOINT_URL"):
        return os.environ["AWS_ENDPOINT_URL"]
    from local.emulator import SerializedMotoServer

    port = free_port()
    _server = SerializedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    _server.start()
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    return os.environ["AWS_ENDPOINT_URL"]


@contextmanager
def fresh_stack(policy: str | None = None) -> Iterator[dict[str, str]]:
    """A reset emulator with infra/template.yaml deployed and the app's environment set (like ``stack_env``)."""
    from functions import config
    from local import infra

    endpoint = emulator()
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    outputs = infra.deploy(endpoint)
    saved = {k: os.environ.get(k) for k in ("HEED_TABLE", "HEED_OUTBOUND_QUEUE_URL", "HEED_CONFIG")}
    os.environ["HEED_TABLE"] = outputs["HeedTableName"]
    os.environ["HEED_OUTBOUND_QUEUE_URL"] = outputs["OutboundQueueUrl"]
    if policy is not None:
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"heed-reliability-{os.getpid()}.toml"
        path.write_text(policy)
        os.environ["HEED_CONFIG"] = str(path)
    config.reset()
    try:
        yield {"endpoint": endpoint, "table": outputs["HeedTableName"], "queue": outputs["OutboundQueueUrl"]}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        config.reset()


@contextmanager
def chalice_client() -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as client:
        yield client


def conversations(client: Any, status: str = "open") -> list[dict]:
    """Every conversation through the staff API (Chalice's test client), paged."""
    listed, cursor = [], None
    while True:
        query = f"/conversations?status={status}&limit=100" + (f"&next={quote(cursor, safe='')}" if cursor else "")
        page = json.loads(client.http.get(query, headers=STAFF).body)
        listed += page["conversations"]
        cursor = page["next"]
        if not cursor:
            return listed


def table_items(table: str, endpoint: str | None = None) -> list[dict]:
    client = boto3.client("dynamodb", endpoint_url=endpoint) if endpoint else boto3.client("dynamodb")
    items, kwargs = [], {"TableName": table}
    while True:
        page = client.scan(**kwargs)  # the suite only: Heed itself never scans
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def sms_sent(endpoint: str) -> list[tuple[str, str]]:
    data = json.load(urllib.request.urlopen(f"{endpoint}/moto-api/data.json"))
    return [(m["phone_number"], m["message"]) for m in data["sns"]["SMS"]]


# ------------------------------------------------------------------ the local stack over HTTP

def policy_acking(match: dict[str, str] | None) -> str:
    """8h clocks, one pager; acknowledgements in English (rule "dms") for what ``match`` matches (None: all)."""
    return policy_file(sla_policy("reliability", "8h"), ladder(("0m", ["+15555550100"])),
                       acknowledge(ack_rule("dms", match=match), language="en"))


POLICY_DM_ACKS = policy_acking({"channel": "dm"})


_stack: LocalStack | None = None


def local_stack() -> LocalStack:
    """One local stack shared by the HTTP scenarios of a run (stopped by :func:`shutdown`)."""
    global _stack
    if _stack is None:
        _stack = LocalStack(POLICY_DM_ACKS).start()
    return _stack


def shutdown() -> None:
    global _stack, _server
    if _stack is not None:
        _stack.stop()
        _stack = None
    if _server is not None:
        _server.stop()
        _server = None
        os.environ.pop("AWS_ENDPOINT_URL", None)


def accepted(call: dict) -> bool:
    """A platform call the platform carried out (answered 2xx)."""
    return 200 <= int(call.get("status") or 0) < 300


def recipient(call: dict) -> str:
    body = call.get("body") or {}
    who = body.get("recipient") or body.get("to") or body.get("chat_id") or ""
    if isinstance(who, dict):
        who = who.get("id") or who.get("comment_id") or json.dumps(who, sort_keys=True)
    return f"{call.get('platform')}:{call.get('endpoint')}:{call.get('path')}:{who}"
