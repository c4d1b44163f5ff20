"""`shoal diff`: a unified diff of what apply would change; exit 0 none, 1 some, 2 error."""

from __future__ import annotations

import pytest

from core.etcd_server import free_port
from shoal.testing import ShoalHarness

pytestmark = pytest.mark.integration


def test_exit_status_follows_what_would_change(shoal: ShoalHarness) -> None:
    path = shoal.file("web.yaml", shoal.manifest("web"))
    created = shoal.run("diff", "-f", str(path))
    assert created.exit_code == 1, created.output
    assert "--- live/task/default/web" in created.stdout
    assert "+++ files/task/default/web" in created.stdout
    assert "+  image: shoal-busybox:latest" in created.stdout

    assert shoal.run("apply", "-f", str(path)).exit_code == 0
    same = shoal.run("diff", "-f", str(path))
    assert (same.exit_code, same.stdout) == (0, "")

    shoal.file("web.yaml", shoal.manifest("web", spec="  command: [sleep, '5']\n"))
    changed = shoal.run("diff", "-f", str(path))
    assert changed.exit_code == 1
    diff_lines = changed.stdout.splitlines()
    assert "+  command:" in diff_lines and "+  - sleep" in diff_lines
    assert not any(x.startswith(("-  uid", "+  uid", "-  generation")) for x in diff_lines)
    assert shoal.stored("web")["spec"].get("command") is None, "diff writes nothing"  # type: ignore[index]


def test_prune_shows_deletions(shoal: ShoalHarness) -> None:
    shoal.run("apply", "-f", "-", input=shoal.manifest("old", labels="app: x"))
    path = shoal.file("new.yaml", shoal.manifest("new", labels="app: x"))
    result = shoal.run("diff", "-f", str(path), "--prune", "-l", "app=x")
    assert result.exit_code == 1
    assert "--- live/task/default/old" in result.stdout
    assert "-  name: old" in result.stdout


def test_an_invalid_manifest_is_an_error_not_a_difference(shoal: ShoalHarness) -> None:
    path = shoal.file("bad.yaml", shoal.manifest("web", spec="  resourcez: {}\n"))
    result = shoal.proc("diff", "-f", str(path))
    assert result.returncode == 2, result.stderr
    assert "bad.yaml: document 1 (line 6): spec.resourcez" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_etcd_is_an_error(shoal: ShoalHarness) -> None:
    path = shoal.file("web.yaml", shoal.manifest("web"))
    result = shoal.proc(
        "--etcd", f"http://127.0.0.1:{free_port()}", "--timeout", "1", "diff", "-f", str(path)
    )
    assert result.returncode == 2
    assert "cannot reach etcd" in result.stderr and "Traceback" not in result.stderr
