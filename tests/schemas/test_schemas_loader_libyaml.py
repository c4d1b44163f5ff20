"""The loader reads YAML with libyaml when PyYAML has it, and must say exactly what the
pure-Python parser says: the same tasks, sources, errors, lines and messages.

Every bad-manifest case and every example manifest is loaded both ways and compared.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import yaml

import schemas.loader as loader
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
