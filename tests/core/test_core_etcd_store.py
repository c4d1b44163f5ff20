"""EtcdStore against a real etcd: unavailability, retries that must not double-apply, paging."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from core.errors import Unavailable
from core.etcd_server import EtcdServer, free_port
from core.etcd_store import EtcdStore, RetryPolicy
from core.store import Compare, Put, WriteOp

pytestmark = pytest.mark.integration


def timed(call: Callable[[], object]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        call()
    except BaseException as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


def test_unavailable_within_the_deadline_when_nothing_listens() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    with EtcdStore([nobody], retry=RetryPolicy(deadline=1.0)) as store:
        calls: list[Callable[[], object]] = [
            lambda: store.get("/x"),
            lambda: store.list("/"),
            lambda: store.put("/x", b"1"),
            lambda: store.create("/x", b"1"),
            lambda: store.txn([], [Put("/x", b"1")]),
            lambda: store.grant_lease(5),
        ]
        for call in calls:
            error, elapsed = timed(call)
            assert isinstance(error, Unavailable), error
            assert nobody in str(error)
            assert elapsed < 2.5
        error, elapsed = timed(lambda: store.ping(timeout=0.5))
        assert isinstance(error, Unavailable) and elapsed < 1.5


def test_a_hung_etcd_times_out_then_recovers(fresh_etcd: EtcdServer) -> None:
    store = EtcdStore([fresh_etcd.endpoint], timeout=0.3, retry=RetryPolicy(deadline=1.5))
    try:
        store.put("/hung", b"before")
        assert fresh_etcd.pid is not None
        os.kill(fresh_etcd.pid, signal.SIGSTOP)  # our own etcd, by pid
        try:
            error, elapsed = timed(lambda: store.get("/hung"))
        finally:
            os.kill(fresh_etcd.pid, signal.SIGCONT)
        assert isinstance(error, Unavailable) and elapsed < 3.0
        kv = store.get("/hung")  # not locked out: the endpoint is usable again at once
        assert kv is not None and kv.value == b"before"
    finally:
        store.close()


def test_the_store_works_again_after_etcd_restarts(fresh_etcd: EtcdServer) -> None:
    store = EtcdStore([fresh_etcd.endpoint], retry=RetryPolicy(deadline=1.0))
    try:
        store.put("/r", b"1")
        fresh_etcd.kill()
        error, _ = timed(lambda: store.get("/r"))
        assert isinstance(error, Unavailable)
        fresh_etcd.start().wait_healthy()
        kv = store.get("/r")
        assert kv is not None and kv.value == b"1"
        assert store.status().version.startswith("3.")
    finally:
        store.close()


def lose_first_answer(store: EtcdStore, monkeypatch: pytest.MonkeyPatch, applied: bool) -> None:
    """The first transaction reaches etcd (if `applied`) but its answer is lost."""
    real = store._txn_once
    calls = {"n": 0}

    def flaky(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            if applied:
                real(*args)
            raise Unavailable("connection reset", maybe_applied=applied)
        return real(*args)

    monkeypatch.setattr(store, "_txn_once", flaky)


def test_a_create_whose_answer_was_lost_is_recognised(
    etcd_store: EtcdStore, keys_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = f"{keys_prefix}/c"
    lose_first_answer(etcd_store, monkeypatch, applied=True)
    rev = etcd_store.create(key, b"mine")
    kv = etcd_store.get(key)
    assert kv is not None and kv.mod_revision == rev and kv.version == 1


def test_an_update_whose_answer_was_lost_is_recognised(
    etcd_store: EtcdStore, keys_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = f"{keys_prefix}/u"
    rev = etcd_store.create(key, b"v1")
    lose_first_answer(etcd_store, monkeypatch, applied=True)
    rev2 = etcd_store.update(key, b"v2", rev)
    kv = etcd_store.get(key)
    assert kv is not None and (kv.value, kv.mod_revision, kv.version) == (b"v2", rev2, 2)


def test_txn_is_retried_only_when_it_was_not_sent(
    etcd_store: EtcdStore, keys_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = f"{keys_prefix}/t"
    lose_first_answer(etcd_store, monkeypatch, applied=False)
    assert etcd_store.txn([Compare.missing(key)], [Put(key, b"1")]).succeeded
    lose_first_answer(etcd_store, monkeypatch, applied=True)
    with pytest.raises(Unavailable):
        etcd_store.txn([Compare.version(key, 1)], [Put(key, b"2")])
    kv = etcd_store.get(key)
    assert kv is not None and kv.value == b"2"  # it did land; the caller was told "unknown"


def test_list_pages_at_one_revision(
    etcd_server: EtcdServer, keys_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EtcdStore([etcd_server.endpoint], page_size=7)
    try:
        store.commit_batch([Put(f"{keys_prefix}/{i:03d}", b"x") for i in range(50)])
        real = store._kv
        pages = {"n": 0}

        def writing_between_pages(method: str, request: Any, timeout: float, key: str = "") -> Any:
            if method == "Range" and request.limit == 7:
                pages["n"] += 1
                if pages["n"] == 2:
                    store.put(f"{keys_prefix}/999-late", b"late")
                    store.delete(f"{keys_prefix}/049")
            return real(method, request, timeout, key)

        monkeypatch.setattr(store, "_kv", writing_between_pages)
        listing = store.list(f"{keys_prefix}/")
        assert pages["n"] == 8
        assert [kv.key for kv in listing] == [f"{keys_prefix}/{i:03d}" for i in range(50)]
        assert all(kv.mod_revision <= listing.revision for kv in listing)
    finally:
        store.close()


def test_list_of_100_000_keys(etcd_store: EtcdStore, keys_prefix: str) -> None:
    ops: list[WriteOp] = [Put(f"{keys_prefix}/{i:06d}", b"v" * 100) for i in range(100_000)]
    etcd_store.commit_batch(ops)
    listing = etcd_store.list(f"{keys_prefix}/")
    assert len(listing) == 100_000
    assert listing.items[0].key == f"{keys_prefix}/000000"
    assert listing.items[-1].key == f"{keys_prefix}/099999"
    assert etcd_store.delete_prefix(f"{keys_prefix}/") == 100_000


def test_a_closed_store_says_unavailable(etcd_server: EtcdServer) -> None:
    store = EtcdStore([etcd_server.endpoint])
    store.put("/closed", b"x")
    store.close()
    error, elapsed = timed(lambda: store.get("/closed"))
    assert isinstance(error, Unavailable) and elapsed < 1.0


def test_several_endpoints_fail_over_for_plain_calls(etcd_server: EtcdServer) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with EtcdStore([dead, etcd_server.endpoint, dead.replace("127.0.0.1", "localhost")]) as store:
        for i in range(10):  # whichever endpoint is tried first, every call lands
            store.put(f"/multi/{i}", b"x")
        assert store.current_endpoint == etcd_server.endpoint
