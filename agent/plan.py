"""What the agent should do about one task: a pure function of desired and observed state.

    plan_task(binding, containers, memory, now, backoff) -> TaskPlan(actions, report)

`binding` is what the controller placed on this node (None: nothing is bound under that key),
`containers` what the engine has under that task's label on this node, `memory` what the agent
remembers that the engine does not show (a failed start, a failed health check). The plan
says, with a reason each, which containers to start, stop, replace, remove or keep, and what
the task's report should say once that is done. No I/O; `agent.executing` carries it out.

Restarts follow the restart policy (Always, OnFailure, Never) with an exponential back-off per
task: `initial` doubling up to `maximum`, counted from where the last run finished; a run that
lasted `reset_after` or more starts the back-off over. The step and the restart count live in
the container's labels (`agent.specs`), so an agent that restarts picks them up again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from agent.runtime import ContainerInfo
from agent.specs import Identity
from schemas.binding import Binding, ContainerPhase, TaskReport
from schemas.spec import RestartPolicy
from schemas.task import PortBinding


@dataclass(frozen=True)
class BackoffPolicy:
    initial: float = 10.0
    maximum: float = 300.0
    reset_after: float = 600.0

    def delay(self, step: int) -> float:
        return float(min(self.maximum, self.initial * (2 ** min(step, 40))))


@dataclass(frozen=True)
class StartFailure:
    """The engine refused to create or start the container; retried with back-off."""

    reason: str  # ImageNotFound, StartFailed, CreateFailed
    message: str
    at: datetime
    attempts: int = 1


@dataclass(frozen=True)
class Seen:
    """The task's container as last seen, to notice it vanishing (`docker rm` behind our back)."""

    container_id: str
    uid: str
    generation: int
    restarts: int
    backoff: int
    at: datetime


@dataclass(frozen=True)
class TaskMemory:
    start_failure: StartFailure | None = None
    last: Seen | None = None
    unhealthy: Mapping[str, str] = field(default_factory=dict)
    """Container id -> why its health check failed (it is to be stopped, then restarted)."""
    healthy: Mapping[str, bool] = field(default_factory=dict)
    """Container id -> the health check's last verdict."""


# --- actions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    key: str
    binding: Binding
    restarts: int
    backoff: int
    reason: str


@dataclass(frozen=True)
class Replace:
    """Remove `container_id`, then start the binding's container in its place."""

    key: str
    container_id: str
    binding: Binding
    restarts: int
    backoff: int
    reason: str


@dataclass(frozen=True)
class Stop:
    key: str
    container_id: str
    reason: str


@dataclass(frozen=True)
class Remove:
    key: str
    container_id: str
    reason: str


@dataclass(frozen=True)
class Keep:
    key: str
    container_id: str | None
    reason: str


Action = Start | Replace | Stop | Remove | Keep


@dataclass(frozen=True)
class TaskPlan:
    actions: tuple[Action, ...]
    report: TaskReport | None
    """The report once the actions are done (None: no report should exist)."""
    recheck_after: float | None = None
    """Seconds until the task needs another look (a back-off falling due)."""


# --- deciding ------------------------------------------------------------------------------


def _rank(container: ContainerInfo, binding: Binding | None) -> tuple[bool, bool, float]:
    """Which of a task's containers is *the* container: the current generation's, running,
    most recently started."""
    ident = Identity.of(container)
    current = binding is not None and ident is not None and ident.runs(binding)
    started = container.started_at.timestamp() if container.started_at is not None else 0.0
    return (current, container.running, started)


@dataclass(frozen=True)
class _Exit:
    """What the restart policy makes of an exited container."""

    restart: bool
    failed: bool
    reason: str  # Completed, Error, OOMKilled, Unhealthy
    due: datetime | None  # when the restart may happen
    step: int  # back-off step of the restart
    delay: float


