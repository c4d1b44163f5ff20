"""Reading manifests for a command: every problem printed at once, or the valid tasks.

Shared by apply, diff and delete -f. Nothing is written when any document is invalid, so
the caller exits here with every problem listed (file, document, line, field).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from schemas.loader import format_errors, load_paths
from schemas.task import Task
from shoal.progress import spinner


def load_or_exit(paths: Sequence[str], *, what: str = "applied", exit_code: int = 1) -> list[Task]:
    """Every task in `paths`; on any problem print them all and exit (nothing written)."""
    with spinner(f"reading manifests from {', '.join(paths)}"):
        result = load_paths(paths, stdin=sys.stdin)
    if result.errors:
        click.echo(format_errors(result.errors), err=True)
        n = len(result.errors)
        click.echo(f"error: {n} problem{'s' if n != 1 else ''} found; nothing was {what}", err=True)
        sys.exit(exit_code)
    return [task for _, task in result.tasks]
