"""What must never happen, over random clusters and batches (hypothesis).

Every pass is replayed independently of the scheduler's code: starting from the node views,
each placement is checked against what the node holds at that moment (readiness, selector,
host ports, each requested resource), then added. So these properties hold for every policy,
with and without sampling:

- a task is never placed on a node that cannot hold it, and never left unplaced when some node
  could hold it;
- every task gets exactly one result, in order (never placed twice, never dropped);
- a pass never over-commits a node on a resource its placements ask for;
- the same seed gives the same plan;
- an unschedulable task's message counts every node exactly once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.scheduler import POLICIES, Scheduler
from controller.snapshot import Amounts, HostPort, NodeView, PlacementResult, TaskRequest
from schemas.node import NodeMetrics

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SLACK = 1e-9
PORTS: list[HostPort] = [("tcp", 80), ("tcp", 443), ("tcp", 8080), ("udp", 53)]
ZONES = ["a", "b"]

cores = st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 4.0])
units = st.sampled_from([0, 1, 2, 3, 4, 8])
ports = st.frozensets(st.sampled_from(PORTS), max_size=2)
selectors: st.SearchStrategy[dict[str, str]] = st.one_of(
    st.just({}), st.sampled_from(ZONES).map(lambda z: {"zone": z})
)


@st.composite
def node_views(draw: st.DrawFn, index: int) -> NodeView:
    capacity = Amounts(draw(cores), draw(units), draw(units))
    # Mostly within capacity, sometimes over it (a node whose capacity shrank).
    allocated = Amounts(draw(cores), draw(units), draw(units))
    metrics = None
    if draw(st.booleans()):
        total = draw(st.integers(1, 16))
        metrics = NodeMetrics(
            cpuPercent=draw(st.floats(0, 100)),
            memoryTotal=total,
            memoryAvailable=draw(st.integers(0, total)),
            diskTotal=10,
            diskAvailable=draw(st.integers(0, 10)),
            load1=0,
            load5=0,
            load15=0,
            timestamp=NOW,
        )
    return NodeView(
        name=f"n{index}",
        ready=draw(st.booleans()) or draw(st.booleans()),
        capacity=capacity,
        allocated=allocated,
        labels=draw(st.sampled_from([{}, *({"zone": z} for z in ZONES)])),
        host_ports=draw(ports),
        tasks=draw(st.integers(0, 5)),
        metrics=metrics,
    )


@st.composite
def clusters(draw: st.DrawFn) -> list[NodeView]:
    n = draw(st.integers(0, 9))
    return [draw(node_views(i)) for i in range(n)]


@st.composite
def batches(draw: st.DrawFn) -> list[TaskRequest]:
    n = draw(st.integers(1, 14))
    return [
        TaskRequest(
            namespace="default",
            name=f"t{i}",
            generation=1,
            request=Amounts(draw(cores), draw(units), draw(st.sampled_from([0, 0, 1, 2]))),
            host_ports=draw(ports),
            node_selector=draw(selectors),
        )
        for i in range(n)
    ]


@st.composite
def schedulers(draw: st.DrawFn) -> dict[str, object]:
    return {
        "policy": draw(st.sampled_from(POLICIES)),
        "seed": draw(st.integers(0, 2**32)),
        "sample_size": draw(st.integers(1, 4)),
        "full_scan_below": draw(st.sampled_from([0, 2, 5, 100])),
    }


def make(config: dict[str, object]) -> Scheduler:
    return Scheduler(
        str(config["policy"]),
        rng=random.Random(int(config["seed"])),  # type: ignore[call-overload]
        sample_size=int(config["sample_size"]),  # type: ignore[call-overload]
        full_scan_below=int(config["full_scan_below"]),  # type: ignore[call-overload]
    )


@dataclass
class Replayed:
    """A node as the replay sees it: the view plus the placements checked so far."""

    view: NodeView
    cpu: float
    memory: int
    disk: int
    ports: set[HostPort]
    asked: set[str] = field(default_factory=set)

    def why_not(self, task: TaskRequest) -> str | None:
        v, r = self.view, task.request
        if not v.ready:
            return "node not ready"
        if any(v.labels.get(k) != val for k, val in task.node_selector.items()):
            return "node selector mismatch"
        if self.ports & task.host_ports:
            return "host port"
        if r.cpu > 0 and self.cpu + r.cpu > v.capacity.cpu + SLACK:
            return "insufficient cpu"
        if r.memory > 0 and self.memory + r.memory > v.capacity.memory:
            return "insufficient memory"
        if r.disk > 0 and self.disk + r.disk > v.capacity.disk:
            return "insufficient disk"
        return None

    def take(self, task: TaskRequest) -> None:
        r = task.request
        self.cpu += r.cpu
        self.memory += r.memory
        self.disk += r.disk
        self.ports |= task.host_ports
        self.asked |= {
            name for name, x in (("cpu", r.cpu), ("memory", r.memory), ("disk", r.disk)) if x > 0
        }


def replay(
    nodes: list[NodeView], tasks: list[TaskRequest], results: list[PlacementResult]
) -> dict[str, Replayed]:
    state = {
        v.name: Replayed(
            v, v.allocated.cpu, v.allocated.memory, v.allocated.disk, set(v.host_ports)
        )
        for v in nodes
    }
    assert len(results) == len(tasks)
    for task, result in zip(tasks, results, strict=True):
        assert result.task is task
        assert result.placement.node == result.node
        assert result.placement.message == result.message
        if result.node is not None:
            node = state[result.node]
            assert node.why_not(task) is None, f"{task.key} placed on {result.node}"
            node.take(task)
        else:
            assert all(n.why_not(task) is not None for n in state.values()), (
                f"{task.key} left unplaced although some node could hold it: {result.message}"
            )
            check_unschedulable_counts(result, len(nodes))
    return state


def check_unschedulable_counts(result: PlacementResult, total: int) -> None:
    head, causes = result.message.split(": ", 1)
    assert head == f"0/{total} nodes"
    p = result.placement
    assert (p.nodesTotal, p.nodesFeasible, p.nodesScored) == (total, 0, 0)
    if total == 0:
        assert causes == "no nodes"
        return
    counts = [int(part.split(" ", 1)[0]) for part in causes.split(", ")]
    assert sum(counts) == total
    assert [r.count for r in p.rejected] == counts
    assert sum(r.count for r in p.rejected) == total


@settings(max_examples=300, deadline=None)
@given(clusters(), batches(), schedulers())
def test_placements_always_fit_and_nothing_fitting_is_left_out(
    nodes: list[NodeView], tasks: list[TaskRequest], config: dict[str, object]
) -> None:
    results = make(config).place(nodes, tasks, NOW)
    replay(nodes, tasks, results)


@settings(max_examples=200, deadline=None)
@given(clusters(), batches(), schedulers())
def test_a_pass_never_over_commits_a_node(
    nodes: list[NodeView], tasks: list[TaskRequest], config: dict[str, object]
) -> None:
    results = make(config).place(nodes, tasks, NOW)
    for node in replay(nodes, tasks, results).values():
        cap = node.view.capacity
        if "cpu" in node.asked:
            assert node.cpu <= cap.cpu + SLACK
        if "memory" in node.asked:
            assert node.memory <= cap.memory
        if "disk" in node.asked:
            assert node.disk <= cap.disk


@settings(max_examples=200, deadline=None)
@given(clusters(), batches(), schedulers())
def test_each_task_is_placed_at_most_once(
    nodes: list[NodeView], tasks: list[TaskRequest], config: dict[str, object]
) -> None:
    results = make(config).place(nodes, tasks, NOW)
    assert [r.task.key for r in results] == [t.key for t in tasks]
    assert len({r.task.key for r in results}) == len(tasks)
    placed = [r.task.key for r in results if r.node is not None]
    assert len(placed) == len(set(placed))


@settings(max_examples=150, deadline=None)
@given(clusters(), batches(), schedulers())
def test_the_same_seed_gives_the_same_plan(
    nodes: list[NodeView], tasks: list[TaskRequest], config: dict[str, object]
) -> None:
    first = make(config).place(nodes, tasks, NOW)
    again = make(config).place(nodes, tasks, NOW)
    assert [(r.node, r.message) for r in first] == [(r.node, r.message) for r in again]
    assert [r.placement for r in first] == [r.placement for r in again]


@settings(max_examples=100, deadline=None)
@given(clusters(), batches(), schedulers())
def test_the_inputs_are_left_as_they_were(
    nodes: list[NodeView], tasks: list[TaskRequest], config: dict[str, object]
) -> None:
    before = [(v.allocated, v.host_ports, v.tasks, dict(v.labels)) for v in nodes]
    make(config).place(nodes, tasks, NOW)
    assert [(v.allocated, v.host_ports, v.tasks, dict(v.labels)) for v in nodes] == before
