"""Store benchmark: what one client thread gets from an embedded etcd on this machine.

Starts its own etcd (throw-away data dir, free loopback ports), then measures
- sequential puts/s (one put at a time, 200-byte values),
- batched puts: keys/s written by `commit_batch` (transactions of 128 puts),
- listing: keys/s read by `list` (paged),
- watch latency: put -> handler, p50/p99 over a few hundred events.
Prints the figures and writes them to bench/results/store.json.

    venv/bin/python bench/store_bench.py [--puts 2000] [--batch 50000] [--events 300]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.etcd_server import EtcdServer, find_etcd_binary, free_port  # noqa: E402
from core.etcd_store import EtcdStore  # noqa: E402
from core.store import Listing, Put, WatchEvent, WriteOp  # noqa: E402

VALUE = b"x" * 200


def sequential_puts(store: EtcdStore, n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        store.put(f"/bench/seq/{i:06d}", VALUE)
    return n / (time.perf_counter() - started)


def batched_puts(store: EtcdStore, n: int) -> float:
    ops: list[WriteOp] = [Put(f"/bench/batch/{i:07d}", VALUE) for i in range(n)]
    started = time.perf_counter()
    result = store.commit_batch(ops)
    elapsed = time.perf_counter() - started
    assert result.written == n
    return n / elapsed


def listing(store: EtcdStore, expected: int) -> float:
    started = time.perf_counter()
    items = store.list("/bench/batch/")
    elapsed = time.perf_counter() - started
    assert len(items) == expected
    return expected / elapsed


class LatencyHandler:
    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.event = threading.Event()

    def on_events(self, events: Sequence[WatchEvent]) -> None:
        now = time.perf_counter()
        for e in events:
            self.arrived[e.key] = now
        self.event.set()

    def on_relist(self, listing: Listing) -> None:
        pass


def watch_latency(store: EtcdStore, n: int) -> tuple[float, float]:
    handler = LatencyHandler()
    watcher = store.watch("/bench/watch/", store.current_revision() + 1, handler)
    latencies: list[float] = []
    try:
        for i in range(n):
            key = f"/bench/watch/{i:05d}"
            handler.event.clear()
            sent = time.perf_counter()
            store.put(key, VALUE)
            while key not in handler.arrived:
                if not handler.event.wait(5):
                    raise RuntimeError(f"no watch event for {key} within 5 s")
                handler.event.clear()
            latencies.append((handler.arrived[key] - sent) * 1000)
    finally:
        watcher.stop()
    quantiles = statistics.quantiles(latencies, n=100)
    return quantiles[49], quantiles[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--puts", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="shoal-bench-") as tmp:
        server = EtcdServer(Path(tmp) / "etcd", f"http://127.0.0.1:{free_port()}")
        with server, EtcdStore([server.endpoint]) as store:
            version = store.status().version
            print(f"etcd {version} ({find_etcd_binary()}), single member, one client thread")
            seq = sequential_puts(store, args.puts)
            print(f"sequential put:   {seq:10,.0f} puts/s   ({1000 / seq:.2f} ms each)")
            batch = batched_puts(store, args.batch)
            print(f"batched put:      {batch:10,.0f} keys/s   (128-op transactions)")
            listed = listing(store, args.batch)
            print(f"list:             {listed:10,.0f} keys/s   ({args.batch:,} keys, paged)")
            p50, p99 = watch_latency(store, args.events)
            print(f"watch latency:    p50 {p50:.2f} ms, p99 {p99:.2f} ms ({args.events} events)")

    results = {
        "etcd_version": version,
        "value_bytes": len(VALUE),
        "sequential_puts_per_s": round(seq, 1),
        "batched_keys_per_s": round(batch, 1),
        "batch_txn_ops": 128,
        "list_keys_per_s": round(listed, 1),
        "watch_latency_ms": {"p50": round(p50, 3), "p99": round(p99, 3), "events": args.events},
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = ROOT / "bench" / "results" / "store.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
