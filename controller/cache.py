"""One kind of key as the controller knows it: what the watch says, plus its own writes.

A `Cache` holds decoded values under the owner's keys (a task's `<ns>/<name>`, a node's name,
a (node, task) pair), not the store's. A watch keeps it equal to the store (`replace`
with a listing, then `apply` each event). For the keys the controller writes itself
(bindings, task and node statuses) it also takes the writes it has *assumed*: `assume` puts
the new value in at once, before the commit, so the next decision already sees it (as
kube-scheduler assumes a pod on its node before the binding is written), and `committed`
records the revision the write got.

While a key has assumed writes not yet committed, watch events for it are held back (the
newest one kept); once the last write is committed, a held event newer than it is applied,
and events up to its revision (the echo of our own write) are dropped. So the cache never
goes back to an older value, and a change someone else made meanwhile is not lost.

Every value it holds shares its field-name sets with equal ones (`controller.sharing`).

Not thread-safe by itself: the owner (`controller.cluster.ClusterState`) holds a lock.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from controller.sharing import share_field_sets
from core.errors import BadValue
from core.typed_store import decode_model

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
M = TypeVar("M", bound=BaseModel)

__all__ = ["Cache", "Change"]


@dataclass(frozen=True, slots=True)
class Change(Generic[K, M]):
    """A key's value went from `old` to `new` (None: absent)."""

    key: K
    old: M | None
    new: M | None
    foreign: bool
    """True when the change came from the store (someone else, or a re-list), False for an
    assumed write of our own."""


class _Entry(Generic[M]):
    __slots__ = ("held", "pending", "rev", "value")

    def __init__(self, value: M | None, rev: int) -> None:
        self.value = value
        self.rev = rev  # revision of `value` in the store (0: not committed yet)
        self.pending = 0  # assumed writes not committed yet
        self.held: tuple[int, bytes | None] | None = None  # newest event seen while pending


class Cache(Generic[K, M]):
    def __init__(self, model_type: type[M], name: str = "") -> None:
        self.model_type = model_type
        self.name = name or model_type.__name__
        self._entries: dict[K, _Entry[M]] = {}
        self._tombstones: deque[tuple[int, K]] = deque()
        self.watched_revision = 0
        """The last revision the watch has delivered up to."""

    # -- reads -------------------------------------------------------------------------

    def get(self, key: K) -> M | None:
        entry = self._entries.get(key)
        return entry.value if entry is not None else None

    def has(self, key: K) -> bool:
        return self.get(key) is not None

    def items(self) -> Iterator[tuple[K, M]]:
        for key, entry in self._entries.items():
            if entry.value is not None:
                yield key, entry.value

    def keys(self) -> Iterator[K]:
        for key, entry in self._entries.items():
            if entry.value is not None:
                yield key

    def __len__(self) -> int:
        return sum(1 for entry in self._entries.values() if entry.value is not None)

    def is_pending(self, key: K) -> bool:
        """True while `key` has assumed writes not committed yet."""
        entry = self._entries.get(key)
        return entry is not None and entry.pending > 0

    def pending(self) -> int:
        """Keys with assumed writes not committed yet."""
        return sum(1 for entry in self._entries.values() if entry.pending)

    # -- the watch side ----------------------------------------------------------------

    def _decode(self, key: K, raw: bytes | None) -> M | None:
        if raw is None:
            return None
        try:
            value = decode_model(str(key), raw, self.model_type)
        except BadValue as exc:
            log.warning("ignoring %s: %s", self.name, exc)
            return None
        share_field_sets(value)
        return value

    def replace(self, items: Iterable[tuple[K, int, bytes]], revision: int) -> list[Change[K, M]]:
        """Make the cache equal to a listing at `revision`: (key, mod_revision, value) for
        every key there is (assumed writes stay ahead)."""
        listed = {key: (rev, raw) for key, rev, raw in items}
        changes: list[Change[K, M]] = []
        for key in list(self._entries.keys() | listed.keys()):
            rev, raw = listed.get(key, (revision, None))
            change = self._observe(key, rev, raw)
            if change is not None:
                changes.append(change)
        self.watched_revision = max(self.watched_revision, revision)
        self._purge()
        return changes

    def apply(self, key: K, revision: int, raw: bytes | None) -> Change[K, M] | None:
        """A watch event: `key` got `raw` (None: deleted) at `revision`."""
        change = self._observe(key, revision, raw)
        self.watched_revision = max(self.watched_revision, revision)
        return change

    def end_batch(self) -> None:
        """After a batch of events: forget deletions the watch has gone past."""
        self._purge()

    def _observe(self, key: K, rev: int, raw: bytes | None) -> Change[K, M] | None:
        entry = self._entries.get(key)
        if entry is None:
            if raw is None:
                return None
            value = self._decode(key, raw)
            if value is None:
                return None
            self._entries[key] = _Entry(value, rev)
            return Change(key, None, value, True)
        if entry.pending:
            if entry.held is None or rev >= entry.held[0]:
                entry.held = (rev, raw)
            return None
        if rev <= entry.rev:  # the echo of our own write, or older than what we have
            return None
        return self._set(key, entry, rev, raw)

    def _set(self, key: K, entry: _Entry[M], rev: int, raw: bytes | None) -> Change[K, M] | None:
        old = entry.value
        new = self._decode(key, raw)
        entry.rev = rev
        entry.value = new
        if new is None:
            del self._entries[key]  # the store's deletion is the newest word on this key
        if old is None and new is None:
            return None
        return Change(key, old, new, True)

    # -- our own writes ----------------------------------------------------------------

    def assume(self, key: K, value: M | None) -> Change[K, M] | None:
        """We are writing `value` (None: deleting) to `key`; see it at once."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(None, 0)
        if value is not None:
            share_field_sets(value)
        old = entry.value
        entry.value = value
        entry.pending += 1
        if old is None and value is None:
            return None
        return Change(key, old, value, False)

    def committed(self, key: K, revision: int) -> Change[K, M] | None:
        """An assumed write of `key` was committed at `revision`."""
        entry = self._entries.get(key)
        if entry is None or not entry.pending:
            return None
        entry.pending -= 1
        entry.rev = max(entry.rev, revision)
        if entry.pending:
            return None
        held, entry.held = entry.held, None
        if held is not None and held[0] > entry.rev:
            return self._set(key, entry, held[0], held[1])
        if entry.value is None:
            self._tombstones.append((entry.rev, key))
            self._purge()
        return None

    def _purge(self) -> None:
        while self._tombstones and self._tombstones[0][0] <= self.watched_revision:
            _, key = self._tombstones.popleft()
            entry = self._entries.get(key)
            if entry is not None and entry.value is None and not entry.pending:
                del self._entries[key]
