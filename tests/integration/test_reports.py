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

from tests import payloads as p
from tests.integration.test_sla_alerts import LADDER, POLICY, T0, SlaWorld
from tests.integration.test_webhooks import post
from tests.policy import PUBLIC_URL, policy_file, policy_in_force, sla_policy, use_policy
from tests.signing import body, meta_headers, staff_headers

TODAY = T0.date().isoformat()  # Monday 2026-11-23


@pytest.fixture
def world(client, stack_env, tmp_path, monkeypatch):
    import time_machine

    with policy_in_force(POLICY, tmp_path, monkeypatch, public_url=PUBLIC_URL), \
            time_machine.travel(T0, tick=False) as traveller:
        yield SlaWorld(client, stack_env, traveller)


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
    assert report["timezone"] == "UTC"
    # 09:15: no hour of today has closed with entries yet, so all 9 entries are read live
    assert report["sources"] == {"stored_rollups": 0, "computed_days": 0, "live_days": 1,
                                 "partial_entries": 0, "live_entries": 10}


def test_a_closed_day_is_rolled_up_once_and_read_back(world):
    w = world
    seed(w)
    w.traveller.move_to(T0 + timedelta(days=1, hours=2))
    first = json.loads(get(w, f"/reports/response-times?from={TODAY}&to={TODAY}").body)
    assert first["sources"] == {"stored_rollups": 0, "computed_days": 1, "live_days": 0,
                                "partial_entries": 0, "live_entries": 0}
    second = json.loads(get(w, f"/reports/response-times?from={TODAY}&to={TODAY}").body)
    assert second["sources"] == {"stored_rollups": 1, "computed_days": 0, "live_days": 0,
                                 "partial_entries": 0, "live_entries": 0}
    assert second["totals"] == first["totals"] and second["totals"]["breached"] == 2


def test_a_policy_change_does_not_rewrite_the_past(world, tmp_path, monkeypatch):
    w = world
    seed(w)
    before = json.loads(get(w, f"/reports/response-times?from={TODAY}&to={TODAY}").body)["totals"]
    stricter = policy_file(sla_policy("test", "1m", next_="10m", warn_at=[0.5]), LADDER)  # first response 10m -> 1m
    use_policy(stricter, tmp_path, monkeypatch, name="stricter.toml")
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


def sources_and_totals(w: SlaWorld, query: str = f"from={TODAY}&to={TODAY}") -> tuple[dict, dict]:
    answer = get(w, f"/reports/response-times?{query}")
    assert answer.status_code == 200, answer.body
    report = json.loads(answer.body)
    return report["sources"], report["totals"]


def test_today_is_a_partial_rollup_up_to_the_last_closed_hour_plus_only_what_followed(world):
    w = world
    seed(w)  # 10 day-index entries between 09:00 and 09:15
    _, at_0915 = sources_and_totals(w)
    w.at(150)  # 11:30: the hours up to 11:00 have closed (10 minutes' lag)
    sources, totals = sources_and_totals(w)
    assert (sources["partial_entries"], sources["live_entries"]) == (10, 0) and totals == at_0915
    stored = boto3.client("dynamodb").get_item(TableName=w.stream.table_name,
                                               Key={"pk": {"S": f"REPORT#{TODAY}"}, "sk": {"S": "PARTIAL#UTC"}})
    assert stored["Item"]["through"]["S"] == "2026-11-23T11:00:00.000Z"
    sources, totals = sources_and_totals(w)  # the next request reads the partial, nothing else
    assert (sources["partial_entries"], sources["live_entries"]) == (0, 0) and totals == at_0915
    w.message("psid-d", "d1", 151)  # 11:31: a new clock, read live
    sources, totals = sources_and_totals(w)
    assert (sources["partial_entries"], sources["live_entries"]) == (0, 2)
    assert totals["clocks_opened"] == 4 and totals["inbound_messages"] == 4
    w.at(196)  # 12:16: 11:00-12:00 is folded in once
    sources, later = sources_and_totals(w)
    assert (sources["partial_entries"], sources["live_entries"]) == (2, 0) and later == totals
    # a reader that raced and folded the same hour again stores nothing twice: the cursor only moves on
    from functions import reports
    from functions.domain import reports as maths
    assert not reports.dynamo.put_rollup(TODAY, "PARTIAL#UTC", maths.empty_rollup(), "x",
                                         through="2026-11-23T12:00:00.000Z")
    assert sources_and_totals(w)[1] == totals
    w.traveller.move_to(T0 + timedelta(days=1, hours=2))  # the day closed: its rollup is the whole day again
    sources, closed = sources_and_totals(w)
    assert sources["computed_days"] == 1 and closed == totals


