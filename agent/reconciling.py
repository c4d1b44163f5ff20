"""The agent's reconciler: for one task key, make the engine match the binding and report it.

`reconcile(key)` is level-based: it never sees the event that woke it. It reads the binding
from the watch's cache, lists the task's containers on this node, asks `plan_task` what to do,
has the `Executor` do it, and looks again (at most a few rounds) until the plan only keeps
things as they are; then it writes the task's report if the report changed, starts or stops
health checks, and returns when to look again (a back-off falling due), or None.

Everything else only queues keys: the bindings watch, the engine's event stream, health
verdicts and the periodic resync.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace as dc_replace

from agent.executing import Executor
from agent.health import HealthMonitor
from agent.instruments import AgentInstruments
from agent.plan import BackoffPolicy, Keep, Seen, TaskMemory, TaskPlan, plan_task
from agent.runtime import LABEL_NODE, LABEL_TASK, ContainerInfo, Runtime
from agent.specs import Identity
from core.clock import Clock
from core.keys import Keys
from core.reconciling import Result
from core.store import EventType, KeyValue, Listing, Store, WatchEvent
from core.typed_store import encode_model
from core.workqueue import WorkQueue
from schemas.binding import Binding, ContainerPhase, TaskReport

log = logging.getLogger(__name__)

MAX_ROUNDS = 3  # plan-act rounds per reconcile; the next reconcile picks up the rest


class TaskReconciler:
    def __init__(
        self,
        *,
        store: Store,
        keys: Keys,
        runtime: Runtime,
        node: str,
        host_ip: str,
        clock: Clock,
        backoff: BackoffPolicy,
        instruments: AgentInstruments,
        queue: WorkQueue[str],
    ) -> None:
        self._store = store
        self._keys = keys
        self._runtime = runtime
        self.node = node
        self._clock = clock
        self._backoff = backoff
        self._instruments = instruments
        self._queue = queue
        self._executor = Executor(runtime, node, host_ip, clock, instruments)
        self.health = HealthMonitor(runtime, self.on_verdict, clock=clock)
        self._lock = threading.Lock()
        self._bindings: dict[str, Binding] = {}
        self._memory: dict[str, TaskMemory] = {}
        self._reports: dict[str, TaskReport] = {}

    # --- what wakes it: every entry point only records and queues -------------------------

    def on_relist(self, listing: Listing) -> None:
        """The bindings watch started over: replace the whole cache."""
        fresh = dict(self._decode(kv) for kv in listing.items)
        fresh.pop("", None)
        with self._lock:
            touched = set(self._bindings) | set(fresh)
            self._bindings = {k: b for k, b in fresh.items() if b is not None}
            self._instruments.bound(len(self._bindings))
        self._enqueue(touched)

    def on_events(self, events: Sequence[WatchEvent]) -> None:
        touched: set[str] = set()
        with self._lock:
            for event in events:
                ref = self._keys.parse_binding(event.key)
                if ref is None:
                    continue
                key = f"{ref.namespace}/{ref.name}"
                touched.add(key)
                if event.type is EventType.DELETE:
                    self._bindings.pop(key, None)
                    continue
                binding = self._parse(event.key, event.value)
                if binding is not None:
                    self._bindings[key] = binding
            self._instruments.bound(len(self._bindings))
        self._enqueue(touched)

    def on_verdict(self, key: str, container_id: str, healthy: bool, message: str) -> None:
        """A health check's verdict changed: remember it and look at the task again."""
        with self._lock:
            memory = self._memory.get(key, TaskMemory())
            unhealthy = dict(memory.unhealthy)
            if not healthy:
                unhealthy[container_id] = message
                self._instruments.failed("Unhealthy")
                log.warning("%s: container %s is unhealthy: %s", key, container_id[:12], message)
            self._memory[key] = dc_replace(
                memory, healthy={**memory.healthy, container_id: healthy}, unhealthy=unhealthy
            )
        self._queue.add(key)

    def adopt_reports(self, listing: Listing) -> set[str]:
        """Reports found in etcd (written by an earlier run): known, so they can be deleted."""
        found: set[str] = set()
        for kv in listing.items:
            ref = self._keys.parse_node_task_report(kv.key)
            if ref is None or ref.node != self.node:
                continue
            key = f"{ref.namespace}/{ref.name}"
            found.add(key)
            with self._lock:
                if key not in self._reports:
                    try:
                        self._reports[key] = TaskReport.model_validate_json(kv.value)
                    except ValueError:
                        log.warning("%s: unreadable report in etcd; it will be rewritten", key)
                        self._reports[key] = TaskReport(
                            state=ContainerPhase.Waiting, generation=1, reason="Unknown"
                        )
        return found

    def known_keys(self) -> set[str]:
        with self._lock:
            return set(self._bindings) | set(self._reports) | set(self._memory)

    def binding(self, key: str) -> Binding | None:
        with self._lock:
            return self._bindings.get(key)

    def report(self, key: str) -> TaskReport | None:
        with self._lock:
            return self._reports.get(key)

    # --- the reconcile --------------------------------------------------------------------

    def reconcile(self, key: str) -> Result:
        started = self._clock.monotonic()
        try:
            again = self._reconcile(key)
        except Exception:
            self._instruments.reconciled("error", self._clock.monotonic() - started)
            raise
        self._instruments.reconciled("ok", self._clock.monotonic() - started)
        return Result.done() if again is None else Result.again(again)

    def _reconcile(self, key: str) -> float | None:
        selector = {LABEL_NODE: self.node, LABEL_TASK: key}
        result: TaskPlan | None = None
        containers: list[ContainerInfo] = []
        known: list[ContainerInfo] | None = None  # the engine's view after our own actions
        for _ in range(MAX_ROUNDS):
            binding = self.binding(key)
            containers = known if known is not None else self._runtime.list(selector)
            memory = self._tidy_memory(key, containers)
            result = plan_task(key, binding, containers, memory, self._clock.now(), self._backoff)
            active = [a for a in result.actions if not isinstance(a, Keep)]
            if not active:
                break
            view: list[ContainerInfo] | None = list(containers)
            for action in active:
                done = self._executor.run(action, memory)
                memory = done.memory
                with self._lock:
                    self._memory[key] = memory
                if view is None or not done.known:
                    view = None
                    continue
                view = [c for c in view if c.id != done.removed]
                if done.started is not None:
                    view.append(done.started)
            # What create_and_start and remove told us is the engine's state: no list needed.
            known = view
        assert result is not None
        self._remember_container(key, result, containers)
        self._follow_health(key, result, containers)
        self._write_report(key, result.report)
        if result.report is None:
            with self._lock:
                self._memory.pop(key, None)
        return result.recheck_after

    def _tidy_memory(self, key: str, containers: Sequence[ContainerInfo]) -> TaskMemory:
        """The task's memory, without what concerned containers that no longer exist."""
        ids = {c.id for c in containers}
        with self._lock:
            memory = self._memory.get(key, TaskMemory())
            if set(memory.unhealthy) - ids or set(memory.healthy) - ids:
                memory = dc_replace(
                    memory,
                    unhealthy={k: v for k, v in memory.unhealthy.items() if k in ids},
                    healthy={k: v for k, v in memory.healthy.items() if k in ids},
                )
                self._memory[key] = memory
            return memory

    def _remember_container(
        self, key: str, result: TaskPlan, containers: Sequence[ContainerInfo]
    ) -> None:
        report = result.report
        current = next(
            (c for c in containers if report is not None and c.id == report.containerId), None
        )
        ident = Identity.of(current) if current is not None else None
        if current is None or ident is None:
            return
        seen = Seen(
            current.id,
            ident.uid,
            ident.generation,
            ident.restarts,
            ident.backoff,
            self._clock.now(),
        )
        with self._lock:
            memory = self._memory.get(key, TaskMemory())
            self._memory[key] = dc_replace(memory, last=seen)

    def _follow_health(
        self, key: str, result: TaskPlan, containers: Sequence[ContainerInfo]
    ) -> None:
        report = result.report
        binding = self.binding(key)
        check = binding.spec.healthCheck if binding is not None else None
        running = next(
            (c for c in containers if report is not None and c.id == report.containerId), None
        )
        if (
            check is not None
            and report is not None
            and report.state is ContainerPhase.Running
            and running is not None
            and running.running
        ):
            self.health.ensure(key, running.id, check, running.ip_address)
        else:
            self.health.drop(key)

    def _write_report(self, key: str, report: TaskReport | None) -> None:
        namespace, _, name = key.partition("/")
        path = self._keys.node_task_report(self.node, namespace, name)
        with self._lock:
            previous = self._reports.get(key)
        if report == previous:
            return
        if report is None:
            self._store.delete(path)
            log.info("%s: container gone; report removed", key)
            with self._lock:
                self._reports.pop(key, None)
            return
        self._store.put(path, encode_model(report))
        with self._lock:
            self._reports[key] = report
        self._log_change(key, previous, report)

    def _log_change(self, key: str, old: TaskReport | None, new: TaskReport) -> None:
        exited_now = (new.exitCode not in (None, 0) or new.oomKilled) and (
            old is None or (old.containerId, old.exitCode) != (new.containerId, new.exitCode)
        )
        if exited_now:
            self._instruments.failed("OOMKilled" if new.oomKilled else "NonZeroExit")
        if old is not None and (old.state, old.reason, old.containerId) == (
            new.state,
            new.reason,
            new.containerId,
        ):
            return
        detail = f" ({new.reason})" if new.reason else ""
        code = f", exit code {new.exitCode}" if new.exitCode is not None else ""
        log.info("%s: %s%s%s", key, new.state.value, detail, code)

    # --- helpers --------------------------------------------------------------------------

    def _enqueue(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._queue.add(key)

    def _decode(self, kv: KeyValue) -> tuple[str, Binding | None]:
        ref = self._keys.parse_binding(kv.key)
        if ref is None:
            return "", None
        return f"{ref.namespace}/{ref.name}", self._parse(kv.key, kv.value)

    def _parse(self, key: str, value: bytes) -> Binding | None:
        try:
            return Binding.model_validate_json(value)
        except ValueError as exc:
            log.error("%s: not a valid binding, ignored: %s", key, str(exc).splitlines()[0])
            return None
