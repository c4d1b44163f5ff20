"""Sampling keeps placements good: spread stays even and binpack stays tight, against a full
scan of the same cluster (1,000 equal nodes, 5,000 equal tasks, each node holds 10)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from controller.scheduler import Scheduler
from controller.snapshot import Amounts, NodeView, TaskRequest

GI = 2**30
NOW = datetime(2026, 1, 1, tzinfo=UTC)
NODES = [NodeView(f"n{i:04d}", True, Amounts(4.0, 8 * GI), Amounts()) for i in range(1000)]
TASKS = [TaskRequest("default", f"t{i:04d}", 1, Amounts(0.4, 512 * 2**20)) for i in range(5000)]
# 4 cores / 0.4 = 10 tasks a node (memory allows 16): the tightest packing uses 500 nodes.
OPTIMUM = 500


def per_node(policy: str, seed: int, *, full_scan: bool) -> Counter[str]:
    scheduler = Scheduler(
        policy,
        rng=random.Random(seed),
        sample_size=50,
        full_scan_below=10**6 if full_scan else 100,
    )
    results = scheduler.place(NODES, TASKS, NOW)
    assert all(r.node is not None for r in results)
    counts = Counter(r.node for r in results if r.node is not None)
    for view in NODES:
        counts.setdefault(view.name, 0)
    return counts


def test_a_full_scan_spreads_perfectly() -> None:
    counts = per_node("spread", 0, full_scan=True)
    assert set(counts.values()) == {5}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sampled_spread_stays_even(seed: int) -> None:
    counts = per_node("spread", seed, full_scan=False)
    assert max(counts.values()) - min(counts.values()) <= 3


def test_a_full_scan_packs_perfectly() -> None:
    counts = per_node("binpack", 0, full_scan=True)
    assert sum(1 for c in counts.values() if c) == OPTIMUM


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sampled_binpack_stays_tight(seed: int) -> None:
    counts = per_node("binpack", seed, full_scan=False)
    used = sum(1 for c in counts.values() if c)
    assert used <= OPTIMUM * 1.10
    assert max(counts.values()) == 10  # nodes are filled, not merely touched
