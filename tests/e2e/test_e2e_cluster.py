"""End to end: the real command, controller(s) and agent(s) on a real etcd and Docker engine.

Daemons run as `shoal …` subprocesses where a test kills them (`kill -9`), in-process
otherwise. Every test has its own key prefix and node names, and removes the containers of
its nodes afterwards, whatever happened.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from click.testing import CliRunner

from agent.docker_runtime import DockerRuntime
from agent.node_agent import NodeAgent
from agent.plan import BackoffPolicy
from agent.runtime import LABEL_NODE
from agent.testing import fast_settings
from controller.manager import Controller
from controller.settings import ControllerSettings
from core.etcd_server import EtcdServer
from core.etcd_store import EtcdStore
from core.keys import Keys
from core.testing import wait_until
from shoal.cli import cli

pytestmark = [pytest.mark.integration, pytest.mark.docker]

IMAGE = "shoal-busybox:latest"
SHOAL = [sys.executable, "-c", "from shoal.cli import main; main()"]


class Env:
    """One test's corner of the shared etcd: its prefix, its nodes, its processes."""

    def __init__(self, etcd: EtcdServer, store: EtcdStore, prefix: str, tmp: Path) -> None:
        self.etcd = etcd
        self.store = store
        self.prefix = prefix
        self.keys = Keys(prefix)
        self.tmp = tmp
        self.tag = uuid.uuid4().hex[:6]
        self.runtime = DockerRuntime()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.agents: list[NodeAgent] = []
        self.controllers: list[Controller] = []

    def node(self, name: str) -> str:
        return f"{name}-{self.tag}"

    def shoal(self, *args: str) -> Any:
        """Run a shoal command through click's runner; the result, exit code checked by caller."""
        return CliRunner().invoke(
            cli, ["--etcd", self.etcd.endpoint, "--prefix", self.prefix, *args]
        )

    def apply(self, *docs: str) -> None:
        path = self.tmp / f"apply-{uuid.uuid4().hex[:6]}.yaml"
        path.write_text("\n---\n".join(docs))
        result = self.shoal("apply", "-f", str(path))
        assert result.exit_code == 0, result.output

    def tasks(self) -> dict[str, dict[str, Any]]:
        result = self.shoal("get", "tasks", "-o", "json")
        assert result.exit_code == 0, result.output
        return {t["metadata"]["name"]: t for t in json.loads(result.stdout)["items"]}

    def wait_state(self, name: str, state: str, timeout: float = 30.0) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        def reached() -> bool:
            seen.update(self.tasks().get(name, {}))
            return seen.get("status", {}).get("state") == state

        try:
            wait_until(reached, timeout, 0.1, f"task {name} {state}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last seen: {seen.get('status')}") from None
        return seen

    def controller(self, **overrides: Any) -> Controller:
        settings = ControllerSettings(**{"node_grace": 2.0, "resync": 5.0, **overrides})
        c = Controller(self.store, self.keys, settings)
        c.start()
        self.controllers.append(c)
        return c

    def agent(self, name: str, **overrides: Any) -> NodeAgent:
        a = NodeAgent(
            self.store, self.keys, self.runtime, fast_settings(self.node(name), **overrides)
        )
        a.start()
        self.agents.append(a)
        return a

    def spawn(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        command = [*SHOAL, "--etcd", self.etcd.endpoint, "--prefix", self.prefix, *args]
        with (self.tmp / log).open("ab") as out:
            proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self.procs.append(proc)
        return proc

    def bindings(self) -> list[tuple[str, str]]:
        """(node, task) of every binding."""
        found = []
        for kv in self.store.list(self.keys.bindings()):
            ref = self.keys.parse_binding(kv.key)
            if ref is not None:
                found.append((ref.node, ref.name))
        return found

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for a in self.agents:
            a.stop()
        for c in self.controllers:
            c.stop()
        client = docker.from_env()
        for c in client.containers.list(all=True, filters={"label": LABEL_NODE}):
            if c.labels.get(LABEL_NODE, "").endswith(f"-{self.tag}"):
                c.remove(force=True)
        client.close()
        self.runtime.close()


@pytest.fixture
def env(
    etcd_server: EtcdServer, etcd_store: EtcdStore, keys_prefix: str, tmp_path: Path
) -> Iterator[Env]:
    e = Env(etcd_server, etcd_store, keys_prefix, tmp_path)
    try:
        yield e
    finally:
        e.close()


def task(name: str, command: list[str], **spec: Any) -> str:
    body = {"image": IMAGE, "command": command, **spec}
    return json.dumps(
        {"apiVersion": "shoal/v1", "kind": "Task", "metadata": {"name": name}, "spec": body}
    )


def test_get_watch_json_sees_a_task_go_pending_scheduled_running_completed(env: Env) -> None:
    env.controller()
    env.agent("n1")
    watch = subprocess.Popen(
        [
            *SHOAL,
            "--etcd",
            env.etcd.endpoint,
            "--prefix",
            env.prefix,
            "get",
            "tasks",
            "-w",
            "-o",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    seen: dict[str, list[str]] = {}
    done = threading.Event()

    def read() -> None:
        assert watch.stdout is not None
        for line in watch.stdout:
            doc = json.loads(line)
            states = seen.setdefault(doc["metadata"]["name"], [])
            state = doc.get("status", {}).get("state")
            if not states or states[-1] != state:
                states.append(state)
            if doc["metadata"]["name"] == "job" and state == "Completed":
                done.set()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        # A first task shows the watch is following, so nothing of the job is missed.
        env.apply(task("marker", ["sleep", "3600"]))
        wait_until(lambda: "marker" in seen, timeout=15, what="the watch to print the marker")
        env.apply(task("job", ["sh", "-c", "sleep 1; exit 0"], restartPolicy="Never"))
        assert done.wait(30), f"states seen: {seen.get('job')}"
    finally:
        watch.send_signal(signal.SIGTERM)
        watch.wait(10)
        reader.join(10)
    assert seen["job"] == ["Pending", "Scheduled", "Running", "Completed"]
    assert watch.returncode == 0


def test_three_nodes_take_what_their_capacities_allow_and_the_rest_say_why(env: Env) -> None:
    env.controller()
    for name, cpu in (("small", 1.0), ("medium", 2.0), ("large", 4.0)):
        env.agent(name, cpu=cpu)
    wait_until(lambda: _ready_nodes(env) == 3, timeout=20, what="3 nodes ready")
    env.apply(*[task(f"t{i}", ["sleep", "3600"], resources={"cpu": 1}) for i in range(9)])
    for i in range(9):
        wait_until(lambda i=i: _settled(env, f"t{i}"), timeout=60, what=f"t{i} to settle")
    tasks = env.tasks()
    running = [t for t in tasks.values() if t["status"]["state"] == "Running"]
    pending = [t for t in tasks.values() if t["status"]["state"] == "Pending"]
    per_node = Counter(t["status"]["node"] for t in running)
    assert per_node == {env.node("small"): 1, env.node("medium"): 2, env.node("large"): 4}
    assert len(pending) == 2
    for t in pending:
        assert t["status"]["reason"] == "Unschedulable"
        assert t["status"]["message"] == "0/3 nodes: 3 insufficient cpu"
    counts = Counter(node for node, _ in env.bindings())
    assert counts == per_node, "bindings and statuses agree, and no task is bound twice"


def _ready_nodes(env: Env) -> int:
    result = env.shoal("get", "nodes", "-o", "json")
    if result.exit_code != 0:
        return 0
    return sum(1 for n in json.loads(result.stdout)["items"] if n["status"]["ready"])


def _settled(env: Env, name: str) -> bool:
    status = env.tasks()[name].get("status", {})
    return status.get("state") == "Running" or status.get("reason") == "Unschedulable"


def test_a_killed_agents_tasks_are_placed_elsewhere_after_the_grace_period(env: Env) -> None:
    env.controller(node_grace=2.0)
    doomed = env.node("doomed")
    agent_args = ["agent", "--lease-ttl", "2", "--resync-interval", "0.5", "--listen", "none"]
    proc = env.spawn(*agent_args, "--name", doomed, log="doomed.log")
    wait_until(lambda: _ready_nodes(env) == 1, timeout=20, what="the first node ready")
    env.apply(
        task("a", ["sleep", "3600"], restartPolicy="Always"),
        task("b", ["sleep", "3600"], restartPolicy="Always"),
    )
    for name in ("a", "b"):
        assert env.wait_state(name, "Running")["status"]["node"] == doomed
    env.agent("survivor")
    wait_until(lambda: _ready_nodes(env) == 2, timeout=20, what="the second node ready")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    for name in ("a", "b"):
        wait_until(
            lambda name=name: (
                env.tasks()[name]["status"].get("node") == env.node("survivor")
                and env.tasks()[name]["status"]["state"] == "Running"
            ),
            timeout=40,
            what=f"{name} running on the survivor",
        )
    assert sorted(env.bindings()) == [(env.node("survivor"), "a"), (env.node("survivor"), "b")]
    # The lost node comes back: its agent finds no bindings and removes its stale containers.
    assert len(env.runtime.list({LABEL_NODE: doomed})) == 2
    env.spawn(*agent_args, "--name", doomed, log="doomed-again.log")
    wait_until(
        lambda: env.runtime.list({LABEL_NODE: doomed}) == [],
        timeout=30,
        what="the returning node to remove its stale containers",
    )


def test_a_killed_leader_is_replaced_within_the_lease_and_no_task_is_bound_twice(
    env: Env,
) -> None:
    env.agent("n1")
    timing = [
        "--lease-duration",
        "4",
        "--renew-deadline",
        "3",
        "--retry-period",
        "0.5",
        "--node-grace",
        "30",
        "--listen",
        "none",
    ]
    first = env.spawn("controller", "--identity", "first", *timing, log="first.log")
    wait_until(lambda: _leader(env) == "first", timeout=20, what="the first controller leading")
    second = env.spawn("controller", "--identity", "second", *timing, log="second.log")
    env.apply(*[task(f"t{i}", ["sleep", "3600"]) for i in range(3)])
    for i in range(3):
        env.wait_state(f"t{i}", "Running")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    wait_until(
        lambda: _leader(env) == "second",
        timeout=6,
        what="the second controller to lead within the 4 s lease (+ retry)",
    )
    env.apply(task("after", ["sleep", "3600"]))
    env.wait_state("after", "Running")
    names = [name for _, name in env.bindings()]
    assert sorted(names) == ["after", "t0", "t1", "t2"], "every task bound exactly once"
    assert second.poll() is None


def _leader(env: Env) -> str | None:
    kv = env.store.get(env.keys.leader())
    if kv is None:
        return None
    raw = kv.value.decode()
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw
    return str(doc.get("identity")) if isinstance(doc, dict) else raw


def test_stop_and_start_and_delete_through_the_cli(env: Env) -> None:
    env.controller()
    env.agent("n1", backoff=BackoffPolicy(0.2, 1.0, 60.0))
    env.apply(task("svc", ["sleep", "3600"], restartPolicy="Always"))
    running = env.wait_state("svc", "Running")
    first_container = running["status"]["containerId"]
    assert env.shoal("stop", "task", "svc").exit_code == 0
    stopped = env.wait_state("svc", "Completed")
    assert stopped["status"]["reason"] == "Stopped"
    wait_until(lambda: env.runtime.list({LABEL_NODE: env.node("n1")}) == [], timeout=20)
    assert env.shoal("start", "task", "svc").exit_code == 0
    again = env.wait_state("svc", "Running")
    assert again["status"]["containerId"] != first_container
    assert env.shoal("delete", "task", "svc").exit_code == 0
    wait_until(lambda: "svc" not in env.tasks(), timeout=20)
    wait_until(lambda: env.runtime.list({LABEL_NODE: env.node("n1")}) == [], timeout=20)
    wait_until(
        lambda: env.store.list(env.prefix + "/status/tasks/").items == (),
        timeout=20,
        what="the status to go once the container has",
    )
