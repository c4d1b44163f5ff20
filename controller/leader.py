"""Leader election: one controller leads, through a lease-bound `/shoal/leader` key.

A candidate creates the leader key, holding its identity and bound to a lease of
`timings.lease` seconds, in a transaction that succeeds only if the key is absent. The
winner's *epoch* is the key's create revision: every write the leader makes carries the
compare "the leader key still has this create revision" (see `controller.committing`), so a
leader that lost its key, for whatever reason, can no longer write anything, and bindings
carry the epoch they were written under.

The leader keeps its lease alive every `retry` seconds and checks the key is still its own;
if it cannot renew for `renew` seconds (before the lease can run out) it steps down, as does
a leader whose writes were refused by the guard. Followers try every `retry` seconds, and at
once when their watch sees the key deleted, so a dead leader is replaced as soon as its lease
expires. Stopping with `release` revokes the lease, so a follower takes over immediately.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from controller.settings import LeaderTimings
from core.clock import Clock, SystemClock
from core.errors import NotFound, ShoalError, Unavailable
from core.store import Compare, EventType, Get, Listing, Put, Store, Watcher, WatchEvent
from core.supervise import Supervised

log = logging.getLogger("controller.leader")

__all__ = ["LeaderElector", "Leadership", "default_identity"]


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Leadership:
    identity: str
    key: str
    epoch: int
    """The leader key's create revision."""
    lease: int

    @property
    def guard(self) -> tuple[Compare, ...]:
        """The compare every write of this leader carries."""
        return (Compare.create_revision(self.key, self.epoch),)


Lose = Callable[[str], None]
"""Given to the leader's session: call it (with the reason) when leadership is found lost."""


class LeaderElector:
    def __init__(
        self,
        store: Store,
        key: str,
        identity: str,
        timings: LeaderTimings,
        *,
        on_started: Callable[[Leadership, Lose], None],
        on_stopped: Callable[[], None],
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.key = key
        self.identity = identity
        self.timings = timings
        self._on_started = on_started
        self._on_stopped = on_stopped
        self._clock = clock or SystemClock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._release = True
        self._lock = threading.Lock()
        self._leadership: Leadership | None = None
        self._watcher: Watcher | None = None
        self._supervised = Supervised(
            f"leader election {identity}", self._run, clock=self._clock, stop_event=self._stop
        )

    @property
    def leadership(self) -> Leadership | None:
        """The current leadership, None while following."""
        with self._lock:
            return self._leadership

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> LeaderElector:
        self._supervised.start()
        return self

    def stop(self, *, release: bool = True, timeout: float = 10.0) -> None:
        """Stop campaigning; a leader stops its session, and with `release` gives the key up."""
        self._release = release
        self._stop.set()
        self._wake.set()
        self._supervised.stop(timeout)
        if self._watcher is not None:
            self._watcher.stop()

    def is_alive(self) -> bool:
        return self._supervised.is_alive()

    # -- watching the key (a deletion wakes the followers) -----------------------------

    def on_events(self, events: Sequence[WatchEvent]) -> None:
        if any(e.key == self.key and e.type is EventType.DELETE for e in events):
            self._wake.set()

    def on_relist(self, listing: Listing) -> None:
        if not any(kv.key == self.key for kv in listing.items):
            self._wake.set()

    # -- the loop ----------------------------------------------------------------------

    def _run(self, stop: threading.Event) -> None:
        if self._watcher is None:
            self._watcher = self.store.watch(self.key, None, self)
        failing = False
        while not stop.is_set():
            self._wake.clear()
            try:
                leadership = self._try_acquire()
            except ShoalError as exc:
                if not failing:  # once per outage, not every retry
                    log.warning(
                        "leader election: %s; trying again every %gs", exc, self.timings.retry
                    )
                    failing = True
                leadership = None
            else:
                if failing:
                    log.info("leader election: etcd answers again")
                failing = False
            if leadership is not None:
                self._lead(leadership, stop)
                continue
            self._clock.wait(self._wake, self.timings.retry)

    def _try_acquire(self) -> Leadership | None:
        if self.store.get(self.key) is not None:
            return None
        lease = self.store.grant_lease(self.timings.lease)
        try:
            result = self.store.txn(
                [Compare.missing(self.key)],
                [Put(self.key, self.identity.encode(), lease)],
                [Get(self.key)],
            )
        except BaseException:
            self._revoke(lease)
            raise
        if not result.succeeded:
            self._revoke(lease)
            return None
        return Leadership(self.identity, self.key, result.revision, lease)

    def _lead(self, leadership: Leadership, stop: threading.Event) -> None:
        lost = threading.Event()
        why: list[str] = []

        def lose(reason: str) -> None:
            if not lost.is_set():
                why.append(reason)
                lost.set()
                self._wake.set()

        log.info("%s leads (epoch %d)", self.identity, leadership.epoch)
        with self._lock:
            self._leadership = leadership
        release = True
        try:
            try:
                self._on_started(leadership, lose)
            except ShoalError as exc:
                lose(f"could not start leading: {exc}")
            last_renewed = self._clock.monotonic()
            while not stop.is_set() and not lost.is_set():
                self._clock.wait(self._wake, self.timings.retry)
                self._wake.clear()
                if stop.is_set() or lost.is_set():
                    break
                try:
                    self.store.keep_alive(leadership.lease)
                    ours = self.store.txn(leadership.guard, [], []).succeeded
                except NotFound:
                    lose("its lease expired")
                    continue
                except Unavailable as exc:
                    silent = self._clock.monotonic() - last_renewed
                    if silent >= self.timings.renew:
                        release = False
                        lose(f"could not renew for {silent:.1f}s ({exc})")
                    continue
                if not ours:
                    lose("the leader key is no longer its own")
                else:
                    last_renewed = self._clock.monotonic()
        finally:
            with self._lock:
                self._leadership = None
            if lost.is_set():
                log.warning("%s stops leading: %s", self.identity, why[0])
            else:
                log.info("%s stops leading", self.identity)
            self._on_stopped()
            if release and (self._release or lost.is_set()):
                self._revoke(leadership.lease)

    def _revoke(self, lease: int) -> None:
        try:
            self.store.revoke_lease(lease)
        except ShoalError as exc:
            log.warning("could not revoke lease %x (%s); it expires on its own", lease, exc)
