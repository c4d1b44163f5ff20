import subprocess
import sys

from click.testing import CliRunner

from shoal import __version__
from shoal.cli import cli


def test_version_is_printed() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_unknown_command_is_bad_usage() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from shoal.cli import main; main()", "no-such-command"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_every_command_has_help() -> None:
    for name in [
        "apply",
        "diff",
        "get",
        "describe",
        "delete",
        "stop",
        "start",
        "logs",
        "events",
        "top",
        "sync",
    ]:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage: " in result.output, name


def test_a_bad_global_option_is_bad_usage() -> None:
    result = CliRunner().invoke(cli, ["--timeout", "-1", "get", "tasks"])
    assert result.exit_code == 2
