"""Heed's policy file: SLA policies, business calendars, the alert ladder and automatic acknowledgements.

:func:`load_config` reads a TOML file: the ``path`` it is given, else the file
named by ``HEED_CONFIG``, else the packaged default ``functions/defaults/heed.toml``.
A file is read once per process. Anything wrong in it (bad syntax, a missing
or unknown key, a value of the wrong kind or out of range) raises
:class:`ConfigError` as ``"<key path>: <reason>"``; nothing falls back to a default.

Schema (every key not marked optional is required; no other keys are allowed)::

    [brand]                               # optional table
    name = "Heed Demo"                    # optional; how messages name the brand; default "our team"

    [[sla.policies]]                      # one or more; the first whose match fits a conversation applies
    name = "public"                       # unique, non-empty
    match = { channel = ["comment", "mention"] }
                                          # optional; keys: channel (dm, comment, mention, email),
                                          # platform (facebook, instagram, whatsapp, x, telegram, email),
                                          # account_id (any), priority (low, normal, high, urgent);
                                          # each a string or a non-empty list of strings; a key left out
                                          # matches anything, so no match (or {}) is a catch-all. A policy
                                          # that an earlier one always wins over is an error.
    first_response = "15m"                # time to the brand's first answer
    next_response = "30m"                 # time to answer each later customer message
    resolution = "24h"                    # optional; time to resolve the conversation
    warn_at = [0.5, 0.8]                  # optional, default []; fractions of a target, each in (0, 1),
                                          # strictly increasing, at which to warn before a breach
    calendar = "support"                  # a [calendars.NAME] below, or "always" (wall-clock time, 24/7)

    [calendars.support]                   # optional, any number; "always" is reserved
    timezone = "Europe/Amsterdam"         # IANA time zone name
    hours = { mon = ["09:00-12:30", "13:30-17:30"], tue = ["09:00-17:30"] }
                                          # keys mon, tue, wed, thu, fri, sat, sun; each a list of
                                          # "HH:MM-HH:MM" windows in time order, not overlapping; 24:00
                                          # may end a window; a missing day (or []) is closed; at
                                          # least one window in the week
    holidays = ["2026-12-25"]             # optional; ISO dates (or TOML dates), closed all day
    country = "NL"                        # optional; adds that country's public holidays
                                          # (a code the `holidays` package knows: NL, US, GB, ...)
    subdivision = "CA"                    # optional, needs country; a state or province of it

    [[alerts.ladder]]                     # optional; zero or more levels, in order
    after = "0m"                          # wall-clock time after a breach to page this level: "0m" for
                                          # the first level (paged at the breach and at each warning),
                                          # then strictly increasing
    phones = ["+15555550100"]             # one or more E.164 numbers (+ and 8-15 digits), no repeats

    [alerts.quiet_hours."+15555550101"]   # optional, per phone of the ladder: when not to page it
    hours = "22:00-07:00"                 # "HH:MM-HH:MM"; may run over midnight
    timezone = "America/New_York"         # IANA time zone name

    [acknowledge]                         # optional table; without it Heed acknowledges nothing
    language = "en"                       # optional, default "en"; the language of acknowledgements when a
                                          # conversation's is unknown or has no templates; needs templates
                                          # ack.<language>.txt.j2 and ack_after_hours.<language>.txt.j2
    whatsapp_template = { name = "message_received", language = "en_US" }
                                          # optional; an approved WhatsApp template (name: a-z, 0-9, _;
                                          # language: a WhatsApp code like en, en_US) sent instead of text
                                          # when the 24 h customer-service window has closed; without it
                                          # nothing is sent then

    [[acknowledge.rules]]                 # zero or more; the first whose match fits a message applies;
                                          # no rule matching: no acknowledgement
    name = "new-dm"                       # optional, unique; default "acknowledge.rules[<index>]"
    match = { channel = "dm", clock = "first_response" }
                                          # optional; the keys of sla.policies' match plus clock
                                          # (first_response: the message opened a new conversation's clock;
                                          # next_response: the brand had answered before); a rule that an
                                          # earlier one always wins over is an error
    when = "always"                       # always: acknowledge ("ack" in business hours, "ack_after_hours"
                                          # outside them); outside_hours: only outside business hours;
                                          # never. At most one acknowledgement per response clock, and
                                          # never to the brand's own messages, bots or closed windows
    reply = "private"                     # optional, comments and mentions only, not with when = "never":
                                          # "private" (default) answers a comment with a private message
                                          # where the platform has them (Facebook, Instagram), else in
                                          # public (X mentions); "public" always replies in public
    calendar = "support"                  # optional, not with when = "never": the calendar whose hours
                                          # count; default the calendar of the SLA policy the
                                          # conversation matches ("always" if none)

    [handoff]                             # optional table; without it only staff move conversations to email
    after_messages = 8                    # optional; hand off once the customer has sent this many messages
    after_characters = 1500               # optional; ... or written this many characters in total
    on_email_address = true               # optional, default true; hand off when the customer writes an
                                          # email address in a DM (never searched in public comments)

    [triage]                              # optional table: how inbound messages are labelled and ranked
    language = "en"                       # optional, default "en"; a language of the built-in vocabulary
                                          # (en, nl, de, es, fr) or of [triage.languages]: used when a
                                          # message's language is unclear, and always alongside the guess
    sentiment = "lexicon"                 # optional: "lexicon" (built in, offline; default) or "comprehend"
                                          # (Amazon Comprehend, falling back to the lexicon on any error);
                                          # the HEED_SENTIMENT environment variable overrides it per stage
    vip = ["x:3001969357", "psid-42"]     # optional; customer ids ("<platform>:<id>" or a bare id)
    follower_threshold = 10000            # optional; a customer with at least this many followers is an
                                          # influencer (where the payload says: X)
    negative_below = -0.3                 # optional, in [-1, 1]: sentiment at or below this is negative
                                          # (the "negative" priority signal, and a complaint)
    praise_above = 0.5                    # optional, in [-1, 1]: sentiment at or above this is praise
    spam_patterns = ["(?i)free followers"]  # optional; Python regexes, matched against the lower-cased text
                                          # with accents dropped, added to the built-in ones
    repeat_customers = 3                  # optional, >= 2: the same text from this many customers within
    repeat_window = "10m"                 #   repeat_window is spam (from that message on); optional
    repeat_min_chars = 15                 # optional: shorter texts are never counted as repeated

    [triage.priority]                     # optional: the priority each signal raises a message to
    negative = "high"                     # each optional; low, normal, high or urgent
    last_resort = "high"
    vip = "high"
    influencer = "high"
    public = "normal"                     # comments and mentions
    two_or_more = "urgent"                # two or more signals above normal

    [triage.languages.nl]                 # optional, any language code: words added to the built-in
    complaint = ["werkt niet"]            # vocabulary (or a new language's); each an optional list of
    last_resort = ["opzeggen"]            # lower-case words or phrases: stopwords, negators, noise,
    positive = ["top"]                    # intensifiers, profanity, complaint, praise, question,
    negative = ["kapot"]                  # last_resort, positive, negative (sentiment +2 / -2);
                                          # and spam_patterns

    [incidents]                           # optional table: many customers complaining about one thing
    enabled = true                        # optional, default true
    customers = 5                         # optional, >= 1: MORE than this many distinct customers ...
    window = "30m"                        # optional: ... within this time ...
    min_shared_terms = 2                  # optional, >= 1: ... whose complaints share this many terms

    [reports]                             # optional table: reports and the weekly report email
    timezone = "Europe/Amsterdam"         # optional, default "UTC": IANA zone whose days the reports count
                                          # (from/to, daily rows, day rollups, the CSV's period, the week)
    recipients = ["manager@example.com"]  # optional, default []: who gets the weekly report; the
                                          # HEED_REPORT_RECIPIENTS environment variable (non-empty) overrides it
    weekly_day = "mon"                    # optional, default "mon": the day (in timezone) the weekly
                                          # report goes out, for the seven days that ended the day before

Durations are written like ``45s``, ``15m``, ``8h``, ``2d`` or ``1h30m``; SLA
targets count only the calendar's open time (``2d`` on a business calendar is
48 hours of open time).
"""
from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Optional, TypeVar

