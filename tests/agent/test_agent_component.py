"""The whole agent over the in-memory store and the FakeRuntime: bindings in, containers and
reports out, restarts, health checks, survival. Real time with short back-offs; every wait is
on a condition with a deadline."""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.fake_runtime import FakeRuntime
from agent.node_agent import NodeAgent
from agent.runtime import LABEL_GENERATION, LABEL_NODE, LABEL_TASK
from agent.specs import container_name
from agent.testing import Cluster, start_agent
from core.keys import Keys
from core.memory_store import MemoryStore
from core.testing import wait_until
from schemas.node import NodeMetrics

NODE = "n1"


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    s = MemoryStore()
    yield s
    s.close()


@pytest.fixture
def keys() -> Keys:
    return Keys("/shoal")


@pytest.fixture
def cluster(store: MemoryStore, keys: Keys) -> Cluster:
    return Cluster(store, keys)


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
def agent(store: MemoryStore, keys: Keys, runtime: FakeRuntime) -> Iterator[NodeAgent]:
    a = start_agent(store, keys, runtime, NODE)
    yield a
    a.stop()


def containers(runtime: FakeRuntime, name: str = "") -> list[str]:
    selector = {LABEL_NODE: NODE}
    if name:
        selector[LABEL_TASK] = f"default/{name}"
    return [c.id for c in runtime.list(selector)]


def test_a_binding_becomes_a_labelled_running_container(
    agent: NodeAgent, cluster: Cluster, runtime: FakeRuntime
) -> None:
    cluster.bind(
        NODE,
        "web",
        command=["httpd", "-f"],
        ports=[{"containerPort": 80, "hostPort": 18080}],
        resources={"cpu": 0.5, "memory": "64Mi"},
        env={"A": "1"},
    )
    report = cluster.wait_report(NODE, "web", state="Running")
    info = runtime.inspect(container_name(NODE, "default", "web"))
    assert report.containerId == info.id
    assert info.labels[LABEL_TASK] == "default/web"
    assert info.labels[LABEL_NODE] == NODE
    assert info.labels[LABEL_GENERATION] == "1"
    assert [(p.containerPort, p.hostPort, p.hostIP) for p in report.hostPorts] == [
        (80, 18080, "127.0.0.1")
    ]
    assert report.generation == 1 and report.restartCount == 0


def test_the_node_registers_on_a_lease_and_publishes_metrics(
    agent: NodeAgent, cluster: Cluster, store: MemoryStore, keys: Keys
) -> None:
    wait_until(lambda: cluster.node_info(NODE) is not None, what="node info")
    info = cluster.node_info(NODE)
    assert info is not None
    assert info.capacity.cpu == 2.0 and info.capacity.memory == 4 << 30
    assert info.agentUrl is not None and info.agentUrl.startswith("http://127.0.0.1:")
    kv = store.get(keys.node_info(NODE))
    assert kv is not None and kv.lease != 0, "node info must be bound to a lease"
    wait_until(lambda: store.get(keys.node_metrics(NODE)) is not None, what="metrics")
    metrics_kv = store.get(keys.node_metrics(NODE))
    assert metrics_kv is not None
    metrics = NodeMetrics.model_validate_json(metrics_kv.value)
    assert metrics.memoryTotal > 0 and 0 <= metrics.cpuPercent <= 100


def test_removing_the_binding_removes_the_container_and_then_the_report(
    agent: NodeAgent, cluster: Cluster, runtime: FakeRuntime
) -> None:
    cluster.bind(NODE, "web")
    cluster.wait_report(NODE, "web", state="Running")
    cluster.unbind(NODE, "web")
    cluster.wait_no_report(NODE, "web")
    assert containers(runtime, "web") == []


def test_a_new_generation_replaces_the_container(
    agent: NodeAgent, cluster: Cluster, runtime: FakeRuntime
) -> None:
    cluster.bind(NODE, "web", env={"V": "1"})
    first = cluster.wait_report(NODE, "web", state="Running")
    cluster.bind(NODE, "web", generation=2, env={"V": "2"})
    second = cluster.wait_report(NODE, "web", state="Running", generation=2)
    assert second.containerId != first.containerId
    assert containers(runtime, "web") == [second.containerId]
    assert runtime.inspect(second.containerId or "").labels[LABEL_GENERATION] == "2"


def test_a_failing_container_is_restarted_with_back_off_under_on_failure(
    agent: NodeAgent, cluster: Cluster, runtime: FakeRuntime
) -> None:
    runtime.script_exit(container_name(NODE, "default", "flaky"), 3, after=0.05)
    cluster.bind(NODE, "flaky", restartPolicy="OnFailure")
    backing = cluster.wait_report(NODE, "flaky", state="Waiting", reason="BackOff")
    assert backing.exitCode == 3 and "back-off 0.2s" in (backing.message or "")
    later = cluster.wait_report(NODE, "flaky", restartCount=1, state="Waiting")
    assert "back-off 0.4s" in (later.message or ""), "the back-off doubles"
    cluster.wait_report(NODE, "flaky", restartCount=2)
    assert len(containers(runtime, "flaky")) == 1


