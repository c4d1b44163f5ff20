"""The scheduler: place a batch of tasks on a snapshot of the nodes, filter, score, pick.

    scheduler = Scheduler(policy="spread", rng=random.Random(seed))
    results = scheduler.place(nodes, tasks, now)

`place` is one pass and pure apart from the policy's own state (roundrobin's cursor) and the
random generator: it reads immutable `NodeView`s and `TaskRequest`s, places the tasks in the
order given, each against the snapshot plus the placements made earlier in the pass, and
returns one `PlacementResult` per task. It writes nothing; the controller commits the plan.

For each task:

1. *Filter* (`controller.filters`, cheapest first). The static filters (ready, node selector)
   are decided once per pass for each distinct node selector; the others (host ports, CPU,
   memory, disk) run per task on the nodes that passed them.
2. *Sample*. Below `full_scan_below` nodes passing the static filters, every node is filtered
   and the feasible ones scored. At or above it, the nodes are walked in a random order (one
   shuffle per pass and node selector, a random starting point per task) until `sample_size`
   feasible nodes are found or all have been seen, and only those are scored, as Nomad's limit
   and kube-scheduler's percentageOfNodesToScore do. Roundrobin walks in name order from its
   cursor instead, so its next node is always the first feasible one. A task that fits
   nowhere has been checked against every node, so its message counts them all.
3. *Score* (`controller.scorers`) and pick the highest total; equal totals (exactly equal:
   nodes in the same state score the same float) are broken by the injected random
   generator, so a seed gives the same plan every time.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise

from controller.candidates import Candidate
from controller.filters import NodeCheck, prepare
from controller.placing import Draft, Rejections
from controller.scorers import POLICIES, RoundRobin, Scorer, make_scorers
from controller.snapshot import HostPort, NodeView, PlacementResult, TaskRequest

__all__ = ["POLICIES", "Scheduler"]


class Scheduler:
    """Places tasks with one scoring policy; see the module docstring for a pass's steps.

    One pass at a time: the generator and roundrobin's cursor are not guarded by a lock.
    """

    def __init__(
        self,
        policy: str = "spread",
        rng: random.Random | None = None,
        sample_size: int = 50,
        full_scan_below: int = 100,
        *,
        metrics_max_age: float = 60.0,
    ) -> None:
        """`policy` is one of `POLICIES` (ValueError names them); `metrics_max_age` is how old,
        in seconds, a node's metrics may be and still count as its live load (epvm)."""
        if sample_size < 1:
            raise ValueError(f"sample_size must be at least 1, not {sample_size}")
        if full_scan_below < 0:
            raise ValueError(f"full_scan_below must not be negative, not {full_scan_below}")
        self.policy = policy
        self._scorers: list[tuple[Scorer, float]] = make_scorers(policy)
        self._rng = rng if rng is not None else random.Random()
        self.sample_size = sample_size
        self.full_scan_below = full_scan_below
        self.metrics_max_age = metrics_max_age
        self._round_robin = next((s for s, _ in self._scorers if isinstance(s, RoundRobin)), None)
        self._kept: dict[str, tuple[NodeView, Candidate, bool]] = {}
        """The last pass's copies, by node: (view, copy, whether its metrics counted)."""

    def place(
        self, nodes: Sequence[NodeView], tasks: Sequence[TaskRequest], now: datetime
    ) -> list[PlacementResult]:
        """One pass: a result per task, in order. A task may appear once and a node name once
        (ValueError otherwise: a mistake of the caller's, not a verdict on the task)."""
        return _Pass(self, nodes, now).run(tasks)


class _Group:
    """The nodes that pass the static filters for one node selector, and those that do not."""

    __slots__ = ("eligible", "names", "ring", "static")

    def __init__(self, candidates: Sequence[Candidate], task: TaskRequest) -> None:
        self.eligible: list[Candidate] = []
        self.static = Rejections()
        checks = prepare(task, static=True)
        for node in candidates:
            for check in checks:
                reason = check(node)
                if reason is not None:
                    self.static.add(reason, node.name)
                    break
            else:
                self.eligible.append(node)
        self.names = [n.name for n in self.eligible]
        self.ring: list[Candidate] | None = None
        """The eligible nodes in walking order, twice over, so a walk from any start needs no
        wrap-around: shuffled, or in name order for roundrobin."""


def _copies(scheduler: Scheduler, nodes: Sequence[NodeView], now: datetime) -> list[Candidate]:
    """A Candidate per view. The last pass's copy of a node is used again when its view is the
    same object (views are immutable: the node did not change), the pass placed nothing on it
    (`add` counts every placement in `tasks`) and its metrics still count as live or still do
    not: it is then exactly what a fresh copy would be. In a burst on thousands of nodes most
    of them get nothing in a pass, and copying them all was a pass's largest fixed cost."""
    max_age = scheduler.metrics_max_age
    kept = scheduler._kept
    fresh: dict[str, tuple[NodeView, Candidate, bool]] = {}
    copies = []
    for view in nodes:
        m = view.metrics
        live = m is not None and (now - m.timestamp).total_seconds() <= max_age
        known = kept.get(view.name)
        if known is not None and known[0] is view and known[2] is live:
            copy = known[1]
            if copy.tasks != view.tasks:
                copy = Candidate.from_view(view, now, max_age)
        else:
            copy = Candidate.from_view(view, now, max_age)
        fresh[view.name] = (view, copy, live)
        copies.append(copy)
    scheduler._kept = fresh
    return copies


