"""What `shoal describe` prints: one object in full, for a person, as kubectl describe does.

Pure text builders: the command reads the keys and hands the models in. A task shows its
metadata, spec, status, the scheduler's last verdict (chosen node, how many nodes were
feasible, rejections by reason with counts, the scores) and its recent events; a node its
capacity and allocation, its metrics and the tasks bound to it; a sync its last pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from schemas.binding import Binding, TaskReport
from schemas.events import TaskEvent
from schemas.node import Node, NodeInfo
from schemas.placement import Placement
from schemas.spec import HealthCheck, Resources
from schemas.task import Task, TaskStatus
from shoal import formatting as fmt
from shoal.sync_status import SyncRecord, display_state
from shoal.tables import format_rows

EVENTS_SHOWN = 20


class Lines:
    """Aligned `Key: value` lines in sections."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def field(self, key: str, value: object, indent: int = 0, width: int = 20) -> None:
        label = f"{' ' * indent}{key}:"
        self.lines.append(f"{label:<{width + indent}} {value}".rstrip())

    def heading(self, text: str) -> None:
        self.lines.append(f"{text}:")

    def extend(self, lines: Sequence[str]) -> None:
        self.lines.extend(lines)

    def text(self) -> str:
        return "\n".join(self.lines)


def resources(r: Resources) -> str:
    return f"cpu {fmt.cores(r.cpu)}, memory {fmt.size(r.memory)}, disk {fmt.size(r.disk)}"


def health(check: HealthCheck | None) -> str:
    if check is None:
        return fmt.NONE
    if check.httpGet is not None:
        probe = f"http-get :{check.httpGet.port}{check.httpGet.path}"
    elif check.tcpSocket is not None:
        probe = f"tcp-socket :{check.tcpSocket.port}"
    else:
        assert check.exec is not None
        probe = f"exec {fmt.command_line(check.exec.command)}"
    return (
        f"{probe} every {check.periodSeconds}s, timeout {check.timeoutSeconds}s, "
        f"unhealthy after {check.failureThreshold} failures, delay {check.initialDelaySeconds}s"
    )


def describe_task(
    task: Task,
    placement: Placement | None,
    events: Sequence[TaskEvent],
    now: datetime,
) -> str:
    out = Lines()
    meta, spec = task.metadata, task.spec
    status = task.status or TaskStatus()
    out.field("Name", meta.name)
    out.field("Namespace", meta.namespace)
    out.field("Labels", fmt.labels(meta.labels))
    out.field("Annotations", fmt.labels(meta.annotations))
    out.field("UID", meta.uid or fmt.NONE)
    out.field("Generation", meta.generation or fmt.NONE)
    out.field("Resource version", meta.resourceVersion or fmt.NONE)
    out.field("Created", fmt.when(meta.creationTimestamp, now))
    out.heading("Spec")
    out.field("Image", spec.image, 2)
    out.field("Command", fmt.command_line(spec.command), 2)
    out.field("Args", fmt.command_line(spec.args), 2)
    out.field("Env", fmt.labels(spec.env), 2)
    out.field("Resources", resources(spec.resources), 2)
    out.field("Ports", fmt.spec_ports(spec.ports), 2)
    out.field("Restart policy", spec.restartPolicy.value, 2)
    out.field("Health check", health(spec.healthCheck), 2)
    out.field("Node selector", fmt.labels(spec.nodeSelector), 2)
    out.field("Desired state", spec.desiredState.value, 2)
    out.heading("Status")
    out.field("State", status.state.value, 2)
    out.field("Node", status.node or fmt.NONE, 2)
    out.field("Reason", status.reason or fmt.NONE, 2)
    out.field("Message", status.message or fmt.NONE, 2)
    out.field("Container", status.containerId or fmt.NONE, 2)
    out.field("Host ports", fmt.bound_ports(status.hostPorts), 2)
    out.field("Started", fmt.when(status.startTime, now), 2)
    out.field("Finished", fmt.when(status.finishTime, now), 2)
    out.field("Exit code", fmt.NONE if status.exitCode is None else status.exitCode, 2)
    out.field("Restarts", status.restartCount, 2)
    out.field("Observed generation", status.observedGeneration or fmt.NONE, 2)
    out.extend(placement_lines(placement, now))
    out.extend(event_lines(events, now))
    return out.text()


def placement_lines(placement: Placement | None, now: datetime) -> list[str]:
    out = Lines()
    out.heading("Placement")
    if placement is None:
        out.lines.append("  <none: the scheduler has not looked at this task yet>")
        return out.lines
    out.field("Node", placement.node or "<none: it fits on no node>", 2)
    out.field(
        "Decided", f"{fmt.when(placement.time, now)} for generation {placement.generation}", 2
    )
    out.field("Scheduler", placement.scheduler, 2)
    out.field("Message", placement.message, 2)
    out.field(
        "Feasible",
        f"{placement.nodesFeasible}/{placement.nodesTotal} nodes ({placement.nodesScored} scored)",
        2,
    )
    if placement.rejected:
        out.lines.append("  Rejected:")
        rows = [
            [r.reason, str(r.count), ", ".join(r.nodes) + (" …" if r.count > len(r.nodes) else "")]
            for r in sorted(placement.rejected, key=lambda r: -r.count)
        ]
        out.extend(format_rows(["REASON", "NODES", "FOR EXAMPLE"], rows, indent=4))
    if placement.scores:
        out.lines.append("  Scores:")
        rows = [
            [
                s.node,
                f"{s.score:.3f}",
                ", ".join(f"{k}={v:.3f}" for k, v in sorted(s.parts.items())) or fmt.NONE,
            ]
            for s in placement.scores
        ]
        out.extend(format_rows(["NODE", "SCORE", "PARTS"], rows, indent=4))
    return out.lines


