"""A local stand-in for the platforms: Meta Graph, X and Telegram on one port, and a webhook sender.

Server (``make run`` starts it on 127.0.0.1:``HEED_SIM_PORT``, default 8025, and
points ``META_GRAPH_URL``, ``X_API_URL`` and ``TELEGRAM_API_URL`` at it):

* plays the send calls of ``functions/outbound/platforms``, checks them the way
  the platform would (the credential, the body's required fields, the text
  limits, X's OAuth 1.0a signature when it knows the secrets) and answers in
  the platform's shapes, ids included (``m_...`` mids, ``wamid....``,
  snowflakes, Telegram ``message_id``);
* records every call (method, path, query and JSON body with the credentials
  taken out, a fingerprint of the credential instead, status and answer):
  ``GET /_sim/sent``; ``POST /_sim/reset`` clears the calls and the failures;
* posts the platforms' echoes of the sends it accepted to Heed's API when
  ``echo_to`` is set (``make run`` sets it; ``HEED_SIM_ECHO_TO``, ``serve
  --echo-to``): Messenger/Instagram ``message_echoes`` with the ``metadata``
  sent, a WhatsApp ``sent`` status with the ``biz_opaque_callback_data`` sent,
  X DMs from the brand and its replies, each signed like the platform's;
  ``GET /_sim/echoes`` lists what was posted (path, body's sha256, Heed's status).
  Telegram has no echo. A call accepted with a late answer (``delay``, no
  ``status``) is carried out first, then answered late, echo included;
* fails on request: ``POST /_sim/failures`` with ``{"match": "<platform or path
  substring>", "status": 429|500|403|..., "times": 1, "retry_after": 30,
  "delay": 12}``: the next ``times`` matching calls wait ``delay`` seconds
  (longer than the client's read timeout: a timeout) and/or answer ``status``
  with the platform's error body (``body`` replaces it; ``code``/``subcode``
  set Meta's error code). Platforms: ``meta`` (every Graph call), ``messenger``
  (Send API), ``whatsapp``, ``comments``, ``x``, ``telegram``.
  ``GET /_sim/failures`` lists them.

CLI (``python -m local.simulator --help``): ``send KIND "text" [--customer NAME]``
posts a correctly signed webhook to the local API (the local secrets, or the
environment's), as the customer NAME (the same name is the same customer, so
the same conversation); ``email --to ADDRESS "text"`` writes a customer's mail
into the local inbound bucket under ``mail/`` as the SES receipt rule would
(the pump hands it to ``handle_inbound_email``); ``sent``, ``fail``, ``reset``
talk to a running simulator; ``serve`` runs one alone.

Throwaway local use only: it listens on loopback and trusts its caller.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import secrets as random
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping, Optional

DEFAULT_PORT = 8025
GRAPH_VERSION = "v21.0"

# The brand accounts of the local stage (the same ids as tests/payloads.py);
# HEED_SIM_<PLATFORM>_ACCOUNT overrides, e.g. HEED_SIM_FACEBOOK_ACCOUNT.
LOCAL_ACCOUNTS = {
    "facebook": "104612345678901",
    "instagram": "17841400000000001",
    "whatsapp": "106540352242922",
    "x": "3001969357",
}
DEMO_POST = "1000000000001"  # the Page post local Facebook comments are made on
DEMO_MEDIA = "17900000000000001"  # the Instagram media local comments are made on
PLATFORMS = ("meta", "messenger", "whatsapp", "comments", "x", "telegram")

Json = dict[str, Any]


def fingerprint(credential: str) -> str:
    """What the recorder shows instead of a credential: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(credential.encode()).hexdigest()[:16]


def snowflake() -> str:
    """An X-style id: milliseconds since X's epoch, shifted, plus random low bits."""
    return str(((int(time.time() * 1000) - 1288834974657) << 22) | random.randbits(22))


