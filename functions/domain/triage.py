"""Triage: labels, a sentiment score and a priority for every inbound message, before any rule fires.

Pure and offline: :func:`triage` reads the text against the built-in
vocabulary (:mod:`functions.domain.lexicon`) extended by the policy file's
``[triage]`` section. Labels:

* ``noise``: the whole message is thanks, a like, "lol", emoji or punctuation;
* ``spam``: a spam pattern matches (links with giveaway/crypto/prize bait); the
  stream handler adds ``spam`` too when many accounts send the same text;
* ``profanity``, ``question``, ``complaint``, ``praise`` (any number of them).

``noise`` and ``spam`` stand alone (a message with either gets no other label)
and take priority ``low``. Otherwise priority starts at ``normal`` and each
signal that fires raises it to the level the rules give it: negative sentiment,
a last-resort phrase ("called three times", "cancel"), a VIP customer, an
influencer (follower count at or over the threshold), a public channel. Two or
more signals above ``normal`` raise it to ``two_or_more`` (default ``urgent``).

The conversation roll-up (:class:`Rollup`) folds message triages in any order,
twice or more, to the same result.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import timedelta
from itertools import combinations
from math import sqrt
from typing import Iterable, Optional

from functions.domain.lexicon import EMOJI_SENTIMENT, SPAM_PATTERNS, VOCABULARIES, Vocabulary

PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")
LABELS: tuple[str, ...] = ("noise", "spam", "profanity", "question", "complaint", "praise")
DISMISSED = frozenset({"noise", "spam"})  # open no clock, get no acknowledgement
SIGNALS: tuple[str, ...] = ("negative", "last_resort", "vip", "influencer", "public")
PUBLIC_CHANNELS = frozenset({"comment", "mention"})
MAX_TERMS = 12
MAX_TRIAGE_CHARS = 10_000  # the longest text a platform sends (an X DM); triage reads no further

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_LINK = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"(?<!\w)@\w+")
_CLAUSE = re.compile(r"[,.;:!?]+\s|\n| but | maar | aber | pero | mais ")
NEGATION_REACH = 3  # words


@dataclass(frozen=True)
class PriorityRules:
    negative: str = "high"
    last_resort: str = "high"
    vip: str = "high"
    influencer: str = "high"
    public: str = "normal"
    two_or_more: str = "urgent"


@dataclass(frozen=True)
class TriageRules:
    """``[triage]``: per-language vocabularies (built-in plus the file's), thresholds, VIPs."""

    language: str = "en"  # the fallback when a text's language is unclear
    vocabularies: dict[str, Vocabulary] = field(default_factory=lambda: dict(VOCABULARIES))
    spam_patterns: tuple[re.Pattern[str], ...] = field(  # compiled when rules are made, not at import
        default_factory=lambda: tuple(re.compile(p, re.S) for p in SPAM_PATTERNS))
    vip: frozenset[str] = frozenset()  # customer ids, or "<platform>:<customer id>"
    follower_threshold: Optional[int] = None
    negative_below: float = -0.3  # sentiment at or below this is the "negative" signal (and a complaint)
    praise_above: float = 0.5
    priority: PriorityRules = PriorityRules()
    sentiment: str = "lexicon"  # or "comprehend" (HEED_SENTIMENT overrides per stage)
    repeat_customers: int = 3  # the same text from this many customers within repeat_window is spam
    repeat_window: timedelta = timedelta(minutes=10)
    repeat_min_chars: int = 15


@dataclass(frozen=True)
class Customer:
    """What triage may know about the sender."""

    platform: str
    customer_id: Optional[str]
    followers: Optional[int] = None


@dataclass(frozen=True)
class Triage:
    labels: tuple[str, ...]
    sentiment: float  # [-1, 1], rounded to 3 places
    priority: str
    language: str
    signals: tuple[str, ...] = ()

    @property
    def dismissed(self) -> bool:
        return bool(DISMISSED & set(self.labels))


def triage(text: str, channel: str, customer: Customer, rules: TriageRules,
           attachments: tuple[str, ...] = (), sentiment: Optional[float] = None) -> Triage:
    """Label and rank one inbound message. ``sentiment`` replaces the lexicon's score (Comprehend).

    Reads the first :data:`MAX_TRIAGE_CHARS` characters: a brand's own ``spam_patterns`` may be
    slow on long text, and a webhook body may carry far more than any platform lets a customer send.
    """
    text = text[:MAX_TRIAGE_CHARS]
    folded = fold(text)
    words = tokens(text)
    language = guess_language(words, rules)
    vocab = _merged(rules, language)
    score = lexicon_sentiment(text, vocab) if sentiment is None else max(-1.0, min(1.0, sentiment))
    score = round(score, 3)
    if _is_spam(folded, rules):
        return Triage(("spam",), score, "low", language)
    if _is_noise(text, words, attachments, vocab, rules):
        return Triage(("noise",), score, "low", language)
    phrase_text = " " + " ".join(words) + " "
    labels = []
    if set(words) & vocab.profanity:
        labels.append("profanity")
    if "?" in text or (words and words[0] in vocab.question):
        labels.append("question")
    if _has_phrase(phrase_text, vocab.complaint) or score <= rules.negative_below:
        labels.append("complaint")
    if "complaint" not in labels and (_has_phrase(phrase_text, vocab.praise) or score >= rules.praise_above):
        labels.append("praise")
    signals = []
    if score <= rules.negative_below:
        signals.append("negative")
    if _has_phrase(phrase_text, vocab.last_resort):
        signals.append("last_resort")
    if customer.customer_id and (customer.customer_id in rules.vip
                                 or f"{customer.platform}:{customer.customer_id}" in rules.vip):
        signals.append("vip")
    if (rules.follower_threshold is not None and customer.followers is not None
            and customer.followers >= rules.follower_threshold):
        signals.append("influencer")
    if channel in PUBLIC_CHANNELS:
        signals.append("public")
    return Triage(tuple(labels), score, _priority(signals, rules.priority), language, tuple(signals))


def _priority(signals: list[str], rules: PriorityRules) -> str:
    levels = [getattr(rules, signal) for signal in signals]
    raised = [level for level in levels if rank(level) > rank("normal")]
    if len(raised) >= 2:
        levels.append(rules.two_or_more)
    return highest(["normal", *levels])


def rank(priority: str) -> int:
    return PRIORITIES.index(priority) if priority in PRIORITIES else PRIORITIES.index("normal")


def highest(priorities: Iterable[Optional[str]]) -> str:
    known = [p for p in priorities if p in PRIORITIES]
    return max(known, key=rank) if known else "normal"


# ---------------------------------------------------------------- text


def fold(text: str) -> str:
    """Lower case, compatibility-normalised, accents dropped: "Déçu" -> "decu" (emoji kept)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("’", "'")


def tokens(text: str) -> list[str]:
    """Words of the folded text, links and @mentions left out; apostrophes dropped ("don't" -> "dont")."""
    cleaned = _MENTION.sub(" ", _LINK.sub(" ", fold(text)))
    return [w.replace("'", "") for w in _WORD.findall(cleaned)]


def guess_language(words: list[str], rules: TriageRules) -> str:
    """The vocabulary whose stopwords and keywords the words hit most; ties and no hits: the default."""
    best, best_hits = rules.language, 0
    for code, vocab in rules.vocabularies.items():
        known = vocab.stopwords | vocab.negators | set(vocab.sentiment) | vocab.noise
        hits = sum(1 for w in words if w in known)
        if hits > best_hits or (hits == best_hits and hits and code == rules.language):
            best, best_hits = code, hits
    return best


def _merged(rules: TriageRules, language: str) -> Vocabulary:
    """The language's vocabulary with the default language's added (mixed-language messages are common)."""
    vocabs = [v for code, v in rules.vocabularies.items() if code in (language, rules.language)]
    if not vocabs:
        vocabs = list(rules.vocabularies.values())[:1]
    if len(vocabs) == 1:
        return vocabs[0]
    a, b = vocabs
    return Vocabulary(**{name: (getattr(a, name) | getattr(b, name)) if name != "sentiment"
                         else {**b.sentiment, **a.sentiment}
                         for name in Vocabulary.__dataclass_fields__})


def lexicon_sentiment(text: str, vocab: Vocabulary) -> float:
    """A VADER-like score in [-1, 1]: word and emoji scores, negation flips, intensifiers weigh 1.5x."""
    total = 0.0
    for clause in _CLAUSE.split(text.lower()):  # a negation reaches to the end of its clause at most
        words = tokens(clause)
        for i, word in enumerate(words):
            value = vocab.sentiment.get(word)
            if value is None:
                continue
            if any(w in vocab.negators for w in words[max(0, i - NEGATION_REACH):i]):
                value = -value * 0.75
            if i and words[i - 1] in vocab.intensifiers:
                value *= 1.5
            total += value
    total += sum(score for emoji, score in EMOJI_SENTIMENT.items() if len(emoji) == 1 for _ in
                 range(text.count(emoji)))
    return total / sqrt(total * total + 15) if total else 0.0


def _has_phrase(padded: str, phrases: frozenset[str]) -> bool:
    return any(f" {phrase} " in padded for phrase in phrases)


def _is_spam(folded: str, rules: TriageRules) -> bool:
    return any(pattern.search(folded) for pattern in rules.spam_patterns)


LIKE_ATTACHMENTS = frozenset({"like", "sticker", "reaction", "animated_gif"})


def _is_noise(text: str, words: list[str], attachments: tuple[str, ...], vocab: Vocabulary,
              rules: TriageRules) -> bool:
    if not words:
        # Emoji, punctuation, a like or a sticker; a photo or file alone may show a problem: not noise.
        return not attachments or set(attachments) <= LIKE_ATTACHMENTS
    return _segments(words, vocab.noise | VOCABULARIES[_default(rules)].noise)


def _default(rules: TriageRules) -> str:
    return rules.language if rules.language in VOCABULARIES else "en"


def _segments(words: list[str], phrases: frozenset[str]) -> bool:
    """Whether the words are nothing but noise phrases ("ok thanks lol")."""
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for phrase in phrases:
        split = tuple(phrase.split())
        by_first.setdefault(split[0], []).append(split)
    reachable = [True] + [False] * len(words)
    for start, word in enumerate(words):
        if not reachable[start]:
            continue
        for phrase in by_first.get(word, ()):  # only the phrases this word can start
            end = start + len(phrase)
            if end <= len(words) and tuple(words[start:end]) == phrase:
                reachable[end] = True
    return reachable[-1]


# ---------------------------------------------------------------- significant terms


def significant_terms(text: str, rules: TriageRules) -> tuple[str, ...]:
    """Content words of a message, for incident detection: stopwords and sentiment words out, light stems.

    "The app keeps crashing at checkout!!" -> ("app", "checkout", "crash"). At
    most :data:`MAX_TERMS`, sorted.
    """
    words = tokens(text)
    generic: set[str] = set()
    for vocab in rules.vocabularies.values():  # what every complaint says, not what this one is about
        generic |= vocab.stopwords | vocab.negators | vocab.intensifiers | vocab.noise | vocab.profanity
        generic |= {word for word, score in vocab.sentiment.items() if abs(score) >= 2}
    terms: list[str] = []
    for word in words:
        if len(word) < 3 or word.isdigit() or word in generic:
            continue
        stem = _stem(word)
        if stem not in terms:
            terms.append(stem)
    return tuple(sorted(terms[:MAX_TERMS]))


_SUFFIXES = ("ings", "ing", "ies", "ed", "es", "en", "s")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            return stem + "y" if suffix == "ies" else stem
    return word


def term_sets(terms: tuple[str, ...], size: int) -> list[tuple[str, ...]]:
    return [tuple(c) for c in combinations(sorted(terms), size)]


# ---------------------------------------------------------------- the conversation roll-up


@dataclass(frozen=True)
class Rollup:
    """A conversation's triage: stored on its item, folded from its customer messages.

    ``labels``: the union over customer messages, except that ``noise`` and
    ``spam`` stay only while *every* customer message was noise or spam
    (``real`` turns true with the first that isn't). ``priority``: the highest
    seen (only ever raised by messages; staff may set any). ``sentiment``: of
    the latest customer message by sent time (``sentiment_at``).
    """

    labels: tuple[str, ...] = ()
    priority: str = "normal"
    sentiment: Optional[float] = None
    sentiment_at: Optional[str] = None
    real: bool = False
    relabelled_by_staff: bool = False

    def add(self, message_labels: Iterable[str], priority: str, sentiment: Optional[float],
            sent_at: str) -> Rollup:
        message_labels = tuple(message_labels)
        real = self.real or not (DISMISSED & set(message_labels))
        labels = set(self.labels) | set(message_labels)
        if real:
            labels -= DISMISSED
        newer = sentiment is not None and (self.sentiment_at is None or sent_at >= self.sentiment_at)
        return replace(self, labels=_ordered(labels), real=real, priority=highest([self.priority, priority]),
                       sentiment=sentiment if newer else self.sentiment,
                       sentiment_at=sent_at if newer else self.sentiment_at)

    def relabel(self, labels: Iterable[str], priority: Optional[str]) -> Rollup:
        """Staff's word: the labels as given; noise/spam among them makes the conversation dismissed."""
        chosen = set(labels)
        return replace(self, labels=_ordered(chosen), real=not (DISMISSED & chosen),
                       priority=priority or self.priority, relabelled_by_staff=True)

    @property
    def dismissed(self) -> bool:
        return not self.real and bool(DISMISSED & set(self.labels))

    def dump(self) -> dict:
        return {"labels": list(self.labels), "priority": self.priority, "sentiment": self.sentiment,
                "sentiment_at": self.sentiment_at, "triage_real": self.real,
                "relabelled_by_staff": self.relabelled_by_staff}

    @staticmethod
    def load(item: dict) -> Rollup:
        sentiment = item.get("sentiment")
        return Rollup(labels=tuple(item.get("labels") or ()), priority=item.get("priority") or "normal",
                      sentiment=None if sentiment is None else float(sentiment),
                      sentiment_at=item.get("sentiment_at"), real=bool(item.get("triage_real", False)),
                      relabelled_by_staff=bool(item.get("relabelled_by_staff", False)))


def _ordered(labels: Iterable[str]) -> tuple[str, ...]:
    chosen = set(labels)
    return tuple(label for label in LABELS if label in chosen) + tuple(sorted(chosen - set(LABELS)))
