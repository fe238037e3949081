"""Acknowledgements and staff replies through the real entry points, to the local platform simulator.

Webhook route -> table stream handler (clocks, acknowledgement queued) ->
outbound queue -> ``deliver_outbound`` (the SQS consumer, fed the way the local
pump feeds it) -> platform client -> simulator, which records every call and
can fail on demand. Time is frozen with time-machine; moving it on also makes
SQS messages whose visibility was pushed back (backoff) visible again.
"""
from __future__ import annotations

import json
import os
import urllib.request
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import time_machine

from local.pump import OutboundQueue, TableStream
from local.simulator import Credentials, webhook
from tests import payloads as p
from tests.faults import answer_lost
from tests.integration.test_webhooks import post
from tests.policy import ack_rule, acknowledge, ladder, policy_file, policy_in_force, sla_policy, use_policy
from tests.signing import body, meta_headers, staff_headers, telegram_headers

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
PAGER = "+15555550100"


def outbound_policy(reply: str) -> str:
    """1h clocks, one pager; every message acknowledged in English; ``reply`` "private" or "public" for comments."""
    return policy_file(sla_policy("always", "1h"), ladder(("0m", [PAGER])),
                       acknowledge(ack_rule("everything", reply=reply), language="en"))


POLICY = outbound_policy("private")


@pytest.fixture
def world(client, stack_env, simulator, tmp_path, monkeypatch):
    yield from running_world(World, POLICY, client, stack_env, simulator, tmp_path, monkeypatch)


def running_world(kind: type, policy: str, client, stack_env, simulator, tmp_path, monkeypatch):
    """A ``kind`` (World or a subclass) under ``policy``, the simulator wired in, time frozen at T0."""
    with policy_in_force(policy, tmp_path, monkeypatch):
        for name, url in simulator.env().items():
            monkeypatch.setenv(name, url)
        simulator.reset()
        simulator.credentials = Credentials(dict(os.environ))
        with time_machine.travel(T0, tick=False) as traveller:
            yield kind(client, stack_env, simulator, traveller)
        simulator.reset()
        simulator.echo_to = None


class World:
    def __init__(self, client, stack_env, simulator, traveller):
        self.client, self.sim, self.traveller = client, simulator, traveller
        self.endpoint, self.table = stack_env["endpoint"], stack_env["table"]
        self.stream = TableStream(stack_env["table"])
        self.queue = OutboundQueue(stack_env["queue"])
        self.queue_url = stack_env["queue"]

    def at(self, minutes: float) -> None:
        self.traveller.move_to(T0 + timedelta(minutes=minutes))

    def run(self) -> None:
        """What the pump does each turn: stream, then queue, until both are quiet."""
        while self.stream.drain() + self.queue.drain():
            pass

    def telegram(self, update_id: int, chat: int, text: str, minutes: float = 0, is_bot: bool = False) -> None:
        raw = body(p.telegram_update(update_id, chat, update_id, text, date=int((T0 + timedelta(minutes=minutes))
                                                                               .timestamp()), is_bot=is_bot))
        assert post(self.client, "/webhooks/telegram", raw, telegram_headers())[0] == 200

    def messenger(self, psid: str, mid: str, minutes: float, echo: bool = False) -> tuple[int, dict]:
        ts = int((T0 + timedelta(minutes=minutes)).timestamp() * 1000)
        raw = body(p.meta("page", p.messenger_entry(p.messenger_event(psid, mid, "hello", ts_ms=ts, echo=echo))))
        return post(self.client, "/webhooks/meta", raw, meta_headers(raw))

    def customer(self, kind: str, name: str, text: str = "hello", minutes: float = 0) -> None:
        """A customer message of ``kind`` (the simulator's signed webhook) from ``name``."""
        path, headers, raw = webhook(kind, text, customer=name, env=dict(os.environ),
                                     now=(T0 + timedelta(minutes=minutes)).timestamp())
        assert self.client.http.post(path, body=raw, headers=headers).status_code == 200

    def deliver_echoes(self) -> list[int]:
        """Post the platforms' echoes the simulator collected to Heed's webhooks; their ``received`` counts."""
        received = []
        for path, headers, raw in self.sim.take_echoes():
            answer = self.client.http.post(path, body=raw, headers=headers)
            assert answer.status_code == 200
            received.append(json.loads(answer.body)["received"])
        return received

    def outbound(self, outbound_id: str) -> dict:
        from functions.store import dynamo

        return dynamo.get_outbound(outbound_id) or {}

    def conversation(self, customer: str) -> dict:
        listed = json.loads(self.client.http.get("/conversations?limit=100", headers=staff_headers()).body)
        [conv] = [c for c in listed["conversations"] if c["customer"]["id"] == customer]
        return json.loads(self.client.http.get(f"/conversations/{conv['id']}", headers=staff_headers()).body)

    def reply(self, conversation_id: str, payload: dict, key: str | None = None) -> tuple[int, dict]:
        headers = {**staff_headers(), "Content-Type": "application/json", **({"Idempotency-Key": key} if key else {})}
        answer = self.client.http.post(f"/conversations/{conversation_id}/replies", body=json.dumps(payload),
                                       headers=headers)
        return answer.status_code, json.loads(answer.body)

    def sent(self, kind: str | None = None) -> list[dict]:
        return [c for c in self.sim.sent() if kind is None or kind in c["path"]]

    def sms(self) -> list[tuple[str, str]]:
        data = json.load(urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json"))
        return [(m["phone_number"], m["message"]) for m in data["sns"]["SMS"]]

    def dead_letters(self) -> int:
        sqs = boto3.client("sqs")
        dlq = sqs.list_queues()["QueueUrls"]
        return sum(int(sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["ApproximateNumberOfMessages"])
                       ["Attributes"]["ApproximateNumberOfMessages"]) for q in dlq if q != self.queue_url)


