"""`shoal get tasks|nodes|syncs`: the merged JSON the design names, the tables, namespaces,
selectors and names; the controller's and agents' keys are written by the test."""

from __future__ import annotations

import json

import pytest
import yaml

from core.typed_store import put_model
from schemas.placement import Placement
from schemas.spec import Resources
from schemas.task import PortBinding
from shoal.testing import ShoalHarness

pytestmark = pytest.mark.integration

TASK_METADATA = {"name", "namespace", "labels", "uid", "generation", "resourceVersion"}
TASK_STATUS = {
    "state",
    "node",
    "containerId",
    "hostPorts",
    "startTime",
    "finishTime",
    "restartCount",
    "exitCode",
    "reason",
    "message",
    "observedGeneration",
}


def _apply(shoal: ShoalHarness, text: str) -> None:
    result = shoal.run("apply", "-f", "-", input=text)
    assert result.exit_code == 0, result.output


def test_task_json_is_the_desired_task_with_its_status(shoal: ShoalHarness) -> None:
    _apply(shoal, shoal.manifest("web", labels="app: web", spec="  ports: [{containerPort: 80}]\n"))
    shoal.status(
        "web",
        "Running",
        node="n1",
        containerId="c0ffee",
        hostPorts=[PortBinding(containerPort=80, hostPort=18080, hostIP="127.0.0.1")],
        observedGeneration=1,
    )
    result = shoal.run("get", "task", "web", "-o", "json")
    assert result.exit_code == 0, result.output
    task = json.loads(result.stdout)
    assert (task["apiVersion"], task["kind"]) == ("shoal/v1", "Task")
    assert TASK_METADATA | {"creationTimestamp"} <= set(task["metadata"])
    kv = shoal.store.get(shoal.keys.task("default", "web"))
    assert kv is not None
    assert task["metadata"]["resourceVersion"] == kv.mod_revision
    assert task["metadata"]["labels"] == {"app": "web"}
    assert task["spec"]["image"] == "shoal-busybox:latest"
    assert task["spec"]["ports"][0]["containerPort"] == 80
    assert set(task["status"]) >= TASK_STATUS
    assert task["status"]["state"] == "Running"
    assert task["status"]["node"] == "n1"
    assert task["status"]["containerId"] == "c0ffee"
    assert task["status"]["hostPorts"][0]["hostPort"] == 18080


def test_a_task_without_status_is_pending(shoal: ShoalHarness) -> None:
    _apply(shoal, shoal.manifest("new"))
    [task] = json.loads(shoal.run("get", "tasks", "-o", "json").stdout)["items"]
    assert task["status"]["state"] == "Pending"
    assert task["status"]["node"] is None


def test_list_json_and_yaml(shoal: ShoalHarness) -> None:
    _apply(shoal, shoal.manifest("b") + "---\n" + shoal.manifest("a"))
    body = json.loads(shoal.run("get", "tasks", "-o", "json").stdout)
    assert list(body) == ["items"]
    assert [t["metadata"]["name"] for t in body["items"]] == ["a", "b"]
    doc = yaml.safe_load(shoal.run("get", "tasks", "-o", "yaml").stdout)
    assert [t["metadata"]["name"] for t in doc["items"]] == ["a", "b"]
    assert shoal.run("get", "tasks", "-o", "name").stdout.splitlines() == ["task/a", "task/b"]


def test_namespaces_and_selectors(shoal: ShoalHarness) -> None:
    _apply(
        shoal,
        shoal.manifest("web", labels="app: web")
        + "---\n"
        + shoal.manifest("db", labels="app: db")
        + "---\n"
        + shoal.manifest("web", namespace="prod", labels="app: web"),
    )
    default = shoal.columns(shoal.run("get", "tasks").stdout)
    assert default[0] == ["NAME", "STATE", "NODE", "RESTARTS", "AGE", "REASON"]
    assert shoal.names_in(default) == ["db", "web"]
    prod = shoal.columns(shoal.run("get", "tasks", "-n", "prod").stdout)
    assert shoal.names_in(prod) == ["web"]
    everywhere = shoal.columns(shoal.run("get", "tasks", "-A").stdout)
    assert everywhere[0][:2] == ["NAMESPACE", "NAME"]
    assert [row[:2] for row in everywhere[1:]] == [
        ["default", "db"],
        ["default", "web"],
        ["prod", "web"],
    ]
    selected = shoal.columns(shoal.run("get", "tasks", "-A", "-l", "app=web").stdout)
    assert [row[:2] for row in selected[1:]] == [["default", "web"], ["prod", "web"]]
    assert shoal.run("get", "task", "prod/web", "-o", "name").stdout.strip() == "task/web"


