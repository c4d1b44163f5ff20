"""File events for a sync: watchdog tells that something under the directory changed, and
`DirectoryWatch.wait` turns a burst of events into one wake-up.

The watchdog handler does nothing but note the time and set an event (no reading, no
planning in watchdog's thread). Only events that can change what the loader reads count:
created, modified, deleted, moved and closed-after-writing, of manifest files (`*.yaml`,
`*.yml`, `*.json`, not hidden) and of directories. Opening and reading a file (which the sync
itself does on every pass) is not a change; nor is an editor's swap or backup file.

Debouncing: after the first event, a pass waits until no event came for `debounce` seconds,
but never longer than `max_delay` after that first event.
"""

from __future__ import annotations

import logging
import os
import threading
from types import TracebackType
from typing import Literal

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from core.clock import Clock
from shoal.sync_sources import is_manifest_path

log = logging.getLogger(__name__)

Wake = Literal["files", "interval"]

_CHANGES = {
    EVENT_TYPE_CREATED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MOVED,
    EVENT_TYPE_CLOSED,
}


def _text(path: str | bytes) -> str:
    return os.fsdecode(path)


def is_relevant(directory: str, event: FileSystemEvent) -> bool:
    if event.event_type not in _CHANGES:
        return False
    paths = [_text(event.src_path)]
    if event.dest_path:
        paths.append(_text(event.dest_path))
    if event.is_directory:
        if event.event_type == EVENT_TYPE_MODIFIED:
            return False  # a file in it changed: that file's own event says so
        return any(
            not any(p.startswith(".") for p in os.path.relpath(path, directory).split(os.sep))
            for path in paths
        )
    return any(is_manifest_path(directory, path) for path in paths)


class _Handler(FileSystemEventHandler):
    def __init__(self, watch: DirectoryWatch) -> None:
        self._watch = watch

    def on_any_event(self, event: FileSystemEvent) -> None:
        if is_relevant(self._watch.directory, event):
            self._watch.poke()


class DirectoryWatch:
    def __init__(
        self,
        directory: str,
        wake: threading.Event,
        *,
        clock: Clock,
        debounce: float,
        max_delay: float,
    ) -> None:
        self.directory = os.path.abspath(directory)
        self._wake = wake
        self._clock = clock
        self._debounce = debounce
        self._max_delay = max(max_delay, debounce)
        self._lock = threading.Lock()
        self._first: float | None = None
        self._last = 0.0
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._inode: int | None = None
        self._entered = False
        self._watched_before = False
        self.pokes = 0

    def __enter__(self) -> DirectoryWatch:
        self._entered = True
        self.ensure()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._entered = False
        self._close()

    def ensure(self) -> None:
        """Watch the directory, again if it was removed and made anew (a new inode: the old
        inotify watch went with the old one); when it is missing, only the periodic passes
        run until it is back."""
        if not self._entered:
            return
        try:
            inode = os.stat(self.directory).st_ino
        except OSError:
            inode = None
        watching = self._observer is not None and self._observer.is_alive()
        if inode == self._inode and (watching or inode is None):
            return
        self._close()
        self._inode = inode
        if inode is None:
            log.warning("%s is not there: only the periodic passes run", self.directory)
            return
        observer = Observer()
        observer.name = f"watchdog {self.directory}"
        observer.schedule(_Handler(self), self.directory, recursive=True)
        observer.start()
        if self._watched_before:
            self.poke()  # what changed while nothing watched would go unseen until the interval
        self._observer = observer
        self._watched_before = True

    def _close(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)

    def poke(self) -> None:
        """Something changed (called from watchdog's thread, or by a test)."""
        with self._lock:
            now = self._clock.monotonic()
            self._last = now
            if self._first is None:
                self._first = now
            self.pokes += 1
        self._wake.set()

    def wait(self, stop: threading.Event, timeout: float) -> Wake | None:
        """Until files changed (and settled), `timeout` passed, or `stop`: which one."""
        self.ensure()
        if not self._clock.wait(self._wake, timeout):
            return "interval"
        if stop.is_set():
            return None
        while True:
            with self._lock:
                now = self._clock.monotonic()
                first = self._first if self._first is not None else now
                left = min(self._last + self._debounce, first + self._max_delay) - now
                if left <= 0:
                    self._first = None
                    self._wake.clear()
                    return "files"
            if self._clock.wait(stop, left):
                return None
