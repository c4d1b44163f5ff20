"""The controller's settings and their defaults, in one place.

`shoal controller` builds a `ControllerSettings` from its flags; tests build one with short
leases and grace periods. No module reads the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LeaderTimings:
    """Leader election, with Kubernetes' defaults (seconds).

    The leader renews every `retry`; if it could not renew for `renew` seconds it steps down,
    before its `lease` can run out and a follower take over. Followers try every `retry`, and
    at once when they see the leader key deleted.
    """

    lease: int = 15
    renew: float = 10.0
    retry: float = 2.0

    def __post_init__(self) -> None:
        if self.lease < 1:
            raise ValueError(f"the leader lease must be at least 1 s, not {self.lease}")
        if not 0 < self.retry <= self.renew < self.lease:
            raise ValueError(
                "leader timings need 0 < retry <= renew < lease "
                f"(got retry {self.retry}, renew {self.renew}, lease {self.lease})"
            )


@dataclass(frozen=True)
class ControllerSettings:
    scheduler: str = "spread"
    """The scoring policy, one of `controller.scheduler.POLICIES`."""
    node_grace: float = 30.0
    """Seconds a node may be NotReady before its tasks are placed elsewhere."""
    workers: int = 2
    """Task reconcile workers."""
    leader: LeaderTimings = field(default_factory=LeaderTimings)
    identity: str | None = None
    """This controller's name in the leader key; None: host name, pid and a random suffix."""
    sample_size: int = 50
    full_scan_below: int = 100
    batch_size: int = 1000
    """Pending tasks placed in one scheduling pass, at most."""
    unschedulable_retry: float = 60.0
    """Seconds between retries of unschedulable tasks when nothing in the cluster changed."""
    unschedulable_debounce: float = 0.5
    """After a change in the cluster (node, capacity, bindings), unschedulable tasks are tried
    again this many seconds after the previous try, at the earliest."""
    resync: float = 300.0
    """Seconds between full resyncs (every task and node reconciled again)."""
    node_status_delay: float = 5.0
    """A node's allocated resources are written at most this often."""
    event_ttl: int = 3600
    """Seconds TaskEvents live (their lease's TTL)."""
    seed: int | None = None
    """Seed of the scheduler's random generator (tests); None: random."""
    freeze_gc: bool = False
    """After a new leader has listed everything, move what it holds out of the cyclic
    garbage collector's sight (`gc.freeze()`): tens of thousands of cached models would
    otherwise be traversed by every full collection. A process-wide choice, so only the
    `shoal controller` command makes it."""

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, not {self.workers}")
        if self.node_grace < 0:
            raise ValueError(f"node grace must not be negative, not {self.node_grace}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, not {self.batch_size}")
