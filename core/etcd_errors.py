"""The one place where the etcd client's exceptions (grpc, pyetcd) become Shoal's.

Every call into pyetcd/grpc in `core/` goes through `translate` on failure, so no grpc or
pyetcd exception leaves `core/`.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from pyetcd import exceptions as etcd_exc

from core.errors import (
    Compacted,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    StoreError,
    Unavailable,
)

_UNAVAILABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.ABORTED,
}
_INVALID = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNIMPLEMENTED,
}


def _not_sent(details: str) -> bool:
    """grpc could not even connect, so the request never reached etcd."""
    lowered = details.lower()
    return "failed to connect" in lowered or "connection refused" in lowered


def translate(exc: BaseException, *, endpoints: Sequence[str] = (), key: str = "") -> StoreError:
    """Map an exception raised by pyetcd or grpc onto Shoal's error types."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, etcd_exc.NoServerAvailableError):
        return Unavailable(
            "every endpoint failed recently", endpoints=endpoints, maybe_applied=False
        )
    if isinstance(exc, etcd_exc.RevisionCompactedError):
        return Compacted(exc.compacted_revision)
    if isinstance(
        exc,
        etcd_exc.ConnectionFailedError | etcd_exc.ConnectionTimeoutError | etcd_exc.WatchTimedOut,
    ):
        return Unavailable(str(exc) or type(exc).__name__, endpoints=endpoints)
    if isinstance(exc, etcd_exc.PreconditionFailedError):
        return InvalidRequest(str(exc) or "precondition failed")
    if isinstance(exc, grpc.RpcError):
        return _from_grpc(exc, endpoints, key)
    return StoreError(f"unexpected etcd client error: {type(exc).__name__}: {exc}")


def _from_grpc(exc: grpc.RpcError, endpoints: Sequence[str], key: str) -> StoreError:
    code_fn = getattr(exc, "code", None)
    details_fn = getattr(exc, "details", None)
    code = code_fn() if callable(code_fn) else None
    details = str(details_fn() if callable(details_fn) else exc) or "no details"
    if code in _UNAVAILABLE:
        name = code.name if code is not None else "UNAVAILABLE"
        return Unavailable(
            f"{name}: {details}", endpoints=endpoints, maybe_applied=not _not_sent(details)
        )
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        if "larger than max" in details:  # a response over the client's message limit
            return InvalidRequest(details)
        return Unavailable(details, endpoints=endpoints)  # e.g. "too many requests", NOSPACE
    if code == grpc.StatusCode.OUT_OF_RANGE:
        if "compacted" in details:
            return Compacted(None, details)
        return InvalidRequest(details)
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(key or "lease", details)
    if code in _INVALID:
        return InvalidRequest(details)
    if code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED):
        return PermissionDenied(details)
    name = code.name if code is not None else "UNKNOWN"
    return StoreError(f"etcd error {name}: {details}")
