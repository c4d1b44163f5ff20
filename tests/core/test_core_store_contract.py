"""The Store contract: one suite, run against MemoryStore and against EtcdStore on a real etcd.

Each test works under its own key prefix. Time-dependent parts (lease expiry) use a FakeClock
for the memory store and a short TTL with a deadline-bounded wait for etcd.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.clock import FakeClock
from core.errors import (
    AlreadyExists,
    Compacted,
    Conflict,
    GuardFailed,
    InvalidRequest,
    NotFound,
)
from core.etcd_server import EtcdServer
from core.etcd_store import EtcdStore, RetryPolicy
from core.memory_store import MemoryStore
from core.store import Compare, Delete, EventType, Get, Put, Store, WriteOp
from core.testing import RecordingHandler, wait_until


@dataclass
class Backend:
    store: Store
    prefix: str
    pass_time: Callable[[float], None]  # lets `seconds` pass for leases (no-op on real etcd)
    real: bool

    def k(self, name: str) -> str:
        return f"{self.prefix}/{name}"


def _memory(prefix: str) -> Iterator[Backend]:
    clock = FakeClock()
    store = MemoryStore(clock)
    try:
        yield Backend(store, prefix, clock.advance, real=False)
    finally:
        store.close()


def _etcd(endpoint: str, prefix: str) -> Iterator[Backend]:
    store = EtcdStore([endpoint], retry=RetryPolicy(deadline=5.0))
    try:
        yield Backend(store, prefix, lambda seconds: None, real=True)
    finally:
        store.close()


BACKENDS = ["memory", pytest.param("etcd", marks=pytest.mark.integration)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, keys_prefix: str) -> Iterator[Backend]:
    if request.param == "memory":
        yield from _memory(keys_prefix)
    else:
        server: EtcdServer = request.getfixturevalue("etcd_server")
        yield from _etcd(server.endpoint, keys_prefix)


@pytest.fixture(params=BACKENDS)
def fresh_backend(
    request: pytest.FixtureRequest, keys_prefix: str, tmp_path: Path
) -> Iterator[Backend]:
    """Like `backend`, but etcd is a server of this test's own (for compaction)."""
    if request.param == "memory":
        yield from _memory(keys_prefix)
    else:
        server: EtcdServer = request.getfixturevalue("fresh_etcd")
        yield from _etcd(server.endpoint, keys_prefix)


# -- keys and revisions ------------------------------------------------------------------


def test_get_of_a_missing_key_is_none(backend: Backend) -> None:
    assert backend.store.get(backend.k("nothing")) is None


def test_put_then_get_carries_revisions(backend: Backend) -> None:
    s, key = backend.store, backend.k("a")
    rev1 = s.put(key, b"one")
    kv = s.get(key)
    assert kv is not None
    assert (kv.key, kv.value, kv.version, kv.lease) == (key, b"one", 1, 0)
    assert kv.create_revision == kv.mod_revision == rev1
    rev2 = s.put(key, b"two")
    kv2 = s.get(key)
    assert kv2 is not None and rev2 > rev1
    assert (kv2.value, kv2.version, kv2.create_revision, kv2.mod_revision) == (
        b"two",
        2,
        rev1,
        rev2,
    )
    assert s.current_revision() >= rev2


def test_a_deleted_key_starts_over(backend: Backend) -> None:
    s, key = backend.store, backend.k("a")
    s.put(key, b"1")
    s.put(key, b"2")
    assert s.delete(key) is True
    rev = s.put(key, b"3")
    kv = s.get(key)
    assert kv is not None and kv.version == 1 and kv.create_revision == rev


def test_list_is_sorted_at_one_revision_and_only_under_the_prefix(backend: Backend) -> None:
    s = backend.store
    for name in ["b", "a", "c/d"]:
        s.put(backend.k(f"dir/{name}"), name.encode())
    s.put(backend.k("dirx"), b"sibling")
    rev = s.put(backend.k("other/x"), b"x")
    listing = s.list(backend.k("dir/"))
    assert [kv.key for kv in listing] == [backend.k(f"dir/{n}") for n in ["a", "b", "c/d"]]
    assert listing.revision >= rev
    assert listing.by_key()[backend.k("dir/a")].value == b"a"
    assert len(s.list(backend.k("nothing/"))) == 0


# -- conditional writes ------------------------------------------------------------------


