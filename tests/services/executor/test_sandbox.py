"""The bwrap command line, the seccomp program, and refusing to start without a sandbox."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from services.executor import seccomp
from services.executor.sandbox import (
    BwrapLauncher,
    PlainLauncher,
    Runtime,
    SandboxLimits,
    SandboxUnavailable,
)
from services.executor.warm import WarmConfig, WarmRunner
from tests.services.executor.conftest import job

PROJECT = Path(__file__).resolve().parents[3]
LIMITS = SandboxLimits(tmp_bytes=8 * 1024 * 1024)


def option_values(command: list[str], option: str) -> list[list[str]]:
    """The arguments after each occurrence of ``option`` (two for binds, one otherwise)."""
    width = 2 if "bind" in option or option in ("--setenv", "--symlink") else 1
    return [
        command[index + 1 : index + 1 + width]
        for index, word in enumerate(command)
        if word == option
    ]


def test_every_namespace_is_new_and_the_worker_dies_with_its_parent() -> None:
    command = BwrapLauncher(LIMITS, as_root=True).command([])
    for option in (
        "--unshare-user",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ):
        assert option in command
    assert option_values(command, "--cap-drop") == [["ALL"]]


def test_only_the_runtime_and_the_worker_are_bound_and_read_only() -> None:
    command = BwrapLauncher(LIMITS, as_root=True).command([])
    assert option_values(command, "--bind") == [] and option_values(command, "--dev-bind") == []
    sources = [Path(source) for source, _ in option_values(command, "--ro-bind")]
    runtime = Runtime.current()
    assert runtime.executable in sources and runtime.stdlib in sources
    for source in sources:
        inside_project = source.is_relative_to(PROJECT)
        assert not inside_project or source == PROJECT / "services/executor/worker.py", source
        assert source != Path("/root") and source != Path("/usr"), source


def test_installed_packages_are_hidden_inside_the_bound_stdlib() -> None:
    runtime = Runtime.current()
    command = BwrapLauncher(LIMITS, runtime=runtime, as_root=True).command([])
    for hidden in runtime.hidden():
        assert [str(hidden)] in option_values(command, "--tmpfs")


def test_tmp_is_a_bounded_tmpfs() -> None:
    command = BwrapLauncher(LIMITS, as_root=True).command([])
    at = command.index("/tmp", command.index("--tmpfs"))
    assert command[at - 5 : at] == ["--size", str(8 * 1024 * 1024), "--perms", "1777", "--tmpfs"]


def test_as_root_the_worker_drops_to_nobody_itself() -> None:
    command = BwrapLauncher(LIMITS, as_root=True).command([])
    assert command[-2:] == ["--drop-to", "65534:65534"]
    assert option_values(command, "--cap-add") == [["CAP_SETUID"], ["CAP_SETGID"]]
    assert "--uid" not in command


def test_unprivileged_bwrap_maps_nobody_itself() -> None:
    command = BwrapLauncher(LIMITS, as_root=False).command([])
    assert option_values(command, "--uid") == [["65534"]]
    assert option_values(command, "--gid") == [["65534"]]
    assert "--drop-to" not in command and "--cap-add" not in command


def test_the_environment_is_only_a_few_fixed_variables() -> None:
    command = BwrapLauncher(LIMITS, as_root=True).command([])
    names = {name for name, _ in option_values(command, "--setenv")}
    assert names <= {"LANG", "HOME", "TMPDIR", "PATH", "LD_LIBRARY_PATH"}


def test_the_seccomp_program_is_whole_instructions_for_known_arches() -> None:
    for machine in ("x86_64", "aarch64"):
        program = seccomp.filter_program(machine)
        assert program is not None and len(program) % 8 == 0
        assert len(program) // 8 < 64
    assert seccomp.filter_program("s390x") is None


async def test_the_executor_refuses_to_start_when_bwrap_cannot_sandbox() -> None:
    runner = WarmRunner(BwrapLauncher(LIMITS, bwrap="/bin/false"), WarmConfig(prewarm=0))
    with pytest.raises(SandboxUnavailable, match="FAASPOT_SANDBOX=none"):
        await runner.start()
    await runner.close()


def test_the_executor_refuses_to_start_without_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        BwrapLauncher(LIMITS)


async def test_unsandboxed_mode_works_and_warns_at_every_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = WarmRunner(PlainLauncher(), WarmConfig(prewarm=1))
    with caplog.at_level(logging.WARNING, logger="services.executor.warm"):
        await runner.start()
    try:
        assert "WITHOUT a sandbox" in caplog.text
        code = "import os\n\ndef main(args, context):\n    return os.getpid() != 2\n"
        outcome = await runner.run(job(code))
        assert outcome.status == "completed" and outcome.result == b"true", outcome
    finally:
        await runner.close()


def test_the_runtime_is_the_executors_own_interpreter() -> None:
    runtime = Runtime.current()
    assert runtime.executable == Path(os.path.realpath(sys.executable))
    assert (runtime.stdlib / "os.py").is_file()
