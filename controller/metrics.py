"""The controller's Prometheus metrics, and the HTTP server for /metrics and /healthz.

Each `Controller` has its own registry (several run in one test process); `shoal controller`
serves it on `--listen`. The names all start with `shoal_controller_`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from controller.events import TransitionCounter
from core.supervise import Supervised
from schemas.states import TaskState

log = logging.getLogger(__name__)

__all__ = ["ControllerMetrics", "MetricsServer", "parse_listen"]

_FAST = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
_SLOW = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ControllerMetrics(TransitionCounter):
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.leader = Gauge("shoal_controller_leader", "1 while this controller leads.", registry=r)
        self.queue_depth = Gauge(
            "shoal_controller_queue_depth", "Keys waiting in a work queue.", ["queue"], registry=r
        )
        self.reconcile_seconds = Histogram(
            "shoal_controller_reconcile_duration_seconds",
            "Time one reconcile took.",
            ["controller"],
            buckets=_FAST,
            registry=r,
        )
        self.reconcile_errors = Counter(
            "shoal_controller_reconcile_errors_total",
            "Reconciles that failed and were retried.",
            ["controller"],
            registry=r,
        )
        self.pass_seconds = Histogram(
            "shoal_controller_scheduling_pass_duration_seconds",
            "Time one scheduling pass took (snapshot, placement, hand-over to the committer).",
            buckets=_FAST,
            registry=r,
        )
        self.pass_tasks = Histogram(
            "shoal_controller_scheduling_pass_tasks",
            "Tasks placed in one scheduling pass.",
            buckets=(1, 10, 100, 500, 1000, 5000),
            registry=r,
        )
        self.scheduling_latency = Histogram(
            "shoal_controller_scheduling_latency_seconds",
            "From a task found pending to its binding committed.",
            buckets=_SLOW,
            registry=r,
        )
        self.placements = Counter(
            "shoal_controller_placements_total",
            "Placement attempts by result (placed, unschedulable).",
            ["result"],
            registry=r,
        )
        self.unschedulable = Gauge(
            "shoal_controller_unschedulable_tasks", "Tasks that fit on no node now.", registry=r
        )
        self.transitions = Counter(
            "shoal_controller_transitions_total",
            "Task state transitions written.",
            ["from_state", "to_state"],
            registry=r,
        )
        self.forbidden = Counter(
            "shoal_controller_forbidden_transitions_total",
            "Task state changes the state machine forbids (logged, not written).",
            ["from_state", "to_state"],
            registry=r,
        )
        self.commit_seconds = Histogram(
            "shoal_controller_commit_duration_seconds",
            "Time one write transaction took.",
            ["lane"],
            buckets=_FAST,
            registry=r,
        )
        self.committed_ops = Counter(
            "shoal_controller_committed_operations_total",
            "Operations written, by lane (state, records).",
            ["lane"],
            registry=r,
        )
        self._transition_children: dict[tuple[TaskState | None, TaskState], Any] = {}
        self.nodes = Gauge(
            "shoal_controller_nodes", "Nodes known, by readiness.", ["ready"], registry=r
        )

    def transition(self, old: TaskState | None, new: TaskState) -> None:
        child = self._transition_children.get((old, new))
        if child is None:
            child = self._transition_children[(old, new)] = self.transitions.labels(
                str(old or "None"), str(new)
            )
        child.inc()

    def forbidden_transition(self, old: TaskState, new: TaskState) -> None:
        self.forbidden.labels(str(old), str(new)).inc()

    def committed(self, lane: str, ops: int, seconds: float) -> None:
        self.commit_seconds.labels(lane).observe(seconds)
        self.committed_ops.labels(lane).inc(ops)

    def observe_reconcile(self, controller: str) -> Callable[[float, bool], None]:
        histogram = self.reconcile_seconds.labels(controller)
        errors = self.reconcile_errors.labels(controller)

        def observe(seconds: float, failed: bool) -> None:
            histogram.observe(seconds)
            if failed:
                errors.inc()

        return observe

    def render(self) -> bytes:
        return generate_latest(self.registry)


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (or `:PORT` for every address) -> (host, port); ValueError when wrong."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not an address to listen on (expected HOST:PORT)")
    return host.strip("[]") or "0.0.0.0", int(port)


Health = Callable[[], tuple[bool, str]]
"""Whether the controller is healthy, and a one-line word on its state."""


class MetricsServer:
    """Serves GET /metrics (Prometheus text) and /healthz in a supervised thread."""

    def __init__(
        self, address: tuple[str, int], metrics: ControllerMetrics, health: Health
    ) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] == "/metrics":
                    server._send(self, 200, metrics.render(), CONTENT_TYPE_LATEST)
                elif self.path.split("?")[0] == "/healthz":
                    ok, word = health()
                    server._send(self, 200 if ok else 503, f"{word}\n".encode(), "text/plain")
                else:
                    server._send(self, 404, b"not found: try /metrics or /healthz\n", "text/plain")

            def log_message(self, format: str, *args: object) -> None:
                log.debug("http: " + format, *args)

        self._httpd = ThreadingHTTPServer(address, Handler)
        self._httpd.daemon_threads = True
        self._supervised = Supervised("metrics http", self._serve)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, code: int, body: bytes, content_type: str) -> None:
        handler.send_response(code)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _serve(self, stop: threading.Event) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def start(self) -> MetricsServer:
        self._supervised.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._supervised.stop_event.set()
        if self._supervised.is_alive():
            self._httpd.shutdown()
        self._supervised.stop(timeout)
        self._httpd.server_close()
