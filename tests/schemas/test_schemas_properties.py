"""Property tests: models round-trip through JSON, and the JSON Schema agrees with the models.

Agreement is checked both ways on generated documents: valid manifests are accepted by the
models and by the schema; each mutation of a valid manifest (unknown field, wrong type, bad
name, port out of range, bad quantity, missing required field) is refused by both.

Where the two cannot agree, the case is not generated, and
``test_known_disagreements_are_only_these`` pins each one down:

* duplicate ports (a check across list items; JSON Schema cannot compare items by two fields);
* quantity strings that are well-formed but not a whole number of bytes (``"0.5"``) or too
  large (``"1e30"``): the schema checks the syntax, only the parser does the arithmetic;
* a name ending in a newline: the schema's ``$`` means end of text in ECMA-262, but Python's
  ``re.search`` (used by the jsonschema package) also lets it match before a final newline;
* ``format: date-time`` is an annotation in draft 2020-12, so a malformed timestamp in
  ``metadata.creationTimestamp`` passes the schema unless a validator asserts formats.
"""

import copy
import json
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck as Health
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from schemas.binding import Binding, ContainerPhase, TaskReport
from schemas.export import task_schema
from schemas.node import NodeMetrics
from schemas.quantity import BYTE_SUFFIXES
from schemas.task import PortBinding, Task, TaskSpec

VALIDATOR = Draft202012Validator(task_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[Health.too_slow])

Json = dict[str, Any]

# --- valid manifests ----------------------------------------------------------------------

dns_labels = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,12}[a-z0-9])?", fullmatch=True)
label_names = st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?", fullmatch=True)
label_keys = st.one_of(
    label_names,
    st.tuples(
        st.from_regex(r"[a-z0-9]{1,6}(\.[a-z0-9]{1,6}){0,2}", fullmatch=True), label_names
    ).map("/".join),
)
label_values = st.one_of(st.just(""), label_names)
labels = st.dictionaries(label_keys, label_values, max_size=3)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
env_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
ports = st.integers(1, 65535)

cpus = st.one_of(
    st.integers(0, 128),
    st.floats(0, 128, allow_nan=False, allow_infinity=False),
    st.integers(0, 128_000).map(lambda m: f"{m}m"),
    st.decimals(0, 128, places=3, allow_nan=False, allow_infinity=False).map(str),
)
byte_counts = st.one_of(
    st.integers(0, 2**50),
    # at most 7Ei: above 2**63 - 1 is a known disagreement (too large, but well-formed)
    st.tuples(st.integers(0, 1000), st.sampled_from(sorted(set(BYTE_SUFFIXES) - {"E", "Ei"}))).map(
        lambda t: f"{t[0]}{t[1]}"
    ),
    st.tuples(st.integers(0, 7), st.sampled_from(["E", "Ei"])).map(lambda t: f"{t[0]}{t[1]}"),
    st.integers(0, 2**40).map(str),
    st.integers(0, 9).map(lambda e: f"1e{e}"),
)


def nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def port_lists(draw: st.DrawFn) -> list[Json]:
    # Unique containerPort/protocol and hostPort/protocol: duplicates are a known disagreement.
    count = draw(st.integers(0, 4))
    container = draw(st.lists(ports, min_size=count, max_size=count, unique=True))
    host = draw(st.lists(ports, min_size=count, max_size=count, unique=True))
    result = []
    for c, h in zip(container, host, strict=True):
        port: Json = {"containerPort": c}
        if draw(st.booleans()):
            port["hostPort"] = h
        if draw(st.booleans()):
            port["protocol"] = draw(st.sampled_from(["tcp", "udp"]))
        if draw(st.booleans()):
            port["hostIP"] = draw(st.sampled_from(["0.0.0.0", "127.0.0.1", "::1", "::"]))
        result.append(port)
    return result


@st.composite
def health_checks(draw: st.DrawFn) -> Json:
    probe = draw(st.sampled_from(["httpGet", "tcpSocket", "exec"]))
    check: Json = {}
    if probe == "httpGet":
        check["httpGet"] = draw(
            st.fixed_dictionaries({"port": ports}, optional={"path": st.just("/healthz")})
        )
    elif probe == "tcpSocket":
        check["tcpSocket"] = {"port": draw(ports)}
    else:
        check["exec"] = {"command": draw(st.lists(texts, min_size=1, max_size=3))}
    for other in {"httpGet", "tcpSocket", "exec"} - {probe}:
        if draw(st.booleans()):
            check[other] = None  # explicit nulls count as absent, in both
    optional = {
        "periodSeconds": st.integers(1, 3600),
        "timeoutSeconds": st.integers(1, 60),
        "failureThreshold": st.integers(1, 10),
        "initialDelaySeconds": st.integers(0, 600),
    }
    check.update(draw(st.fixed_dictionaries({}, optional=optional)))
    return check


