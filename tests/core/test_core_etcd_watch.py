"""Watches on a real etcd that lose their connection: etcd killed and restarted, a cut link
while history is compacted, a cluster member dying under the client.

"Exactly once, in order" is checked against etcd's own history: after the disruption a fresh
watch from the same start revision replays what etcd recorded, and the disrupted watch must
have delivered exactly that sequence.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.etcd_server import EtcdServer, free_port
from core.etcd_store import EtcdStore, RetryPolicy
from core.testing import RecordingHandler

pytestmark = pytest.mark.integration


def history(endpoint: str, prefix: str, start: int, upto: int) -> list[tuple[str, str, int]]:
    """What etcd recorded under `prefix` from `start` to `upto`, through a fresh watch."""
    with EtcdStore([endpoint]) as store:
        recorder = RecordingHandler()
        watcher = store.watch(prefix, start, recorder)
        try:
            recorder.wait_for_revision(upto)
        finally:
            watcher.stop()
        return [e for e in recorder.snapshot() if e[2] <= upto]


def test_watch_survives_etcd_killed_and_restarted(fresh_etcd: EtcdServer) -> None:
    prefix = "/restart/"
    store = EtcdStore([fresh_etcd.endpoint], retry=RetryPolicy(deadline=20.0))
    recorder = RecordingHandler()
    start = store.current_revision() + 1
    watcher = store.watch(prefix, start, recorder)
    stop_writing = threading.Event()
    written: list[int] = []

    def write() -> None:  # keeps writing through the outage (puts retry until etcd is back)
        i = 0
        while not stop_writing.is_set() and i < 400:
            written.append(store.put(f"{prefix}{i % 37}", f"v{i}".encode()))
            i += 1

    writer = threading.Thread(target=write, name="writer")
    try:
        for i in range(30):
            store.put(f"{prefix}before/{i}", b"x")
        writer.start()
        recorder.wait_for(lambda h: len(h.events) >= 60, what="events before the kill")
        fresh_etcd.kill()  # SIGKILL: no goodbye to the watch stream
        fresh_etcd.start().wait_healthy(timeout=20)
        writer.join(timeout=60)
        assert not writer.is_alive()
        store.delete(f"{prefix}before/0")
        for i in range(30):
            store.put(f"{prefix}after/{i}", b"y")
        last = store.current_revision()
        recorder.wait_for_revision(last, timeout=30)
    finally:
        stop_writing.set()
        writer.join(timeout=30)
        watcher.stop()
        store.close()
    delivered = recorder.snapshot()
    assert len(written) == 400
    assert set(written) <= {rev for _, _, rev in delivered}
    assert delivered == history(fresh_etcd.endpoint, prefix, start, last)
    assert recorder.relists == []


class LinkCutter:
    """A TCP proxy in front of etcd whose link can be cut and restored (etcd stays up)."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.cut = False
        self._spawn(self._accept)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self.cut:
                    client.close()
                    continue
                upstream = socket.create_connection(self._target)
                self._open += [client, upstream]
            self._spawn(self._pipe, client, upstream)
            self._spawn(self._pipe, upstream, client)

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def set_cut(self, cut: bool) -> None:
        with self._lock:
            self.cut = cut
            if cut:
                for sock in self._open:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
                self._open.clear()

    def close(self) -> None:
        self.set_cut(True)
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        for thread in self._threads:
            thread.join(5)


@pytest.fixture
def link(fresh_etcd: EtcdServer) -> Iterator[LinkCutter]:
    port = int(fresh_etcd.endpoint.rsplit(":", 1)[1])
    cutter = LinkCutter(port)
    try:
        yield cutter
    finally:
        cutter.close()


def test_watch_cut_off_while_history_is_compacted_relists(
    fresh_etcd: EtcdServer, link: LinkCutter
) -> None:
    prefix = "/compact/"
    direct = EtcdStore([fresh_etcd.endpoint])
    through_link = EtcdStore([link.url], retry=RetryPolicy(deadline=2.0))
    recorder = RecordingHandler()
    try:
        for i in range(10):
            direct.put(f"{prefix}{i}", b"old")
        watcher = through_link.watch(prefix, None, recorder)
        rev = direct.put(f"{prefix}0", b"seen")
        recorder.wait_for_revision(rev)
        link.set_cut(True)  # the watch loses its stream and cannot reconnect...
        for i in range(5):
            direct.delete(f"{prefix}{i}")
        direct.put(f"{prefix}new", b"while cut")
        direct.compact(direct.current_revision())  # ...while its history is compacted
        link.set_cut(False)
        recorder.wait_for(lambda h: len(h.relists) == 2, timeout=30, what="a re-list")
        final = direct.put(f"{prefix}after", b"!")
        recorder.wait_for_revision(final)
        assert recorder.state == {kv.key: kv.value for kv in direct.list(prefix)}
        assert f"{prefix}0" not in recorder.state
        watcher.stop()
    finally:
        through_link.close()
        direct.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[EtcdServer]]:
    """Three etcd members on loopback (FIELD-NOTES: they form in about 2.4 s)."""
    peers = {name: f"http://127.0.0.1:{free_port()}" for name in ("m1", "m2", "m3")}
    servers = [
        EtcdServer(
            tmp_path / name,
            client_url=f"http://127.0.0.1:{free_port()}",
            peer_url=peer,
            name=name,
            initial_cluster=peers,
        )
        for name, peer in peers.items()
    ]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_healthy(timeout=30)
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_store_and_watch_fail_over_to_another_member(cluster: list[EtcdServer]) -> None:
    prefix = "/failover/"
    store = EtcdStore([s.endpoint for s in cluster], retry=RetryPolicy(deadline=20.0))
    recorder = RecordingHandler()
    try:
        start = store.current_revision() + 1
        watcher = store.watch(prefix, start, recorder)
        for i in range(20):
            store.put(f"{prefix}{i}", b"a")
        recorder.wait_for_revision(store.current_revision())
        victim = next(s for s in cluster if s.endpoint == store.current_endpoint)
        victim.kill()
        for i in range(20):
            store.put(f"{prefix}{i}", b"b")  # goes to another member
        assert store.current_endpoint != victim.endpoint
        last = store.current_revision()
        recorder.wait_for_revision(last, timeout=30)
        watcher.stop()
        assert recorder.snapshot() == history(store.current_endpoint, prefix, start, last)
        assert len(recorder.events) == 40
    finally:
        store.close()