from functions.domain.autoreply import CLOCKS, REPLY, RULE_MATCH_KEYS, WHEN, AckRule, WhatsAppTemplate
from functions.domain.calendar import (
    ALWAYS,
    WEEKDAYS,
    BusinessCalendar,
    Window,
    check_region,
    format_window,
    parse_window,
    window_span,
    zone,
)
from functions.domain.durations import parse_duration
from functions.domain.handoff import Rules as HandoffRules
from functions.domain.incidents import IncidentSettings
from functions.domain.lexicon import VOCABULARIES, Vocabulary
from functions.domain.policies import MATCH_KEYS, MATCH_VALUES, LadderLevel, Policy, QuietHours
from functions.domain.sla import recipients
from functions.domain.triage import PRIORITIES, PriorityRules, TriageRules, fold

ENV_VAR = "HEED_CONFIG"
DEFAULT_PATH = Path(__file__).parent / "defaults" / "heed.toml"
DEFAULT_BRAND_NAME = "our team"
DEFAULT_LANGUAGE = "en"

_T = TypeVar("_T")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_PHONE = re.compile(r"\+[0-9]{8,15}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")
_WA_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
_WA_LANGUAGE = re.compile(r"[a-z]{2,3}(?:_[A-Z]{2,4})?")
_RULE_MATCH_VALUES: dict[str, frozenset[str]] = {**MATCH_VALUES, "clock": CLOCKS}