specs = st.fixed_dictionaries(
    {"image": st.from_regex(r"[a-z0-9][a-z0-9./:_-]{0,30}", fullmatch=True)},
    optional={
        "command": nullable(st.lists(texts, max_size=3)),
        "args": nullable(st.lists(texts, max_size=3)),
        "env": st.dictionaries(env_names, texts, max_size=3),
        "resources": st.fixed_dictionaries(
            {}, optional={"cpu": cpus, "memory": byte_counts, "disk": byte_counts}
        ),
        "ports": port_lists(),
        "restartPolicy": st.sampled_from(["Always", "OnFailure", "Never"]),
        "healthCheck": nullable(health_checks()),
        "nodeSelector": labels,
        "desiredState": st.sampled_from(["Running", "Stopped"]),
    },
)

metas = st.fixed_dictionaries(
    {"name": dns_labels},
    optional={
        "namespace": dns_labels,
        "labels": labels,
        "annotations": st.dictionaries(label_keys, texts, max_size=2),
        "uid": nullable(st.uuids().map(str)),
        "generation": nullable(st.integers(1, 10**6)),
        "resourceVersion": nullable(st.integers(0, 10**9)),
        "creationTimestamp": nullable(
            st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
        ),
    },
)

manifests = st.fixed_dictionaries(
    {"apiVersion": st.just("shoal/v1"), "kind": st.just("Task"), "metadata": metas, "spec": specs}
)


@SETTINGS
@given(manifests)
def test_valid_manifests_are_accepted_by_the_models_and_the_schema(doc: Json) -> None:
    Task.model_validate(doc)
    VALIDATOR.validate(doc)


@SETTINGS
@given(manifests)
def test_tasks_round_trip_and_their_json_is_valid_input(doc: Json) -> None:
    task = Task.model_validate(doc)
    text = task.model_dump_json(by_alias=True)
    assert Task.model_validate_json(text) == task
    assert Task.model_validate(json.loads(text)) == task
    VALIDATOR.validate(json.loads(text))


# --- mutations ----------------------------------------------------------------------------


def objects_in(doc: Json) -> list[Json]:
    """Every object of the manifest that refuses unknown fields (not status, env or labels)."""
    spec = doc["spec"]
    found = [doc, doc["metadata"], spec]
    if isinstance(spec.get("resources"), dict):
        found.append(spec["resources"])
    found.extend(spec.get("ports") or [])
    check = spec.get("healthCheck")
    if check:
        found.append(check)
        found.extend(v for k, v in check.items() if k in ("httpGet", "tcpSocket", "exec") and v)
    return found


BAD_NAMES = ["Web", "web_1", "-web", "web-", "", "a" * 64, "web.1", "wéb", "we b"]
BAD_PORTS = [0, -1, 65536, 70000, "80", True, 80.5, None]
BAD_CPU = ["64Qi", "-1", "", "abc", "1 Gi", "1..5", "1Gi", "-5m", "5mm", -1, -0.5, True, [1]]
BAD_BYTES = ["64Qi", "-1", "", "abc", "1 Gi", "1..5", "Gi", "500m", "1e", -1, 1.5, False, {}]
WRONG_TYPES: list[tuple[tuple[str, ...], list[Any]]] = [
    (("metadata",), [[], "web", 1]),
    (("metadata", "name"), [1, ["web"], None, True]),
    (("metadata", "labels"), [["a"], "a=b"]),
    (("spec",), [[], "image"]),
    (("spec", "image"), [42, [], {}, True, None]),
    (("spec", "command"), ["sh -c true", {"a": 1}]),
    (("spec", "env"), [["A=B"], "A=B"]),
    (("spec", "ports"), [{}, "80", 80]),
    (("spec", "resources"), [[], "1Gi"]),
    (("spec", "restartPolicy"), [1, True, "always", None]),
    (("spec", "desiredState"), ["Paused", 0]),
    (("spec", "nodeSelector"), [["zone=a"]]),
]
REQUIRED: list[tuple[str, ...]] = [
    ("apiVersion",),
    ("kind",),
    ("metadata",),
    ("spec",),
    ("metadata", "name"),
    ("spec", "image"),
]


def put(doc: Json, path: tuple[str, ...], value: Any) -> None:
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


