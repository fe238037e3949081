"""The policy file: the packaged default, the documented schema, and loud failures naming the key."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from functions import config
from functions.config import ConfigError, load_config, parse_config
from functions.domain.calendar import ALWAYS
from functions.domain.policies import LadderLevel, QuietHours

# The schema example from functions/config.py, with real values where it has placeholders.
EXAMPLE = """
[brand]
name = "Heed Demo"

[[sla.policies]]
name = "public"
match = { channel = ["comment", "mention"] }
first_response = "15m"
next_response = "30m"
resolution = "24h"
warn_at = [0.5, 0.8]
calendar = "support"

[[sla.policies]]
name = "vip"
match = { account_id = "1784140", priority = ["high", "urgent"] }
first_response = "5m"
next_response = "1h30m"
calendar = "always"

[[sla.policies]]
name = "dm"
first_response = "4h"
next_response = "8h"
calendar = "us"

[calendars.support]
timezone = "Europe/Amsterdam"
hours = { mon = ["09:00-12:30", "13:30-17:30"], tue = ["09:00-17:30"] }
holidays = ["2026-12-25", 2026-12-31]
country = "NL"

[calendars.us]
timezone = "America/Los_Angeles"
hours = { sat = ["00:00-24:00"] }
country = "US"
subdivision = "CA"

[[alerts.ladder]]
after = "0m"
phones = ["+15555550100"]

[[alerts.ladder]]
after = "10m"
phones = ["+15555550101", "+15555550102"]

