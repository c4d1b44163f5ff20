"""Fixtures for the `shoal` command's tests: a harness on the session etcd, under a fresh
prefix, with the test's own directory for manifests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.etcd_server import EtcdServer
from core.etcd_store import EtcdStore
from core.keys import Keys
from shoal.testing import ShoalHarness


@pytest.fixture
def shoal(
    etcd_server: EtcdServer, etcd_store: EtcdStore, keys_prefix: str, tmp_path: Path
) -> Iterator[ShoalHarness]:
    yield ShoalHarness(etcd_server.endpoint, keys_prefix, etcd_store, Keys(keys_prefix), tmp_path)
