"""Ack link tokens: short, signed, expiring, one spelling each."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from functions import acks

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_round_trip_and_length():
    token_id, token = acks.new_token(NOW)
    assert len(token) == 22 and acks.verify(token, NOW + timedelta(hours=23)) == token_id


@pytest.mark.parametrize("position", range(22))
def test_any_changed_character_is_refused(position):
    _, token = acks.new_token(NOW)
    changed = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1:]
    with pytest.raises(acks.InvalidToken) as refused:
        acks.verify(changed, NOW)
    assert refused.value.reason in ("malformed", "forged")


def test_expired_and_malformed():
    _, token = acks.new_token(NOW)
    with pytest.raises(acks.InvalidToken, match="expired"):
        acks.verify(token, NOW + acks.VALID_FOR)
    for bad in ("", "short", token + "A", "!" * 22):
        with pytest.raises(acks.InvalidToken, match="malformed"):
            acks.verify(bad, NOW)


def test_another_secret_forges(monkeypatch):
    _, token = acks.new_token(NOW)
    monkeypatch.setenv("HEED_ACK_SECRET", "another-deployment")
    with pytest.raises(acks.InvalidToken, match="forged"):
        acks.verify(token, NOW)
