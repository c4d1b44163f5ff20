"""What each node has allocated: the requests of the tasks bound to it, kept incrementally.

A task's binding holds its node's resources (CPU, memory, disk) and host ports until the
binding is removed, or until its container has ended for good (the agent reports `Exited`
for the bound generation): a completed job keeps its binding, so `shoal logs` still finds its
container, but no longer counts against the node.

`set_task` replaces one task's contributions (one per node it is bound to: normally one) and
adjusts the node totals by the difference, so a scheduling pass reads a node's totals without
summing thousands of bindings. CPU is counted in integer micro-cores so that adding and
removing the same tasks always gets back to exactly zero.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.snapshot import Amounts, HostPort
from schemas.binding import Binding

__all__ = ["Allocations", "NodeUse", "Use", "use_of"]

MICRO = 1_000_000


@dataclass(frozen=True, slots=True)
class Use:
    """One task's claim on one node."""

    cpu: int  # micro-cores
    memory: int
    disk: int
    ports: tuple[HostPort, ...] = ()


def use_of(binding: Binding) -> Use:
    res = binding.spec.resources
    ports = tuple((p.protocol, p.hostPort) for p in binding.spec.ports if p.hostPort is not None)
    return Use(round(res.cpu * MICRO), res.memory, res.disk, ports)


@dataclass(slots=True)
class NodeUse:
    cpu: int = 0
    memory: int = 0
    disk: int = 0
    tasks: int = 0
    ports: Counter[HostPort] = field(default_factory=Counter)

    def amounts(self) -> Amounts:
        return Amounts(self.cpu / MICRO, self.memory, self.disk)

    def host_ports(self) -> frozenset[HostPort]:
        return frozenset(self.ports)


class Allocations:
    def __init__(self) -> None:
        self._tasks: dict[str, dict[str, Use]] = {}
        self._nodes: dict[str, NodeUse] = {}

    def set_task(self, task: str, uses: Mapping[str, Use]) -> tuple[set[str], bool]:
        """Make `uses` (node -> use) the task's contributions. Returns the nodes whose totals
        changed and whether anything was freed (a node now has more room)."""
        old = self._tasks.get(task, {})
        if old == uses:
            return set(), False
        changed: set[str] = set()
        freed = False
        for node, use in old.items():
            if uses.get(node) != use:
                self._add(node, use, -1)
                changed.add(node)
                freed = True
        for node, use in uses.items():
            if old.get(node) != use:
                self._add(node, use, 1)
                changed.add(node)
        if uses:
            self._tasks[task] = dict(uses)
        else:
            self._tasks.pop(task, None)
        return changed, freed

    def _add(self, node: str, use: Use, sign: int) -> None:
        total = self._nodes.get(node)
        if total is None:
            total = self._nodes[node] = NodeUse()
        total.cpu += sign * use.cpu
        total.memory += sign * use.memory
        total.disk += sign * use.disk
        total.tasks += sign
        for port in use.ports:
            total.ports[port] += sign
            if total.ports[port] <= 0:
                del total.ports[port]
        if total.tasks == 0:
            del self._nodes[node]

    def node(self, node: str) -> NodeUse:
        """The node's totals (a shared object: read, do not change)."""
        return self._nodes.get(node) or _EMPTY

    def of_task(self, task: str) -> Mapping[str, Use]:
        return self._tasks.get(task, {})

    def nodes(self) -> list[str]:
        return list(self._nodes)


_EMPTY = NodeUse()
