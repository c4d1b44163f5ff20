"""What `shoal apply` does: a pure plan of changes, then conditional writes in batches.

`plan_apply` compares the manifests with what etcd holds and decides, per task, `created`,
`configured`, `unchanged` or (with a prune selector) `pruned`; it does no I/O. `apply_changes`
writes the plan in transactions of at most 128 operations, each operation guarded by the
revision it was planned against, so a concurrent change is never overwritten blindly: when a
guard fails, those tasks are read again, planned again and retried a few times.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from core.errors import Conflict, ShoalError
from core.keys import Keys
from core.store import MAX_TXN_OPS, Compare, Delete, Op, Put, Store
from schemas.selector import Selector
from schemas.task import Task, same_desired

Verb = Literal["created", "configured", "unchanged", "pruned"]


@dataclass(frozen=True)
class Stored:
    """A task as read from etcd, with the revision a conditional write is based on."""

    task: Task
    mod_revision: int


@dataclass(frozen=True)
class Change:
    verb: Verb
    key: str  # <namespace>/<name>
    new: Task | None  # what is written (None when pruned)
    old: Task | None  # what etcd held (None when created)
    expected_revision: int  # the mod_revision the write is conditional on; 0 when created


class EmptyPrune(ShoalError):
    """--prune with no objects at all would delete everything the selector matches."""


def encode_task(task: Task) -> bytes:
    """The JSON stored at /shoal/tasks/<ns>/<name>: metadata and spec, no status."""
    stored = task.model_copy(update={"status": None})
    meta = stored.metadata.model_copy(update={"resourceVersion": None})
    return stored.model_copy(update={"metadata": meta}).model_dump_json(exclude_none=True).encode()


def decode_task(raw: bytes, mod_revision: int) -> Task:
    """A stored task, with `resourceVersion` set to the revision it was read at."""
    task = Task.model_validate_json(raw)
    meta = task.metadata.model_copy(update={"resourceVersion": mod_revision})
    return task.model_copy(update={"metadata": meta})


def plan_one(
    desired: Task, current: Stored | None, *, now: datetime, new_uid: Callable[[], str]
) -> Change:
    """The change that makes etcd hold `desired`, given what it holds now."""
    want = desired.desired()
    if current is None:
        meta = want.metadata.model_copy(
            update={"uid": new_uid(), "generation": 1, "creationTimestamp": now}
        )
        return Change("created", desired.key, want.model_copy(update={"metadata": meta}), None, 0)
    old = current.task
    if same_desired(want, old):
        return Change("unchanged", desired.key, old, old, current.mod_revision)
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
    return Change("configured", desired.key, new, old, current.mod_revision)


def plan_apply(
    desired: Sequence[Task],
    current: Mapping[str, Stored],
    *,
    now: datetime,
    prune: Selector | None = None,
    allow_empty: bool = False,
    new_uid: Callable[[], str] = lambda: str(uuid.uuid4()),
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
                changes.append(Change("pruned", key, None, stored.task, stored.mod_revision))
    return changes


def _ops(keys: Keys, change: Change) -> tuple[Compare, Op]:
    ref = change.new or change.old
    assert ref is not None
    key = keys.task(ref.metadata.namespace, ref.metadata.name)
    if change.verb == "created":
        return Compare.missing(key), Put(key, encode_task(ref))
    guard = Compare.mod_revision(key, change.expected_revision)
    if change.verb == "pruned":
        return guard, Delete(key)
    return guard, Put(key, encode_task(ref))


def read_current(store: Store, keys: Keys) -> dict[str, Stored]:
    """Every stored task by <namespace>/<name> (one consistent listing)."""
    listing = store.list(keys.tasks())
    out: dict[str, Stored] = {}
    for kv in listing:
        ref = keys.parse_task(kv.key)
        if ref is None:
            continue
        out[f"{ref.namespace}/{ref.name}"] = Stored(
            decode_task(kv.value, kv.mod_revision), kv.mod_revision
        )
    return out


def apply_changes(
    store: Store,
    keys: Keys,
    changes: Sequence[Change],
    *,
    replan: Callable[[Change], Change | None],
    attempts: int = 3,
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
            continue
        for change in chunk:
            made = _apply_one(store, keys, change, replan=replan, attempts=attempts)
            if made is not None:
                done.append(made)
    order = {c.key: i for i, c in enumerate(changes)}
    done.sort(key=lambda c: order.get(c.key, len(order)))
    return done


def _apply_one(
    store: Store,
    keys: Keys,
    change: Change,
    *,
    replan: Callable[[Change], Change | None],
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
