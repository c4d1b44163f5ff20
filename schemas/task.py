"""Task: the unit Shoal runs, as applied (metadata + spec) and as observed (status).

``/shoal/tasks/<ns>/<name>`` holds the desired Task (no status); the controller writes the
:class:`TaskStatus` to ``/shoal/status/tasks/<ns>/<name>``; ``get tasks -o json`` shows the two
merged into one Task. The spec's models live in :mod:`schemas.spec` and are re-exported here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from schemas.base import ManifestModel, RecordModel
from schemas.fields import NonNegativeInt, Port, PositiveInt, Timestamp
from schemas.meta import DEFAULT_NAMESPACE, SYSTEM_META_FIELDS, ObjectMeta
from schemas.spec import (
    DesiredState,
    ExecAction,
    HealthCheck,
    HttpGetAction,
    PortProtocol,
    PortSpec,
    Resources,
    RestartPolicy,
    TaskSpec,
    TcpSocketAction,
)
from schemas.states import TaskState

__all__ = [
    "API_VERSION",
    "DEFAULT_NAMESPACE",
    "DesiredState",
    "ExecAction",
    "HealthCheck",
    "HttpGetAction",
    "ObjectMeta",
    "PortBinding",
    "PortProtocol",
    "PortSpec",
    "Resources",
    "RestartPolicy",
    "Task",
    "TaskSpec",
    "TaskState",
    "TaskStatus",
    "TcpSocketAction",
    "desired_view",
    "new_task",
    "same_desired",
    "task_key",
]

API_VERSION = "shoal/v1"


def task_key(namespace: str, name: str) -> str:
    """The key used everywhere for a task: ``<namespace>/<name>``."""
    return f"{namespace}/{name}"


class PortBinding(RecordModel):
    """A port as actually published by the container engine."""

    containerPort: Port
    hostPort: Port
    protocol: PortProtocol = "tcp"
    hostIP: str | None = None


class TaskStatus(RecordModel):
    """What the controller knows of a task; only the controller writes it."""

    state: TaskState = TaskState.Pending
    node: str | None = None
    containerId: str | None = None
    hostPorts: list[PortBinding] = Field(default_factory=list)
    startTime: Timestamp | None = None
    finishTime: Timestamp | None = None
    restartCount: NonNegativeInt = 0
    exitCode: int | None = None
    reason: str | None = None
    """One CamelCase word for machines (``Unschedulable``, ``BackOff``, ``OOMKilled``)."""
    message: str | None = None
    """A sentence for people (``0/3 nodes: 2 insufficient memory, 1 port 8080 in use``)."""
    observedGeneration: PositiveInt | None = None


class Task(ManifestModel):
    """A Task as in a manifest, in etcd, and in ``get tasks -o json`` (with its status)."""

    apiVersion: Literal["shoal/v1"]
    kind: Literal["Task"]
    metadata: ObjectMeta
    spec: TaskSpec
    status: TaskStatus | None = None
    """Shown by ``get``; ignored by ``apply`` (the controller owns it)."""

    @property
    def key(self) -> str:
        """``<namespace>/<name>``."""
        return task_key(self.metadata.namespace, self.metadata.name)

    def desired(self) -> Task:
        """This task without status and system-set metadata: what ``apply`` stores."""
        meta = self.metadata.model_copy(update=dict.fromkeys(SYSTEM_META_FIELDS))
        return self.model_copy(update={"metadata": meta, "status": None})


def new_task(
    name: str,
    spec: TaskSpec,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    labels: dict[str, str] | None = None,
) -> Task:
    """A Task with ``apiVersion`` and ``kind`` filled in (they are required in manifests)."""
    meta = ObjectMeta(name=name, namespace=namespace, labels=labels or {})
    return Task(apiVersion=API_VERSION, kind="Task", metadata=meta, spec=spec)


def desired_view(task: Task) -> dict[str, Any]:
    """The JSON of the parts a person decides: no status, uid, generation, resourceVersion or
    creationTimestamp. The basis of ``apply``'s ``unchanged`` and of ``diff``."""
    return task.model_dump(
        mode="json",
        exclude={"status": True, "metadata": set(SYSTEM_META_FIELDS)},
    )


def same_desired(a: Task, b: Task) -> bool:
    """True when ``a`` and ``b`` ask for the same thing (system-set fields ignored)."""
    return desired_view(a) == desired_view(b)