class _Ids:
    """Telegram message ids: increasing per process, seeded from the clock (unique across restarts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, int(time.time() * 1000) % 2_000_000_000)
            return self._last


_telegram_ids = _Ids()


class Credentials:
    """The credentials the simulator accepts; a kind with none configured accepts any."""

    def __init__(self, env: Optional[Mapping[str, str]] = None) -> None:
        env = env or {}

        def values(prefix: str) -> set[str]:
            return {v for k, v in env.items() if v and (k == prefix or k.startswith(f"{prefix}_"))}

        self.meta = values("META_PAGE_TOKEN")
        self.whatsapp = values("WHATSAPP_TOKEN")
        self.telegram = {v for k, v in env.items() if k == "TELEGRAM_BOT_TOKEN" and v}
        consumer = env.get("X_CONSUMER_KEY")
        self.x_consumers = {consumer: env.get("X_CONSUMER_SECRET", "")} if consumer else {}
        self.x_tokens: dict[str, str] = {}
        for name, token in env.items():
            if name == "X_ACCESS_TOKEN" or (name.startswith("X_ACCESS_TOKEN_")
                                            and not name.startswith("X_ACCESS_TOKEN_SECRET")):
                suffix = name[len("X_ACCESS_TOKEN"):]
                self.x_tokens[token] = env.get(f"X_ACCESS_TOKEN_SECRET{suffix}", "")


class Simulator:
    """The simulator server on a thread: ``start()``, ``url``, ``sent()``, ``fail(...)``, ``reset()``, ``stop()``."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", env: Optional[Mapping[str, str]] = None,
                 echo_to: Optional[str] = None) -> None:
        from local.stack import LOCAL_SECRETS

        self.credentials = Credentials(env)
        self.instagram_accounts = {accounts(env or {})["instagram"]}
        self.signing = {**LOCAL_SECRETS, **(env or {})}  # the webhook secrets echoes are signed with
        self.x_account = accounts(env or {})["x"]
        self.facebook_page = accounts(env or {})["facebook"]
        # Echoes of accepted sends, as the platforms post them: None (off), "collect" (kept for
        # take_echoes()) or Heed's API base URL (posted there, like Meta's and X's webhooks).
        self.echo_to = echo_to
        self.echo_delay = 0.5  # seconds before an echo is posted (platform webhooks trail the API's answer)
        self.echoes: list[tuple[str, dict[str, str], bytes]] = []
        self.echoes_posted: list[Json] = []  # {"path", "sha256", "status"} of each echo posted to echo_to
        self.calls: list[Json] = []
        self.failures: list[Json] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), _Handler)
        self.server.daemon_threads = True
        self.server.simulator = self  # type: ignore[attr-defined]
        self.thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The base URLs that send Heed's platform calls here."""
        return {"META_GRAPH_URL": f"{self.url}/{GRAPH_VERSION}", "X_API_URL": self.url, "TELEGRAM_API_URL": self.url}

    def start(self) -> Simulator:
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.1,), name="heed-simulator",
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sent(self) -> list[Json]:
        with self.lock:
            return [dict(call) for call in self.calls]

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.failures.clear()
            self.echoes.clear()
            self.echoes_posted.clear()

    def take_echoes(self) -> list[tuple[str, dict[str, str], bytes]]:
        """The echoes collected so far (``echo_to="collect"``), as ``(path, headers, body)``; forgets them."""
        with self.lock:
            taken, self.echoes[:] = list(self.echoes), []
        return taken

    def _echo(self, route: Json, body: Json, answer: Json) -> None:
        """The platform's webhook for a send it carried out, if the platform sends one (Telegram doesn't)."""
        if not self.echo_to:
            return
        built = echo_webhook(route, body, answer, self.signing, self.instagram_accounts, self.x_account,
                             self.facebook_page)
        if built is None:
            return
        if self.echo_to == "collect":
            with self.lock:
                self.echoes.append(built)
            return
        threading.Thread(target=self._post_echo, args=(built,), daemon=True, name="heed-sim-echo").start()

    def _post_echo(self, built: tuple[str, dict[str, str], bytes]) -> None:
        path, headers, raw = built
        time.sleep(self.echo_delay)
        request = urllib.request.Request(str(self.echo_to).rstrip("/") + path, data=raw, headers=headers,
                                         method="POST")
        status = 0  # no answer
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status = answer.status
        except urllib.error.HTTPError as refused:
            status = refused.code
        except OSError:
            pass  # a lost echo: Heed sends again after its grace period (what a platform's lost webhook does)
        with self.lock:
            self.echoes_posted.append({"path": path, "sha256": hashlib.sha256(raw).hexdigest(), "status": status})

    def fail(self, match: str, status: Optional[int] = None, times: int = 1, retry_after: Optional[float] = None,
             delay: float = 0, body: Any = None, code: Optional[int] = None, subcode: Optional[int] = None) -> Json:
        """Make the next ``times`` calls matching ``match`` fail (``times=-1``: until reset)."""
        spec = _failure({"match": match, "status": status, "times": times, "retry_after": retry_after,
                         "delay": delay, "body": body, "code": code, "subcode": subcode})
        with self.lock:
            self.failures.append(spec)
        return spec

    def _take_failure(self, labels: set[str], path: str) -> Optional[Json]:
        with self.lock:
            for spec in self.failures:
                match = spec["match"]
                hit = match in labels if match in PLATFORMS else match in path
                if hit and spec["remaining"] != 0:
                    spec["remaining"] -= 1
                    return dict(spec)
        return None

    def _record(self, call: Json) -> None:
        with self.lock:
            call["seq"] = len(self.calls) + 1
            self.calls.append(call)


