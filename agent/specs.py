"""From a binding to a container: names, labels, and the `ContainerSpec` the runtime runs.

Container names are `shoal_<node>_<namespace>_<name>`: unique per node, so several agents can
share one engine (`shoal up --nodes 3`) and a task moving between them never clashes with its
old container. Underscores cannot occur in DNS names, so a name parses back unambiguously.

Labels (DESIGN.md's contract): `shoal.task=<ns>/<name>`, `shoal.node=<node>`,
`shoal.generation=<n>`; and for the agent's own memory across restarts, `shoal.uid` (a task
deleted and created again under the same name is another task), `shoal.restarts` (restarts made
for this generation) and `shoal.backoff` (the back-off step the container was started at).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agent.runtime import (
    LABEL_GENERATION,
    LABEL_NODE,
    LABEL_TASK,
    ContainerInfo,
    ContainerSpec,
    PortBinding,
)
from schemas.binding import Binding

LABEL_UID = "shoal.uid"
LABEL_RESTARTS = "shoal.restarts"
LABEL_BACKOFF = "shoal.backoff"

STOP_TIMEOUT = 2  # seconds between SIGTERM and SIGKILL (containers run under docker-init)


def container_name(node: str, namespace: str, name: str) -> str:
    return f"shoal_{node}_{namespace}_{name}"


def node_selector(node: str) -> dict[str, str]:
    """The labels that select every container this node's agent owns."""
    return {LABEL_NODE: node}


@dataclass(frozen=True)
class Identity:
    """What a container's labels say it runs, and at which restart."""

    key: str
    uid: str
    generation: int
    restarts: int
    backoff: int

    @classmethod
    def of(cls, info: ContainerInfo) -> Identity | None:
        """None when the container lacks Shoal's labels (not ours to judge)."""
        labels = info.labels
        key = labels.get(LABEL_TASK)
        if not key:
            return None
        return cls(
            key=key,
            uid=labels.get(LABEL_UID, ""),
            generation=_int(labels, LABEL_GENERATION),
            restarts=_int(labels, LABEL_RESTARTS),
            backoff=_int(labels, LABEL_BACKOFF),
        )

    def runs(self, binding: Binding) -> bool:
        """True when the container was made from this binding's task and generation."""
        return self.uid == binding.uid and self.generation == binding.generation


def _int(labels: Mapping[str, str], name: str) -> int:
    try:
        return max(0, int(labels.get(name, "0")))
    except ValueError:
        return 0


def container_spec(
    binding: Binding, node: str, host_ip: str, *, restarts: int = 0, backoff: int = 0
) -> ContainerSpec:
    """The container for `binding` on `node`, its ports published on `host_ip` by default.

    The task's `command` replaces the image's entrypoint and `args` its Cmd, as in Kubernetes.
    """
    spec = binding.spec
    labels = {
        LABEL_TASK: binding.key,
        LABEL_NODE: node,
        LABEL_GENERATION: str(binding.generation),
        LABEL_UID: binding.uid,
        LABEL_RESTARTS: str(restarts),
        LABEL_BACKOFF: str(backoff),
    }
    ports = [
        PortBinding(p.containerPort, p.hostPort or 0, p.protocol, p.hostIP or host_ip)
        for p in spec.ports
        if p.hostPort is not None
    ]
    return ContainerSpec(
        name=container_name(node, binding.namespace, binding.name),
        image=spec.image,
        entrypoint=list(spec.command) if spec.command is not None else None,
        command=list(spec.args) if spec.args is not None else None,
        env=dict(spec.env),
        labels=labels,
        cpu=spec.resources.cpu,
        memory=spec.resources.memory,
        ports=ports,
        stop_timeout=STOP_TIMEOUT,
    )