class ConfigError(ValueError):
    """The policy file can't be used; the message starts with the file or key path at fault."""


@dataclass(frozen=True)
class ReportSettings:
    """``[reports]``: the zone whose days reports count, the weekly report's recipients and day."""

    timezone: str = "UTC"
    recipients: tuple[str, ...] = ()
    weekly_day: int = 0  # Monday


_EMAIL = re.compile(r"[^@\s,;<>\"]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class AcknowledgeSettings:
    """``[acknowledge]``: the default language, the WhatsApp template for a closed window, the rules."""

    language: str = DEFAULT_LANGUAGE
    whatsapp_template: Optional[WhatsAppTemplate] = None
    rules: tuple[AckRule, ...] = ()


@dataclass(frozen=True)
class Config:
    """A loaded policy file. ``calendars`` includes ``"always"``."""

    policies: tuple[Policy, ...]
    calendars: dict[str, BusinessCalendar]
    ladder: tuple[LadderLevel, ...]
    quiet_hours: dict[str, QuietHours]
    brand_name: str
    acknowledge: AcknowledgeSettings = AcknowledgeSettings()
    handoff: HandoffRules = HandoffRules(on_email_address=False)
    triage: TriageRules = field(default_factory=TriageRules)
    incidents: IncidentSettings = IncidentSettings()
    reports: ReportSettings = ReportSettings()

    @property
    def escalation_after(self) -> tuple[timedelta, ...]:
        """When each ladder level is paged, measured from the breach (the first level at 0)."""
        return tuple(level.after for level in self.ladder)

    def pager(self, level: int, now: datetime) -> tuple[str, ...]:
        """The phones to page for ladder ``level`` at ``now``, quiet hours handing over to the next level."""
        ladder = tuple(rung.phones for rung in self.ladder)
        return recipients(ladder, level, lambda phone: phone in self.quiet_hours and
                          self.quiet_hours[phone].covers(now))

    def policy_for(self, platform: str, channel: str, account_id: str, priority: str = "normal") -> Optional[Policy]:
        """The first policy matching the conversation; None if none does."""
        return next(
            (policy for policy in self.policies if policy.matches(platform, channel, account_id, priority)), None
        )

    def acknowledge_rule_for(self, platform: str, channel: str, account_id: str, priority: str = "normal",
                             clock: str = "first_response") -> Optional[AckRule]:
        """The first acknowledge rule matching the message, its calendar filled in; None if none matches.

        ``clock`` is the kind of response clock the message opened (``first_response``
        or ``next_response``). A rule without a calendar gets the calendar of the
        SLA policy the conversation matches, or ``always`` if none does.
        """
        rule = next((rule for rule in self.acknowledge.rules
                     if rule.matches(platform, channel, account_id, priority, clock)), None)
        if rule is None or rule.calendar is not None:
            return rule
        policy = self.policy_for(platform, channel, account_id, priority)
        return replace(rule, calendar=policy.calendar if policy is not None else ALWAYS)


def load_config(path: Optional[str] = None) -> Config:
    """The policy file at ``path``, else ``$HEED_CONFIG``, else the packaged default; cached per file."""
    return _load(os.path.abspath(path or os.environ.get(ENV_VAR) or DEFAULT_PATH))


def reset() -> None:
    """Forget every file loaded so far, so the next :func:`load_config` reads it again."""
    _load.cache_clear()


@functools.cache
def _load(path: str) -> Config:
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the policy file ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    return parse_config(data)


def parse_config(data: dict[str, Any]) -> Config:
    """A :class:`Config` from a parsed TOML document; ConfigError naming the first key at fault."""
    root = _table(data, "", ("brand", "sla", "calendars", "alerts", "acknowledge", "handoff", "triage",
                                   "incidents", "reports"))
    brand = _table(root.get("brand", {}), "brand", ("name",))
    calendars = _calendars(root.get("calendars", {}))
    sla = _table(_required(root, "sla", ""), "sla", ("policies",))
    ladder, quiet_hours = _alerts(root.get("alerts", {}))
    return Config(
        policies=_policies(_required(sla, "policies", "sla"), calendars),
        calendars=calendars,
        ladder=ladder,
        quiet_hours=quiet_hours,
        brand_name=_string(brand["name"], "brand.name") if "name" in brand else DEFAULT_BRAND_NAME,
        acknowledge=_acknowledge(root.get("acknowledge"), calendars),
        handoff=_handoff(root.get("handoff")),
        triage=_triage(root.get("triage", {})),
        incidents=_incidents(root.get("incidents", {})),
        reports=_reports(root.get("reports", {})),
    )


_TRIAGE_KEYS = ("language", "sentiment", "vip", "follower_threshold", "negative_below", "praise_above",
                "spam_patterns", "repeat_customers", "repeat_window", "repeat_min_chars", "priority", "languages")
_WORD_LISTS = ("stopwords", "negators", "intensifiers", "noise", "profanity", "complaint", "praise", "question",
               "last_resort")


def _triage(value: Any) -> TriageRules:
    table = _table(value, "triage", _TRIAGE_KEYS)
    vocabularies = dict(VOCABULARIES)
    patterns = list(TriageRules().spam_patterns)
    for code, item in _table(table.get("languages", {}), "triage.languages", None).items():
        at = _join("triage.languages", code)
        if not _LANGUAGE.fullmatch(code):
            raise ConfigError(f"{at}: {code!r} is not a lower-case language code like en, nl or pt-br")
        words = _table(item, at, (*_WORD_LISTS, "positive", "negative", "spam_patterns"))
        base = vocabularies.get(code) or Vocabulary(sentiment={}, **{n: frozenset() for n in _WORD_LISTS})
        added = {name: getattr(base, name) | frozenset(_words(words.get(name, []), f"{at}.{name}"))
                 for name in _WORD_LISTS}
        sentiment = {**base.sentiment, **{w: 2.0 for w in _words(words.get("positive", []), f"{at}.positive")},
                     **{w: -2.0 for w in _words(words.get("negative", []), f"{at}.negative")}}
        vocabularies[code] = Vocabulary(sentiment=sentiment, **added)
        patterns += _patterns(words.get("spam_patterns", []), f"{at}.spam_patterns")
    patterns += _patterns(table.get("spam_patterns", []), "triage.spam_patterns")
    language = _string(table["language"], "triage.language") if "language" in table else "en"
    if language not in vocabularies:
        raise ConfigError(f"triage.language: no vocabulary for {language!r} (built in: "
                          f"{', '.join(VOCABULARIES)}; or add [triage.languages.{language}])")
    threshold = None
    if "follower_threshold" in table:
        threshold = _integer(table["follower_threshold"], "triage.follower_threshold", 1)
    priority = _table(table.get("priority", {}), "triage.priority", PriorityRules.__dataclass_fields__)
    return TriageRules(
        language=language,
        vocabularies=vocabularies,
        spam_patterns=tuple(patterns),
        vip=frozenset(_string(v, f"triage.vip[{i}]") for i, v in enumerate(_array(table.get("vip", []),
                                                                                      "triage.vip"))),
        follower_threshold=threshold,
        negative_below=_score(table.get("negative_below", -0.3), "triage.negative_below"),
        praise_above=_score(table.get("praise_above", 0.5), "triage.praise_above"),
        priority=PriorityRules(**{k: _choice(v, f"triage.priority.{k}", PRIORITIES) for k, v in priority.items()}),
        sentiment=_choice(table.get("sentiment", "lexicon"), "triage.sentiment", ("lexicon", "comprehend")),
        repeat_customers=_integer(table.get("repeat_customers", 3), "triage.repeat_customers", 2),
        repeat_window=_duration(table.get("repeat_window", "10m"), "triage.repeat_window"),
        repeat_min_chars=_integer(table.get("repeat_min_chars", 15), "triage.repeat_min_chars", 1),
    )


def _words(value: Any, path: str) -> list[str]:
    words = []
    for index, item in enumerate(_array(value, path)):
        word = _string(item, f"{path}[{index}]")
        if word != word.lower().strip():
            raise ConfigError(f"{path}[{index}]: {word!r} must be lower case without surrounding spaces")
        words.append(" ".join(fold(word).split()))  # matched against folded text: "déçu" is "decu"
    return words


def _patterns(value: Any, path: str) -> list[re.Pattern[str]]:
    patterns = []
    for index, item in enumerate(_array(value, path)):
        text = _string(item, f"{path}[{index}]")
        try:
            patterns.append(re.compile(text, re.S))
        except re.error as error:
            raise ConfigError(f"{path}[{index}]: not a valid regular expression ({error})") from None
    return patterns


def _integer(value: Any, path: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{path}: expected an integer, got {_kind(value)}")
    if value < minimum:
        raise ConfigError(f"{path}: must be at least {minimum}")
    return value


def _score(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{path}: expected a number, got {_kind(value)}")
    if not -1 <= value <= 1:
        raise ConfigError(f"{path}: {value} is not between -1 and 1")
    return float(value)


def _incidents(value: Any) -> IncidentSettings:
    table = _table(value, "incidents", ("enabled", "customers", "window", "min_shared_terms"))
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"incidents.enabled: expected a boolean, got {_kind(enabled)}")
    return IncidentSettings(
        enabled=enabled,
        customers=_integer(table.get("customers", 5), "incidents.customers", 1),
        window=_duration(table.get("window", "30m"), "incidents.window"),
        min_shared_terms=_integer(table.get("min_shared_terms", 2), "incidents.min_shared_terms", 1),
    )


def _reports(value: Any) -> ReportSettings:
    table = _table(value, "reports", ("timezone", "recipients", "weekly_day"))
    timezone = _string(table.get("timezone", "UTC"), "reports.timezone")
    _check(zone, "reports.timezone", timezone)
    recipients = []
    for n, item in enumerate(_array(table.get("recipients", []), "reports.recipients")):
        address = _string(item, f"reports.recipients[{n}]")
        if not _EMAIL.fullmatch(address):
            raise ConfigError(f"reports.recipients[{n}]: {address!r} is not an email address")
        recipients.append(address)
    day = _choice(table.get("weekly_day", "mon"), "reports.weekly_day", WEEKDAYS)
    return ReportSettings(timezone=timezone, recipients=tuple(dict.fromkeys(recipients)),
                          weekly_day=list(WEEKDAYS).index(day))


def _handoff(value: Any) -> HandoffRules:
    if value is None:
        return HandoffRules(on_email_address=False)
    table = _table(value, "handoff", ("after_messages", "after_characters", "on_email_address"))
    counts: dict[str, Optional[int]] = {}
    for key in ("after_messages", "after_characters"):
        raw = table.get(key)
        if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int) or raw < 1):
            raise ConfigError(f"handoff.{key}: expected a whole number of at least 1, got {_kind(raw)}")
        counts[key] = raw
    on_email = table.get("on_email_address", True)
    if not isinstance(on_email, bool):
        raise ConfigError(f"handoff.on_email_address: expected true or false, got {_kind(on_email)}")
    return HandoffRules(after_messages=counts["after_messages"], after_characters=counts["after_characters"],
                        on_email_address=on_email)


