"""Converging on one real Docker engine: Shoal against the raw Docker limit and Docker Swarm.

For N = 10, 50 and 100 busybox `sleep` tasks, several runs each (medians reported):

- shoal: a LocalCluster (embedded etcd, controller, one agent on this engine) is started once;
  each run is timed from the start of `shoal apply -f` (the real command, a subprocess) of N
  manifests until every task's status says Running, then the tasks are deleted and the run
  waits until their containers are gone;
- raw: the same N containers created and started with the Docker SDK, 4 at a time (the
  agent's parallelism), until all are running (bench/baselines.py);
- swarm: `docker service create --replicas N` on a one-node swarm on loopback, until N tasks
  are Running (bench/baselines.py).

Prints the medians and the ratios Shoal/raw (target <= 1.2 at N = 100) and Shoal/Swarm
(target <= 0.4 at N = 100) and writes bench/results/converge.json.

    venv/bin/python bench/converge_bench.py [--sizes 10,50,100] [--runs 3] [--no-swarm]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from baselines import IMAGE, raw_converge, swarm_converge  # noqa: E402

from agent.docker_runtime import DockerRuntime  # noqa: E402
from core.etcd_server import free_port  # noqa: E402
from schemas.states import TaskState  # noqa: E402
from shoal.local_cluster import LocalCluster, UpSettings  # noqa: E402


def _manifests(directory: Path, n: int, run: int) -> None:
    docs = [
        f"apiVersion: shoal/v1\nkind: Task\nmetadata: {{name: c{run}-{i}, labels: {{bench: "
        f'"{run}"}}}}\nspec: {{image: {IMAGE}, command: [sleep, "3600"], restartPolicy: Never}}\n'
        for i in range(n)
    ]
    (directory / f"run{run}.yaml").write_text("---\n".join(docs))


def shoal_converge(cluster: LocalCluster, etcd: str, n: int, run: int, tmp: Path) -> float:
    assert cluster.store is not None
    store, keys = cluster.store, cluster.keys
    directory = tmp / f"run{run}"
    directory.mkdir()
    _manifests(directory, n, run)
    names = {f"c{run}-{i}" for i in range(n)}
    shoal = [
        sys.executable,
        "-c",
        "from shoal.cli import main; main()",
        "--etcd",
        etcd,
        "--prefix",
        keys.prefix,
    ]
    started = time.perf_counter()
    deadline = started + 300
    subprocess.run(
        [*shoal, "apply", "-f", str(directory)],
        check=True,
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    while True:
        running = 0
        for kv in store.list(keys.task_statuses()):
            ref = keys.parse_task_status(kv.key)
            if ref is not None and ref.name in names and b'"state":"Running"' in kv.value:
                running += 1
        if running >= n:
            break
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {running}/{n} tasks Running after 300 s")
        time.sleep(0.02)
    took = time.perf_counter() - started
    subprocess.run(
        [*shoal, "delete", "-f", str(directory)],
        check=True,
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    runtime = DockerRuntime()
    try:
        while runtime.list({"shoal.node": cluster.agents[0].node}):
            time.sleep(0.1)
    finally:
        runtime.close()
    return took


def main() -> int:
    logging.basicConfig(level=logging.ERROR)  # the cluster's own log would drown the table
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,50,100")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-swarm", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[str, dict[int, list[float]]] = {"shoal": {}, "raw": {}, "swarm": {}}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        etcd = f"http://127.0.0.1:{free_port()}"
        settings = UpSettings(data_dir=tmp / "up", etcd_url=etcd, prefix="/bench")
        with LocalCluster(settings, progress=lambda line: None) as cluster:
            time.sleep(1.0)  # let the agent register before the first run
            run = 0
            for n in sizes:
                for _ in range(args.runs):
                    run += 1
                    took = shoal_converge(cluster, etcd, n, run, tmp)
                    results["shoal"].setdefault(n, []).append(took)
                    print(f"  shoal N={n}: {took:.2f}s", flush=True)
    for n in sizes:
        for _ in range(args.runs):
            took = raw_converge(n)
            results["raw"].setdefault(n, []).append(took)
            print(f"  raw   N={n}: {took:.2f}s", flush=True)
    if not args.no_swarm:
        for n in sizes:
            for _ in range(args.runs):
                took = swarm_converge(n)
                results["swarm"].setdefault(n, []).append(took)
                print(f"  swarm N={n}: {took:.2f}s", flush=True)
    print()
    print(f"{'N':>5} {'shoal':>8} {'raw':>8} {'swarm':>8} {'shoal/raw':>10} {'shoal/swarm':>12}")
    table = []
    for n in sizes:
        med = {k: statistics.median(v[n]) if v.get(n) else None for k, v in results.items()}
        shoal, raw, swarm = med["shoal"], med["raw"], med["swarm"]
        assert shoal is not None and raw is not None
        ratio_raw = shoal / raw
        ratio_swarm = shoal / swarm if swarm else None
        swarm_text = f"{swarm:7.2f}s" if swarm else "      -"
        ratio_text = f"{ratio_swarm:12.2f}" if ratio_swarm else "           -"
        print(f"{n:>5} {shoal:7.2f}s {raw:7.2f}s {swarm_text} {ratio_raw:10.2f} {ratio_text}")
        table.append(
            {
                "n": n,
                "shoal_s": shoal,
                "raw_s": raw,
                "swarm_s": swarm,
                "shoal_over_raw": ratio_raw,
                "shoal_over_swarm": ratio_swarm,
            }
        )
    print("targets at N=100: shoal/raw <= 1.2, shoal/swarm <= 0.4")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "converge.json").write_text(
        json.dumps(
            {
                "runs": args.runs,
                "state": TaskState.Running.value,
                "table": table,
                "all": {k: {str(n): v for n, v in r.items()} for k, r in results.items()},
            },
            indent=2,
        )
    )
    print(f"wrote {out / 'converge.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
