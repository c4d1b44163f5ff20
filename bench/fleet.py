"""Simulated nodes for the scale benchmark: registrations written into a real etcd, and one
bulk stand-in for all their agents.

- `register_nodes` writes each node's `NodeInfo` at `Keys.node_info` and its `NodeMetrics` at
  `Keys.node_metrics`, both on a lease of the node's own (granted with a long TTL, so nothing
  has to keep them alive during a run), in batched transactions.
- `BulkAgents` keeps the agents' side of the controller-agent contract (docs/ARCHITECTURE.md)
  for every simulated node at once: one watch of the whole bindings prefix; a new binding (or
  a new generation) is answered by a `TaskReport` saying Running at that generation, a removed
  binding by deleting the report (the container is "stopped and removed"). Reports are written
  by one thread in batched transactions (`Store.commit_batch`, 128 operations each). It notes
  when the number of bindings seen reaches a goal: the controller writes a task's binding and
  its Scheduled status in one transaction, so that is when all are Scheduled.
- `StatusCounter` watches the task statuses and notes when a goal of them say Running.

controller/testing.py's SimAgent does the same per node (a watch each, a write per report),
which does not scale to thousands of nodes in one process.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from core.etcd_store import EtcdStore
from core.keys import Keys
from core.store import Delete, EventType, Listing, Put, Watcher, WatchEvent, WriteOp
from core.typed_store import encode_model
from schemas.binding import ContainerPhase, TaskReport
from schemas.node import NodeInfo, NodeMetrics
from schemas.spec import Resources

GI = 2**30
NODE_CAPACITY = Resources(cpu=16, memory=64 * GI, disk=500 * GI)
LEASE_TTL = 3600
_GENERATION = re.compile(rb'"generation":(\d+)')


def node_name(i: int) -> str:
    return f"sim-{i:05d}"


def register_nodes(store: EtcdStore, keys: Keys, count: int) -> list[str]:
    """`count` nodes registered (info and metrics, each node on its own lease)."""
    now = datetime.now(UTC)
    names = [node_name(i) for i in range(count)]
    with ThreadPoolExecutor(8) as pool:
        leases = list(pool.map(lambda _: store.grant_lease(LEASE_TTL), names))
    metrics = encode_model(
        NodeMetrics(
            cpuPercent=5.0,
            memoryTotal=64 * GI,
            memoryAvailable=60 * GI,
            diskTotal=500 * GI,
            diskAvailable=480 * GI,
            load1=0.2,
            load5=0.2,
            load15=0.2,
            timestamp=now,
        )
    )
    ops: list[WriteOp] = []
    for i, (name, lease) in enumerate(zip(names, leases, strict=True)):
        info = NodeInfo(
            name=name,
            address=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
            labels={"zone": f"z{i % 4}"},
            capacity=NODE_CAPACITY,
            runtime="sim 1.0",
            version="0.1.0",
            startedAt=now,
        )
        ops.append(Put(keys.node_info(name), encode_model(info), lease=lease))
        ops.append(Put(keys.node_metrics(name), metrics, lease=lease))
    store.commit_batch(ops)
    return names


class BulkAgents:
    """Every simulated node's agent in one: reports Running for each binding, in batches."""

    def __init__(self, store: EtcdStore, keys: Keys, *, goal: int) -> None:
        self._store = store
        self._keys = keys
        self._goal = goal
        self._lock = threading.Condition()
        self._pending: deque[WriteOp] = deque()
        self._reported: dict[str, int] = {}  # report key -> generation reported
        self._bound: set[str] = set()
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="bulk agents", daemon=True)
        self._watch: Watcher | None = None
        template = TaskReport(
            containerId="sim",
            state=ContainerPhase.Running,
            startTime=datetime.now(UTC),
            generation=1,
        )
        self._template = json.loads(encode_model(template))
        self.bindings_seen = 0
        self.reports_written = 0
        self.transactions = 0
        self.all_bound_at: float | None = None
        self.all_bound = threading.Event()

    def start(self, start_revision: int) -> BulkAgents:
        self._writer.start()
        self._watch = self._store.watch(self._keys.bindings(), start_revision, self)
        return self

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.stop()
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        self._writer.join(10)

    @property
    def bound(self) -> int:
        with self._lock:
            return len(self._bound)

    # -- the bindings watch ----------------------------------------------------------------

    def on_relist(self, listing: Listing) -> None:
        events = [WatchEvent(EventType.PUT, kv.key, kv.value, kv.mod_revision) for kv in listing]
        self.on_events(events)

    def on_events(self, events: Sequence[WatchEvent]) -> None:
        now = time.perf_counter()
        ops: list[WriteOp] = []
        with self._lock:
            for event in events:
                ref = self._keys.parse_binding(event.key)
                if ref is None:
                    continue
                report_key = self._keys.node_task_report(ref.node, ref.namespace, ref.name)
                if event.type is EventType.DELETE:
                    self._bound.discard(event.key)
                    if self._reported.pop(report_key, None) is not None:
                        ops.append(Delete(report_key))
                    continue
                self.bindings_seen += 1
                self._bound.add(event.key)
                found = _GENERATION.search(event.value)
                generation = int(found.group(1)) if found else 1
                if self._reported.get(report_key) == generation:
                    continue
                self._reported[report_key] = generation
                body = dict(self._template, containerId=f"sim-{ref.name}", generation=generation)
                ops.append(Put(report_key, json.dumps(body, separators=(",", ":")).encode()))
            if self.all_bound_at is None and len(self._bound) >= self._goal:
                self.all_bound_at = now
                self.all_bound.set()
            self._pending.extend(ops)
            self._lock.notify_all()

    # -- the writer ------------------------------------------------------------------------

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                while not self._pending and not self._stop.is_set():
                    self._lock.wait(0.5)
                batch = list(self._pending)
                self._pending.clear()
            if batch:
                result = self._store.commit_batch(batch)
                self.reports_written += result.written
                self.transactions += len(result.revisions)


class StatusCounter:
    """Notes when `goal` task statuses say Running (a cheap look at the JSON, no decoding)."""

    def __init__(self, store: EtcdStore, keys: Keys, *, goal: int) -> None:
        self._store = store
        self._keys = keys
        self._goal = goal
        self._running: set[str] = set()
        self._watch: Watcher | None = None
        self.all_running_at: float | None = None
        self.all_running = threading.Event()

    def start(self, start_revision: int) -> StatusCounter:
        self._watch = self._store.watch(self._keys.task_statuses(), start_revision, self)
        return self

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.stop()

    @property
    def running(self) -> int:
        return len(self._running)

    def on_relist(self, listing: Listing) -> None:
        self._running = set()
        self.on_events(
            [WatchEvent(EventType.PUT, kv.key, kv.value, kv.mod_revision) for kv in listing]
        )

    def on_events(self, events: Sequence[WatchEvent]) -> None:
        now = time.perf_counter()
        for event in events:
            if event.type is EventType.PUT and b'"state":"Running"' in event.value:
                self._running.add(event.key)
            else:
                self._running.discard(event.key)
        if self.all_running_at is None and len(self._running) >= self._goal:
            self.all_running_at = now
            self.all_running.set()
