"""Each filter alone: what it rejects, with which reason, and when it does not run at all."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from controller.candidates import Candidate
from controller.filters import (
    FILTERS,
    NodeCheck,
    first_rejection,
    host_ports_free,
    node_ready,
    node_selector_matches,
    port_reason,
    prepare,
    resources_fit,
)
from controller.snapshot import Amounts, HostPort, TaskRequest

GI = 2**30


def cand(
    name: str = "n1",
    *,
    ready: bool = True,
    capacity: tuple[float, int, int] = (4.0, 8 * GI, 100 * GI),
    allocated: tuple[float, int, int] = (0.0, 0, 0),
    labels: dict[str, str] | None = None,
    ports: set[HostPort] | None = None,
) -> Candidate:
    return Candidate(
        name,
        ready=ready,
        capacity=capacity,
        allocated=allocated,
        labels=labels or {},
        host_ports=frozenset(ports or ()),
    )


def req(
    cpu: float = 0.0,
    memory: int = 0,
    disk: int = 0,
    *,
    ports: set[HostPort] | None = None,
    selector: dict[str, str] | None = None,
) -> TaskRequest:
    return TaskRequest(
        namespace="default",
        name="t",
        generation=1,
        request=Amounts(cpu, memory, disk),
        host_ports=frozenset(ports or ()),
        node_selector=selector or {},
    )


def verdict(
    factory: Callable[[TaskRequest], NodeCheck | None], node: Candidate, task: TaskRequest
) -> str | None:
    check = factory(task)
    return None if check is None else check(node)


def test_the_filters_run_cheapest_first() -> None:
    assert [f.name for f in FILTERS] == ["node-ready", "node-selector", "host-ports", "resources"]
    assert [f.static for f in FILTERS] == [True, True, False, False]


def test_node_ready() -> None:
    assert verdict(node_ready, cand(ready=True), req()) is None
    assert verdict(node_ready, cand(ready=False), req()) == "node not ready"


@pytest.mark.parametrize(
    ("labels", "selector", "expected"),
    [
        ({"zone": "a"}, {"zone": "a"}, None),
        ({"zone": "a", "disk": "ssd"}, {"zone": "a"}, None),
        ({"zone": "b"}, {"zone": "a"}, "node selector mismatch"),
        ({}, {"zone": "a"}, "node selector mismatch"),
        ({"zone": "a"}, {"zone": "a", "disk": "ssd"}, "node selector mismatch"),
        ({"zone": "a"}, {}, None),
    ],
)
def test_node_selector(
    labels: dict[str, str], selector: dict[str, str], expected: str | None
) -> None:
    assert verdict(node_selector_matches, cand(labels=labels), req(selector=selector)) == expected


def test_no_selector_means_the_filter_does_not_run() -> None:
    assert node_selector_matches(req()) is None


@pytest.mark.parametrize(
    ("taken", "wanted", "expected"),
    [
        (set(), {("tcp", 80)}, None),
        ({("tcp", 80)}, {("tcp", 8080)}, None),
        ({("udp", 53)}, {("tcp", 53)}, None),  # same number, other protocol: free
        ({("tcp", 8080)}, {("tcp", 8080)}, "host port 8080 in use"),
        ({("udp", 53)}, {("udp", 53)}, "host port 53/udp in use"),
        # Several conflicts: the lowest port is named, whatever the set order.
        (
            {("tcp", 9000), ("tcp", 443)},
            {("tcp", 443), ("tcp", 9000), ("tcp", 1)},
            "host port 443 in use",
        ),
    ],
)
def test_host_ports(taken: set[HostPort], wanted: set[HostPort], expected: str | None) -> None:
    assert verdict(host_ports_free, cand(ports=taken), req(ports=wanted)) == expected


def test_port_reason() -> None:
    assert port_reason(("tcp", 8080)) == "host port 8080 in use"
    assert port_reason(("udp", 5353)) == "host port 5353/udp in use"


@pytest.mark.parametrize(
    ("allocated", "asked", "expected"),
    [
        ((0.0, 0, 0), (4.0, 8 * GI, 100 * GI), None),  # exactly full fits
        ((1.0, 0, 0), (3.5, GI, 0), "insufficient cpu"),
        ((0.0, 7 * GI, 0), (1.0, 2 * GI, 0), "insufficient memory"),
        ((0.0, 0, 99 * GI), (1.0, GI, 2 * GI), "insufficient disk"),
        # Several short: cpu is checked first, then memory, then disk.
        ((4.0, 8 * GI, 100 * GI), (1.0, 1, 1), "insufficient cpu"),
        ((0.0, 8 * GI, 100 * GI), (1.0, 1, 1), "insufficient memory"),
        # Only what is requested is checked: an over-committed resource does not matter.
        ((9.0, 0, 0), (0.0, GI, 0), None),
        ((0.0, 9 * GI, 0), (1.0, 0, 0), None),
        ((0.0, 0, 200 * GI), (1.0, GI, 0), None),
    ],
)
def test_resources(
    allocated: tuple[float, int, int], asked: tuple[float, int, int], expected: str | None
) -> None:
    assert verdict(resources_fit, cand(allocated=allocated), req(*asked)) == expected


def test_resources_on_a_node_with_none_of_a_resource() -> None:
    node = cand(capacity=(0.0, 0, 0))
    assert verdict(resources_fit, node, req(cpu=0.1)) == "insufficient cpu"
    assert verdict(resources_fit, node, req(memory=1)) == "insufficient memory"
    assert verdict(resources_fit, node, req(disk=1)) == "insufficient disk"


def test_three_tenths_of_a_core_fit_in_three_tenths() -> None:
    node = cand(capacity=(0.3, GI, GI))
    task = req(cpu=0.1)
    for _ in range(3):
        assert verdict(resources_fit, node, task) is None
        node.add(task)
    assert node.allocated_cpu > 0.3  # 0.30000000000000004, yet the third fitted
    assert verdict(resources_fit, node, task) == "insufficient cpu"


def test_a_task_asking_nothing_skips_the_resource_filter() -> None:
    assert resources_fit(req()) is None
    assert prepare(req(), static=False) == []


def test_prepare_keeps_only_the_filters_that_can_object() -> None:
    assert len(prepare(req(), static=True)) == 1  # readiness always
    assert len(prepare(req(selector={"a": "b"}), static=True)) == 2
    assert len(prepare(req(cpu=1, ports={("tcp", 1)}), static=False)) == 2


def test_first_rejection_follows_the_order() -> None:
    hopeless = cand(ready=False, capacity=(0.0, 0, 0), labels={"zone": "b"}, ports={("tcp", 80)})
    task = req(cpu=1, memory=1, disk=1, ports={("tcp", 80)}, selector={"zone": "a"})
    assert first_rejection(hopeless, task) == "node not ready"
    hopeless.ready = True
    assert first_rejection(hopeless, task) == "node selector mismatch"
    hopeless.labels = {"zone": "a"}
    assert first_rejection(hopeless, task) == "host port 80 in use"
    hopeless.host_ports = frozenset()
    assert first_rejection(hopeless, task) == "insufficient cpu"
    hopeless.capacity_cpu = 1.0
    assert first_rejection(hopeless, task) == "insufficient memory"
    hopeless.capacity_memory = 1
    assert first_rejection(hopeless, task) == "insufficient disk"
    hopeless.capacity_disk = 1
    assert first_rejection(hopeless, task) is None
