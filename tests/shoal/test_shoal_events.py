"""`shoal events [-w] [-n NS|-A] [TASK]`: the controller's TaskEvents, oldest first."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.testing import wait_until
from core.typed_store import put_model
from schemas.events import EventType, TaskEvent
from shoal.testing import ShoalHarness

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC) - timedelta(minutes=5)


def _event(
    shoal: ShoalHarness,
    name: str,
    seq: int,
    reason: str,
    *,
    namespace: str = "default",
    **kw: Any,
) -> None:
    event = TaskEvent(
        namespace=namespace, name=name, reason=reason, time=T0 + timedelta(seconds=seq), **kw
    )
    put_model(shoal.store, shoal.keys.event(namespace, name, seq), event)


def test_events_table_in_time_order(shoal: ShoalHarness) -> None:
    _event(shoal, "web", 2, "Started", fromState="Scheduled", toState="Running")
    _event(
        shoal,
        "web",
        1,
        "Scheduled",
        message="placed on n1",
        fromState="Pending",
        toState="Scheduled",
    )
    _event(shoal, "db", 3, "BackOff", type=EventType.Warning, message="restarting in 20s", count=3)
    _event(shoal, "web", 4, "Scheduled", namespace="prod")
    result = shoal.run("events")
    assert result.exit_code == 0, result.output
    rows = shoal.lines(result.stdout)
    assert rows[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert [r.split()[1:4] for r in rows[1:]] == [
        ["Normal", "Scheduled", "task/web"],
        ["Normal", "Started", "task/web"],
        ["Warning", "BackOff", "task/db"],
    ]
    assert rows[1].endswith("Pending -> Scheduled: placed on n1")
    assert rows[3].endswith("restarting in 20s (x3)")
    only_web = shoal.run("events", "web")
    assert [r.split()[2] for r in shoal.lines(only_web.stdout)[1:]] == ["Scheduled", "Started"]
    everywhere = shoal.run("events", "-A", "-o", "json")
    items = json.loads(everywhere.stdout)["items"]
    assert [(e["namespace"], e["reason"]) for e in items] == [
        ("default", "Scheduled"),
        ("default", "Started"),
        ("default", "BackOff"),
        ("prod", "Scheduled"),
    ]
    assert shoal.run("events", "-A", "web").exit_code == 2


def test_events_watch_prints_each_new_event(shoal: ShoalHarness) -> None:
    _event(shoal, "web", 1, "Scheduled")
    proc = shoal.popen("events", "-w", "-o", "json")
    assert proc.stdout is not None
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        wait_until(lambda: len(got) >= 1, what=f"the existing event: {got}")
        _event(shoal, "web", 2, "Started")
        wait_until(lambda: len(got) >= 2, what=f"the new event: {got}")
        assert [json.loads(x)["reason"] for x in got] == ["Scheduled", "Started"]
        shoal.store.delete(shoal.keys.event("default", "web", 1))  # expiry is not news
        _event(shoal, "web", 3, "Completed")
        wait_until(lambda: len(got) >= 3, what=f"the third event: {got}")
        assert json.loads(got[2])["reason"] == "Completed"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
        reader.join(5)
