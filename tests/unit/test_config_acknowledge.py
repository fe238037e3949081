"""``[acknowledge]`` in the policy file: the default rules, the documented schema, mistakes naming their key."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from functions import config, templating
from functions.config import ConfigError, load_config, parse_config
from functions.domain import phrases
from functions.domain.autoreply import Acknowledge, MessageFacts, Skip, WhatsAppTemplate, decide
from functions.domain.calendar import ALWAYS

EXAMPLE = """
[[sla.policies]]
name = "public"
match = { channel = ["comment", "mention"] }
first_response = "1h"
next_response = "2h"
calendar = "support"

[[sla.policies]]
name = "dm"
first_response = "4h"
next_response = "8h"
calendar = "always"

[calendars.support]
timezone = "Europe/Amsterdam"
hours = { mon = ["09:00-17:30"], tue = ["09:00-17:30"] }

[calendars.late]
timezone = "America/New_York"
hours = { mon = ["09:00-22:00"] }

[acknowledge]
language = "nl"
whatsapp_template = { name = "message_received", language = "en_US" }

[[acknowledge.rules]]
name = "new-dm"
match = { channel = "dm", clock = "first_response" }
when = "always"
calendar = "support"

[[acknowledge.rules]]
match = { channel = "dm", platform = ["facebook", "instagram"] }
when = "outside_hours"

[[acknowledge.rules]]
name = "x-mentions"
match = { platform = "x", channel = "mention" }
when = "never"

