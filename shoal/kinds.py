"""The kinds `get` shows, each as: which prefixes to read, which keys make one object, how
to build it from those keys, its table row and its JSON.

A listing and a watch both fill the same key -> value cache (`shoal.following.Cache`), so
`get` and `get -w` build objects the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from core.keys import Keys
from core.typed_store import decode_model
from schemas.node import Node
from schemas.task import Task
from shoal import formatting as fmt
from shoal import tables
from shoal.following import Cache
from shoal.sync_status import SyncRecord, display_state
from shoal.views import node_name_of, node_view_from_raw, task_view


class View(Protocol):
    kind: str

    def prefixes(self) -> list[str]: ...

    def ident(self, key: str) -> str | None: ...

    def build(self, ident: str, cache: Cache) -> Any | None: ...

    def labels(self, obj: Any) -> dict[str, str]: ...

    def headers(self, wide: bool) -> list[str]: ...

    def row(self, obj: Any, now: datetime, wide: bool, deleted: bool = False) -> list[str]: ...

    def to_json(self, obj: Any) -> dict[str, Any]: ...

    def display_name(self, ident: str) -> str: ...


def _json(obj: BaseModel) -> dict[str, Any]:
    return obj.model_dump(mode="json")


class TaskKind:
    kind = "task"

    def __init__(self, keys: Keys, namespace: str | None, name: str | None = None) -> None:
        self.keys = keys
        self.namespace = namespace
        self.name = name
        self.node_addresses: dict[str, str] = {}

    def prefixes(self) -> list[str]:
        if self.namespace is None:
            return [self.keys.tasks(), self.keys.task_statuses()]
        if self.name is not None:
            return [
                self.keys.task(self.namespace, self.name),
                self.keys.task_status(self.namespace, self.name),
            ]
        return [self.keys.tasks_in(self.namespace), f"{self.keys.task_statuses()}{self.namespace}/"]

    def ident(self, key: str) -> str | None:
        ref = self.keys.parse_task(key) or self.keys.parse_task_status(key)
        if ref is None:
            return None
        if self.namespace is not None and ref.namespace != self.namespace:
            return None
        if self.name is not None and ref.name != self.name:
            return None
        return f"{ref.namespace}/{ref.name}"

    def build(self, ident: str, cache: Cache) -> Task | None:
        namespace, name = ident.split("/", 1)
        task_key = self.keys.task(namespace, name)
        stored = cache.get(task_key)
        if stored is None:
            return None
        status_key = self.keys.task_status(namespace, name)
        status = cache.get(status_key)
        return task_view(
            task_key,
            stored.value,
            stored.mod_revision,
            status_key,
            status.value if status is not None else None,
        )

    def labels(self, obj: Task) -> dict[str, str]:
        return obj.metadata.labels

    def headers(self, wide: bool) -> list[str]:
        return tables.task_headers(wide=wide, all_namespaces=self.namespace is None)

    def row(self, obj: Task, now: datetime, wide: bool, deleted: bool = False) -> list[str]:
        return tables.task_row(
            obj,
            now,
            wide=wide,
            all_namespaces=self.namespace is None,
            node_addresses=self.node_addresses,
            state="Deleted" if deleted else None,
        )

    def to_json(self, obj: Task) -> dict[str, Any]:
        return _json(obj)

    def display_name(self, ident: str) -> str:
        return f"task {ident}"


class NodeKind:
    kind = "node"

    def __init__(self, keys: Keys, name: str | None = None) -> None:
        self.keys = keys
        self.name = name

    def prefixes(self) -> list[str]:
        if self.name is not None:
            return [self.keys.node(self.name), self.keys.node_status(self.name)]
        return [self.keys.nodes(), self.keys.node_statuses()]

    def ident(self, key: str) -> str | None:
        name = node_name_of(self.keys, key)
        if name is None or (self.name is not None and name != self.name):
            return None
        return name

    def build(self, ident: str, cache: Cache) -> Node | None:
        raw = {}
        for key in (
            self.keys.node_info(ident),
            self.keys.node_status(ident),
            self.keys.node_metrics(ident),
        ):
            if key in cache:
                raw[key] = cache[key].value
        return node_view_from_raw(self.keys, ident, raw)

    def labels(self, obj: Node) -> dict[str, str]:
        return obj.metadata.labels

    def headers(self, wide: bool) -> list[str]:
        return tables.node_headers(wide=wide)

    def row(self, obj: Node, now: datetime, wide: bool, deleted: bool = False) -> list[str]:
        row = tables.node_row(obj, now, wide=wide)
        if deleted:
            row[1] = "Deleted"
        return row

    def to_json(self, obj: Node) -> dict[str, Any]:
        return _json(obj)

    def display_name(self, ident: str) -> str:
        return f"node {ident}"


SYNC_HEADERS = ["NAME", "STATUS", "FILES", "TASKS", "LAST RUN", "LAST CHANGE", "ERRORS"]


class SyncKind:
    kind = "sync"

    def __init__(self, keys: Keys, name: str | None = None) -> None:
        self.keys = keys
        self.name = name

    def prefixes(self) -> list[str]:
        return [self.keys.sync(self.name) if self.name else self.keys.syncs()]

    def ident(self, key: str) -> str | None:
        name = self.keys.parse_sync(key)
        if name is None or (self.name is not None and name != self.name):
            return None
        return name

    def build(self, ident: str, cache: Cache) -> SyncRecord | None:
        key = self.keys.sync(ident)
        stored = cache.get(key)
        return decode_model(key, stored.value, SyncRecord) if stored is not None else None

    def labels(self, obj: SyncRecord) -> dict[str, str]:
        return {}

    def headers(self, wide: bool) -> list[str]:
        return [*SYNC_HEADERS, "DIRECTORY", "HOST"] if wide else list(SYNC_HEADERS)

    def row(self, obj: SyncRecord, now: datetime, wide: bool, deleted: bool = False) -> list[str]:
        status = obj.status
        row = [
            obj.metadata.name,
            "Deleted" if deleted else display_state(obj, now),
            str(status.files),
            str(status.tasks),
            fmt.age(status.lastRun, now) + (" ago" if status.lastRun else ""),
            fmt.age(status.lastChange, now) + (" ago" if status.lastChange else ""),
            str(len(status.errors)),
        ]
        if wide:
            row += [obj.spec.directory, f"{obj.spec.host} (pid {obj.spec.pid})"]
        return row

    def to_json(self, obj: SyncRecord) -> dict[str, Any]:
        return _json(obj)

    def display_name(self, ident: str) -> str:
        return f"sync {ident}"


def sort_objects(kind: View, idents: Sequence[str], cache: Cache) -> list[tuple[str, Any]]:
    out = []
    for ident in sorted(idents):
        obj = kind.build(ident, cache)
        if obj is not None:
            out.append((ident, obj))
    return out
