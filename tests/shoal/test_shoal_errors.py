"""Expected failures end in one clear line and the right exit status, never a traceback:
etcd unreachable (exit 1 within 5 s), an unknown task (exit 1), bad usage (exit 2)."""

from __future__ import annotations

import time

import pytest

from core.etcd_server import free_port
from shoal.testing import ShoalHarness

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "args",
    [
        ["get", "tasks"],
        ["get", "nodes", "-w"],
        ["apply", "-f", "-"],
        ["describe", "task", "web"],
        ["delete", "task", "web"],
        ["stop", "task", "web"],
        ["events", "-w"],
        ["top", "nodes"],
        ["logs", "task", "web"],
        ["sync", ".", "--once"],
    ],
    ids=lambda a: " ".join(a),
)
def test_unreachable_etcd_is_one_line_and_exit_1(shoal: ShoalHarness, args: list[str]) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = shoal.run("--etcd", nowhere, "--timeout", "1", *args, input=shoal.manifest("web"))
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert elapsed < 3.0, f"took {elapsed:.1f}s with --timeout 1"
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: cannot reach etcd at {nowhere}: connection refused")
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_with_the_default_timeout_it_gives_up_within_5s(shoal: ShoalHarness) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = shoal.proc("--etcd", nowhere, "get", "tasks", timeout=20)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert elapsed < 5.0, f"took {elapsed:.1f}s"
    assert result.stderr.splitlines() == [
        f"error: cannot reach etcd at {nowhere}: connection refused (gave up after 3.0s); "
        "is it running? (`shoal up` or `shoal etcd` starts one; --etcd or SHOAL_ETCD says where)"
    ]


def test_an_unknown_task_is_exit_1_with_a_message(shoal: ShoalHarness) -> None:
    for args in (
        ["get", "task", "ghost"],
        ["describe", "task", "ghost"],
        ["start", "task", "ghost"],
    ):
        result = shoal.proc(*args)
        assert result.returncode == 1, args
        assert result.stderr.strip().endswith("task default/ghost not found"), result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["nonsense"],
        ["get"],
        ["get", "tasks", "--bogus"],
        ["apply"],
        ["describe", "task"],
        ["logs", "task", "web", "--tail", "-1"],
        ["--timeout", "zero", "get", "tasks"],
        ["--etcd", "ftp://x", "get", "tasks"],
        ["--prefix", "noslash", "get", "tasks"],
        ["top", "tasks"],
    ],
    ids=lambda a: " ".join(a),
)
def test_bad_usage_is_exit_2(shoal: ShoalHarness, args: list[str]) -> None:
    result = shoal.run(*args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Usage:" in result.stderr or "Error:" in result.stderr


def test_bad_usage_from_a_real_process_is_exit_2_without_a_traceback(shoal: ShoalHarness) -> None:
    result = shoal.proc("get", "tasks", "-o", "xml")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "Invalid value for '-o'" in result.stderr
