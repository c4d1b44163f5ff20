"""One pass of a directory sync: what to write (`plan_sync`, pure), then writing it.

Ownership, as Argo CD and Flux users expect it:

* a task a file defines is created, or put back as the file says (drift corrected), and
  labelled `shoal.sync=<name>`; an existing task without that label is adopted;
* a task labelled as another sync's is never written; the pass reports it;
* with prune, a task labelled as this sync's that no file defines any more is deleted,
  unless the file it came from (`shoal.sync/file`) is there but does not load now, and
  unless the directory holds no task at all (then nothing is pruned without allow_empty,
  as with `apply --prune`, so an emptied or unmounted directory never deletes everything).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from core.clock import Clock
from core.errors import ShoalError
from core.keys import Keys
from core.store import Store
from schemas.task import Task
from shoal.applying import (
    Change,
    Stored,
    apply_changes,
    plan_one,
    plan_prune,
    read_current,
    read_one,
)
from shoal.sync_sources import OWNER_LABEL, SOURCE_ANNOTATION, Sources
from shoal.sync_status import MAX_LINES, SyncCounts, SyncRecord

if TYPE_CHECKING:
    from shoal.syncing import SyncOptions

ProgressFactory = Callable[[int, str], AbstractContextManager[Callable[[int], None]]]


def ownership(stored: Stored) -> tuple[str | None, str | None]:
    """The owning sync's name and the source file of a stored task (without decoding it)."""
    try:
        meta = json.loads(stored.raw).get("metadata", {})
    except (ValueError, AttributeError):
        return None, None
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    return labels.get(OWNER_LABEL), annotations.get(SOURCE_ANNOTATION)


def plan_sync(
    desired: Sequence[Task],
    current: Mapping[str, Stored],
    *,
    owner: str,
    prune: bool,
    allow_empty: bool,
    protected: set[str],
    now: datetime,
) -> tuple[list[Change], list[str]]:
    """The changes of one pass, and the problems found while planning them."""
    changes: list[Change] = []
    problems: list[str] = []
    for task in desired:
        stored = current.get(task.key)
        other = ownership(stored)[0] if stored is not None else None
        if other is not None and other != owner:
            problems.append(f"task {task.key} belongs to sync {other!r}; it was not touched")
            continue
        changes.append(plan_one(task, stored, now=now))
    if not prune:
        return changes, problems
    if not desired and not allow_empty:
        problems.append(
            "the directory holds no tasks: nothing was pruned (pass --allow-empty to prune "
            "everything this sync made)"
        )
        return changes, problems
    wanted = {t.key for t in desired}
    for key in sorted(current):
        if key in wanted:
            continue
        stored = current[key]
        if may_prune(stored, owner, protected):
            changes.append(plan_prune(key, stored))
    return changes, problems


def may_prune(stored: Stored, owner: str, protected: set[str]) -> bool:
    own, source = ownership(stored)
    return own == owner and source not in protected


@dataclass
class PassOutcome:
    changes: list[Change] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    failed: bool = False
    """The pass could not run (etcd unreachable, no directory): try again soon."""
    files: int = 0
    tasks: int = 0
    seconds: float = 0.0

    @property
    def lines(self) -> list[str]:
        return [f"task/{c.name} {c.verb}" for c in self.changes if c.verb != "unchanged"]

    def record(self, previous: SyncRecord, trigger: str, now: datetime) -> SyncRecord:
        counts = SyncCounts(
            **{verb: sum(1 for c in self.changes if c.verb == verb) for verb in _VERBS}
        )
        lines = self.lines
        old = previous.status
        state = old.model_copy(
            update={
                "result": "Failed" if self.failed else "Degraded" if self.problems else "Synced",
                "stoppedAt": None,
                "lastRun": now,
                "lastRunSeconds": round(self.seconds, 3),
                "trigger": trigger,
                "lastChange": now if lines else old.lastChange,
                "files": self.files if not self.failed else old.files,
                "tasks": self.tasks if not self.failed else old.tasks,
                "counts": counts,
                "changes": lines[:MAX_LINES],
                "lastChanges": lines[:MAX_LINES] if lines else old.lastChanges,
                "errors": self.problems[:MAX_LINES],
            }
        )
        return previous.model_copy(update={"status": state})


_VERBS = ("created", "configured", "unchanged", "pruned")


def run_pass(
    store: Store,
    keys: Keys,
    sources: Sources,
    options: SyncOptions,
    *,
    clock: Clock,
    progress: ProgressFactory | None = None,
) -> PassOutcome:
    started = clock.monotonic()
    outcome = PassOutcome()
    try:
        sources.refresh()
    except FileNotFoundError:
        outcome.failed = True
        outcome.problems = [
            f"{options.directory}: no such directory; nothing was applied or pruned"
        ]
        return outcome
    desired, duplicates = sources.desired(options.name)
    outcome.problems = sources.problems() + duplicates
    outcome.files = len(sources.files)
    outcome.tasks = len(desired)
    protected = sources.protected()
    by_key = {t.key: t for t in desired}

    def replan(change: Change) -> Change | None:
        fresh = read_one(store, keys, change.key)
        if change.verb == "pruned":
            ok = fresh is not None and may_prune(fresh, options.name, protected)
            return plan_prune(change.key, fresh) if ok and fresh is not None else None
        other = ownership(fresh)[0] if fresh is not None else None
        if other is not None and other != options.name:
            return None
        return plan_one(by_key[change.key], fresh, now=clock.now())

    try:
        current = read_current(store, keys)
        changes, problems = plan_sync(
            desired,
            current,
            owner=options.name,
            prune=options.prune,
            allow_empty=options.allow_empty,
            protected=protected,
            now=clock.now(),
        )
        outcome.problems += problems
        writes = sum(1 for c in changes if c.verb != "unchanged")
        bar = progress(writes, f"syncing {writes} tasks") if progress else nullcontext(_ignore)
        with bar as advance:
            outcome.changes = apply_changes(store, keys, changes, replan=replan, progress=advance)
    except ShoalError as exc:  # etcd unreachable, a task that kept changing, a bad value
        outcome.failed = True
        outcome.problems.append(f"etcd: {exc}")
    outcome.seconds = clock.monotonic() - started
    return outcome


def _ignore(n: int) -> None:
    pass
