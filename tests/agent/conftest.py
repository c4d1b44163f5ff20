"""Fixtures for the agent's tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest


@pytest.fixture
def no_thread_left_running() -> Iterator[None]:
    """Fail a test that leaves any thread of its own running (an event stream's watcher…),
    daemon or not: stricter than the suite-wide check, for the runtime adapters' tests."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2
    while (left := set(threading.enumerate()) - before) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not left, f"threads left running: {left}"
