"""Cached models share their field-name sets with equal ones, and nothing else changes: the
same JSON, the same equality, copies with updates that leave the others alone."""

from __future__ import annotations

from controller.cache import Cache
from controller.sharing import share_field_sets
from schemas.binding import ContainerPhase, TaskReport
from schemas.spec import PortSpec, Resources, TaskSpec
from schemas.task import Task, new_task


def task_json(name: str, *, ports: bool = False, uid: bool = True) -> bytes:
    spec = TaskSpec(
        image="shoal-busybox:latest",
        command=["sleep", "3600"],
        resources=Resources(cpu="100m", memory="64Mi"),
        ports=[PortSpec(containerPort=80, hostPort=8080)] if ports else [],
    )
    task = new_task(name, spec)
    meta = task.metadata.model_copy(update={"uid": f"uid-{name}" if uid else None})
    return task.model_copy(update={"metadata": meta}).model_dump_json(exclude_none=True).encode()


def test_equal_models_share_one_set_and_keep_their_json() -> None:
    a, b = (Task.model_validate_json(task_json(n, ports=True)) for n in ("a", "b"))
    before = (a.model_dump_json(), b.model_dump_json(), a.model_fields_set, b.model_fields_set)
    share_field_sets(a)
    share_field_sets(b)
    assert a.metadata.model_fields_set is b.metadata.model_fields_set
    assert a.spec.model_fields_set is b.spec.model_fields_set
    assert a.spec.resources.model_fields_set is b.spec.resources.model_fields_set
    assert a.spec.ports[0].model_fields_set is b.spec.ports[0].model_fields_set
    after = (a.model_dump_json(), b.model_dump_json(), a.model_fields_set, b.model_fields_set)
    assert after == before
    assert a.model_dump_json(exclude_unset=True) == b.model_dump_json(exclude_unset=True).replace(
        '"b"', '"a"'
    ).replace("uid-b", "uid-a")


def test_a_model_given_other_fields_keeps_a_set_of_its_own() -> None:
    a = Task.model_validate_json(task_json("a"))
    c = Task.model_validate_json(task_json("c", uid=False))
    share_field_sets(a)
    share_field_sets(c)
    assert "uid" in a.metadata.model_fields_set
    assert "uid" not in c.metadata.model_fields_set
    assert a.metadata.model_fields_set is not c.metadata.model_fields_set


def test_a_copy_with_an_update_does_not_touch_the_shared_set() -> None:
    a, b = (Task.model_validate_json(task_json(n, uid=False)) for n in ("a", "b"))
    share_field_sets(a)
    share_field_sets(b)
    shared = set(a.metadata.model_fields_set)
    assert "generation" not in shared
    copied = a.metadata.model_copy(update={"generation": 2})
    assert "generation" in copied.model_fields_set
    assert a.metadata.model_fields_set == shared == b.metadata.model_fields_set
    assert copied.generation == 2 and b.metadata.generation is None


def test_the_cache_shares_what_it_decodes_and_what_is_assumed() -> None:
    cache: Cache[str, Task] = Cache(Task)
    cache.replace([("default/a", 5, task_json("a")), ("default/b", 6, task_json("b"))], 6)
    a, b = cache.get("default/a"), cache.get("default/b")
    assert a is not None and b is not None
    assert a.spec.model_fields_set is b.spec.model_fields_set
    reports: Cache[str, TaskReport] = Cache(TaskReport)
    one = TaskReport(state=ContainerPhase.Running, containerId="c1", generation=1)
    two = TaskReport(state=ContainerPhase.Running, containerId="c2", generation=1)
    reports.assume("one", one)
    reports.assume("two", two)
    assert one.model_fields_set is two.model_fields_set
    assert one == TaskReport(state=ContainerPhase.Running, containerId="c1", generation=1)
