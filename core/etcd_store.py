"""EtcdStore: the Store contract on a real etcd cluster, with failover and retries.

Every call is one or more attempts through `EtcdConnection` (which fails over between
endpoints). An attempt that meets `Unavailable` is repeated with capped exponential back-off
until `RetryPolicy.deadline`, then `Unavailable` (naming the endpoints) is raised, but only
where repeating is safe:

- reads, `put`, deletes, lease calls and batch chunks are idempotent: always retried;
- `create` and `update` are retried too, and a retry that then loses its compare is checked:
  if the key now holds exactly our value (and lease) the earlier attempt was ours;
- `txn` is retried only when the request certainly never reached etcd.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pyetcd import etcdrpc

from core.batching import commit_chunks
from core.clock import Clock, SystemClock
from core.errors import (
    AlreadyExists,
    Compacted,
    Conflict,
    InvalidRequest,
    NotFound,
    StoreError,
    Unavailable,
)
from core.etcd_client import EtcdConnection
from core.etcd_codec import (
    delete_request,
    kv_from_pb,
    op_response_from_pb,
    page_request,
    put_request,
    range_request,
    txn_request,
)
from core.etcd_watch import EtcdWatch
from core.settings import DEFAULT_ETCD
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
    WatchHandler,
    WriteOp,
)
from core.supervise import Backoff

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    deadline: float = 10.0  # seconds one call may take, all attempts included
    initial: float = 0.05
    maximum: float = 1.0
    factor: float = 2.0

    def backoff(self) -> Backoff:
        return Backoff(self.initial, self.maximum, self.factor)


@dataclass(frozen=True)
class EtcdStatus:
    version: str
    db_size: int
    leader: int
    member_id: int
    raft_term: int
    revision: int


class EtcdStore:
    def __init__(
        self,
        endpoints: Sequence[str] = (DEFAULT_ETCD,),
        *,
        timeout: float = 5.0,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        page_size: int = 5000,
        max_txn_ops: int = MAX_TXN_OPS,
        time_retry: float = 1.0,
    ) -> None:
        self._conn = EtcdConnection(endpoints, time_retry=time_retry)
        self.endpoints = self._conn.urls
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._clock = clock or SystemClock()
        self._page_size = page_size
        self._max_txn_ops = max_txn_ops
        self._closed = threading.Event()
        self._watches_lock = threading.Lock()
        self._watches: set[EtcdWatch] = set()

    def __repr__(self) -> str:
        return f"EtcdStore({', '.join(self.endpoints)})"

    @property
    def current_endpoint(self) -> str:
        """The endpoint in use now; another is chosen when it fails."""
        return self._conn.current

    def __enter__(self) -> EtcdStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- attempts and retries ------------------------------------------------------------

    def _retrying(
        self,
        what: str,
        attempt: Callable[[float], T],
        *,
        safe: bool = True,
        deadline: float | None = None,
    ) -> T:
        """Run `attempt(timeout)`, retrying Unavailable with back-off until the deadline.

        When not `safe`, only attempts that certainly never reached etcd are retried.
        """
        budget = self._retry.deadline if deadline is None else deadline
        started = self._clock.monotonic()
        backoff = self._retry.backoff()
        attempts = 0
        maybe_applied = False
        while True:
            attempts += 1
            left = started + budget - self._clock.monotonic()
            try:
                return attempt(max(0.05, min(self._timeout, left)))
            except Unavailable as exc:
                if not safe and exc.maybe_applied:
                    raise
                maybe_applied = maybe_applied or exc.maybe_applied
                left = started + budget - self._clock.monotonic()
                if left <= 0 or self._closed.is_set():
                    elapsed = self._clock.monotonic() - started
                    raise Unavailable(
                        f"{what} gave up after {attempts} attempt(s) in {elapsed:.1f}s: "
                        f"{exc.reason}",
                        endpoints=self.endpoints,
                        maybe_applied=maybe_applied,
                    ) from None
                delay = min(backoff.next(), left)
                log.debug("%s: %s; retrying in %.2fs", what, exc.reason, delay)
                self._clock.wait(self._closed, delay)

    def _kv(self, method: str, request: Any, timeout: float, key: str = "") -> Any:
        """One attempt at a KV call."""
        return self._conn.unary("kv", method, request, timeout, key)

    def _txn_once(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op], t: float
    ) -> TxnResult:
        request = txn_request(list(compares), list(success), list(failure))
        response = self._kv("Txn", request, t)
        return TxnResult(
            succeeded=bool(response.succeeded),
            revision=int(response.header.revision),
            responses=tuple(op_response_from_pb(r) for r in response.responses),
        )

    # -- reads -------------------------------------------------------------------------

    def get(self, key: str) -> KeyValue | None:
        response = self._retrying("get", lambda t: self._kv("Range", range_request(key), t))
        return kv_from_pb(response.kvs[0]) if response.kvs else None

    def list(self, prefix: str) -> Listing:
        for _ in range(3):
            try:
                return self._list_at_one_revision(prefix)
            except Compacted:  # the revision of the first page was compacted meanwhile
                log.info("list %s: compacted while paging; starting over", prefix)
        return self._list_at_one_revision(prefix)

    def _list_at_one_revision(self, prefix: str) -> Listing:
        items: list[KeyValue] = []
        revision = 0
        start = prefix or "\0"
        while True:
            request = page_request(prefix, start, self._page_size, revision)
            response = self._retrying("list", functools.partial(self._kv, "Range", request))
            if revision == 0:
                revision = int(response.header.revision)
            items.extend(kv_from_pb(kv) for kv in response.kvs)
            if not response.more or not response.kvs:
                return Listing(tuple(items), revision)
            start = items[-1].key + "\0"

    def current_revision(self) -> int:
        request = range_request("/", count_only=True)
        return int(
            self._retrying("revision", lambda t: self._kv("Range", request, t)).header.revision
        )

    # -- writes ------------------------------------------------------------------------

    def put(self, key: str, value: bytes, lease: int | None = None) -> int:
        request = put_request(key, value, lease)
        response = self._retrying("put", lambda t: self._kv("Put", request, t, key))
        return int(response.header.revision)

    def _checked_write(
        self, what: str, key: str, compare: Compare, put: Put
    ) -> tuple[TxnResult, bool]:
        """A compare-then-put, retried; also says whether an earlier attempt may have landed."""
        ambiguous = False

        def attempt(t: float) -> TxnResult:
            nonlocal ambiguous
            try:
                return self._txn_once([compare], [put], [Get(key)], t)
            except Unavailable as exc:
                ambiguous = ambiguous or exc.maybe_applied
                raise

        return self._retrying(what, attempt), ambiguous

    def create(self, key: str, value: bytes, lease: int | None = None) -> int:
        result, ambiguous = self._checked_write(
            "create", key, Compare.missing(key), Put(key, value, lease)
        )
        if result.succeeded:
            return result.revision
        now = result.responses[0].kvs
        if (
            ambiguous
            and now
            and (now[0].value, now[0].lease, now[0].version)
            == (
                value,
                lease or 0,
                1,
            )
        ):
            return now[0].mod_revision  # our own earlier attempt created it
        raise AlreadyExists(key)

    def update(
        self, key: str, value: bytes, expected_mod_revision: int, lease: int | None = None
    ) -> int:
        result, ambiguous = self._checked_write(
            "update", key, Compare.mod_revision(key, expected_mod_revision), Put(key, value, lease)
        )
        if result.succeeded:
            return result.revision
        now = result.responses[0].kvs
        if not now:
            raise NotFound(key)
        kv = now[0]
        if (
            ambiguous
            and kv.mod_revision > expected_mod_revision
            and (kv.value, kv.lease)
            == (
                value,
                lease or 0,
            )
        ):
            return kv.mod_revision  # our own earlier attempt wrote it
        raise Conflict(key)

    def delete(self, key: str, expected_mod_revision: int | None = None) -> bool:
        if expected_mod_revision is None:
            request = delete_request(key, prefix=False)
            response = self._retrying("delete", lambda t: self._kv("DeleteRange", request, t))
            return int(response.deleted) > 0
        compare = Compare.mod_revision(key, expected_mod_revision)
        result = self._retrying(
            "delete", lambda t: self._txn_once([compare], [Delete(key)], [Get(key)], t)
        )
        if result.succeeded:
            return result.responses[0].deleted > 0
        if result.responses[0].kvs:
            raise Conflict(key)
        return False

    def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise InvalidRequest("delete_prefix needs a non-empty prefix")
        request = delete_request(prefix, prefix=True)
        response = self._retrying("delete_prefix", lambda t: self._kv("DeleteRange", request, t))
        return int(response.deleted)

    def txn(
        self,
        compares: Sequence[Compare],
        on_success: Sequence[Op],
        on_failure: Sequence[Op] = (),
    ) -> TxnResult:
        return self._retrying(
            "txn", lambda t: self._txn_once(compares, on_success, on_failure, t), safe=False
        )

    def commit_batch(
        self, ops: Sequence[WriteOp], guard: Compare | Sequence[Compare] | None = None
    ) -> BatchResult:
        def run_chunk(compares: Sequence[Compare], chunk: Sequence[WriteOp]) -> TxnResult:
            # Repeating a chunk of puts/deletes is harmless, unless the guard looks at a key
            # the chunk itself writes (a repeat would then see its own write and fail).
            safe = not {c.key for c in compares} & {op.key for op in chunk}
            return self._retrying(
                "batch", lambda t: self._txn_once(compares, chunk, (), t), safe=safe
            )

        return commit_chunks(run_chunk, ops, guard, max_ops=self._max_txn_ops)

    def compact(self, revision: int) -> None:
        request = etcdrpc.CompactionRequest(revision=revision, physical=False)
        self._retrying("compact", lambda t: self._kv("Compact", request, t))

    # -- leases ------------------------------------------------------------------------

    def grant_lease(self, ttl: int) -> LeaseId:
        request = etcdrpc.LeaseGrantRequest(TTL=ttl)
        response = self._retrying(
            "grant_lease", lambda t: self._conn.unary("lease", "LeaseGrant", request, t)
        )
        if response.error:
            raise StoreError(f"lease grant failed: {response.error}")
        return LeaseId(int(response.ID))

    def keep_alive(self, lease_id: int) -> int:
        return self._retrying("keep_alive", lambda t: self._conn.keep_alive(lease_id, t))

    def revoke_lease(self, lease_id: int) -> bool:
        request = etcdrpc.LeaseRevokeRequest(ID=lease_id)
        try:
            self._retrying(
                "revoke_lease",
                lambda t: self._conn.unary(
                    "lease", "LeaseRevoke", request, t, f"lease {lease_id:x}"
                ),
            )
        except NotFound:
            return False
        return True

    def lease_ttl(self, lease_id: int) -> int:
        request = etcdrpc.LeaseTimeToLiveRequest(ID=lease_id)
        response = self._retrying(
            "lease_ttl", lambda t: self._conn.unary("lease", "LeaseTimeToLive", request, t)
        )
        if response.TTL < 0:
            raise NotFound(f"lease {lease_id:x}", f"lease {lease_id:x} not found or expired")
        return int(response.TTL)

    # -- watching ----------------------------------------------------------------------

    def watch(self, prefix: str, start_revision: int | None, handler: WatchHandler) -> EtcdWatch:
        watch = EtcdWatch(self._conn, prefix, start_revision, handler, self.list, clock=self._clock)
        with self._watches_lock:
            self._watches = {w for w in self._watches if w.is_alive()}
            self._watches.add(watch)
        watch.start()
        return watch

    # -- health ------------------------------------------------------------------------

    def status(self, timeout: float = 2.0) -> EtcdStatus:
        """The answering member's status; Unavailable within about `timeout` seconds."""
        request = etcdrpc.StatusRequest()
        response = self._retrying(
            "status",
            lambda t: self._conn.unary("maintenance", "Status", request, t),
            deadline=timeout,
        )
        return EtcdStatus(
            version=str(response.version),
            db_size=int(response.dbSize),
            leader=int(response.leader),
            member_id=int(response.header.member_id),
            raft_term=int(response.raftTerm),
            revision=int(response.header.revision),
        )

    def ping(self, timeout: float = 2.0) -> None:
        self.status(timeout)

    def close(self) -> None:
        self._closed.set()
        with self._watches_lock:
            watches = list(self._watches)
            self._watches.clear()
        for watch in watches:
            watch.stop()
        self._conn.close()
