"""TaskEvent: a record of something that happened to a task, chiefly a change of state.

The controller writes one to ``/shoal/events/<ns>/<name>/<seq>`` (bound to a TTL lease, so old
events expire) for every state transition, with a reason; ``shoal events`` and ``describe``
show them.
"""

from __future__ import annotations

from enum import StrEnum

from schemas.base import RecordModel
from schemas.fields import DnsLabel, PositiveInt, Reason, Timestamp
from schemas.states import TaskState

__all__ = ["EventType", "TaskEvent"]


class EventType(StrEnum):
    """``Warning`` for what a person may need to act on (failures, unschedulable)."""

    Normal = "Normal"
    Warning = "Warning"


class TaskEvent(RecordModel):
    """One event of one task: ``Scheduled``, ``Started``, ``Completed``, ``BackOff``…"""

    namespace: DnsLabel
    name: DnsLabel
    type: EventType = EventType.Normal
    reason: Reason
    message: str = ""
    fromState: TaskState | None = None
    toState: TaskState | None = None
    time: Timestamp
    count: PositiveInt = 1
    """How many times the same event happened in a row (repeats are folded into one)."""

    @property
    def key(self) -> str:
        """``<namespace>/<name>`` of the task the event is about."""
        return f"{self.namespace}/{self.name}"