def test_table_and_wide_rows(shoal: ShoalHarness) -> None:
    _apply(shoal, shoal.manifest("web", spec="  ports: [{containerPort: 80, hostPort: 18080}]\n"))
    _apply(shoal, shoal.manifest("big"))
    shoal.node("n1")
    shoal.status("web", "Running", node="n1", restartCount=2, observedGeneration=1)
    shoal.status(
        "big", "Pending", reason="Unschedulable", message="0/1 nodes: 1 insufficient memory"
    )
    rows = shoal.columns(shoal.run("get", "tasks").stdout)
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["web"][1:4] == ["Running", "n1", "2"]
    assert by_name["big"][1:3] == ["Pending", "<none>"] and by_name["big"][-1] == "Unschedulable"
    wide = shoal.run("get", "tasks", "-o", "wide").stdout
    header = shoal.lines(wide)[0].split()
    assert header[6:10] == ["IMAGE", "PORTS", "IP", "GEN"] and header[-1] == "MESSAGE"
    web_line = next(line for line in shoal.lines(wide) if line.startswith("web "))
    assert "shoal-busybox:latest" in web_line and "18080->80/tcp" in web_line
    assert "127.0.0.1" in web_line and "1/1" in web_line
    big_line = next(line for line in shoal.lines(wide) if line.startswith("big "))
    assert big_line.endswith("0/1 nodes: 1 insufficient memory")
    assert all(line == line.rstrip() for line in wide.splitlines())


def test_unknown_names_exit_1(shoal: ShoalHarness) -> None:
    result = shoal.proc("get", "task", "ghost")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: task default/ghost not found"
    node = shoal.run("get", "node", "ghost")
    assert node.exit_code == 1 and "node ghost not found" in node.stderr


def test_an_empty_list_says_so(shoal: ShoalHarness) -> None:
    result = shoal.run("get", "tasks")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No tasks found in namespace default." in result.stderr
    assert json.loads(shoal.run("get", "tasks", "-o", "json").stdout) == {"items": []}


@pytest.mark.parametrize(
    "args",
    [
        ["get"],
        ["get", "pods"],
        ["get", "tasks", "-o", "xml"],
        ["get", "task", "web", "-A"],
        ["get", "tasks", "-n", "Bad_NS"],
        ["get", "tasks", "--output-watch-events"],
    ],
)
def test_bad_usage_exits_2(shoal: ShoalHarness, args: list[str]) -> None:
    result = shoal.run(*args)
    assert result.exit_code == 2, result.output


def test_nodes_merge_info_status_and_metrics(shoal: ShoalHarness) -> None:
    shoal.node("n1", labels={"zone": "a"}, allocated=Resources(cpu=0.5, memory=64 * 2**20))
    shoal.node("n2", ready=None, metrics=False)  # registered, no controller verdict yet
    shoal.node("n3", info=False, ready=True, metrics=False)  # its lease expired
    body = json.loads(shoal.run("get", "nodes", "-o", "json").stdout)
    nodes = {n["metadata"]["name"]: n for n in body["items"]}
    assert sorted(nodes) == ["n1", "n2", "n3"]
    n1 = nodes["n1"]
    assert n1["metadata"]["labels"] == {"zone": "a"}
    assert n1["status"]["ready"] is True
    assert n1["status"]["address"] == "127.0.0.1"
    assert n1["status"]["capacity"] == {"cpu": 2.0, "memory": 4 * 2**30, "disk": 20 * 2**30}
    assert n1["status"]["allocated"]["memory"] == 64 * 2**20
    metrics = n1["status"]["metrics"]
    assert set(metrics) >= {
        "cpuPercent",
        "memoryTotal",
        "memoryAvailable",
        "diskTotal",
        "diskAvailable",
        "load1",
        "load5",
        "load15",
        "timestamp",
    }
    assert nodes["n2"]["status"]["ready"] is False
    assert nodes["n3"]["status"]["ready"] is False, "no info: NotReady whatever the status says"
    rows = {r[0]: r for r in shoal.columns(shoal.run("get", "nodes").stdout)[1:]}
    assert rows["n1"][1:5] == ["Ready", "127.0.0.1", "0.5/2", "64Mi/4Gi"]
    assert rows["n2"][1] == "NotReady" and rows["n3"][1] == "NotReady"
    one = json.loads(shoal.run("get", "node", "n1", "-o", "json").stdout)
    assert one["metadata"]["name"] == "n1"
    assert shoal.names_in(shoal.columns(shoal.run("get", "nodes", "-l", "zone=a").stdout)) == ["n1"]


