"""Reconcilers and the workers that run them.

A reconciler has one method: given a key, make the world match what the caches say should be,
and return `Result.done()` or `Result.again(after=N)`. It never sees the event that woke it.
`Workers` take keys from a `WorkQueue` and run the reconciler: an error is logged and the key
retried with the queue's per-key back-off; `again(N)` adds it back after N seconds; `done`
resets its back-off. A retryable error (etcd or the container engine out of reach) is logged
once per key until that key reconciles again, so an outage is one warning per key, not one per
retry; anything else is logged with its traceback every time, as it is a bug or a surprise.

Shared by the controller's reconcilers and the node agent's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from core.clock import Clock, SystemClock
from core.errors import is_retryable
from core.supervise import Supervised
from core.workqueue import WorkQueue

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)

__all__ = ["Reconciler", "Result", "Workers"]


@dataclass(frozen=True, slots=True)
class Result:
    """What a reconcile asks for next: nothing (`after` None), or another look in `after` s."""

    after: float | None = None

    @classmethod
    def done(cls) -> Result:
        return _DONE

    @classmethod
    def again(cls, after: float) -> Result:
        return cls(max(0.0, after))

    def sooner(self, other: Result) -> Result:
        """The result that asks for the earlier look."""
        if other.after is None:
            return self
        if self.after is None or other.after < self.after:
            return other
        return self


_DONE = Result()


class Reconciler(Protocol[K_contra]):
    def reconcile(self, key: K_contra) -> Result: ...


Observe = Callable[[float, bool], None]
"""Called after each reconcile with its duration in seconds and whether it failed."""


class Workers(Generic[K]):
    """`count` supervised threads running `reconciler` over `queue` until it shuts down."""

    def __init__(
        self,
        name: str,
        queue: WorkQueue[K],
        reconciler: Reconciler[K],
        count: int = 1,
        *,
        clock: Clock | None = None,
        observe: Observe | None = None,
    ) -> None:
        self.name = name
        self.queue = queue
        self.reconciler = reconciler
        self._observe = observe
        self._failing: set[K] = set()  # keys whose retryable failure was logged already
        self._lock = threading.Lock()
        clock = clock or SystemClock()
        self._threads = [
            Supervised(f"{name} worker {i}", self._run, clock=clock) for i in range(count)
        ]

    def start(self) -> Workers[K]:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Shut the queue down (waking idle workers) and join every worker."""
        self.queue.shutdown()
        for thread in self._threads:
            thread.stop(timeout)

    def is_alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            key = self.queue.get()
            if key is None:
                return
            try:
                self.process(key)
            finally:
                self.queue.done(key)

    def process(self, key: K) -> None:
        """Reconcile one key that this thread holds, and schedule what comes next for it."""
        started = time.perf_counter()
        failed = False
        try:
            result = self.reconciler.reconcile(key)
        except Exception as exc:
            failed = True
            if is_retryable(exc):
                with self._lock:
                    first = key not in self._failing
                    self._failing.add(key)
                if first:
                    log.warning("%s %s: %s; retrying with back-off", self.name, key, exc)
            else:
                log.exception("%s %s: reconcile failed; retrying with back-off", self.name, key)
            self.queue.add_rate_limited(key)
        else:
            with self._lock:
                recovered = key in self._failing
                self._failing.discard(key)
            if recovered:
                log.info("%s %s: reconciled again", self.name, key)
            self.queue.forget(key)
            if result.after is not None:
                self.queue.add_after(key, result.after)
        finally:
            if self._observe is not None:
                self._observe(time.perf_counter() - started, failed)
