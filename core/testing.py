"""Helpers for tests of anything built on the Store: wait on a condition, record a watch.

Tests never sleep for a fixed time; they wait for a condition with a deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from core.store import EventType, Listing, WatchEvent

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.01, what: str = ""
) -> T:
    """Poll `predicate` until it returns something truthy, and return that; AssertionError
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


class RecordingHandler:
    """A WatchHandler that keeps what it is given and rebuilds a cache as an informer would.

    `events` and `relists` are everything delivered, in order; `state` is key -> value as
    seen through the watch (replaced by each re-list, updated by each event).
    """

    def __init__(self) -> None:
        self.events: list[WatchEvent] = []
        self.relists: list[Listing] = []
        self.state: dict[str, bytes] = {}
        self.revision = 0
        self._cond = threading.Condition()

    def on_events(self, events: Sequence[WatchEvent]) -> None:
        with self._cond:
            for event in events:
                assert event.mod_revision >= self.revision, "events out of order"
                self.events.append(event)
                if event.type is EventType.PUT:
                    self.state[event.key] = event.value
                else:
                    self.state.pop(event.key, None)
                self.revision = event.mod_revision
            self._cond.notify_all()

    def on_relist(self, listing: Listing) -> None:
        with self._cond:
            self.relists.append(listing)
            self.state = {kv.key: kv.value for kv in listing.items}
            self.revision = listing.revision
            self._cond.notify_all()

    def wait_for(
        self, predicate: Callable[[RecordingHandler], bool], timeout: float = 10.0, what: str = ""
    ) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout):
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what or 'watch condition'}; "
                    f"have {len(self.events)} events, {len(self.relists)} relists, "
                    f"revision {self.revision}"
                )

    def wait_for_revision(self, revision: int, timeout: float = 10.0) -> None:
        self.wait_for(lambda h: h.revision >= revision, timeout, f"revision {revision}")

    def snapshot(self) -> list[tuple[str, str, int]]:
        """(type, key, mod_revision) of every event so far."""
        with self._cond:
            return [(e.type.value, e.key, e.mod_revision) for e in self.events]
