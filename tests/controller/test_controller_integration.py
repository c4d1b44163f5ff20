"""The controller against a real etcd: leader election and failover, the whole controller with
simulated agents, its /metrics and /healthz, and `shoal controller` as a process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.manager import Controller
from controller.metrics import MetricsServer
from controller.settings import ControllerSettings, LeaderTimings
from controller.testing import GI, SimAgent
from core.etcd_server import EtcdServer
from core.etcd_store import EtcdStore, RetryPolicy
from core.keys import Keys
from core.testing import wait_until
from core.typed_store import decode_model, get_model, put_model
from schemas.binding import Binding
from schemas.node import NodeInfo
from schemas.spec import Resources, TaskSpec
from schemas.states import TaskState
from schemas.task import TaskStatus, new_task

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SHOAL = str(Path(sys.executable).parent / "shoal")


class Etcd:
    """Clients of the session etcd under one test prefix; closed at the end."""

    def __init__(self, server: EtcdServer, prefix: str) -> None:
        self.server = server
        self.keys = Keys(prefix)
        self.stores: list[EtcdStore] = []
        self.controllers: list[Controller] = []
        self.agents: list[SimAgent] = []
        self.store = self.client()

    def client(self) -> EtcdStore:
        store = EtcdStore([self.server.endpoint], retry=RetryPolicy(deadline=2.0))
        self.stores.append(store)
        return store

    def controller(self, identity: str, timings: LeaderTimings) -> Controller:
        settings = ControllerSettings(
            identity=identity, leader=timings, seed=1, unschedulable_debounce=0.0
        )
        c = Controller(self.client(), self.keys, settings)
        self.controllers.append(c)
        return c.start()

    def agent(self, name: str, **kwargs: object) -> SimAgent:
        a = SimAgent(self.client(), self.keys, name, ttl=30, **kwargs).start()  # type: ignore[arg-type]
        self.agents.append(a)
        return a

    def apply(self, name: str, **resources: object) -> None:
        spec = TaskSpec(image="shoal-busybox:latest", resources=Resources(**resources))  # type: ignore[arg-type]
        task = new_task(name, spec)
        meta = task.metadata.model_copy(update={"uid": f"uid-{name}", "generation": 1})
        task = task.model_copy(update={"metadata": meta})
        self.store.put(self.keys.task("default", name), task.model_dump_json().encode())

    def state(self, name: str) -> TaskState | None:
        stored = get_model(self.store, self.keys.task_status("default", name), TaskStatus)
        return stored.model.state if stored is not None else None

    def status(self, name: str) -> TaskStatus | None:
        stored = get_model(self.store, self.keys.task_status("default", name), TaskStatus)
        return stored.model if stored is not None else None

    def bindings(self) -> dict[str, list[Binding]]:
        found: dict[str, list[Binding]] = {}
        for kv in self.store.list(self.keys.bindings()).items:
            b = decode_model(kv.key, kv.value, Binding)
            found.setdefault(b.name, []).append(b)
        return found

    def close(self) -> None:
        for c in self.controllers:
            c.stop()
        for a in self.agents:
            a.stop()
        for s in self.stores:
            s.close()


@pytest.fixture
def etcd(etcd_server: EtcdServer, keys_prefix: str) -> Iterator[Etcd]:
    e = Etcd(etcd_server, keys_prefix)
    try:
        yield e
    finally:
        e.close()


def test_a_killed_leader_is_replaced_within_the_lease_time_on_etcd(etcd: Etcd) -> None:
    for i in range(3):
        etcd.agent(f"n{i}")
    timings = LeaderTimings(lease=2, renew=1.5, retry=0.3)
    first = etcd.controller("first", timings)
    wait_until(lambda: first.leading, what="the first controller to lead")
    second = etcd.controller("second", timings)
    names = [f"a{i}" for i in range(30)]
    for name in names:
        etcd.apply(name, cpu=0.1)
    wait_until(lambda: all(etcd.state(n) is TaskState.Running for n in names), what="running")
    assert not second.leading

    killed = time.monotonic()
    first.stop(release=False)  # as a crash: the lease runs out on its own
    wait_until(lambda: second.leading, timeout=10, what="the follower to lead")
    took = time.monotonic() - killed
    # The key expires at most a lease after the last renewal; etcd checks expiries about
    # twice a second, and the follower's watch reacts at once.
    assert took <= timings.lease + 0.6, f"took over after {took:.2f}s"

    more = [f"b{i}" for i in range(30)]
    for name in more:
        etcd.apply(name, cpu=0.1)
    wait_until(lambda: all(etcd.state(n) is TaskState.Running for n in more), what="more running")
    bound = etcd.bindings()
    assert sorted(bound) == sorted(names + more)
    assert all(len(b) == 1 for b in bound.values()), "a task bound twice"
    epochs = {b[0].epoch for name, b in bound.items() if name in more}
    assert len(epochs) == 1 and epochs != {b[0].epoch for name, b in bound.items() if name in names}


def test_the_whole_controller_on_etcd_with_its_metrics_and_health(etcd: Etcd) -> None:
    etcd.agent("small", cpu=1, memory=4 * GI)
    etcd.agent("large", cpu=4, memory=4 * GI)
    controller = etcd.controller("solo", LeaderTimings(lease=5, renew=3, retry=0.5))
    server = MetricsServer(("127.0.0.1", 0), controller.metrics, controller.health).start()
    try:
        for i in range(5):
            etcd.apply(f"t{i}", cpu=1, memory=GI)
        etcd.apply("too-big", cpu=0, memory=64 * GI)
        names = [f"t{i}" for i in range(5)]
        wait_until(
            lambda: all(etcd.state(n) is TaskState.Running for n in names),
            what="five running",
        )
        wait_until(lambda: etcd.state("too-big") is TaskState.Pending, what="too-big pending")
        status = etcd.status("too-big")
        assert status is not None and status.reason == "Unschedulable"
        assert status.message == "0/2 nodes: 2 insufficient memory"

        host, port = server.address
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=5) as r:
            assert (r.status, r.read()) == (200, b"leading\n")
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
        for name in (
            "shoal_controller_leader 1.0",
            'shoal_controller_placements_total{result="placed"} 5.0',
            "shoal_controller_unschedulable_tasks 1.0",
            'shoal_controller_queue_depth{queue="tasks"}',
            "shoal_controller_reconcile_duration_seconds_count",
            "shoal_controller_scheduling_latency_seconds_count",
            "shoal_controller_forbidden_transitions_total",
        ):
            assert name in text, name
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"http://{host}:{port}/nope", timeout=5)
        assert info.value.code == 404
    finally:
        server.stop()


def _node(store: EtcdStore, keys: Keys, name: str) -> None:
    info = NodeInfo(
        name=name,
        address="127.0.0.1",
        capacity=Resources(cpu=2, memory="2Gi"),
        runtime="fake",
        version="test",
        startedAt=datetime.now(UTC),
    )
    put_model(store, keys.node_info(name), info)


def test_shoal_controller_runs_until_sigterm(etcd: Etcd, tmp_path: Path) -> None:
    _node(etcd.store, etcd.keys, "n1")
    etcd.apply("web", cpu=0.5)
    log = tmp_path / "controller.log"
    env = {**os.environ, "SHOAL_ETCD": etcd.server.endpoint, "SHOAL_PREFIX": etcd.keys.prefix}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                SHOAL,
                "controller",
                "--listen",
                "127.0.0.1:0",
                "--lease-duration",
                "5",
                "--renew-deadline",
                "3",
                "--retry-period",
                "0.5",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: etcd.state("web") is TaskState.Scheduled, timeout=20, what="scheduled")
        text = log.read_text()
        assert "/metrics and /healthz on http://127.0.0.1:" in text
        assert "task default/web: Scheduled (Pending -> Scheduled): placed on n1" in text
        leader = etcd.store.get(etcd.keys.leader())
        assert leader is not None
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
    assert code == 0, log.read_text()
    assert "stops leading" in log.read_text()
    wait_until(lambda: etcd.store.get(etcd.keys.leader()) is None, what="the leader key released")
    status = etcd.status("web")
    assert status is not None and status.node == "n1"
    assert json.loads(etcd.store.get(etcd.keys.task("default", "web")).value)["kind"] == "Task"  # type: ignore[union-attr]


def test_shoal_controller_refuses_bad_usage() -> None:
    result = subprocess.run(
        [SHOAL, "controller", "--scheduler", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "nope" in result.stderr and "Traceback" not in result.stderr
    result = subprocess.run(
        [SHOAL, "controller", "--renew-deadline", "20"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "retry <= renew < lease" in result.stderr and "Traceback" not in result.stderr