def _acknowledge(value: Any, calendars: dict[str, BusinessCalendar]) -> AcknowledgeSettings:
    if value is None:
        return AcknowledgeSettings()
    table = _table(value, "acknowledge", ("language", "whatsapp_template", "rules"))
    language = DEFAULT_LANGUAGE
    if "language" in table:
        language = _string(table["language"], "acknowledge.language")
        if not _LANGUAGE.fullmatch(language):
            raise ConfigError(f"acknowledge.language: {language!r} is not a lower-case language code like en, nl "
                              "or pt-br")
    from functions.templating import TEMPLATES_DIR, available_languages

    known = available_languages()
    if language not in known:
        raise ConfigError(
            f"acknowledge.language: no acknowledgement templates in {language!r} (needs "
            f"ack.{language}.txt.j2 and ack_after_hours.{language}.txt.j2 in {TEMPLATES_DIR}; "
            f"languages that have them: {', '.join(known) or 'none'})"
        )
    template = None
    if "whatsapp_template" in table:
        at = "acknowledge.whatsapp_template"
        wa = _table(table["whatsapp_template"], at, ("name", "language"))
        name = _string(_required(wa, "name", at), f"{at}.name")
        if not _WA_TEMPLATE_NAME.fullmatch(name):
            raise ConfigError(f"{at}.name: {name!r} is not a WhatsApp template name (lower-case letters, digits "
                              "and _)")
        wa_language = _string(_required(wa, "language", at), f"{at}.language")
        if not _WA_LANGUAGE.fullmatch(wa_language):
            raise ConfigError(f"{at}.language: {wa_language!r} is not a WhatsApp language code like en or en_US")
        template = WhatsAppTemplate(name=name, language=wa_language)
    return AcknowledgeSettings(
        language=language,
        whatsapp_template=template,
        rules=_ack_rules(table.get("rules", []), calendars),
    )


