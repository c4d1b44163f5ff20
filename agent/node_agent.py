"""The node agent: registration, metrics, the bindings watch, the engine's events, a resync
and the task reconcilers, put together and started and stopped as one.

    agent = NodeAgent(store, keys, runtime, AgentSettings(node="n1")).start()
    ...
    agent.stop()

What wakes a task's reconcile, and why each is there:
- the watch of `/shoal/bindings/<node>/` (core's watch resumes by itself after etcd drops);
- the engine's event stream (a container that dies or is removed behind the agent's back is
  noticed within about a second), re-subscribed with back-off when the engine goes away;
- a full resync every `resync_interval`: every key bound, running or reported is queued, the
  safety net for anything a stream missed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from agent.instruments import AgentInstruments
from agent.procfs import MetricsSampler
from agent.reconciling import TaskReconciler
from agent.registering import Registration
from agent.runtime import LABEL_NODE, LABEL_TASK, Runtime, RuntimeFailure
from agent.serving import AgentServer
from agent.settings import AgentSettings
from agent.specs import node_selector
from core.clock import Clock, SystemClock
from core.errors import ShoalError
from core.keys import Keys
from core.reconciling import Workers
from core.store import Store, Watcher
from core.supervise import Backoff, Supervised
from core.workqueue import ExponentialRateLimiter, WorkQueue
from schemas.node import NodeMetrics

log = logging.getLogger(__name__)

VERSION = "0.1.0"

_OUR_OWN = frozenset({"create", "start"})
"""Events that follow the agent's own actions (it creates and starts containers; nobody else
should): reacting to them would only make the engine describe again what it just said. What
happens behind the agent's back (die, oom, kill, stop, destroy) wakes the task at once; a
container started by hand is seen at the next resync."""


class NodeAgent:
    def __init__(
        self,
        store: Store,
        keys: Keys,
        runtime: Runtime,
        settings: AgentSettings,
        *,
        clock: Clock | None = None,
        sampler: MetricsSampler | None = None,
    ) -> None:
        self.settings = settings
        self.node = settings.node
        self._store = store
        self._keys = keys
        self._runtime = runtime
        self._clock = clock or SystemClock()
        self._sampler = sampler
        self.instruments = AgentInstruments(settings.node)
        self.queue: WorkQueue[str] = WorkQueue(
            f"agent {settings.node}",
            clock=self._clock,
            rate_limiter=ExponentialRateLimiter(0.2, 30.0),
        )
        self.reconciler = TaskReconciler(
            store=store,
            keys=keys,
            runtime=runtime,
            node=settings.node,
            host_ip=settings.address,
            clock=self._clock,
            backoff=settings.backoff,
            instruments=self.instruments,
            queue=self.queue,
        )
        self._workers = Workers(
            f"agent {self.node}",
            self.queue,
            self.reconciler,
            settings.workers,
            clock=self._clock,
        )
        self.server = (
            AgentServer(
                settings.listen,
                registry=self.instruments.registry,
                healthy=self._healthz,
                logs=self._logs,
            )
            if settings.listen is not None
            else None
        )
        self.registration = Registration(
            store,
            keys,
            runtime,
            settings,
            self._clock,
            agent_url=lambda: self.server.url if self.server is not None else None,
            version=VERSION,
        )
        self._loops = [
            Supervised(f"engine events {self.node}", self._follow_engine, clock=self._clock),
            Supervised(f"resync {self.node}", self._resync, clock=self._clock),
            Supervised(f"metrics {self.node}", self._publish_metrics, clock=self._clock),
        ]
        self._watch: Watcher | None = None
        self._engine_ok = threading.Event()

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> NodeAgent:
        if self.server is not None:
            self.server.start()
        self.registration.start()
        self.queue.start()
        self._workers.start()
        self._watch = self._store.watch(self._keys.node_bindings(self.node), None, self.reconciler)
        for loop in self._loops:
            loop.start()
        log.info(
            "agent %s started (address %s%s)",
            self.node,
            self.settings.address,
            f", http {self.server.url}" if self.server is not None else "",
        )
        return self

    def stop(self) -> None:
        for loop in self._loops:
            loop.stop_event.set()
        if self._watch is not None:
            self._watch.stop()
        for loop in self._loops:
            loop.stop()
        self._workers.stop()  # shuts the queue down too
        self.reconciler.health.stop()
        if self.settings.remove_containers_on_stop:
            self._remove_all_containers()
        self.registration.stop(revoke=True)
        if self.server is not None:
            self.server.stop()
        log.info("agent %s stopped", self.node)

    # --- loops ---------------------------------------------------------------------------------

    def _follow_engine(self, stop: threading.Event) -> None:
        backoff = Backoff(0.2, 10.0)
        failing = False
        while not stop.is_set():
            try:
                events = self._runtime.events(stop, node_selector(self.node))
                if failing:
                    log.info("agent %s: container engine answers again", self.node)
                    self._queue_everything()  # events were missed meanwhile
                failing = False
                backoff.reset()
                self._engine_ok.set()
                for event in events:
                    if event.action in _OUR_OWN:
                        continue
                    key = event.labels.get(LABEL_TASK)
                    if key and event.labels.get(LABEL_NODE) == self.node:
                        self.queue.add(key)
            except RuntimeFailure as exc:
                self._engine_ok.clear()
                if not failing:
                    log.warning(
                        "agent %s: container engine unreachable (%s); retrying", self.node, exc
                    )
                    failing = True
                self._clock.wait(stop, backoff.next())

    def _resync(self, stop: threading.Event) -> None:
        failing = False
        while not stop.is_set():
            try:
                self._queue_everything()
                if failing:
                    log.info("agent %s: resync works again", self.node)
                failing = False
            except (ShoalError, RuntimeFailure) as exc:
                if not failing:
                    log.warning("agent %s: resync failed (%s); will retry", self.node, exc)
                    failing = True
            self._clock.wait(stop, self.settings.resync_interval)

    def _queue_everything(self) -> None:
        keys = self.reconciler.known_keys()
        keys |= self.reconciler.adopt_reports(
            self._store.list(self._keys.node_task_reports(self.node))
        )
        for info in self._runtime.list(node_selector(self.node)):
            key = info.labels.get(LABEL_TASK)
            if key:
                keys.add(key)
        for key in keys:
            self.queue.add(key)

    def _publish_metrics(self, stop: threading.Event) -> None:
        sampler = self._sampler or MetricsSampler()
        failing = False
        while not stop.is_set():
            lease = self.registration.lease
            if lease is not None:
                try:
                    sample = sampler.sample()
                    metrics = NodeMetrics.model_validate(sample.to_json_dict())
                    self._store.put(
                        self._keys.node_metrics(self.node),
                        metrics.model_dump_json().encode(),
                        lease,
                    )
                    failing = False
                except (ShoalError, OSError) as exc:
                    if not failing:
                        log.warning("agent %s: cannot publish metrics (%s)", self.node, exc)
                        failing = True
            self._clock.wait(stop, self.settings.metrics_interval)

    # --- HTTP ---------------------------------------------------------------------------------

    def _healthz(self) -> tuple[bool, str]:
        if not self.registration.registered.is_set():
            return False, f"node {self.node} is not registered with etcd"
        if not self._engine_ok.is_set():
            return False, "the container engine does not answer"
        return True, "ok"

    def _logs(self, key: str, tail: int | None, follow: bool) -> Iterator[bytes] | None:
        containers = self._runtime.list({LABEL_NODE: self.node, LABEL_TASK: key})
        if not containers:
            return None
        newest = max(
            containers,
            key=lambda c: (c.running, c.started_at.timestamp() if c.started_at else 0.0),
        )
        return self._runtime.logs(newest.id, tail=tail, follow=follow)

    def _remove_all_containers(self) -> None:
        try:
            containers = self._runtime.list(node_selector(self.node))
        except RuntimeFailure as exc:
            log.warning("agent %s: cannot list containers to remove (%s)", self.node, exc)
            return
        for info in containers:
            try:
                self._runtime.remove(info.id, force=True)
            except RuntimeFailure as exc:
                log.warning("agent %s: cannot remove %s (%s)", self.node, info.name, exc)
        if containers:
            log.info("agent %s: removed %d container(s)", self.node, len(containers))
