"""A node as one scheduling pass sees it: its snapshot plus the placements made so far.

`Candidate` is the scheduler's working copy of a `NodeView`. The views are immutable and shared
with the controller's caches, so a pass copies each one into a Candidate (plain floats and
ints, no pydantic) and adds every placement it makes to that copy; the filters and scorers read
only Candidates. The scheduler keeps a pass's copies for the next pass, which uses again
those of the nodes that did not change and got nothing (`controller.scheduler`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from controller.snapshot import HostPort, NodeView, TaskRequest

__all__ = ["Candidate"]


class Candidate:
    """One node's capacity, what is allocated on it (snapshot + this pass) and its live load."""

    __slots__ = (
        "allocated_cpu",
        "allocated_disk",
        "allocated_memory",
        "capacity_cpu",
        "capacity_disk",
        "capacity_memory",
        "host_ports",
        "labels",
        "live_cpu",
        "live_disk",
        "live_memory",
        "memo",
        "name",
        "ready",
        "shares",
        "tasks",
    )

    def __init__(
        self,
        name: str,
        *,
        ready: bool = True,
        capacity: tuple[float, int, int] = (0.0, 0, 0),
        allocated: tuple[float, int, int] = (0.0, 0, 0),
        labels: Mapping[str, str] | None = None,
        host_ports: frozenset[HostPort] = frozenset(),
        tasks: int = 0,
        live: tuple[float, float, float] | None = None,
    ) -> None:
        self.name = name
        self.ready = ready
        self.capacity_cpu, self.capacity_memory, self.capacity_disk = capacity
        self.allocated_cpu, self.allocated_memory, self.allocated_disk = allocated
        self.labels: Mapping[str, str] = labels if labels is not None else {}
        self.host_ports = host_ports
        """Copied on write (`add`), so the view's set is never changed."""
        self.tasks = tasks
        self.memo: tuple[float, ...] | None = None
        """A scorer's figures about this node that hold until it gets a task (`add` clears it);
        E-PVM keeps its powers of the loads here."""
        self.shares = self._shares()
        """(share, 1 / capacity) for cpu, memory and disk: the share of each resource that is
        allocated, capped at 1, and its reciprocal capacity, kept up to date by `add` so a
        scorer finds the share after a request as ``share + request * reciprocal``. A resource
        the node has none of is full (share 1, reciprocal 0)."""
        self.live_cpu: float | None
        self.live_memory: float | None
        self.live_disk: float | None
        """Measured use as fractions of the machine (0..1), or None without usable metrics."""
        if live is None:
            self.live_cpu = self.live_memory = self.live_disk = None
        else:
            self.live_cpu, self.live_memory, self.live_disk = live

    @classmethod
    def from_view(cls, view: NodeView, now: datetime, metrics_max_age: float) -> Candidate:
        """The pass's copy of `view`; metrics older than `metrics_max_age` seconds are ignored."""
        live: tuple[float, float, float] | None = None
        m = view.metrics
        if m is not None and (now - m.timestamp).total_seconds() <= metrics_max_age:
            live = (
                m.cpuPercent / 100.0,
                _used_fraction(m.memoryTotal, m.memoryAvailable),
                _used_fraction(m.diskTotal, m.diskAvailable),
            )
        cap, alloc = view.capacity, view.allocated
        return cls(
            view.name,
            ready=view.ready,
            capacity=(cap.cpu, cap.memory, cap.disk),
            allocated=(alloc.cpu, alloc.memory, alloc.disk),
            labels=view.labels,
            host_ports=view.host_ports,
            tasks=view.tasks,
            live=live,
        )

    def add(self, task: TaskRequest) -> None:
        """Record that `task` was placed here in this pass."""
        req = task.request
        self.allocated_cpu += req.cpu
        self.allocated_memory += req.memory
        self.allocated_disk += req.disk
        if task.host_ports:
            self.host_ports = self.host_ports | task.host_ports
        self.tasks += 1
        self.memo = None
        _, rc, _, rm, _, rd = self.shares
        c, m, d = self.allocated_cpu * rc, self.allocated_memory * rm, self.allocated_disk * rd
        self.shares = (
            c if c < 1.0 and rc else 1.0,
            rc,
            m if m < 1.0 and rm else 1.0,
            rm,
            d if d < 1.0 and rd else 1.0,
            rd,
        )

    def _shares(self) -> tuple[float, float, float, float, float, float]:
        return (
            *_share(self.allocated_cpu, self.capacity_cpu),
            *_share(self.allocated_memory, self.capacity_memory),
            *_share(self.allocated_disk, self.capacity_disk),
        )

    def __repr__(self) -> str:
        return (
            f"Candidate({self.name!r}, ready={self.ready}, "
            f"cpu={self.allocated_cpu:g}/{self.capacity_cpu:g}, "
            f"memory={self.allocated_memory}/{self.capacity_memory}, "
            f"disk={self.allocated_disk}/{self.capacity_disk}, tasks={self.tasks})"
        )


def _share(allocated: float, capacity: float) -> tuple[float, float]:
    if capacity <= 0:
        return 1.0, 0.0
    reciprocal = 1.0 / capacity
    share = allocated * reciprocal
    return (0.0 if share < 0.0 else 1.0 if share > 1.0 else share), reciprocal


def _used_fraction(total: int, available: int) -> float:
    if total <= 0:
        return 0.0
    return min(1.0, max(0.0, (total - available) / total))
