"""The `shoal` command: one click group, with each command in a module of its own."""

from __future__ import annotations

import click

from shoal import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shoal")
def cli() -> None:
    """Shoal: a declarative container orchestrator."""


def main() -> None:
    cli(prog_name="shoal")