TZ_POLICY = POLICY + """
[reports]
timezone = "America/New_York"
recipients = ["boss@brand.example"]
weekly_day = "tue"
"""


def test_report_days_are_days_in_the_brands_time_zone(world, tmp_path, monkeypatch):
    w = world
    w.message("psid-eve", "eve1", -420)  # 02:00 UTC on the 23rd: 21:00 on the 22nd in New York
    seed(w)
    period = "from=2026-11-22&to=2026-11-23"
    utc = json.loads(get(w, f"/reports/response-times?{period}").body)
    assert utc["timezone"] == "UTC"
    assert [(d["date"], d["clocks_opened"]) for d in utc["daily"]] == [("2026-11-22", 0), ("2026-11-23", 4)]
    use_policy(TZ_POLICY, tmp_path, monkeypatch, name="tz.toml")
    local = json.loads(get(w, f"/reports/response-times?{period}").body)
    assert local["timezone"] == "America/New_York"
    assert [(d["date"], d["clocks_opened"]) for d in local["daily"]] == [("2026-11-22", 1), ("2026-11-23", 3)]
    # the 22nd in New York ended at 05:00 UTC, over an hour ago: rolled up and stored under its zone
    assert local["sources"]["computed_days"] == 1 and local["sources"]["live_days"] == 1
    assert local["totals"]["clocks_opened"] == utc["totals"]["clocks_opened"] == 4
    again = json.loads(get(w, f"/reports/response-times?{period}").body)
    assert again["sources"]["stored_rollups"] == 1 and again["daily"] == local["daily"]
    # the CSV's period is in the same zone: Eve's conversation (last active 21:00 on the 22nd) is the 22nd's
    csv_22 = get(w, "/reports/conversations.csv?from=2026-11-22&to=2026-11-22")
    rows = list(csv.DictReader(io.StringIO(csv_22.body.decode() if isinstance(csv_22.body, bytes) else csv_22.body)))
    assert [r["customer_id"] for r in rows] == ["psid-eve"]


def test_weekly_report_goes_out_on_the_configured_day_to_the_configured_recipients(world, tmp_path, monkeypatch):
    from moto.backends import get_backend

    from functions import weekly_report

    w = world
    seed(w)
    monkeypatch.setenv("HEED_REPORT_RECIPIENTS", "")  # a stage's empty parameter: the file's list applies
    use_policy(TZ_POLICY, tmp_path, monkeypatch, name="tz.toml")
    sender = "reports@brand.example"
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=sender)
    monkeypatch.setenv("HEED_EMAIL_FROM", sender)
    w.traveller.move_to(datetime(2026, 11, 30, 6, 0, tzinfo=UTC))  # Monday 06:00 UTC: Monday 01:00 in New York
    assert weekly_report.daily(datetime.now(UTC)) is None  # weekly_day = "tue"
    w.traveller.move_to(datetime(2026, 12, 1, 6, 0, tzinfo=UTC))  # Tuesday in New York
    sent = weekly_report.daily(datetime.now(UTC))
    assert sent is not None and sent.recipients == ("boss@brand.example",)
    assert "24 Nov" in sent.subject and "30 Nov 2026" in sent.subject  # Tue 24 .. Mon 30, New York days
    monkeypatch.setenv("HEED_REPORT_RECIPIENTS", "ops@brand.example")  # the stage overrides the file
    assert weekly_report.recipients() == ("ops@brand.example",)
    assert len(get_backend("ses")["123456789012"]["us-east-1"].sent_messages) == 1


