"""`shoal controller`: run a controller until Ctrl-C or SIGTERM.

Several may run at once: one leads (the /shoal/leader key), the others wait to take over.
etcd need not be up when it starts: leader election retries with back-off and the controller
starts leading once etcd answers. /metrics and /healthz are served on `--listen`.
"""

from __future__ import annotations

import click

from controller.manager import Controller
from controller.metrics import MetricsServer, parse_listen
from controller.scheduler import POLICIES
from controller.settings import ControllerSettings, LeaderTimings
from controller.tuning import tune_gc, tune_logging
from core.etcd_store import EtcdStore, RetryPolicy
from core.keys import Keys
from core.logs import configure_logging
from core.settings import Settings
from shoal.options import stop_on_signals


def _listen(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, int] | None:
    if value in ("", "none", "off"):
        return None
    try:
        return parse_listen(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command()
@click.option(
    "--scheduler",
    type=click.Choice(POLICIES),
    default="spread",
    show_default=True,
    envvar="SHOAL_SCHEDULER",
    help="How feasible nodes are scored.",
)
@click.option(
    "--node-grace",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    envvar="SHOAL_NODE_GRACE",
    help="Seconds a node may be NotReady before its tasks are placed elsewhere.",
)
@click.option(
    "--listen",
    default="127.0.0.1:9101",
    show_default=True,
    callback=_listen,
    envvar="SHOAL_CONTROLLER_LISTEN",
    help="HTTP address for /metrics and /healthz ('none' to serve nothing).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    envvar="SHOAL_CONTROLLER_WORKERS",
    help="Task reconcile workers.",
)
@click.option(
    "--lease-duration",
    type=click.IntRange(2, 3600),
    default=15,
    show_default=True,
    help="Seconds the leader key outlives a leader that stopped renewing it.",
)
@click.option(
    "--renew-deadline",
    type=click.FloatRange(0.1),
    default=10.0,
    show_default=True,
    help="A leader that could not renew for this long steps down.",
)
@click.option(
    "--retry-period",
    type=click.FloatRange(0.1),
    default=2.0,
    show_default=True,
    help="Seconds between renewals, and between a follower's attempts.",
)
@click.option("--identity", default=None, help="This controller's name in the leader key.")
@click.pass_obj
def controller(
    settings: Settings,
    scheduler: str,
    node_grace: float,
    listen: tuple[str, int] | None,
    workers: int,
    lease_duration: int,
    renew_deadline: float,
    retry_period: float,
    identity: str | None,
) -> None:
    """Run the controller: place tasks on nodes and keep their status (one leads at a time)."""
    try:
        timings = LeaderTimings(lease=lease_duration, renew=renew_deadline, retry=retry_period)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    configure_logging(settings.log)
    tune_gc()
    tune_logging()
    controller_settings = ControllerSettings(
        scheduler=scheduler,
        node_grace=node_grace,
        workers=workers,
        leader=timings,
        identity=identity,
        freeze_gc=True,
    )
    # Calls give up well within the renew deadline, so a leader cut off from etcd notices in
    # time to step down before its lease can run out.
    retry = RetryPolicy(deadline=max(0.5, renew_deadline / 3))
    store = EtcdStore(settings.etcd.endpoints, timeout=settings.etcd.timeout, retry=retry)
    try:
        the_controller = Controller(store, Keys(settings.etcd.prefix), controller_settings)
        server = None
        if listen is not None:
            try:
                server = MetricsServer(listen, the_controller.metrics, the_controller.health)
            except OSError as exc:
                where = f"{listen[0]}:{listen[1]}"
                raise click.ClickException(f"cannot listen on {where}: {exc.strerror}") from exc
        with stop_on_signals() as stop:
            try:
                if server is not None:
                    server.start()
                    host, port = server.address
                    click.echo(
                        f"controller: /metrics and /healthz on http://{host}:{port}", err=True
                    )
                the_controller.start()
                while not stop.wait(0.5):
                    pass
            finally:
                the_controller.stop()
                if server is not None:
                    server.stop()
    finally:
        store.close()
