"""What only the fake has: scripting, an injected clock, thread safety, an engine that goes away."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.fake_runtime import FakeRuntime, normalise_image
from agent.runtime import (
    ContainerSpec,
    PortBinding,
    Runtime,
    RuntimeEvent,
    RuntimeUnavailable,
    StartFailed,
)

pytestmark = pytest.mark.usefixtures("no_thread_left_running")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeRuntime:
    return FakeRuntime(now=clock, images={"busybox"})


def spec(name: str, **kw: Any) -> ContainerSpec:
    return ContainerSpec(name=name, image=kw.pop("image", "busybox"), labels={"app": name}, **kw)


def drain(events: Iterator[RuntimeEvent], stop: threading.Event, count: int) -> list[str]:
    """The next `count` events' "action:name", read on this thread with a deadline."""
    got: list[str] = []
    deadline = time.monotonic() + 5
    for event in events:
        got.append(f"{event.action}:{event.name}")
        if len(got) == count or time.monotonic() > deadline:
            break
    return got


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_it_satisfies_the_runtime_protocol(fake: FakeRuntime) -> None:
    assert isinstance(fake, Runtime)


def test_scripted_exit_falls_due_by_the_injected_clock(fake: FakeRuntime, clock: Clock) -> None:
    fake.script_exit("web", 1, after=30)
    info = fake.create_and_start(spec("web"))
    clock.advance(29)
    assert fake.inspect(info.id).state == "running"
    clock.advance(1)
    done = fake.inspect(info.id)
    assert (done.state, done.exit_code) == ("exited", 1)
    assert done.finished_at == info.started_at + timedelta(seconds=30)  # type: ignore[operator]


def test_scripted_exit_by_image_applies_to_running_containers_too(
    fake: FakeRuntime, clock: Clock, stop: threading.Event
) -> None:
    a = fake.create_and_start(spec("a"))
    events = fake.events(stop, {})
    fake.script_exit("busybox:latest", 2, after=5)  # no match: the spec says "busybox"
    fake.script_exit("busybox", 2, after=5)
    clock.advance(5)
    fake.tick()
    assert drain(events, stop, 1) == ["die:a"]
    assert fake.inspect(a.id).exit_code == 2
    b = fake.create_and_start(spec("b"))
    assert b.state == "running"
    fake.clear_scripts()
    c = fake.create_and_start(spec("c"))
    clock.advance(60)
    assert fake.inspect(b.id).state == "exited"
    assert fake.inspect(c.id).state == "running"


def test_immediate_exit_emits_create_start_die(fake: FakeRuntime, stop: threading.Event) -> None:
    events = fake.events(stop, {})
    fake.script_exit("job", 0)
    info = fake.create_and_start(spec("job"))
    assert (info.state, info.exit_code) == ("exited", 0)
    assert drain(events, stop, 3) == ["create:job", "start:job", "die:job"]


def test_fail_next_start_fails_once_and_removes_the_container(fake: FakeRuntime) -> None:
    fake.fail_next_start("web", "oci runtime error: boom")
    with pytest.raises(StartFailed, match="boom"):
        fake.create_and_start(spec("web"))
    assert fake.list({}) == []
    assert fake.create_and_start(spec("web")).state == "running"


def test_oom_kill_behind_the_back(fake: FakeRuntime, stop: threading.Event) -> None:
    info = fake.create_and_start(spec("hog"))
    events = fake.events(stop, {"app": "hog"})
    fake.kill(info.id, oom=True)
    done = fake.inspect(info.id)
    assert (done.state, done.exit_code, done.oom_killed) == ("exited", 137, True)
    assert drain(events, stop, 2) == ["oom:hog", "die:hog"]


def test_remove_behind_back_emits_die_and_destroy(fake: FakeRuntime, stop: threading.Event) -> None:
    info = fake.create_and_start(spec("web"))
    events = fake.events(stop, {})
    fake.remove_behind_back(info.name)
    assert fake.list({}) == []
    assert drain(events, stop, 3) == ["kill:web", "die:web", "destroy:web"]


def test_ports_conflict_like_dockers(fake: FakeRuntime) -> None:
    fake.create_and_start(spec("a", ports=[PortBinding(80, 8080, "tcp", "0.0.0.0")]))
    with pytest.raises(StartFailed, match="port is already allocated"):
        fake.create_and_start(spec("b", ports=[PortBinding(80, 8080, "tcp", "127.0.0.1")]))
    # Another protocol, or another port, is fine.
    fake.create_and_start(spec("c", ports=[PortBinding(80, 8080, "udp")]))
    fake.create_and_start(spec("d", ports=[PortBinding(80, 8081)]))
    assert [c.name for c in fake.list({})] == ["a", "c", "d"]


