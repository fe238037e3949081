"""Platform send clients (``functions.outbound.platforms.send``) against the local simulator.

The simulator (``local/simulator.py``) runs in-process on a free port and knows
the local stage's credentials, so a wrong token or a bad OAuth 1.0a signature is
refused as the platform would. Every platform/channel shape is checked on the
recorded request (path, body, how it authenticated), then each kind of failure
is checked for how it is classified. Last, the simulator's CLI sends webhooks
that the API (``chalice.test.Client``) accepts.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from contextlib import redirect_stdout
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from functions.adapters import meta as meta_adapter
from functions.adapters import telegram as telegram_adapter
from functions.adapters import x as x_adapter
from functions.domain.echoes import marker
from functions.domain.outbound import OutboundMessage, SendFailed
from functions.outbound.platforms import send, transport
from local import simulator as sim_module
from local.simulator import KINDS, Credentials, Simulator, fingerprint
from local.stack import LOCAL_SECRETS
from tests import payloads as p
from tests.conftest import free_port
from tests.signing import staff_headers

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = {"facebook": p.PAGE_ID, "instagram": p.IG_ID, "whatsapp": p.WA_PHONE_ID, "x": p.X_BRAND,
            "telegram": "7000000001"}
TEXT = "Thanks Ana, we're on it"


@pytest.fixture
def sim(simulator, monkeypatch):
    """The simulator, emptied, with Heed's base URLs pointing at it."""
    simulator.reset()
    simulator.credentials = Credentials(dict(os.environ))
    for name, url in simulator.env().items():
        monkeypatch.setenv(name, url)
    yield simulator
    simulator.reset()


MARKER = marker("reply:test-1", automated=False)  # heed1:h:<hash>: names no customer, carries no text


def outbound(platform: str, channel: str = "dm", **fields) -> OutboundMessage:
    values = {"id": "reply:test-1", "kind": "reply", "conversation_id": "conv-1", "platform": platform,
              "channel": channel, "account_id": ACCOUNTS[platform], "customer_id": "5551234", "text": TEXT}
    values.update(fields)
    return OutboundMessage(**values)


def only_call(sim: Simulator) -> dict:
    calls = sim.sent()
    assert len(calls) == 1, calls
    return calls[0]


def failure(message: OutboundMessage) -> SendFailed:
    with pytest.raises(SendFailed) as caught:
        send(message)
    return caught.value


# ----------------------------------------------------------------- Meta: Messenger, Instagram, comments


def test_messenger_dm(sim):
    sent = send(outbound("facebook"))
    call = only_call(sim)
    assert call["path"] == f"/v21.0/{p.PAGE_ID}/messages"
    assert call["body"] == {"recipient": {"id": "5551234"}, "messaging_type": "RESPONSE",
                            "message": {"text": TEXT, "metadata": MARKER}}  # the marker comes back in the echo
    assert call["auth"] == {"scheme": "access_token", "token_sha256": fingerprint(LOCAL_SECRETS["META_PAGE_TOKEN"])}
    assert call["query"] == {}  # the token was there, and is not recorded
    assert sent.platform_message_id == call["response"]["message_id"] and sent.platform_message_id.startswith("m_")
    assert sent.raw == call["response"]


def test_messenger_human_agent_tag(sim):
    send(outbound("facebook", tag="HUMAN_AGENT"))
    body = only_call(sim)["body"]
    assert body["messaging_type"] == "MESSAGE_TAG" and body["tag"] == "HUMAN_AGENT"


def test_instagram_dm(sim):
    sent = send(outbound("instagram", customer_id="987654321"))
    call = only_call(sim)
    assert call["path"] == f"/v21.0/{p.IG_ID}/messages"
    assert call["body"]["recipient"] == {"id": "987654321"}
    assert sent.platform_message_id == call["response"]["message_id"]


@pytest.mark.parametrize("platform", ["facebook", "instagram"])
def test_private_reply_to_a_comment(sim, platform):
    send(outbound(platform, "comment", reply_to="1000000000001_2000000000002", private=True, tag="HUMAN_AGENT"))
    call = only_call(sim)
    assert call["path"] == f"/v21.0/{ACCOUNTS[platform]}/messages"
    assert call["body"] == {"recipient": {"comment_id": "1000000000001_2000000000002"},
                            "messaging_type": "RESPONSE", "message": {"text": TEXT, "metadata": MARKER}}


