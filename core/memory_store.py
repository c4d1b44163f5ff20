"""MemoryStore: the Store contract in memory, with etcd's revision semantics, for tests.

One global revision counter bumped once per writing transaction; per key create_revision,
mod_revision and version (reset when a key is deleted and created again); a history of events
that watches replay from any revision not yet compacted (`compact`); leases whose TTLs run on
an injected Clock (expiry is applied lazily by every call, and every half second by watches,
so with a FakeClock `advance` and then any call is enough). Limits mirror etcd's defaults:
at most 128 operations per transaction, no key written twice in one.
"""

from __future__ import annotations

import bisect
import builtins
import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.batching import commit_chunks
from core.clock import Clock, SystemClock
from core.errors import AlreadyExists, Compacted, Conflict, InvalidRequest, NotFound
from core.memory_txn import TxnEngine
from core.store import (
    MAX_TXN_OPS,
    BatchResult,
    Compare,
    Delete,
    Get,
    KeyValue,
    LeaseId,
    Listing,
    Op,
    Put,
    TxnResult,
    WatchEvent,
    WatchHandler,
    WriteOp,
)
from core.watching import ResumingWatch

_WATCH_BATCH = 1000  # events handed over per on_events call, at most


@dataclass
class _Lease:
    ttl: int
    expires_at: float
    keys: set[str] = field(default_factory=set)