def _failure(raw: Any) -> Json:
    """Validate a failure spec (from ``POST /_sim/failures`` or :meth:`Simulator.fail`)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("match"), str) or not raw["match"]:
        raise ValueError('a failure needs "match": a platform (meta, messenger, whatsapp, comments, x, telegram) '
                         "or a path substring")
    status = raw.get("status")
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        raise ValueError('"status" must be an HTTP error status (400-599)')
    delay = float(raw.get("delay") or 0)
    if status is None and delay <= 0:
        raise ValueError('a failure needs "status" or a positive "delay"')
    times = int(raw.get("times", 1) if raw.get("times") is not None else 1)
    if times == 0 or times < -1:
        raise ValueError('"times" must be a positive count, or -1 for every call')
    retry_after = raw.get("retry_after")
    return {"match": raw["match"], "status": status, "times": times, "remaining": times,
            "retry_after": None if retry_after is None else float(retry_after), "delay": delay,
            "body": raw.get("body"), "code": raw.get("code"), "subcode": raw.get("subcode")}


# --------------------------------------------------------------------------- the HTTP side

TELEGRAM_ROUTE = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
X_DM_ROUTE = re.compile(r"^/2/dm_conversations/with/(?P<participant>[^/]+)/messages$")
GRAPH_ROUTE = re.compile(r"^(?:/v\d+\.\d+)?/(?P<node>[^/]+)/(?P<edge>messages|comments|replies)$")


class Answer(Exception):
    """Ends a platform call with ``status`` and ``body`` (and extra headers)."""

    def __init__(self, status: int, body: Any, headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


class _Handler(BaseHTTPRequestHandler):
    server_version = "HeedSimulator/1"
    protocol_version = "HTTP/1.1"

    @property
    def sim(self) -> Simulator:
        return self.server.simulator  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # GET /_sim/sent is the log

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_sim/sent":
            return self._reply(200, {"sent": self.sim.sent()})
        if path == "/_sim/echoes":
            with self.sim.lock:
                return self._reply(200, {"echoes": [dict(e) for e in self.sim.echoes_posted]})
        if path == "/_sim/failures":
            with self.sim.lock:
                return self._reply(200, {"failures": [dict(f) for f in self.sim.failures]})
        if path == "/_sim/health":
            return self._reply(200, {"status": "ok"})
        self._reply(404, {"error": "not_found", "message": f"no GET route {path}"})

    def do_DELETE(self) -> None:  # noqa: N802
        if urllib.parse.urlsplit(self.path).path == "/_sim/failures":
            with self.sim.lock:
                self.sim.failures.clear()
            return self._reply(200, {"failures": []})
        self._reply(404, {"error": "not_found"})

    def do_POST(self) -> None:  # noqa: N802
        split = urllib.parse.urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if split.path == "/_sim/reset":
            self.sim.reset()
            return self._reply(200, {"reset": True})
        if split.path == "/_sim/failures":
            try:
                spec = _failure(json.loads(raw or b"null"))
            except (ValueError, TypeError) as exc:
                return self._reply(400, {"error": "bad_request", "message": str(exc)})
            with self.sim.lock:
                self.sim.failures.append(spec)
            return self._reply(201, spec)
        self._platform_call(split, raw)

    # ----------------------------------------------------------------- platform calls

    def _platform_call(self, split: urllib.parse.SplitResult, raw: bytes) -> None:
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        route = self._route(split.path, body)
        call: Json = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "platform": route["platform"], "endpoint": route["endpoint"], "method": self.command,
            "path": route["path"], "query": {k: v for k, v in query.items() if k != "access_token"},
            "headers": {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "user-agent")},
            "body": _without(body, "access_token"),
        }
        labels = {route["platform"], *route["labels"]}
        try:
            failure = self.sim._take_failure(labels, split.path)
            if failure is not None:
                call["failure"] = {k: failure[k] for k in ("match", "status", "delay", "retry_after")}
                if failure["status"] is not None:
                    time.sleep(failure["delay"])
                    raise _failure_answer(route["platform"], route["endpoint"], failure)
            if body is None or not isinstance(body, dict):
                raise _bad_body(route["platform"])
            handler = getattr(self, f"_{route['endpoint']}", None)
            if handler is None:
                raise _not_found(route["platform"], split.path)
            status, answer = handler(route, query, body, call)
            if 200 <= status < 300:
                self.sim._echo(route, body, answer)  # the platform acted: its webhook goes out
            if failure is not None:
                time.sleep(failure["delay"])  # ... and its answer comes late (past Heed's read timeout: a timeout)
            raise Answer(status, answer)
        except Answer as answer:
            call.update(status=answer.status, response=answer.body)
            self.sim._record(call)
            self._reply(answer.status, answer.body, answer.headers)

    def _route(self, path: str, body: Any) -> Json:
        if match := TELEGRAM_ROUTE.match(path):
            method = match["method"]
            return {"platform": "telegram", "endpoint": "sendMessage" if method == "sendMessage" else f"tg_{method}",
                    "path": f"/bot<redacted>/{method}", "labels": set(), "token": match["token"]}
        if match := X_DM_ROUTE.match(path):
            return {"platform": "x", "endpoint": "x_dm", "path": path, "labels": set(),
                    "participant": match["participant"]}
        if path == "/2/tweets":
            return {"platform": "x", "endpoint": "x_tweet", "path": path, "labels": set()}
        if match := GRAPH_ROUTE.match(path):
            edge = match["edge"]
            whatsapp = edge == "messages" and isinstance(body, dict) and body.get("messaging_product") == "whatsapp"
            label = "whatsapp" if whatsapp else ("messenger" if edge == "messages" else "comments")
            return {"platform": "meta", "endpoint": "wa_messages" if whatsapp else f"graph_{edge}", "path": path,
                    "labels": {label}, "node": match["node"]}
        platform = "x" if path.startswith("/2/") else "meta"
        return {"platform": platform, "endpoint": "unknown", "path": path, "labels": set()}

    def _reply(self, status: int, body: Any, headers: Optional[dict[str, str]] = None) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a simulated timeout)

    # ----------------------------------------------------------------- Meta

    def _meta_token(self, query: Json, body: Json, call: Json, whatsapp: bool = False) -> None:
        """Graph takes ``access_token`` (query or body) or ``Authorization: Bearer``; WhatsApp's docs use Bearer."""
        scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value.strip():
            token, kind = value.strip(), "bearer"
        elif query.get("access_token") or body.get("access_token"):
            token, kind = str(query.get("access_token") or body.get("access_token")), "access_token"
        else:
            raise Answer(401 if whatsapp else 400, _graph_error(
                "An active access token must be used to query information about the current user.", 2500))
        call["auth"] = {"scheme": kind, "token_sha256": fingerprint(token)}
        accepted = self.sim.credentials.whatsapp if whatsapp else self.sim.credentials.meta
        if accepted and token not in accepted:
            raise Answer(401 if whatsapp else 400, _graph_error(
                "Invalid OAuth access token - Cannot parse access token", 190))

    def _graph_messages(self, route: Json, query: Json, body: Json, call: Json) -> tuple[int, Json]:
        self._meta_token(query, body, call)
        recipient = body.get("recipient")
        if isinstance(recipient, str):  # form-style clients send it JSON-encoded
            recipient = _loads(recipient)
        if not isinstance(recipient, dict) or not (recipient.get("id") or recipient.get("comment_id")):
            raise Answer(400, _graph_error("(#100) param recipient must be non-empty.", 100))
        messaging_type = body.get("messaging_type")
        if messaging_type not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            raise Answer(400, _graph_error("(#100) param messaging_type must be one of {RESPONSE, UPDATE, "
                                           "MESSAGE_TAG}", 100))
        if messaging_type == "MESSAGE_TAG" and not body.get("tag"):
            raise Answer(400, _graph_error("(#100) Tag is required for MESSAGE_TAG messaging type", 100))
        message = body.get("message")
        text = message.get("text") if isinstance(message, dict) else None
        if not isinstance(text, str) or not text:
            raise Answer(400, _graph_error("(#100) param message must be non-empty.", 100))
        instagram = route["node"] in self.sim.instagram_accounts
        if (len(text.encode()) > 1000) if instagram else (len(text) > 2000):
            raise Answer(400, _graph_error("(#100) Length of param message[text] must be less than or equal to "
                                           f"{1000 if instagram else 2000}", 100))
        psid = recipient.get("id") or str(random.randbelow(9 * 10**15) + 10**15)
        return 200, {"recipient_id": str(psid), "message_id": "m_" + random.token_urlsafe(48)}

    def _graph_comments(self, route: Json, query: Json, body: Json, call: Json) -> tuple[int, Json]:
        self._meta_token(query, body, call)
        if not isinstance(body.get("message"), str) or not body["message"].strip():
            raise Answer(400, _graph_error("(#100) Missing message or attachment", 100))
        post = route["node"].split("_", 1)[0] if "_" in route["node"] else str(random.randbelow(10**15))
        return 200, {"id": f"{post}_{random.randbelow(9 * 10**15) + 10**15}"}

    def _graph_replies(self, route: Json, query: Json, body: Json, call: Json) -> tuple[int, Json]:
        self._meta_token(query, body, call)
        if not isinstance(body.get("message"), str) or not body["message"].strip():
            raise Answer(400, _graph_error("(#100) The parameter message is required", 100))
        return 200, {"id": str(17_800_000_000_000_000 + random.randbelow(10**17))}

    def _wa_messages(self, route: Json, query: Json, body: Json, call: Json) -> tuple[int, Json]:
        self._meta_token(query, body, call, whatsapp=True)
        to = body.get("to")
        if not isinstance(to, str) or not to:
            raise Answer(400, _graph_error("(#100) The parameter to is required.", 100))
        kind = body.get("type", "text")
        if kind == "text":
            text = body.get("text", {}).get("body") if isinstance(body.get("text"), dict) else None
            if not isinstance(text, str) or not text or len(text) > 4096:
                raise Answer(400, _graph_error("(#100) Param text['body'] must be 1-4096 characters.", 100))
        elif kind == "template":
            template = body.get("template")
            language = template.get("language") if isinstance(template, dict) else None
            if not isinstance(template, dict) or not template.get("name") or not isinstance(language, dict) or \
                    not language.get("code"):
                raise Answer(400, _graph_error("(#100) template requires name and language.code", 100))
        else:
            raise Answer(400, _graph_error(f"(#100) The simulator doesn't play message type {kind!r}", 100))
        answer: Json = {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                        "messages": [{"id": "wamid." + base64.b64encode(random.token_bytes(30)).decode()}]}
        if kind == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return 200, answer

    # ----------------------------------------------------------------- X

    def _x_auth(self, call: Json) -> None:
        header = self.headers.get("Authorization") or ""
        if not header.startswith("OAuth "):
            raise Answer(401, _x_problem(401, "Unauthorized", "Unauthorized"))
        params = {k: urllib.parse.unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header)}
        consumer, token = params.get("oauth_consumer_key", ""), params.get("oauth_token", "")
        auth: Json = {"scheme": "oauth1", "consumer_key_sha256": fingerprint(consumer),
                      "token_sha256": fingerprint(token), "signature_method": params.get("oauth_signature_method"),
                      "signature": "unchecked"}
        call["auth"] = auth
        known = self.sim.credentials
        if not known.x_consumers and not known.x_tokens:
            return
        if consumer not in known.x_consumers or token not in known.x_tokens:
            raise Answer(401, _x_problem(401, "Unauthorized", "Unauthorized"))
        expected = oauth1_signature(self.command, f"http://{self.headers.get('Host')}{urllib.parse.urlsplit(self.path).path}",
                                    {**dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query)), **params},
                                    known.x_consumers[consumer], known.x_tokens[token])
        auth["signature"] = "valid" if hmac.compare_digest(expected, params.get("oauth_signature", "")) else "invalid"
        if auth["signature"] != "valid":
            raise Answer(401, _x_problem(401, "Unauthorized", "Unauthorized"))

    def _x_dm(self, route: Json, query: Json, body: Json, call: Json) -> tuple[int, Json]:
        self._x_auth(call)
        text = body.get("text")
        if not isinstance(text, str) or not text or len(text) > 10_000:
            raise Answer(400, _x_invalid("text must be 1-10000 characters"))
        brand = _x_user(self.headers.get("Authorization") or "")
        pair = sorted([brand, route["participant"]], key=lambda s: (len(s), s))
        return 201, {"data": {"dm_conversation_id": "-".join(pair), "dm_event_id": snowflake()}}

    def _x_tweet(self, route: Json, query: Json, body: Json, call: Json) -> tuple[int, Json]:
        self._x_auth(call)
        text = body.get("text")
        if not isinstance(text, str) or not text or len(text) > 280:
            raise Answer(400, _x_invalid("text must be 1-280 characters"))
        reply = body.get("reply")
        if reply is not None and (not isinstance(reply, dict) or not str(reply.get("in_reply_to_tweet_id", ""))
                                  .isdigit()):
            raise Answer(400, _x_invalid("reply.in_reply_to_tweet_id must be a tweet id"))
        tweet_id = snowflake()
        return 201, {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}}

    # ----------------------------------------------------------------- Telegram

    def _sendMessage(self, route: Json, query: Json, body: Json, call: Json) -> tuple[int, Json]:  # noqa: N802
        token = route["token"]
        call["auth"] = {"scheme": "bot_token", "token_sha256": fingerprint(token)}
        accepted = self.sim.credentials.telegram
        if (accepted and token not in accepted) or ":" not in token:
            raise Answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        chat_id, text = body.get("chat_id"), body.get("text")
        if chat_id in (None, ""):
            raise Answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat_id is empty"})
        if not isinstance(text, str) or not text.strip():
            raise Answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"})
        if len(text) > 4096:
            raise Answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"})
        bot_id = token.split(":", 1)[0]
        chat: Json = {"id": int(chat_id) if str(chat_id).lstrip("-").isdigit() else chat_id, "type": "private"}
        result: Json = {"message_id": _telegram_ids.next(),
                        "from": {"id": int(bot_id) if bot_id.isdigit() else bot_id, "is_bot": True,
                                 "first_name": "Heed (local)", "username": "heed_local_bot"},
                        "chat": chat, "date": int(time.time()), "text": text}
        return 200, {"ok": True, "result": result}


