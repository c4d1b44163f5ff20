"""Supervised loops: every background activity is a thread with a stop event.

A `Supervised` runs `target(stop_event)` in a thread. When the target raises, the failure is
logged with its traceback and the target is started again after an exponential back-off;
when it returns normally the loop is finished. `stop()` sets the event and joins the thread,
so nothing is left running when a component shuts down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from core.clock import Clock, SystemClock

log = logging.getLogger(__name__)


class Backoff:
    """Exponential back-off: initial, initial*factor, … capped at maximum; reset() starts over."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, factor: float = 2.0) -> None:
        if initial <= 0 or maximum < initial or factor < 1:
            raise ValueError("back-off needs 0 < initial <= maximum and factor >= 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._next = initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        return delay

    def reset(self) -> None:
        self._next = self.initial


class Supervised:
    def __init__(
        self,
        name: str,
        target: Callable[[threading.Event], None],
        *,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        stop_event: threading.Event | None = None,
    ) -> None:
        self.name = name
        self._target = target
        self._clock = clock or SystemClock()
        self._backoff = backoff or Backoff()
        self.stop_event = stop_event or threading.Event()
        self.failures = 0
        self._thread: threading.Thread | None = None

    def start(self) -> Supervised:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} was already started")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self._target(self.stop_event)
                return
            except Exception:
                self.failures += 1
                delay = self._backoff.next()
                log.exception("%s failed; restarting in %.1fs", self.name, delay)
                self._clock.wait(self.stop_event, delay)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the loop to stop and wait for its thread (at most `timeout` seconds)."""
        self.stop_event.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("%s did not stop within %.1fs", self.name, timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Supervised:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