[alerts.quiet_hours."+15555550101"]
hours = "22:00-07:00"
timezone = "America/New_York"
"""


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE)


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("HEED_CONFIG", raising=False)
    config.reset()
    yield
    config.reset()


def write(tmp_path: Path, text: str, name: str = "heed.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --- loading --------------------------------------------------------------------------------


def test_default_file_loads() -> None:
    loaded = load_config()
    assert [policy.name for policy in loaded.policies] == ["urgent", "public", "email", "dm"]
    assert (loaded.handoff.after_messages, loaded.handoff.on_email_address) == (8, True)
    urgent, public, email, dm = loaded.policies
    assert (email.match, email.first_response) == ({"channel": frozenset({"email"})}, timedelta(hours=8))
    assert (urgent.first_response, urgent.next_response, urgent.calendar) == (
        timedelta(minutes=15),
        timedelta(minutes=30),
        ALWAYS,
    )
    assert (public.first_response, public.next_response) == (timedelta(hours=1), timedelta(hours=2))
    assert (dm.first_response, dm.next_response, dm.match) == (timedelta(hours=4), timedelta(hours=8), {})
    assert all(policy.warn_at == (0.5, 0.8) for policy in loaded.policies)
    support = loaded.calendars["support"]
    assert public.calendar is support and dm.calendar is support
    assert support.timezone == "Europe/Amsterdam" and support.country == "NL"
    assert support.hours == {day: ((time(9), time(17, 30)),) for day in range(5)}
    assert [level.after for level in loaded.ladder] == [timedelta(0), timedelta(minutes=15)]
    assert all(phone.startswith("+1555555010") for level in loaded.ladder for phone in level.phones)
    assert loaded.brand_name == "our team"
    assert Path(config.DEFAULT_PATH).is_relative_to(Path(config.__file__).parent)


def test_schema_example_loads(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, EXAMPLE))
    public, vip, dm = loaded.policies
    assert public.match == {"channel": frozenset({"comment", "mention"})}
    assert public.resolution == timedelta(hours=24) and vip.resolution is None
    assert vip.match == {"account_id": frozenset({"1784140"}), "priority": frozenset({"high", "urgent"})}
    assert vip.next_response == timedelta(hours=1, minutes=30) and vip.warn_at == ()
    assert vip.calendar is ALWAYS and dm.calendar is loaded.calendars["us"]
    support = loaded.calendars["support"]
    assert support.hours == {0: ((time(9), time(12, 30)), (time(13, 30), time(17, 30))), 1: ((time(9), time(17, 30)),)}
    assert support.holidays == frozenset({date(2026, 12, 25), date(2026, 12, 31)})
    assert (loaded.calendars["us"].country, loaded.calendars["us"].subdivision) == ("US", "CA")
    assert loaded.ladder == (
        LadderLevel(timedelta(0), ("+15555550100",)),
        LadderLevel(timedelta(minutes=10), ("+15555550101", "+15555550102")),
    )
    assert loaded.escalation_after == (timedelta(0), timedelta(minutes=10))
    assert loaded.quiet_hours == {"+15555550101": QuietHours(time(22), time(7), "America/New_York")}
    assert loaded.brand_name == "Heed Demo"


def test_loaded_once_per_file_until_reset(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE)
    first = load_config(path)
    assert load_config(path) is first
    config.reset()
    assert load_config(path) is not first


def test_heed_config_env_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, EXAMPLE)
    monkeypatch.setenv("HEED_CONFIG", path)
    assert load_config().brand_name == "Heed Demo"
    other = write(tmp_path, EXAMPLE.replace("Heed Demo", "Other"), "other.toml")
    assert load_config(other).brand_name == "Other"  # an explicit path wins over the environment
    monkeypatch.setenv("HEED_CONFIG", "")
    assert load_config().brand_name == "our team"


def test_syntax_error_names_file_and_position(tmp_path: Path) -> None:
    path = write(tmp_path, '[sla\nname = "x"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: not valid TOML (")
    assert "line 1" in str(caught.value)


def test_missing_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = str(tmp_path / "nope.toml")
    monkeypatch.setenv("HEED_CONFIG", missing)
    with pytest.raises(ConfigError, match=f"^{missing}: cannot read the policy file"):
        load_config()


# --- every mistake names its key -------------------------------------------------------------


def set_key(*path: str | int, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def drop_key(*path: str | int) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


POLICY = ("sla", "policies")
SUPPORT = ("calendars", "support")
LADDER = ("alerts", "ladder")
QUIET = ("alerts", "quiet_hours", "+15555550101")

MISTAKES: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    # durations
    (
        set_key(*POLICY, 1, "first_response", value="15 minutes"),
        "sla.policies[1].first_response: '15 minutes' is not a duration like 45s, 15m, 8h, 2d",
    ),
    (set_key(*POLICY, 0, "next_response", value="0m"), "sla.policies[0].next_response: '0m' must be longer than zero"),
    (set_key(*POLICY, 0, "resolution", value=24), "sla.policies[0].resolution: expected a string, got an integer (24)"),
    # policies
    (set_key(*POLICY, 0, "calendar", value="suport"), "sla.policies[0].calendar: no calendar named 'suport'"),
    (set_key(*POLICY, 0, "frist_response", value="15m"), "sla.policies[0].frist_response: unknown key"),
    (drop_key(*POLICY, 2, "first_response"), "sla.policies[2].first_response: missing"),
    (drop_key(*POLICY, 0, "calendar"), "sla.policies[0].calendar: missing"),
    (drop_key(*POLICY, 0, "name"), "sla.policies[0].name: missing"),
    (
        set_key(*POLICY, 1, "name", value="public"),
        "sla.policies[1].name: 'public' is already the name of sla.policies[0]",
    ),
    (set_key(*POLICY, 0, "name", value=" "), "sla.policies[0].name: must not be empty"),
    (set_key("sla", "policies", value=[]), "sla.policies: needs at least one policy"),
    (set_key("sla", "policies", value={"name": "x"}), "sla.policies: expected a list, got a table"),
    (drop_key("sla"), "sla: missing"),
    (set_key("sla", "policy", value=[]), "sla.policy: unknown key"),
    (set_key("slas", value={}),
     "slas: unknown key (expected one of: brand, sla, calendars, alerts, acknowledge, handoff, triage, incidents, "
     "reports)"),
    # match
    (set_key(*POLICY, 0, "match", value={"chanel": "dm"}), "sla.policies[0].match.chanel: unknown key"),
    (set_key(*POLICY, 0, "match", value={"channel": "sms"}), "sla.policies[0].match.channel: 'sms' is not a channel"),
    (
        set_key(*POLICY, 0, "match", value={"channel": ["dm", "sms"]}),
        "sla.policies[0].match.channel: 'sms' is not a channel (one of: comment, dm, email, mention)",
    ),
    (set_key(*POLICY, 0, "match", value={"platform": "tiktok"}), "sla.policies[0].match.platform: 'tiktok' is not a"),
    (set_key(*POLICY, 0, "match", value={"priority": "p1"}), "sla.policies[0].match.priority: 'p1' is not a priority"),
    (set_key(*POLICY, 0, "match", value={"channel": []}), "sla.policies[0].match.channel: an empty list matches"),
    (set_key(*POLICY, 0, "match", value={"account_id": [1]}), "sla.policies[0].match.account_id[0]: expected a string"),
    (set_key(*POLICY, 0, "match", value="dm"), "sla.policies[0].match: expected a table, got a string ('dm')"),
    (
        set_key(*POLICY, 0, "match", value={}),
        "sla.policies[1].match: policy 'vip' never applies: every conversation it matches is matched first by "
        "sla.policies[0] ('public')",
    ),
    (
        set_key(*POLICY, 1, "match", value={"channel": "comment", "platform": "x"}),
        "sla.policies[1].match: policy 'vip' never applies",
    ),
    # warn_at
    (set_key(*POLICY, 0, "warn_at", value=[0.8, 0.5]), "sla.policies[0].warn_at[1]: 0.5 is not larger than"),
    (set_key(*POLICY, 0, "warn_at", value=[0.5, 0.5]), "sla.policies[0].warn_at[1]: 0.5 is not larger than"),
    (set_key(*POLICY, 0, "warn_at", value=[0, 0.5]), "sla.policies[0].warn_at[0]: 0 is not a fraction between 0 and 1"),
    (set_key(*POLICY, 0, "warn_at", value=[1.0]), "sla.policies[0].warn_at[0]: 1.0 is not a fraction"),
    (set_key(*POLICY, 0, "warn_at", value=[True]), "sla.policies[0].warn_at[0]: expected a number, got a boolean"),
    (set_key(*POLICY, 0, "warn_at", value=0.5), "sla.policies[0].warn_at: expected a list, got a float (0.5)"),
    # calendars
    (
        set_key(*SUPPORT, "hours", "tue", value=["17:30-09:00"]),
        "calendars.support.hours.tue[0]: '17:30-09:00' ends before it starts",
    ),
    (
        set_key(*SUPPORT, "hours", "mon", value=["09:00-13:00", "12:00-17:00"]),
        "calendars.support.hours.mon[1]: '12:00-17:00' starts before '09:00-13:00' ends",
    ),
    (
        set_key(*SUPPORT, "hours", "mon", value=["13:00-17:00", "09:00-12:00"]),
        "calendars.support.hours.mon[1]: '09:00-12:00' starts before '13:00-17:00' ends",
    ),
    (
        set_key(*SUPPORT, "hours", "wed", value=["9:00-17:00"]),
        "calendars.support.hours.wed[0]: '9:00-17:00' is not a time range like 09:00-17:30",
    ),
    (set_key(*SUPPORT, "hours", "wed", value="09:00-17:00"), "calendars.support.hours.wed: expected a list"),
    (set_key(*SUPPORT, "hours", "tues", value=[]), "calendars.support.hours.tues: unknown key (expected one of: mon"),
    (set_key(*SUPPORT, "hours", value={"mon": []}), "calendars.support.hours: no opening hours"),
    (drop_key(*SUPPORT, "hours"), "calendars.support.hours: missing"),
    (
        set_key(*SUPPORT, "timezone", value="Europe/Amsterdm"),
        "calendars.support.timezone: 'Europe/Amsterdm' is not an IANA time zone",
    ),
    (set_key(*SUPPORT, "timezon", value="UTC"), "calendars.support.timezon: unknown key"),
    (
        set_key(*SUPPORT, "holidays", value=["2026-13-01"]),
        "calendars.support.holidays[0]: '2026-13-01' is not an ISO date like 2026-12-25",
    ),
    (
        set_key(*SUPPORT, "holidays", value=[datetime(2026, 12, 25, 9, 0)]),
        "calendars.support.holidays[0]: expected a string, got a date-time",
    ),
    (set_key(*SUPPORT, "country", value="XX"), "calendars.support.country: 'XX' is not a country"),
    (
        set_key("calendars", "us", "subdivision", value="ZZ"),
        "calendars.us.subdivision: 'ZZ' is not a subdivision of US",
    ),
    (drop_key("calendars", "us", "country"), "calendars.us.subdivision: needs a country"),
    (
        set_key("calendars", "always", value={"timezone": "UTC", "hours": {"mon": ["00:00-24:00"]}}),
        "calendars.always: 'always' is built in",
    ),
    (set_key("calendars", value=[]), "calendars: expected a table, got a list"),
    # alerts
    (
        set_key(*LADDER, 0, "after", value="5m"),
        "alerts.ladder[0].after: the first level is paged at the breach, so its after must be 0m",
    ),
    (set_key(*LADDER, 1, "after", value="0m"), "alerts.ladder[1].after: must be later than the level before it"),
    (set_key(*LADDER, 1, "after", value="10 min"), "alerts.ladder[1].after: '10 min' is not a duration"),
    (
        set_key(*LADDER, 0, "phones", value=["555-0100"]),
        "alerts.ladder[0].phones[0]: '555-0100' is not an E.164 phone number",
    ),
    (set_key(*LADDER, 0, "phones", value=["+1555"]), "alerts.ladder[0].phones[0]: '+1555' is not an E.164"),
    (
        set_key(*LADDER, 1, "phones", value=["+15555550101", "+15555550101"]),
        "alerts.ladder[1].phones[1]: '+15555550101' is listed twice",
    ),
    (set_key(*LADDER, 0, "phones", value=[]), "alerts.ladder[0].phones: needs at least one phone"),
    (set_key(*LADDER, 0, "phone", value=["+15555550100"]), "alerts.ladder[0].phone: unknown key"),
    (drop_key(*LADDER, 0, "phones"), "alerts.ladder[0].phones: missing"),
    (set_key(*QUIET, "hours", value="07:00-07:00"), 'alerts.quiet_hours."+15555550101".hours: \'07:00-07:00\' must'),
    (set_key(*QUIET, "hours", value="late"), 'alerts.quiet_hours."+15555550101".hours: \'late\' is not a time range'),
    (set_key(*QUIET, "timezone", value="EST5"), 'alerts.quiet_hours."+15555550101".timezone: \'EST5\' is not an IANA'),
    (set_key(*QUIET, "tz", value="UTC"), 'alerts.quiet_hours."+15555550101".tz: unknown key'),
    (
        set_key("alerts", "quiet_hours", "+15555550199", value={"hours": "22:00-07:00", "timezone": "UTC"}),
        "alerts.quiet_hours.\"+15555550199\": '+15555550199' is not a phone in alerts.ladder",
    ),
    (set_key("alerts", "escalation", value=[]), "alerts.escalation: unknown key"),
    # brand
    (set_key("brand", "name", value=5), "brand.name: expected a string, got an integer (5)"),
    (set_key("brand", "nam", value="x"), "brand.nam: unknown key (expected one of: name)"),
]


@pytest.mark.parametrize(("mutate", "message"), MISTAKES)
def test_every_mistake_names_its_key(mutate: Callable[[dict[str, Any]], None], message: str) -> None:
    data = copy.deepcopy(example())
    mutate(data)
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert str(caught.value).startswith(message)


def test_a_mistake_in_a_file_fails_the_load(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE.replace('first_response = "15m"', 'first_response = "15 minutes"'))
    with pytest.raises(ConfigError, match="^sla.policies\\[0\\].first_response: '15 minutes' is not a duration"):
        load_config(path)


def test_optional_sections_may_be_left_out() -> None:
    minimal = parse_config(
        {"sla": {"policies": [{"name": "all", "first_response": "1h", "next_response": "2h", "calendar": "always"}]}}
    )
    assert minimal.ladder == () and minimal.quiet_hours == {} and minimal.brand_name == "our team"
    assert minimal.calendars == {"always": ALWAYS}


# --- using it ---------------------------------------------------------------------------------


def test_policy_for_takes_the_first_match() -> None:
    loaded = parse_config(example())
    assert loaded.policy_for("instagram", "comment", "1784140", "urgent").name == "public"  # type: ignore[union-attr]
    assert loaded.policy_for("instagram", "dm", "1784140", "urgent").name == "vip"  # type: ignore[union-attr]
    assert loaded.policy_for("instagram", "dm", "1784140").name == "dm"  # type: ignore[union-attr]
    assert loaded.policy_for("instagram", "dm", "999", "urgent").name == "dm"  # type: ignore[union-attr]
    assert loaded.policy_for("x", "mention", "999").name == "public"  # type: ignore[union-attr]


def test_default_policy_for() -> None:
    loaded = load_config()
    assert loaded.policy_for("x", "mention", "1", "urgent").name == "urgent"  # type: ignore[union-attr]
    assert loaded.policy_for("facebook", "comment", "1").name == "public"  # type: ignore[union-attr]
    assert loaded.policy_for("telegram", "dm", "1").name == "dm"  # type: ignore[union-attr]
    assert loaded.policy_for("telegram", "email", "support@example.com", "low").name == "email"  # type: ignore[union-attr]


def test_policy_for_is_none_without_a_catch_all() -> None:
    data = example()
    del data["sla"]["policies"][2]
    assert parse_config(data).policy_for("telegram", "dm", "1") is None


@pytest.mark.parametrize(
    ("local", "covered"),
    [
        (datetime(2026, 6, 15, 21, 59), False),
        (datetime(2026, 6, 15, 22, 0), True),
        (datetime(2026, 6, 15, 23, 59), True),
        (datetime(2026, 6, 16, 0, 0), True),
        (datetime(2026, 6, 16, 6, 59), True),
        (datetime(2026, 6, 16, 7, 0), False),
        (datetime(2026, 6, 16, 12, 0), False),
    ],
)
def test_quiet_hours_wrap_midnight(local: datetime, covered: bool) -> None:
    quiet = parse_config(example()).quiet_hours["+15555550101"]
    at = local.replace(tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
    assert quiet.covers(at) is covered


def test_quiet_hours_within_a_day_and_until_midnight() -> None:
    nyc = ZoneInfo("America/New_York")
    daytime = QuietHours(time(12), time(13), "America/New_York")
    assert daytime.covers(datetime(2026, 6, 15, 12, 30, tzinfo=nyc))
    assert not daytime.covers(datetime(2026, 6, 15, 13, 0, tzinfo=nyc))
    evening = QuietHours(time(22), time(0), "America/New_York")  # "22:00-24:00"
    assert evening.covers(datetime(2026, 6, 15, 23, 59, tzinfo=nyc))
    assert not evening.covers(datetime(2026, 6, 16, 0, 0, tzinfo=nyc))
    with pytest.raises(ValueError, match="not none or all of it"):
        QuietHours(time(7), time(7), "UTC")


def test_pager_hands_a_quiet_phone_over_to_the_next_level_but_never_drops_it() -> None:
    data = example()
    data["alerts"]["quiet_hours"] = {"+15555550100": {"hours": "22:00-07:00", "timezone": "America/New_York"},
                                     "+15555550101": {"hours": "22:00-07:00", "timezone": "America/New_York"}}
    loaded = config.parse_config(data)
    night = datetime(2026, 11, 23, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    day = datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("America/New_York"))
    assert loaded.pager(0, day) == ("+15555550100",)
    assert loaded.pager(0, night) == ("+15555550102",)  # level 1 asleep: the awake phone of level 2 instead
    assert loaded.pager(1, night) == ("+15555550101", "+15555550102")  # the last level: nobody is dropped


def test_handoff_rules_are_checked() -> None:
    base = {"sla": {"policies": [{"name": "all", "first_response": "1h", "next_response": "1h",
                                  "calendar": "always"}]}}
    assert parse_config(base).handoff.on_email_address is False  # no [handoff]: only staff hand off
    assert parse_config({**base, "handoff": {"after_messages": 3}}).handoff.after_messages == 3
    for bad, message in (({"after_messages": 0}, "handoff.after_messages: expected a whole number"),
                         ({"after_characters": "5"}, "handoff.after_characters: expected a whole number"),
                         ({"on_email_address": "yes"}, "handoff.on_email_address: expected true or false"),
                         ({"after": 3}, "handoff.after: unknown key")):
        with pytest.raises(ConfigError, match=message):
            parse_config({**base, "handoff": bad})


REPORTS_MINIMAL = {"sla": {"policies": [{"name": "p", "first_response": "1h", "next_response": "1h",
                                         "calendar": "always"}]}}


def test_reports_section_sets_zone_recipients_and_weekly_day() -> None:
    loaded = parse_config({**REPORTS_MINIMAL, "reports": {
        "timezone": "Europe/Amsterdam", "recipients": ["boss@brand.example", "lead@brand.example"],
        "weekly_day": "fri"}})
    assert loaded.reports == config.ReportSettings("Europe/Amsterdam", ("boss@brand.example", "lead@brand.example"), 4)
    assert parse_config(REPORTS_MINIMAL).reports == config.ReportSettings("UTC", (), 0)


@pytest.mark.parametrize(("reports", "message"), [
    ({"timezone": "Mars/Olympus"}, "reports.timezone:"),
    ({"recipients": "boss@brand.example"}, "reports.recipients: expected a list"),
    ({"recipients": ["not an address"]}, "reports.recipients[0]: 'not an address' is not an email address"),
    ({"weekly_day": "monday"}, "reports.weekly_day: 'monday' is not one of"),
    ({"day": "mon"}, "reports.day: unknown key"),
])
def test_reports_section_mistakes_name_their_key(reports: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({**REPORTS_MINIMAL, "reports": reports})
    assert str(caught.value).startswith(message), str(caught.value)
