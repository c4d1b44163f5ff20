"""The work queue and its workers: deduplication, one worker per key, changes during
processing kept, delayed adds on the injected clock, per-key exponential back-off, claims."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from core.clock import FakeClock
from core.errors import Unavailable
from core.reconciling import Result, Workers
from core.testing import wait_until
from core.workqueue import ExponentialRateLimiter, WorkQueue


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(clock: FakeClock) -> Iterator[WorkQueue[str]]:
    q: WorkQueue[str] = WorkQueue("test", clock=clock).start()
    try:
        yield q
    finally:
        q.shutdown()


def test_a_key_added_many_times_is_handed_out_once(queue: WorkQueue[str]) -> None:
    for _ in range(3):
        queue.add("a")
    queue.add("b")
    assert len(queue) == 2
    assert [queue.get(timeout=0), queue.get(timeout=0), queue.get(timeout=0)] == ["a", "b", None]


def test_a_key_being_processed_is_not_handed_out_again_until_done(queue: WorkQueue[str]) -> None:
    queue.add("a")
    assert queue.get(timeout=0) == "a"
    queue.add("a")  # changed while a worker has it
    assert queue.get(timeout=0) is None  # not to a second worker
    queue.done("a")
    assert queue.get(timeout=0) == "a"  # the change is not lost
    queue.done("a")
    assert queue.idle()


def test_add_after_waits_on_the_clock_and_the_earliest_delay_wins(
    queue: WorkQueue[str], clock: FakeClock
) -> None:
    queue.add_after("a", 10)
    queue.add_after("a", 5)
    queue.add_after("a", 20)
    assert queue.delayed() == 1 and queue.get(timeout=0) is None
    clock.advance(4)
    wait_until(lambda: clock.waiters > 0)
    assert queue.get(timeout=0.05) is None
    clock.advance(1)
    assert queue.get(timeout=2) == "a"
    assert queue.delayed() == 0


def test_the_rate_limiter_backs_off_exponentially_per_key_and_forgets() -> None:
    limiter = ExponentialRateLimiter(base=0.1, maximum=1.0)
    assert [limiter.when("a") for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert limiter.when("b") == 0.1
    assert limiter.retries("a") == 6
    limiter.forget("a")
    assert limiter.retries("a") == 0 and limiter.when("a") == 0.1
    for _ in range(2000):  # no overflow however often a key fails
        limiter.when("c")
    assert limiter.when("c") == 1.0


def test_a_claimed_key_is_not_handed_to_a_worker(queue: WorkQueue[str]) -> None:
    queue.add("a")
    assert queue.claim("a")
    assert queue.get(timeout=0) is None
    assert not queue.claim("a", wait=False)
    queue.done("a")
    assert queue.get(timeout=0) == "a"  # it was added, so it is handed out after the claim


def test_claim_waits_for_the_worker_holding_the_key(queue: WorkQueue[str]) -> None:
    queue.add("a")
    assert queue.get(timeout=0) == "a"
    claimed = threading.Event()
    claimer = threading.Thread(target=lambda: queue.claim("a") and claimed.set(), daemon=True)
    claimer.start()
    assert not claimed.wait(0.05)
    queue.done("a")
    assert claimed.wait(2)
    claimer.join(2)


def test_shutdown_wakes_waiting_workers(queue: WorkQueue[str]) -> None:
    got: list[str | None] = []
    waiter = threading.Thread(target=lambda: got.append(queue.get()), daemon=True)
    waiter.start()
    queue.shutdown()
    waiter.join(2)
    assert got == [None]
    queue.add("late")
    assert len(queue) == 0


def test_drained_is_called_when_the_last_key_is_done(queue: WorkQueue[str]) -> None:
    calls: list[int] = []
    queue.on_drained = lambda: calls.append(1)
    queue.add("a")
    queue.add("b")
    for _ in range(2):
        key = queue.get(timeout=0)
        assert key is not None
        queue.done(key)
    assert calls == [1]


class Flaky:
    """Fails `failures` times per key, then asks to be looked at again once."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: dict[str, int] = {}
        self.active: set[str] = set()
        self.overlap = False
        self.lock = threading.Lock()

    def reconcile(self, key: str) -> Result:
        with self.lock:
            if key in self.active:
                self.overlap = True
            self.active.add(key)
            n = self.calls[key] = self.calls.get(key, 0) + 1
        try:
            if n <= self.failures:
                raise Unavailable("not now", maybe_applied=False)
            return Result.again(30) if n == self.failures + 1 else Result.done()
        finally:
            with self.lock:
                self.active.discard(key)