def event_lines(events: Sequence[TaskEvent], now: datetime) -> list[str]:
    recent = sorted(events, key=lambda e: e.time)[-EVENTS_SHOWN:]
    if not recent:
        return ["Events:               <none>"]
    rows = []
    for e in recent:
        change = f"{e.fromState} -> {e.toState}" if e.fromState and e.toState else ""
        count = f" (x{e.count})" if e.count > 1 else ""
        rows.append([e.type.value, e.reason, fmt.age(e.time, now), change, e.message + count])
    return ["Events:", *format_rows(["TYPE", "REASON", "AGE", "STATE", "MESSAGE"], rows, indent=2)]


def describe_node(
    node: Node,
    info: NodeInfo | None,
    tasks: Sequence[tuple[Binding, TaskStatus | None, TaskReport | None]],
    now: datetime,
) -> str:
    out = Lines()
    status = node.status
    out.field("Name", node.metadata.name)
    out.field("Labels", fmt.labels(node.metadata.labels))
    out.field("Address", status.address or fmt.NONE)
    out.field("Agent", (info.agentUrl if info else None) or fmt.NONE)
    out.field("Runtime", status.runtime or fmt.NONE)
    out.field("Version", status.version or fmt.NONE)
    out.field("Agent started", fmt.when(info.startedAt if info else None, now))
    ready = "Ready" if status.ready else "NotReady"
    out.field("Status", f"{ready} since {fmt.when(status.since, now)}")
    out.field("Reason", status.reason or fmt.NONE, 2)
    out.field("Message", status.message or fmt.NONE, 2)
    out.heading("Resources")
    cap, alloc = status.capacity, status.allocated
    out.extend(
        format_rows(
            ["RESOURCE", "CAPACITY", "ALLOCATED", "USED%"],
            [
                ["cpu", fmt.cores(cap.cpu), fmt.cores(alloc.cpu), fmt.percent(alloc.cpu, cap.cpu)],
                [
                    "memory",
                    fmt.size(cap.memory),
                    fmt.size(alloc.memory),
                    fmt.percent(alloc.memory, cap.memory),
                ],
                [
                    "disk",
                    fmt.size(cap.disk),
                    fmt.size(alloc.disk),
                    fmt.percent(alloc.disk, cap.disk),
                ],
            ],
            indent=2,
        )
    )
    m = status.metrics
    if m is None:
        out.field("Metrics", fmt.NONE)
    else:
        out.heading(f"Metrics (read {fmt.age(m.timestamp, now)} ago)")
        out.field("CPU", f"{m.cpuPercent:.1f}% busy", 2)
        used = m.memoryTotal - m.memoryAvailable
        out.field(
            "Memory",
            f"{fmt.size(used)} used of {fmt.size(m.memoryTotal)} "
            f"({fmt.percent(used, m.memoryTotal)}), {fmt.size(m.memoryAvailable)} available",
            2,
        )
        used = m.diskTotal - m.diskAvailable
        out.field(
            "Disk",
            f"{fmt.size(used)} used of {fmt.size(m.diskTotal)} "
            f"({fmt.percent(used, m.diskTotal)}), {fmt.size(m.diskAvailable)} available",
            2,
        )
        out.field("Load", f"{m.load1:.2f} {m.load5:.2f} {m.load15:.2f} (1, 5, 15 minutes)", 2)
    if not tasks:
        out.field("Tasks", fmt.NONE)
        return out.text()
    out.heading(f"Tasks ({len(tasks)} bound)")
    rows = []
    for binding, task_status, report in tasks:
        rows.append(
            [
                binding.namespace,
                binding.name,
                task_status.state.value if task_status else fmt.NONE,
                report.state.value if report else fmt.NONE,
                fmt.cores(binding.spec.resources.cpu),
                fmt.size(binding.spec.resources.memory),
                str(binding.generation),
            ]
        )
    headers = ["NAMESPACE", "NAME", "STATE", "CONTAINER", "CPU", "MEMORY", "GEN"]
    out.extend(format_rows(headers, rows, indent=2))
    return out.text()


def describe_sync(record: SyncRecord, now: datetime) -> str:
    out = Lines()
    spec, status = record.spec, record.status
    out.field("Name", record.metadata.name)
    out.field("Directory", spec.directory)
    out.field("Running on", f"{spec.host}, pid {spec.pid}")
    out.field("Interval", f"{spec.interval:g}s")
    out.field("Prune", "yes" if spec.prune else "no")
    out.field("Status", display_state(record, now))
    out.field("Started", fmt.when(status.startedAt, now))
    if status.stoppedAt:
        out.field("Stopped", fmt.when(status.stoppedAt, now))
    out.field(
        "Last run",
        f"{fmt.when(status.lastRun, now)}, {status.lastRunSeconds:.2f}s, after {status.trigger}",
    )
    out.field("Last change", fmt.when(status.lastChange, now))
    out.field("Files", status.files)
    out.field("Tasks", status.tasks)
    c = status.counts
    out.field(
        "Last pass",
        f"{c.created} created, {c.configured} configured, {c.unchanged} unchanged, "
        f"{c.pruned} pruned",
    )
    out.heading("Last changes")
    out.extend([f"  {line}" for line in status.lastChanges] or ["  <none>"])
    out.heading("Problems")
    problems = [p for problem in status.errors for p in problem.splitlines()]
    out.extend([f"  {line}" for line in problems] or ["  <none>"])
    return out.text()
