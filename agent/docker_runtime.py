"""`DockerRuntime`: the `Runtime` protocol over the Docker SDK. The only module importing docker.

A thin adapter: every SDK call goes through `_calling()`, whose one function `translate_error` maps
docker and requests errors onto `agent.runtime`'s; no docker exception leaves this module. What
it does beyond passing calls on, each learnt on these machines (see FIELD-NOTES):

- containers run with `init=True`, so `stop` does not wait out the timeout on a PID 1 that
  ignores SIGTERM;
- ports bind to an explicit host IP (`DEFAULT_HOST_IP` unless the spec gives one);
- a container whose start fails ("port is already allocated") is removed, not left in Created;
- images are never pulled: a missing one is `ImageNotFound`;
- memory limits also cap swap, so a task over its limit is OOM-killed rather than swapping.
"""

from __future__ import annotations

import builtins
import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import docker
import docker.errors
import requests.exceptions

from agent.runtime import (
    DEFAULT_HOST_IP,
    EVENT_ACTIONS,
    ContainerConflict,
    ContainerInfo,
    ContainerNotFound,
    ContainerSpec,
    ContainerState,
    ExecTimeout,
    ImageNotFound,
    PortBinding,
    RuntimeEvent,
    RuntimeFailure,
    RuntimeInfo,
    RuntimeUnavailable,
    StartFailed,
)

DEFAULT_BASE_URL = "unix:///var/run/docker.sock"
DEFAULT_TIMEOUT = 30.0  # seconds per API call (stop adds its own timeout on top)

# Attributes of a container event that are not the container's labels.
_EVENT_ATTRIBUTES = frozenset({"name", "image", "exitCode", "signal"})

T = TypeVar("T")


def translate_error(exc: Exception) -> RuntimeFailure:
    """The one place docker and requests errors become ours."""
    if isinstance(exc, RuntimeFailure):
        return exc
    if isinstance(exc, docker.errors.ImageNotFound):
        return ImageNotFound(_message(exc))
    if isinstance(exc, docker.errors.NotFound):
        return ContainerNotFound(_message(exc))
    if isinstance(exc, docker.errors.APIError):
        if exc.status_code == 409:
            return ContainerConflict(_message(exc))
        return RuntimeFailure(_message(exc))
    if isinstance(exc, requests.exceptions.RequestException | ConnectionError | TimeoutError):
        return RuntimeUnavailable(f"Docker engine unreachable: {exc}")
    if isinstance(exc, docker.errors.DockerException):
        # Raised e.g. when the client cannot fetch the API version because nobody answers.
        return RuntimeUnavailable(f"Docker engine unreachable: {exc}")
    return RuntimeFailure(f"Docker: {type(exc).__name__}: {exc}")


def _message(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation) if explanation else str(exc)


