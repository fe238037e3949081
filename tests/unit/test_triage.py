"""Triage and incident detection: pure domain, no AWS."""
from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta

import pytest

from functions.config import ConfigError, parse_config
from functions.domain import alerts
from functions.domain.incidents import IncidentSettings, OpenIncident, Signature, bucket, detect, incident_id, joins
from functions.domain.triage import (
    MAX_TRIAGE_CHARS,
    Customer,
    Rollup,
    TriageRules,
    highest,
    significant_terms,
    triage,
)

RULES = TriageRules(vip=frozenset({"x:42", "psid-vip"}), follower_threshold=10_000)
DM = Customer("facebook", "psid-1")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def labels(text: str, channel: str = "dm", customer: Customer = DM, **kw) -> tuple[str, ...]:
    return triage(text, channel, customer, RULES, **kw).labels


@pytest.mark.parametrize("text", ["thanks!", "Thank you so much 🙏", "👍", "😂😂😂", "lol", "ok thanks", "!!!", "",
                                  "bedankt!", "dank je wel", "merci beaucoup", "¡Muchas gracias!", "danke schön",
                                  "haha ok", "  Thx  "])
def test_noise(text):
    result = triage(text, "dm", DM, RULES)
    assert result.labels == ("noise",) and result.priority == "low" and result.dismissed


def test_a_sticker_is_noise_but_a_photo_alone_is_not():
    assert labels("", attachments=("sticker",)) == ("noise",)
    assert "noise" not in labels("", attachments=("image",))
    assert "noise" not in labels("thanks, but my order never arrived")


@pytest.mark.parametrize("text", ["FREE iPhone giveaway!! click https://bit.ly/xyz",
                                  "Claim your crypto airdrop at www.win-now.xyz",
                                  "Bitcoin giveaway 🎁 double your BTC http://scam.example",
                                  "DM me to earn $500 a day"])
def test_spam(text):
    result = triage(text, "comment", DM, RULES)
    assert result.labels == ("spam",) and result.priority == "low"


def test_a_link_alone_or_a_word_alone_is_not_spam():
    assert "spam" not in labels("Here is my order: https://shop.example/orders/123")
    assert "spam" not in labels("Is the giveaway still running?")


@pytest.mark.parametrize("text", ["Giveaway today!\nDetails: https://bit.ly/xyz",  # bait before the link, lines apart
                                  "see a-b.ly\n\nwinner winner",
                                  "free iphone! free iphone!!\nDM now",
                                  "FREE   iPhone, click"])
def test_link_and_bait_anywhere_in_the_text_are_spam(text):
    assert labels(text, "comment") == ("spam",)


@pytest.mark.parametrize("text", ["free iphone " * 3, "I won! my order shipped from example.de", "x" * 20_000])
def test_bait_without_its_second_half_is_not_spam(text):
    assert "spam" not in labels(text, "comment")


@pytest.mark.parametrize("hostile", ["a-" * 500_000, "x" * 1_000_000, "free iphone " * 90_000, "ok " * 400_000,
                                     "\U0001F620" * 300_000, "www." * 250_000])
def test_triage_reads_the_first_ten_thousand_characters_of_anything(hostile):
    # Once each of these took longer than any Lambda timeout (a ReDoS in the spam patterns; the noise
    # segmentation grows with words x phrases); tests/bench/test_triage_bench.py measures the time.
    assert triage(hostile, "dm", DM, RULES) == triage(hostile[:MAX_TRIAGE_CHARS], "dm", DM, RULES)


@pytest.mark.parametrize("text,expected", [
    ("Where is my order?", {"question"}),
    ("how do I change my address", {"question"}),
    ("The app crashes at checkout, this is terrible", {"complaint"}),
    ("what the fuck is wrong with your app", {"profanity", "question", "complaint"}),
    ("Love the new app, amazing work!", {"praise"}),
    ("Mijn bestelling is nooit aangekomen, echt waardeloos", {"complaint"}),
    ("Waar blijft mijn pakket?", {"question"}),
    ("Wat een kutbedrijf, kut service", {"profanity"}),
    ("Le colis n'est jamais arrivé, je suis très déçu", {"complaint"}),
    ("Mi pedido no llegó, es una estafa", {"complaint"}),
])
def test_labels(text, expected):
    assert expected <= set(labels(text))


def test_negation_flips_sentiment_within_its_clause():
    assert triage("not bad at all", "dm", DM, RULES).sentiment > 0
    assert triage("I do not love this", "dm", DM, RULES).sentiment < 0
    assert triage("never late, great", "dm", DM, RULES).sentiment > 0


def test_sentiment_stays_in_range():
    for text in ["awful awful awful horrible worst 😡😡😡", "love love amazing perfect ❤❤❤", "meh"]:
        assert -1 <= triage(text, "dm", DM, RULES).sentiment <= 1


