"""What `shoal apply` does: a pure plan of changes, then conditional writes in batches.

`plan_apply` compares the manifests with what etcd holds and decides, per task, `created`,
`configured`, `unchanged` or (with a prune selector) `pruned`; it does no I/O. `apply_changes`
writes the plan in transactions of at most 128 operations, each operation guarded by the
revision it was planned against, so a concurrent change is never overwritten blindly: when a
guard fails, those tasks are read again, planned again and retried a few times.

The same plan and writes serve `diff` (which only shows the plan), `sync` (which adds its
ownership label first) and `stop`/`start` (which change one field of a stored task).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from core.errors import Conflict, ShoalError
from core.keys import Keys
from core.store import MAX_TXN_OPS, Compare, Delete, Op, Put, Store
from schemas.meta import SYSTEM_META_FIELDS
from schemas.selector import Selector
from schemas.task import Task, same_desired

Verb = Literal["created", "configured", "unchanged", "pruned"]
Progress = Callable[[int], None]
"""Told how many more changes were written, after each transaction."""


def encode_task(task: Task) -> bytes:
    """The JSON stored at /shoal/tasks/<ns>/<name>: metadata and spec, no status."""
    return task.model_dump_json(
        exclude_none=True, exclude={"status": True, "metadata": {"resourceVersion"}}
    ).encode()


def decode_task(raw: bytes, mod_revision: int) -> Task:
    """A stored task, with `resourceVersion` set to the revision it was read at."""
    task = Task.model_validate_json(raw)
    meta = task.metadata.model_copy(update={"resourceVersion": mod_revision})
    return task.model_copy(update={"metadata": meta})


def _desired_view_stored(task: Task) -> dict[str, Any]:
    """`desired_view` without null members, as `encode_task` stores the task."""
    return task.model_dump(
        mode="json",
        exclude_none=True,
        exclude={"status": True, "metadata": set(SYSTEM_META_FIELDS)},
    )


def _desired_json(data: dict[str, Any]) -> dict[str, Any]:
    """Stored JSON less what the system sets (the shape of `desired_view`, nulls dropped)."""
    view = {k: v for k, v in data.items() if k != "status"}
    meta = view.get("metadata")
    if isinstance(meta, dict):
        view["metadata"] = {k: v for k, v in meta.items() if k not in SYSTEM_META_FIELDS}
    return view


class Stored:
    """A task as read from etcd, with the revision a conditional write is based on.

    The JSON is decoded into a Task only when something asks for it: re-applying 10,000
    unchanged tasks compares plain JSON (`same_as`) and never builds a model.
    """

    __slots__ = ("_task", "mod_revision", "raw")

    def __init__(self, raw: bytes, mod_revision: int) -> None:
        self.raw = raw
        self.mod_revision = mod_revision
        self._task: Task | None = None

    @property
    def task(self) -> Task:
        if self._task is None:
            self._task = decode_task(self.raw, self.mod_revision)
        return self._task

    def same_as(self, desired: Task) -> bool:
        """True when the stored task asks for exactly what `desired` does."""
        try:
            data = json.loads(self.raw)
        except ValueError:
            data = None
        if isinstance(data, dict) and _desired_view_stored(desired) == _desired_json(data):
            return True  # the quick way: equal JSON certainly means equal tasks
        return same_desired(desired, self.task)


@dataclass(frozen=True)
class Change:
    verb: Verb
    key: str  # <namespace>/<name>
    new: Task | None  # what is written (None when unchanged or pruned)
    current: Stored | None  # what etcd held (None when created)
    expected_revision: int  # the mod_revision the write is conditional on; 0 when created

    @property
    def namespace(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split("/", 1)[1]

    @property
    def old(self) -> Task | None:
        return self.current.task if self.current is not None else None

    @property
    def result(self) -> Task | None:
        """The task as etcd holds it after the change (None when pruned)."""
        if self.verb == "pruned":
            return None
        return self.new if self.new is not None else self.old


class EmptyPrune(ShoalError):
    """--prune with no objects at all would delete everything the selector matches."""


def _new_uid() -> str:
    return str(uuid.uuid4())


def plan_one(
    desired: Task, current: Stored | None, *, now: datetime, new_uid: Callable[[], str] = _new_uid
) -> Change:
    """The change that makes etcd hold `desired`, given what it holds now."""
    want = desired.desired()
    if current is None:
        meta = want.metadata.model_copy(
            update={"uid": new_uid(), "generation": 1, "creationTimestamp": now}
        )
        return Change("created", desired.key, want.model_copy(update={"metadata": meta}), None, 0)
    if current.same_as(want):
        return Change("unchanged", desired.key, None, current, current.mod_revision)
    old = current.task
    generation = old.metadata.generation or 1
    if want.spec != old.spec:
        generation += 1  # as in Kubernetes: labels and annotations do not bump the generation
    meta = want.metadata.model_copy(
        update={
            "uid": old.metadata.uid,
            "generation": generation,
            "creationTimestamp": old.metadata.creationTimestamp,
        }
    )
    new = want.model_copy(update={"metadata": meta})
    return Change("configured", desired.key, new, current, current.mod_revision)


def plan_prune(key: str, current: Stored) -> Change:
    return Change("pruned", key, None, current, current.mod_revision)


def plan_apply(
    desired: Sequence[Task],
    current: Mapping[str, Stored],
    *,
    now: datetime,
    prune: Selector | None = None,
    allow_empty: bool = False,
    new_uid: Callable[[], str] = _new_uid,
) -> list[Change]:
    """One Change per desired task (in input order), then the prunes (sorted by key)."""
    if prune is not None and not desired and not allow_empty:
        raise EmptyPrune(
            "refusing to prune: the files hold no objects, so every task matching "
            f"'{prune}' would be deleted (pass --allow-empty if that is what you want)"
        )
    changes = [plan_one(t, current.get(t.key), now=now, new_uid=new_uid) for t in desired]
    if prune is not None:
        wanted = {t.key for t in desired}
        for key in sorted(current):
            stored = current[key]
            if key not in wanted and prune.matches(stored.task.metadata.labels):
                changes.append(plan_prune(key, stored))
    return changes


def _ops(keys: Keys, change: Change) -> tuple[Compare, Op]:
    key = keys.task(change.namespace, change.name)
    if change.verb == "created":
        assert change.new is not None
        return Compare.missing(key), Put(key, encode_task(change.new))
    guard = Compare.mod_revision(key, change.expected_revision)
    if change.verb == "pruned":
        return guard, Delete(key)
    assert change.new is not None
    return guard, Put(key, encode_task(change.new))


def read_current(store: Store, keys: Keys, namespace: str | None = None) -> dict[str, Stored]:
    """Every stored task (of one namespace, or all) by <namespace>/<name>, in one listing."""
    prefix = keys.tasks() if namespace is None else keys.tasks_in(namespace)
    out: dict[str, Stored] = {}
    for kv in store.list(prefix):
        ref = keys.parse_task(kv.key)
        if ref is not None:
            out[f"{ref.namespace}/{ref.name}"] = Stored(kv.value, kv.mod_revision)
    return out


def read_one(store: Store, keys: Keys, key: str) -> Stored | None:
    namespace, name = key.split("/", 1)
    kv = store.get(keys.task(namespace, name))
    return Stored(kv.value, kv.mod_revision) if kv is not None else None


Replan = Callable[[Change], "Change | None"]


def apply_changes(
    store: Store,
    keys: Keys,
    changes: Sequence[Change],
    *,
    replan: Replan,
    attempts: int = 3,
    progress: Progress | None = None,
) -> list[Change]:
    """Write every change that is not `unchanged`; returns the changes as finally made.

    Chunks of changes go in one transaction each, every operation guarded by its own
    revision. When a chunk's guards fail (someone changed a task meanwhile), each task of
    that chunk is planned again with `replan` (None: drop it) and retried on its own, at
    most `attempts` times, before a Conflict is raised.
    """
    done: list[Change] = [c for c in changes if c.verb == "unchanged"]
    pending = [c for c in changes if c.verb != "unchanged"]
    for start in range(0, len(pending), MAX_TXN_OPS):
        chunk = pending[start : start + MAX_TXN_OPS]
        pairs = [_ops(keys, c) for c in chunk]
        result = store.txn([p[0] for p in pairs], [p[1] for p in pairs])
        if result.succeeded:
            done.extend(chunk)
        else:
            for change in chunk:
                made = _apply_one(store, keys, change, replan=replan, attempts=attempts)
                if made is not None:
                    done.append(made)
        if progress is not None:
            progress(len(chunk))
    order = {c.key: i for i, c in enumerate(changes)}
    done.sort(key=lambda c: order.get(c.key, len(order)))
    return done


def _apply_one(
    store: Store,
    keys: Keys,
    change: Change,
    *,
    replan: Replan,
    attempts: int,
) -> Change | None:
    current: Change | None = change
    for _ in range(attempts):
        if current is None or current.verb == "unchanged":
            return current
        compare, op = _ops(keys, current)
        if store.txn([compare], [op]).succeeded:
            return current
        current = replan(current)
    raise Conflict(
        f"task {change.key}",
        f"task {change.key} kept changing while it was applied ({attempts} attempts); try again",
    )


def replanner(
    store: Store,
    keys: Keys,
    desired: Mapping[str, Task],
    *,
    now: Callable[[], datetime],
    may_prune: Callable[[Stored], bool],
) -> Replan:
    """What `apply_changes` calls when a guard failed: read that task again and decide again.

    A desired task is planned afresh against what etcd holds now; a prune stays a prune only
    while the task is there and still may be pruned (`may_prune`).
    """

    def replan(change: Change) -> Change | None:
        fresh = read_one(store, keys, change.key)
        if change.verb == "pruned":
            if fresh is None or not may_prune(fresh):
                return None
            return plan_prune(change.key, fresh)
        return plan_one(desired[change.key], fresh, now=now())

    return replan
