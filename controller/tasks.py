"""The task reconciler: gather one task's inputs from the caches, plan, carry the plan out.

`reconcile(key)` runs under the cluster state's lock: it builds the `TaskInputs` (checking,
for a new generation, whether it still fits on its node), asks `controller.planning.plan_task`
what to do, assumes the writes in the caches and hands them to the committer as one group
(one transaction), records the events, and passes the task to the scheduling pass when it
needs a node. A transition the state machine forbids is logged and counted, and nothing of
that plan is written.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from controller.allocations import MICRO
from controller.cluster import ClusterState, NodeHealth, split_task_key
from controller.committing import Committer, RecordValue
from controller.events import Event, EventRecorder
from controller.planning import Fit, PlannedEvent, TaskInputs, TaskPlan, plan_task
from controller.scheduler import Scheduler
from controller.snapshot import Amounts, TaskRequest
from core.clock import Clock, SystemClock
from core.reconciling import Result
from core.store import WriteOp
from schemas.states import TaskState
from schemas.task import Task, TaskStatus

log = logging.getLogger(__name__)

__all__ = ["ForbiddenCounter", "Placements", "TaskReconciler"]


class Placements(Protocol):
    """The scheduling pass, as the reconciler sees it."""

    def request(self, key: str, task: Task, status: TaskStatus | None) -> None:
        """`key` needs a node; `task` and `status` are what that was decided on."""
        ...

    def forget(self, key: str) -> None:
        """`key` needs no node (any more): drop it from the pending and unschedulable sets."""
        ...


class ForbiddenCounter(Protocol):
    def forbidden_transition(self, old: TaskState, new: TaskState) -> None: ...


class TaskReconciler:
    def __init__(
        self,
        state: ClusterState,
        committer: Committer,
        recorder: EventRecorder,
        placements: Placements,
        *,
        epoch: int,
        grace: float,
        clock: Clock | None = None,
        forbidden: ForbiddenCounter | None = None,
    ) -> None:
        self.state = state
        self.committer = committer
        self.recorder = recorder
        self.placements = placements
        self.epoch = epoch
        self.grace = grace
        self._clock = clock or SystemClock()
        self._forbidden = forbidden
        self._fit_scheduler = Scheduler("spread", full_scan_below=2)

    def reconcile(self, key: str) -> Result:
        now = self._clock.now()
        with self.state.locked():
            plan = plan_task(self.inputs(key, now), self.epoch)
            self.carry_out(key, plan)
        return Result(plan.again)

    # -- inputs (with the state lock held) ---------------------------------------------

    def inputs(self, key: str, now: datetime) -> TaskInputs:
        state = self.state
        task = state.task(key)
        bindings = state.bindings_of(key)
        reports = state.reports_of(key)
        health: dict[str, NodeHealth] = {}
        for node in (*bindings, *reports):
            if node not in health:
                health[node] = state.node_health(node)
        fit = None
        if task is not None and bindings:
            generation = task.metadata.generation or 1
            for node, binding in bindings.items():
                if binding.generation != generation and binding.uid == (task.metadata.uid or ""):
                    fit = self._fit(key, task, node, now)
                    break
        return TaskInputs(
            key=key,
            task=task,
            status=state.status(key),
            bindings=dict(bindings),
            reports=dict(reports),
            health=health,
            now=now,
            grace=self.grace,
            fit=fit,
        )

    def _fit(self, key: str, task: Task, node: str, now: datetime) -> Fit:
        """Whether `task`'s current spec fits on `node` once its own older claim is taken
        back: the scheduler's filters, on that one node."""
        view = self.state.node_view(node)
        if view is None:
            return Fit(node, False, "the node is unknown")
        own = self.state.allocations.of_task(key).get(node)
        if own is not None:
            view = replace(
                view,
                allocated=view.allocated - Amounts(own.cpu / MICRO, own.memory, own.disk),
                host_ports=view.host_ports - set(own.ports),
                tasks=max(0, view.tasks - 1),
            )
        result = self._fit_scheduler.place([view], [TaskRequest.from_task(task)], now)[0]
        return Fit(node, result.node == node, result.placement.message)

    # -- carrying out (with the state lock held) ---------------------------------------

    def carry_out(self, key: str, plan: TaskPlan) -> None:
        namespace, name = split_task_key(key)
        if plan.forbidden is not None:
            self.refuse(key, *plan.forbidden)
        else:
            state = self.state
            ops: list[WriteOp] = [state.delete_binding(node, key) for node in plan.delete_bindings]
            if plan.put_binding is not None:
                ops.append(state.put_binding(plan.put_binding))
            if plan.delete_status:
                ops.append(state.delete_status(key))
            elif plan.status is not None:
                ops.append(state.put_status(key, plan.status))
            self.committer.submit(ops)
            self.record(namespace, name, plan.events)
            if plan.delete_placement:
                self.committer.record(state.keys.placement(namespace, name), None)
        task = self.state.task(key)
        if plan.place and task is not None:
            self.placements.request(key, task, self.state.status(key))
        else:
            self.placements.forget(key)
        if plan.gone:
            self.recorder.forget(namespace, name)

    def record(
        self,
        namespace: str,
        name: str,
        events: tuple[PlannedEvent, ...],
        *,
        into: list[tuple[str, RecordValue, bool]] | None = None,
    ) -> None:
        """Record `events` (`into`: collect the records instead, to hand over at once)."""
        self.recorder.record_many(
            [Event(namespace, name, e.reason, e.message, e.old, e.new, e.warning) for e in events],
            into=into,
        )

    def refuse(self, key: str, old: TaskState, new: TaskState) -> None:
        log.warning(
            "task %s: the state machine does not allow %s -> %s; status not written", key, old, new
        )
        if self._forbidden is not None:
            self._forbidden.forbidden_transition(old, new)
