"""A pass reuses the last pass's copies of unchanged nodes: the plans are exactly those made
from fresh copies, whatever the policy, whether a node got a task, and when metrics go stale
between passes."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from controller.scheduler import POLICIES, Scheduler
from controller.snapshot import Amounts, NodeView, TaskRequest
from schemas.node import NodeMetrics
from schemas.placement import Placement

GI = 2**30
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def metrics(i: int, at: datetime) -> NodeMetrics:
    return NodeMetrics(
        cpuPercent=float(i * 7 % 90),
        memoryTotal=16 * GI,
        memoryAvailable=(4 + i % 9) * GI,
        diskTotal=100 * GI,
        diskAvailable=(20 + i % 50) * GI,
        load1=0.5,
        load5=0.5,
        load15=0.5,
        timestamp=at,
    )


def views(count: int, at: datetime) -> list[NodeView]:
    return [
        NodeView(
            f"n{i:03d}",
            True,
            Amounts(8.0, 16 * GI, 100 * GI),
            Amounts(0.1 * (i % 5), (i % 3) * GI),
            metrics=metrics(i, at) if i % 4 else None,
        )
        for i in range(count)
    ]


def tasks(first: int, count: int) -> list[TaskRequest]:
    return [
        TaskRequest("default", f"t{i:04d}", 1, Amounts(0.5, GI, GI if i % 2 else 0))
        for i in range(first, first + count)
    ]


Plan = list[tuple[str | None, str, Placement]]


def plans(
    scheduler: Scheduler, nodes: Sequence[NodeView], batch: list[TaskRequest], now: datetime
) -> Plan:
    return [(r.node, r.message, r.placement) for r in scheduler.place(nodes, batch, now)]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("count", [20, 300])  # a full scan, and sampling
def test_plans_from_kept_copies_equal_plans_from_fresh_ones(policy: str, count: int) -> None:
    nodes = views(count, NOW)
    kept = Scheduler(policy, rng=random.Random(3))
    fresh = Scheduler(policy, rng=random.Random(3))
    assert plans(kept, nodes, tasks(0, 40), NOW) == plans(fresh, nodes, tasks(0, 40), NOW)
    later = NOW + timedelta(seconds=1)
    # The same view objects again (a node that got a task in the first pass has a copy that
    # changed), against equal views that are new objects, so every copy is made afresh.
    again = plans(kept, nodes, tasks(40, 40), later)
    assert again == plans(fresh, [dataclasses.replace(v) for v in nodes], tasks(40, 40), later)


@pytest.mark.parametrize("policy", ["epvm", "spread"])
def test_metrics_gone_stale_between_passes_are_not_counted(policy: str) -> None:
    nodes = views(30, NOW)
    kept = Scheduler(policy, rng=random.Random(5), metrics_max_age=60.0)
    fresh = Scheduler(policy, rng=random.Random(5), metrics_max_age=60.0)
    plans(kept, nodes, tasks(0, 5), NOW + timedelta(seconds=30))
    plans(fresh, nodes, tasks(0, 5), NOW + timedelta(seconds=30))
    stale = NOW + timedelta(seconds=90)
    again = plans(kept, nodes, tasks(5, 20), stale)
    assert again == plans(fresh, [dataclasses.replace(v) for v in nodes], tasks(5, 20), stale)
