"""TaskSpec: what a person asks to run (image, command, resources, ports, health check, policy)."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict

from schemas.base import ManifestModel
from schemas.fields import Bytes, Cores, EnvMap, Image, Labels, NonNegativeInt, Port, PositiveInt

__all__ = [
    "DesiredState",
    "ExecAction",
    "HealthCheck",
    "HttpGetAction",
    "PortProtocol",
    "PortSpec",
    "Resources",
    "RestartPolicy",
    "TaskSpec",
    "TcpSocketAction",
]

PortProtocol = Literal["tcp", "udp"]


class Resources(ManifestModel):
    """CPU in cores, memory and disk in bytes; quantities such as ``64Mi`` are normalised.

    ``Resources(memory="64Mi") == Resources(memory=67108864)``. Also used for a node's capacity
    and for what is allocated on it.
    """

    cpu: Cores = 0.0
    memory: Bytes = 0
    disk: Bytes = 0

    def fits_in(self, other: Resources) -> bool:
        """True when every amount here is at most the same amount in ``other``."""
        return self.cpu <= other.cpu and self.memory <= other.memory and self.disk <= other.disk

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            cpu=self.cpu + other.cpu,
            memory=self.memory + other.memory,
            disk=self.disk + other.disk,
        )


def _ip_address(text: str) -> str:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None
    return text


HostIP = Annotated[
    str,
    AfterValidator(_ip_address),
    WithJsonSchema({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}),
]


class PortSpec(ManifestModel):
    """A port the container listens on, and optionally the host port that forwards to it."""

    containerPort: Port
    hostPort: Port | None = None
    protocol: PortProtocol = "tcp"
    hostIP: HostIP | None = None
    """The host address to bind; when absent, every address (Docker's default)."""


def _absolute(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"{path!r} is not a valid path: it must start with '/'")
    return path


class HttpGetAction(ManifestModel):
    """Healthy when ``GET http://<container>:port/path`` answers 200-399."""

    path: Annotated[
        str, AfterValidator(_absolute), WithJsonSchema({"type": "string", "pattern": "^/"})
    ] = "/"
    port: Port


class TcpSocketAction(ManifestModel):
    """Healthy when a TCP connection to the port opens."""

    port: Port


class ExecAction(ManifestModel):
    """Healthy when the command, run inside the container, exits 0."""

    command: list[str] = Field(min_length=1)


_EXACTLY_ONE_PROBE: JsonDict = {
    "oneOf": [
        {"required": [probe], "properties": {probe: {"type": "object"}}}
        for probe in ("httpGet", "tcpSocket", "exec")
    ]
}


class HealthCheck(ManifestModel):
    """How the agent checks a running container: exactly one of httpGet, tcpSocket, exec.

    After ``initialDelaySeconds`` it probes every ``periodSeconds``, allowing
    ``timeoutSeconds`` per probe; ``failureThreshold`` failures in a row make the container
    unhealthy, and the agent restarts it as the restart policy allows.
    """

    model_config = ConfigDict(json_schema_extra=_EXACTLY_ONE_PROBE)

    httpGet: HttpGetAction | None = None
    tcpSocket: TcpSocketAction | None = None
    exec: ExecAction | None = None
    periodSeconds: PositiveInt = 10
    timeoutSeconds: PositiveInt = 1
    failureThreshold: PositiveInt = 3
    initialDelaySeconds: NonNegativeInt = 0

    @model_validator(mode="after")
    def _exactly_one_probe(self) -> HealthCheck:
        probes = [p for p in (self.httpGet, self.tcpSocket, self.exec) if p is not None]
        if len(probes) != 1:
            found = "none" if not probes else f"{len(probes)}"
            raise ValueError(
                f"a health check needs exactly one of httpGet, tcpSocket or exec (found {found})"
            )
        return self

    @property
    def port(self) -> int | None:
        """The port probed by httpGet or tcpSocket; None for exec."""
        probe = self.httpGet or self.tcpSocket
        return probe.port if probe is not None else None


class RestartPolicy(StrEnum):
    """When the agent starts a container again after it exits.

    The default is ``OnFailure``, not Kubernetes' ``Always`` for Pods: a Shoal task may be a
    job that runs to completion (as a Kubernetes Job's Pod, whose policy must be OnFailure or
    Never), so a task that exits 0 is ``Completed`` and stays so, and one that fails is
    restarted. Long-running services say ``Always``.
    """

    Always = "Always"
    OnFailure = "OnFailure"
    Never = "Never"


class DesiredState(StrEnum):
    """``Stopped`` keeps the task but stops its container (``shoal stop``); ``Running`` runs it."""

    Running = "Running"
    Stopped = "Stopped"


def _duplicates(ports: list[PortSpec]) -> list[str]:
    problems: list[str] = []
    container: dict[tuple[int, str], int] = {}
    host: dict[tuple[int, str], int] = {}
    for index, port in enumerate(ports):
        key = (port.containerPort, port.protocol)
        if key in container:
            problems.append(
                f"ports[{index}] repeats containerPort {key[0]}/{key[1]} of ports[{container[key]}]"
            )
        container.setdefault(key, index)
        if port.hostPort is not None:
            key = (port.hostPort, port.protocol)
            if key in host:
                problems.append(
                    f"ports[{index}] repeats hostPort {key[0]}/{key[1]} of ports[{host[key]}]"
                )
            host.setdefault(key, index)
    return problems


class TaskSpec(ManifestModel):
    """The desired container: what to run, with what, and how to keep it running."""

    image: Image
    command: list[str] | None = None
    """Replaces the image's entrypoint; when absent (or null) the image's own is used."""
    args: list[str] | None = None
    """Replaces the image's default arguments; when absent (or null) the image's own are used."""
    env: EnvMap = Field(default_factory=dict)
    resources: Resources = Field(default_factory=Resources)
    ports: list[PortSpec] = Field(default_factory=list)
    restartPolicy: RestartPolicy = RestartPolicy.OnFailure
    healthCheck: HealthCheck | None = None
    nodeSelector: Labels = Field(default_factory=dict)
    desiredState: DesiredState = DesiredState.Running

    @field_validator("ports")
    @classmethod
    def _unique_ports(cls, ports: list[PortSpec]) -> list[PortSpec]:
        problems = _duplicates(ports)
        if problems:
            raise ValueError("; ".join(problems))
        return ports
