"""EMF lines: the shape CloudWatch turns into metrics."""
from __future__ import annotations

import json

from functions import metrics


def emitted(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_count_is_one_emf_record(capsys, monkeypatch):
    monkeypatch.setenv("HEED_STAGE", "prod")
    metrics.count("MessagesReceived", 3, Platform="whatsapp")
    (record,) = emitted(capsys)
    aws = record.pop("_aws")
    assert isinstance(aws["Timestamp"], int) and aws["Timestamp"] > 1_700_000_000_000
    assert aws["CloudWatchMetrics"] == [{"Namespace": "Heed", "Dimensions": [["Stage", "Platform"]],
                                         "Metrics": [{"Name": "MessagesReceived", "Unit": "Count"}]}]
    assert record == {"Stage": "prod", "Platform": "whatsapp", "MessagesReceived": 3}


def test_defaults_one_and_stage_local_and_sorted_dimensions(capsys, monkeypatch):
    monkeypatch.delenv("HEED_STAGE", raising=False)
    metrics.count("SlaBreaches", Policy="dm", Channel="comment")
    metrics.count("SmsFailures")
    first, second = emitted(capsys)
    assert first["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Stage", "Channel", "Policy"]]
    assert (first["Stage"], first["Channel"], first["Policy"], first["SlaBreaches"]) == ("local", "comment", "dm", 1)
    assert second["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Stage"]] and second["SmsFailures"] == 1


def test_other_units(capsys):
    metrics.emit("AlertLatency", 1.5, "Seconds")
    (record,) = emitted(capsys)
    assert record["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "AlertLatency", "Unit": "Seconds"}]
    assert record["AlertLatency"] == 1.5
