"""The committed JSON Schema (schemas/json/task.json) is current, valid and deterministic."""

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from schemas.export import SCHEMA_PATH, main, render_task_schema, task_schema

REPO = Path(__file__).resolve().parents[2]


def test_the_committed_schema_is_current() -> None:
    committed = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
    assert committed == render_task_schema(), (
        "schemas/json/task.json is stale: run `python -m schemas.export` (or `make schema`) "
        "and commit the result"
    )


def test_the_schema_lives_where_manifests_point() -> None:
    assert SCHEMA_PATH == REPO / "schemas" / "json" / "task.json"


def test_rendering_is_deterministic_sorted_and_ends_with_a_newline() -> None:
    text = render_task_schema()
    assert text == render_task_schema()
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text


def test_it_is_a_valid_draft_2020_12_schema() -> None:
    schema = task_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["apiVersion", "kind", "metadata", "spec"]
    assert "status" in schema["properties"]


def test_quantities_may_be_strings_or_numbers() -> None:
    resources = task_schema()["$defs"]["Resources"]["properties"]
    for name in ("cpu", "memory", "disk"):
        types = sorted(branch["type"] for branch in resources[name]["oneOf"])
        assert types in (["number", "string"], ["integer", "string"]), name
    validator = Draft202012Validator(task_schema())
    doc = {
        "apiVersion": "shoal/v1",
        "kind": "Task",
        "metadata": {"name": "web"},
        "spec": {"image": "x", "resources": {"cpu": "500m", "memory": 67108864, "disk": "1Gi"}},
    }
    assert validator.is_valid(doc)
    doc["spec"]["resources"] = {"memory": "64Qi"}  # type: ignore[index]
    assert not validator.is_valid(doc)


def test_field_titles_are_left_out_descriptions_kept() -> None:
    spec = task_schema()["$defs"]["TaskSpec"]
    assert all("title" not in prop for prop in spec["properties"].values())
    assert "entrypoint" in spec["properties"]["command"]["description"]


def test_check_mode_reports_a_stale_file_and_writing_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "task.json"
    target.write_text("{}\n")
    assert main(["--check", "--output", str(target)]) == 1
    assert "python -m schemas.export" in capsys.readouterr().err
    assert main(["--output", str(target)]) == 0
    assert target.read_text() == render_task_schema()
    assert main(["--check", "--output", str(target)]) == 0
