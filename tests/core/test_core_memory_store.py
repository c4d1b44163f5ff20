"""What only the in-memory store has: a FakeClock driving leases, compaction by hand, dump()."""

from __future__ import annotations

import pytest

from core.clock import FakeClock
from core.errors import Compacted, InvalidRequest, NotFound
from core.memory_store import MemoryStore
from core.store import EventType, Put
from core.testing import RecordingHandler


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock)


def test_an_empty_store_is_at_revision_one(store: MemoryStore) -> None:
    assert store.current_revision() == 1
    assert store.put("/a", b"x") == 2


def test_reads_do_not_move_the_revision(store: MemoryStore) -> None:
    store.put("/a", b"x")
    before = store.current_revision()
    store.get("/a")
    store.list("/")
    store.delete("/missing")
    store.txn([], [])
    assert store.current_revision() == before


def test_leases_follow_the_injected_clock(store: MemoryStore, clock: FakeClock) -> None:
    lease = store.grant_lease(10)
    store.put("/owned", b"x", lease)
    clock.advance(6)
    assert store.lease_ttl(lease) == 4
    assert store.keep_alive(lease) == 10
    clock.advance(9.5)
    assert store.get("/owned") is not None
    clock.advance(0.5)
    assert store.get("/owned") is None
    with pytest.raises(NotFound):
        store.lease_ttl(lease)


def test_expiry_reaches_a_watch_with_one_revision(store: MemoryStore, clock: FakeClock) -> None:
    lease = store.grant_lease(5)
    store.txn([], [Put("/n/a", b"1", lease), Put("/n/b", b"2", lease)])
    recorder = RecordingHandler()
    watcher = store.watch("/n/", store.current_revision() + 1, recorder)
    try:
        clock.advance(5)  # the watch notices by itself within half a second
        recorder.wait_for(lambda h: len(h.events) == 2, what="two deletes")
        assert {e.type for e in recorder.events} == {EventType.DELETE}
        assert len({e.mod_revision for e in recorder.events}) == 1
    finally:
        watcher.stop()


def test_compaction_rules(store: MemoryStore) -> None:
    for i in range(5):
        store.put("/a", str(i).encode())
    with pytest.raises(InvalidRequest):
        store.compact(store.current_revision() + 1)
    store.compact(4)
    with pytest.raises(Compacted) as caught:
        store.compact(3)
    assert caught.value.compacted_revision == 4


def test_a_lagging_watch_past_a_compaction_relists(store: MemoryStore) -> None:
    """A watch that falls behind compaction (slow consumer) re-lists instead of losing events."""
    store.put("/s/a", b"1")
    recorder = RecordingHandler()
    watcher = store.watch("/s/", 1, recorder)  # revision 1 is still in history
    try:
        recorder.wait_for_revision(store.current_revision())
        watcher.stop()
        for i in range(3):
            store.put(f"/s/{i}", b"x")
        store.compact(store.current_revision())
        watcher = store.watch("/s/", recorder.revision + 1, recorder)
        recorder.wait_for(lambda h: len(h.relists) == 1)
        assert recorder.state == store.dump()
    finally:
        watcher.stop()


def test_close_stops_every_watch(store: MemoryStore) -> None:
    watchers = [store.watch(f"/{i}/", None, RecordingHandler()) for i in range(3)]
    store.close()
    assert not any(w.is_alive() for w in watchers)


def test_dump_shows_everything(store: MemoryStore) -> None:
    store.put("/b", b"2")
    store.put("/a", b"1")
    assert store.dump() == {"/a": b"1", "/b": b"2"}