def test_language_guess():
    assert triage("Ik heb een vraag over mijn bestelling", "dm", DM, RULES).language == "nl"
    assert triage("I have a question about my order", "dm", DM, RULES).language == "en"
    assert triage("Ich habe eine Frage zu meiner Bestellung", "dm", DM, RULES).language == "de"
    assert triage("12345", "dm", DM, RULES).language == "en"  # nothing to go on: the default


def test_priority_signals():
    assert triage("Where is my order?", "dm", DM, RULES).priority == "normal"
    assert triage("This is terrible", "dm", DM, RULES).priority == "high"  # negative
    assert triage("I want to cancel", "dm", DM, RULES).priority == "high"  # last resort
    assert triage("Ik heb drie keer gebeld en niemand neemt op", "dm", DM, RULES).priority == "high"
    urgent = triage("I called three times and nobody answers, this is unacceptable", "dm", DM, RULES)
    assert urgent.priority == "urgent" and set(urgent.signals) == {"negative", "last_resort"}
    assert triage("hello", "dm", Customer("facebook", "psid-vip"), RULES).priority == "high"
    assert triage("hello", "mention", Customer("x", "42"), RULES).signals == ("vip", "public")
    assert triage("hello", "mention", Customer("x", "7", followers=50_000), RULES).priority == "high"
    assert triage("hello", "mention", Customer("x", "7", followers=9_999), RULES).priority == "normal"
    assert triage("bad", "mention", Customer("x", "7", followers=50_000), RULES).priority == "urgent"
    assert triage("hello", "comment", DM, RULES).priority == "normal"  # public alone: normal by default


def test_comprehend_score_replaces_the_lexicon_and_is_clamped():
    assert triage("terrible", "dm", DM, RULES, sentiment=0.9).sentiment == 0.9
    assert triage("terrible", "dm", DM, RULES, sentiment=-4).sentiment == -1


def test_significant_terms_drop_stopwords_feelings_and_stem():
    assert significant_terms("The app keeps crashing at checkout!!", RULES) == ("app", "checkout", "crash")
    assert significant_terms("App crashed during checkout, twice now", RULES)[:2] == ("app", "checkout")
    assert significant_terms("terrible awful service, I hate it", RULES) == ("service",)
    assert significant_terms("De app crasht steeds bij het afrekenen", RULES) == ("afreken", "app", "crasht")
    assert significant_terms("@brand see https://x.example/a", RULES) == ("see",)


def test_rollup_keeps_noise_only_while_everything_is_noise():
    r = Rollup().add(("noise",), "low", 0.5, "2026-01-01T00:00:00.000Z")
    assert r.labels == ("noise",) and r.dismissed and r.priority == "normal"
    r = r.add(("complaint",), "high", -0.6, "2026-01-01T00:01:00.000Z")
    assert r.labels == ("complaint",) and not r.dismissed and r.priority == "high" and r.sentiment == -0.6
    r = r.add(("noise",), "low", 0.9, "2026-01-01T00:00:30.000Z")  # older: sentiment stays the latest's
    assert r.labels == ("complaint",) and r.sentiment == -0.6
    assert r.add(("complaint",), "high", -0.6, "2026-01-01T00:01:00.000Z") == r  # replays change nothing


def test_staff_relabel_wins_and_messages_only_raise_priority_later():
    r = Rollup().add(("noise",), "low", 0.1, "a").relabel(["question"], "low")
    assert (r.labels, r.priority, r.real, r.relabelled_by_staff) == (("question",), "low", True, True)
    assert r.add(("noise",), "low", 0.1, "b").labels == ("question",)
    assert r.add((), "urgent", 0.1, "b").priority == "urgent"
    assert Rollup.load(r.dump()) == r
    assert highest(["low", None, "bogus", "high"]) == "high"


# ---------------------------------------------------------------- incidents

K4 = IncidentSettings(customers=4, window=timedelta(minutes=15), min_shared_terms=2)


def sig(n: int, minutes: float, terms: tuple[str, ...], customer: str | None = None) -> Signature:
    return Signature(f"m{n}", customer or f"cust{n}", f"conv{n}", T0 + timedelta(minutes=minutes), terms)


def test_more_than_k_customers_sharing_terms_make_an_incident():
    recent = [sig(n, n, ("app", "checkout", "crash", f"x{n}")) for n in range(4)]
    assert detect(recent[-1], recent[:-1], K4) is None  # four customers: not more than K
    fifth = sig(9, 5, ("app", "checkout", "crash", "pay"))
    cluster = detect(fifth, recent, K4)
    assert cluster is not None and cluster.customers == 5 and cluster.terms == ("app", "checkout", "crash")
    assert cluster.key == ("app", "checkout")  # most customers, then alphabetical
    assert incident_id(cluster) == incident_id(detect(fifth, recent, K4))  # deterministic


