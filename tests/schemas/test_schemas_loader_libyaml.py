"""The loader reads YAML with libyaml when PyYAML has it, and builds plain data itself
(schemas.yamlplain); it must say exactly what the pure-Python parser and PyYAML's
constructor say: the same tasks, sources, errors, lines and messages.

Every bad-manifest case, every example manifest and a set of YAML oddities are loaded every
way and compared.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import yaml

import schemas.loader as loader
import schemas.yamlplain as yamlplain
from schemas.loader import load_paths

ROOT = Path(__file__).resolve().parents[2]


def _cases() -> ModuleType:
    path = Path(__file__).resolve().parent / "test_schemas_bad_manifests.py"
    spec = importlib.util.spec_from_file_location("bad_manifest_cases_for_libyaml", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = _cases().CASES


def _both_ways(
    paths: list[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[loader.LoadResult, loader.LoadResult]:
    fast = load_paths(paths)
    with monkeypatch.context() as m:
        m.setattr(loader, "_FAST_LOADER", None)
        pure = load_paths(paths)
    return fast, pure


def test_libyaml_is_there_to_be_used() -> None:
    assert yaml.__with_libyaml__, "PyYAML without libyaml: large applies will be slow"
    assert loader._fast_documents("a: 1\n---\nb: 2\n") is not None


def test_a_stream_libyaml_cannot_read_falls_back() -> None:
    assert loader._fast_documents("a: [1, 2\n") is None


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_manifests_read_the_same_both_ways(
    case: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    files: dict[str, str] = case.files  # type: ignore[attr-defined]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    paths = sorted(files) or [case.expected[0][0]]  # type: ignore[attr-defined]
    fast, pure = _both_ways(paths, monkeypatch)
    assert fast.errors == pure.errors
    assert fast.tasks == pure.tasks


def test_example_manifests_read_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, pure = _both_ways([str(ROOT / "manifests")], monkeypatch)
    assert fast.ok and pure.ok
    assert fast.tasks == pure.tasks and fast.tasks


ODDITIES = {
    "yaml-1.1-scalars": (
        "env: {A: 'yes', B: '0x1F'}\n  command: [sleep, '1']\n"
        "  args: [yes, 010, 0x1F, 1_000, '1:30', 1:30, ~, 2001-12-14, .inf]\n"
    ),
    "anchors-and-aliases": "resources: &r {cpu: 1, memory: 1Gi}\n  nodeSelector: &s {zone: a}\n",
    "merge-key": "resources:\n    <<: {cpu: 1, memory: 1Gi}\n    cpu: 2\n",
    "explicit-tags": "image: !!str 123\n  command: !!seq [a, b]\n",
    "non-string-key": "env: {1: one}\n",
    "binary-and-set": "command: [!!binary aGk=]\n  nodeSelector: !!set {a, b}\n",
    "unknown-tag": "command: !shell ls\n",
    "scalar-tagged-as-map": "env: !!map x\n",
    "nulls-and-empties": "command:\n  args: null\n  env: {}\n",
    "duplicate-key": "restartPolicy: Always\n  restartPolicy: Never\n",
}


def _doc(spec: str) -> str:
    return f"apiVersion: shoal/v1\nkind: Task\nmetadata: {{name: odd}}\nspec:\n  image: x\n  {spec}"


@pytest.mark.parametrize("spec", list(ODDITIES.values()), ids=list(ODDITIES))
def test_yaml_oddities_read_the_same_every_way(spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _doc(spec) + "---\n" + _doc("command: [ok]\n").replace("name: odd", "name: two")
    plain = loader.load_text(text, "odd.yaml")

    def general(loader_: object, node: object) -> object:
        raise yamlplain.NotPlain("forced")

    with monkeypatch.context() as m:
        m.setattr(loader, "plain_data", general)
        constructed = loader.load_text(text, "odd.yaml")
    with monkeypatch.context() as m:
        m.setattr(loader, "_FAST_LOADER", None)
        pure = loader.load_text(text, "odd.yaml")
    assert plain.errors == constructed.errors == pure.errors
    assert plain.tasks == constructed.tasks == pure.tasks


def test_plain_data_equals_the_constructor_on_plain_documents() -> None:
    text = "a: [1, 2.5, yes, ~, 'x', 2001-12-14]\nb: {c: {d: [e]}}\n"
    node = yaml.compose(text, Loader=yaml.CSafeLoader)
    assert node is not None
    fresh = yaml.CSafeLoader(text)
    try:
        assert yamlplain.plain_data(fresh, node) == yaml.safe_load(text)
    finally:
        fresh.dispose()
