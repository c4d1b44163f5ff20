"""`shoal events [-w] [-n NS|-A] [TASK]`: the TaskEvents the controller records.

Oldest first, as `kubectl events` lists them; `-w` prints the current ones and then each new
(or repeated) event as it is written. Events live on a TTL lease, so old ones disappear by
themselves; their expiry is not printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click

from core.clock import SystemClock
from core.keys import Keys
from core.settings import Settings
from core.typed_store import decode_model
from schemas.events import TaskEvent
from shoal import formatting as fmt
from shoal.cmd_get import dump_json, dump_yaml
from shoal.connect import connect, keys_for
from shoal.following import Cache, Follower
from shoal.options import follower_logging, namespace_options, stop_on_signals
from shoal.tables import RowStream, console, print_table


def event_headers(all_namespaces: bool) -> list[str]:
    headers = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    return ["NAMESPACE", *headers] if all_namespaces else headers


def event_row(event: TaskEvent, now: datetime, all_namespaces: bool) -> list[str]:
    message = event.message
    if event.fromState and event.toState:
        moved = f"{event.fromState} -> {event.toState}"
        message = f"{moved}: {message}" if message else moved
    if event.count > 1:
        message += f" (x{event.count})"
    row = [fmt.age(event.time, now), event.type.value, event.reason, f"task/{event.name}", message]
    return [event.namespace, *row] if all_namespaces else row


def events_prefix(keys: Keys, namespace: str | None, task: str | None) -> str:
    if namespace is None:
        return keys.events()
    if task is not None:
        return keys.task_events(namespace, task)
    return keys.events_in(namespace)


def read_events(keys: Keys, cache: Cache, idents: Sequence[str]) -> list[TaskEvent]:
    events = [decode_model(k, cache[k].value, TaskEvent) for k in idents if k in cache]
    return sorted(events, key=lambda e: (e.time, e.namespace, e.name))


class EventPrinter:
    def __init__(self, keys: Keys, output: str, all_namespaces: bool) -> None:
        self.keys = keys
        self.output = output
        self.all_namespaces = all_namespaces
        self.clock = SystemClock()
        self.rows = RowStream(event_headers(all_namespaces), console())

    def initial(self, idents: Sequence[str], cache: Cache) -> None:
        events = read_events(self.keys, cache, idents)
        if self.output == "table":
            now = self.clock.now()
            self.rows.start([event_row(e, now, self.all_namespaces) for e in events])
        else:
            for event in events:
                self._emit(event)

    def changed(self, ident: str, cache: Cache) -> None:
        if ident in cache:  # expiry (a delete) is not news
            self._emit(decode_model(ident, cache[ident].value, TaskEvent))

    def notice(self, text: str) -> None:
        click.echo(f"shoal: {text}", err=True)

    def _emit(self, event: TaskEvent) -> None:
        if self.output == "table":
            self.rows.row(event_row(event, self.clock.now(), self.all_namespaces))
            return
        doc: Any = event.model_dump(mode="json")
        click.echo(
            dump_json(doc, pretty=False)
            if self.output == "json"
            else "---\n" + dump_yaml(doc).rstrip()
        )


@click.command()
@click.argument("task", required=False)
@namespace_options()
@click.option("-w", "--watch", is_flag=True, help="Then print each new event.")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json", "yaml"]),
    default="table",
    show_default=True,
)
@click.pass_obj
def events(
    settings: Settings,
    task: str | None,
    namespace: str,
    all_namespaces: bool,
    watch: bool,
    output: str,
) -> None:
    """Show task events (state changes and their reasons)."""
    if all_namespaces and task:
        raise click.UsageError("a task is named within one namespace: drop -A or the TASK")
    keys = keys_for(settings)
    ns = None if all_namespaces else namespace
    prefix = events_prefix(keys, ns, task)
    store = connect(settings)
    try:
        if watch:
            follower_logging(settings.log)
            follower = Follower(
                store,
                [prefix],
                lambda key: key if keys.parse_event(key) else None,
                endpoints=settings.etcd.endpoints,
            )
            with stop_on_signals() as stop:
                follower.run(EventPrinter(keys, output, all_namespaces), stop)
            return
        listing = store.list(prefix)
    finally:
        store.close()
    found = [
        decode_model(kv.key, kv.value, TaskEvent) for kv in listing if keys.parse_event(kv.key)
    ]
    found.sort(key=lambda e: (e.time, e.namespace, e.name))
    if output != "table":
        docs = [e.model_dump(mode="json") for e in found]
        body = {"items": docs}
        click.echo(dump_json(body) if output == "json" else dump_yaml(body).rstrip())
        return
    if not found:
        where = f" for task {ns}/{task}" if task else f" in namespace {ns}" if ns else ""
        click.echo(f"No events found{where}.", err=True)
        return
    now = SystemClock().now()
    print_table(event_headers(all_namespaces), [event_row(e, now, all_namespaces) for e in found])