def oauth1_signature(method: str, url: str, params: Mapping[str, str], consumer_secret: str,
                     token_secret: str) -> str:
    """HMAC-SHA1 over RFC 5849's signature base string (query and ``oauth_*`` parameters; JSON bodies aren't signed)."""
    def enc(value: str) -> str:
        return urllib.parse.quote(value, safe="~-._")

    pairs = sorted((enc(k), enc(v)) for k, v in params.items() if k not in ("oauth_signature", "realm"))
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    split = urllib.parse.urlsplit(url)
    base_uri = f"{split.scheme.lower()}://{split.netloc.lower()}{split.path}"
    base = "&".join([method.upper(), enc(base_uri), enc(normalized)])
    key = f"{enc(consumer_secret)}&{enc(token_secret)}"
    return base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()


def _x_user(header: str) -> str:
    """The brand's user id: X access tokens start with it (``<user id>-<random>``)."""
    match = re.search(r'oauth_token="(\d+)-', header)
    return match.group(1) if match else "0"


def _graph_error(message: str, code: int, subcode: Optional[int] = None, transient: bool = False) -> Json:
    error: Json = {"message": message, "type": "OAuthException", "code": code,
                   "fbtrace_id": "Sim" + random.token_urlsafe(12)}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    return {"error": error}


