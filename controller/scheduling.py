"""The scheduling loop: tasks that need a node are placed in batches, one pass at a time.

The task reconciler hands over keys (`request`); the loop takes up to `batch_size` of them,
claims them in the task work queue (so no worker reconciles a task while its pass runs), and
under the cluster state's lock plans each one again (only a task that still needs a node, and
nothing else, takes part), builds the node views, and runs one `Scheduler.place` over all of
them: each task is placed against the snapshot plus the placements made earlier in the pass.
The results are assumed in the caches at once (so the next pass sees them) and handed to the
committer: binding and status of a task in one transaction, many tasks per transaction.

A task that fits nowhere stays Pending with reason Unschedulable and the scheduler's message,
and waits in the unschedulable set. It is tried again (through its reconciler) when the
cluster changes (a node registers or changes, room is freed), at most every `debounce`
seconds, and otherwise every `retry` seconds: never in a hot loop.

The `Placement` record (why this node, or why none) is written to the records lane when the
outcome changes: another node, another generation, or another reason for fitting nowhere.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from controller.cluster import ClusterState, split_task_key
from controller.committing import Committer, RecordValue
from controller.events import Event
from controller.metrics import ControllerMetrics
from controller.planning import placed, plan_task, unplaced
from controller.scheduler import Scheduler
from controller.snapshot import PlacementResult, TaskRequest
from controller.tasks import TaskReconciler
from core.clock import Clock, SystemClock
from core.store import WriteOp
from core.supervise import Supervised
from core.typed_store import encode_model
from core.workqueue import WorkQueue
from schemas.spec import DesiredState
from schemas.states import TaskState
from schemas.task import Task, TaskStatus

log = logging.getLogger(__name__)

__all__ = ["Placer", "PlacerTimings"]

Outcome = tuple[int, str | None, str | None]  # generation, node, message when unplaced
Decided = tuple[Task, TaskStatus | None] | None


@dataclass(frozen=True)
class PlacerTimings:
    batch_size: int = 1000
    debounce: float = 0.5
    retry: float = 60.0
    gather: float = 0.05
    """While the task workers are still busy, a pass waits at most this long (real time) for
    more tasks to join its batch: one pass over a thousand tasks costs far less than a hundred
    passes over ten, which each copy every node."""


class Placer:
    def __init__(
        self,
        state: ClusterState,
        queue: WorkQueue[str],
        scheduler: Scheduler,
        committer: Committer,
        *,
        epoch: int,
        timings: PlacerTimings | None = None,
        clock: Clock | None = None,
        metrics: ControllerMetrics | None = None,
    ) -> None:
        self.state = state
        self.queue = queue
        self.scheduler = scheduler
        self.committer = committer
        self.epoch = epoch
        self.timings = timings or PlacerTimings()
        self._clock = clock or SystemClock()
        self._metrics = metrics
        self.reconciler: TaskReconciler | None = None
        self._lock = threading.Lock()
        self._more = threading.Condition(self._lock)
        # key -> the task and status its placement was decided on, None when it was not
        # decided yet (a new task) (insertion-ordered)
        self._pending: dict[str, Decided] = {}
        self._since: dict[str, float] = {}  # key -> when it was first requested (perf_counter)
        self._unschedulable: set[str] = set()
        self._outcomes: dict[str, Outcome] = {}
        self._changed = False
        self._last_retry = self._clock.monotonic()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._supervised = Supervised(
            "scheduling", self._run, clock=self._clock, stop_event=self._stop
        )
        self.passes = 0

    # -- Placements (called by the reconciler) -----------------------------------------

    def request_created(self, keys: set[str]) -> None:
        """New tasks, straight from the informer: each pass plans them before placing."""
        now = time.perf_counter()
        with self._lock:
            for key in sorted(keys):
                self._pending[key] = None
                self._since.setdefault(key, now)
            if len(self._pending) >= self.timings.batch_size:
                self._more.notify()
        self._wake.set()

    def request(self, key: str, task: Task, status: TaskStatus | None) -> None:
        with self._lock:
            self._pending[key] = (task, status)
            self._since.setdefault(key, time.perf_counter())
            if len(self._pending) >= self.timings.batch_size:
                self._more.notify()
        self._wake.set()

    def forget(self, key: str) -> None:
        with self._lock:
            self._pending.pop(key, None)
            self._since.pop(key, None)
            if key in self._unschedulable:
                self._unschedulable.discard(key)
                self._gauge()
            self._outcomes.pop(key, None)

    def drained(self) -> None:
        """The task queue has nothing left to do (it may be time to let records go)."""
        self._wake.set()

    def room_changed(self) -> None:
        """A node came or changed, or room was freed: unschedulable tasks may fit now."""
        with self._lock:
            self._changed = True
            if not self._unschedulable:
                return
        self._wake.set()

    def unschedulable(self) -> set[str]:
        with self._lock:
            return set(self._unschedulable)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Placer:
        self._supervised.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        with self._more:
            self._more.notify_all()
        self._supervised.stop(timeout)

    def is_alive(self) -> bool:
        return self._supervised.is_alive()

    # -- the loop ----------------------------------------------------------------------

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            self._gather(stop)
            batch = self._take()
            if batch:
                self.committer.hold_records(True)
                self.place(batch)
                continue
            if not self.queue.busy():
                self.committer.hold_records(False)  # the burst is over: write its records
            now = self._clock.monotonic()
            due = self._next_retry()
            if due is not None and now >= due:
                self._retry(now)
                continue
            self._clock.wait(self._wake, (due - now) if due is not None else 3600.0)

    def _gather(self, stop: threading.Event) -> None:
        """Let a burst of requests build up a batch: while some are pending and the task
        queue is still being worked through, wait (briefly, polling the queue) for more."""
        deadline = time.perf_counter() + self.timings.gather
        with self._more:
            while (
                0 < len(self._pending) < self.timings.batch_size
                and not stop.is_set()
                and (len(self.queue) or self.queue.processing())
            ):
                left = deadline - time.perf_counter()
                if left <= 0:
                    return
                self._more.wait(min(left, 0.002))

    def _take(self) -> dict[str, Decided]:
        with self._lock:
            batch = {}
            for key, decided in self._pending.items():
                batch[key] = decided
                if len(batch) >= self.timings.batch_size:
                    break
            for key in batch:
                del self._pending[key]
            return batch

    def _next_retry(self) -> float | None:
        with self._lock:
            if not self._unschedulable:
                return None
            wait = self.timings.debounce if self._changed else self.timings.retry
            return self._last_retry + wait

    def _retry(self, now: float) -> None:
        with self._lock:
            keys = sorted(self._unschedulable)
            self._changed = False
            self._last_retry = now
        log.debug("trying %d unschedulable tasks again", len(keys))
        self.queue.add_all(keys)

    # -- one pass ----------------------------------------------------------------------

    def place(self, batch: dict[str, Decided]) -> None:
        """Place `batch` (key -> the task and status decided on) in one pass."""
        started = time.perf_counter()
        claimed = self.queue.claim_all(list(batch))
        try:
            placed_count = self._place_claimed(claimed, batch)
        finally:
            self.queue.done_all(claimed)
        self.passes += 1
        if self._metrics is not None:
            self._metrics.pass_seconds.observe(time.perf_counter() - started)
            self._metrics.pass_tasks.observe(placed_count)

    def _place_claimed(self, claimed: list[str], decided: dict[str, Decided]) -> int:
        reconciler = self.reconciler
        assert reconciler is not None, "the placer needs its task reconciler"
        now = self._clock.now()
        state = self.state
        with state.locked():
            chosen: list[tuple[str, Task, TaskStatus | None]] = []
            again: list[str] = []
            for key in claimed:
                task, status = state.task(key), state.status(key)
                was = decided[key]
                decided_now = (was is not None and task is was[0] and status is was[1]) or (
                    was is None
                    and status is None
                    and task is not None
                    and task.spec.desiredState is DesiredState.Running
                )
                if decided_now and task is not None and not state.bindings_of(key):
                    # The very inputs the reconciler decided on, or a new task that should run
                    # with nothing bound or written: an unbound task's plan reads no more than
                    # that, and it says "needs a node, and nothing else".
                    chosen.append((key, task, status))
                    continue
                plan = plan_task(reconciler.inputs(key, now), self.epoch)
                if not plan.place or plan.writes or task is None:
                    again.append(key)  # something changed: its reconciler decides
                    continue
                chosen.append((key, task, status))
            if chosen:
                results = self.scheduler.place(
                    state.node_views(), [TaskRequest.from_task(t) for _, t, _ in chosen], now
                )
                self._commit(reconciler, chosen, results)
        if again:
            self.queue.add_all(again)
            with self._lock:
                for key in again:
                    self._since.pop(key, None)
        return len(chosen)

    def _commit(
        self,
        reconciler: TaskReconciler,
        chosen: list[tuple[str, Task, TaskStatus | None]],
        results: list[PlacementResult],
    ) -> None:
        """Assume the pass's outcome in the caches, and hand it to the committer in one go."""
        state = self.state
        keys = state.keys
        groups: list[list[WriteOp]] = []
        dones: list[Callable[[int], None] | None] = []
        records: list[tuple[str, RecordValue, bool]] = []
        sinces: list[float] = []
        planned: list[Event] = []
        placed_count = 0
        with self._lock:
            outcomes, since_of = self._outcomes, self._since
            for (key, task, status), result in zip(chosen, results, strict=True):
                node, message = result.node, result.message
                generation = task.metadata.generation or 1
                outcome: Outcome = (generation, node, None if node else message)
                previous = outcomes.get(key)
                if previous is None and status is not None:
                    previous = _outcome_of(status)
                changed = previous != outcome
                outcomes[key] = outcome
                since = since_of.pop(key, None)
                namespace, name = split_task_key(key)
                if node is not None:
                    binding, new_status, events, forbidden = placed(
                        task, status, node, message, self.epoch
                    )
                    if forbidden is not None:
                        reconciler.refuse(key, *forbidden)
                        continue
                    ops = [state.put_binding(binding)]
                    if new_status is not None:
                        ops.append(state.put_status(key, new_status))
                    groups.append(ops)
                    dones.append(None)
                    if since is not None:
                        sinces.append(since)
                    self._unschedulable.discard(key)
                    placed_count += 1
                else:
                    new_status, events, forbidden = unplaced(task, status, message, changed=changed)
                    if forbidden is not None:
                        reconciler.refuse(key, *forbidden)
                        continue
                    if new_status is not None:
                        groups.append([state.put_status(key, new_status)])
                        dones.append(None)
                    self._unschedulable.add(key)
                planned.extend(
                    Event(namespace, name, e.reason, e.message, e.old, e.new, e.warning)
                    for e in events
                )
                if changed:
                    # Built and encoded when written, in the committer's thread.
                    records.append(
                        (keys.placement(namespace, name), _placement_value(result), False)
                    )
            self._gauge()
        reconciler.recorder.record_many(planned, into=records)
        if dones and sinces:
            dones[-1] = self._latency(sinces)  # the pass's last group: all are written then
        self.committer.submit_many(groups, dones)
        self.committer.record_many(records)
        if self._metrics is not None:
            self._metrics.placements.labels("placed").inc(placed_count)
            self._metrics.placements.labels("unschedulable").inc(len(chosen) - placed_count)

    def _latency(self, sinces: list[float]) -> Callable[[int], None] | None:
        """Observe each task's wait, from found pending to written, when the pass's last
        group is committed (the groups of one pass are written within milliseconds)."""
        metrics = self._metrics
        if metrics is None:
            return None
        histogram = metrics.scheduling_latency

        def done(revision: int) -> None:
            now = time.perf_counter()
            for since in sinces:
                histogram.observe(now - since)

        return done

    def _gauge(self) -> None:
        if self._metrics is not None:
            self._metrics.unschedulable.set(len(self._unschedulable))


class _PlacementValue:
    """A Placement record, built and encoded when it is written (a small object rather than
    a closure: thousands wait behind a burst of placements)."""

    __slots__ = ("result",)

    def __init__(self, result: PlacementResult) -> None:
        self.result = result

    def __call__(self) -> bytes:
        return encode_model(self.result.placement)


def _placement_value(result: PlacementResult) -> Callable[[], bytes]:
    return _PlacementValue(result)


def _outcome_of(status: TaskStatus) -> Outcome | None:
    generation = status.observedGeneration or 1
    if status.state is TaskState.Pending and status.reason == "Unschedulable":
        return (generation, None, status.message)
    if status.node is not None:
        return (generation, status.node, None)
    return None
