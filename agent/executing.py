"""Carrying out the plan's actions through a Runtime; the only place the agent changes the engine.

Each action is logged with its task key and reason. A refusal by the engine that retrying at
once will not cure (no such image, a port already allocated) is not raised: it becomes the
task's `StartFailure`, which the plan turns into a `Waiting` report and a retry after back-off.
An engine that does not answer is raised (`RuntimeUnavailable`), so the work queue retries the
task with its own back-off.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from dataclasses import replace as dc_replace

from agent.instruments import AgentInstruments
from agent.plan import Action, Keep, Remove, Replace, Start, StartFailure, Stop, TaskMemory
from agent.runtime import (
    LABEL_NODE,
    ContainerConflict,
    ContainerInfo,
    ContainerNotFound,
    ImageNotFound,
    Runtime,
    RuntimeFailure,
    RuntimeUnavailable,
    StartFailed,
)
from agent.specs import container_spec
from core.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Done:
    """What an action did, so the reconciler need not ask the engine again."""

    memory: TaskMemory
    started: ContainerInfo | None = None
    """The container a Start or Replace made, as the engine described it just after."""
    removed: str | None = None
    """The container a Remove or Replace took away."""
    known: bool = True
    """False when the engine's view must be read again (a Stop changed a container)."""


class Executor:
    def __init__(
        self,
        runtime: Runtime,
        node: str,
        host_ip: str,
        clock: Clock,
        instruments: AgentInstruments,
    ) -> None:
        self._runtime = runtime
        self._node = node
        self._host_ip = host_ip
        self._clock = clock
        self._instruments = instruments

    def run(self, action: Action, memory: TaskMemory) -> Done:
        """Do `action`; returns what the agent must remember of the task afterwards."""
        if isinstance(action, Keep):
            return Done(memory)
        log.info("%s: %s %s", action.key, type(action).__name__.lower(), action.reason)
        if isinstance(action, Stop):
            self._stop(action.container_id)
            return Done(memory, known=False)
        if isinstance(action, Remove):
            self._remove(action.container_id)
            return Done(_forget(memory, action.container_id), removed=action.container_id)
        if isinstance(action, Replace):
            self._remove(action.container_id)
            memory = _forget(memory, action.container_id)
            memory, started = self._start(action, memory)
            return Done(memory, started=started, removed=action.container_id)
        memory, started = self._start(action, memory)
        return Done(memory, started=started)

    def _stop(self, container_id: str) -> None:
        with contextlib.suppress(ContainerNotFound):
            self._runtime.stop(container_id)

    def _remove(self, container_id: str) -> None:
        self._stop(container_id)  # SIGTERM first: the task gets its stop timeout
        self._runtime.remove(container_id, force=True)

    def _start(
        self, action: Start | Replace, memory: TaskMemory
    ) -> tuple[TaskMemory, ContainerInfo | None]:
        spec = container_spec(
            action.binding,
            self._node,
            self._host_ip,
            restarts=action.restarts,
            backoff=action.backoff,
        )
        try:
            try:
                info = self._runtime.create_and_start(spec)
            except ContainerConflict:
                # A container of ours under that name that the listing did not show (it was
                # being created or removed just then): remove it and try once more.
                if not self._ours(spec.name):
                    raise
                self._runtime.remove(spec.name, force=True)
                info = self._runtime.create_and_start(spec)
        except RuntimeUnavailable:
            raise
        except ImageNotFound as exc:
            return self._failed(action.key, memory, "ImageNotFound", str(exc)), None
        except StartFailed as exc:
            return self._failed(action.key, memory, "StartFailed", str(exc)), None
        except RuntimeFailure as exc:
            return self._failed(action.key, memory, "CreateFailed", str(exc)), None
        self._instruments.started(restart=action.restarts > 0 and isinstance(action, Replace))
        return dc_replace(memory, start_failure=None), info

    def _ours(self, name: str) -> bool:
        try:
            return self._runtime.inspect(name).labels.get(LABEL_NODE) == self._node
        except ContainerNotFound:
            return True  # gone meanwhile: the retry will tell

    def _failed(self, key: str, memory: TaskMemory, reason: str, message: str) -> TaskMemory:
        previous = memory.start_failure
        attempts = previous.attempts + 1 if previous is not None else 1
        log.warning("%s: start failed (%s, attempt %d): %s", key, reason, attempts, message)
        self._instruments.failed(reason)
        failure = StartFailure(reason, message, self._clock.now(), attempts)
        return dc_replace(memory, start_failure=failure)


def _forget(memory: TaskMemory, container_id: str) -> TaskMemory:
    """Drop what was remembered of a container that we removed."""
    if memory.last is not None and memory.last.container_id == container_id:
        memory = dc_replace(memory, last=None)
    if container_id not in memory.unhealthy and container_id not in memory.healthy:
        return memory
    return dc_replace(
        memory,
        unhealthy={k: v for k, v in memory.unhealthy.items() if k != container_id},
        healthy={k: v for k, v in memory.healthy.items() if k != container_id},
    )
