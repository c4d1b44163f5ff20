"""A task's life through the controller, with simulated agents over the in-memory store:
applied to Running and Completed, failed and restarted, stopped and started, deleted,
changed; every state written following the state machine, with its events."""

from __future__ import annotations

from controller.testing import Cluster
from core.testing import wait_until
from schemas.spec import DesiredState, PortSpec, Resources, RestartPolicy
from schemas.states import TaskState

S = TaskState


def test_a_task_applied_runs_then_completes(cluster: Cluster) -> None:
    agent = cluster.add_node("n1")
    controller = cluster.start_controller()
    cluster.apply("job", command=["sh", "-c", "exit 0"])

    running = cluster.wait_state("job", S.Running)
    assert running.node == "n1"
    assert running.containerId is not None and running.startTime is not None
    assert running.observedGeneration == 1
    binding = cluster.bindings("job")["n1"]
    session = controller.session
    assert session is not None
    assert binding.epoch == session.leadership.epoch
    assert binding.generation == 1 and binding.spec.command == ["sh", "-c", "exit 0"]

    agent.exit("default/job", 0)
    done = cluster.wait_state("job", S.Completed)
    assert (done.exitCode, done.reason) == (0, "Completed")
    cluster.wait(lambda: len(cluster.events("job")) == 3, "three events")
    assert cluster.transitions("job") == [
        ("Pending", "Scheduled"),
        ("Scheduled", "Running"),
        ("Running", "Completed"),
    ]
    assert [e.reason for e in cluster.events("job")] == ["Scheduled", "Started", "Completed"]
    placement = cluster.placement("job")
    assert placement is not None and placement.node == "n1"
    assert placement.message.startswith("placed on n1")


def test_a_task_with_no_node_is_pending_with_the_reason_then_placed_when_one_comes(
    cluster: Cluster,
) -> None:
    cluster.start_controller()
    cluster.apply("web")
    pending = cluster.wait_state("web", S.Pending)
    assert (pending.reason, pending.message) == ("Unschedulable", "0/0 nodes: no nodes")
    cluster.add_node("n1")
    assert cluster.wait_state("web", S.Running).node == "n1"
    assert cluster.transitions("web")[:2] == [("None", "Pending"), ("Pending", "Scheduled")]


def test_a_failure_then_a_restart_go_failed_scheduled_running(cluster: Cluster) -> None:
    agent = cluster.add_node("n1")
    cluster.start_controller()
    cluster.apply("flaky", restartPolicy=RestartPolicy.OnFailure)
    cluster.wait_state("flaky", S.Running)

    agent.exit("default/flaky", 1)
    failed = cluster.wait_state("flaky", S.Failed)
    assert (failed.exitCode, failed.reason, failed.message) == (1, "BackOff", "restarting in 10s")

    agent.run("default/flaky", restarts=1)
    running = cluster.wait_state("flaky", S.Running)
    assert running.restartCount == 1 and running.exitCode is None
    cluster.wait(lambda: len(cluster.transitions("flaky")) == 5, "five transitions")
    assert cluster.transitions("flaky")[2:] == [
        ("Running", "Failed"),
        ("Failed", "Scheduled"),
        ("Scheduled", "Running"),
    ]
    assert [e.reason for e in cluster.events("flaky")][2:] == ["BackOff", "Restarted", "Started"]


def test_an_engine_refusal_is_failed_with_its_reason(cluster: Cluster) -> None:
    agent = cluster.add_node("n1", auto=False)
    cluster.start_controller()
    cluster.apply("bad")
    cluster.wait(lambda: "default/bad" in agent.bindings, "the binding")
    agent.creating("default/bad")
    assert cluster.wait_state("bad", S.Scheduled).node == "n1"
    agent.fail_start("default/bad", "ImageNotFound", "no such image: nope:latest")
    failed = cluster.wait_state("bad", S.Failed)
    assert (failed.reason, failed.message) == ("ImageNotFound", "no such image: nope:latest")


def test_a_task_that_ended_for_good_keeps_its_binding_but_frees_its_node(
    cluster: Cluster,
) -> None:
    agent = cluster.add_node("n1", cpu=1)
    cluster.start_controller()
    cluster.apply("once", restartPolicy=RestartPolicy.Never, resources=Resources(cpu=1))
    cluster.wait_state("once", S.Running)
    cluster.apply("next", resources=Resources(cpu=1))
    assert cluster.wait_state("next", S.Pending).message == "0/1 nodes: 1 insufficient cpu"

    agent.exit("default/once", 3)
    failed = cluster.wait_state("once", S.Failed)
    assert (failed.reason, failed.exitCode) == ("Error", 3)
    assert set(cluster.bindings("once")) == {"n1"}  # the agent keeps the container for logs
    assert cluster.wait_state("next", S.Running).node == "n1"  # its room was given back


