"""The agent's pure plan: one table row per situation, each with the actions and the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.plan import (
    BackoffPolicy,
    Keep,
    Remove,
    Replace,
    Start,
    StartFailure,
    Stop,
    TaskMemory,
    plan,
    plan_task,
)
from agent.runtime import ContainerInfo, PortBinding
from agent.specs import container_spec
from schemas.binding import Binding, ContainerPhase
from schemas.spec import RestartPolicy, TaskSpec

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
KEY = "default/web"
BACKOFF = BackoffPolicy(initial=10, maximum=300, reset_after=600)


def binding(generation: int = 1, policy: str = "OnFailure", uid: str = "u1") -> Binding:
    return Binding(
        namespace="default",
        name="web",
        node="n1",
        uid=uid,
        generation=generation,
        spec=TaskSpec(image="img", restartPolicy=RestartPolicy(policy)),
        epoch=1,
    )


def container(
    b: Binding,
    state: str = "running",
    *,
    cid: str = "c1",
    exit_code: int | None = None,
    oom: bool = False,
    started: float = -60,
    finished: float | None = None,
    restarts: int = 0,
    backoff: int = 0,
) -> ContainerInfo:
    spec = container_spec(b, "n1", "127.0.0.1", restarts=restarts, backoff=backoff)
    return ContainerInfo(
        id=cid,
        name=spec.name,
        image=spec.image,
        labels=dict(spec.labels),
        state=state,  # type: ignore[arg-type]
        exit_code=exit_code,
        oom_killed=oom,
        started_at=NOW + timedelta(seconds=started),
        finished_at=None if finished is None else NOW + timedelta(seconds=finished),
        host_ports=[PortBinding(80, 18080, "tcp", "127.0.0.1")] if state == "running" else [],
    )


def kinds(actions: tuple[object, ...]) -> list[str]:
    return [type(a).__name__ for a in actions]


def test_nothing_bound_and_nothing_running_plans_nothing() -> None:
    p = plan_task(KEY, None, [], TaskMemory(), NOW, BACKOFF)
    assert p.actions == () and p.report is None


def test_a_new_binding_starts_a_container() -> None:
    b = binding()
    p = plan_task(KEY, b, [], TaskMemory(), NOW, BACKOFF)
    assert kinds(p.actions) == ["Start"]
    assert p.report is not None and p.report.state is ContainerPhase.Waiting
    assert p.report.reason == "ContainerCreating"


def test_a_running_container_of_the_binding_is_kept_and_reported() -> None:
    b = binding()
    c = container(b)
    p = plan_task(KEY, b, [c], TaskMemory(healthy={"c1": True}), NOW, BACKOFF)
    assert p.actions == (Keep(KEY, "c1", "running"),)
    assert p.report is not None
    assert p.report.state is ContainerPhase.Running and p.report.containerId == "c1"
    assert p.report.healthy is True
    assert [(h.containerPort, h.hostPort) for h in p.report.hostPorts] == [(80, 18080)]


def test_a_container_nobody_binds_is_removed() -> None:
    c = container(binding())
    p = plan_task(KEY, None, [c], TaskMemory(), NOW, BACKOFF)
    assert p.actions == (Remove(KEY, "c1", "no binding asks for it"),)
    assert p.report is None


def test_a_new_generation_replaces_the_container() -> None:
    c = container(binding(generation=1))
    p = plan_task(KEY, binding(generation=2), [c], TaskMemory(), NOW, BACKOFF)
    (action,) = p.actions
    assert isinstance(action, Replace) and action.container_id == "c1"
    assert "generation 1 -> 2" in action.reason and action.restarts == 0


def test_a_task_created_again_under_the_same_name_replaces_the_container() -> None:
    c = container(binding(uid="old"))
    p = plan_task(KEY, binding(uid="new"), [c], TaskMemory(), NOW, BACKOFF)
    (action,) = p.actions
    assert isinstance(action, Replace) and "deleted and created again" in action.reason


def test_duplicates_are_removed_and_the_running_current_one_kept() -> None:
    b = binding(generation=2)
    old = container(binding(generation=1), "exited", cid="old", exit_code=0, finished=-5)
    current = container(b, cid="cur")
    also = container(b, "exited", cid="also", exit_code=1, started=-120, finished=-100)
    p = plan_task(KEY, b, [old, also, current], TaskMemory(), NOW, BACKOFF)
    assert kinds(p.actions) == ["Remove", "Remove", "Keep"]
    assert {a.container_id for a in p.actions if isinstance(a, Remove)} == {"old", "also"}


def test_a_container_left_in_created_is_replaced() -> None:
    b = binding()
    p = plan_task(KEY, b, [container(b, "created")], TaskMemory(), NOW, BACKOFF)
    (action,) = p.actions
    assert isinstance(action, Replace) and action.reason == "container left in created"


@pytest.mark.parametrize(
    ("policy", "exit_code", "oom", "restarts", "reason"),
    [
        ("Never", 0, False, False, "Completed"),
        ("Never", 1, False, False, "Error"),
        ("Never", 137, True, False, "OOMKilled"),
        ("OnFailure", 0, False, False, "Completed"),
        ("OnFailure", 3, False, True, "Error"),
        ("OnFailure", 137, True, True, "OOMKilled"),
        ("Always", 0, False, True, "Completed"),
        ("Always", 2, False, True, "Error"),
    ],
)
def test_restart_policy_decides_what_an_exit_means(
    policy: str, exit_code: int, oom: bool, restarts: bool, reason: str
) -> None:
    b = binding(policy=policy)
    c = container(b, "exited", exit_code=exit_code, oom=oom, finished=-1)
    p = plan_task(KEY, b, [c], TaskMemory(), NOW, BACKOFF)
    assert p.report is not None and p.report.exitCode == exit_code
    assert p.report.oomKilled is oom
    if not restarts:
        assert kinds(p.actions) == ["Keep"]
        assert p.report.state is ContainerPhase.Exited and p.report.reason == reason
        assert p.recheck_after is None
    else:
        assert kinds(p.actions) == ["Keep"], "the restart waits out its back-off"
        assert p.report.state is ContainerPhase.Waiting and p.report.reason == "BackOff"
        assert p.recheck_after == pytest.approx(9.0)  # 10 s back-off, 1 s already gone


def test_back_off_doubles_per_restart_and_is_capped() -> None:
    b = binding()
    for step, delay in [(0, 10), (1, 20), (2, 40), (4, 160), (5, 300), (9, 300)]:
        c = container(b, "exited", exit_code=1, finished=0, restarts=step, backoff=step)
        p = plan_task(KEY, b, [c], TaskMemory(), NOW, BACKOFF)
        assert p.recheck_after == pytest.approx(delay), step
        assert p.report is not None and p.report.restartCount == step
        assert f"back-off {delay}s" in (p.report.message or "")


def test_a_due_restart_replaces_with_the_next_count_and_step() -> None:
    b = binding()
    c = container(b, "exited", exit_code=1, started=-100, finished=-40, restarts=2, backoff=2)
    p = plan_task(KEY, b, [c], TaskMemory(), NOW, BACKOFF)  # 40 s back-off is over
    (action,) = p.actions
    assert isinstance(action, Replace)
    assert (action.restarts, action.backoff) == (3, 3)
    assert "restart 3 under OnFailure" in action.reason
    assert p.report is not None and p.report.restartCount == 3


def test_a_long_run_resets_the_back_off() -> None:
    b = binding()
    c = container(b, "exited", exit_code=1, started=-1000, finished=-11, restarts=7, backoff=7)
    p = plan_task(KEY, b, [c], TaskMemory(), NOW, BACKOFF)
    (action,) = p.actions
    assert isinstance(action, Replace) and action.backoff == 1 and action.restarts == 8


def test_an_unhealthy_container_is_stopped_then_restarted_as_a_failure() -> None:
    b = binding(policy="OnFailure")
    mem = TaskMemory(unhealthy={"c1": "GET / answered 500"})
    p = plan_task(KEY, b, [container(b)], mem, NOW, BACKOFF)
    assert p.actions == (Stop(KEY, "c1", "Unhealthy: GET / answered 500"),)
    stopped = container(b, "exited", exit_code=0, finished=-11)  # even a clean exit
    p = plan_task(KEY, b, [stopped], mem, NOW, BACKOFF)
    assert isinstance(p.actions[0], Replace)
    never = binding(policy="Never")
    p = plan_task(
        KEY, never, [container(never, "exited", exit_code=143, finished=-1)], mem, NOW, BACKOFF
    )
    assert p.report is not None and p.report.reason == "Unhealthy"
    assert p.report.state is ContainerPhase.Exited


def test_a_failed_start_waits_out_its_back_off_then_retries() -> None:
    b = binding()
    failure = StartFailure("ImageNotFound", "No such image: img", NOW - timedelta(seconds=5), 2)
    p = plan_task(KEY, b, [], TaskMemory(start_failure=failure), NOW, BACKOFF)
    assert kinds(p.actions) == ["Keep"]
    assert p.report is not None and p.report.reason == "ImageNotFound"
    assert p.recheck_after == pytest.approx(15)  # attempt 2: 20 s from the failure
    later = NOW + timedelta(seconds=16)
    p = plan_task(KEY, b, [], TaskMemory(start_failure=failure), later, BACKOFF)
    assert kinds(p.actions) == ["Start"]


def test_plan_covers_every_bound_or_running_task() -> None:
    web, other = binding(), binding().model_copy(update={"name": "db"})
    plans = plan(
        {"default/web": web, "default/db": other},
        {"default/web": [container(web)], "default/gone": [container(binding(), cid="x")]},
        {},
        NOW,
        BACKOFF,
    )
    assert {k: kinds(p.actions) for k, p in plans.items()} == {
        "default/db": ["Start"],
        "default/gone": ["Remove"],
        "default/web": ["Keep"],
    }


states = st.sampled_from(["created", "running", "exited", "dead"])


@given(
    bound=st.booleans(),
    generation=st.integers(1, 3),
    policy=st.sampled_from(["Always", "OnFailure", "Never"]),
    observed=st.lists(
        st.tuples(st.integers(1, 3), states, st.integers(0, 2), st.integers(-900, 0)), max_size=4
    ),
)
def test_at_most_one_container_survives_and_starts_only_when_none_does(
    bound: bool,
    generation: int,
    policy: str,
    observed: list[tuple[int, str, int, int]],
) -> None:
    b = binding(generation=generation, policy=policy)
    containers = [
        container(
            binding(generation=g, policy=policy),
            s,
            cid=f"c{i}",
            exit_code=None if s in ("running", "created") else code,
            started=t - 10,
            finished=None if s in ("running", "created") else t,
        )
        for i, (g, s, code, t) in enumerate(observed)
    ]
    p = plan_task(KEY, b if bound else None, containers, TaskMemory(), NOW, BACKOFF)
    touched = [a.container_id for a in p.actions if not isinstance(a, Start)]
    assert len(touched) == len(set(touched)), "a container got two actions"
    survivors = [a for a in p.actions if isinstance(a, Keep | Stop) and a.container_id]
    started = [a for a in p.actions if isinstance(a, Start | Replace)]
    if not bound:
        assert all(isinstance(a, Remove) for a in p.actions) and len(p.actions) == len(containers)
        return
    assert len(survivors) + len(started) <= 1
    assert {a.container_id for a in p.actions if not isinstance(a, Start)} == {
        c.id for c in containers
    }, "every observed container is accounted for"
    if not containers:
        assert len(started) == 1
