"""Scenario 6: staff API abuse. Every refusal is the right 4xx, a JSON error, and changes nothing.

Over HTTP against ``python -m local.stack``: missing, malformed and wrong
bearer tokens (another stage's, the right one with junk around it) on every
staff route -> 401; ids of conversations that don't exist here (well-formed ids
computed for another brand's account, and malformed ones) -> 404, the same
answer for both so ids never reveal what exists; bad queries and cursors ->
400; oversized and malformed replies -> 400/413, nothing sent; signed alert
links malformed, forged or expired -> 400/403/410. In process, with secrets in
SSM (``HEED_SSM_PREFIX``): a rotated token is refused once the 5-minute cache
turns over, and the new one works.
"""
from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta

import boto3
import requests

from functions.domain.conversations import conversation_id
from tests.reliability.common import STAFF, Result, accepted, chalice_client, check, fresh_stack, local_stack

NAME = "staff-abuse"
ROUTES = [("GET", "/conversations"), ("GET", "/conversations/{id}"), ("POST", "/conversations/{id}/resolve"),
          ("POST", "/conversations/{id}/reopen"), ("POST", "/conversations/{id}/replies")]
BAD_AUTH = {
    "missing": None,
    "empty": "",
    "bearer-no-token": "Bearer ",
    "scheme-only": "Bearer",
    "basic": "Basic " + base64.b64encode(b"staff:local-staff-token").decode(),
    "wrong-token": "Bearer wrong-token",
    "other-stage": "Bearer prod-staff-token-0123456789abcdef",
    "token-prefix": "Bearer local-staff-toke",
    "token-suffix": "Bearer local-staff-tokenX",
    "token-no-scheme": "local-staff-token",
    "two-tokens": "Bearer wrong local-staff-token",
    "jwt-like": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
}


def run(size: int) -> Result:
    stack = local_stack()
    result = Result(NAME, True)
    s = requests.Session()
    counts = {"401": 0, "404": 0, "400": 0, "413": 0, "ack-refused": 0}
    refused_before = len([c for c in stack.sent() if accepted(c)])

    def expect(method: str, path: str, status: int | tuple, what: str, **kwargs) -> requests.Response:
        response = s.request(method, stack.api + path, timeout=60, **kwargs)
        wanted = status if isinstance(status, tuple) else (status,)
        check(result, response.status_code in wanted, f"{what}: {method} {path[:60]} -> {response.status_code}, "
                                                      f"wanted {wanted}")
        if response.status_code >= 400 and not path.startswith("/ack/"):
            try:
                body = response.json()
                ok = "error" in body and "message" in body
            except ValueError:
                ok = False
            check(result, ok, f"{what}: {response.status_code} is not a JSON error: {response.text[:80]}")
        if str(response.status_code) in counts:
            counts[str(response.status_code)] += 1
        return response

    # a real conversation to aim at
    from local.simulator import webhook

    path, headers, raw = webhook("messenger", "real one", customer="StaffAbuse", env=stack.env)
    s.post(stack.api + path, data=raw, headers=headers, timeout=30)
    real = next(c for c in stack.conversations() if c["platform"] == "facebook")
    before = s.get(f"{stack.api}/conversations/{real['id']}", headers=STAFF, timeout=30).json()

    for label, auth in BAD_AUTH.items():
        headers = {} if auth is None else {"Authorization": auth}
        for method, route in ROUTES:
            body = json.dumps({"text": "hi"}) if route.endswith("replies") else None
            expect(method, route.replace("{id}", real["id"]), 401, f"auth {label}", headers=headers, data=body)
    # the token in a query string or another header is not a credential
    expect("GET", "/conversations?access_token=local-staff-token", 401, "token in query")
    expect("GET", "/conversations", 401, "token in X-Api-Key", headers={"X-Api-Key": "local-staff-token"})
    check(result, expect("GET", "/conversations", 200, "scheme in lower case",
                         headers={"Authorization": "bearer local-staff-token"}).ok, "lower-case scheme refused")

    # ids that don't exist here: another brand's account (well-formed) and malformed ones, all the same 404
    other = [conversation_id("facebook", "999999999999999", "psid-1", None),
             conversation_id("telegram", "8000000001", "42", None),
             conversation_id("x", "1", "2", "3")]
    malformed = ["x", "0" * 64, "Z" * 43, "..%2F..%2Fetc%2Fpasswd", "%27%20OR%201%3D1--", "CONV%23x",
                 "%7B%7B7*7%7D%7D", "%C3%B1" * 10, "a" * 1500, real["id"][:-1], real["id"] + "A",
                 real["id"].swapcase()]
    answers = set()
    for cid in other + malformed:
        for method, route in ROUTES[1:]:
            body = json.dumps({"text": "hi"}) if route.endswith("replies") else None
            response = expect(method, route.replace("{id}", cid), 404, "unknown id", headers=STAFF, data=body)
            try:
                answers.add(response.json().get("error"))
            except ValueError:
                answers.add(response.text[:40])
    check(result, answers == {"not_found"}, f"unknown ids answered differently: {answers}")

    # bad queries
    for query in ("status=bogus", "status=", "limit=0", "limit=101", "limit=-1", "limit=abc", "limit=1e2",
                  "next=garbage", "next=" + "A" * 3000, "next=eyJwayI6IkNPTlYjeCJ9",
                  "status=open&next=%7B%22pk%22%3A%7B%22S%22%3A%22x%22%7D%7D"):
        expect("GET", f"/conversations?{query}", 400, f"query {query[:30]}", headers=STAFF)

    # oversized and malformed replies on a real conversation: refused, nothing queued or sent
    json_headers = {**STAFF, "Content-Type": "application/json"}
    reply = f"/conversations/{real['id']}/replies"
    for payload, status in (({"text": "x" * 2001}, 400), ({"text": "x" * 100_000}, (400, 413)),
                            ({"text": "\U0001F620" * 1500}, 400), ({"text": ""}, 400), ({"text": None}, 400),
                            ({"text": ["hi"]}, 400), ({}, 400), ([], 400), ("hi", 400),
                            ({"text": "hi", "private": True}, 400)):
        expect("POST", reply, status, f"reply {str(payload)[:30]}", headers=json_headers, data=json.dumps(payload))
    expect("POST", reply, 400, "reply not JSON", headers=json_headers, data=b"{not json")
    expect("POST", reply, 400, "reply invalid UTF-8", headers=json_headers, data=b'{"text": "\xff\xfe"}')
    expect("POST", reply, 413, "reply of 4 MB", headers=json_headers,
           data=json.dumps({"text": "x" * 4_000_000}))
    expect("POST", reply, (400, 413), "reply with a 1 MB key", headers=json_headers,
           data=json.dumps({"text": "hi", "k" * 1_000_000: 1}))
    after = s.get(f"{stack.api}/conversations/{real['id']}", headers=STAFF, timeout=30).json()
    ours = [m for m in after["messages"] if m["direction"] == "out" and m["text"] in ("hi", "") or m["text"][:1] == "x"]
    inbound = [[m["id"] for m in c["messages"] if m["direction"] == "in"] for c in (before, after)]
    check(result, not ours and inbound[0] == inbound[1] and after["status"] == before["status"],
          "a refused request changed the conversation")

    # alert links: malformed, forged, expired
    from functions import acks

    for token, status in (("x", 400), ("A" * 22, 403), ("%00" * 5, 400), (_forged(), 403),
                          (acks.new_token(datetime.now(UTC) - timedelta(hours=25))[1], 410)):
        response = s.get(f"{stack.api}/ack/{token}", timeout=30)
        check(result, response.status_code == status, f"ack link {token[:10]}: {response.status_code}, wanted {status}")
        check(result, response.status_code != 200 and "Acknowledged" not in response.text, "ack link accepted")
        counts["ack-refused"] += response.status_code == status
    sent_after = len([c for c in stack.sent() if accepted(c)])

    rotated = _rotation(result)
    result.counts = {**counts, "rotated-token": rotated, "platform-calls-from-refusals": 0}
    # acknowledgement of the "real one" customer message may go out meanwhile: at most that one
    check(result, sent_after - refused_before <= 1, f"{sent_after - refused_before} platform calls during refusals")
    s.close()
    return result