def test_top_nodes(shoal: ShoalHarness) -> None:
    shoal.node("n1")
    shoal.node("n2", metrics=False)
    rows = shoal.columns(shoal.run("top", "nodes").stdout)
    assert rows[0][:6] == ["NAME", "CPU%", "MEMORY", "MEMORY%", "DISK", "DISK%"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["n1"][1:6] == ["12%", "1Gi/4Gi", "25%", "5Gi/20Gi", "25%"]
    assert by_name["n1"][6:9] == ["0.50", "0.25", "0.12"]
    assert by_name["n2"][1] == "<unknown>"
    body = json.loads(shoal.run("top", "nodes", "-o", "json").stdout)
    assert body["items"][0]["metrics"]["cpuPercent"] == 12.5
    assert shoal.run("top", "tasks").exit_code == 2


def test_describe_task_shows_spec_status_placement_and_events(shoal: ShoalHarness) -> None:
    from datetime import UTC, datetime

    from schemas.events import TaskEvent
    from schemas.placement import NodeScore, Rejection

    _apply(shoal, shoal.manifest("web", spec="  resources: {cpu: 0.5, memory: 64Mi}\n"))
    shoal.status("web", "Scheduled", node="n2")
    now = datetime.now(UTC)
    put_model(
        shoal.store,
        shoal.keys.placement("default", "web"),
        Placement(
            namespace="default",
            name="web",
            generation=1,
            time=now,
            scheduler="spread",
            node="n2",
            message="placed on n2 (score 0.83; 2/3 nodes feasible, 2 scored)",
            nodesTotal=3,
            nodesFeasible=2,
            nodesScored=2,
            rejected=[Rejection(reason="insufficient memory", count=1, nodes=["n3"])],
            scores=[
                NodeScore(node="n2", score=0.83, parts={"spread": 0.83}),
                NodeScore(node="n1", score=0.5, parts={"spread": 0.5}),
            ],
        ),
    )
    put_model(
        shoal.store,
        shoal.keys.event("default", "web", 1),
        TaskEvent(
            namespace="default",
            name="web",
            reason="Scheduled",
            message="placed on n2",
            fromState="Pending",
            toState="Scheduled",
            time=now,
        ),
    )
    result = shoal.run("describe", "task", "web")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    for fragment in [
        "Name:                web",
        "Image:             shoal-busybox:latest",
        "Resources:         cpu 0.5, memory 64Mi, disk 0",
        "State:             Scheduled",
        "Node:              n2",
        "Feasible:          2/3 nodes (2 scored)",
        "insufficient memory   1       n3",
        "n2     0.830   spread=0.830",
        "Scheduled   0s    Pending -> Scheduled   placed on n2",
    ]:
        assert " ".join(fragment.split()) in text, f"{fragment!r} not in:\n{result.stdout}"
    missing = shoal.run("describe", "task", "ghost")
    assert missing.exit_code == 1 and "task default/ghost not found" in missing.stderr


def test_describe_node_shows_resources_metrics_and_its_tasks(shoal: ShoalHarness) -> None:
    from schemas.binding import Binding, ContainerPhase, TaskReport
    from schemas.spec import TaskSpec

    shoal.node("n1", agent_url="http://127.0.0.1:9", allocated=Resources(cpu=1))
    spec = TaskSpec(image="shoal-busybox:latest", resources=Resources(cpu=1, memory=2**20))
    put_model(
        shoal.store,
        shoal.keys.binding("n1", "default", "web"),
        Binding(
            namespace="default", name="web", node="n1", uid="u", generation=3, spec=spec, epoch=1
        ),
    )
    put_model(
        shoal.store,
        shoal.keys.node_task_report("n1", "default", "web"),
        TaskReport(state=ContainerPhase.Running, generation=3),
    )
    shoal.status("web", "Running", node="n1")
    result = shoal.run("describe", "node", "n1")
    assert result.exit_code == 0, result.output
    for fragment in [
        "Agent:               http://127.0.0.1:9",
        "Status:              Ready since",
        "cpu        2          1           50%",
        "CPU:               12.5% busy",
        "Tasks (1 bound):",
        "default     web    Running   Running     1     1Mi      3",
    ]:
        assert " ".join(fragment.split()) in " ".join(result.stdout.split()), result.stdout
