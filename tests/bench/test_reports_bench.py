"""Reports bench: a month's response-time report for a small (1k messages/month) and a mid-size
(100k messages/month) brand, figures beside each other from the same run.

Seeding: the HTTP path would take far too long for 100k messages in moto, so
the month is generated here. The 30 closed days' rollups are folded with the
same code the rollup job uses (``functions.domain.reports.fold``) from
generated day entries and stored with ``dynamo.put_rollup``; today's entries
(and, for the rollup job's cost, yesterday's without a stored rollup) are
written as real day-index items (messages and SLA events, as the write path
lays them out) with ``BatchWriteItem``. The report itself then runs through
the route, counting DynamoDB requests and items the way the ingest and checker
benches do.

Today is open: the first report of the run folds today's closed hours into
its partial rollup (and rolls up yesterday); every later report reads the 30
rollups and today's partial in one ``BatchGetItem`` and only the entries after
the partial's cursor (the current hour) live. The baseline beside it, from the
same run, is what a report read before partial rollups: today's entries in
full (``dynamo.day_entries`` over the whole of today).
"""
from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from functions import aws
from functions.domain import reports as maths
from functions.domain.message import iso_utc
from functions.store import dynamo
from tests.bench.test_ingest_bench import DynamoRequests, fresh_table, quiet, say
from tests.bench.test_sla_checker_bench import ItemsRead
from tests.signing import staff_headers

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # today: 1 Dec, 15:00 UTC
DAYS = 30
PLATFORMS = ("facebook", "instagram", "whatsapp", "x", "telegram")
CHANNELS = ("dm", "dm", "dm", "comment", "mention")
COMPLAINTS = ("my parcel arrived damaged", "refund still missing after two weeks", "charged twice for delivery")


def day_entries(day: datetime, messages: int, rng: random.Random, hours: float = 24) -> list[dict[str, Any]]:
    """One day's reporting items as stored (messages and SLA events with the day index keys)."""
    items: list[dict[str, Any]] = []
    for n in range(messages):
        at = day + timedelta(seconds=rng.uniform(0, hours * 3600))
        platform, channel = rng.choice(PLATFORMS), rng.choice(CHANNELS)
        labels = ["noise"] if rng.random() < 0.1 else (["complaint"] if rng.random() < 0.06 else [])
        sent = iso_utc(at)
        items.append({"pk": f"MSG#{platform}#acct#{day:%Y%m%d}{n}", "sk": "MSG", "type": "message",
                      "platform": platform, "channel": channel, "labels": labels,
                      "text": rng.choice(COMPLAINTS) if "complaint" in labels else "where is my order",
                      "gsi3pk": f"DAY#{sent[:10]}", "gsi3sk": f"M#{sent}#{n}"})
        if labels == ["noise"] or rng.random() < 0.55:
            continue  # noise opens no clock; other messages join a running clock
        conv = f"c{day:%Y%m%d}{n:06d}"
        kind = "f" if rng.random() < 0.6 else "n"
        clock = f"{kind}{int(at.timestamp() * 1000)}"
        wall = int(rng.lognormvariate(6.5, 1.0))
        outcome = "met" if wall < 1800 else "responded_late"
        events = [("opened", at, {"target_seconds": 1800})]
        reply = at + timedelta(seconds=wall)
        if outcome == "responded_late" and rng.random() < 0.5:
            events.append(("breached", at + timedelta(seconds=1800), {"target_seconds": 1800, "level": 1}))
            events.append((outcome, reply, {"response_seconds": wall, "business_seconds": wall, "paged_breach": True}))
        else:
            events.append((outcome, reply, {"response_seconds": wall, "business_seconds": wall,
                                            **({"paged_breach": False} if outcome != "met" else {})}))
        for kind_name, when, detail in events:
            if when >= day + timedelta(hours=hours):
                continue
            stamp = iso_utc(when)
            event = {"kind": kind_name, "clock_id": clock, "at": stamp, "policy": "default", "detail": detail}
            items.append({"pk": f"CONV#{conv}", "sk": f"SLA#{stamp}#0000000001#{clock}#{kind_name}#0",
                          "type": "sla_event", "event": json.dumps(event), "platform": platform, "channel": channel,
                          "policy": "default", "gsi3pk": f"DAY#{stamp[:10]}",
                          "gsi3sk": f"S#{stamp}#{conv}#{kind_name}"})
    return items


def as_entry(item: dict[str, Any]) -> dict[str, Any]:
    """An item as ``dynamo.day_entries`` yields it."""
    if item["type"] != "sla_event":
        return item
    event = json.loads(item["event"])
    return {**item, "kind": event["kind"], "clock_id": event["clock_id"], "detail": event["detail"]}