def test_stop_removes_the_binding_and_ends_completed_then_start_runs_it_again(
    cluster: Cluster,
) -> None:
    agent = cluster.add_node("n1")
    cluster.start_controller()
    cluster.apply("web")
    cluster.wait_state("web", S.Running)
    agent.hold_stops = True

    cluster.change("web", desiredState=DesiredState.Stopped)
    cluster.wait(lambda: not cluster.bindings("web"), "the binding removed")
    assert cluster.state("web") is S.Running  # until the agent has stopped the container
    agent.finish_stop("default/web")
    stopped = cluster.wait_state("web", S.Completed)
    assert (stopped.reason, stopped.message, stopped.node) == ("Stopped", "stopped", None)

    agent.hold_stops = False
    cluster.change("web", desiredState=DesiredState.Running)
    running = cluster.wait_state("web", S.Running)
    assert running.observedGeneration == 3
    cluster.wait(lambda: len(cluster.transitions("web")) == 5, "five transitions")
    assert cluster.transitions("web")[2:] == [
        ("Running", "Completed"),
        ("Completed", "Scheduled"),
        ("Scheduled", "Running"),
    ]


def test_a_pending_task_stopped_is_completed_at_once(cluster: Cluster) -> None:
    cluster.start_controller()
    cluster.apply("nowhere", desiredState=DesiredState.Stopped)
    stopped = cluster.wait_state("nowhere", S.Completed)
    assert stopped.reason == "Stopped"
    assert not cluster.bindings("nowhere")


def test_deleting_a_task_removes_its_binding_then_its_status_once_the_agent_stopped_it(
    cluster: Cluster,
) -> None:
    agent = cluster.add_node("n1")
    cluster.start_controller()
    cluster.apply("web")
    cluster.wait_state("web", S.Running)
    cluster.wait(lambda: cluster.placement("web") is not None, "the placement record")
    agent.hold_stops = True

    cluster.delete("web")
    cluster.wait(lambda: not cluster.bindings("web"), "the binding removed")
    assert cluster.status("web") is not None  # the container may still run
    agent.finish_stop("default/web")
    cluster.wait(lambda: cluster.status("web") is None, "the status removed")
    cluster.wait(lambda: cluster.placement("web") is None, "the placement record removed")


def test_a_spec_change_that_fits_replaces_the_task_on_its_node(cluster: Cluster) -> None:
    cluster.add_node("n1")
    cluster.add_node("n2")
    cluster.start_controller()
    cluster.apply("web", command=["httpd", "-f"])
    node = cluster.wait_state("web", S.Running).node
    assert node is not None

    cluster.change("web", command=["httpd", "-f", "-v"])
    cluster.wait(
        lambda: (b := cluster.bindings("web").get(node)) is not None and b.generation == 2,
        "the binding updated in place",
    )
    assert set(cluster.bindings("web")) == {node}
    assert cluster.bindings("web")[node].spec.command == ["httpd", "-f", "-v"]
    cluster.wait(
        lambda: (
            (s := cluster.status("web")) is not None
            and s.state is S.Running
            and s.observedGeneration == 2
        ),
        "generation 2 running",
    )
    cluster.wait(lambda: len(cluster.transitions("web")) == 5, "five transitions")
    assert cluster.transitions("web")[2:] == [
        ("Running", "Pending"),
        ("Pending", "Scheduled"),
        ("Scheduled", "Running"),
    ]


def test_a_spec_change_that_no_longer_fits_places_the_task_again(cluster: Cluster) -> None:
    cluster.add_node("small", labels={"size": "small"})
    cluster.add_node("big", labels={"size": "big"}, cpu=16)
    cluster.start_controller()
    cluster.apply("web", nodeSelector={"size": "small"})
    assert cluster.wait_state("web", S.Running).node == "small"

    cluster.change("web", nodeSelector={"size": "big"})
    cluster.wait(lambda: set(cluster.bindings("web")) == {"big"}, "the task moved to big")
    moved = cluster.wait_state("web", S.Running)
    assert (moved.node, moved.observedGeneration) == ("big", 2)
    reasons = [e.reason for e in cluster.events("web")]
    assert "SpecChanged" in reasons


def test_host_ports_reported_by_the_agent_show_in_the_status(cluster: Cluster) -> None:
    agent = cluster.add_node("n1", auto=False)
    cluster.start_controller()
    cluster.apply("web", ports=[PortSpec(containerPort=8080, hostPort=18080)])
    cluster.wait(lambda: "default/web" in agent.bindings, "the binding")
    agent.report(
        "default/web",
        state="Running",
        containerId="abc",
        hostPorts=[{"containerPort": 8080, "hostPort": 18080, "hostIP": "127.0.0.1"}],
    )
    running = cluster.wait_state("web", S.Running)
    assert [(p.containerPort, p.hostPort) for p in running.hostPorts] == [(8080, 18080)]


def test_a_report_that_vanishes_under_a_running_task_is_a_forbidden_transition(
    cluster: Cluster,
) -> None:
    agent = cluster.add_node("n1")
    controller = cluster.start_controller()
    cluster.apply("web")
    cluster.wait_state("web", S.Running)
    agent.finish_stop("default/web")  # the report goes while the binding stays: Running -> ?

    forbidden = controller.metrics.forbidden.labels("Running", "Scheduled")
    wait_until(lambda: forbidden._value.get() >= 1, what="the forbidden transition counted")
    cluster.settle()
    assert cluster.state("web") is S.Running  # not written
