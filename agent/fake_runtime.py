"""`FakeRuntime`: the `Runtime` protocol in memory, for component tests and simulated nodes.

It behaves like Docker where the agent can tell (the same contract tests run against both):
containers run once started, names are unique, host ports conflict as Docker's do ("port is
already allocated", the half-made container removed), removal is idempotent, events are emitted
for create/start/kill/oom/die/stop/destroy. What a real process would decide is scripted:
`script_exit`, `fail_next_start`, `kill`, `remove_behind_back`, `write_log`, `on_exec`,
`set_available`.

A running container's address is `container_ip` (loopback unless told otherwise), so a test
can answer an httpGet or tcpSocket health probe with a server of its own on that port.

Time comes from the injected `now`; scripted exits fall due against it and are settled on every
call and by the event stream's poll, or at once by `tick()` after a test moves its clock. No
thread of its own: one lock guards everything.
"""

from __future__ import annotations

import builtins
import hashlib
import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from agent.runtime import (
    DEFAULT_HOST_IP,
    ContainerConflict,
    ContainerInfo,
    ContainerNotFound,
    ContainerSpec,
    ContainerState,
    ImageNotFound,
    PortBinding,
    RuntimeEvent,
    RuntimeInfo,
    RuntimeUnavailable,
    StartFailed,
    matches,
)

ExecHandler = Callable[[Sequence[str]], tuple[int, bytes]]

_EPHEMERAL_PORTS = range(32768, 61000)  # Linux's default ip_local_port_range, as Docker uses
_ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})
_POLL_SECONDS = 0.2  # how often a waiting event stream settles due exits and checks `stop`
_SIGTERM_EXIT = 143  # what a process stopped by SIGTERM exits with under docker-init


def _utcnow() -> datetime:
    return datetime.now(UTC)


def normalise_image(image: str) -> str:
    """ "busybox" and "busybox:latest" are one image, as for Docker."""
    if "@" in image or ":" in image.rsplit("/", 1)[-1]:
        return image
    return f"{image}:latest"


@dataclass
class _Container:
    id: str
    spec: ContainerSpec
    state: ContainerState = "created"
    exit_code: int | None = None
    oom_killed: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    host_ports: list[PortBinding] = field(default_factory=list)
    output: bytearray = field(default_factory=bytearray)
    exit_at: datetime | None = None  # a scripted exit falls due then, with `exit_with`
    exit_with: int = 0
    ip_address: str = ""

    def info(self) -> ContainerInfo:
        running = self.state == "running"
        return ContainerInfo(
            id=self.id,
            name=self.spec.name,
            image=self.spec.image,
            labels=dict(self.spec.labels),
            state=self.state,
            exit_code=self.exit_code,
            oom_killed=self.oom_killed,
            started_at=self.started_at,
            finished_at=self.finished_at,
            host_ports=list(self.host_ports if running else self.spec.ports),
            ip_address=self.ip_address if running else "",
        )


@dataclass
class _Subscription:
    selector: Mapping[str, str]
    events: queue.SimpleQueue[RuntimeEvent] = field(default_factory=queue.SimpleQueue)


