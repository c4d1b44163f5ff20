"""Shoal's own error types, split into "retry later" and "give up".

Third-party exceptions (grpc, pyetcd) are translated into these at the edge, in
`core.etcd_errors.translate`, and never leak out of `core/`. Callers decide what to do by
kind, not by message: a loop that meets a `RetryLater` waits and tries again; a `GiveUp` is
reported (or, for a `Conflict`, the object is read again and the decision remade).
"""

from __future__ import annotations

from collections.abc import Sequence


class ShoalError(Exception):
    """Base of every error Shoal raises on purpose."""

    retry_later: bool = False


class RetryLater(ShoalError):
    """The same request may succeed later: wait (with back-off) and try again."""

    retry_later = True


class GiveUp(ShoalError):
    """Repeating the same request will not help."""


class StoreError(ShoalError):
    """Something went wrong talking to the store (etcd or its in-memory stand-in)."""


class Unavailable(StoreError, RetryLater):
    """etcd could not be reached (or did not answer in time) at any of its endpoints.

    `maybe_applied` is True when the request may have reached etcd before the failure, so a
    write might have happened; False when it certainly was not sent.
    """

    def __init__(
        self, message: str, *, endpoints: Sequence[str] = (), maybe_applied: bool = True
    ) -> None:
        self.reason = message
        self.endpoints = tuple(endpoints)
        self.maybe_applied = maybe_applied
        if self.endpoints:
            message = f"etcd unreachable at {', '.join(self.endpoints)}: {message}"
        super().__init__(message)


class NotFound(StoreError, GiveUp):
    """The key (or lease) does not exist."""

    def __init__(self, key: str, message: str | None = None) -> None:
        self.key = key
        super().__init__(message or f"{key} not found")


class Conflict(StoreError, GiveUp):
    """A compare-and-swap lost its race: the key changed since it was read.

    Retrying the same write cannot succeed; read the key again and decide again.
    """

    def __init__(self, key: str, message: str | None = None) -> None:
        self.key = key
        super().__init__(message or f"{key} was changed by someone else")


class AlreadyExists(Conflict):
    """A create found the key already there."""

    def __init__(self, key: str, message: str | None = None) -> None:
        super().__init__(key, message or f"{key} already exists")


class GuardFailed(Conflict):
    """A guarded batch stopped because its guard no longer held (e.g. leadership was lost).

    `committed` operations (whole chunks, in order) were written before the guard failed.
    """

    def __init__(self, key: str, committed: int) -> None:
        self.committed = committed
        super().__init__(key, f"guard on {key} failed after {committed} operations were written")


class Compacted(StoreError, GiveUp):
    """The revision asked for is older than etcd's compacted history; re-list instead."""

    def __init__(self, compacted_revision: int | None, message: str | None = None) -> None:
        self.compacted_revision = compacted_revision
        where = f" (history starts at {compacted_revision})" if compacted_revision else ""
        super().__init__(message or f"required revision has been compacted{where}")


class InvalidRequest(StoreError, GiveUp):
    """The request itself is wrong (too many operations, empty key, bad revision, …)."""


class PermissionDenied(StoreError, GiveUp):
    """etcd refused the request for this client (auth)."""


class BadValue(StoreError, GiveUp):
    """A stored value could not be decoded into the expected model."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


class EtcdServerError(GiveUp):
    """The embedded etcd could not be found, started or made healthy."""


def is_retryable(exc: BaseException) -> bool:
    """True for errors where waiting and trying the same request again may help: ours that
    say so, and an adapter's marked `retryable` (the agent's RuntimeUnavailable)."""
    if isinstance(exc, ShoalError):
        return exc.retry_later
    return bool(getattr(exc, "retryable", False))