def test_one_acknowledgement_per_clock_and_it_stops_no_clock(world):
    for n in range(5):  # five messages in a row
        world.telegram(600_100 + n, 4242, f"hello? {n}", minutes=n * 0.1)
        world.run()
    [call] = world.sent("sendMessage")
    assert call["body"]["chat_id"] in (4242, "4242") and "Ana" in call["body"]["text"]
    conv = world.conversation("4242")
    assert conv["sla"]["running"] and conv["sla"]["state"] == "ok"  # Heed's own ack is not a response
    assert sorted(m["direction"] for m in conv["messages"]) == ["in"] * 5 + ["out"]


def test_bots_get_no_acknowledgement(world):
    world.telegram(600_200, 5151, "beep", is_bot=True)
    world.run()
    assert world.sent() == []


def test_staff_reply_is_sent_once_stored_once_and_stops_the_clock(world):
    world.messenger("psid-r1", "m_r1", 0)
    world.run()
    conv = world.conversation("psid-r1")
    world.sim.reset()
    world.at(10)
    for _ in range(2):  # a double click: the same Idempotency-Key
        status, answer = world.reply(conv["id"], {"text": "Hi! Your parcel left today."}, key="click-1")
        assert status == 202 and answer["status"] == "queued"
    world.run()
    [call] = world.sent("/messages")
    assert call["body"]["messaging_type"] == "RESPONSE" and call["body"]["recipient"] == {"id": "psid-r1"}
    after = world.conversation("psid-r1")
    assert after["sla"]["state"] == "met" and after["sla"]["response_seconds"] == 600
    mid = [m for m in after["messages"] if m["direction"] == "out" and m["text"].startswith("Hi!")][0]["id"]
    # Messenger echoes the reply back: it is the same message, stored once.
    assert world.messenger("psid-r1", mid, 10, echo=True) == (200, {"received": 0})


