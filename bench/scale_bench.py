"""Scheduler throughput and scale with simulated nodes (issue 6, item 3).

Two sizes: (a) 1,000 nodes and 10,000 tasks, (b) 5,000 nodes and 100,000 tasks (`--quick`:
100 / 1,000 and 500 / 5,000, to check the bench works). For each, in an etcd of its own
(throw-away data dir, free loopback port, etcd's default --max-txn-ops 128):

1. the nodes are registered: NodeInfo and NodeMetrics of each on a lease of its own
   (bench/fleet.py), as agents would; `BulkAgents` (one watch of the bindings prefix, reports
   written in batched transactions) stands in for all their agents, and a watch of the task
   statuses counts those that say Running;
2. the manifests (100 tasks a file, 10% of them with a host port) are applied by the real
   command, `venv/bin/shoal apply -f DIR`, a subprocess: **apply** is its run time, start
   to exit (target: 10,000 within 3 s). No controller runs yet, so the apply has the machine
   to itself and the controller then finds the whole backlog, as a new leader would;
3. the controller is started as `venv/bin/shoal controller --listen none`, a subprocess with
   Shoal's default settings (log lines on stderr go to a file). From the moment it leads (the
   leader key appears; its start-up is shown apart): **Scheduled**, every task bound (the
   controller writes a task's binding and its Scheduled status in one transaction; checked
   afterwards in etcd); **Running**, every task's status says Running (the fake agents'
   reports folded in by the controller); then settled (etcd's revision unchanged for 3 s,
   the events and Placement records written too);
4. the controller's peak memory is its VmHWM in /proc/<pid>/status (target at 100,000 tasks:
   <= 1 GiB), read before it is stopped; etcd writes per task are counted two ways: revisions
   (etcd makes one per transaction) and keys written, by prefix (the sum of each key's
   version: nothing is deleted during the run).

A phase that does not finish within `--timeout` seconds is reported with what it reached.
Prints a table per size and writes bench/results/scale.json.

    venv/bin/python bench/scale_bench.py [--quick] [--sizes a b] [--timeout 600]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import benchkit
from benchkit import Figure, Processes
from fleet import BulkAgents, StatusCounter, register_nodes

from core.etcd_store import EtcdStore
from core.keys import Keys

GIB = 2**30
TASKS_PER_FILE = 100


@dataclass(frozen=True)
class Size:
    name: str
    nodes: int
    tasks: int


SIZES = {"a": Size("a", 1_000, 10_000), "b": Size("b", 5_000, 100_000)}
QUICK = {"a": Size("a", 100, 1_000), "b": Size("b", 500, 5_000)}

TASK = """\
apiVersion: shoal/v1
kind: Task
metadata:
  name: task-{i:06d}
  labels: {{app: app-{app}}}
spec:
  image: shoal-busybox:latest
  command: [sleep, "3600"]
  resources: {{cpu: 100m, memory: 64Mi, disk: 100Mi}}
"""
PORT = "  ports: [{{containerPort: 8080, hostPort: {port}}}]\n"


def write_manifests(directory: Path, tasks: int) -> int:
    directory.mkdir(parents=True)
    files = 0
    for first in range(0, tasks, TASKS_PER_FILE):
        docs = []
        for i in range(first, min(first + TASKS_PER_FILE, tasks)):
            doc = TASK.format(i=i, app=i % 50)
            if i % 10 == 0:
                doc += PORT.format(port=20000 + i % 5000)
            docs.append(doc)
        (directory / f"tasks-{files:04d}.yaml").write_text("---\n".join(docs))
        files += 1
    return files


class Memory:
    """Samples a process's resident memory; its peak (VmHWM) is the kernel's own figure."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss = 0
        self.hwm = 0
        self.rss = 0
        self.samples: list[tuple[float, int]] = []  # (perf_counter, VmRSS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss sampler", daemon=True)

    def start(self) -> Memory:
        self._thread.start()
        return self

    def read(self) -> None:
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return
        for line in text.splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                value = int(line.split()[1]) * 1024
                if line.startswith("VmRSS:"):
                    self.rss = value
                    self.peak_rss = max(self.peak_rss, value)
                    self.samples.append((time.perf_counter(), value))
                else:
                    self.hwm = max(self.hwm, value)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.read()

    def stop(self) -> None:
        self.read()
        self._stop.set()
        self._thread.join(5)


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a live process."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_event(
    event: threading.Event, deadline: float, proc: subprocess.Popen[bytes] | None = None
) -> bool:
    while not event.wait(min(0.2, max(0.0, deadline - time.perf_counter()))):
        if time.perf_counter() >= deadline:
            return False
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the controller exited with status {proc.returncode}")
    return True


