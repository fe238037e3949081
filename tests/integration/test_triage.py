"""Triage and incidents through the real routes against moto.

Webhooks go through the HTTP routes, labels are read back from the table and
the staff API, clocks and incidents come from the table stream handler (fed by
the pump's stream reader), pages from ``sla_tick`` and moto's SMS record.
"""
from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
import time_machine

from functions.store import dynamo
from local.pump import TableStream
from tests import payloads as p
from tests.faults import answer_lost
from tests.integration.test_sla_alerts import T0, SlaWorld
from tests.integration.test_webhooks import messages_in, post, table_items
from tests.policy import PUBLIC_URL, ack_rule, acknowledge, ladder, policy_file, policy_in_force, sla_policy
from tests.signing import body, meta_headers, staff_headers, x_headers

A, B = "+15555550100", "+15555550101"
POLICY = policy_file(
    sla_policy("urgent", "5m", match={"priority": "urgent"}),
    sla_policy("normal", "60m"),
    acknowledge(ack_rule(match={"channel": "dm"})),
    ladder(("0m", [A]), ("10m", [B])),
    """
[triage]
follower_threshold = 10000

[incidents]
customers = 4
window = "15m"
min_shared_terms = 2
""",
)


@pytest.fixture
def world(client, stack_env, tmp_path, monkeypatch):
    monkeypatch.delenv("HEED_SENTIMENT", raising=False)
    with policy_in_force(POLICY, tmp_path, monkeypatch, public_url=PUBLIC_URL), \
            time_machine.travel(T0, tick=False) as traveller:
        yield World(client, stack_env, traveller)


class World(SlaWorld):
    """The SLA tests' world (time, stream, tick, SMS), plus triage's views."""

    def __init__(self, client, stack_env, traveller):
        super().__init__(client, stack_env, traveller)
        self.env = stack_env

    def dm(self, psid: str, mid: str, text: str, minutes: float = 0) -> None:
        raw = body(p.meta("page", p.messenger_entry(p.messenger_event(
            psid, mid, text, ts_ms=int((T0 + timedelta(minutes=minutes)).timestamp() * 1000)))))
        assert post(self.client, "/webhooks/meta", raw, meta_headers(raw)) == (200, {"received": 1})
        self.stream.drain()

    def conversation(self, psid: str) -> dict:
        listed = json.loads(self.client.http.get("/conversations?limit=100", headers=staff_headers()).body)
        [conv] = [c for c in listed["conversations"] if c["customer"]["id"] == psid]
        found = self.client.http.get(f"/conversations/{conv['id']}", headers=staff_headers())
        return json.loads(found.body)

    def message_item(self, mid: str) -> dict:
        [item] = [m for m in messages_in(self.env["table"]) if m["id"]["S"] == mid]
        return item

    def relabel(self, conversation_id: str, payload, headers=None) -> tuple[int, dict]:
        response = self.client.http.post(f"/conversations/{conversation_id}/labels", body=json.dumps(payload),
                                         headers={"Content-Type": "application/json",
                                                  **(staff_headers() if headers is None else headers)})
        return response.status_code, json.loads(response.body)

    def queued(self) -> int:
        attrs = boto3.client("sqs").get_queue_attributes(QueueUrl=self.env["queue"],
                                                         AttributeNames=["ApproximateNumberOfMessages"])
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])

    def incidents(self) -> list[dict]:
        response = self.client.http.get("/incidents", headers=staff_headers())
        assert response.status_code == 200
        return json.loads(response.body)["incidents"]


def test_noise_is_stored_with_its_label_but_opens_no_clock_and_gets_no_acknowledgement(world):
    world.dm("psid-n", "m-noise", "thanks! 👍")
    item = world.message_item("m-noise")
    assert [v["S"] for v in item["labels"]["L"]] == ["noise"] and item["priority"]["S"] == "low"
    conv = world.conversation("psid-n")
    assert conv["labels"] == ["noise"] and conv["sla"] is None and conv["priority"] == "normal"
    assert conv["messages"][0]["labels"] == ["noise"] and conv["messages"][0]["text"] == "thanks! 👍"
    assert dynamo.sla_events(conv["id"]) == [] and world.queued() == 0

    world.dm("psid-q", "m-real", "Where is my order?")  # the same path for a real message: clock and ack
    real = world.conversation("psid-q")
    assert real["labels"] == ["question"] and real["sla"]["policy"] == "normal" and world.queued() == 1


