"""What `get`, `describe` and the watches show, built from the keys the daemons write.

* a task: the desired Task at `tasks/<ns>/<name>` (its `resourceVersion` is that key's
  mod_revision) with the TaskStatus from `status/tasks/<ns>/<name>` merged in; a task the
  controller has not seen yet shows `state: Pending` and nothing else;
* a node: `nodes/<node>/info`, `status/nodes/<node>` and `nodes/<node>/metrics` merged by
  `schemas.node.merge_node`; a node whose info is gone (its agent's lease expired) but whose
  status remains is shown NotReady, whatever the status says, until the controller removes it.

The builders take raw values (bytes) so the same code serves a listing and a watch's cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.keys import Keys
from core.store import Store
from core.typed_store import decode_model
from schemas.node import (
    Node,
    NodeInfo,
    NodeMeta,
    NodeMetrics,
    NodeStatus,
    NodeViewStatus,
    merge_node,
)
from schemas.selector import Selector
from schemas.task import Task, TaskStatus
from shoal.applying import decode_task

INFO_GONE = "AgentGone"
"""The reason shown for a node whose registration (bound to its agent's lease) is gone."""


# -- tasks -------------------------------------------------------------------------------


def task_view(
    task_key: str, raw: bytes, mod_revision: int, status_key: str, status_raw: bytes | None
) -> Task:
    """The desired task with its status merged in (TaskStatus() when there is none yet)."""
    task = decode_task(raw, mod_revision)
    if status_raw is None:
        status = TaskStatus()
    else:
        status = decode_model(status_key, status_raw, TaskStatus)
    return task.model_copy(update={"status": status})


def task_json(task: Task) -> dict[str, Any]:
    return task.model_dump(mode="json")


def read_tasks(
    store: Store, keys: Keys, namespace: str | None, selector: Selector | None = None
) -> list[Task]:
    """Every task of one namespace (None: all), sorted by namespace and name."""
    task_prefix = keys.tasks() if namespace is None else keys.tasks_in(namespace)
    status_prefix = keys.task_statuses()
    if namespace is not None:
        status_prefix += f"{namespace}/"
    tasks = store.list(task_prefix)
    statuses = store.list(status_prefix).by_key()
    out = []
    for kv in tasks:
        ref = keys.parse_task(kv.key)
        if ref is None:
            continue
        status_key = keys.task_status(ref.namespace, ref.name)
        status = statuses.get(status_key)
        view = task_view(
            kv.key, kv.value, kv.mod_revision, status_key, status.value if status else None
        )
        if selector is None or selector.matches(view.metadata.labels):
            out.append(view)
    out.sort(key=lambda t: (t.metadata.namespace, t.metadata.name))
    return out


def read_task(store: Store, keys: Keys, namespace: str, name: str) -> Task | None:
    kv = store.get(keys.task(namespace, name))
    if kv is None:
        return None
    status_key = keys.task_status(namespace, name)
    status = store.get(status_key)
    return task_view(
        kv.key, kv.value, kv.mod_revision, status_key, status.value if status else None
    )


# -- nodes -------------------------------------------------------------------------------


def node_view(
    name: str, info: NodeInfo | None, status: NodeStatus | None, metrics: NodeMetrics | None
) -> Node | None:
    """One node from its three keys; None when neither its info nor its status exists."""
    if info is not None:
        return merge_node(info, status, metrics)
    if status is None:
        return None
    return Node(
        metadata=NodeMeta(name=name),
        status=NodeViewStatus(
            ready=False,
            allocated=status.allocated,
            metrics=metrics,
            since=status.since,
            reason=status.reason if not status.ready else INFO_GONE,
            message=status.message
            if not status.ready
            else "the agent's registration is gone (its lease expired or it was stopped)",
        ),
    )


def node_view_from_raw(keys: Keys, name: str, raw: Mapping[str, bytes]) -> Node | None:
    """A node from a key -> value map holding (some of) its three keys."""
    info_key, status_key, metrics_key = (
        keys.node_info(name),
        keys.node_status(name),
        keys.node_metrics(name),
    )
    info = raw.get(info_key)
    status = raw.get(status_key)
    metrics = raw.get(metrics_key)
    return node_view(
        name,
        decode_model(info_key, info, NodeInfo) if info is not None else None,
        decode_model(status_key, status, NodeStatus) if status is not None else None,
        decode_model(metrics_key, metrics, NodeMetrics) if metrics is not None else None,
    )


def node_name_of(keys: Keys, key: str) -> str | None:
    """The node a key belongs to, if it is one of the three keys of a node view."""
    return keys.parse_node_info(key) or keys.parse_node_metrics(key) or keys.parse_node_status(key)


def read_node_raw(store: Store, keys: Keys) -> dict[str, bytes]:
    """The info, metrics and status keys of every node (the agents' task reports left out)."""
    raw: dict[str, bytes] = {}
    for prefix in (keys.nodes(), keys.node_statuses()):
        for kv in store.list(prefix):
            if node_name_of(keys, kv.key) is not None:
                raw[kv.key] = kv.value
    return raw


def read_nodes(store: Store, keys: Keys, selector: Selector | None = None) -> list[Node]:
    raw = read_node_raw(store, keys)
    names = sorted({n for n in (node_name_of(keys, k) for k in raw) if n is not None})
    out = []
    for name in names:
        view = node_view_from_raw(keys, name, raw)
        if view is not None and (selector is None or selector.matches(view.metadata.labels)):
            out.append(view)
    return out


def read_node(store: Store, keys: Keys, name: str) -> Node | None:
    raw: dict[str, bytes] = {}
    for key in (keys.node_info(name), keys.node_status(name), keys.node_metrics(name)):
        kv = store.get(key)
        if kv is not None:
            raw[key] = kv.value
    return node_view_from_raw(keys, name, raw)


def read_node_info(store: Store, keys: Keys, name: str) -> NodeInfo | None:
    kv = store.get(keys.node_info(name))
    return decode_model(kv.key, kv.value, NodeInfo) if kv is not None else None


def node_json(node: Node) -> dict[str, Any]:
    return node.model_dump(mode="json")