def _x_problem(status: int, title: str, detail: str) -> Json:
    return {"title": title, "detail": detail, "type": "about:blank", "status": status}


def _x_invalid(message: str) -> Json:
    return {"errors": [{"parameters": {}, "message": message}], "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request"}


def _bad_body(platform: str) -> Answer:
    if platform == "telegram":
        return Answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid JSON body"})
    if platform == "x":
        return Answer(400, _x_invalid("the body must be a JSON object"))
    return Answer(400, _graph_error("(#100) the body must be a JSON object", 100))


def _not_found(platform: str, path: str) -> Answer:
    if platform == "telegram":
        return Answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
    if platform == "x":
        return Answer(404, _x_problem(404, "Not Found Error", f"the simulator has no route {path}"))
    return Answer(400, _graph_error(f"(#100) Unknown path components: {path}", 100))


def _failure_answer(platform: str, endpoint: str, spec: Json) -> Answer:
    """The platform's own error answer for an injected failure."""
    status, retry_after = spec["status"], spec["retry_after"]
    headers: dict[str, str] = {}
    if platform == "x":
        if status == 429:
            wait = 900 if retry_after is None else retry_after
            headers = {"x-rate-limit-limit": "15", "x-rate-limit-remaining": "0",
                       "x-rate-limit-reset": str(int(time.time() + wait + 0.999))}
        body = {400: _x_invalid("simulated"), 401: _x_problem(401, "Unauthorized", "Unauthorized"),
                403: _x_problem(403, "Forbidden", "You are not permitted to perform this action."),
                429: _x_problem(429, "Too Many Requests", "Too Many Requests")}.get(
                    status, _x_problem(status, "Service Unavailable", "Service Unavailable"))
    elif platform == "telegram":
        descriptions = {400: "Bad Request: chat not found", 401: "Unauthorized",
                        403: "Forbidden: bot was blocked by the user", 429: "Too Many Requests: retry after {n}"}
        wait = int(5 if retry_after is None else retry_after)
        body = {"ok": False, "error_code": status,
                "description": descriptions.get(status, "Internal Server Error").format(n=wait)}
        if status == 429:
            body["parameters"] = {"retry_after": wait}
    else:
        whatsapp = endpoint == "wa_messages"
        defaults = {
            429: ((130429, None, "Rate limit hit") if whatsapp else
                  (613, None, "(#613) Calls to this api have exceeded the rate limit.")),
            401: (190, None, "Invalid OAuth access token - Cannot parse access token"),
            403: ((131047, None, "Re-engagement message") if whatsapp else
                  (10, 2018278, "(#10) This message is sent outside of allowed window.")),
            400: (100, None, "(#100) Invalid parameter"),
        }
        code, subcode, message = defaults.get(status, (2, None, "An unexpected error has occurred. Please retry "
                                                                "your request later."))
        code = spec["code"] if spec.get("code") is not None else code
        subcode = spec["subcode"] if spec.get("subcode") is not None else subcode
        body = _graph_error(message, code, subcode, transient=status >= 500)
    if retry_after is not None and platform != "x":
        headers["Retry-After"] = str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
    return Answer(status, spec["body"] if spec.get("body") is not None else body, headers)


def _without(body: Any, key: str) -> Any:
    return {k: v for k, v in body.items() if k != key} if isinstance(body, dict) else body


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


# --------------------------------------------------------------------------- echoes (the platforms' own webhooks)

META_APP_ID = 1517776481860111  # the app id Meta puts in message echoes (the docs' example)


