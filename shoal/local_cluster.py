"""A whole Shoal in one process tree: embedded etcd, a controller and N agents on one engine.

`shoal up` runs one; the end-to-end tests and the benchmarks use it too.

    with LocalCluster(UpSettings(data_dir=Path(".run/up"), etcd_url=...)) as cluster:
        ...  # cluster.store, cluster.keys, cluster.agents

The agents share this machine's Docker engine. With N of them, each registers 1/N of the
machine's CPU and memory, so the scheduler does not promise what the machine cannot hold.
Stopping removes every container the agents made, so Ctrl-C on `shoal up` leaves nothing
behind.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from agent.docker_runtime import DockerRuntime
from agent.node_agent import NodeAgent
from agent.plan import BackoffPolicy
from agent.procfs import parse_meminfo
from agent.runtime import RuntimeFailure
from agent.settings import AgentSettings
from controller.manager import Controller
from controller.settings import ControllerSettings
from core.errors import ShoalError
from core.etcd_server import EtcdServer
from core.etcd_store import EtcdStore, RetryPolicy
from core.keys import Keys

log = logging.getLogger("shoal.up")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class UpSettings:
    data_dir: Path
    etcd_url: str = "http://127.0.0.1:2379"
    prefix: str = "/shoal"
    nodes: int = 1
    controller: ControllerSettings = field(default_factory=ControllerSettings)
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    lease_ttl: int = 10
    metrics_interval: float = 5.0
    resync_interval: float = 10.0
    address: str = "127.0.0.1"
    docker_url: str | None = None
    max_txn_ops: int | None = None
    node_prefix: str = "node"
    """Nodes are named `<node_prefix>-1` …: a bench beside `shoal up` on one engine picks
    another, since an agent removes every container of its node that nothing binds."""


def node_names(count: int, prefix: str = "node") -> list[str]:
    return [f"{prefix}-{i}" for i in range(1, count + 1)]


def _machine_share(count: int) -> tuple[float | None, int | None]:
    """Each of `count` agents on this machine gets this much CPU and memory (None: detect)."""
    if count <= 1:
        return None, None
    cpus = float(os.cpu_count() or 1)
    with open("/proc/meminfo") as f:
        memory = parse_meminfo(f.read())[0]
    return round(cpus / count, 3), memory // count


class LocalCluster:
    def __init__(self, settings: UpSettings, progress: Progress | None = None) -> None:
        self.settings = settings
        self._progress = progress or (lambda message: log.info("%s", message))
        self.keys = Keys(settings.prefix)
        self.etcd = EtcdServer(
            settings.data_dir / "etcd",
            client_url=settings.etcd_url,
            max_txn_ops=settings.max_txn_ops,
            log_path=settings.data_dir / "etcd.log",
        )
        self.store: EtcdStore | None = None
        self.controller: Controller | None = None
        self.agents: list[NodeAgent] = []
        self._runtime: DockerRuntime | None = None

    def start(self) -> LocalCluster:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self._progress(f"starting etcd at {s.etcd_url} (data in {s.data_dir / 'etcd'})")
        self.etcd.start()
        self.etcd.wait_healthy(timeout=30)
        retry = RetryPolicy(deadline=max(1.0, s.lease_ttl / 3))
        self.store = EtcdStore([self.etcd.endpoint], retry=retry)
        self._runtime = DockerRuntime(s.docker_url)
        try:
            self._runtime.ping()
        except RuntimeFailure as exc:
            raise ShoalError(f"no Docker engine answers ({exc}); start dockerd first") from exc
        self._progress("starting the controller")
        self.controller = Controller(self.store, self.keys, s.controller)
        self.controller.start()
        cpu, memory = _machine_share(s.nodes)
        for name in node_names(s.nodes, s.node_prefix):
            self._progress(f"starting agent {name}")
            agent_settings = AgentSettings(
                node=name,
                address=s.address,
                cpu=cpu,
                memory=memory,
                lease_ttl=s.lease_ttl,
                metrics_interval=s.metrics_interval,
                resync_interval=s.resync_interval,
                backoff=s.backoff,
                listen="127.0.0.1:0",
                remove_containers_on_stop=True,
            )
            self.agents.append(NodeAgent(self.store, self.keys, self._runtime, agent_settings))
            self.agents[-1].start()

    def stop(self) -> None:
        for agent in self.agents:
            self._progress(f"stopping agent {agent.node} and its containers")
            agent.stop()
        self.agents = []
        if self.controller is not None:
            self._progress("stopping the controller")
            self.controller.stop()
            self.controller = None
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None
        if self.store is not None:
            self.store.close()
            self.store = None
        if self.etcd.is_running():
            self._progress("stopping etcd")
        self.etcd.stop()

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
