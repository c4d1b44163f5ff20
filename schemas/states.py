"""The task state machine: which state may follow which.

A task is ``Pending`` until the controller places it on a node (``Scheduled``); the node's agent
starts its container (``Running``); the container ends well (``Completed``) or badly
(``Failed``). Only the controller writes a task's state, and it checks every change with
:func:`check_transition`, so a bug shows up as :class:`InvalidTransition` instead of a task that
jumps from ``Pending`` straight to ``Failed``.

The table, and why each arrow is there:

========== ========================================================================
from       to
========== ========================================================================
Pending    Scheduled (placed); Completed (stopped before it was ever placed)
Scheduled  Running (container started); Completed (stopped, or it finished before the
           agent saw it run); Failed (could not start: bad image, no such command);
           Pending (its node was lost before the start: placed again)
Running    Completed; Failed; Pending (its node was lost: placed again)
Completed  Pending (a new generation, or started again, to be placed afresh);
           Scheduled (started again, or restarted under ``Always``, on the same node)
Failed     Scheduled (restarted on its node); Pending (to be placed elsewhere)
========== ========================================================================

A state never "transitions" to itself: a status write that keeps the state (a new restart
count, a new message) is an update, not a transition, and records no TaskEvent.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

__all__ = ["ALLOWED", "InvalidTransition", "TaskState", "can_transition", "check_transition"]


class TaskState(StrEnum):
    """Where a task is in its life; the values are the strings users see and scripts match."""

    Pending = "Pending"
    Scheduled = "Scheduled"
    Running = "Running"
    Completed = "Completed"
    Failed = "Failed"


ALLOWED: Mapping[TaskState, frozenset[TaskState]] = MappingProxyType(
    {
        TaskState.Pending: frozenset({TaskState.Scheduled, TaskState.Completed}),
        TaskState.Scheduled: frozenset(
            {TaskState.Running, TaskState.Completed, TaskState.Failed, TaskState.Pending}
        ),
        TaskState.Running: frozenset({TaskState.Completed, TaskState.Failed, TaskState.Pending}),
        TaskState.Completed: frozenset({TaskState.Pending, TaskState.Scheduled}),
        TaskState.Failed: frozenset({TaskState.Scheduled, TaskState.Pending}),
    }
)
"""For each state, the states that may follow it (read-only)."""


class InvalidTransition(ValueError):
    """A state change the state machine does not allow; the message names both states."""

    def __init__(self, current: TaskState, new: TaskState) -> None:
        allowed = ", ".join(sorted(ALLOWED[current])) or "nothing"
        super().__init__(
            f"a task cannot go from {current} to {new} (from {current} it may go to {allowed})"
        )
        self.current = current
        self.new = new


def can_transition(current: TaskState, new: TaskState) -> bool:
    """True when ``current -> new`` is one of the allowed transitions."""
    return new in ALLOWED[current]


def check_transition(current: TaskState, new: TaskState) -> None:
    """Return if ``current -> new`` is allowed; raise :class:`InvalidTransition` otherwise."""
    if not can_transition(current, new):
        raise InvalidTransition(current, new)
