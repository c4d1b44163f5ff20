"""`shoal agent --name NODE`: run this machine's node agent until Ctrl-C or SIGTERM.

etcd need not be up when the agent starts: registration, the bindings watch and the reports
retry with back-off and carry on when it answers. Stopping the agent leaves its containers
running (a restarted agent adopts them), unless `--remove-containers` is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import click

from agent.docker_runtime import DockerRuntime
from agent.node_agent import NodeAgent
from agent.plan import BackoffPolicy
from agent.serving import parse_listen
from agent.settings import AgentSettings
from core.etcd_store import EtcdStore, RetryPolicy
from core.keys import Keys
from core.logs import configure_logging
from core.settings import Settings
from schemas.fields import DNS_SUBDOMAIN_PATTERN
from schemas.quantity import parse_bytes, parse_cpu
from schemas.selector import parse_labels
from shoal.options import stop_on_signals

Callback = Callable[[click.Context, click.Parameter, str | None], object]


def _quantity(kind: str) -> Callback:
    parse: Callable[[object], object] = parse_cpu if kind == "cpu" else parse_bytes

    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> object:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc

    return convert


def _labels(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, str]:
    if not value:
        return {}
    try:
        return parse_labels(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _node_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if len(value) > 63 or not re.fullmatch(DNS_SUBDOMAIN_PATTERN.strip("^$"), value):
        raise click.BadParameter(f"{value!r} is not a valid node name (a DNS name: a-z, 0-9, -, .)")
    return value


def _listen(ctx: click.Context, param: click.Parameter, value: str) -> str | None:
    if value in ("", "none", "off"):
        return None
    try:
        parse_listen(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return value


@click.command()
@click.option(
    "--name",
    "node",
    required=True,
    envvar="SHOAL_NODE",
    callback=_node_name,
    help="This node's name.",
)
@click.option(
    "--address",
    default="127.0.0.1",
    show_default=True,
    envvar="SHOAL_NODE_ADDRESS",
    help="The node's IP address: published ports bind to it.",
)
@click.option("--labels", callback=_labels, default=None, help="Node labels, e.g. zone=a,ssd=true.")
@click.option(
    "--cpu",
    callback=_quantity("cpu"),
    default=None,
    help="CPU capacity in cores (default: detected).",
)
@click.option(
    "--memory",
    callback=_quantity("bytes"),
    default=None,
    help="Memory capacity, e.g. 4Gi (default: detected).",
)
@click.option(
    "--disk",
    callback=_quantity("bytes"),
    default=None,
    help="Disk capacity, e.g. 50Gi (default: the Docker data root's size).",
)
@click.option(
    "--listen",
    default="127.0.0.1:9102",
    show_default=True,
    callback=_listen,
    envvar="SHOAL_AGENT_LISTEN",
    help="HTTP address for /healthz, /metrics and /logs ('none' to serve nothing).",
)
@click.option(
    "--lease-ttl",
    type=click.IntRange(2, 300),
    default=10,
    show_default=True,
    help="Seconds the node's registration outlives the agent.",
)
@click.option("--metrics-interval", type=click.FloatRange(0.1), default=5.0, show_default=True)
@click.option("--resync-interval", type=click.FloatRange(0.1), default=10.0, show_default=True)
@click.option(
    "--backoff-initial",
    type=click.FloatRange(0.01),
    default=10.0,
    show_default=True,
    help="Seconds before the first restart of a failed container.",
)
@click.option("--backoff-max", type=click.FloatRange(0.01), default=300.0, show_default=True)
@click.option(
    "--backoff-reset",
    type=click.FloatRange(0.01),
    default=600.0,
    show_default=True,
    help="A container that ran this long starts its back-off afresh.",
)
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option(
    "--docker-url",
    default=None,
    envvar="DOCKER_HOST",
    help="The Docker engine's API address (default unix:///var/run/docker.sock).",
)
@click.option(
    "--remove-containers",
    is_flag=True,
    help="Stop and remove this node's containers when the agent stops.",
)
@click.pass_obj
def agent(
    settings: Settings,
    node: str,
    address: str,
    labels: dict[str, str],
    cpu: float | None,
    memory: int | None,
    disk: int | None,
    listen: str | None,
    lease_ttl: int,
    metrics_interval: float,
    resync_interval: float,
    backoff_initial: float,
    backoff_max: float,
    backoff_reset: float,
    workers: int,
    docker_url: str | None,
    remove_containers: bool,
) -> None:
    """Run the node agent: register this node and run the tasks placed on it."""
    if backoff_max < backoff_initial:
        raise click.BadParameter("must be at least --backoff-initial", param_hint="--backoff-max")
    configure_logging(settings.log)
    agent_settings = AgentSettings(
        node=node,
        address=address,
        labels=labels,
        cpu=cpu,
        memory=memory,
        disk=disk,
        lease_ttl=lease_ttl,
        metrics_interval=metrics_interval,
        resync_interval=resync_interval,
        backoff=BackoffPolicy(backoff_initial, backoff_max, backoff_reset),
        workers=workers,
        listen=listen,
        remove_containers_on_stop=remove_containers,
    )
    # Calls give up within a third of the lease, so a lost lease is noticed in time.
    retry = RetryPolicy(deadline=max(1.0, lease_ttl / 3))
    store = EtcdStore(settings.etcd.endpoints, timeout=settings.etcd.timeout, retry=retry)
    runtime = DockerRuntime(docker_url)
    try:
        try:
            node_agent = NodeAgent(store, Keys(settings.etcd.prefix), runtime, agent_settings)
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {listen}: {exc.strerror}") from exc
        with stop_on_signals() as stop:
            try:
                node_agent.start()
                while not stop.wait(0.5):
                    pass
            finally:
                node_agent.stop()
    finally:
        runtime.close()
        store.close()
