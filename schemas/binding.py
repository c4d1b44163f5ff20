"""The controller-agent contract: a Binding places a task on a node, a TaskReport says what the
node's agent sees of the task's container.

The controller writes a :class:`Binding` to ``/shoal/bindings/<node>/<ns>/<name>``; the agent
of ``<node>`` watches that prefix and makes its engine run exactly the bound specs, and writes a
:class:`TaskReport` to ``/shoal/nodes/<node>/tasks/<ns>/<name>``; the controller turns reports
into TaskStatus. The binding carries the spec itself, so the agent never reads ``/shoal/tasks``.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import RecordModel
from schemas.fields import DnsLabel, DnsSubdomain, NonNegativeInt, PositiveInt, Timestamp
from schemas.spec import TaskSpec
from schemas.task import PortBinding, task_key

__all__ = ["Binding", "ContainerPhase", "TaskReport"]


class Binding(RecordModel):
    """The placement of one generation of a task on a node."""

    namespace: DnsLabel
    name: DnsLabel
    node: DnsSubdomain
    uid: str
    """The task's uid: a task deleted and created again under the same name is another task."""
    generation: PositiveInt
    spec: TaskSpec
    epoch: NonNegativeInt
    """The controller's leadership epoch when it wrote this; a stale leader's writes lose."""

    @property
    def key(self) -> str:
        """``<namespace>/<name>`` of the bound task."""
        return task_key(self.namespace, self.name)


class ContainerPhase(StrEnum):
    """Where a task's container is, as its engine says."""

    Waiting = "Waiting"
    """Not running yet: being pulled, created, or waiting to be restarted (back-off)."""
    Running = "Running"
    Exited = "Exited"


class TaskReport(RecordModel):
    """What an agent observes of a bound task's container."""

    containerId: str | None = None
    state: ContainerPhase
    hostPorts: list[PortBinding] = Field(default_factory=list)
    startTime: Timestamp | None = None
    finishTime: Timestamp | None = None
    exitCode: int | None = None
    oomKilled: bool = False
    restartCount: NonNegativeInt = 0
    healthy: bool | None = None
    """The health check's verdict; None without a health check or before its first result."""
    reason: str | None = None
    message: str | None = None
    generation: PositiveInt
    """The binding generation this container runs."""
