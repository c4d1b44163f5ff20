"""Informers: list a prefix at one revision, then watch it from the next.

`Informer.start()` lists synchronously, so when it returns the cache holds everything as of
the listing; the watch (core's resumable watch) then delivers every later change once and in
order, re-connects after a broken stream, and after a compaction re-lists (`on_relist`),
which replaces the cache as the first listing did. What the events mean is the sink's
business (`controller.cluster.ClusterState`); the informer only carries them.

An informer over keys only this controller writes (bindings, statuses) need not watch: the
cache already holds every write the moment it is decided (see `controller.cache`), and
watching would only bring each one back as an echo, thousands a second in a burst. Such an
informer lists at start and again at every `relist()` (the controller's resync), which is
when a change made by hand (etcdctl) is noticed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from core.store import Listing, Store, Watcher, WatchEvent

log = logging.getLogger(__name__)

__all__ = ["Informer", "Sink"]


class Sink(Protocol):
    def replace(self, prefix: str, listing: Listing) -> None: ...

    def apply(self, events: Sequence[WatchEvent]) -> None: ...


class Informer:
    def __init__(self, store: Store, prefix: str, sink: Sink, *, watch: bool = True) -> None:
        self.store = store
        self.prefix = prefix
        self.watches = watch
        self._sink = sink
        self._watcher: Watcher | None = None
        self.listed_revision = 0

    def start(self) -> Informer:
        listing = self.store.list(self.prefix)
        self._sink.replace(self.prefix, listing)
        self.listed_revision = listing.revision
        log.debug(
            "listed %d keys under %s at revision %d", len(listing), self.prefix, listing.revision
        )
        if self.watches:
            self._watcher = self.store.watch(self.prefix, listing.revision + 1, self)
        return self

    def relist(self) -> None:
        """List again and hand the listing to the sink (for an informer that does not watch)."""
        listing = self.store.list(self.prefix)
        self._sink.replace(self.prefix, listing)
        self.listed_revision = listing.revision

    @property
    def revision(self) -> int:
        """The last revision whose changes the sink has seen."""
        return self._watcher.revision if self._watcher is not None else self.listed_revision

    def stop(self, timeout: float = 5.0) -> None:
        if self._watcher is not None:
            self._watcher.stop(timeout)

    def is_alive(self) -> bool:
        """True while watching (an informer that does not watch is never alive)."""
        return self._watcher is not None and self._watcher.is_alive()

    # -- WatchHandler ------------------------------------------------------------------

    def on_events(self, events: Sequence[WatchEvent]) -> None:
        self._sink.apply(events)

    def on_relist(self, listing: Listing) -> None:
        log.info(
            "re-listed %s at revision %d (%d keys)", self.prefix, listing.revision, len(listing)
        )
        self._sink.replace(self.prefix, listing)