def _judge_exit(
    binding: Binding, c: ContainerInfo, ident: Identity, memory: TaskMemory, backoff: BackoffPolicy
) -> _Exit:
    unhealthy = c.id in memory.unhealthy
    failed = c.exit_code != 0 or c.oom_killed or unhealthy
    if unhealthy:
        reason = "Unhealthy"
    elif c.oom_killed:
        reason = "OOMKilled"
    else:
        reason = "Error" if failed else "Completed"
    policy = binding.spec.restartPolicy
    restart = policy is RestartPolicy.Always or (policy is RestartPolicy.OnFailure and failed)
    if not restart:
        return _Exit(False, failed, reason, None, 0, 0.0)
    ran = (
        (c.finished_at - c.started_at).total_seconds()
        if c.finished_at is not None and c.started_at is not None
        else 0.0
    )
    step = 0 if ran >= backoff.reset_after else ident.backoff
    delay = backoff.delay(step)
    finished = c.finished_at or c.started_at
    due = finished + timedelta(seconds=delay) if finished is not None else None
    return _Exit(True, failed, reason, due, step, delay)


def _ports(c: ContainerInfo) -> list[PortBinding]:
    return [
        PortBinding(
            containerPort=p.container_port,
            hostPort=p.host_port,
            protocol="udp" if p.protocol == "udp" else "tcp",
            hostIP=p.host_ip or None,
        )
        for p in c.host_ports
        if p.host_port
    ]


def plan_task(
    key: str,
    binding: Binding | None,
    containers: Sequence[ContainerInfo],
    memory: TaskMemory,
    now: datetime,
    backoff: BackoffPolicy,
) -> TaskPlan:
    ordered = sorted(containers, key=lambda c: _rank(c, binding), reverse=True)
    if binding is None:
        removes = tuple(Remove(key, c.id, "no binding asks for it") for c in ordered)
        return TaskPlan(removes, None)
    actions: list[Action] = [
        Remove(key, c.id, "a duplicate of the task's container") for c in ordered[1:]
    ]
    primary = ordered[0] if ordered else None
    ident = Identity.of(primary) if primary is not None else None

    if primary is None or ident is None:
        if primary is not None:
            actions.append(Remove(key, primary.id, "carries no Shoal identity labels"))
        last = memory.last
        if last is not None and (last.uid, last.generation) == (binding.uid, binding.generation):
            return _vanished(key, binding, last, actions, now, backoff)
        failure = memory.start_failure
        if failure is not None:
            due = failure.at + timedelta(seconds=backoff.delay(failure.attempts - 1))
            waiting = TaskReport(
                state=ContainerPhase.Waiting,
                reason=failure.reason,
                message=failure.message,
                generation=binding.generation,
            )
            if now < due:
                actions.append(Keep(key, None, f"{failure.reason}: retrying at {_iso(due)}"))
                return TaskPlan(tuple(actions), waiting, (due - now).total_seconds())
            actions.append(Start(key, binding, 0, 0, f"retrying after {failure.reason}"))
            return TaskPlan(tuple(actions), waiting)
        actions.append(Start(key, binding, 0, 0, f"bound at generation {binding.generation}"))
        return TaskPlan(tuple(actions), _creating(binding))

    if not ident.runs(binding):
        why = (
            f"generation {ident.generation} -> {binding.generation}"
            if ident.uid == binding.uid
            else "the task was deleted and created again"
        )
        actions.append(Replace(key, primary.id, binding, 0, 0, f"spec changed: {why}"))
        return TaskPlan(tuple(actions), _creating(binding))

    if primary.state in ("created", "dead"):
        actions.append(
            Replace(
                key,
                primary.id,
                binding,
                ident.restarts,
                ident.backoff,
                f"container left in {primary.state}",
            )
        )
        return TaskPlan(tuple(actions), _creating(binding))

    if primary.running or primary.state in ("paused", "restarting", "removing"):
        if primary.id in memory.unhealthy:
            actions.append(Stop(key, primary.id, f"Unhealthy: {memory.unhealthy[primary.id]}"))
        else:
            actions.append(Keep(key, primary.id, "running"))
        report = TaskReport(
            containerId=primary.id,
            state=ContainerPhase.Running,
            hostPorts=_ports(primary),
            startTime=primary.started_at,
            restartCount=ident.restarts,
            healthy=memory.healthy.get(primary.id),
            generation=ident.generation,
        )
        return TaskPlan(tuple(actions), report)

    verdict = _judge_exit(binding, primary, ident, memory, backoff)
    ended = TaskReport(
        containerId=primary.id,
        state=ContainerPhase.Exited,
        startTime=primary.started_at,
        finishTime=primary.finished_at,
        exitCode=primary.exit_code,
        oomKilled=primary.oom_killed,
        restartCount=ident.restarts,
        reason=verdict.reason,
        message=memory.unhealthy.get(primary.id),
        generation=ident.generation,
    )
    if not verdict.restart:
        actions.append(
            Keep(key, primary.id, f"{verdict.reason} under {binding.spec.restartPolicy}")
        )
        return TaskPlan(tuple(actions), ended)
    if verdict.due is not None and now < verdict.due:
        actions.append(Keep(key, primary.id, f"BackOff: restarting at {_iso(verdict.due)}"))
        backing_off = ended.model_copy(
            update={
                "state": ContainerPhase.Waiting,
                "reason": "BackOff",
                "message": (
                    f"back-off {verdict.delay:g}s restarting the container "
                    f"({verdict.reason.lower()}, exit code {primary.exit_code})"
                ),
            }
        )
        return TaskPlan(tuple(actions), backing_off, (verdict.due - now).total_seconds())
    restarts = ident.restarts + 1
    actions.append(
        Replace(
            key,
            primary.id,
            binding,
            restarts,
            verdict.step + 1,
            f"restart {restarts} under {binding.spec.restartPolicy} "
            f"({verdict.reason.lower()}, exit code {primary.exit_code})",
        )
    )
    return TaskPlan(tuple(actions), _creating(binding, restarts))