def echo_webhook(route: Json, body: Json, answer: Json, secrets: Mapping[str, str], instagram_accounts: set[str],
                 x_account: str, facebook_page: Optional[str] = None) -> Optional[tuple[str, dict[str, str], bytes]]:
    """``(path, headers, body)`` of the signed webhook a platform sends for a send it carried out.

    Messenger/Instagram ``message_echoes`` (``is_echo``, ``app_id``, our ``metadata``) for Send API DMs;
    a WhatsApp ``sent`` status with our ``biz_opaque_callback_data``; X ``direct_message_events`` from the
    brand, ``tweet_create_events`` for its replies; the Page's own comment in a ``feed`` change for a Facebook
    comment reply (``from`` the Page, ``parent_id`` the comment answered). Telegram sends nothing; neither do
    private replies and Instagram comment replies here.
    """
    now = time.time()
    ms = int(now * 1000)
    endpoint = route["endpoint"]
    if endpoint == "graph_messages":
        recipient = body.get("recipient") if isinstance(body.get("recipient"), dict) else {}
        if not recipient.get("id"):
            return None  # a private reply: its echo names a PSID the simulator doesn't know
        node = route["node"]
        message = body.get("message") if isinstance(body.get("message"), dict) else {}
        echoed: Json = {"mid": answer["message_id"], "is_echo": True, "app_id": META_APP_ID,
                        "text": message.get("text", "")}
        if isinstance(message.get("metadata"), str):
            echoed["metadata"] = message["metadata"]
        payload: Json = {"object": "instagram" if node in instagram_accounts else "page", "entry": [{
            "id": node, "time": ms, "messaging": [{"sender": {"id": node}, "recipient": {"id": str(recipient["id"])},
                                                   "timestamp": ms, "message": echoed}]}]}
        return _signed_meta(payload, secrets)
    if endpoint == "wa_messages":
        status: Json = {"id": answer["messages"][0]["id"], "status": "sent", "timestamp": str(int(now)),
                        "recipient_id": str(body.get("to", "")).lstrip("+")}
        if isinstance(body.get("biz_opaque_callback_data"), str):
            status["biz_opaque_callback_data"] = body["biz_opaque_callback_data"]
        payload = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
            "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": route["node"]},
                "statuses": [status]}}]}]}
        return _signed_meta(payload, secrets)
    if endpoint == "x_dm":
        payload = {"for_user_id": x_account, "direct_message_events": [{
            "type": "message_create", "id": answer["data"]["dm_event_id"], "created_timestamp": str(ms),
            "message_create": {"target": {"recipient_id": route["participant"]}, "sender_id": x_account,
                               "message_data": {"text": body.get("text", ""), "entities": {}}}}], "users": {}}
        return _signed_x(payload, secrets)
    if endpoint == "x_tweet":
        reply = body.get("reply") if isinstance(body.get("reply"), dict) else {}
        tweet_id = answer["data"]["id"]
        payload = {"for_user_id": x_account, "tweet_create_events": [{
            "created_at": datetime.fromtimestamp(int(now), UTC).strftime("%a %b %d %H:%M:%S +0000 %Y"),
            "id_str": tweet_id, "id": int(tweet_id), "text": body.get("text", ""), "timestamp_ms": str(ms),
            "in_reply_to_status_id_str": reply.get("in_reply_to_tweet_id"), "in_reply_to_user_id_str": None,
            "user": {"id_str": x_account, "screen_name": "brand", "name": "Brand"}}]}
        return _signed_x(payload, secrets)
    if endpoint == "graph_comments" and facebook_page:
        parent = route["node"]
        payload = {"object": "page", "entry": [{"id": facebook_page, "time": ms, "changes": [{
            "field": "feed", "value": {
            "item": "comment", "verb": "add", "comment_id": answer["id"],
            "post_id": f"{facebook_page}_{parent.split('_', 1)[0]}", "parent_id": parent,
            "created_time": int(now), "message": body.get("message", ""),
            "from": {"id": facebook_page, "name": "Brand"}}}]}]}
        return _signed_meta(payload, secrets)
    return None


def _signed_meta(payload: Json, secrets: Mapping[str, str]) -> tuple[str, dict[str, str], bytes]:
    raw = json.dumps(payload).encode()
    digest = hmac.new(secrets["META_APP_SECRET"].encode(), raw, hashlib.sha256).hexdigest()
    return "/webhooks/meta", {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}, raw


def _signed_x(payload: Json, secrets: Mapping[str, str]) -> tuple[str, dict[str, str], bytes]:
    raw = json.dumps(payload).encode()
    digest = base64.b64encode(hmac.new(secrets["X_CONSUMER_SECRET"].encode(), raw, hashlib.sha256).digest()).decode()
    return "/webhooks/x", {"Content-Type": "application/json", "x-twitter-webhooks-signature": f"sha256={digest}"}, raw


# --------------------------------------------------------------------------- webhooks (the CLI's send)

KINDS = ("telegram", "messenger", "instagram", "whatsapp", "x-dm", "x-mention", "facebook-comment",
         "instagram-comment")


def customer_number(name: str, digits: int) -> str:
    """A stable id of ``digits`` digits for a customer name: the same name is the same customer."""
    value = int(hashlib.sha256(name.strip().lower().encode()).hexdigest(), 16)
    return str(10 ** (digits - 1) + value % (9 * 10 ** (digits - 1)))


def accounts(env: Mapping[str, str]) -> dict[str, str]:
    found = {p: env.get(f"HEED_SIM_{p.upper()}_ACCOUNT") or default for p, default in LOCAL_ACCOUNTS.items()}
    found["telegram"] = env.get("TELEGRAM_BOT_ID") or "7000000001"
    return found


