"""TaskEvents: what happened to a task, one key per event, expiring with a shared lease.

`EventRecorder.record` logs one line (the task's key, the reason, the message) and hands the
`TaskEvent` to the committer's records lane at `/shoal/events/<ns>/<name>/<seq>`. Sequence
numbers continue from the highest one found in etcd when the recorder started. The same event
repeated (same reason, message and states as the task's previous one) is folded into that
one's `count` (its `time` becomes the latest) instead of taking a new key, as Kubernetes folds
repeated events.

Events are bound to one lease shared by all of them (`EventLease`): a lease of `ttl` seconds,
replaced by a new one once it is a sixth of its TTL old, so every event lives between 5/6 of
the TTL and the whole of it, and etcd never holds more than a handful of event leases.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from controller.committing import Committer, RecordValue
from core.clock import Clock, SystemClock
from core.keys import Keys
from core.store import Store
from core.typed_store import encode_model
from schemas.events import EventType, TaskEvent
from schemas.states import TaskState

log = logging.getLogger("controller.events")

__all__ = ["Event", "EventLease", "EventRecorder", "TransitionCounter"]


class EventLease:
    """The lease events are bound to; granted lazily (in the committer's thread)."""

    def __init__(self, store: Store, ttl: int, clock: Clock | None = None) -> None:
        self.store = store
        self.ttl = ttl
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._lease: int | None = None
        self._granted_at = 0.0

    def lease(self) -> int:
        with self._lock:
            now = self._clock.monotonic()
            if self._lease is None or now - self._granted_at >= self.ttl / 6:
                self._lease = int(self.store.grant_lease(self.ttl))
                self._granted_at = now
            return self._lease

    def lost(self, lease: int) -> None:
        with self._lock:
            if self._lease == lease:
                self._lease = None


class TransitionCounter:
    """Counts transitions (a metrics hook); the default counts nothing."""

    def transition(self, old: TaskState | None, new: TaskState) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Event:
    """One event to record (`old`/`new`: the transition it records, if it is one)."""

    namespace: str
    name: str
    reason: str
    message: str = ""
    old: TaskState | None = None
    new: TaskState | None = None
    warning: bool = False


class _Encoded:
    """An event's value, encoded when it is written, in the committer's thread (a small
    object rather than a closure: thousands wait behind a burst of placements)."""

    __slots__ = ("count", "event", "time")

    def __init__(self, event: Event, time: datetime, count: int) -> None:
        self.event = event
        self.time = time
        self.count = count

    def __call__(self) -> bytes:
        event = self.event
        return encode_model(
            TaskEvent(
                namespace=event.namespace,
                name=event.name,
                type=EventType.Warning if event.warning else EventType.Normal,
                reason=event.reason,
                message=event.message,
                fromState=event.old,
                toState=event.new,
                time=self.time,
                count=self.count,
            )
        )


@dataclass(slots=True)
class _Last:
    seq: int
    reason: str
    message: str
    states: tuple[TaskState | None, TaskState | None]
    count: int


class EventRecorder:
    def __init__(
        self,
        keys: Keys,
        committer: Committer,
        *,
        clock: Clock | None = None,
        counter: TransitionCounter | None = None,
    ) -> None:
        self.keys = keys
        self._committer = committer
        self._clock = clock or SystemClock()
        self._counter = counter or TransitionCounter()
        self._lock = threading.Lock()
        self._next_seq: dict[str, int] = {}
        self._last: dict[str, _Last] = {}

    def load(self, store: Store) -> int:
        """Continue the sequence numbers found under /events/; returns how many events."""
        listing = store.list(self.keys.events())
        with self._lock:
            for kv in listing.items:
                ref = self.keys.parse_event(kv.key)
                if ref is not None:
                    key = f"{ref.namespace}/{ref.name}"
                    self._next_seq[key] = max(self._next_seq.get(key, 0), ref.seq + 1)
        return len(listing)

    def record(
        self,
        namespace: str,
        name: str,
        reason: str,
        message: str = "",
        *,
        old: TaskState | None = None,
        new: TaskState | None = None,
        warning: bool = False,
        into: list[tuple[str, RecordValue, bool]] | None = None,
    ) -> None:
        """Log the event and write it (`into`: append the record there instead, for the
        caller to hand to the committer with others)."""
        self.record_many([Event(namespace, name, reason, message, old, new, warning)], into=into)

    def record_many(
        self, events: Sequence[Event], *, into: list[tuple[str, RecordValue, bool]] | None = None
    ) -> None:
        """`record` each event, in order, in one go (a scheduling pass records thousands)."""
        if not events:
            return
        for event in events:
            level = logging.WARNING if event.warning else logging.INFO
            if log.isEnabledFor(level):
                arrow = f" ({event.old or 'new'} -> {event.new})" if event.new else ""
                log.log(
                    level,
                    "task %s/%s: %s%s: %s",
                    event.namespace,
                    event.name,
                    event.reason,
                    arrow,
                    event.message,
                )
            if event.new is not None:
                self._counter.transition(event.old, event.new)
        now = self._clock.now()
        records: list[tuple[str, RecordValue, bool]] = []
        with self._lock:
            for event in events:
                key = f"{event.namespace}/{event.name}"
                transition = (event.old, event.new)
                last = self._last.get(key)
                if (
                    last is not None
                    and last.reason == event.reason
                    and last.message == event.message
                    and last.states == transition
                ):
                    last.count += 1  # the same again: fold it into the previous event
                else:
                    seq = self._next_seq.get(key, 0)
                    self._next_seq[key] = seq + 1
                    last = self._last[key] = _Last(seq, event.reason, event.message, transition, 1)
                records.append(
                    (
                        self.keys.event(event.namespace, event.name, last.seq),
                        _Encoded(event, now, last.count),
                        True,
                    )
                )
        if into is not None:
            into.extend(records)
        else:
            self._committer.record_many(records)

    def forget(self, namespace: str, name: str) -> None:
        """The task is gone: drop what is kept to fold its events (not its sequence)."""
        with self._lock:
            self._last.pop(f"{namespace}/{name}", None)