def _ack_rules(value: Any, calendars: dict[str, BusinessCalendar]) -> tuple[AckRule, ...]:
    path = "acknowledge.rules"
    rules: list[AckRule] = []
    for index, item in enumerate(_array(value, path)):
        at = f"{path}[{index}]"
        table = _table(item, at, ("name", "match", "when", "reply", "calendar"))
        name = _string(table["name"], f"{at}.name") if "name" in table else at
        for earlier_index, earlier in enumerate(rules):
            if earlier.name == name:
                raise ConfigError(f"{at}.name: {name!r} is already the name of {path}[{earlier_index}]")
        match = _match(table.get("match", {}), f"{at}.match", RULE_MATCH_KEYS, _RULE_MATCH_VALUES)
        when = _choice(_required(table, "when", at), f"{at}.when", WHEN)
        reply = "private"
        if "reply" in table:
            reply = _choice(table["reply"], f"{at}.reply", REPLY)
            if when == "never":
                raise ConfigError(f"{at}.reply: has no effect with when = 'never'")
            if "channel" in match and not match["channel"] & {"comment", "mention"}:
                raise ConfigError(f"{at}.reply: only comments and mentions are answered in public or in private; "
                                  f"this rule matches channel {', '.join(sorted(match['channel']))}")
        calendar = None
        if "calendar" in table:
            calendar_name = _string(table["calendar"], f"{at}.calendar")
            if when == "never":
                raise ConfigError(f"{at}.calendar: has no effect with when = 'never'")
            if calendar_name not in calendars:
                known = ", ".join(sorted(calendars))
                raise ConfigError(f"{at}.calendar: no calendar named {calendar_name!r} (known: {known})")
            calendar = calendars[calendar_name]
        rule = AckRule(name=name, match=match, when=when, reply=reply, calendar=calendar)  # type: ignore[arg-type]
        for earlier_index, earlier in enumerate(rules):
            if earlier.shadows(rule):
                raise ConfigError(
                    f"{at}.match: rule {name!r} never applies: every message it matches is matched "
                    f"first by {path}[{earlier_index}] ({earlier.name!r})"
                )
        rules.append(rule)
    return tuple(rules)


