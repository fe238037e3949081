"""SLA clocks and alerts through the real entry points against moto.

Webhooks go through the HTTP routes, clocks through the table stream handler
(fed by the same stream reader the local pump uses), alerts through the
scheduled ``sla_tick`` function, acknowledgements through ``GET /ack/{token}``.
SMS are read back from moto's record of what SNS would have sent.
"""
from __future__ import annotations

import json
import re
import threading
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from local.pump import TableStream, scheduled_event
from tests import payloads as p
from tests.faults import failing
from tests.integration.test_webhooks import post
from tests.policy import PUBLIC_URL, ladder, policy_file, policy_in_force, sla_policy
from tests.signing import body, meta_headers, staff_headers

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
A, B, C = "+15555550100", "+15555550101", "+15555550102"
LADDER = ladder(("0m", [A]), ("5m", [B]), ("20m", [C]))
POLICY = policy_file(sla_policy("test", "10m", warn_at=[0.5]), LADDER)


@pytest.fixture
def sla_env(client, stack_env, tmp_path, monkeypatch):
    with policy_in_force(POLICY, tmp_path, monkeypatch, public_url=PUBLIC_URL), \
            time_machine.travel(T0, tick=False) as traveller:
        yield SlaWorld(client, stack_env, traveller)


class SlaWorld:
    def __init__(self, client, stack_env, traveller):
        self.client = client
        self.endpoint = stack_env["endpoint"]
        self.stream = TableStream(stack_env["table"])
        self.traveller = traveller

    def at(self, minutes: float) -> None:
        self.traveller.move_to(T0 + timedelta(minutes=minutes))

    def message(self, psid: str, mid: str, minutes: float, echo: bool = False) -> None:
        raw = body(p.meta("page", p.messenger_entry(p.messenger_event(
            psid, mid, "where is my order?", ts_ms=int((T0 + timedelta(minutes=minutes)).timestamp() * 1000),
            echo=echo))))
        assert post(self.client, "/webhooks/meta", raw, meta_headers(raw)) == (200, {"received": 1})
        self.stream.drain()

    def tick(self) -> None:
        self.client.lambda_.invoke("sla_tick", scheduled_event())

    def sms(self) -> list[tuple[str, str]]:
        data = json.load(urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json"))
        return [(m["phone_number"], m["message"]) for m in data["sns"]["SMS"]]

    def conversation(self, psid: str) -> dict:
        listed = json.loads(self.client.http.get("/conversations?limit=100", headers=staff_headers()).body)
        [conv] = [c for c in listed["conversations"] if c["customer"]["id"] == psid]
        return conv

    def events(self, conversation_id: str) -> list[str]:
        from functions.store import dynamo
        return [e["kind"] for e in dynamo.sla_events(conversation_id)]


def ack_path(text: str) -> str:
    return re.search(r"https://heed\.example(/ack/[A-Za-z0-9_-]+)$", text).group(1)


def test_warn_breach_escalate_ack_then_nobody_else_is_paged(sla_env):
    w = sla_env
    w.message("psid-1", "m1", 0)
    conv = w.conversation("psid-1")
    assert conv["sla"]["state"] == "ok" and conv["sla"]["due_at"] == "2026-11-23T09:10:00.000Z"

    w.at(4)
    w.tick()
    assert w.sms() == []
    w.at(5)
    w.tick()
    w.tick()  # a second tick in the same minute sends nothing more
    [(phone, warning)] = w.sms()
    assert phone == A and warning.startswith("Heed SLA warning: Facebook DM from") and "5m left" in warning
    assert len(warning) <= 160

    w.at(10)
    w.tick()
    assert [(phone, text.split(":")[0]) for phone, text in w.sms()[1:]] == [(A, "Heed SLA BREACH")]
    breached = json.loads(w.client.http.get("/conversations?status=breached", headers=staff_headers()).body)
    assert [c["id"] for c in breached["conversations"]] == [conv["id"]]

    w.at(15)
    w.tick()
    [(phone, escalation)] = w.sms()[2:]
    assert phone == B and "5m late" in escalation

    page = w.client.http.get(ack_path(escalation))
    assert page.status_code == 200 and b"Acknowledged" in page.body
    again = w.client.http.get(ack_path(escalation))
    assert again.status_code == 200 and b"Already acknowledged" in again.body
    assert w.conversation("psid-1")["sla"]["acknowledged_by"] == B

    w.at(40)
    w.tick()
    assert len(w.sms()) == 3  # level 3 (C) is never paged
    assert w.events(conv["id"]) == ["opened", "warned", "breached", "escalated", "acknowledged"]


def test_reply_before_the_deadline_is_met_and_pages_nobody(sla_env):
    w = sla_env
    w.message("psid-2", "m1", 0)
    w.at(3)
    w.message("psid-2", "r1", 3, echo=True)
    w.at(30)
    w.tick()
    assert w.sms() == []
    conv = w.conversation("psid-2")
    assert (conv["sla"]["state"], conv["sla"]["running"], conv["sla"]["response_seconds"]) == ("met", False, 180)


def test_next_breach_starts_a_new_ladder(sla_env):
    w = sla_env
    w.message("psid-3", "m1", 0)
    w.at(12)
    w.tick()  # breach (the warning is skipped: already past due)
    w.message("psid-3", "r1", 12, echo=True)
    w.message("psid-3", "m2", 13)
    w.at(23)
    w.tick()
    assert [(phone, text.split(":")[0]) for phone, text in w.sms()] == [(A, "Heed SLA BREACH"), (A, "Heed SLA BREACH")]
    assert w.conversation("psid-3")["sla"]["kind"] == "next_response"


def test_concurrent_checkers_send_each_alert_once(sla_env):
    w = sla_env
    for i in range(6):
        w.message(f"psid-c{i}", f"m{i}", 0)
    w.at(10)
    threads = [threading.Thread(target=w.tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(text.split(":")[0] for _, text in w.sms()) == ["Heed SLA BREACH"] * 6


def test_failed_sms_stays_due_and_goes_out_once_later(sla_env):
    w = sla_env
    w.message("psid-4", "m1", 0)
    w.at(10)
    with failing("Publish", lambda n: True, service="sns"):
        w.tick()
    assert w.sms() == []
    w.at(10.5)
    w.tick()
    w.tick()
    assert [phone for phone, _ in w.sms()] == [A]


def test_resolving_stops_the_clock(sla_env):
    w = sla_env
    w.message("psid-5", "m1", 0)
    conv = w.conversation("psid-5")
    resolved = w.client.http.post(f"/conversations/{conv['id']}/resolve", headers=staff_headers())
    assert resolved.status_code == 200
    answer = json.loads(resolved.body)
    assert (answer["status"], answer["sla"]["running"]) == ("resolved", False)
    w.at(30)
    w.tick()
    assert w.sms() == []
    # A later customer message reopens it with a next-response clock.
    w.message("psid-5", "m2", 31)
    reopened = w.conversation("psid-5")
    assert (reopened["status"], reopened["sla"]["kind"], reopened["sla"]["running"]) == (
        "open", "first_response", True)


def test_forged_malformed_and_expired_links_get_clear_pages(sla_env):
    w = sla_env
    w.message("psid-6", "m1", 0)
    w.at(10)
    w.tick()
    [(_, text)] = w.sms()
    path = ack_path(text)
    token_start = len("/ack/")
    flipped = "B" if path[token_start + 3] == "A" else "A"  # a character inside the random id
    forged = path[: token_start + 3] + flipped + path[token_start + 4:]
    assert w.client.http.get(forged).status_code == 403
    non_canonical = path[:-1] + ("B" if path[-1] == "A" else "A")  # same bytes or not: never accepted
    assert w.client.http.get(non_canonical).status_code in (400, 403)
    assert w.client.http.get("/ack/short").status_code == 400
    w.at(10 + 24 * 60)
    expired = w.client.http.get(path)
    assert expired.status_code == 410 and b"expired" in expired.body
    assert expired.headers["Content-Type"].startswith("text/html")
