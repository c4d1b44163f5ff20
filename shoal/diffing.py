"""What `shoal diff` prints: a unified diff, per task, of what apply would change.

Both sides are the parts a person decides (`desired_view`: no status, uid, generation,
resourceVersion or creationTimestamp), as YAML without null fields, so the diff shows only
real changes, in the manifest's own words. Pure: changes in, text out.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import yaml

from schemas.task import Task, desired_view
from shoal.applying import Change


def _strip_none(value: object) -> object:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


def manifest_text(task: Task | None) -> list[str]:
    if task is None:
        return []
    text = yaml.safe_dump(_strip_none(desired_view(task)), sort_keys=False, allow_unicode=True)
    return text.splitlines(keepends=True)


def diff_change(change: Change) -> str:
    """The unified diff of one change ('' when it is `unchanged`)."""
    if change.verb == "unchanged":
        return ""
    before = manifest_text(change.old if change.verb != "created" else None)
    after = manifest_text(change.new if change.verb != "pruned" else None)
    where = f"task/{change.namespace}/{change.name}"
    lines = difflib.unified_diff(before, after, fromfile=f"live/{where}", tofile=f"files/{where}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def diff_changes(changes: Sequence[Change]) -> str:
    return "".join(diff_change(c) for c in changes)
