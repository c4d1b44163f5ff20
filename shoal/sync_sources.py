"""The manifests under a sync's directory, file by file, each with its last good load.

`Sources.refresh()` looks at every manifest file under the directory (the loader's rules:
`*.yaml`, `*.yml`, `*.json`, hidden files and directories skipped), loads again only the
files whose content changed, and keeps per file either its fresh tasks or, when
the file no longer loads, its *last good* tasks with the file's problems. A file that is
removed is forgotten. `desired(name)` is then every task to sync, labelled as owned by the
sync and annotated with the file it came from; `protected()` names the files whose tasks
must not be pruned because the file is there but cannot be read right now.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from schemas.loader import MANIFEST_SUFFIXES, format_errors, load_paths
from schemas.task import Task

OWNER_LABEL = "shoal.sync"
"""Label on every task a sync writes: `shoal.sync=<sync name>`. Prune touches only these."""

SOURCE_ANNOTATION = "shoal.sync/file"
"""Annotation naming the file (relative to the directory) a synced task came from."""


def manifest_files(directory: str) -> Iterator[str]:
    """Paths relative to `directory`, '/'-separated, sorted as the loader reads them."""
    found: list[tuple[tuple[str, ...], str]] = []
    for parent, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith(".") and name.endswith(MANIFEST_SUFFIXES):
                rel = os.path.relpath(os.path.join(parent, name), directory)
                parts = tuple(rel.split(os.sep))
                found.append((parts, "/".join(parts)))
    for _, rel in sorted(found):
        yield rel


def is_manifest_path(directory: str, path: str) -> bool:
    """True for a path under `directory` that `manifest_files` would list (or did)."""
    rel = os.path.relpath(path, directory)
    if rel.startswith(".."):
        return False
    parts = rel.split(os.sep)
    return not any(p.startswith(".") for p in parts) and path.endswith(MANIFEST_SUFFIXES)


@dataclass
class FileState:
    digest: bytes = b""
    """The hash of the content last loaded."""
    good: tuple[Task, ...] | None = None
    """The tasks of the last load that had no problem (None: never loaded well)."""
    errors: str = ""
    """The problems of the latest load; empty when it loaded well."""


@dataclass
class Sources:
    directory: str
    """As given (relative or absolute): problems name files under it."""
    files: dict[str, FileState] = field(default_factory=dict)

    def refresh(self) -> list[str]:
        """Read what changed; returns the files read again. FileNotFoundError if the
        directory itself is gone (then nothing is forgotten)."""
        if not os.path.isdir(self.directory):
            raise FileNotFoundError(self.directory)
        seen: set[str] = set()
        reread: list[str] = []
        for rel in manifest_files(self.directory):
            seen.add(rel)
            path = os.path.join(self.directory, *rel.split("/"))
            state = self.files.setdefault(rel, FileState())
            try:
                with open(path, "rb") as stream:
                    digest = hashlib.blake2b(stream.read(), digest_size=16).digest()
            except OSError:
                digest = b""  # unreadable: the loader says why
            if digest and digest == state.digest:
                continue
            state.digest = digest
            reread.append(rel)
            result = load_paths([path])
            if result.errors:
                state.errors = format_errors(result.errors)
            else:
                state.good = tuple(task for _, task in result.tasks)
                state.errors = ""
        for rel in list(self.files):
            if rel not in seen:
                del self.files[rel]
        return reread

    def problems(self) -> list[str]:
        out = []
        for rel, state in sorted(self.files.items()):
            if state.errors:
                keeps = (
                    f"its {len(state.good)} task(s) keep their last good state"
                    if state.good
                    else "nothing from it is applied"
                )
                out.append(f"{state.errors}\n  ({rel} is not applied; {keeps})")
        return out

    def protected(self) -> set[str]:
        """Files that are there but do not load: their tasks are never pruned."""
        return {rel for rel, state in self.files.items() if state.errors}

    def desired(self, owner: str) -> tuple[list[Task], list[str]]:
        """Every task to sync (labelled and annotated), and the names defined twice."""
        tasks: list[Task] = []
        where: dict[str, str] = {}
        problems: list[str] = []
        for rel, state in sorted(self.files.items()):
            for task in state.good or ():
                if task.key in where:
                    problems.append(
                        f"{rel}: task {task.key} is also defined in {where[task.key]}; "
                        f"the definition in {where[task.key]} is used"
                    )
                    continue
                where[task.key] = rel
                tasks.append(owned(task, owner, rel))
        return tasks, problems


def owned(task: Task, owner: str, source: str) -> Task:
    meta = task.metadata
    meta = meta.model_copy(
        update={
            "labels": {**meta.labels, OWNER_LABEL: owner},
            "annotations": {**meta.annotations, SOURCE_ANNOTATION: source},
        }
    )
    return task.model_copy(update={"metadata": meta})