def _choice(value: Any, path: str, choices: Collection[str]) -> str:
    text = _string(value, path)
    if text not in choices:
        raise ConfigError(f"{path}: {text!r} is not one of: {', '.join(choices)}")
    return text


def _policies(value: Any, calendars: dict[str, BusinessCalendar]) -> tuple[Policy, ...]:
    path = "sla.policies"
    items = _array(value, path)
    if not items:
        raise ConfigError(f"{path}: needs at least one policy")
    policies: list[Policy] = []
    for index, item in enumerate(items):
        at = f"{path}[{index}]"
        table = _table(
            item,
            at,
            ("name", "match", "first_response", "next_response", "resolution", "warn_at", "calendar"),
        )
        name = _string(_required(table, "name", at), f"{at}.name")
        for earlier_index, earlier in enumerate(policies):
            if earlier.name == name:
                raise ConfigError(f"{at}.name: {name!r} is already the name of {path}[{earlier_index}]")
        calendar_name = _string(_required(table, "calendar", at), f"{at}.calendar")
        if calendar_name not in calendars:
            known = ", ".join(sorted(calendars))
            raise ConfigError(f"{at}.calendar: no calendar named {calendar_name!r} (known: {known})")
        policy = Policy(
            name=name,
            match=_match(table.get("match", {}), f"{at}.match"),
            first_response=_duration(_required(table, "first_response", at), f"{at}.first_response"),
            next_response=_duration(_required(table, "next_response", at), f"{at}.next_response"),
            resolution=_duration(table["resolution"], f"{at}.resolution") if "resolution" in table else None,
            warn_at=_fractions(table.get("warn_at", []), f"{at}.warn_at"),
            calendar=calendars[calendar_name],
        )
        for earlier_index, earlier in enumerate(policies):
            if earlier.shadows(policy):
                raise ConfigError(
                    f"{at}.match: policy {name!r} never applies: every conversation it matches is matched "
                    f"first by {path}[{earlier_index}] ({earlier.name!r})"
                )
        policies.append(policy)
    return tuple(policies)


