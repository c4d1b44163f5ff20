"""`shoal up`: all of Shoal on this machine, in one process tree, until Ctrl-C.

An embedded etcd served at the --etcd address, a controller, N agents on the local Docker
engine and, with --sync DIR, the GitOps sync of DIR. With --watch (the default at a terminal)
the terminal shows the tasks as `shoal get tasks -A -w` does, with warnings in between, while
the full log of every part goes to one file (`<data-dir>/shoal-up.log`); without it the log
goes to stderr. Ctrl-C or SIGTERM stops everything and removes the containers the agents made.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import click

from agent.plan import BackoffPolicy
from controller.scheduler import POLICIES
from controller.settings import ControllerSettings
from core.logs import JsonFormatter
from core.settings import LogSettings, Settings
from shoal.cmd_get import WatchPrinter, make_view
from shoal.cmd_sync import default_sync_name
from shoal.following import Follower
from shoal.local_cluster import LocalCluster, UpSettings
from shoal.options import stop_on_signals
from shoal.syncing import DirectorySync, SyncOptions

log = logging.getLogger("shoal.up")


def _logging(settings: LogSettings, log_file: Path | None) -> None:
    """Everything to `log_file` when given (warnings also to stderr), else to stderr."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    text = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    formatter: logging.Formatter = JsonFormatter() if settings.format == "json" else text
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file)
        to_file.setFormatter(formatter)
        root.addHandler(to_file)
        # Beside the table: the sync's problems (a file turned invalid) and every error; the
        # controller's warnings (a task backing off, unschedulable) are what the table shows.
        warnings = logging.StreamHandler(sys.stderr)
        warnings.setLevel(logging.WARNING)
        warnings.addFilter(_beside_the_table)
        warnings.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(warnings)
    else:
        to_stderr = logging.StreamHandler(sys.stderr)
        to_stderr.setFormatter(formatter)
        root.addHandler(to_stderr)
    root.setLevel(settings.level.upper())


def _beside_the_table(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR or record.name.startswith("shoal.")


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".run/up"),
    show_default=True,
    help="Where etcd keeps its data and the log is written.",
)
@click.option(
    "--sync",
    "sync_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Keep the tasks equal to the manifests under this directory.",
)
@click.option(
    "--nodes",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Agents to run on this machine's engine (each gets 1/N of it).",
)
@click.option("--scheduler", type=click.Choice(POLICIES), default="spread", show_default=True)
@click.option(
    "--watch/--no-watch",
    default=None,
    help="Show the tasks live (default: when stdout is a terminal).",
)
@click.option(
    "--backoff-initial",
    type=click.FloatRange(0.01),
    default=10.0,
    show_default=True,
    help="Seconds before the first restart of a failed container.",
)
@click.option(
    "--node-grace",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    help="Seconds a lost node's tasks wait before they are placed elsewhere.",
)
@click.pass_obj
def up(
    settings: Settings,
    data_dir: Path,
    sync_dir: Path | None,
    nodes: int,
    scheduler: str,
    watch: bool | None,
    backoff_initial: float,
    node_grace: float,
) -> None:
    """Run etcd, a controller and agents here, and show the tasks converge."""
    if watch is None:
        watch = sys.stdout.isatty()
    log_file = data_dir / "shoal-up.log" if watch else None
    _logging(settings.log, log_file)
    up_settings = UpSettings(
        data_dir=data_dir,
        etcd_url=settings.etcd.endpoints[0],
        prefix=settings.etcd.prefix,
        nodes=nodes,
        controller=ControllerSettings(scheduler=scheduler, node_grace=node_grace),
        backoff=BackoffPolicy(initial=backoff_initial, maximum=max(300.0, backoff_initial)),
    )
    cluster = LocalCluster(up_settings, progress=lambda line: click.echo(f"up: {line}", err=True))
    sync: DirectorySync | None = None
    with stop_on_signals() as stop:
        try:
            cluster.start()
            assert cluster.store is not None
            if sync_dir is not None:
                options = SyncOptions(
                    str(sync_dir), name=default_sync_name(str(sync_dir)), prune=True
                )
                sync = DirectorySync(cluster.store, cluster.keys, options)
                sync.claim(takeover=True)
                sync.start()
                click.echo(f"up: syncing {sync_dir} (edit its files and watch)", err=True)
            where = f"; full log in {log_file}" if log_file else ""
            click.echo(
                f"up: ready at {cluster.etcd.endpoint}; Ctrl-C stops everything{where}", err=True
            )
            if watch:
                _show_tasks(cluster, stop)
            else:
                while not stop.wait(0.5):
                    pass
        finally:
            click.echo("up: stopping", err=True)
            if sync is not None:
                sync.stop()
            cluster.stop()
            click.echo("up: stopped; no container left behind", err=True)


def _show_tasks(cluster: LocalCluster, stop: threading.Event) -> None:
    assert cluster.store is not None
    view = make_view(cluster.keys, "task", None, None)
    printer = WatchPrinter(cluster.store, cluster.keys, view, "table", None, False)
    follower = Follower(
        cluster.store, view.prefixes(), view.ident, endpoints=[cluster.etcd.endpoint]
    )
    follower.run(printer, stop)