def test_noise_after_a_brand_reply_is_no_follow_up(world):
    world.dm("psid-f", "m1", "My parcel is damaged")
    raw = body(p.meta("page", p.messenger_entry(p.messenger_event(
        "psid-f", "r1", "Sorry! A new one is on its way.", ts_ms=int((T0 + timedelta(minutes=2)).timestamp() * 1000),
        echo=True))))
    assert post(world.client, "/webhooks/meta", raw, meta_headers(raw))[0] == 200
    world.stream.drain()
    world.dm("psid-f", "m2", "ok thanks 🙏", minutes=3)
    conv = world.conversation("psid-f")
    assert conv["sla"]["state"] == "met" and not conv["sla"]["running"]  # no next-response clock for "ok thanks"
    assert conv["labels"] == ["complaint"]  # noise drops out once a real message is in


def test_urgent_complaint_gets_the_urgent_policy_and_its_event_says_so(world):
    world.dm("psid-u", "m-u", "I called three times and nobody answers, your app is broken! 😡")
    item = world.message_item("m-u")
    assert item["priority"]["S"] == "urgent" and float(item["sentiment"]["N"]) < -0.3
    conv = world.conversation("psid-u")
    assert conv["priority"] == "urgent" and "complaint" in conv["labels"] and conv["sentiment"] < -0.3
    assert (conv["sla"]["policy"], conv["sla"]["target_seconds"]) == ("urgent", 300)
    [opened] = dynamo.sla_events(conv["id"])
    assert opened["kind"] == "opened" and opened["detail"]["priority"] == "urgent"


def test_priority_only_goes_up_with_later_messages(world):
    world.dm("psid-p", "m1", "This is unacceptable, I will cancel my account")  # negative + last resort
    world.dm("psid-p", "m2", "hello?", minutes=1)
    conv = world.conversation("psid-p")
    assert conv["priority"] == "urgent" and [m["priority"] for m in conv["messages"]] == ["urgent", "normal"]


def test_relabel_from_noise_opens_the_clock_at_the_original_time_and_pages(world):
    world.dm("psid-r", "m-r", "lol")
    conv = world.conversation("psid-r")
    assert conv["sla"] is None
    world.at(90)
    status, relabelled = world.relabel(conv["id"], {"labels": ["question"], "priority": "high"})
    assert status == 200 and relabelled["labels"] == ["question"] and relabelled["priority"] == "high"
    assert relabelled["relabelled_by_staff"] is True
    assert relabelled["sla"]["started_at"] == "2026-11-23T09:00:00.000Z"  # the original arrival, not now
    assert relabelled["sla"]["due_at"] == "2026-11-23T10:00:00.000Z"  # so already breached
    events = dynamo.sla_events(conv["id"])
    assert [e["kind"] for e in events] == ["opened"] and events[0]["detail"]["priority"] == "high"

    assert world.relabel(conv["id"], {"labels": ["question"], "priority": "high"})[0] == 200  # idempotent
    assert len(dynamo.sla_events(conv["id"])) == 1
    world.tick()
    [(phone, text)] = world.sms()
    assert phone == A and text.startswith("Heed SLA BREACH")

    status, dismissed = world.relabel(conv["id"], {"labels": ["spam"]})  # and back: the clock stops
    assert status == 200 and dismissed["labels"] == ["spam"] and dismissed["sla"]["running"] is False


def test_relabel_refuses_bad_input(world):
    world.dm("psid-b", "m-b", "Where is my order?")
    conv_id = world.conversation("psid-b")["id"]
    for payload in ({"labels": ["weird"]}, {"labels": "noise"}, {"labels": ["noise", "complaint"]},
                    {"labels": [], "priority": "asap"}, {"priority": "high"}, {"labels": [], "extra": 1}, [1]):
        status, answer = world.relabel(conv_id, payload)
        assert status == 400 and answer["error"] and answer["message"], payload
    assert world.relabel("c" + "a" * 24, {"labels": []})[0] == 404
    assert world.relabel("nope", {"labels": []})[0] == 404
    assert world.relabel(conv_id, {"labels": []}, headers={})[0] == 401


