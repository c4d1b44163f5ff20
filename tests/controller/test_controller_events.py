"""TaskEvents: one log line each, one key each on the shared lease, sequence numbers that
continue across leaders, repeats folded into a count."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from controller.committing import Committer
from controller.events import EventLease, EventRecorder
from core.clock import FakeClock
from core.keys import Keys
from core.memory_store import MemoryStore
from core.typed_store import decode_model
from schemas.events import EventType, TaskEvent
from schemas.states import TaskState

KEYS = Keys("/t")


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    s = MemoryStore(FakeClock())
    yield s
    s.close()


@pytest.fixture
def committer(store: MemoryStore) -> Iterator[Committer]:
    c = Committer(
        store,
        [],
        on_committed=lambda keys, rev: None,
        on_lost=lambda why: None,
        leases=EventLease(store, 3600, store.clock),
    ).start()
    yield c
    c.stop()


def events(store: MemoryStore, name: str = "web") -> list[TaskEvent]:
    return [
        decode_model(kv.key, kv.value, TaskEvent)
        for kv in store.list(KEYS.task_events("default", name)).items
    ]


def test_each_event_is_logged_and_written_on_the_lease(
    store: MemoryStore, committer: Committer, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = EventRecorder(KEYS, committer, clock=store.clock)
    with caplog.at_level(logging.INFO, logger="controller.events"):
        recorder.record(
            "default",
            "web",
            "Scheduled",
            "placed on n1",
            old=TaskState.Pending,
            new=TaskState.Scheduled,
        )
        recorder.record("default", "web", "BackOff", "restarting in 10s", warning=True)
    assert committer.wait_idle(5)
    got = events(store)
    assert [(e.reason, e.type, e.fromState, e.toState) for e in got] == [
        ("Scheduled", EventType.Normal, TaskState.Pending, TaskState.Scheduled),
        ("BackOff", EventType.Warning, None, None),
    ]
    leases = {kv.lease for kv in store.list(KEYS.task_events("default", "web")).items}
    assert len(leases) == 1 and 0 not in leases
    assert store.lease_ttl(next(iter(leases))) > 3500
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "task default/web: Scheduled (Pending -> Scheduled): placed on n1",
        "task default/web: BackOff: restarting in 10s",
    ]
    assert caplog.records[1].levelno == logging.WARNING


def test_a_repeated_event_is_folded_into_a_count(store: MemoryStore, committer: Committer) -> None:
    recorder = EventRecorder(KEYS, committer, clock=store.clock)
    for _ in range(3):
        recorder.record("default", "web", "Unschedulable", "0/1 nodes: 1 insufficient cpu")
    recorder.record("default", "web", "Unschedulable", "0/2 nodes: 2 insufficient cpu")
    assert committer.wait_idle(5)
    assert [(e.message, e.count) for e in events(store)] == [
        ("0/1 nodes: 1 insufficient cpu", 3),
        ("0/2 nodes: 2 insufficient cpu", 1),
    ]


def test_sequence_numbers_continue_from_what_etcd_holds(
    store: MemoryStore, committer: Committer
) -> None:
    first = EventRecorder(KEYS, committer, clock=store.clock)
    first.record("default", "web", "Scheduled", "one")
    first.record("default", "web", "Started", "two")
    assert committer.wait_idle(5)
    second = EventRecorder(KEYS, committer, clock=store.clock)  # a new leader
    assert second.load(store) == 2
    second.record("default", "web", "Completed", "three")
    second.record("default", "other", "Scheduled", "first of its own")
    assert committer.wait_idle(5)
    keys = [kv.key for kv in store.list(KEYS.task_events("default", "web")).items]
    assert [KEYS.parse_event(k).seq for k in keys] == [0, 1, 2]  # type: ignore[union-attr]
    assert [e.message for e in events(store)] == ["one", "two", "three"]
    assert [e.message for e in events(store, "other")] == ["first of its own"]


def test_the_event_lease_is_replaced_when_it_is_a_sixth_of_its_ttl_old(store: MemoryStore) -> None:
    clock = store.clock
    assert isinstance(clock, FakeClock)
    lease = EventLease(store, 600, clock)
    first = lease.lease()
    clock.advance(50)
    assert lease.lease() == first
    clock.advance(60)
    second = lease.lease()
    assert second != first
    assert store.lease_ttl(first) > 0  # the old one lives on until its events expire
