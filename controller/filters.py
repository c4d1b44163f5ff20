"""Filters: can this node hold this task? Each answers None (it fits) or the reason it does not.

Filters run cheapest first, in the order of `FILTERS`, and a node is rejected by the first one
that objects; its reason is what the task's status counts ("2 insufficient memory"). A filter
that cannot object to a task (no node selector, no host ports, no request for that resource)
is skipped for it: `Filter.applies`.

The first two filters are *static*: their verdict depends only on the node's snapshot, never on
the placements made earlier in the pass, so the scheduler may decide them once per pass (per
node selector) instead of once per task and node.

Resources follow Kubernetes' NodeResourcesFit: a task that requests none of a resource fits any
node for that resource, even one already over-committed (a node whose capacity shrank); a
request fits when allocated + requested <= capacity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from controller.candidates import Candidate
from controller.snapshot import HostPort, TaskRequest

__all__ = [
    "FILTERS",
    "Filter",
    "cpu_fits",
    "disk_fits",
    "first_rejection",
    "host_ports_free",
    "memory_fits",
    "node_ready",
    "node_selector_matches",
    "port_reason",
]

CPU_SLACK = 1e-9
"""Cores are floats: 10 x 0.1 cores must fit in 1 core although the sum is 1.0000000000000002."""

Check = Callable[[Candidate, TaskRequest], "str | None"]


def node_ready(node: Candidate, task: TaskRequest) -> str | None:
    return None if node.ready else "node not ready"


def node_selector_matches(node: Candidate, task: TaskRequest) -> str | None:
    labels = node.labels
    for key, value in task.node_selector.items():
        if labels.get(key) != value:
            return "node selector mismatch"
    return None


def port_reason(port: HostPort) -> str:
    """``host port 8080 in use`` for TCP (the usual case), ``host port 53/udp in use`` else."""
    protocol, number = port
    return (
        f"host port {number} in use"
        if protocol == "tcp"
        else f"host port {number}/{protocol} in use"
    )


def host_ports_free(node: Candidate, task: TaskRequest) -> str | None:
    taken = node.host_ports
    if not taken or taken.isdisjoint(task.host_ports):
        return None
    # Name the lowest conflicting port, so the reason does not depend on set order.
    return port_reason(min(task.host_ports & taken, key=lambda p: (p[1], p[0])))


def cpu_fits(node: Candidate, task: TaskRequest) -> str | None:
    req = task.request.cpu
    if req > 0 and node.allocated_cpu + req > node.capacity_cpu + CPU_SLACK:
        return "insufficient cpu"
    return None


def memory_fits(node: Candidate, task: TaskRequest) -> str | None:
    req = task.request.memory
    if req > 0 and node.allocated_memory + req > node.capacity_memory:
        return "insufficient memory"
    return None


def disk_fits(node: Candidate, task: TaskRequest) -> str | None:
    req = task.request.disk
    if req > 0 and node.allocated_disk + req > node.capacity_disk:
        return "insufficient disk"
    return None


@dataclass(frozen=True, slots=True)
class Filter:
    name: str
    check: Check
    applies: Callable[[TaskRequest], bool]
    """False when the filter can never reject this task, so it need not run."""
    static: bool = False
    """True when the verdict depends on the node's snapshot only, not on this pass."""


FILTERS: tuple[Filter, ...] = (
    Filter("node-ready", node_ready, lambda t: True, static=True),
    Filter("node-selector", node_selector_matches, lambda t: bool(t.node_selector), static=True),
    Filter("host-ports", host_ports_free, lambda t: bool(t.host_ports)),
    Filter("cpu", cpu_fits, lambda t: t.request.cpu > 0),
    Filter("memory", memory_fits, lambda t: t.request.memory > 0),
    Filter("disk", disk_fits, lambda t: t.request.disk > 0),
)
"""Every filter, cheapest first; a node counts under the first one that rejects it."""


def first_rejection(node: Candidate, task: TaskRequest) -> str | None:
    """The reason of the first filter that rejects `node` for `task`, or None when it fits."""
    for f in FILTERS:
        reason = f.check(node, task)
        if reason is not None:
            return reason
    return None
