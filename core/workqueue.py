"""The work queue: keys waiting to be reconciled, each handed to one worker at a time.

As client-go's rate-limited delaying queue:

- `add` puts a key on the queue unless it is already waiting (deduplication);
- `get` hands the oldest waiting key to a worker, which calls `done` when finished; a key
  added again while a worker has it waits until `done`, so no key is ever processed by two
  workers at once, and the change that arrived meanwhile is not lost;
- `add_after` adds a key once a delay has passed (the earliest of several delays wins);
- `add_rate_limited` adds it after the rate limiter's delay for that key (exponential per key
  by default), and `forget` resets that key's back-off once it succeeded;
- `claim` lets another loop (the scheduling pass) hold a key as a worker would.

Delays run on the injected clock, in a supervised loop of their own.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

from core.clock import Clock, SystemClock
from core.supervise import Supervised

K = TypeVar("K", bound=Hashable)

__all__ = ["ExponentialRateLimiter", "RateLimiter", "WorkQueue"]


class RateLimiter(Protocol):
    def when(self, key: Hashable) -> float:
        """Seconds to wait before retrying `key`; counts one more failure of it."""
        ...

    def forget(self, key: Hashable) -> None:
        """`key` succeeded: start its back-off over."""
        ...

    def retries(self, key: Hashable) -> int:
        """Failures of `key` since it was last forgotten."""
        ...


class ExponentialRateLimiter:
    """base, base*factor, base*factor², … capped at maximum, counted per key."""

    def __init__(self, base: float = 0.05, maximum: float = 60.0, factor: float = 2.0) -> None:
        if base <= 0 or maximum < base or factor < 1:
            raise ValueError("the rate limiter needs 0 < base <= maximum and factor >= 1")
        self.base = base
        self.maximum = maximum
        self.factor = factor
        self._failures: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def when(self, key: Hashable) -> float:
        with self._lock:
            n = self._failures.get(key, 0)
            self._failures[key] = n + 1
        # Cap the exponent too, so a key that failed a thousand times does not overflow.
        return float(min(self.maximum, self.base * self.factor ** min(n, 64)))

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def retries(self, key: Hashable) -> int:
        with self._lock:
            return self._failures.get(key, 0)


class WorkQueue(Generic[K]):
    def __init__(
        self,
        name: str,
        *,
        clock: Clock | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self.name = name
        self._clock = clock or SystemClock()
        self.rate_limiter: RateLimiter = rate_limiter or ExponentialRateLimiter()
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # getters wait here for work
        self._released = threading.Condition(lock)  # claimers wait here for a worker's done
        # A key is handed out when it is popped while dirty and not being processed; stale
        # copies in the deque (claimed keys, keys handed out through a later copy) are skipped.
        self._order: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._waiting: dict[K, float] = {}  # key -> when it is due (clock.monotonic())
        self._heap: list[tuple[float, int, K]] = []
        self._seq = itertools.count()
        self._shutdown = False
        self.on_drained: Callable[[], None] | None = None
        """Called (outside the queue's lock) when a `done` leaves nothing waiting or held."""
        self._wake = threading.Event()
        self._delaying = Supervised(f"queue {name} delays", self._run_delays, clock=self._clock)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> WorkQueue[K]:
        self._delaying.start()
        return self

    def shutdown(self) -> None:
        """Stop handing out keys (waiting `get`s return None) and stop the delay loop."""
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()
            self._released.notify_all()
        self._delaying.stop_event.set()
        self._wake.set()
        self._delaying.stop()

    @property
    def shutting_down(self) -> bool:
        with self._cond:
            return self._shutdown

    # -- adding ------------------------------------------------------------------------

    def add(self, key: K) -> None:
        with self._cond:
            self._add_locked(key)

    def add_all(self, keys: list[K]) -> None:
        with self._cond:
            for key in keys:
                self._add_locked(key)

    def _add_locked(self, key: K) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._order.append(key)
            self._cond.notify()

    def add_after(self, key: K, delay: float) -> None:
        """Add `key` once `delay` seconds have passed; an earlier pending delay wins."""
        if delay <= 0:
            self.add(key)
            return
        due = self._clock.monotonic() + delay
        with self._cond:
            if self._shutdown:
                return
            current = self._waiting.get(key)
            if current is not None and current <= due:
                return
            self._waiting[key] = due
            seq = next(self._seq)
            heapq.heappush(self._heap, (due, seq, key))
            first = self._heap[0][1] == seq
        if first:  # the delay loop sleeps until the earliest due time: wake it to re-plan
            self._wake.set()

    def add_rate_limited(self, key: K) -> None:
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: K) -> None:
        self.rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return self.rate_limiter.retries(key)

    # -- taking ------------------------------------------------------------------------

    def get(self, timeout: float | None = None) -> K | None:
        """The next key, marked as being processed; None on shutdown or after `timeout`
        seconds (real time: this waits for work, not for a moment)."""
        with self._cond:
            while True:
                while self._order:
                    key = self._order.popleft()
                    if key in self._dirty and key not in self._processing:
                        self._dirty.discard(key)
                        self._processing.add(key)
                        return key
                if self._shutdown:
                    return None
                if not self._cond.wait(timeout) and timeout is not None:
                    return None

    def done(self, key: K) -> None:
        """The worker finished `key`; if it was added meanwhile, it waits again."""
        with self._cond:
            self._processing.discard(key)
            self._released.notify_all()
            if key in self._dirty and not self._shutdown:
                self._order.append(key)
                self._cond.notify()
            drained = not self._dirty and not self._processing
        if drained and self.on_drained is not None:
            self.on_drained()

    def busy(self) -> bool:
        """Keys waiting to be handed out, or being processed (delayed ones do not count)."""
        with self._cond:
            return bool(self._dirty or self._processing)

    def claim(self, key: K, *, wait: bool = True) -> bool:
        """Hold `key` as a worker would, until `done`; False on shutdown (or, without `wait`,
        when a worker has it). With `wait`, a worker's hold is waited out: reconciles are
        short, and the caller must hold no lock a reconcile could need.

        A claimed key that was added stays added: it is handed out after `done`.
        """
        with self._cond:
            while key in self._processing and wait and not self._shutdown:
                self._released.wait()
            if self._shutdown or key in self._processing:
                return False
            self._processing.add(key)
            return True

    def claim_all(self, keys: list[K]) -> list[K]:
        """`claim` each key, in one go: those a worker holds are waited for afterwards, one by
        one; returns the keys claimed (all of them unless the queue shuts down)."""
        with self._cond:
            if self._shutdown:
                return []
            busy = [key for key in keys if key in self._processing]
            free = [key for key in keys if key not in self._processing]
            self._processing.update(free)
        return free + [key for key in busy if self.claim(key)]

    def done_all(self, keys: list[K]) -> None:
        """`done` for each key, in one go."""
        with self._cond:
            self._processing.difference_update(keys)
            self._released.notify_all()
            again = [key for key in keys if key in self._dirty] if not self._shutdown else []
            self._order.extend(again)
            if again:
                self._cond.notify(len(again))
            drained = not self._dirty and not self._processing
        if drained and self.on_drained is not None:
            self.on_drained()

    # -- inspection --------------------------------------------------------------------

    def __len__(self) -> int:
        """Keys waiting to be handed out (not counting delayed ones)."""
        with self._cond:
            return len(self._dirty - self._processing) if self._processing else len(self._dirty)

    def delayed(self) -> int:
        with self._cond:
            return len(self._waiting)

    def processing(self) -> int:
        with self._cond:
            return len(self._processing)

    def idle(self) -> bool:
        """Nothing waiting, delayed or being processed."""
        with self._cond:
            return not self._dirty and not self._processing and not self._waiting

    # -- the delay loop ----------------------------------------------------------------

    def _run_delays(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            with self._cond:
                now = self._clock.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    due, _, key = heapq.heappop(self._heap)
                    if self._waiting.get(key) == due:
                        del self._waiting[key]
                        self._add_locked(key)
                timeout = self._heap[0][0] - now if self._heap else 3600.0
            self._clock.wait(self._wake, timeout)