def test_human_agent_tag_after_24_hours_and_409_after_7_days(world):
    world.messenger("psid-w", "m_w", 0)
    world.run()
    conv = world.conversation("psid-w")
    world.sim.reset()
    world.at(25 * 60)
    assert world.reply(conv["id"], {"text": "Sorry for the wait"})[0] == 202
    world.run()
    [call] = world.sent("/messages")
    assert (call["body"]["messaging_type"], call["body"]["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    world.at(8 * 24 * 60)
    status, answer = world.reply(conv["id"], {"text": "Still there?"})
    assert status == 409 and "7 days" in answer["message"]


@pytest.mark.parametrize("payload, status", [
    ({"text": ""}, 400), ({"text": 5}, 400), ({"words": "hi"}, 400), ([], 400), ({"text": "x" * 2500}, 400),
    ({"text": "hi", "private": True}, 400),  # private applies to comments only
])
def test_bad_replies_are_4xx_and_queue_nothing(world, payload, status):
    world.messenger("psid-b", "m_b", 0)
    world.run()
    conv = world.conversation("psid-b")
    world.sim.reset()
    assert world.reply(conv["id"], payload)[0] == status
    world.run()
    assert world.sent() == []


def test_429_with_retry_after_then_success_is_sent_once(world):
    world.sim.fail("telegram", status=429, times=1, retry_after=30)
    world.telegram(600_300, 6161, "hi")
    world.run()
    [refused] = world.sent("sendMessage")
    assert refused["failure"]["status"] == 429
    world.at(0.25)  # before Retry-After (30 s): still invisible in the queue
    world.run()
    assert len(world.sent("sendMessage")) == 1
    for minutes in (1, 30):
        world.at(minutes)
        world.run()
    calls = world.sent("sendMessage")
    assert [c.get("failure", {}).get("status") for c in calls] == [429, None]  # refused once, accepted once
    assert world.conversation("6161")["delivery_failed"] is None


def test_policy_refusal_is_not_retried_shown_and_paged(world):
    world.sim.fail("telegram", status=403, times=-1)
    world.telegram(600_400, 7171, "hi")
    world.run()
    world.at(60)
    world.run()
    failure = world.conversation("7171")["delivery_failed"]
    assert failure["kind"] == "ack" and failure["reason"] and failure["outbound_id"].startswith("ack:")
    assert len(world.sim.sent()) == 1  # not retried
    [(phone, text)] = world.sms()
    assert phone == PAGER and text.startswith("Heed: Auto-acknowledgement to Telegram DM") and len(text) <= 160


def test_persistent_500_goes_to_the_dead_letter_queue_and_shows_on_the_conversation(world):
    world.sim.fail("telegram", status=500, times=-1)
    world.telegram(600_500, 8181, "hi")
    world.run()
    for hour in range(1, 10):  # well past every backoff
        world.at(hour * 60)
        world.run()
    assert len(world.sim.sent()) == 6  # one per receive, then SQS gives up
    assert world.conversation("8181")["delivery_failed"]["reason"]
    world.at(11 * 60)
    world.run()
    assert world.dead_letters() == 1


# (A timeout is ambiguous: on Telegram it is never sent again, on the echoing platforms the echo decides;
# test_telegram_has_no_echo_... and the echo tests below.)
@pytest.mark.parametrize("failure", [{"status": 500}, {"status": 429, "retry_after": 1}], ids=["500", "429"])
def test_500_or_429_then_success_is_sent_once(world, monkeypatch, failure):
    monkeypatch.setenv("HEED_HTTP_READ_TIMEOUT", "0.5")
    world.sim.fail("telegram", times=1, **failure)
    world.telegram(600_600, 9191, "hi")
    world.run()
    world.at(60)
    world.run()
    accepted = [c for c in world.sent("sendMessage") if not c.get("failure")]
    assert len(accepted) == 1  # (a timed-out call shows up once the simulator's delay is over)
    assert world.conversation("9191")["delivery_failed"] is None
    stored = [m for m in world.conversation("9191")["messages"] if m["direction"] == "out"]
    assert len(stored) == 1


def test_a_redelivered_queue_message_never_sends_twice(world):
    world.telegram(600_700, 9292, "hi")
    world.stream.drain()
    sqs = boto3.client("sqs")
    [queued] = sqs.receive_message(QueueUrl=world.queue_url, VisibilityTimeout=0)["Messages"]
    sqs.send_message(QueueUrl=world.queue_url, MessageBody=queued["Body"])  # SQS delivers it twice
    world.run()
    assert len(world.sent("sendMessage")) == 1


def test_a_claim_whose_answer_was_lost_is_still_ours_and_sends_once_at_once(world):
    # DynamoDB applied the claim but its answer was lost; botocore's retry finds the lease taken (by us).
    world.telegram(600_710, 9393, "hi")
    world.stream.drain()
    with answer_lost("UpdateItem", lambda n: n == 1, matching=b'"OUT#') as lost:
        world.queue.drain()
    assert lost == [1]
    assert len(world.sent("sendMessage")) == 1  # now, not after the lease ran out
    [outbound_id] = _outbound_ids(world)
    assert world.outbound(outbound_id)["status"] == "sent"
    world.at(30)
    world.run()
    assert len(world.sent("sendMessage")) == 1


def test_resolve_then_reopen(world):
    world.messenger("psid-ro", "m_ro", 0)
    world.run()
    conv = world.conversation("psid-ro")
    for action, status in (("resolve", "resolved"), ("reopen", "open")):
        answer = world.client.http.post(f"/conversations/{conv['id']}/{action}", headers=staff_headers())
        assert (answer.status_code, json.loads(answer.body)["status"]) == (200, status)
    listed = json.loads(world.client.http.get("/conversations?status=open", headers=staff_headers()).body)
    assert conv["id"] in [c["id"] for c in listed["conversations"]]
    missing = world.client.http.post("/conversations/cabcdefghijklmnopqrstuvwx/reopen", headers=staff_headers())
    assert missing.status_code == 404


def test_a_comment_is_acknowledged_with_a_private_reply_and_staff_can_answer_publicly(world):
    created = int(T0.timestamp())
    raw = body(p.meta("page", p.page_comment_entry(
        p.page_comment("post_9_c1", "post_9", "user-c", "Cleo", "Still waiting for my refund", created=created))))
    assert post(world.client, "/webhooks/meta", raw, meta_headers(raw)) == (200, {"received": 1})
    world.run()
    [ack] = world.sent("/messages")
    assert ack["body"]["recipient"] == {"comment_id": "post_9_c1"} and "Cleo" in ack["body"]["message"]["text"]
    conv = world.conversation("user-c")
    world.sim.reset()
    assert world.reply(conv["id"], {"text": "We've refunded you today, Cleo."})[0] == 202
    world.run()
    [public] = world.sent("/comments")
    assert "post_9_c1/comments" in public["path"] and public["body"]["message"].startswith("We've refunded")
    assert world.conversation("user-c")["sla"]["state"] == "met"


# --- a timeout after the platform acted: reconciled through the platform's echo (functions/domain/echoes.py)


def _accepted(calls: list[dict]) -> list[dict]:
    return [c for c in calls if 200 <= c["status"] < 300]


def _late_accept(world, match: str, monkeypatch) -> None:
    """The next ``match`` call is carried out, but answered after Heed's read timeout."""
    monkeypatch.setenv("HEED_HTTP_READ_TIMEOUT", "0.3")
    world.sim.echo_to = "collect"
    world.sim.fail(match, times=1, delay=0.8)


def _late_staff_reply(world, monkeypatch, match: str, conversation_id: str, text: str, key: str) -> None:
    """A staff reply whose send is carried out but answered too late; then its echo confirms it."""
    world.sim.reset()
    _late_accept(world, match, monkeypatch)
    world.at(5)
    assert world.reply(conversation_id, {"text": text}, key=key)[0] == 202
    world.run()
    _confirmed_by_echo(world)


def _confirmed_by_echo(world) -> None:
    """The echo of the send that timed out reaches Heed (stored, noted under its echo key); after the grace
    period the delivery finds it."""
    assert world.deliver_echoes() == [1]
    _settle(world)
    world.at(7)
    world.run()


def _settle(world) -> None:
    """Wait until the simulator has answered the call Heed gave up on (it is recorded then)."""
    import time

    time.sleep(0.9)


@pytest.mark.parametrize("kind, path", [
    ("messenger", "/messages"), ("instagram", "/messages"), ("whatsapp", "/messages"),
])
def test_meta_send_timed_out_but_accepted_is_confirmed_by_its_echo_not_resent(world, monkeypatch, kind, path):
    _late_accept(world, "meta", monkeypatch)
    world.customer(kind, f"Echo {kind}")
    world.run()  # the acknowledgement: carried out, answered too late
    assert world.deliver_echoes() in ([1], [0])  # Messenger/Instagram: the echo is a message; WhatsApp: a status
    _settle(world)
    world.at(2)  # past the echo grace period
    world.run()
    calls = _accepted(world.sent(path))
    assert len(calls) == 1  # not sent again
    conv = world.conversation(calls[0]["body"].get("to") or calls[0]["body"]["recipient"]["id"])
    [out] = [m for m in conv["messages"] if m["direction"] == "out"]
    assert conv["delivery_failed"] is None and conv["sla"]["running"]  # Heed's own ack stops no clock
    answer = calls[0]["response"]
    assert out["id"] == (answer.get("message_id") or answer.get("messages", [{}])[0].get("id"))


def test_x_dm_reply_timed_out_but_accepted_is_confirmed_by_its_echo(world, monkeypatch):
    world.customer("x-dm", "Echo X")
    world.run()  # the acknowledgement goes out normally
    conv = world.conversation([c for c in world.sent("/2/dm_conversations")][0]["path"].split("/")[4])
    _late_staff_reply(world, monkeypatch, "x", conv["id"], "Your refund is on its way.", "x-late")
    [call] = _accepted(world.sent("/2/dm_conversations"))
    after = world.conversation(conv["customer"]["id"])
    replies = [m for m in after["messages"] if m["direction"] == "out" and m["text"].startswith("Your refund")]
    assert [m["id"] for m in replies] == [call["response"]["data"]["dm_event_id"]]
    assert after["delivery_failed"] is None and after["sla"]["state"] == "met"  # a staff reply: a response
    assert world.outbound(f"reply:{conv['id']}:x-late")["confirmed_by"] == "echo"


def test_an_echo_from_before_the_attempt_or_taken_by_another_send_confirms_nothing(world, monkeypatch):
    # The same text to the same customer twice (an earlier reply already echoed): the late one is still sent.
    world.customer("x-dm", "Echo Twice")
    world.run()
    conv = world.conversation(world.sent("/2/dm_conversations")[0]["path"].split("/")[4])
    world.sim.echo_to = "collect"
    world.at(1)
    assert world.reply(conv["id"], {"text": "Same words"}, key="first")[0] == 202
    world.run()
    world.deliver_echoes()
    world.sim.reset()
    _late_accept(world, "x", monkeypatch)
    world.sim.echo_to = None  # this time the echo is lost
    world.at(10)
    assert world.reply(conv["id"], {"text": "Same words"}, key="second")[0] == 202
    world.run()
    _settle(world)
    world.at(12)
    world.run()
    assert len(_accepted(world.sent("/2/dm_conversations"))) == 2  # resent: the earlier echo is not its proof


def test_echo_lost_the_send_goes_again_once_after_the_grace_period(world, monkeypatch):
    _late_accept(world, "messenger", monkeypatch)
    world.customer("messenger", "Echo Lost")
    world.run()
    assert len(world.sim.take_echoes()) == 1  # ... and dropped: the platform's webhook never arrives
    _settle(world)
    world.at(0.5)  # within the grace period: nothing yet
    world.run()
    assert len(_accepted(world.sent("/messages"))) == 1
    world.at(2)
    world.run()
    calls = _accepted(world.sent("/messages"))
    assert len(calls) == 2  # at least once: sent again, once
    assert calls[0]["body"]["message"]["metadata"] == calls[1]["body"]["message"]["metadata"]
    world.deliver_echoes()  # the resend's echo: the message Heed stored already
    conv = world.conversation(calls[0]["body"]["recipient"]["id"])
    assert conv["delivery_failed"] is None
    assert len([m for m in conv["messages"] if m["direction"] == "out"]) == 1  # the lost first one was never stored
    world.at(30)
    world.run()
    assert len(_accepted(world.sent("/messages"))) == 2


def test_telegram_has_no_echo_a_timeout_after_it_acted_is_never_sent_again(world, monkeypatch):
    """The Bot API echoes nothing and can't list sent messages: a timed-out send may have gone out, so it is
    not sent again; the conversation says so and the queue message ends in the dead-letter queue."""
    _late_accept(world, "telegram", monkeypatch)
    world.telegram(600_800, 9393, "hi")
    world.run()
    assert world.sim.take_echoes() == []
    _settle(world)
    for minutes in (5, 10, 20, 30, 40, 50, 60):
        world.at(minutes)
        world.run()
    assert len(_accepted(world.sent("sendMessage"))) == 1  # carried out once, by the timed-out call
    failed = world.conversation("9393")["delivery_failed"]
    assert failed["kind"] == "ack" and "may have been delivered" in failed["reason"]
    assert "telegram" in failed["reason"] and "resend" in failed["reason"]
    assert world.dead_letters() == 1


# --- X echoes carry no automated/human marker: the delivery notes its intent before sending, so an echo that
# beats the delivery's own write is still recognised as Heed's acknowledgement (functions/domain/echoes.py).


def _item(world, message_id: str) -> dict:
    """The stored X message (``automated`` is not part of the staff API's view)."""
    answer = boto3.client("dynamodb").get_item(
        TableName=world.table, ConsistentRead=True,
        Key={"pk": {"S": f"MSG#x#{_x_brand()}#{message_id}"}, "sk": {"S": "MSG"}})
    return answer.get("Item", {})


def _x_brand() -> str:
    from local.simulator import accounts

    return accounts(dict(os.environ))["x"]


def _echo_before_record_sent(world, monkeypatch) -> None:
    """The race: the platform's echo reaches Heed's webhook after the send and before the delivery's write."""
    from functions.store import dynamo

    world.sim.echo_to = "collect"
    original = dynamo.record_sent

    def racing(*args, **kwargs):
        assert world.deliver_echoes() in ([], [1])
        return original(*args, **kwargs)

    monkeypatch.setattr(dynamo, "record_sent", racing)


def _out(conv: dict) -> list[dict]:
    return [m for m in conv["messages"] if m["direction"] == "out"]


@pytest.mark.parametrize("how", ["read-timeout", "race"])
@pytest.mark.parametrize("kind, path", [("x-dm", "/2/dm_conversations"), ("x-mention", "/2/tweets")])
def test_x_acknowledgement_echoed_before_it_is_recorded_stops_no_clock(world, monkeypatch, kind, path, how):
    """A DM's acknowledgement, and a mention's public one (an X reply)."""
    if how == "read-timeout":
        _late_accept(world, "x", monkeypatch)
    else:
        _echo_before_record_sent(world, monkeypatch)
    world.customer(kind, f"Echo Ack {kind} {how}")
    world.run()  # the acknowledgement goes out
    if how == "read-timeout":
        [(echo_path, headers, raw)] = world.sim.take_echoes()
        for expected in (1, 0):  # the echo is stored first (the platform delivers it twice: the same) ...
            answer = world.client.http.post(echo_path, body=raw, headers=headers)
            assert json.loads(answer.body)["received"] == expected
        _settle(world)
        world.at(2)
        world.run()  # ... and confirms the send
    [call] = _accepted(world.sent(path))
    listed = json.loads(world.client.http.get("/conversations?limit=100", headers=staff_headers()).body)
    [summary] = [c for c in listed["conversations"] if c["platform"] == "x"]
    conv = json.loads(world.client.http.get(f"/conversations/{summary['id']}", headers=staff_headers()).body)
    [out] = _out(conv)  # one outbound message: the echo and the delivery's record are the same
    assert out["id"] == (call["response"]["data"].get("dm_event_id") or call["response"]["data"]["id"])
    assert _item(world, out["id"])["automated"] == {"BOOL": True}
    assert conv["sla"]["running"] and conv["sla"]["state"] != "met"  # Heed's own ack is not a response
    world.at(3)
    world.run()
    assert len(_accepted(world.sent(path))) == 1 and world.deliver_echoes() == []


def test_x_staff_reply_echoed_before_it_is_recorded_is_the_response(world, monkeypatch):
    world.customer("x-dm", "Echo Staff")
    world.run()
    conv = world.conversation(world.sent("/2/dm_conversations")[0]["path"].split("/")[4])
    assert conv["sla"]["state"] != "met"
    _echo_before_record_sent(world, monkeypatch)
    world.at(5)
    assert world.reply(conv["id"], {"text": "Sorted, your parcel ships today."}, key="race")[0] == 202
    world.run()
    after = world.conversation(conv["customer"]["id"])
    replies = [m for m in _out(after) if m["text"].startswith("Sorted")]
    assert len(replies) == 1 and "automated" not in _item(world, replies[0]["id"])
    assert after["sla"]["state"] == "met"


def test_x_reply_typed_outside_heed_is_the_response(world):
    world.customer("x-dm", "Echo Typed")
    world.run()
    [ack] = world.sent("/2/dm_conversations")
    customer = ack["path"].split("/")[4]
    conv = world.conversation(customer)
    assert conv["sla"]["state"] != "met"
    world.at(5)
    ms = int((T0 + timedelta(minutes=5)).timestamp() * 1000)
    raw = body(p.x_dms(p.x_dm("typed-in-app-1", _x_brand(), customer, "Hi, on it!", ts_ms=ms),
                       for_user_id=_x_brand()))
    from tests.signing import x_headers

    assert post(world.client, "/webhooks/x", raw, x_headers(raw))[0] == 200
    world.run()
    after = world.conversation(customer)
    assert "automated" not in _item(world, "typed-in-app-1")
    assert after["sla"]["state"] == "met"


@pytest.mark.parametrize("kind", ["ack", "reply"])
def test_facebook_public_comment_reply_timed_out_but_accepted_is_confirmed_by_the_feed_echo(world, tmp_path,
                                                                                           monkeypatch, kind):
    if kind == "ack":  # acknowledge comments in public
        use_policy(outbound_policy("public"), tmp_path, monkeypatch, name="public.toml")
        _late_accept(world, "comments", monkeypatch)
    world.customer("facebook-comment", f"Echo Comment {kind}", "Where is my order?")
    world.run()
    conv = world.conversation(_commenter(world))
    if kind == "reply":
        _late_staff_reply(world, monkeypatch, "comments", conv["id"], "We've refunded you today.", "fb-late")
    else:
        _confirmed_by_echo(world)
    [call] = _accepted(world.sent("/comments"))  # not sent again
    after = world.conversation(conv["customer"]["id"])
    assert call["response"]["id"] in [m["id"] for m in _out(after)]
    assert len(_out(after)) == (1 if kind == "ack" else 2)  # (a reply: after the private acknowledgement)
    assert after["delivery_failed"] is None
    [outbound_id] = [i for i in _outbound_ids(world) if i.startswith(f"{kind}:")]
    assert world.outbound(outbound_id)["confirmed_by"] == "echo"
    if kind == "ack":  # Heed's own words: the clock keeps running
        assert after["sla"]["running"] and after["sla"]["state"] != "met"
    else:
        assert after["sla"]["state"] == "met"


def _commenter(world) -> str:
    listed = json.loads(world.client.http.get("/conversations?limit=100", headers=staff_headers()).body)
    [conv] = [c for c in listed["conversations"] if c["platform"] == "facebook" and c["channel"] == "comment"]
    return conv["customer"]["id"]


def _outbound_ids(world) -> list[str]:
    scan = boto3.client("dynamodb").scan(TableName=world.table, FilterExpression="begins_with(pk, :out)",
                                         ExpressionAttributeValues={":out": {"S": "OUT#"}})
    return [item["pk"]["S"][len("OUT#"):] for item in scan["Items"]]


def test_an_uncertain_staff_reply_keeps_the_clock_running_and_stays_shown_until_a_reply_goes_out(world, monkeypatch):
    """A staff reply left uncertain (Telegram timed out) is no response: the clock runs on and the
    conversation shows it. An automatic message going out doesn't hide it; a later staff reply does."""
    from functions.store import dynamo

    world.telegram(600_900, 9494, "hi")
    world.run()
    conv = world.conversation("9494")
    _late_accept(world, "sendMessage", monkeypatch)
    assert world.reply(conv["id"], {"text": "Your refund is on its way."}, key="r1")[0] == 202
    world.run()
    _settle(world)
    shown = world.conversation("9494")
    assert shown["delivery_failed"]["kind"] == "reply" and shown["sla"]["state"] != "met"
    assert len(world.sms()) == 1  # the ladder's first level hears that a person's answer may be missing
    dynamo.clear_delivery_failure(conv["id"], "ack")  # what an acknowledgement going out does
    assert world.conversation("9494")["delivery_failed"]["kind"] == "reply"
    monkeypatch.setenv("HEED_HTTP_READ_TIMEOUT", "5")
    assert world.reply(conv["id"], {"text": "Sorry, here it is again."}, key="r2")[0] == 202
    world.run()
    answered = world.conversation("9494")
    assert answered["delivery_failed"] is None and answered["sla"]["state"] == "met"
