"""Helpers for tests and benchmarks of agents: bindings written in the controller's place, reports
read back and waited for, agents with short timings. Like core/testing.py, shipped with the
package so simulations (bench/) can use them too."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from agent.node_agent import NodeAgent
from agent.plan import BackoffPolicy
from agent.runtime import Runtime
from agent.settings import AgentSettings
from core.keys import Keys
from core.store import Store
from core.testing import wait_until
from core.typed_store import encode_model
from schemas.binding import Binding, TaskReport
from schemas.node import NodeInfo
from schemas.spec import TaskSpec

FAST = BackoffPolicy(initial=0.2, maximum=1.0, reset_after=60.0)


def fast_settings(node: str, **overrides: Any) -> AgentSettings:
    values: dict[str, Any] = {
        "node": node,
        "lease_ttl": 2,
        "metrics_interval": 0.2,
        "resync_interval": 0.5,
        "backoff": FAST,
        "cpu": 2.0,
        "memory": 4 << 30,
        "disk": 10 << 30,
    }
    values.update(overrides)
    return AgentSettings(**values)


class Cluster:
    """One key prefix in a store, and what a test does to it in the controller's place."""

    def __init__(self, store: Store, keys: Keys) -> None:
        self.store = store
        self.keys = keys
        self.uids: dict[str, str] = {}

    def bind(
        self, node: str, name: str, generation: int = 1, namespace: str = "default", **spec: Any
    ) -> Binding:
        spec.setdefault("image", "shoal-busybox:latest")
        key = f"{namespace}/{name}"
        uid = self.uids.setdefault(key, str(uuid.uuid4()))
        binding = Binding(
            namespace=namespace,
            name=name,
            node=node,
            uid=uid,
            generation=generation,
            spec=TaskSpec.model_validate(spec),
            epoch=1,
        )
        self.store.put(self.keys.binding(node, namespace, name), encode_model(binding))
        return binding

    def unbind(self, node: str, name: str, namespace: str = "default") -> None:
        self.store.delete(self.keys.binding(node, namespace, name))

    def report(self, node: str, name: str, namespace: str = "default") -> TaskReport | None:
        kv = self.store.get(self.keys.node_task_report(node, namespace, name))
        return TaskReport.model_validate_json(kv.value) if kv is not None else None

    def node_info(self, node: str) -> NodeInfo | None:
        kv = self.store.get(self.keys.node_info(node))
        return NodeInfo.model_validate_json(kv.value) if kv is not None else None

    def wait_report(
        self,
        node: str,
        name: str,
        timeout: float = 10.0,
        namespace: str = "default",
        where: Callable[[TaskReport], bool] | None = None,
        **expect: Any,
    ) -> TaskReport:
        """Wait until the task's report has every field in `expect` (state as a string) and,
        if given, satisfies `where`."""
        seen: list[TaskReport | None] = []

        def matches() -> bool:
            report = self.report(node, name, namespace)
            seen.append(report)
            if report is None:
                return False
            data = report.model_dump(mode="json")
            if where is not None and not where(report):
                return False
            return all(data.get(k) == v for k, v in expect.items())

        try:
            wait_until(matches, timeout, 0.02, f"report of {name} with {expect}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last report: {seen[-1] if seen else None}") from None
        report = self.report(node, name, namespace)
        assert report is not None
        return report

    def wait_no_report(self, node: str, name: str, timeout: float = 10.0) -> None:
        wait_until(
            lambda: self.report(node, name) is None,
            timeout,
            0.02,
            f"report of {name} to be deleted",
        )


def start_agent(
    store: Store, keys: Keys, runtime: Runtime, node: str, **overrides: Any
) -> NodeAgent:
    return NodeAgent(store, keys, runtime, fast_settings(node, **overrides)).start()