def _forged() -> str:
    """A well-formed token signed with another secret."""
    from functions import acks

    saved = os.environ.get("HEED_ACK_SECRET")
    os.environ["HEED_ACK_SECRET"] = "another-stage-ack-secret"
    try:
        return acks.new_token(datetime.now(UTC))[1]
    finally:
        os.environ["HEED_ACK_SECRET"] = saved or ""


def _rotation(result: Result) -> str:
    """Secrets from SSM (as in the cloud): the token is rotated; the old one stops working when the cache turns."""
    from functions import settings

    prefix = "/heed/reliability"
    saved = os.environ.get("HEED_SSM_PREFIX")
    fake = {"now": 1000.0}
    original_clock = settings._secrets._clock
    with fresh_stack() as _, chalice_client() as client:
        ssm = boto3.client("ssm")
        ssm.put_parameter(Name=f"{prefix}/STAFF_API_TOKEN", Value="token-v1", Type="SecureString", Overwrite=True)
        os.environ["HEED_SSM_PREFIX"] = prefix
        settings._secrets._clock = lambda: fake["now"]
        settings.reset_secrets()
        try:
            def status(token: str) -> int:
                return client.http.get("/conversations", headers={"Authorization": f"Bearer {token}"}).status_code

            first = (status("token-v1"), status("local-staff-token"))
            ssm.put_parameter(Name=f"{prefix}/STAFF_API_TOKEN", Value="token-v2", Type="SecureString", Overwrite=True)
            fake["now"] += settings.SECRETS_TTL + 1
            second = (status("token-v1"), status("token-v2"), status("wrong"))
        finally:
            settings._secrets._clock = original_clock
            settings.reset_secrets()
            if saved is None:
                os.environ.pop("HEED_SSM_PREFIX", None)
            else:
                os.environ["HEED_SSM_PREFIX"] = saved
    check(result, first == (200, 401), f"SSM token v1 / the environment's token: {first}, wanted (200, 401)")
    check(result, second == (401, 200, 401), f"after rotation v1 / v2 / wrong: {second}, wanted (401, 200, 401)")
    return "refused" if second[0] == 401 else "accepted"
