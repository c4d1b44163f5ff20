"""A thin connection to etcd over pyetcd: endpoint choice and failover, one call, one error map.

What is taken from pyetcd: `MultiEndpointEtcd3Client` with `failover=True` chooses an endpoint
that has not failed in the last `time_retry` seconds (the plain client locks its only endpoint
out for 300 s after one error: see FIELD-NOTES), `Endpoint` owns the grpc channels, `etcdrpc`
the messages and stubs. What is not: pyetcd's call wrappers (they hide the response header,
hence the revision, of transactions) and its watch thread (a daemon thread that swallows
errors and does not fail over); this module calls the stubs itself, and `core.etcd_watch`
runs its own watch streams.

No retries here: one attempt, and any failure comes back as a Shoal error (`translate`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import grpc
import pyetcd
from pyetcd import etcdrpc

from core.errors import InvalidRequest, NotFound, Unavailable
from core.etcd_errors import translate
from core.settings import parse_endpoints

_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),
    # Notice a dead peer on an idle watch stream (etcd permits pings every 5 s or slower).
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    # Reconnect quickly once etcd is back (grpc's default back-off grows to 120 s).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1_000),
]
_FAILOVER_CODES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
_STUBS = {
    "kv": etcdrpc.KVStub,
    "lease": etcdrpc.LeaseStub,
    "watch": etcdrpc.WatchStub,
    "maintenance": etcdrpc.MaintenanceStub,
}


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise InvalidRequest(f"{url}: only plain http:// etcd endpoints are supported")
    assert parts.hostname is not None and parts.port is not None  # parse_endpoints made sure
    return parts.hostname, parts.port


class EtcdConnection:
    def __init__(self, endpoints: Sequence[str], *, time_retry: float = 1.0) -> None:
        try:
            self.urls = parse_endpoints(",".join(endpoints))
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        eps = [
            pyetcd.Endpoint(host, port, secure=False, time_retry=time_retry, opts=_CHANNEL_OPTIONS)
            for host, port in map(_host_port, self.urls)
        ]
        self._client = pyetcd.MultiEndpointEtcd3Client(endpoints=eps, failover=True)
        self._lock = threading.Lock()
        self._stubs: dict[tuple[str, str], Any] = {}
        self._closed = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._stubs.clear()
        self._client.close()

    @property
    def current(self) -> str:
        """The endpoint calls go to now (until it fails)."""
        with self._lock:
            return f"http://{self._client.endpoint_in_use.netloc}"

    # -- choosing an endpoint ------------------------------------------------------------

    def _pick(self, service: str) -> tuple[Any, Any]:
        """(stub, endpoint) on an endpoint that has not failed recently."""
        with self._lock:
            if self._closed:
                raise Unavailable("the store was closed", maybe_applied=False)
            try:
                channel = self._client.channel
            except Exception as exc:  # NoServerAvailableError
                raise translate(exc, endpoints=self.urls) from None
            endpoint = self._client.endpoint_in_use
            stub = self._stubs.get((service, endpoint.netloc))
            if stub is None:
                stub = self._stubs[(service, endpoint.netloc)] = _STUBS[service](channel)
            return stub, endpoint

    def failed(self, endpoint: Any, exc: BaseException, *, key: str = "") -> Exception:
        """Note a failed call (so the next one fails over) and return our error for it."""
        code = exc.code() if isinstance(exc, grpc.Call) else None
        if code in _FAILOVER_CODES and len(self.urls) > 1:
            with self._lock:
                endpoint.fail()  # with one endpoint there is nowhere else to go
        return translate(exc, endpoints=self.urls, key=key)

    # -- calls -------------------------------------------------------------------------

    def unary(self, service: str, method: str, request: Any, timeout: float, key: str = "") -> Any:
        stub, endpoint = self._pick(service)
        try:
            return getattr(stub, method)(request, timeout)
        except grpc.RpcError as exc:
            raise self.failed(endpoint, exc, key=key) from None

    def keep_alive(self, lease_id: int, timeout: float) -> int:
        """One lease keep-alive round trip; the lease's TTL, NotFound if it expired."""
        stub, endpoint = self._pick("lease")
        request = etcdrpc.LeaseKeepAliveRequest(ID=lease_id)
        call = stub.LeaseKeepAlive(iter([request]), timeout)
        try:
            response = next(call, None)
        except grpc.RpcError as exc:
            raise self.failed(endpoint, exc, key=f"lease {lease_id:x}") from None
        finally:
            call.cancel()
        if response is None:
            raise Unavailable("keep-alive stream closed without an answer", endpoints=self.urls)
        if response.TTL <= 0:
            raise NotFound(f"lease {lease_id:x}", f"lease {lease_id:x} has expired")
        return int(response.TTL)

    def open_watch(self, requests: Iterator[Any]) -> tuple[Any, Any]:
        """Start a watch stream; (call, endpoint). Iterate the call for responses."""
        stub, endpoint = self._pick("watch")
        return stub.Watch(requests), endpoint