def test_create_refuses_an_existing_key(backend: Backend) -> None:
    s, key = backend.store, backend.k("a")
    rev = s.create(key, b"first")
    with pytest.raises(AlreadyExists) as caught:
        s.create(key, b"second")
    assert isinstance(caught.value, Conflict) and caught.value.key == key
    kv = s.get(key)
    assert kv is not None and kv.value == b"first" and kv.mod_revision == rev


def test_update_is_a_compare_and_swap(backend: Backend) -> None:
    s, key = backend.store, backend.k("a")
    rev = s.create(key, b"v1")
    rev2 = s.update(key, b"v2", rev)
    assert rev2 > rev
    with pytest.raises(Conflict) as caught:
        s.update(key, b"lost", rev)  # based on a stale read
    assert caught.value.key == key
    kv = s.get(key)
    assert kv is not None and kv.value == b"v2"
    with pytest.raises(NotFound):
        s.update(backend.k("missing"), b"x", 1)


def test_delete_conditional_and_unconditional(backend: Backend) -> None:
    s = backend.store
    rev = s.put(backend.k("a"), b"1")
    assert s.delete(backend.k("missing")) is False
    s.put(backend.k("a"), b"2")
    with pytest.raises(Conflict):
        s.delete(backend.k("a"), expected_mod_revision=rev)
    current = s.get(backend.k("a"))
    assert current is not None
    assert s.delete(backend.k("a"), expected_mod_revision=current.mod_revision) is True
    assert s.get(backend.k("a")) is None
    assert s.delete(backend.k("a"), expected_mod_revision=current.mod_revision) is False


def test_delete_prefix(backend: Backend) -> None:
    s = backend.store
    for i in range(5):
        s.put(backend.k(f"p/{i}"), b"x")
    s.put(backend.k("px"), b"keep")
    assert s.delete_prefix(backend.k("p/")) == 5
    assert len(s.list(backend.k("p/"))) == 0
    assert s.get(backend.k("px")) is not None
    with pytest.raises(InvalidRequest):
        s.delete_prefix("")


# -- transactions and batches ------------------------------------------------------------


def test_txn_runs_one_branch_by_its_guards(backend: Backend) -> None:
    s = backend.store
    leader, data = backend.k("leader"), backend.k("data")
    s.put(leader, b"me")
    won = s.txn([Compare.value(leader, b"me")], [Put(data, b"1"), Get(leader)], [Get(data)])
    assert won.succeeded
    assert won.responses[1].kvs[0].value == b"me"
    kv = s.get(data)
    assert kv is not None and kv.mod_revision == won.revision
    lost = s.txn([Compare.value(leader, b"you")], [Put(data, b"2")], [Get(data)])
    assert not lost.succeeded
    assert lost.responses[0].kvs[0].value == b"1"
    assert lost.revision == won.revision  # nothing was written
    assert s.txn([Compare.version(backend.k("nobody"), 0)], [Delete(data)]).responses[0].deleted


def test_txn_compares_on_every_target(backend: Backend) -> None:
    s, key = backend.store, backend.k("a")
    lease = s.grant_lease(30)
    rev = s.put(key, b"v", lease)
    kv = s.get(key)
    assert kv is not None
    holds = [
        Compare.mod_revision(key, rev),
        Compare.create_revision(key, rev),
        Compare.version(key, 1),
        Compare.value(key, "v"),
        Compare.lease(key, lease),
        Compare.exists(key),
        Compare.missing(backend.k("b")),
        Compare.mod_revision(key, rev + 1, "<"),
        Compare.version(key, 0, ">"),
        Compare.value(key, b"w", "!="),
    ]
    assert s.txn(holds, []).succeeded
    assert not s.txn([Compare.value(backend.k("missing"), b"")], []).succeeded
    s.revoke_lease(lease)


def test_txn_limits_are_etcds(backend: Backend) -> None:
    s = backend.store
    with pytest.raises(InvalidRequest):
        s.txn([], [Put(backend.k(f"{i}"), b"x") for i in range(129)])
    with pytest.raises(InvalidRequest):
        s.txn([], [Put(backend.k("same"), b"1"), Put(backend.k("same"), b"2")])
    assert s.get(backend.k("same")) is None
    s.txn([], [Put(backend.k(f"{i}"), b"x") for i in range(128)])


def test_batch_of_1000_puts_goes_in_chunks_of_128(backend: Backend) -> None:
    s = backend.store
    ops: list[WriteOp] = [Put(backend.k(f"b/{i:04d}"), f"{i}".encode()) for i in range(1000)]
    result = s.commit_batch(ops)
    assert result.written == 1000
    assert len(result.revisions) == 8
    listing = s.list(backend.k("b/"))
    assert len(listing) == 1000
    assert listing.items[999].value == b"999"


