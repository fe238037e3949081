"""Moving conversations to email, through the real routes and handlers against moto.

Webhook -> stream handler (handoff rules) -> outbound queue -> ``deliver_outbound``
-> the platform simulator (the notice) and moto's SES (the first email, staff
replies); inbound mail is written to the inbound bucket as SES's receipt rule
would and handed to ``handle_inbound_email`` by the local pump's S3 job.
"""
from __future__ import annotations

import email
import email.policy
import json
import re
from email.message import EmailMessage

import boto3
import pytest

from local.pump import InboundMail
from tests.integration.test_outbound import World, running_world
from tests.policy import acknowledge, policy_file, sla_policy, use_policy
from tests.signing import staff_headers

DOMAIN = "mail.heed.example"
CUSTOMER = "ana@example.com"


def handoff_policy(after_messages: int) -> str:
    """Email clocks 8h, chat 1h; a DM moves to email at ``after_messages`` customer messages or an address."""
    return policy_file(
        """
[brand]
name = "Heed Demo"
""",
        sla_policy("email", "8h", match={"channel": "email"}),
        sla_policy("chat", "1h"),
        f"""
[handoff]
after_messages = {after_messages}
on_email_address = true
""",
    )


POLICY = handoff_policy(after_messages=3)


@pytest.fixture
def mail_world(client, stack_env, tmp_path, monkeypatch, simulator):
    yield from running_world(MailWorld, POLICY, client, stack_env, simulator, tmp_path, monkeypatch)


class MailWorld(World):
    def __init__(self, client, stack_env, simulator, traveller):
        super().__init__(client, stack_env, simulator, traveller)
        self.bucket = stack_env["bucket"]
        self.inbound = InboundMail(self.bucket)
        self.failures_url = stack_env["inbound_failures"]
        self.objects = 0

    def run(self) -> None:
        while self.stream.drain() + self.queue.drain() + self.inbound.drain():
            pass

    def mails(self) -> list[EmailMessage]:
        from moto.backends import get_backend

        sent = get_backend("ses")["123456789012"]["us-east-1"].sent_messages
        return [email.message_from_string(m.raw_data, policy=email.policy.default) for m in sent]

    def receive(self, raw: bytes) -> None:
        """What SES's receipt rule does: the raw mail as a new object in the inbound bucket."""
        self.objects += 1
        boto3.client("s3").put_object(Bucket=self.bucket, Key=f"mail/obj{self.objects:04d}", Body=raw)
        self.run()

    def handoff(self, conversation_id: str, payload: dict | None = None) -> tuple[int, dict]:
        answer = self.client.http.post(f"/conversations/{conversation_id}/handoff",
                                       body=json.dumps(payload) if payload is not None else "",
                                       headers={**staff_headers(), "Content-Type": "application/json"})
        return answer.status_code, json.loads(answer.body)

    def conversation_of(self, chat: int) -> dict:
        return self.conversation(str(chat))

    def telegram_sent(self) -> list[str]:
        return [c["body"]["text"] for c in self.sent("sendMessage")]


