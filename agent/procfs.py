"""Node metrics from /proc and statvfs: pure parsers over text, plus a thin sampler that reads.

Figures follow what `top`, `free` and psutil show, so a person comparing them sees the same
numbers: CPU % counts iowait as idle, memory "available" is the kernel's MemAvailable.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: Where the Docker engine keeps its data; its file system is the one containers fill.
DEFAULT_DISK_PATH = "/var/lib/docker"

_CPU_FIELDS = (
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guest_nice",
)


@dataclass(frozen=True)
class CpuTimes:
    """The aggregate `cpu` line of /proc/stat, in clock ticks (USER_HZ)."""

    user: int = 0
    nice: int = 0
    system: int = 0
    idle: int = 0
    iowait: int = 0
    irq: int = 0
    softirq: int = 0
    steal: int = 0
    guest: int = 0  # already counted in user
    guest_nice: int = 0  # already counted in nice

    @property
    def idle_all(self) -> int:
        """Time doing nothing, waiting for I/O included."""
        return self.idle + self.iowait

    @property
    def busy(self) -> int:
        """Time doing something. guest and guest_nice are left out: user and nice hold them."""
        return self.user + self.nice + self.system + self.irq + self.softirq + self.steal

    @property
    def total(self) -> int:
        return self.idle_all + self.busy


def parse_cpu_times(stat_text: str) -> CpuTimes:
    """Read the aggregate `cpu` line of /proc/stat; columns an old kernel lacks count as 0."""
    for line in stat_text.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            values = parts[1 : 1 + len(_CPU_FIELDS)]
            if len(values) < 4:
                raise ValueError(f"/proc/stat: cpu line has too few columns: {line.strip()!r}")
            try:
                numbers = [int(value) for value in values]
            except ValueError:
                raise ValueError(f"/proc/stat: cpu line is not numeric: {line.strip()!r}") from None
            return CpuTimes(**dict(zip(_CPU_FIELDS, numbers, strict=False)))
    raise ValueError("/proc/stat: no aggregate 'cpu' line")


def cpu_percent(prev: CpuTimes, cur: CpuTimes) -> float:
    """Share of the interval between two readings spent busy, 0 to 100, over all CPUs.

    A zero interval gives 0.0. So does an interval where the idle or busy total went backwards
    (a counter wrapped, or the readings came from different boots or hosts): the figure for that
    interval is unknowable, and 0.0 is reported rather than a negative or >100 value; the next
    interval, measured from the new reading, is right again. A single column that dips while
    the totals move forward (iowait does on some NO_HZ kernels) is tolerated.
    """
    d_idle = cur.idle_all - prev.idle_all
    d_busy = cur.busy - prev.busy
    if d_idle < 0 or d_busy < 0:
        return 0.0
    d_total = d_idle + d_busy
    if d_total == 0:
        return 0.0
    return min(100.0, max(0.0, d_busy / d_total * 100.0))


def parse_meminfo(text: str) -> tuple[int, int]:
    """(total, available) bytes from /proc/meminfo.

    Kernels before 3.14 lack MemAvailable; there it is estimated as MemFree + Buffers + Cached,
    as `free` did then.
    """
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        parts = rest.split()
        if not parts:
            continue
        try:
            number = int(parts[0])
        except ValueError:
            continue
        unit = parts[1].lower() if len(parts) > 1 else ""
        values[key.strip()] = number * 1024 if unit == "kb" else number
    if "MemTotal" not in values:
        raise ValueError("/proc/meminfo: no MemTotal")
    available = values.get("MemAvailable")
    if available is None:
        available = values.get("MemFree", 0) + values.get("Buffers", 0) + values.get("Cached", 0)
    return values["MemTotal"], available


def parse_loadavg(text: str) -> tuple[float, float, float]:
    """(load1, load5, load15) from /proc/loadavg."""
    parts = text.split()
    if len(parts) < 3:
        raise ValueError(f"/proc/loadavg: expected three load averages, got {text.strip()!r}")
    try:
        return float(parts[0]), float(parts[1]), float(parts[2])
    except ValueError:
        raise ValueError(f"/proc/loadavg: not numeric: {text.strip()!r}") from None


def disk_usage(path: str) -> tuple[int, int]:
    """(total, available) bytes of the file system holding `path`.

    Available is what an unprivileged process may still write (f_bavail), as `df` shows it.
    """
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize


@dataclass(frozen=True)
class NodeMetricsSample:
    """One reading of a node's metrics; `to_json_dict()` gives the API's camelCase JSON."""

    cpu_percent: float
    memory_total: int
    memory_available: int
    disk_total: int
    disk_available: int
    load1: float
    load5: float
    load15: float
    timestamp: datetime  # aware, UTC

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "cpuPercent": self.cpu_percent,
            "memoryTotal": self.memory_total,
            "memoryAvailable": self.memory_available,
            "diskTotal": self.disk_total,
            "diskAvailable": self.disk_available,
            "load1": self.load1,
            "load5": self.load5,
            "load15": self.load15,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
        }


class MetricsSampler:
    """Reads a node's metrics; each `sample()` gives the CPU % since the previous one.

    The first sample's CPU % is the average since boot (there is no earlier reading). Not
    thread-safe: one sampler belongs to one publishing loop.
    """

    def __init__(
        self,
        proc_root: str = "/proc",
        disk_path: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._proc = Path(proc_root)
        if disk_path is None:
            disk_path = DEFAULT_DISK_PATH if os.path.isdir(DEFAULT_DISK_PATH) else "/"
        self.disk_path = disk_path
        self._clock = clock
        self._prev_cpu = CpuTimes()

    def sample(self) -> NodeMetricsSample:
        now = self._clock()
        cpu = parse_cpu_times(self._read("stat"))
        mem_total, mem_available = parse_meminfo(self._read("meminfo"))
        load1, load5, load15 = parse_loadavg(self._read("loadavg"))
        disk_total, disk_available = disk_usage(self.disk_path)
        percent = cpu_percent(self._prev_cpu, cpu)
        self._prev_cpu = cpu
        return NodeMetricsSample(
            cpu_percent=round(percent, 2),
            memory_total=mem_total,
            memory_available=mem_available,
            disk_total=disk_total,
            disk_available=disk_available,
            load1=load1,
            load5=load5,
            load15=load15,
            timestamp=datetime.fromtimestamp(now, UTC),
        )

    def _read(self, name: str) -> str:
        return (self._proc / name).read_text()
