"""The node reconciler: Ready or NotReady, since when, and what is allocated there.

A node's info key lives on its agent's lease, so it disappears when the agent stops renewing:

- info present: the node is Ready (`/shoal/status/nodes/<node>`, with what its bindings
  allocate, written at most every `node_status_delay` seconds as it changes);
- info gone: NotReady at once (reason NodeLost); the scheduler no longer places tasks there.
  After `grace` seconds its tasks are handed to their reconcilers, which place them elsewhere
  (or, under restartPolicy Never, mark them Failed); a node with no bindings left and no info
  for the grace period has its status removed;
- info back: Ready again. Its agent finds no bindings for the tasks that moved away and removes
  their containers (that is the agent's side of the contract).
"""

from __future__ import annotations

import logging

from controller.allocations import MICRO
from controller.cluster import ClusterState
from controller.committing import Committer
from core.clock import Clock, SystemClock
from core.reconciling import Result
from core.workqueue import WorkQueue
from schemas.node import NodeStatus
from schemas.spec import Resources

log = logging.getLogger("controller.nodes")

__all__ = ["NodeReconciler"]


class NodeReconciler:
    def __init__(
        self,
        state: ClusterState,
        committer: Committer,
        tasks: WorkQueue[str],
        *,
        grace: float,
        clock: Clock | None = None,
    ) -> None:
        self.state = state
        self.committer = committer
        self.tasks = tasks
        self.grace = grace
        self._clock = clock or SystemClock()

    def reconcile(self, node: str) -> Result:
        now = self._clock.now()
        state = self.state
        with state.locked():
            info = state.infos.get(node)
            status = state.node_statuses.get(node)
            bound = sorted(state.tasks_on(node))
            use = state.node_use(node)
            allocated = Resources.model_construct(
                cpu=use.cpu / MICRO, memory=use.memory, disk=use.disk
            )
            if info is not None:
                if status is not None and status.ready:
                    target = status.model_copy(update={"allocated": allocated})
                else:
                    message = f"agent {info.version} registered ({info.runtime})"
                    target = NodeStatus(
                        ready=True,
                        since=now,
                        reason="AgentRegistered",
                        message=message,
                        allocated=allocated,
                    )
                    log.info("node %s: Ready (AgentRegistered): %s", node, message)
                self._write(node, status, target)
                return Result.done()
            if status is None and not bound:
                state.forget_node(node)  # came and went before it was ever written Ready
                return Result.done()
            if status is None or status.ready:
                message = (
                    f"its agent's registration is gone (stopped, or its lease expired); "
                    f"its tasks move after {self.grace:g}s"
                )
                target = NodeStatus(
                    ready=False, since=now, reason="NodeLost", message=message, allocated=allocated
                )
                log.warning("node %s: NotReady (NodeLost): %s", node, message)
                self._write(node, status, target)
                return Result.again(self.grace)
            lost_for = (now - status.since).total_seconds()
            if lost_for < self.grace:
                self._write(node, status, status.model_copy(update={"allocated": allocated}))
                return Result.again(self.grace - lost_for)
            if not bound:
                log.info(
                    "node %s: gone for %.0fs with no tasks left; status removed", node, lost_for
                )
                self.committer.submit([state.delete_node_status(node)])
                return Result.done()
            self._write(node, status, status.model_copy(update={"allocated": allocated}))
        log.info("node %s: NotReady for %.0fs: moving its %d task(s)", node, lost_for, len(bound))
        self.tasks.add_all(bound)
        return Result.done()

    def _write(self, node: str, current: NodeStatus | None, target: NodeStatus) -> None:
        if target != current:
            self.committer.submit([self.state.put_node_status(node, target)])
