"""The controller with the real node agents over the in-memory store, each on a FakeRuntime:
the contract between them, end to end without Docker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.fake_runtime import FakeRuntime
from agent.node_agent import NodeAgent
from agent.runtime import LABEL_TASK
from agent.testing import start_agent
from controller.testing import Cluster
from schemas.spec import DesiredState, RestartPolicy
from schemas.states import TaskState

S = TaskState


@pytest.fixture
def runtimes(cluster: Cluster) -> Iterator[dict[str, FakeRuntime]]:
    runtimes = {name: FakeRuntime() for name in ("n1", "n2")}
    agents: list[NodeAgent] = [
        start_agent(cluster.store, cluster.keys, runtime, name, listen=None)
        for name, runtime in runtimes.items()
    ]
    try:
        yield runtimes
    finally:
        for agent in agents:
            agent.stop()


def containers(runtimes: dict[str, FakeRuntime], task: str) -> list[str]:
    found = []
    for name, runtime in runtimes.items():
        for info in runtime.list({LABEL_TASK: f"default/{task}"}):
            if info.state in ("running", "created", "restarting"):
                found.append(name)
    return found


def test_a_task_runs_fails_restarts_stops_and_goes_with_the_real_agents(
    cluster: Cluster, runtimes: dict[str, FakeRuntime]
) -> None:
    cluster.start_controller()
    cluster.wait(lambda: len(list(cluster.store.list(cluster.keys.nodes()).items)) >= 2, "nodes")
    cluster.apply("web", command=["httpd", "-f"], restartPolicy=RestartPolicy.OnFailure)
    running = cluster.wait_state("web", S.Running)
    node = running.node
    assert node in runtimes and running.containerId is not None
    assert containers(runtimes, "web") == [node]

    assert node is not None
    runtimes[node].kill(running.containerId, exit_code=1)
    cluster.wait(
        lambda: (
            (s := cluster.status("web")) is not None
            and s.state is S.Running
            and s.restartCount >= 1
        ),
        "restarted",
    )
    cluster.wait(lambda: len(cluster.transitions("web")) >= 5, "the restart's transitions")
    assert cluster.transitions("web")[2:5] == [
        ("Running", "Failed"),
        ("Failed", "Scheduled"),
        ("Scheduled", "Running"),
    ]

    cluster.change("web", desiredState=DesiredState.Stopped)
    stopped = cluster.wait_state("web", S.Completed)
    assert stopped.reason == "Stopped"
    cluster.wait(lambda: containers(runtimes, "web") == [], "the container stopped")

    cluster.delete("web")
    cluster.wait(lambda: cluster.status("web") is None, "the status removed")


def test_a_job_completes_with_the_real_agents(
    cluster: Cluster, runtimes: dict[str, FakeRuntime]
) -> None:
    for runtime in runtimes.values():
        runtime.script_exit("job-image", 0, after=0.05)
    cluster.start_controller()
    cluster.apply("job", image="job-image", restartPolicy=RestartPolicy.OnFailure)
    done = cluster.wait_state("job", S.Completed)
    assert (done.exitCode, done.reason) == (0, "Completed")
    transitions = cluster.transitions("job")
    assert transitions[0] == ("Pending", "Scheduled") and transitions[-1][1] == "Completed"
