"""`shoal describe task|node|sync NAME`: one object in full, with why it is as it is."""

from __future__ import annotations

import click

from core.clock import SystemClock
from core.errors import NotFound
from core.keys import Keys
from core.settings import Settings
from core.store import Store
from core.typed_store import decode_model, get_model
from schemas.binding import Binding, TaskReport
from schemas.events import TaskEvent
from schemas.placement import Placement
from schemas.task import TaskStatus
from shoal.connect import connect, keys_for
from shoal.describing import describe_node, describe_sync, describe_task
from shoal.options import Kind, name_ref, namespace_options
from shoal.sync_status import SyncRecord
from shoal.views import read_node, read_node_info, read_task


def _task(store: Store, keys: Keys, namespace: str, name: str) -> str:
    task = read_task(store, keys, namespace, name)
    if task is None:
        raise NotFound(f"task {namespace}/{name}", f"task {namespace}/{name} not found")
    placement = get_model(store, keys.placement(namespace, name), Placement)
    events = [
        decode_model(kv.key, kv.value, TaskEvent)
        for kv in store.list(keys.task_events(namespace, name))
        if keys.parse_event(kv.key)
    ]
    return describe_task(task, placement.model if placement else None, events, SystemClock().now())


def _node(store: Store, keys: Keys, name: str) -> str:
    node = read_node(store, keys, name)
    if node is None:
        raise NotFound(f"node {name}", f"node {name} not found")
    info = read_node_info(store, keys, name)
    statuses = store.list(keys.task_statuses()).by_key()
    reports = store.list(keys.node_task_reports(name)).by_key()
    tasks = []
    for kv in store.list(keys.node_bindings(name)):
        ref = keys.parse_binding(kv.key)
        if ref is None:
            continue
        binding = decode_model(kv.key, kv.value, Binding)
        status_kv = statuses.get(keys.task_status(ref.namespace, ref.name))
        report_kv = reports.get(keys.node_task_report(name, ref.namespace, ref.name))
        tasks.append(
            (
                binding,
                decode_model(status_kv.key, status_kv.value, TaskStatus) if status_kv else None,
                decode_model(report_kv.key, report_kv.value, TaskReport) if report_kv else None,
            )
        )
    return describe_node(node, info, tasks, SystemClock().now())


def _sync(store: Store, keys: Keys, name: str) -> str:
    record = get_model(store, keys.sync(name), SyncRecord)
    if record is None:
        raise NotFound(f"sync {name}", f"sync {name} not found")
    return describe_sync(record.model, SystemClock().now())


@click.command()
@click.argument("kind", type=Kind("task", "node", "sync"))
@click.argument("name")
@namespace_options(all_namespaces=False)
@click.pass_obj
def describe(settings: Settings, kind: str, name: str, namespace: str) -> None:
    """Show one task, node or sync in detail: spec, status, placement, events."""
    keys = keys_for(settings)
    store = connect(settings)
    try:
        if kind == "task":
            text = _task(store, keys, *name_ref(name, namespace))
        elif kind == "node":
            text = _node(store, keys, name)
        else:
            text = _sync(store, keys, name)
    finally:
        store.close()
    click.echo(text)
