"""The pure parts of the email handoff: mail parsing and trimming, tokens, detection, transcript, clock carry-over."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from functions.adapters import email as mail
from functions.domain import handoff, sla
from functions.domain.calendar import ALWAYS

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DOMAIN = "mail.heed.example"
TOKEN = "k5mz2q7xw4ny3vb6tc8rd9hfje".replace("8", "a").replace("9", "b")


def raw(text: str = "Hi", html: str | None = None, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Ana <ana@example.com>")
    message["To"] = headers.pop("To", f"support+{TOKEN}@{DOMAIN}")
    message["Message-ID"] = headers.pop("Message_ID", "<x1@example.com>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    if text:
        message.set_content(text)
        if html:
            message.add_alternative(html, subtype="html")
    else:
        message.set_content(html or "", subtype="html")
    return message.as_bytes()


def parse(data: bytes) -> mail.InboundMail:
    return mail.parse(data, own_domain=DOMAIN, received_at=NOW)


def test_tokens_are_128_bit_lower_case_base32_and_unique():
    tokens = {handoff.new_token() for _ in range(200)}
    assert len(tokens) == 200 and all(handoff.is_token(t) and len(t) == 26 for t in tokens)
    assert handoff.reply_address("support@mail.heed.example", DOMAIN, TOKEN) == f"support+{TOKEN}@{DOMAIN}"


def test_token_from_plus_address_case_folded_or_from_our_message_id():
    assert parse(raw(To=f"SUPPORT+{TOKEN.upper()}@MAIL.HEED.EXAMPLE")).token(DOMAIN) == TOKEN
    ours = handoff.message_id(TOKEN, DOMAIN)
    assert parse(raw(To=f"support@{DOMAIN}", In_Reply_To=f"<{ours}>")).token(DOMAIN) == TOKEN
    assert parse(raw(To=f"support@{DOMAIN}", In_Reply_To=f"<heed.{TOKEN}.ab@evil.example>")).token(DOMAIN) is None
    assert parse(raw(To=f"support+short@{DOMAIN}")).token(DOMAIN) is None


def test_quoted_history_and_signatures_are_trimmed():
    assert mail.trim_reply("Yes please\n\nOn Mon, 23 Nov 2026, Heed <a@b.c> wrote:\n> old") == "Yes please"
    assert mail.trim_reply("Yes\nOn Mon, 23 Nov 2026 at 10:00, Heed Demo\n<a@b.c> wrote:\n> old") == "Yes"
    assert mail.trim_reply("Fine\n-----Original Message-----\nFrom: x") == "Fine"
    assert mail.trim_reply("Fine\n\nFrom: Heed <a@b.c>\nSent: Monday\nTo: me\nSubject: x\nold") == "Fine"
    assert mail.trim_reply("Ok\n-- \nAna Smith\n+31 6 1234") == "Ok"
    assert mail.trim_reply("Ok thanks\n\nSent from my iPhone") == "Ok thanks"
    assert mail.trim_reply("> quoted\nmine\n> more") == "mine"


def test_html_only_mail_becomes_text_and_attachments_are_listed_not_kept():
    parsed = parse(raw("", html="<p>Hello&nbsp;there</p><script>x()</script><blockquote>old</blockquote><p>B</p>"))
    assert parsed.text == "Hello\xa0there\n\nB" or parsed.text.replace("\xa0", " ") == "Hello there\n\nB"
    message = EmailMessage()
    message["From"], message["To"], message["Message-ID"] = "a@example.com", f"x@{DOMAIN}", "<y@example.com>"
    message.set_content("See attached")
    message.add_attachment(b"%PDF-1.4 ...", maintype="application", subtype="pdf", filename="invoice.pdf")
    parsed = parse(message.as_bytes())
    assert parsed.text == "See attached"
    assert parsed.attachments == (mail.Attachment("invoice.pdf", "application/pdf", 12),)


def test_auto_replies_bounces_and_loops_are_dropped_with_a_reason():
    assert parse(raw(Auto_Submitted="auto-replied")).drop == "auto_submitted"
    assert parse(raw(Auto_Submitted="no")).drop is None
    assert parse(raw(Precedence="list")).drop == "precedence_bulk"
    assert parse(raw(X_Autoreply="yes")).drop == "auto_reply_header"
    assert parse(raw(From=f"support@{DOMAIN}")).drop == "loop_own_domain"
    assert parse(raw(X_Heed_Loop="cabc")).drop == "loop_header"
    assert parse(raw(From="MAILER-DAEMON@example.com")).drop == "bounce"


def test_message_id_date_and_missing_ids():
    parsed = parse(raw(Date="Mon, 23 Nov 2026 11:00:00 +0100"))
    assert parsed.message_id == "x1@example.com" and parsed.sent_at == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert parse(raw(Date="Tue, 24 Nov 2026 11:00:00 +0000")).sent_at == NOW  # future: when received
    no_id = raw(Message_ID="")
    assert parse(no_id).message_id.startswith("sha256-") and parse(no_id).message_id == parse(no_id).message_id


def test_email_detection_is_conservative_and_dm_only():
    rules = handoff.Rules(after_messages=8, after_characters=1500, on_email_address=True)
    assert handoff.email_address_in("mail me at Ana.B+shop@Example.co.uk please") == "ana.b+shop@example.co.uk"
    assert handoff.email_address_in("twitter @ana or a@b") is None
    assert handoff.reason_to_hand_off(rules, "dm", 1, 10, ["ana@example.com"]) == ("email_address", "ana@example.com")
    assert handoff.reason_to_hand_off(rules, "comment", 1, 10, ["ana@example.com"]) == (None, None)
    assert handoff.reason_to_hand_off(rules, "comment", 8, 10, ["hi"]) == ("messages", None)
    assert handoff.reason_to_hand_off(rules, "dm", 2, 1500, ["hi"]) == ("characters", None)
    assert handoff.notice_channel("x", "mention") is None
    assert handoff.notice_channel("instagram", "comment") == "private_reply"


def test_transcript_keeps_the_last_messages_short():
    lines, left_out = handoff.transcript([("in", "x" * 600, "t1"), ("out", "ok", "t2"), ("in", " ", "t3")],
                                         max_messages=5, max_chars=100)
    assert left_out == 0 and [line.who for line in lines] == ["customer", "us"] and len(lines[0].text) == 100


class _Policy:
    def __init__(self, name: str, target: timedelta) -> None:
        self.name, self.first_response, self.next_response = name, target, target
        self.resolution, self.warn_at, self.calendar = None, (0.5,), ALWAYS


def test_a_running_clock_carries_over_with_its_start():
    chat, email_policy = _Policy("chat", timedelta(hours=1)), _Policy("email", timedelta(hours=8))
    start = NOW - timedelta(minutes=10)
    state, _ = sla.apply(sla.Sla(), [sla.Fact("m1", "in", start)], type("P", (), {
        "matching": lambda self, priority="normal": chat, "named": lambda self, name: chat})())
    moved, events = sla.carry_over(state, email_policy, NOW)
    clock = moved.clock
    assert (clock.id, clock.kind, clock.started_at, clock.policy) == (state.clock.id, "first_response", start, "email")
    assert clock.due_at == start + timedelta(hours=8) and events[0].kind == "policy_changed"
    assert sla.carry_over(moved, email_policy, NOW) == (moved, [])  # idempotent