def test_facebook_public_comment_reply(sim):
    sent = send(outbound("facebook", "comment", reply_to="1000000000001_2000000000002"))
    call = only_call(sim)
    assert call["path"] == "/v21.0/1000000000001_2000000000002/comments"
    assert call["body"] == {"message": TEXT}
    assert call["auth"]["scheme"] == "access_token"
    assert sent.platform_message_id == call["response"]["id"]
    assert sent.platform_message_id.startswith("1000000000001_")


def test_instagram_public_comment_reply(sim):
    sent = send(outbound("instagram", "comment", reply_to="17890000000000001"))
    call = only_call(sim)
    assert call["path"] == "/v21.0/17890000000000001/replies"
    assert call["body"] == {"message": TEXT}
    assert sent.platform_message_id == call["response"]["id"]


def test_page_token_per_account_wins_over_the_default(sim, monkeypatch):
    monkeypatch.setenv(f"META_PAGE_TOKEN_{p.PAGE_ID}", "page-104-token")
    sim.credentials = Credentials(dict(os.environ))
    send(outbound("facebook"))
    assert only_call(sim)["auth"]["token_sha256"] == fingerprint("page-104-token")


def test_a_comment_reply_needs_the_comment(sim):
    refused = failure(outbound("facebook", "comment"))
    assert not refused.retryable and "reply_to" in refused.reason
    assert sim.sent() == []


# ----------------------------------------------------------------- WhatsApp


def test_whatsapp_text(sim):
    sent = send(outbound("whatsapp", customer_id="15551234567"))
    call = only_call(sim)
    assert call["path"] == f"/v21.0/{p.WA_PHONE_ID}/messages"
    assert call["body"] == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "15551234567",
                            "biz_opaque_callback_data": MARKER, "type": "text", "text": {"body": TEXT}}
    assert call["auth"] == {"scheme": "bearer", "token_sha256": fingerprint(LOCAL_SECRETS["WHATSAPP_TOKEN"])}
    assert sent.platform_message_id == call["response"]["messages"][0]["id"]
    assert sent.platform_message_id.startswith("wamid.")


def test_whatsapp_template_outside_the_window(sim):
    send(outbound("whatsapp", customer_id="15551234567", text="", template={"name": "hello_world",
                                                                          "language": "en_US"}))
    body = only_call(sim)["body"]
    assert body["type"] == "template"
    assert body["template"] == {"name": "hello_world", "language": {"code": "en_US"}}
    assert "text" not in body


# ----------------------------------------------------------------- X


def test_x_dm(sim):
    sent = send(outbound("x", customer_id="2244994945"))
    call = only_call(sim)
    assert call["path"] == "/2/dm_conversations/with/2244994945/messages"
    assert call["body"] == {"text": TEXT}
    assert call["auth"]["scheme"] == "oauth1" and call["auth"]["signature_method"] == "HMAC-SHA1"
    assert call["auth"]["signature"] == "valid"  # checked against the local secrets
    assert call["auth"]["consumer_key_sha256"] == fingerprint(LOCAL_SECRETS["X_CONSUMER_KEY"])
    assert call["auth"]["token_sha256"] == fingerprint(LOCAL_SECRETS["X_ACCESS_TOKEN"])
    assert call["status"] == 201
    assert sent.platform_message_id == call["response"]["data"]["dm_event_id"]


def test_x_reply_to_a_mention(sim):
    sent = send(outbound("x", "mention", reply_to="1790000000000000001"))
    call = only_call(sim)
    assert call["path"] == "/2/tweets"
    assert call["body"] == {"text": TEXT, "reply": {"in_reply_to_tweet_id": "1790000000000000001"}}
    assert call["auth"]["signature"] == "valid"
    assert sent.platform_message_id == call["response"]["data"]["id"]


def test_x_access_token_per_account(sim, monkeypatch):
    monkeypatch.setenv(f"X_ACCESS_TOKEN_{p.X_BRAND}", f"{p.X_BRAND}-brand-token")
    monkeypatch.setenv(f"X_ACCESS_TOKEN_SECRET_{p.X_BRAND}", "brand-token-secret")
    sim.credentials = Credentials(dict(os.environ))
    send(outbound("x"))
    auth = only_call(sim)["auth"]
    assert auth["token_sha256"] == fingerprint(f"{p.X_BRAND}-brand-token") and auth["signature"] == "valid"


