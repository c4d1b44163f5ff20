"""The Store: the one interface through which Shoal reads and writes its shared state.

Two implementations keep the same contract (and run the same contract tests):
`core.etcd_store.EtcdStore` speaks to etcd, `core.memory_store.MemoryStore` keeps everything
in memory for tests. Both follow etcd's revision model: one global revision counter that every
write transaction bumps by one; per key a `create_revision`, `mod_revision` and `version`.

Writes that depend on what was read are conditional on the `mod_revision` that was read
(`update`, `delete(expected_mod_revision=…)`, `txn`), so no global lock is ever needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, NewType, Protocol

LeaseId = NewType("LeaseId", int)

MAX_TXN_OPS = 128  # etcd's default --max-txn-ops


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0  # 0: not bound to a lease


@dataclass(frozen=True, slots=True)
class Listing:
    """Every key under a prefix, as of one revision (watch from `revision + 1` to follow it)."""

    items: tuple[KeyValue, ...]
    revision: int

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[KeyValue]:
        return iter(self.items)

    def by_key(self) -> dict[str, KeyValue]:
        return {kv.key: kv for kv in self.items}


class EventType(StrEnum):
    PUT = "PUT"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: EventType
    key: str
    value: bytes  # b"" for DELETE
    mod_revision: int  # the revision of this change (for DELETE: of the deletion)
    prev_value: bytes | None = None  # the value before the change, when there was one


# -- transactions --------------------------------------------------------------------------


class CompareTarget(StrEnum):
    VERSION = "version"
    CREATE_REVISION = "create_revision"
    MOD_REVISION = "mod_revision"
    VALUE = "value"
    LEASE = "lease"


class CompareResult(StrEnum):
    EQUAL = "=="
    NOT_EQUAL = "!="
    LESS = "<"
    GREATER = ">"


Operator = Literal["==", "!=", "<", ">"]


@dataclass(frozen=True, slots=True)
class Compare:
    """One condition of a transaction, as etcd evaluates it.

    A missing key has version, create_revision, mod_revision and lease 0; a VALUE compare on
    a missing key is false.
    """

    key: str
    target: CompareTarget
    result: CompareResult
    operand: int | bytes

    @classmethod
    def mod_revision(cls, key: str, revision: int, op: Operator = "==") -> Compare:
        return cls(key, CompareTarget.MOD_REVISION, CompareResult(op), revision)

    @classmethod
    def create_revision(cls, key: str, revision: int, op: Operator = "==") -> Compare:
        return cls(key, CompareTarget.CREATE_REVISION, CompareResult(op), revision)

    @classmethod
    def version(cls, key: str, version: int, op: Operator = "==") -> Compare:
        return cls(key, CompareTarget.VERSION, CompareResult(op), version)

    @classmethod
    def value(cls, key: str, value: bytes | str, op: Operator = "==") -> Compare:
        raw = value.encode() if isinstance(value, str) else value
        return cls(key, CompareTarget.VALUE, CompareResult(op), raw)

    @classmethod
    def lease(cls, key: str, lease: int, op: Operator = "==") -> Compare:
        return cls(key, CompareTarget.LEASE, CompareResult(op), lease)

    @classmethod
    def missing(cls, key: str) -> Compare:
        return cls.create_revision(key, 0)

    @classmethod
    def exists(cls, key: str) -> Compare:
        return cls.create_revision(key, 0, ">")


@dataclass(frozen=True, slots=True)
class Put:
    key: str
    value: bytes
    lease: int | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    key: str
    prefix: bool = False  # delete every key starting with `key`


@dataclass(frozen=True, slots=True)
class Get:
    key: str
    prefix: bool = False


Op = Put | Delete | Get
WriteOp = Put | Delete


@dataclass(frozen=True, slots=True)
class OpResponse:
    """What one operation of a transaction returned: `kvs` for Get, `deleted` for Delete."""

    kvs: tuple[KeyValue, ...] = ()
    deleted: int = 0


@dataclass(frozen=True, slots=True)
class TxnResult:
    succeeded: bool  # whether every compare held (and so `on_success` ran)
    revision: int  # the store's revision after the transaction
    responses: tuple[OpResponse, ...] = ()


@dataclass(frozen=True, slots=True)
class BatchResult:
    written: int  # operations applied
    revisions: tuple[int, ...]  # one per transaction, in order

    @property
    def revision(self) -> int:
        return self.revisions[-1] if self.revisions else 0


# -- watching ------------------------------------------------------------------------------


class WatchHandler(Protocol):
    """Receives a watch's events, exactly once and in revision order, in the watch's thread.

    `on_relist` is called instead when the watch had to start over from a fresh listing
    (first start without a revision, or after etcd compacted the history it needed): the
    consumer replaces its whole cache with the listing, then events continue from there.
    If a handler raises, the watch restarts with back-off and delivers the same batch again.
    """

    def on_events(self, events: Sequence[WatchEvent]) -> None: ...

    def on_relist(self, listing: Listing) -> None: ...


@dataclass(frozen=True)
class WatchCallbacks:
    """A WatchHandler made of two functions."""

    events: Callable[[Sequence[WatchEvent]], None]
    relist: Callable[[Listing], None]

    def on_events(self, events: Sequence[WatchEvent]) -> None:
        self.events(events)

    def on_relist(self, listing: Listing) -> None:
        self.relist(listing)


class Watcher(Protocol):
    @property
    def revision(self) -> int:
        """The last revision whose events have all been handed to the handler."""
        ...

    def stop(self, timeout: float = 5.0) -> None: ...

    def is_alive(self) -> bool: ...


# -- the store -----------------------------------------------------------------------------


class Store(Protocol):
    def get(self, key: str) -> KeyValue | None:
        """The key's current value and revisions, or None."""
        ...

    def list(self, prefix: str) -> Listing:
        """Every key under `prefix` at one revision (paged internally for large prefixes)."""
        ...

    def create(self, key: str, value: bytes, lease: int | None = None) -> int:
        """Write a new key; AlreadyExists if it is there. Returns the new revision."""
        ...

    def update(
        self, key: str, value: bytes, expected_mod_revision: int, lease: int | None = None
    ) -> int:
        """Compare-and-swap: Conflict if the key changed since, NotFound if it is gone."""
        ...

    def put(self, key: str, value: bytes, lease: int | None = None) -> int:
        """Unconditional write; returns the new revision."""
        ...

    def delete(self, key: str, expected_mod_revision: int | None = None) -> bool:
        """True if the key was deleted, False if it was not there; Conflict if it changed."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under a (non-empty) prefix; returns how many."""
        ...

    def txn(
        self,
        compares: Sequence[Compare],
        on_success: Sequence[Op],
        on_failure: Sequence[Op] = (),
    ) -> TxnResult:
        """One etcd transaction: if every compare holds run `on_success`, else `on_failure`."""
        ...

    def commit_batch(
        self, ops: Sequence[WriteOp], guard: Compare | Sequence[Compare] | None = None
    ) -> BatchResult:
        """Write many puts/deletes in transactions of at most 128 ops, each under `guard`.

        Chunks are applied in order; if a guard fails, GuardFailed (a Conflict) says how many
        operations were written before it. Not atomic as a whole: each chunk is.
        """
        ...

    def current_revision(self) -> int: ...

    def compact(self, revision: int) -> None:
        """Drop history older than `revision`; watches that need it must re-list."""
        ...

    def grant_lease(self, ttl: int) -> LeaseId: ...

    def keep_alive(self, lease_id: int) -> int:
        """Refresh a lease; returns its TTL. NotFound if it has expired."""
        ...

    def revoke_lease(self, lease_id: int) -> bool:
        """Revoke a lease, deleting its keys; False if it did not exist (any more)."""
        ...

    def lease_ttl(self, lease_id: int) -> int:
        """Seconds the lease has left; NotFound if it has expired."""
        ...

    def watch(self, prefix: str, start_revision: int | None, handler: WatchHandler) -> Watcher:
        """Follow every change under `prefix` from `start_revision` (None: list, then follow).

        Started at once, in a supervised thread; `stop()` it when done.
        """
        ...

    def ping(self, timeout: float = 2.0) -> None:
        """Return quickly if the store answers; Unavailable otherwise."""
        ...

    def close(self) -> None: ...
