"""`shoal get tasks|nodes|syncs [NAME]`: a table, wide, json, yaml or names; `-w` follows.

`-o json` prints `{"items": [...]}`, or the one object when NAME is given; `-w` prints the
current objects and then every change (a task's spec or status, a node's info, status or
metrics) until Ctrl-C: a header once and a row per change for tables, one JSON object per
line for `-o json` (`--output-watch-events` wraps each as `{"type": ..., "object": ...}`),
each line flushed at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
import yaml

from core.clock import SystemClock
from core.errors import NotFound
from core.keys import Keys
from core.settings import Settings
from core.store import Store
from schemas.selector import Selector
from schemas.task import Task
from shoal.cmd_apply import parse_selector_option
from shoal.connect import connect, keys_for
from shoal.following import Cache, Cached, Follower
from shoal.kinds import NodeKind, SyncKind, TaskKind, View, sort_objects
from shoal.options import Kind, follower_logging, name_ref, namespace_options, stop_on_signals
from shoal.tables import RowStream, console, print_table
from shoal.views import read_node_info

OUTPUTS = ["table", "wide", "json", "yaml", "name"]


def make_view(keys: Keys, kind: str, namespace: str | None, name: str | None) -> View:
    if kind == "task":
        return TaskKind(keys, namespace, name)
    if kind == "node":
        return NodeKind(keys, name)
    return SyncKind(keys, name)


def dump_json(obj: Any, *, pretty: bool = True) -> str:
    if pretty:
        return json.dumps(obj, indent=2)
    return json.dumps(obj, separators=(",", ":"))


def dump_yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True)


def fill_addresses(store: Store, keys: Keys, view: View, tasks: Sequence[Task]) -> None:
    """Node addresses for the IP column of `-o wide`, read once per node."""
    if not isinstance(view, TaskKind):
        return
    for task in tasks:
        node = task.status.node if task.status else None
        if node and node not in view.node_addresses:
            info = read_node_info(store, keys, node)
            view.node_addresses[node] = info.address if info else "<none>"


def read_cache(store: Store, view: View) -> Cache:
    cache: Cache = {}
    for prefix in view.prefixes():
        for kv in store.list(prefix):
            if view.ident(kv.key) is not None:
                cache[kv.key] = Cached(kv.value, kv.mod_revision)
    return cache


@click.command()
@click.argument("kind", type=Kind("task", "node", "sync"))
@click.argument("name", required=False)
@namespace_options()
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default="table", show_default=True)
@click.option("-l", "--selector", callback=parse_selector_option, default=None, help="e.g. app=web")
@click.option("-w", "--watch", is_flag=True, help="After the list, print every change.")
@click.option(
    "--output-watch-events",
    is_flag=True,
    help="With -w: wrap each object as {type: ADDED|MODIFIED|DELETED, object}.",
)
@click.pass_obj
def get(
    settings: Settings,
    kind: str,
    name: str | None,
    namespace: str,
    all_namespaces: bool,
    output: str,
    selector: Selector | None,
    watch: bool,
    output_watch_events: bool,
) -> None:
    """Show tasks, nodes or syncs."""
    if all_namespaces and name:
        raise click.UsageError("a task is named within one namespace: drop -A or the NAME")
    if output_watch_events and not watch:
        raise click.UsageError("--output-watch-events goes with -w")
    ns: str | None = None if all_namespaces else namespace
    if name is not None and kind == "task":
        ns, name = name_ref(name, namespace)
    keys = keys_for(settings)
    view = make_view(keys, kind, ns, name)
    store = connect(settings)
    try:
        if watch:
            follower_logging(settings.log)
            printer = WatchPrinter(store, keys, view, output, selector, output_watch_events)
            follower = Follower(
                store, view.prefixes(), view.ident, endpoints=settings.etcd.endpoints
            )
            with stop_on_signals() as stop:
                follower.run(printer, stop)
        else:
            _list(store, keys, view, name, output, selector)
    finally:
        store.close()


def _list(
    store: Store,
    keys: Keys,
    view: View,
    name: str | None,
    output: str,
    selector: Selector | None,
) -> None:
    cache = read_cache(store, view)
    idents = {i for i in (view.ident(k) for k in cache) if i is not None}
    objects = [
        obj
        for _, obj in sort_objects(view, list(idents), cache)
        if selector is None or selector.matches(view.labels(obj))
    ]
    if name is not None and not objects:
        where = f"{view.kind} {name}"
        if isinstance(view, TaskKind):
            where = f"task {view.namespace}/{name}"
        raise NotFound(where, f"{where} not found")
    if output in ("json", "yaml"):
        docs = [view.to_json(o) for o in objects]
        body: Any = docs[0] if name is not None else {"items": docs}
        click.echo(dump_json(body) if output == "json" else dump_yaml(body).rstrip("\n"))
        return
    if output == "name":
        for obj in objects:
            click.echo(f"{view.kind}/{obj.metadata.name}")
        return
    if not objects:
        scope = ""
        if isinstance(view, TaskKind):
            scope = f" in namespace {view.namespace}" if view.namespace else " in any namespace"
        click.echo(f"No {view.kind}s found{scope}.", err=True)
        return
    wide = output == "wide"
    if wide:
        fill_addresses(store, keys, view, objects)
    now = SystemClock().now()
    print_table(view.headers(wide), [view.row(o, now, wide) for o in objects])


class WatchPrinter:
    """Prints what a Follower hands over, in the chosen output."""

    def __init__(
        self,
        store: Store,
        keys: Keys,
        view: View,
        output: str,
        selector: Selector | None,
        watch_events: bool,
    ) -> None:
        self.store = store
        self.keys = keys
        self.view = view
        self.output = output
        self.selector = selector
        self.watch_events = watch_events
        self.wide = output == "wide"
        self.clock = SystemClock()
        self.shown: dict[str, Any] = {}
        self.last_rows: dict[str, list[str]] = {}
        self.rows = RowStream(view.headers(self.wide), console())

    def initial(self, idents: Sequence[str], cache: Cache) -> None:
        objects = [
            (i, o)
            for i, o in sort_objects(self.view, idents, cache)
            if self.selector is None or self.selector.matches(self.view.labels(o))
        ]
        if self.output in ("table", "wide"):
            if self.wide:
                fill_addresses(self.store, self.keys, self.view, [o for _, o in objects])
            now = self.clock.now()
            rows = []
            for ident, obj in objects:
                row = self.view.row(obj, now, self.wide)
                self.last_rows[ident] = self._visible(row)
                rows.append(row)
            self.rows.start(rows)
            self.shown.update(objects)
            return
        for ident, obj in objects:
            self.shown[ident] = obj
            self._emit(ident, obj, "ADDED")

    def changed(self, ident: str, cache: Cache) -> None:
        obj = self.view.build(ident, cache)
        if (
            obj is not None
            and self.selector is not None
            and not self.selector.matches(self.view.labels(obj))
        ):
            obj = None
        if obj is None:
            gone = self.shown.pop(ident, None)
            if gone is not None:
                self._emit(ident, gone, "DELETED")
            self.last_rows.pop(ident, None)
            return
        kind = "MODIFIED" if ident in self.shown else "ADDED"
        self.shown[ident] = obj
        self._emit(ident, obj, kind)

    def notice(self, text: str) -> None:
        click.echo(f"shoal: {text}", err=True)

    def _emit(self, ident: str, obj: Any, event: str) -> None:
        if self.output in ("table", "wide"):
            if self.wide and isinstance(obj, Task):
                fill_addresses(self.store, self.keys, self.view, [obj])
            row = self.view.row(obj, self.clock.now(), self.wide, deleted=event == "DELETED")
            key = self._visible(row)
            if self.last_rows.get(ident) == key and event != "DELETED":
                return  # nothing a person can see changed (kubectl would print it again)
            self.last_rows[ident] = key
            self.rows.row(row)
        elif self.output == "name":
            click.echo(f"{self.view.kind}/{obj.metadata.name}")
        else:
            doc = self.view.to_json(obj)
            if self.watch_events:
                doc = {"type": event, "object": doc}
            if self.output == "json":
                click.echo(dump_json(doc, pretty=False))
            else:
                click.echo("---\n" + dump_yaml(doc).rstrip("\n"))

    def _visible(self, row: list[str]) -> list[str]:
        """The row less its clock columns (ages), which change without any write."""
        headers = self.view.headers(self.wide)
        return [c for h, c in zip(headers, row, strict=True) if h not in _CLOCK_COLUMNS]


_CLOCK_COLUMNS = {"AGE", "SINCE", "LAST RUN", "LAST CHANGE"}
