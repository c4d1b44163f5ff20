"""The controller: leader election, and while leading, a session of every loop.

`Controller(store, keys, settings).start()` campaigns for leadership; `stop()` stops it (and
all its threads). `shoal controller` runs one; `shoal up` can start one in-process.

While it leads, a `Session` runs with the leadership's epoch and write guard:

- informers list, then watch, the tasks and everything the agents write under /shoal/nodes/
  (infos, metrics, task reports) into one `ClusterState`; the keys the controller alone
  writes (bindings, task and node statuses) are listed at the start and at every resync;
- the task reconciler's workers and the node reconciler's worker take keys from their queues;
- the scheduling loop places pending tasks in batches;
- the committer writes everything, guarded by the leader key; the event recorder logs each
  event and writes it on the event lease;
- a resync loop lists the controller's own keys again and enqueues every task and node every
  `resync` seconds, the safety net of a level-based design.

Workers start only once every informer has listed, so no decision is made on half a picture.
A new leader starts from nothing but what etcd holds: it lists again, and carries on.
"""

from __future__ import annotations

import gc
import logging
import random
import threading
from collections.abc import Callable

from controller.cluster import ClusterState
from controller.committing import Committer
from controller.events import EventLease, EventRecorder
from controller.informer import Informer
from controller.leader import LeaderElector, Leadership, Lose, default_identity
from controller.metrics import ControllerMetrics
from controller.nodes import NodeReconciler
from controller.scheduler import POLICIES, Scheduler
from controller.scheduling import Placer, PlacerTimings
from controller.settings import ControllerSettings
from controller.tasks import TaskReconciler
from core.clock import Clock, SystemClock
from core.errors import ShoalError
from core.keys import Keys
from core.reconciling import Workers
from core.store import Store
from core.supervise import Supervised
from core.workqueue import WorkQueue

log = logging.getLogger("controller")

__all__ = ["Controller", "Session"]


class Session:
    """Everything the leader runs, for one leadership."""

    def __init__(
        self,
        store: Store,
        keys: Keys,
        leadership: Leadership,
        lose: Lose,
        settings: ControllerSettings,
        *,
        clock: Clock,
        metrics: ControllerMetrics,
    ) -> None:
        self.store = store
        self.keys = keys
        self.leadership = leadership
        self.settings = settings
        self._clock = clock
        self._metrics = metrics
        epoch = leadership.epoch
        self.state = ClusterState(keys, listener=self)
        self.committer = Committer(
            store,
            leadership.guard,
            on_committed=self.state.committed,
            on_lost=lose,
            leases=EventLease(store, settings.event_ttl, clock),
            clock=clock,
            observer=metrics,
        )
        self.recorder = EventRecorder(keys, self.committer, clock=clock, counter=metrics)
        self.task_queue: WorkQueue[str] = WorkQueue("tasks", clock=clock)
        self.node_queue: WorkQueue[str] = WorkQueue("nodes", clock=clock)
        self.scheduler = Scheduler(
            settings.scheduler,
            rng=random.Random(settings.seed),
            sample_size=settings.sample_size,
            full_scan_below=settings.full_scan_below,
        )
        self.placer = Placer(
            self.state,
            self.task_queue,
            self.scheduler,
            self.committer,
            epoch=epoch,
            timings=PlacerTimings(
                batch_size=settings.batch_size,
                debounce=settings.unschedulable_debounce,
                retry=settings.unschedulable_retry,
            ),
            clock=clock,
            metrics=metrics,
        )
        self.tasks = TaskReconciler(
            self.state,
            self.committer,
            self.recorder,
            self.placer,
            epoch=epoch,
            grace=settings.node_grace,
            clock=clock,
            forbidden=metrics,
        )
        self.placer.reconciler = self.tasks
        self.task_queue.on_drained = self.placer.drained
        self.nodes = NodeReconciler(
            self.state, self.committer, self.task_queue, grace=settings.node_grace, clock=clock
        )
        self.task_workers = Workers(
            "tasks",
            self.task_queue,
            self.tasks,
            settings.workers,
            clock=clock,
            observe=metrics.observe_reconcile("tasks"),
        )
        self.node_workers = Workers(
            "nodes",
            self.node_queue,
            self.nodes,
            1,
            clock=clock,
            observe=metrics.observe_reconcile("nodes"),
        )
        # Nodes first, tasks last: a task is reconciled against nodes and bindings already known.
        # The keys only this controller writes are listed, not watched (see the informer).
        self.informers = [
            Informer(store, keys.nodes(), self.state),
            Informer(store, keys.node_statuses(), self.state, watch=False),
            Informer(store, keys.bindings(), self.state, watch=False),
            Informer(store, keys.task_statuses(), self.state, watch=False),
            Informer(store, keys.tasks(), self.state),
        ]
        self._resync = Supervised("resync", self._run_resync, clock=clock)
        self._started: list[Callable[[], None]] = []
        self.ready = threading.Event()
        """Set once everything is listed and every loop runs."""

    # -- Listener: changes only enqueue keys -------------------------------------------

    def tasks_changed(self, keys: set[str]) -> None:
        self.task_queue.add_all(list(keys))

    def tasks_created(self, keys: set[str]) -> None:
        self.placer.request_created(keys)

    def nodes_changed(self, nodes: set[str]) -> None:
        self.node_queue.add_all(list(nodes))

    def allocations_changed(self, nodes: set[str]) -> None:
        for node in nodes:
            self.node_queue.add_after(node, self.settings.node_status_delay)

    def room_changed(self) -> None:
        self.placer.room_changed()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._started.append(self.committer.stop)
        self.committer.start()
        for queue in (self.task_queue, self.node_queue):
            self._started.append(queue.shutdown)
            queue.start()
        self.recorder.load(self.store)
        for informer in self.informers:
            self._started.append(informer.stop)
            informer.start()
        if self.settings.freeze_gc:
            gc.freeze()  # no collect first: it costs a tenth of a second, and finds little
        for loop in (self.placer, self.task_workers, self.node_workers):
            self._started.append(loop.stop)
            loop.start()
        self._started.append(self._resync.stop)
        self._resync.start()
        metrics = self._metrics
        metrics.queue_depth.labels("tasks").set_function(lambda: len(self.task_queue))
        metrics.queue_depth.labels("nodes").set_function(lambda: len(self.node_queue))
        metrics.nodes.labels("true").set_function(lambda: len(self.state.infos))
        self.ready.set()
        log.info(
            "leading with epoch %d: %d tasks, %d nodes",
            self.leadership.epoch,
            len(self.state.tasks),
            len(self.state.infos),
        )

    def stop(self) -> None:
        """Stop every loop this session started, the last started first."""
        while self._started:
            stop = self._started.pop()
            try:
                stop()
            except Exception:
                log.exception("stopping the controller session")
        for queue in ("tasks", "nodes"):
            self._metrics.queue_depth.labels(queue).set(0)
        self._metrics.nodes.labels("true").set(0)

    def settled(self) -> bool:
        """Nothing to do right now (keys delayed until later aside): queues idle, nothing
        waiting for a node, everything written."""
        return (
            self.ready.is_set()
            and not self.task_queue.busy()
            and self.placer.pending() == 0
            and not self.node_queue.busy()
            and self.committer.idle()
        )

    def _run_resync(self, stop: threading.Event) -> None:
        while not self._clock.wait(stop, self.settings.resync):
            for informer in self.informers:
                if not informer.watches:
                    try:
                        informer.relist()
                    except ShoalError as exc:
                        log.warning("resync: cannot list %s: %s", informer.prefix, exc)
            with self.state.locked():
                tasks = sorted(self.state.task_keys())
                nodes = sorted(self.state.node_names())
            log.debug("resync: %d tasks, %d nodes", len(tasks), len(nodes))
            self.task_queue.add_all(tasks)
            self.node_queue.add_all(nodes)


