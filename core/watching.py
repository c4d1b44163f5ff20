"""Watching a prefix so the consumer sees every change exactly once, in order.

`ResumingWatch` holds what both stores share: it remembers the next revision the consumer
needs; when the connection breaks it waits (back-off, logged once) and resumes from there;
when that revision has been compacted away it re-lists, hands the listing to
`handler.on_relist`, and continues from the listing's revision. Events already delivered are
dropped if a resumed stream repeats them, so the handler never sees one twice.

A subclass supplies `_stream(start_revision, stop)`: open a stream of events from
`start_revision`, call `_connected()` once it is established, `_deliver(events)` for each batch
(all events of one revision in the same batch) and `_progress(revision)` when the store says
nothing under the prefix changed up to `revision`; return when `stop` is set; raise
`Unavailable` if the connection is lost and `Compacted` if the revision is gone.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from core.clock import Clock, SystemClock
from core.errors import Compacted, InvalidRequest, Unavailable
from core.store import Listing, WatchEvent, WatchHandler
from core.supervise import Backoff, Supervised

log = logging.getLogger(__name__)

Lister = Callable[[str], Listing]


class ResumingWatch(ABC):
    def __init__(
        self,
        prefix: str,
        start_revision: int | None,
        handler: WatchHandler,
        lister: Lister,
        *,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        name: str | None = None,
    ) -> None:
        if start_revision is not None and start_revision < 1:
            raise InvalidRequest(f"a watch starts at revision 1 or later, not {start_revision}")
        self.prefix = prefix
        self._handler = handler
        self._lister = lister
        self._clock = clock or SystemClock()
        self._backoff = backoff or Backoff(initial=0.1, maximum=5.0)
        self._next = start_revision or 1
        self._relist_needed = start_revision is None
        self._failing = False
        self._supervised = Supervised(
            name or f"watch {prefix}", self._run, clock=self._clock, backoff=Backoff(0.2, 5.0)
        )

    # -- public ------------------------------------------------------------------------

    def start(self) -> ResumingWatch:
        self._supervised.start()
        return self

    @property
    def revision(self) -> int:
        """The last revision whose events have all been handed to the handler."""
        return self._next - 1

    def stop(self, timeout: float = 5.0) -> None:
        self._supervised.stop_event.set()
        self._interrupt()
        self._supervised.stop(timeout)

    def is_alive(self) -> bool:
        return self._supervised.is_alive()

    # -- the loop ----------------------------------------------------------------------

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if self._relist_needed:
                    self._relist()
                self._stream(self._next, stop)
            except Compacted as exc:
                log.info(
                    "watch %s: revision %d was compacted (history starts at %s); re-listing",
                    self.prefix,
                    self._next,
                    exc.compacted_revision,
                )
                self._relist_needed = True
            except Unavailable as exc:
                if not self._failing:
                    log.warning("watch %s: %s; retrying with back-off", self.prefix, exc)
                    self._failing = True
                else:
                    log.debug("watch %s: still unavailable: %s", self.prefix, exc)
                self._clock.wait(stop, self._backoff.next())

    def _relist(self) -> None:
        listing = self._lister(self.prefix)
        self._handler.on_relist(listing)
        self._next = listing.revision + 1
        self._relist_needed = False

    # -- for subclasses ----------------------------------------------------------------

    def _connected(self) -> None:
        if self._failing:
            log.info("watch %s: resumed from revision %d", self.prefix, self._next)
            self._failing = False
        self._backoff.reset()

    def _deliver(self, events: Sequence[WatchEvent]) -> None:
        fresh = [event for event in events if event.mod_revision >= self._next]
        if not fresh:
            return
        self._handler.on_events(fresh)
        self._next = fresh[-1].mod_revision + 1

    def _progress(self, revision: int) -> None:
        self._next = max(self._next, revision + 1)

    @abstractmethod
    def _stream(self, start_revision: int, stop: threading.Event) -> None: ...

    @abstractmethod
    def _interrupt(self) -> None:
        """Wake a `_stream` blocked waiting for events, so it sees the stop event."""
