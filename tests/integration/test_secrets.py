"""Secrets from SSM Parameter Store (moto), through real routes.

With ``HEED_SSM_PREFIX`` set, every secret is the SecureString ``<prefix>/<NAME>``:
fetched in one ``GetParametersByPath`` at first need, cached with a TTL, and a
missing parameter or failing SSM answers 503 with a log line naming the
parameter, never its value.
"""
from __future__ import annotations

import json

import boto3
import pytest

from functions import aws, settings
from local.stack import LOCAL_SECRETS
from tests import payloads as p
from tests.faults import failing
from tests.signing import body, meta_headers, staff_headers, telegram_headers

PREFIX = "/heed/test"
ROTATED = "rotated-telegram-secret-token"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ssm_stage(stack_env, monkeypatch):
    """The cloud's way: secrets only in SSM (none in the environment), a clock the test moves."""
    monkeypatch.setenv("HEED_SSM_PREFIX", PREFIX)
    for name in LOCAL_SECRETS:
        monkeypatch.delenv(name, raising=False)
    clock = FakeClock()
    monkeypatch.setattr(settings, "_secrets", settings.SsmSecrets(clock=clock))
    ssm = boto3.client("ssm")
    for name, value in LOCAL_SECRETS.items():
        ssm.put_parameter(Name=f"{PREFIX}/{name}", Value=value, Type="SecureString", Overwrite=True)
    ssm.put_parameter(Name="/heed/other/STAFF_API_TOKEN", Value="another-stage", Type="SecureString", Overwrite=True)
    calls: list[dict] = []

    def count(params, **_):
        if "NextToken" not in params:  # one fetch; SSM pages at most 10 parameters per request
            calls.append(params)

    events = aws.client("ssm").meta.events
    events.register("provide-client-params.ssm.GetParametersByPath", count)
    yield {"ssm": ssm, "clock": clock, "calls": calls}
    events.unregister("provide-client-params.ssm.GetParametersByPath", count)


def telegram(client, update_id: int, token: str = LOCAL_SECRETS["TELEGRAM_SECRET_TOKEN"]):
    raw = body(p.telegram_update(update_id, 42, update_id, "hello"))
    response = client.http.post("/webhooks/telegram", body=raw, headers=telegram_headers(token))
    return response.status_code, json.loads(response.body)


def log_records(capsys) -> list[dict]:
    """Heed's log lines (not the EMF metric lines)."""
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [record for record in lines if "event" in record]


def test_secrets_come_from_ssm_in_one_call_and_are_cached(client, ssm_stage):
    assert telegram(client, 1) == (200, {"received": 1})
    raw = body(p.meta("page", p.messenger_entry(p.messenger_event("psid-ssm", "m_ssm", "hi"))))
    meta = client.http.post("/webhooks/meta", body=raw, headers=meta_headers(raw))
    assert meta.status_code == 200
    staff = client.http.get("/conversations", headers=staff_headers())
    assert staff.status_code == 200
    wrong = client.http.get("/conversations", headers=staff_headers("another-stage"))
    assert wrong.status_code == 401  # only this stage's path is read
    assert len(ssm_stage["calls"]) == 1
    assert ssm_stage["calls"][0] == {"Path": PREFIX, "Recursive": False, "WithDecryption": True}


def test_rotation_is_picked_up_after_the_ttl(client, ssm_stage):
    assert telegram(client, 1)[0] == 200
    ssm_stage["ssm"].put_parameter(Name=f"{PREFIX}/TELEGRAM_SECRET_TOKEN", Value=ROTATED, Type="SecureString",
                                   Overwrite=True)
    ssm_stage["clock"].now += settings.SECRETS_TTL - 1
    assert telegram(client, 2)[0] == 200  # still the cached secret
    assert telegram(client, 3, ROTATED)[0] == 403
    ssm_stage["clock"].now += 1
    assert telegram(client, 4, ROTATED) == (200, {"received": 1})
    assert telegram(client, 5)[0] == 403
    assert len(ssm_stage["calls"]) == 2


def test_missing_parameter_is_a_503_naming_it(client, ssm_stage, capsys):
    ssm_stage["ssm"].delete_parameter(Name=f"{PREFIX}/TELEGRAM_SECRET_TOKEN")
    capsys.readouterr()
    status, answer = telegram(client, 1)
    assert status == 503 and answer["error"] == "unavailable"
    assert f"{PREFIX}/TELEGRAM_SECRET_TOKEN" in answer["message"]
    records = log_records(capsys)
    missing = [r for r in records if r["event"] == "setting_missing"]
    assert missing == [{"level": "ERROR", "event": "setting_missing", "setting": f"{PREFIX}/TELEGRAM_SECRET_TOKEN",
                        "source": "ssm"}]
    everything = json.dumps(records)
    assert not any(value in everything for value in LOCAL_SECRETS.values())
    # Other secrets still work, and creating the parameter fixes it without a deploy.
    assert client.http.get("/conversations", headers=staff_headers()).status_code == 200
    ssm_stage["ssm"].put_parameter(Name=f"{PREFIX}/TELEGRAM_SECRET_TOKEN", Value=ROTATED, Type="SecureString")
    assert telegram(client, 2, ROTATED)[0] == 503  # looked for again only after RECHECK
    ssm_stage["clock"].now += settings.RECHECK
    assert telegram(client, 3, ROTATED) == (200, {"received": 1})


def test_ssm_failing_is_a_503_then_recovers(client, ssm_stage, capsys):
    capsys.readouterr()
    with failing("GetParametersByPath", lambda n: True, service="ssm") as failed:
        status, answer = telegram(client, 1)
        assert status == 503 and answer["error"] == "unavailable"
        assert telegram(client, 2)[0] == 503  # within RECHECK: no new call to a failing SSM
    assert len(failed) == 1
    records = log_records(capsys)
    unavailable = [r for r in records if r["event"] == "secret_unavailable"]
    assert unavailable[0] == {"level": "ERROR", "event": "secret_unavailable",
                              "parameter": f"{PREFIX}/TELEGRAM_SECRET_TOKEN", "error": "InternalServerError"}
    ssm_stage["clock"].now += settings.RECHECK
    assert telegram(client, 3) == (200, {"received": 1})


def test_a_failed_refresh_keeps_serving_the_cached_secrets(client, ssm_stage, capsys):
    assert telegram(client, 1)[0] == 200
    ssm_stage["clock"].now += settings.SECRETS_TTL
    capsys.readouterr()
    with failing("GetParametersByPath", lambda n: True, service="ssm"):
        assert telegram(client, 2) == (200, {"received": 1})
    assert [r["event"] for r in log_records(capsys) if r["level"] != "INFO"] == ["secrets_refresh_failed"]


def test_without_a_prefix_secrets_come_from_the_environment(client, stack_env, monkeypatch):
    monkeypatch.delenv("HEED_SSM_PREFIX", raising=False)
    assert telegram(client, 1) == (200, {"received": 1})
    monkeypatch.delenv("TELEGRAM_SECRET_TOKEN")
    status, answer = telegram(client, 2)
    assert status == 503 and "TELEGRAM_SECRET_TOKEN is not set" in answer["message"]


def test_an_optional_per_account_secret_is_quietly_absent(ssm_stage, capsys):
    from functions import settings

    capsys.readouterr()
    assert settings.optional_secret("META_PAGE_TOKEN_104612345678901") is None  # no override for this Page
    assert settings.optional_secret("META_APP_SECRET") == "local-meta-app-secret"
    assert [r for r in log_records(capsys) if r["level"] != "INFO"] == []
