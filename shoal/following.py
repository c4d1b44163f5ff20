"""Following keys for `get -w` and `events -w`: list, then watch, in one printing thread.

`Follower` lists its prefixes, hands the caller every object found, then watches each
prefix from the revision of its listing and hands over every object a change touches. The
watches (core's resuming watches, which carry on by themselves when etcd restarts) only put
what they receive on a queue; the caller's thread takes it off, updates a key -> value
cache and calls the sink, so printing is never concurrent. A supervised connection monitor
pings etcd every second and puts a one-line notice on the same queue when the connection is
lost and when it is back.

Objects are named by `ident(key)` (a task's `<ns>/<name>`, a node's name): several keys can
make one object (a task and its status), and the sink builds the object from the cache. Every
event makes one call, in revision order, even when etcd delivers several in one batch; only
a re-list (after compaction) folds what changed into one call per object.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.clock import Clock, SystemClock
from core.errors import Unavailable
from core.store import EventType, Listing, Store, WatchCallbacks, Watcher, WatchEvent
from core.supervise import Supervised

Ident = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Cached:
    value: bytes
    mod_revision: int


Cache = dict[str, Cached]


class Sink(Protocol):
    def initial(self, idents: Sequence[str], cache: Cache) -> None:
        """Everything there was when following began, sorted by ident."""

    def changed(self, ident: str, cache: Cache) -> None:
        """One object was touched by a change (it may be gone from the cache now)."""

    def notice(self, text: str) -> None:
        """A line about the connection, for stderr."""


class ConnectionMonitor:
    """Pings the store every `interval` seconds; reports a lost and a restored connection."""

    def __init__(
        self,
        store: Store,
        report: Callable[[str], None],
        *,
        endpoints: Sequence[str],
        clock: Clock,
        interval: float = 1.0,
    ) -> None:
        self._store = store
        self._report = report
        self._endpoints = ", ".join(endpoints)
        self._clock = clock
        self._interval = interval
        self._down = False
        self._loop = Supervised("etcd connection monitor", self._run, clock=clock)

    def start(self) -> ConnectionMonitor:
        self._loop.start()
        return self

    def stop(self) -> None:
        self._loop.stop()

    def _run(self, stop: threading.Event) -> None:
        while not self._clock.wait(stop, self._interval):
            try:
                self._store.ping(timeout=self._interval)
            except Unavailable:
                if not self._down:
                    self._down = True
                    self._report(
                        f"lost connection to etcd at {self._endpoints}; "
                        "waiting for it to come back…"
                    )
                continue
            if self._down:
                self._down = False
                self._report("connection to etcd restored; following changes again")


class Follower:
    def __init__(
        self,
        store: Store,
        prefixes: Sequence[str],
        ident: Ident,
        *,
        endpoints: Sequence[str] = (),
        clock: Clock | None = None,
        ping_interval: float = 1.0,
    ) -> None:
        self._store = store
        self._prefixes = list(prefixes)
        self._ident = ident
        self._endpoints = endpoints
        self._clock = clock or SystemClock()
        self._ping_interval = ping_interval
        self.cache: Cache = {}
        self._queue: queue.SimpleQueue[tuple[str, str, object]] = queue.SimpleQueue()

    def run(self, sink: Sink, stop: threading.Event | None = None) -> None:
        """List, then follow until `stop` is set (or Ctrl-C raises KeyboardInterrupt here)."""
        stop = stop or threading.Event()
        listings = [self._store.list(prefix) for prefix in self._prefixes]
        for listing in listings:
            self._load(listing)
        found = {i for i in (self._ident(k) for k in self.cache) if i is not None}
        sink.initial(sorted(found), self.cache)
        watchers: list[Watcher] = []
        monitor = ConnectionMonitor(
            self._store,
            lambda text: self._queue.put(("notice", "", text)),
            endpoints=self._endpoints,
            clock=self._clock,
            interval=self._ping_interval,
        )
        try:
            for prefix, listing in zip(self._prefixes, listings, strict=True):
                watchers.append(self._watch(prefix, listing.revision + 1))
            monitor.start()
            while not stop.is_set():
                try:
                    kind, prefix, payload = self._queue.get(timeout=0.2)
                except queue.Empty:
                    continue
                self._handle(sink, kind, prefix, payload)
        finally:
            monitor.stop()
            for watcher in watchers:
                watcher.stop()

    def _watch(self, prefix: str, start: int) -> Watcher:
        def on_events(events: Sequence[WatchEvent]) -> None:
            self._queue.put(("events", prefix, list(events)))

        def on_relist(listing: Listing) -> None:
            self._queue.put(("relist", prefix, listing))

        return self._store.watch(prefix, start, WatchCallbacks(on_events, on_relist))

    def _load(self, listing: Listing) -> None:
        for kv in listing:
            if self._ident(kv.key) is not None:
                self.cache[kv.key] = Cached(kv.value, kv.mod_revision)

    def _handle(self, sink: Sink, kind: str, prefix: str, payload: object) -> None:
        if kind == "notice":
            assert isinstance(payload, str)
            sink.notice(payload)
            return
        touched: list[str] = []
        if kind == "events":
            # One change, one call, even when etcd hands several in one batch (a watch that
            # catches up sends them together): a follower must see every state, in order.
            assert isinstance(payload, list)
            for event in payload:
                ident = self._ident(event.key)
                if ident is None:
                    continue
                if event.type is EventType.PUT:
                    self.cache[event.key] = Cached(event.value, event.mod_revision)
                else:
                    self.cache.pop(event.key, None)
                sink.changed(ident, self.cache)
        elif kind == "relist":
            assert isinstance(payload, Listing)
            before = {k: v for k, v in self.cache.items() if k.startswith(prefix)}
            for key in before:
                del self.cache[key]
            self._load(payload)
            after = {k: v for k, v in self.cache.items() if k.startswith(prefix)}
            for key in sorted(before.keys() | after.keys()):
                ident = self._ident(key)
                if ident is not None and before.get(key) != after.get(key) and ident not in touched:
                    touched.append(ident)
        for ident in touched:
            sink.changed(ident, self.cache)
