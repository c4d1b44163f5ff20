"""The agent's settings, built by `shoal agent` (or `shoal up`) from flags and SHOAL_* variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agent.plan import BackoffPolicy


@dataclass(frozen=True)
class AgentSettings:
    node: str
    address: str = "127.0.0.1"
    """Where this node's published ports are reached; ports bind to it unless a spec says."""
    labels: Mapping[str, str] = field(default_factory=dict)
    cpu: float | None = None
    """Capacity overrides; None means detect from the machine."""
    memory: int | None = None
    disk: int | None = None
    lease_ttl: int = 10
    """Seconds the node's registration outlives its agent."""
    metrics_interval: float = 5.0
    resync_interval: float = 10.0
    """Seconds between full comparisons of bindings, containers and reports (the safety net
    under the watches and the engine's event stream)."""
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    workers: int = 4
    """Tasks reconciled at once (Docker gains little beyond 4 on 2 cores; FIELD-NOTES)."""
    listen: str | None = "127.0.0.1:0"
    """host:port of the HTTP endpoint (/healthz, /metrics, /logs); port 0 picks a free one;
    None serves nothing."""
    remove_containers_on_stop: bool = False
    """Stop and remove this node's containers when the agent stops (`shoal up` does this)."""
