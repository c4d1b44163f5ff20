"""`shoal delete task NAME…` and `shoal delete -f PATH…`: remove desired tasks.

Only the desired task is deleted; the controller and the agents clean up the rest (binding,
container, status) because each compares what should exist with what does. A name that is
not there is an error (exit 1, after the others are deleted) unless --ignore-not-found.
`delete sync NAME` removes a stopped sync's record (its tasks stay).
"""

from __future__ import annotations

import sys

import click

from core.errors import NotFound
from core.settings import Settings
from core.store import Delete
from shoal.applying import read_current
from shoal.connect import connect, keys_for
from shoal.inputs import load_or_exit
from shoal.options import Kind, name_ref, namespace_options
from shoal.progress import bulk_work


@click.command()
@click.argument("kind", type=Kind("task", "sync"), required=False)
@click.argument("names", nargs=-1)
@click.option(
    "-f", "--filename", "paths", multiple=True, help="Delete the tasks these manifests define."
)
@namespace_options(all_namespaces=False)
@click.option("--ignore-not-found", is_flag=True, help="A missing task is not an error.")
@click.pass_obj
def delete(
    settings: Settings,
    kind: str | None,
    names: tuple[str, ...],
    paths: tuple[str, ...],
    namespace: str,
    ignore_not_found: bool,
) -> None:
    """Delete tasks by name (delete task NAME…) or as manifests define them (delete -f PATH)."""
    if paths and (kind or names):
        raise click.UsageError("give either -f PATH or KIND NAME…, not both")
    if not paths and not (kind and names):
        raise click.UsageError("say what to delete: delete task NAME… or delete -f PATH")
    keys = keys_for(settings)
    if paths:
        with bulk_work():
            refs = [
                (t.metadata.namespace, t.metadata.name) for t in load_or_exit(paths, what="deleted")
            ]
    elif kind == "task":
        refs = [name_ref(name, namespace) for name in names]
    else:
        refs = []
    store = connect(settings)
    missing: list[str] = []
    try:
        if kind == "sync":
            for name in names:
                if store.delete(keys.sync(name)):
                    click.echo(f"sync/{name} deleted")
                else:
                    missing.append(f"sync {name}")
        else:
            current = read_current(store, keys)
            present = [(ns, n) for ns, n in refs if f"{ns}/{n}" in current]
            missing = [f"task {ns}/{n}" for ns, n in refs if f"{ns}/{n}" not in current]
            store.commit_batch([Delete(keys.task(ns, n)) for ns, n in present])
            if present:
                click.echo("\n".join(f"task/{n} deleted" for _, n in present))
    finally:
        store.close()
    if missing and not ignore_not_found:
        for what in missing:
            click.echo(f"error: {NotFound(what, f'{what} not found')}", err=True)
        sys.exit(1)
