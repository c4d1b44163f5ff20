"""What to do about one task: a pure function from what the caches say to a `TaskPlan`.

`plan_task(inputs, epoch)` looks at the desired task, its status, its bindings, the agents'
reports and the health of the nodes involved, and decides: which bindings to write or delete,
the status to write (checked against the state machine, through `controller.observing.route`),
the events to record, and whether the task must be placed by the scheduler. It does no I/O;
`controller.tasks.TaskReconciler` carries the plan out. `placed` and `unplaced` do the same for
the outcome of a scheduling pass.

The cases, in the order they are decided:

- the task is gone: remove its bindings; once no live agent reports it any more (the agent
  deletes its report after stopping the container), remove its status and placement record;
- it should be stopped: remove its bindings; once its report is gone it is Completed with
  reason Stopped (a Failed task stays Failed: the state machine has no Failed -> Completed);
- a binding left from an earlier task of the same name (another uid) is removed, and the task
  starts afresh as Pending;
- its node has been NotReady for the grace period: the binding is removed and the task placed
  elsewhere (Pending, reason NodeLost), or under restartPolicy Never marked Failed (NodeLost);
- a new generation: if it still fits on its node the binding is updated there (the agent
  replaces the container), else the binding is removed and the task placed again;
- otherwise the bound node's report gives the state (`controller.observing.observe`);
- without a binding, a task that should run and has not ended for good is placed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from controller.cluster import NodeHealth
from controller.observing import Observation, observe, route
from schemas.binding import Binding, TaskReport
from schemas.spec import DesiredState, RestartPolicy
from schemas.states import TaskState
from schemas.task import Task, TaskStatus

__all__ = ["Fit", "PlannedEvent", "TaskInputs", "TaskPlan", "placed", "plan_task", "unplaced"]

S = TaskState


@dataclass(frozen=True, slots=True)
class Fit:
    """Whether a new generation of a task fits on the node it is bound to."""

    node: str
    fits: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class TaskInputs:
    key: str
    task: Task | None
    status: TaskStatus | None
    bindings: Mapping[str, Binding]
    """node -> binding (normally at most one)."""
    reports: Mapping[str, TaskReport]
    """node -> the agent's report."""
    health: Mapping[str, NodeHealth]
    """Every node in `bindings` and `reports`."""
    now: datetime
    grace: float
    fit: Fit | None = None
    """For a binding of an older generation: whether the new one fits on its node."""


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    reason: str
    message: str
    old: TaskState | None = None
    new: TaskState | None = None
    warning: bool = False


@dataclass(frozen=True)
class TaskPlan:
    put_binding: Binding | None = None
    delete_bindings: tuple[str, ...] = ()
    status: TaskStatus | None = None
    """The status to write (None: leave it)."""
    delete_status: bool = False
    delete_placement: bool = False
    events: tuple[PlannedEvent, ...] = ()
    forbidden: tuple[TaskState, TaskState] | None = None
    """A state change the state machine refuses: logged and counted, nothing written."""
    place: bool = False
    """The task needs a node: hand it to the scheduling pass."""
    gone: bool = False
    """The task and everything of it is gone: forget it."""
    again: float | None = None
    """Look again in this many seconds (a node's grace period running)."""

    @property
    def writes(self) -> bool:
        return bool(self.put_binding or self.delete_bindings or self.status or self.delete_status)


_NOTHING = TaskPlan()


def _change(
    current: TaskStatus | None,
    target: TaskStatus,
    steps: Mapping[TaskState, tuple[str, str, bool]],
    *,
    new_generation: bool = False,
    path: tuple[TaskState, ...] | None = None,
) -> tuple[TaskStatus | None, tuple[PlannedEvent, ...], tuple[TaskState, TaskState] | None]:
    """The status to write to go from `current` to `target`, with one event per state passed
    through (`steps`: state -> (reason, message, warning); missing ones get generic words).
    `path` names the states passed through when the caller knows them."""
    old = current.state if current is not None else None
    if path is None:
        path = route(old, target.state, new_generation=new_generation)
    if path is None:
        assert old is not None
        return None, (), (old, target.state)
    events = []
    previous = old
    for state in path:
        reason, message, warning = steps.get(state, (_GENERIC[state], "", False))
        # A first status other than Pending comes from the implicit Pending of a new task.
        was = previous if previous is not None else (None if state is S.Pending else S.Pending)
        events.append(PlannedEvent(reason, message, was, state, warning))
        previous = state
    if current is not None and current == target:
        return None, tuple(events), None
    return target, tuple(events), None


