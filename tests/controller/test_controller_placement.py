"""Placement through the controller: nodes receive what their capacity allows, the rest stay
Pending with the scheduler's reasons and are placed when room appears; passes are batched."""

from __future__ import annotations

from collections import Counter

import pytest

from controller.testing import GI, Cluster
from core.clock import FakeClock
from schemas.spec import PortSpec, Resources
from schemas.states import TaskState

S = TaskState


def test_three_nodes_receive_what_their_capacities_allow_and_the_rest_stay_pending(
    cluster: Cluster,
) -> None:
    cluster.add_node("small", cpu=1, memory=8 * GI)
    cluster.add_node("medium", cpu=2, memory=8 * GI)
    cluster.add_node("large", cpu=4, memory=8 * GI)
    cluster.start_controller()
    names = [f"t{i}" for i in range(10)]
    for name in names:
        cluster.apply(name, resources=Resources(cpu=1, memory=GI))

    cluster.wait(
        lambda: (
            all(cluster.state(n) in (S.Running, S.Pending) for n in names)
            and sum(cluster.state(n) is S.Running for n in names) == 7
        ),
        "7 running and 3 pending",
    )
    cluster.settle()
    placed = Counter(cluster.node_of(n) for n in names)
    assert placed == {"small": 1, "medium": 2, "large": 4, None: 3}
    pending = [cluster.status(n) for n in names if cluster.state(n) is S.Pending]
    for status in pending:
        assert status is not None
        assert (status.reason, status.message) == ("Unschedulable", "0/3 nodes: 3 insufficient cpu")
    for node, cpu in (("small", 1.0), ("medium", 2.0), ("large", 4.0)):
        cluster.wait(
            lambda node=node, cpu=cpu: (
                (s := cluster.node_status(node)) is not None and s.allocated.cpu == cpu
            ),
            f"{node} allocated {cpu} cpu",
        )


def test_the_reason_counts_nodes_by_cause(cluster: Cluster) -> None:
    cluster.add_node("a", cpu=1, memory=8 * GI)
    cluster.add_node("b", cpu=8, memory=GI)
    cluster.add_node("c", cpu=8, memory=8 * GI)
    cluster.start_controller()
    cluster.apply("web", ports=[PortSpec(containerPort=80, hostPort=8080)])
    assert cluster.wait_state("web", S.Running).node == "c"  # the only one with 2 GiB free
    cluster.apply("big", resources=Resources(cpu=2, memory=2 * GI))
    cluster.apply(
        "twin",
        ports=[PortSpec(containerPort=80, hostPort=8080)],
        resources=Resources(cpu=2, memory=2 * GI),
    )
    big = cluster.wait_state("big", S.Running)
    assert big.node == "c"
    twin = cluster.wait_state("twin", S.Pending)
    assert twin.message == (
        "0/3 nodes: 1 host port 8080 in use, 1 insufficient cpu, 1 insufficient memory"
    )
    placement = cluster.placement("twin")
    assert placement is not None and placement.node is None
    assert {(r.reason, r.count) for r in placement.rejected} == {
        ("host port 8080 in use", 1),
        ("insufficient cpu", 1),
        ("insufficient memory", 1),
    }


def test_an_unschedulable_task_is_placed_when_room_is_freed(cluster: Cluster) -> None:
    cluster.add_node("n1", cpu=1)
    controller = cluster.start_controller()
    cluster.apply("first", resources=Resources(cpu=1))
    cluster.wait_state("first", S.Running)
    cluster.apply("second", resources=Resources(cpu=1))
    cluster.wait_state("second", S.Pending)
    session = controller.session
    assert session is not None
    assert session.placer.unschedulable() == {"default/second"}

    cluster.delete("first")
    assert cluster.wait_state("second", S.Running).node == "n1"
    assert session.placer.unschedulable() == set()


def test_an_unschedulable_task_is_not_retried_in_a_loop(fake_cluster: Cluster) -> None:
    fake_cluster.add_node("n1", cpu=1)
    controller = fake_cluster.start_controller(unschedulable_retry=60.0)
    fake_cluster.apply("huge", resources=Resources(cpu=64))
    fake_cluster.wait_state("huge", S.Pending)
    fake_cluster.settle()
    session = controller.session
    assert session is not None
    passes = session.placer.passes
    clock = fake_cluster.clock
    assert isinstance(clock, FakeClock)
    # Nothing changed in the cluster: the next try is the slow timer's, a minute on.
    due = session.placer._next_retry()
    assert due is not None and due - clock.monotonic() == pytest.approx(60.0)
    events = len(fake_cluster.events("huge"))
    clock.advance(61)
    fake_cluster.wait(lambda: session.placer.passes > passes, "the slow retry")
    fake_cluster.settle()
    # The outcome did not change: no new placement record, no new event key.
    assert len(fake_cluster.events("huge")) == events


def test_a_new_node_gets_the_pending_tasks(cluster: Cluster) -> None:
    cluster.add_node("n1", cpu=1)
    cluster.start_controller()
    for name in ("a", "b", "c"):
        cluster.apply(name, resources=Resources(cpu=1))
    cluster.wait(lambda: sum(cluster.state(n) is S.Pending for n in "abc") == 2, "2 pending")
    cluster.add_node("n2", cpu=2)
    cluster.wait(lambda: all(cluster.state(n) is S.Running for n in "abc"), "all running")
    assert Counter(cluster.node_of(n) for n in "abc") == {"n1": 1, "n2": 2}


def test_many_tasks_are_placed_in_few_passes_and_written_in_batches(cluster: Cluster) -> None:
    for i in range(4):
        cluster.add_node(f"n{i}", cpu=64, memory=64 * GI, auto=False)
    names = [f"t{i:03d}" for i in range(300)]
    for name in names:
        cluster.apply(name)
    before = cluster.store.current_revision()
    controller = cluster.start_controller()
    cluster.wait(lambda: all(cluster.state(n) is S.Scheduled for n in names), "all 300 scheduled")
    cluster.settle()
    session = controller.session
    assert session is not None
    assert session.placer.passes <= 3
    assert sum(len(cluster.bindings(n)) for n in names) == 300
    # 300 bindings, 300 statuses, 300 events, 300 placement records, the leader key and a
    # few node statuses: in transactions of up to 128 writes, not one each.
    written = cluster.store.current_revision() - before
    assert written < 40, f"{written} transactions"
    spread = Counter(cluster.node_of(n) for n in names)
    assert max(spread.values()) - min(spread.values()) <= 2
