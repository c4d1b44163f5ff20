"""Keeping a lease alive: a supervised loop that refreshes it every ttl/3 and reports its loss.

A node agent binds its `info` key to a lease and keeps it alive; the controller's leader key
too. When the lease is gone (etcd says it expired, or it could not be renewed before the TTL
last confirmed ran out) `on_lost(lease_id)` is called once and the loop ends: the owner must
stop acting on what the lease stood for (leadership, registration) and start again with a
new lease.

Keep-alives go through the Store, which retries within its own deadline: give the keeper a
store whose retry deadline is well under the TTL, or loss is noticed that much later.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from core.clock import Clock, SystemClock
from core.errors import NotFound, Unavailable
from core.store import LeaseId, Store
from core.supervise import Supervised

log = logging.getLogger(__name__)

OnLost = Callable[[LeaseId], None]


class LeaseKeeper:
    def __init__(
        self,
        store: Store,
        lease_id: LeaseId,
        ttl: int,
        *,
        on_lost: OnLost | None = None,
        clock: Clock | None = None,
        interval: float | None = None,
        name: str | None = None,
    ) -> None:
        self.store = store
        self.lease_id = lease_id
        self.ttl = ttl
        self._on_lost = on_lost
        self._clock = clock or SystemClock()
        self._interval = interval if interval is not None else max(ttl / 3, 0.1)
        self._expires_at = self._clock.monotonic() + ttl
        self._lost = threading.Event()
        self._supervised = Supervised(name or f"lease {lease_id:x}", self._run, clock=self._clock)

    @classmethod
    def grant(
        cls,
        store: Store,
        ttl: int,
        *,
        on_lost: OnLost | None = None,
        clock: Clock | None = None,
        interval: float | None = None,
    ) -> LeaseKeeper:
        """Grant a new lease and return a keeper for it (not started yet)."""
        return cls(
            store, store.grant_lease(ttl), ttl, on_lost=on_lost, clock=clock, interval=interval
        )

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def wait_lost(self, timeout: float) -> bool:
        """Block until the lease is lost (True) or `timeout` real seconds pass (False)."""
        return self._lost.wait(timeout)

    def valid_for(self) -> float:
        """Seconds the lease is known to live on (from the last confirmed keep-alive)."""
        if self.lost:
            return 0.0
        return max(0.0, self._expires_at - self._clock.monotonic())

    def start(self) -> LeaseKeeper:
        self._supervised.start()
        return self

    def stop(self, *, revoke: bool = False, timeout: float = 5.0) -> None:
        """Stop refreshing; with `revoke`, also revoke the lease (its keys go at once)."""
        self._supervised.stop(timeout)
        if revoke and not self.lost:
            try:
                self.store.revoke_lease(self.lease_id)
            except Unavailable as exc:
                log.warning(
                    "lease %x: could not revoke (%s); it expires in %ds",
                    self.lease_id,
                    exc,
                    self.ttl,
                )

    def is_alive(self) -> bool:
        return self._supervised.is_alive()

    def _run(self, stop: threading.Event) -> None:
        failing = False
        while not stop.is_set():
            try:
                ttl = self.store.keep_alive(self.lease_id)
            except NotFound:
                self._lose("it has expired")
                return
            except Unavailable as exc:
                if self._clock.monotonic() >= self._expires_at:
                    self._lose(f"it could not be renewed before its TTL ran out ({exc})")
                    return
                if not failing:
                    log.warning("lease %x: keep-alive failed (%s); retrying", self.lease_id, exc)
                    failing = True
                self._clock.wait(stop, min(self._interval, 1.0))
                continue
            if failing:
                log.info("lease %x: keep-alive works again", self.lease_id)
                failing = False
            self._expires_at = self._clock.monotonic() + ttl
            self._clock.wait(stop, self._interval)

    def _lose(self, why: str) -> None:
        log.warning("lease %x lost: %s", self.lease_id, why)
        self._lost.set()
        if self._on_lost is not None:
            try:
                self._on_lost(self.lease_id)
            except Exception:
                log.exception("lease %x: on_lost callback failed", self.lease_id)