def test_batch_with_repeated_keys_ends_in_the_last_write(backend: Backend) -> None:
    s = backend.store
    ops: list[WriteOp] = [
        Put(backend.k("x"), b"1"),
        Put(backend.k("y"), b"1"),
        Delete(backend.k("x")),
        Put(backend.k("y"), b"2"),
        Delete(backend.k("z/"), prefix=True),
        Put(backend.k("z/1"), b"new"),
    ]
    s.put(backend.k("z/old"), b"old")
    s.commit_batch(ops)
    state = {kv.key: kv.value for kv in s.list(backend.prefix + "/")}
    assert state == {backend.k("y"): b"2", backend.k("z/1"): b"new"}


def test_guarded_batch_stops_when_the_guard_fails(backend: Backend) -> None:
    s = backend.store
    leader = backend.k("leader")
    s.put(leader, b"me")
    guard = Compare.value(leader, b"me")
    assert (
        s.commit_batch([Put(backend.k(f"g/{i}"), b"x") for i in range(300)], guard).written == 300
    )
    # The first chunk itself moves the guard key on, so the second chunk's guard fails.
    ops: list[WriteOp] = [Put(leader, b"me-again")]
    ops += [Put(backend.k(f"h/{i:03d}"), b"x") for i in range(300)]
    with pytest.raises(GuardFailed) as caught:
        s.commit_batch(ops, Compare.version(leader, 1))
    assert caught.value.committed == 128
    assert len(s.list(backend.k("h/"))) == 127
    s.put(leader, b"someone else")
    with pytest.raises(GuardFailed) as caught:
        s.commit_batch([Put(backend.k("i/1"), b"x")], guard)
    assert caught.value.committed == 0
    assert s.get(backend.k("i/1")) is None


# -- leases ------------------------------------------------------------------------------


def test_lease_grant_keep_alive_revoke(backend: Backend) -> None:
    s, key = backend.store, backend.k("owned")
    lease = s.grant_lease(30)
    s.put(key, b"x", lease)
    kv = s.get(key)
    assert kv is not None and kv.lease == lease
    assert 0 < s.lease_ttl(lease) <= 30
    assert s.keep_alive(lease) == 30
    assert s.revoke_lease(lease) is True
    assert s.get(key) is None
    assert s.revoke_lease(lease) is False
    with pytest.raises(NotFound):
        s.keep_alive(lease)
    with pytest.raises(NotFound):
        s.lease_ttl(lease)
    with pytest.raises(NotFound):
        s.put(key, b"x", lease)


def test_an_expired_lease_takes_its_keys(backend: Backend) -> None:
    s = backend.store
    lease = s.grant_lease(1)  # etcd rounds this up to its minimum (2 s here)
    s.put(backend.k("a"), b"x", lease)
    s.put(backend.k("b"), b"y", lease)
    s.put(backend.k("c"), b"stays")
    backend.pass_time(5)
    wait_until(lambda: s.get(backend.k("a")) is None, timeout=15, what="lease expiry")
    assert s.get(backend.k("b")) is None
    assert s.get(backend.k("c")) is not None
    with pytest.raises(NotFound):
        s.keep_alive(lease)


# -- watching ----------------------------------------------------------------------------


def test_watch_from_a_revision_replays_then_follows_in_order(backend: Backend) -> None:
    s = backend.store
    start = s.put(backend.k("w/1"), b"a")
    s.put(backend.k("w/2"), b"b")
    s.put(backend.k("w/1"), b"c")
    s.put(backend.k("elsewhere"), b"no")
    recorder = RecordingHandler()
    watcher = s.watch(backend.k("w/"), start, recorder)
    try:
        last = s.put(backend.k("w/3"), b"d")
        txn = s.txn([], [Put(backend.k("w/4"), b"e"), Put(backend.k("w/5"), b"f")])
        recorder.wait_for_revision(txn.revision)
        assert [(e.key[-3:], e.value) for e in recorder.events] == [
            ("w/1", b"a"),
            ("w/2", b"b"),
            ("w/1", b"c"),
            ("w/3", b"d"),
            ("w/4", b"e"),
            ("w/5", b"f"),
        ]
        assert recorder.events[0].mod_revision == start
        assert recorder.events[2].prev_value == b"a"
        assert recorder.events[3].mod_revision == last
        assert {e.mod_revision for e in recorder.events[4:]} == {txn.revision}
        assert recorder.relists == []
        wait_until(lambda: watcher.revision >= txn.revision, what="watcher.revision")
    finally:
        watcher.stop()
    assert not watcher.is_alive()