def wait_settled(store: EtcdStore, quiet: float, deadline: float) -> bool:
    """Until etcd's revision has not moved for `quiet` seconds."""
    last, since = store.current_revision(), time.perf_counter()
    while time.perf_counter() < deadline:
        time.sleep(0.25)
        now_rev = store.current_revision()
        if now_rev != last:
            last, since = now_rev, time.perf_counter()
        elif time.perf_counter() - since >= quiet:
            return True
    return False


def keys_written(store: EtcdStore, keys: Keys) -> dict[str, dict[str, int]]:
    """Keys and writes (sum of versions) under each of Shoal's prefixes."""
    written: dict[str, dict[str, int]] = {}
    groups = {
        "tasks": keys.tasks(),
        "bindings": keys.bindings(),
        "task statuses": keys.task_statuses(),
        "placements": keys.placements(),
        "node statuses": keys.node_statuses(),
        "events": keys.events(),
    }
    for name, prefix in groups.items():
        items = store.list(prefix).items
        written[name] = {"keys": len(items), "writes": sum(kv.version for kv in items)}
    reports = [kv for kv in store.list(keys.nodes()).items if "/tasks/" in kv.key]
    written["agent reports"] = {"keys": len(reports), "writes": sum(kv.version for kv in reports)}
    return written


def check_scheduled(store: EtcdStore, keys: Keys, tasks: int) -> dict[str, int]:
    bindings = store.list(keys.bindings()).items
    bound = {kv.key.split("/", 4)[-1] for kv in bindings}
    states: dict[str, int] = {}
    for kv in store.list(keys.task_statuses()).items:
        state = json.loads(kv.value).get("state", "?")
        states[state] = states.get(state, 0) + 1
    return {"bindings": len(bindings), "tasks bound": len(bound), **states, "want": tasks}