def test_spam_link_is_stored_as_spam_without_a_clock(world):
    world.dm("psid-s", "m-s", "FREE iPhone giveaway!! click https://bit.ly/xyz to claim")
    conv = world.conversation("psid-s")
    assert conv["labels"] == ["spam"] and conv["sla"] is None and world.queued() == 0


def test_the_same_text_from_many_accounts_becomes_spam(world):
    text = "Check out my profile for amazing deals today"
    for n in range(1, 4):
        world.dm(f"psid-rep{n}", f"m-rep{n}", text, minutes=n)
    third = world.conversation("psid-rep3")
    assert third["labels"] == ["spam"] and third["sla"] is None
    assert [v["S"] for v in world.message_item("m-rep3")["labels"]["L"]] == ["spam"]
    assert world.conversation("psid-rep1")["sla"] is not None  # the first copies came before it was known


def test_influencer_mention_with_negative_sentiment_is_urgent(world):
    tweet = p.x_mention("1860000000000000001", "777", "bigvoice", "@brand your app is broken and awful",
                        ts_ms=int(T0.timestamp() * 1000))
    tweet["user"]["followers_count"] = 250_000
    raw = body({"for_user_id": p.X_BRAND, "tweet_create_events": [tweet]})
    assert post(world.client, "/webhooks/x", raw, x_headers(raw)) == (200, {"received": 1})
    world.stream.drain()
    assert world.message_item("1860000000000000001")["priority"]["S"] == "urgent"


COMPLAINTS = [
    "The app crashes at checkout every time",
    "your app keeps crashing at checkout!!",
    "App crashed during checkout, twice now",
    "checkout in the app crashes, please fix",
    "Why does the app crash when I go to checkout?",
]


def test_many_customers_with_the_same_complaint_open_one_incident_and_page_once(world):
    for n, text in enumerate(COMPLAINTS):
        world.dm(f"psid-i{n}", f"m-i{n}", text, minutes=n * 2)
    world.dm("psid-other", "m-other", "My parcel never arrived, terrible", minutes=9)
    [incident] = world.incidents()
    assert {"app", "checkout", "crash"} <= set(incident["terms"]) and incident["count"] == 5
    assert incident["status"] == "open" and incident["first_seen"] == "2026-11-23T09:00:00.000Z"
    linked = [world.conversation(f"psid-i{n}") for n in range(5)]
    assert sorted(incident["conversation_ids"]) == sorted(c["id"] for c in linked)
    assert {c["incident_id"] for c in linked} == {incident["id"]}
    assert world.conversation("psid-other")["incident_id"] is None

    world.tick()
    pages = [(phone, text) for phone, text in world.sms() if text.startswith("Heed INCIDENT")]
    assert sorted(phone for phone, _ in pages) == [A, B]  # every ladder phone, once
    text = pages[0][1]
    assert len(text) <= 160 and "5 customers" in text and "checkout" in text and "psid" not in text
    world.tick()
    assert len([t for _, t in world.sms() if t.startswith("Heed INCIDENT")]) == 2

    world.dm("psid-i5", "m-i5", "checkout crashes in your app, I can't pay", minutes=12)  # joins it
    [grown] = world.incidents()
    assert grown["id"] == incident["id"] and grown["count"] == 6
    assert world.conversation("psid-i5")["incident_id"] == incident["id"]

    before = (table_items(world.env["table"]), world.sms())
    assert TableStream(world.env["table"]).drain() > 0  # every record delivered again
    world.tick()
    after = (table_items(world.env["table"]), world.sms())
    assert _comparable(after[0]) == _comparable(before[0]) and after[1] == before[1]

    response = world.client.http.get(f"/incidents/{incident['id']}", headers=staff_headers())
    assert response.status_code == 200 and json.loads(response.body)["id"] == incident["id"]
    assert world.client.http.get("/incidents/i" + "0" * 24, headers=staff_headers()).status_code == 404
    assert world.client.http.get("/incidents").status_code == 401
    assert world.client.http.get("/incidents?limit=0", headers=staff_headers()).status_code == 400
    assert world.client.http.get("/incidents?next=garbage", headers=staff_headers()).status_code == 400


