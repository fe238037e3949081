"""Scenario 5: hostile input on every webhook route, over HTTP against ``python -m local.stack``.

At least ``size`` requests per route, generated with hypothesis: truncated and
deeply nested JSON, wrong types, huge strings, invalid UTF-8, random bytes,
missing and forged proofs, replays, header-case tricks, template syntax and HTML
in the text, bodies of 1 MB and more. Zero 5xx; every rejection a 4xx JSON
error; zero partial writes: the table before and after differs only by what 2xx
answers said they stored (inbound messages = the sum of ``received``; every new
raw delivery is the body of a 2xx answer, or of a platform echo the simulator
posted for an acknowledgement). Then a signed message whose text and
name are template syntax and HTML comes back literally from the staff API (JSON,
never evaluated) and its acknowledgement carries no ``49``.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from collections import Counter
from typing import Any

import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from local.simulator import customer_number, webhook
from tests.reliability.common import STAFF, Result, accepted, check, local_stack, table_items
from tests.signing import meta_headers, telegram_headers, x_headers

NAME = "hostile-input"
TEMPLATE_TEXT = "{{ 7*7 }}<script>alert(1)</script>{% if 1 %}${7*7}#{7*7}{% endif %}"
TEMPLATE_NAME = "{{7*7}}<b>Eve</b>"
# The round trip's own text: the hostile requests send TEMPLATE_TEXT from many accounts, which triage rightly
# calls repeated-text spam (no clock, no acknowledgement), so the message that must be acknowledged differs.
ROUND_TRIP_TEXT = TEMPLATE_TEXT + " {{ customer_name }} round trip"
ROUTES = {
    "/webhooks/meta": ("messenger", "instagram", "whatsapp", "facebook-comment", "instagram-comment"),
    "/webhooks/x": ("x-dm", "x-mention"),
    "/webhooks/telegram": ("telegram",),
}
SIGNATURE_HEADER = {"/webhooks/meta": "X-Hub-Signature-256", "/webhooks/x": "x-twitter-webhooks-signature",
                    "/webhooks/telegram": "X-Telegram-Bot-Api-Secret-Token"}
ATTACKS = ("truncated", "nested", "wrong_type", "huge_string", "invalid_utf8", "random_bytes", "not_object",
           "unsigned", "forged", "replay", "header_case", "template_html", "big_body")


def sign(path: str, raw: bytes) -> dict[str, str]:
    if path.endswith("/meta"):
        return meta_headers(raw)
    if path.endswith("/x"):
        return x_headers(raw)
    return telegram_headers()


def leaves(value: Any, trail: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in leaves(v, (*trail, k))] or [trail]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in leaves(v, (*trail, i))] or [trail]
    return [trail]


def replaced(value: Any, trail: tuple, new: Any) -> Any:
    if not trail:
        return new
    copy = json.loads(json.dumps(value))
    node = copy
    for key in trail[:-1]:
        node = node[key]
    node[trail[-1]] = new
    return copy


ODD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                       st.text(max_size=30), st.lists(st.integers(), max_size=3),
                       st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


def attack(path: str, kind: str, data: st.DataObject, replay: tuple[dict, bytes]) -> tuple[dict, bytes]:
    """Headers and body of one hostile request."""
    route_kind = data.draw(st.sampled_from(ROUTES[path]))
    _, _, valid = webhook(route_kind, data.draw(st.text(min_size=1, max_size=40)), env={})
    payload = json.loads(valid)
    if kind == "truncated":
        raw = valid[:data.draw(st.integers(0, len(valid) - 1))]
    elif kind == "nested":
        depth = data.draw(st.sampled_from([50, 1_000, 10_000, 100_000, 600_000]))
        opener, closer = data.draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"entry":[', "]}")]))
        raw = (opener * depth + "1" + closer * depth).encode()
    elif kind == "wrong_type":
        raw = json.dumps(replaced(payload, data.draw(st.sampled_from(leaves(payload))), data.draw(ODD_VALUES))).encode()
    elif kind == "huge_string":
        big = "\U0001F620" * data.draw(st.integers(10_000, 300_000)) if data.draw(st.booleans()) else "x" * data.draw(
            st.integers(10_000, 1_200_000))
        raw = json.dumps(replaced(payload, data.draw(st.sampled_from(leaves(payload))), big)).encode()
    elif kind == "invalid_utf8":
        at = data.draw(st.integers(0, len(valid)))
        bad = data.draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80"]))
        raw = valid[:at] + bad + valid[at:]
    elif kind == "random_bytes":
        raw = data.draw(st.binary(max_size=2_000))
    elif kind == "not_object":
        raw = json.dumps(data.draw(st.one_of(st.lists(st.integers(), max_size=3), st.integers(), st.text(),
                                             st.none(), st.just({})))).encode()
    elif kind == "replay":
        return replay
    elif kind == "template_html":
        trail = next((t for t in leaves(payload) if t and t[-1] in ("text", "body", "message")), ())
        raw = json.dumps(replaced(payload, trail, TEMPLATE_TEXT) if trail else payload).encode()
    elif kind == "big_body":
        size = data.draw(st.sampled_from([1_100_000, 1_600_000, 3_300_000]))
        raw = json.dumps({**payload, "padding": "p" * size}).encode()
    else:
        raw = valid
    headers = sign(path, raw)
    name = SIGNATURE_HEADER[path]
    if kind == "unsigned":
        headers.pop(name)
    elif kind == "forged":
        forged = data.draw(st.sampled_from(["wrong-secret", "empty", "other-body", "truncated", "garbage"]))
        if forged == "wrong-secret":
            headers = sign(path, raw) if path.endswith("/telegram") else (
                meta_headers(raw, "not-the-secret") if path.endswith("/meta") else x_headers(raw, "not-the-secret"))
            if path.endswith("/telegram"):
                headers[name] = "not-the-secret-token"
        elif forged == "empty":
            headers[name] = ""
        elif forged == "other-body":
            headers = {**headers, **{name: sign(path, raw + b" ")[name]}} if not path.endswith("/telegram") else {
                **headers, name: "local-telegram-secret-token "}
        elif forged == "truncated":
            headers[name] = headers[name][:-1]
        else:
            headers[name] = data.draw(st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80))
    elif kind == "header_case":
        value = headers.pop(name)
        mangled = "".join(c.upper() if data.draw(st.booleans()) else c.lower() for c in name)
        trick = data.draw(st.sampled_from(["case", "upper-prefix", "upper-hex", "spaces", "no-content-type"]))
        if trick == "upper-prefix" and "=" in value:
            value = value.replace("sha256=", "SHA256=")
        elif trick == "upper-hex" and path.endswith("/meta"):
            value = value.upper()
        elif trick == "spaces":
            value = f"{value}  "  # trailing (requests refuses to send leading whitespace)
        elif trick == "no-content-type":
            headers.pop("Content-Type", None)
        headers[mangled] = value
    return headers, raw


def run(size: int) -> Result:
    stack = local_stack()
    result = Result(NAME, True)
    before = table_items(stack.table, stack.emulator)
    statuses: Counter = Counter()
    per_route: Counter = Counter()
    by_attack: Counter = Counter()
    received = [0]
    bodies_2xx: set[str] = set()
    small_2xx: list[bytes] = []  # to name an unaccounted message's source
    sent_log: list[tuple[str, int, int, bytes]] = []  # (attack, status, received, body < 2 MB): the same, any status
    session = requests.Session()
    replays = {}
    for path, kinds in ROUTES.items():
        _, _, raw = webhook(kinds[0], "replayed", env={})
        replays[path] = (sign(path, raw), raw)

    def send(path: str, kind: str, headers: dict, raw: bytes) -> None:
        try:
            response = session.post(stack.api + path, data=raw, headers=headers, timeout=120)
        except requests.RequestException as exc:
            statuses[0] += 1  # no answer at all
            per_route[path] += 1
            result.problems.append(f"no answer for {kind} on {path}: {exc!r}"[:200])
            return
        code = response.status_code
        try:
            said = int(response.json().get("received", 0)) if code == 200 else 0
        except (ValueError, AttributeError, TypeError):
            said = -1  # a 200 without a JSON object
        if len(raw) < 2_000_000:
            sent_log.append((kind, code, said, raw))
        statuses[code] += 1
        per_route[path] += 1
        by_attack[(kind, code // 100)] += 1
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if code >= 500:
            result.problems.append(f"{code} for {kind} on {path}: {response.text[:120]}")
        elif code >= 400:
            if not (isinstance(answer, dict) and "error" in answer and "message" in answer
                    and response.headers.get("Content-Type", "").startswith("application/json")):
                result.problems.append(f"{code} for {kind} on {path} is not a JSON error: {response.text[:80]}")
        elif code == 200:
            received[0] += answer.get("received", 0) if isinstance(answer, dict) else 0
            bodies_2xx.add(hashlib.sha256(raw).hexdigest())
            if len(raw) < 100_000:
                small_2xx.append(raw)
        else:
            result.problems.append(f"unexpected {code} for {kind} on {path}")

    def prober(path: str):
        @settings(max_examples=size, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(st.data())
        def probe(data):
            kind = data.draw(st.sampled_from(ATTACKS))
            headers, raw = attack(path, kind, data, replays[path])
            send(path, kind, headers, raw)

        return probe

    for path in ROUTES:
        prober(path)()
        while per_route[path] < size:  # hypothesis may stop early when it has seen enough
            kind = random.choice(ATTACKS)
            headers, raw = attack(path, kind, _Rng(), replays[path])
            send(path, kind, headers, raw)
    # the GET handshakes, with hostile query strings
    def handshaker(path: str, param: str):
        @settings(max_examples=size, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(st.dictionaries(st.sampled_from(["hub.mode", "hub.challenge", param, "x", "{{7*7}}"]),
                               st.text(max_size=200), max_size=4))
        def handshake(query):
            response = session.get(stack.api + path, params=query, timeout=30)
            statuses[response.status_code] += 1
            per_route["GET " + path] += 1
            if response.status_code >= 500:
                result.problems.append(f"{response.status_code} for GET {path} {query!r}")
            elif response.status_code >= 400 and "error" not in (response.json() or {}):
                result.problems.append(f"GET {path} {response.status_code} is not a JSON error")
            if response.status_code == 200 and path.endswith("/meta") and response.text != query.get("hub.challenge"):
                result.problems.append(f"GET {path} did not echo the challenge literally: {response.text[:80]!r}")

        return handshake

    for path, param in (("/webhooks/meta", "hub.verify_token"), ("/webhooks/x", "crc_token")):
        handshaker(path, param)()

    time.sleep(1)
    after = table_items(stack.table, stack.emulator)
    literal = _template_round_trip(stack, session, result)
    # The platforms' echoes of Heed's acknowledgements write too (a brand message and its delivery, when the
    # echo beats the send's own record): read after the round trip, so an echo stored before the snapshot
    # has had its answer recorded.
    echoed = {e["sha256"] for e in stack.echoes() if e["status"] == 200}
    partial = _partial_writes(before, after, received[0], bodies_2xx | echoed, small_2xx, sent_log)
    for problem in partial:
        result.problems.append(problem)
    five = sum(n for code, n in statuses.items() if code >= 500)
    result.counts = {"requests": sum(per_route.values()),
                     **{f"{p.rsplit('/', 1)[-1]}" if not p.startswith("GET") else f"get-{p.rsplit('/', 1)[-1]}": n
                        for p, n in per_route.items()},
                     "2xx": sum(n for c, n in statuses.items() if c < 300),
                     "4xx": sum(n for c, n in statuses.items() if 400 <= c < 500), "5xx": five,
                     "413": statuses[413], "no-answer": statuses[0], "stored-by-2xx": received[0],
                     "partial-writes": len(partial),
                     "template-literal": literal}
    check(result, all(per_route[p] >= size for p in ROUTES), f"fewer than {size} requests on a route: {per_route}")
    result.passed = result.passed and not result.problems
    session.close()
    return result


class _Rng:
    """A stand-in for hypothesis' data object with plain random draws (topping up to ``size``)."""

    def draw(self, strategy):
        return strategy.example()


