"""Health checks: probing running containers (httpGet, tcpSocket, exec) on their schedule.

`probe()` runs one check against one container and says whether it passed, with a message.
`HealthMonitor` keeps one supervised loop per checked container: after `initialDelaySeconds`
it probes every `periodSeconds` with `timeoutSeconds` per probe; `failureThreshold` failures
in a row make the container unhealthy. Each verdict goes to the `on_verdict` callback (the
reconciler, which records it and queues the task: an unhealthy container is stopped and then
restarted as its restart policy says). Probes reach the container at its own address on its
network, as the kubelet probes a pod's IP, so a port need not be published to be checked.
"""

from __future__ import annotations

import http.client
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from agent.runtime import Runtime, RuntimeFailure
from core.clock import Clock, SystemClock
from core.supervise import Supervised
from schemas.spec import HealthCheck

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    message: str


def probe(check: HealthCheck, runtime: Runtime, container_id: str, address: str) -> ProbeResult:
    """One probe of `check` against the container (reached at `address` for http and tcp)."""
    timeout = float(check.timeoutSeconds)
    if check.httpGet is not None:
        action = check.httpGet
        if not address:
            return ProbeResult(False, "the container has no address to probe")
        conn = http.client.HTTPConnection(address, action.port, timeout=timeout)
        try:
            conn.request("GET", action.path, headers={"User-Agent": "shoal-agent"})
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            return ProbeResult(False, f"GET {action.path} on port {action.port} failed: {exc}")
        finally:
            conn.close()
        if 200 <= status < 400:
            return ProbeResult(True, f"GET {action.path} answered {status}")
        return ProbeResult(False, f"GET {action.path} on port {action.port} answered {status}")
    if check.tcpSocket is not None:
        port = check.tcpSocket.port
        if not address:
            return ProbeResult(False, "the container has no address to probe")
        try:
            with socket.create_connection((address, port), timeout=timeout):
                return ProbeResult(True, f"port {port} accepts connections")
        except OSError as exc:
            return ProbeResult(False, f"TCP connect to port {port} failed: {exc}")
    assert check.exec is not None  # a HealthCheck holds exactly one probe
    command = check.exec.command
    try:
        code, output = runtime.exec(container_id, command, timeout)
    except RuntimeFailure as exc:
        return ProbeResult(False, f"exec {command} failed: {exc}")
    if code == 0:
        return ProbeResult(True, f"exec {command} exited 0")
    tail = output.decode(errors="replace").strip().splitlines()[-1:] or [""]
    detail = f": {tail[0][:200]}" if tail[0] else ""
    return ProbeResult(False, f"exec {command} exited {code}{detail}")


OnVerdict = Callable[[str, str, bool, str], None]
"""(task key, container id, healthy, message): called when the verdict changes."""

Prober = Callable[[HealthCheck, Runtime, str, str], ProbeResult]


class HealthMonitor:
    def __init__(
        self,
        runtime: Runtime,
        on_verdict: OnVerdict,
        *,
        clock: Clock | None = None,
        prober: Prober = probe,
    ) -> None:
        self._runtime = runtime
        self._on_verdict = on_verdict
        self._clock = clock or SystemClock()
        self._prober = prober
        self._lock = threading.Lock()
        self._loops: dict[str, tuple[str, Supervised]] = {}  # key -> (container id, loop)

    def ensure(self, key: str, container_id: str, check: HealthCheck, address: str) -> None:
        """Check this container of `key` (stopping the checks of any earlier one)."""
        with self._lock:
            current = self._loops.get(key)
            if current is not None and current[0] == container_id:
                return
            old = self._loops.pop(key, None)
            loop = Supervised(
                f"health {key}",
                lambda stop: self._run(stop, key, container_id, check, address),
                clock=self._clock,
            )
            self._loops[key] = (container_id, loop)
        if old is not None:
            old[1].stop()
        loop.start()

    def drop(self, key: str) -> None:
        with self._lock:
            old = self._loops.pop(key, None)
        if old is not None:
            old[1].stop()

    def watched(self) -> dict[str, str]:
        """Task key -> the container id being checked."""
        with self._lock:
            return {key: cid for key, (cid, _) in self._loops.items()}

    def stop(self) -> None:
        with self._lock:
            loops = list(self._loops.values())
            self._loops.clear()
        for _, loop in loops:
            loop.stop_event.set()
        for _, loop in loops:
            loop.stop()

    def _run(
        self, stop: threading.Event, key: str, cid: str, check: HealthCheck, address: str
    ) -> None:
        if check.initialDelaySeconds and self._clock.wait(stop, check.initialDelaySeconds):
            return
        failures = 0
        verdict: bool | None = None
        while not stop.is_set():
            result = self._prober(check, self._runtime, cid, address)
            if result.ok:
                failures = 0
                if verdict is not True:
                    verdict = True
                    self._on_verdict(key, cid, True, result.message)
            else:
                failures += 1
                log.info(
                    "%s: health check failed (%d/%d): %s",
                    key,
                    failures,
                    check.failureThreshold,
                    result.message,
                )
                if failures >= check.failureThreshold and verdict is not False:
                    verdict = False
                    self._on_verdict(
                        key,
                        cid,
                        False,
                        f"{result.message} ({failures} failures in a row)",
                    )
            if self._clock.wait(stop, check.periodSeconds):
                return