def test_x_bad_signature_is_not_retryable(sim, monkeypatch):
    monkeypatch.setenv("X_CONSUMER_SECRET", "not-the-consumer-secret")
    refused = failure(outbound("x"))
    assert (refused.retryable, refused.status) == (False, 401)
    assert only_call(sim)["auth"]["signature"] == "invalid"


# ----------------------------------------------------------------- Telegram


def test_telegram_send_message(sim):
    sent = send(outbound("telegram", customer_id="42", reply_to="42:7"))
    call = only_call(sim)
    assert call["path"] == "/bot<redacted>/sendMessage"  # the token is in the real path, never in the record
    assert call["body"] == {"chat_id": 42, "text": TEXT,
                            "reply_parameters": {"message_id": 7, "allow_sending_without_reply": True}}
    assert call["auth"] == {"scheme": "bot_token", "token_sha256": fingerprint(LOCAL_SECRETS["TELEGRAM_BOT_TOKEN"])}
    assert sent.platform_message_id == f"42:{call['response']['result']['message_id']}"


# ----------------------------------------------------------------- ids match what the webhooks carry


def test_sent_ids_are_the_ids_the_echo_webhooks_carry(sim):
    """The stored outbound message and its echo share the key, so the echo deduplicates."""
    mid = send(outbound("facebook")).platform_message_id
    echo = p.meta("page", p.messenger_entry(p.messenger_event("5551234", mid, TEXT, echo=True)))
    [parsed] = meta_adapter.parse(json.dumps(echo).encode())
    assert (parsed.platform_message_id, parsed.direction) == (mid, "out")

    event_id = send(outbound("x", customer_id="2244994945")).platform_message_id
    own_dm = p.x_dms(p.x_dm(event_id, p.X_BRAND, "2244994945", TEXT))
    [parsed] = x_adapter.parse(json.dumps(own_dm).encode())
    assert (parsed.platform_message_id, parsed.direction) == (event_id, "out")

    sent = send(outbound("telegram", customer_id="42"))
    result = sim.sent()[-1]["response"]["result"]
    [parsed] = telegram_adapter.parse(json.dumps({"update_id": 1, "message": result}).encode(), "7000000001")
    assert (parsed.platform_message_id, parsed.direction) == (sent.platform_message_id, "out")


# ----------------------------------------------------------------- failures


def test_meta_429_with_retry_after_is_retryable(sim):
    sim.fail("messenger", 429, retry_after=30)
    refused = failure(outbound("facebook"))
    assert (refused.retryable, refused.status, refused.retry_after) == (True, 429, 30)
    assert "rate limited" in refused.reason and "613" in refused.reason


def test_meta_rate_limit_code_on_a_400_is_retryable(sim):
    sim.fail("meta", 400, code=4)
    refused = failure(outbound("facebook"))
    assert (refused.retryable, refused.status) == (True, 400)


@pytest.mark.parametrize("platform, match", [("facebook", "meta"), ("whatsapp", "whatsapp"), ("x", "x"),
                                             ("telegram", "telegram")])
def test_500_is_retryable(sim, platform, match):
    sim.fail(match, 500)
    refused = failure(outbound(platform, customer_id="42"))
    assert (refused.retryable, refused.status) == (True, 500)


def test_messenger_outside_the_window_is_not_retryable(sim):
    sim.fail("messenger", 403)
    refused = failure(outbound("facebook"))
    assert (refused.retryable, refused.status) == (False, 403)
    assert "outside the allowed messaging window" in refused.reason and "10/2018278" in refused.reason


def test_whatsapp_outside_the_window_is_not_retryable(sim):
    sim.fail("whatsapp", 403)
    refused = failure(outbound("whatsapp"))
    assert not refused.retryable and "24-hour" in refused.reason


def test_bad_page_token_is_not_retryable(sim, monkeypatch):
    monkeypatch.setenv("META_PAGE_TOKEN", "expired-token")
    refused = failure(outbound("facebook"))
    assert not refused.retryable and "access token invalid" in refused.reason and "190" in refused.reason


def test_x_403_is_not_retryable(sim):
    sim.fail("x", 403)
    refused = failure(outbound("x"))
    assert (refused.retryable, refused.status) == (False, 403) and "not permitted" in refused.reason


