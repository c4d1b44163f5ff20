"""The agent's HTTP endpoint: /healthz, /metrics (Prometheus) and /logs/<ns>/<name>.

`GET /logs/<ns>/<name>?tail=N&follow=1` streams the task's container output as text/plain
(HTTP/1.0: the body ends when the connection closes, so `follow` needs no chunking); 404 with
one line when this node has no container for the task. The server runs in a supervised thread
and stops with `shutdown()`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from agent.runtime import RuntimeFailure
from core.supervise import Supervised

log = logging.getLogger(__name__)

LogSource = Callable[[str, int | None, bool], Iterator[bytes] | None]
"""(task key, tail, follow) -> the container's output, or None when there is no container."""


def parse_listen(text: str) -> tuple[str, int]:
    """`127.0.0.1:9102`, `:9102` or `[::1]:0` -> (host, port); ValueError if malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not HOST:PORT")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class AgentServer:
    def __init__(
        self,
        listen: str,
        *,
        registry: CollectorRegistry,
        healthy: Callable[[], tuple[bool, str]],
        logs: LogSource,
    ) -> None:
        host, port = parse_listen(listen)
        handler = _handler_class(registry, healthy, logs)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._loop = Supervised("agent http", self._serve)

    @property
    def url(self) -> str:
        address = self._server.server_address
        host, port = str(address[0]), int(address[1])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def start(self) -> AgentServer:
        self._loop.start()
        return self

    def stop(self) -> None:
        if self._loop.is_alive():  # shutdown() waits for serve_forever, which may never have run
            self._server.shutdown()
        self._loop.stop()
        self._server.server_close()

    def _serve(self, stop: threading.Event) -> None:
        self._server.serve_forever(poll_interval=0.2)


def _handler_class(
    registry: CollectorRegistry, healthy: Callable[[], tuple[bool, str]], logs: LogSource
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http: " + format, *args)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/healthz":
                ok, detail = healthy()
                self._send(200 if ok else 503, f"{detail}\n".encode())
            elif url.path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif url.path.startswith("/logs/"):
                self._logs(url.path[len("/logs/") :], parse_qs(url.query))
            else:
                self._send(404, b"not found: try /healthz, /metrics or /logs/<ns>/<name>\n")

        def _logs(self, key: str, query: dict[str, list[str]]) -> None:
            parts = key.split("/")
            if len(parts) != 2 or not all(parts):
                self._send(400, b"expected /logs/<namespace>/<name>\n")
                return
            tail_text = query.get("tail", [""])[0]
            tail = int(tail_text) if tail_text.isdigit() else None
            follow = query.get("follow", ["0"])[0] in ("1", "true", "yes")
            try:
                chunks = logs(key, tail, follow)
            except RuntimeFailure as exc:
                self._send(502, f"cannot read the logs of {key}: {exc}\n".encode())
                return
            if chunks is None:
                self._send(404, f"no container for task {key} on this node\n".encode())
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            try:
                for chunk in chunks:
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the reader went away (Ctrl-C on `shoal logs -f`)
            except RuntimeFailure as exc:
                log.info("logs of %s ended: %s", key, exc)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()

        def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
