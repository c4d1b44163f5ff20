"""What an agent's report means for a task's state: the table of "The controller-agent
contract" in docs/ARCHITECTURE.md, as pure functions.

`observe(binding, report)` turns the report of the bound node into the state the task is in
and the status fields that come with it. `route(current, target)` says through which states a
task goes from the state its status records to the one observed: usually straight there, but a
restart the controller only saw the end of passes through Scheduled (Failed -> Scheduled ->
Running, as the contract requires), and a new generation of a Running task passes through
Pending (Running -> Pending -> Scheduled). Anything else the state machine forbids is refused
(None): the caller logs it, counts it and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from schemas.binding import Binding, ContainerPhase, TaskReport
from schemas.states import TaskState, can_transition
from schemas.task import PortBinding

__all__ = [
    "FAILED_WAITING_REASONS",
    "NEW_GENERATION_ROUTE",
    "ROUTES",
    "Observation",
    "observe",
    "route",
]

S = TaskState

FAILED_WAITING_REASONS = frozenset({"ImageNotFound", "StartFailed", "CreateFailed"})
"""Waiting reasons meaning the engine refused the container (the agent retries)."""


@dataclass(frozen=True, slots=True)
class Observation:
    """The task's state as the bound node's report shows it, with the status fields it sets."""

    state: TaskState
    reason: str | None = None
    message: str | None = None
    container_id: str | None = None
    host_ports: Sequence[PortBinding] = field(default_factory=tuple)
    start_time: datetime | None = None
    finish_time: datetime | None = None
    exit_code: int | None = None
    restart_count: int = 0
    terminal: bool = False
    """The container ended and its restart policy keeps it ended (report `Exited`): it no
    longer holds its node's resources."""


def _seen(
    report: TaskReport,
    state: TaskState,
    reason: str | None,
    message: str | None,
    *,
    terminal: bool = False,
    host_ports: Sequence[PortBinding] = (),
) -> Observation:
    return Observation(
        state,
        reason=reason,
        message=message,
        container_id=report.containerId,
        host_ports=tuple(host_ports),
        start_time=report.startTime,
        finish_time=report.finishTime,
        exit_code=report.exitCode,
        restart_count=report.restartCount,
        terminal=terminal,
    )


def observe(binding: Binding, report: TaskReport | None) -> Observation:
    """The contract's table: the state a task bound by `binding` is in, given `report`."""
    if report is None or report.generation != binding.generation:
        return Observation(S.Scheduled)  # no report yet, or one of an older generation
    if report.state is ContainerPhase.Running:
        unhealthy = report.healthy is False
        return _seen(
            report,
            S.Running,
            "Unhealthy" if unhealthy else None,
            "health check failing" if unhealthy else None,
            host_ports=report.hostPorts,
        )
    if report.state is ContainerPhase.Exited:
        if report.oomKilled:
            state, reason = S.Failed, "OOMKilled"
        elif report.exitCode == 0:
            state, reason = S.Completed, "Completed"
        else:
            state, reason = S.Failed, report.reason or "Error"
        return _seen(report, state, reason, report.message, terminal=True)
    # Waiting: not running now.
    if report.reason == "BackOff" and report.exitCode is not None:
        ok = report.exitCode == 0 and not report.oomKilled
        return _seen(report, S.Completed if ok else S.Failed, "BackOff", report.message)
    if report.reason in FAILED_WAITING_REASONS:
        return _seen(report, S.Failed, report.reason, report.message)
    # ContainerCreating, or a reason this controller does not know yet: not started.
    return Observation(S.Scheduled, restart_count=report.restartCount)


ROUTES: Mapping[tuple[TaskState, TaskState], tuple[TaskState, ...]] = MappingProxyType(
    {
        # A restart the controller saw only the end of: the agent restarted the container
        # (Failed/Completed -> Scheduled) and it is running, or already ended, again.
        (S.Failed, S.Running): (S.Scheduled, S.Running),
        (S.Completed, S.Running): (S.Scheduled, S.Running),
        (S.Failed, S.Completed): (S.Scheduled, S.Completed),
        (S.Completed, S.Failed): (S.Scheduled, S.Failed),
    }
)
"""Changes the state machine has no arrow for, and the states a task passed through."""

NEW_GENERATION_ROUTE = (S.Pending, S.Scheduled)
"""A new generation of a Running task, placed afresh on its node: Running -> Pending ->
Scheduled. Only for a new generation: a Running task whose report went away is an error."""


def route(
    current: TaskState | None, target: TaskState, *, new_generation: bool = False
) -> tuple[TaskState, ...] | None:
    """The states from `current` (excluded) to `target` (included); () when they are equal;
    None when the state machine does not allow it. A task without status yet starts anywhere
    (its first state is not a transition)."""
    if current is None:
        return (target,)
    if current == target:
        return ()
    if can_transition(current, target):
        return (target,)
    if new_generation and (current, target) == (S.Running, S.Scheduled):
        return NEW_GENERATION_ROUTE
    return ROUTES.get((current, target))
