"""The error map: grpc and pyetcd exceptions become Shoal's, split into retry-later and give-up."""

from __future__ import annotations

import grpc
import pytest
from pyetcd import exceptions as etcd_exc

from core.errors import (
    AlreadyExists,
    Compacted,
    Conflict,
    GiveUp,
    GuardFailed,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RetryLater,
    StoreError,
    Unavailable,
    is_retryable,
)
from core.etcd_errors import translate


class FakeRpcError(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """Stands in for grpc's _InactiveRpcError: a code and details."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    # the rest of grpc.Call, unused
    def initial_metadata(self) -> None: ...
    def trailing_metadata(self) -> None: ...
    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> None: ...
    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: object) -> bool:
        return False


S = grpc.StatusCode
EP = ("http://127.0.0.1:2379",)
REFUSED = (
    "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:2379: "
    "Failed to connect to remote host: Connection refused"
)


@pytest.mark.parametrize(
    ("code", "details", "kind"),
    [
        (S.UNAVAILABLE, REFUSED, Unavailable),
        (S.UNAVAILABLE, "leader changed", Unavailable),
        (S.DEADLINE_EXCEEDED, "Deadline Exceeded", Unavailable),
        (S.CANCELLED, "Channel closed!", Unavailable),
        (S.RESOURCE_EXHAUSTED, "too many requests", Unavailable),
        (S.INVALID_ARGUMENT, "too many operations in txn request", InvalidRequest),
        (S.INVALID_ARGUMENT, "duplicate key given in txn request", InvalidRequest),
        (S.OUT_OF_RANGE, "mvcc: required revision has been compacted", Compacted),
        (S.OUT_OF_RANGE, "mvcc: required revision is a future revision", InvalidRequest),
        (S.NOT_FOUND, "requested lease not found", NotFound),
        (S.PERMISSION_DENIED, "permission denied", PermissionDenied),
        (S.UNKNOWN, "something odd", StoreError),
    ],
)
def test_grpc_errors_are_translated(code: grpc.StatusCode, details: str, kind: type) -> None:
    error = translate(FakeRpcError(code, details), endpoints=EP)
    assert type(error) is kind
    assert not isinstance(error, grpc.RpcError)
    assert details in str(error)


def test_unavailable_names_the_endpoints_and_whether_the_request_was_sent() -> None:
    refused = translate(FakeRpcError(grpc.StatusCode.UNAVAILABLE, REFUSED), endpoints=EP)
    assert isinstance(refused, Unavailable)
    assert "http://127.0.0.1:2379" in str(refused)
    assert refused.maybe_applied is False
    lost = translate(FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline"), endpoints=EP)
    assert isinstance(lost, Unavailable) and lost.maybe_applied is True


def test_pyetcd_exceptions_are_translated() -> None:
    none_left = translate(etcd_exc.NoServerAvailableError("none"), endpoints=EP)
    assert isinstance(none_left, Unavailable) and none_left.maybe_applied is False
    compacted = translate(etcd_exc.RevisionCompactedError(17))
    assert isinstance(compacted, Compacted) and compacted.compacted_revision == 17
    assert isinstance(translate(etcd_exc.ConnectionFailedError()), Unavailable)
    assert isinstance(translate(etcd_exc.ConnectionTimeoutError()), Unavailable)
    assert isinstance(translate(etcd_exc.PreconditionFailedError()), InvalidRequest)
    assert type(translate(RuntimeError("boom"))) is StoreError


def test_retry_later_versus_give_up() -> None:
    assert is_retryable(Unavailable("down"))
    assert isinstance(Unavailable("down"), RetryLater)
    for error in (
        NotFound("k"),
        Conflict("k"),
        AlreadyExists("k"),
        GuardFailed("k", 3),
        Compacted(5),
        InvalidRequest("bad"),
    ):
        assert isinstance(error, GiveUp) and isinstance(error, StoreError)
        assert not is_retryable(error)
    assert not is_retryable(ValueError("not ours"))


def test_conflicts_carry_their_key() -> None:
    assert AlreadyExists("/a").key == "/a"
    assert isinstance(AlreadyExists("/a"), Conflict)
    guard = GuardFailed("/leader", 128)
    assert guard.key == "/leader" and guard.committed == 128