def test_an_incident_page_whose_answers_were_lost_still_pages_at_once_and_once(world, capsys):
    for n, text in enumerate(COMPLAINTS):
        world.dm(f"psid-l{n}", f"m-l{n}", text, minutes=n * 2)
    [incident] = world.incidents()
    # The claim's answer is lost, then the record's: both were applied, and both retries find them so.
    with answer_lost("UpdateItem", lambda n: n == 1, matching=b"SET alert_owner = :owner") as claim, \
            answer_lost("UpdateItem", lambda n: n == 1, matching=b"SET paged_at = :at") as record:
        world.tick()
    assert claim == record == [1]
    assert "incident_alert_not_recorded" not in capsys.readouterr().out
    pages = sorted(phone for phone, text in world.sms() if text.startswith("Heed INCIDENT"))
    assert pages == [A, B]  # this tick, not after the lease
    world.tick()
    assert len([t for _, t in world.sms() if t.startswith("Heed INCIDENT")]) == 2


def _comparable(items: list[dict]) -> list[str]:
    # The repeat counters' TTL is refreshed on each count: compare everything else.
    return sorted(json.dumps({k: v for k, v in i.items() if k != "expires_at"}, sort_keys=True, default=str)
                  for i in items)


def test_complaints_below_the_threshold_open_no_incident(world):
    for n, text in enumerate(COMPLAINTS[:4]):  # K = 4: needs more than four customers
        world.dm(f"psid-k{n}", f"m-k{n}", text, minutes=n)
    world.dm("psid-k4", "m-k4", COMPLAINTS[4], minutes=40)  # outside the 15-minute window
    assert world.incidents() == []


def test_comprehend_gives_the_sentiment_when_the_stage_switches_it_on(world, monkeypatch):
    monkeypatch.setenv("HEED_SENTIMENT", "comprehend")
    world.dm("psid-c", "m-c", "This is awful and broken")
    # moto's Comprehend answers a fixed, nearly neutral score; the lexicon would say clearly negative.
    assert float(world.message_item("m-c")["sentiment"]["N"]) == pytest.approx(0.008, abs=0.001)


def incidents_with(world, query: str) -> list[dict]:
    response = world.client.http.get(f"/incidents?{query}", headers=staff_headers())
    assert response.status_code == 200, response.body
    return json.loads(response.body)["incidents"]


def resolve_incident(world, incident_id: str, headers=None):
    return world.client.http.post(f"/incidents/{incident_id}/resolve",
                                  headers=staff_headers() if headers is None else headers)


def test_an_incident_goes_quiet_when_no_complaint_joined_for_its_window(world):
    for n, text in enumerate(COMPLAINTS):
        world.dm(f"psid-q{n}", f"m-q{n}", text, minutes=n * 2)  # the last at 09:08
    [incident] = incidents_with(world, "status=open")
    assert incident["status"] == "open" and incidents_with(world, "status=quiet") == []
    world.at(23)  # 15 minutes (W) after the last complaint: still open
    assert incidents_with(world, "")[0]["status"] == "open"
    world.at(24)
    [quiet] = incidents_with(world, "status=quiet")
    assert quiet["id"] == incident["id"] and quiet["status"] == "quiet"
    assert incidents_with(world, "status=open") == [] and incidents_with(world, "status=resolved") == []
    got = world.client.http.get(f"/incidents/{incident['id']}", headers=staff_headers())
    assert json.loads(got.body)["status"] == "quiet"
    assert world.client.http.get("/incidents?status=closed", headers=staff_headers()).status_code == 400