class _Pass:
    def __init__(self, scheduler: Scheduler, nodes: Sequence[NodeView], now: datetime) -> None:
        self.s = scheduler
        self.now = now
        self.candidates = sorted(_copies(scheduler, nodes, now), key=lambda c: c.name)
        names = [c.name for c in self.candidates]
        if len(set(names)) != len(names):
            twice = next(a for a, b in pairwise(names) if a == b)
            raise ValueError(f"two node views are named {twice!r}")
        for scorer, _ in scheduler._scorers:
            scorer.begin_pass(names)
        self.groups: dict[tuple[tuple[str, str], ...], _Group] = {}
        self.prepared: dict[tuple[float, int, int, frozenset[HostPort]], list[NodeCheck]] = {}
        [(first, weight), *others] = scheduler._scorers
        self.single = first if not others and weight == 1.0 else None

    def run(self, tasks: Sequence[TaskRequest]) -> list[PlacementResult]:
        seen: set[str] = set()
        results = []
        for task in tasks:
            key = task.key
            if key in seen:
                raise ValueError(f"task {key} appears twice in one scheduling pass")
            seen.add(key)
            results.append(self.place(task))
        return results

    def checks(self, task: TaskRequest) -> list[NodeCheck]:
        """The per-task filters prepared for `task`; tasks asking the same share them."""
        req = task.request
        key = (req.cpu, req.memory, req.disk, task.host_ports)
        checks = self.prepared.get(key)
        if checks is None:
            checks = self.prepared[key] = prepare(task, static=False)
        return checks

    def group(self, task: TaskRequest) -> _Group:
        key = tuple(sorted(task.node_selector.items())) if task.node_selector else ()
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = _Group(self.candidates, task)
        return group

    def place(self, task: TaskRequest) -> PlacementResult:
        s = self.s
        group = self.group(task)
        rejected = Rejections(group.static)
        checks = self.checks(task)
        order, start, limit = self.walk(group)
        n = len(group.eligible)
        feasible: list[Candidate] = []
        add = feasible.append
        checked = rejected.total
        if not checks:  # nothing asked of the node: every eligible one fits
            feasible = order[start : start + min(n, limit)]
            checked += len(feasible)
        elif len(checks) == 1:
            [check] = checks
            for i in range(start, start + n):
                node = order[i]
                reason = check(node)
                if reason is None:
                    add(node)
                    if len(feasible) >= limit:
                        break
                else:
                    rejected.add(reason, node.name)
            checked += i - start + 1 if n else 0
        else:
            for i in range(start, start + n):
                node = order[i]
                for check in checks:
                    reason = check(node)
                    if reason is not None:
                        rejected.add(reason, node.name)
                        break
                else:
                    add(node)
                    if len(feasible) >= limit:
                        break
            checked += i - start + 1 if n else 0
        draft = Draft(
            task=task,
            time=self.now,
            scheduler=s.policy,
            total=len(self.candidates),
            checked=checked,
            rejected=rejected,
        )
        if not feasible:
            return draft.unschedulable()
        totals, parts = self.score(feasible, task)
        best = max(totals)
        if totals.count(best) == 1:
            chosen = totals.index(best)
        else:
            chosen = s._rng.choice([i for i, t in enumerate(totals) if t == best])
        node = feasible[chosen]
        node.add(task)
        for scorer, _ in s._scorers:
            scorer.placed(node)
        return draft.placed(feasible, totals, parts, chosen)

    def walk(self, group: _Group) -> tuple[list[Candidate], int, int]:
        """A list holding the nodes to visit from an index on, the index, how many to score."""
        s = self.s
        eligible = group.eligible
        n = len(eligible)
        if n < s.full_scan_below or n == 0:
            return eligible, 0, n
        if group.ring is None:
            if s._round_robin is not None:  # name order: the first feasible node is the next one
                group.ring = eligible + eligible
            else:
                shuffled = list(eligible)
                s._rng.shuffle(shuffled)
                group.ring = shuffled + shuffled
        rr = s._round_robin
        if rr is not None:
            start = 0 if rr.last is None else bisect_right(group.names, rr.last)
            return group.ring, start % n, s.sample_size
        return group.ring, int(s._rng.random() * n), s.sample_size

    def score(
        self, feasible: list[Candidate], task: TaskRequest
    ) -> tuple[list[float], list[tuple[str, list[float]]]]:
        if self.single is not None:
            totals = self.single.score(feasible, task)
            return totals, [(self.single.name, totals)]
        parts = [(sc.name, [w * x for x in sc.score(feasible, task)]) for sc, w in self.s._scorers]
        totals = [sum(col) for col in zip(*(p for _, p in parts), strict=True)]
        return totals, parts
