"""`shoal sync DIR`, run as a real process against a real etcd: it picks up a new file, an
edited file and a removed file (deleting its tasks only with --prune), reports a file turned
invalid while its tasks keep their last good state, corrects drift made with the CLI, never
touches a task another sync owns, and keeps its own status in etcd. Every step waits on a
condition in etcd, with a deadline of a few seconds."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from core.testing import wait_until
from shoal.testing import ShoalHarness

pytestmark = pytest.mark.integration

SYNC_LABEL = "shoal.sync"
FILE_ANNOTATION = "shoal.sync/file"
WITHIN = 5.0  # seconds a change may take to show (the design says: within a second)


@contextmanager
def syncing(shoal: ShoalHarness, directory: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    proc = shoal.popen("sync", str(directory), "--name", "demo", *args)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    return proc.returncode, out, err


def record(shoal: ShoalHarness, name: str = "demo") -> dict[str, Any] | None:
    kv = shoal.store.get(shoal.keys.sync(name))
    return json.loads(kv.value) if kv is not None else None


def wait_for(condition: Any, what: str, timeout: float = WITHIN) -> None:
    wait_until(condition, timeout=timeout, interval=0.05, what=what)


def spec_of(shoal: ShoalHarness, name: str) -> dict[str, Any] | None:
    stored = shoal.stored(name)
    return stored["spec"] if stored else None


def test_sync_follows_the_directory(shoal: ShoalHarness) -> None:
    root = shoal.tmp / "apps"
    shoal.file("apps/a.yaml", shoal.manifest("a"))
    shoal.file("apps/team/b.yaml", shoal.manifest("b"))
    shoal.run("apply", "-f", "-", input=shoal.manifest("manual"))  # not from this sync
    with syncing(shoal, root, "--interval", "1", "--prune") as proc:
        wait_for(lambda: shoal.stored("a") and shoal.stored("b"), "the first pass")
        a = shoal.stored("a")
        assert a is not None
        assert a["metadata"]["labels"][SYNC_LABEL] == "demo"
        assert a["metadata"]["annotations"][FILE_ANNOTATION] == "a.yaml"
        assert shoal.stored("b")["metadata"]["annotations"][FILE_ANNOTATION] == "team/b.yaml"  # type: ignore[index]

        # a new file
        shoal.file("apps/c.yaml", shoal.manifest("c"))
        wait_for(lambda: shoal.stored("c") is not None, "the new file's task")

        # an edited file
        shoal.file("apps/a.yaml", shoal.manifest("a", spec="  command: [sleep, '30']\n"))
        wait_for(lambda: (spec_of(shoal, "a") or {}).get("command") == ["sleep", "30"], "the edit")
        assert shoal.stored("a")["metadata"]["generation"] == 2  # type: ignore[index]

        # a removed file, with --prune
        (root / "team" / "b.yaml").unlink()
        wait_for(lambda: shoal.stored("b") is None, "the removed file's task to be pruned")

        # a file turned invalid keeps its tasks as they were; the others still sync
        shoal.file("apps/a.yaml", shoal.manifest("a", spec="  command: [sleep, '30']\n  bad: [\n"))
        wait_for(
            lambda: any(
                "a.yaml" in e for e in (record(shoal) or {}).get("status", {}).get("errors", [])
            ),
            "the problem in the sync's status",
        )
        status = record(shoal)["status"]  # type: ignore[index]
        assert status["result"] == "Degraded"
        assert "its 1 task(s) keep their last good state" in status["errors"][0]
        assert (spec_of(shoal, "a") or {}).get("command") == ["sleep", "30"]
        shoal.file("apps/c.yaml", shoal.manifest("c", labels="edited: 'yes'"))
        wait_for(
            lambda: (
                (shoal.stored("c") or {}).get("metadata", {}).get("labels", {}).get("edited")
                == "yes"
            ),
            "another file to still sync",
        )
        assert shoal.stored("a") is not None, "an invalid file's task is not pruned"

        # drift made with the CLI is put back at the next interval
        assert shoal.run("stop", "task", "a").exit_code == 0
        assert spec_of(shoal, "a")["desiredState"] == "Stopped"  # type: ignore[index]
        wait_for(lambda: spec_of(shoal, "a")["desiredState"] == "Running", "a stop undone")  # type: ignore[index]
        assert shoal.run("delete", "task", "c").exit_code == 0
        wait_for(lambda: shoal.stored("c") is not None, "a deleted task put back")

        # the file fixed: errors clear
        shoal.file("apps/a.yaml", shoal.manifest("a"))
        wait_for(lambda: (record(shoal) or {})["status"]["result"] == "Synced", "clean again")

        code, out, err = _stop(proc)
    assert code == 0, err
    assert shoal.stored("manual") is not None, "a task without this sync's label is never pruned"
    lines = out.splitlines()
    for expected in ["task/a created", "task/b created", "task/c created", "task/b pruned"]:
        assert expected in lines, out
    assert "a.yaml: document 1" in err and "Traceback" not in err
    final = record(shoal)
    assert final is not None
    assert final["status"]["stoppedAt"] is not None
    got = shoal.run("get", "syncs")
    assert got.stdout.splitlines()[1].split()[:2] == ["demo", "Stopped"]


def test_without_prune_a_removed_files_tasks_stay(shoal: ShoalHarness) -> None:
    root = shoal.tmp / "apps"
    shoal.file("apps/a.yaml", shoal.manifest("a"))
    shoal.file("apps/b.yaml", shoal.manifest("b"))
    with syncing(shoal, root, "--interval", "1") as proc:
        wait_for(lambda: (record(shoal) or {}).get("status", {}).get("files") == 2, "first pass")
        (root / "b.yaml").unlink()
        wait_for(lambda: record(shoal)["status"]["files"] == 1, "a pass without b.yaml")  # type: ignore[index]
        assert shoal.stored("b") is not None
        code, _, err = _stop(proc)
    assert code == 0, err


def test_a_task_owned_by_another_sync_is_never_touched(shoal: ShoalHarness) -> None:
    theirs = shoal.manifest("shared", labels=f"{SYNC_LABEL}: other")
    assert shoal.run("apply", "-f", "-", input=theirs).exit_code == 0
    theirs_only = shoal.manifest("theirs", labels=f"{SYNC_LABEL}: other")
    assert shoal.run("apply", "-f", "-", input=theirs_only).exit_code == 0
    shoal.file("apps/shared.yaml", shoal.manifest("shared", spec="  command: [mine]\n"))
    result = shoal.proc("sync", str(shoal.tmp / "apps"), "--name", "demo", "--once", "--prune")
    assert result.returncode == 1, result.stderr
    assert "task default/shared belongs to sync 'other'; it was not touched" in result.stderr
    shared, other = shoal.stored("shared"), shoal.stored("theirs")
    assert shared is not None and other is not None, "prune skips what another sync owns"
    assert shared["metadata"]["labels"][SYNC_LABEL] == "other"
    assert "command" not in shared["spec"]


def test_once_applies_and_exits(shoal: ShoalHarness) -> None:
    shoal.file("apps/a.yaml", shoal.manifest("a"))
    first = shoal.proc("sync", str(shoal.tmp / "apps"), "--once")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["task/a created"]
    again = shoal.proc("sync", str(shoal.tmp / "apps"), "--once")
    assert (again.returncode, again.stdout) == (0, "")
    rec = record(shoal, "apps")
    assert rec is not None, "the name defaults to the directory's base name"
    assert rec["status"]["counts"]["unchanged"] == 1
    assert rec["status"]["lastChanges"] == ["task/a created"]
    shoal.file("apps/a.yaml", "kind: Task\n")
    broken = shoal.proc("sync", str(shoal.tmp / "apps"), "--once", "--prune")
    assert broken.returncode == 1
    assert "a.yaml: document 1" in broken.stderr and "nothing from it is applied" in broken.stderr
    assert shoal.stored("a") is not None, "a task of a file that does not load is never pruned"
    described = shoal.run("describe", "sync", "apps")
    assert described.exit_code == 0
    assert "Problems:" in described.stdout and "a.yaml: document 1" in described.stdout


def test_an_empty_directory_prunes_nothing_unless_allowed(shoal: ShoalHarness) -> None:
    shoal.file("apps/a.yaml", shoal.manifest("a"))
    assert shoal.proc("sync", str(shoal.tmp / "apps"), "--once").returncode == 0
    (shoal.tmp / "apps" / "a.yaml").unlink()
    kept = shoal.proc("sync", str(shoal.tmp / "apps"), "--once", "--prune")
    assert kept.returncode == 1 and "nothing was pruned" in kept.stderr
    assert shoal.stored("a") is not None
    pruned = shoal.proc("sync", str(shoal.tmp / "apps"), "--once", "--prune", "--allow-empty")
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.strip() == "task/a pruned"


def test_one_name_for_one_directory(shoal: ShoalHarness) -> None:
    shoal.file("one/a.yaml", shoal.manifest("a"))
    shoal.file("two/b.yaml", shoal.manifest("b"))
    assert shoal.proc("sync", str(shoal.tmp / "one"), "--name", "x", "--once").returncode == 0
    clash = shoal.proc("sync", str(shoal.tmp / "two"), "--name", "x", "--once")
    assert clash.returncode == 1
    assert "already used for" in clash.stderr and "--takeover" in clash.stderr
    assert shoal.stored("b") is None
    taken = shoal.proc("sync", str(shoal.tmp / "two"), "--name", "x", "--once", "--takeover")
    assert taken.returncode == 0, taken.stderr


@pytest.mark.parametrize(
    "args, code",
    [
        (["sync", "/no/such/dir", "--once"], 1),
        (["sync"], 2),
        (["sync", ".", "--name", "Bad_Name"], 2),
        (["sync", ".", "--interval", "0"], 2),
        (["sync", ".", "--allow-empty"], 2),
    ],
)
def test_sync_usage(shoal: ShoalHarness, args: list[str], code: int) -> None:
    result = shoal.run(*args)
    assert result.exit_code == code, result.output