def test_never_leaves_a_failed_container_exited(
    agent: NodeAgent, cluster: Cluster, runtime: FakeRuntime
) -> None:
    runtime.script_exit(container_name(NODE, "default", "once"), 1, after=0.05)
    cluster.bind(NODE, "once", restartPolicy="Never")
    report = cluster.wait_report(NODE, "once", state="Exited")
    assert (report.exitCode, report.reason, report.restartCount) == (1, "Error", 0)


def test_a_job_that_exits_zero_completes_and_stays(
    agent: NodeAgent, cluster: Cluster, runtime: FakeRuntime
) -> None:
    runtime.script_exit(container_name(NODE, "default", "job"), 0, after=0.05)
    cluster.bind(NODE, "job")
    report = cluster.wait_report(NODE, "job", state="Exited")
    assert (report.exitCode, report.reason) == (0, "Completed")


def test_an_oom_kill_is_reported(agent: NodeAgent, cluster: Cluster, runtime: FakeRuntime) -> None:
    cluster.bind(NODE, "hog", restartPolicy="Never")
    report = cluster.wait_report(NODE, "hog", state="Running")
    runtime.kill(report.containerId or "", exit_code=137, oom=True)
    ended = cluster.wait_report(NODE, "hog", state="Exited")
    assert ended.oomKilled and ended.reason == "OOMKilled" and ended.exitCode == 137


def test_a_container_killed_behind_the_agents_back_is_restarted(
    agent: NodeAgent, cluster: Cluster, runtime: FakeRuntime
) -> None:
    cluster.bind(NODE, "web", restartPolicy="Always")
    first = cluster.wait_report(NODE, "web", state="Running")
    runtime.remove_behind_back(first.containerId or "")
    again = cluster.wait_report(
        NODE, "web", state="Running", where=lambda r: r.containerId != first.containerId
    )
    assert again.restartCount == 1, "a container removed behind our back counts as a restart"


def test_a_container_removed_under_never_is_reported_not_restarted(
    agent: NodeAgent, cluster: Cluster, runtime: FakeRuntime
) -> None:
    cluster.bind(NODE, "web", restartPolicy="Never")
    first = cluster.wait_report(NODE, "web", state="Running")
    runtime.remove_behind_back(first.containerId or "")
    gone = cluster.wait_report(NODE, "web", state="Exited", reason="ContainerRemoved")
    assert gone.exitCode is None
    assert containers(runtime, "web") == []


def test_a_failing_exec_health_check_restarts_the_container(
    agent: NodeAgent, cluster: Cluster, runtime: FakeRuntime
) -> None:
    healthy = threading.Event()
    healthy.set()
    name = container_name(NODE, "default", "checked")
    runtime.on_exec(name, lambda cmd: (0, b"") if healthy.is_set() else (1, b"boom\n"))
    cluster.bind(
        NODE,
        "checked",
        restartPolicy="Always",
        healthCheck={"exec": {"command": ["true"]}, "periodSeconds": 1, "failureThreshold": 2},
    )
    first = cluster.wait_report(NODE, "checked", state="Running", healthy=True)
    healthy.clear()
    cluster.wait_report(NODE, "checked", restartCount=1, timeout=15)
    healthy.set()
    later = cluster.wait_report(NODE, "checked", state="Running", healthy=True, timeout=15)
    assert later.containerId != first.containerId


def _serving(status: int) -> tuple[ThreadingHTTPServer, threading.Thread]:
    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    return server, thread


def test_http_and_tcp_health_checks_probe_the_container_address(
    agent: NodeAgent, cluster: Cluster
) -> None:
    """FakeRuntime containers live at 127.0.0.1: a server of the test's answers the probes."""
    server, thread = _serving(200)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]  # bound, never listening: connections are refused
    try:
        port = server.server_address[1]
        cluster.bind(
            NODE,
            "http-ok",
            healthCheck={"httpGet": {"port": port, "path": "/"}, "periodSeconds": 1},
        )
        cluster.bind(
            NODE,
            "tcp-bad",
            restartPolicy="Never",
            healthCheck={
                "tcpSocket": {"port": dead_port},
                "periodSeconds": 1,
                "failureThreshold": 1,
            },
        )
        cluster.wait_report(NODE, "http-ok", state="Running", healthy=True)
        bad = cluster.wait_report(NODE, "tcp-bad", state="Exited")
        assert bad.reason == "Unhealthy" and "TCP connect" in (bad.message or "")
    finally:
        closed.close()
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_restarted_agent_adopts_its_containers(
    store: MemoryStore, keys: Keys, cluster: Cluster, runtime: FakeRuntime
) -> None:
    first = start_agent(store, keys, runtime, NODE)
    try:
        for name in ("a", "b", "c"):
            cluster.bind(NODE, name)
        ids = {n: cluster.wait_report(NODE, n, state="Running").containerId for n in "abc"}
    finally:
        first.stop()
    cluster.unbind(NODE, "c")  # changed while no agent ran
    second = start_agent(store, keys, runtime, NODE)
    try:
        cluster.wait_no_report(NODE, "c")
        for name in ("a", "b"):
            assert cluster.wait_report(NODE, name, state="Running").containerId == ids[name]
        assert sorted(containers(runtime)) == sorted([ids["a"], ids["b"]])
    finally:
        second.stop()


