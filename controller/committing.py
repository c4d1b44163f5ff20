"""Writing what the controller decided: batched transactions, guarded by leadership.

Reconcilers and the scheduling pass do not write themselves; they hand groups of operations to
the `Committer` and carry on (their caches already show the writes, see `controller.cache`).
One supervised thread packs the groups, in order, into transactions of at most 128 operations
(a group, such as a task's binding and its status, always lands in one transaction; a key
written again starts a new transaction, so the order of writes to a key is kept) and commits
each under the leader guard: a compare that the leader key is still the one this controller
created. A leader that lost its key cannot write anything.

Two lanes: *state* (bindings, task and node statuses) goes first; *records* (TaskEvents on
their TTL lease, Placement records) only when no state is waiting, and not while the
scheduling pass asks them to be held (a burst of placements: records are encoded when
written, and that would take the processor from the pass), except one chunk of records after
every `RECORDS_EVERY` chunks of state, so they are never starved. The record of a decision
never delays the decision itself.

Failures: an unreachable etcd is retried with back-off until it answers or the controller
stops; a failed guard means leadership is gone: `on_lost` is called and nothing more is
written; an expired event lease is replaced and the chunk retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.clock import Clock, SystemClock
from core.errors import GuardFailed, NotFound, ShoalError, Unavailable
from core.store import MAX_TXN_OPS, Compare, Delete, Put, Store, WriteOp
from core.supervise import Backoff, Supervised

log = logging.getLogger(__name__)

__all__ = ["CommitObserver", "Committer", "LeaseSource", "RecordValue"]

RECORDS_EVERY = 64
"""While records are held, one chunk of them still goes after this many chunks of state."""

Done = Callable[[int], None]
"""Called with the revision once a group is committed (in the committer's thread)."""


class LeaseSource(Protocol):
    def lease(self) -> int:
        """The lease records are bound to now (may grant one: called in the committer)."""
        ...

    def lost(self, lease: int) -> None:
        """`lease` was not found: do not hand it out again."""
        ...


class CommitObserver(Protocol):
    def committed(self, lane: str, ops: int, seconds: float) -> None: ...


@dataclass(slots=True)
class _Group:
    ops: Sequence[WriteOp]
    done: Done | None


RecordValue = bytes | Callable[[], bytes] | None
"""A record's value, or a function that makes it (called in the committer's thread, when the
record is written: encoding records costs more than deciding them); None deletes the key."""


@dataclass(frozen=True, slots=True)
class _Record:
    key: str
    value: RecordValue
    leased: bool

    def op(self, lease: int) -> WriteOp:
        value = self.value
        if value is None:
            return Delete(self.key)
        raw = value if isinstance(value, bytes) else value()
        return Put(self.key, raw, lease if self.leased else None)


class Committer:
    def __init__(
        self,
        store: Store,
        guard: Sequence[Compare],
        *,
        on_committed: Callable[[Sequence[str], int], None],
        on_lost: Callable[[str], None],
        leases: LeaseSource | None = None,
        clock: Clock | None = None,
        observer: CommitObserver | None = None,
        max_ops: int = MAX_TXN_OPS,
        backoff: Backoff | None = None,
    ) -> None:
        self.store = store
        self.guard = tuple(guard)
        self._on_committed = on_committed
        self._on_lost = on_lost
        self._leases = leases
        self._clock = clock or SystemClock()
        self._observer = observer
        self.max_ops = max_ops
        self._backoff = backoff or Backoff(0.1, 5.0)
        self._cond = threading.Condition()
        self._state: deque[_Group] = deque()
        self._records: deque[_Record] = deque()
        self._busy = False
        self._held = False
        self._state_chunks = 0  # chunks of state written since the last chunk of records
        self._lost = False
        self._stop = threading.Event()
        self._supervised = Supervised(
            "committer", self._run, clock=self._clock, stop_event=self._stop
        )

    # -- submitting --------------------------------------------------------------------

    def submit(self, ops: Sequence[WriteOp], done: Done | None = None) -> None:
        """Write `ops` in one transaction (state lane), after everything submitted before."""
        if not ops:
            return
        if len(ops) > self.max_ops:
            raise ValueError(f"a group holds at most {self.max_ops} operations, not {len(ops)}")
        with self._cond:
            self._state.append(_Group(ops, done))
            self._cond.notify()

    def submit_many(self, groups: Sequence[Sequence[WriteOp]], done: Sequence[Done | None]) -> None:
        """`submit` each group, in order, with its `done` (the same length)."""
        for ops in groups:
            if len(ops) > self.max_ops:
                raise ValueError(f"a group holds at most {self.max_ops} operations")
        with self._cond:
            self._state.extend(_Group(ops, d) for ops, d in zip(groups, done, strict=True) if ops)
            self._cond.notify()

    def record(self, key: str, value: RecordValue, *, leased: bool = False) -> None:
        """Write (or, with None, delete) one record key (records lane), bound to the record
        lease when `leased`."""
        with self._cond:
            self._records.append(_Record(key, value, leased))
            self._cond.notify()

    def record_many(self, records: Sequence[tuple[str, RecordValue, bool]]) -> None:
        """`record` each (key, value, leased), in order."""
        with self._cond:
            self._records.extend(_Record(key, value, leased) for key, value, leased in records)
            self._cond.notify()

    def hold_records(self, held: bool) -> None:
        """Hold the records lane back (a burst of decisions is under way), or let it go."""
        with self._cond:
            self._held = held
            if not held:
                self._cond.notify()

    def backlog(self) -> tuple[int, int]:
        """Groups of state and records waiting."""
        with self._cond:
            return len(self._state), len(self._records)

    def idle(self) -> bool:
        with self._cond:
            return not self._state and not self._records and not self._busy

    def wait_idle(self, timeout: float) -> bool:
        """Block until everything submitted is written (True) or `timeout` real seconds pass."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._state or self._records or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or self._lost:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Committer:
        self._supervised.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop writing; what is still queued is dropped (a new leader decides it again)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._supervised.stop(timeout)

    def is_alive(self) -> bool:
        return self._supervised.is_alive()

    # -- the loop ----------------------------------------------------------------------

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._cond:
                self._busy = False
                self._cond.notify_all()
                while not self._state and not self._records_due() and not stop.is_set():
                    self._cond.wait()
                if stop.is_set():
                    return
                self._busy = True
                if self._state and not (self._records and self._state_chunks >= RECORDS_EVERY):
                    chunks = self._pack_state()
                    records: list[_Record] = []
                else:
                    self._state_chunks = 0
                    chunks = []
                    records = [
                        self._records.popleft()
                        for _ in range(min(self.max_ops, len(self._records)))
                    ]
            if chunks:
                for groups in chunks:
                    if not self._commit_state(groups, stop):
                        return
            elif records and not self._commit_records(records, stop):
                return

    def _records_due(self) -> bool:
        return bool(self._records) and (not self._held or self._state_chunks >= RECORDS_EVERY)

    def _pack_state(self) -> list[list[_Group]]:
        chunks: list[list[_Group]] = []
        current: list[_Group] = []
        keys: set[str] = set()
        count = 0
        while self._state:
            group = self._state.popleft()
            group_keys = {op.key for op in group.ops}
            if current and (
                count + len(group.ops) > self.max_ops or not keys.isdisjoint(group_keys)
            ):
                chunks.append(current)
                current, keys, count = [], set(), 0
            current.append(group)
            keys |= group_keys
            count += len(group.ops)
        if current:
            chunks.append(current)
        return chunks

    def _commit_state(self, groups: list[_Group], stop: threading.Event) -> bool:
        ops = [op for group in groups for op in group.ops]
        revision = self._commit(ops, "state", stop)
        if revision is None:
            return False
        self._on_committed([op.key for op in ops], revision)
        with self._cond:
            self._state_chunks += 1
        for group in groups:
            if group.done is not None:
                group.done(revision)
        return True

    def _commit_records(self, records: list[_Record], stop: threading.Event) -> bool:
        while not stop.is_set():
            lease = 0
            if any(r.leased for r in records):
                if self._leases is None:
                    raise RuntimeError("leased records need a lease source")
                try:
                    lease = self._leases.lease()
                except Unavailable as exc:
                    self._wait_retry(stop, exc)
                    continue
            ops = [r.op(lease) for r in records]
            try:
                return self._commit(ops, "records", stop, raise_not_found=True) is not None
            except NotFound:
                log.info("record lease %x expired; granting another", lease)
                if self._leases is not None:
                    self._leases.lost(lease)
        return False

    def _commit(
        self, ops: list[WriteOp], lane: str, stop: threading.Event, *, raise_not_found: bool = False
    ) -> int | None:
        """Commit one chunk under the guard; its revision, or None when we must stop."""
        while not stop.is_set():
            started = time.perf_counter()
            try:
                result = self.store.commit_batch(ops, self.guard)
            except GuardFailed:
                self._lose("the leader key is no longer ours")
                return None
            except Unavailable as exc:
                self._wait_retry(stop, exc)
                continue
            except NotFound:
                if raise_not_found:
                    raise
                self._lose("a write was refused (not found)")
                return None
            except ShoalError as exc:
                log.error("a batch of %d writes was refused: %s", len(ops), exc)
                self._lose(f"a batch of writes was refused ({exc})")
                return None
            self._backoff.reset()
            if self._observer is not None:
                self._observer.committed(lane, len(ops), time.perf_counter() - started)
            return result.revision
        return None

    def _wait_retry(self, stop: threading.Event, exc: Exception) -> None:
        delay = self._backoff.next()
        log.warning("cannot write to etcd (%s); retrying in %.1fs", exc, delay)
        self._clock.wait(stop, delay)

    def _lose(self, why: str) -> None:
        with self._cond:
            self._lost = True
            self._state.clear()
            self._records.clear()
            self._cond.notify_all()
        log.warning("committer stopped: %s", why)
        self._on_lost(why)
