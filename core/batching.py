"""Writing many keys: split a batch into transactions etcd accepts, and apply them in order.

etcd refuses a transaction with more than `--max-txn-ops` operations (128 by default), one
that names the same key twice, and one larger than `--max-request-bytes` (1.5 MiB by
default). `plan_chunks` is the pure part (what goes into which transaction); `commit_chunks`
applies the plan through a store's transaction function, each chunk under the same guard.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.errors import GuardFailed, InvalidRequest
from core.store import MAX_TXN_OPS, BatchResult, Compare, Delete, Get, Put, TxnResult, WriteOp

MAX_TXN_BYTES = 1 << 20  # comfortably under etcd's default 1.5 MiB request limit
_OP_OVERHEAD = 16  # protobuf framing per operation, roughly

RunChunk = Callable[[Sequence[Compare], Sequence[WriteOp]], TxnResult]


def _size(op: WriteOp) -> int:
    value = len(op.value) if isinstance(op, Put) else 0
    return len(op.key.encode()) + value + _OP_OVERHEAD


def plan_chunks(
    ops: Sequence[WriteOp], max_ops: int = MAX_TXN_OPS, max_bytes: int = MAX_TXN_BYTES
) -> list[list[WriteOp]]:
    """Group `ops`, in order, into chunks etcd accepts as single transactions.

    A chunk closes when it is full (ops or bytes), when a key repeats, and around a prefix
    delete (which gets a chunk of its own, since it could overlap any other key).
    """
    if max_ops < 1:
        raise InvalidRequest("max_ops must be at least 1")
    chunks: list[list[WriteOp]] = []
    current: list[WriteOp] = []
    keys: set[str] = set()
    size = 0
    after_solo = False  # the current chunk is a prefix delete, which stays alone
    for op in ops:
        if isinstance(op, Get):  # a batch writes; reads belong in txn()
            raise InvalidRequest("commit_batch takes Put and Delete operations only")
        op_size = _size(op)
        solo = isinstance(op, Delete) and op.prefix
        full = len(current) >= max_ops or size + op_size > max_bytes
        if current and (full or solo or after_solo or op.key in keys):
            chunks.append(current)
            current, keys, size = [], set(), 0
        current.append(op)
        keys.add(op.key)
        size += op_size
        after_solo = solo
    if current:
        chunks.append(current)
    return chunks


def normalise_guard(guard: Compare | Sequence[Compare] | None) -> tuple[Compare, ...]:
    if guard is None:
        return ()
    if isinstance(guard, Compare):
        return (guard,)
    compares = tuple(guard)
    if len(compares) > MAX_TXN_OPS:
        raise InvalidRequest(f"a guard may hold at most {MAX_TXN_OPS} compares")
    return compares


def commit_chunks(
    run_chunk: RunChunk,
    ops: Sequence[WriteOp],
    guard: Compare | Sequence[Compare] | None = None,
    max_ops: int = MAX_TXN_OPS,
) -> BatchResult:
    """Apply `ops` chunk by chunk; GuardFailed as soon as a chunk's guard does not hold."""
    compares = normalise_guard(guard)
    written = 0
    revisions: list[int] = []
    for chunk in plan_chunks(ops, max_ops=max_ops):
        result = run_chunk(compares, chunk)
        if not result.succeeded:
            raise GuardFailed(compares[0].key if compares else "", written)
        written += len(chunk)
        revisions.append(result.revision)
    return BatchResult(written, tuple(revisions))
