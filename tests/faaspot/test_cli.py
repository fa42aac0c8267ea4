"""The ``fas`` command line without a server: help, usage errors, configure, exit codes."""

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from faaspot.cli import EXIT_UNREACHABLE, EXIT_USAGE, run
from faaspot.config import load_config

COMMANDS = [
    [],
    ["configure"],
    ["functions"],
    ["functions", "create"],
    ["functions", "run"],
    ["functions", "run_bulk"],
    ["functions", "get"],
    ["functions", "list"],
    ["functions", "delete"],
    ["executions"],
    ["executions", "get"],
    ["executions", "list"],
    ["executions", "wait"],
]


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config path in a temporary directory, and no FAASPOT_URL or FAASPOT_TOKEN."""
    path = tmp_path / "config" / "config.toml"
    monkeypatch.setenv("FAASPOT_CONFIG", str(path))
    monkeypatch.delenv("FAASPOT_URL", raising=False)
    monkeypatch.delenv("FAASPOT_TOKEN", raising=False)
    return path


@pytest.fixture
def closed_port_url() -> str:
    """The URL of a port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def fas(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``fas`` in-process; return its exit code, stdout and stderr."""
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def fas_script() -> list[str]:
    """The installed ``fas`` script next to this Python, else ``python -m faaspot.cli``."""
    script = Path(sys.executable).with_name("fas")
    return [str(script)] if script.exists() else [sys.executable, "-m", "faaspot.cli"]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command) or "fas")
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    code, out, err = fas(capsys, *command, "--help")
    assert (code, err) == (0, "")
    assert out.startswith(f"Usage: fas {' '.join(command)}".rstrip())


def test_fas_without_command_shows_help_as_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = fas(capsys)
    assert code == EXIT_USAGE
    assert "Commands:" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = fas(capsys, "--version")
    assert code == 0
    assert out.startswith("fas, version ")


def test_bad_parameters_name_the_item(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = fas(capsys, "functions", "run", "hello", "-p", "name=user1, oops")
    assert (code, out) == (EXIT_USAGE, "")
    assert err.startswith("error: ")
    assert "'oops' is not key=value" in err
    assert len(err.splitlines()) == 1


def test_empty_key_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = fas(capsys, "functions", "run_bulk", "hello", "-p", "a=1", "-p", " = 2")
    assert code == EXIT_USAGE
    assert "has an empty key" in err


def test_json_must_be_an_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = fas(capsys, "functions", "run", "hello", "--json", "[1, 2]")
    assert code == EXIT_USAGE
    assert "expected a JSON object, not a list" in err


def test_run_bulk_needs_groups(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = fas(capsys, "functions", "run_bulk", "hello")
    assert code == EXIT_USAGE
    assert "at least one group" in err


def test_run_bulk_groups_file_must_be_objects(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    groups = tmp_path / "groups.json"
    groups.write_text('[{"a": 1}, 2]', encoding="utf-8")
    code, _, err = fas(capsys, "functions", "run_bulk", "hello", "--file", str(groups))
    assert code == EXIT_USAGE
    assert "item 1: expected a JSON object, not a number" in err


def test_create_needs_an_existing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = fas(capsys, "functions", "create", "f", "--file", str(tmp_path / "nope.py"))
    assert code == EXIT_USAGE
    assert "does not exist" in err


def test_create_refuses_a_file_that_is_not_utf8(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code_file = tmp_path / "latin1.py"
    code_file.write_bytes("x = 'é'\n".encode("latin-1"))
    code, _, err = fas(capsys, "functions", "create", "f", "--file", str(code_file))
    assert code == EXIT_USAGE
    assert "is not UTF-8 text" in err


def test_invalid_function_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = fas(capsys, "functions", "get", "a/b")
    assert code == 1
    assert err == "error: invalid function name 'a/b': use 1 to 64 letters, digits, '_' or '-'\n"


def test_unreachable_server(capsys: pytest.CaptureFixture[str], closed_port_url: str) -> None:
    code, out, err = fas(capsys, "--url", closed_port_url, "--token", "t", "functions", "list")
    assert (code, out) == (EXIT_UNREACHABLE, "")
    assert err.startswith(f"error: cannot reach FaaSpot at {closed_port_url}: ")
    assert len(err.splitlines()) == 1


def test_url_without_scheme_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = fas(capsys, "--url", "localhost:8080", "functions", "list")
    assert code == EXIT_USAGE
    assert err.startswith("error: invalid FaaSpot URL 'localhost:8080'")


def test_configure_writes_a_private_config_file(
    capsys: pytest.CaptureFixture[str], isolated_config: Path
) -> None:
    code, out, _ = fas(capsys, "configure", "--url", "http://faaspot.test:9/", "--token", "s3cret")
    assert code == 0
    assert out == f"wrote {isolated_config}\n"
    assert stat.S_IMODE(isolated_config.stat().st_mode) == 0o600
    config = load_config()
    assert (config.url, config.token) == ("http://faaspot.test:9", "s3cret")


def test_configure_needs_url_and_token(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = fas(capsys, "configure", "--url", "http://h:1")
    assert code == EXIT_USAGE
    assert "--token" in err


def test_configured_url_is_used(capsys: pytest.CaptureFixture[str], closed_port_url: str) -> None:
    assert fas(capsys, "configure", "--url", closed_port_url, "--token", "t")[0] == 0
    code, _, err = fas(capsys, "executions", "get", "some-id")
    assert code == EXIT_UNREACHABLE
    assert closed_port_url in err


def test_installed_script_reports_errors_without_traceback(
    closed_port_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "FAASPOT_URL": closed_port_url, "FAASPOT_TOKEN": "t"}
    env["FAASPOT_CONFIG"] = str(tmp_path / "config.toml")
    completed = subprocess.run(
        [*fas_script(), "functions", "run", "hello", "-p", "name=user1", "--wait"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == EXIT_UNREACHABLE
    assert completed.stdout == ""
    assert completed.stderr.startswith(f"error: cannot reach FaaSpot at {closed_port_url}")
    assert "Traceback" not in completed.stderr


def test_python_dash_m_runs_the_cli() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "faaspot.cli", "functions", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0
    assert "run_bulk" in completed.stdout


def test_client_and_cli_import_no_server_dependency() -> None:
    server_modules = [
        "aio_pika",
        "starlette",
        "msgspec",
        "pymongo",
        "pydantic",
        "shared",
        "services",
    ]
    code = (
        "import sys, faaspot, faaspot.cli\n"
        f"print([m for m in {server_modules!r} if m in sys.modules])\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert completed.stdout == "[]\n"
