"""`shoal apply` on bad manifests, against a real etcd: every problem printed, exit 1, and
nothing written, even when the same run also holds valid tasks.

The cases are the loader's (tests/schemas/test_schemas_bad_manifests.py); here each one is
applied through the real command next to a valid manifest.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from core.etcd_server import EtcdServer
from core.etcd_store import EtcdStore
from shoal.cli import cli

GOOD = """apiVersion: shoal/v1
kind: Task
metadata: {name: good-one}
spec: {image: shoal-busybox:latest}
"""


def _cases() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "schemas" / "test_schemas_bad_manifests.py"
    spec = importlib.util.spec_from_file_location("bad_manifest_cases", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = _cases().CASES


@pytest.mark.integration
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_manifest_writes_nothing(
    case: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    etcd_server: EtcdServer,
    etcd_store: EtcdStore,
    keys_prefix: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    files: dict[str, str] = case.files  # type: ignore[attr-defined]
    expected = case.expected  # type: ignore[attr-defined]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "zz-good.yaml").write_text(GOOD)
    paths = [*sorted(files)] or [expected[0][0]]
    args = ["--etcd", etcd_server.endpoint, "--prefix", keys_prefix, "apply"]
    for path in [*paths, "zz-good.yaml"]:
        args += ["-f", path]

    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for file, document, line, field, fragment in expected:
        lines = [x for x in result.stderr.splitlines() if x.startswith(f"{file}: ")]
        assert any(fragment in x and (not field or f"): {field}: " in x) for x in lines), (
            result.stderr
        )
        if document is not None:
            assert any(f"document {document} (line {line})" in x for x in lines), result.stderr
    assert "nothing was applied" in result.stderr
    assert "created" not in result.stdout
    assert len(etcd_store.list(keys_prefix + "/")) == 0, "a rejected apply wrote to etcd"


@pytest.mark.integration
def test_the_good_manifest_alone_is_created(
    tmp_path: Path, etcd_server: EtcdServer, etcd_store: EtcdStore, keys_prefix: str
) -> None:
    """The control for the cases above: the valid file on its own does get written."""
    (tmp_path / "good.yaml").write_text(GOOD)
    args = ["--etcd", etcd_server.endpoint, "--prefix", keys_prefix]
    result = CliRunner().invoke(cli, [*args, "apply", "-f", str(tmp_path / "good.yaml")])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "task/good-one created"
    assert etcd_store.get(f"{keys_prefix}/tasks/default/good-one") is not None
