"""`shoal top nodes`: each node's load as its agent last read it from /proc and the disk.

From `nodes/<node>/metrics`: CPU busy %, memory and disk in use (total less available) and
the load averages, with how old the reading is. A node without metrics shows `<unknown>`.
"""

from __future__ import annotations

from datetime import datetime

import click

from core.clock import SystemClock
from core.settings import Settings
from schemas.node import NodeMetrics
from shoal import formatting as fmt
from shoal.cmd_get import dump_json
from shoal.connect import connect, keys_for
from shoal.options import Kind
from shoal.tables import print_table
from shoal.views import read_nodes

HEADERS = ["NAME", "CPU%", "MEMORY", "MEMORY%", "DISK", "DISK%", "LOAD 1m 5m 15m", "UPDATED"]


def metrics_row(name: str, m: NodeMetrics | None, now: datetime) -> list[str]:
    if m is None:
        return [name, *["<unknown>"] * (len(HEADERS) - 1)]
    memory_used = m.memoryTotal - m.memoryAvailable
    disk_used = m.diskTotal - m.diskAvailable
    return [
        name,
        f"{m.cpuPercent:.0f}%",
        f"{fmt.size(memory_used)}/{fmt.size(m.memoryTotal)}",
        fmt.percent(memory_used, m.memoryTotal),
        f"{fmt.size(disk_used)}/{fmt.size(m.diskTotal)}",
        fmt.percent(disk_used, m.diskTotal),
        f"{m.load1:.2f} {m.load5:.2f} {m.load15:.2f}",
        fmt.age(m.timestamp, now) + " ago",
    ]


@click.command()
@click.argument("kind", type=Kind("node"))
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def top(settings: Settings, kind: str, output: str) -> None:
    """Show node metrics (CPU, memory, disk, load)."""
    store = connect(settings)
    try:
        nodes = read_nodes(store, keys_for(settings))
    finally:
        store.close()
    if output == "json":
        items = [
            {
                "name": n.metadata.name,
                "ready": n.status.ready,
                "metrics": n.status.metrics.model_dump(mode="json") if n.status.metrics else None,
            }
            for n in nodes
        ]
        click.echo(dump_json({"items": items}))
        return
    if not nodes:
        click.echo("No nodes found.", err=True)
        return
    now = SystemClock().now()
    print_table(HEADERS, [metrics_row(n.metadata.name, n.status.metrics, now) for n in nodes])