def test_an_unknown_container_of_this_node_is_removed(
    agent: NodeAgent, cluster: Cluster, runtime: FakeRuntime
) -> None:
    cluster.bind(NODE, "keep")
    cluster.wait_report(NODE, "keep", state="Running")
    from agent.runtime import ContainerSpec

    stray = runtime.create_and_start(
        ContainerSpec(
            name="stray", image="x", labels={LABEL_NODE: NODE, LABEL_TASK: "default/stray"}
        )
    )
    wait_until(lambda: stray.id not in containers(runtime), what="stray container removed")
    assert len(containers(runtime, "keep")) == 1


def test_a_missing_image_is_reported_and_retried(
    store: MemoryStore, keys: Keys, cluster: Cluster
) -> None:
    runtime = FakeRuntime(images=["present:latest"])
    agent = start_agent(store, keys, runtime, NODE)
    try:
        cluster.bind(NODE, "web", image="absent:1")
        report = cluster.wait_report(NODE, "web", state="Waiting", reason="ImageNotFound")
        assert "absent:1" in (report.message or "")
        runtime.add_image("absent:1")
        cluster.wait_report(NODE, "web", state="Running")
    finally:
        agent.stop()


def test_an_engine_outage_is_survived(
    agent: NodeAgent, cluster: Cluster, runtime: FakeRuntime
) -> None:
    cluster.bind(NODE, "web")
    cluster.wait_report(NODE, "web", state="Running")
    runtime.set_available(False)
    cluster.bind(NODE, "late")  # bound while the engine is away
    wait_until(lambda: agent.queue.num_requeues("default/late") >= 1, what="retries")
    runtime.set_available(True)
    cluster.wait_report(NODE, "late", state="Running")


def test_http_endpoint_serves_health_metrics_and_logs(
    agent: NodeAgent, cluster: Cluster, runtime: FakeRuntime
) -> None:
    assert agent.server is not None
    url = agent.server.url
    cluster.bind(NODE, "talker")
    report = cluster.wait_report(NODE, "talker", state="Running")
    runtime.write_log(report.containerId or "", b"line one\nline two\n")
    wait_until(lambda: agent.registration.registered.is_set(), what="registered")
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as r:
        assert r.status == 200
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as r:
        text = r.read().decode()
    assert 'shoal_agent_container_starts_total{node="n1"} 1.0' in text
    assert "shoal_agent_reconcile_duration_seconds_bucket" in text
    with urllib.request.urlopen(f"{url}/logs/default/talker?tail=1", timeout=5) as r:
        assert r.read() == b"line two\n"
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=5)
    conn.request("GET", "/logs/default/nobody")
    response = conn.getresponse()
    assert response.status == 404 and b"no container" in response.read()
    conn.close()


def test_the_node_key_goes_when_the_lease_is_not_renewed(
    store: MemoryStore, keys: Keys, cluster: Cluster, runtime: FakeRuntime
) -> None:
    agent = start_agent(store, keys, runtime, NODE)
    wait_until(lambda: cluster.node_info(NODE) is not None)
    try:
        agent.registration.stop(revoke=False)  # keep-alives end, as when the agent is killed
        wait_until(lambda: cluster.node_info(NODE) is None, timeout=5, what="node info to expire")
    finally:
        agent.stop()


def test_logs_follow_streams_new_output(
    agent: NodeAgent, cluster: Cluster, runtime: FakeRuntime
) -> None:
    assert agent.server is not None
    cluster.bind(NODE, "talker")
    report = cluster.wait_report(NODE, "talker", state="Running")
    cid = report.containerId or ""
    runtime.write_log(cid, b"first\n")
    with urllib.request.urlopen(f"{agent.server.url}/logs/default/talker?follow=1", timeout=5) as r:
        assert r.readline() == b"first\n"
        runtime.write_log(cid, b"second\n")
        assert r.readline() == b"second\n"
        runtime.kill(cid, exit_code=0)
        assert r.read() == b"", "the stream ends when the container does"