class MemoryStore:
    def __init__(self, clock: Clock | None = None, *, max_txn_ops: int = MAX_TXN_OPS) -> None:
        self.clock = clock or SystemClock()
        self._cond = threading.Condition(threading.RLock())
        self._engine = TxnEngine(max_txn_ops)
        self._leases: dict[int, _Lease] = {}
        self._key_lease: dict[str, int] = {}  # key -> the lease it is bound to
        self._lease_ids = itertools.count(0x5E0A1_0000)
        self._compacted = 0
        self._history: list[WatchEvent] = []
        self._history_revs: list[int] = []
        self._watches: set[MemoryWatch] = set()

    # -- reads -------------------------------------------------------------------------

    def get(self, key: str) -> KeyValue | None:
        with self._cond:
            self._expire_leases()
            return self._engine.data.get(key)

    def list(self, prefix: str) -> Listing:
        with self._cond:
            self._expire_leases()
            data = self._engine.data
            items = tuple(data[k] for k in sorted(k for k in data if k.startswith(prefix)))
            return Listing(items, self._engine.revision)

    def current_revision(self) -> int:
        with self._cond:
            self._expire_leases()
            return self._engine.revision

    # -- writes ------------------------------------------------------------------------

    def create(self, key: str, value: bytes, lease: int | None = None) -> int:
        result = self.txn([Compare.missing(key)], [Put(key, value, lease)])
        if not result.succeeded:
            raise AlreadyExists(key)
        return result.revision

    def update(
        self, key: str, value: bytes, expected_mod_revision: int, lease: int | None = None
    ) -> int:
        result = self.txn(
            [Compare.mod_revision(key, expected_mod_revision)],
            [Put(key, value, lease)],
            [Get(key)],
        )
        if not result.succeeded:
            if not result.responses[0].kvs:
                raise NotFound(key)
            raise Conflict(key)
        return result.revision

    def put(self, key: str, value: bytes, lease: int | None = None) -> int:
        return self.txn([], [Put(key, value, lease)]).revision

    def delete(self, key: str, expected_mod_revision: int | None = None) -> bool:
        if expected_mod_revision is None:
            return self.txn([], [Delete(key)]).responses[0].deleted > 0
        result = self.txn(
            [Compare.mod_revision(key, expected_mod_revision)], [Delete(key)], [Get(key)]
        )
        if result.succeeded:
            return result.responses[0].deleted > 0
        if result.responses[0].kvs:
            raise Conflict(key)
        return False

    def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise InvalidRequest("delete_prefix needs a non-empty prefix")
        return self.txn([], [Delete(prefix, prefix=True)]).responses[0].deleted

    def txn(
        self,
        compares: Sequence[Compare],
        on_success: Sequence[Op],
        on_failure: Sequence[Op] = (),
    ) -> TxnResult:
        with self._cond:
            self._expire_leases()
            self._engine.validate(compares, on_success, on_failure)
            succeeded = self._engine.evaluate(compares)
            ops = on_success if succeeded else on_failure
            for op in ops:
                if isinstance(op, Put) and op.lease and op.lease not in self._leases:
                    raise NotFound(f"lease {op.lease:x}", "requested lease not found")
            responses, events = self._engine.apply(ops)
            self._record(events)
            return TxnResult(succeeded, self._engine.revision, responses)

    def commit_batch(
        self, ops: Sequence[WriteOp], guard: Compare | Sequence[Compare] | None = None
    ) -> BatchResult:
        return commit_chunks(
            lambda compares, chunk: self.txn(compares, chunk),
            ops,
            guard,
            max_ops=self._engine.max_txn_ops,
        )

    def _record(self, events: Sequence[WatchEvent]) -> None:
        """Keep events as history for watches, and keep lease key sets up to date."""
        for event in events:
            old = self._key_lease.pop(event.key, 0)
            if old in self._leases:
                self._leases[old].keys.discard(event.key)
            kv = self._engine.data.get(event.key)
            if kv is not None and kv.lease:
                self._leases[kv.lease].keys.add(event.key)
                self._key_lease[event.key] = kv.lease
            self._history.append(event)
            self._history_revs.append(event.mod_revision)
        if events:
            self._cond.notify_all()

    # -- history -----------------------------------------------------------------------

    def compact(self, revision: int) -> None:
        with self._cond:
            if revision <= self._compacted:
                raise Compacted(self._compacted)
            if revision > self._engine.revision:
                raise InvalidRequest("mvcc: required revision is a future revision")
            cut = bisect.bisect_left(self._history_revs, revision)
            del self._history[:cut]
            del self._history_revs[:cut]
            self._compacted = revision

    def _events_since(self, start: int, prefix: str) -> tuple[Sequence[WatchEvent], int]:
        """Events under `prefix` from revision `start`, and the revision they run up to."""
        if start < self._compacted:
            raise Compacted(self._compacted)
        i = bisect.bisect_left(self._history_revs, start)
        events: builtins.list[WatchEvent] = []
        upto = self._engine.revision
        for event in self._history[i:]:
            if len(events) >= _WATCH_BATCH and event.mod_revision != events[-1].mod_revision:
                upto = events[-1].mod_revision  # never split one revision's events
                break
            if event.key.startswith(prefix):
                events.append(event)
        return events, upto

    # -- leases ------------------------------------------------------------------------

    def grant_lease(self, ttl: int) -> LeaseId:
        if ttl < 1:
            raise InvalidRequest(f"lease TTL must be at least 1 second, not {ttl}")
        with self._cond:
            self._expire_leases()
            lease_id = next(self._lease_ids)
            self._leases[lease_id] = _Lease(ttl, self.clock.monotonic() + ttl)
            return LeaseId(lease_id)

    def keep_alive(self, lease_id: int) -> int:
        with self._cond:
            lease = self._live_lease(lease_id)
            lease.expires_at = self.clock.monotonic() + lease.ttl
            return lease.ttl

    def lease_ttl(self, lease_id: int) -> int:
        with self._cond:
            lease = self._live_lease(lease_id)
            return int(lease.expires_at - self.clock.monotonic())

    def revoke_lease(self, lease_id: int) -> bool:
        with self._cond:
            self._expire_leases()
            if lease_id not in self._leases:
                return False
            self._revoke(lease_id)
            return True

    def _live_lease(self, lease_id: int) -> _Lease:
        self._expire_leases()
        lease = self._leases.get(lease_id)
        if lease is None:
            raise NotFound(f"lease {lease_id:x}", f"lease {lease_id:x} not found or expired")
        return lease

    def _revoke(self, lease_id: int) -> None:
        lease = self._leases.pop(lease_id)
        ops = [Delete(key) for key in sorted(lease.keys)]
        _, events = self._engine.apply(ops)  # all of a lease's keys go in one revision
        self._record(events)

    def _expire_leases(self) -> None:
        now = self.clock.monotonic()
        for lease_id in [i for i, lease in self._leases.items() if lease.expires_at <= now]:
            self._revoke(lease_id)

    # -- watching ----------------------------------------------------------------------

    def watch(self, prefix: str, start_revision: int | None, handler: WatchHandler) -> MemoryWatch:
        watch = MemoryWatch(self, prefix, start_revision, handler)
        with self._cond:
            self._watches.add(watch)
        watch.start()
        return watch

    def ping(self, timeout: float = 2.0) -> None:
        return None

    def close(self) -> None:
        with self._cond:
            watches = list(self._watches)
            self._watches.clear()
        for watch in watches:
            watch.stop()

    # -- for tests ---------------------------------------------------------------------

    def dump(self) -> dict[str, bytes]:
        """Every key and value, for assertions."""
        with self._cond:
            return {k: kv.value for k, kv in sorted(self._engine.data.items())}


class MemoryWatch(ResumingWatch):
    def __init__(
        self, store: MemoryStore, prefix: str, start_revision: int | None, handler: WatchHandler
    ) -> None:
        # Real time for the restart back-off after a handler error: the store's clock may be
        # a FakeClock that only the test moves (it drives leases, not this loop).
        super().__init__(prefix, start_revision, handler, store.list, clock=SystemClock())
        self._store = store

    def _stream(self, start_revision: int, stop: threading.Event) -> None:
        cond = self._store._cond
        self._connected()
        while True:
            with cond:
                while not stop.is_set() and self._store._engine.revision < self._next:
                    cond.wait(0.5)
                    self._store._expire_leases()
                if stop.is_set():
                    return
                events, upto = self._store._events_since(self._next, self.prefix)
            self._deliver(events)  # outside the lock: the handler may use the store
            self._progress(upto)

    def _interrupt(self) -> None:
        with self._store._cond:
            self._store._cond.notify_all()

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        with self._store._cond:
            self._store._watches.discard(self)
