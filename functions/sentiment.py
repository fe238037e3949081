"""Sentiment from Amazon Comprehend, when a stage switches it on; the built-in lexicon otherwise.

``HEED_SENTIMENT=comprehend|lexicon`` picks per stage (it overrides the policy
file's ``triage.sentiment``). Comprehend is asked once per customer message in
intake, within a time budget per delivery; any error, or the budget running
out, falls back to the lexicon for the rest (logged as ``sentiment_fallback``,
never the text). The webhook never fails over sentiment.
"""
from __future__ import annotations

import os
import time
from typing import Optional

from functions.log import log

ENV_VAR = "HEED_SENTIMENT"
MODES = ("lexicon", "comprehend")
BUDGET_SECONDS = 2.0  # per delivery; the platform's webhook timeout is the hard limit
MAX_BYTES = 4800  # DetectSentiment takes up to 5,000 UTF-8 bytes
COMPREHEND_LANGUAGES = frozenset({"en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW"})


def mode(configured: str) -> str:
    chosen = os.environ.get(ENV_VAR) or configured
    return chosen if chosen in MODES else "lexicon"


def comprehend_scores(texts: list[tuple[str, str]]) -> list[Optional[float]]:
    """Positive minus Negative for each ``(text, language)``; ``None`` where the lexicon must do."""
    from botocore.exceptions import BotoCoreError, ClientError

    from functions import aws

    started = time.monotonic()
    scores: list[Optional[float]] = []
    for text, language in texts:
        if not text.strip() or time.monotonic() - started > BUDGET_SECONDS:
            scores.append(None)
            continue
        try:
            answer = aws.client("comprehend").detect_sentiment(
                Text=text.encode("utf-8", "ignore")[:MAX_BYTES].decode("utf-8", "ignore"),
                LanguageCode=language if language in COMPREHEND_LANGUAGES else "en")
            score = answer["SentimentScore"]
            scores.append(max(-1.0, min(1.0, float(score["Positive"]) - float(score["Negative"]))))
        except (BotoCoreError, ClientError, KeyError, TypeError, ValueError) as exc:
            log("sentiment_fallback", level="WARNING", error=type(exc).__name__)
            scores += [None] * (len(texts) - len(scores))
            break
    return scores
