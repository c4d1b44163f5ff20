"""The controller's picture of the cluster: every cache, the indexes over them, and who to tell.

`ClusterState` holds the caches that the informers fill (tasks, bindings, task statuses,
node infos, metrics, agents' task reports, node statuses) and the indexes built from them as
they change: bindings and reports by task, tasks by node, what each node has allocated, and
the `NodeView`s the scheduler reads. The reconcilers read it and assume their own writes in
it (see `controller.cache`), under one lock: `with state.locked(): ...`.

Changes are turned into notes (which tasks and nodes to look at again, whether room was freed
on some node) and handed to the `Listener` after the lock is released; the listener only
enqueues keys.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from controller.allocations import Allocations, NodeUse, Use, use_of
from controller.cache import Cache, Change
from controller.snapshot import Amounts, NodeView
from core.keys import Keys
from core.store import Delete, EventType, Listing, Put, WatchEvent, WriteOp
from core.typed_store import encode_model
from schemas.binding import Binding, ContainerPhase, TaskReport
from schemas.node import NodeInfo, NodeMetrics, NodeStatus
from schemas.task import Task, TaskStatus

__all__ = ["ClusterState", "Listener", "NodeHealth", "split_task_key"]

NodeTask = tuple[str, str]  # (node, "<ns>/<name>")


def split_task_key(key: str) -> tuple[str, str]:
    namespace, _, name = key.partition("/")
    return namespace, name


class Listener(Protocol):
    def tasks_changed(self, keys: set[str]) -> None:
        """These tasks' inputs changed (someone else's write, or an agent's report)."""
        ...

    def tasks_created(self, keys: set[str]) -> None:
        """These tasks are new, with nothing bound, reported or written for them yet: all
        they can need is a node (the scheduling pass plans them itself)."""
        ...

    def nodes_changed(self, nodes: set[str]) -> None:
        """These nodes registered, went away, or their status was changed by someone else."""
        ...

    def allocations_changed(self, nodes: set[str]) -> None:
        """What these nodes have allocated changed."""
        ...

    def room_changed(self) -> None:
        """A node came, changed, or has more room: unschedulable tasks may fit now."""
        ...


@dataclass
class _Notes:
    tasks: set[str] = field(default_factory=set)
    created: set[str] = field(default_factory=set)
    nodes: set[str] = field(default_factory=set)
    allocations: set[str] = field(default_factory=set)
    room: bool = False

    def __bool__(self) -> bool:
        return bool(self.tasks or self.created or self.nodes or self.allocations or self.room)


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """Whether a node is ready, and if not, since when (None: not known to be NotReady yet)."""

    ready: bool
    not_ready_since: datetime | None = None

    def lost_for(self, now: datetime) -> float:
        """Seconds the node has been NotReady (0 when ready or only just found NotReady)."""
        if self.ready or self.not_ready_since is None:
            return 0.0
        return max(0.0, (now - self.not_ready_since).total_seconds())


