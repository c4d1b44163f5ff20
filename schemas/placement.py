"""Placement: why the scheduler put a task where it did (or nowhere), for ``shoal describe``.

The controller writes one :class:`Placement` per task to ``/shoal/status/placements/<ns>/<name>``
after each scheduling attempt that changed its outcome. It keeps the verdict of every node that
was rejected, grouped by reason (``rejected``: reason -> count, plus a few node names), and the
scores of the nodes that were scored (a bounded sample in a large cluster), so "why this node?"
and "why nowhere?" always have an answer without storing thousands of rows per task.
"""

from __future__ import annotations

from pydantic import Field

from schemas.base import RecordModel
from schemas.fields import DnsLabel, NonNegativeInt, PositiveInt, Timestamp

__all__ = ["NodeScore", "Placement", "Rejection"]


class NodeScore(RecordModel):
    """One feasible node's total score and its parts (scorer name -> weighted score)."""

    node: str
    score: float
    parts: dict[str, float] = Field(default_factory=dict)


class Rejection(RecordModel):
    """The nodes a filter rejected for one reason, e.g. ``insufficient memory``."""

    reason: str
    count: PositiveInt
    nodes: list[str] = Field(default_factory=list)
    """Some of the nodes (at most a handful), as examples for a person."""


class Placement(RecordModel):
    """The outcome of the last scheduling attempt of one generation of a task."""

    namespace: DnsLabel
    name: DnsLabel
    generation: PositiveInt
    time: Timestamp
    scheduler: str
    """The scoring policy: ``spread``, ``binpack``, ``epvm`` or ``roundrobin``."""
    node: str | None = None
    """Where the task was placed; None when it fits nowhere."""
    message: str
    """``placed on n2 (score 0.83; 3/3 nodes feasible, 3 scored)`` or
    ``0/3 nodes: 2 insufficient memory, 1 host port 8080 in use``."""
    nodesTotal: NonNegativeInt
    nodesFeasible: NonNegativeInt
    nodesScored: NonNegativeInt
    rejected: list[Rejection] = Field(default_factory=list)
    scores: list[NodeScore] = Field(default_factory=list)
    """The scored nodes, best first (at most a bounded number)."""
