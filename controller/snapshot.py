"""What the scheduler sees: plain, immutable views of nodes and of the tasks to place.

The controller builds these from its informer caches (node info, node status, metrics and the
bindings already written) and hands them to `controller.scheduler.Scheduler.place`, which
returns one `PlacementResult` per task and writes nothing: committing the placements (bindings,
statuses, `Placement` records) is the controller's job.

Amounts are plain numbers (cores as float, bytes as int) rather than pydantic `Resources`, so a
pass over thousands of nodes does no validation work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from schemas.node import NodeMetrics
from schemas.placement import Placement
from schemas.task import Task

HostPort = tuple[str, int]
"""(protocol, host port), e.g. ("tcp", 8080): one port a task publishes on its node."""


@dataclass(frozen=True, slots=True)
class Amounts:
    """CPU in cores, memory and disk in bytes."""

    cpu: float = 0.0
    memory: int = 0
    disk: int = 0

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(self.cpu + other.cpu, self.memory + other.memory, self.disk + other.disk)

    def __sub__(self, other: Amounts) -> Amounts:
        return Amounts(self.cpu - other.cpu, self.memory - other.memory, self.disk - other.disk)


@dataclass(frozen=True, slots=True)
class NodeView:
    """One node as the scheduler sees it at the start of a pass."""

    name: str
    ready: bool
    capacity: Amounts
    allocated: Amounts
    """The sum of the requests of the tasks bound to this node."""
    labels: Mapping[str, str] = field(default_factory=dict)
    host_ports: frozenset[HostPort] = frozenset()
    """Host ports taken by the tasks bound to this node."""
    tasks: int = 0
    """How many tasks are bound to this node."""
    metrics: NodeMetrics | None = None
    """The node's last published /proc metrics; None when it has published none."""


_NO_PORTS: frozenset[HostPort] = frozenset()
_NO_SELECTOR: Mapping[str, str] = MappingProxyType({})
"""Shared by the (many) requests that publish no port or select no node: a request is kept
until its Placement record is written, behind a whole burst of placements."""


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """What one task asks of a node."""

    namespace: str
    name: str
    generation: int
    request: Amounts
    host_ports: frozenset[HostPort] = frozenset()
    node_selector: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @classmethod
    def from_task(cls, task: Task) -> TaskRequest:
        spec = task.spec
        res = spec.resources
        ports = spec.ports
        return cls(
            namespace=task.metadata.namespace,
            name=task.metadata.name,
            generation=task.metadata.generation or 1,
            request=Amounts(res.cpu, res.memory, res.disk),
            host_ports=frozenset((p.protocol, p.hostPort) for p in ports if p.hostPort is not None)
            if ports
            else _NO_PORTS,
            node_selector=dict(spec.nodeSelector) if spec.nodeSelector else _NO_SELECTOR,
        )


class PlacementResult:
    """The scheduler's answer for one task: a node, or None and the reason in `placement`.

    Immutable. Built either from a finished `placement`, or from its `message` and a `build`
    function that makes the record when `placement` is first read: a pydantic `Placement` costs
    more to build than placing the task does, so a caller that needs only `node` and `message`
    (the task's status) never pays for it.
    """

    __slots__ = ("_build", "_placement", "message", "node", "task")

    task: TaskRequest
    node: str | None
    message: str
    """What the task's status shows; the same as ``placement.message``."""
    _placement: Placement | None
    _build: Callable[[], Placement] | None

    def __init__(
        self,
        task: TaskRequest,
        node: str | None,
        placement: Placement | None = None,
        *,
        message: str | None = None,
        build: Callable[[], Placement] | None = None,
    ) -> None:
        if placement is not None:
            message = placement.message
        elif build is None or message is None:
            raise TypeError("PlacementResult needs a placement, or a message and a build function")
        init = object.__setattr__
        init(self, "task", task)
        init(self, "node", node)
        init(self, "message", message)
        init(self, "_placement", placement)
        init(self, "_build", build)

    @property
    def placement(self) -> Placement:
        """The record for `shoal describe`; its `message` is what the task's status shows."""
        record = self._placement
        if record is None:
            build = self._build
            if build is None:  # another thread built it meanwhile (it sets the record first)
                record = self._placement
                assert record is not None
            else:
                record = build()
                object.__setattr__(self, "_placement", record)
                object.__setattr__(self, "_build", None)  # let go of what the build held
        return record

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"PlacementResult is immutable (cannot set {name})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"PlacementResult is immutable (cannot delete {name})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PlacementResult):
            return NotImplemented
        return (self.task, self.node, self.placement) == (other.task, other.node, other.placement)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"PlacementResult(task={self.task.key!r}, node={self.node!r}, message={self.message!r})"
        )
