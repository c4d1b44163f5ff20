"""`shoal delete`, `stop` and `start`: what they write, their lines and exit status."""

from __future__ import annotations

import pytest

from shoal.testing import ShoalHarness

pytestmark = pytest.mark.integration


def _apply(shoal: ShoalHarness, *names: str, namespace: str | None = None) -> None:
    text = "---\n".join(shoal.manifest(n, namespace=namespace) for n in names)
    result = shoal.run("apply", "-f", "-", input=text)
    assert result.exit_code == 0, result.output


def test_delete_by_name(shoal: ShoalHarness) -> None:
    _apply(shoal, "a", "b")
    result = shoal.run("delete", "task", "a", "b")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["task/a deleted", "task/b deleted"]
    assert shoal.stored("a") is None and shoal.stored("b") is None


def test_delete_of_an_unknown_task_is_exit_1_after_deleting_the_others(
    shoal: ShoalHarness,
) -> None:
    _apply(shoal, "a")
    result = shoal.run("delete", "task", "nope", "a")
    assert result.exit_code == 1
    assert result.stdout.strip() == "task/a deleted"
    assert "error: task default/nope not found" in result.stderr
    quiet = shoal.run("delete", "task", "nope", "--ignore-not-found")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")


def test_delete_in_another_namespace(shoal: ShoalHarness) -> None:
    _apply(shoal, "a", namespace="other")
    assert shoal.run("delete", "task", "a").exit_code == 1
    assert shoal.run("delete", "task", "a", "-n", "other").exit_code == 0
    assert shoal.stored("a", "other") is None


def test_delete_from_files(shoal: ShoalHarness) -> None:
    _apply(shoal, "a", "b", "c")
    path = shoal.file("ab.yaml", shoal.manifest("a") + "---\n" + shoal.manifest("b"))
    result = shoal.run("delete", "-f", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["task/a deleted", "task/b deleted"]
    assert shoal.stored("c") is not None


def test_delete_from_an_invalid_file_deletes_nothing(shoal: ShoalHarness) -> None:
    _apply(shoal, "a")
    path = shoal.file("bad.yaml", shoal.manifest("a") + "---\n" + shoal.manifest("B"))
    result = shoal.run("delete", "-f", str(path))
    assert result.exit_code == 1
    assert "nothing was deleted" in result.stderr
    assert shoal.stored("a") is not None


@pytest.mark.parametrize(
    "args", [["delete"], ["delete", "task"], ["delete", "task", "a", "-f", "x.yaml"]]
)
def test_delete_usage_errors(shoal: ShoalHarness, args: list[str]) -> None:
    assert shoal.run(*args).exit_code == 2


def test_stop_and_start_set_desired_state_and_bump_the_generation(shoal: ShoalHarness) -> None:
    _apply(shoal, "web")
    before = shoal.stored("web")
    assert before is not None
    stopped = shoal.run("stop", "task", "web")
    assert stopped.exit_code == 0, stopped.output
    assert stopped.stdout.strip() == "task/web stopped"
    after = shoal.stored("web")
    assert after is not None
    assert after["spec"]["desiredState"] == "Stopped"
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert after["metadata"]["uid"] == before["metadata"]["uid"]

    again = shoal.run("stop", "task", "web")
    assert again.stdout.strip() == "task/web unchanged"
    assert shoal.stored("web")["metadata"]["generation"] == after["metadata"]["generation"]  # type: ignore[index]

    started = shoal.run("start", "task", "web")
    assert started.stdout.strip() == "task/web started"
    final = shoal.stored("web")
    assert final is not None
    assert final["spec"]["desiredState"] == "Running"
    assert final["metadata"]["generation"] == after["metadata"]["generation"] + 1


def test_stop_of_an_unknown_task(shoal: ShoalHarness) -> None:
    result = shoal.proc("stop", "task", "ghost")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: task default/ghost not found"


def test_stop_needs_a_name(shoal: ShoalHarness) -> None:
    assert shoal.run("stop", "task").exit_code == 2
    assert shoal.run("stop", "node", "n1").exit_code == 2
