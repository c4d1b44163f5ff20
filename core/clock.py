"""Time, injected: real code uses SystemClock, tests use FakeClock and never sleep.

Every loop waits through `clock.wait(stop_event, timeout)` rather than `time.sleep`, so a
stop request interrupts the wait at once and a FakeClock can drive the loop in tests.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The wall-clock time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards, for deadlines and intervals."""
        ...

    def wait(self, event: threading.Event, timeout: float) -> bool:
        """Wait until `event` is set or `timeout` seconds pass; True when the event is set."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, timeout: float) -> bool:
        return event.wait(max(0.0, timeout))


class FakeClock:
    """A clock that moves only when told to (`advance`), for deterministic tests.

    Threads blocked in `wait` wake when the event is set or when `advance` carries the
    fake time past their deadline, so a test can step a background loop forward without
    sleeping. `waiters` lets a test wait (on a condition) until a loop is parked.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start_wall = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._elapsed = 0.0
        self._cond = threading.Condition()
        self._waiters = 0

    def now(self) -> datetime:
        with self._cond:
            return self._start_wall + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        with self._cond:
            return self._elapsed

    @property
    def waiters(self) -> int:
        """How many threads are blocked in `wait` right now."""
        with self._cond:
            return self._waiters

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._cond:
            self._elapsed += seconds
            self._cond.notify_all()

    def wake(self) -> None:
        """Make blocked waiters look at their events again (call after setting one)."""
        with self._cond:
            self._cond.notify_all()

    def wait(self, event: threading.Event, timeout: float) -> bool:
        with self._cond:
            deadline = self._elapsed + max(0.0, timeout)
            self._waiters += 1
            try:
                while not event.is_set() and self._elapsed < deadline:
                    # A short real timeout lets an event set by another thread (which does
                    # not know about this condition) be noticed without a fake advance.
                    self._cond.wait(0.01)
                return event.is_set()
            finally:
                self._waiters -= 1
