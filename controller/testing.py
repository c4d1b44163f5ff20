"""Test support for the controller: simulated agents and a cluster over the in-memory store.

A `SimAgent` keeps the controller-agent contract (docs/ARCHITECTURE.md) the way a node agent
would, without containers: it registers its node on a lease, watches its bindings and writes
`TaskReport`s. A new binding (or generation) is reported Running at once when `auto`; a removed
binding makes it delete its report (it has "stopped the container"), unless `hold_stops`
keeps the report until `finish_stop`. The test drives the rest: `exit` (with the restart
policy's consequence: Exited, or Waiting/BackOff), `run` (a restart), `fail_start`. `kill()`
revokes the node's lease, as the lease of an agent that died runs out.

`Cluster` holds the store, the clock, the agents and the controllers, with helpers to apply,
change and delete tasks the way `shoal apply` writes them, and to read what the controller
wrote; `close()` stops everything it started.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controller.manager import Controller
from controller.settings import ControllerSettings, LeaderTimings
from core.clock import Clock, SystemClock
from core.keys import Keys
from core.memory_store import MemoryStore
from core.store import EventType, Listing, Store, Watcher, WatchEvent
from core.testing import wait_until
from core.typed_store import decode_model, get_model, put_model
from schemas.binding import Binding, ContainerPhase, TaskReport
from schemas.events import TaskEvent
from schemas.node import NodeInfo, NodeStatus
from schemas.placement import Placement
from schemas.spec import Resources, RestartPolicy, TaskSpec
from schemas.states import TaskState
from schemas.task import Task, TaskStatus, new_task

__all__ = ["GI", "LONG_LEADER", "MI", "Cluster", "SimAgent", "new_cluster"]

GI = 2**30
MI = 2**20

LONG_LEADER = LeaderTimings(lease=3600, renew=1800, retry=600)
"""For tests on a FakeClock: the leader never has to renew while the test moves time on."""


class SimAgent:
    def __init__(
        self,
        store: Store,
        keys: Keys,
        name: str,
        *,
        cpu: float = 4,
        memory: int = 8 * GI,
        disk: int = 100 * GI,
        labels: dict[str, str] | None = None,
        auto: bool = True,
        ttl: int = 3600,
    ) -> None:
        self.store = store
        self.keys = keys
        self.name = name
        self.capacity = Resources(cpu=cpu, memory=memory, disk=disk)
        self.labels = labels or {}
        self.auto = auto
        self.ttl = ttl
        self.hold_stops = False
        self.bindings: dict[str, Binding] = {}
        self.seen: list[tuple[str, str, int]] = []  # (PUT|DELETE, task, generation)
        self._lock = threading.Lock()
        self._watch: Watcher | None = None
        self.lease = 0

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> SimAgent:
        self.register()
        self._watch = self.store.watch(self.keys.node_bindings(self.name), None, self)
        return self

    def register(self) -> None:
        self.lease = self.store.grant_lease(self.ttl)
        info = NodeInfo(
            name=self.name,
            address="127.0.0.1",
            labels=self.labels,
            capacity=self.capacity,
            runtime="fake 1.0",
            version="test",
            startedAt=datetime.now(UTC),
        )
        put_model(self.store, self.keys.node_info(self.name), info, lease=self.lease)

    def kill(self) -> None:
        """The agent dies: it stops acting and its lease goes (here at once)."""
        self.stop()
        self.store.revoke_lease(self.lease)

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    # -- the bindings watch ------------------------------------------------------------

    def on_relist(self, listing: Listing) -> None:
        with self._lock:
            old = set(self.bindings)
            self.bindings = {}
            for kv in listing.items:
                binding = decode_model(kv.key, kv.value, Binding)
                self.bindings[binding.key] = binding
        for key in old - set(self.bindings):
            self._unbound(key)
        for binding in list(self.bindings.values()):
            self._bound(binding)

    def on_events(self, events: Sequence[WatchEvent]) -> None:
        for event in events:
            ref = self.keys.parse_binding(event.key)
            assert ref is not None
            key = f"{ref.namespace}/{ref.name}"
            if event.type is EventType.PUT:
                binding = decode_model(event.key, event.value, Binding)
                with self._lock:
                    self.bindings[key] = binding
                    self.seen.append(("PUT", key, binding.generation))
                self._bound(binding)
            else:
                with self._lock:
                    self.bindings.pop(key, None)
                    self.seen.append(("DELETE", key, 0))
                self._unbound(key)

    def _bound(self, binding: Binding) -> None:
        if not self.auto:
            return
        current = self.report_of(binding.key)
        if current is not None and current.generation == binding.generation:
            return
        self.run(binding.key)

    def _unbound(self, key: str) -> None:
        if not self.hold_stops:
            self.finish_stop(key)

    # -- what the test makes the "containers" do ---------------------------------------

    def report_key(self, task: str) -> str:
        namespace, _, name = task.partition("/")
        return self.keys.node_task_report(self.name, namespace, name)

    def report_of(self, task: str) -> TaskReport | None:
        stored = get_model(self.store, self.report_key(task), TaskReport)
        return stored.model if stored is not None else None

    def binding(self, task: str) -> Binding:
        with self._lock:
            return self.bindings[task]

    def report(self, task: str, **fields: Any) -> None:
        fields.setdefault("generation", self.binding(task).generation)
        put_model(self.store, self.report_key(task), TaskReport(**fields))

    def creating(self, task: str) -> None:
        self.report(task, state=ContainerPhase.Waiting, reason="ContainerCreating")

    def run(self, task: str, *, restarts: int = 0, healthy: bool | None = None) -> None:
        self.report(
            task,
            state=ContainerPhase.Running,
            containerId=f"c-{uuid.uuid4().hex[:8]}",
            startTime=datetime.now(UTC),
            restartCount=restarts,
            healthy=healthy,
        )

    def exit(self, task: str, code: int, *, restarts: int = 0, oom: bool = False) -> None:
        """The container ended; its restart policy says whether it is restarted (BackOff)."""
        policy = self.binding(task).spec.restartPolicy
        again = policy is RestartPolicy.Always or (policy is RestartPolicy.OnFailure and code != 0)
        common: dict[str, Any] = {
            "exitCode": code,
            "oomKilled": oom,
            "finishTime": datetime.now(UTC),
            "restartCount": restarts,
        }
        if again:
            self.report(
                task,
                state=ContainerPhase.Waiting,
                reason="BackOff",
                message="restarting in 10s",
                **common,
            )
        else:
            reason = "OOMKilled" if oom else ("Completed" if code == 0 else "Error")
            self.report(task, state=ContainerPhase.Exited, reason=reason, **common)

    def fail_start(self, task: str, reason: str = "ImageNotFound", message: str = "") -> None:
        self.report(task, state=ContainerPhase.Waiting, reason=reason, message=message)

    def finish_stop(self, task: str) -> None:
        """The container is stopped and removed: delete the report."""
        self.store.delete(self.report_key(task))


@dataclass
class Cluster:
    store: MemoryStore
    keys: Keys
    clock: Clock
    agents: dict[str, SimAgent] = field(default_factory=dict)
    controllers: list[Controller] = field(default_factory=list)

    # -- nodes and controllers ---------------------------------------------------------

    def add_node(self, name: str, **kwargs: Any) -> SimAgent:
        agent = SimAgent(self.store, self.keys, name, **kwargs).start()
        self.agents[name] = agent
        return agent

    def settings(self, **overrides: Any) -> ControllerSettings:
        defaults: dict[str, Any] = {
            "seed": 1,
            "node_grace": 30.0,
            "leader": LeaderTimings(lease=3, renew=2, retry=0.2)
            if isinstance(self.clock, SystemClock)
            else LONG_LEADER,
            "unschedulable_debounce": 0.0,
            "node_status_delay": 0.05,
        }
        defaults.update(overrides)
        return ControllerSettings(**defaults)

    def start_controller(self, **overrides: Any) -> Controller:
        controller = Controller(self.store, self.keys, self.settings(**overrides), clock=self.clock)
        self.controllers.append(controller)
        controller.start()
        return controller

    def leader(self, timeout: float = 10.0) -> Controller:
        wait_until(lambda: any(c.session is not None for c in self.controllers), timeout)
        return next(c for c in self.controllers if c.session is not None)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until the leading controller has nothing left to do right now."""

        def settled() -> bool:
            for c in self.controllers:
                session = c.session
                if session is not None:
                    return session.settled()
            return False

        wait_until(settled, timeout, what="the controller to settle")

    # -- tasks, as `shoal apply` writes them -------------------------------------------

    def apply(self, name: str, namespace: str = "default", **spec: Any) -> Task:
        spec.setdefault("image", "shoal-busybox:latest")
        spec.setdefault("resources", Resources(cpu=0.1, memory=64 * MI))
        task_spec = TaskSpec(**spec)
        key = self.keys.task(namespace, name)
        current = get_model(self.store, key, Task)
        if current is None:
            task = new_task(name, task_spec, namespace=namespace)
            meta = task.metadata.model_copy(
                update={
                    "uid": uuid.uuid4().hex,
                    "generation": 1,
                    "creationTimestamp": self.clock.now(),
                }
            )
        else:
            task = current.model.model_copy(update={"spec": task_spec})
            generation = current.model.metadata.generation or 1
            if current.model.spec != task_spec:
                generation += 1
            meta = task.metadata.model_copy(update={"generation": generation})
        task = task.model_copy(update={"metadata": meta})
        self.store.put(key, task.model_dump_json(exclude_none=True).encode())
        return task

    def change(self, name: str, namespace: str = "default", **changes: Any) -> Task:
        current = get_model(self.store, self.keys.task(namespace, name), Task)
        assert current is not None
        spec = current.model.spec.model_dump()
        spec.update(
            {k: v.model_dump() if hasattr(v, "model_dump") else v for k, v in changes.items()}
        )
        return self.apply(name, namespace, **spec)

    def delete(self, name: str, namespace: str = "default") -> None:
        self.store.delete(self.keys.task(namespace, name))

    # -- what the controller wrote -----------------------------------------------------

    def status(self, name: str, namespace: str = "default") -> TaskStatus | None:
        stored = get_model(self.store, self.keys.task_status(namespace, name), TaskStatus)
        return stored.model if stored is not None else None

    def state(self, name: str, namespace: str = "default") -> TaskState | None:
        status = self.status(name, namespace)
        return status.state if status is not None else None

    def bindings(self, name: str, namespace: str = "default") -> dict[str, Binding]:
        found = {}
        for kv in self.store.list(self.keys.bindings()).items:
            ref = self.keys.parse_binding(kv.key)
            if ref is not None and (ref.namespace, ref.name) == (namespace, name):
                found[ref.node] = decode_model(kv.key, kv.value, Binding)
        return found

    def node_of(self, name: str, namespace: str = "default") -> str | None:
        found = self.bindings(name, namespace)
        assert len(found) <= 1, f"{namespace}/{name} is bound to {sorted(found)}"
        return next(iter(found), None)

    def events(self, name: str, namespace: str = "default") -> list[TaskEvent]:
        listing = self.store.list(self.keys.task_events(namespace, name))
        return [decode_model(kv.key, kv.value, TaskEvent) for kv in listing.items]

    def transitions(self, name: str, namespace: str = "default") -> list[tuple[str, str]]:
        return [
            (str(e.fromState), str(e.toState))
            for e in self.events(name, namespace)
            if e.toState is not None
        ]

    def placement(self, name: str, namespace: str = "default") -> Placement | None:
        stored = get_model(self.store, self.keys.placement(namespace, name), Placement)
        return stored.model if stored is not None else None

    def node_status(self, node: str) -> NodeStatus | None:
        stored = get_model(self.store, self.keys.node_status(node), NodeStatus)
        return stored.model if stored is not None else None

    def wait_state(
        self, name: str, state: TaskState, timeout: float = 10.0, namespace: str = "default"
    ) -> TaskStatus:
        wait_until(
            lambda: self.state(name, namespace) == state,
            timeout,
            what=f"{namespace}/{name} to be {state} (it is {self.state(name, namespace)})",
        )
        status = self.status(name, namespace)
        assert status is not None
        return status

    def wait(self, predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        wait_until(predicate, timeout, what=what)

    def close(self) -> None:
        for controller in self.controllers:
            controller.stop()
        for agent in self.agents.values():
            agent.stop()
        self.store.close()


def new_cluster(clock: Clock) -> Cluster:
    """A cluster over a fresh MemoryStore on `clock`, under a prefix of its own."""
    return Cluster(MemoryStore(clock), Keys(f"/t-{uuid.uuid4().hex[:8]}"), clock)