def webhook(kind: str, text: str, customer: str = "Ana", env: Optional[Mapping[str, str]] = None,
            now: Optional[float] = None) -> tuple[str, dict[str, str], bytes]:
    """``(path, headers, body)`` of a signed webhook delivery of one customer message."""
    from local.stack import LOCAL_SECRETS

    env = {**LOCAL_SECRETS, **(env if env is not None else os.environ)}
    now = time.time() if now is None else now
    ms, seconds = int(now * 1000), int(now)
    account = accounts(env)
    if kind == "telegram":
        chat = int(customer_number(customer, 9))
        message_id = _telegram_ids.next()
        payload: Json = {"update_id": message_id, "message": {
            "message_id": message_id, "date": seconds, "text": text,
            "chat": {"id": chat, "type": "private", "first_name": customer},
            "from": {"id": chat, "is_bot": False, "first_name": customer, "language_code": "en"}}}
        raw = json.dumps(payload).encode()
        return "/webhooks/telegram", {"Content-Type": "application/json",
                                      "X-Telegram-Bot-Api-Secret-Token": env["TELEGRAM_SECRET_TOKEN"]}, raw
    if kind in ("x-dm", "x-mention"):
        user = customer_number(customer, 10)
        brand = account["x"]
        if kind == "x-dm":
            payload = {"for_user_id": brand, "direct_message_events": [{
                "type": "message_create", "id": snowflake(), "created_timestamp": str(ms),
                "message_create": {"target": {"recipient_id": brand}, "sender_id": user,
                                   "message_data": {"text": text, "entities": {}}}}],
                "users": {user: {"id": user, "name": customer, "screen_name": _handle(customer)}}}
        else:
            tweet_id = snowflake()
            payload = {"for_user_id": brand, "tweet_create_events": [{
                "created_at": datetime.fromtimestamp(seconds, UTC).strftime("%a %b %d %H:%M:%S +0000 %Y"),
                "id_str": tweet_id, "id": int(tweet_id), "text": text, "timestamp_ms": str(ms),
                "in_reply_to_status_id_str": None, "in_reply_to_user_id_str": None,
                "user": {"id_str": user, "screen_name": _handle(customer), "name": customer}}]}
        raw = json.dumps(payload).encode()
        digest = base64.b64encode(hmac.new(env["X_CONSUMER_SECRET"].encode(), raw, hashlib.sha256).digest()).decode()
        return "/webhooks/x", {"Content-Type": "application/json",
                               "x-twitter-webhooks-signature": f"sha256={digest}"}, raw
    if kind == "messenger":
        page, psid = account["facebook"], customer_number(customer, 16)
        payload = {"object": "page", "entry": [{"id": page, "time": ms, "messaging": [{
            "sender": {"id": psid}, "recipient": {"id": page}, "timestamp": ms,
            "message": {"mid": "m_" + random.token_urlsafe(48), "text": text}}]}]}
    elif kind == "instagram":
        ig, igsid = account["instagram"], customer_number(customer, 16)
        payload = {"object": "instagram", "entry": [{"id": ig, "time": ms, "messaging": [{
            "sender": {"id": igsid}, "recipient": {"id": ig}, "timestamp": ms,
            "message": {"mid": "aWdf" + random.token_urlsafe(48), "text": text}}]}]}
    elif kind == "whatsapp":
        phone_id, wa_id = account["whatsapp"], "1555" + customer_number(customer, 7)  # fictional 555 numbers
        payload = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
            "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_id},
                "contacts": [{"profile": {"name": customer}, "wa_id": wa_id}],
                "messages": [{"from": wa_id, "id": "wamid." + base64.b64encode(random.token_bytes(30)).decode(),
                              "timestamp": str(seconds), "type": "text", "text": {"body": text}}]}}]}]}
    elif kind == "facebook-comment":
        page = account["facebook"]
        post = f"{page}_{DEMO_POST}"
        payload = {"object": "page", "entry": [{"id": page, "time": seconds, "changes": [{"field": "feed", "value": {
            "item": "comment", "verb": "add", "comment_id": f"{DEMO_POST}_{customer_number(str(ms) + text, 15)}",
            "post_id": post, "parent_id": post, "created_time": seconds, "message": text,
            "from": {"id": customer_number(customer, 16), "name": customer}}}]}]}
    elif kind == "instagram-comment":
        ig = account["instagram"]
        payload = {"object": "instagram", "entry": [{"id": ig, "time": seconds, "changes": [{
            "field": "comments", "value": {
                "id": str(17_800_000_000_000_000 + random.randbelow(10**17)), "text": text,
                "from": {"id": customer_number(customer, 17), "username": _handle(customer)},
                "media": {"id": DEMO_MEDIA, "media_product_type": "FEED"}}}]}]}
    else:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    raw = json.dumps(payload).encode()
    digest = hmac.new(env["META_APP_SECRET"].encode(), raw, hashlib.sha256).hexdigest()
    return "/webhooks/meta", {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}, raw


def _handle(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "", name.lower().replace(" ", "_"))[:15] or "customer"


