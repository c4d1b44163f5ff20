"""`shoal logs task NAME [-f] [--tail N]` against a tiny agent of the test's own on loopback
that serves GET /logs/<ns>/<name> as the controller-agent contract describes it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from core.etcd_server import free_port
from core.testing import wait_until
from core.typed_store import put_model
from schemas.binding import Binding
from schemas.spec import TaskSpec
from shoal.testing import ShoalHarness

pytestmark = pytest.mark.integration


class FakeAgent:
    """Serves /logs: two lines at once; with follow=1 a third when `more` is set, then ends."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.more = threading.Event()
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                agent.requests.append((url.path, query))
                if url.path != "/logs/default/web":
                    body = b"no container for this task on n1\n"
                    self.send_response(404)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"hello\nworld\n")
                self.wfile.flush()
                if query.get("follow") == ["1"]:
                    agent.more.wait(10)
                    self.wfile.write(b"again\n")
                    self.wfile.flush()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeAgent:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.more.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def agent() -> Iterator[FakeAgent]:
    with FakeAgent() as fake:
        yield fake


def _placed(
    shoal: ShoalHarness, name: str, agent_url: str | None, *, by_binding: bool = False
) -> None:
    assert shoal.run("apply", "-f", "-", input=shoal.manifest(name)).exit_code == 0
    shoal.node("n1", agent_url=agent_url)
    if by_binding:
        spec = TaskSpec(image="shoal-busybox:latest")
        binding = Binding(
            namespace="default", name=name, node="n1", uid="u", generation=1, spec=spec, epoch=1
        )
        put_model(shoal.store, shoal.keys.binding("n1", "default", name), binding)
        shoal.status(name, "Scheduled")
    else:
        shoal.status(name, "Running", node="n1")


def test_logs_are_printed_with_tail(shoal: ShoalHarness, agent: FakeAgent) -> None:
    _placed(shoal, "web", agent.url)
    result = shoal.run("logs", "task", "web", "--tail", "5")
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello\nworld\n"
    assert agent.requests == [("/logs/default/web", {"tail": ["5"]})]


def test_the_node_is_found_through_the_binding(shoal: ShoalHarness, agent: FakeAgent) -> None:
    _placed(shoal, "web", agent.url, by_binding=True)
    result = shoal.run("logs", "task", "web")
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello\nworld\n"
    assert agent.requests == [("/logs/default/web", {})]


def test_follow_streams_as_output_arrives(shoal: ShoalHarness, agent: FakeAgent) -> None:
    _placed(shoal, "web", agent.url)
    proc = shoal.popen("logs", "task", "web", "-f")
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline() == "hello\n"
        assert proc.stdout.readline() == "world\n"
        wait_until(lambda: len(agent.requests) == 1, what="the request")
        assert agent.requests[0][1] == {"follow": ["1"]}
        agent.more.set()
        assert proc.stdout.readline() == "again\n"
        assert proc.wait(10) == 0, "the agent ended the stream: logs ends too"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_no_container_on_the_node(shoal: ShoalHarness, agent: FakeAgent) -> None:
    _placed(shoal, "other", agent.url)
    result = shoal.proc("logs", "task", "other")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: node n1 has no container for task default/other (no container for this task on n1)"
    )


def test_an_unreachable_agent_is_one_clear_line(shoal: ShoalHarness) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    _placed(shoal, "web", url)
    result = shoal.proc("logs", "task", "web")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: cannot reach the agent of node n1 at {url}: connection refused"
    )


def test_a_task_on_no_node(shoal: ShoalHarness) -> None:
    assert shoal.run("apply", "-f", "-", input=shoal.manifest("big")).exit_code == 0
    shoal.status("big", "Pending", reason="Unschedulable", message="0/1 nodes: 1 insufficient cpu")
    result = shoal.proc("logs", "task", "big")
    assert result.returncode == 1
    assert "task default/big is not placed on any node (state Pending): 0/1 nodes" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_node_that_is_gone_or_has_no_url(shoal: ShoalHarness) -> None:
    _placed(shoal, "web", None)
    no_url = shoal.run("logs", "task", "web")
    assert no_url.exit_code == 1 and "publishes no HTTP address" in no_url.stderr
    shoal.store.delete(shoal.keys.node_info("n1"))
    gone = shoal.run("logs", "task", "web")
    assert gone.exit_code == 1 and "not registered any more" in gone.stderr
    unknown = shoal.run("logs", "task", "ghost")
    assert unknown.exit_code == 1 and "task default/ghost not found" in unknown.stderr
