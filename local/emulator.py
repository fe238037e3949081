"""moto in server mode, adjusted to behave like DynamoDB where Heed depends on it.

The adjustments:

* moto's server handles requests on many threads without isolating them, so two
  concurrent ``TransactWriteItems`` can both pass a condition that real DynamoDB
  (serializable transactions) lets only one pass. Requests are serialized here.
* moto 5.2 snapshots the *whole table* with ``copy.deepcopy`` once per action of
  every transaction, to roll back on failure: a 100-action transaction on a
  10,000-item table copies a million items. Here only the items the
  transaction touches are saved, and restored in place if it fails: the same
  observable behaviour at a cost that doesn't grow with the table. (Copying
  even just the item containers, an earlier version, made every transaction
  O(table): half the emulator's time at 10,000 deliveries. moto's own deep copy
  also replaced the stream shard on rollback, stranding every open stream
  iterator on the old shard; here the shard stays and is trimmed.)
* every moto model instance is appended to a class-level list for moto's
  ``/moto-api/data.json`` and never dropped until a reset. For DynamoDB that is
  every item copy a query or a transaction's snapshot ever made, so memory grew
  with requests x table size (about 1 GB per 30 s under the reliability load).
  DynamoDB's models are not tracked here; nothing reads them from data.json
  (SMS, SQS and SES still are).
* moto ignores ``TransactWriteItems``' ``ClientRequestToken``, which botocore
  fills in once per call and repeats on its own retries. DynamoDB answers a
  repeat of a committed transaction with success and changes nothing; moto
  applied it again, so a transaction whose answer was lost (a read timeout
  under load) came back from the retry as "condition failed": Heed stored the
  message once but counted it as a duplicate. Tokens are honoured here for
  DynamoDB's 10 minutes, and a token reused with other parameters is refused
  with ``IdempotentParameterMismatchException``, as DynamoDB does.

Run standalone: ``python -m local.emulator --port 4566``.
"""
from __future__ import annotations

import argparse
import contextvars
import copy
import hashlib
import logging
import threading
import time
from typing import Any, Callable, Iterable

from moto.core.common_models import BaseModel
from moto.core.responses import ActionResult
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.exceptions import DynamodbException
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

# The transaction being applied: its actions, and per table the touched hash keys' saved containers.
_transaction: contextvars.ContextVar[tuple[list[dict], dict[int, dict]] | None] = contextvars.ContextVar(
    "heed_moto_transaction", default=None
)
_ABSENT = object()  # a hash key the table did not hold before the transaction


def _touched_hash_keys(table: Table, actions: list[dict]) -> set[DynamoType]:
    keys = set()
    for action in actions:
        (op,) = action.values()
        if op.get("TableName") != table.name:
            continue
        attrs = op.get("Item") or op.get("Key") or {}
        if table.hash_key_attr in attrs:
            keys.add(DynamoType(attrs[table.hash_key_attr]))
    return keys


def _save_touched(table: Table, actions: list[dict]) -> dict:
    """Deep copies of the item containers the transaction can change: all a rollback needs."""
    return {key: copy.deepcopy(table.items[key]) if key in table.items else _ABSENT
            for key in _touched_hash_keys(table, actions)}


class _CopyForTransactions:
    """Stands in for the ``copy`` module inside moto's DynamoDB models.

    moto "snapshots" a table by deep-copying it and, on failure, puts the copy
    back. Here the snapshot is the live table itself (so putting it back is a
    no-op) and the touched items are saved aside, restored by
    ``transact_write_items`` below when the transaction fails.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(obj: Any, memo: Any = None) -> Any:
        state = _transaction.get()
        if state is None or not isinstance(obj, Table):
            return copy.deepcopy(obj, memo)
        actions, saved = state
        saved.setdefault(id(obj), (obj, _save_touched(obj, actions)))
        return obj


def _install_cheap_rollback() -> None:
    backend = dynamodb_models.DynamoDBBackend
    if getattr(backend.transact_write_items, "heed_patched", False):
        return
    original = backend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict]) -> None:
        saved: dict[int, tuple[Table, dict]] = {}
        token = _transaction.set((transact_items, saved))
        # Stream records of a cancelled transaction must vanish, but the shard object must stay the
        # one stream readers hold their iterators on: remember its length, trim it back on failure.
        shards = [(t.stream_shard, len(t.stream_shard.items)) for t in self.tables.values()
                  if t.stream_shard is not None]
        try:
            return original(self, transact_items)
        except Exception:
            for table, items in saved.values():
                for key, container in items.items():
                    if container is _ABSENT:
                        table.items.pop(key, None)
                    else:
                        table.items[key] = container
            for shard, length in shards:
                del shard.items[length:]
            raise
        finally:
            _transaction.reset(token)

    transact_write_items.heed_patched = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items
    dynamodb_models.copy = _CopyForTransactions()  # type: ignore[assignment]


_install_cheap_rollback()


def _untrack_dynamodb_models() -> None:
    if getattr(BaseModel.__new__, "heed_patched", False):
        return

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:
        instance = object.__new__(cls)
        if not cls.__module__.startswith("moto.dynamodb"):
            cls.instances_tracked.append(instance)  # type: ignore[attr-defined]
        return instance

    new.heed_patched = True  # type: ignore[attr-defined]
    BaseModel.__new__ = staticmethod(new)  # type: ignore[assignment]


_untrack_dynamodb_models()

TOKEN_SECONDS = 600  # DynamoDB's idempotency window for a client request token


class IdempotentParameterMismatch(DynamodbException):
    def __init__(self) -> None:
        super().__init__("IdempotentParameterMismatchException",
                         "The request uses the same client token as a previous, but non-identical request.")


def _honour_client_request_tokens() -> None:
    if getattr(DynamoHandler.transact_write_items, "heed_patched", False):
        return
    original = DynamoHandler.transact_write_items

    def transact_write_items(self: Any) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        # On the backend, so moto's reset forgets them with the tables.
        tokens: dict[str, tuple[str, float]] = self.dynamodb_backend.__dict__.setdefault("heed_tokens", {})
        now = time.monotonic()
        while tokens:  # kept in expiry order (each expires TOKEN_SECONDS after it came): drop from the front
            oldest = next(iter(tokens))
            if tokens[oldest][1] >= now:
                break
            del tokens[oldest]
        raw = self.raw_body if isinstance(self.raw_body, bytes) else str(self.raw_body).encode()
        fingerprint = hashlib.sha256(raw).hexdigest()  # botocore's retry sends the very same body
        if token in tokens:
            if tokens[token][0] != fingerprint:
                raise IdempotentParameterMismatch()
            return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})  # applied before
        answer = original(self)  # raises when cancelled: only a committed transaction holds its token
        tokens[token] = (fingerprint, now + TOKEN_SECONDS)
        return answer

    transact_write_items.heed_patched = True  # type: ignore[attr-defined]
    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]


_honour_client_request_tokens()


def serialized(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    """A WSGI app that runs ``app`` for one request at a time, response body included."""
    lock = threading.Lock()

    def wrapper(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            return list(app(environ, start_response))

    return wrapper


class SerializedMotoServer(ThreadedMotoServer):
    """moto's threaded server (accepts concurrently) that applies requests one at a time."""

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        super().start()

    def _server_entry(self) -> None:
        app = serialized(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    args = parser.parse_args()
    server = SerializedMotoServer(args.host, args.port, verbose=False)
    server.start()
    server._thread.join()  # serve until the process is stopped


if __name__ == "__main__":
    main()
