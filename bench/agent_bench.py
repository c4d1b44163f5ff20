"""Agent benchmark: from a binding written into etcd to its container Running, on real Docker.

Starts its own etcd (throw-away data dir, free loopback port) and an in-process agent over the
local Docker engine, then writes one binding at a time (a busybox `sleep`) and times until the
agent's report says Running; then removes it and waits for the container to go. Prints the
median and worst of N (20 by default) and writes bench/results/agent.json.

    venv/bin/python bench/agent_bench.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.docker_runtime import DockerRuntime  # noqa: E402
from agent.testing import Cluster, start_agent  # noqa: E402
from core.etcd_server import EtcdServer, free_port  # noqa: E402
from core.etcd_store import EtcdStore  # noqa: E402
from core.keys import Keys  # noqa: E402
from schemas.binding import ContainerPhase  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--image", default="shoal-busybox:latest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = EtcdServer(Path(tmp) / "etcd", client_url=f"http://127.0.0.1:{free_port()}")
        server.start()
        server.wait_healthy(timeout=20)
        store = EtcdStore([server.endpoint])
        runtime = DockerRuntime()
        node = f"bench-{uuid.uuid4().hex[:6]}"
        keys = Keys("/bench")
        cluster = Cluster(store, keys)
        agent = start_agent(store, keys, runtime, node, resync_interval=10.0)
        times: list[float] = []
        try:
            for i in range(args.runs):
                name = f"t{i}"
                started = time.perf_counter()
                cluster.bind(node, name, image=args.image, command=["sleep", "3600"])
                while True:
                    report = cluster.report(node, name)
                    if report is not None and report.state is ContainerPhase.Running:
                        break
                    time.sleep(0.002)
                times.append(time.perf_counter() - started)
                cluster.unbind(node, name)
                cluster.wait_no_report(node, name, timeout=30)
        finally:
            agent.stop()
            for c in runtime.list({"shoal.node": node}):
                runtime.remove(c.id, force=True)
            runtime.close()
            store.close()
            server.stop()
    median, worst = statistics.median(times), max(times)
    print(f"binding written -> container Running, {len(times)} runs on real Docker:")
    print(f"  median {median * 1000:7.1f} ms")
    print(f"  worst  {worst * 1000:7.1f} ms")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "agent.json").write_text(
        json.dumps(
            {"runs": len(times), "median_s": median, "worst_s": worst, "all_s": times}, indent=2
        )
    )
    print(f"wrote {out / 'agent.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
