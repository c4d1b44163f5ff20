"""A work queue of keys, as client-go's: deduplicated, one worker per key, per-key back-off.

Watch handlers and event streams only `add` keys; workers `get` a key, reconcile it and call
`done`. The queue guarantees:

- a key waiting in the queue is there once, however often it is added (events coalesce);
- a key being processed is never handed to a second worker; if it is added meanwhile it is
  queued again when `done` is called, so the change is not lost;
- `add_after(key, delay)` queues a key later (a reconcile that says "again in 10 s");
  `add_rate_limited(key)` does so with the rate limiter's per-key exponential back-off, and
  `forget(key)` resets that back-off after a success.

Time comes from the injected clock, so a FakeClock drives delayed keys in tests.
`Workers` runs a reconcile function over a queue in a few supervised threads.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

from core.clock import Clock, SystemClock
from core.errors import RetryLater
from core.supervise import Supervised

log = logging.getLogger(__name__)

_POLL = 0.05  # real seconds between looks at delayed keys while waiting (FakeClock moves alone)


class RateLimiter(Protocol):
    def when(self, key: str) -> float:
        """Seconds to wait before retrying `key`, counting this failure."""
        ...

    def forget(self, key: str) -> None:
        """`key` succeeded: its next failure starts the back-off afresh."""
        ...

    def failures(self, key: str) -> int: ...


class ExponentialRateLimiter:
    """initial, 2*initial, 4*initial, … capped at maximum, per key."""

    def __init__(self, initial: float = 0.05, maximum: float = 60.0) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("rate limiter needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()

    def when(self, key: str) -> float:
        with self._lock:
            n = self._failures.get(key, 0)
            self._failures[key] = n + 1
        return float(min(self.maximum, self.initial * (2 ** min(n, 62))))

    def forget(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def failures(self, key: str) -> int:
        with self._lock:
            return self._failures.get(key, 0)


class WorkQueue:
    def __init__(self, clock: Clock | None = None, rate_limiter: RateLimiter | None = None) -> None:
        self._clock = clock or SystemClock()
        self.rate_limiter: RateLimiter = rate_limiter or ExponentialRateLimiter()
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()
        self._processing: set[str] = set()
        self._dirty: set[str] = set()  # added while being processed
        self._delayed: list[tuple[float, int, str]] = []  # (due, tie-breaker, key)
        self._seq = itertools.count()
        self._shut = False

    def add(self, key: str) -> None:
        with self._cond:
            if self._shut:
                return
            if key in self._processing:
                self._dirty.add(key)
                return
            if key not in self._queued:
                self._queued.add(key)
                self._queue.append(key)
                self._cond.notify()

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shut:
                return
            due = self._clock.monotonic() + delay
            heapq.heappush(self._delayed, (due, next(self._seq), key))
            self._cond.notify()

    def add_rate_limited(self, key: str) -> float:
        """Queue `key` after its back-off; returns the delay chosen."""
        delay = self.rate_limiter.when(key)
        self.add_after(key, delay)
        return delay

    def forget(self, key: str) -> None:
        self.rate_limiter.forget(key)

    def get(self, stop: threading.Event, timeout: float | None = None) -> str | None:
        """The next key to work on (marked as being processed), or None on stop/timeout."""
        deadline = None if timeout is None else self._clock.monotonic() + timeout
        with self._cond:
            while not (self._shut or stop.is_set()):
                self._promote_due()
                if self._queue:
                    key = self._queue.popleft()
                    self._queued.discard(key)
                    self._processing.add(key)
                    return key
                if deadline is not None and self._clock.monotonic() >= deadline:
                    return None
                self._cond.wait(_POLL)
            return None

    def done(self, key: str) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                if key not in self._queued and not self._shut:
                    self._queued.add(key)
                    self._queue.append(key)
                    self._cond.notify()

    def shutdown(self) -> None:
        with self._cond:
            self._shut = True
            self._cond.notify_all()

    def wake(self) -> None:
        """Let waiting workers look at a stop event (set by someone else) at once."""
        with self._cond:
            self._cond.notify_all()

    def __len__(self) -> int:
        """Keys waiting now (not counting delayed ones or those being processed)."""
        with self._cond:
            self._promote_due()
            return len(self._queue)

    @property
    def delayed(self) -> int:
        with self._cond:
            return len(self._delayed)

    def is_processing(self, key: str) -> bool:
        with self._cond:
            return key in self._processing

    def _promote_due(self) -> None:
        now = self._clock.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, key = heapq.heappop(self._delayed)
            if key in self._processing:
                self._dirty.add(key)
            elif key not in self._queued:
                self._queued.add(key)
                self._queue.append(key)


Reconcile = Callable[[str], float | None]
"""Make the world match for one key; None when done, or seconds until it should run again."""


def _retry_later(exc: BaseException) -> bool:
    """Whether trying again later may help: our RetryLater, or an adapter's `retryable`."""
    return isinstance(exc, RetryLater) or bool(getattr(exc, "retryable", False))


class Workers:
    """`count` supervised threads taking keys from `queue` and running `reconcile` on them.

    A reconcile that raises is retried with the queue's rate limiter: a RetryLater or an error
    marked `retryable` (etcd or Docker unreachable) is logged once per key until it succeeds
    again, anything else is logged
    with its traceback, since it is a bug or an unexpected state.
    """

    def __init__(
        self,
        name: str,
        queue: WorkQueue,
        reconcile: Reconcile,
        count: int = 2,
        clock: Clock | None = None,
        on_done: Callable[[str, float, BaseException | None], None] | None = None,
    ) -> None:
        self.name = name
        self.queue = queue
        self._reconcile = reconcile
        self._clock = clock or SystemClock()
        self._on_done = on_done
        self._stop = threading.Event()
        self._failing: set[str] = set()
        self._lock = threading.Lock()
        self._loops = [
            Supervised(f"{name}-{i}", self._work, clock=self._clock, stop_event=self._stop)
            for i in range(count)
        ]

    def start(self) -> Workers:
        for loop in self._loops:
            loop.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.queue.wake()
        for loop in self._loops:
            loop.stop(timeout)

    def _work(self, stop: threading.Event) -> None:
        while not stop.is_set():
            key = self.queue.get(stop)
            if key is None:
                continue
            started = self._clock.monotonic()
            error: BaseException | None = None
            try:
                again = self._reconcile(key)
            except Exception as exc:
                error = exc
                self._failed(key, exc, quiet=_retry_later(exc))
            else:
                self._succeeded(key, again)
            finally:
                self.queue.done(key)
                if self._on_done is not None:
                    self._on_done(key, self._clock.monotonic() - started, error)

    def _failed(self, key: str, exc: Exception, quiet: bool) -> None:
        delay = self.queue.add_rate_limited(key)
        with self._lock:
            first = key not in self._failing
            self._failing.add(key)
        if not quiet:
            log.error("%s: %s failed; retrying in %.1fs", self.name, key, delay, exc_info=exc)
        elif first:
            log.warning("%s: %s: %s; retrying with back-off", self.name, key, exc)

    def _succeeded(self, key: str, again: float | None) -> None:
        self.queue.forget(key)
        with self._lock:
            recovered = key in self._failing
            self._failing.discard(key)
        if recovered:
            log.info("%s: %s reconciled again", self.name, key)
        if again is not None:
            self.queue.add_after(key, again)
