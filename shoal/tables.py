"""Tables for people: the columns of tasks, nodes and syncs, printed with rich.

`print_table` prints a whole table (`get`); `RowStream` prints a header once and then one
row per change with the same column widths (`get -w`, as kubectl does), never redrawing the
screen, so the output can be scrolled back, piped and logged. Neither ever cuts a cell: a
table wider than the terminal wraps instead.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TextIO

from rich.console import Console
from rich.text import Text

from schemas.node import Node
from schemas.task import Task, TaskState
from shoal import formatting as fmt

GAP = 3  # spaces between columns, as kubectl leaves them

STATE_STYLES = {
    TaskState.Pending: "yellow",
    TaskState.Scheduled: "cyan",
    TaskState.Running: "green",
    TaskState.Completed: "dim",
    TaskState.Failed: "red",
    "Deleted": "dim strike",
    "Ready": "green",
    "NotReady": "red",
}


def console(file: TextIO | None = None, width: int | None = None) -> Console:
    """A console on stdout; colour and styles only when it is a terminal."""
    return Console(file=file or sys.stdout, width=width, highlight=False, soft_wrap=False)


# -- the columns ---------------------------------------------------------------------------


def task_headers(*, wide: bool, all_namespaces: bool) -> list[str]:
    headers = ["NAME", "STATE", "NODE", "RESTARTS", "AGE", "REASON"]
    if all_namespaces:
        headers.insert(0, "NAMESPACE")
    if wide:
        headers += ["IMAGE", "PORTS", "IP", "GEN", "MESSAGE"]
    return headers


def task_row(
    task: Task,
    now: datetime,
    *,
    wide: bool,
    all_namespaces: bool,
    node_addresses: Mapping[str, str] | None = None,
    state: str | None = None,
) -> list[str]:
    status = task.status
    assert status is not None
    row = [
        task.metadata.name,
        state or status.state.value,
        status.node or fmt.NONE,
        str(status.restartCount),
        fmt.age(task.metadata.creationTimestamp, now),
        status.reason or "",
    ]
    if all_namespaces:
        row.insert(0, task.metadata.namespace)
    if wide:
        ports = (
            fmt.bound_ports(status.hostPorts)
            if status.hostPorts
            else fmt.spec_ports(task.spec.ports)
        )
        address = (node_addresses or {}).get(status.node or "", fmt.NONE)
        generation = f"{status.observedGeneration or '-'}/{task.metadata.generation or '-'}"
        row += [task.spec.image, ports, address, generation, status.message or ""]
    return row


def node_headers(*, wide: bool) -> list[str]:
    headers = ["NAME", "STATUS", "ADDRESS", "CPU", "MEMORY", "DISK", "SINCE", "VERSION"]
    if wide:
        headers += ["RUNTIME", "LABELS", "REASON"]
    return headers


def node_row(node: Node, now: datetime, *, wide: bool) -> list[str]:
    status = node.status
    cap, alloc = status.capacity, status.allocated
    row = [
        node.metadata.name,
        "Ready" if status.ready else "NotReady",
        status.address or fmt.NONE,
        f"{fmt.cores(alloc.cpu)}/{fmt.cores(cap.cpu)}",
        f"{fmt.size(alloc.memory)}/{fmt.size(cap.memory)}",
        f"{fmt.size(alloc.disk)}/{fmt.size(cap.disk)}",
        fmt.age(status.since, now),
        status.version or fmt.NONE,
    ]
    if wide:
        row += [status.runtime or fmt.NONE, fmt.labels(node.metadata.labels), status.reason or ""]
    return row


# -- printing ------------------------------------------------------------------------------


def widths_of(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
    return widths


def styled_line(
    headers: Sequence[str], row: Sequence[str], widths: Sequence[int], *, header: bool, styled: bool
) -> Text:
    """One row, padded to `widths` (nothing after the last cell), styled for a terminal."""
    text = Text()
    last = len(row) - 1
    for i, (name, cell, width) in enumerate(zip(headers, row, widths, strict=True)):
        style = ""
        if styled and header:
            style = "bold"
        elif styled and name in _STYLED:
            style = STATE_STYLES.get(cell, "")
        text.append(cell, style=style)
        if i != last:
            text.append(" " * max(1, width - len(cell) + GAP))
    return text


_STYLED = {"STATE", "STATUS"}


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], out: Console | None = None
) -> None:
    """The whole table, columns as wide as their widest cell; never a cell cut short.

    Laid out here and printed through rich (one Text, so 10,000 rows take a fraction of a
    second; rich's Table takes seconds for as many): styled at a terminal, plain text with no
    trailing spaces otherwise.
    """
    con = out or console()
    widths = widths_of(headers, rows)
    if not con.is_terminal:
        lines = format_rows(headers, rows)
        con.file.write("\n".join(lines) + "\n")
        con.file.flush()
        return
    text = Text()
    for i, row in enumerate([list(headers), *rows]):
        text.append_text(styled_line(headers, row, widths, header=i == 0, styled=True))
        text.append("\n")
    con.print(text, soft_wrap=True, end="")


#: Room kept in a streamed table for values that come later than its first rows (a task
#: listed as Pending may be Scheduled or Completed next, placed on a node with a long name).
STREAM_MIN_WIDTHS = {"NAME": 12, "STATE": 9, "STATUS": 8, "NODE": 10, "AGE": 4, "RESTARTS": 8}


class RowStream:
    """A header once, then one row per call, with widths fixed by the first rows (and at
    least STREAM_MIN_WIDTHS, for the values known to come later)."""

    def __init__(self, headers: Sequence[str], out: Console | None = None) -> None:
        self.headers = list(headers)
        self._out = out or console()
        self._widths: list[int] | None = None

    def start(self, rows: Sequence[Sequence[str]]) -> None:
        """Print the header and the first rows; their widths (and a little room) stay."""
        widths = [
            max(w, STREAM_MIN_WIDTHS.get(h, 0))
            for h, w in zip(self.headers, widths_of(self.headers, rows), strict=True)
        ]
        self._widths = [w + 1 if i < len(widths) - 1 else w for i, w in enumerate(widths)]
        styled = self._out.is_terminal
        text = Text()
        for i, row in enumerate([self.headers, *rows]):
            text.append_text(
                styled_line(self.headers, row, self._widths, header=i == 0, styled=styled)
            )
            text.append("\n")
        self._out.print(text, soft_wrap=True, end="")
        self._out.file.flush()

    def row(self, row: Sequence[str]) -> None:
        if self._widths is None:
            self.start([])
        self._line(row)

    def _line(self, row: Sequence[str], header: bool = False) -> None:
        assert self._widths is not None
        line = styled_line(
            self.headers, row, self._widths, header=header, styled=self._out.is_terminal
        )
        self._out.print(line, soft_wrap=True)
        self._out.file.flush()


def format_rows(
    headers: Sequence[str], rows: Sequence[Sequence[str]], indent: int = 0
) -> list[str]:
    """A small table as plain lines (for describe), columns as wide as their widest cell."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
    pad = " " * indent
    out = []
    for row in [list(headers), *rows]:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]
        out.append(pad + (" " * GAP).join(cells).rstrip())
    return out
