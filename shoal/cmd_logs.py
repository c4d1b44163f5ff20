"""`shoal logs task NAME [-f] [--tail N]`: a task's container output, through its agent."""

from __future__ import annotations

import sys

import click

from core.settings import Settings
from shoal.agent_logs import locate, stream
from shoal.connect import connect, keys_for
from shoal.options import Kind, name_ref, namespace_options, stop_on_signals


@click.command()
@click.argument("kind", type=Kind("task"))
@click.argument("name")
@namespace_options(all_namespaces=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new output until Ctrl-C.")
@click.option("--tail", type=click.IntRange(min=0), default=None, help="Only the last N lines.")
@click.pass_obj
def logs(
    settings: Settings, kind: str, name: str, namespace: str, follow: bool, tail: int | None
) -> None:
    """Print a task's container output (stdout and stderr)."""
    ns, bare = name_ref(name, namespace)
    store = connect(settings)
    try:
        source = locate(store, keys_for(settings), ns, bare)
    finally:
        store.close()
    out = sys.stdout.buffer
    with stop_on_signals():
        stream(source, out, tail=tail, follow=follow, timeout=settings.etcd.timeout)
