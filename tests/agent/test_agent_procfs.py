"""Node metrics from /proc: parsers on canned text, then cross-checked here with psutil."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from agent.procfs import (
    CpuTimes,
    MetricsSampler,
    NodeMetricsSample,
    cpu_percent,
    disk_usage,
    parse_cpu_times,
    parse_loadavg,
    parse_meminfo,
)
from core.testing import wait_until

STAT = """\
cpu  6773 10 2185 47775 393 4 112 61 7 3
cpu0 1731 0 797 25961 62 0 41 27 0 0
cpu1 5041 0 1387 21813 331 0 71 33 0 0
intr 1234 5 6
ctxt 99
btime 1700000000
"""

MEMINFO = """\
MemTotal:       24609064 kB
MemFree:        23688000 kB
MemAvailable:   23760000 kB
Buffers:           10240 kB
Cached:           300000 kB
HugePages_Total:       0
"""


# --- /proc/stat ---------------------------------------------------------------------------


def test_cpu_line_is_read_with_all_ten_columns() -> None:
    t = parse_cpu_times(STAT)
    assert t == CpuTimes(6773, 10, 2185, 47775, 393, 4, 112, 61, 7, 3)
    assert t.idle_all == 47775 + 393
    assert t.busy == 6773 + 10 + 2185 + 4 + 112 + 61  # guest is inside user already
    assert t.total == t.idle_all + t.busy


def test_an_old_kernel_with_fewer_columns_counts_the_missing_ones_as_zero() -> None:
    assert parse_cpu_times("cpu 10 20 30 40\n") == CpuTimes(10, 20, 30, 40)
    assert parse_cpu_times("cpu 1 2 3 4 5 6 7\n") == CpuTimes(1, 2, 3, 4, 5, 6, 7)


def test_extra_whitespace_and_the_per_cpu_lines_do_not_confuse_it() -> None:
    text = "\n  cpu0 9 9 9 9\n\tcpu    1   2\t3  4  5 6 7 8 0 0   \n"
    assert parse_cpu_times(text) == CpuTimes(1, 2, 3, 4, 5, 6, 7, 8)


@pytest.mark.parametrize(
    "text", ["", "cpu0 1 2 3 4\n", "cpu 1 2 3\n", "cpu 1 2 x 4\n", "intr 1 2\n"]
)
def test_unreadable_stat_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="/proc/stat"):
        parse_cpu_times(text)


def test_cpu_percent_is_the_busy_share_of_the_interval() -> None:
    prev = CpuTimes(user=100, system=50, idle=800, iowait=50)
    cur = CpuTimes(user=130, system=60, idle=850, iowait=60, guest=20)
    # busy +40, idle(+iowait) +60: 40 %, and guest does not count twice
    assert cpu_percent(prev, cur) == pytest.approx(40.0)


def test_iowait_counts_as_idle_and_steal_as_busy() -> None:
    prev = CpuTimes()
    assert cpu_percent(prev, CpuTimes(iowait=100)) == 0.0
    assert cpu_percent(prev, CpuTimes(steal=25, idle=75)) == pytest.approx(25.0)
    assert cpu_percent(prev, CpuTimes(irq=5, softirq=5, nice=10, idle=80)) == pytest.approx(20.0)


def test_a_zero_interval_is_zero_percent() -> None:
    t = parse_cpu_times(STAT)
    assert cpu_percent(t, t) == 0.0


def test_counters_going_backwards_give_zero_not_nonsense() -> None:
    before = CpuTimes(user=1000, system=500, idle=8000)
    assert cpu_percent(before, CpuTimes(user=10, system=5, idle=80)) == 0.0  # reset/reboot
    assert cpu_percent(before, CpuTimes(user=1100, system=500, idle=7990)) == 0.0  # idle back
    assert cpu_percent(before, CpuTimes(user=990, system=500, idle=8100)) == 0.0  # busy back


def test_one_column_dipping_while_totals_advance_is_tolerated() -> None:
    prev = CpuTimes(user=100, idle=800, iowait=50)
    cur = CpuTimes(user=150, idle=900, iowait=49)  # iowait dips, idle+iowait still +99
    assert cpu_percent(prev, cur) == pytest.approx(50 / 149 * 100)


def test_cpu_percent_stays_within_0_and_100() -> None:
    assert cpu_percent(CpuTimes(), CpuTimes(user=100)) == 100.0
    assert cpu_percent(CpuTimes(), CpuTimes(idle=100)) == 0.0


# --- /proc/meminfo, /proc/loadavg, statvfs ------------------------------------------------


def test_meminfo_gives_bytes() -> None:
    assert parse_meminfo(MEMINFO) == (24609064 * 1024, 23760000 * 1024)


def test_without_memavailable_it_is_estimated_from_free_buffers_and_cached() -> None:
    old = "MemTotal: 1000 kB\nMemFree:  100 kB\nBuffers:  20 kB\nCached:   300 kB\n"
    assert parse_meminfo(old) == (1000 * 1024, 420 * 1024)
    assert parse_meminfo("MemTotal: 1000 kB\n") == (1000 * 1024, 0)


def test_meminfo_with_odd_spacing_and_unitless_lines() -> None:
    text = "  MemTotal:\t 2048   kB  \nHugePages_Free:    3\nnonsense\nMemAvailable:1024 kB\n"
    assert parse_meminfo(text) == (2048 * 1024, 1024 * 1024)


def test_meminfo_without_memtotal_raises() -> None:
    with pytest.raises(ValueError, match="MemTotal"):
        parse_meminfo("MemFree: 1 kB\n")


def test_loadavg() -> None:
    assert parse_loadavg("0.52 0.58 0.59 2/345 12345\n") == (0.52, 0.58, 0.59)
    assert parse_loadavg("  1.00   2.50\t3.75  ") == (1.0, 2.5, 3.75)
    with pytest.raises(ValueError, match="loadavg"):
        parse_loadavg("0.5 0.5")
    with pytest.raises(ValueError, match="loadavg"):
        parse_loadavg("a b c 1/2 3")


# --- the sampler --------------------------------------------------------------------------


@pytest.fixture
def fake_proc(tmp_path: Path) -> Path:
    (tmp_path / "stat").write_text("cpu 100 0 100 800 0 0 0 0 0 0\n")
    (tmp_path / "meminfo").write_text(MEMINFO)
    (tmp_path / "loadavg").write_text("0.10 0.20 0.30 1/100 42\n")
    return tmp_path


def test_sampler_gives_cpu_percent_since_its_previous_sample(fake_proc: Path) -> None:
    ticks = iter([1_700_000_000.0, 1_700_000_010.5])
    sampler = MetricsSampler(
        proc_root=str(fake_proc), disk_path=str(fake_proc), clock=ticks.__next__
    )
    first = sampler.sample()
    assert first.cpu_percent == pytest.approx(20.0)  # since boot: 200 busy of 1000
    (fake_proc / "stat").write_text("cpu 175 0 125 900 0 0 0 0 0 0\n")  # +100 busy, +100 idle
    second = sampler.sample()
    assert second.cpu_percent == pytest.approx(50.0)
    assert second.timestamp == datetime(2023, 11, 14, 22, 13, 30, 500000, tzinfo=UTC)
    assert (second.memory_total, second.memory_available) == (24609064 * 1024, 23760000 * 1024)
    assert (second.load1, second.load5, second.load15) == (0.1, 0.2, 0.3)
    assert (second.disk_total, second.disk_available) == disk_usage(str(fake_proc))


def test_sampler_disk_path_defaults_to_dockers_data_root_or_root() -> None:
    expected = "/var/lib/docker" if os.path.isdir("/var/lib/docker") else "/"
    assert MetricsSampler().disk_path == expected


def test_sample_json_uses_the_api_names() -> None:
    sample = NodeMetricsSample(
        cpu_percent=12.5,
        memory_total=2,
        memory_available=1,
        disk_total=4,
        disk_available=3,
        load1=0.1,
        load5=0.2,
        load15=0.3,
        timestamp=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    )
    as_json = json.loads(json.dumps(sample.to_json_dict()))
    assert as_json == {
        "cpuPercent": 12.5,
        "memoryTotal": 2,
        "memoryAvailable": 1,
        "diskTotal": 4,
        "diskAvailable": 3,
        "load1": 0.1,
        "load5": 0.2,
        "load15": 0.3,
        "timestamp": "2024-05-01T12:00:00Z",
    }


# --- cross-checked on this machine --------------------------------------------------------


def test_live_memory_agrees_with_psutil() -> None:
    sample = MetricsSampler().sample()
    vm = psutil.virtual_memory()
    assert sample.memory_total == vm.total
    assert abs(sample.memory_available - vm.available) < 64 << 20  # it moves between reads


def test_live_load_average_agrees_with_os_getloadavg() -> None:
    sample = MetricsSampler().sample()
    for ours, theirs in zip(
        (sample.load1, sample.load5, sample.load15), os.getloadavg(), strict=True
    ):
        assert ours == pytest.approx(theirs, abs=0.05)


def test_live_disk_agrees_with_psutil() -> None:
    sampler = MetricsSampler()
    sample = sampler.sample()
    usage = psutil.disk_usage(sampler.disk_path)
    assert sample.disk_total == usage.total
    assert abs(sample.disk_available - usage.free) < 256 << 20


@pytest.fixture
def busy_loop() -> Iterator[psutil.Process]:
    """A subprocess spinning on one core, ended by its pid at teardown."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "while True: pass"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        spinning = psutil.Process(proc.pid)
        wait_until(lambda: spinning.cpu_times().user > 0.1, what="the busy loop to spin")
        yield spinning
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_live_cpu_percent_agrees_with_psutil_under_load(busy_loop: psutil.Process) -> None:
    ncpu = os.cpu_count() or 1
    stat = Path("/proc/stat")
    sampler = MetricsSampler()
    sampler.sample()
    psutil.cpu_percent(interval=None)  # both start from this instant
    start = parse_cpu_times(stat.read_text()).total
    # The window is one second of wall time, measured in the counters themselves (USER_HZ 100).
    wait_until(
        lambda: parse_cpu_times(stat.read_text()).total - start >= 100 * ncpu,
        what="a second of CPU time to pass",
    )
    ours = sampler.sample().cpu_percent
    theirs = psutil.cpu_percent(interval=None)
    assert ours == pytest.approx(theirs, abs=3.0)
    assert ours >= 100 / ncpu * 0.5, "the busy loop should keep at least half a core busy"
