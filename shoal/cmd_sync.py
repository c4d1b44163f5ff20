"""`shoal sync DIR [--once] [--interval S] [--prune]`: GitOps, keep etcd equal to DIR.

Applies everything under DIR, then again within about a second of any change to a file
there, and every --interval seconds to put right what was changed behind its back. It prints
one line per write, as apply does, and each problem once when it appears (an invalid file:
its tasks keep their last good state). Its status is kept at `<prefix>/syncs/<name>`:
`shoal get syncs`, `shoal describe sync NAME`. `--once` makes one pass and exits (1 when
there were problems). Ctrl-C stops it cleanly.

The name (default: the directory's base name, made a DNS label) labels every task the sync
writes (`shoal.sync=<name>`): prune deletes only tasks carrying it.
"""

from __future__ import annotations

import os
import re
import sys

import click

from core.logs import configure_logging
from core.settings import Settings
from schemas.fields import DNS_LABEL_PATTERN
from shoal.connect import connect, keys_for
from shoal.options import stop_on_signals
from shoal.progress import progress_bar
from shoal.syncing import DirectorySync, SyncOptions, SyncReporter


def default_sync_name(directory: str) -> str:
    """`manifests/` -> `manifests`, `My Apps` -> `my-apps`; `sync` if nothing is left."""
    base = os.path.basename(os.path.realpath(directory)).lower()
    name = re.sub(r"[^a-z0-9-]+", "-", base).strip("-")[:63].strip("-")
    return name or "sync"


def _name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(DNS_LABEL_PATTERN.strip("^$"), value):
        raise click.BadParameter(
            f"{value!r} is not a valid sync name (lowercase letters, digits and '-', "
            "at most 63, alphanumeric at both ends)"
        )
    return value


class PrintingReporter(SyncReporter):
    def changed(self, line: str) -> None:
        click.echo(line)

    def problems(self, problems: list[str]) -> None:
        if not problems:
            click.echo("sync: every file applies again; no problems", err=True)
        for problem in problems:
            click.echo(f"error: {problem}", err=True)


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=str))
@click.option("--once", is_flag=True, help="One pass, then exit (1 if there were problems).")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    envvar="SHOAL_SYNC_INTERVAL",
    help="Seconds between full passes that correct drift.",
)
@click.option("--prune", is_flag=True, help="Delete this sync's tasks that no file defines.")
@click.option("--allow-empty", is_flag=True, help="With --prune: prune even if DIR is empty.")
@click.option(
    "--name", callback=_name, default=None, help="The sync's name [default: DIR's base name]."
)
@click.option("--takeover", is_flag=True, help="Use a name another directory synced under.")
@click.pass_obj
def sync(
    settings: Settings,
    directory: str,
    once: bool,
    interval: float,
    prune: bool,
    allow_empty: bool,
    name: str | None,
    takeover: bool,
) -> None:
    """Keep the tasks in etcd equal to the manifests under DIRECTORY."""
    if not os.path.isdir(directory):
        click.echo(f"error: {directory}: no such directory", err=True)
        sys.exit(1)
    if allow_empty and not prune:
        raise click.UsageError("--allow-empty goes with --prune")
    configure_logging(settings.log)
    options = SyncOptions(
        directory=directory,
        name=name or default_sync_name(directory),
        interval=interval,
        prune=prune,
        allow_empty=allow_empty,
    )
    store = connect(settings)
    try:
        engine = DirectorySync(
            store,
            keys_for(settings),
            options,
            reporter=PrintingReporter(),
            progress=progress_bar,
        )
        engine.claim(takeover=takeover)
        if once:
            outcome = engine.run_once()
            if outcome.problems or outcome.failed:
                sys.exit(1)
            return
        click.echo(
            f"syncing {directory} as {options.name!r} (label shoal.sync={options.name}), "
            f"every {interval:g}s and on every change, prune {'on' if prune else 'off'}; "
            "Ctrl-C stops",
            err=True,
        )
        with stop_on_signals() as stop:
            engine.start()
            try:
                while not stop.wait(0.5) and engine.is_alive():
                    pass
            finally:
                engine.stop()
        click.echo("sync stopped", err=True)
    finally:
        store.close()