def _partial_writes(before: list[dict], after: list[dict], received: int, bodies: set[str],
                    small_2xx: list[bytes], sent_log: list[tuple[str, int, int, bytes]]) -> list[str]:
    problems = []
    old = {(i["pk"]["S"], i["sk"]["S"]) for i in before}
    new = [i for i in after if (i["pk"]["S"], i["sk"]["S"]) not in old]
    inbound = [i for i in new if i["type"]["S"] == "message" and i["direction"]["S"] == "in"]
    if len(inbound) != received:
        problems.append(f"{len(inbound)} new inbound messages, 2xx answers said {received}")
        for item in inbound:
            message_id = item.get("id", {}).get("S", "")
            if message_id and not any(message_id.encode() in raw for raw in small_2xx):
                sources = [f"{kind}:{code}:received={said}" for kind, code, said, raw in sent_log
                           if message_id.encode() in raw]
                problems.append(f"new inbound message in no small 2xx body: pk={item['pk']['S'][:120]} "
                                f"sent_at={item.get('sent_at', {}).get('S')} sent in: {sources[:6]}")
    for item in new:
        if item["type"]["S"] == "delivery":
            digest = item["pk"]["S"].split("#", 1)[1]
            if digest not in bodies:
                problems.append(f"a raw delivery stored for a body that got no 2xx: {item['pk']['S']}")
    return problems


