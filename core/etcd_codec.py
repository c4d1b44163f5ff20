"""Converting between the Store's types and etcd's protobuf messages (pyetcd's etcdrpc).

Keys are UTF-8 strings on our side and bytes on etcd's; a key that is not valid UTF-8
(written by someone else) survives the round trip through `surrogateescape`.
"""

from __future__ import annotations

from typing import Any

from pyetcd import etcdrpc
from pyetcd.utils import prefix_range_end

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

_RESULTS = {
    CompareResult.EQUAL: etcdrpc.Compare.EQUAL,
    CompareResult.NOT_EQUAL: etcdrpc.Compare.NOT_EQUAL,
    CompareResult.LESS: etcdrpc.Compare.LESS,
    CompareResult.GREATER: etcdrpc.Compare.GREATER,
}
_TARGETS = {
    CompareTarget.VERSION: (etcdrpc.Compare.VERSION, "version"),
    CompareTarget.CREATE_REVISION: (etcdrpc.Compare.CREATE, "create_revision"),
    CompareTarget.MOD_REVISION: (etcdrpc.Compare.MOD, "mod_revision"),
    CompareTarget.VALUE: (etcdrpc.Compare.VALUE, "value"),
    CompareTarget.LEASE: (etcdrpc.Compare.LEASE, "lease"),
}
_DELETE_EVENT = 1  # mvccpb.Event.DELETE


def encode_key(key: str) -> bytes:
    return key.encode("utf-8", "surrogateescape")


def decode_key(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def key_range(key: str, prefix: bool) -> tuple[bytes, bytes | None]:
    """(key, range_end) for etcd: one key, or every key starting with `key`."""
    raw = encode_key(key)
    if not prefix:
        return raw, None
    if not raw:
        return b"\0", b"\0"  # the whole keyspace
    return raw, prefix_range_end(raw)


def kv_from_pb(kv: Any) -> KeyValue:
    return KeyValue(
        key=decode_key(kv.key),
        value=bytes(kv.value),
        create_revision=int(kv.create_revision),
        mod_revision=int(kv.mod_revision),
        version=int(kv.version),
        lease=int(kv.lease),
    )


def event_from_pb(event: Any) -> WatchEvent:
    kv = event.kv
    deleted = event.type == _DELETE_EVENT
    prev = bytes(event.prev_kv.value) if event.HasField("prev_kv") else None
    return WatchEvent(
        type=EventType.DELETE if deleted else EventType.PUT,
        key=decode_key(kv.key),
        value=b"" if deleted else bytes(kv.value),
        mod_revision=int(kv.mod_revision),
        prev_value=prev,
    )


def range_request(
    key: str, *, prefix: bool = False, limit: int = 0, revision: int = 0, count_only: bool = False
) -> Any:
    start, end = key_range(key, prefix)
    request = etcdrpc.RangeRequest(key=start, limit=limit, revision=revision, count_only=count_only)
    if end is not None:
        request.range_end = end
    return request


def page_request(prefix: str, start: str, limit: int, revision: int) -> Any:
    """One page of a listing: keys under `prefix` from `start` on, at `revision` (0: now)."""
    request = range_request(prefix, prefix=True, limit=limit, revision=revision)
    request.key = encode_key(start)
    return request


def put_request(key: str, value: bytes, lease: int | None) -> Any:
    return etcdrpc.PutRequest(key=encode_key(key), value=value, lease=lease or 0)


def delete_request(key: str, prefix: bool) -> Any:
    start, end = key_range(key, prefix)
    request = etcdrpc.DeleteRangeRequest(key=start)
    if end is not None:
        request.range_end = end
    return request


def compare_to_pb(compare: Compare) -> Any:
    target, field = _TARGETS[compare.target]
    message = etcdrpc.Compare(
        key=encode_key(compare.key), target=target, result=_RESULTS[compare.result]
    )
    setattr(message, field, compare.operand)
    return message


def op_to_pb(op: Op) -> Any:
    if isinstance(op, Put):
        return etcdrpc.RequestOp(request_put=put_request(op.key, op.value, op.lease))
    if isinstance(op, Delete):
        return etcdrpc.RequestOp(request_delete_range=delete_request(op.key, op.prefix))
    if isinstance(op, Get):
        return etcdrpc.RequestOp(request_range=range_request(op.key, prefix=op.prefix))
    raise TypeError(f"not a transaction operation: {op!r}")


def txn_request(compares: list[Compare], success: list[Op], failure: list[Op]) -> Any:
    return etcdrpc.TxnRequest(
        compare=[compare_to_pb(c) for c in compares],
        success=[op_to_pb(op) for op in success],
        failure=[op_to_pb(op) for op in failure],
    )


def op_response_from_pb(response: Any) -> OpResponse:
    kind = response.WhichOneof("response")
    if kind == "response_range":
        return OpResponse(kvs=tuple(kv_from_pb(kv) for kv in response.response_range.kvs))
    if kind == "response_delete_range":
        return OpResponse(deleted=int(response.response_delete_range.deleted))
    return OpResponse()


def watch_create_request(prefix: str, start_revision: int) -> Any:
    start, end = key_range(prefix, True)
    # No progress_notify: etcd before 3.4.24/3.5.8 could send a progress revision ahead of
    # events still queued for the watcher (etcd#15220), which would skip those events here.
    create = etcdrpc.WatchCreateRequest(key=start, start_revision=start_revision, prev_kv=True)
    if end is not None:
        create.range_end = end
    return etcdrpc.WatchRequest(create_request=create)
