"""The cluster state: what its caches tell the listener, the allocation index, node views."""

from __future__ import annotations

from datetime import UTC, datetime

from controller.cluster import ClusterState
from controller.committing import Committer
from controller.nodes import NodeReconciler
from core.keys import Keys
from core.memory_store import MemoryStore
from core.store import EventType, WatchEvent
from core.typed_store import encode_model
from core.workqueue import WorkQueue
from schemas.binding import Binding, ContainerPhase, TaskReport
from schemas.node import NodeInfo
from schemas.spec import PortSpec, Resources, TaskSpec
from schemas.task import new_task

KEYS = Keys("/t")
GI = 2**30


class Notes:
    def __init__(self) -> None:
        self.changed: set[str] = set()
        self.created: set[str] = set()
        self.nodes: set[str] = set()
        self.allocations: set[str] = set()
        self.room = 0

    def tasks_changed(self, keys: set[str]) -> None:
        self.changed |= keys

    def tasks_created(self, keys: set[str]) -> None:
        self.created |= keys

    def nodes_changed(self, nodes: set[str]) -> None:
        self.nodes |= nodes

    def allocations_changed(self, nodes: set[str]) -> None:
        self.allocations |= nodes

    def room_changed(self) -> None:
        self.room += 1


def put(key: str, value: bytes, revision: int) -> WatchEvent:
    return WatchEvent(EventType.PUT, key, value, revision)


def delete(key: str, revision: int) -> WatchEvent:
    return WatchEvent(EventType.DELETE, key, b"", revision)


def info(name: str, cpu: float = 4) -> bytes:
    return encode_model(
        NodeInfo(
            name=name,
            address="127.0.0.1",
            capacity=Resources(cpu=cpu, memory=8 * GI),
            runtime="fake",
            version="t",
            startedAt=datetime(2026, 1, 1, tzinfo=UTC),
        )
    )


def binding(name: str, node: str, cpu: float, port: int | None = None) -> Binding:
    ports = [PortSpec(containerPort=80, hostPort=port)] if port else []
    spec = TaskSpec(image="x", resources=Resources(cpu=cpu, memory=GI), ports=ports)
    return Binding(
        namespace="default", name=name, node=node, uid="u", generation=1, spec=spec, epoch=1
    )


def test_a_new_task_is_announced_as_created_and_a_known_one_as_changed() -> None:
    notes = Notes()
    state = ClusterState(KEYS, notes)
    task = new_task("web", TaskSpec(image="x")).model_dump_json().encode()
    state.apply([put(KEYS.task("default", "web"), task, 2)])
    assert (notes.created, notes.changed) == ({"default/web"}, set())
    state.apply([put(KEYS.task("default", "web"), task, 3)])
    assert notes.changed == {"default/web"}
    report = TaskReport(state=ContainerPhase.Running, generation=1).model_dump_json().encode()
    state.apply([put(KEYS.node_task_report("n1", "default", "db"), report, 4)])
    state.apply([put(KEYS.task("default", "db"), task, 5)])
    assert "default/db" in notes.changed and "default/db" not in notes.created  # reported


def test_allocations_follow_bindings_and_ended_containers_free_their_node() -> None:
    notes = Notes()
    state = ClusterState(KEYS, notes)
    state.apply([put(KEYS.node_info("n1"), info("n1"), 2)])
    with state.locked():
        state.put_binding(binding("a", "n1", 1.5, port=8080))
        state.put_binding(binding("b", "n1", 0.5))
        view = state.node_view("n1")
    assert view is not None
    assert (view.allocated.cpu, view.tasks, view.host_ports) == (2.0, 2, frozenset({("tcp", 8080)}))
    assert notes.allocations == {"n1"}
    exited = TaskReport(state=ContainerPhase.Exited, exitCode=0, generation=1)
    state.apply([put(KEYS.node_task_report("n1", "default", "a"), encode_model(exited), 3)])
    assert notes.room >= 1
    with state.locked():
        view = state.node_view("n1")
        assert view is not None
        assert (view.allocated.cpu, view.tasks, view.host_ports) == (0.5, 1, frozenset())
        state.delete_binding("n1", "default/b")
        view = state.node_view("n1")
    assert view is not None and (view.allocated.cpu, view.tasks) == (0.0, 0)


def test_a_node_that_went_away_is_a_not_ready_view_until_forgotten() -> None:
    store = MemoryStore()
    notes = Notes()
    state = ClusterState(KEYS, notes)
    state.apply([put(KEYS.node_info("ghost"), info("ghost"), 2)])
    state.apply([delete(KEYS.node_info("ghost"), 3)])
    with state.locked():
        views = state.node_views()
    assert [(v.name, v.ready) for v in views] == [("ghost", False)]
    committer = Committer(store, [], on_committed=state.committed, on_lost=lambda why: None)
    queue: WorkQueue[str] = WorkQueue("tasks")
    NodeReconciler(state, committer, queue, grace=30).reconcile("ghost")
    with state.locked():
        assert state.node_views() == []
    store.close()
