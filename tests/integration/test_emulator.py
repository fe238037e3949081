"""The local emulator's transactions (local/emulator.py) behave like DynamoDB's.

The emulator saves only the items a transaction touches and restores them in
place when it is cancelled, and honours client request tokens; these tests pin
what that must leave behind.
"""
from __future__ import annotations

import boto3
import pytest


@pytest.fixture
def ddb(stack_env):
    return boto3.client("dynamodb"), stack_env["table"]


def _stream_records(ddb_client, table: str, iterator_type: str = "TRIM_HORIZON") -> tuple[str, list]:
    streams = boto3.client("dynamodbstreams")
    arn = ddb_client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=iterator_type)
    return iterator["ShardIterator"], streams


def _item(pk: str, **attrs: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": "X"}, **{k: {"S": v} for k, v in attrs.items()}}


def test_a_cancelled_transaction_leaves_no_trace_and_stream_readers_keep_reading(ddb):
    client, table = ddb
    client.put_item(TableName=table, Item=_item("EMU#kept", state="before"))
    client.put_item(TableName=table, Item=_item("EMU#other", state="untouched"))
    iterator, streams = _stream_records(client, table, "LATEST")

    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": _item("EMU#new", state="new")}},
            {"Update": {"TableName": table, "Key": _item("EMU#kept"), "UpdateExpression": "SET #s = :s",
                        "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": {":s": {"S": "changed"}}}},
            {"Put": {"TableName": table, "Item": _item("EMU#other", state="clobbered"),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ])

    get = lambda pk: client.get_item(TableName=table, Key=_item(pk), ConsistentRead=True).get("Item")  # noqa: E731
    assert get("EMU#new") is None
    assert get("EMU#kept")["state"] == {"S": "before"}
    assert get("EMU#other")["state"] == {"S": "untouched"}
    page = streams.get_records(ShardIterator=iterator)
    assert page["Records"] == []  # the cancelled writes never reach the stream

    client.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": _item("EMU#after", state="ok")}}])
    records = streams.get_records(ShardIterator=page["NextShardIterator"])["Records"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["EMU#after"]  # the old iterator still reads


def test_a_committed_transaction_applies_every_action(ddb):
    client, table = ddb
    client.put_item(TableName=table, Item=_item("EMU#a", n="1"))
    client.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": _item("EMU#b", n="2"), "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Delete": {"TableName": table, "Key": _item("EMU#a")}},
    ])
    assert "Item" not in client.get_item(TableName=table, Key=_item("EMU#a"))
    assert client.get_item(TableName=table, Key=_item("EMU#b"))["Item"]["n"] == {"S": "2"}


def _count_up(table: str, pk: str) -> dict:
    return {"Update": {"TableName": table, "Key": _item(pk), "UpdateExpression": "ADD n :one",
                       "ExpressionAttributeValues": {":one": {"N": "1"}}}}


def test_a_repeated_client_request_token_changes_nothing_and_answers_success(ddb):
    client, table = ddb
    once = [_count_up(table, "EMU#counter"),
            {"Put": {"TableName": table, "Item": _item("EMU#new"), "ConditionExpression": "attribute_not_exists(pk)"}}]
    client.transact_write_items(TransactItems=once, ClientRequestToken="token-1")
    client.transact_write_items(TransactItems=once, ClientRequestToken="token-1")  # no condition failure
    assert client.get_item(TableName=table, Key=_item("EMU#counter"))["Item"]["n"] == {"N": "1"}

    with pytest.raises(client.exceptions.IdempotentParameterMismatchException):
        client.transact_write_items(TransactItems=[_count_up(table, "EMU#other")], ClientRequestToken="token-1")
    assert "Item" not in client.get_item(TableName=table, Key=_item("EMU#other"))

    client.transact_write_items(TransactItems=[_count_up(table, "EMU#counter")], ClientRequestToken="token-2")
    assert client.get_item(TableName=table, Key=_item("EMU#counter"))["Item"]["n"] == {"N": "2"}


def test_a_cancelled_transaction_does_not_keep_its_token(ddb):
    client, table = ddb
    client.put_item(TableName=table, Item=_item("EMU#taken"))
    guarded = [_count_up(table, "EMU#counter"), {"Put": {"TableName": table, "Item": _item("EMU#taken"),
                                                         "ConditionExpression": "attribute_not_exists(pk)"}}]
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(TransactItems=guarded, ClientRequestToken="token-3")
    client.delete_item(TableName=table, Key=_item("EMU#taken"))
    client.transact_write_items(TransactItems=guarded, ClientRequestToken="token-3")  # applied this time
    assert client.get_item(TableName=table, Key=_item("EMU#counter"))["Item"]["n"] == {"N": "1"}


def test_a_token_is_forgotten_after_its_window(ddb, monkeypatch):
    from local import emulator

    client, table = ddb
    monkeypatch.setattr(emulator, "TOKEN_SECONDS", -1.0)  # every token already past its window when checked
    client.transact_write_items(TransactItems=[_count_up(table, "EMU#counter")], ClientRequestToken="token-4")
    client.transact_write_items(TransactItems=[_count_up(table, "EMU#counter")], ClientRequestToken="token-4")
    assert client.get_item(TableName=table, Key=_item("EMU#counter"))["Item"]["n"] == {"N": "2"}  # applied again