def post_webhook(api_url: str, kind: str, text: str, customer: str = "Ana",
                 env: Optional[Mapping[str, str]] = None) -> tuple[int, str]:
    """Send one signed webhook to the API at ``api_url``; returns ``(status, body)``."""
    path, headers, raw = webhook(kind, text, customer, env)
    request = urllib.request.Request(api_url.rstrip("/") + path, data=raw, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


# --------------------------------------------------------------------------- inbound email

LOCAL_INBOUND_BUCKET = "heed-local-inbound-mail-123456789012-us-east-1"  # stack heed-local in moto's account
SES_INBOUND_HOST = "inbound-smtp.us-east-1.amazonaws.com"


def inbound_mail(to: str, text: str, sender: str = "Ana Customer <ana@example.com>",
                 in_reply_to: Optional[str] = None, subject: Optional[str] = None,
                 now: Optional[datetime] = None) -> tuple[str, bytes]:
    """``(SES message id, raw RFC 5322 bytes)`` of a customer's plain-text mail as an SES receipt rule stores it:
    the sender's headers, then the ones SES adds on top (``Return-Path``, ``Received``, the verdicts)."""
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid, parseaddr

    now = now or datetime.now(UTC)
    ses_id = "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(40))
    envelope_from = parseaddr(sender)[1] or sender
    mail = EmailMessage()
    mail["Return-Path"] = f"<{envelope_from}>"
    mail["Received"] = (f"from mail.example.com (mail.example.com [203.0.113.25]) by {SES_INBOUND_HOST} "
                        f"with SMTP id {ses_id} for {to}; {format_datetime(now)}")
    mail["X-SES-Spam-Verdict"] = "PASS"
    mail["X-SES-Virus-Verdict"] = "PASS"
    mail["Received-SPF"] = "none (spfCheck: 203.0.113.25 is neither permitted nor denied)"
    mail["X-SES-RECEIPT"] = base64.b64encode(random.token_bytes(48)).decode()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject or ("Re: your conversation" if in_reply_to else "About my order")
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = make_msgid(domain=envelope_from.rpartition("@")[2] or "example.com")
    if in_reply_to:
        reference = in_reply_to if in_reply_to.startswith("<") else f"<{in_reply_to}>"
        mail["In-Reply-To"] = reference
        mail["References"] = reference
    mail.set_content(text)
    return ses_id, mail.as_bytes()


def put_inbound_mail(to: str, text: str, *, sender: str = "Ana Customer <ana@example.com>",
                     in_reply_to: Optional[str] = None, subject: Optional[str] = None,
                     bucket: Optional[str] = None, endpoint_url: Optional[str] = None) -> str:
    """Store a customer's mail in the inbound bucket at ``mail/<SES message id>``, as the receipt rule's S3
    action does (the emulator's, by default); returns the object key."""
    import boto3

    ses_id, raw = inbound_mail(to, text, sender, in_reply_to, subject)
    key = f"mail/{ses_id}"
    s3 = boto3.client("s3", endpoint_url=endpoint_url or _default_emulator())
    s3.put_object(Bucket=bucket or _default_bucket(), Key=key, Body=raw)
    return key


# --------------------------------------------------------------------------- CLI


def _default_emulator() -> str:
    return os.environ.get("AWS_ENDPOINT_URL") or f"http://127.0.0.1:{os.environ.get('HEED_EMULATOR_PORT', '4566')}"


def _default_bucket() -> str:
    return os.environ.get("HEED_INBOUND_BUCKET") or LOCAL_INBOUND_BUCKET


def _default_api() -> str:
    return os.environ.get("HEED_API_URL") or f"http://127.0.0.1:{os.environ.get('HEED_API_PORT', '8000')}"


def _default_sim() -> str:
    return os.environ.get("HEED_SIM_URL") or f"http://127.0.0.1:{os.environ.get('HEED_SIM_PORT', DEFAULT_PORT)}"


def _sim_call(url: str, method: str = "GET", payload: Any = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise SystemExit(f"simulator answered {error.code}: {error.read().decode()}") from None
    except OSError as error:
        raise SystemExit(f"no simulator at {url} ({error}); is `make run` going?") from None


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.simulator", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    send = commands.add_parser("send", help="send a signed customer webhook to the local API")
    send.add_argument("kind", choices=KINDS)
    send.add_argument("text")
    send.add_argument("--customer", default="Ana", help="the customer's name (same name: same conversation)")
    send.add_argument("--api", default=_default_api(), help="the API's base URL (default %(default)s)")
    mail = commands.add_parser("email", help="drop a customer's email into the local inbound bucket (as SES would)")
    mail.add_argument("text")
    mail.add_argument("--to", required=True, help="the conversation's reply address (support+<token>@...)")
    mail.add_argument("--from", dest="sender", default="Ana Customer <ana@example.com>")
    mail.add_argument("--in-reply-to", help="the Message-ID answered (threads even without the plus address)")
    mail.add_argument("--subject")
    mail.add_argument("--bucket", default=_default_bucket())
    mail.add_argument("--endpoint", default=_default_emulator(), help="the emulator (default %(default)s)")
    sent = commands.add_parser("sent", help="what Heed sent to the platforms (the simulator's record)")
    sent.add_argument("--sim", default=_default_sim())
    sent.add_argument("--json", action="store_true", help="the raw record")
    fail = commands.add_parser("fail", help="make the next calls to a platform fail")
    fail.add_argument("match", help="meta, messenger, whatsapp, comments, x, telegram, or a path substring")
    fail.add_argument("status", type=int, nargs="?", help="HTTP status to answer (429, 500, 403, ...)")
    fail.add_argument("--times", type=int, default=1)
    fail.add_argument("--retry-after", type=float)
    fail.add_argument("--delay", type=float, default=0, help="seconds to wait before answering")
    fail.add_argument("--sim", default=_default_sim())
    reset = commands.add_parser("reset", help="forget recorded calls and failures")
    reset.add_argument("--sim", default=_default_sim())
    serve = commands.add_parser("serve", help="run the simulator alone")
    serve.add_argument("--port", type=int, default=int(os.environ.get("HEED_SIM_PORT", DEFAULT_PORT)))
    serve.add_argument("--echo-to", default=os.environ.get("HEED_SIM_ECHO_TO") or None, metavar="URL",
                       help="post the platforms' echoes of accepted sends to Heed's API here (default: off)")
    args = parser.parse_args(argv)

    if args.command == "send":
        status, body = post_webhook(args.api, args.kind, args.text, args.customer)
        print(f"{args.kind} from {args.customer}: {status} {body.strip()}")
        return 0 if 200 <= status < 300 else 1
    if args.command == "email":
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        try:
            key = put_inbound_mail(args.to, args.text, sender=args.sender, in_reply_to=args.in_reply_to,
                                   subject=args.subject, bucket=args.bucket, endpoint_url=args.endpoint)
        except Exception as error:  # noqa: BLE001 - a CLI: say what failed, no traceback
            raise SystemExit(f"could not store the mail in s3://{args.bucket} at {args.endpoint} "
                             f"({type(error).__name__}: {error}); is `make run` going?") from None
        print(f"s3://{args.bucket}/{key}: the pump hands it to handle_inbound_email within a second")
        return 0
    if args.command == "sent":
        calls = _sim_call(f"{args.sim}/_sim/sent")["sent"]
        if args.json:
            print(json.dumps(calls, indent=2))
        for call in [] if args.json else calls:
            text = _text_of(call.get("body"))
            print(f"#{call['seq']} {call['at']} {call['platform']:<8} {call['method']} {call['path']} -> "
                  f"{call['status']}{' (injected)' if call.get('failure') else ''}: {text!r}")
        if not calls and not args.json:
            print("nothing sent yet")
        return 0
    if args.command == "fail":
        spec = {"match": args.match, "status": args.status, "times": args.times, "retry_after": args.retry_after,
                "delay": args.delay}
        print(json.dumps(_sim_call(f"{args.sim}/_sim/failures", "POST", spec)))
        return 0
    if args.command == "reset":
        print(json.dumps(_sim_call(f"{args.sim}/_sim/reset", "POST", {})))
        return 0
    from local.stack import LOCAL_SECRETS

    simulator = Simulator(args.port, env={**LOCAL_SECRETS, **os.environ}, echo_to=args.echo_to).start()
    print(f"platform simulator on {simulator.url} (GET {simulator.url}/_sim/sent); Ctrl-C stops it", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        simulator.stop()
    return 0


def _text_of(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    for path in (("message", "text"), ("text", "body"), ("text",), ("message",), ("template", "name")):
        value: Any = body
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str):
            return value
    return ""


if __name__ == "__main__":
    sys.exit(main())
