"""`shoal diff -f PATH…`: what `apply` would change, as a unified diff.

Exit status as kubectl diff (and diff(1)) has it: 0 nothing would change, 1 something would,
2 for an error (an invalid manifest, an unreachable etcd): scripts can tell "drift" from
"could not tell".
"""

from __future__ import annotations

import sys

import click
from rich.text import Text

from core.clock import SystemClock
from core.errors import ShoalError, Unavailable
from core.settings import Settings
from schemas.selector import Selector
from shoal.applying import plan_apply, read_current
from shoal.cmd_apply import parse_selector_option
from shoal.connect import connect, keys_for, unreachable_message
from shoal.diffing import diff_changes
from shoal.inputs import load_or_exit
from shoal.progress import bulk_work
from shoal.tables import console

ERROR = 2


@click.command()
@click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    required=True,
    help="A file, a directory (read recursively) or - for stdin. Repeatable.",
)
@click.option("--prune", is_flag=True, help="Also show the tasks apply --prune -l would delete.")
@click.option("-l", "--selector", callback=parse_selector_option, default=None)
@click.pass_obj
def diff(
    settings: Settings, paths: tuple[str, ...], prune: bool, selector: Selector | None
) -> None:
    """Show what apply would change (exit 0: nothing, 1: something, 2: error)."""
    if prune != (selector is not None):
        raise click.UsageError("--prune and -l go together")
    try:
        with bulk_work():
            tasks = load_or_exit(paths, what="compared", exit_code=ERROR)
            store = connect(settings)
            try:
                current = read_current(store, keys_for(settings))
            finally:
                store.close()
            changes = plan_apply(tasks, current, now=SystemClock().now(), prune=selector)
    except Unavailable as exc:
        click.echo(f"error: {unreachable_message(exc)}", err=True)
        sys.exit(ERROR)
    except ShoalError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ERROR)
    text = diff_changes(changes)
    if not text:
        sys.exit(0)
    out = console()
    if out.is_terminal:
        for line in text.splitlines():
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
            out.print(Text(line, style="bold " + style if line[:3] in ("---", "+++") else style))
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    sys.exit(1)
