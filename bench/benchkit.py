"""What the end-to-end benchmarks share: a throw-away etcd, the real `shoal` command as a
subprocess (stopped by pid when the bench ends, Ctrl-C included), its output lines read with
the time each arrived, percentiles, a table of figures beside their targets, the results file.

The scripts run as `venv/bin/python bench/NAME.py`, so this directory is on sys.path and they
import it as `benchkit`.
"""

from __future__ import annotations

import json
import math
import os
import platform
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.etcd_server import EtcdServer, find_etcd_binary, free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def shoal_command() -> list[str]:
    """The installed `shoal` console script of this virtualenv (what a person runs)."""
    beside = Path(sys.executable).parent / "shoal"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("shoal")
    if found is None:
        raise SystemExit("no `shoal` command: run `bash scripts/setup.sh` first")
    return [found]


def shoal_env(endpoint: str, prefix: str = "/shoal") -> dict[str, str]:
    """This environment without any SHOAL_* of its own, pointed at the bench's etcd."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env["SHOAL_ETCD"] = endpoint
    env["SHOAL_PREFIX"] = prefix
    return env


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM ends the bench as Ctrl-C does, so its `finally` blocks clean up."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(main: Callable[[], int]) -> int:
    """`main()`'s exit status; on Ctrl-C or SIGTERM (everything already cleaned up by the
    `finally` blocks on the way out) one line and 130, not a traceback."""
    try:
        with interrupt_on_sigterm():
            return main()
    except KeyboardInterrupt:
        print("\ninterrupted: everything the bench started is stopped and removed", file=sys.stderr)
        return 130


@contextmanager
def etcd_server(data_dir: Path, *, max_txn_ops: int | None = None) -> Iterator[EtcdServer]:
    """An etcd of the bench's own on a free loopback port, stopped (by pid) on exit."""
    server = EtcdServer(
        data_dir / "etcd",
        client_url=f"http://127.0.0.1:{free_port()}",
        max_txn_ops=max_txn_ops,
        log_path=data_dir / "etcd.log",
    )
    server.start()
    try:
        server.wait_healthy(timeout=30)
        yield server
    finally:
        server.stop()


def etcd_version() -> str:
    try:
        text = subprocess.run(
            [str(find_etcd_binary()), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except OSError:
        return "unknown"
    for line in text.splitlines():
        if line.startswith("etcd Version:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


class Processes:
    """Subprocesses the bench started; `stop_all` ends each of them by its own pid."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        *,
        stdout: int | IO[bytes] | None = subprocess.PIPE,
        stderr: int | IO[bytes] | None = None,
    ) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            list(args),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # Ctrl-C at the terminal reaches only us; we stop them
        )
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int | None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc in self._procs:
            self._procs.remove(proc)
        return proc.returncode

    def stop_all(self) -> None:
        for proc in list(reversed(self._procs)):
            self.stop(proc)

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


@dataclass(frozen=True)
class Line:
    at: float
    """time.perf_counter() when the line was read."""
    text: str


class LineReader:
    """Reads a subprocess's stdout in a thread, noting when each line arrived."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.lines: queue.SimpleQueue[Line | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="line reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for raw in iter(self._stream.readline, b""):
            self.lines.put(Line(time.perf_counter(), raw.decode(errors="replace").rstrip("\n")))
        self.lines.put(None)

    def next(self, timeout: float) -> Line:
        """The next line; TimeoutError after `timeout` s, EOFError when the stream ended."""
        try:
            line = self.lines.get(timeout=max(0.0, timeout))
        except queue.Empty:
            raise TimeoutError from None
        if line is None:
            self.lines.put(None)
            raise EOFError
        return line

    def json_lines(self, until: float) -> Iterator[tuple[float, Any]]:
        """(arrival time, decoded JSON) of each line until perf_counter() reaches `until`."""
        while True:
            try:
                line = self.next(until - time.perf_counter())
            except TimeoutError:
                return
            try:
                yield line.at, json.loads(line.text)
            except ValueError:
                continue

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.01) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(step)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100): a value that was measured, never interpolated."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
        "min": min(values) if values else math.nan,
    }


@dataclass(frozen=True)
class Figure:
    name: str
    value: str
    target: str = ""
    met: bool | None = None


def print_table(title: str, figures: Sequence[Figure]) -> None:
    print()
    print(title)
    head = ("figure", "measured", "target", "")
    rows = [
        (f.name, f.value, f.target, "" if f.met is None else ("met" if f.met else "MISSED"))
        for f in figures
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    for row in [head, *rows]:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "etcd": etcd_version(),
    }


def write_result(name: str, result: Mapping[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    body = {
        **result,
        "machine": machine(),
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    out.write_text(json.dumps(body, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return out