@st.composite
def invalid_manifests(draw: st.DrawFn) -> tuple[str, Json]:
    doc = copy.deepcopy(draw(manifests))
    spec = doc["spec"]
    kind = draw(
        st.sampled_from(
            ["unknown field", "wrong type", "bad name", "bad port", "bad quantity", "missing"]
        )
    )
    if kind == "unknown field":
        target = draw(st.sampled_from(objects_in(doc)))
        target["zz" + draw(st.from_regex(r"[A-Za-z]{0,6}", fullmatch=True))] = draw(
            st.one_of(st.none(), st.integers(), texts)
        )
    elif kind == "wrong type":
        path, values = draw(st.sampled_from(WRONG_TYPES))
        value = draw(st.sampled_from(values))
        if path == ("metadata", "labels"):
            value = value if draw(st.booleans()) else {"app": 7}
        if path == ("spec", "env") and draw(st.booleans()):
            value = {"PORT": draw(st.sampled_from([8080, True, None, 1.5, ["x"]]))}
        put(doc, path, value)
    elif kind == "bad name":
        field = draw(st.sampled_from(["name", "namespace"]))
        doc["metadata"][field] = draw(st.sampled_from(BAD_NAMES))
    elif kind == "bad port":
        bad = draw(st.sampled_from(BAD_PORTS))
        where = draw(st.sampled_from(["containerPort", "hostPort", "health"]))
        if where == "health":
            spec["healthCheck"] = {"tcpSocket": {"port": bad}}
        else:
            spec["ports"] = [*(spec.get("ports") or []), {"containerPort": 1, where: bad}]
            if where == "hostPort" and bad is None:  # hostPort may be null; containerPort not
                spec["ports"][-1]["containerPort"] = None
    elif kind == "bad quantity":
        field = draw(st.sampled_from(["cpu", "memory", "disk"]))
        value = draw(st.sampled_from(BAD_CPU if field == "cpu" else BAD_BYTES))
        spec["resources"] = {**(spec.get("resources") or {}), field: value}
    else:
        options: list[tuple[str | int, ...]] = list(REQUIRED)
        count = len(spec.get("ports") or [])
        options += [("spec", "ports", i, "containerPort") for i in range(count)]
        check = spec.get("healthCheck")
        if check:
            probe = next(k for k in ("httpGet", "tcpSocket", "exec") if check.get(k))
            options.append(("spec", "healthCheck", probe))  # exactly one probe is required
        path = draw(st.sampled_from(options))
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]
    return kind, doc


@SETTINGS
@given(invalid_manifests())
def test_mutated_manifests_are_refused_by_the_models_and_the_schema(
    case: tuple[str, Json],
) -> None:
    kind, doc = case
    with pytest.raises(ValidationError):
        Task.model_validate(doc)
    assert not VALIDATOR.is_valid(doc), f"the schema accepted a manifest with a {kind}"


def test_known_disagreements_are_only_these() -> None:
    base: Json = {
        "apiVersion": "shoal/v1",
        "kind": "Task",
        "metadata": {"name": "web"},
        "spec": {"image": "x"},
    }
    exceptions = [
        ("spec", "ports", [{"containerPort": 80}, {"containerPort": 80}]),
        ("spec", "resources", {"memory": "0.5"}),
        ("spec", "resources", {"disk": "1e30"}),
        ("metadata", "name", "web\n"),
        ("metadata", "creationTimestamp", "yesterday"),
    ]
    for section, field, value in exceptions:
        doc = copy.deepcopy(base)
        doc[section][field] = value
        with pytest.raises(ValidationError):
            Task.model_validate(doc)
        # If this starts failing, the schema learnt the rule: remove it from the list above.
        assert VALIDATOR.is_valid(doc), (section, field, value)


# --- other models round-trip --------------------------------------------------------------

timestamps = st.datetimes(timezones=st.just(UTC))
finite = {"allow_nan": False, "allow_infinity": False}
sizes = st.integers(0, 2**62)

node_metrics = st.builds(
    NodeMetrics,
    cpuPercent=st.floats(0, 100, **finite),
    memoryTotal=sizes,
    memoryAvailable=sizes,
    diskTotal=sizes,
    diskAvailable=sizes,
    load1=st.floats(0, 1e6, **finite),
    load5=st.floats(0, 1e6, **finite),
    load15=st.floats(0, 1e6, **finite),
    timestamp=timestamps,
)
bindings = st.builds(
    Binding,
    namespace=dns_labels,
    name=dns_labels,
    node=st.from_regex(r"[a-z0-9]{1,8}(\.[a-z0-9]{1,8}){0,2}", fullmatch=True),
    uid=st.uuids().map(str),
    generation=st.integers(1, 10**9),
    spec=specs.map(TaskSpec.model_validate),
    epoch=st.integers(0, 10**9),
)
port_bindings = st.builds(
    PortBinding,
    containerPort=ports,
    hostPort=ports,
    protocol=st.sampled_from(["tcp", "udp"]),
    hostIP=nullable(st.sampled_from(["0.0.0.0", "::"])),
)
task_reports = st.builds(
    TaskReport,
    containerId=nullable(st.from_regex(r"[0-9a-f]{64}", fullmatch=True)),
    state=st.sampled_from(ContainerPhase),
    hostPorts=st.lists(port_bindings, max_size=3),
    startTime=nullable(timestamps),
    finishTime=nullable(timestamps),
    exitCode=nullable(st.integers(-(2**31), 2**31)),
    oomKilled=st.booleans(),
    restartCount=st.integers(0, 10**6),
    healthy=nullable(st.booleans()),
    reason=nullable(texts),
    message=nullable(texts),
    generation=st.integers(1, 10**9),
)


@SETTINGS
@given(st.one_of(node_metrics, bindings, task_reports))
def test_records_round_trip_through_json(model: NodeMetrics | Binding | TaskReport) -> None:
    text = model.model_dump_json(by_alias=True)
    assert type(model).model_validate_json(text) == model
    assert type(model).model_validate(json.loads(text)) == model
