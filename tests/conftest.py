"""Shared fixtures: real etcd servers on free loopback ports, and a check for leaked loops.

- `etcd_server` (session): one embedded etcd for the whole run; tests keep apart by using
  their own key prefix (`keys_prefix`).
- `etcd_store`: an EtcdStore connected to it, closed after the test.
- `fresh_etcd`: a server of the test's own, for tests that kill, restart or compact.
- every test fails if it leaves a supervised loop or a non-daemon thread running.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.etcd_server import EtcdServer, free_port
from core.etcd_store import EtcdStore, RetryPolicy
from core.supervise import Supervised


def start_etcd(data_dir: Path) -> EtcdServer:
    server = EtcdServer(data_dir, client_url=f"http://127.0.0.1:{free_port()}")
    server.start()
    try:
        server.wait_healthy(timeout=20)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    server = start_etcd(tmp_path_factory.mktemp("etcd-session") / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_etcd(tmp_path: Path) -> Iterator[EtcdServer]:
    server = start_etcd(tmp_path / "etcd")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def keys_prefix() -> str:
    return f"/t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def etcd_store(etcd_server: EtcdServer) -> Iterator[EtcdStore]:
    store = EtcdStore([etcd_server.endpoint], retry=RetryPolicy(deadline=5.0))
    try:
        yield store
    finally:
        store.close()


def _is_loop(thread: threading.Thread) -> bool:
    """A thread that must not outlive its test: non-daemon, or a Supervised loop's."""
    target = getattr(thread, "_target", None)
    return not thread.daemon or isinstance(getattr(target, "__self__", None), Supervised)


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 3.0
    while True:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        left = [t for t in left if _is_loop(t)]
        if not left or time.monotonic() >= deadline:
            break
        left[0].join(0.05)
    if left:
        pytest.fail(f"test left threads running: {[t.name for t in left]}")
