"""The models: what each accepts, normalises and refuses, and their helpers."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.binding import Binding, ContainerPhase, TaskReport
from schemas.events import EventType, TaskEvent
from schemas.meta import ObjectMeta
from schemas.node import NodeInfo, NodeMetrics, NodeStatus, merge_node
from schemas.spec import (
    DesiredState,
    HealthCheck,
    PortSpec,
    Resources,
    RestartPolicy,
    TaskSpec,
)
from schemas.states import TaskState
from schemas.task import PortBinding, Task, TaskStatus, desired_view, new_task, same_desired

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def task(**spec: Any) -> Task:
    return Task.model_validate(
        {
            "apiVersion": "shoal/v1",
            "kind": "Task",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"image": "shoal-busybox:latest", **spec},
        }
    )


def errors_of(model: type, data: object) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)  # type: ignore[attr-defined]
    return [(tuple(e["loc"]), e["msg"]) for e in info.value.errors()]


# --- names and labels ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["web", "a", "web-1", "1web", "a" * 63, "x-y-z0"])
def test_dns_label_names_are_accepted(name: str) -> None:
    assert ObjectMeta(name=name).name == name


@pytest.mark.parametrize(
    "name", ["Web", "web_1", "-web", "web-", "", "a" * 64, "web.1", "wéb", "web\n", " web"]
)
def test_names_that_are_not_dns_labels_are_refused(name: str) -> None:
    [(loc, msg)] = errors_of(ObjectMeta, {"name": name})
    assert loc == ("name",)
    assert f"{name!r} is not a valid name" in msg


def test_namespace_defaults_to_default_and_is_checked() -> None:
    assert ObjectMeta(name="web").namespace == "default"
    [(loc, _)] = errors_of(ObjectMeta, {"name": "web", "namespace": "Prod"})
    assert loc == ("namespace",)


@pytest.mark.parametrize(
    "key",
    ["app", "app.kubernetes.io/name", "shoal.dev/demo", "A_b.c-d", "a" * 63, "x/" + "b" * 63],
)
def test_label_keys_like_kubernetes_are_accepted(key: str) -> None:
    assert ObjectMeta(name="web", labels={key: "v"}).labels == {key: "v"}


@pytest.mark.parametrize(
    "key",
    [
        "",
        "a" * 64,
        "-app",
        "app-",
        "Example.com/app",
        "a/b/c",
        "/app",
        "app/",
        "bad key",
        "a" * 254 + "/x",
    ],
)
def test_bad_label_keys_are_refused_at_the_key(key: str) -> None:
    [(loc, msg)] = errors_of(ObjectMeta, {"name": "web", "labels": {key: "v"}})
    assert loc == ("labels", key, "[key]")
    assert "is not a valid label key" in msg


@pytest.mark.parametrize("value", ["", "web", "1.0", "a_b-c.d", "x" * 63])
def test_label_values_like_kubernetes_are_accepted(value: str) -> None:
    assert ObjectMeta(name="web", labels={"k": value}).labels["k"] == value


@pytest.mark.parametrize("value", ["x" * 64, "-a", "a b", "a/b"])
def test_bad_label_values_are_refused_at_the_value(value: str) -> None:
    [(loc, msg)] = errors_of(ObjectMeta, {"name": "web", "labels": {"k": value}})
    assert loc == ("labels", "k")
    assert "is not a valid label value" in msg


def test_annotations_take_any_text_under_label_keys() -> None:
    meta = ObjectMeta(name="web", annotations={"shoal.dev/note": "anything at all: {}"})
    assert meta.annotations["shoal.dev/note"] == "anything at all: {}"
    errors_of(ObjectMeta, {"name": "web", "annotations": {"bad key": "x"}})


# --- resources ----------------------------------------------------------------------------


def test_quantities_are_normalised_so_equal_amounts_compare_equal() -> None:
    a = Resources.model_validate({"cpu": "500m", "memory": "64Mi", "disk": "1G"})
    b = Resources.model_validate({"cpu": 0.5, "memory": 67108864, "disk": 1000000000})
    assert a == b
    assert (a.cpu, a.memory, a.disk) == (0.5, 67108864, 10**9)


def test_resources_default_to_zero() -> None:
    assert Resources() == Resources(cpu=0, memory=0, disk=0)
    assert task().spec.resources == Resources()


def test_a_bad_quantity_is_reported_at_its_field() -> None:
    [(loc, msg)] = errors_of(Resources, {"memory": "64Qi"})
    assert loc == ("memory",)
    assert "'64Qi' is not a quantity" in msg


def test_resources_add_and_fit() -> None:
    small = Resources(cpu=0.5, memory=100, disk=10)
    big = Resources(cpu=2, memory=1000, disk=100)
    assert small.fits_in(big) and not big.fits_in(small)
    assert small + small == Resources(cpu=1, memory=200, disk=20)
    assert not Resources(cpu=3).fits_in(big)


# --- ports and health checks --------------------------------------------------------------


def test_ports_default_to_tcp_without_host_port() -> None:
    port = PortSpec(containerPort=8080)
    assert (port.hostPort, port.protocol, port.hostIP) == (None, "tcp", None)


@pytest.mark.parametrize(
    "data",
    [
        {"containerPort": 0},
        {"containerPort": 65536},
        {"containerPort": -1},
        {"containerPort": "80"},
        {"containerPort": True},
        {"containerPort": 80.5},
        {"containerPort": 80, "hostPort": 70000},
        {"containerPort": 80, "protocol": "sctp"},
        {"containerPort": 80, "protocol": "TCP"},
        {"containerPort": 80, "hostIP": "localhost"},
        {"containerPort": 80, "hostIP": "300.1.1.1"},
    ],
)
def test_bad_ports_are_refused(data: dict[str, Any]) -> None:
    assert errors_of(PortSpec, data)


def test_a_whole_float_is_an_integer_as_in_json_schema() -> None:
    assert PortSpec.model_validate({"containerPort": 80.0}).containerPort == 80


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0", "::1", "fe80::1"])
def test_host_ip_takes_ipv4_and_ipv6(address: str) -> None:
    assert PortSpec(containerPort=80, hostIP=address).hostIP == address


@pytest.mark.parametrize(
    ("ports", "text"),
    [
        ([{"containerPort": 80}, {"containerPort": 80}], "ports[1] repeats containerPort 80/tcp"),
        (
            [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81, "hostPort": 8080}],
            "ports[1] repeats hostPort 8080/tcp of ports[0]",
        ),
    ],
)
def test_duplicate_ports_are_refused(ports: list[dict[str, Any]], text: str) -> None:
    [(loc, msg)] = errors_of(TaskSpec, {"image": "x", "ports": ports})
    assert loc == ("ports",)
    assert text in msg


def test_the_same_port_number_on_tcp_and_udp_is_two_ports() -> None:
    spec = TaskSpec.model_validate(
        {
            "image": "x",
            "ports": [
                {"containerPort": 53, "hostPort": 53},
                {"containerPort": 53, "hostPort": 53, "protocol": "udp"},
                {"containerPort": 54},
                {"containerPort": 55},
            ],
        }
    )
    assert len(spec.ports) == 4


def test_health_check_defaults() -> None:
    check = HealthCheck.model_validate({"httpGet": {"port": 8080}})
    assert check.httpGet is not None and check.httpGet.path == "/"
    assert (check.periodSeconds, check.timeoutSeconds) == (10, 1)
    assert (check.failureThreshold, check.initialDelaySeconds) == (3, 0)
    assert check.port == 8080
    assert HealthCheck.model_validate({"exec": {"command": ["true"]}}).port is None


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"periodSeconds": 5},
        {"httpGet": {"port": 80}, "tcpSocket": {"port": 80}},
        {"httpGet": {"port": 80}, "exec": {"command": ["true"]}},
    ],
)
def test_a_health_check_has_exactly_one_probe(data: dict[str, Any]) -> None:
    [(loc, msg)] = errors_of(HealthCheck, data)
    assert loc == ()
    assert "exactly one of httpGet, tcpSocket or exec" in msg


@pytest.mark.parametrize(
    "data",
    [
        {"exec": {"command": []}},
        {"httpGet": {"port": 80, "path": "healthz"}},
        {"httpGet": {}},
        {"tcpSocket": {"port": 0}},
        {"tcpSocket": {"port": 80}, "periodSeconds": 0},
        {"tcpSocket": {"port": 80}, "timeoutSeconds": 0},
        {"tcpSocket": {"port": 80}, "failureThreshold": 0},
        {"tcpSocket": {"port": 80}, "initialDelaySeconds": -1},
    ],
)
def test_bad_health_checks_are_refused(data: dict[str, Any]) -> None:
    assert errors_of(HealthCheck, data)


# --- spec ---------------------------------------------------------------------------------


def test_spec_defaults() -> None:
    spec = TaskSpec(image="shoal-busybox:latest")
    assert spec.restartPolicy is RestartPolicy.OnFailure
    assert spec.desiredState is DesiredState.Running
    assert (spec.command, spec.args, spec.env, spec.ports, spec.nodeSelector) == (
        None,
        None,
        {},
        [],
        {},
    )


@pytest.mark.parametrize("image", ["", "shoal busybox", " x"])
def test_bad_images_are_refused(image: str) -> None:
    [(loc, _)] = errors_of(TaskSpec, {"image": image})
    assert loc == ("image",)


def test_env_needs_names_a_shell_can_read_and_string_values() -> None:
    assert TaskSpec(image="x", env={"_A1": "1", "PATH": ""}).env["_A1"] == "1"
    assert errors_of(TaskSpec, {"image": "x", "env": {"1A": "x"}})[0][0] == ("env", "1A", "[key]")
    assert errors_of(TaskSpec, {"image": "x", "env": {"A-B": "x"}})
    assert errors_of(TaskSpec, {"image": "x", "env": {"PORT": 8080}})[0][0] == ("env", "PORT")


def test_unknown_fields_are_refused_everywhere_in_a_manifest() -> None:
    [(loc, _)] = errors_of(TaskSpec, {"image": "x", "resources": {"cpus": 1}})
    assert loc == ("resources", "cpus")


# --- task ---------------------------------------------------------------------------------


def test_the_task_key_is_namespace_slash_name() -> None:
    assert task().key == "default/web"
    assert new_task("db", TaskSpec(image="x"), namespace="prod").key == "prod/db"


def test_api_version_and_kind_are_required_and_fixed() -> None:
    data = task().model_dump(mode="json")
    for field, wrong in (("apiVersion", "v1"), ("kind", "Pod")):
        assert errors_of(Task, {**data, field: wrong})[0][0] == (field,)
        missing = {k: v for k, v in data.items() if k != field}
        assert errors_of(Task, missing)[0][0] == (field,)


def test_same_desired_ignores_what_the_system_sets() -> None:
    plain = task()
    meta = plain.metadata.model_copy(
        update={"uid": "u-1", "generation": 3, "resourceVersion": 42, "creationTimestamp": T0}
    )
    stored = plain.model_copy(
        update={"metadata": meta, "status": TaskStatus(state=TaskState.Running, node="n1")}
    )
    assert same_desired(plain, stored)
    assert desired_view(stored) == desired_view(plain)
    assert stored.desired() == plain


def test_same_desired_sees_what_a_person_changes() -> None:
    plain = task()
    assert not same_desired(plain, task(restartPolicy="Always"))
    relabelled = plain.model_copy(
        update={"metadata": plain.metadata.model_copy(update={"labels": {"app": "db"}})}
    )
    assert not same_desired(plain, relabelled)


def test_same_desired_compares_normalised_quantities() -> None:
    assert same_desired(task(resources={"memory": "64Mi"}), task(resources={"memory": 67108864}))


def test_models_are_frozen() -> None:
    with pytest.raises(ValidationError):
        task().spec.image = "other"  # type: ignore[misc]


def test_json_is_camel_case_with_or_without_by_alias() -> None:
    t = task(ports=[{"containerPort": 80, "hostPort": 8080}], restartPolicy="Always")
    assert t.model_dump_json() == t.model_dump_json(by_alias=True)
    data = json.loads(t.model_dump_json())
    assert data["spec"]["ports"][0]["containerPort"] == 80
    assert data["spec"]["restartPolicy"] == "Always"
    assert set(data) == {"apiVersion", "kind", "metadata", "spec", "status"}


# --- timestamps ---------------------------------------------------------------------------


def test_timestamps_are_stored_in_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    status = TaskStatus(startTime=datetime(2024, 5, 1, 14, 0, tzinfo=plus2))
    assert status.startTime == T0 and status.startTime.tzinfo is UTC
    naive = TaskStatus.model_validate({"startTime": "2024-05-01T12:00:00"})
    assert naive.startTime == T0
    assert '"startTime":"2024-05-01T12:00:00Z"' in naive.model_dump_json()


def test_a_number_is_not_a_timestamp() -> None:
    [(loc, _)] = errors_of(TaskStatus, {"startTime": 1714564800})
    assert loc == ("startTime",)


# --- records written by Shoal ---------------------------------------------------------------


def test_records_ignore_unknown_fields_manifests_do_not() -> None:
    status = TaskStatus.model_validate({"state": "Running", "addedInV2": 1})
    assert status.state is TaskState.Running
    assert errors_of(ObjectMeta, {"name": "web", "addedInV2": 1})


def info() -> NodeInfo:
    return NodeInfo(
        name="node-1.lan",
        address="10.0.0.5",
        labels={"zone": "a"},
        capacity=Resources(cpu=4, memory="8Gi", disk="100G"),
        runtime="docker 20.10.24",
        version="0.1.0",
        startedAt=T0,
    )


def metrics(**overrides: Any) -> dict[str, Any]:
    base = {
        "cpuPercent": 12.5,
        "memoryTotal": 8 * 1024**3,
        "memoryAvailable": 4 * 1024**3,
        "diskTotal": 10**11,
        "diskAvailable": 5 * 10**10,
        "load1": 0.5,
        "load5": 0.25,
        "load15": 0.1,
        "timestamp": "2024-05-01T12:00:00Z",
    }
    return {**base, **overrides}


@pytest.mark.parametrize(
    "bad", [{"cpuPercent": 100.5}, {"cpuPercent": -1}, {"load1": float("nan")}, {"diskTotal": -1}]
)
def test_node_metrics_are_checked(bad: dict[str, Any]) -> None:
    assert errors_of(NodeMetrics, metrics(**bad))


def test_merge_node_gives_the_get_nodes_view() -> None:
    m = NodeMetrics.model_validate(metrics())
    status = NodeStatus(ready=True, since=T0, allocated=Resources(cpu=1, memory="1Gi"))
    node = merge_node(info(), status, m)
    data = json.loads(node.model_dump_json())
    assert data["metadata"] == {"name": "node-1.lan", "labels": {"zone": "a"}}
    assert data["status"]["ready"] is True
    assert data["status"]["address"] == "10.0.0.5"
    assert data["status"]["capacity"] == {"cpu": 4.0, "memory": 8 * 1024**3, "disk": 10**11}
    assert data["status"]["allocated"] == {"cpu": 1.0, "memory": 1024**3, "disk": 0}
    assert data["status"]["metrics"]["cpuPercent"] == 12.5
    assert data["status"]["metrics"]["load15"] == 0.1


def test_a_node_without_controller_status_is_not_ready() -> None:
    node = merge_node(info())
    assert node.status.ready is False and node.status.metrics is None


def test_binding_and_report() -> None:
    binding = Binding(
        namespace="default",
        name="web",
        node="node-1",
        uid="u-1",
        generation=2,
        spec=TaskSpec(image="x"),
        epoch=7,
    )
    assert binding.key == "default/web"
    report = TaskReport(
        containerId="abc",
        state=ContainerPhase.Exited,
        exitCode=137,
        oomKilled=True,
        hostPorts=[PortBinding(containerPort=80, hostPort=18080, hostIP="0.0.0.0")],
        generation=2,
    )
    assert TaskReport.model_validate_json(report.model_dump_json()) == report
    assert errors_of(Binding, {**binding.model_dump(), "generation": 0})


def test_event_reasons_are_one_camel_case_word() -> None:
    event = TaskEvent(
        namespace="default",
        name="web",
        type=EventType.Warning,
        reason="BackOff",
        message="restarting in 10s",
        fromState=TaskState.Failed,
        toState=TaskState.Scheduled,
        time=T0,
    )
    assert (event.key, event.count) == ("default/web", 1)
    for reason in ("backOff", "Back off", ""):
        assert errors_of(TaskEvent, {**event.model_dump(), "reason": reason})