def _vanished(
    key: str,
    binding: Binding,
    last: Seen,
    actions: list[Action],
    now: datetime,
    backoff: BackoffPolicy,
) -> TaskPlan:
    """The container was removed outside Shoal: an exit with no code, judged by the policy."""
    gone = TaskReport(
        containerId=last.container_id,
        state=ContainerPhase.Exited,
        restartCount=last.restarts,
        reason="ContainerRemoved",
        message="the container was removed outside Shoal",
        generation=binding.generation,
    )
    if binding.spec.restartPolicy is RestartPolicy.Never:
        actions.append(Keep(key, None, "ContainerRemoved under Never"))
        return TaskPlan(tuple(actions), gone)
    delay = backoff.delay(last.backoff)
    due = last.at + timedelta(seconds=delay)
    if now < due:
        actions.append(Keep(key, None, f"BackOff: restarting at {_iso(due)}"))
        waiting = gone.model_copy(
            update={
                "state": ContainerPhase.Waiting,
                "reason": "BackOff",
                "message": f"back-off {delay:g}s restarting the container (removed outside Shoal)",
            }
        )
        return TaskPlan(tuple(actions), waiting, (due - now).total_seconds())
    restarts = last.restarts + 1
    actions.append(
        Start(
            key,
            binding,
            restarts,
            last.backoff + 1,
            f"restart {restarts}: the container was removed outside Shoal",
        )
    )
    return TaskPlan(tuple(actions), _creating(binding, restarts))


def plan(
    bindings: Mapping[str, Binding],
    containers: Mapping[str, Sequence[ContainerInfo]],
    memory: Mapping[str, TaskMemory],
    now: datetime,
    backoff: BackoffPolicy,
) -> dict[str, TaskPlan]:
    """`plan_task` for every task that is bound or has containers, by key."""
    keys = sorted(set(bindings) | set(containers))
    return {
        key: plan_task(
            key,
            bindings.get(key),
            containers.get(key, ()),
            memory.get(key, TaskMemory()),
            now,
            backoff,
        )
        for key in keys
    }


def _creating(binding: Binding, restarts: int = 0) -> TaskReport:
    return TaskReport(
        state=ContainerPhase.Waiting,
        reason="ContainerCreating",
        restartCount=restarts,
        generation=binding.generation,
    )


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")
