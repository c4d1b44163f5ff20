"""Helpers for tests of the `shoal` command: run it (click's runner or a real process)
against an etcd under a prefix of the test's own, and write the keys the controller and
agents would write, standing in for the daemons (as core.testing does for the store).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from core.etcd_store import EtcdStore
from core.keys import Keys
from core.typed_store import put_model
from schemas.node import NodeInfo, NodeMetrics, NodeStatus
from schemas.spec import Resources
from schemas.task import TaskState, TaskStatus
from shoal.cli import cli

SHOAL = [sys.executable, "-c", "from shoal.cli import main; main()"]


@dataclass
class ShoalHarness:
    endpoint: str
    prefix: str
    store: EtcdStore
    keys: Keys
    tmp: Path

    @staticmethod
    def manifest(
        name: str, *, namespace: str | None = None, labels: str = "", spec: str = ""
    ) -> str:
        """A Task manifest; `spec` adds lines under spec (indented two spaces)."""
        ns = f", namespace: {namespace}" if namespace else ""
        lab = f", labels: {{{labels}}}" if labels else ""
        return (
            "apiVersion: shoal/v1\nkind: Task\n"
            f"metadata: {{name: {name}{ns}{lab}}}\n"
            f"spec:\n  image: shoal-busybox:latest\n{spec}"
        )

    @property
    def base(self) -> list[str]:
        return ["--etcd", self.endpoint, "--prefix", self.prefix]

    def run(self, *args: str, input: str | None = None) -> Result:
        """The command through click's runner (same process)."""
        return CliRunner().invoke(cli, [*self.base, *args], input=input)

    def proc(
        self, *args: str, input: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """The command as a real process."""
        return subprocess.run(
            [*SHOAL, *self.base, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=child_env(),
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*SHOAL, *self.base, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=child_env(),
        )

    @staticmethod
    def lines(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.strip()]

    @staticmethod
    def columns(text: str) -> list[list[str]]:
        """A table's rows split on runs of spaces (cells here hold no spaces)."""
        return [line.split() for line in ShoalHarness.lines(text)]

    @staticmethod
    def names_in(rows: Sequence[Sequence[str]]) -> list[str]:
        return [row[0] for row in rows[1:]]

    def file(self, rel: str, text: str) -> Path:
        path = self.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def stored(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        kv = self.store.get(self.keys.task(namespace, name))
        return json.loads(kv.value) if kv is not None else None

    def status(
        self, name: str, state: str | TaskState, namespace: str = "default", **fields: Any
    ) -> int:
        status = TaskStatus(state=TaskState(state), **fields)
        return put_model(self.store, self.keys.task_status(namespace, name), status)

    def node(
        self,
        name: str,
        *,
        info: bool = True,
        ready: bool | None = True,
        metrics: bool = True,
        labels: dict[str, str] | None = None,
        agent_url: str | None = None,
        allocated: Resources | None = None,
    ) -> None:
        now = datetime.now(UTC)
        if info:
            put_model(
                self.store,
                self.keys.node_info(name),
                NodeInfo(
                    name=name,
                    address="127.0.0.1",
                    labels=labels or {},
                    capacity=Resources(cpu=2, memory=4 * 2**30, disk=20 * 2**30),
                    runtime="docker 20.10.24",
                    version="0.1.0",
                    agentUrl=agent_url,
                    startedAt=now,
                ),
            )
        if ready is not None:
            put_model(
                self.store,
                self.keys.node_status(name),
                NodeStatus(ready=ready, since=now, allocated=allocated or Resources()),
            )
        if metrics:
            put_model(
                self.store,
                self.keys.node_metrics(name),
                NodeMetrics(
                    cpuPercent=12.5,
                    memoryTotal=4 * 2**30,
                    memoryAvailable=3 * 2**30,
                    diskTotal=20 * 2**30,
                    diskAvailable=15 * 2**30,
                    load1=0.5,
                    load5=0.25,
                    load15=0.125,
                    timestamp=now,
                ),
            )


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SHOAL_ETCD", None)
    env.pop("SHOAL_PREFIX", None)
    env.pop("SHOAL_NAMESPACE", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env
