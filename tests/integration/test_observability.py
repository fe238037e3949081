"""What the functions print: structured JSON logs without customer text, and EMF metrics from intake."""
from __future__ import annotations

import json

from tests import payloads as p
from tests.signing import body, meta_headers, telegram_headers

PHONE = "+15555550123"
SECRET_TEXT = "my card ends 4242, call me on +15555550123"


def printed(capsys) -> list[dict]:
    """Every stdout line; each must be one JSON object (CloudWatch parses them)."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def metric_points(records: list[dict], name: str) -> list[tuple[dict, float]]:
    points = []
    for record in records:
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
            if any(m["Name"] == name for m in directive["Metrics"]):
                assert directive["Namespace"] == "Heed"
                dims = {d: record[d] for d in directive["Dimensions"][0]}
                points.append((dims, record[name]))
    return points


def test_intake_counts_received_and_duplicates_per_platform(client, capsys):
    wa = body(p.meta("whatsapp_business_account", p.whatsapp_entry(
        [p.whatsapp_message("wamid.1", "15555550123", SECRET_TEXT), p.whatsapp_message("wamid.2", "15555550123", "x")],
        [{"wa_id": "15555550123", "profile": {"name": "Ana"}}])))
    tg = body(p.telegram_update(1, 42, 1, SECRET_TEXT))
    capsys.readouterr()
    assert client.http.post("/webhooks/meta", body=wa, headers=meta_headers(wa)).status_code == 200
    assert client.http.post("/webhooks/meta", body=wa, headers=meta_headers(wa)).status_code == 200  # retry
    assert client.http.post("/webhooks/telegram", body=tg, headers=telegram_headers()).status_code == 200
    records = printed(capsys)
    assert metric_points(records, "MessagesReceived") == [
        ({"Stage": "local", "Platform": "whatsapp"}, 2),
        ({"Stage": "local", "Platform": "whatsapp"}, 2),
        ({"Stage": "local", "Platform": "telegram"}, 1),
    ]
    assert metric_points(records, "Duplicates") == [({"Stage": "local", "Platform": "whatsapp"}, 2)]


def test_logs_carry_no_customer_text_or_phone_numbers(client, capsys):
    wa = body(p.meta("whatsapp_business_account", p.whatsapp_entry(
        [p.whatsapp_message("wamid.9", PHONE.lstrip("+"), SECRET_TEXT)],
        [{"wa_id": PHONE.lstrip("+"), "profile": {"name": "Ana"}}])))
    capsys.readouterr()
    client.http.post("/webhooks/meta", body=wa, headers=meta_headers(wa))
    client.http.post("/webhooks/meta", body=b"{not json " + SECRET_TEXT.encode(), headers=meta_headers(b"x"))
    out = json.dumps(printed(capsys))
    assert "4242" not in out and PHONE.lstrip("+") not in out and "call me" not in out
