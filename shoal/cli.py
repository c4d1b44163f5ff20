"""The `shoal` command: global options, error handling, and the command modules.

Expected failures (bad manifests, an unknown task, an unreachable etcd) are ShoalErrors or
ClickExceptions: they print one clear line and exit 1 (bad usage: 2). Only a bug shows a
traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from core.errors import ShoalError, Unavailable
from core.settings import (
    DEFAULT_ETCD,
    DEFAULT_PREFIX,
    EtcdSettings,
    LogSettings,
    Settings,
    parse_endpoints,
)
from shoal import __version__
from shoal.connect import unreachable_message


class ShoalGroup(click.Group):
    """Turns Shoal's expected failures into one line on stderr and exit status 1, and loads
    each command's module only when it is needed (see COMMANDS)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, attr = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Unavailable as exc:
            click.echo(f"error: {unreachable_message(exc)}", err=True)
            sys.exit(1)
        except ShoalError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            sys.exit(130)


def _endpoints(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    try:
        return parse_endpoints(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.group(cls=ShoalGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shoal")
@click.option(
    "--etcd",
    "endpoints",
    envvar="SHOAL_ETCD",
    default=DEFAULT_ETCD,
    show_default=True,
    callback=_endpoints,
    help="etcd endpoint URL(s), comma-separated.",
)
@click.option(
    "--prefix",
    envvar="SHOAL_PREFIX",
    default=DEFAULT_PREFIX,
    show_default=True,
    help="Key prefix of this Shoal cluster in etcd.",
)
@click.option(
    "--timeout",
    envvar="SHOAL_TIMEOUT",
    default=3.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds to wait for etcd before giving up.",
)
@click.option(
    "--log-level",
    envvar="SHOAL_LOG_LEVEL",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option(
    "--log-format",
    envvar="SHOAL_LOG_FORMAT",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"]),
)
@click.pass_context
def cli(
    ctx: click.Context,
    endpoints: tuple[str, ...],
    prefix: str,
    timeout: float,
    log_level: str,
    log_format: str,
) -> None:
    """Shoal: a declarative container orchestrator.

    Describe tasks in YAML, `shoal apply -f` them, and watch the cluster converge with
    `shoal get tasks -w`.
    """
    if not prefix.startswith("/") or prefix.endswith("/"):
        raise click.BadParameter("must start with '/' and not end with '/'", param_hint="--prefix")
    ctx.obj = Settings(
        etcd=EtcdSettings(endpoints=endpoints, prefix=prefix, timeout=timeout),
        log=LogSettings(level=log_level, format=log_format),
    )


#: Each command's module and function; a module is imported only when its command runs (or
#: when --help lists them all), so `shoal get` does not pay for importing the agent and the
#: Docker SDK.
COMMANDS = {
    "etcd": ("shoal.cmd_etcd", "etcd"),
    "up": ("shoal.cmd_up", "up"),
    "agent": ("shoal.cmd_agent", "agent"),
    "controller": ("shoal.cmd_controller", "controller"),
    "apply": ("shoal.cmd_apply", "apply"),
    "diff": ("shoal.cmd_diff", "diff"),
    "get": ("shoal.cmd_get", "get"),
    "describe": ("shoal.cmd_describe", "describe"),
    "delete": ("shoal.cmd_delete", "delete"),
    "stop": ("shoal.cmd_lifecycle", "stop"),
    "start": ("shoal.cmd_lifecycle", "start"),
    "logs": ("shoal.cmd_logs", "logs"),
    "events": ("shoal.cmd_events", "events"),
    "top": ("shoal.cmd_top", "top"),
    "sync": ("shoal.cmd_sync", "sync"),
}


def main() -> None:
    cli(prog_name="shoal")
