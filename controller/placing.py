"""The outcome of one placement, as counted in the hot loop and as shown to people.

`Rejections` counts the nodes rejected per reason with a few example names; `Draft` gathers a
placement's figures and turns them into the task's status message and the `Placement` record
for `shoal describe` (at most `MAX_SCORES` scores and `MAX_EXAMPLES` names per reason, so the
record stays small in a cluster of thousands of nodes).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import datetime

from controller.candidates import Candidate
from controller.snapshot import PlacementResult, TaskRequest
from schemas.placement import NodeScore, Placement, Rejection

__all__ = ["MAX_EXAMPLES", "MAX_SCORES", "Draft", "Rejections", "unschedulable_message"]

MAX_SCORES = 10
"""Scores kept in a Placement record (the best ones)."""

MAX_EXAMPLES = 5
"""Node names kept per rejection reason."""


class Rejections:
    """How many nodes were rejected for each reason, with a few of their names."""

    __slots__ = ("counts", "examples", "total")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.examples: dict[str, list[str]] = {}
        self.total = 0
        """The sum of the counts."""

    def add(self, reason: str, node: str) -> None:
        self.total += 1
        counts = self.counts
        if reason in counts:
            counts[reason] += 1
            names = self.examples[reason]
            if len(names) < MAX_EXAMPLES:
                names.append(node)
        else:
            counts[reason] = 1
            self.examples[reason] = [node]

    def copy(self) -> Rejections:
        other = Rejections()
        other.total = self.total
        other.counts = dict(self.counts)
        other.examples = {r: list(names) for r, names in self.examples.items()}
        return other

    def ordered(self) -> list[tuple[str, int, list[str]]]:
        """(reason, count, examples), most common first, then by reason."""
        rows = [(r, c, self.examples[r]) for r, c in self.counts.items()]
        rows.sort(key=lambda row: (-row[1], row[0]))
        return rows


def unschedulable_message(total: int, rejected: Rejections) -> str:
    """``0/3 nodes: 2 insufficient memory, 1 host port 8080 in use``."""
    if total == 0:
        return "0/0 nodes: no nodes"
    causes = ", ".join(f"{count} {reason}" for reason, count, _ in rejected.ordered())
    return f"0/{total} nodes: {causes}"


class Draft:
    """What one placement found, before it becomes a `PlacementResult`."""

    __slots__ = ("checked", "rejected", "scheduler", "task", "time", "total")

    def __init__(
        self,
        *,
        task: TaskRequest,
        time: datetime,
        scheduler: str,
        total: int,
        checked: int,
        rejected: Rejections,
    ) -> None:
        self.task = task
        self.time = time
        self.scheduler = scheduler
        self.total = total
        self.checked = checked
        """Nodes given a verdict: all of them unless sampling stopped early."""
        self.rejected = rejected

    def _record(self, **fields: object) -> Placement:
        t = self.task
        rejected = [
            Rejection(reason=r, count=c, nodes=names) for r, c, names in self.rejected.ordered()
        ]
        return Placement(
            namespace=t.namespace,
            name=t.name,
            generation=t.generation,
            time=self.time,
            scheduler=self.scheduler,
            nodesTotal=self.total,
            rejected=rejected,
            **fields,
        )

    def result(self) -> PlacementResult:
        """The task fits nowhere."""
        message = unschedulable_message(self.total, self.rejected)
        record = self._record(node=None, message=message, nodesFeasible=0, nodesScored=0)
        return PlacementResult(task=self.task, node=None, placement=record)

    def placed(
        self,
        feasible: Sequence[Candidate],
        totals: Sequence[float],
        parts: Sequence[tuple[str, Sequence[float]]],
        chosen: int,
    ) -> PlacementResult:
        """The task goes to `feasible[chosen]`; `totals` and `parts` are the scores."""
        node = feasible[chosen].name
        n = len(feasible)
        if self.checked >= self.total:
            how = f"{n}/{self.total} nodes feasible, {n} scored"
        else:
            how = f"sampled: {n} feasible of {self.checked} nodes checked out of {self.total}"
            how += f", {n} scored"
        message = f"placed on {node} (score {totals[chosen]:.2f}; {how})"
        best = heapq.nsmallest(
            MAX_SCORES, range(n), key=lambda i: (-totals[i], i != chosen, feasible[i].name)
        )
        scores = [
            NodeScore(
                node=feasible[i].name,
                score=round(totals[i], 4),
                parts={name: round(values[i], 4) for name, values in parts},
            )
            for i in best
        ]
        record = self._record(
            node=node, message=message, nodesFeasible=n, nodesScored=n, scores=scores
        )
        return PlacementResult(task=self.task, node=node, placement=record)
