"""LeaseKeeper: keeps a lease alive every ttl/3 and reports its loss once."""

from __future__ import annotations

import threading

import pytest

from core.clock import FakeClock
from core.errors import Unavailable
from core.etcd_store import EtcdStore
from core.leasing import LeaseKeeper
from core.memory_store import MemoryStore
from core.store import LeaseId
from core.testing import wait_until


class CountingStore(MemoryStore):
    """A MemoryStore that counts keep-alives and can pretend to be unreachable."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.keep_alives = 0
        self.down = False
        self._counted = threading.Condition()

    def keep_alive(self, lease_id: int) -> int:
        with self._counted:
            self.keep_alives += 1
            self._counted.notify_all()
        if self.down:
            raise Unavailable("pretending etcd is down")
        return super().keep_alive(lease_id)

    def wait_keep_alives(self, n: int) -> None:
        with self._counted:
            assert self._counted.wait_for(lambda: self.keep_alives >= n, 5), self.keep_alives


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> CountingStore:
    return CountingStore(clock)


def park(clock: FakeClock) -> None:
    wait_until(lambda: clock.waiters > 0, what="the keeper to wait")


def test_the_keeper_refreshes_every_third_of_the_ttl(
    store: CountingStore, clock: FakeClock
) -> None:
    keeper = LeaseKeeper.grant(store, 9, clock=clock).start()
    store.put("/node/info", b"x", keeper.lease_id)
    try:
        store.wait_keep_alives(1)
        for n in range(2, 8):
            park(clock)
            clock.advance(3)
            store.wait_keep_alives(n)
        park(clock)
        assert store.get("/node/info") is not None  # 18 s later, thanks to keep-alives
        assert not keeper.lost and keeper.valid_for() > 0
    finally:
        keeper.stop(revoke=True)
    assert store.get("/node/info") is None


def test_an_expired_lease_is_reported_once(store: CountingStore, clock: FakeClock) -> None:
    lost: list[LeaseId] = []
    keeper = LeaseKeeper.grant(store, 6, clock=clock, on_lost=lost.append).start()
    try:
        store.wait_keep_alives(1)
        store.revoke_lease(keeper.lease_id)  # e.g. etcd expired it during a long pause
        park(clock)
        clock.advance(2)
        assert keeper.wait_lost(5)
        wait_until(lambda: not keeper.is_alive(), what="the keeper to finish")
        assert lost == [keeper.lease_id]
        assert keeper.valid_for() == 0
    finally:
        keeper.stop()


def test_unreachable_past_the_ttl_counts_as_lost(store: CountingStore, clock: FakeClock) -> None:
    lost: list[LeaseId] = []
    keeper = LeaseKeeper.grant(store, 3, clock=clock, on_lost=lost.append).start()
    try:
        store.wait_keep_alives(1)
        store.down = True
        for _ in range(4):
            park(clock)
            clock.advance(1)
            if keeper.lost:
                break
        assert keeper.wait_lost(5)
        assert lost == [keeper.lease_id]
    finally:
        keeper.stop()


@pytest.mark.integration
def test_the_keeper_holds_a_short_lease_on_etcd(
    etcd_store: EtcdStore, keys_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    renewed = []
    real = etcd_store.keep_alive

    def counting(lease_id: int) -> int:
        ttl = real(lease_id)
        renewed.append(ttl)
        return ttl

    monkeypatch.setattr(etcd_store, "keep_alive", counting)
    keeper = LeaseKeeper.grant(etcd_store, 2).start()
    key = f"{keys_prefix}/alive"
    etcd_store.put(key, b"x", keeper.lease_id)
    try:
        # Six renewals a third of the TTL apart: well past the TTL, only they keep the key.
        wait_until(lambda: len(renewed) >= 6, timeout=15, what="six keep-alives")
        assert etcd_store.get(key) is not None
        assert not keeper.lost
    finally:
        keeper.stop(revoke=True)
    assert etcd_store.get(key) is None
