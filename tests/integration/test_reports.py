"""Reports through the real entry points against moto: webhooks -> stream -> SLA events -> day index -> report.

Time is frozen (time-machine) on a Monday so a clock can be met, breached by
the checker and answered late, or answered late before any check, and the
figures be exact.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from functions import config
from tests import payloads as p
from tests.integration.test_sla_alerts import POLICY, T0, SlaWorld
from tests.integration.test_webhooks import post
from tests.signing import body, meta_headers, staff_headers

TODAY = T0.date().isoformat()  # Monday 2026-11-23


@pytest.fixture
def world(client, stack_env, tmp_path, monkeypatch):
    import time_machine

    path = tmp_path / "heed.toml"
    path.write_text(POLICY)
    monkeypatch.setenv("HEED_CONFIG", str(path))
    monkeypatch.setenv("HEED_PUBLIC_URL", "https://heed.example")
    config.reset()
    with time_machine.travel(T0, tick=False) as traveller:
        yield SlaWorld(client, stack_env, traveller)
    config.reset()


def seed(w: SlaWorld) -> None:
    """A met in 4m; B paged as breached then answered at 14m; C answered 11m late-but-unpaged."""
    w.message("psid-a", "a1", 0)
    w.message("psid-b", "b1", 1)
    w.message("psid-c", "c1", 3)
    w.at(4)
    w.message("psid-a", "a2", 4, echo=True)
    w.at(12)
    w.tick()  # B (due 11m) breaches; C (due 13m) not yet
    w.at(14)
    w.message("psid-c", "c2", 14, echo=True)
    w.at(15)
    w.message("psid-b", "b2", 15, echo=True)


def get(w: SlaWorld, path: str):
    return w.client.http.get(path, headers=staff_headers())


def test_response_times_count_each_breach_once_in_wall_and_business_time(world):
    w = world
    seed(w)
    answer = get(w, f"/reports/response-times?from={TODAY}&to={TODAY}&group_by=platform")
    assert answer.status_code == 200, answer.body
    report = json.loads(answer.body)
    totals = report["totals"]
    assert totals["clocks_opened"] == 3 and totals["opened"] == {"first_response": 3, "next_response": 0}
    assert (totals["met"], totals["breached"], totals["sla_compliance_pct"]) == (1, 2, 33.3)
    assert totals["breaches_by_reason"] == {"first_response": 2}
    first = totals["first_response"]
    assert first["count"] == 3
    # 240 s, 660 s, 840 s: nearest rank, within the histogram's 0.5 %
    assert first["wall"]["p50"] == pytest.approx(660, rel=0.005)
    assert first["wall"]["p95"] == pytest.approx(840, rel=0.005)
    assert first["business"] == first["wall"]  # calendar "always"
    assert totals["inbound_messages"] == 3 and totals["noise_share_pct"] == 0.0
    assert [g["value"] for g in report["groups"]] == ["facebook"]
    assert report["sources"] == {"stored_rollups": 0, "computed_days": 0, "live_days": 1}


def test_a_closed_day_is_rolled_up_once_and_read_back(world):
    w = world
    seed(w)
    w.traveller.move_to(T0 + timedelta(days=1, hours=2))
    first = json.loads(get(w, f"/reports/response-times?from={TODAY}&to={TODAY}").body)
    assert first["sources"] == {"stored_rollups": 0, "computed_days": 1, "live_days": 0}
    second = json.loads(get(w, f"/reports/response-times?from={TODAY}&to={TODAY}").body)
    assert second["sources"] == {"stored_rollups": 1, "computed_days": 0, "live_days": 0}
    assert second["totals"] == first["totals"] and second["totals"]["breached"] == 2


def test_a_policy_change_does_not_rewrite_the_past(world, tmp_path, monkeypatch):
    w = world
    seed(w)
    before = json.loads(get(w, f"/reports/response-times?from={TODAY}&to={TODAY}").body)["totals"]
    stricter = tmp_path / "stricter.toml"
    stricter.write_text(POLICY.replace('first_response = "10m"', 'first_response = "1m"'))
    monkeypatch.setenv("HEED_CONFIG", str(stricter))
    config.reset()
    after = json.loads(get(w, f"/reports/response-times?from={TODAY}&to={TODAY}").body)["totals"]
    assert after == before


@pytest.mark.parametrize("query, reason", [
    ("from=2026-13-01", "from must be a date"),
    ("from=2026-11-23T00:00", "from must be a date"),
    ("from=2026-11-24&to=2026-11-23", "from must not be after to"),
    ("from=2024-01-01&to=2026-11-23", "longer than 366 days"),
    ("group_by=customer", "group_by must be one of platform, channel, policy, priority"),
])
def test_bad_report_queries_are_400_json(world, query, reason):
    answer = get(world, f"/reports/response-times?{query}")
    assert answer.status_code == 400
    assert reason in json.loads(answer.body)["message"]


def test_reports_need_staff_auth(world):
    assert world.client.http.get("/reports/response-times").status_code == 401
    assert world.client.http.get("/reports/conversations.csv").status_code == 401


def test_conversations_csv_one_row_per_conversation_no_text_formulas_escaped(world):
    w = world
    raw = body(p.meta("page", p.messenger_entry(p.messenger_event(
        "psid-evil", "e1", "=HYPERLINK(\"http://evil\")", ts_ms=int(T0.timestamp() * 1000)))))
    assert post(w.client, "/webhooks/meta", raw, meta_headers(raw))[0] == 200
    w.stream.drain()
    seed(w)
    from functions.store import dynamo
    conv = w.conversation("psid-evil")["id"]
    boto3.client("dynamodb").update_item(
        TableName=w.stream.table_name, Key={"pk": {"S": f"CONV#{conv}"}, "sk": {"S": "CONV"}},
        UpdateExpression="SET customer_name = :n", ExpressionAttributeValues={":n": {"S": "=cmd|' /C calc'!A0"}})
    answer = get(w, f"/reports/conversations.csv?from={TODAY}&to={TODAY}")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="heed-conversations-{TODAY}-{TODAY}.csv"')
    text = answer.body.decode() if isinstance(answer.body, bytes) else answer.body
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 4
    assert "HYPERLINK" not in text  # no message text
    evil = next(r for r in rows if r["conversation_id"] == conv)
    assert evil["customer_name"] == "'=cmd|' /C calc'!A0"
    by_customer = {r["customer_id"]: r for r in rows}
    assert by_customer["psid-a"]["first_response_seconds"] == "240" and by_customer["psid-a"]["breaches"] == "0"
    assert by_customer["psid-b"]["first_response_seconds"] == "840" and by_customer["psid-b"]["breaches"] == "1"
    assert by_customer["psid-c"]["breaches"] == "1" and by_customer["psid-c"]["priority"] == "normal"
    assert dynamo  # imported for the table's name only through the stream reader
    empty = get(w, "/reports/conversations.csv?from=2026-11-01&to=2026-11-02")
    assert (empty.body.decode() if isinstance(empty.body, bytes) else empty.body).count("\r\n") == 1  # header only
    assert get(w, "/reports/conversations.csv?from=2026-01-01&to=2026-11-23").status_code == 400  # > 93 days


def test_weekly_report_is_emailed_through_ses_with_text_html_and_svg(world, monkeypatch):
    from moto.backends import get_backend

    from functions import weekly_report

    w = world
    seed(w)
    sender = "reports@brand.example"
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=sender)
    monkeypatch.setenv("HEED_EMAIL_FROM", sender)
    monkeypatch.setenv("HEED_REPORT_RECIPIENTS", "boss@brand.example, lead@brand.example")
    w.traveller.move_to(T0 + timedelta(days=7, hours=6))  # the next Monday morning
    sent = weekly_report.daily(datetime.now(UTC))
    assert sent is not None and sent.recipients == ("boss@brand.example", "lead@brand.example")
    [mail] = get_backend("ses")["123456789012"]["us-east-1"].sent_messages
    raw = mail.raw_data
    assert "Subject: Heed Demo: response times 23 Nov =E2=80=93 29 Nov 2026" in raw or "response times" in raw
    import email
    parsed = email.message_from_string(raw)
    parts = {part.get_content_type(): part.get_payload(decode=True).decode() for part in parsed.walk()
             if not part.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "SLA compliance" in parts["text/plain"] and "33.3%" in parts["text/plain"]
    assert parts["text/html"].count("<svg") == 2 and "First response p50 by platform" in parts["text/html"]
    assert "<table" in parts["text/html"]  # the CSS-bar fallback beside each SVG


def test_weekly_report_lists_complaint_terms_and_escapes_them():
    from functions import weekly_report
    from functions.domain import charts
    from functions.domain import reports as maths

    rollup = maths.fold([{"type": "message", "platform": "x", "channel": "dm", "labels": ["complaint"],
                          "text": "Refund <script>alert(1)</script> refund refund, delivery late"}])
    context = {"brand": "B&B", "start": T0.date(), "end": T0.date(), "rows": [], "breaches_by_reason": [],
               "terms": maths.top_terms(rollup["terms"]), "incidents": [],
               "charts": [{"svg": charts.svg_bars("<t>", [charts.Bar("<x>", 1.0)]),
                           "table": charts.table_bars("<t>", [charts.Bar("<x>", 1.0)])}]}
    subject, text, html = weekly_report.render(context)
    assert ("refund", 3) in context["terms"]
    assert "<script>" not in html and "<x>" not in html and "B&amp;B" in html
