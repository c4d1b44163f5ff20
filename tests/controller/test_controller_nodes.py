"""Node lifecycle through the controller, on a FakeClock: Ready while the agent's lease lives,
NotReady at once when it goes, its tasks placed elsewhere after the grace period (or Failed
under restartPolicy Never), and Ready again when the agent comes back."""

from __future__ import annotations

from collections import Counter

from controller.testing import Cluster
from core.clock import FakeClock
from schemas.spec import Resources, RestartPolicy
from schemas.states import TaskState

S = TaskState


def _clock(cluster: Cluster) -> FakeClock:
    assert isinstance(cluster.clock, FakeClock)
    return cluster.clock


def test_a_lost_nodes_tasks_are_placed_elsewhere_after_the_grace_period(
    fake_cluster: Cluster,
) -> None:
    c = fake_cluster
    clock = _clock(c)
    doomed = c.add_node("doomed", cpu=8)
    c.start_controller(node_grace=30.0)
    names = ["a", "b", "c"]
    for name in names:
        c.apply(name)
    c.apply("once", restartPolicy=RestartPolicy.Never)
    c.wait(lambda: all(c.state(n) is S.Running for n in [*names, "once"]), "all running")
    c.add_node("spare", cpu=8)
    c.wait(lambda: (s := c.node_status("spare")) is not None and s.ready, "spare ready")

    doomed.kill()
    c.wait(lambda: (s := c.node_status("doomed")) is not None and not s.ready, "NotReady")
    status = c.node_status("doomed")
    assert status is not None and status.reason == "NodeLost"
    lost_at = clock.now()
    # Within the grace period nothing moves, and the node gets no new task.
    c.apply("fresh")
    assert c.wait_state("fresh", S.Running).node == "spare"
    clock.advance(29)
    c.settle()
    assert all(c.node_of(n) == "doomed" for n in [*names, "once"])

    clock.advance(2)
    c.wait(lambda: all(c.node_of(n) == "spare" for n in names), "moved to spare")
    for name in names:
        moved = c.wait_state(name, S.Running)
        assert moved.node == "spare"
        assert ("Running", "Pending") in c.transitions(name)
        assert "NodeLost" in [e.reason for e in c.events(name)]
    failed = c.wait_state("once", S.Failed)
    assert failed.reason == "NodeLost"
    assert c.bindings("once") == {}
    assert (clock.now() - lost_at).total_seconds() >= 30


def test_a_node_that_comes_back_is_ready_and_keeps_no_moved_task(fake_cluster: Cluster) -> None:
    c = fake_cluster
    clock = _clock(c)
    first = c.add_node("first")
    c.start_controller(node_grace=10.0)
    c.apply("web")
    c.wait_state("web", S.Running)
    c.add_node("second")

    first.kill()
    c.wait(lambda: (s := c.node_status("first")) is not None and not s.ready, "NotReady")
    clock.advance(11)
    c.wait(lambda: c.node_of("web") == "second", "moved")
    first.start()  # the agent is back: it registers again
    c.wait(lambda: (s := c.node_status("first")) is not None and s.ready, "Ready again")
    c.settle()
    assert c.node_of("web") == "second"
    assert first.bindings == {}  # so the agent removes its stale container


def test_a_node_back_within_the_grace_period_keeps_its_tasks(fake_cluster: Cluster) -> None:
    c = fake_cluster
    clock = _clock(c)
    agent = c.add_node("n1")
    c.add_node("n2", cpu=0.01)  # too small for the task: nowhere else to go anyway
    c.start_controller(node_grace=30.0)
    c.apply("web", resources=Resources(cpu=1))
    c.wait_state("web", S.Running)
    agent.kill()
    c.wait(lambda: (s := c.node_status("n1")) is not None and not s.ready, "NotReady")
    clock.advance(20)
    agent.start()
    c.wait(lambda: (s := c.node_status("n1")) is not None and s.ready, "Ready again")
    clock.advance(20)
    c.settle()
    assert c.node_of("web") == "n1"
    assert c.state("web") is S.Running


def test_a_lost_nodes_tasks_stay_pending_when_no_other_node_fits(fake_cluster: Cluster) -> None:
    c = fake_cluster
    clock = _clock(c)
    agent = c.add_node("n1", cpu=4)
    c.add_node("n2", cpu=1)
    c.start_controller(node_grace=5.0)
    c.apply("big", resources=Resources(cpu=2), nodeSelector={})
    c.wait(lambda: c.node_of("big") == "n1", "on n1")
    agent.kill()
    c.wait(lambda: (s := c.node_status("n1")) is not None and not s.ready, "NotReady")
    clock.advance(6)
    pending = c.wait_state("big", S.Pending)
    c.wait(lambda: (s := c.status("big")) is not None and s.reason == "Unschedulable", "why")
    status = c.status("big")
    assert status is not None
    assert status.message == "0/2 nodes: 1 insufficient cpu, 1 node not ready"
    assert pending.node is None and c.bindings("big") == {}


def test_node_status_tracks_allocations_and_is_removed_once_a_gone_node_is_empty(
    fake_cluster: Cluster,
) -> None:
    c = fake_cluster
    clock = _clock(c)
    agent = c.add_node("n1", cpu=4)
    c.add_node("n2", cpu=4)
    c.start_controller(node_grace=5.0, node_status_delay=1.0)
    for name in ("a", "b"):
        c.apply(name, resources=Resources(cpu=1), nodeSelector={})
    c.wait(lambda: all(c.state(n) is S.Running for n in "ab"), "running")
    clock.advance(1.5)
    c.wait(lambda: _allocated(c, "n1") + _allocated(c, "n2") == 2.0, "2 cores allocated in all")
    where = Counter(c.node_of(n) for n in "ab")
    assert where == {"n1": 1, "n2": 1}  # spread

    agent.kill()
    c.wait(lambda: (s := c.node_status("n1")) is not None and not s.ready, "NotReady")
    clock.advance(6)
    c.wait(lambda: all(c.node_of(n) == "n2" for n in "ab"), "both on n2")
    clock.advance(6)  # n1 gone for longer than the grace, with nothing bound: forgotten
    c.wait(lambda: c.node_status("n1") is None, "n1's status removed")
    clock.advance(1.5)
    c.wait(lambda: (s := c.node_status("n2")) is not None and s.allocated.cpu == 2.0, "n2 holds 2")


def _allocated(c: Cluster, node: str) -> float:
    status = c.node_status(node)
    return status.allocated.cpu if status is not None else 0.0


def test_a_node_that_left_before_it_was_ever_ready_is_not_counted(cluster: Cluster) -> None:
    ghost = cluster.add_node("ghost")
    ghost.kill()  # gone before any controller saw it
    cluster.add_node("n1", cpu=1)
    cluster.start_controller()
    cluster.apply("big", resources=Resources(cpu=2))
    status = cluster.wait_state("big", S.Pending)
    assert status.message == "0/1 nodes: 1 insufficient cpu"