def _match(value: Any, path: str, keys: Collection[str] = MATCH_KEYS,
           known_values: dict[str, frozenset[str]] = MATCH_VALUES) -> dict[str, frozenset[str]]:
    table = _table(value, path, keys)
    match: dict[str, frozenset[str]] = {}
    for key, raw in table.items():
        at = _join(path, key)
        values = [raw] if isinstance(raw, str) else _array(raw, at)
        if not values:
            raise ConfigError(f"{at}: an empty list matches nothing; leave the key out to match anything")
        for index, item in enumerate(values):
            text = _string(item, f"{at}[{index}]" if isinstance(raw, list) else at)
            if key in known_values and text not in known_values[key]:
                allowed = ", ".join(sorted(known_values[key]))
                raise ConfigError(f"{at}: {text!r} is not a {key} (one of: {allowed})")
        match[key] = frozenset(values)
    return match


def _fractions(value: Any, path: str) -> tuple[float, ...]:
    fractions: list[float] = []
    for index, item in enumerate(_array(value, path)):
        at = f"{path}[{index}]"
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise ConfigError(f"{at}: expected a number, got {_kind(item)}")
        if not 0 < item < 1:
            raise ConfigError(f"{at}: {item} is not a fraction between 0 and 1 (exclusive)")
        if fractions and item <= fractions[-1]:
            raise ConfigError(f"{at}: {item} is not larger than the fraction before it ({fractions[-1]})")
        fractions.append(float(item))
    return tuple(fractions)


def _calendars(value: Any) -> dict[str, BusinessCalendar]:
    calendars: dict[str, BusinessCalendar] = {ALWAYS.name: ALWAYS}
    for name, item in _table(value, "calendars", None).items():
        at = _join("calendars", name)
        if name == ALWAYS.name:
            raise ConfigError(f"{at}: 'always' is built in (wall-clock time, 24/7) and can't be redefined")
        table = _table(item, at, ("timezone", "hours", "holidays", "country", "subdivision"))
        timezone = _string(_required(table, "timezone", at), f"{at}.timezone")
        _check(zone, f"{at}.timezone", timezone)
        country = _string(table["country"], f"{at}.country") if "country" in table else None
        subdivision = _string(table["subdivision"], f"{at}.subdivision") if "subdivision" in table else None
        if country is not None:
            _check(check_region, f"{at}.country", country)
        if subdivision is not None:
            if country is None:
                raise ConfigError(f"{at}.subdivision: needs a country")
            _check(check_region, f"{at}.subdivision", country, subdivision)
        calendars[name] = BusinessCalendar(
            name=name,
            timezone=timezone,
            hours=_hours(_required(table, "hours", at), f"{at}.hours"),
            holidays=_dates(table.get("holidays", []), f"{at}.holidays"),
            country=country,
            subdivision=subdivision,
        )
    return calendars


def _hours(value: Any, path: str) -> dict[int, tuple[Window, ...]]:
    hours: dict[int, tuple[Window, ...]] = {}
    for day, raw in _table(value, path, WEEKDAYS).items():
        at = _join(path, day)
        windows: list[Window] = []
        for index, item in enumerate(_array(raw, at)):
            text = _string(item, f"{at}[{index}]")
            window = _check(parse_window, f"{at}[{index}]", text)
            if windows and window_span(window)[0] < window_span(windows[-1])[1]:
                raise ConfigError(
                    f"{at}[{index}]: {text!r} starts before {format_window(windows[-1])!r} ends "
                    "(windows go in time order and must not overlap)"
                )
            windows.append(window)
        if windows:
            hours[WEEKDAYS.index(day)] = tuple(windows)
    if not hours:
        raise ConfigError(f"{path}: no opening hours; a calendar must be open at some time of the week")
    return hours


def _dates(value: Any, path: str) -> frozenset[date]:
    dates: set[date] = set()
    for index, item in enumerate(_array(value, path)):
        at = f"{path}[{index}]"
        if isinstance(item, date) and not isinstance(item, datetime):
            dates.add(item)
            continue
        text = _string(item, at)
        try:
            dates.add(date.fromisoformat(text))
        except ValueError:
            raise ConfigError(f"{at}: {text!r} is not an ISO date like 2026-12-25") from None
    return frozenset(dates)