def test_x_429_waits_for_the_rate_limit_reset(sim):
    sim.fail("/2/dm_conversations", 429, retry_after=120)
    refused = failure(outbound("x"))
    assert refused.retryable and refused.status == 429
    assert 118 <= refused.retry_after <= 121  # x-rate-limit-reset is whole epoch seconds


def test_telegram_429_uses_retry_after_from_the_body(sim):
    sim.fail("telegram", 429, retry_after=7)
    refused = failure(outbound("telegram", customer_id="42"))
    assert (refused.retryable, refused.status, refused.retry_after) == (True, 429, 7)


def test_telegram_blocked_by_the_user_is_not_retryable(sim):
    sim.fail("telegram", 403)
    refused = failure(outbound("telegram", customer_id="42"))
    assert (refused.retryable, refused.status) == (False, 403) and "blocked" in refused.reason


def test_timeout_is_retryable(sim, monkeypatch):
    monkeypatch.setenv("HEED_HTTP_READ_TIMEOUT", "0.2")
    sim.fail("telegram", delay=1.0)
    started = time.monotonic()
    refused = failure(outbound("telegram", customer_id="42"))
    assert time.monotonic() - started < 0.9
    assert refused.retryable and "timeout" in refused.reason and refused.status is None


def test_connection_refused_is_retryable(sim, monkeypatch):
    monkeypatch.setenv("X_API_URL", f"http://127.0.0.1:{free_port()}")
    refused = failure(outbound("x"))
    assert refused.retryable and "connection failed" in refused.reason


def test_a_failed_call_carries_no_url_or_token(sim, monkeypatch):
    monkeypatch.setenv("META_GRAPH_URL", f"http://127.0.0.1:{free_port()}/v21.0")  # the URL would carry the token
    refused = failure(outbound("facebook"))
    assert refused.retryable and refused.__context__ is None and refused.__cause__ is None
    assert LOCAL_SECRETS["META_PAGE_TOKEN"] not in "".join(traceback.format_exception(refused))


def test_failures_count_down_and_match_paths(sim):
    sim.fail("/comments", 500, times=2)
    for _ in range(2):
        assert failure(outbound("facebook", "comment", reply_to="1_2")).retryable
    send(outbound("facebook"))  # not matched
    send(outbound("facebook", "comment", reply_to="1_2"))  # used up
    assert [call["status"] for call in sim.sent()] == [500, 500, 200, 200]


def test_missing_credentials_are_retryable_and_named(sim, monkeypatch):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
    refused = failure(outbound("telegram", customer_id="42"))
    assert refused.retryable and "TELEGRAM_BOT_TOKEN" in refused.reason
    assert sim.sent() == []


@pytest.mark.parametrize("message", [
    outbound("facebook", text="x" * 2001),
    outbound("instagram", text="é" * 501),  # 1002 bytes UTF-8
    outbound("telegram", text="x" * 4097),
    outbound("x", text="   "),
])
def test_text_over_the_platform_limit_is_refused_before_sending(sim, message):
    refused = failure(message)
    assert not refused.retryable and sim.sent() == []


def test_no_text_tokens_or_customer_ids_in_reasons_or_logs(sim, monkeypatch):
    secret_text = "my card number is 4111 1111"
    stdout = io.StringIO()
    with redirect_stdout(stdout):
        send(outbound("facebook", text=secret_text, customer_id="555000111"))
        sim.fail("telegram", 403)
        refused = failure(outbound("telegram", text=secret_text, customer_id="555000222"))
        monkeypatch.setenv("X_API_URL", f"http://127.0.0.1:{free_port()}")
        refused_x = failure(outbound("x", text=secret_text, customer_id="555000333"))
    logged = stdout.getvalue()
    assert [json.loads(line)["event"] for line in logged.splitlines()] == [
        "platform_sent", "platform_send_failed", "platform_send_failed"]
    for leak in (secret_text, "555000111", "555000222", "555000333", *LOCAL_SECRETS.values()):
        assert leak not in logged and leak not in refused.reason and leak not in refused_x.reason


def test_one_session_per_process_and_timeouts_from_the_environment(sim, monkeypatch):
    first = transport.session()
    send(outbound("telegram", customer_id="42"))
    assert transport.session() is first
    monkeypatch.setenv("HEED_HTTP_CONNECT_TIMEOUT", "1.5")
    monkeypatch.delenv("HEED_HTTP_READ_TIMEOUT", raising=False)
    assert transport.timeouts() == (1.5, 10.0)


