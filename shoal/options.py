"""Options shared by several commands: namespaces, kinds, output formats, streaming stops.

`-n NS` (or `SHOAL_NAMESPACE`, default `default`) and `-A` (every namespace) as kubectl has
them; kinds are accepted singular or plural (`task`, `tasks`); a streaming command stops
cleanly on Ctrl-C or SIGTERM and exits 0.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from core.logs import configure_logging
from core.settings import LogSettings
from schemas.fields import DNS_LABEL_PATTERN
from schemas.meta import DEFAULT_NAMESPACE

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:  # generic in click 8.2 and later, which older releases do not subscript
    _ParamType = click.ParamType[str, Any]
else:
    _ParamType = click.ParamType

KIND_ALIASES = {
    "task": "task",
    "tasks": "task",
    "node": "node",
    "nodes": "node",
    "no": "node",
    "sync": "sync",
    "syncs": "sync",
}


class Kind(_ParamType):
    """A kind of object, singular or plural, among `allowed` (canonical singular names)."""

    name = "kind"

    def __init__(self, *allowed: str) -> None:
        self.allowed = allowed

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "|".join(f"{k}s" for k in self.allowed)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        kind = KIND_ALIASES.get(str(value).lower())
        if kind not in self.allowed:
            choices = ", ".join(f"{k}s" for k in self.allowed)
            self.fail(f"{value!r} is not a kind this command knows (choose from {choices})")
        return kind


def _namespace(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not re.fullmatch(DNS_LABEL_PATTERN.strip("^$"), value):
        raise click.BadParameter(f"{value!r} is not a valid namespace name")
    return value


def namespace_options(all_namespaces: bool = True) -> Callable[[F], F]:
    """-n/--namespace, and (optionally) -A/--all-namespaces."""

    def decorate(func: F) -> F:
        if all_namespaces:
            func = click.option(
                "-A",
                "--all-namespaces",
                "all_namespaces",
                is_flag=True,
                help="Every namespace.",
            )(func)
        return click.option(
            "-n",
            "--namespace",
            envvar="SHOAL_NAMESPACE",
            default=DEFAULT_NAMESPACE,
            show_default=True,
            callback=_namespace,
            help="The namespace.",
        )(func)

    return decorate


def name_ref(name: str, namespace: str) -> tuple[str, str]:
    """`web` in the current namespace, or `other/web` naming its namespace."""
    if "/" in name:
        ns, _, bare = name.partition("/")
        return ns, bare
    return namespace, name


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGHUP (the terminal went away); Ctrl-C raises
    KeyboardInterrupt as usual. The previous handlers are restored after."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    previous_hup = signal.signal(signal.SIGHUP, on_term)
    try:
        yield stop
    except KeyboardInterrupt:
        stop.set()
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGHUP, previous_hup)


def follower_logging(settings: LogSettings) -> None:
    """Logging for a command that follows changes: the watches' own warnings about a lost
    connection are left out (the command prints one notice line instead), unless
    --log-level debug asks for everything."""
    level = "DEBUG" if settings.level.upper() == "DEBUG" else "ERROR"
    configure_logging(LogSettings(level=level, format=settings.format))
