"""A directory sync's own record in etcd, at `<prefix>/syncs/<name>`: what it is, how it went.

Written only by the sync itself (after every pass, and once when it stops); read by
`shoal get syncs` and `shoal describe sync`. Shaped like the other objects, so `get syncs
-o json` reads as `get tasks -o json` does: `metadata.name`, a `spec` (the directory, the
host and process running it, prune, interval) and a `status` (the last pass).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from schemas.base import RecordModel
from schemas.fields import NonNegativeInt, Timestamp

Result = Literal["Synced", "Degraded", "Failed"]
"""Synced: every file applied. Degraded: some files or tasks had problems (the rest synced).
Failed: the pass could not run (etcd unreachable, directory missing)."""

MAX_LINES = 100
"""At most this many changes and problems are kept in the record."""


class SyncMeta(RecordModel):
    name: str


class SyncSpec(RecordModel):
    directory: str
    """The absolute path of the directory."""
    host: str
    pid: int
    prune: bool = False
    allowEmpty: bool = False
    interval: float


class SyncCounts(RecordModel):
    created: NonNegativeInt = 0
    configured: NonNegativeInt = 0
    unchanged: NonNegativeInt = 0
    pruned: NonNegativeInt = 0


class SyncState(RecordModel):
    result: Result = "Synced"
    startedAt: Timestamp
    stoppedAt: Timestamp | None = None
    lastRun: Timestamp | None = None
    lastRunSeconds: float = 0.0
    trigger: str = "start"
    """What started the last pass: `start`, `files` (a change under the directory) or
    `interval` (the periodic re-apply that corrects drift)."""
    lastChange: Timestamp | None = None
    """When a pass last wrote anything."""
    files: NonNegativeInt = 0
    tasks: NonNegativeInt = 0
    counts: SyncCounts = Field(default_factory=SyncCounts)
    """What the last pass did, per verb."""
    changes: list[str] = Field(default_factory=list)
    """The last pass's writes, as apply prints them (`task/web configured`)."""
    lastChanges: list[str] = Field(default_factory=list)
    """The writes of the last pass that wrote anything."""
    errors: list[str] = Field(default_factory=list)
    """The problems of the last pass: invalid files (whose tasks keep their last good
    state), tasks owned by another sync, etcd failures."""


class SyncRecord(RecordModel):
    apiVersion: Literal["shoal/v1"] = "shoal/v1"
    kind: Literal["Sync"] = "Sync"
    metadata: SyncMeta
    spec: SyncSpec
    status: SyncState


def display_state(record: SyncRecord, now: datetime) -> str:
    """What `get syncs` shows: the result, or Stopped, or Stale when passes stopped coming."""
    if record.status.stoppedAt is not None:
        return "Stopped"
    last = record.status.lastRun or record.status.startedAt
    if now - last > timedelta(seconds=3 * record.spec.interval + 10):
        return "Stale"
    return record.status.result