class Controller:
    """Campaigns for leadership and, while leading, runs a `Session`."""

    def __init__(
        self,
        store: Store,
        keys: Keys,
        settings: ControllerSettings | None = None,
        *,
        clock: Clock | None = None,
        metrics: ControllerMetrics | None = None,
    ) -> None:
        self.settings = settings or ControllerSettings()
        if self.settings.scheduler not in POLICIES:
            raise ValueError(
                f"unknown scheduler {self.settings.scheduler!r} (choose from {', '.join(POLICIES)})"
            )
        self.store = store
        self.keys = keys
        self.identity = self.settings.identity or default_identity()
        self._clock = clock or SystemClock()
        self.metrics = metrics or ControllerMetrics()
        self._lock = threading.Lock()
        self._session: Session | None = None
        self._elector = LeaderElector(
            store,
            keys.leader(),
            self.identity,
            self.settings.leader,
            on_started=self._started,
            on_stopped=self._stopped,
            clock=self._clock,
        )

    @property
    def session(self) -> Session | None:
        """The running session while this controller leads, else None."""
        with self._lock:
            return self._session

    @property
    def leading(self) -> bool:
        return self.session is not None

    def start(self) -> Controller:
        log.info("controller %s starting (scheduler %s)", self.identity, self.settings.scheduler)
        self._elector.start()
        return self

    def stop(self, *, release: bool = True) -> None:
        """Stop everything; with `release` the leader key is given up so another controller
        takes over at once (without, as when a controller dies, it waits for the lease)."""
        self._elector.stop(release=release)
        log.info("controller %s stopped", self.identity)

    def is_alive(self) -> bool:
        return self._elector.is_alive()

    def health(self) -> tuple[bool, str]:
        if not self._elector.is_alive():
            return False, "stopped"
        return True, "leading" if self.leading else "following"

    def _started(self, leadership: Leadership, lose: Lose) -> None:
        session = Session(
            self.store,
            self.keys,
            leadership,
            lose,
            self.settings,
            clock=self._clock,
            metrics=self.metrics,
        )
        with self._lock:
            self._session = session
        try:
            session.start()
        except BaseException:
            session.stop()
            with self._lock:
                self._session = None
            raise
        self.metrics.leader.set(1)

    def _stopped(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        self.metrics.leader.set(0)
        if session is not None:
            session.stop()
