"""The demo manifests in manifests/: valid, with the schema modeline, each what it claims."""

from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from schemas.export import task_schema
from schemas.loader import load_paths
from schemas.spec import RestartPolicy
from schemas.task import Task

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
FILES = sorted(p for p in MANIFESTS.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
MODELINE = "# yaml-language-server: $schema=../schemas/json/task.json"


def test_the_demo_set_is_there() -> None:
    names = {p.name for p in FILES}
    assert {"web.yaml", "batch.yaml", "flaky.yaml", "too-big.yaml"} <= names


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_manifest_is_valid_and_names_the_schema(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == MODELINE
    result = load_paths([str(path)])
    assert result.ok, "\n".join(map(str, result.errors))
    assert result.tasks, f"{path.name} holds no task"
    validator = Draft202012Validator(task_schema())
    for document in yaml.safe_load_all(text):
        if document is not None:
            validator.validate(document)
    for _, task in result.tasks:
        assert task.spec.image == "shoal-busybox:latest"


def test_the_modeline_points_at_the_schema_file() -> None:
    target = MANIFESTS / MODELINE.split("$schema=", 1)[1]
    assert target.resolve().is_file()


def one(name: str) -> Task:
    [(_, task)] = load_paths([str(MANIFESTS / name)]).tasks
    return task


def test_web_serves_on_host_port_18080_with_a_health_check() -> None:
    web = one("web.yaml")
    assert web.spec.command == ["httpd", "-f", "-p", "8080", "-h", "/www"]
    [port] = web.spec.ports
    assert (port.containerPort, port.hostPort) == (8080, 18080)
    assert web.spec.restartPolicy is RestartPolicy.Always
    assert web.spec.healthCheck is not None and web.spec.healthCheck.httpGet is not None
    assert web.spec.healthCheck.httpGet.port == 8080


def test_batch_runs_to_completion() -> None:
    batch = one("batch.yaml")
    assert batch.spec.restartPolicy is RestartPolicy.OnFailure
    assert "exit 0" in " ".join(batch.spec.command or [])


def test_flaky_fails_and_is_restarted() -> None:
    flaky = one("flaky.yaml")
    assert flaky.spec.restartPolicy is RestartPolicy.OnFailure
    assert "exit 1" in " ".join(flaky.spec.command or [])


def test_too_big_asks_for_64ti_of_memory() -> None:
    assert one("too-big.yaml").spec.resources.memory == 64 * 1024**4