def csv_page(w: SlaWorld, query: str):
    answer = get(w, f"/reports/conversations.csv?{query}")
    text = answer.body.decode() if isinstance(answer.body, bytes) else answer.body
    return answer, list(csv.DictReader(io.StringIO(text)))


def test_conversations_csv_is_paged_under_the_response_limit(world, monkeypatch):
    from functions import reports

    w = world
    seed(w)
    w.message("psid-d", "d1", 16)
    w.message("psid-e", "e1", 17)  # five conversations
    whole, all_rows = csv_page(w, f"from={TODAY}&to={TODAY}")
    assert whole.headers["X-Heed-Truncated"] == "false" and "X-Heed-Next" not in whole.headers
    assert len(all_rows) == 5 and whole.headers["X-Heed-Rows"] == "5"
    monkeypatch.setattr(reports, "MAX_CSV_ROWS", 2)
    seen, query, pages = [], f"from={TODAY}&to={TODAY}", 0
    while True:
        answer, rows = csv_page(w, query)
        assert answer.status_code == 200 and len(rows) <= 2
        seen += [r["conversation_id"] for r in rows]
        pages += 1
        if answer.headers["X-Heed-Truncated"] == "false":
            break
        query = f"from={TODAY}&to={TODAY}&next={answer.headers['X-Heed-Next']}"
    assert pages == 3 and sorted(seen) == sorted(r["conversation_id"] for r in all_rows)
    monkeypatch.setattr(reports, "MAX_CSV_ROWS", 20_000)
    monkeypatch.setattr(reports, "MAX_CSV_BYTES", 1)  # the byte cap: one row a page
    answer, rows = csv_page(w, f"from={TODAY}&to={TODAY}")
    assert len(rows) == 1 and answer.headers["X-Heed-Truncated"] == "true"
    for bad in ("not-a-cursor", answer.headers["X-Heed-Next"] + "x"):
        refused = get(w, f"/reports/conversations.csv?from={TODAY}&to={TODAY}&next={bad}")
        assert refused.status_code == 400 and json.loads(refused.body)["error"]
    cursor = answer.headers["X-Heed-Next"]
    other_period = get(w, f"/reports/conversations.csv?from=2026-11-01&to=2026-11-02&next={cursor}")
    assert other_period.status_code == 400  # a cursor only resumes the period it came from


def test_a_csv_page_of_the_widest_rows_stays_under_lambdas_6_mb_response(monkeypatch):
    """Rows whose every cell is as long as stored values get, names full of quotes, CJK and emoji (which the
    Lambda runtime's JSON escapes to 6-12 bytes a character): the page is cut before the response nears 6 MB."""
    from functions import reports

    def conversations(start, end, resume=None):
        for n in range(30_000):
            stamp = "2026-11-23T09:00:00.000Z"
            conv = "c" + format(n, "024d").translate(str.maketrans("0123456789", "abcdefghij"))
            yield ({"id": conv, "platform": "instagram", "channel": "comment", "account_id": "1" * 20,
                    "customer_id": "2" * 20, "customer_name": '"顧客😀"' * 16, "status": "open", "priority": "urgent",
                    "labels": ["complaint", "profanity", "question"], "incident_id": "i" + "0" * 24,
                    "created_at": stamp, "last_message_at": stamp, "message_count": 99999,
                    "first_response_seconds": 864000, "first_response_business_seconds": 864000,
                    "breach_count": 99, "sla": json.dumps({"clock": {"state": "breached", "policy": "p" * 40}})},
                   ("open", f"{stamp}#{conv}"))
    monkeypatch.setattr(reports.dynamo, "conversations_active", conversations)
    page = reports.conversations_csv(reports.Period(T0.date(), T0.date()))
    response = json.dumps({"statusCode": 200, "headers": {"X-Heed-Next": page.next}, "body": page.body})
    assert page.next and 1_000 < page.rows < 30_000
    assert len(response.encode()) < 6 * 1024 * 1024 - 64 * 1024
