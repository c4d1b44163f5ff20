"""The scheduler as a whole: tables of small node sets, the messages, the pass's accounting."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from controller.scheduler import POLICIES, Scheduler
from controller.snapshot import Amounts, HostPort, NodeView, PlacementResult, TaskRequest

GI = 2**30
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def node(
    name: str,
    cpu: float = 4,
    memory: int = 8 * GI,
    *,
    used_cpu: float = 0,
    used_memory: int = 0,
    disk: int = 100 * GI,
    used_disk: int = 0,
    ready: bool = True,
    labels: dict[str, str] | None = None,
    ports: set[int] | None = None,
    tasks: int = 0,
) -> NodeView:
    return NodeView(
        name=name,
        ready=ready,
        capacity=Amounts(cpu, memory, disk),
        allocated=Amounts(used_cpu, used_memory, used_disk),
        labels=labels or {},
        host_ports=frozenset(("tcp", p) for p in ports or ()),
        tasks=tasks,
    )


def task(
    name: str = "t",
    cpu: float = 0.5,
    memory: int = GI,
    *,
    disk: int = 0,
    ports: set[int] | None = None,
    selector: dict[str, str] | None = None,
) -> TaskRequest:
    host_ports: frozenset[HostPort] = frozenset(("tcp", p) for p in ports or ())
    return TaskRequest(
        namespace="default",
        name=name,
        generation=1,
        request=Amounts(cpu, memory, disk),
        host_ports=host_ports,
        node_selector=selector or {},
    )


def place(
    nodes: list[NodeView], tasks: list[TaskRequest], policy: str = "spread", seed: int = 1
) -> list[PlacementResult]:
    return Scheduler(policy, rng=random.Random(seed)).place(nodes, tasks, NOW)


def test_the_issues_example_message() -> None:
    nodes = [
        node("n1", memory=4 * GI, used_memory=3 * GI),
        node("n2", memory=4 * GI, used_memory=3 * GI, ports={80}),
        node("n3", ports={8080}),
    ]
    [result] = place(nodes, [task(memory=2 * GI, ports={8080})])
    assert result.node is None
    assert result.placement.message == "0/3 nodes: 2 insufficient memory, 1 host port 8080 in use"
    assert result.placement.node is None
    assert (result.placement.nodesTotal, result.placement.nodesFeasible) == (3, 0)
    assert [(r.reason, r.count, r.nodes) for r in result.placement.rejected] == [
        ("insufficient memory", 2, ["n1", "n2"]),
        ("host port 8080 in use", 1, ["n3"]),
    ]


def test_a_node_counts_under_the_first_filter_that_rejects_it() -> None:
    # n1 fails every filter; it counts only as "node not ready".
    nodes = [
        node("n1", ready=False, cpu=0, memory=0, disk=0, labels={"zone": "b"}, ports={80}),
        node("n2", labels={"zone": "b"}),
        node("n3", labels={"zone": "a"}, ports={80}),
        node("n4", cpu=1, labels={"zone": "a"}),
        node("n5", labels={"zone": "a"}, memory=GI // 2),
        node("n6", labels={"zone": "a"}, disk=GI),
    ]
    [result] = place(
        nodes, [task(cpu=2, memory=GI, disk=2 * GI, ports={80}, selector={"zone": "a"})]
    )
    assert result.placement.message == (
        "0/6 nodes: 1 host port 80 in use, 1 insufficient cpu, 1 insufficient disk,"
        " 1 insufficient memory, 1 node not ready, 1 node selector mismatch"
    )


def test_causes_sort_by_count_then_name() -> None:
    nodes = [node(f"a{i}", ready=False) for i in range(2)] + [
        node(f"b{i}", cpu=0.1) for i in range(3)
    ]
    nodes += [node("c0", memory=1), node("c1", memory=1)]
    [result] = place(nodes, [task()])
    assert result.placement.message == (
        "0/7 nodes: 3 insufficient cpu, 2 insufficient memory, 2 node not ready"
    )


def test_no_nodes_at_all() -> None:
    [result] = place([], [task()])
    assert result.node is None
    assert result.placement.message == "0/0 nodes: no nodes"


def test_placed_message_and_record() -> None:
    nodes = [node("n1", used_cpu=3), node("n2"), node("n3", ready=False)]
    [result] = place(nodes, [task(cpu=1, memory=2 * GI)])
    assert result.node == "n2"
    p = result.placement
    # n2 after placing: cpu 3/4 free, memory 6/8 free: (0.75 + 0.75) / 2.
    assert p.message == "placed on n2 (score 0.75; 2/3 nodes feasible, 2 scored)"
    assert (p.node, p.nodesTotal, p.nodesFeasible, p.nodesScored) == ("n2", 3, 2, 2)
    assert p.scheduler == "spread"
    # n1: cpu 0/4 free, memory 6/8 free: 0.375.
    assert [(s.node, s.score) for s in p.scores] == [("n2", 0.75), ("n1", 0.375)]
    assert p.scores[0].parts == {"least-allocated": 0.75}
    assert [(r.reason, r.count) for r in p.rejected] == [("node not ready", 1)]
    assert (p.namespace, p.name, p.generation, p.time) == ("default", "t", 1, NOW)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("spread", "big"), ("binpack", "busy"), ("epvm", "big"), ("roundrobin", "big")],
)
def test_each_policy_picks_its_node(policy: str, expected: str) -> None:
    nodes = [
        node("big", cpu=8, memory=16 * GI),
        node("busy", cpu=4, memory=8 * GI, used_cpu=3, used_memory=6 * GI, tasks=3),
        node("small", cpu=2, memory=4 * GI),
    ]
    [result] = place(nodes, [task()], policy)
    assert result.node == expected
    assert result.placement.scheduler == policy


def test_placements_in_one_pass_count_against_the_node() -> None:
    # Each node holds one such task; the third finds both taken.
    nodes = [node("n1", memory=2 * GI), node("n2", memory=2 * GI)]
    tasks = [task("a", memory=2 * GI), task("b", memory=2 * GI), task("c", memory=2 * GI)]
    results = place(nodes, tasks)
    assert sorted(r.node or "-" for r in results[:2]) == ["n1", "n2"]
    assert results[2].node is None
    assert results[2].placement.message == "0/2 nodes: 2 insufficient memory"


def test_host_ports_taken_in_the_pass_are_in_use() -> None:
    nodes = [node("n1"), node("n2")]
    results = place(nodes, [task("a", ports={80}), task("b", ports={80}), task("c", ports={80})])
    assert sorted(r.node or "-" for r in results[:2]) == ["n1", "n2"]
    assert results[2].placement.message == "0/2 nodes: 2 host port 80 in use"


def test_the_inputs_are_not_changed() -> None:
    nodes = [node("n1", ports={1})]
    before = [(n.allocated, n.host_ports, n.tasks) for n in nodes]
    place(nodes, [task("a", ports={80}), task("b")])
    assert [(n.allocated, n.host_ports, n.tasks) for n in nodes] == before


def test_each_pass_starts_from_its_own_snapshot() -> None:
    nodes = [node("n1", memory=2 * GI)]
    scheduler = Scheduler(rng=random.Random(0))
    first = scheduler.place(nodes, [task("a", memory=2 * GI)], NOW)
    second = scheduler.place(nodes, [task("b", memory=2 * GI)], NOW)
    assert first[0].node == second[0].node == "n1"


def test_results_come_in_task_order() -> None:
    nodes = [node("n1"), node("n2")]
    tasks = [task(f"t{i}", cpu=0.1, memory=1) for i in range(10)]
    assert [r.task.name for r in place(nodes, tasks)] == [t.name for t in tasks]


def test_one_task_twice_in_a_pass_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="default/a appears twice"):
        place([node("n1")], [task("a"), task("a")])


def test_one_node_twice_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="two node views are named 'n1'"):
        place([node("n1"), node("n2"), node("n1")], [task()])


def test_unknown_policy_names_the_choices() -> None:
    with pytest.raises(ValueError) as info:
        Scheduler("fastest")
    assert str(info.value) == (
        "unknown scheduling policy 'fastest': choose one of spread, binpack, epvm, roundrobin"
    )
    assert POLICIES == ("spread", "binpack", "epvm", "roundrobin")


def test_bad_sampling_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="sample_size"):
        Scheduler(sample_size=0)
    with pytest.raises(ValueError, match="full_scan_below"):
        Scheduler(full_scan_below=-1)


def test_ties_are_broken_by_the_generator() -> None:
    nodes = [node(f"n{i}") for i in range(5)]
    picks = {place(nodes, [task()], seed=seed)[0].node for seed in range(40)}
    assert len(picks) > 1  # equal nodes: the seed decides
    assert place(nodes, [task()], seed=7)[0].node == place(nodes, [task()], seed=7)[0].node


def test_spread_alternates_between_equal_nodes() -> None:
    nodes = [node("n1"), node("n2")]
    results = place(nodes, [task(f"t{i}") for i in range(6)])
    names = [r.node for r in results]
    assert names.count("n1") == names.count("n2") == 3


def test_binpack_fills_one_node_before_the_next() -> None:
    nodes = [node("n1", cpu=2, memory=4 * GI), node("n2", cpu=2, memory=4 * GI)]
    results = place(nodes, [task(f"t{i}", cpu=0.5, memory=GI) for i in range(6)], "binpack")
    names = [r.node for r in results]
    assert names[:4] == [names[0]] * 4
    assert names[4:] == [names[4]] * 2 and names[4] != names[0]


def test_disk_counts_in_spread_only_when_requested() -> None:
    # Same cpu and memory; n1 has far less disk free. Without a disk request they tie.
    nodes = [node("n1", used_disk=90 * GI), node("n2")]
    [with_disk] = place(nodes, [task(disk=GI)])
    assert with_disk.node == "n2"
    [without] = place(nodes, [task()])
    assert without.placement.scores[0].score == without.placement.scores[1].score


@pytest.mark.parametrize("full_scan_below", [100, 0])  # a full scan, and a sampled walk
def test_roundrobin_cycles_in_name_order_across_calls(full_scan_below: int) -> None:
    nodes = [node("c"), node("a"), node("b", memory=GI // 2), node("d")]
    scheduler = Scheduler(
        "roundrobin", rng=random.Random(0), sample_size=2, full_scan_below=full_scan_below
    )
    placed = []
    for i in range(3):  # one task per pass: the cursor carries over
        placed += [r.node for r in scheduler.place(nodes, [task(f"x{i}")], NOW)]
    placed += [r.node for r in scheduler.place(nodes, [task(f"y{i}") for i in range(4)], NOW)]
    # b cannot hold the task and is skipped.
    assert placed == ["a", "c", "d", "a", "c", "d", "a"]


def test_roundrobin_carries_on_after_a_node_leaves() -> None:
    scheduler = Scheduler("roundrobin", rng=random.Random(0))
    nodes = [node("a"), node("b"), node("c")]
    assert [r.node for r in scheduler.place(nodes, [task("1"), task("2")], NOW)] == ["a", "b"]
    nodes = [node("a"), node("c")]  # b left
    assert [r.node for r in scheduler.place(nodes, [task("3"), task("4")], NOW)] == ["c", "a"]


def test_sampling_stops_at_the_sample_size() -> None:
    nodes = [node(f"n{i:02d}") for i in range(20)]
    scheduler = Scheduler(rng=random.Random(3), sample_size=4, full_scan_below=10)
    [result] = scheduler.place(nodes, [task()], NOW)
    p = result.placement
    assert (p.nodesTotal, p.nodesFeasible, p.nodesScored, len(p.scores)) == (20, 4, 4, 4)
    assert result.message.endswith("; sampled: 4 feasible of 4 nodes checked out of 20, 4 scored)")
    assert result.message.startswith(f"placed on {result.node} (score 0.")


def test_sampling_counts_the_nodes_it_rejected_on_the_way() -> None:
    nodes = [node(f"n{i:02d}", memory=GI // 2) for i in range(15)] + [
        node(f"m{i:02d}") for i in range(5)
    ]
    scheduler = Scheduler(rng=random.Random(5), sample_size=5, full_scan_below=10)
    [result] = scheduler.place(nodes, [task()], NOW)
    p = result.placement
    assert p.nodesFeasible == 5  # all five big nodes, wherever the walk began
    rejected = sum(r.count for r in p.rejected)
    checked = int(result.message.split(" nodes checked")[0].rsplit(" ", 1)[1])
    assert checked == rejected + 5
    assert all(len(r.nodes) <= 5 for r in p.rejected)


def test_an_unschedulable_task_is_checked_against_every_node_even_when_sampling() -> None:
    nodes = [node(f"n{i:03d}", memory=GI // 2) for i in range(300)] + [node("ready", ready=False)]
    scheduler = Scheduler(rng=random.Random(1), sample_size=5, full_scan_below=10)
    [result] = scheduler.place(nodes, [task()], NOW)
    assert result.message == "0/301 nodes: 300 insufficient memory, 1 node not ready"
    [memory, not_ready] = result.placement.rejected
    assert (memory.count, len(memory.nodes), not_ready.nodes) == (300, 5, ["ready"])


def test_the_record_keeps_ten_scores_the_chosen_first() -> None:
    nodes = [node(f"n{i:02d}", used_cpu=i * 0.1) for i in range(30)]
    [result] = place(nodes, [task()])
    scores = result.placement.scores
    assert len(scores) == 10
    assert scores[0].node == result.node == "n00"
    assert [s.score for s in scores] == sorted((s.score for s in scores), reverse=True)


def test_the_record_is_built_once_and_equals_itself() -> None:
    [result] = place([node("n1")], [task()])
    assert result.placement is result.placement
    assert result.placement.message == result.message
    with pytest.raises(AttributeError):
        result.node = "n2"


def test_a_result_can_still_be_made_from_a_finished_record() -> None:
    [built] = place([node("n1")], [task()])
    record = built.placement
    again = PlacementResult(built.task, "n1", record)
    assert (again.message, again.placement) == (record.message, record)
    assert again == built
    with pytest.raises(TypeError, match="needs a placement"):
        PlacementResult(built.task, "n1")