def write(items: list[dict[str, Any]]) -> None:
    table = dynamo.settings.required("HEED_TABLE")
    client = aws.client("dynamodb")
    for start in range(0, len(items), 25):
        request = {table: [{"PutRequest": {"Item": dynamo._marshal(i)}} for i in items[start:start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def seed_month(per_month: int, endpoint: str) -> dict[str, int]:
    """Rollups for the 30 closed days, real entries for yesterday (no rollup) and today (live)."""
    fresh_table(endpoint)
    rng = random.Random(per_month)
    per_day = per_month // DAYS
    today = NOW.replace(hour=0)
    for back in range(DAYS, 1, -1):  # 30 .. 2 days ago: stored rollups
        day = today - timedelta(days=back)
        dynamo.put_rollup(day.date().isoformat(), "ROLLUP#UTC",
                          maths.fold(map(as_entry, day_entries(day, per_day, rng))),
                          iso_utc(today - timedelta(days=back - 1, hours=-2)))
    yesterday = day_entries(today - timedelta(days=1), per_day, rng)
    live = day_entries(today, int(per_day * 15 / 24), rng, hours=15)  # today until 15:00
    write(yesterday + live)
    return {"messages": per_day * (DAYS - 1) + sum(i["type"] == "message" for i in yesterday + live),
            "items_yesterday": len(yesterday), "items_today": len(live)}


def report(client: Any, days: int) -> dict[str, Any]:
    start = (NOW - timedelta(days=days - 1)).date().isoformat()
    with DynamoRequests() as requests, ItemsRead() as items, quiet():
        began = time.perf_counter()
        answer = client.http.get(f"/reports/response-times?from={start}&to={NOW.date().isoformat()}"
                                 "&group_by=platform", headers=staff_headers())
        seconds = time.perf_counter() - began
    assert answer.status_code == 200, answer.body
    body = json.loads(answer.body)
    assert "Scan" not in requests.by_operation and items.scanned <= items.total
    return {"requests": requests.total, "ops": dict(requests.by_operation), "items": items.total,
            "seconds": seconds, "body": body}


def full_today() -> dict[str, Any]:
    """The baseline: today read in full, as every report did before partial rollups."""
    with DynamoRequests() as requests, ItemsRead() as items:
        began = time.perf_counter()
        entries = sum(1 for _ in dynamo.day_entries(iso_utc(NOW.replace(hour=0)), iso_utc(NOW + timedelta(hours=9))))
        seconds = time.perf_counter() - began
    return {"requests": requests.total, "items": items.total, "entries": entries, "seconds": seconds}


def test_month_report_reads_rollups_and_the_current_hour_not_the_month_or_the_day(client, stack_env):
    figures = {}
    with time_machine.travel(NOW, tick=True):
        for size in (1_000, 100_000):
            seeded = seed_month(size, stack_env["endpoint"])
            first = report(client, 31)  # rolls up yesterday, folds today's closed hours into the partial
            month = report(client, 31)
            today = report(client, 1)
            baseline = full_today()
            figures[size] = {"seeded": seeded, "first": first, "month": month, "today": today, "full": baseline}
            assert first["body"]["sources"]["computed_days"] == 1
            assert first["body"]["sources"]["partial_entries"] > 0
            sources = month["body"]["sources"]
            assert (sources["stored_rollups"], sources["computed_days"], sources["live_days"]) == (30, 0, 1)
            assert sources["partial_entries"] == 0 and sources["live_entries"] < baseline["entries"]
            assert month["body"]["totals"] == first["body"]["totals"]
            say(f"reports {size:>7,} msgs/month ({seeded['messages']:,} seeded, today {seeded['items_today']:,} "
                f"day-index items): month report {month['requests']} DynamoDB requests {month['ops']}, "
                f"{month['items']:,} items ({sources['live_entries']:,} read live), "
                f"{month['seconds'] * 1000:.0f} ms; one-day (today) report {today['requests']} requests, "
                f"{today['items']:,} items, {today['seconds'] * 1000:.0f} ms; baseline, today read in full: "
                f"{baseline['requests']} requests, {baseline['items']:,} items, {baseline['seconds'] * 1000:.0f} ms; "
                f"first month report (rolls up yesterday, {seeded['items_yesterday']:,} items, and today's "
                f"closed hours, {first['body']['sources']['partial_entries']:,}) {first['requests']} requests, "
                f"{first['seconds'] * 1000:.0f} ms")
    small, mid = figures[1_000], figures[100_000]
    extra_small = small["month"]["requests"] - small["today"]["requests"]
    extra_mid = mid["month"]["requests"] - mid["today"]["requests"]
    say(f"reports: month report at 100k vs 1k msgs/month: requests {mid['month']['requests']} vs "
        f"{small['month']['requests']} (ratio {mid['month']['requests'] / small['month']['requests']:.2f}), "
        f"items ratio {mid['month']['items'] / small['month']['items']:.2f}, "
        f"latency ratio {mid['month']['seconds'] / small['month']['seconds']:.2f}")
    say(f"reports: at 100k msgs/month the month report reads {mid['month']['items']:,} items vs "
        f"{mid['full']['items']:,} for today alone read in full (ratio "
        f"{mid['month']['items'] / mid['full']['items']:.2f}); latency {mid['month']['seconds'] * 1000:.0f} ms vs "
        f"{mid['full']['seconds'] * 1000:.0f} ms (ratio {mid['month']['seconds'] / mid['full']['seconds']:.2f}); "
        f"the 30 closed days cost {extra_small} vs {extra_mid} extra requests over a today-only report")
    assert extra_small == extra_mid == 0  # the 30 rollups ride in the same BatchGetItem as today's partial
    assert mid["month"]["requests"] == small["month"]["requests"] == 3  # BatchGetItem + two range Queries
    assert mid["month"]["items"] < mid["full"]["items"] / 4
