"""Progress for long operations, shown only to a person at a terminal.

`progress_bar(total, what)` yields an advance function. When stdout or stderr is not a
terminal (a script, a pipe, a test) nothing is drawn and the function does nothing, so
output meant for machines stays clean; the bar itself goes to stderr and disappears when done.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

MIN_ITEMS = 200
"""Fewer items than this are written too quickly for a bar to be worth drawing."""


def interactive() -> bool:
    return sys.stdout.isatty() and sys.stderr.isatty()


@contextmanager
def progress_bar(
    total: int, what: str, *, enabled: bool | None = None
) -> Iterator[Callable[[int], None]]:
    show = interactive() if enabled is None else enabled
    if not show or total < MIN_ITEMS:
        yield lambda n: None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task_id = bar.add_task(what, total=total)
        yield lambda n: bar.advance(task_id, n)


@contextmanager
def spinner(what: str, *, enabled: bool | None = None) -> Iterator[None]:
    """A spinner while something of unknown length runs (reading many manifests)."""
    show = interactive() if enabled is None else enabled
    if not show:
        yield
        return
    with Console(stderr=True).status(what):
        yield


@contextmanager
def bulk_work() -> Iterator[None]:
    """Pause Python's cycle collector during a one-shot command's bulk work.

    Reading and planning 10,000 manifests allocates millions of objects, none of them in
    cycles worth collecting before the command exits; the collector's repeated passes over
    that heap cost about a fifth of a large apply. Only for commands that end: not in
    long-running loops, where other threads share the process.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
