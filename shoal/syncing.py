"""GitOps: keep etcd's tasks equal to the manifests under a directory.

`DirectorySync` applies everything under its directory, then again whenever a file there
changes (watchdog, debounced so an editor's burst of writes makes one pass) and every
`interval` seconds, so that drift made behind its back (a task edited, stopped or deleted
with the CLI) is put right. It is a `Supervised` loop, importable so `shoal up --sync DIR`
can run it in-process:

    sync = DirectorySync(store, keys, SyncOptions("manifests", name="demo", prune=True))
    sync.start()            # ... later
    sync.stop()

One pass (`run_pass`): read what changed (`Sources`; an invalid file keeps its last good
tasks), plan every task as apply does, with the label `shoal.sync=<name>` and the annotation
`shoal.sync/file=<file>` added; never write a task that another sync owns; with `prune`,
delete the tasks this sync owns that no file defines any more, except those of a file that is
there but does not load; write the plan with revision guards; record the outcome at
`<prefix>/syncs/<name>`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from core.clock import Clock, SystemClock
from core.errors import ShoalError, Unavailable
from core.keys import Keys
from core.store import Store
from core.supervise import Backoff, Supervised
from core.typed_store import get_model, put_model
from shoal.sync_events import DirectoryWatch
from shoal.sync_pass import PassOutcome, run_pass
from shoal.sync_sources import Sources
from shoal.sync_status import SyncMeta, SyncRecord, SyncSpec, SyncState

log = logging.getLogger(__name__)

ProgressFactory = Callable[[int, str], AbstractContextManager[Callable[[int], None]]]


@dataclass(frozen=True)
class SyncOptions:
    directory: str
    name: str
    interval: float = 30.0
    prune: bool = False
    allow_empty: bool = False
    debounce: float = 0.2
    """Quiet time after the last file event before a pass starts."""
    max_delay: float = 1.0
    """A pass starts at most this long after the first event, however busy the writer."""


class SyncReporter:
    """What a sync tells a person; the default logs. The CLI prints instead."""

    def changed(self, line: str) -> None:
        log.info("sync: %s", line)

    def problems(self, problems: list[str]) -> None:
        """The problems of a pass, when they differ from the previous pass's."""
        for problem in problems:
            log.warning("sync: %s", problem)
        if not problems:
            log.info("sync: no problems any more")


class SyncNameTaken(ShoalError):
    """Another directory is already synced under this name."""


class DirectorySync:
    def __init__(
        self,
        store: Store,
        keys: Keys,
        options: SyncOptions,
        *,
        clock: Clock | None = None,
        reporter: SyncReporter | None = None,
        progress: ProgressFactory | None = None,
    ) -> None:
        self.store = store
        self.keys = keys
        self.options = options
        self.clock = clock or SystemClock()
        self.reporter = reporter or SyncReporter()
        self._progress = progress
        self.sources = Sources(options.directory)
        self.record = SyncRecord(
            metadata=SyncMeta(name=options.name),
            spec=SyncSpec(
                directory=os.path.realpath(options.directory),
                host=socket.gethostname(),
                pid=os.getpid(),
                prune=options.prune,
                allowEmpty=options.allow_empty,
                interval=options.interval,
            ),
            status=SyncState(startedAt=self.clock.now()),
        )
        self.passes = 0
        self._last_problems: list[str] | None = None
        self._wake = threading.Event()
        self._events = DirectoryWatch(
            options.directory,
            self._wake,
            clock=self.clock,
            debounce=options.debounce,
            max_delay=options.max_delay,
        )
        self._loop = Supervised(f"sync {options.name}", self._run, clock=self.clock)

    # -- public ------------------------------------------------------------------------

    def claim(self, *, takeover: bool = False) -> None:
        """Refuse to run when this name already syncs another directory (or host)."""
        existing = get_model(self.store, self.keys.sync(self.options.name), SyncRecord)
        if existing is None or takeover:
            return
        theirs, ours = existing.model.spec, self.record.spec
        if (theirs.host, theirs.directory) != (ours.host, ours.directory):
            raise SyncNameTaken(
                f"the sync name {self.options.name!r} is already used for "
                f"{theirs.directory} on {theirs.host}; pick another with --name, "
                "or pass --takeover to adopt its tasks"
            )

    def run_once(self, trigger: str = "start") -> PassOutcome:
        """One pass in the calling thread (for --once, and for tests)."""
        if self.passes == 0:
            self._carry_over()
        outcome = run_pass(
            self.store,
            self.keys,
            self.sources,
            self.options,
            clock=self.clock,
            progress=self._progress if self.passes == 0 else None,
        )
        self.passes += 1
        self._report(outcome, trigger)
        return outcome

    def start(self) -> DirectorySync:
        self._loop.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._loop.stop_event.set()
        self._wake.set()
        self._loop.stop(timeout)

    def is_alive(self) -> bool:
        return self._loop.is_alive()

    # -- the loop ----------------------------------------------------------------------

    def _run(self, stop: threading.Event) -> None:
        backoff = Backoff(initial=1.0, maximum=max(1.0, self.options.interval))
        with self._events:
            trigger = "start"
            try:
                while not stop.is_set():
                    outcome = self.run_once(trigger)
                    if outcome.failed:
                        delay = min(self.options.interval, backoff.next())
                    else:
                        backoff.reset()
                        delay = self.options.interval
                    woke = self._events.wait(stop, delay)
                    if woke is None:
                        return
                    trigger = woke
            finally:
                self._stopped()

    def _report(self, outcome: PassOutcome, trigger: str) -> None:
        for line in outcome.lines:
            self.reporter.changed(line)
        if outcome.problems != self._last_problems:
            if outcome.problems or self._last_problems:
                self.reporter.problems(outcome.problems)
            self._last_problems = list(outcome.problems)
        self.record = outcome.record(self.record, trigger, self.clock.now())
        self._write_record()

    def _carry_over(self) -> None:
        """Keep the last writes an earlier run of this sync recorded (a restart loses none)."""
        try:
            existing = get_model(self.store, self.keys.sync(self.options.name), SyncRecord)
        except ShoalError:
            return
        if existing is not None:
            old = existing.model.status
            state = self.record.status.model_copy(
                update={"lastChange": old.lastChange, "lastChanges": old.lastChanges}
            )
            self.record = self.record.model_copy(update={"status": state})

    def _stopped(self) -> None:
        state = self.record.status.model_copy(update={"stoppedAt": self.clock.now()})
        self.record = self.record.model_copy(update={"status": state})
        self._write_record()

    def _write_record(self) -> None:
        try:
            put_model(self.store, self.keys.sync(self.options.name), self.record)
        except Unavailable as exc:
            log.warning("sync %s: cannot record its status: %s", self.options.name, exc)