class FakeRuntime:
    """An in-memory container engine. Thread-safe."""

    def __init__(
        self,
        now: Callable[[], datetime] = _utcnow,
        images: Iterable[str] | None = None,
        cpus: int = 2,
        memory: int = 8 << 30,
        default_host_ip: str = DEFAULT_HOST_IP,
        container_ip: str = "127.0.0.1",
    ) -> None:
        self._now = now
        self._container_ip = container_ip
        self._images = None if images is None else {normalise_image(i) for i in images}
        self._info = RuntimeInfo("fake", "1.0", "/var/lib/fake", cpus, memory)
        self._default_host_ip = default_host_ip
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._containers: dict[str, _Container] = {}
        self._ids = itertools.count(1)
        self._subscriptions: list[_Subscription] = []
        self._exit_scripts: dict[str, tuple[int, float]] = {}
        self._start_failures: dict[str, str] = {}
        self._exec_handlers: dict[str, ExecHandler] = {}
        self._available = True

    # --- scripting what processes and people would do ---------------------------------------

    def add_image(self, image: str) -> None:
        with self._lock:
            if self._images is not None:
                self._images.add(normalise_image(image))

    def script_exit(
        self,
        name_or_image: str,
        exit_code: int,
        after: float | Literal["immediately"] = "immediately",
    ) -> None:
        """Containers of that name or image exit with `exit_code` `after` seconds of running.

        Applies to every later start and, counted from now, to those running already.
        """
        delay = 0.0 if after == "immediately" else float(after)
        with self._lock:
            self._exit_scripts[name_or_image] = (exit_code, delay)
            for c in self._containers.values():
                if c.state == "running" and name_or_image in (c.spec.name, c.spec.image):
                    c.exit_at, c.exit_with = self._now() + timedelta(seconds=delay), exit_code
            self._settle()

    def clear_scripts(self) -> None:
        with self._lock:
            self._exit_scripts.clear()
            self._start_failures.clear()
            self._exec_handlers.clear()

    def fail_next_start(self, name: str, message: str = "fake: start failed") -> None:
        """The next start of a container with that name fails with `message` (once)."""
        with self._lock:
            self._start_failures[name] = message

    def on_exec(self, name_or_image: str, handler: ExecHandler) -> None:
        """Answer execs in those containers with `handler(command) -> (exit code, output)`.

        Without a handler an exec succeeds with no output.
        """
        with self._lock:
            self._exec_handlers[name_or_image] = handler

    def write_log(self, id_or_name: str, data: bytes) -> None:
        """Append to the container's output, as if its process had printed `data`."""
        with self._lock:
            self._find(id_or_name).output.extend(data)
            self._changed.notify_all()

    def kill(self, id_or_name: str, exit_code: int = 137, oom: bool = False) -> None:
        """The container dies behind the agent's back (docker kill, or the OOM killer)."""
        with self._lock:
            c = self._find(id_or_name)
            if c.state == "running":
                self._emit(c, "oom" if oom else "kill")
                self._exit(c, exit_code, oom_killed=oom)

    def remove_behind_back(self, id_or_name: str) -> None:
        """Someone ran `docker rm -f` on the container."""
        with self._lock:
            self._destroy(self._find(id_or_name), force=True)

    def set_available(self, available: bool) -> None:
        """While unavailable, every call raises `RuntimeUnavailable`, like a stopped engine."""
        with self._lock:
            self._available = available
            if not available:
                self._subscriptions.clear()

    def tick(self) -> None:
        """Settle the scripted exits that are due by the clock now."""
        with self._lock:
            self._settle()

    # --- the protocol -----------------------------------------------------------------------

    def ping(self) -> None:
        with self._lock:
            self._check_available()

    def info(self) -> RuntimeInfo:
        with self._lock:
            self._check_available()
            return self._info

    def inspect(self, id_or_name: str) -> ContainerInfo:
        with self._lock:
            self._enter()
            return self._find(id_or_name).info()

    def list(self, label_selector: Mapping[str, str]) -> builtins.list[ContainerInfo]:
        with self._lock:
            self._enter()
            return [
                c.info()
                for c in self._containers.values()
                if matches(c.spec.labels, label_selector)
            ]

    def create_and_start(self, spec: ContainerSpec) -> ContainerInfo:
        with self._lock:
            self._enter()
            image = normalise_image(spec.image)
            if self._images is not None and image not in self._images:
                raise ImageNotFound(f"No such image: {image}")
            if any(c.spec.name == spec.name for c in self._containers.values()):
                raise ContainerConflict(
                    f'Conflict. The container name "/{spec.name}" is already in use'
                )
            n = next(self._ids)
            c = _Container(
                id=hashlib.sha256(f"fake-{n}".encode()).hexdigest(),
                spec=spec,
                ip_address=self._container_ip,
            )
            self._containers[c.id] = c
            self._emit(c, "create")
            failure = self._start_failures.pop(spec.name, None) or self._bind_ports(c)
            if failure is not None:
                self._destroy(c, force=True)
                raise StartFailed(failure)
            c.state, c.started_at = "running", self._now()
            script = self._exit_scripts.get(spec.name) or self._exit_scripts.get(spec.image)
            if script is not None:
                c.exit_with, delay = script
                c.exit_at = c.started_at + timedelta(seconds=delay)
            self._emit(c, "start")
            self._settle()
            return c.info()

    def stop(self, id_or_name: str, timeout: int | None = None) -> None:
        with self._lock:
            self._enter()
            c = self._find(id_or_name)
            if c.state == "running":
                self._emit(c, "kill")
                self._exit(c, _SIGTERM_EXIT)
                self._emit(c, "stop")

    def remove(self, id_or_name: str, force: bool = True) -> None:
        with self._lock:
            self._enter()
            try:
                c = self._find(id_or_name)
            except ContainerNotFound:
                return
            if c.state == "running" and not force:
                raise ContainerConflict(
                    f"You cannot remove a running container {c.id}. "
                    "Stop the container before attempting removal or force remove"
                )
            self._destroy(c, force=force)

    def logs(
        self, id_or_name: str, tail: int | None = None, follow: bool = False
    ) -> Iterator[bytes]:
        with self._lock:
            self._enter()
            c = self._find(id_or_name)
            data = bytes(c.output)
            offset = len(data)
        if tail is not None:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-tail:]) if tail > 0 else b""
        return self._following(c, data, offset) if follow else iter([data] if data else [])

    def _following(self, c: _Container, first: bytes, offset: int) -> Iterator[bytes]:
        if first:
            yield first
        while True:
            with self._lock:
                if len(c.output) == offset and c.state == "running":
                    self._changed.wait(_POLL_SECONDS)
                self._settle()
                chunk = bytes(c.output[offset:])
                offset += len(chunk)
                ended = c.state != "running"
            if chunk:
                yield chunk
            if ended:
                return

    def exec(self, id_or_name: str, command: Sequence[str], timeout: float) -> tuple[int, bytes]:
        with self._lock:
            self._enter()
            c = self._find(id_or_name)
            if c.state != "running":
                raise ContainerConflict(f"Container {c.id} is not running")
            handler = self._exec_handlers.get(c.spec.name) or self._exec_handlers.get(c.spec.image)
        return handler(list(command)) if handler is not None else (0, b"")

    def events(
        self, stop: threading.Event, label_selector: Mapping[str, str]
    ) -> Iterator[RuntimeEvent]:
        with self._lock:
            self._check_available()
            subscription = _Subscription(dict(label_selector))
            self._subscriptions.append(subscription)
        return _FakeEventStream(self, subscription, stop)

    def _listening(self, subscription: _Subscription) -> bool:
        """Whether a subscription still gets events (an engine going away ends them all)."""
        with self._lock:
            return self._available and subscription in self._subscriptions

    def _unsubscribe(self, subscription: _Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    # --- inside the lock --------------------------------------------------------------------

    def _check_available(self) -> None:
        if not self._available:
            raise RuntimeUnavailable("fake engine is unavailable")

    def _enter(self) -> None:
        self._check_available()
        self._settle()

    def _find(self, id_or_name: str) -> _Container:
        c = self._containers.get(id_or_name)
        if c is not None:
            return c
        for c in self._containers.values():
            if c.spec.name == id_or_name.lstrip("/"):
                return c
        prefixed = [
            c for i, c in self._containers.items() if id_or_name and i.startswith(id_or_name)
        ]
        if len(prefixed) == 1:
            return prefixed[0]
        raise ContainerNotFound(f"No such container: {id_or_name}")

    def _settle(self) -> None:
        now = self._now()
        for c in builtins.list(self._containers.values()):
            if c.state == "running" and c.exit_at is not None and c.exit_at <= now:
                self._exit(c, c.exit_with, at=c.exit_at)

    def _exit(
        self, c: _Container, exit_code: int, oom_killed: bool = False, at: datetime | None = None
    ) -> None:
        c.state, c.exit_code, c.oom_killed = "exited", exit_code, oom_killed
        c.finished_at, c.exit_at = at or self._now(), None
        c.host_ports = []
        self._emit(c, "die", exit_code=exit_code)
        self._changed.notify_all()

    def _destroy(self, c: _Container, force: bool) -> None:
        if c.state == "running" and force:
            self._emit(c, "kill")
            self._exit(c, 137)
        del self._containers[c.id]
        self._emit(c, "destroy")
        self._changed.notify_all()

    def _bind_ports(self, c: _Container) -> str | None:
        """Bind the spec's host ports like Docker's allocator; the error message if one is taken."""
        taken = {
            (p.protocol, p.host_port, p.host_ip)
            for other in self._containers.values()
            if other.state == "running"
            for p in other.host_ports
        }
        bound: list[PortBinding] = []
        for p in c.spec.ports:
            host_ip = p.host_ip or self._default_host_ip
            host_port = p.host_port
            if host_port == 0:
                host_port = next(
                    port
                    for port in _EPHEMERAL_PORTS
                    if not _clashes(taken, p.protocol, port, host_ip)
                )
            elif _clashes(taken, p.protocol, host_port, host_ip):
                return (
                    f"driver failed programming external connectivity on endpoint "
                    f"{c.spec.name} ({c.id}): Bind for {host_ip}:{host_port} failed: "
                    "port is already allocated"
                )
            binding = PortBinding(p.container_port, host_port, p.protocol, host_ip)
            bound.append(binding)
            taken.add((p.protocol, host_port, host_ip))
        c.host_ports = bound
        return None

    def _emit(self, c: _Container, action: str, exit_code: int | None = None) -> None:
        event = RuntimeEvent(
            container_id=c.id,
            action=action,
            labels=dict(c.spec.labels),
            time=self._now(),
            name=c.spec.name,
            exit_code=exit_code,
        )
        for subscription in builtins.list(self._subscriptions):
            if matches(c.spec.labels, subscription.selector):
                subscription.events.put(event)


def _clashes(taken: set[tuple[str, int, str]], protocol: str, port: int, host_ip: str) -> bool:
    """A port is taken on an address, or on any address when either side binds all of them."""
    return any(
        proto == protocol and bound == port and (ip == host_ip or {ip, host_ip} & _ANY_ADDRESS)
        for proto, bound, ip in taken
    )


class _FakeEventStream(Iterator[RuntimeEvent]):
    """Events of one subscription; settles due exits while it waits, ends once `stop` is set."""

    def __init__(
        self, runtime: FakeRuntime, subscription: _Subscription, stop: threading.Event
    ) -> None:
        self._runtime = runtime
        self._subscription = subscription
        self._stop = stop
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._runtime._unsubscribe(self._subscription)

    def __next__(self) -> RuntimeEvent:
        while not (self._closed or self._stop.is_set()):
            try:
                return self._subscription.events.get_nowait()
            except queue.Empty:
                pass
            if not self._runtime._listening(self._subscription):
                self.close()
                raise RuntimeUnavailable("fake engine went away")
            self._runtime.tick()
            try:
                return self._subscription.events.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
        self.close()
        raise StopIteration

    def __del__(self) -> None:
        self.close()
