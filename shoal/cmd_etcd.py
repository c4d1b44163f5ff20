"""`shoal etcd`: run an embedded etcd served at the --etcd address until Ctrl-C or SIGTERM."""

from __future__ import annotations

from pathlib import Path

import click

from core.etcd_server import EtcdServer, find_etcd_binary
from core.logs import configure_logging
from core.settings import Settings
from shoal.options import stop_on_signals


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".run/etcd"),
    show_default=True,
    help="Where etcd keeps its data.",
)
@click.option("--max-txn-ops", type=int, default=None, help="etcd's --max-txn-ops (default 128).")
@click.pass_obj
def etcd(settings: Settings, data_dir: Path, max_txn_ops: int | None) -> None:
    """Run an embedded etcd at the --etcd address (the first one given)."""
    configure_logging(settings.log)
    binary = find_etcd_binary()
    server = EtcdServer(
        data_dir,
        client_url=settings.etcd.endpoints[0],
        max_txn_ops=max_txn_ops,
        log_path=data_dir.parent / f"{data_dir.name}.log",
    )
    with stop_on_signals() as stop:
        server.start()
        try:
            server.wait_healthy(timeout=30)
            click.echo(f"etcd ({binary}) serving {server.endpoint}, data in {data_dir}", err=True)
            while not stop.wait(0.5):
                if not server.is_running():
                    raise click.ClickException(f"etcd exited unexpectedly; see {server.log_path}")
        finally:
            server.stop()
            click.echo("etcd stopped", err=True)
