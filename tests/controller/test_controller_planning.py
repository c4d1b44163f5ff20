"""`plan_task`, the pure decision for one task, case by case: deleted, stopped, recreated,
its node lost, a new generation, a report, nothing bound; and the state machine's check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from controller.cluster import NodeHealth
from controller.planning import Fit, TaskInputs, placed, plan_task, unplaced
from schemas.binding import Binding, ContainerPhase, TaskReport
from schemas.spec import DesiredState, RestartPolicy, TaskSpec
from schemas.states import TaskState
from schemas.task import Task, TaskStatus, new_task

S = TaskState
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
READY = NodeHealth(True)


def task(generation: int = 1, uid: str = "u1", **spec: Any) -> Task:
    t = new_task("web", TaskSpec(image="busybox", **spec))
    meta = t.metadata.model_copy(update={"uid": uid, "generation": generation})
    return t.model_copy(update={"metadata": meta})


def binding(node: str = "n1", generation: int = 1, uid: str = "u1", **spec: Any) -> Binding:
    return Binding(
        namespace="default",
        name="web",
        node=node,
        uid=uid,
        generation=generation,
        spec=TaskSpec(image="busybox", **spec),
        epoch=3,
    )


def running(generation: int = 1) -> TaskReport:
    return TaskReport(state=ContainerPhase.Running, containerId="c1", generation=generation)


def inputs(
    the_task: Task | None,
    status: TaskStatus | None = None,
    bindings: dict[str, Binding] | None = None,
    reports: dict[str, TaskReport] | None = None,
    health: dict[str, NodeHealth] | None = None,
    fit: Fit | None = None,
) -> TaskInputs:
    nodes = {**(bindings or {}), **(reports or {})}
    return TaskInputs(
        key="default/web",
        task=the_task,
        status=status,
        bindings=bindings or {},
        reports=reports or {},
        health={n: READY for n in nodes} | (health or {}),
        now=NOW,
        grace=30.0,
        fit=fit,
    )


def lost(seconds: float) -> NodeHealth:
    return NodeHealth(False, NOW - timedelta(seconds=seconds))


RUNNING = TaskStatus(state=S.Running, node="n1", containerId="c1", observedGeneration=1)


# -- a deleted task ---------------------------------------------------------------------


def test_a_deleted_task_loses_its_binding_first() -> None:
    plan = plan_task(inputs(None, RUNNING, {"n1": binding()}, {"n1": running()}), epoch=5)
    assert plan.delete_bindings == ("n1",)
    assert plan.status is None and not plan.delete_status


def test_a_deleted_tasks_status_waits_for_the_agent_to_remove_its_report() -> None:
    plan = plan_task(inputs(None, RUNNING, reports={"n1": running()}), epoch=5)
    assert not plan.writes and not plan.gone
    plan = plan_task(
        inputs(None, RUNNING, reports={"n1": running()}, health={"n1": lost(10)}), epoch=5
    )
    assert not plan.writes and plan.again == 20.0


def test_a_deleted_tasks_status_goes_once_no_live_agent_reports_it() -> None:
    plan = plan_task(inputs(None, RUNNING), epoch=5)
    assert plan.delete_status and plan.delete_placement and plan.gone
    gone_node = plan_task(
        inputs(None, RUNNING, reports={"n1": running()}, health={"n1": lost(31)}), epoch=5
    )
    assert gone_node.delete_status


# -- stopping ---------------------------------------------------------------------------


def test_stopping_removes_the_binding_then_completes_once_the_report_is_gone() -> None:
    stopped = task(2, desiredState=DesiredState.Stopped)
    plan = plan_task(inputs(stopped, RUNNING, {"n1": binding()}, {"n1": running()}), epoch=5)
    assert plan.delete_bindings == ("n1",) and plan.status is None
    plan = plan_task(inputs(stopped, RUNNING, reports={"n1": running()}), epoch=5)
    assert not plan.writes
    plan = plan_task(inputs(stopped, RUNNING), epoch=5)
    assert plan.status is not None
    assert (plan.status.state, plan.status.reason, plan.status.observedGeneration) == (
        S.Completed,
        "Stopped",
        2,
    )
    assert [(e.reason, e.old, e.new) for e in plan.events] == [("Stopped", S.Running, S.Completed)]


def test_a_failed_task_stopped_stays_failed() -> None:
    failed = TaskStatus(state=S.Failed, reason="Error", exitCode=1)
    plan = plan_task(inputs(task(2, desiredState=DesiredState.Stopped), failed), epoch=5)
    assert plan.status is not None and plan.status.state is S.Failed
    assert plan.forbidden is None and plan.events == ()


# -- recreated, unbound ---------------------------------------------------------------------


def test_a_binding_of_an_earlier_task_of_that_name_is_removed_and_the_task_starts_afresh() -> None:
    plan = plan_task(inputs(task(uid="new"), RUNNING, {"n1": binding(uid="old")}), epoch=5)
    assert plan.delete_bindings == ("n1",) and plan.place
    assert plan.status is not None and plan.status.state is S.Pending
    assert plan.status.reason == "Recreated"


def test_an_unbound_task_is_placed_unless_it_ended_for_good() -> None:
    assert plan_task(inputs(task()), epoch=5).place
    done = TaskStatus(state=S.Completed, reason="Completed", observedGeneration=1)
    assert not plan_task(inputs(task(), done), epoch=5).place
    assert plan_task(inputs(task(2), done), epoch=5).place  # a new generation runs again
    stopped = TaskStatus(state=S.Completed, reason="Stopped", observedGeneration=1)
    assert plan_task(inputs(task(), stopped), epoch=5).place  # started again
    failed = TaskStatus(state=S.Failed, reason="NodeLost", observedGeneration=1)
    assert not plan_task(inputs(task(restartPolicy=RestartPolicy.Never), failed), epoch=5).place
    assert plan_task(inputs(task(), failed), epoch=5).place


def test_a_running_task_whose_binding_vanished_goes_pending_to_be_placed_again() -> None:
    plan = plan_task(inputs(task(), RUNNING), epoch=5)
    assert plan.place and plan.status is not None
    assert (plan.status.state, plan.status.reason) == (S.Pending, "Rescheduling")


# -- a lost node ------------------------------------------------------------------------


def test_within_the_grace_period_a_lost_nodes_task_waits() -> None:
    plan = plan_task(
        inputs(task(), RUNNING, {"n1": binding()}, {"n1": running()}, {"n1": lost(12)}), epoch=5
    )
    assert not plan.writes and not plan.place and plan.again == 18.0


def test_after_the_grace_period_the_task_is_placed_elsewhere() -> None:
    plan = plan_task(
        inputs(task(), RUNNING, {"n1": binding()}, {"n1": running()}, {"n1": lost(31)}), epoch=5
    )
    assert plan.delete_bindings == ("n1",) and plan.place
    assert plan.status is not None
    assert (plan.status.state, plan.status.reason, plan.status.node) == (
        S.Pending,
        "NodeLost",
        None,
    )
    assert [(e.reason, e.old, e.new) for e in plan.events] == [("NodeLost", S.Running, S.Pending)]


def test_after_the_grace_period_a_never_restarted_task_fails() -> None:
    plan = plan_task(
        inputs(
            task(restartPolicy=RestartPolicy.Never),
            RUNNING,
            {"n1": binding()},
            {"n1": running()},
            {"n1": lost(31)},
        ),
        epoch=5,
    )
    assert plan.delete_bindings == ("n1",) and not plan.place
    assert plan.status is not None
    assert (plan.status.state, plan.status.reason) == (S.Failed, "NodeLost")


def test_a_task_that_had_ended_for_good_is_not_moved_off_a_lost_node() -> None:
    exited = TaskReport(state=ContainerPhase.Exited, exitCode=0, reason="Completed", generation=1)
    done = TaskStatus(state=S.Completed, node="n1", observedGeneration=1)
    plan = plan_task(inputs(task(), done, {"n1": binding()}, {"n1": exited}, {"n1": lost(99)}), 5)
    assert not plan.writes and not plan.place


# -- a new generation -------------------------------------------------------------------


def test_a_new_generation_that_fits_updates_the_binding_in_place() -> None:
    plan = plan_task(
        inputs(
            task(2, command=["new"]),
            RUNNING,
            {"n1": binding()},
            {"n1": running()},
            fit=Fit("n1", True),
        ),
        epoch=9,
    )
    assert plan.put_binding is not None
    assert (plan.put_binding.node, plan.put_binding.generation, plan.put_binding.epoch) == (
        "n1",
        2,
        9,
    )
    assert plan.put_binding.spec.command == ["new"]
    assert plan.status is not None and plan.status.state is S.Scheduled
    assert [(e.old, e.new) for e in plan.events] == [
        (S.Running, S.Pending),
        (S.Pending, S.Scheduled),
    ]
    assert not plan.delete_bindings and not plan.place


def test_a_new_generation_that_does_not_fit_is_placed_again() -> None:
    plan = plan_task(
        inputs(
            task(2),
            RUNNING,
            {"n1": binding()},
            {"n1": running()},
            fit=Fit("n1", False, "0/1 nodes: 1 insufficient memory"),
        ),
        epoch=9,
    )
    assert plan.delete_bindings == ("n1",) and plan.place
    assert plan.status is not None and plan.status.state is S.Pending
    assert plan.status.message is not None and "insufficient memory" in plan.status.message


# -- reports and the state machine ------------------------------------------------------


def test_a_report_moves_the_task_along() -> None:
    scheduled = TaskStatus(state=S.Scheduled, node="n1", reason="Scheduled", message="placed")
    plan = plan_task(inputs(task(), scheduled, {"n1": binding()}, {"n1": running()}), epoch=5)
    assert plan.status is not None
    assert (plan.status.state, plan.status.containerId) == (S.Running, "c1")
    same = plan_task(inputs(task(), plan.status, {"n1": binding()}, {"n1": running()}), epoch=5)
    assert same.status is None and same.events == ()  # nothing new: nothing written


def test_a_restart_seen_only_by_its_count_passes_through_failed_and_scheduled() -> None:
    again = TaskReport(state=ContainerPhase.Running, containerId="c2", restartCount=1, generation=1)
    plan = plan_task(inputs(task(), RUNNING, {"n1": binding()}, {"n1": again}), epoch=5)
    assert plan.status is not None and plan.status.restartCount == 1
    assert [(e.old, e.new) for e in plan.events] == [
        (S.Running, S.Failed),
        (S.Failed, S.Scheduled),
        (S.Scheduled, S.Running),
    ]


def test_a_change_the_state_machine_forbids_is_refused_and_nothing_is_written() -> None:
    pending = TaskStatus(state=S.Pending, reason="Unschedulable")
    plan = plan_task(inputs(task(), pending, {"n1": binding()}, {"n1": running()}), epoch=5)
    assert plan.forbidden == (S.Pending, S.Running)
    assert plan.status is None and plan.events == ()


def test_a_second_binding_someone_wrote_is_removed() -> None:
    status = RUNNING
    plan = plan_task(
        inputs(task(), status, {"n1": binding(), "n2": binding("n2")}, {"n1": running()}), epoch=5
    )
    assert plan.delete_bindings == ("n2",)


# -- the scheduling pass's outcome ------------------------------------------------------


def test_a_placed_task_gets_its_binding_and_a_scheduled_status() -> None:
    b, status, events, forbidden = placed(task(3), None, "n2", "placed on n2 (score 1.00)", 11)
    assert (b.node, b.generation, b.uid, b.epoch) == ("n2", 3, "u1", 11)
    assert status is not None and (status.state, status.node) == (S.Scheduled, "n2")
    assert status.message == "placed on n2 (score 1.00)"
    assert [(e.reason, e.old, e.new) for e in events] == [("Scheduled", S.Pending, S.Scheduled)]
    assert forbidden is None
    _, _, _, refused = placed(task(), RUNNING, "n2", "placed", 11)
    assert refused == (S.Running, S.Scheduled)


def test_an_unplaced_task_is_pending_and_an_unchanged_outcome_records_nothing_new() -> None:
    status, events, _ = unplaced(task(), None, "0/1 nodes: 1 insufficient cpu", changed=True)
    assert status is not None and (status.state, status.reason) == (S.Pending, "Unschedulable")
    assert [(e.old, e.new) for e in events] == [(None, S.Pending)]
    again, events, _ = unplaced(task(), status, "0/1 nodes: 1 insufficient cpu", changed=False)
    assert again is None and events == ()
    other, events, _ = unplaced(task(), status, "0/2 nodes: 2 insufficient cpu", changed=True)
    assert other is not None and [e.reason for e in events] == ["Unschedulable"]
