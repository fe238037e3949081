"""Alert SMS text: one GSM-7 segment, link intact."""
from __future__ import annotations

from datetime import timedelta

from functions.domain.alerts import SEGMENT, compose, gsm_safe

LINK = "https://abcdef1234.execute-api.eu-west-1.amazonaws.com/api/ack/AbCdEfGhIjKlMnOpQrStUv"


def test_breach_text_names_platform_customer_lateness_and_link():
    text = compose("breach", "facebook", "dm", "Ana", timedelta(minutes=12), LINK)
    assert text == f"Heed SLA BREACH: Facebook DM from Ana, 12m late. Ack: {LINK}"
    assert len(text) <= SEGMENT


def test_warning_says_time_left():
    assert "1h05m left" in compose("warning", "x", "mention", "Eli", timedelta(minutes=65), LINK)


def test_long_and_non_gsm_names_are_folded_and_cut_to_one_segment():
    text = compose("escalation", "instagram", "comment", "Zoë Ørsted 🙂 " * 20, timedelta(hours=3), LINK)
    assert len(text) <= SEGMENT and text.endswith(LINK) and text.isascii()
    assert "Zoe" in text


def test_gsm_safe():
    assert gsm_safe("Zoë  Ørsted 🙂") == "Zoe Orsted"
    assert gsm_safe("Дмитрий") == ""


def test_a_name_in_another_script_becomes_a_customer():
    assert "from a customer, 5m late" in compose("breach", "telegram", "dm", "Дмитрий", timedelta(minutes=5), LINK)
