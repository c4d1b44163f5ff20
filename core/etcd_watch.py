"""A watch on etcd that survives lost connections, etcd restarts and compaction.

One grpc watch stream per watch, read in the watch's own supervised thread (see
`core.watching.ResumingWatch` for the resume/re-list rules). pyetcd's callback watches are
not used: they do not fail over, and after an error they go silent (FIELD-NOTES).
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import grpc

from core.clock import Clock
from core.errors import Compacted, Unavailable
from core.etcd_client import EtcdConnection
from core.etcd_codec import event_from_pb, watch_create_request
from core.store import WatchHandler
from core.watching import Lister, ResumingWatch


class EtcdWatch(ResumingWatch):
    def __init__(
        self,
        connection: EtcdConnection,
        prefix: str,
        start_revision: int | None,
        handler: WatchHandler,
        lister: Lister,
        *,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(prefix, start_revision, handler, lister, clock=clock)
        self._connection = connection
        self._lock = threading.Lock()
        self._call: Any = None

    def _stream(self, start_revision: int, stop: threading.Event) -> None:
        requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        requests.put(watch_create_request(self.prefix, start_revision))
        call, endpoint = self._connection.open_watch(iter(requests.get, None))
        with self._lock:
            self._call = call
        if stop.is_set():
            call.cancel()
        try:
            for response in call:
                self._handle(response)
        except grpc.RpcError as exc:
            if stop.is_set():
                return
            raise self._connection.failed(endpoint, exc) from None
        finally:
            requests.put(None)  # ends the request iterator grpc is reading from
            call.cancel()
            with self._lock:
                self._call = None
        if not stop.is_set():
            raise Unavailable("watch stream ended", endpoints=self._connection.urls)

    def _handle(self, response: Any) -> None:
        if response.compact_revision:
            raise Compacted(int(response.compact_revision))
        if response.canceled:
            reason = response.cancel_reason or "no reason given"
            raise Unavailable(f"etcd cancelled the watch: {reason}")
        if response.created:
            self._connected()
            return
        if response.events:
            self._deliver([event_from_pb(event) for event in response.events])

    def _interrupt(self) -> None:
        with self._lock:
            if self._call is not None:
                self._call.cancel()
