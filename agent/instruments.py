"""The agent's Prometheus metrics, in a registry of its own (several agents may share a
process under `shoal up --nodes N`, and each serves only its own figures)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class AgentInstruments:
    def __init__(self, node: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"node": node}
        self.reconciles = Counter(
            "shoal_agent_reconciles",
            "Task reconciles run, by outcome.",
            ["node", "outcome"],
            registry=self.registry,
        )
        self.reconcile_seconds = Histogram(
            "shoal_agent_reconcile_duration_seconds",
            "Time to reconcile one task.",
            ["node"],
            registry=self.registry,
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.starts = Counter(
            "shoal_agent_container_starts",
            "Containers created and started.",
            ["node"],
            registry=self.registry,
        )
        self.restarts = Counter(
            "shoal_agent_container_restarts",
            "Containers restarted by the restart policy.",
            ["node"],
            registry=self.registry,
        )
        self.failures = Counter(
            "shoal_agent_container_failures",
            "Containers that failed: could not start, exited non-zero, OOM-killed, unhealthy.",
            ["node", "reason"],
            registry=self.registry,
        )
        self.tasks = Gauge(
            "shoal_agent_bound_tasks",
            "Tasks bound to this node.",
            ["node"],
            registry=self.registry,
        )
        self._node = labels["node"]

    def reconciled(self, outcome: str, seconds: float) -> None:
        self.reconciles.labels(self._node, outcome).inc()
        self.reconcile_seconds.labels(self._node).observe(seconds)

    def started(self, restart: bool) -> None:
        self.starts.labels(self._node).inc()
        if restart:
            self.restarts.labels(self._node).inc()

    def failed(self, reason: str) -> None:
        self.failures.labels(self._node, reason).inc()

    def bound(self, count: int) -> None:
        self.tasks.labels(self._node).set(count)
