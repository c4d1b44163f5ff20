"""Scorers: how good is each feasible node for this task? Scores are in [0, 1], higher is better.

A scorer scores the feasible nodes of one placement at once (`Scorer.score`), so a scorer that
normalises over the candidates (E-PVM) and one that needs only the node (spread) share one
interface, and a placement makes one call per scorer rather than one per node. A policy is a
set of scorers with weights that add up to 1 (`POLICY_WEIGHTS`, the one place weights are
declared), so a node's total is again in [0, 1].

- spread (`LeastAllocated`, the default): favour the node with the most capacity left after
  placing, averaged over CPU and memory, and disk when the task requests disk.
- binpack (`MostAllocated`): the opposite, so tasks pack tightly and whole nodes stay free.
- epvm (`Epvm`): E-PVM's marginal opportunity cost on live load (see its docstring).
- roundrobin (`RoundRobin`): the next node after the last one chosen, in name order; the only
  scorer with state, kept by the `Scheduler` across passes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from math import pow

from controller.candidates import Candidate
from controller.snapshot import TaskRequest

__all__ = [
    "EPVM_MAX_TASKS",
    "LIEB",
    "POLICIES",
    "POLICY_WEIGHTS",
    "Epvm",
    "LeastAllocated",
    "MostAllocated",
    "RoundRobin",
    "Scorer",
    "make_scorers",
    "used_after",
]


class Scorer:
    """Base of the scorers; `begin_pass` and `placed` matter only to scorers with state."""

    name: str = ""

    def score(self, nodes: Sequence[Candidate], task: TaskRequest) -> list[float]:
        """One score in [0, 1] per node, in the order given; every node fits the task."""
        raise NotImplementedError

    def begin_pass(self, names: Sequence[str]) -> None:
        """A pass starts over these nodes (all of them, sorted by name)."""

    def placed(self, node: Candidate) -> None:
        """The task just scored was placed on `node`."""


def used_after(nodes: Sequence[Candidate], task: TaskRequest) -> list[float]:
    """Per node, the share of it in use once `task` is added: the mean over CPU and memory, and
    disk when the task requests disk, each share at most 1; a resource the node has none of
    counts as full (see `Candidate.shares`)."""
    req = task.request
    cpu, memory, disk = req.cpu, req.memory, req.disk
    out: list[float] = []
    append = out.append
    if disk > 0:
        for n in nodes:
            c, rc, m, rm, d, rd = n.shares
            used = (c + cpu * rc + m + memory * rm + d + disk * rd) / 3.0
            append(used if used < 1.0 else 1.0)
    else:
        for n in nodes:
            c, rc, m, rm, _, _ = n.shares
            used = (c + cpu * rc + m + memory * rm) * 0.5
            append(used if used < 1.0 else 1.0)
    return out


class LeastAllocated(Scorer):
    """Spread: the share of the node left free after placing (1 = an empty node)."""

    name = "least-allocated"

    def score(self, nodes: Sequence[Candidate], task: TaskRequest) -> list[float]:
        return [1.0 - u for u in used_after(nodes, task)]


class MostAllocated(Scorer):
    """Binpack: the share of the node in use after placing (1 = the task fills it)."""

    name = "most-allocated"

    def score(self, nodes: Sequence[Candidate], task: TaskRequest) -> list[float]:
        return used_after(nodes, task)


LIEB = 1.53960071783900203869
"""Lieb's square ice constant, E-PVM's base (as in the seed, Cube)."""

EPVM_MAX_TASKS = 110
"""The task count at which the task-count load is 1 (Kubernetes' default pods per node)."""


def _load(live: float | None, allocated: float, capacity: float) -> float:
    """A resource's load before the task, in [0, 1]: the larger of measured and reserved."""
    if capacity <= 0:
        return 1.0
    load = allocated / capacity
    if live is not None and live > load:
        load = live
    return 0.0 if load < 0.0 else 1.0 if load > 1.0 else load


class Epvm(Scorer):
    """E-PVM (Amir et al., "An opportunity cost approach for job assignment in a scalable
    computing cluster"): put the task where it adds the least marginal opportunity cost,

        cost = sum over r in (cpu, memory, disk) of LIEB**(load_r + request_r/capacity_r)
                                                   - LIEB**load_r
             + LIEB**((tasks + 1)/max_tasks) - LIEB**(tasks/max_tasks)

    The seed's version had two flaws, not copied here. (1) Its CPU term used the current CPU
    load on both sides, so it cancelled out; here the CPU load after placing adds the task's
    request. (2) A node whose metrics could not be read got no cost and so scored best; here it
    is judged on what is reserved on it (allocated / capacity), which is the least it can be
    loaded, so it wins only when it is truly the least reserved.

    A resource's load before the task is the larger of its measured use (``cpuPercent / 100``,
    ``1 - memoryAvailable / memoryTotal``, the same for disk: shares of the machine, from
    metrics no older than the scheduler's ``metrics_max_age``) and what is reserved on it
    (allocated requests, including this pass's placements, over capacity). The measured figure
    catches load Shoal did not place and tasks using more than they asked for; the reserved
    figure catches placements the metrics do not show yet (just bound, not started, or made
    since the last sample). Adding the two would count every running task twice. A resource
    the task does not request adds nothing (its two powers are equal).

    Lower cost is better; the costs of one placement's candidates are mapped linearly onto
    [0, 1]: the cheapest node scores 1, the dearest 0, and all score 1 when they cost the same.
    """

    name = "epvm"

    def __init__(self, max_tasks: int = EPVM_MAX_TASKS) -> None:
        self.max_tasks = max_tasks
        self._task_step = pow(LIEB, 1 / max_tasks) - 1.0

    def powers(self, node: Candidate) -> tuple[float, ...]:
        """LIEB to the power of each load before the task (cpu, memory, disk, task count).

        They depend on the node only, so they are kept in `node.memo` until it gets a task.
        """
        memo = node.memo
        if memo is None:
            memo = node.memo = (
                pow(LIEB, _load(node.live_cpu, node.allocated_cpu, node.capacity_cpu)),
                pow(LIEB, _load(node.live_memory, node.allocated_memory, node.capacity_memory)),
                pow(LIEB, _load(node.live_disk, node.allocated_disk, node.capacity_disk)),
                pow(LIEB, node.tasks / self.max_tasks),
            )
        return memo

    def costs(self, nodes: Sequence[Candidate], task: TaskRequest) -> list[float]:
        """The marginal cost of `task` on each node, using LIEB**(a + b) = LIEB**a * LIEB**b:
        the powers of the loads before are kept per node, and the request's share of a
        resource is ``request * reciprocal capacity`` (`Candidate.shares`; 0 without any)."""
        req = task.request
        cpu, memory, disk = req.cpu, req.memory, req.disk
        step = self._task_step
        out: list[float] = []
        append = out.append
        for n in nodes:
            powers = n.memo
            if powers is None:
                powers = self.powers(n)
            cost = powers[3] * step
            _, rc, _, rm, _, rd = n.shares
            if cpu > 0:
                cost += powers[0] * (pow(LIEB, cpu * rc) - 1.0)
            if memory > 0:
                cost += powers[1] * (pow(LIEB, memory * rm) - 1.0)
            if disk > 0:
                cost += powers[2] * (pow(LIEB, disk * rd) - 1.0)
            append(cost)
        return out

    def score(self, nodes: Sequence[Candidate], task: TaskRequest) -> list[float]:
        costs = self.costs(nodes, task)
        if not costs:
            return []
        low, high = min(costs), max(costs)
        if high <= low:
            return [1.0] * len(costs)
        span = high - low
        return [(high - c) / span for c in costs]


class RoundRobin(Scorer):
    """The node after the last one chosen, in name order, scores 1; the one before it least.

    The cursor is a node name, so it survives nodes coming and going between passes: the next
    node is the first whose name sorts after the last chosen one, wrapping around.
    """

    name = "round-robin"

    def __init__(self) -> None:
        self.last: str | None = None
        self._names: Sequence[str] = ()
        self._index: dict[str, int] = {}
        self._cursor = -1

    def begin_pass(self, names: Sequence[str]) -> None:
        self._names = names
        self._index = {name: i for i, name in enumerate(names)}
        self._cursor = -1 if self.last is None else bisect_right(names, self.last) - 1

    def score(self, nodes: Sequence[Candidate], task: TaskRequest) -> list[float]:
        total = len(self._names) or 1
        after, index = self._cursor + 1, self._index
        return [1.0 - ((index[n.name] - after) % total) / total for n in nodes]

    def placed(self, node: Candidate) -> None:
        self.last = node.name
        self._cursor = self._index.get(node.name, self._cursor)


POLICY_WEIGHTS: dict[str, dict[str, float]] = {
    "spread": {LeastAllocated.name: 1.0},
    "binpack": {MostAllocated.name: 1.0},
    "epvm": {Epvm.name: 1.0},
    "roundrobin": {RoundRobin.name: 1.0},
}
"""Each policy's scorers and their weights (adding up to 1): the one place weights live."""

POLICIES: tuple[str, ...] = tuple(POLICY_WEIGHTS)

_SCORERS: dict[str, type[Scorer]] = {
    cls.name: cls for cls in (LeastAllocated, MostAllocated, Epvm, RoundRobin)
}

for _policy, _weights in POLICY_WEIGHTS.items():
    assert abs(sum(_weights.values()) - 1.0) < 1e-9, f"weights of {_policy} must add up to 1"


def make_scorers(policy: str) -> list[tuple[Scorer, float]]:
    """Fresh scorers (their own state) and weights for `policy`; ValueError names the choices."""
    weights = POLICY_WEIGHTS.get(policy)
    if weights is None:
        choices = ", ".join(POLICIES)
        raise ValueError(f"unknown scheduling policy {policy!r}: choose one of {choices}")
    return [(_SCORERS[name](), weight) for name, weight in weights.items()]