def test_workers_retry_failures_with_back_off_and_honour_again(clock: FakeClock) -> None:
    queue: WorkQueue[str] = WorkQueue(
        "w", clock=clock, rate_limiter=ExponentialRateLimiter(base=1, maximum=8)
    ).start()
    reconciler = Flaky(failures=2)
    failures: list[bool] = []
    workers = Workers(
        "w", queue, reconciler, 4, clock=clock, observe=lambda s, failed: failures.append(failed)
    ).start()
    try:
        for key in ("a", "b"):
            queue.add(key)
        wait_until(lambda: reconciler.calls == {"a": 1, "b": 1})
        clock.advance(1)  # first back-off: 1 s
        wait_until(lambda: reconciler.calls == {"a": 2, "b": 2})
        clock.advance(1)
        assert reconciler.calls == {"a": 2, "b": 2}  # the second back-off is 2 s
        clock.advance(1)
        wait_until(lambda: reconciler.calls == {"a": 3, "b": 3})  # succeeded: again in 30 s
        assert queue.num_requeues("a") == 0  # forgotten after the success
        clock.advance(30)
        wait_until(lambda: reconciler.calls == {"a": 4, "b": 4})
        assert not reconciler.overlap
        assert failures.count(True) == 4
    finally:
        workers.stop()


def test_no_key_is_reconciled_by_two_workers_at_once(clock: FakeClock) -> None:
    queue: WorkQueue[str] = WorkQueue("w", clock=clock).start()

    class Slow:
        def __init__(self) -> None:
            self.active: set[str] = set()
            self.overlap = False
            self.count = 0
            self.lock = threading.Lock()

        def reconcile(self, key: str) -> Result:
            with self.lock:
                self.overlap = self.overlap or key in self.active
                self.active.add(key)
                self.count += 1
            sum(range(20_000))  # hold the key a moment, so the others pile up behind it
            with self.lock:
                self.active.discard(key)
            return Result.done()

    slow = Slow()
    workers = Workers("w", queue, slow, 8, clock=clock).start()
    try:
        for _ in range(200):
            for key in "abc":
                queue.add(key)
        wait_until(lambda: queue.idle())
        assert not slow.overlap
        assert slow.count >= 3
    finally:
        workers.stop()


def test_result_sooner_picks_the_earlier_look() -> None:
    assert Result.done().sooner(Result.again(5)) == Result.again(5)
    assert Result.again(2).sooner(Result.again(5)) == Result.again(2)
    assert Result.again(2).sooner(Result.done()) == Result.again(2)
    assert Result.again(-1) == Result.again(0)


class _EngineAway(Exception):
    """An adapter's error (not a ShoalError) that says trying later may help."""

    retryable = True


def test_a_retryable_failure_is_logged_once_per_key_until_it_recovers(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    queue: WorkQueue[str] = WorkQueue(
        "w", clock=clock, rate_limiter=ExponentialRateLimiter(base=1, maximum=1)
    ).start()
    attempts: list[str] = []

    class Away:
        def reconcile(self, key: str) -> Result:
            attempts.append(key)
            if len(attempts) <= 3:
                raise _EngineAway("the engine does not answer")
            return Result.done()

    workers = Workers("w", queue, Away(), 1, clock=clock).start()
    try:
        with caplog.at_level("INFO", logger="core.reconciling"):
            queue.add("k")
            for n in (1, 2, 3):
                wait_until(lambda n=n: len(attempts) == n and queue.delayed() == 1)
                clock.advance(1)
            wait_until(lambda: len(attempts) == 4 and queue.num_requeues("k") == 0)
    finally:
        workers.stop()
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert [r.getMessage() for r in warnings] == [
        "w k: the engine does not answer; retrying with back-off"
    ]
    assert not [r for r in caplog.records if r.levelname == "ERROR"], "no traceback for it"
    assert any("reconciled again" in r.getMessage() for r in caplog.records)
