"""Bad manifests, one per case: each error must name the file, document, line and field.

Every case lists *all* the errors the input must produce, as (file, document, line, field
path, a fragment of the message); the test checks that exactly those are reported and that the
printed line (`str(error)`) carries each of them.
"""

from dataclasses import dataclass
from pathlib import Path

import pytest

from schemas.loader import load_paths

HEAD = "apiVersion: shoal/v1\nkind: Task\n"  # lines 1-2 of most cases


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str]
    expected: list[tuple[str, int | None, int | None, str, str]]


def task(name: str = "web", spec: str = "  image: shoal-busybox:latest\n") -> str:
    """Lines: 1 apiVersion, 2 kind, 3 metadata, 4 name, 5 spec, 6 on: the spec lines."""
    return f"{HEAD}metadata:\n  name: {name}\nspec:\n{spec}"


CASES = [
    Case(
        "unknown-field",
        {"web.yaml": task(spec="  image: x\n  resourcez: {cpu: 1}\n")},
        [("web.yaml", 1, 7, "spec.resourcez", "unknown field (did you mean 'resources'?)")],
    ),
    Case(
        "bad-memory-quantity-in-second-document",
        {
            "web.yaml": task("db")
            + "---\n"
            + task(spec="  image: x\n  resources:\n    cpu: 500m\n    memory: 64Qi\n")
        },
        [("web.yaml", 2, 16, "spec.resources.memory", "'64Qi' is not a quantity")],
    ),
    Case(
        "host-port-out-of-range",
        {
            "web.yaml": task(
                spec="  image: x\n  ports:\n    - containerPort: 80\n"
                "    - containerPort: 81\n      hostPort: 70000\n"
            )
        },
        [
            (
                "web.yaml",
                1,
                10,
                "spec.ports[1].hostPort",
                "70000 is out of range: it must be at most",
            )
        ],
    ),
    Case(
        "name-not-a-dns-label",
        {"web.yaml": task(name="Web_1")},
        [("web.yaml", 1, 4, "metadata.name", "'Web_1' is not a valid name")],
    ),
    Case(
        "missing-image",
        {"web.yaml": task(spec="  command: [sh]\n")},
        [("web.yaml", 1, 5, "spec.image", "required field is missing")],
    ),
    Case(
        "wrong-api-version",
        {"web.yaml": "apiVersion: apps/v1\nkind: Task\nmetadata: {name: web}\nspec: {image: x}\n"},
        [("web.yaml", 1, 1, "apiVersion", "'apps/v1' is not supported: expected 'shoal/v1'")],
    ),
    Case(
        "kind-pod",
        {"pod.yaml": "apiVersion: shoal/v1\nkind: Pod\nmetadata: {name: web}\nspec: {}\n"},
        [("pod.yaml", 1, 2, "kind", "'Pod' is not supported: expected 'Task'")],
    ),
    Case(
        "missing-api-version-and-kind",
        {"web.yaml": "# a task\nmetadata: {name: web}\nspec: {image: x}\n"},
        [
            ("web.yaml", 1, 2, "apiVersion", "required field is missing (write apiVersion"),
            ("web.yaml", 1, 2, "kind", "required field is missing (write kind: Task)"),
        ],
    ),
    Case(
        "same-name-in-two-files",
        {"a.yaml": task(), "b.yaml": "# copy\n" + task()},
        [("b.yaml", 1, 5, "metadata.name", "defined twice; the other is at a.yaml: document 1")],
    ),
    Case(
        "list-where-a-mapping-is-expected",
        {"web.yaml": task(spec="  image: x\n  resources:\n    - cpu: 1\n")},
        [("web.yaml", 1, 7, "spec.resources", "expected a mapping, got a list")],
    ),
    Case(
        "restart-policy-sometimes",
        {"web.yaml": task(spec="  image: x\n  restartPolicy: Sometimes\n")},
        [
            (
                "web.yaml",
                1,
                7,
                "spec.restartPolicy",
                "'Sometimes' is not allowed: expected 'Always', 'OnFailure' or 'Never'",
            )
        ],
    ),
    Case(
        "env-value-not-a-string",
        {"web.yaml": task(spec="  image: x\n  env:\n    GREETING: hello\n    PORT: 8080\n")},
        [("web.yaml", 1, 9, "spec.env.PORT", "got the number 8080 (put it in quotes)")],
    ),
    Case(
        "node-selector-yes-is-a-boolean",
        {"web.yaml": task(spec="  image: x\n  nodeSelector: {ssd: yes}\n")},
        [("web.yaml", 1, 7, "spec.nodeSelector.ssd", "got the boolean true (put it in quotes)")],
    ),
    Case(
        "document-not-a-mapping",
        {"web.yaml": task() + "---\n- just\n- a list\n"},
        [("web.yaml", 2, 8, "", "expected a mapping (a Task), got a list")],
    ),
    Case(
        "invalid-yaml",
        {"web.yaml": task(spec="  image: x\n   command: [sh]\n")},
        [("web.yaml", 1, 7, "", "invalid YAML: mapping values are not allowed here")],
    ),
    Case(
        "negative-cpu",
        {"web.yaml": task(spec="  image: x\n  resources: {cpu: -0.5}\n")},
        [("web.yaml", 1, 7, "spec.resources.cpu", "-0.5 is not a quantity: it must not be")],
    ),
    Case(
        "fraction-of-a-byte",
        {"web.yaml": task(spec="  image: x\n  resources: {disk: '0.5'}\n")},
        [("web.yaml", 1, 7, "spec.resources.disk", "not a whole number of bytes")],
    ),
    Case(
        "duplicate-container-port",
        {
            "web.yaml": task(
                spec="  image: x\n  ports:\n    - {containerPort: 80}\n    - {containerPort: 80}\n"
            )
        },
        [("web.yaml", 1, 7, "spec.ports", "ports[1] repeats containerPort 80/tcp of ports[0]")],
    ),
    Case(
        "health-check-with-two-probes",
        {
            "web.yaml": task(
                spec="  image: x\n  healthCheck:\n    httpGet: {port: 80}\n"
                "    tcpSocket: {port: 80}\n"
            )
        },
        [("web.yaml", 1, 7, "spec.healthCheck", "exactly one of httpGet, tcpSocket or exec")],
    ),
    Case(
        "port-as-a-string",
        {"web.yaml": task(spec="  image: x\n  ports: [{containerPort: '80'}]\n")},
        [("web.yaml", 1, 7, "spec.ports[0].containerPort", "expected a whole number, got '80'")],
    ),
    Case(
        "bad-label-key",
        {
            "web.yaml": f"{HEAD}metadata:\n  name: web\n  labels:\n    -app: web\n"
            "spec: {image: x}\n"
        },
        [("web.yaml", 1, 6, 'metadata.labels["-app"]', "'-app' is not a valid label key")],
    ),
    Case(
        "key-written-twice",
        {"web.yaml": task(spec="  image: x\n  image: y\n")},
        [("web.yaml", 1, 7, "spec.image", "key written twice (first on line 6)")],
    ),
    Case(
        "bad-host-ip",
        {"web.yaml": task(spec="  image: x\n  ports: [{containerPort: 80, hostIP: localhost}]\n")},
        [("web.yaml", 1, 7, "spec.ports[0].hostIP", "'localhost' is not an IP address")],
    ),
    Case(
        "json-unknown-field",
        {
            "web.json": '{\n  "apiVersion": "shoal/v1",\n  "kind": "Task",\n'
            '  "metadata": {"name": "web", "lables": {}},\n  "spec": {"image": "x"}\n}\n'
        },
        [("web.json", 1, 4, "metadata.lables", "unknown field (did you mean 'labels'?)")],
    ),
    Case(
        "many-errors-in-one-file-are-all-reported",
        {
            "web.yaml": task(
                name="-web",
                spec="  image: ''\n  resources: {memory: 1Qi, cpu: abc}\n  desiredState: Paused\n",
            )
        },
        [
            ("web.yaml", 1, 4, "metadata.name", "'-web' is not a valid name"),
            ("web.yaml", 1, 6, "spec.image", "'' is not a valid image"),
            ("web.yaml", 1, 7, "spec.resources.memory", "'1Qi' is not a quantity"),
            ("web.yaml", 1, 7, "spec.resources.cpu", "'abc' is not a quantity"),
            ("web.yaml", 1, 8, "spec.desiredState", "'Paused' is not allowed"),
        ],
    ),
    Case(
        "path-that-does-not-exist",
        {},
        [("missing.yaml", None, None, "", "no such file or directory")],
    ),
]


def test_there_are_enough_distinct_cases() -> None:
    assert len(CASES) >= 15
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_manifest(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in case.files.items():
        (tmp_path / name).write_text(text)
    paths = sorted(case.files) or [case.expected[0][0]]
    result = load_paths(paths)

    got = [(e.file, e.document, e.line, e.path) for e in result.errors]
    assert got == [exp[:4] for exp in case.expected], "\n".join(map(str, result.errors))
    for error, (file, document, line, path, fragment) in zip(
        result.errors, case.expected, strict=True
    ):
        text = str(error)
        assert fragment in error.message, text
        assert text.startswith(f"{file}: ")
        if document is not None:
            assert f": document {document} (line {line}): " in text
        if path:
            assert f"): {path}: " in text
        assert fragment in text
    if any(exp[1] is not None for exp in case.expected):
        assert not any(
            s.file == exp[0] and s.document == exp[1]
            for s, _ in result.tasks
            for exp in case.expected
        ), "a document with errors must not give a task"