_GENERIC = {
    S.Pending: "Pending",
    S.Scheduled: "Scheduled",
    S.Running: "Started",
    S.Completed: "Completed",
    S.Failed: "Failed",
}


def _uid(task: Task) -> str:
    return task.metadata.uid or ""


def _generation(task: Task) -> int:
    return task.metadata.generation or 1


def _live_reports(i: TaskInputs, exclude: set[str] | None = None) -> tuple[list[str], float | None]:
    """Nodes whose agent still reports the task and may still act on it (not lost for the
    grace period), and when to look again if one of them is NotReady within its grace."""
    live = []
    again: float | None = None
    for node in i.reports:
        if exclude and node in exclude:
            continue
        health = i.health.get(node, NodeHealth(False))
        lost_for = health.lost_for(i.now)
        if health.ready or lost_for < i.grace:
            live.append(node)
            if not health.ready:
                left = i.grace - lost_for
                again = left if again is None else min(again, left)
    return live, again


def plan_task(i: TaskInputs, epoch: int) -> TaskPlan:
    task = i.task
    if task is None:
        return _plan_deleted(i)
    if task.spec.desiredState is DesiredState.Stopped:
        return _plan_stopped(i, task)
    stale = tuple(sorted(n for n, b in i.bindings.items() if b.uid != _uid(task)))
    if stale:
        return _plan_recreated(i, task, stale)
    if not i.bindings:
        return _plan_unbound(i, task)
    node = _bound_node(i)
    extra = tuple(sorted(n for n in i.bindings if n != node))
    binding = i.bindings[node]
    health = i.health.get(node, NodeHealth(False))
    again: float | None = None
    if not health.ready:
        lost_for = health.lost_for(i.now)
        if lost_for >= i.grace:
            return _plan_node_lost(i, task, node, binding, lost_for, extra)
        again = i.grace - lost_for
    if binding.generation != _generation(task):
        plan = _plan_new_generation(i, task, node, binding, epoch)
    else:
        plan = _plan_observed(i, task, node, binding)
    return replace(plan, delete_bindings=plan.delete_bindings + extra, again=again)


def _bound_node(i: TaskInputs) -> str:
    """The binding to keep when there are several (someone else wrote one): the status's."""
    node = i.status.node if i.status is not None else None
    if node is not None and node in i.bindings:
        return node
    return sorted(i.bindings)[0]


def _plan_deleted(i: TaskInputs) -> TaskPlan:
    if i.bindings:
        return TaskPlan(delete_bindings=tuple(sorted(i.bindings)))
    live, again = _live_reports(i)
    if live:
        return TaskPlan(again=again)  # the agent is stopping it; its report's removal wakes us
    if i.status is None:
        return TaskPlan(gone=True)
    return TaskPlan(delete_status=True, delete_placement=True, gone=True)


def _plan_stopped(i: TaskInputs, task: Task) -> TaskPlan:
    if i.bindings:
        return TaskPlan(delete_bindings=tuple(sorted(i.bindings)))
    live, again = _live_reports(i)
    if live:
        return TaskPlan(again=again)
    current = i.status
    if current is not None and current.state is S.Failed:
        target = current.model_copy(update={"message": "stopped after it failed"})
        return TaskPlan(status=target if target != current else None)
    base = current or TaskStatus()
    target = base.model_copy(
        update={
            "state": S.Completed,
            "node": None,
            "containerId": None,
            "hostPorts": [],
            "reason": "Stopped",
            "message": "stopped",
            "observedGeneration": _generation(task),
        }
    )
    status, events, forbidden = _change(
        current, target, {S.Completed: ("Stopped", "stopped", False)}
    )
    return TaskPlan(status=status, events=events, forbidden=forbidden)