def _alerts(value: Any) -> tuple[tuple[LadderLevel, ...], dict[str, QuietHours]]:
    alerts = _table(value, "alerts", ("ladder", "quiet_hours"))
    ladder: list[LadderLevel] = []
    for index, item in enumerate(_array(alerts.get("ladder", []), "alerts.ladder")):
        at = f"alerts.ladder[{index}]"
        table = _table(item, at, ("after", "phones"))
        after = _duration(_required(table, "after", at), f"{at}.after", allow_zero=True)
        if not ladder and after != timedelta(0):
            raise ConfigError(f"{at}.after: the first level is paged at the breach, so its after must be 0m")
        if ladder and after <= ladder[-1].after:
            raise ConfigError(f"{at}.after: must be later than the level before it")
        ladder.append(LadderLevel(after=after, phones=_phones(_required(table, "phones", at), f"{at}.phones")))
    paged = {phone for level in ladder for phone in level.phones}
    quiet_hours: dict[str, QuietHours] = {}
    for phone, item in _table(alerts.get("quiet_hours", {}), "alerts.quiet_hours", None).items():
        at = _join("alerts.quiet_hours", phone)
        if phone not in paged:
            raise ConfigError(f"{at}: {phone!r} is not a phone in alerts.ladder")
        table = _table(item, at, ("hours", "timezone"))
        hours = _string(_required(table, "hours", at), f"{at}.hours")
        start, end = _check(parse_window, f"{at}.hours", hours, may_wrap=True)
        timezone = _string(_required(table, "timezone", at), f"{at}.timezone")
        _check(zone, f"{at}.timezone", timezone)
        quiet_hours[phone] = QuietHours(start=start, end=end, timezone=timezone)
    return tuple(ladder), quiet_hours


def _phones(value: Any, path: str) -> tuple[str, ...]:
    phones: list[str] = []
    for index, item in enumerate(_array(value, path)):
        at = f"{path}[{index}]"
        phone = _string(item, at)
        if not _PHONE.fullmatch(phone):
            raise ConfigError(f"{at}: {phone!r} is not an E.164 phone number like +15555550100")
        if phone in phones:
            raise ConfigError(f"{at}: {phone!r} is listed twice")
        phones.append(phone)
    if not phones:
        raise ConfigError(f"{path}: needs at least one phone")
    return tuple(phones)


def _duration(value: Any, path: str, *, allow_zero: bool = False) -> timedelta:
    return _check(parse_duration, path, _string(value, path), allow_zero=allow_zero)


def _check(function: Callable[..., _T], path: str, *args: Any, **kwargs: Any) -> _T:
    """``function(*args, **kwargs)``, its ValueError turned into a ConfigError at ``path``."""
    try:
        return function(*args, **kwargs)
    except ValueError as error:
        raise ConfigError(f"{path}: {error}") from None


def _required(table: dict[str, Any], key: str, path: str) -> Any:
    if key not in table:
        raise ConfigError(f"{_join(path, key)}: missing")
    return table[key]


def _table(value: Any, path: str, keys: Optional[Collection[str]]) -> dict[str, Any]:
    """``value`` as a table; with ``keys``, every key in it must be one of them."""
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected a table, got {_kind(value)}")
    for key in value:
        if keys is not None and key not in keys:
            raise ConfigError(f"{_join(path, key)}: unknown key (expected one of: {', '.join(keys)})")
    return value


def _array(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{path}: expected a list, got {_kind(value)}")
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{path}: expected a string, got {_kind(value)}")
    if not value.strip():
        raise ConfigError(f"{path}: must not be empty")
    return value


def _join(path: str, key: str) -> str:
    """``path.key``, quoting ``key`` as TOML would when it isn't a bare key."""
    name = key if _BARE_KEY.fullmatch(key) else '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{path}.{name}" if path else name


def _kind(value: Any) -> str:
    kinds: tuple[tuple[type, str], ...] = (
        (bool, "a boolean"),
        (str, "a string"),
        (int, "an integer"),
        (float, "a float"),
        (list, "a list"),
        (dict, "a table"),
        (datetime, "a date-time"),
        (date, "a date"),
        (time, "a time"),
    )
    name = next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)
    return f"{name} ({value!r})" if not isinstance(value, (list, dict)) else name
