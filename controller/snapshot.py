"""What the scheduler sees: plain, immutable views of nodes and of the tasks to place.

The controller builds these from its informer caches (node info, node status, metrics and the
bindings already written) and hands them to `controller.scheduler.Scheduler.place`, which
returns one `PlacementResult` per task and writes nothing: committing the placements (bindings,
statuses, `Placement` records) is the controller's job.

Amounts are plain numbers (cores as float, bytes as int) rather than pydantic `Resources`, so a
pass over thousands of nodes does no validation work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
        res = task.spec.resources
        return cls(
            namespace=task.metadata.namespace,
            name=task.metadata.name,
            generation=task.metadata.generation or 1,
            request=Amounts(res.cpu, res.memory, res.disk),
            host_ports=frozenset(
                (p.protocol, p.hostPort) for p in task.spec.ports if p.hostPort is not None
            ),
            node_selector=dict(task.spec.nodeSelector),
        )


@dataclass(frozen=True, slots=True)
class PlacementResult:
    """The scheduler's answer for one task: a node, or None and the reason in `placement`."""

    task: TaskRequest
    node: str | None
    placement: Placement
    """The record for `shoal describe`; its `message` is what the task's status shows."""
