"""The manifest loader: files, directories, stdin, JSON, and how problems are reported."""

import io
import json
from pathlib import Path

import pytest

from schemas.loader import ManifestError, Source, format_errors, load_paths, load_text
from schemas.problems import format_path

WEB = """\
apiVersion: shoal/v1
kind: Task
metadata:
  name: web
spec:
  image: shoal-busybox:latest
"""


def manifest(name: str, namespace: str = "default") -> str:
    return (
        "apiVersion: shoal/v1\nkind: Task\n"
        f"metadata: {{name: {name}, namespace: {namespace}}}\n"
        "spec: {image: shoal-busybox:latest}\n"
    )


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_one_file_many_documents(here: Path) -> None:
    (here / "tasks.yaml").write_text(
        "# leading comment\n" + manifest("a") + "---\n" + manifest("b") + "---\n---\n"
    )
    result = load_paths(["tasks.yaml"])
    assert result.ok and result.errors == []
    assert [(str(s), t.key) for s, t in result.tasks] == [
        ("tasks.yaml: document 1 (line 2)", "default/a"),
        ("tasks.yaml: document 2 (line 7)", "default/b"),
    ]
    assert result.files == ["tasks.yaml"]


def test_empty_documents_and_files_are_skipped(here: Path) -> None:
    (here / "empty.yaml").write_text("")
    (here / "comments.yaml").write_text("# nothing here\n---\n# nor here\n")
    (here / "null.yaml").write_text("---\nnull\n---\n~\n")
    result = load_paths(["empty.yaml", "comments.yaml", "null.yaml"])
    assert result.ok and result.tasks == []


def test_a_directory_is_read_recursively_in_order_skipping_hidden_files(here: Path) -> None:
    (here / "m" / "b").mkdir(parents=True)
    (here / "m" / ".git").mkdir()
    (here / "m" / "z.yml").write_text(manifest("z"))
    (here / "m" / "a.yaml").write_text(manifest("a"))
    (here / "m" / "b" / "c.json").write_text(
        json.dumps(
            {
                "apiVersion": "shoal/v1",
                "kind": "Task",
                "metadata": {"name": "c"},
                "spec": {"image": "x"},
            }
        )
    )
    (here / "m" / ".hidden.yaml").write_text("not: [valid")
    (here / "m" / ".git" / "x.yaml").write_text("not: [valid")
    (here / "m" / "README.md").write_text("# not a manifest")
    (here / "m" / "notes.txt").write_text("not: [valid")
    result = load_paths(["m"])
    assert result.ok, format_errors(result.errors)
    assert [s.file for s, _ in result.tasks] == ["m/a.yaml", "m/b/c.json", "m/z.yml"]


def test_a_directory_without_manifests_is_an_empty_result_not_an_error(here: Path) -> None:
    (here / "empty").mkdir()
    (here / "empty" / "notes.txt").write_text("hello")
    result = load_paths(["empty"])
    assert result.ok and result.tasks == [] and result.files == []


def test_a_missing_path_is_an_error(here: Path) -> None:
    result = load_paths(["nope.yaml"])
    assert [str(e) for e in result.errors] == ["nope.yaml: no such file or directory"]


def test_stdin(here: Path) -> None:
    result = load_paths(["-"], stdin=io.StringIO(manifest("a") + "---\nkind: Task\n"))
    [(source, task)] = result.tasks
    assert (source.file, source.document, task.key) == ("<stdin>", 1, "default/a")
    assert [str(e) for e in result.errors] == [
        "<stdin>: document 2 (line 6): apiVersion: required field is missing "
        "(write apiVersion: shoal/v1)",
        "<stdin>: document 2 (line 6): metadata: required field is missing",
        "<stdin>: document 2 (line 6): spec: required field is missing",
    ]


def test_files_directories_and_stdin_together(here: Path) -> None:
    (here / "d").mkdir()
    (here / "d" / "b.yaml").write_text(manifest("b"))
    (here / "a.yaml").write_text(manifest("a"))
    result = load_paths(["a.yaml", "d", "-"], stdin=io.StringIO(manifest("c")))
    assert [t.key for _, t in result.tasks] == ["default/a", "default/b", "default/c"]


def test_json_errors_have_lines(here: Path) -> None:
    (here / "bad.json").write_text('{\n  "apiVersion": "shoal/v1",\n  "kind": "Task",\n}\n')
    [error] = load_paths(["bad.json"]).errors
    assert (error.document, error.line) == (1, 4)
    assert error.message.startswith("invalid JSON: ")


def test_json_field_errors_have_lines(here: Path) -> None:
    doc = {
        "apiVersion": "shoal/v1",
        "kind": "Task",
        "metadata": {"name": "web"},
        "spec": {"image": "x", "ports": [{"containerPort": 70000}]},
    }
    (here / "web.json").write_text(json.dumps(doc, indent=2))
    [error] = load_paths(["web.json"]).errors
    assert str(error).startswith("web.json: document 1 (line 11): spec.ports[0].containerPort: ")


def test_json_indented_with_tabs_is_read_even_though_yaml_cannot(here: Path) -> None:
    doc = {
        "apiVersion": "shoal/v1",
        "kind": "Task",
        "metadata": {"name": "web"},
        "spec": {"image": "x"},
    }
    (here / "web.json").write_text(json.dumps(doc, indent="\t"))
    result = load_paths(["web.json"])
    assert result.ok and [t.key for _, t in result.tasks] == ["default/web"]


