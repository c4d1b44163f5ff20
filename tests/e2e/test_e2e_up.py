"""`shoal up --sync manifests/` as `make up` runs it: every demo task reaches its state.

The real command in a subprocess (its own etcd on a free port, its own data directory), the
example manifests as they are in the repository, then SIGTERM: it exits 0 and leaves no
container behind.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import docker
import pytest

from agent.runtime import LABEL_NODE
from core.etcd_server import free_port
from core.testing import wait_until
from shoal.local_cluster import node_names

pytestmark = [pytest.mark.integration, pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[2]
SHOAL = [sys.executable, "-c", "from shoal.cli import main; main()"]


def _tasks(etcd: str) -> dict[str, Any]:
    proc = subprocess.run(
        [*SHOAL, "--etcd", etcd, "get", "tasks", "-o", "json"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        return {}
    return {t["metadata"]["name"]: t.get("status", {}) for t in json.loads(proc.stdout)["items"]}


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200 and b"hello from shoal" in response.read()
    except OSError:
        return False


def _our_containers() -> list[str]:
    client = docker.from_env()
    try:
        return [
            c.name
            for c in client.containers.list(all=True, filters={"label": LABEL_NODE})
            if c.labels.get(LABEL_NODE) in node_names(1)
        ]
    finally:
        client.close()


def test_shoal_up_brings_every_demo_task_to_its_state_and_cleans_up(tmp_path: Path) -> None:
    etcd = f"http://127.0.0.1:{free_port()}"
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *SHOAL,
                "--etcd",
                etcd,
                "up",
                "--data-dir",
                str(tmp_path / "up"),
                "--sync",
                str(ROOT / "manifests"),
                "--no-watch",
                "--backoff-initial",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    seen: dict[str, Any] = {}

    def demo_settled() -> bool:
        seen.clear()
        seen.update(_tasks(etcd))
        web, batch = seen.get("web", {}), seen.get("batch", {})
        flaky, big = seen.get("flaky", {}), seen.get("too-big", {})
        return (
            web.get("state") == "Running"
            and batch.get("state") == "Completed"
            and flaky.get("restartCount", 0) >= 1
            and big.get("state") == "Pending"
            and big.get("message") == "0/1 nodes: 1 insufficient memory"
        )

    try:
        try:
            wait_until(demo_settled, timeout=90, interval=0.5, what="the demo to settle")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nlast seen: {seen}\n{log.read_text()[-3000:]}") from None
        assert seen["batch"]["exitCode"] == 0
        assert seen["flaky"]["state"] in ("Running", "Failed")
        wait_until(
            lambda: _answers("http://127.0.0.1:18080/"),
            timeout=20,
            what="the demo web server to answer on its published port",
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text()
    assert _our_containers() == [], "shoal up left containers behind"
