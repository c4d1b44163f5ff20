"""The controller-agent contract's table (report -> task state) and the routes through the
state machine: every row of docs/ARCHITECTURE.md's table, and what stays forbidden."""

from __future__ import annotations

from typing import Any

import pytest

from controller.observing import ROUTES, observe, route
from schemas.binding import Binding, ContainerPhase, TaskReport
from schemas.spec import TaskSpec
from schemas.states import ALLOWED, TaskState

S = TaskState
BINDING = Binding(
    namespace="default",
    name="web",
    node="n1",
    uid="u",
    generation=2,
    spec=TaskSpec(image="busybox"),
    epoch=7,
)


def report(state: ContainerPhase, **fields: Any) -> TaskReport:
    fields.setdefault("generation", 2)
    return TaskReport(state=state, **fields)


W, R, E = ContainerPhase.Waiting, ContainerPhase.Running, ContainerPhase.Exited


@pytest.mark.parametrize(
    ("the_report", "state", "reason", "terminal"),
    [
        (None, S.Scheduled, None, False),
        (report(W, reason="ContainerCreating"), S.Scheduled, None, False),
        (report(R, generation=1, containerId="old"), S.Scheduled, None, False),
        (report(R, containerId="c1"), S.Running, None, False),
        (report(R, containerId="c1", healthy=False), S.Running, "Unhealthy", False),
        (report(W, reason="BackOff", exitCode=0), S.Completed, "BackOff", False),
        (report(E, reason="Completed", exitCode=0), S.Completed, "Completed", True),
        (report(W, reason="BackOff", exitCode=2), S.Failed, "BackOff", False),
        (report(E, reason="Error", exitCode=2), S.Failed, "Error", True),
        (report(E, reason="OOMKilled", exitCode=137, oomKilled=True), S.Failed, "OOMKilled", True),
        (
            report(W, reason="ImageNotFound", message="no such image"),
            S.Failed,
            "ImageNotFound",
            False,
        ),
        (report(W, reason="StartFailed"), S.Failed, "StartFailed", False),
        (report(W, reason="CreateFailed"), S.Failed, "CreateFailed", False),
        (report(W, reason="SomethingNew"), S.Scheduled, None, False),
    ],
)
def test_a_report_maps_to_the_contracts_state(
    the_report: TaskReport | None, state: TaskState, reason: str | None, terminal: bool
) -> None:
    seen = observe(BINDING, the_report)
    assert (seen.state, seen.reason, seen.terminal) == (state, reason, terminal)


def test_the_status_fields_come_from_the_report() -> None:
    seen = observe(
        BINDING,
        report(
            R,
            containerId="c1",
            restartCount=3,
            hostPorts=[{"containerPort": 80, "hostPort": 8080}],
        ),
    )
    assert (seen.container_id, seen.restart_count) == ("c1", 3)
    assert [(p.containerPort, p.hostPort) for p in seen.host_ports] == [(80, 8080)]
    failed = observe(BINDING, report(W, reason="ImageNotFound", message="no such image"))
    assert failed.message == "no such image"


def test_allowed_transitions_go_straight_there() -> None:
    for current, targets in ALLOWED.items():
        for target in targets:
            assert route(current, target) == (target,)
        assert route(current, current) == ()


def test_a_restart_seen_late_passes_through_scheduled() -> None:
    assert route(S.Failed, S.Running) == (S.Scheduled, S.Running)
    assert route(S.Completed, S.Running) == (S.Scheduled, S.Running)
    assert route(S.Failed, S.Completed) == (S.Scheduled, S.Completed)
    assert route(S.Completed, S.Failed) == (S.Scheduled, S.Failed)
    for path in ROUTES.values():  # every route is made of allowed steps
        assert path[0] is S.Scheduled


def test_a_new_generation_of_a_running_task_passes_through_pending() -> None:
    assert route(S.Running, S.Scheduled, new_generation=True) == (S.Pending, S.Scheduled)
    assert route(S.Running, S.Scheduled) is None


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.Pending, S.Running), (S.Pending, S.Failed), (S.Running, S.Scheduled)],
)
def test_other_changes_stay_forbidden(current: TaskState, target: TaskState) -> None:
    assert route(current, target) is None


def test_a_first_status_may_be_any_state() -> None:
    for state in S:
        assert route(None, state) == (state,)