class ClusterState:
    def __init__(self, keys: Keys, listener: Listener | None = None) -> None:
        self.keys = keys
        self.listener = listener
        self._lock = threading.Lock()
        self.tasks: Cache[str, Task] = Cache(Task, "task")
        self.statuses: Cache[str, TaskStatus] = Cache(TaskStatus, "task status")
        self.bindings: Cache[NodeTask, Binding] = Cache(Binding, "binding")
        self.reports: Cache[NodeTask, TaskReport] = Cache(TaskReport, "task report")
        self.infos: Cache[str, NodeInfo] = Cache(NodeInfo, "node info")
        self.metrics: Cache[str, NodeMetrics] = Cache(NodeMetrics, "node metrics")
        self.node_statuses: Cache[str, NodeStatus] = Cache(NodeStatus, "node status")
        self.allocations = Allocations()
        self._bindings_by_task: dict[str, dict[str, Binding]] = {}
        self._tasks_by_node: dict[str, set[str]] = {}
        self._reports_by_task: dict[str, dict[str, TaskReport]] = {}
        self._last_info: dict[str, NodeInfo] = {}  # nodes whose info key went away
        self._views: dict[str, NodeView] = {}
        self._committed: deque[tuple[Sequence[str], int]] = deque()
        self._in_flight: dict[str, tuple[Cache[Any, Any], Hashable]] = {}
        self._notes = _Notes()
        self._prefix_caches: dict[str, list[Cache[Any, Any]]] = {
            keys.tasks(): [self.tasks],
            keys.bindings(): [self.bindings],
            keys.task_statuses(): [self.statuses],
            keys.node_statuses(): [self.node_statuses],
            keys.nodes(): [self.infos, self.metrics, self.reports],
        }
        self._hooks: dict[int, Callable[[Any], None]] = {
            id(self.tasks): self._task_changed,
            id(self.statuses): self._status_changed,
            id(self.bindings): self._binding_changed,
            id(self.reports): self._report_changed,
            id(self.infos): self._info_changed,
            id(self.metrics): self._metrics_changed,
            id(self.node_statuses): self._node_status_changed,
        }

    def prefixes(self) -> list[str]:
        """The prefixes to list and watch to fill this state."""
        return list(self._prefix_caches)

    # -- locking -----------------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state; on the way out, tell the listener what changed meanwhile."""
        with self._lock:
            self._drain_committed()
            try:
                yield
            finally:
                notes, self._notes = self._notes, _Notes()
        if notes and self.listener is not None:
            listener = self.listener
            created = notes.created - notes.tasks
            if created:
                listener.tasks_created(created)
            if notes.tasks:
                listener.tasks_changed(notes.tasks)
            if notes.nodes:
                listener.nodes_changed(notes.nodes)
            if notes.allocations:
                listener.allocations_changed(notes.allocations)
            if notes.room:
                listener.room_changed()

    # -- the watch side ----------------------------------------------------------------

    def _route(self, key: str) -> tuple[Cache[Any, Any], Hashable] | None:
        keys = self.keys
        if key.startswith(keys.nodes()):
            node = keys.parse_node_info(key)
            if node is not None:
                return self.infos, node
            ref = keys.parse_node_task_report(key)
            if ref is not None:
                return self.reports, (ref.node, f"{ref.namespace}/{ref.name}")
            node = keys.parse_node_metrics(key)
            return (self.metrics, node) if node is not None else None
        if key.startswith(keys.bindings()):
            ref = keys.parse_binding(key)
            return (self.bindings, (ref.node, f"{ref.namespace}/{ref.name}")) if ref else None
        if key.startswith(keys.tasks()):
            task = keys.parse_task(key)
            return (self.tasks, f"{task.namespace}/{task.name}") if task else None
        if key.startswith(keys.task_statuses()):
            task = keys.parse_task_status(key)
            return (self.statuses, f"{task.namespace}/{task.name}") if task else None
        if key.startswith(keys.node_statuses()):
            node = keys.parse_node_status(key)
            return (self.node_statuses, node) if node is not None else None
        return None

    def replace(self, prefix: str, listing: Listing) -> None:
        """A (re-)listing of one watched prefix."""
        caches = self._prefix_caches[prefix]
        grouped: dict[int, list[tuple[Hashable, int, bytes]]] = {id(c): [] for c in caches}
        for kv in listing.items:
            routed = self._route(kv.key)
            if routed is not None and id(routed[0]) in grouped:
                grouped[id(routed[0])].append((routed[1], kv.mod_revision, kv.value))
        with self.locked():
            for cache in caches:
                for change in cache.replace(grouped[id(cache)], listing.revision):
                    self._hooks[id(cache)](change)

    def apply(self, events: Sequence[WatchEvent]) -> None:
        """Events of a watch, in order."""
        with self.locked():
            touched: set[int] = set()
            for event in events:
                routed = self._route(event.key)
                if routed is None:
                    continue
                cache, key = routed
                raw = event.value if event.type is EventType.PUT else None
                change = cache.apply(key, event.mod_revision, raw)
                touched.add(id(cache))
                if change is not None:
                    self._hooks[id(cache)](change)
            for cache in self._all_caches():
                if id(cache) in touched:
                    cache.end_batch()

    def _all_caches(self) -> Iterator[Cache[Any, Any]]:
        for caches in self._prefix_caches.values():
            yield from caches

    # -- our own writes (call with the lock held) --------------------------------------

    def put_binding(self, binding: Binding) -> WriteOp:
        node, task = binding.node, f"{binding.namespace}/{binding.name}"
        key = self.keys.binding(node, binding.namespace, binding.name)
        self._assume(key, self.bindings, (node, task), binding)
        return Put(key, encode_model(binding))

    def delete_binding(self, node: str, task: str) -> WriteOp:
        key = self.keys.binding(node, *split_task_key(task))
        self._assume(key, self.bindings, (node, task), None)
        return Delete(key)

    def put_status(self, task: str, status: TaskStatus) -> WriteOp:
        key = self.keys.task_status(*split_task_key(task))
        self._assume(key, self.statuses, task, status)
        return Put(key, encode_model(status))

    def delete_status(self, task: str) -> WriteOp:
        key = self.keys.task_status(*split_task_key(task))
        self._assume(key, self.statuses, task, None)
        return Delete(key)

    def put_node_status(self, node: str, status: NodeStatus) -> WriteOp:
        key = self.keys.node_status(node)
        self._assume(key, self.node_statuses, node, status)
        return Put(key, encode_model(status))

    def delete_node_status(self, node: str) -> WriteOp:
        key = self.keys.node_status(node)
        self._assume(key, self.node_statuses, node, None)
        self._last_info.pop(node, None)
        self._views.pop(node, None)
        return Delete(key)

    def forget_node(self, node: str) -> None:
        """A node gone with nothing of it left (no status, no bindings): drop what is kept of
        it, so the scheduler no longer counts it as a node that is not ready."""
        self._last_info.pop(node, None)
        self._views.pop(node, None)

    def _assume(self, key: str, cache: Cache[Any, Any], logical: Hashable, value: Any) -> None:
        change = cache.assume(logical, value)
        # Remembered, so the commit's notice needs no parsing of the key (one entry per key
        # with writes in flight).
        self._in_flight[key] = (cache, logical)
        if change is not None:
            self._hooks[id(cache)](change)

    def committed(self, keys: Sequence[str], revision: int) -> None:
        """Our writes of `keys` were committed at `revision` (any thread, no lock needed)."""
        self._committed.append((keys, revision))

    def _drain_committed(self) -> None:
        in_flight = self._in_flight
        while self._committed:
            keys, revision = self._committed.popleft()
            for key in keys:
                routed = in_flight.get(key)
                if routed is None:
                    continue
                cache, logical = routed
                change = cache.committed(logical, revision)
                if not cache.is_pending(logical):
                    del in_flight[key]
                if change is not None:
                    self._hooks[id(cache)](change)

    # -- reads (call with the lock held) -----------------------------------------------

    def task(self, key: str) -> Task | None:
        return self.tasks.get(key)

    def status(self, key: str) -> TaskStatus | None:
        return self.statuses.get(key)

    def bindings_of(self, task: str) -> Mapping[str, Binding]:
        """node -> binding of this task (normally at most one)."""
        return self._bindings_by_task.get(task, _NO_BINDINGS)

    def reports_of(self, task: str) -> Mapping[str, TaskReport]:
        """node -> the agent's report of this task."""
        return self._reports_by_task.get(task, _NO_REPORTS)

    def tasks_on(self, node: str) -> set[str]:
        """The tasks bound to `node`."""
        return self._tasks_by_node.get(node, set())

    def node_health(self, node: str) -> NodeHealth:
        if self.infos.has(node):
            return NodeHealth(True)
        status = self.node_statuses.get(node)
        if status is not None and not status.ready:
            return NodeHealth(False, status.since)
        return NodeHealth(False)

    def node_use(self, node: str) -> NodeUse:
        return self.allocations.node(node)

    def task_keys(self) -> set[str]:
        """Every task the controller knows anything about."""
        return set(self.tasks.keys()) | set(self.statuses.keys()) | set(self._bindings_by_task)

    def node_names(self) -> set[str]:
        """Every node that registered, has a status, or has bindings."""
        names = set(self.infos.keys()) | set(self.node_statuses.keys())
        return names | {node for node, tasks in self._tasks_by_node.items() if tasks}

    def last_info(self, node: str) -> NodeInfo | None:
        """The node's info, or the last one seen before it went away."""
        return self.infos.get(node) or self._last_info.get(node)

    def node_views(self) -> list[NodeView]:
        """Every node the scheduler should know of: registered ones (ready), and ones that
        went away but still have a status or bindings (not ready)."""
        views = []
        for node in set(self.infos.keys()) | set(self._last_info):
            view = self._views.get(node)
            if view is None:
                view = self._build_view(node)
                if view is None:
                    continue
                self._views[node] = view
            views.append(view)
        return views

    def node_view(self, node: str) -> NodeView | None:
        view = self._views.get(node)
        if view is None:
            view = self._build_view(node)
            if view is not None:
                self._views[node] = view
        return view

    def _build_view(self, node: str) -> NodeView | None:
        info = self.infos.get(node)
        ready = info is not None
        if info is None:
            info = self._last_info.get(node)
            if info is None:
                return None
        use = self.allocations.node(node)
        cap = info.capacity
        return NodeView(
            name=node,
            ready=ready,
            capacity=Amounts(cap.cpu, cap.memory, cap.disk),
            allocated=use.amounts(),
            labels=info.labels,
            host_ports=use.host_ports(),
            tasks=use.tasks,
            metrics=self.metrics.get(node),
        )

    # -- hooks: keep the indexes and notes up to date ------------------------------------

    def _task_changed(self, change: Change[str, Task]) -> None:
        key = change.key
        if (
            change.old is None
            and key not in self._bindings_by_task
            and key not in self._reports_by_task
            and not self.statuses.has(key)
        ):
            self._notes.created.add(key)
        else:
            self._notes.tasks.add(key)
        if change.new is None:
            self._notes.room = True  # a deleted task's binding goes, and frees room

    def _status_changed(self, change: Change[str, TaskStatus]) -> None:
        if change.foreign:
            self._notes.tasks.add(change.key)

    def _binding_changed(self, change: Change[NodeTask, Binding]) -> None:
        node, task = change.key
        by_task = self._bindings_by_task.setdefault(task, {})
        if change.new is None:
            by_task.pop(node, None)
            if not by_task:
                del self._bindings_by_task[task]
            on_node = self._tasks_by_node.get(node)
            if on_node is not None:
                on_node.discard(task)
                if not on_node:
                    del self._tasks_by_node[node]
        else:
            by_task[node] = change.new
            self._tasks_by_node.setdefault(node, set()).add(task)
        self._recompute(task)
        self._notes.allocations.add(node)
        if change.foreign:
            self._notes.tasks.add(task)

    def _report_changed(self, change: Change[NodeTask, TaskReport]) -> None:
        node, task = change.key
        by_task = self._reports_by_task.setdefault(task, {})
        if change.new is None:
            by_task.pop(node, None)
            if not by_task:
                del self._reports_by_task[task]
        else:
            by_task[node] = change.new
        self._recompute(task)
        self._notes.tasks.add(task)

    def _recompute(self, task: str) -> None:
        uses: dict[str, Use] = {}
        reports = self._reports_by_task.get(task, _NO_REPORTS)
        for node, binding in self._bindings_by_task.get(task, _NO_BINDINGS).items():
            report = reports.get(node)
            ended = (
                report is not None
                and report.state is ContainerPhase.Exited
                and report.generation == binding.generation
            )
            if not ended:
                uses[node] = use_of(binding)
        changed, freed = self.allocations.set_task(task, uses)
        for node in changed:
            self._views.pop(node, None)
        self._notes.allocations |= changed
        self._notes.room = self._notes.room or freed

    def _info_changed(self, change: Change[str, NodeInfo]) -> None:
        node = change.key
        self._views.pop(node, None)
        self._notes.nodes.add(node)
        if change.new is None:
            if change.old is not None:
                self._last_info[node] = change.old
        else:
            self._last_info.pop(node, None)
            old = change.old
            if old is None or (old.capacity, old.labels) != (
                change.new.capacity,
                change.new.labels,
            ):
                self._notes.room = True

    def _metrics_changed(self, change: Change[str, NodeMetrics]) -> None:
        self._views.pop(change.key, None)

    def _node_status_changed(self, change: Change[str, NodeStatus]) -> None:
        if change.foreign:
            self._notes.nodes.add(change.key)


_NO_BINDINGS: Mapping[str, Binding] = {}
_NO_REPORTS: Mapping[str, TaskReport] = {}
