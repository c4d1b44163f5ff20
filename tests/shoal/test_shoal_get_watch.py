"""`shoal get -w`, run as a real process: every status change arrives as its own line, a
table prints its header once and then a row per change, Ctrl-C stops it with exit 0, and it
carries on by itself across an etcd restart (saying so on stderr)."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from core.etcd_server import EtcdServer
from core.etcd_store import EtcdStore, RetryPolicy
from core.keys import Keys
from core.testing import wait_until
from shoal.testing import ShoalHarness

pytestmark = pytest.mark.integration


class Lines:
    """Collects what a process writes on one stream, line by line, as it arrives."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def wait_for(self, predicate: object, what: str, timeout: float = 10.0) -> list[str]:
        assert callable(predicate)
        wait_until(
            lambda: predicate(self.snapshot()), timeout=timeout, what=f"{what}: {self.snapshot()}"
        )
        return self.snapshot()

    def join(self) -> None:
        self._thread.join(5)


@contextmanager
def watching(
    shoal: ShoalHarness, *args: str
) -> Iterator[tuple[subprocess.Popen[str], Lines, Lines]]:
    proc = shoal.popen(*args)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = Lines(proc.stdout), Lines(proc.stderr)
    try:
        yield proc, out, err
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nstderr of shoal {' '.join(args)}: {err.snapshot()}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        out.join()
        err.join()


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(10)


def test_json_watch_sees_every_state_of_a_task(shoal: ShoalHarness) -> None:
    shoal.run("apply", "-f", "-", input=shoal.manifest("job"))
    with watching(shoal, "get", "tasks", "job", "-w", "-o", "json") as (proc, out, err):
        first = out.wait_for(lambda ls: len(ls) >= 1, "the initial object")
        assert json.loads(first[0])["status"]["state"] == "Pending"
        for state in ["Pending", "Scheduled", "Running", "Completed"]:
            shoal.status("job", state, node="n1" if state != "Pending" else None)
        seen = out.wait_for(lambda ls: len(ls) >= 5, "four status changes")
        objects = [json.loads(line) for line in seen]
        assert [o["status"]["state"] for o in objects] == [
            "Pending",
            "Pending",
            "Scheduled",
            "Running",
            "Completed",
        ]
        assert all(o["metadata"]["name"] == "job" for o in objects)
        assert objects[-1]["status"]["node"] == "n1"
        assert _stop(proc) == 0
        assert "Traceback" not in "\n".join(err.snapshot())


def test_json_watch_follows_spec_changes_and_deletion_with_event_types(
    shoal: ShoalHarness,
) -> None:
    shoal.run("apply", "-f", "-", input=shoal.manifest("web"))
    args = ("get", "tasks", "-w", "-o", "json", "--output-watch-events")
    with watching(shoal, *args) as (proc, out, _):
        out.wait_for(lambda ls: len(ls) >= 1, "the initial object")
        shoal.run("stop", "task", "web")
        shoal.run("delete", "task", "web")
        seen = out.wait_for(lambda ls: len(ls) >= 3, "added, modified, deleted")
        events = [json.loads(line) for line in seen]
        assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
        assert events[1]["object"]["spec"]["desiredState"] == "Stopped"
        assert events[1]["object"]["metadata"]["generation"] == 2
        assert _stop(proc) == 0


def test_table_watch_prints_a_header_once_then_a_row_per_change(shoal: ShoalHarness) -> None:
    shoal.run("apply", "-f", "-", input=shoal.manifest("a") + "---\n" + shoal.manifest("b"))
    with watching(shoal, "get", "tasks", "-w") as (proc, out, _):
        out.wait_for(lambda ls: len(ls) >= 3, "header and two rows")
        shoal.status("a", "Scheduled", node="n1")
        shoal.status("a", "Running", node="n1")
        shoal.run("delete", "task", "b")
        seen = out.wait_for(lambda ls: len(ls) >= 6, "three more rows")
        rows = [line.split() for line in seen]
        assert rows[0] == ["NAME", "STATE", "NODE", "RESTARTS", "AGE", "REASON"]
        assert sum(1 for r in rows if r[0] == "NAME") == 1, "the header comes once"
        assert [r[:3] for r in rows[1:]] == [
            ["a", "Pending", "<none>"],
            ["b", "Pending", "<none>"],
            ["a", "Scheduled", "n1"],
            ["a", "Running", "n1"],
            ["b", "Deleted", "<none>"],
        ]
        widths = {seen[0].index("STATE")} | {line.index(line.split()[1]) for line in seen[1:]}
        assert len(widths) == 1, "every row keeps the header's columns"
        assert _stop(proc) == 0


def test_sigterm_stops_a_watch_cleanly(shoal: ShoalHarness) -> None:
    with watching(shoal, "get", "nodes", "-w") as (proc, out, err):
        out.wait_for(lambda ls: len(ls) >= 1, "the header")
        shoal.node("n1")
        out.wait_for(lambda ls: any(line.startswith("n1 ") for line in ls), "the node")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert "Traceback" not in "\n".join(err.snapshot())


def test_watch_carries_on_across_an_etcd_restart(tmp_path: Path, fresh_etcd: EtcdServer) -> None:
    prefix = "/restart"
    store = EtcdStore([fresh_etcd.endpoint], retry=RetryPolicy(deadline=20.0))
    shoal = ShoalHarness(fresh_etcd.endpoint, prefix, store, Keys(prefix), tmp_path)
    try:
        shoal.run("apply", "-f", "-", input=shoal.manifest("web"))
        with watching(shoal, "get", "tasks", "-w", "-o", "json") as (proc, out, err):
            out.wait_for(lambda ls: len(ls) >= 1, "the initial object")
            fresh_etcd.stop()
            err.wait_for(lambda ls: any("lost connection to etcd" in x for x in ls), "a notice", 15)
            fresh_etcd.start()
            fresh_etcd.wait_healthy(20)
            err.wait_for(lambda ls: any("restored" in x for x in ls), "back", 15)
            shoal.status("web", "Running", node="n1")
            seen = out.wait_for(lambda ls: len(ls) >= 2, "the change after the restart", 15)
            assert json.loads(seen[-1])["status"]["state"] == "Running"
            notices = [x for x in err.snapshot() if x.strip()]
            assert len(notices) == 2, f"one line down, one line back: {notices}"
            assert _stop(proc) == 0
    finally:
        store.close()
