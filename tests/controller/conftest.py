"""Fixtures for the controller's component tests: a cluster over the in-memory store with
simulated agents (`controller.testing`), on real time or on a FakeClock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controller.testing import Cluster, new_cluster
from core.clock import Clock, FakeClock, SystemClock


def _cluster(clock: Clock) -> Iterator[Cluster]:
    cluster = new_cluster(clock)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A cluster on real time (short leader lease, no debounce)."""
    yield from _cluster(SystemClock())


@pytest.fixture
def fake_cluster() -> Iterator[Cluster]:
    """A cluster on a FakeClock: leases, grace periods and delays move only with `advance`."""
    yield from _cluster(FakeClock())