class DockerRuntime:
    """A Docker engine reached over its API socket. Thread-safe (the SDK client is)."""

    def __init__(
        self,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        default_host_ip: str = DEFAULT_HOST_IP,
    ) -> None:
        self._base_url = base_url or DEFAULT_BASE_URL
        self._timeout = timeout
        self._default_host_ip = default_host_ip
        self._lock = threading.Lock()
        self._api_client: Any = None  # created on first use: the engine may not be up yet

    # --- plumbing ---------------------------------------------------------------------------

    def _api(self) -> Any:
        with self._lock:
            if self._api_client is None:
                self._api_client = _calling(
                    lambda: docker.APIClient(
                        base_url=self._base_url, version="auto", timeout=self._timeout
                    )
                )
            return self._api_client

    def close(self) -> None:
        with self._lock:
            if self._api_client is not None:
                self._api_client.close()
                self._api_client = None

    # --- the protocol -----------------------------------------------------------------------

    def ping(self) -> None:
        _calling(lambda: self._api().ping())

    def info(self) -> RuntimeInfo:
        raw = _calling(lambda: self._api().info())
        return RuntimeInfo(
            name="docker",
            version=str(raw.get("ServerVersion", "")),
            data_root=str(raw.get("DockerRootDir", "")),
            cpus=int(raw.get("NCPU", 0)),
            memory=int(raw.get("MemTotal", 0)),
        )

    def inspect(self, id_or_name: str) -> ContainerInfo:
        return container_info(_calling(lambda: self._api().inspect_container(id_or_name)))

    def list(self, label_selector: Mapping[str, str]) -> builtins.list[ContainerInfo]:
        filters = {"label": [f"{k}={v}" for k, v in label_selector.items()]}
        summaries = _calling(lambda: self._api().containers(all=True, filters=filters))
        infos = []
        for summary in summaries:
            try:
                infos.append(self.inspect(summary["Id"]))
            except ContainerNotFound:
                continue  # removed between the list and the inspect
        return infos

    def create_and_start(self, spec: ContainerSpec) -> ContainerInfo:
        api = self._api()
        host_config = _calling(lambda: api.create_host_config(**self._host_config(spec)))
        created = _calling(
            lambda: api.create_container(
                image=spec.image,
                command=list(spec.command) if spec.command is not None else None,
                entrypoint=list(spec.entrypoint) if spec.entrypoint is not None else None,
                name=spec.name,
                labels=dict(spec.labels),
                environment=dict(spec.env),
                ports=[(p.container_port, p.protocol) for p in spec.ports],
                host_config=host_config,
                stop_timeout=spec.stop_timeout,
                detach=True,
            )
        )
        container_id = str(created["Id"])
        try:
            _calling(lambda: api.start(container_id))
        except RuntimeFailure as exc:
            self.remove(container_id, force=True)
            if isinstance(exc, RuntimeUnavailable):
                raise
            raise StartFailed(str(exc)) from exc
        return self.inspect(container_id)

    def _host_config(self, spec: ContainerSpec) -> dict[str, Any]:
        bindings: dict[str, builtins.list[tuple[str, int | None]]] = {}
        for port in spec.ports:
            key = f"{port.container_port}/{port.protocol}"
            host_ip = port.host_ip or self._default_host_ip
            bindings.setdefault(key, []).append((host_ip, port.host_port or None))
        config: dict[str, Any] = {"init": True, "port_bindings": bindings}
        if spec.memory > 0:
            config["mem_limit"] = spec.memory
            config["memswap_limit"] = spec.memory
        if spec.cpu > 0:
            config["nano_cpus"] = round(spec.cpu * 1e9)
        return config

    def stop(self, id_or_name: str, timeout: int | None = None) -> None:
        _calling(lambda: self._api().stop(id_or_name, timeout=timeout))

    def remove(self, id_or_name: str, force: bool = True) -> None:
        try:
            _calling(lambda: self._api().remove_container(id_or_name, force=force, v=True))
        except ContainerNotFound:
            pass
        except ContainerConflict as exc:
            if "already in progress" not in str(exc):
                raise

    def logs(
        self, id_or_name: str, tail: int | None = None, follow: bool = False
    ) -> Iterator[bytes]:
        chunks = _calling(
            lambda: self._api().logs(
                id_or_name,
                stdout=True,
                stderr=True,
                stream=True,
                follow=follow,
                tail="all" if tail is None else tail,
            )
        )
        return _translated(chunks)

    def exec(self, id_or_name: str, command: Sequence[str], timeout: float) -> tuple[int, bytes]:
        api = self._api()
        created = _calling(
            lambda: api.exec_create(id_or_name, list(command), stdout=True, stderr=True)
        )
        exec_id = created["Id"]
        stream = _calling(lambda: api.exec_start(exec_id, stream=True))
        output: builtins.list[bytes] = []
        failure: builtins.list[Exception] = []

        def reading() -> None:
            try:
                output.extend(stream)
            except Exception as exc:
                failure.append(exc)

        reader = threading.Thread(target=reading, name=f"exec-{exec_id[:12]}", daemon=True)
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            # Docker has no call to kill an exec'd process; closing the stream frees us.
            stream.close()
            reader.join()
            raise ExecTimeout(f"{list(command)} did not finish within {timeout} s")
        if failure:
            raise translate_error(failure[0])
        return self._exec_exit_code(exec_id, time.monotonic() + timeout), b"".join(output)

    def _exec_exit_code(self, exec_id: str, deadline: float) -> int:
        # The output stream ends a moment before the engine records the exit code.
        while True:
            state = _calling(lambda: self._api().exec_inspect(exec_id))
            if not state.get("Running") and state.get("ExitCode") is not None:
                return int(state["ExitCode"])
            if time.monotonic() > deadline:
                raise ExecTimeout(f"exec {exec_id[:12]} output ended but it did not exit")
            time.sleep(0.01)

    def events(
        self, stop: threading.Event, label_selector: Mapping[str, str]
    ) -> Iterator[RuntimeEvent]:
        filters: dict[str, Any] = {"type": ["container"], "event": sorted(EVENT_ACTIONS)}
        if label_selector:
            filters["label"] = [f"{k}={v}" for k, v in label_selector.items()]
        # `since` closes the gap between the request and the engine's subscription.
        since = f"{time.time():.9f}"
        stream = _calling(lambda: self._api().events(decode=True, filters=filters, since=since))
        return _EventStream(stream, stop)


class _EventStream(Iterator[RuntimeEvent]):
    """Docker's event stream, ended within 0.1 s of `stop` being set (or of `close()`).

    A watcher thread closes the HTTP response under the blocked reader; it is joined on close
    and ends by itself if the stream is dropped unread.
    """

    def __init__(self, stream: Any, stop: threading.Event) -> None:
        self._stream = stream
        self._stop = stop
        self._done = threading.Event()
        self._watcher = threading.Thread(
            target=_closing_on_stop, args=(stream, stop, self._done), name="docker-events"
        )
        self._watcher.daemon = True
        self._watcher.start()

    def close(self) -> None:
        self._done.set()
        self._watcher.join()

    def __next__(self) -> RuntimeEvent:
        while True:
            if self._stop.is_set() or self._done.is_set():
                self.close()
                raise StopIteration
            try:
                raw = next(self._stream)
            except StopIteration:
                ended_on_purpose = self._stop.is_set() or self._done.is_set()
                self.close()
                if ended_on_purpose:
                    raise
                raise RuntimeUnavailable("Docker event stream ended") from None
            except Exception as exc:
                ended_on_purpose = self._stop.is_set() or self._done.is_set()
                self.close()
                if ended_on_purpose:
                    raise StopIteration from None
                raise translate_error(exc) from exc
            event = runtime_event(raw)
            if event is not None:
                return event

    def __del__(self) -> None:
        self._done.set()