def _plan_recreated(i: TaskInputs, task: Task, stale: tuple[str, ...]) -> TaskPlan:
    current = i.status
    if current is None or current.state is S.Pending:
        return TaskPlan(delete_bindings=stale, place=True)
    target = TaskStatus(
        reason="Recreated",
        message="a task of this name was deleted and created again",
        observedGeneration=_generation(task),
    )
    status, events, forbidden = _change(
        current, target, {S.Pending: ("Recreated", target.message or "", False)}
    )
    return TaskPlan(
        delete_bindings=stale,
        status=status,
        events=events,
        forbidden=forbidden,
        place=forbidden is None,
    )


def _plan_unbound(i: TaskInputs, task: Task) -> TaskPlan:
    current = i.status
    generation = _generation(task)
    if current is None or current.state is S.Pending:
        return TaskPlan(place=True)
    if current.state is S.Completed:
        if current.reason != "Stopped" and current.observedGeneration == generation:
            return _NOTHING  # it ran to completion; a new generation or a start runs it again
        return TaskPlan(place=True)  # Completed -> Scheduled when placed
    if current.state is S.Failed:
        if task.spec.restartPolicy is RestartPolicy.Never:
            return _NOTHING  # failed for good
        return TaskPlan(place=True)  # Failed -> Scheduled when placed
    # Scheduled or Running, and its binding is gone: placed again, through Pending.
    message = "its binding is gone: placing it again"
    target = TaskStatus(reason="Rescheduling", message=message, observedGeneration=generation)
    status, events, forbidden = _change(
        current, target, {S.Pending: ("Rescheduling", message, True)}
    )
    return TaskPlan(status=status, events=events, forbidden=forbidden, place=forbidden is None)


def _plan_node_lost(
    i: TaskInputs,
    task: Task,
    node: str,
    binding: Binding,
    lost_for: float,
    extra: tuple[str, ...],
) -> TaskPlan:
    seen = observe(binding, i.reports.get(node))
    if seen.terminal:
        return TaskPlan(delete_bindings=extra)  # it had ended for good: nothing to move
    current = i.status
    lost = f"node {node} has been NotReady for {lost_for:.0f}s"
    delete = (node, *extra)
    if task.spec.restartPolicy is RestartPolicy.Never:
        message = f"{lost}; restartPolicy Never: not placed elsewhere"
        base = current or TaskStatus()
        target = base.model_copy(
            update={"state": S.Failed, "reason": "NodeLost", "message": message}
        )
        status, events, forbidden = _change(
            current, target, {S.Failed: ("NodeLost", message, True)}
        )
        return TaskPlan(delete_bindings=delete, status=status, events=events, forbidden=forbidden)
    message = f"{lost}: placing it elsewhere"
    target = TaskStatus(
        reason="NodeLost",
        message=message,
        restartCount=current.restartCount if current is not None else 0,
        observedGeneration=_generation(task),
    )
    status, events, forbidden = _change(current, target, {S.Pending: ("NodeLost", message, True)})
    return TaskPlan(
        delete_bindings=delete,
        status=status,
        events=events,
        forbidden=forbidden,
        place=forbidden is None,
    )


def _plan_new_generation(
    i: TaskInputs, task: Task, node: str, binding: Binding, epoch: int
) -> TaskPlan:
    generation = _generation(task)
    current = i.status
    fit = i.fit
    if fit is not None and fit.node == node and fit.fits:
        new = binding.model_copy(
            update={"generation": generation, "spec": task.spec, "epoch": epoch}
        )
        message = f"generation {generation} replaces {binding.generation} on {node}"
        target = TaskStatus(
            state=S.Scheduled,
            node=node,
            reason="SpecChanged",
            message=message,
            observedGeneration=generation,
        )
        status, events, forbidden = _change(
            current,
            target,
            {
                S.Pending: ("SpecChanged", f"generation {generation} to be placed", False),
                S.Scheduled: ("SpecChanged", message, False),
            },
            new_generation=True,
        )
        if forbidden is not None:
            return TaskPlan(forbidden=forbidden)
        if not events:
            events = (PlannedEvent("SpecChanged", message),)
        return TaskPlan(put_binding=new, status=status, events=events)
    why = fit.message if fit is not None else "not checked"
    message = f"generation {generation} no longer fits on {node} ({why}): placing it again"
    target = TaskStatus(reason="SpecChanged", message=message, observedGeneration=generation)
    status, events, forbidden = _change(
        current, target, {S.Pending: ("SpecChanged", message, False)}
    )
    return TaskPlan(
        delete_bindings=(node,),
        status=status,
        events=events,
        forbidden=forbidden,
        place=forbidden is None,
    )