def reply_mail(to: str, text: str, *, message_id: str, in_reply_to: str | None = None,
               sender: str = CUSTOMER, extra: dict | None = None, html: str | None = None) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Ana <{sender}>"
    mail["To"] = to
    mail["Subject"] = "Re: Your conversation"
    mail["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    mail["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        mail["In-Reply-To"] = f"<{in_reply_to}>"
        mail["References"] = f"<{in_reply_to}>"
    for name, value in (extra or {}).items():
        mail[name] = value
    if text:
        mail.set_content(text)
        if html:
            mail.add_alternative(html, subtype="html")
    elif html:
        mail.set_content(html, subtype="html")
    return mail.as_bytes()


def address_in(text: str) -> str:
    found = re.search(rf"support\+[a-z2-7]{{26}}@{re.escape(DOMAIN)}", text)
    assert found, "no reply address in the notice"
    return found.group(0)


def test_threshold_handoff_posts_the_address_once_and_moves_the_clock(mail_world):
    w = mail_world
    w.telegram(1, 501, "Where is my order?")
    w.telegram(2, 501, "It was due last week", minutes=1)
    w.run()
    assert w.telegram_sent() == []  # two messages: below the threshold, nothing said
    w.at(5)
    w.telegram(3, 501, "Hello??", minutes=5)
    w.run()
    [notice] = w.telegram_sent()
    address = address_in(notice)
    conv = w.conversation_of(501)
    assert (conv["channel"], conv["handed_off_from"]) == ("email", "dm")
    assert conv["sla"]["policy"] == "email" and conv["sla"]["kind"] == "first_response"
    assert conv["sla"]["started_at"] == "2026-11-23T09:00:00.000Z"  # not reset by the move
    assert conv["sla"]["due_at"] == "2026-11-23T17:00:00.000Z"  # the email target from the original start
    assert w.mails() == []  # no address known: no email
    w.telegram(4, 501, "Still there?", minutes=6)
    w.run()
    assert len(w.telegram_sent()) == 1  # handed off once: no second notice
    # the notice is Heed's own: it doesn't count as the brand's answer
    assert w.conversation_of(501)["sla"]["running"] is True
    assert address.startswith("support+")


def test_email_address_in_a_dm_sends_the_first_email_with_a_transcript(mail_world):
    w = mail_world
    w.telegram(1, 502, "My parcel never came, order 12345")
    w.telegram(2, 502, "You can mail me at Ana@Example.com", minutes=1)
    w.run()
    [notice] = w.telegram_sent()
    address = address_in(notice)
    assert CUSTOMER not in notice  # the customer's own address is never repeated back
    [mail] = w.mails()
    assert mail["To"] == CUSTOMER and mail["Reply-To"] == address
    assert mail["From"].addresses[0].addr_spec == f"support@{DOMAIN}"
    assert re.fullmatch(rf"<heed\.[a-z2-7]{{26}}\.[0-9a-f]{{16}}@{re.escape(DOMAIN)}>", mail["Message-ID"].strip())
    assert mail["Auto-Submitted"] == "auto-generated" and mail["X-Heed-Loop"]
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "order 12345" in plain and "order 12345" in html
    assert "<script" not in html
    conv = w.conversation_of(502)
    assert conv["channel"] == "email"
    automated = [m for m in conv["messages"] if m["direction"] == "out"]
    assert len(automated) == 2 and conv["sla"]["running"] is True  # notice + email, neither stops the clock


def test_staff_handoff_is_idempotent_and_checked(mail_world):
    w = mail_world
    w.telegram(1, 503, "Hi")
    w.run()
    conv_id = w.conversation_of(503)["id"]
    status, body = w.handoff(conv_id, {"email": "ana@example.com"})
    assert status == 200 and body["channel"] == "email" and body["handed_off_from"] == "dm"
    first_address = body["reply_address"]
    w.run()
    status, again = w.handoff(conv_id)
    w.run()
    assert status == 200 and again["reply_address"] == first_address
    assert len(w.telegram_sent()) == 1 and len(w.mails()) == 1  # nothing sent twice
    assert w.handoff("c" + "a" * 24)[0] == 404
    assert w.handoff(conv_id, {"email": "not an address"})[0] == 400
    assert w.handoff(conv_id, {"mail": "x@y.z"})[0] == 400


def test_staff_handoff_of_a_resolved_conversation_is_refused(mail_world):
    w = mail_world
    w.telegram(1, 504, "Hi")
    w.run()
    conv_id = w.conversation_of(504)["id"]
    assert w.client.http.post(f"/conversations/{conv_id}/resolve", headers=staff_headers()).status_code == 200
    status, body = w.handoff(conv_id)
    assert status == 409 and body["error"] == "conflict"


def _handed_off(w: MailWorld, chat: int) -> tuple[str, str, EmailMessage]:
    w.telegram(1, chat, "My parcel never came")
    w.telegram(2, chat, f"mail me: {CUSTOMER}", minutes=1)
    w.run()
    [mail] = w.mails()
    return w.conversation_of(chat)["id"], mail["Reply-To"], mail


def test_inbound_replies_thread_into_the_conversation(mail_world):
    w = mail_world
    conv_id, address, first = _handed_off(w, 505)
    root = first["Message-ID"].strip().strip("<>")
    w.at(2)  # the mails' Date is later than now: they count as sent when SES received them
    quoted = ("It's order 12345, delivered to the back door\n\nOn Mon, 23 Nov 2026 at 09:01, Heed Demo <"
              f"{address}> wrote:\n> Hello,\n> Thanks for getting in touch\n")
    w.receive(reply_mail(address, quoted, message_id="m1@example.com", in_reply_to=root))
    # multipart: the plain part wins; a signature is trimmed
    w.receive(reply_mail(address, "Second thing\n-- \nAna\nSent with love", message_id="m2@example.com",
                         html="<p>Second thing</p>"))
    # HTML only, threaded by In-Reply-To alone (the plus address lost by a forwarding client)
    w.receive(reply_mail(f"support@{DOMAIN}", "", message_id="m3@example.com", in_reply_to=root,
                         html="<div>Third &amp; last<br>Ana</div><div class=gmail_quote>old stuff</div>"))
    # the same mail again (SES retried, or the object was notified twice): stored once
    w.receive(reply_mail(address, quoted, message_id="m1@example.com", in_reply_to=root))
    conv = w.conversation_of(505)
    inbound = [m for m in conv["messages"] if m["direction"] == "in"]
    texts = [m["text"] for m in inbound]
    assert texts[2:] == ["It's order 12345, delivered to the back door", "Second thing", "Third & last\nAna"]
    assert [m["id"] for m in inbound[2:]] == ["m1@example.com", "m2@example.com", "m3@example.com"]
    assert conv["channel"] == "email" and conv["message_count"] == 7


def test_mail_from_another_address_is_stored_and_shows_who_wrote(mail_world, capsys):
    w = mail_world
    _, address, _ = _handed_off(w, 506)
    w.at(2)
    w.receive(reply_mail(address, "From Ana herself", message_id="own@example.com"))
    w.receive(reply_mail(address, "Her colleague here, same order", message_id="other@example.com",
                         sender="Colleague@Example.org"))
    messages = w.conversation_of(506)["messages"]
    by_id = {m["id"]: m for m in messages}
    assert (by_id["own@example.com"]["from"], by_id["own@example.com"]["channel"]) == (CUSTOMER, "email")
    assert by_id["other@example.com"]["from"] == "colleague@example.org"
    assert [m["channel"] for m in messages if m["direction"] == "in"][:2] == ["dm", "dm"]  # before the handoff
    assert all(m["from"] is None for m in messages if m["channel"] != "email")
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    others = [e for e in logged if e.get("event") == "email_from_other_sender"]
    assert len(others) == 1 and "colleague" not in json.dumps(others)  # no address in the logs


def test_forged_tokens_auto_replies_and_loops_are_dropped(mail_world, capsys):
    w = mail_world
    conv_id, address, first = _handed_off(w, 506)
    before = w.conversation_of(506)["message_count"]
    forged = f"support+{'a' * 26}@{DOMAIN}"
    w.receive(reply_mail(forged, "let me in", message_id="f1@example.com"))
    w.receive(reply_mail(address, "I am away until Monday", message_id="f2@example.com",
                         extra={"Auto-Submitted": "auto-replied"}))
    w.receive(reply_mail(address, "Newsletter", message_id="f3@example.com", extra={"Precedence": "bulk"}))
    w.receive(first.as_bytes())  # our own email coming back (a loop)
    assert w.conversation_of(506)["message_count"] == before
    reasons = [json.loads(line)["reason"] for line in capsys.readouterr().out.splitlines()
               if line.startswith("{") and '"email_dropped"' in line]
    assert reasons == ["unknown_token", "auto_submitted", "precedence_bulk", "loop_header"]
    assert len(w.mails()) == 1  # nothing answered any of them


def test_staff_email_reply_threads_and_keeps_the_first_response_time(mail_world):
    w = mail_world
    w.telegram(1, 507, "My parcel never came")  # T0: the clock starts
    w.at(10)
    w.telegram(2, 507, f"mail me: {CUSTOMER}", minutes=10)
    w.run()
    conv_id = w.conversation_of(507)["id"]
    address = w.mails()[0]["Reply-To"]
    w.at(20)
    w.receive(reply_mail(address, "Order 12345", message_id="c1@example.com"))
    w.at(30)
    status, queued = w.reply(conv_id, {"text": "Found it: it ships today."})
    assert status == 202
    w.run()
    mail = w.mails()[-1]
    assert mail["To"] == CUSTOMER and mail["Reply-To"] == address
    assert mail["In-Reply-To"].strip() == "<c1@example.com>"
    assert "c1@example.com" in mail["References"] and w.mails()[0]["Message-ID"].strip() in mail["References"]
    assert mail.get_body(("plain",)).get_content().strip() == "Found it: it ships today."
    assert "Auto-Submitted" not in mail
    conv = w.conversation_of(507)
    assert conv["sla"]["policy"] == "email" and conv["sla"]["state"] == "met"
    assert conv["sla"]["started_at"] == "2026-11-23T09:00:00.000Z"
    assert conv["sla"]["response_seconds"] == 30 * 60  # from the first message, across the move
    assert conv["messages"][-1]["text"] == "Found it: it ships today."
    assert w.telegram_sent() and not [t for t in w.telegram_sent() if "ships today" in t]  # went by email only


def test_ses_refusal_is_not_retried_and_shows_on_the_conversation(mail_world):
    w = mail_world
    conv_id, address, _ = _handed_off(w, 508)
    w.receive(reply_mail(address, "Order 1", message_id="r1@example.com"))
    boto3.client("ses").delete_identity(Identity=DOMAIN)  # the domain lost its verification
    try:
        assert w.reply(conv_id, {"text": "On its way"})[0] == 202
        w.run()
        conv = w.conversation_of(508)
        assert conv["delivery_failed"]["reason"].startswith("ses:MessageRejected")
        assert w.dead_letters() == 0 and len(w.mails()) == 1
    finally:
        boto3.client("ses").verify_domain_identity(Domain=DOMAIN)


def test_simulator_email_command_writes_mail_as_ses_would(mail_world, capsys):
    """``python -m local.simulator email``: a raw mail under ``mail/`` in the inbound bucket, picked up by the pump."""
    from local import simulator

    w = mail_world
    conv_id, address, first = _handed_off(w, 509)
    endpoint = w.endpoint
    w.at(2)
    assert simulator.main(["email", "--to", address, "--bucket", w.bucket, "--endpoint", endpoint,
                           "Order 12345, thanks"]) == 0
    # threaded by In-Reply-To alone: the plus address lost on the way
    root = first["Message-ID"].strip()
    assert simulator.main(["email", "--to", f"support@{DOMAIN}", "--in-reply-to", root, "--bucket", w.bucket,
                           "--endpoint", endpoint, "--from", "Ana <ana@example.com>", "And a second thing"]) == 0
    out = capsys.readouterr().out
    keys = re.findall(r"s3://[^/]+/(mail/\S+):", out)
    assert len(keys) == 2 and all(re.fullmatch(r"mail/[a-z0-9]{40}", k) for k in keys)  # SES's object names
    raw = boto3.client("s3").get_object(Bucket=w.bucket, Key=keys[0])["Body"].read()
    stored = email.message_from_bytes(raw, policy=email.policy.default)
    assert stored["Return-Path"] == "<ana@example.com>" and stored["X-SES-Spam-Verdict"] == "PASS"
    assert "inbound-smtp" in stored["Received"] and stored["To"] == address
    w.run()
    conv = w.conversation_of(509)
    assert {m["text"] for m in conv["messages"] if m["direction"] == "in"} >= {
        "And a second thing", "Order 12345, thanks"}
    assert conv["message_count"] == 6  # two DMs, the notice, the first email, two mails
    assert conv["id"] == conv_id and conv["channel"] == "email"


def test_failed_inbound_mail_is_retried_then_parked_for_replay(mail_world, monkeypatch, capsys):
    """A mail whose handling raised is not lost: retried by the pump, then in the on-failure queue, replayed."""
    from functions import inbound_mail
    from functions.store import dynamo

    w = mail_world
    conv_id, address, _ = _handed_off(w, 510)
    queue_url = w.failures_url
    pump = InboundMail(w.bucket, queue_url, max_attempts=3)
    real_save = dynamo.save
    failures = {"left": 1}

    def flaky_save(*args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("storage hiccup")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(dynamo, "save", flaky_save)
    boto3.client("s3").put_object(Bucket=w.bucket, Key="mail/flaky", Body=reply_mail(
        address, "Secret order 777", message_id="flaky@example.com"))
    assert pump.drain() == 0  # failed: left for the next turn
    assert pump.drain() == 1  # the retry stores it
    assert pump.drain() == 0  # and only once
    assert "Secret order 777" in {m["text"] for m in w.conversation_of(510)["messages"]}

    failures["left"] = 10  # keeps failing: parked after 3 attempts
    boto3.client("s3").put_object(Bucket=w.bucket, Key="mail/doomed", Body=reply_mail(
        address, "Secret order 888", message_id="doomed@example.com"))
    assert [pump.drain() for _ in range(4)] == [0, 0, 0, 0]
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"
    logged = capsys.readouterr().out
    events = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert [e["attempt"] for e in events if e.get("event") == "inbound_mail_failed"] == [1, 1, 2]
    [given_up] = [e for e in events if e.get("event") == "inbound_mail_given_up"]
    assert given_up["object_key"] == "mail/doomed" and given_up["attempts"] == 3 and given_up["queued"]
    assert "Secret order" not in logged and CUSTOMER not in logged and address not in logged

    failures["left"] = 0  # fixed: replay the parked event through the command
    assert inbound_mail.main(["replay", "--queue-url", queue_url]) == 0
    assert "1 replayed" in capsys.readouterr().out
    assert "Secret order 888" in {m["text"] for m in w.conversation_of(510)["messages"]}
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_dutch_conversations_get_the_notice_and_first_email_in_dutch(mail_world, tmp_path, monkeypatch):
    """Chosen like the acknowledgements: the policy file's ``[acknowledge] language``."""
    w = mail_world
    use_policy(policy_file(POLICY, acknowledge(language="nl")), tmp_path, monkeypatch, name="nl.toml")
    w.telegram(1, 511, "Mijn pakket is niet gekomen")
    w.telegram(2, 511, f"Mail me op {CUSTOMER}", minutes=1)
    w.run()
    [notice] = w.telegram_sent()
    assert "per e-mail" in notice and address_in(notice) and CUSTOMER not in notice
    [mail] = w.mails()
    assert mail["Subject"] == "Je gesprek met Heed Demo via Telegram"
    plain = mail.get_body(("plain",)).get_content()
    assert plain.startswith("Hoi ") and "Ons gesprek tot nu toe" in plain and "Mijn pakket" in plain
    assert "Ons gesprek tot nu toe" in mail.get_body(("html",)).get_content()


def test_an_address_given_after_the_handoff_sends_the_first_email_once(mail_world, capsys):
    w = mail_world
    for n, text in enumerate(("Where is my order?", "It was due last week", "Hello??")):
        w.telegram(n + 1, 512, text, minutes=n)
    w.run()
    [notice] = w.telegram_sent()  # handed off at the threshold, no address known: no email
    address = address_in(notice)
    assert w.mails() == []
    w.telegram(4, 512, f"ok, it's {CUSTOMER}", minutes=5)
    w.run()
    [mail] = w.mails()
    assert mail["To"] == CUSTOMER and mail["Reply-To"] == address
    assert "It was due last week" in mail.get_body(("plain",)).get_content()
    conv = w.conversation_of(512)
    assert conv["channel"] == "email" and conv["sla"]["running"] is True  # Heed's own email: clock runs on
    # another address later, or the same again, sends nothing more; so does a replayed stream batch
    w.telegram(5, 512, "or try other@example.org", minutes=6)
    w.telegram(6, 512, f"again: {CUSTOMER}", minutes=7)
    w.run()
    w.stream.iterators.clear()  # the stream handler sees every record again (a retried batch)
    w.run()
    assert len(w.mails()) == 1 and len(w.telegram_sent()) == 1
    logged = capsys.readouterr().out
    assert logged.count('"handoff_email_address_given"') == 1 and CUSTOMER not in logged