def test_retry_after_header_forms():
    now = 1_800_000_000.0
    assert transport.retry_after_header({"Retry-After": "120"}, now) == 120
    assert transport.retry_after_header({"Retry-After": formatdate(now + 45, usegmt=True)}, now) == 45
    assert transport.retry_after_header({"Retry-After": formatdate(now - 45, usegmt=True)}, now) == 0
    assert transport.retry_after_header({"Retry-After": "soon"}, now) is None
    assert transport.retry_after_header({}, now) is None


def test_import_app_does_not_import_requests():
    probe = "import sys, app, functions.outbound.platforms; print('requests' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------- the simulator's own endpoints


def test_simulator_control_endpoints(sim):
    def call(method, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(sim.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert call("POST", "/_sim/failures", {"status": 429})[0] == 400  # no match
    assert call("POST", "/_sim/failures", {"match": "x"})[0] == 400  # neither status nor delay
    status, spec = call("POST", "/_sim/failures", {"match": "telegram", "status": 500, "times": 1})
    assert status == 201 and spec["remaining"] == 1
    assert failure(outbound("telegram", customer_id="42")).status == 500
    assert call("GET", "/_sim/sent")[1]["sent"][0]["failure"]["status"] == 500
    assert call("POST", "/_sim/reset", {}) == (200, {"reset": True})
    assert call("GET", "/_sim/sent") == (200, {"sent": []})
    assert call("GET", "/_sim/failures") == (200, {"failures": []})


# ----------------------------------------------------------------- the CLI's webhooks


@pytest.fixture
def api_over_http(client):
    """A loopback HTTP server handing each request to ``chalice.test.Client``: what `make run` serves."""
    lock = threading.Lock()

    class Bridge(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                answer = client.http.post(self.path, headers=dict(self.headers.items()), body=raw)
            self.send_response(answer.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Bridge)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_cli_sends_webhooks_the_api_accepts(api_over_http, client):
    for kind in KINDS:
        out = io.StringIO()
        with redirect_stdout(out):
            code = sim_module.main(["send", kind, f"Where is my order? ({kind})", "--customer", "Ana Lima",
                                    "--api", api_over_http])
        printed = out.getvalue().splitlines()[-1]  # the API's own log lines come first (same process here)
        assert code == 0, out.getvalue()
        assert printed.startswith(f"{kind} from Ana Lima: 200 ")
        assert json.loads(printed.split(": 200 ", 1)[1]) == {"received": 1}
    # The same customer again: the same conversation.
    with redirect_stdout(io.StringIO()):
        assert sim_module.main(["send", "telegram", "Any news?", "--customer", "Ana Lima",
                                "--api", api_over_http]) == 0
    conversations = client.http.get("/conversations?limit=100", headers=staff_headers()).json_body["conversations"]
    assert len(conversations) == len(KINDS)
    telegram = next(c for c in conversations if c["platform"] == "telegram")
    assert telegram["message_count"] == 2 and telegram["customer"]["name"] == "Ana Lima"
    assert {(c["platform"], c["channel"]) for c in conversations} == {
        ("telegram", "dm"), ("facebook", "dm"), ("instagram", "dm"), ("whatsapp", "dm"), ("x", "dm"),
        ("x", "mention"), ("facebook", "comment"), ("instagram", "comment")}


def test_cli_webhook_signatures_are_checked(client):
    path, headers, raw = sim_module.webhook("messenger", "hello", env={"META_APP_SECRET": "some-other-secret"})
    assert client.http.post(path, headers=headers, body=raw).status_code == 403


def test_cli_fail_sent_and_reset_talk_to_the_simulator(sim):
    def run(*argv):
        out = io.StringIO()
        with redirect_stdout(out):
            assert sim_module.main([*argv, "--sim", sim.url]) == 0
        return out.getvalue()

    assert json.loads(run("fail", "telegram", "429", "--retry-after", "3"))["retry_after"] == 3
    assert failure(outbound("telegram", customer_id="42")).retry_after == 3
    send(outbound("telegram", customer_id="42"))
    listing = run("sent").splitlines()
    assert len(listing) == 2 and "-> 429 (injected)" in listing[0] and f"-> 200: {TEXT!r}" in listing[1]
    assert "<redacted>" in listing[1] and LOCAL_SECRETS["TELEGRAM_BOT_TOKEN"] not in run("sent", "--json")
    run("reset")
    assert run("sent") == "nothing sent yet\n"
