"""The work queue: dedupe, one worker per key, re-queue of keys added while processed,
delayed and rate-limited adds on an injected clock, and workers that retry failures."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from core.clock import FakeClock
from core.errors import Unavailable
from core.testing import wait_until
from core.workqueue import ExponentialRateLimiter, Workers, WorkQueue


def test_a_key_added_many_times_is_queued_once() -> None:
    q = WorkQueue()
    for _ in range(5):
        q.add("a")
    q.add("b")
    assert len(q) == 2
    stop = threading.Event()
    assert q.get(stop, timeout=0) == "a"
    assert q.get(stop, timeout=0) == "b"
    assert q.get(stop, timeout=0) is None


def test_a_key_being_processed_is_not_handed_out_again_until_done() -> None:
    q = WorkQueue()
    stop = threading.Event()
    q.add("a")
    assert q.get(stop, timeout=0) == "a"
    q.add("a")  # changed while a worker holds it
    assert q.get(stop, timeout=0) is None, "the same key went to a second worker"
    assert q.is_processing("a")
    q.done("a")
    assert q.get(stop, timeout=0) == "a", "the change made meanwhile was lost"
    q.done("a")
    assert q.get(stop, timeout=0) is None


def test_add_after_waits_for_the_clock() -> None:
    clock = FakeClock()
    q = WorkQueue(clock)
    stop = threading.Event()
    q.add_after("a", 10)
    assert q.get(stop, timeout=0) is None
    assert q.delayed == 1
    clock.advance(9.9)
    assert q.get(stop, timeout=0) is None
    clock.advance(0.2)
    assert q.get(stop, timeout=0) == "a"


def test_a_delayed_key_that_is_already_queued_is_not_doubled() -> None:
    clock = FakeClock()
    q = WorkQueue(clock)
    q.add("a")
    q.add_after("a", 1)
    clock.advance(2)
    assert len(q) == 1


def test_rate_limiter_doubles_to_its_cap_and_forgets() -> None:
    limiter = ExponentialRateLimiter(initial=1, maximum=5)
    assert [limiter.when("k") for _ in range(5)] == [1, 2, 4, 5, 5]
    assert limiter.failures("k") == 5
    assert limiter.when("other") == 1
    limiter.forget("k")
    assert limiter.when("k") == 1
    with pytest.raises(ValueError):
        ExponentialRateLimiter(initial=0)


def test_shutdown_releases_waiting_workers() -> None:
    q = WorkQueue()
    got: list[str | None] = []
    t = threading.Thread(target=lambda: got.append(q.get(threading.Event())))
    t.start()
    q.shutdown()
    t.join(2)
    assert not t.is_alive() and got == [None]
    q.add("late")
    assert len(q) == 0


def test_workers_never_run_one_key_twice_at_once_and_lose_no_change() -> None:
    q = WorkQueue()
    running: Counter[str] = Counter()
    overlaps: list[str] = []
    seen: Counter[str] = Counter()
    lock = threading.Lock()
    gate = threading.Event()

    def reconcile(key: str) -> None:
        with lock:
            running[key] += 1
            if running[key] > 1:
                overlaps.append(key)
        gate.wait(0.01)
        with lock:
            running[key] -= 1
            seen[key] += 1

    workers = Workers("test", q, reconcile, count=4).start()
    try:
        for i in range(200):
            q.add(f"k{i % 5}")
        wait_until(lambda: len(q) == 0 and not any(q.is_processing(f"k{i}") for i in range(5)))
        last = sum(seen.values())
        for i in range(5):
            q.add(f"k{i}")  # one more change each: must be reconciled once more at least
        wait_until(lambda: sum(seen.values()) >= last + 5)
    finally:
        workers.stop()
    assert not overlaps
    assert set(seen) == {f"k{i}" for i in range(5)}


def test_workers_retry_failures_with_back_off_and_requeue_on_request() -> None:
    clock = FakeClock()
    q = WorkQueue(clock, ExponentialRateLimiter(initial=1, maximum=8))
    calls: list[str] = []
    done: list[tuple[str, bool]] = []

    def reconcile(key: str) -> float | None:
        calls.append(key)
        if key == "flaky" and len([c for c in calls if c == "flaky"]) < 3:
            raise Unavailable("etcd went away")
        if key == "again" and calls.count("again") == 1:
            return 30.0
        return None

    workers = Workers(
        "test",
        q,
        reconcile,
        count=1,
        clock=clock,
        on_done=lambda key, _took, err: done.append((key, err is None)),
    ).start()
    try:
        q.add("flaky")
        q.add("again")
        wait_until(lambda: ("flaky", False) in done and ("again", True) in done)
        assert q.rate_limiter.failures("flaky") == 1
        clock.advance(1)  # first retry after 1 s
        wait_until(lambda: done.count(("flaky", False)) == 2)
        clock.advance(2)  # second after 2 s, which succeeds
        wait_until(lambda: ("flaky", True) in done)
        assert q.rate_limiter.failures("flaky") == 0, "a success resets the back-off"
        assert calls.count("again") == 1
        clock.advance(30)
        wait_until(lambda: calls.count("again") == 2)
    finally:
        workers.stop()
