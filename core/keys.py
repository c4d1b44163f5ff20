"""The key layout of DESIGN.md ("The state in etcd"), in one place.

Every key Shoal reads or writes is built here, and every key a watch delivers is parsed back
here, so the layout can change in one module. Prefixes for listing and watching end with "/",
so `/shoal/tasks/web/` never matches `/shoal/tasks/web2/…`.

    <prefix>/tasks/<ns>/<name>                the desired Task
    <prefix>/bindings/<node>/<ns>/<name>      placement of a task on a node
    <prefix>/status/tasks/<ns>/<name>         TaskStatus (controller)
    <prefix>/status/nodes/<node>              node readiness (controller)
    <prefix>/status/placements/<ns>/<name>    why a task was placed where it was (controller)
    <prefix>/nodes/<node>/info                Node (agent, on the node's lease)
    <prefix>/nodes/<node>/metrics             NodeMetrics (agent)
    <prefix>/nodes/<node>/tasks/<ns>/<name>   what the agent observes of a task
    <prefix>/events/<ns>/<name>/<seq>         TaskEvent (on a TTL lease)
    <prefix>/leader                           leader election
    <prefix>/syncs/<name>                     a directory sync's own status (shoal sync)
"""

from __future__ import annotations

from typing import NamedTuple

from core.errors import InvalidRequest

DEFAULT_PREFIX = "/shoal"
SEQ_WIDTH = 12  # event sequence numbers are zero-padded so key order is numeric order


class TaskRef(NamedTuple):
    namespace: str
    name: str


class NodeTaskRef(NamedTuple):
    node: str
    namespace: str
    name: str


class EventRef(NamedTuple):
    namespace: str
    name: str
    seq: int


def _part(value: str, what: str) -> str:
    if not value or "/" in value or value in (".", ".."):
        raise InvalidRequest(f"invalid {what} for a key: {value!r}")
    return value


class Keys:
    """Builds and parses Shoal's keys under one configurable prefix (default "/shoal")."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        if not prefix.startswith("/") or prefix.endswith("/") or "//" in prefix:
            raise InvalidRequest(f"key prefix must look like /name, not {prefix!r}")
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"Keys({self.prefix!r})"

    # -- building ----------------------------------------------------------------------

    def root(self) -> str:
        """Everything Shoal owns, for `etcdctl get --prefix`."""
        return f"{self.prefix}/"

    def tasks(self) -> str:
        return f"{self.prefix}/tasks/"

    def tasks_in(self, namespace: str) -> str:
        return f"{self.tasks()}{_part(namespace, 'namespace')}/"

    def task(self, namespace: str, name: str) -> str:
        return f"{self.tasks_in(namespace)}{_part(name, 'name')}"

    def bindings(self) -> str:
        return f"{self.prefix}/bindings/"

    def node_bindings(self, node: str) -> str:
        return f"{self.bindings()}{_part(node, 'node')}/"

    def binding(self, node: str, namespace: str, name: str) -> str:
        return f"{self.node_bindings(node)}{_part(namespace, 'namespace')}/{_part(name, 'name')}"

    def task_statuses(self) -> str:
        return f"{self.prefix}/status/tasks/"

    def task_status(self, namespace: str, name: str) -> str:
        return f"{self.task_statuses()}{_part(namespace, 'namespace')}/{_part(name, 'name')}"

    def placements(self) -> str:
        return f"{self.prefix}/status/placements/"

    def placement(self, namespace: str, name: str) -> str:
        return f"{self.placements()}{_part(namespace, 'namespace')}/{_part(name, 'name')}"

    def node_statuses(self) -> str:
        return f"{self.prefix}/status/nodes/"

    def node_status(self, node: str) -> str:
        return f"{self.node_statuses()}{_part(node, 'node')}"

    def nodes(self) -> str:
        return f"{self.prefix}/nodes/"

    def node(self, node: str) -> str:
        """Everything one node's agent writes."""
        return f"{self.nodes()}{_part(node, 'node')}/"

    def node_info(self, node: str) -> str:
        return f"{self.node(node)}info"

    def node_metrics(self, node: str) -> str:
        return f"{self.node(node)}metrics"

    def node_task_reports(self, node: str) -> str:
        return f"{self.node(node)}tasks/"

    def node_task_report(self, node: str, namespace: str, name: str) -> str:
        ns = _part(namespace, "namespace")
        return f"{self.node_task_reports(node)}{ns}/{_part(name, 'name')}"

    def events(self) -> str:
        return f"{self.prefix}/events/"

    def task_events(self, namespace: str, name: str) -> str:
        return f"{self.events_in(namespace)}{_part(name, 'name')}/"

    def event(self, namespace: str, name: str, seq: int) -> str:
        if seq < 0:
            raise InvalidRequest(f"event sequence must be >= 0, not {seq}")
        return f"{self.task_events(namespace, name)}{seq:0{SEQ_WIDTH}d}"

    def events_in(self, namespace: str) -> str:
        return f"{self.events()}{_part(namespace, 'namespace')}/"

    def leader(self) -> str:
        return f"{self.prefix}/leader"

    def syncs(self) -> str:
        return f"{self.prefix}/syncs/"

    def sync(self, name: str) -> str:
        return f"{self.syncs()}{_part(name, 'sync name')}"

    # -- parsing: None when the key is not of that kind ----------------------------------

    def _parts(self, key: str, prefix: str, count: int) -> list[str] | None:
        if not key.startswith(prefix):
            return None
        parts = key[len(prefix) :].split("/")
        if len(parts) != count or not all(parts):
            return None
        return parts

    def parse_task(self, key: str) -> TaskRef | None:
        parts = self._parts(key, self.tasks(), 2)
        return TaskRef(*parts) if parts else None

    def parse_binding(self, key: str) -> NodeTaskRef | None:
        parts = self._parts(key, self.bindings(), 3)
        return NodeTaskRef(*parts) if parts else None

    def parse_task_status(self, key: str) -> TaskRef | None:
        parts = self._parts(key, self.task_statuses(), 2)
        return TaskRef(*parts) if parts else None

    def parse_placement(self, key: str) -> TaskRef | None:
        parts = self._parts(key, self.placements(), 2)
        return TaskRef(*parts) if parts else None

    def parse_node_status(self, key: str) -> str | None:
        parts = self._parts(key, self.node_statuses(), 1)
        return parts[0] if parts else None

    def parse_node_info(self, key: str) -> str | None:
        parts = self._parts(key, self.nodes(), 2)
        return parts[0] if parts and parts[1] == "info" else None

    def parse_node_metrics(self, key: str) -> str | None:
        parts = self._parts(key, self.nodes(), 2)
        return parts[0] if parts and parts[1] == "metrics" else None

    def parse_node_task_report(self, key: str) -> NodeTaskRef | None:
        parts = self._parts(key, self.nodes(), 4)
        if not parts or parts[1] != "tasks":
            return None
        return NodeTaskRef(parts[0], parts[2], parts[3])

    def parse_sync(self, key: str) -> str | None:
        parts = self._parts(key, self.syncs(), 1)
        return parts[0] if parts else None

    def parse_event(self, key: str) -> EventRef | None:
        parts = self._parts(key, self.events(), 3)
        if not parts or not parts[2].isdigit():
            return None
        return EventRef(parts[0], parts[1], int(parts[2]))