def run_size(size: Size, timeout: float, wrapper: list[str], py_spy: Path | None) -> dict[str, Any]:
    result: dict[str, Any] = {"size": size.name, "nodes": size.nodes, "tasks": size.tasks}
    keys = Keys("/shoal")
    with (
        tempfile.TemporaryDirectory(prefix=f"shoal-scale-{size.name}-") as tmp_dir,
        benchkit.etcd_server(Path(tmp_dir)) as server,
        Processes() as procs,
        EtcdStore([server.endpoint]) as store,
    ):
        tmp = Path(tmp_dir)
        env = benchkit.shoal_env(server.endpoint)
        print(f"[{size.name}] registering {size.nodes} nodes…", file=sys.stderr, flush=True)
        started = time.perf_counter()
        register_nodes(store, keys, size.nodes)
        result["register_s"] = time.perf_counter() - started
        files = write_manifests(tmp / "manifests", size.tasks)
        result["files"] = files
        rev0 = store.current_revision()
        agents = BulkAgents(store, keys, goal=size.tasks).start(rev0 + 1)
        statuses = StatusCounter(store, keys, goal=size.tasks).start(rev0 + 1)
        try:
            print(f"[{size.name}] shoal apply of {size.tasks} tasks…", file=sys.stderr, flush=True)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            with open(tmp / "apply.out", "wb") as out:
                started = time.perf_counter()
                applied = subprocess.run(
                    [*benchkit.shoal_command(), "apply", "-f", str(tmp / "manifests")],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.PIPE,
                    timeout=timeout,
                    check=False,
                )
                result["apply_s"] = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            result["apply_cpu_s"] = (after.ru_utime + after.ru_stime) - (
                before.ru_utime + before.ru_stime
            )
            if applied.returncode != 0:
                raise RuntimeError(f"shoal apply failed: {applied.stderr.decode().strip()}")
            created = (tmp / "apply.out").read_text().count(" created")
            result["apply_created"] = created
            rev1 = store.current_revision()
            result["apply_revisions_per_task"] = (rev1 - rev0) / size.tasks

            print(f"[{size.name}] starting shoal controller…", file=sys.stderr, flush=True)
            deadline = time.perf_counter() + timeout
            log = open(tmp / "controller.log", "wb")  # noqa: SIM115 (closed below)
            started = time.perf_counter()
            controller = procs.start(
                [*wrapper, *benchkit.shoal_command(), "controller", "--listen", "none"],
                env,
                stdout=log,
                stderr=log,
            )
            memory = Memory(controller.pid).start()
            spy = None
            if py_spy is not None:
                spy = procs.start(
                    [
                        str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "--pid",
                        str(controller.pid),
                        "--rate",
                        "200",
                        "--gil",  # only the thread holding the GIL: where the CPU goes
                        "--format",
                        "speedscope" if py_spy.suffix == ".json" else "flamegraph",
                        "--output",
                        str(py_spy.resolve()),
                    ],
                    env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            while store.get(keys.leader()) is None:
                if time.perf_counter() > started + 60 or controller.poll() is not None:
                    raise RuntimeError("the controller did not lead within 60 s")
                time.sleep(0.005)
            leading = time.perf_counter()
            result["controller_start_s"] = leading - started
            phases = [("scheduled", agents.all_bound), ("running", statuses.all_running)]
            for phase, event in phases:
                if not wait_event(event, deadline, controller):
                    result["unfinished"] = (
                        f"{phase}: not reached within {timeout:.0f} s "
                        f"({agents.bound} bound, {statuses.running} Running)"
                    )
                    break
                memory.read()
                result[f"controller_rss_{phase}_bytes"] = memory.rss
                print(f"[{size.name}] all {phase}", file=sys.stderr, flush=True)
            if agents.all_bound_at is not None:
                result["scheduled_s"] = agents.all_bound_at - leading
                result["placements_per_s"] = size.tasks / result["scheduled_s"]
            if statuses.all_running_at is not None:
                result["running_s"] = statuses.all_running_at - leading
                if wait_settled(store, 3.0, deadline + 120):
                    result["settled_s"] = time.perf_counter() - 3.0 - leading
            result["bound"] = agents.bound
            result["running"] = statuses.running
            result["controller_cpu_s"] = cpu_seconds(controller.pid)
            result["etcd_cpu_s"] = cpu_seconds(server.pid)
            memory.stop()
            result["controller_hwm_bytes"] = memory.hwm
            result["controller_rss_settled_bytes"] = memory.rss
            result["controller_rss_timeline"] = [
                (round(at - leading, 2), rss // 2**20) for at, rss in memory.samples[::4]
            ]
            result["controller_peak_rss_sampled_bytes"] = memory.peak_rss
            rev2 = store.current_revision()
            procs.stop(controller)
            if spy is not None:
                spy.wait(60)  # it writes its profile once the controller has exited
            log.close()
            result["controller_log_lines"] = (tmp / "controller.log").read_bytes().count(b"\n")
        finally:
            agents.stop()
            statuses.stop()
        result["revisions"] = {
            "apply": rev1 - rev0,
            "controller and agents": rev2 - rev1,
            "per task": (rev2 - rev0) / size.tasks,
        }
        result["agent_report_transactions"] = agents.transactions
        result["keys"] = keys_written(store, keys)
        result["keys"]["written per task"] = {
            "writes": round(
                sum(v["writes"] for v in result["keys"].values()) / size.tasks,
                2,
            )
        }
        result["check"] = check_scheduled(store, keys, size.tasks)
    return result


def figures(size: Size, r: dict[str, Any]) -> list[Figure]:
    def sec(key: str) -> str:
        return f"{r[key]:.2f} s" if key in r else "not reached"

    out = [
        Figure("nodes registered", f"{size.nodes} in {r['register_s']:.1f} s"),
        Figure(
            f"shoal apply of {size.tasks} manifests ({r['files']} files)",
            sec("apply_s"),
            "<= 3 s" if size.tasks == 10_000 else "",
            r["apply_s"] <= 3.0 if size.tasks == 10_000 else None,
        ),
        Figure("controller start-up (process start -> leading)", sec("controller_start_s")),
    ]
    rate = r.get("placements_per_s")
    out.append(
        Figure(
            "leading -> all Scheduled",
            sec("scheduled_s") + (f" ({rate:,.0f} placements/s)" if rate else ""),
            ">= 5,000 placements/s" + (", <= 30 s" if size.tasks == 100_000 else ""),
            rate is not None and rate >= 5000 and (size.tasks != 100_000 or r["scheduled_s"] <= 30),
        )
    )
    out.append(Figure("leading -> all Running (fake agents)", sec("running_s")))
    out.append(Figure("leading -> settled (events, records)", sec("settled_s")))
    hwm = r["controller_hwm_bytes"]
    out.append(
        Figure(
            "controller peak RSS (VmHWM)",
            f"{hwm / 2**20:,.0f} MiB",
            "<= 1 GiB" if size.tasks == 100_000 else "",
            hwm <= GIB if size.tasks == 100_000 else None,
        )
    )
    rss = [
        f"{phase} {r[f'controller_rss_{phase}_bytes'] / 2**20:,.0f}"
        for phase in ("scheduled", "running", "settled")
        if f"controller_rss_{phase}_bytes" in r
    ]
    out.append(Figure("  RSS (MiB) when all", ", ".join(rss)))
    out.append(Figure("controller CPU", f"{r['controller_cpu_s']:.1f} s"))
    out.append(Figure("etcd CPU (whole run)", f"{r['etcd_cpu_s']:.1f} s"))
    rev = r["revisions"]
    out.append(
        Figure(
            "etcd revisions per task",
            f"{rev['per task']:.3f} (apply {rev['apply'] / size.tasks:.3f})",
        )
    )
    per = r["keys"]
    out.append(Figure("keys written per task", f"{per['written per task']['writes']:.2f}"))
    for name, counts in per.items():
        if name != "written per task" and counts["writes"]:
            out.append(Figure(f"  {name}", f"{counts['writes'] / size.tasks:.2f}"))
    if "unfinished" in r:
        out.append(Figure("UNFINISHED", r["unfinished"]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, to check it works")
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=sorted(SIZES))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a phase may take")
    parser.add_argument(
        "--custom", nargs=2, type=int, metavar=("NODES", "TASKS"), help="one size of your own"
    )
    parser.add_argument(
        "--py-spy", type=Path, default=None, help="profile the controller into this file"
    )
    parser.add_argument(
        "--controller-wrapper",
        default="",
        help="command put before `shoal controller` (it must run it in its own process)",
    )
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    table = QUICK if args.quick else SIZES
    if args.custom:
        table = {"custom": Size("custom", *args.custom)}
        args.sizes = ["custom"]
    results = []
    with benchkit.interrupt_on_sigterm():
        for name in args.sizes:
            size = table[name]
            r = run_size(size, args.timeout, shlex.split(args.controller_wrapper), args.py_spy)
            results.append(r)
            benchkit.print_table(
                f"({size.name}) {size.nodes:,} simulated nodes, {size.tasks:,} tasks",
                figures(size, r),
            )
            print(f"  checked in etcd: {r['check']}")
    if not args.no_save:
        benchkit.write_result("scale", {"quick": args.quick, "sizes": results})
    return 0 if all("unfinished" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(benchkit.run(main))
