"""Threading messages into conversations: pure domain, no AWS."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.domain.conversations import ThreadRef, conversation_id, thread
from functions.domain.message import Message, iso_utc

T0 = datetime(2026, 11, 20, 16, 20, tzinfo=UTC)


def msg(pid: str, channel: str = "dm", direction: str = "in", customer: str | None = "cust-1",
        root: str | None = None, reply_to: str | None = None, platform: str = "facebook", minutes: int = 0,
        account: str = "page-1") -> Message:
    return Message(platform=platform, channel=channel, account_id=account, platform_message_id=pid,
                   direction=direction, sent_at=T0 + timedelta(minutes=minutes), text="t", raw={},
                   customer_id=customer, root_id=root, reply_to=reply_to)


def no_lookup(platform, account, ids):
    raise AssertionError(f"unexpected lookup of {ids}")


def test_ids_are_deterministic_short_and_distinct():
    a = conversation_id("facebook", "page-1", "cust-1", None)
    assert a == conversation_id("facebook", "page-1", "cust-1", None)
    assert len(a) == 25 and a.startswith("c") and a.isalnum()
    others = {conversation_id("instagram", "page-1", "cust-1", None),
              conversation_id("facebook", "page-2", "cust-1", None),
              conversation_id("facebook", "page-1", "cust-2", None),
              conversation_id("facebook", "page-1", "cust-1", "post-1")}
    assert a not in others and len(others) == 4


def test_dms_group_by_customer_without_lookups():
    threaded, orphans = thread([msg("m1"), msg("m2", minutes=1), msg("m3", customer="cust-2")], no_lookup)
    assert orphans == []
    assert len({t.conversation_id for t in threaded}) == 2


def test_comments_group_by_customer_and_root_post():
    threaded, _ = thread([msg("c1", "comment", root="post-1"), msg("c2", "comment", root="post-2"),
                          msg("c3", "comment", root="post-1", minutes=1)], no_lookup)
    ids = {t.message.platform_message_id: t.conversation_id for t in threaded}
    assert ids["c1"] == ids["c3"] != ids["c2"]


def test_brand_reply_in_same_delivery_joins_the_customers_thread():
    customer = msg("c1", "comment", root="post-1")
    brand = msg("c2", "comment", direction="out", customer=None, root="post-1", reply_to="c1", minutes=2)
    threaded, orphans = thread([brand, customer], no_lookup)  # order in the delivery doesn't matter
    assert orphans == []
    assert threaded[0].conversation_id == threaded[1].conversation_id
    assert {t.customer_id for t in threaded} == {"cust-1"}


def test_brand_reply_to_a_stored_comment_is_found_through_the_lookup():
    stored = ThreadRef(conversation_id("facebook", "page-1", "cust-9", "post-1"), "cust-9", "post-1")
    calls = []

    def lookup(platform, account, ids):
        calls.append((platform, account, ids))
        return {"c-old": stored}

    brand = msg("c2", "comment", direction="out", customer=None, root="post-1", reply_to="c-old")
    [placed], orphans = thread([brand], lookup)
    assert calls == [("facebook", "page-1", ["c-old"])]
    assert (placed.conversation_id, placed.customer_id, orphans) == (stored.conversation_id, "cust-9", [])


def test_x_reply_chain_keeps_the_root_of_the_first_tweet():
    root_ref = ThreadRef(conversation_id("x", "brand", "555", "t1"), "555", "t1")
    follow = msg("t3", "mention", customer="555", root="t2", reply_to="t2", platform="x", account="brand")
    [placed], _ = thread([follow], lambda *_: {"t2": root_ref})
    assert placed.conversation_id == root_ref.conversation_id


def test_brand_messages_without_a_customer_thread_are_orphans():
    top_level = msg("c9", "comment", direction="out", customer=None, root="post-1")
    unknown_parent = msg("c8", "comment", direction="out", customer=None, root="post-1", reply_to="gone")
    threaded, orphans = thread([top_level, unknown_parent], lambda *_: {})
    assert (threaded, orphans) == ([], [top_level, unknown_parent])


def test_iso_utc_is_fixed_width_with_z():
    assert iso_utc(T0) == "2026-11-20T16:20:00.000Z"
    assert iso_utc(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00.000Z"