def test_watch_delivers_deletes(backend: Backend) -> None:
    s = backend.store
    start = s.current_revision() + 1
    recorder = RecordingHandler()
    watcher = s.watch(backend.k("d/"), start, recorder)
    try:
        for i in range(3):
            s.put(backend.k(f"d/{i}"), f"v{i}".encode())
        s.delete(backend.k("d/0"))
        s.delete_prefix(backend.k("d/"))
        rev = s.current_revision()
        recorder.wait_for_revision(rev)
        deletes = [e for e in recorder.events if e.type is EventType.DELETE]
        assert [(e.key[-3:], e.value, e.prev_value) for e in deletes] == [
            ("d/0", b"", b"v0"),
            ("d/1", b"", b"v1"),
            ("d/2", b"", b"v2"),
        ]
        assert deletes[1].mod_revision == deletes[2].mod_revision == rev
        assert recorder.state == {}
    finally:
        watcher.stop()


def test_watch_without_a_revision_lists_first(backend: Backend) -> None:
    s = backend.store
    s.put(backend.k("l/a"), b"1")
    s.put(backend.k("l/b"), b"2")
    recorder = RecordingHandler()
    watcher = s.watch(backend.k("l/"), None, recorder)
    try:
        recorder.wait_for(lambda h: len(h.relists) == 1, what="the first listing")
        assert [kv.key for kv in recorder.relists[0]] == [backend.k("l/a"), backend.k("l/b")]
        rev = s.put(backend.k("l/c"), b"3")
        recorder.wait_for_revision(rev)
        assert [e.key for e in recorder.events] == [backend.k("l/c")]
        assert recorder.state == {
            backend.k(n): v for n, v in [("l/a", b"1"), ("l/b", b"2"), ("l/c", b"3")]
        }
    finally:
        watcher.stop()


def test_a_failing_handler_gets_the_same_events_again(backend: Backend) -> None:
    s = backend.store
    start = s.current_revision() + 1
    seen: list[list[str]] = []

    class Flaky(RecordingHandler):
        def on_events(self, events):  # type: ignore[no-untyped-def]
            seen.append([e.key for e in events])
            if len(seen) == 1:
                raise RuntimeError("handler bug")
            super().on_events(events)

    recorder = Flaky()
    watcher = s.watch(backend.k("f/"), start, recorder)
    try:
        rev = s.put(backend.k("f/1"), b"x")
        recorder.wait_for_revision(rev)
        assert [e.key for e in recorder.events] == [backend.k("f/1")]
        assert seen[0] == seen[1] == [backend.k("f/1")]
    finally:
        watcher.stop()


def test_watch_resumed_after_compaction_relists(fresh_backend: Backend) -> None:
    backend = fresh_backend
    s = backend.store
    start = s.put(backend.k("c/keep"), b"1")
    s.put(backend.k("c/gone"), b"2")
    recorder = RecordingHandler()
    watcher = s.watch(backend.k("c/"), start, recorder)
    seen = s.current_revision()
    recorder.wait_for_revision(seen)
    watcher.stop()  # the consumer goes away for a while...
    assert watcher.revision == seen
    s.delete(backend.k("c/gone"))
    s.put(backend.k("c/new"), b"3")
    s.compact(s.current_revision())  # ...and the history it would need is compacted away
    with pytest.raises(Compacted):
        s.compact(start)
    watcher = s.watch(backend.k("c/"), seen + 1, recorder)  # resume where it left off
    try:
        recorder.wait_for(lambda h: len(h.relists) == 1, what="a re-list")
        assert [kv.key for kv in recorder.relists[0]] == [backend.k("c/keep"), backend.k("c/new")]
        rev = s.put(backend.k("c/after"), b"4")
        recorder.wait_for_revision(rev)
        assert recorder.state == {kv.key: kv.value for kv in s.list(backend.k("c/"))}
    finally:
        watcher.stop()


def test_a_watch_starts_at_revision_one_or_later(backend: Backend) -> None:
    with pytest.raises(InvalidRequest):
        backend.store.watch(backend.k("x/"), 0, RecordingHandler())
