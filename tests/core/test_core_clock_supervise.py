import threading
from datetime import UTC, datetime

import pytest

from core.clock import FakeClock, SystemClock
from core.supervise import Backoff, Supervised
from core.testing import wait_until


def test_fake_clock_moves_only_when_advanced() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.monotonic() == 0.0
    clock.advance(2.5)
    assert clock.monotonic() == 2.5
    assert clock.now() == datetime(2026, 1, 1, 0, 0, 2, 500000, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_fake_clock_wait_returns_after_advance_past_deadline() -> None:
    clock = FakeClock()
    event = threading.Event()
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(clock.wait(event, 10)))
    t.start()
    wait_until(lambda: clock.waiters == 1)
    clock.advance(9)
    assert t.is_alive()
    clock.advance(1)
    t.join(5)
    assert result == [False]


def test_fake_clock_wait_returns_when_event_set() -> None:
    clock = FakeClock()
    event = threading.Event()
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(clock.wait(event, 1000)))
    t.start()
    wait_until(lambda: clock.waiters == 1)
    event.set()
    t.join(5)
    assert result == [True]


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().tzinfo is UTC


def test_backoff_doubles_to_cap_and_resets() -> None:
    b = Backoff(1, 8)
    assert [b.next() for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    b.reset()
    assert b.next() == 1


def test_supervised_restarts_failing_target_with_backoff() -> None:
    clock = FakeClock()
    calls: list[int] = []
    done = threading.Event()

    def target(stop: threading.Event) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("boom")
        done.set()

    loop = Supervised("flaky", target, clock=clock, backoff=Backoff(1, 4)).start()
    wait_until(lambda: clock.waiters == 1)  # parked in its first back-off
    assert len(calls) == 1
    clock.advance(1)
    wait_until(lambda: len(calls) == 2 and clock.waiters == 1)
    clock.advance(1.5)  # second back-off is 2 s: not yet
    assert len(calls) == 2
    clock.advance(0.5)
    assert done.wait(5)
    loop.stop()
    assert not loop.is_alive()
    assert loop.failures == 2


def test_supervised_stop_interrupts_running_target() -> None:
    started = threading.Event()

    def target(stop: threading.Event) -> None:
        started.set()
        stop.wait()

    loop = Supervised("waiter", target).start()
    assert started.wait(5)
    loop.stop(timeout=5)
    assert not loop.is_alive()
