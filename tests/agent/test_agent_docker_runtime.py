"""The Docker adapter's pure parts: error mapping and reading the engine's JSON (no engine)."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker.errors
import pytest
import requests

from agent.docker_runtime import (
    DockerRuntime,
    container_info,
    parse_docker_time,
    runtime_event,
    translate_error,
)
from agent.runtime import (
    ContainerConflict,
    ContainerNotFound,
    ImageNotFound,
    PortBinding,
    RuntimeFailure,
    RuntimeUnavailable,
)


def api_error(status: int, explanation: str) -> docker.errors.APIError:
    """The error docker-py raises for an HTTP `status` with the engine's `explanation`."""
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps({"message": explanation}).encode()
    try:
        docker.errors.create_api_error_from_http_exception(
            requests.HTTPError(explanation, response=response)
        )
    except docker.errors.APIError as exc:
        return exc
    raise AssertionError("docker-py did not raise")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (api_error(404, "No such image: x:1"), ImageNotFound),
        (api_error(404, "No such container: abc"), ContainerNotFound),
        (api_error(409, "Conflict. The container name is already in use"), ContainerConflict),
        (api_error(500, "driver failed"), RuntimeFailure),
        (requests.exceptions.ConnectionError("refused"), RuntimeUnavailable),
        (requests.exceptions.ReadTimeout("slow"), RuntimeUnavailable),
        (
            docker.errors.DockerException("Error while fetching server API version"),
            RuntimeUnavailable,
        ),
        (ValueError("odd"), RuntimeFailure),
    ],
)
def test_docker_errors_map_onto_ours(exc: Exception, expected: type[RuntimeFailure]) -> None:
    mapped = translate_error(exc)
    assert type(mapped) is expected
    if isinstance(exc, docker.errors.APIError):
        assert str(mapped) == exc.explanation  # the engine's own words
    assert mapped.retryable is (expected is RuntimeUnavailable)


def test_a_missing_engine_socket_is_unavailable(tmp_path: Path) -> None:
    runtime = DockerRuntime(base_url=f"unix://{tmp_path / 'missing.sock'}", timeout=2)
    with pytest.raises(RuntimeUnavailable, match="unreachable"):
        runtime.ping()
    with pytest.raises(RuntimeUnavailable):
        runtime.list({})
    runtime.close()


def test_an_engine_that_never_answers_is_unavailable_after_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        listener.listen(8)  # connections queue up; nobody ever reads or replies
        runtime = DockerRuntime(base_url=f"unix://{path}", timeout=0.5)
        with pytest.raises(RuntimeUnavailable):
            runtime.ping()
        runtime.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00.123456789Z", datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)),
        ("2024-05-01T14:00:00.5+02:00", datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
    ],
)
def test_docker_times(text: str | None, expected: datetime | None) -> None:
    assert parse_docker_time(text) == expected


INSPECT: dict[str, Any] = {
    "Id": "abc123",
    "Name": "/shoal-default-web",
    "Image": "sha256:eb35",
    "Config": {"Image": "shoal-busybox:latest", "Labels": {"shoal.task": "default/web"}},
    "State": {
        "Status": "exited",
        "OOMKilled": True,
        "ExitCode": 137,
        "Error": "",
        "StartedAt": "2024-05-01T12:00:00.000000001Z",
        "FinishedAt": "2024-05-01T12:00:05Z",
    },
    "HostConfig": {"PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}},
    "NetworkSettings": {"Ports": {}},
}


def test_container_info_from_inspect_of_an_exited_container() -> None:
    info = container_info(INSPECT)
    assert info.id == "abc123" and info.name == "shoal-default-web"
    assert info.image == "shoal-busybox:latest"
    assert info.labels == {"shoal.task": "default/web"}
    assert (info.state, info.exit_code, info.oom_killed, info.error) == ("exited", 137, True, None)
    assert info.started_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert info.finished_at == datetime(2024, 5, 1, 12, 0, 5, tzinfo=UTC)
    assert info.host_ports == [PortBinding(8080, 0, "tcp", "127.0.0.1")]


def test_a_finish_stamped_before_the_start_is_read_as_the_start() -> None:
    """Docker 20.10 stamped an instant `exit 0` finished 0.5 ms before it was started."""
    state = {
        **INSPECT["State"],
        "StartedAt": "2024-05-01T12:00:00.879999Z",
        "FinishedAt": "2024-05-01T12:00:00.879522Z",
    }
    info = container_info({**INSPECT, "State": state})
    assert info.started_at is not None
    assert info.finished_at == info.started_at


def test_container_info_of_a_running_container_reads_the_bound_ports() -> None:
    raw = {
        **INSPECT,
        "State": {"Status": "running", "ExitCode": 0, "FinishedAt": "0001-01-01T00:00:00Z"},
        "NetworkSettings": {
            "Ports": {
                "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32768"}],
                "9090/udp": None,  # exposed, not published
            }
        },
    }
    info = container_info(raw)
    assert (info.state, info.exit_code, info.finished_at) == ("running", None, None)
    assert info.host_ports == [PortBinding(8080, 32768, "tcp", "127.0.0.1")]


def test_a_created_container_has_no_exit_code() -> None:
    info = container_info({**INSPECT, "State": {"Status": "created", "ExitCode": 0}})
    assert info.exit_code is None and info.started_at is None


def test_events_separate_labels_from_attributes() -> None:
    raw = {
        "Type": "container",
        "Action": "die",
        "Actor": {
            "ID": "abc",
            "Attributes": {
                "exitCode": "137",
                "image": "shoal-busybox:latest",
                "name": "shoal-default-web",
                "shoal.task": "default/web",
            },
        },
        "time": 1714564800,
        "timeNano": 1714564800500000000,
    }
    event = runtime_event(raw)
    assert event is not None
    assert (event.container_id, event.action, event.exit_code) == ("abc", "die", 137)
    assert event.labels == {"shoal.task": "default/web"}
    assert event.name == "shoal-default-web"
    assert event.time == datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)


def test_exec_and_non_container_events_are_left_out() -> None:
    assert runtime_event({"Type": "container", "Action": "exec_start: sh -c true"}) is None
    assert runtime_event({"Type": "network", "Action": "connect"}) is None