def test_one_customer_complaining_five_times_is_no_incident():
    recent = [sig(n, n, ("app", "checkout"), customer="same") for n in range(6)]
    assert detect(recent[-1], recent[:-1], K4) is None


def test_complaints_outside_the_window_or_with_too_few_shared_terms_do_not_count():
    old = [sig(n, -30 - n, ("app", "checkout")) for n in range(4)]
    assert detect(sig(9, 0, ("app", "checkout")), old, K4) is None
    loose = [sig(n, n, ("app", f"thing{n}")) for n in range(5)]
    assert detect(sig(9, 5, ("app", "thing9")), loose, K4) is None
    assert detect(sig(9, 5, ("app",)), loose, K4) is None


def test_a_complaint_joins_an_open_incident_with_shared_terms_and_recent_activity():
    incident = OpenIncident("i1", ("app", "checkout", "crash"), T0)
    assert joins(sig(1, 10, ("checkout", "crash", "pay")), [incident], K4) == incident
    assert joins(sig(1, 20, ("checkout", "crash")), [incident], K4) is None  # quiet for longer than W
    assert joins(sig(1, 5, ("crash", "login")), [incident], K4) is None  # one shared term only


def test_buckets_are_window_long():
    assert bucket(T0, timedelta(minutes=15)) == bucket(T0 + timedelta(minutes=14), timedelta(minutes=15))
    assert bucket(T0, timedelta(minutes=15)) + 1 == bucket(T0 + timedelta(minutes=15), timedelta(minutes=15))


def test_incident_sms_is_one_segment_without_customers():
    text = alerts.compose_incident(12, ("app", "checkout", "crash"), [("facebook", "dm"), ("x", "mention")],
                                   "https://heed.example/incidents")
    assert text == ('Heed INCIDENT: 12 customers complain about "app checkout crash" (Facebook DM, X mention). '
                    'https://heed.example/incidents')
    long = alerts.compose_incident(5, tuple(f"wörd{n}" for n in range(40)), [], "https://heed.example/incidents")
    assert len(long) <= 160 and long.isascii() and long.endswith("https://heed.example/incidents")


# ---------------------------------------------------------------- the policy file

BASE = """
[[sla.policies]]
name = "all"
first_response = "1h"
next_response = "1h"
calendar = "always"
"""


def config(extra: str):
    return parse_config(tomllib.loads(BASE + extra))


def test_triage_and_incident_settings_load():
    loaded = config("""
[triage]
vip = ["x:1"]
follower_threshold = 500
negative_below = -0.5
spam_patterns = ["free followers"]
[triage.priority]
public = "high"
[triage.languages.nl]
complaint = ["Heel Erg"]
[triage.languages.pt]
complaint = ["não funciona"]
[incidents]
customers = 3
window = "10m"
min_shared_terms = 3
""".replace("Heel Erg", "heel erg"))
    rules = loaded.triage
    assert rules.vip == {"x:1"} and rules.follower_threshold == 500 and rules.priority.public == "high"
    assert "nao funciona" in rules.vocabularies["pt"].complaint  # folded like the text it is matched against
    assert triage("free followers here", "dm", DM, rules).labels == ("spam",)
    assert loaded.incidents == IncidentSettings(True, 3, timedelta(minutes=10), 3)
    assert config("").triage.language == "en" and config("").incidents.customers == 5


@pytest.mark.parametrize("extra,message", [
    ("[triage]\nvips = []", "triage.vips: unknown key"),
    ("[triage]\nnegative_below = 2", "triage.negative_below: 2 is not between -1 and 1"),
    ("[triage]\nsentiment = 'magic'", "triage.sentiment: 'magic' is not one of"),
    ("[triage]\nspam_patterns = ['(']", "triage.spam_patterns[0]: not a valid regular expression"),
    ("[triage]\nfollower_threshold = true", "triage.follower_threshold: expected an integer"),
    ("[triage.priority]\nvip = 'max'", "triage.priority.vip: 'max' is not one of"),
    ("[triage.priority]\nceo = 'high'", "triage.priority.ceo: unknown key"),
    ("[triage.languages.nl]\ncomplaint = ['Kapot']", "triage.languages.nl.complaint[0]: 'Kapot' must be lower case"),
    ("[triage.languages.nl]\nswear = []", "triage.languages.nl.swear: unknown key"),
    ("[triage]\nlanguage = 'xx'", "triage.language: no vocabulary for 'xx'"),
    ("[incidents]\ncustomers = 0", "incidents.customers: must be at least 1"),
    ("[incidents]\nwindow = 'soon'", "incidents.window:"),
    ("[incidents]\nenabled = 'yes'", "incidents.enabled: expected a boolean"),
])
def test_triage_config_mistakes_name_their_key(extra, message):
    with pytest.raises(ConfigError) as caught:
        config(extra)
    assert str(caught.value).startswith(message), str(caught.value)