def _observed_status(
    current: TaskStatus | None, node: str, generation: int, seen: Observation
) -> TaskStatus:
    reason, message = seen.reason, seen.message
    if seen.state is S.Scheduled and current is not None and current.state is S.Scheduled:
        reason, message = current.reason, current.message  # keep the placement's words
    return TaskStatus(
        state=seen.state,
        node=node,
        containerId=seen.container_id,
        hostPorts=list(seen.host_ports),
        startTime=seen.start_time,
        finishTime=seen.finish_time,
        restartCount=seen.restart_count,
        exitCode=seen.exit_code,
        reason=reason,
        message=message,
        observedGeneration=generation,
    )


def _plan_observed(i: TaskInputs, task: Task, node: str, binding: Binding) -> TaskPlan:
    seen = observe(binding, i.reports.get(node))
    current = i.status
    target = _observed_status(current, node, binding.generation, seen)
    exit_words = f"exited with code {seen.exit_code}" if seen.exit_code is not None else "ended"
    detail = f"{exit_words}: {seen.message}" if seen.message else exit_words
    steps = {
        S.Scheduled: ("Restarted", f"restarted on {node} (restart {seen.restart_count})", False),
        S.Running: ("Started", f"running on {node}", False),
        S.Completed: ("Completed", detail, False),
        S.Failed: (seen.reason or "Failed", detail, True),
    }
    if seen.state is S.Failed and seen.exit_code is None:
        steps[S.Failed] = (seen.reason or "Failed", seen.message or "could not start", True)
    path = None
    if (
        current is not None
        and current.state is S.Running
        and seen.state is S.Running
        and current.observedGeneration == binding.generation
        and seen.restart_count > current.restartCount
    ):
        # Restarted between two looks: it failed, and was started again on its node, as the
        # contract has a restart show (the exit itself was not seen, so no exit code).
        path = (S.Failed, S.Scheduled, S.Running)
        steps[S.Failed] = ("BackOff", "the container ended and was restarted", True)
    status, events, forbidden = _change(current, target, steps, path=path)
    return TaskPlan(status=status, events=events, forbidden=forbidden)


def placed(
    task: Task,
    current: TaskStatus | None,
    node: str,
    message: str,
    epoch: int,
) -> tuple[
    Binding, TaskStatus | None, tuple[PlannedEvent, ...], tuple[TaskState, TaskState] | None
]:
    """The binding, status and events of a task the scheduler placed on `node`."""
    meta = task.metadata
    generation = meta.generation or 1
    binding = Binding(
        namespace=meta.namespace,
        name=meta.name,
        node=node,
        uid=meta.uid or "",
        generation=generation,
        spec=task.spec,
        epoch=epoch,
    )
    target = TaskStatus(
        state=S.Scheduled,
        node=node,
        reason="Scheduled",
        message=message,
        observedGeneration=generation,
    )
    status, events, forbidden = _change(
        current, target, {S.Scheduled: ("Scheduled", message, False)}
    )
    return binding, status, events, forbidden


def unplaced(
    task: Task, current: TaskStatus | None, message: str, *, changed: bool
) -> tuple[TaskStatus | None, tuple[PlannedEvent, ...], tuple[TaskState, TaskState] | None]:
    """The status and events of a task that fits nowhere (`changed`: a new outcome)."""
    target = TaskStatus(
        reason="Unschedulable",
        message=message,
        restartCount=current.restartCount if current is not None else 0,
        observedGeneration=_generation(task),
    )
    status, events, forbidden = _change(
        current, target, {S.Pending: ("Unschedulable", message, True)}
    )
    if not events and changed:
        events = (PlannedEvent("Unschedulable", message, warning=True),)
    return status, events, forbidden