def test_text_that_is_not_utf8_is_an_error(here: Path) -> None:
    (here / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    [error] = load_paths(["latin1.yaml"]).errors
    assert str(error) == "latin1.yaml: not UTF-8 text (byte 9 is not valid)"


def test_a_byte_order_mark_is_fine(here: Path) -> None:
    (here / "bom.yaml").write_text("\ufeff" + manifest("a"), encoding="utf-8")
    assert load_paths(["bom.yaml"]).ok


def test_yaml_syntax_error_reports_its_line_and_keeps_earlier_documents(here: Path) -> None:
    (here / "s.yaml").write_text(manifest("a") + "---\nkind: Task\nspec: [a\n  b: c\n")
    result = load_paths(["s.yaml"])
    assert [t.key for _, t in result.tasks] == ["default/a"]
    [error] = result.errors
    assert (error.document, error.line) == (2, 8)  # 1-4 document 1, 5 ---, 8 "  b: c"
    assert error.message == (
        "invalid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence)"
    )


def test_the_same_name_in_two_files_is_reported_with_both_places(here: Path) -> None:
    (here / "a.yaml").write_text(manifest("web"))
    (here / "b.yaml").write_text("# again\n" + manifest("db") + "---\n" + manifest("web"))
    [error] = load_paths(["a.yaml", "b.yaml"]).errors
    assert str(error) == (
        "b.yaml: document 2 (line 9): metadata.name: task default/web is defined twice; "
        "the other is at a.yaml: document 1 (line 3)"
    )


def test_the_same_name_in_two_namespaces_is_two_tasks(here: Path) -> None:
    result = load_text(manifest("web") + "---\n" + manifest("web", namespace="prod"))
    assert result.ok and [t.key for _, t in result.tasks] == ["default/web", "prod/web"]


def test_a_key_written_twice_is_reported(here: Path) -> None:
    result = load_text(WEB + "  image: other\n", "web.yaml")
    assert [str(e) for e in result.errors] == [
        "web.yaml: document 1 (line 7): spec.image: key written twice (first on line 6); "
        "write it once"
    ]


def test_yaml_merge_keys_are_not_mistaken_for_keys_written_twice() -> None:
    text = (
        "apiVersion: shoal/v1\nkind: Task\nmetadata: {name: web}\n"
        "spec:\n  image: x\n  resources:\n    <<: &r {cpu: 1, memory: 1Gi}\n    cpu: 2\n"
    )
    result = load_text(text)
    assert result.ok, format_errors(result.errors)
    assert result.tasks[0].task.spec.resources.cpu == 2.0


def test_every_problem_in_a_file_is_reported_in_line_order() -> None:
    text = """\
apiVersion: shoal/v1
kind: Task
metadata:
  name: Web_1
spec:
  imagez: x
  resources: {memory: 64Qi, cpu: -1}
  ports:
    - containerPort: 80
      hostPort: 70000
  restartPolicy: Sometimes
"""
    result = load_text(text, "web.yaml")
    assert [(e.line, e.path) for e in result.errors] == [
        (4, "metadata.name"),
        (5, "spec.image"),
        (6, "spec.imagez"),
        (7, "spec.resources.memory"),  # same line: in the order written
        (7, "spec.resources.cpu"),
        (10, "spec.ports[0].hostPort"),
        (11, "spec.restartPolicy"),
    ]
    assert result.tasks == []


def test_a_document_of_another_kind_is_not_validated_as_a_task() -> None:
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {containers: []}\n"
    assert [(e.path, e.message) for e in load_text(text).errors] == [
        ("apiVersion", "'v1' is not supported: expected 'shoal/v1'"),
        ("kind", "'Pod' is not supported: expected 'Task'"),
    ]


def test_error_strings() -> None:
    assert str(ManifestError("w.yaml", 2, 14, "spec.x", "bad")) == (
        "w.yaml: document 2 (line 14): spec.x: bad"
    )
    assert str(ManifestError("w.yaml", 2, 14, "", "bad")) == "w.yaml: document 2 (line 14): bad"
    assert str(ManifestError("w.yaml", None, None, "", "gone")) == "w.yaml: gone"
    assert str(Source("w.yaml", 1, 3)) == "w.yaml: document 1 (line 3)"
    errors = [ManifestError("a", 1, 1, "", "x"), ManifestError("b", None, None, "", "y")]
    assert format_errors(errors) == "a: document 1 (line 1): x\nb: y"
    assert format_errors([]) == ""


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        (("spec", "ports", 1, "hostPort"), "spec.ports[1].hostPort"),
        (
            ("metadata", "labels", "app.kubernetes.io/name"),
            'metadata.labels["app.kubernetes.io/name"]',
        ),
        (("spec", "env", "1A", "[key]"), 'spec.env["1A"]'),
        (("spec", "env", "GREETING"), "spec.env.GREETING"),
        ((), ""),
    ],
)
def test_field_paths(loc: tuple[str | int, ...], text: str) -> None:
    assert format_path(loc) == text


def test_control_characters_are_an_error_with_their_line() -> None:
    [error] = load_text("a: b\n\nc: \x00\n", "x.yaml").errors
    assert str(error) == "x.yaml: line 3: invalid YAML: character 0x0000 is not allowed"


def test_python_tags_are_refused_not_run() -> None:
    text = manifest("a").replace("shoal-busybox:latest", "!!python/name:os.system ''")
    [error] = load_text(text, "x.yaml").errors
    assert (error.document, error.line) == (1, 4)
    assert "could not determine a constructor" in error.message


def test_absurd_nesting_is_an_error_not_a_crash() -> None:
    [error] = load_text("a: " + "[" * 5000 + "]" * 5000 + "\n", "x.yaml").errors
    assert error.message == "invalid YAML: nested too deeply"
