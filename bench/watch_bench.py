"""Watch latency (issue 6, item 4): from a task status written into etcd to the line that
`shoal get tasks -w -o json` prints for it.

Starts its own etcd (throw-away data dir, free loopback port), stores `--tasks` tasks, starts
the real command (`venv/bin/shoal get tasks -w -o json`, a subprocess, started once) and reads
its stdout in a thread, noting the time each line arrives. Then it writes `--writes`
TaskStatus values (default 300) at `--rate` writes a second (default 50), round the tasks,
each carrying its sequence number in `message`, and matches every printed line to its write.

Latency is from just before the `put` call (so it includes etcd's commit, the watch's
delivery, the command's decoding, merging and printing, and the pipe) to the line's arrival;
the put's own round trip is shown beside it. Target: p99 <= 50 ms. Prints a table and writes
bench/results/watch.json.

    venv/bin/python bench/watch_bench.py [--writes 300] [--rate 50] [--tasks 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import benchkit
from benchkit import Figure, LineReader, Processes, ms, percentile, summary

from core.etcd_store import EtcdStore
from core.keys import Keys
from core.typed_store import encode_model
from schemas.spec import Resources, TaskSpec
from schemas.states import TaskState
from schemas.task import TaskStatus, new_task

TARGET_P99 = 0.050
WARMUP = 5


def seed_tasks(store: EtcdStore, keys: Keys, count: int) -> list[str]:
    now = datetime.now(UTC)
    names = []
    for i in range(count):
        name = f"watch-{i:03d}"
        spec = TaskSpec(
            image="shoal-busybox:latest",
            command=["sleep", "3600"],
            resources=Resources(cpu="100m", memory="16Mi"),
        )
        task = new_task(name, spec)
        meta = task.metadata.model_copy(
            update={"uid": f"uid-{i}", "generation": 1, "creationTimestamp": now}
        )
        task = task.model_copy(update={"metadata": meta})
        store.put(keys.task("default", name), task.model_dump_json(exclude_none=True).encode())
        names.append(name)
    return names


def status_body(seq: int) -> bytes:
    status = TaskStatus(
        state=TaskState.Running,
        node="node-1",
        containerId=f"c{seq:08d}",
        startTime=datetime.now(UTC),
        reason="Started",
        message=f"bench write {seq}",
        observedGeneration=1,
    )
    return encode_model(status)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0, help="writes a second")
    parser.add_argument("--tasks", type=int, default=10, help="tasks the writes go round")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results")
    args = parser.parse_args()

    keys = Keys("/shoal")
    written: dict[int, tuple[float, float]] = {}  # seq -> (before put, after put)
    seen: dict[int, float] = {}
    with (
        benchkit.interrupt_on_sigterm(),
        tempfile.TemporaryDirectory(prefix="shoal-watch-bench-") as tmp,
        benchkit.etcd_server(Path(tmp)) as server,
        Processes() as procs,
        EtcdStore([server.endpoint]) as store,
    ):
        names = seed_tasks(store, keys, args.tasks)
        follow = procs.start(
            [*benchkit.shoal_command(), "get", "tasks", "-w", "-o", "json"],
            benchkit.shoal_env(server.endpoint),
        )
        assert follow.stdout is not None
        reader = LineReader(follow.stdout)
        initial = 0
        for _, _doc in reader.json_lines(time.perf_counter() + 30):
            initial += 1
            if initial == len(names):
                break
        if initial < len(names):
            raise SystemExit(f"`get -w` printed {initial} of {len(names)} tasks in 30 s")

        total = WARMUP + args.writes
        interval = 1.0 / args.rate
        start = time.perf_counter()
        for seq in range(total):
            due = start + seq * interval
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            name = names[seq % len(names)]
            body = status_body(seq)
            before = time.perf_counter()
            store.put(keys.task_status("default", name), body)
            written[seq] = (before, time.perf_counter())

        for at, doc in reader.json_lines(time.perf_counter() + 10):
            message = ((doc.get("status") or {}).get("message")) or ""
            if message.startswith("bench write "):
                seen.setdefault(int(message.rsplit(" ", 1)[1]), at)
            if len(seen) == total:
                break
        rc = procs.stop(follow)
        if rc not in (0, None):
            print(f"warning: `get -w` exited {rc}", file=sys.stderr)

    measured = [s for s in range(WARMUP, total)]
    missing = [s for s in measured if s not in seen]
    latencies = [seen[s] - written[s][0] for s in measured if s in seen]
    after_put = [seen[s] - written[s][1] for s in measured if s in seen]
    puts = [written[s][1] - written[s][0] for s in measured]
    lat = summary(latencies)
    p99 = lat["p99"]
    benchkit.print_table(
        f"watch latency: TaskStatus put -> line of `shoal get tasks -w -o json` "
        f"({len(latencies)} writes at {args.rate:g}/s over {args.tasks} tasks)",
        [
            Figure("p50", ms(lat["p50"])),
            Figure("p99", ms(p99), "<= 50 ms", not missing and p99 <= TARGET_P99),
            Figure("max", ms(lat["max"])),
            Figure(
                "put round trip p50 / p99",
                f"{ms(percentile(puts, 50))} / {ms(percentile(puts, 99))}",
            ),
            Figure(
                "put returned -> line p50 / p99",
                f"{ms(percentile(after_put, 50))} / {ms(percentile(after_put, 99))}",
            ),
            Figure("writes never printed", str(len(missing)), "0", not missing),
        ],
    )
    if not args.no_save:
        benchkit.write_result(
            "watch",
            {
                "writes": args.writes,
                "rate_per_s": args.rate,
                "tasks": args.tasks,
                "latency_s": lat,
                "put_s": summary(puts),
                "after_put_s": summary(after_put),
                "missing": len(missing),
                "target_p99_s": TARGET_P99,
                "met": not missing and p99 <= TARGET_P99,
                "command": "shoal get tasks -w -o json (subprocess)",
            },
        )
    return 0 if not missing else 1


if __name__ == "__main__":
    sys.exit(benchkit.run(main))