[[acknowledge.rules]]
name = "public"
match = { channel = ["comment", "mention"] }
when = "outside_hours"
reply = "public"
calendar = "late"
"""

SATURDAY_NIGHT = datetime(2026, 6, 13, 21, 0, tzinfo=UTC)
MONDAY_MORNING = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)  # 10:00 in Amsterdam


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE)


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("HEED_CONFIG", raising=False)
    config.reset()
    yield
    config.reset()


# --- the packaged default ------------------------------------------------------------------------


def test_default_acknowledges_dms_at_once_and_public_messages_outside_hours() -> None:
    loaded = load_config()
    ack = loaded.acknowledge
    assert (ack.language, ack.whatsapp_template) == ("en", None)
    assert [(rule.name, rule.when) for rule in ack.rules] == [
        ("new-dm", "always"), ("dm-follow-up", "outside_hours"), ("public", "outside_hours")]
    support = loaded.calendars["support"]

    new_dm = loaded.acknowledge_rule_for("whatsapp", "dm", "1")
    assert new_dm is not None and new_dm.name == "new-dm" and new_dm.calendar is support
    follow_up = loaded.acknowledge_rule_for("whatsapp", "dm", "1", clock="next_response")
    assert follow_up is not None and follow_up.name == "dm-follow-up"
    for platform, channel in (("facebook", "comment"), ("instagram", "comment"), ("x", "mention")):
        public = loaded.acknowledge_rule_for(platform, channel, "1")
        assert public is not None and (public.name, public.reply, public.calendar) == ("public", "private", support)
    # No calendar of its own: the matched SLA policy's ("urgent" runs on wall-clock time).
    urgent = loaded.acknowledge_rule_for("telegram", "dm", "1", priority="urgent")
    assert urgent is not None and urgent.calendar is ALWAYS
    assert ack.rules[0].calendar is None  # the file's rule itself is untouched


def test_default_rules_end_to_end() -> None:
    """A Facebook comment on a Saturday night gets a private reply naming Monday; on Monday morning nothing."""
    loaded = load_config()
    rule = loaded.acknowledge_rule_for("facebook", "comment", "1")
    policy = loaded.policy_for("facebook", "comment", "1")
    assert rule is not None and policy is not None
    comment = MessageFacts("facebook", "comment", "in", SATURDAY_NIGHT)
    decision = decide(comment, rule, now=SATURDAY_NIGHT, already_acknowledged=False)
    assert decision == Acknowledge("ack_after_hours", "private_reply", True, "public")
    assert isinstance(decision, Acknowledge)
    text = templating.render(decision.kind, "facebook", decision.channel, None, {
        "customer_name": "Ana", "brand_name": loaded.brand_name, "conversation_id": "c1",
        "next_available": phrases.next_available(rule.calendar, SATURDAY_NIGHT),
        "expected_response": phrases.expected_response(rule.calendar, policy.first_response, SATURDAY_NIGHT),
    }, default_language=loaded.acknowledge.language)
    assert "we're back Monday at 09:00" in text and "by Monday at 10:00" in text

    later = MessageFacts("facebook", "comment", "in", MONDAY_MORNING)
    assert isinstance(decide(later, rule, now=MONDAY_MORNING, already_acknowledged=False), Skip)
    dm = MessageFacts("facebook", "dm", "in", MONDAY_MORNING)
    dm_rule = loaded.acknowledge_rule_for("facebook", "dm", "1")
    assert decide(dm, dm_rule, now=MONDAY_MORNING, already_acknowledged=False) == Acknowledge(
        "ack", "dm", False, "new-dm")


# --- the schema ----------------------------------------------------------------------------------


def test_schema_example_loads() -> None:
    loaded = parse_config(example())
    ack = loaded.acknowledge
    assert ack.language == "nl"
    assert ack.whatsapp_template == WhatsAppTemplate("message_received", "en_US")
    assert [rule.name for rule in ack.rules] == ["new-dm", "acknowledge.rules[1]", "x-mentions", "public"]
    assert ack.rules[0].match == {"channel": frozenset({"dm"}), "clock": frozenset({"first_response"})}
    assert ack.rules[0].calendar is loaded.calendars["support"]
    # An explicit calendar beats the policy's ("dm" runs on "always").
    assert loaded.acknowledge_rule_for("telegram", "dm", "1").calendar is loaded.calendars["support"]  # type: ignore[union-attr]
    facebook_follow_up = loaded.acknowledge_rule_for("facebook", "dm", "1", clock="next_response")
    assert facebook_follow_up is not None and facebook_follow_up.calendar is ALWAYS
    assert loaded.acknowledge_rule_for("telegram", "dm", "1", clock="next_response") is None
    assert loaded.acknowledge_rule_for("x", "mention", "1").when == "never"  # type: ignore[union-attr]
    public = loaded.acknowledge_rule_for("instagram", "comment", "1")
    assert public is not None and (public.reply, public.calendar) == ("public", loaded.calendars["late"])


def test_the_docstring_documents_every_key() -> None:
    doc = config.__doc__ or ""
    for key in ("[acknowledge]", "[[acknowledge.rules]]", "language =", "whatsapp_template =", "when =",
                "reply =", "clock", "outside_hours"):
        assert key in doc


def test_without_the_section_nothing_is_acknowledged() -> None:
    data = example()
    del data["acknowledge"]
    loaded = parse_config(data)
    assert loaded.acknowledge.rules == () and loaded.acknowledge.language == "en"
    assert loaded.acknowledge_rule_for("facebook", "dm", "1") is None
    empty = copy.deepcopy(example())
    empty["acknowledge"] = {}
    assert parse_config(empty).acknowledge.rules == ()


def test_reply_is_allowed_on_a_rule_that_can_match_comments() -> None:
    data = example()
    data["acknowledge"]["rules"] = [{"when": "always", "reply": "public"}]
    assert parse_config(data).acknowledge.rules[0].reply == "public"


# --- every mistake names its key -------------------------------------------------------------------

RULES = ("acknowledge", "rules")


def at(*path: str | int, value: Any = None, drop: bool = False) -> Any:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        if drop:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return mutate


MISTAKES = [
    (at("acknowledge", "language", value="EN"), "acknowledge.language: 'EN' is not a lower-case language code"),
    (at("acknowledge", "language", value="de"), "acknowledge.language: no acknowledgement templates in 'de' "
                                                "(needs ack.de.txt.j2 and ack_after_hours.de.txt.j2 in"),
    (at("acknowledge", "language", value=""), "acknowledge.language: must not be empty"),
    (at("acknowledge", "langauge", value="en"), "acknowledge.langauge: unknown key (expected one of: language, "
                                                "whatsapp_template, rules)"),
    (at("acknowledge", value=[]), "acknowledge: expected a table, got a list"),
    (at("acknowledge", "whatsapp_template", "name", value="Message Received"),
     "acknowledge.whatsapp_template.name: 'Message Received' is not a WhatsApp template name"),
    (at("acknowledge", "whatsapp_template", "language", value="english"),
     "acknowledge.whatsapp_template.language: 'english' is not a WhatsApp language code like en or en_US"),
    (at("acknowledge", "whatsapp_template", "name", drop=True), "acknowledge.whatsapp_template.name: missing"),
    (at("acknowledge", "whatsapp_template", value="message_received"),
     "acknowledge.whatsapp_template: expected a table, got a string ('message_received')"),
    (at(*RULES, value={"when": "always"}), "acknowledge.rules: expected a list, got a table"),
    (at(*RULES, 0, "when", drop=True), "acknowledge.rules[0].when: missing"),
    (at(*RULES, 0, "when", value="sometimes"),
     "acknowledge.rules[0].when: 'sometimes' is not one of: always, outside_hours, never"),
    (at(*RULES, 0, "wen", value="always"), "acknowledge.rules[0].wen: unknown key (expected one of: name, match, "
                                           "when, reply, calendar)"),
    (at(*RULES, 3, "reply", value="dm"), "acknowledge.rules[3].reply: 'dm' is not one of: public, private"),
    (at(*RULES, 0, "reply", value="private"), "acknowledge.rules[0].reply: only comments and mentions are answered "
                                              "in public or in private; this rule matches channel dm"),
    (at(*RULES, 2, "reply", value="public"), "acknowledge.rules[2].reply: has no effect with when = 'never'"),
    (at(*RULES, 2, "calendar", value="support"), "acknowledge.rules[2].calendar: has no effect with when = 'never'"),
    (at(*RULES, 0, "calendar", value="suport"), "acknowledge.rules[0].calendar: no calendar named 'suport' "
                                                "(known: always, late, support)"),
    (at(*RULES, 0, "match", "clock", value="first"),
     "acknowledge.rules[0].match.clock: 'first' is not a clock (one of: first_response, next_response)"),
    (at(*RULES, 0, "match", "channel", value="sms"), "acknowledge.rules[0].match.channel: 'sms' is not a channel"),
    (at(*RULES, 0, "match", value={"chanel": "dm"}), "acknowledge.rules[0].match.chanel: unknown key (expected one "
                                                     "of: channel, platform, account_id, priority, clock)"),
    (at(*RULES, 0, "match", value={"channel": "dm"}),
     "acknowledge.rules[1].match: rule 'acknowledge.rules[1]' never applies: every message it matches is matched "
     "first by acknowledge.rules[0] ('new-dm')"),
    (at(*RULES, 3, "name", value="new-dm"), "acknowledge.rules[3].name: 'new-dm' is already the name of "
                                            "acknowledge.rules[0]"),
    (at(*RULES, 0, "name", value=7), "acknowledge.rules[0].name: expected a string, got an integer (7)"),
]


@pytest.mark.parametrize(("mutate", "message"), MISTAKES)
def test_every_mistake_names_its_key(mutate: Any, message: str) -> None:
    data = copy.deepcopy(example())
    mutate(data)
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert str(caught.value).startswith(message)


def test_a_catch_all_rule_last_is_fine() -> None:
    data = example()
    data["acknowledge"]["rules"].append({"when": "never"})
    assert parse_config(data).acknowledge.rules[-1].match == {}
