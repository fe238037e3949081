"""End to end, email handoff: ``python -m local.stack`` (what ``make run`` starts) over real HTTP.

A signed Telegram DM -> handed off by the ``[handoff]`` threshold -> the notice at the platform
simulator -> the customer's email dropped into the inbound bucket by ``local.simulator``'s ``email``
command (as the SES receipt rule stores it) -> the pump's S3 job -> on the conversation as an email
-> a staff reply by SES (moto's record at ``/moto-api/data.json``), threaded on the customer's mail.
"""
from __future__ import annotations

import email
import email.policy
import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from local.simulator import put_inbound_mail
from tests import payloads as p
from tests.integration.test_email_handoff import handoff_policy
from tests.localstack import LocalStack
from tests.signing import body, staff_headers, telegram_headers

POLICY = handoff_policy(after_messages=2)
CHAT = 615_001
ADDRESS = re.compile(r"support\+[a-z2-7]{26}@mail\.heed\.example")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    launched = LocalStack(POLICY, tick_seconds=1, log=os.environ.get("HEED_E2E_LOG", os.devnull)).start()
    yield launched
    assert launched.stop() == 0


def eventually(what: str, probe: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {seconds} s")


def sent_mails(stack: LocalStack) -> list[email.message.EmailMessage]:
    data = requests.get(f"{stack.emulator}/moto-api/data.json", timeout=10).json()
    return [email.message_from_string(m["raw_data"], policy=email.policy.default)
            for m in data.get("ses", {}).get("RawMessage", [])]


def conversation(stack: LocalStack, conversation_id: str) -> dict:
    answer = requests.get(f"{stack.api}/conversations/{conversation_id}", headers=staff_headers(), timeout=10)
    assert answer.status_code == 200
    return answer.json()


def test_a_dm_moves_to_email_and_back_and_forth(stack):
    now = int(time.time())
    for n, text in enumerate(("My parcel never came", "Order 12345, a week late")):
        raw = body(p.telegram_update(CHAT + n, CHAT, n + 1, text, date=now - 5 + n, first_name="Ana"))
        answer = requests.post(f"{stack.api}/webhooks/telegram", data=raw, headers=telegram_headers(), timeout=10)
        assert answer.json() == {"received": 1}

    # the threshold hands it off; the notice with the reply address reaches the platform
    def notice() -> list[str]:
        return [c["body"]["text"] for c in stack.sent()
                if "sendMessage" in c["path"] and str(c["body"]["chat_id"]) == str(CHAT)]
    [text] = eventually("the handoff notice at the simulator", notice)
    address = ADDRESS.search(text).group(0)
    [conv] = [c for c in stack.conversations() if c["customer"]["id"] == str(CHAT)]
    assert conv["channel"] == "email" and conv["handed_off_from"] == "dm"
    assert sent_mails(stack) == []  # no address known yet: no email

    # the customer writes to it: a raw mail in the inbound bucket, as SES stores it
    key = put_inbound_mail(address, "It's order 12345, please check the back door",
                           sender="Ana <ana@example.com>", endpoint_url=stack.emulator)
    assert key.startswith("mail/")

    def arrived() -> dict | None:
        found = conversation(stack, conv["id"])
        texts = [m["text"] for m in found["messages"] if m["direction"] == "in"]
        return found if "It's order 12345, please check the back door" in texts else None
    found = eventually("the email on the conversation", arrived)
    assert found["channel"] == "email" and found["message_count"] == 4  # two DMs, the notice, the mail
    mail_id = [m["id"] for m in found["messages"] if m["text"].startswith("It's order")][0]

    # a staff reply goes out by SES, threaded on the customer's mail, from the conversation's address
    answer = requests.post(f"{stack.api}/conversations/{conv['id']}/replies",
                           json={"text": "Found it: it ships today."}, headers=staff_headers(), timeout=10)
    assert answer.status_code == 202
    [mail] = eventually("the staff reply in moto's SES", lambda: sent_mails(stack))
    assert mail["To"] == "ana@example.com" and mail["Reply-To"] == address
    assert mail["In-Reply-To"].strip() == f"<{mail_id}>"
    assert mail.get_body(("plain",)).get_content().strip() == "Found it: it ships today."
    assert len(notice()) == 1  # went by email only; the platform heard nothing more
    done = eventually("the reply on the conversation",
                      lambda: (c := conversation(stack, conv["id"]))["sla"]["state"] == "met" and c)
    assert done["sla"]["policy"] == "email" and done["messages"][-1]["text"] == "Found it: it ships today."
