"""Controller benchmark: how long a fresh leader takes to schedule a large backlog.

Starts its own etcd (throw-away data dir, free loopback ports), writes N tasks (default
10,000) and M node infos (default 1,000, as simulated agents would register them), then starts
one controller and measures, from `Controller.start()`:

- *scheduled*: every task has its binding and a status saying Scheduled, written in etcd
  (the figure issue 5 sets a target for: 2 s);
- *records*: also every TaskEvent and Placement record written (they go in a lower-priority
  lane after the bindings and statuses).

The controller runs as `shoal controller` runs it: the same settings (but a fixed scheduler
seed), the collector thresholds of `controller.tuning.tune_gc` and `freeze_gc`.

The time of "written" is when the transaction that wrote the last of them returned; afterwards
the bench lists etcd and checks every count (N bindings, one per task; N Scheduled statuses;
N events; N placement records). Prints the figures and writes bench/results/controller.json.

    venv/bin/python bench/controller_bench.py [--tasks 10000] [--nodes 1000] [--max-txn-ops 128]
        [--scheduler spread] [--profile out.html]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchkit import etcd_version  # noqa: E402  (bench/ is on sys.path: run as a script)

from controller.manager import Controller  # noqa: E402
from controller.settings import ControllerSettings  # noqa: E402
from controller.tuning import tune_gc  # noqa: E402
from core.etcd_server import EtcdServer, free_port  # noqa: E402
from core.etcd_store import EtcdStore  # noqa: E402
from core.keys import Keys  # noqa: E402
from core.store import BatchResult, Compare, Put, WriteOp  # noqa: E402
from core.typed_store import encode_model  # noqa: E402
from schemas.node import NodeInfo  # noqa: E402
from schemas.spec import PortSpec, Resources, TaskSpec  # noqa: E402
from schemas.task import new_task  # noqa: E402


class TimingStore(EtcdStore):
    """An EtcdStore that notes when the last binding and Scheduled status were written."""

    def __init__(self, *args: object, tasks: int, keys: Keys, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._want = tasks
        self._bindings_prefix = keys.bindings()
        self._status_prefix = keys.task_statuses()
        self._events_prefix = keys.events()
        self._placements_prefix = keys.placements()
        self.counts: Counter[str] = Counter()
        self.scheduled_at: float | None = None
        self.records_at: float | None = None
        self.done = threading.Event()

    def commit_batch(
        self, ops: Sequence[WriteOp], guard: Compare | Sequence[Compare] | None = None
    ) -> BatchResult:
        result = super().commit_batch(ops, guard)
        now = time.perf_counter()
        counts = self.counts
        for op in ops:
            if not isinstance(op, Put):
                continue
            if op.key.startswith(self._bindings_prefix):
                counts["bindings"] += 1
            elif op.key.startswith(self._status_prefix) and b'"state":"Scheduled"' in op.value:
                counts["scheduled"] += 1
            elif op.key.startswith(self._events_prefix):
                counts["events"] += 1
            elif op.key.startswith(self._placements_prefix):
                counts["placements"] += 1
        want = self._want
        if self.scheduled_at is None and counts["bindings"] >= want and counts["scheduled"] >= want:
            self.scheduled_at = now
        if (
            self.records_at is None
            and self.scheduled_at is not None
            and counts["events"] >= want
            and counts["placements"] >= want
        ):
            self.records_at = now
            self.done.set()
        return result


def seed(store: EtcdStore, keys: Keys, tasks: int, nodes: int) -> None:
    now = datetime.now(UTC)
    ops: list[WriteOp] = []
    for i in range(nodes):
        name = f"node-{i:04d}"
        info = NodeInfo(
            name=name,
            address=f"10.0.{i // 250}.{i % 250 + 1}",
            labels={"zone": f"z{i % 4}"},
            capacity=Resources(cpu=16, memory="64Gi", disk="500Gi"),
            runtime="docker 20.10.24",
            version="0.1.0",
            startedAt=now,
        )
        ops.append(Put(keys.node_info(name), encode_model(info)))
    for i in range(tasks):
        ports = [PortSpec(containerPort=8080, hostPort=20000 + i % 5000)] if i % 10 == 0 else []
        spec = TaskSpec(
            image="shoal-busybox:latest",
            command=["sleep", "3600"],
            resources=Resources(cpu="100m", memory="64Mi", disk="100Mi"),
            ports=ports,
        )
        task = new_task(f"task-{i:05d}", spec, labels={"app": f"app-{i % 50}"})
        meta = task.metadata.model_copy(
            update={"uid": f"uid-{i:05d}", "generation": 1, "creationTimestamp": now}
        )
        task = task.model_copy(update={"metadata": meta})
        ops.append(
            Put(
                keys.task("default", task.metadata.name),
                task.model_dump_json(exclude_none=True).encode(),
            )
        )
    store.commit_batch(ops)


def verify(store: EtcdStore, keys: Keys, tasks: int) -> dict[str, int]:
    bindings = store.list(keys.bindings())
    bound = Counter(kv.key.rsplit("/", 2)[-1] for kv in bindings.items)
    statuses = store.list(keys.task_statuses())
    scheduled = sum(1 for kv in statuses.items if json.loads(kv.value)["state"] == "Scheduled")
    events = len(store.list(keys.events()))
    placements = len(store.list(keys.placements()))
    figures = {
        "bindings": len(bindings),
        "tasks_bound_twice": sum(1 for n in bound.values() if n > 1),
        "scheduled_statuses": scheduled,
        "events": events,
        "placements": placements,
    }
    ok = (
        figures["bindings"] == tasks
        and figures["tasks_bound_twice"] == 0
        and scheduled == tasks
        and events >= tasks
        and placements == tasks
    )
    if not ok:
        raise SystemExit(f"verification failed: {figures}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=1_000)
    parser.add_argument("--max-txn-ops", type=int, default=128)
    parser.add_argument("--scheduler", default="spread")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--sample-size", type=int, default=None, help="feasible nodes scored per placement"
    )
    parser.add_argument("--profile", type=Path, default=None, help="pyinstrument HTML report")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    tune_gc()  # as `shoal controller` does
    keys = Keys("/bench")
    with tempfile.TemporaryDirectory(prefix="shoal-bench-") as tmp:
        server = EtcdServer(
            Path(tmp) / "etcd",
            client_url=f"http://127.0.0.1:{free_port()}",
            max_txn_ops=args.max_txn_ops if args.max_txn_ops != 128 else None,
        )
        server.start()
        try:
            server.wait_healthy(timeout=30)
            seeder = EtcdStore([server.endpoint])
            started = time.perf_counter()
            seed(seeder, keys, args.tasks, args.nodes)
            took = time.perf_counter() - started
            print(f"seeded {args.tasks} tasks and {args.nodes} nodes in {took:.2f}s")
            store = TimingStore(
                [server.endpoint], tasks=args.tasks, keys=keys, max_txn_ops=args.max_txn_ops
            )
            settings = ControllerSettings(
                scheduler=args.scheduler, workers=args.workers, seed=1, freeze_gc=True
            )
            if args.sample_size is not None:
                settings = dataclasses.replace(settings, sample_size=args.sample_size)
            controller = Controller(store, keys, settings)
            profiler = None
            if args.profile is not None:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0005)
                profiler.start()
            started = time.perf_counter()
            controller.start()
            finished = store.done.wait(120)
            if profiler is not None:
                profiler.stop()
                args.profile.write_text(profiler.output_html())
            controller.stop()
            if not finished or store.scheduled_at is None or store.records_at is None:
                raise SystemExit(f"not finished within 120 s: {dict(store.counts)}")
            scheduled = store.scheduled_at - started
            records = store.records_at - started
            figures = verify(seeder, keys, args.tasks)
            store.close()
            seeder.close()
        finally:
            server.stop()

    rate = args.tasks / scheduled
    print(
        f"all {args.tasks} tasks Scheduled (bindings + statuses written) in {scheduled:.2f}s "
        f"({rate:,.0f} placements/s; target: 2 s)"
    )
    print(f"events and placement records written too after {records:.2f}s")
    print(f"checked in etcd: {figures}")
    result = {
        "etcd_version": etcd_version(),
        "tasks": args.tasks,
        "nodes": args.nodes,
        "scheduler": args.scheduler,
        "workers": args.workers,
        "max_txn_ops": args.max_txn_ops,
        "sample_size": settings.sample_size,
        "scheduled_seconds": round(scheduled, 3),
        "placements_per_s": round(rate, 1),
        "records_seconds": round(records, 3),
        "verified": figures,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if not args.no_save:
        out = ROOT / "bench" / "results" / "controller.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