def _template_round_trip(stack, session: requests.Session, result: Result) -> str:
    """A signed message whose text and name are template syntax and HTML: stored and shown literally."""
    import local.simulator as sim

    path, headers, raw = webhook("telegram", ROUND_TRIP_TEXT, customer=TEMPLATE_NAME, env={})
    answer = session.post(stack.api + path, data=raw, headers=headers, timeout=30)
    check(result, answer.status_code == 200, f"template message refused: {answer.status_code}")
    chat = customer_number(TEMPLATE_NAME, 9)
    deadline, acks = time.monotonic() + 30, []
    while time.monotonic() < deadline and not acks:
        acks = [c for c in stack.sent() if accepted(c) and str((c.get("body") or {}).get("chat_id")) == chat]
        time.sleep(0.5)
    convs = [c for c in stack.conversations() if c["customer"]["id"] == chat]
    check(result, len(convs) == 1, f"{len(convs)} conversations for the template customer")
    if not convs:
        return "no"
    detail = session.get(f"{stack.api}/conversations/{convs[0]['id']}", headers=STAFF, timeout=30)
    check(result, detail.headers.get("Content-Type", "").startswith("application/json"),
          f"conversation detail is {detail.headers.get('Content-Type')}, not JSON")
    texts = [m["text"] for m in detail.json()["messages"] if m["direction"] == "in"]
    literal = texts == [ROUND_TRIP_TEXT] and detail.json()["customer"]["name"] == TEMPLATE_NAME
    check(result, literal, f"stored text/name not literal: {texts!r} {detail.json()['customer']['name']!r}")
    check(result, bool(acks), "no acknowledgement for the template message within 30 s")
    for call in acks:
        text = sim._text_of(call["body"])
        check(result, "49" not in text, f"acknowledgement evaluated customer text: {text!r}")
    return "yes" if literal and acks and result.passed else "no"
