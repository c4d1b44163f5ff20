"""The container runtime the agent reconciles through: data, errors and the `Runtime` protocol.

Independent of the API models in `schemas/`: the agent translates a binding into a
`ContainerSpec` and a `ContainerInfo` back into a task report. Two implementations exist,
`agent.docker_runtime.DockerRuntime` (the only module that imports `docker`) and
`agent.fake_runtime.FakeRuntime` (in memory, for component tests and simulated nodes); one
contract test suite runs against both.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple, Protocol, runtime_checkable

#: The host address a published port binds to when the spec names none. Docker would otherwise
#: bind both 0.0.0.0 and [::] (see FIELD-NOTES); the agent passes the node's address instead.
DEFAULT_HOST_IP = "127.0.0.1"

#: Seconds a stopped container gets between SIGTERM and SIGKILL unless the spec says otherwise.
DEFAULT_STOP_TIMEOUT = 2

# Labels Shoal puts on every container it runs (DESIGN.md, "The user-facing contract").
LABEL_TASK = "shoal.task"  # <namespace>/<name>
LABEL_NODE = "shoal.node"  # <node name>
LABEL_GENERATION = "shoal.generation"  # the spec generation the container was created from

ContainerState = Literal["created", "running", "exited", "paused", "restarting", "dead", "removing"]


class PortBinding(NamedTuple):
    """One published port: (containerPort, hostPort, protocol, hostIP).

    `host_port` 0 lets the runtime choose a free port; `host_ip` "" means `DEFAULT_HOST_IP`.
    """

    container_port: int
    host_port: int
    protocol: str = "tcp"
    host_ip: str = ""


@dataclass(frozen=True)
class ContainerSpec:
    """What to run: everything the runtime needs to create and start one container."""

    name: str
    image: str
    command: list[str] | None = None
    """The arguments (Docker's Cmd); None keeps the image's unless an entrypoint is given."""
    entrypoint: list[str] | None = None
    """Replaces the image's entrypoint (and then its Cmd too, as Docker does); None keeps it."""
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    cpu: float = 0.0  # cores; 0 means no limit
    memory: int = 0  # bytes; 0 means no limit
    ports: list[PortBinding] = field(default_factory=list)
    stop_timeout: int = DEFAULT_STOP_TIMEOUT


@dataclass(frozen=True)
class ContainerInfo:
    """What the runtime observes of one container.

    `exit_code` is set only once the container has stopped (exited or dead). `host_ports` are
    the bindings in effect while the container runs; for a container that is not running they
    are the configured ones (host port 0 where the runtime would have chosen).
    """

    id: str
    name: str
    image: str
    labels: Mapping[str, str]
    state: ContainerState
    exit_code: int | None = None
    oom_killed: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    host_ports: list[PortBinding] = field(default_factory=list)
    error: str | None = None
    ip_address: str = ""
    """The container's address on its network while it runs ("" when none), for probes."""

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class RuntimeEvent:
    """A container lifecycle event: "create", "start", "kill", "oom", "die", "stop", "destroy"…

    `exit_code` is set on "die". `labels` are the container's labels at the time of the event.
    """

    container_id: str
    action: str
    labels: Mapping[str, str]
    time: datetime
    name: str = ""
    exit_code: int | None = None


@dataclass(frozen=True)
class RuntimeInfo:
    """The engine behind a runtime, for the node's registration."""

    name: str  # "docker", "fake"
    version: str
    data_root: str
    cpus: int
    memory: int  # bytes


#: Container events the runtimes report; exec and attach noise (health checks) is left out.
EVENT_ACTIONS = frozenset(
    {"create", "start", "restart", "kill", "oom", "die", "stop", "pause", "unpause", "destroy"}
)


# --- errors -------------------------------------------------------------------------------


class RuntimeFailure(Exception):
    """Base of every error a runtime raises. `retryable` says whether trying later may help."""

    retryable = False


class RuntimeUnavailable(RuntimeFailure):
    """The engine did not answer (not running, socket missing, timed out): retry later."""

    retryable = True


class ContainerNotFound(RuntimeFailure):
    """No container has that id or name."""


class ImageNotFound(RuntimeFailure):
    """The image is not present on the node. Runtimes never pull: this is reported as is."""


class ContainerConflict(RuntimeFailure):
    """The container's state forbids the operation, or its name is already in use."""


class StartFailed(RuntimeFailure):
    """The container was created but did not start (e.g. "port is already allocated").

    The half-made container has been removed; the message is the engine's.
    """


class ExecTimeout(RuntimeFailure):
    """An exec did not finish within its timeout (the process may still run in the container)."""


# --- the protocol -------------------------------------------------------------------------


@runtime_checkable
class Runtime(Protocol):
    """A container engine as the agent sees it. Every method raises only `RuntimeFailure`s."""

    def list(self, label_selector: Mapping[str, str]) -> builtins.list[ContainerInfo]:
        """Containers in every state whose labels contain all of `label_selector`."""
        ...

    def inspect(self, id_or_name: str) -> ContainerInfo:
        """One container; raises `ContainerNotFound`."""
        ...

    def create_and_start(self, spec: ContainerSpec) -> ContainerInfo:
        """Create and start; on a failed start remove the container and raise `StartFailed`."""
        ...

    def stop(self, id_or_name: str, timeout: int | None = None) -> None:
        """SIGTERM, then SIGKILL after `timeout` s (the spec's stop_timeout when None)."""
        ...

    def remove(self, id_or_name: str, force: bool = True) -> None:
        """Remove the container; a missing container is not an error."""
        ...

    def logs(
        self, id_or_name: str, tail: int | None = None, follow: bool = False
    ) -> Iterator[bytes]:
        """stdout and stderr, interleaved; `tail` lines from the end (all when None)."""
        ...

    def exec(self, id_or_name: str, command: Sequence[str], timeout: float) -> tuple[int, bytes]:
        """Run `command` in the running container: (exit code, output); `ExecTimeout` if slow."""
        ...

    def events(
        self, stop: threading.Event, label_selector: Mapping[str, str]
    ) -> Iterator[RuntimeEvent]:
        """Container events from now on, subscribed when the call returns.

        Blocks between events; ends within about a second once `stop` is set. Raises
        `RuntimeUnavailable` if the engine goes away (subscribe again and re-list).
        """
        ...

    def ping(self) -> None:
        """Return if the engine answers; raise `RuntimeUnavailable` otherwise."""
        ...

    def info(self) -> RuntimeInfo:
        """The engine's name, version, data root, CPUs and memory."""
        ...


def matches(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    """True when `labels` has every key of `selector` with the same value."""
    return all(labels.get(key) == value for key, value in selector.items())