def test_distinct_host_addresses_do_not_conflict(fake: FakeRuntime) -> None:
    fake.create_and_start(spec("a", ports=[PortBinding(80, 8080, "tcp", "10.0.0.1")]))
    fake.create_and_start(spec("b", ports=[PortBinding(80, 8080, "tcp", "10.0.0.2")]))


def test_chosen_host_ports_avoid_taken_ones(fake: FakeRuntime) -> None:
    first = fake.create_and_start(spec("a", ports=[PortBinding(80, 32768)]))
    second = fake.create_and_start(spec("b", ports=[PortBinding(80, 0), PortBinding(81, 0)]))
    assert first.host_ports[0].host_port == 32768
    assert [p.host_port for p in second.host_ports] == [32769, 32770]


def test_images_are_normalised_and_can_be_added(fake: FakeRuntime) -> None:
    assert normalise_image("busybox") == "busybox:latest"
    assert normalise_image("reg:5000/x") == "reg:5000/x:latest"
    assert normalise_image("x@sha256:ab") == "x@sha256:ab"
    fake.create_and_start(spec("a", image="busybox:latest"))
    fake.add_image("other:1")
    fake.create_and_start(spec("b", image="other:1"))
    assert FakeRuntime().create_and_start(spec("c", image="anything")).state == "running"


def test_an_unavailable_engine_fails_every_call_and_ends_event_streams(
    fake: FakeRuntime, stop: threading.Event
) -> None:
    info = fake.create_and_start(spec("a"))
    events = fake.events(stop, {})
    fake.set_available(False)
    calls: list[Callable[[], object]] = [
        fake.ping,
        fake.info,
        lambda: fake.list({}),
        lambda: fake.inspect(info.id),
        lambda: fake.create_and_start(spec("b")),
        lambda: fake.stop(info.id),
        lambda: fake.remove(info.id),
        lambda: fake.exec(info.id, ["true"], 1),
        lambda: fake.events(stop, {}),
    ]
    for call in calls:
        with pytest.raises(RuntimeUnavailable):
            call()
    with pytest.raises(RuntimeUnavailable):
        next(events)
    fake.set_available(True)
    assert fake.inspect(info.id).state == "running"


def test_logs_follow_until_the_container_ends(fake: FakeRuntime) -> None:
    info = fake.create_and_start(spec("talk"))
    fake.write_log(info.id, b"one\n")
    stream = fake.logs(info.id, follow=True)
    assert next(stream) == b"one\n"
    fake.write_log(info.id, b"two\n")
    assert next(stream) == b"two\n"
    fake.write_log(info.id, b"three\n")
    fake.stop(info.id)
    assert list(stream) == [b"three\n"]


def test_event_stream_ends_after_stop_and_unsubscribes(fake: FakeRuntime) -> None:
    stop = threading.Event()
    events = fake.events(stop, {})
    stop.set()
    started = time.monotonic()
    assert list(events) == []
    assert time.monotonic() - started < 1
    fake.create_and_start(spec("late"))  # nobody listens any more: nothing queues up


def test_concurrent_use_from_many_threads_is_consistent(fake: FakeRuntime) -> None:
    """Eight threads race for 20 host ports: every port is bound once, no name twice."""
    failures: list[str] = []
    started: list[str] = []
    lock = threading.Lock()

    def working(worker: int) -> None:
        for i in range(40):
            try:
                info = fake.create_and_start(
                    spec(f"w{worker}-{i}", ports=[PortBinding(80, 9000 + i % 20)])
                )
                with lock:
                    started.append(info.id)
                fake.list({"app": info.name})
                if i % 3 == 0:
                    fake.remove(info.id)
            except StartFailed as exc:
                with lock:
                    failures.append(str(exc))

    threads = [threading.Thread(target=working, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    running = fake.list({})
    bound = [p.host_port for c in running for p in c.host_ports]
    assert len(bound) == len(set(bound)) <= 20
    assert len({c.name for c in running}) == len(running)
    assert all("port is already allocated" in f for f in failures)
    assert len(started) + len(failures) == 8 * 40
