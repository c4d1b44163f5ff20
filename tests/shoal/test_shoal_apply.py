"""`shoal apply` against a real etcd: its lines and exit status for created, configured,
unchanged and pruned; dry runs; JSON output; what is stored."""

from __future__ import annotations

import json

import pytest

from shoal.testing import ShoalHarness

pytestmark = pytest.mark.integration


def test_created_configured_unchanged(shoal: ShoalHarness) -> None:
    path = shoal.file("app.yaml", shoal.manifest("web") + "---\n" + shoal.manifest("db"))
    first = shoal.run("apply", "-f", str(path))
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == ["task/web created", "task/db created"]
    web = shoal.stored("web")
    assert web is not None and web["metadata"]["generation"] == 1 and web["metadata"]["uid"]
    assert "status" not in web and "resourceVersion" not in web["metadata"]

    again = shoal.run("apply", "-f", str(path))
    assert again.exit_code == 0
    assert again.stdout.splitlines() == ["task/web unchanged", "task/db unchanged"]

    shoal.file(
        "app.yaml",
        shoal.manifest("web", spec="  command: [sleep, '60']\n")
        + "---\n"
        + shoal.manifest("db", labels="tier: db"),
    )
    changed = shoal.run("apply", "-f", str(path))
    assert changed.exit_code == 0
    assert changed.stdout.splitlines() == ["task/web configured", "task/db configured"]
    web2, db2 = shoal.stored("web"), shoal.stored("db")
    assert web2 is not None and db2 is not None
    assert web2["metadata"]["generation"] == 2, "a spec change bumps the generation"
    assert db2["metadata"]["generation"] == 1, "a label change does not"
    assert web2["metadata"]["uid"] == web["metadata"]["uid"]
    assert web2["metadata"]["creationTimestamp"] == web["metadata"]["creationTimestamp"]


def test_directories_and_stdin(shoal: ShoalHarness) -> None:
    shoal.file("dir/a.yaml", shoal.manifest("a"))
    shoal.file("dir/sub/b.yml", shoal.manifest("b"))
    shoal.file("dir/.hidden.yaml", shoal.manifest("hidden"))
    result = shoal.run("apply", "-f", str(shoal.tmp / "dir"), "-f", "-", input=shoal.manifest("c"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["task/a created", "task/b created", "task/c created"]
    assert shoal.stored("hidden") is None


def test_dry_run_writes_nothing(shoal: ShoalHarness) -> None:
    path = shoal.file("web.yaml", shoal.manifest("web"))
    result = shoal.run("apply", "--dry-run", "-f", str(path))
    assert result.exit_code == 0
    assert result.stdout.strip() == "task/web created (dry run)"
    assert shoal.stored("web") is None


def test_json_output(shoal: ShoalHarness) -> None:
    path = shoal.file("web.yaml", shoal.manifest("web"))
    result = shoal.run("apply", "-f", str(path), "-o", "json")
    assert result.exit_code == 0
    body = json.loads(result.stdout)
    assert body["dryRun"] is False
    [item] = body["items"]
    assert (item["kind"], item["namespace"], item["name"], item["action"]) == (
        "Task",
        "default",
        "web",
        "created",
    )
    assert item["object"]["metadata"]["generation"] == 1
    again = json.loads(shoal.run("apply", "-f", str(path), "-o", "json").stdout)
    assert again["items"][0]["action"] == "unchanged"
    assert again["items"][0]["object"]["metadata"]["uid"] == item["object"]["metadata"]["uid"]


def test_prune_deletes_only_what_the_selector_matches(shoal: ShoalHarness) -> None:
    shoal.file(
        "all.yaml",
        "---\n".join(
            shoal.manifest(n, labels=f"app: {app}")
            for n, app in [("keep", "x"), ("gone", "x"), ("other", "y")]
        ),
    )
    assert shoal.run("apply", "-f", str(shoal.tmp / "all.yaml")).exit_code == 0
    path = shoal.file("keep.yaml", shoal.manifest("keep", labels="app: x"))
    result = shoal.run("apply", "-f", str(path), "--prune", "-l", "app=x")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["task/keep unchanged", "task/gone pruned"]
    assert shoal.stored("gone") is None
    assert shoal.stored("other") is not None, "outside the selector: never pruned"


def test_prune_refuses_an_empty_input_unless_allowed(shoal: ShoalHarness) -> None:
    assert shoal.run("apply", "-f", "-", input=shoal.manifest("x", labels="app: x")).exit_code == 0
    empty = shoal.file("empty.yaml", "# nothing here\n")
    refused = shoal.run("apply", "-f", str(empty), "--prune", "-l", "app=x")
    assert refused.exit_code == 1
    assert "refusing to prune" in refused.stderr and "--allow-empty" in refused.stderr
    assert shoal.stored("x") is not None
    allowed = shoal.run("apply", "-f", str(empty), "--prune", "-l", "app=x", "--allow-empty")
    assert allowed.exit_code == 0
    assert allowed.stdout.strip() == "task/x pruned"
    assert shoal.stored("x") is None


@pytest.mark.parametrize(
    "args",
    [["--prune"], ["-l", "app=x"], ["--prune", "-l", "app in (x)"]],
    ids=["prune-without-selector", "selector-without-prune", "set-based-selector"],
)
def test_prune_usage_errors_exit_2(shoal: ShoalHarness, args: list[str]) -> None:
    path = shoal.file("web.yaml", shoal.manifest("web"))
    result = shoal.run("apply", "-f", str(path), *args)
    assert result.exit_code == 2, result.output
    assert shoal.stored("web") is None


def test_get_yaml_applies_back_unchanged(shoal: ShoalHarness) -> None:
    """What `get -o yaml` prints (with status and system fields) applies as `unchanged`."""
    shoal.run(
        "apply", "-f", "-", input=shoal.manifest("web", spec="  ports: [{containerPort: 80}]\n")
    )
    shoal.status("web", "Running", node="n1", observedGeneration=1)
    dumped = shoal.run("get", "task", "web", "-o", "yaml")
    assert dumped.exit_code == 0, dumped.output
    result = shoal.run("apply", "-f", "-", input=dumped.stdout)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "task/web unchanged"
