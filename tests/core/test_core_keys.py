from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidRequest
from core.keys import EventRef, Keys, NodeTaskRef, TaskRef

K = Keys()
names = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


def test_layout_matches_the_design() -> None:
    assert K.task("default", "web") == "/shoal/tasks/default/web"
    assert K.tasks() == "/shoal/tasks/"
    assert K.tasks_in("default") == "/shoal/tasks/default/"
    assert K.binding("n1", "default", "web") == "/shoal/bindings/n1/default/web"
    assert K.node_bindings("n1") == "/shoal/bindings/n1/"
    assert K.task_status("default", "web") == "/shoal/status/tasks/default/web"
    assert K.placement("default", "web") == "/shoal/status/placements/default/web"
    assert K.node_info("n1") == "/shoal/nodes/n1/info"
    assert K.node_metrics("n1") == "/shoal/nodes/n1/metrics"
    assert K.node_task_report("n1", "default", "web") == "/shoal/nodes/n1/tasks/default/web"
    assert K.node_task_reports("n1") == "/shoal/nodes/n1/tasks/"
    assert K.node_status("n1") == "/shoal/status/nodes/n1"
    assert K.task_events("default", "web") == "/shoal/events/default/web/"
    assert K.event("default", "web", 42) == "/shoal/events/default/web/000000000042"
    assert K.leader() == "/shoal/leader"
    assert K.root() == "/shoal/"


def test_prefix_is_configurable() -> None:
    keys = Keys("/test/x")
    assert keys.task("a", "b") == "/test/x/tasks/a/b"
    assert keys.parse_task("/test/x/tasks/a/b") == TaskRef("a", "b")
    assert keys.parse_task("/shoal/tasks/a/b") is None


@pytest.mark.parametrize("prefix", ["", "shoal", "/shoal/", "//shoal"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(InvalidRequest):
        Keys(prefix)


@pytest.mark.parametrize("part", ["", "a/b", ".", ".."])
def test_bad_parts_are_refused(part: str) -> None:
    with pytest.raises(InvalidRequest):
        K.task("default", part)
    with pytest.raises(InvalidRequest):
        K.node_info(part)


def test_listing_prefixes_do_not_match_siblings() -> None:
    assert not K.task("default", "web2").startswith(K.tasks_in("default") + "web/")
    assert not K.binding("n10", "a", "b").startswith(K.node_bindings("n1"))


def test_parsers_reject_other_kinds() -> None:
    assert K.parse_task(K.binding("n1", "a", "b")) is None
    assert K.parse_task("/shoal/tasks/a") is None
    assert K.parse_task("/shoal/tasks/a/b/c") is None
    assert K.parse_node_info(K.node_metrics("n1")) is None
    assert K.parse_node_metrics(K.node_info("n1")) is None
    assert K.parse_node_task_report(K.node_info("n1")) is None
    assert K.parse_event("/shoal/events/a/b/notanumber") is None
    assert K.parse_node_status(K.task_status("a", "b")) is None
    assert K.parse_placement(K.task_status("a", "b")) is None
    assert K.parse_task_status(K.placement("a", "b")) is None
    assert K.parse_binding("/shoal/bindings/n1//b") is None


def test_event_keys_sort_by_sequence() -> None:
    keys = [K.event("ns", "t", seq) for seq in (1, 2, 10, 100, 9)]
    assert sorted(keys) == [K.event("ns", "t", seq) for seq in (1, 2, 9, 10, 100)]
    with pytest.raises(InvalidRequest):
        K.event("ns", "t", -1)


@given(ns=names, name=names, node=names, seq=st.integers(0, 10**12 - 1))
def test_every_key_parses_back(ns: str, name: str, node: str, seq: int) -> None:
    assert K.parse_task(K.task(ns, name)) == TaskRef(ns, name)
    assert K.parse_binding(K.binding(node, ns, name)) == NodeTaskRef(node, ns, name)
    assert K.parse_task_status(K.task_status(ns, name)) == TaskRef(ns, name)
    assert K.parse_placement(K.placement(ns, name)) == TaskRef(ns, name)
    assert K.parse_node_status(K.node_status(node)) == node
    assert K.parse_node_info(K.node_info(node)) == node
    assert K.parse_node_metrics(K.node_metrics(node)) == node
    assert K.parse_node_task_report(K.node_task_report(node, ns, name)) == NodeTaskRef(
        node, ns, name
    )
    assert K.parse_event(K.event(ns, name, seq)) == EventRef(ns, name, seq)


def test_sync_status_and_namespace_event_keys() -> None:
    assert K.sync("manifests") == "/shoal/syncs/manifests"
    assert K.syncs() == "/shoal/syncs/"
    assert K.parse_sync("/shoal/syncs/manifests") == "manifests"
    assert K.parse_sync("/shoal/syncs/a/b") is None
    assert K.parse_sync(K.task("default", "web")) is None
    assert K.events_in("default") == "/shoal/events/default/"
    assert K.task_events("default", "web").startswith(K.events_in("default"))
