"""Filters: can this node hold this task? Each answers None (it fits) or the reason it does not.

Filters run cheapest first, in the order of `FILTERS`, and a node is rejected by the first one
that objects; its reason is what the task's status counts ("2 insufficient memory"). The order
is: node ready, node selector, host ports, then CPU, memory and disk (one filter, `resources`,
checking them in that order, as Kubernetes' NodeResourcesFit does, so a node costs one call).

A filter is *prepared* for one task (`Filter.prepare`): it returns a check of one node bound
to that task's numbers, or None when it can never reject the task (no node selector, no host
ports, no request), so the scheduler skips it. Preparing once per task and calling the check
once per node keeps attribute look-ups out of the loop that runs for every node.

The first two filters are *static*: their verdict depends only on the node's snapshot, never on
the placements made earlier in the pass, so the scheduler decides them once per pass for each
distinct node selector instead of once per task and node.

Resources follow NodeResourcesFit too: a task that requests none of a resource fits any node
for that resource, even an over-committed one (a node whose capacity shrank); a request fits
when allocated + requested <= capacity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from controller.candidates import Candidate
from controller.snapshot import HostPort, TaskRequest

__all__ = [
    "CPU_SLACK",
    "FILTERS",
    "Filter",
    "NodeCheck",
    "first_rejection",
    "host_ports_free",
    "node_ready",
    "node_selector_matches",
    "port_reason",
    "prepare",
    "resources_fit",
]

CPU_SLACK = 1e-9
"""Cores are floats: 10 x 0.1 cores must fit in 1 core although the sum is 1.0000000000000002."""

NodeCheck = Callable[[Candidate], "str | None"]
"""One filter prepared for one task: None when the node fits, else the reason."""


def _ready(node: Candidate) -> str | None:
    return None if node.ready else "node not ready"


def node_ready(task: TaskRequest) -> NodeCheck | None:
    return _ready


def node_selector_matches(task: TaskRequest) -> NodeCheck | None:
    wanted = tuple(task.node_selector.items())
    if not wanted:
        return None

    def check(node: Candidate) -> str | None:
        labels = node.labels
        for key, value in wanted:
            if labels.get(key) != value:
                return "node selector mismatch"
        return None

    return check


def port_reason(port: HostPort) -> str:
    """``host port 8080 in use`` for TCP (the usual case), ``host port 53/udp in use`` else."""
    protocol, number = port
    if protocol == "tcp":
        return f"host port {number} in use"
    return f"host port {number}/{protocol} in use"


def host_ports_free(task: TaskRequest) -> NodeCheck | None:
    wanted = task.host_ports
    if not wanted:
        return None
    # The lowest conflicting port is named, so the reason does not depend on set order.
    ordered = sorted(wanted, key=lambda p: (p[1], p[0]))

    def check(node: Candidate) -> str | None:
        taken = node.host_ports
        if taken and not taken.isdisjoint(wanted):
            for port in ordered:
                if port in taken:
                    return port_reason(port)
        return None

    return check


def resources_fit(task: TaskRequest) -> NodeCheck | None:
    """CPU, then memory, then disk: ``insufficient cpu`` / ``memory`` / ``disk``."""
    req = task.request
    cpu, memory, disk = req.cpu - CPU_SLACK, req.memory, req.disk
    wants = (req.cpu > 0, memory > 0, disk > 0)
    if wants == (True, True, False):  # the usual task: one specialised check, no disk test

        def cpu_memory(node: Candidate) -> str | None:
            if node.allocated_cpu + cpu > node.capacity_cpu:
                return "insufficient cpu"
            if node.allocated_memory + memory > node.capacity_memory:
                return "insufficient memory"
            return None

        return cpu_memory
    if not any(wants):
        return None
    want_cpu, want_memory, want_disk = wants

    def check(node: Candidate) -> str | None:
        if want_cpu and node.allocated_cpu + cpu > node.capacity_cpu:
            return "insufficient cpu"
        if want_memory and node.allocated_memory + memory > node.capacity_memory:
            return "insufficient memory"
        if want_disk and node.allocated_disk + disk > node.capacity_disk:
            return "insufficient disk"
        return None

    return check


@dataclass(frozen=True, slots=True)
class Filter:
    name: str
    prepare: Callable[[TaskRequest], NodeCheck | None]
    """The check of one node for this task, or None when it can never reject the task."""
    static: bool = False
    """True when the verdict depends on the node's snapshot only, not on this pass."""


FILTERS: tuple[Filter, ...] = (
    Filter("node-ready", node_ready, static=True),
    Filter("node-selector", node_selector_matches, static=True),
    Filter("host-ports", host_ports_free),
    Filter("resources", resources_fit),
)
"""Every filter, cheapest first; a node counts under the first one that rejects it."""


def prepare(task: TaskRequest, *, static: bool) -> list[NodeCheck]:
    """The static (or the other) filters that can reject `task`, prepared for it, in order."""
    checks = []
    for f in FILTERS:
        if f.static == static:
            check = f.prepare(task)
            if check is not None:
                checks.append(check)
    return checks


def first_rejection(node: Candidate, task: TaskRequest) -> str | None:
    """The reason of the first filter that rejects `node` for `task`, or None when it fits."""
    for f in FILTERS:
        check = f.prepare(task)
        reason = check(node) if check is not None else None
        if reason is not None:
            return reason
    return None
