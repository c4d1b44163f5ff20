"""The apply planner and its guarded writes, on MemoryStore (etcd's revision rules): a write
that lost its race is read again and planned again; big plans go in batches."""

from __future__ import annotations

from datetime import UTC, datetime

from core.keys import Keys
from core.memory_store import MemoryStore
from schemas.loader import load_text
from schemas.task import Task
from shoal.applying import (
    apply_changes,
    encode_task,
    plan_apply,
    plan_one,
    read_current,
    replanner,
)
from shoal.testing import ShoalHarness


def _tasks(text: str) -> list[Task]:
    result = load_text(text)
    assert result.ok, result.errors
    return [t for _, t in result.tasks]


NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_write_that_lost_its_race_is_planned_again() -> None:
    store, keys = MemoryStore(), Keys()
    [web] = _tasks(ShoalHarness.manifest("web"))
    apply_changes(store, keys, plan_apply([web], {}, now=NOW), replan=lambda c: None)
    current = read_current(store, keys)
    [edited] = _tasks(ShoalHarness.manifest("web", spec="  command: [sleep, '1']\n"))
    changes = plan_apply([edited], current, now=NOW)
    # someone else changes the task after we read it: our guard must fail, then replan
    other = current["default/web"].task.model_copy(
        update={
            "metadata": current["default/web"].task.metadata.model_copy(
                update={"labels": {"by": "other"}}
            )
        }
    )
    store.put(keys.task("default", "web"), encode_task(other))
    replan = replanner(
        store, keys, {edited.key: edited}, now=lambda: NOW, may_prune=lambda s: False
    )
    [made] = apply_changes(store, keys, changes, replan=replan)
    assert made.verb == "configured"
    stored = read_current(store, keys)["default/web"].task
    assert stored.spec.command == ["sleep", "1"]
    assert stored.metadata.labels == {}, "the manifest's labels win, but only after re-reading"
    assert stored.metadata.generation == 2


def test_a_create_racing_another_create_becomes_an_update() -> None:
    store, keys = MemoryStore(), Keys()
    [web] = _tasks(ShoalHarness.manifest("web", spec="  command: [a]\n"))
    changes = plan_apply([web], {}, now=NOW)
    [theirs] = _tasks(ShoalHarness.manifest("web"))
    store.put(keys.task("default", "web"), encode_task(plan_one(theirs, None, now=NOW).new))  # type: ignore[arg-type]
    replan = replanner(store, keys, {web.key: web}, now=lambda: NOW, may_prune=lambda s: False)
    [made] = apply_changes(store, keys, changes, replan=replan)
    assert made.verb == "configured"
    assert read_current(store, keys)["default/web"].task.spec.command == ["a"]


def test_many_tasks_go_in_batches_and_reapply_unchanged() -> None:
    store, keys = MemoryStore(), Keys()
    tasks = _tasks("---\n".join(ShoalHarness.manifest(f"t{i}") for i in range(300)))
    made = apply_changes(store, keys, plan_apply(tasks, {}, now=NOW), replan=lambda c: None)
    assert [c.verb for c in made] == ["created"] * 300
    assert len(store.list(keys.tasks())) == 300
    again = plan_apply(tasks, read_current(store, keys), now=NOW)
    assert {c.verb for c in again} == {"unchanged"}
