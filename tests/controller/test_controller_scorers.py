"""Each scorer alone: spread and binpack shares, E-PVM against costs worked out by hand,
roundrobin's cycle, and the policy table."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from controller.candidates import Candidate
from controller.scheduler import Scheduler
from controller.scorers import (
    LIEB,
    POLICIES,
    POLICY_WEIGHTS,
    Epvm,
    LeastAllocated,
    MostAllocated,
    RoundRobin,
    make_scorers,
    used_after,
)
from controller.snapshot import Amounts, NodeView, TaskRequest
from schemas.node import NodeMetrics

GI = 2**30
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def cand(
    name: str = "n1",
    capacity: tuple[float, int, int] = (4.0, 8 * GI, 100 * GI),
    allocated: tuple[float, int, int] = (0.0, 0, 0),
    *,
    tasks: int = 0,
    live: tuple[float, float, float] | None = None,
) -> Candidate:
    return Candidate(name, capacity=capacity, allocated=allocated, tasks=tasks, live=live)


def req(cpu: float = 0.0, memory: int = 0, disk: int = 0) -> TaskRequest:
    return TaskRequest("default", "t", 1, Amounts(cpu, memory, disk))


def metrics(
    cpu_percent: float, memory_total: int, memory_available: int, age: float = 5
) -> NodeMetrics:
    return NodeMetrics(
        cpuPercent=cpu_percent,
        memoryTotal=memory_total,
        memoryAvailable=memory_available,
        diskTotal=100 * GI,
        diskAvailable=100 * GI,
        load1=0,
        load5=0,
        load15=0,
        timestamp=NOW - timedelta(seconds=age),
    )


# --- spread and binpack ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("capacity", "allocated", "asked", "used"),
    [
        # cpu (1 + 1) / 4 = 0.5, memory (2 + 2) / 8 = 0.5
        ((4.0, 8 * GI, 0), (1.0, 2 * GI, 0), (1.0, 2 * GI, 0), 0.5),
        # cpu 0.5 / 4 = 0.125, memory 6 / 8 = 0.75: mean 0.4375
        ((4.0, 8 * GI, 0), (0.0, 6 * GI, 0), (0.5, 0, 0), 0.4375),
        # with disk: cpu 0.25, memory 0.25, disk (10 + 40) / 100 = 0.5: mean 1/3
        ((4.0, 8 * GI, 100 * GI), (0.0, 0, 10 * GI), (1.0, 2 * GI, 40 * GI), 1 / 3),
        # disk not requested: 90 GiB of disk used does not count
        ((4.0, 8 * GI, 100 * GI), (0.0, 0, 90 * GI), (1.0, 2 * GI, 0), 0.25),
        # over-committed memory the task does not ask for counts as full, not more
        ((4.0, 8 * GI, 0), (0.0, 12 * GI, 0), (2.0, 0, 0), 0.75),
        # no cpu at all counts as full: (1 + 0.5) / 2
        ((0.0, 8 * GI, 0), (0.0, 0, 0), (0.0, 4 * GI, 0), 0.75),
    ],
)
def test_used_after(
    capacity: tuple[float, int, int],
    allocated: tuple[float, int, int],
    asked: tuple[float, int, int],
    used: float,
) -> None:
    node, task = cand(capacity=capacity, allocated=allocated), req(*asked)
    assert used_after([node], task) == [pytest.approx(used)]
    assert LeastAllocated().score([node], task) == [pytest.approx(1 - used)]
    assert MostAllocated().score([node], task) == [pytest.approx(used)]


def test_shares_follow_placements() -> None:
    node = cand(capacity=(4.0, 8 * GI, 0))
    task = req(1.0, 2 * GI)
    assert used_after([node], task) == [0.25]
    node.add(task)
    node.add(task)
    assert used_after([node], task) == [0.75]


# --- E-PVM ----------------------------------------------------------------------------------
# Powers of LIEB = 1.53960071783900203869 used below, from a calculator:
L_0_10 = 1.0440969100468362
L_0_20 = 1.090138357569351
L_0_225 = 1.1019625202087435
L_0_25 = 1.113914933378128
L_0_30 = 1.1382100906616923
L_0_50 = 1.2408064788027995
L_0_625 = 1.3095740647403453
L_0_75 = 1.38215286617077


def test_lieb() -> None:
    assert LIEB == 1.53960071783900203869
    assert abs(LIEB**0.5 - L_0_50) < 1e-15


def epvm_table() -> tuple[list[Candidate], TaskRequest]:
    """A task of 1 core and 2 GiB, three nodes, max_tasks 10."""
    a = cand(
        "a",
        (4.0, 8 * GI, 0),
        (1.0, 2 * GI, 0),
        tasks=2,
        # cpu 50 % measured (more than the 1/4 reserved); memory 8 GiB total, 6 available
        live=(0.5, 0.25, 0.0),
    )
    b = cand("b", (4.0, 8 * GI, 0), (2.0, 2 * GI, 0), tasks=1)  # no metrics: what is reserved
    c = cand(
        "c",
        (8.0, 16 * GI, 0),
        (0.0, 0, 0),
        tasks=0,
        live=(0.1, 0.5, 0.0),  # cpu 10 %, memory 16 GiB total, 8 available
    )
    return [a, b, c], req(1.0, 2 * GI)


def test_epvm_costs_by_hand() -> None:
    nodes, task = epvm_table()
    # a: cpu 0.5 -> 0.75 (measured 0.5 > reserved 0.25, plus 1/4); memory 0.25 -> 0.5;
    #    tasks 2/10 -> 3/10
    a = (L_0_75 - L_0_50) + (L_0_50 - L_0_25) + (L_0_30 - L_0_20)
    # b: cpu reserved 2/4 = 0.5 -> 0.75; memory 0.25 -> 0.5; tasks 0.1 -> 0.2
    b = (L_0_75 - L_0_50) + (L_0_50 - L_0_25) + (L_0_20 - L_0_10)
    # c: cpu 0.1 -> 0.1 + 1/8; memory 0.5 -> 0.5 + 2/16; tasks 0 -> 0.1
    c = (L_0_225 - L_0_10) + (L_0_625 - L_0_50) + (L_0_10 - 1.0)
    assert (a, b, c) == pytest.approx((0.316309665884983, 0.314279380315157, 0.170730106146289))
    assert Epvm(max_tasks=10).costs(nodes, task) == pytest.approx([a, b, c], rel=1e-12)


def test_epvm_scores_by_hand() -> None:
    nodes, task = epvm_table()
    a, b, c = 0.316309665884983, 0.314279380315157, 0.170730106146289
    # The cheapest scores 1, the dearest 0, the rest in proportion: (a - x) / (a - c).
    expected = [0.0, (a - b) / (a - c), 1.0]
    assert expected[1] == pytest.approx(0.0139462268842, rel=1e-9)
    assert Epvm(max_tasks=10).score(nodes, task) == pytest.approx(expected, rel=1e-9)


def test_epvm_equal_costs_all_score_one() -> None:
    nodes = [cand("a"), cand("b")]
    assert Epvm().score(nodes, req(1.0, GI)) == [1.0, 1.0]
    assert Epvm().score([], req(1.0)) == []


def test_epvm_cpu_terms_do_not_cancel() -> None:
    # The seed used the current cpu load on both sides, so cpu never mattered. Here two nodes
    # alike but for their measured cpu (10 % and 90 %) cost differently, by exactly
    # (L^(0.9 + 0.25) - L^0.9) - (L^(0.1 + 0.25) - L^0.1).
    idle = cand("idle", (4.0, 8 * GI, 0), live=(0.1, 0.0, 0.0))
    busy = cand("busy", (4.0, 8 * GI, 0), live=(0.9, 0.0, 0.0))
    l_0_35, l_0_90, l_1_15 = 1.1630351399951309, 1.4745764526493415, 1.6425527310138475
    expected = (l_1_15 - l_0_90) - (l_0_35 - L_0_10)
    cost_idle, cost_busy = Epvm().costs([idle, busy], req(1.0))
    assert cost_busy - cost_idle == pytest.approx(expected, rel=1e-9)
    assert Epvm().score([idle, busy], req(1.0)) == [1.0, 0.0]


def test_epvm_a_node_without_metrics_does_not_win_by_default() -> None:
    # The seed gave a node whose metrics it could not read no cost, so it always won. Here it is
    # judged on what is reserved: 3 of 4 cores taken makes it dearer than a node measured at 20 %.
    blind = cand("blind", (4.0, 8 * GI, 0), (3.0, 0, 0))
    seen = cand("seen", (4.0, 8 * GI, 0), live=(0.2, 0.0, 0.0))
    assert Epvm().score([blind, seen], req(1.0)) == [0.0, 1.0]
    # ... and an idle node without metrics costs what an idle measured node does.
    assert (
        Epvm().costs([cand("x"), cand("y", live=(0.0, 0.0, 0.0))], req(1.0))
        == [pytest.approx(Epvm().costs([cand("z")], req(1.0))[0])] * 2
    )


def test_epvm_measured_or_reserved_whichever_is_larger() -> None:
    # Reserved 3 of 4 cores but measured at 10 %: the reservation counts (tasks just bound).
    reserved = cand("r", (4.0, 8 * GI, 0), (3.0, 0, 0), live=(0.1, 0.0, 0.0))
    same = cand("s", (4.0, 8 * GI, 0), (3.0, 0, 0))
    assert Epvm().costs([reserved], req(0.5)) == Epvm().costs([same], req(0.5))


def test_epvm_follows_placements_in_the_pass() -> None:
    node = cand("n", (4.0, 8 * GI, 0))
    task = req(1.0, GI)
    [before] = Epvm().costs([node], task)
    node.add(task)
    [after] = Epvm().costs([node], task)
    assert after > before


def test_stale_metrics_are_ignored() -> None:
    capacity = Amounts(4.0, 8 * GI, 0)
    fresh = NodeView("f", True, capacity, Amounts(), metrics=metrics(80, 8 * GI, 2 * GI, age=5))
    stale = NodeView("s", True, capacity, Amounts(), metrics=metrics(80, 8 * GI, 2 * GI, age=120))
    assert Candidate.from_view(fresh, NOW, 60.0).live_cpu == pytest.approx(0.8)
    assert Candidate.from_view(fresh, NOW, 60.0).live_memory == pytest.approx(0.75)
    assert Candidate.from_view(stale, NOW, 60.0).live_cpu is None
    [result] = Scheduler("epvm", rng=random.Random(0)).place([fresh, stale], [req(1.0, GI)], NOW)
    assert result.node == "s"  # the stale 80 % is not believed; the fresh one is


# --- roundrobin -----------------------------------------------------------------------------


def test_roundrobin_scores_the_next_node_highest() -> None:
    rr = RoundRobin()
    names = ["a", "b", "c", "d"]
    nodes = [cand(n) for n in names]
    rr.begin_pass(names)
    assert rr.score(nodes, req()) == [1.0, 0.75, 0.5, 0.25]
    rr.placed(nodes[1])
    assert rr.score(nodes, req()) == [0.5, 0.25, 1.0, 0.75]  # c, d, a, b


def test_roundrobin_cursor_survives_the_node_leaving() -> None:
    rr = RoundRobin()
    rr.begin_pass(["a", "b", "c"])
    rr.placed(cand("b"))
    rr.begin_pass(["a", "c", "d"])  # b is gone: c is still next
    scores = rr.score([cand("a"), cand("c"), cand("d")], req())
    assert scores.index(max(scores)) == 1


# --- policies -------------------------------------------------------------------------------


def test_every_policy_has_weights_adding_up_to_one() -> None:
    assert set(POLICY_WEIGHTS) == set(POLICIES)
    for weights in POLICY_WEIGHTS.values():
        assert sum(weights.values()) == pytest.approx(1.0)


def test_each_scheduler_gets_scorers_of_its_own() -> None:
    [(first, _)] = make_scorers("roundrobin")
    [(second, _)] = make_scorers("roundrobin")
    assert first is not second


def test_unknown_policy() -> None:
    with pytest.raises(ValueError, match="choose one of spread, binpack, epvm, roundrobin"):
        make_scorers("random")
