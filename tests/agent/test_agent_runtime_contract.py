"""The Runtime contract, run against FakeRuntime and DockerRuntime alike.

Each runtime comes with a small harness that knows how to make "a process" do something
(exit with a code, print, answer an exec, be killed behind the agent's back): a real command
for Docker, a script for the fake. The assertions are the same for both.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from agent.docker_runtime import DockerRuntime
from agent.fake_runtime import FakeRuntime
from agent.runtime import (
    ContainerConflict,
    ContainerInfo,
    ContainerNotFound,
    ContainerSpec,
    ExecTimeout,
    ImageNotFound,
    PortBinding,
    Runtime,
    RuntimeEvent,
    StartFailed,
)
from core.testing import wait_until

pytestmark = pytest.mark.usefixtures("no_thread_left_running")


IMAGE = "shoal-busybox:latest"
SLEEP = ["sleep", "300"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- harnesses ----------------------------------------------------------------------------


class Harness:
    """A runtime under test plus the means to make its containers' processes act."""

    kind = ""
    runtime: Runtime

    def __init__(self) -> None:
        self.tag = str(uuid.uuid4())

    def spec(self, suffix: str, command: list[str] | None = None, **kw: Any) -> ContainerSpec:
        labels = {"shoal.test": self.tag, "shoal.task": f"default/{suffix}", **kw.pop("labels", {})}
        return ContainerSpec(
            name=f"shoal-test-{self.tag[:8]}-{suffix}",
            image=kw.pop("image", IMAGE),
            command=SLEEP if command is None else command,
            labels=labels,
            **kw,
        )

    def exiting(self, suffix: str, code: int) -> ContainerSpec:
        raise NotImplementedError

    def printing(self, suffix: str, text: str) -> ContainerInfo:
        """A container whose output is `text`; returns once the output is there."""
        raise NotImplementedError

    def answering_exec(self, info: ContainerInfo, code: int, output: bytes) -> list[str]:
        """A command that, exec'd in `info`, exits `code` after printing `output`."""
        raise NotImplementedError

    def kill_behind_back(self, container_id: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class FakeHarness(Harness):
    kind = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.fake = FakeRuntime(images={IMAGE})
        self.runtime = self.fake

    def exiting(self, suffix: str, code: int) -> ContainerSpec:
        spec = self.spec(suffix)
        self.fake.script_exit(spec.name, code, after="immediately")
        return spec

    def printing(self, suffix: str, text: str) -> ContainerInfo:
        info = self.runtime.create_and_start(self.spec(suffix))
        self.fake.write_log(info.id, text.encode())
        self.fake.kill(info.id, exit_code=0)  # the process printed and ended
        return info

    def answering_exec(self, info: ContainerInfo, code: int, output: bytes) -> list[str]:
        self.fake.on_exec(info.name, lambda command: (code, output))
        return ["answer"]

    def kill_behind_back(self, container_id: str) -> None:
        self.fake.kill(container_id, exit_code=137)


class DockerHarness(Harness):
    kind = "docker"

    def __init__(self) -> None:
        super().__init__()
        self.client = docker.DockerClient(base_url="unix:///var/run/docker.sock", timeout=30)
        self.docker_runtime = DockerRuntime()
        self.runtime = self.docker_runtime

    def exiting(self, suffix: str, code: int) -> ContainerSpec:
        return self.spec(suffix, ["sh", "-c", f"exit {code}"])

    def printing(self, suffix: str, text: str) -> ContainerInfo:
        escaped = text.replace("\n", "\\n")  # printf turns the two characters back into one
        info = self.runtime.create_and_start(self.spec(suffix, ["sh", "-c", f"printf '{escaped}'"]))
        wait_until(lambda: self.runtime.inspect(info.id).state == "exited", what="printf to end")
        return info

    def answering_exec(self, info: ContainerInfo, code: int, output: bytes) -> list[str]:
        return ["sh", "-c", f"printf '{output.decode()}'; exit {code}"]

    def kill_behind_back(self, container_id: str) -> None:
        self.client.containers.get(container_id).kill()

    def docker_container(self, container_id: str) -> Any:
        return self.client.containers.get(container_id)

    def close(self) -> None:
        # Everything this test created carries its label: remove it all, whatever happened.
        for c in self.client.containers.list(all=True, filters={"label": f"shoal.test={self.tag}"}):
            c.remove(force=True)
        self.docker_runtime.close()
        self.client.close()


def docker_answers() -> str | None:
    """None if a Docker engine answers, else why not (the reason tests are skipped)."""
    try:
        client = docker.DockerClient(base_url="unix:///var/run/docker.sock", timeout=5)
        try:
            client.ping()
            if not client.images.list(name=IMAGE):
                return f"image {IMAGE} is not present (it is never pulled)"
        finally:
            client.close()
    except Exception as exc:
        return f"no Docker engine answers at unix:///var/run/docker.sock: {exc}"
    return None


@pytest.fixture(
    params=[pytest.param("fake"), pytest.param("docker", marks=pytest.mark.docker)],
)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    if request.param == "docker":
        reason = docker_answers()
        if reason:
            pytest.skip(reason)
        h: Harness = DockerHarness()
    else:
        h = FakeHarness()
    try:
        yield h
    finally:
        h.close()


@pytest.fixture
def docker_harness() -> Iterator[DockerHarness]:
    reason = docker_answers()
    if reason:
        pytest.skip(reason)
    h = DockerHarness()
    try:
        yield h
    finally:
        h.close()


class EventCollector:
    """Consumes `runtime.events` on a thread; joined (and checked to end) on exit."""

    def __init__(self, runtime: Runtime, selector: dict[str, str]) -> None:
        self.stop = threading.Event()
        self.events: list[RuntimeEvent] = []
        self.errors: list[BaseException] = []
        self._stream = runtime.events(self.stop, selector)
        self._thread = threading.Thread(target=self._consuming, daemon=True)
        self._thread.start()

    def _consuming(self) -> None:
        try:
            for event in self._stream:
                self.events.append(event)
        except BaseException as exc:
            self.errors.append(exc)

    def wait_for(self, action: str, container_id: str, timeout: float = 10.0) -> RuntimeEvent:
        def found() -> RuntimeEvent | None:
            assert not self.errors, self.errors
            for event in list(self.events):
                if event.action == action and event.container_id == container_id:
                    return event
            return None

        event: RuntimeEvent = wait_until(found, timeout, what=f"{action} of {container_id[:12]}")
        return event

    def close(self) -> float:
        """Set stop; return how long the stream took to end."""
        started = time.monotonic()
        self.stop.set()
        self._thread.join(timeout=5)
        assert not self._thread.is_alive(), "event stream did not end after stop was set"
        return time.monotonic() - started

    def __enter__(self) -> EventCollector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the contract -------------------------------------------------------------------------


def test_create_and_start_gives_a_running_container_with_its_labels(harness: Harness) -> None:
    spec = harness.spec("web", labels={"shoal.node": "n1", "shoal.generation": "3"})
    info = harness.runtime.create_and_start(spec)
    assert info.state == "running"
    assert info.name == spec.name
    assert info.image == IMAGE
    assert info.labels["shoal.task"] == "default/web"
    assert info.labels["shoal.node"] == "n1"
    assert info.labels["shoal.generation"] == "3"
    assert info.started_at is not None and info.started_at.tzinfo is not None
    assert info.exit_code is None and info.finished_at is None
    assert harness.runtime.inspect(info.id) == harness.runtime.inspect(spec.name)


def test_list_selects_by_label_in_every_state(harness: Harness) -> None:
    a = harness.runtime.create_and_start(harness.spec("a", labels={"role": "x"}))
    b = harness.runtime.create_and_start(harness.spec("b", labels={"role": "y"}))
    harness.runtime.stop(b.id, timeout=1)

    everything = harness.runtime.list({"shoal.test": harness.tag})
    assert {c.id for c in everything} == {a.id, b.id}
    assert {c.state for c in everything} == {"running", "exited"}
    only_y = harness.runtime.list({"shoal.test": harness.tag, "role": "y"})
    assert [c.id for c in only_y] == [b.id]
    assert harness.runtime.list({"shoal.test": harness.tag, "role": "z"}) == []


def test_inspect_of_a_missing_container_raises_not_found(harness: Harness) -> None:
    with pytest.raises(ContainerNotFound):
        harness.runtime.inspect(f"shoal-test-{harness.tag}-nothing")


def test_stop_leaves_it_exited_with_its_exit_code(harness: Harness) -> None:
    info = harness.runtime.create_and_start(harness.spec("stopme"))
    started = time.monotonic()
    harness.runtime.stop(info.id, timeout=10)
    assert time.monotonic() - started < 5, "stop waited for its timeout: is init=True set?"
    stopped = harness.runtime.inspect(info.id)
    assert stopped.state == "exited"
    assert stopped.exit_code == 143  # SIGTERM, delivered through the init process
    assert stopped.finished_at is not None and stopped.oom_killed is False
    harness.runtime.stop(info.id)  # stopping a stopped container is fine


def test_remove_is_idempotent_and_forces_running_containers(harness: Harness) -> None:
    info = harness.runtime.create_and_start(harness.spec("gone"))
    harness.runtime.remove(info.id)
    with pytest.raises(ContainerNotFound):
        harness.runtime.inspect(info.id)
    assert harness.runtime.list({"shoal.test": harness.tag}) == []
    harness.runtime.remove(info.id)
    harness.runtime.remove("shoal-test-no-such-container")


def test_remove_without_force_refuses_a_running_container(harness: Harness) -> None:
    info = harness.runtime.create_and_start(harness.spec("busy"))
    with pytest.raises(ContainerConflict):
        harness.runtime.remove(info.id, force=False)
    assert harness.runtime.inspect(info.id).state == "running"


@pytest.mark.parametrize("code", [0, 3])
def test_exit_codes_are_reported(harness: Harness, code: int) -> None:
    info = harness.runtime.create_and_start(harness.exiting(f"exit{code}", code))
    done = wait_until(
        lambda: (c := harness.runtime.inspect(info.id)).state == "exited" and c,
        what="the container to exit",
    )
    assert done.exit_code == code
    assert done.oom_killed is False
    assert done.finished_at is not None and done.started_at is not None
    assert done.finished_at >= done.started_at


def test_a_port_conflict_raises_start_failed_and_leaves_nothing_behind(harness: Harness) -> None:
    port = free_port()
    first = harness.runtime.create_and_start(harness.spec("p1", ports=[PortBinding(8080, port)]))
    assert first.host_ports == [PortBinding(8080, port, "tcp", "127.0.0.1")]
    second = harness.spec("p2", ports=[PortBinding(8080, port)])
    with pytest.raises(StartFailed, match="port is already allocated"):
        harness.runtime.create_and_start(second)
    assert [c.id for c in harness.runtime.list({"shoal.test": harness.tag})] == [first.id]
    with pytest.raises(ContainerNotFound):
        harness.runtime.inspect(second.name)
    # Once the first is stopped its port is free again.
    harness.runtime.stop(first.id, timeout=1)
    again = harness.runtime.create_and_start(second)
    assert again.state == "running"


def test_host_port_zero_gets_a_port_chosen(harness: Harness) -> None:
    info = harness.runtime.create_and_start(harness.spec("anyport", ports=[PortBinding(80, 0)]))
    [binding] = info.host_ports
    assert binding.container_port == 80 and binding.host_port > 0
    assert binding.host_ip == "127.0.0.1"


def test_a_name_in_use_is_a_conflict(harness: Harness) -> None:
    harness.runtime.create_and_start(harness.spec("twice"))
    with pytest.raises(ContainerConflict, match="already in use"):
        harness.runtime.create_and_start(harness.spec("twice"))


def test_a_missing_image_is_image_not_found_and_never_pulled(harness: Harness) -> None:
    spec = harness.spec("noimage", image=f"shoal-missing-{harness.tag[:8]}:never")
    with pytest.raises(ImageNotFound):
        harness.runtime.create_and_start(spec)
    assert harness.runtime.list({"shoal.test": harness.tag}) == []


def test_events_report_a_container_killed_behind_the_runtimes_back(harness: Harness) -> None:
    with EventCollector(harness.runtime, {"shoal.test": harness.tag}) as events:
        info = harness.runtime.create_and_start(harness.spec("victim"))
        start = events.wait_for("start", info.id)
        assert start.labels["shoal.test"] == harness.tag
        assert start.labels["shoal.task"] == "default/victim"
        harness.kill_behind_back(info.id)
        died = events.wait_for("die", info.id, timeout=2)
        assert died.exit_code == 137
        assert died.time.tzinfo is not None
        harness.runtime.remove(info.id)
        events.wait_for("destroy", info.id, timeout=2)


def test_events_are_filtered_by_label_and_end_soon_after_stop(harness: Harness) -> None:
    events = EventCollector(harness.runtime, {"shoal.test": harness.tag, "pick": "me"})
    try:
        ignored = harness.runtime.create_and_start(harness.spec("ignored"))
        picked = harness.runtime.create_and_start(harness.spec("picked", labels={"pick": "me"}))
        events.wait_for("start", picked.id)
        assert all(e.container_id != ignored.id for e in events.events)
    finally:
        took = events.close()
    assert took < 1.0


def test_logs_return_the_containers_output(harness: Harness) -> None:
    info = harness.printing("talk", "one\ntwo\nthree\n")
    assert b"".join(harness.runtime.logs(info.id)) == b"one\ntwo\nthree\n"
    assert b"".join(harness.runtime.logs(info.id, tail=1)) == b"three\n"
    assert b"".join(harness.runtime.logs(info.id, tail=0)) == b""
    # The container has ended, so following its logs ends too.
    assert b"".join(harness.runtime.logs(info.id, follow=True)) == b"one\ntwo\nthree\n"


def test_exec_returns_exit_code_and_output(harness: Harness) -> None:
    info = harness.runtime.create_and_start(harness.spec("exec"))
    command = harness.answering_exec(info, 4, b"checked")
    assert harness.runtime.exec(info.id, command, timeout=10) == (4, b"checked")


def test_exec_in_a_stopped_container_is_a_conflict(harness: Harness) -> None:
    info = harness.runtime.create_and_start(harness.spec("execstopped"))
    harness.runtime.stop(info.id, timeout=1)
    with pytest.raises(ContainerConflict):
        harness.runtime.exec(info.id, ["true"], timeout=5)


def test_ping_and_info(harness: Harness) -> None:
    harness.runtime.ping()
    info = harness.runtime.info()
    assert info.name == harness.kind
    assert info.version and info.data_root
    assert info.cpus >= 1 and info.memory > 0


# --- what only a real engine can show -----------------------------------------------------


@pytest.mark.docker
def test_docker_sets_limits_init_and_a_loopback_port(docker_harness: DockerHarness) -> None:
    spec = docker_harness.spec(
        "limits", cpu=0.5, memory=64 << 20, ports=[PortBinding(8080, free_port())]
    )
    info = docker_harness.runtime.create_and_start(spec)
    attrs = docker_harness.docker_container(info.id).attrs
    host = attrs["HostConfig"]
    assert host["Memory"] == 64 << 20
    assert host["NanoCpus"] == 500_000_000
    assert host["Init"] is True
    assert [b["HostIp"] for b in host["PortBindings"]["8080/tcp"]] == ["127.0.0.1"]
    assert attrs["Config"]["StopTimeout"] == 2


@pytest.mark.docker
def test_docker_published_port_answers_http(docker_harness: DockerHarness) -> None:
    port = free_port()
    spec = docker_harness.spec(
        "httpd", ["httpd", "-f", "-p", "8080", "-h", "/www"], ports=[PortBinding(8080, port)]
    )
    info = docker_harness.runtime.create_and_start(spec)

    def fetch() -> bytes | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                body: bytes = response.read()
                return body
        except OSError:
            return None  # docker-proxy is up before httpd listens: try again

    body = wait_until(fetch, timeout=10, what="httpd to answer")
    code, index = docker_harness.runtime.exec(info.id, ["cat", "/www/index.html"], timeout=10)
    assert code == 0 and index
    assert body == index


@pytest.mark.docker
def test_docker_oom_kill_shows_as_oom_killed_137(docker_harness: DockerHarness) -> None:
    if not docker_harness.client.info().get("MemoryLimit", False):
        pytest.skip("this kernel does not enforce container memory limits")
    with EventCollector(docker_harness.runtime, {"shoal.test": docker_harness.tag}) as events:
        spec = docker_harness.spec(
            "hog", ["sh", "-c", "x=a; while true; do x=$x$x; done"], memory=8 << 20
        )
        info = docker_harness.runtime.create_and_start(spec)
        done = wait_until(
            lambda: (c := docker_harness.runtime.inspect(info.id)).state == "exited" and c,
            timeout=30,
            what="the memory hog to be killed",
        )
        assert done.oom_killed is True
        assert done.exit_code == 137
        events.wait_for("oom", info.id)
        assert events.wait_for("die", info.id).exit_code == 137


@pytest.mark.docker
def test_docker_exec_timeout(docker_harness: DockerHarness) -> None:
    info = docker_harness.runtime.create_and_start(docker_harness.spec("slowexec"))
    started = time.monotonic()
    with pytest.raises(ExecTimeout):
        docker_harness.runtime.exec(info.id, ["sleep", "30"], timeout=0.5)
    assert time.monotonic() - started < 3
