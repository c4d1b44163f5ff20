"""The committer: groups in one transaction, at most 128 operations each, order kept, every
transaction guarded by the leader key; records on their lease, behind the state."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest

from controller.committing import Committer
from controller.events import EventLease
from core.errors import Unavailable
from core.memory_store import MemoryStore
from core.store import BatchResult, Compare, Put, WriteOp
from core.supervise import Backoff
from core.testing import wait_until

LEADER = "/t/leader"


class Recorder:
    def __init__(self) -> None:
        self.committed: list[tuple[list[str], int]] = []
        self.lost: list[str] = []
        self.lock = threading.Lock()

    def on_committed(self, keys: Sequence[str], revision: int) -> None:
        with self.lock:
            self.committed.append((list(keys), revision))

    def on_lost(self, why: str) -> None:
        self.lost.append(why)


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    s = MemoryStore()
    s.put(LEADER, b"me")
    yield s
    s.close()


def committer(store: MemoryStore, recorder: Recorder, **kwargs: object) -> Committer:
    kv = store.get(LEADER)
    assert kv is not None
    c = Committer(
        store,
        [Compare.create_revision(LEADER, kv.create_revision)],
        on_committed=recorder.on_committed,
        on_lost=recorder.on_lost,
        leases=EventLease(store, 60),
        backoff=Backoff(0.01, 0.05),
        **kwargs,  # type: ignore[arg-type]
    )
    return c


def test_groups_go_whole_into_transactions_of_at_most_128_writes(store: MemoryStore) -> None:
    recorder = Recorder()
    c = committer(store, recorder)
    before = store.current_revision()
    for i in range(200):  # submitted before the committer runs: one flush
        c.submit([Put(f"/t/b/{i}", b"b"), Put(f"/t/s/{i}", b"s")])
    c.start()
    try:
        assert c.wait_idle(5)
        assert store.current_revision() - before == 4  # 400 writes, 64 groups a transaction
        for i in range(200):
            b, s = store.get(f"/t/b/{i}"), store.get(f"/t/s/{i}")
            assert b is not None and s is not None and b.mod_revision == s.mod_revision
        assert all(len(keys) <= 128 for keys, _ in recorder.committed)
        assert sum(len(keys) for keys, _ in recorder.committed) == 400
    finally:
        c.stop()


def test_writes_of_one_key_keep_their_order(store: MemoryStore) -> None:
    recorder = Recorder()
    c = committer(store, recorder)
    for i in range(5):
        c.submit([Put("/t/k", str(i).encode()), Put(f"/t/other/{i}", b"x")])
    c.start()
    try:
        assert c.wait_idle(5)
        kv = store.get("/t/k")
        assert kv is not None and kv.value == b"4" and kv.version == 5
    finally:
        c.stop()


def test_nothing_is_written_once_the_leader_key_is_not_ours(store: MemoryStore) -> None:
    recorder = Recorder()
    c = committer(store, recorder).start()
    try:
        c.submit([Put("/t/a", b"1")])
        assert c.wait_idle(5)
        store.delete(LEADER)
        store.put(LEADER, b"someone else")  # a new leader: another create revision
        c.submit([Put("/t/b", b"1")])
        wait_until(lambda: recorder.lost != [], what="the loss reported")
        c.submit([Put("/t/c", b"1")])
        assert store.get("/t/a") is not None
        assert store.get("/t/b") is None and store.get("/t/c") is None
        assert "no longer ours" in recorder.lost[0]
    finally:
        c.stop()


def test_records_are_leased_and_a_lost_lease_is_replaced(store: MemoryStore) -> None:
    recorder = Recorder()
    c = committer(store, recorder).start()
    try:
        c.record("/t/events/1", b"e1", leased=True)
        c.record("/t/placement", lambda: b"built late")
        assert c.wait_idle(5)
        first = store.get("/t/events/1")
        assert first is not None and first.lease != 0
        placement = store.get("/t/placement")
        assert placement is not None and (placement.value, placement.lease) == (b"built late", 0)
        store.revoke_lease(first.lease)  # the lease is gone (it expired)
        c.record("/t/events/2", b"e2", leased=True)
        assert c.wait_idle(5)
        second = store.get("/t/events/2")
        assert second is not None and second.lease not in (0, first.lease)
        c.record("/t/placement", None)
        assert c.wait_idle(5)
        assert store.get("/t/placement") is None
    finally:
        c.stop()


def test_records_wait_while_held_but_state_does_not(store: MemoryStore) -> None:
    recorder = Recorder()
    c = committer(store, recorder).start()
    try:
        c.hold_records(True)
        c.record("/t/events/1", b"e", leased=True)
        c.submit([Put("/t/state", b"s")])
        wait_until(lambda: store.get("/t/state") is not None, what="the state written")
        assert store.get("/t/events/1") is None
        assert not c.idle()
        c.hold_records(False)
        assert c.wait_idle(5)
        assert store.get("/t/events/1") is not None
    finally:
        c.stop()


class FlakyStore(MemoryStore):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def commit_batch(
        self, ops: Sequence[WriteOp], guard: Compare | Sequence[Compare] | None = None
    ) -> BatchResult:
        if self.failures > 0:
            self.failures -= 1
            raise Unavailable("etcd is away (test)", maybe_applied=False)
        return super().commit_batch(ops, guard)


def test_an_unreachable_etcd_is_retried_until_it_answers() -> None:
    store = FlakyStore(failures=3)
    store.put(LEADER, b"me")
    recorder = Recorder()
    c = committer(store, recorder).start()
    try:
        c.submit([Put("/t/a", b"1")])
        assert c.wait_idle(5)
        assert store.get("/t/a") is not None and store.failures == 0
        assert recorder.lost == []
    finally:
        c.stop()
        store.close()


def test_a_group_larger_than_a_transaction_is_refused(store: MemoryStore) -> None:
    c = committer(store, Recorder())
    with pytest.raises(ValueError, match="at most 128"):
        c.submit([Put(f"/t/{i}", b"x") for i in range(129)])