def test_resolving_an_incident_is_idempotent_and_a_new_wave_opens_a_new_one(world):
    for n, text in enumerate(COMPLAINTS):
        world.dm(f"psid-r{n}", f"m-r{n}", text, minutes=n * 2)
    [incident] = world.incidents()
    world.at(9)
    resolved = resolve_incident(world, incident["id"])
    assert resolved.status_code == 200, resolved.body
    body_ = json.loads(resolved.body)
    assert body_["status"] == "resolved" and body_["resolved_at"] == "2026-11-23T09:09:00.000Z"
    world.at(10)
    again = resolve_incident(world, incident["id"])  # idempotent: the first resolve's time stays
    assert again.status_code == 200 and json.loads(again.body)["resolved_at"] == "2026-11-23T09:09:00.000Z"
    assert resolve_incident(world, "i" + "0" * 24).status_code == 404
    assert resolve_incident(world, "not-an-id").status_code == 404
    assert resolve_incident(world, incident["id"], headers={}).status_code == 401
    world.tick()  # resolved before its page went out: nobody is paged
    assert not [t for _, t in world.sms() if t.startswith("Heed INCIDENT")]

    # one more complaint just after: it joins nothing and, the earlier ones being settled, opens nothing
    world.dm("psid-w0", "m-w0", COMPLAINTS[0], minutes=11)
    assert [i["id"] for i in world.incidents()] == [incident["id"]]
    assert world.conversation("psid-w0")["incident_id"] is None
    for n, text in enumerate(COMPLAINTS[1:], start=1):  # a new wave: more than K customers of its own
        world.dm(f"psid-w{n}", f"m-w{n}", text, minutes=11 + n)
    new, old = world.incidents()
    assert old["id"] == incident["id"] and old["status"] == "resolved" and len(old["conversation_ids"]) == 5
    assert new["id"] != incident["id"] and new["status"] == "open" and new["count"] == 5
    assert world.conversation("psid-w4")["incident_id"] == new["id"]
    assert [i["id"] for i in incidents_with(world, "status=resolved")] == [incident["id"]]
    assert [i["id"] for i in incidents_with(world, "status=open")] == [new["id"]]
    world.tick()
    pages = [t for _, t in world.sms() if t.startswith("Heed INCIDENT")]
    assert len(pages) == 2 and all("5 customers" in t for t in pages)  # the new one, each ladder phone once


@pytest.mark.parametrize("failure", ["service_error", "unreachable"])
def test_comprehend_failing_falls_back_to_the_lexicon_and_intake_still_stores(world, monkeypatch, capsys, failure):
    """Comprehend refusing (a throttling error through botocore's Stubber) or unreachable (an endpoint nothing
    listens on): the delivery is stored, the lexicon gives the sentiment, the log says so without the text."""
    from botocore.stub import Stubber

    from functions import aws

    monkeypatch.setenv("HEED_SENTIMENT", "comprehend")
    if failure == "service_error":
        comprehend = aws.client("comprehend")
        stubber = Stubber(comprehend)
        stubber.add_client_error("detect_sentiment", service_error_code="ThrottlingException", http_status_code=400)
        stubber.activate()
    else:
        import boto3
        from botocore.config import Config

        dead = boto3.client("comprehend", endpoint_url="http://127.0.0.1:9",
                            config=Config(retries={"total_max_attempts": 1}, connect_timeout=0.5))
        real = aws.client

        monkeypatch.setattr(aws, "client", lambda service: dead if service == "comprehend" else real(service))
    world.dm("psid-cf", "m-cf", "This is awful and broken")  # asserts {"received": 1}
    item = world.message_item("m-cf")
    assert float(item["sentiment"]["N"]) < -0.3 and "complaint" in [v["S"] for v in item["labels"]["L"]]
    assert world.conversation("psid-cf")["sla"]["state"] == "ok"  # the clock opened as usual
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [fallback] = [entry for entry in logged if entry.get("event") == "sentiment_fallback"]
    assert fallback["error"] in ("ClientError", "EndpointConnectionError", "ConnectTimeoutError")
    assert not any("awful" in json.dumps(entry) for entry in logged)  # no customer text in the log
    if failure == "service_error":
        stubber.deactivate()


def test_the_weekly_report_shows_each_incidents_status_as_of_its_writing(world):
    from functions import weekly_report

    for n, text in enumerate(COMPLAINTS):
        world.dm(f"psid-w{n}", f"m-w{n}", text, minutes=n * 2)
    [incident] = world.incidents()
    rows = lambda at: [(r["id"], r["status"]) for r in weekly_report.build(at)["incidents"]]  # noqa: E731
    assert rows(T0 + timedelta(minutes=20)) == [(incident["id"], "open")]
    assert rows(T0 + timedelta(days=7, hours=6)) == [(incident["id"], "quiet")]  # as the staff API says then
    assert resolve_incident(world, incident["id"]).status_code == 200
    assert rows(T0 + timedelta(days=7, hours=6)) == [(incident["id"], "resolved")]
