"""The key-value state machine behind MemoryStore: etcd's transaction rules, without I/O.

Pure bookkeeping, no locking and no leases (MemoryStore does both): `validate` applies
etcd's request checks, `evaluate` its compare semantics, `apply` runs operations at the next
revision and returns the watch events they caused.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import InvalidRequest
from core.store import (
    Compare,
    CompareResult,
    CompareTarget,
    Delete,
    EventType,
    Get,
    KeyValue,
    Op,
    OpResponse,
    Put,
    WatchEvent,
)


def _compare(actual: int | bytes, result: CompareResult, operand: int | bytes) -> bool:
    if isinstance(actual, bytes) != isinstance(operand, bytes):
        raise InvalidRequest(f"cannot compare {actual!r} with {operand!r}")
    if result is CompareResult.EQUAL:
        return actual == operand
    if result is CompareResult.NOT_EQUAL:
        return actual != operand
    if result is CompareResult.LESS:
        return actual < operand  # type: ignore[operator]
    return actual > operand  # type: ignore[operator]


class TxnEngine:
    def __init__(self, max_txn_ops: int) -> None:
        self.data: dict[str, KeyValue] = {}
        self.revision = 1  # etcd's revision of an empty store
        self.max_txn_ops = max_txn_ops

    def validate(
        self, compares: Sequence[Compare], on_success: Sequence[Op], on_failure: Sequence[Op]
    ) -> None:
        for seq in (compares, on_success, on_failure):
            if len(seq) > self.max_txn_ops:
                raise InvalidRequest("etcdserver: too many operations in txn request")
        for item in [*compares, *on_success, *on_failure]:
            if not item.key:
                raise InvalidRequest("etcdserver: key is not provided")
        for ops in (on_success, on_failure):
            _check_no_duplicates(ops)

    def evaluate(self, compares: Sequence[Compare]) -> bool:
        return all(self._holds(c) for c in compares)

    def _holds(self, c: Compare) -> bool:
        kv = self.data.get(c.key)
        actual: int | bytes
        if c.target is CompareTarget.VALUE:
            if kv is None:
                return False  # as in etcd: a value compare on a missing key fails
            actual = kv.value
        elif kv is None:
            actual = 0
        elif c.target is CompareTarget.VERSION:
            actual = kv.version
        elif c.target is CompareTarget.CREATE_REVISION:
            actual = kv.create_revision
        elif c.target is CompareTarget.MOD_REVISION:
            actual = kv.mod_revision
        else:
            actual = kv.lease
        return _compare(actual, c.result, c.operand)

    def _range(self, key: str, prefix: bool) -> list[str]:
        if prefix:
            return sorted(k for k in self.data if k.startswith(key))
        return [key] if key in self.data else []

    def apply(self, ops: Sequence[Op]) -> tuple[tuple[OpResponse, ...], list[WatchEvent]]:
        """Run `ops` at the next revision; the revision moves only if something changed."""
        rev = self.revision + 1
        responses: list[OpResponse] = []
        events: list[WatchEvent] = []
        for op in ops:
            if isinstance(op, Get):
                kvs = tuple(self.data[k] for k in self._range(op.key, op.prefix))
                responses.append(OpResponse(kvs=kvs))
            elif isinstance(op, Put):
                prev = self.data.get(op.key)
                self.data[op.key] = KeyValue(
                    key=op.key,
                    value=op.value,
                    create_revision=prev.create_revision if prev else rev,
                    mod_revision=rev,
                    version=prev.version + 1 if prev else 1,
                    lease=op.lease or 0,
                )
                prev_value = prev.value if prev else None
                events.append(WatchEvent(EventType.PUT, op.key, op.value, rev, prev_value))
                responses.append(OpResponse())
            else:
                keys = self._range(op.key, op.prefix)
                for key in keys:
                    gone = self.data.pop(key)
                    events.append(WatchEvent(EventType.DELETE, key, b"", rev, gone.value))
                responses.append(OpResponse(deleted=len(keys)))
        if events:
            self.revision = rev
        return tuple(responses), events


def _check_no_duplicates(ops: Sequence[Op]) -> None:
    """etcd refuses a transaction that writes one key twice (or puts inside a deleted range)."""
    puts: set[str] = set()
    for op in ops:
        if isinstance(op, Put):
            if op.key in puts:
                raise InvalidRequest("etcdserver: duplicate key given in txn request")
            puts.add(op.key)
    for op in ops:
        if isinstance(op, Delete):
            hit = any(k.startswith(op.key) for k in puts) if op.prefix else op.key in puts
            if hit:
                raise InvalidRequest("etcdserver: duplicate key given in txn request")
