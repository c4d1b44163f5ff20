"""The agent end to end with a real etcd and a real Docker engine.

In-process agents for most cases; `shoal agent` as a subprocess where the agent itself must
die (`kill -9`). Every test uses a node name of its own, so its containers (labelled
`shoal.node=<node>`) are found and removed afterwards whatever happens.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from agent.docker_runtime import DockerRuntime
from agent.node_agent import NodeAgent
from agent.runtime import LABEL_GENERATION, LABEL_NODE, LABEL_TASK
from agent.testing import Cluster, start_agent
from core.etcd_server import EtcdServer
from core.etcd_store import EtcdStore
from core.keys import Keys
from core.testing import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.docker]

IMAGE = os.environ.get("SHOAL_TEST_IMAGE", "shoal-busybox:latest")
SLEEP = ["sleep", "3600"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def node() -> Iterator[str]:
    name = f"it-{uuid.uuid4().hex[:8]}"
    yield name
    client = docker.from_env()
    for c in client.containers.list(all=True, filters={"label": f"{LABEL_NODE}={name}"}):
        c.remove(force=True)
    client.close()


@pytest.fixture
def keys(keys_prefix: str) -> Keys:
    return Keys(keys_prefix)


@pytest.fixture
def cluster(etcd_store: EtcdStore, keys: Keys) -> Cluster:
    return Cluster(etcd_store, keys)


@pytest.fixture
def runtime() -> Iterator[DockerRuntime]:
    r = DockerRuntime()
    yield r
    r.close()


@pytest.fixture
def agent(
    etcd_store: EtcdStore, keys: Keys, runtime: DockerRuntime, node: str
) -> Iterator[NodeAgent]:
    a = start_agent(etcd_store, keys, runtime, node, cpu=None, memory=None, disk=None)
    yield a
    a.stop()


def ids(runtime: DockerRuntime, node: str, task: str | None = None) -> list[str]:
    selector = {LABEL_NODE: node}
    if task:
        selector[LABEL_TASK] = f"default/{task}"
    return sorted(c.id for c in runtime.list(selector))


def test_a_binding_runs_a_labelled_limited_container_that_answers_on_its_port(
    agent: NodeAgent, cluster: Cluster, node: str
) -> None:
    port = free_port()
    cluster.bind(
        node,
        "web",
        image=IMAGE,
        command=["httpd", "-f", "-p", "8080", "-h", "/www"],
        ports=[{"containerPort": 8080, "hostPort": port}],
        resources={"cpu": 0.5, "memory": "64Mi"},
    )
    report = cluster.wait_report(node, "web", state="Running", timeout=30)
    client = docker.APIClient()
    raw = client.inspect_container(report.containerId)
    client.close()
    labels = raw["Config"]["Labels"]
    assert labels[LABEL_TASK] == "default/web" and labels[LABEL_NODE] == node
    assert labels[LABEL_GENERATION] == "1"
    assert raw["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert raw["HostConfig"]["NanoCpus"] == 500_000_000
    assert raw["HostConfig"]["Init"] is True
    assert [(p.hostIP, p.hostPort) for p in report.hostPorts] == [("127.0.0.1", port)]

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                return r.status == 200 and b"hello from shoal" in r.read()
        except OSError:
            return False

    wait_until(answers, timeout=10, what="httpd to answer on the published port")


def test_unbinding_stops_and_removes_and_a_new_spec_replaces(
    agent: NodeAgent, cluster: Cluster, runtime: DockerRuntime, node: str
) -> None:
    cluster.bind(node, "a", image=IMAGE, command=SLEEP, env={"V": "1"})
    cluster.bind(node, "b", image=IMAGE, command=SLEEP)
    first = cluster.wait_report(node, "a", state="Running", timeout=30)
    cluster.wait_report(node, "b", state="Running", timeout=30)

    cluster.bind(node, "a", generation=2, image=IMAGE, command=SLEEP, env={"V": "2"})
    second = cluster.wait_report(node, "a", state="Running", generation=2, timeout=30)
    assert second.containerId != first.containerId
    assert ids(runtime, node, "a") == [second.containerId]

    cluster.unbind(node, "b")
    cluster.wait_no_report(node, "b", timeout=30)
    assert ids(runtime, node, "b") == []


def test_exits_follow_the_restart_policy(
    agent: NodeAgent, cluster: Cluster, runtime: DockerRuntime, node: str
) -> None:
    cluster.bind(
        node, "flaky", image=IMAGE, command=["sh", "-c", "exit 3"], restartPolicy="OnFailure"
    )
    cluster.bind(node, "never", image=IMAGE, command=["sh", "-c", "exit 4"], restartPolicy="Never")
    cluster.bind(node, "job", image=IMAGE, command=["true"], restartPolicy="OnFailure")
    backing = cluster.wait_report(node, "flaky", state="Waiting", reason="BackOff", timeout=30)
    assert backing.exitCode == 3
    cluster.wait_report(node, "flaky", restartCount=2, timeout=30)
    never = cluster.wait_report(node, "never", state="Exited", timeout=30)
    assert (never.exitCode, never.reason, never.restartCount) == (4, "Error", 0)
    job = cluster.wait_report(node, "job", state="Exited", timeout=30)
    assert (job.exitCode, job.reason) == (0, "Completed")
    assert len(ids(runtime, node, "flaky")) == 1


def test_a_container_failing_its_health_check_is_restarted(
    agent: NodeAgent, cluster: Cluster, node: str
) -> None:
    # Serves on 8080 for a moment, then only sleeps: the http probe starts failing.
    script = "httpd -p 8080 -h /www; sleep 2; killall httpd; sleep 3600"
    cluster.bind(
        node,
        "sick",
        image=IMAGE,
        command=["sh", "-c", script],
        restartPolicy="Always",
        healthCheck={
            "httpGet": {"port": 8080, "path": "/"},
            "periodSeconds": 1,
            "failureThreshold": 2,
            "timeoutSeconds": 1,
        },
    )
    first = cluster.wait_report(node, "sick", state="Running", healthy=True, timeout=30)
    # restartCount is carried by the new container's labels: it is a new container.
    cluster.wait_report(
        node,
        "sick",
        restartCount=1,
        timeout=30,
        where=lambda r: r.containerId != first.containerId,
    )


def test_a_container_removed_behind_the_agents_back_is_noticed_fast(
    agent: NodeAgent, cluster: Cluster, node: str
) -> None:
    cluster.bind(node, "web", image=IMAGE, command=SLEEP, restartPolicy="Always")
    first = cluster.wait_report(node, "web", state="Running", timeout=30)
    client = docker.from_env()
    client.containers.get(first.containerId).remove(force=True)
    client.close()
    # The events stream wakes the agent at once; the resync (0.5 s here) is only a net.
    cluster.wait_report(node, "web", reason="BackOff", timeout=3)


def _agent_process(etcd: EtcdServer, prefix: str, node: str, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-c",
        "from shoal.cli import main; main()",
        "--etcd",
        etcd.endpoint,
        "--prefix",
        prefix,
        "agent",
        "--name",
        node,
        "--lease-ttl",
        "2",
        "--resync-interval",
        "0.5",
        "--listen",
        "127.0.0.1:0",
    ]
    out = log.open("ab")
    try:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    finally:
        out.close()


def test_kill_9_and_restart_leaves_one_container_per_task_and_the_node_key_expires(
    etcd_server: EtcdServer,
    cluster: Cluster,
    runtime: DockerRuntime,
    node: str,
    keys_prefix: str,
    tmp_path: Path,
) -> None:
    log = tmp_path / "agent.log"
    proc = _agent_process(etcd_server, keys_prefix, node, log)
    try:
        wait_until(lambda: cluster.node_info(node) is not None, timeout=20, what="registration")
        for name in ("a", "b", "c"):
            cluster.bind(node, name, image=IMAGE, command=SLEEP)
        before = {
            n: cluster.wait_report(node, n, state="Running", timeout=30).containerId for n in "abc"
        }
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        wait_until(
            lambda: cluster.node_info(node) is None,
            timeout=4,
            what="the node key to expire within its 2 s TTL",
        )
        proc = _agent_process(etcd_server, keys_prefix, node, log)
        wait_until(lambda: cluster.node_info(node) is not None, timeout=20, what="re-registration")
        cluster.bind(node, "d", image=IMAGE, command=SLEEP)
        cluster.wait_report(node, "d", state="Running", timeout=30)
        for name in "abc":
            assert cluster.wait_report(node, name, state="Running").containerId == before[name]
            assert ids(runtime, node, name) == [before[name]], f"{name} has duplicates"
        assert len(ids(runtime, node)) == 4
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 or proc.returncode == -signal.SIGTERM, log.read_text()[-2000:]


def test_the_agent_carries_on_after_etcd_is_killed_and_restarted(fresh_etcd: EtcdServer) -> None:
    """FakeRuntime here: what is tested is the agent's side of an etcd outage."""
    from agent.fake_runtime import FakeRuntime
    from core.etcd_store import RetryPolicy

    store = EtcdStore([fresh_etcd.endpoint], retry=RetryPolicy(deadline=1.0))
    keys = Keys("/outage")
    cluster = Cluster(store, keys)
    runtime = FakeRuntime()
    agent = start_agent(store, keys, runtime, "n1")
    try:
        cluster.bind("n1", "before")
        cluster.wait_report("n1", "before", state="Running")
        fresh_etcd.kill()
        runtime.kill(runtime.list({LABEL_TASK: "default/before"})[0].id, exit_code=0)
        fresh_etcd.start().wait_healthy(timeout=20)
        # What happened meanwhile is reported once etcd is back; new work is picked up; the
        # node registers again if its 2 s lease ran out during the outage.
        cluster.wait_report("n1", "before", state="Exited", reason="Completed", timeout=20)
        cluster.bind("n1", "after")
        cluster.wait_report("n1", "after", state="Running", timeout=20)
        wait_until(lambda: cluster.node_info("n1") is not None, timeout=20, what="node info")
    finally:
        agent.stop()
        store.close()
