"""What Shoal is compared with on the same engine: the raw Docker limit and Docker Swarm.

- `raw_converge(n)`: N busybox `sleep` containers created and started straight through the
  Docker SDK, with the agent's parallelism (4 threads), until all are running.
- `swarm_converge(n)`: `docker service create --replicas N` of the same image on a one-node
  swarm (initialised on loopback and left again inside the call), until all N tasks are
  Running as `docker service ps` reports them.

Both return seconds and clean up after themselves. Used by bench/converge_bench.py.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import docker

IMAGE = "shoal-busybox:latest"
PARALLELISM = 4  # the agent's default workers


def raw_converge(n: int, image: str = IMAGE) -> float:
    client = docker.from_env()
    tag = uuid.uuid4().hex[:8]
    label = {"shoal.bench": tag}

    def run(i: int) -> None:
        client.containers.run(
            image,
            ["sleep", "3600"],
            name=f"raw-{tag}-{i}",
            labels=label,
            detach=True,
            init=True,
        )

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(PARALLELISM) as pool:
            list(pool.map(run, range(n)))
        while True:
            running = client.containers.list(
                filters={"label": f"shoal.bench={tag}", "status": "running"}
            )
            if len(running) >= n:
                break
            time.sleep(0.01)
        return time.perf_counter() - started
    finally:
        for c in client.containers.list(all=True, filters={"label": f"shoal.bench={tag}"}):
            c.remove(force=True)
        client.close()


def _docker(*args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def swarm_converge(n: int, image: str = IMAGE, timeout: float = 300.0) -> float:
    joined = _docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip() == "active"
    if not joined:
        _docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377")
    name = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        started = time.perf_counter()
        _docker(
            "service",
            "create",
            "--detach",
            "--no-resolve-image",
            "--name",
            name,
            "--replicas",
            str(n),
            image,
            "sleep",
            "3600",
        )
        deadline = started + timeout
        while True:
            states = _docker(
                "service",
                "ps",
                name,
                "--filter",
                "desired-state=running",
                "--format",
                "{{.CurrentState}}",
            ).split("\n")
            if sum(1 for s in states if s.startswith("Running")) >= n:
                return time.perf_counter() - started
            if time.perf_counter() > deadline:
                raise RuntimeError(f"swarm did not reach {n} running tasks in {timeout}s")
            time.sleep(0.05)
    finally:
        _docker("service", "rm", name, check=False)
        if not joined:
            _docker("swarm", "leave", "--force", check=False)
        # Swarm removes its containers asynchronously; wait for them so runs do not overlap.
        client = docker.from_env()
        for _ in range(600):
            left = client.containers.list(
                all=True, filters={"label": f"com.docker.swarm.service.name={name}"}
            )
            if not left:
                break
            time.sleep(0.1)
        client.close()
