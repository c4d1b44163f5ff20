"""Leader election over the in-memory store: one controller leads, a follower takes over
within the lease time when it dies, a leader that lost its key cannot write, and a leader
cut off from etcd steps down before its lease runs out."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from controller.leader import LeaderElector, Leadership
from controller.settings import LeaderTimings
from controller.testing import Cluster
from core.clock import FakeClock
from core.errors import Unavailable
from core.memory_store import MemoryStore
from core.store import Compare, Op, TxnResult
from core.testing import wait_until
from schemas.states import TaskState

S = TaskState


def _all_bound_once(cluster: Cluster, names: Sequence[str]) -> bool:
    return all(len(cluster.bindings(n)) == 1 for n in names)


def test_one_controller_of_three_leads(cluster: Cluster) -> None:
    cluster.add_node("n1")
    for i in range(3):
        cluster.start_controller(identity=f"c{i}")
    leader = cluster.leader()
    cluster.apply("web")
    cluster.wait_state("web", S.Running)
    assert sum(c.leading for c in cluster.controllers) == 1
    assert cluster.store.get(cluster.keys.leader()).value == leader.identity.encode()  # type: ignore[union-attr]


def test_a_killed_leader_is_replaced_within_the_lease_time_and_no_task_is_bound_twice(
    cluster: Cluster,
) -> None:
    for i in range(3):
        cluster.add_node(f"n{i}")
    first = cluster.start_controller(identity="first", leader=LeaderTimings(1, 0.6, 0.1))
    cluster.leader()
    second = cluster.start_controller(identity="second", leader=LeaderTimings(1, 0.6, 0.1))
    before = [f"a{i}" for i in range(20)]
    for name in before:
        cluster.apply(name)
    cluster.wait(lambda: all(cluster.state(n) is S.Running for n in before), "all running")
    first_epoch = first.session.leadership.epoch  # type: ignore[union-attr]

    killed = time.monotonic()
    first.stop(release=False)  # as if the process died: the lease runs out on its own
    wait_until(lambda: second.leading, timeout=5.0, what="the follower to lead")
    took = time.monotonic() - killed
    assert took <= 1.0 + 0.5, f"took over after {took:.2f}s (lease 1s)"

    after = [f"b{i}" for i in range(20)]
    for name in after:
        cluster.apply(name)
    cluster.wait(lambda: all(cluster.state(n) is S.Running for n in after), "new ones running")
    cluster.settle()
    assert _all_bound_once(cluster, before + after)
    new_epoch = second.session.leadership.epoch  # type: ignore[union-attr]
    assert new_epoch > first_epoch
    for name in before:
        assert next(iter(cluster.bindings(name).values())).epoch == first_epoch  # left alone
    for name in after:
        assert next(iter(cluster.bindings(name).values())).epoch == new_epoch


def test_a_stopped_leader_hands_over_at_once(cluster: Cluster) -> None:
    first = cluster.start_controller(identity="first", leader=LeaderTimings(30, 20, 0.1))
    cluster.leader()
    second = cluster.start_controller(identity="second", leader=LeaderTimings(30, 20, 0.1))
    first.stop()  # releases its lease: the key goes, the follower's watch sees it
    wait_until(lambda: second.leading, timeout=3.0, what="the follower to lead")


class GatedStore(MemoryStore):
    """A MemoryStore whose calls can be made to fail, for one controller's point of view."""

    def __init__(self, inner: MemoryStore) -> None:
        self.__dict__ = inner.__dict__
        self.cut = threading.Event()

    def _gate(self) -> None:
        if self.cut.is_set():
            raise Unavailable("cut off (test)", maybe_applied=False)

    def keep_alive(self, lease_id: int) -> int:
        self._gate()
        return super().keep_alive(lease_id)

    def txn(
        self, compares: Sequence[Compare], on_success: Sequence[Op], on_failure: Sequence[Op] = ()
    ) -> TxnResult:
        if not on_success and not on_failure:
            self._gate()  # the leader's "is the key still mine?" check
        return super().txn(compares, on_success, on_failure)


def test_a_leader_that_lost_its_key_cannot_write(fake_cluster: Cluster) -> None:
    c = fake_cluster
    clock = c.clock
    assert isinstance(clock, FakeClock)
    c.add_node("n1")
    gated = GatedStore(c.store)
    timings = LeaderTimings(lease=10, renew=8, retry=1)
    from controller.manager import Controller

    stale = Controller(gated, c.keys, c.settings(identity="stale", leader=timings), clock=clock)
    c.controllers.append(stale)
    stale.start()
    wait_until(lambda: stale.leading, what="the first controller to lead")
    stale_epoch = stale.session.leadership.epoch  # type: ignore[union-attr]

    # Its renewals fail from now on (its writes still reach the store): the lease runs out,
    # and another controller takes over...
    gated.cut.set()
    fresh = c.start_controller(identity="fresh", leader=timings)
    clock.advance(11)
    wait_until(lambda: fresh.leading, what="the second controller to lead")
    # ...so whatever the stale one still tries to write is refused by the guard.
    c.apply("web")
    c.wait_state("web", S.Running)
    c.settle()
    wait_until(lambda: not stale.leading, what="the stale leader to step down")
    bindings = c.bindings("web")
    assert len(bindings) == 1
    assert next(iter(bindings.values())).epoch != stale_epoch


def test_a_leader_cut_off_from_etcd_steps_down_after_the_renew_deadline() -> None:
    clock = FakeClock()
    store = GatedStore(MemoryStore(clock))
    started: list[Leadership] = []
    stopped = threading.Event()

    def on_started(leadership: Leadership, lose: Any) -> None:
        started.append(leadership)

    elector = LeaderElector(
        store,
        "/t/leader",
        "me",
        LeaderTimings(lease=15, renew=10, retry=2),
        on_started=on_started,
        on_stopped=stopped.set,
        clock=clock,
    )
    elector.start()
    try:
        wait_until(lambda: elector.leadership is not None, what="leading")
        store.cut.set()
        for _ in range(4):  # 8 s without a renewal: still leading
            clock.advance(2)
            wait_until(lambda: clock.waiters > 0, what="the elector to wait again")
        assert not stopped.is_set()
        clock.advance(2.5)  # past the 10 s renew deadline, before the 15 s lease ends
        wait_until(stopped.is_set, what="the leader to step down")
        assert elector.leadership is None
        assert store.get("/t/leader") is not None  # it could not even give the key up
    finally:
        elector.stop()


def test_a_new_leader_carries_on_without_rewriting_what_is_settled(cluster: Cluster) -> None:
    cluster.add_node("n1")
    cluster.add_node("n2")
    first = cluster.start_controller(identity="first")
    names = [f"t{i}" for i in range(10)]
    for name in names:
        cluster.apply(name)
    cluster.wait(lambda: all(cluster.state(n) is S.Running for n in names), "all running")
    cluster.settle()

    def revisions() -> dict[str, int]:
        keys = cluster.keys
        found = {}
        for prefix in (keys.bindings(), keys.task_statuses(), keys.node_statuses()):
            found.update({kv.key: kv.mod_revision for kv in cluster.store.list(prefix).items})
        return found

    before = revisions()
    first.stop()
    second = cluster.start_controller(identity="second")
    wait_until(lambda: second.leading, what="the second controller to lead")
    cluster.settle()
    assert revisions() == before
