"""Scheduler benchmark: how many placements a second one pass of `Scheduler.place` makes.

Builds simulated nodes (varied capacities, a few labels, live metrics) and tasks (varied sizes,
a few host ports and node selectors), then runs one pass per policy and prints placements per
second, microseconds per placement, how many were placed, and how long reading every result's
`Placement` record takes on top (the record is built on first read). The garbage collector is
left on, as in the controller. Each policy runs `--repeat` times and the fastest run counts
(the machine is shared; the others are kept in the JSON). Sizes: 1,000 nodes / 10,000 tasks
(the controller's target: all Scheduled within 2 s including the etcd writes) and 5,000 nodes
/ 100,000 tasks.
Writes the figures to bench/results/scheduler.json.

    venv/bin/python bench/scheduler_bench.py [--sizes 1000x10000,5000x100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.scheduler import POLICIES, Scheduler  # noqa: E402
from controller.snapshot import Amounts, NodeView, PlacementResult, TaskRequest  # noqa: E402
from schemas.node import NodeMetrics  # noqa: E402

GI = 2**30
MI = 2**20
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def make_nodes(n: int, rng: random.Random) -> list[NodeView]:
    nodes = []
    for i in range(n):
        cpu = rng.choice((4.0, 8.0, 16.0))
        memory = rng.choice((8, 16, 32, 64)) * GI
        disk = 200 * GI
        metrics = NodeMetrics(
            cpuPercent=rng.uniform(0, 30),
            memoryTotal=memory,
            memoryAvailable=int(memory * rng.uniform(0.6, 1.0)),
            diskTotal=disk,
            diskAvailable=int(disk * rng.uniform(0.5, 1.0)),
            load1=0.5,
            load5=0.5,
            load15=0.5,
            timestamp=NOW - timedelta(seconds=5),
        )
        nodes.append(
            NodeView(
                name=f"node-{i:05d}",
                ready=rng.random() > 0.01,
                capacity=Amounts(cpu, memory, disk),
                allocated=Amounts(0.0, 0, 0),
                labels={"zone": f"z{i % 3}", "disk": "ssd" if i % 4 == 0 else "hdd"},
                metrics=metrics,
            )
        )
    return nodes


def make_tasks(n: int, rng: random.Random) -> list[TaskRequest]:
    tasks = []
    for i in range(n):
        roll = rng.random()
        tasks.append(
            TaskRequest(
                namespace="default",
                name=f"task-{i:06d}",
                generation=1,
                request=Amounts(
                    rng.choice((0.05, 0.1, 0.25, 0.5)),
                    rng.choice((64, 128, 256, 512, 1024)) * MI,
                    GI if roll < 0.1 else 0,
                ),
                host_ports=frozenset({("tcp", 8000 + i % 50)}) if roll < 0.02 else frozenset(),
                node_selector={"disk": "ssd"} if 0.02 <= roll < 0.07 else {},
            )
        )
    return tasks


def run(
    policy: str, nodes: list[NodeView], tasks: list[TaskRequest], seed: int, repeat: int
) -> dict[str, object]:
    times = []
    results: list[PlacementResult] = []
    for _ in range(repeat):
        results = []  # let the last run's results go before collecting
        gc.collect()
        scheduler = Scheduler(policy, rng=random.Random(seed))
        started = time.perf_counter()
        results = scheduler.place(nodes, tasks, NOW)
        times.append(time.perf_counter() - started)
    elapsed = min(times)
    started = time.perf_counter()
    for r in results:
        r.placement  # noqa: B018 (building the record is what is measured)
    records = time.perf_counter() - started
    placed = sum(1 for r in results if r.node is not None)
    return {
        "policy": policy,
        "nodes": len(nodes),
        "tasks": len(tasks),
        "placed": placed,
        "seconds": round(elapsed, 4),
        "seconds_each_run": [round(t, 4) for t in times],
        "placements_per_second": round(len(tasks) / elapsed),
        "us_per_placement": round(elapsed / len(tasks) * 1e6, 2),
        "record_seconds": round(records, 4),
        "record_us_per_task": round(records / len(tasks) * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000x10000,5000x100000")
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs per policy; the best counts")
    args = parser.parse_args()
    rows = []
    for size in args.sizes.split(","):
        n_nodes, n_tasks = (int(x) for x in size.split("x"))
        rng = random.Random(args.seed)
        nodes, tasks = make_nodes(n_nodes, rng), make_tasks(n_tasks, rng)
        for policy in args.policies.split(","):
            row = run(policy, nodes, tasks, args.seed, args.repeat)
            rows.append(row)
            print(
                f"{n_nodes:>5} nodes {n_tasks:>6} tasks {policy:>10}: {row['seconds']:>6.3f} s "
                f"{row['placements_per_second']:>7,} placements/s "
                f"{row['us_per_placement']:>6.1f} us/placement, placed {row['placed']:>7,}; "
                f"building every Placement record: +{row['record_seconds']:.3f} s "
                f"({row['record_us_per_task']:.1f} us/task)",
                flush=True,
            )
    out = ROOT / "bench" / "results" / "scheduler.json"
    out.write_text(
        json.dumps(
            {"python": platform.python_version(), "machine": platform.machine(), "runs": rows},
            indent=2,
        )
        + "\n"
    )
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
