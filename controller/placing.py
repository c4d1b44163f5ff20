"""The outcome of one placement, as counted in the hot loop and as shown to people.

`Rejections` counts the nodes rejected per reason with a few example names; `Draft` gathers a
placement's figures and turns them into the task's status message and the `Placement` record
for `shoal describe` (at most `MAX_SCORES` scores and `MAX_EXAMPLES` names per reason, so the
record stays small in a cluster of thousands of nodes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from controller.candidates import Candidate
from controller.snapshot import PlacementResult, TaskRequest
from schemas.placement import Placement

__all__ = ["MAX_EXAMPLES", "MAX_SCORES", "Draft", "Rejections", "unschedulable_message"]

MAX_SCORES = 10
"""Scores kept in a Placement record (the best ones)."""

MAX_EXAMPLES = 5
"""Node names kept per rejection reason."""


class Rejections:
    """How many nodes were rejected for each reason, with a few of their names.

    A task's rejections start from those of the static filters, which every task with the same
    node selector shares: `base` is read, never written, so it costs nothing per task.
    """

    __slots__ = ("base", "counts", "examples", "total")

    def __init__(self, base: Rejections | None = None) -> None:
        self.base = base
        self.counts: dict[str, int] = {}
        self.examples: dict[str, list[str]] = {}
        self.total: int = base.total if base is not None else 0
        """The sum of the counts, the base's included."""

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

    def ordered(self) -> list[tuple[str, int, list[str]]]:
        """(reason, count, examples), most common first, then by reason; the base's included."""
        layers: list[Rejections] = []
        layer: Rejections | None = self
        while layer is not None:
            layers.append(layer)
            layer = layer.base
        counts: dict[str, int] = {}
        examples: dict[str, list[str]] = {}
        for layer in reversed(layers):
            for reason, count in layer.counts.items():
                counts[reason] = counts.get(reason, 0) + count
                names = examples.setdefault(reason, [])
                names.extend(layer.examples[reason][: MAX_EXAMPLES - len(names)])
        rows = [(r, c, examples[r]) for r, c in counts.items()]
        rows.sort(key=lambda row: (-row[1], row[0]))
        return rows


def unschedulable_message(total: int, rejected: Rejections) -> str:
    """``0/3 nodes: 2 insufficient memory, 1 host port 8080 in use``."""
    if total == 0:
        return "0/0 nodes: no nodes"
    causes = ", ".join(f"{count} {reason}" for reason, count, _ in rejected.ordered())
    return f"0/{total} nodes: {causes}"


class Draft:
    """What one placement found; it gives the result its message at once and its record later.

    The message is made when the task is placed (the status needs it); the `Placement` record
    only when the result's `placement` is read. Of the scores only what the record shows is
    kept (the best `MAX_SCORES`, chosen first): records wait while a burst of placements is
    written, and holding every feasible node's scores and the pass's node copies until then
    cost kilobytes a task (gigabytes at 100,000 tasks).
    """

    __slots__ = (
        "best_nodes",
        "best_scores",
        "checked",
        "message",
        "node",
        "nodes_feasible",
        "parts",
        "rejected",
        "scheduler",
        "task",
        "time",
        "total",
    )

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
        self.node: str | None = None
        self.nodes_feasible = 0
        self.best_nodes: tuple[str, ...] = ()
        """The nodes the record shows, the chosen one first, and their total scores."""
        self.best_scores: tuple[float, ...] = ()
        self.parts: tuple[tuple[str, tuple[float, ...] | None], ...] = ()
        """Each scorer's part of those scores (None: the scorer's score is the total)."""
        self.message = ""

    def unschedulable(self) -> PlacementResult:
        """The task fits nowhere."""
        self.message = message = unschedulable_message(self.total, self.rejected)
        return PlacementResult(self.task, None, message=message, build=self.record)

    def placed(
        self,
        feasible: Sequence[Candidate],
        totals: Sequence[float],
        parts: Sequence[tuple[str, Sequence[float]]],
        chosen: int,
    ) -> PlacementResult:
        """The task goes to `feasible[chosen]`; `totals` and `parts` are their scores."""
        self.node = node = feasible[chosen].name
        self.nodes_feasible = n = len(feasible)
        # The chosen node first, then the best of the others (ties: visit order).
        ranked = sorted(range(n), key=totals.__getitem__, reverse=True)
        best = [chosen, *(i for i in ranked[:MAX_SCORES] if i != chosen)][:MAX_SCORES]
        self.best_nodes = tuple([feasible[i].name for i in best])
        self.best_scores = tuple([totals[i] for i in best])
        self.parts = tuple(
            [
                (name, None if values is totals else tuple([values[i] for i in best]))
                for name, values in parts
            ]
        )
        if self.checked >= self.total:
            how = f"{n}/{self.total} nodes feasible"
        else:
            how = f"sampled: {n} feasible of {self.checked} nodes checked out of {self.total}"
        self.message = message = f"placed on {node} (score {totals[chosen]:.2f}; {how}, {n} scored)"
        return PlacementResult(self.task, node, message=message, build=self.record)

    def record(self) -> Placement:
        """The `Placement` for `shoal describe`: the best `MAX_SCORES` scores, chosen first."""
        t = self.task
        scores = []
        for j, (name, score) in enumerate(zip(self.best_nodes, self.best_scores, strict=True)):
            total = round(score, 4)
            shares = {
                scorer: total if values is None else round(values[j], 4)
                for scorer, values in self.parts
            }
            scores.append({"node": name, "score": total, "parts": shares})
        rejected = [
            {"reason": r, "count": c, "nodes": list(examples)}
            for r, c, examples in self.rejected.ordered()
        ]
        return Placement.model_validate(
            {
                "namespace": t.namespace,
                "name": t.name,
                "generation": t.generation,
                "time": self.time,
                "scheduler": self.scheduler,
                "node": self.node,
                "message": self.message,
                "nodesTotal": self.total,
                "nodesFeasible": self.nodes_feasible,
                "nodesScored": self.nodes_feasible,
                "rejected": rejected,
                "scores": scores,
            }
        )
