"""A task's container output, streamed from the agent of the node it runs on.

`locate` finds the node (the task's status, else the binding the controller wrote) and that
node's `agentUrl` (from its NodeInfo); `stream` GETs `{agentUrl}/logs/<ns>/<name>` with
`tail=N` and `follow=1` as asked and copies the `text/plain` body out as it arrives. Every
way this can fail ends in one ShoalError that says which node, which URL, and what to check.
"""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote, urlencode, urlsplit

from core.errors import NotFound, ShoalError
from core.keys import Keys
from core.store import Store
from shoal.views import read_node_info, read_task

CHUNK = 64 * 1024


class LogsUnavailable(ShoalError):
    """The logs cannot be had: not placed, node gone, agent unreachable, no container."""


@dataclass(frozen=True)
class LogSource:
    namespace: str
    name: str
    node: str
    agent_url: str


def locate(store: Store, keys: Keys, namespace: str, name: str) -> LogSource:
    key = f"{namespace}/{name}"
    task = read_task(store, keys, namespace, name)
    if task is None:
        raise NotFound(f"task {key}", f"task {key} not found")
    node = task.status.node if task.status else None
    if node is None:
        for kv in store.list(keys.bindings()):
            ref = keys.parse_binding(kv.key)
            if ref is not None and (ref.namespace, ref.name) == (namespace, name):
                node = ref.node
                break
    if node is None:
        state = task.status.state if task.status else "Pending"
        why = f": {task.status.message}" if task.status and task.status.message else ""
        raise LogsUnavailable(f"task {key} is not placed on any node (state {state}){why}")
    info = read_node_info(store, keys, node)
    if info is None:
        raise LogsUnavailable(
            f"task {key} is on node {node}, which is not registered any more "
            "(its agent is not running?)"
        )
    if not info.agentUrl:
        raise LogsUnavailable(f"the agent of node {node} publishes no HTTP address (agentUrl)")
    return LogSource(namespace, name, node, info.agentUrl.rstrip("/"))


def log_url(source: LogSource, tail: int | None, follow: bool) -> str:
    query: dict[str, str] = {}
    if tail is not None:
        query["tail"] = str(tail)
    if follow:
        query["follow"] = "1"
    path = f"/logs/{quote(source.namespace, safe='')}/{quote(source.name, safe='')}"
    return source.agent_url + path + (f"?{urlencode(query)}" if query else "")


def stream(
    source: LogSource,
    out: BinaryIO,
    *,
    tail: int | None = None,
    follow: bool = False,
    timeout: float = 5.0,
) -> None:
    """Copy the logs to `out` until the agent ends the body (with follow: until Ctrl-C)."""
    url = log_url(source, tail, follow)
    where = f"the agent of node {source.node} at {source.agent_url}"
    parts = urlsplit(url)
    connection_type = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    conn = connection_type(parts.hostname or "", parts.port, timeout=timeout)
    try:
        try:
            conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            raise LogsUnavailable(f"cannot reach {where}: {_reason(exc)}") from None
        if response.status == 404:
            detail = _body(response)
            raise LogsUnavailable(
                f"node {source.node} has no container for task {source.namespace}/{source.name}"
                + (f" ({detail})" if detail else "")
            )
        if response.status != 200:
            detail = _body(response)
            raise LogsUnavailable(
                f"{where} answered {response.status} {response.reason}"
                + (f": {detail}" if detail else "")
            )
        if follow and conn.sock is not None:
            conn.sock.settimeout(None)  # a quiet container is not a dead agent
        try:
            while chunk := response.read1(CHUNK):
                out.write(chunk)
                out.flush()
        except (OSError, http.client.HTTPException) as exc:
            raise LogsUnavailable(f"{where} broke off the stream: {_reason(exc)}") from None
    finally:
        conn.close()


def _body(response: http.client.HTTPResponse) -> str:
    try:
        text = response.read(2000).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return ""
    return " ".join(text.split())


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__
