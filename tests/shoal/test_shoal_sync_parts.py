"""The parts of a directory sync without etcd: debouncing (on a FakeClock), which file
events count, the per-file last good state, the ownership rules of a pass, and the
DirectorySync loop itself on MemoryStore with a real watchdog, started and stopped."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from watchdog.events import (
    DirCreatedEvent,
    DirModifiedEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)

from core.clock import FakeClock
from core.keys import Keys
from core.memory_store import MemoryStore
from core.testing import wait_until
from schemas.loader import load_text
from schemas.task import Task
from shoal.applying import Stored, encode_task, plan_one
from shoal.sync_events import DirectoryWatch, is_relevant
from shoal.sync_pass import plan_sync
from shoal.sync_sources import OWNER_LABEL, SOURCE_ANNOTATION, Sources, owned
from shoal.syncing import DirectorySync, SyncOptions
from shoal.testing import ShoalHarness

NOW = datetime(2026, 1, 1, tzinfo=UTC)
manifest = ShoalHarness.manifest


def _task(text: str) -> Task:
    result = load_text(text)
    assert result.ok, result.errors
    return result.tasks[0].task


# -- debouncing --------------------------------------------------------------------------


class Waiting:
    """`DirectoryWatch.wait` running in a thread, its answer kept."""

    def __init__(self, watch: DirectoryWatch, stop: threading.Event, timeout: float) -> None:
        self.result: list[str | None] = []
        self.thread = threading.Thread(
            target=lambda: self.result.append(watch.wait(stop, timeout)), daemon=True
        )
        self.thread.start()

    def done(self) -> bool:
        return bool(self.result)


def _watch(tmp_path: Path, clock: FakeClock) -> tuple[DirectoryWatch, threading.Event]:
    wake = threading.Event()
    return DirectoryWatch(str(tmp_path), wake, clock=clock, debounce=0.2, max_delay=1.0), wake


def test_a_burst_of_events_makes_one_wake_up_after_it_settles(tmp_path: Path) -> None:
    clock = FakeClock()
    watch, _ = _watch(tmp_path, clock)
    stop = threading.Event()
    waiting = Waiting(watch, stop, timeout=30)
    wait_until(lambda: clock.waiters == 1, what="the wait to park")
    watch.poke()
    wait_until(lambda: clock.waiters == 1 and watch.pokes == 1, what="debouncing")
    for _ in range(3):  # an editor writing, renaming, writing again, 0.1 s apart
        clock.advance(0.1)
        watch.poke()
    clock.advance(0.15)
    assert not waiting.done(), "0.15 s after the last event is not quiet enough"
    clock.advance(0.1)
    wait_until(waiting.done, what="the wake-up")
    assert waiting.result == ["files"]
    again = Waiting(watch, stop, timeout=5)
    wait_until(lambda: clock.waiters == 1, what="the next wait")
    clock.advance(5)
    wait_until(again.done, what="the interval")
    assert again.result == ["interval"], "the burst was consumed by one wake-up"


def test_endless_events_still_wake_within_max_delay(tmp_path: Path) -> None:
    clock = FakeClock()
    watch, _ = _watch(tmp_path, clock)
    waiting = Waiting(watch, threading.Event(), timeout=30)
    wait_until(lambda: clock.waiters == 1, what="the wait to park")
    watch.poke()
    for _ in range(9):
        clock.advance(0.1)
        watch.poke()
        assert not waiting.done()
    clock.advance(0.15)  # past 1 s after the first event, although events keep coming
    wait_until(waiting.done, what="the cap")
    assert waiting.result == ["files"]


def test_stop_ends_a_wait(tmp_path: Path) -> None:
    clock = FakeClock()
    watch, wake = _watch(tmp_path, clock)
    stop = threading.Event()
    waiting = Waiting(watch, stop, timeout=30)
    wait_until(lambda: clock.waiters == 1, what="the wait to park")
    stop.set()
    wake.set()
    wait_until(waiting.done, what="the stop")
    assert waiting.result == [None]


@pytest.mark.parametrize(
    "event, counts",
    [
        (FileModifiedEvent("/d/web.yaml"), True),
        (FileCreatedEvent("/d/sub/db.yml"), True),
        (FileClosedEvent("/d/web.json"), True),
        (FileMovedEvent("/d/.web.yaml.swp", "/d/web.yaml"), True),
        (FileMovedEvent("/d/web.yaml", "/d/web.yaml~"), True),
        (FileOpenedEvent("/d/web.yaml"), False),
        (FileClosedNoWriteEvent("/d/web.yaml"), False),
        (FileModifiedEvent("/d/.web.yaml.swp"), False),
        (FileModifiedEvent("/d/web.yaml~"), False),
        (FileModifiedEvent("/d/4913"), False),
        (FileModifiedEvent("/d/.git/config.yaml"), False),
        (DirCreatedEvent("/d/team"), True),
        (DirModifiedEvent("/d/team"), False),
        (DirCreatedEvent("/d/.git/objects"), False),
    ],
)
def test_which_events_count(event: object, counts: bool) -> None:
    assert is_relevant("/d", event) is counts  # type: ignore[arg-type]


# -- sources: per file, the last good load -------------------------------------------------


def test_an_invalid_file_keeps_its_last_good_tasks(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(manifest("a") + "---\n" + manifest("a2"))
    (tmp_path / "b.yaml").write_text(manifest("b"))
    sources = Sources(str(tmp_path))
    assert sources.refresh() == ["a.yaml", "b.yaml"]
    assert sources.refresh() == [], "unchanged files are not read again"
    (tmp_path / "a.yaml").write_text(manifest("a") + "  nope: 1\n")
    assert sources.refresh() == ["a.yaml"]
    tasks, problems = sources.desired("demo")
    assert [t.metadata.name for t in tasks] == ["a", "a2", "b"], "a.yaml as it last loaded"
    assert not problems
    [problem] = sources.problems()
    assert "spec.nope" in problem and "its 2 task(s) keep their last good state" in problem
    assert sources.protected() == {"a.yaml"}
    (tmp_path / "b.yaml").unlink()
    sources.refresh()
    assert [t.metadata.name for t in sources.desired("demo")[0]] == ["a", "a2"]


def test_tasks_are_labelled_and_duplicates_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(manifest("web", labels="app: web"))
    (tmp_path / "z.yaml").write_text(manifest("web"))
    sources = Sources(str(tmp_path))
    sources.refresh()
    tasks, problems = sources.desired("demo")
    [web] = tasks
    assert web.metadata.labels == {"app": "web", OWNER_LABEL: "demo"}
    assert web.metadata.annotations == {SOURCE_ANNOTATION: "a.yaml"}
    assert problems == [
        "z.yaml: task default/web is also defined in a.yaml; the definition in a.yaml is used"
    ]


def test_a_missing_directory_forgets_nothing(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.yaml").write_text(manifest("a"))
    sources = Sources(str(tmp_path / "d"))
    sources.refresh()
    (tmp_path / "d" / "a.yaml").unlink()
    (tmp_path / "d").rmdir()
    with pytest.raises(FileNotFoundError):
        sources.refresh()
    assert list(sources.files) == ["a.yaml"]


# -- a pass's ownership rules (pure) --------------------------------------------------------


def _stored(task: Task, revision: int = 5) -> Stored:
    change = plan_one(task, None, now=NOW)
    assert change.new is not None
    return Stored(encode_task(change.new), revision)


def test_ownership_decides_what_a_pass_may_write_and_prune() -> None:
    mine = owned(_task(manifest("mine")), "demo", "mine.yaml")
    gone = owned(_task(manifest("gone")), "demo", "gone.yaml")
    broken = owned(_task(manifest("broken")), "demo", "broken.yaml")
    other = owned(_task(manifest("clash")), "other", "x.yaml")
    current = {
        "default/mine": _stored(mine),
        "default/gone": _stored(gone),
        "default/broken": _stored(broken),
        "default/clash": _stored(other),
        "default/manual": _stored(_task(manifest("manual"))),
    }
    desired = [mine, owned(_task(manifest("clash")), "demo", "c.yaml")]
    changes, problems = plan_sync(
        desired,
        current,
        owner="demo",
        prune=True,
        allow_empty=False,
        protected={"broken.yaml"},
        now=NOW,
    )
    assert [(c.verb, c.key) for c in changes] == [
        ("unchanged", "default/mine"),
        ("pruned", "default/gone"),
    ]
    assert problems == ["task default/clash belongs to sync 'other'; it was not touched"]
    no_prune, _ = plan_sync(
        desired, current, owner="demo", prune=False, allow_empty=False, protected=set(), now=NOW
    )
    assert [c.verb for c in no_prune] == ["unchanged"]
    empty, problems = plan_sync(
        [], current, owner="demo", prune=True, allow_empty=False, protected=set(), now=NOW
    )
    assert empty == [] and "nothing was pruned" in problems[0]


def test_an_unlabelled_task_a_file_defines_is_adopted() -> None:
    manual = _task(manifest("web"))
    current = {"default/web": _stored(manual)}
    changes, problems = plan_sync(
        [owned(manual, "demo", "web.yaml")],
        current,
        owner="demo",
        prune=True,
        allow_empty=False,
        protected=set(),
        now=NOW,
    )
    assert [c.verb for c in changes] == ["configured"] and not problems
    assert changes[0].new is not None
    assert changes[0].new.metadata.labels[OWNER_LABEL] == "demo"
    assert changes[0].new.metadata.generation == 1, "only labels changed"


# -- the loop, in-process ----------------------------------------------------------------


def test_directory_sync_runs_in_process_and_stops_cleanly(tmp_path: Path) -> None:
    store, keys = MemoryStore(), Keys()
    (tmp_path / "a.yaml").write_text(manifest("a"))
    sync = DirectorySync(
        store, keys, SyncOptions(str(tmp_path), name="demo", interval=60, prune=True)
    )
    sync.start()
    try:
        wait_until(lambda: store.get(keys.task("default", "a")) is not None, what="first pass")
        (tmp_path / "b.yaml").write_text(manifest("b"))
        wait_until(
            lambda: store.get(keys.task("default", "b")) is not None,
            timeout=3,
            what="a pass on the file event (no interval for 60 s)",
        )
        (tmp_path / "a.yaml").unlink()
        wait_until(lambda: store.get(keys.task("default", "a")) is None, timeout=3, what="prune")
    finally:
        sync.stop()
    assert not sync.is_alive()
    record = store.get(keys.sync("demo"))
    assert record is not None and b'"stoppedAt":"' in record.value


def test_a_pass_that_cannot_reach_the_store_is_reported_and_retried(tmp_path: Path) -> None:
    from core.errors import Unavailable

    class Down(MemoryStore):
        def list(self, prefix: str):  # type: ignore[no-untyped-def]
            raise Unavailable("etcd is down", endpoints=["http://127.0.0.1:1"])

    (tmp_path / "a.yaml").write_text(manifest("a"))
    sync = DirectorySync(Down(), Keys(), SyncOptions(str(tmp_path), name="demo"))
    outcome = sync.run_once()
    assert outcome.failed
    assert outcome.problems and "etcd is down" in outcome.problems[-1]
    assert sync.record.status.result == "Failed"


def test_a_directory_removed_and_made_again_is_watched_again(tmp_path: Path) -> None:
    store, keys = MemoryStore(), Keys()
    root = tmp_path / "apps"
    root.mkdir()
    (root / "a.yaml").write_text(manifest("a"))
    sync = DirectorySync(store, keys, SyncOptions(str(root), name="demo", interval=60))
    sync.start()
    try:
        wait_until(lambda: store.get(keys.task("default", "a")) is not None, what="first pass")
        (root / "a.yaml").unlink()
        root.rmdir()
        wait_until(
            lambda: sync.record.status.result == "Failed", what="a pass without the directory"
        )
        root.mkdir()
        wait_until(lambda: sync.record.status.result == "Synced", what="the directory back")
        # no interval pass for 60 s: b.yaml can only be seen through the new watch
        (root / "b.yaml").write_text(manifest("b"))
        wait_until(lambda: store.get(keys.task("default", "b")) is not None, timeout=3, what="b")
    finally:
        sync.stop()
