"""Registering the node: its `info` key on a lease kept alive, re-registered whenever lost.

The `info` key (and the metrics key) are bound to the node's lease, so they vanish within the
TTL of the agent dying: that is how the controller learns a node is gone. If the lease is lost
while the agent lives (etcd was unreachable for longer than the TTL), the loop grants a new
lease and writes `info` again, so a node comes back by itself once etcd does.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from agent.procfs import disk_usage, parse_meminfo
from agent.runtime import Runtime, RuntimeFailure
from agent.settings import AgentSettings
from core.clock import Clock
from core.errors import ShoalError
from core.keys import Keys
from core.leasing import LeaseKeeper
from core.store import Store
from core.supervise import Backoff, Supervised
from core.typed_store import encode_model
from schemas.node import NodeInfo
from schemas.spec import Resources

log = logging.getLogger(__name__)


def detect_capacity(
    settings: AgentSettings, runtime: Runtime, proc_root: str = "/proc"
) -> Resources:
    """CPU, memory and disk of this machine, unless the settings say otherwise."""
    info = runtime.info()
    cpu = settings.cpu if settings.cpu is not None else float(info.cpus or os.cpu_count() or 1)
    if settings.memory is not None:
        memory = settings.memory
    else:
        with open(os.path.join(proc_root, "meminfo")) as f:
            memory = parse_meminfo(f.read())[0]
    if settings.disk is not None:
        disk = settings.disk
    else:
        root = info.data_root if info.data_root and os.path.isdir(info.data_root) else "/"
        disk = disk_usage(root)[0]
    return Resources(cpu=cpu, memory=memory, disk=disk)


def _setting(event: threading.Event) -> Callable[[int], None]:
    return lambda _lease: event.set()


class Registration:
    def __init__(
        self,
        store: Store,
        keys: Keys,
        runtime: Runtime,
        settings: AgentSettings,
        clock: Clock,
        *,
        agent_url: Callable[[], str | None],
        version: str,
    ) -> None:
        self._store = store
        self._keys = keys
        self._runtime = runtime
        self._settings = settings
        self._clock = clock
        self._agent_url = agent_url
        self._version = version
        self._lease: int | None = None
        self._lock = threading.Lock()
        self.registered = threading.Event()
        self._loop = Supervised(f"register {settings.node}", self._run, clock=clock)

    @property
    def lease(self) -> int | None:
        """The current lease (for the metrics key), or None while not registered."""
        with self._lock:
            return self._lease

    def start(self) -> Registration:
        self._loop.start()
        return self

    def stop(self, revoke: bool = True) -> None:
        self._loop.stop()
        lease = self.lease
        if revoke and lease is not None:
            try:
                self._store.revoke_lease(lease)
            except ShoalError as exc:
                log.warning(
                    "node %s: could not revoke its lease (%s); it expires by itself",
                    self._settings.node,
                    exc,
                )

    def _info(self) -> NodeInfo:
        runtime = self._runtime.info()
        return NodeInfo(
            name=self._settings.node,
            address=self._settings.address,
            labels=dict(self._settings.labels),
            capacity=detect_capacity(self._settings, self._runtime),
            runtime=f"{runtime.name} {runtime.version}",
            version=self._version,
            agentUrl=self._agent_url(),
            startedAt=self._clock.now(),
        )

    def _run(self, stop: threading.Event) -> None:
        backoff = Backoff(0.5, 10.0)
        failing = False
        ttl = self._settings.lease_ttl
        while not stop.is_set():
            try:
                info = self._info()
                lease = self._store.grant_lease(ttl)
                self._store.put(
                    self._keys.node_info(self._settings.node), encode_model(info), lease
                )
            except (ShoalError, RuntimeFailure) as exc:
                if not failing:
                    log.warning(
                        "node %s: cannot register yet (%s); retrying", self._settings.node, exc
                    )
                    failing = True
                self._clock.wait(stop, backoff.next())
                continue
            backoff.reset()
            failing = False
            lost = threading.Event()
            keeper = LeaseKeeper(self._store, lease, ttl, on_lost=_setting(lost), clock=self._clock)
            with self._lock:
                self._lease = lease
            self.registered.set()
            log.info("node %s registered (lease %x, TTL %ds)", self._settings.node, lease, ttl)
            keeper.start()
            try:
                while not stop.is_set() and not lost.is_set():
                    self._clock.wait(stop, 0.2)
            finally:
                keeper.stop()
                self.registered.clear()
                with self._lock:
                    if lost.is_set():
                        self._lease = None
            if lost.is_set():
                log.warning("node %s: lease lost; registering again", self._settings.node)