def _closing_on_stop(stream: Any, stop: threading.Event, done: threading.Event) -> None:
    while not done.is_set():
        if stop.wait(0.1):
            break
    with contextlib.suppress(Exception):  # the socket is already gone: nothing to close
        stream.close()


def _calling(call: Callable[[], T]) -> T:
    try:
        return call()
    except Exception as exc:
        raise translate_error(exc) from exc


def _translated(chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from chunks
    except Exception as exc:
        raise translate_error(exc) from exc


# --- reading the engine's JSON ------------------------------------------------------------

_ZERO_TIME = "0001-01-01T00:00:00Z"
_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def parse_docker_time(value: str | None) -> datetime | None:
    """Docker's RFC 3339 time with nanoseconds, as an aware datetime; the zero time is None."""
    if not value or value == _ZERO_TIME:
        return None
    match = _TIMESTAMP.match(value)
    if match is None:
        return None
    whole, fraction, zone = match.groups()
    micro = (fraction or "0")[:6].ljust(6, "0")
    parsed = datetime.fromisoformat(f"{whole}.{micro}{'+00:00' if zone == 'Z' else zone}")
    return parsed.astimezone(UTC)


def container_info(raw: Mapping[str, Any]) -> ContainerInfo:
    """A `ContainerInfo` from `docker inspect`'s JSON."""
    state = raw.get("State") or {}
    config = raw.get("Config") or {}
    status = cast(ContainerState, state.get("Status", "dead"))
    stopped = status in ("exited", "dead")
    started = parse_docker_time(state.get("StartedAt"))
    finished = parse_docker_time(state.get("FinishedAt")) if stopped else None
    if started is not None and finished is not None and finished < started:
        # A process that exits at once can be stamped finished a few microseconds before the
        # engine stamps it started (seen on Docker 20.10): it did not run for negative time.
        finished = started
    return ContainerInfo(
        id=str(raw["Id"]),
        name=str(raw.get("Name", "")).lstrip("/"),
        image=str(config.get("Image") or raw.get("Image", "")),
        labels=dict(config.get("Labels") or {}),
        state=status,
        exit_code=int(state.get("ExitCode", 0)) if stopped else None,
        oom_killed=bool(state.get("OOMKilled", False)),
        started_at=started,
        finished_at=finished,
        host_ports=_host_ports(raw, running=status == "running"),
        error=state.get("Error") or None,
        ip_address=_ip_address(raw) if status == "running" else "",
    )


def _ip_address(raw: Mapping[str, Any]) -> str:
    settings = raw.get("NetworkSettings") or {}
    if settings.get("IPAddress"):
        return str(settings["IPAddress"])
    for network in (settings.get("Networks") or {}).values():
        if network and network.get("IPAddress"):
            return str(network["IPAddress"])
    return ""


def _host_ports(raw: Mapping[str, Any], running: bool) -> builtins.list[PortBinding]:
    if running:
        table = (raw.get("NetworkSettings") or {}).get("Ports") or {}
    else:
        table = (raw.get("HostConfig") or {}).get("PortBindings") or {}
    ports = []
    for key, bindings in sorted(table.items()):
        container_port, _, protocol = str(key).partition("/")
        for binding in bindings or []:
            ports.append(
                PortBinding(
                    container_port=int(container_port),
                    host_port=int(binding.get("HostPort") or 0),
                    protocol=protocol or "tcp",
                    host_ip=str(binding.get("HostIp", "")),
                )
            )
    return ports


def runtime_event(raw: Mapping[str, Any]) -> RuntimeEvent | None:
    action = str(raw.get("Action") or raw.get("status") or "").split(":", 1)[0]
    if raw.get("Type", "container") != "container" or action not in EVENT_ACTIONS:
        return None
    actor = raw.get("Actor") or {}
    attributes: dict[str, str] = dict(actor.get("Attributes") or {})
    exit_code = attributes.get("exitCode")
    if "timeNano" in raw:
        when = datetime.fromtimestamp(int(raw["timeNano"]) / 1e9, UTC)
    else:
        when = datetime.fromtimestamp(float(raw.get("time", 0)), UTC)
    return RuntimeEvent(
        container_id=str(actor.get("ID") or raw.get("id", "")),
        action=action,
        labels={k: v for k, v in attributes.items() if k not in _EVENT_ATTRIBUTES},
        time=when,
        name=attributes.get("name", ""),
        exit_code=int(exit_code) if exit_code is not None and action == "die" else None,
    )
