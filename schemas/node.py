"""Nodes: what an agent publishes about its machine, what the controller concludes, and the
merged view that ``get nodes`` prints.

* :class:`NodeInfo` at ``/shoal/nodes/<node>/info`` (the agent, bound to its lease, so it
  disappears when the agent stops renewing);
* :class:`NodeMetrics` at ``/shoal/nodes/<node>/metrics`` (the agent, from ``/proc``);
* :class:`NodeStatus` at ``/shoal/status/nodes/<node>`` (the controller: ready or not, and
  what it has allocated there);
* :class:`Node`, built by :func:`merge_node`, for ``get nodes -o json``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.base import RecordModel
from schemas.fields import DnsSubdomain, Labels, NonNegativeInt, Timestamp
from schemas.spec import Resources

__all__ = [
    "Node",
    "NodeCapacity",
    "NodeInfo",
    "NodeMeta",
    "NodeMetrics",
    "NodeStatus",
    "NodeViewStatus",
    "merge_node",
]

NodeCapacity = Resources
"""A node's capacity has the same shape as a task's resources: cores and bytes."""

Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Load = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class NodeInfo(RecordModel):
    """What an agent registers about its node."""

    name: DnsSubdomain
    address: str
    """Where the node's published host ports are reached (an IP address or host name)."""
    labels: Labels = Field(default_factory=dict)
    capacity: Resources
    runtime: str
    """The container engine and its version, e.g. ``docker 20.10.24``."""
    version: str
    """The agent's (Shoal's) version."""
    agentUrl: str | None = None
    """The agent's HTTP address for /metrics and /healthz, e.g. ``http://10.0.0.5:9102``."""
    startedAt: Timestamp


class NodeMetrics(RecordModel):
    """A node's load as read from ``/proc`` and the disk, at ``timestamp``."""

    cpuPercent: Percent
    memoryTotal: NonNegativeInt
    memoryAvailable: NonNegativeInt
    diskTotal: NonNegativeInt
    diskAvailable: NonNegativeInt
    load1: Load
    load5: Load
    load15: Load
    timestamp: Timestamp


class NodeStatus(RecordModel):
    """The controller's view of a node: ready or not since when, and what it has placed there."""

    ready: bool
    since: Timestamp
    reason: str | None = None
    """One CamelCase word, e.g. ``LeaseExpired`` or ``AgentRegistered``."""
    message: str | None = None
    allocated: Resources = Field(default_factory=Resources)


class NodeMeta(RecordModel):
    """The node's name and labels, under ``metadata`` as for a Task."""

    name: DnsSubdomain
    labels: Labels = Field(default_factory=dict)


class NodeViewStatus(RecordModel):
    """The ``status`` of the merged node view."""

    ready: bool = False
    address: str | None = None
    capacity: Resources = Field(default_factory=Resources)
    allocated: Resources = Field(default_factory=Resources)
    metrics: NodeMetrics | None = None
    since: Timestamp | None = None
    reason: str | None = None
    message: str | None = None
    runtime: str | None = None
    version: str | None = None


class Node(RecordModel):
    """A node as ``get nodes -o json`` shows it."""

    apiVersion: Literal["shoal/v1"] = "shoal/v1"
    kind: Literal["Node"] = "Node"
    metadata: NodeMeta
    status: NodeViewStatus = Field(default_factory=NodeViewStatus)


def merge_node(
    info: NodeInfo,
    status: NodeStatus | None = None,
    metrics: NodeMetrics | None = None,
) -> Node:
    """One view of a node from its three keys. Without a controller status it is not ready."""
    return Node(
        metadata=NodeMeta(name=info.name, labels=info.labels),
        status=NodeViewStatus(
            ready=status.ready if status is not None else False,
            address=info.address,
            capacity=info.capacity,
            allocated=status.allocated if status is not None else Resources(),
            metrics=metrics,
            since=status.since if status is not None else None,
            reason=status.reason if status is not None else None,
            message=status.message if status is not None else None,
            runtime=info.runtime,
            version=info.version,
        ),
    )
