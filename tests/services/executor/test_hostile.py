"""Hostile functions against the real sandbox (issue 4): one test per case.

Each ends in ``failed`` or ``timeout`` with a clear error (or, where the function only
tries to read or reach something, shows that it could not); after each one the autouse
fixture runs a normal function on the same runner.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.executor.process import TRUNCATED
from services.executor.runner import Outcome
from services.executor.sandbox import BwrapLauncher, SandboxLimits
from services.executor.warm import WarmConfig, WarmRunner
from tests.services.executor.conftest import MB, job, new_key, run_normal

pytestmark = pytest.mark.timeout(60)
THIS_FILE = str(Path(__file__).resolve())


def first_line(path: str) -> str:
    return Path(path).read_text().split("\n")[0]


@pytest.fixture(autouse=True)
async def executor_stays_healthy(runner: WarmRunner) -> AsyncIterator[None]:
    yield
    outcome = await run_normal(runner)
    assert outcome.status == "completed", outcome
    assert outcome.result is not None and json.loads(outcome.result) == {"sum": 5}


def assert_failed(outcome: Outcome, error_type: str, *fragments: str) -> None:
    assert outcome.status == "failed", outcome
    assert outcome.error is not None
    assert outcome.error.type == error_type, outcome.error
    for fragment in fragments:
        assert fragment in outcome.error.message, outcome.error


def assert_timed_out(outcome: Outcome) -> None:
    assert outcome.status == "timeout", outcome
    assert outcome.error is not None and outcome.error.type == "ExecutionTimedOut"
    assert "longer than its 1.5 s limit" in outcome.error.message


def sandboxed_strays() -> list[str]:
    """Sandboxed processes (uid 65534, in a pid namespace of their own) that are no worker.

    A worker is pid 2 of its namespace; anything else a function started must have died
    with its worker, whichever runner (or test stack) the sandbox belongs to.
    """
    strays = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{name}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        nspids = fields.get("NSpid", "").split()
        is_zombie = fields.get("State", "").split()[:1] == ["Z"]
        if fields["Uid"].split()[0] == "65534" and len(nspids) > 1 and nspids[-1] != "2":
            strays.append(f"{name} {fields['Name'].strip()}{' (zombie)' if is_zombie else ''}")
    return strays


async def assert_nothing_left_behind() -> None:
    for _ in range(40):
        if not sandboxed_strays():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"processes left behind: {sandboxed_strays()}")


# CPU and time


async def test_infinite_loop_times_out(runner: WarmRunner) -> None:
    code = "def main(args, context):\n    while True:\n        pass\n"
    assert_timed_out(await runner.run(job(code)))


async def test_busy_loop_in_a_thread_times_out(runner: WarmRunner) -> None:
    code = """
import threading

def spin():
    while True:
        pass

def main(args, context):
    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    thread.join()
"""
    assert_timed_out(await runner.run(job(code)))
    await assert_nothing_left_behind()


async def test_sleeping_past_the_limit_times_out(runner: WarmRunner) -> None:
    code = "import time\n\ndef main(args, context):\n    time.sleep(60)\n"
    assert_timed_out(await runner.run(job(code)))


# Memory and processes


async def test_allocating_10_gb_fails(runner: WarmRunner) -> None:
    code = "def main(args, context):\n    return len(bytearray(10 * 1024 ** 3))\n"
    assert_failed(await runner.run(job(code)), "MemoryError")


async def test_fork_bomb_is_contained(runner: WarmRunner) -> None:
    code = """
import os

def main(args, context):
    while True:
        try:
            os.fork()
        except OSError:
            pass
"""
    assert_timed_out(await runner.run(job(code)))
    await assert_nothing_left_behind()


async def test_hoarding_memory_outside_the_address_space_limit_is_refused(
    runner: WarmRunner,
) -> None:
    # Unmapped memfd pages and detached SysV segments would not count in RLIMIT_AS.
    code = """
import ctypes, os

def main(args, context):
    refused = []
    try:
        os.memfd_create("hoard")
    except PermissionError:
        refused.append("memfd_create")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.shmget(0, 1 << 20, 0o1600) == -1 and ctypes.get_errno() == 1:
        refused.append("shmget")
    if libc.msgget(0, 0o1600) == -1 and ctypes.get_errno() == 1:
        refused.append("msgget")
    callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: x + 1)
    return [refused, callback(1)]  # ctypes callbacks still work without memfd
"""
    outcome = await runner.run(job(code))
    assert outcome.result is not None, outcome
    assert json.loads(outcome.result) == [["memfd_create", "shmget", "msgget"], 2]


async def test_a_fork_bomb_does_not_starve_other_sandboxes(runner: WarmRunner) -> None:
    # RLIMIT_NPROC counts per user namespace, and each worker has its own: the bomb's
    # processes do not count against another worker's, though both run as uid 65534.
    bomb = """
import os

def main(args, context):
    while True:
        try:
            os.fork()
        except OSError:
            pass
"""
    forker = """
import os, time

def main(args, context):
    time.sleep(0.5)  # while the bomb holds every process it may have
    children = []
    for _ in range(20):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        children.append(pid)
    return [os.waitpid(pid, 0)[1] for pid in children]
"""
    bombing = asyncio.create_task(runner.run(job(bomb)))
    outcome = await runner.run(job(forker))
    assert outcome.status == "completed", outcome
    assert outcome.result is not None and json.loads(outcome.result) == [0] * 20
    assert_timed_out(await bombing)
    await assert_nothing_left_behind()


async def test_a_process_left_running_dies_with_its_worker(runner: WarmRunner) -> None:
    code = """
import os, time

def main(args, context):
    if os.fork() == 0:
        time.sleep(600)
    return "parent done"
"""
    outcome = await runner.run(job(code))
    assert outcome.status == "completed"  # the call itself was fine; its worker is not reused
    await assert_nothing_left_behind()


async def test_killing_every_process_it_can_finds_none(runner: WarmRunner) -> None:
    # kill(-1) spares the caller itself: there is no other process this uid may signal.
    code = "import os, signal\n\ndef main(args, context):\n    os.kill(-1, signal.SIGKILL)\n"
    assert_failed(await runner.run(job(code)), "ProcessLookupError", "No such process")


# Network


async def test_connecting_to_the_broker_port_fails(runner: WarmRunner) -> None:
    code = """
import socket

def main(args, context):
    socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
"""
    assert_failed(await runner.run(job(code)), "ConnectionRefusedError")


async def test_connecting_to_an_outside_address_fails(runner: WarmRunner) -> None:
    code = """
import socket

def main(args, context):
    socket.create_connection(("1.1.1.1", 53), timeout=1).close()
"""
    assert_failed(await runner.run(job(code)), "OSError", "Network is unreachable")


async def test_only_a_loopback_interface_exists(runner: WarmRunner) -> None:
    code = "import socket\n\ndef main(args, context):\n    return socket.if_nameindex()\n"
    outcome = await runner.run(job(code))
    assert outcome.result is not None and json.loads(outcome.result) == [[1, "lo"]]


# Reading what is not the function's


async def test_reading_etc_shadow_fails(runner: WarmRunner) -> None:
    secret = first_line("/etc/shadow")
    code = "def main(args, context):\n    return open('/etc/shadow').read()\n"
    outcome = await runner.run(job(code))
    assert_failed(outcome, "FileNotFoundError")
    assert secret not in repr(outcome)


async def test_reading_root_fails(runner: WarmRunner) -> None:
    code = "import os\n\ndef main(args, context):\n    return os.listdir('/root')\n"
    assert_failed(await runner.run(job(code)), "FileNotFoundError", "/root")


async def test_reading_the_projects_files_fails(runner: WarmRunner) -> None:
    code = """
import os

def main(args, context):
    return [os.listdir("/"), open(args["path"]).read()]
"""
    path = json.dumps({"path": THIS_FILE}).encode()
    outcome = await runner.run(job(code, path))
    assert_failed(outcome, "FileNotFoundError", "tests/services/executor")
    assert "executor_stays_healthy" not in repr(outcome)


async def test_the_executors_environment_is_invisible(monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "canary-" + uuid.uuid4().hex
    monkeypatch.setenv("FAASPOT_AMQP_URL", f"amqp://user:{canary}@127.0.0.1/")
    code = """
import os

def main(args, context):
    seen = [dict(os.environ)]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                seen.append(open(f"/proc/{pid}/environ", "rb").read().decode())
            except OSError as exc:
                seen.append(repr(exc))
    return seen
"""
    # A runner started now, so that its workers' bwrap would inherit the variable.
    fresh = WarmRunner(BwrapLauncher(SandboxLimits(tmp_bytes=16 * MB)), WarmConfig(prewarm=0))
    await fresh.start()
    try:
        outcome = await fresh.run(job(code))
    finally:
        await fresh.close()
    assert outcome.status == "completed", outcome
    assert canary not in repr(outcome)
    assert outcome.result is not None and b"Permission denied" in outcome.result  # bwrap's init


async def test_another_tenants_context_is_invisible(runner: WarmRunner) -> None:
    secret = "secret-" + uuid.uuid4().hex
    holder = "def main(args, context):\n    return len(context['token'])\n"
    warm = await runner.run(job(holder, key=new_key("tenant-a"), context=f'token = "{secret}"'))
    assert warm.status == "completed"  # its worker now holds the secret, warm
    snoop = """
import gc, os

def main(args, context):
    seen = [os.listdir("/proc"), os.listdir("/tmp"), repr(context)]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        for name in ("cmdline", "environ", "mem"):
            try:
                data = open(f"/proc/{pid}/{name}", "rb").read(1 << 20)
                seen.append(data.decode(errors="replace"))
            except OSError as exc:
                seen.append(repr(exc))
    seen += [repr(obj)[:200] for obj in gc.get_objects() if isinstance(obj, dict)]
    return seen
"""
    outcome = await runner.run(job(snoop, key=new_key("tenant-b")))
    assert outcome.status == "completed", outcome
    assert secret not in repr(outcome)
    assert outcome.result is not None
    assert sorted(int(p) for p in json.loads(outcome.result)[0] if p.isdigit()) == [1, 2]


# The file system


async def test_writing_outside_tmp_fails(runner: WarmRunner) -> None:
    code = """
def main(args, context):
    written = []
    for path in ["/evil", "/faaspot/worker.py", "/faaspot/python/lib/python3.11/os.py",
                 "/usr/evil", "/dev/evil", "/dev/shm/evil", "/proc/evil",
                 "/proc/sys/kernel/hostname"]:
        try:
            with open(path, "a") as target:
                target.write("x")
            written.append(path)
        except OSError:
            pass
    if not written:
        raise PermissionError("nothing outside /tmp is writable")
    return written
"""
    assert_failed(await runner.run(job(code)), "PermissionError", "nothing outside /tmp")


async def test_filling_tmp_fails(runner: WarmRunner) -> None:
    code = """
def main(args, context):
    with open("/tmp/fill", "wb") as target:
        while True:
            target.write(b"x" * 1024 * 1024)
"""
    outcome = await runner.run(job(code))
    assert_failed(outcome, "OSError")
    assert outcome.error is not None
    assert (
        "No space left on device" in outcome.error.message or "too large" in outcome.error.message
    )


async def test_tmp_is_private_to_a_worker(runner: WarmRunner) -> None:
    writer = "def main(args, context):\n    open('/tmp/mine', 'w').write('x')\n    return 1\n"
    reader = "import os\n\ndef main(args, context):\n    return os.listdir('/tmp')\n"
    assert (await runner.run(job(writer))).status == "completed"
    outcome = await runner.run(job(reader))
    assert outcome.result == b"[]"


# Output and results


async def test_printing_100_mb_is_cut_to_the_logs_limit(runner: WarmRunner) -> None:
    code = """
import os

def main(args, context):
    for _ in range(50):
        print("x" * 1024 * 1024)
        os.write(1, b"y" * 1024 * 1024)
    return "done"
"""
    outcome = await runner.run(job(code, timeout_s=10, memory_mb=512))
    assert outcome.status == "completed", outcome  # output over the limit is cut, not an error
    assert outcome.logs.endswith(TRUNCATED)
    assert len(outcome.logs.encode()) <= 64 * 1024 + len(TRUNCATED)


async def test_returning_an_unserialisable_object_fails(runner: WarmRunner) -> None:
    code = "def main(args, context):\n    return object()\n"
    assert_failed(await runner.run(job(code)), "ResultNotSerializable", "not JSON-serialisable")


async def test_returning_100_mb_fails(runner: WarmRunner) -> None:
    code = "def main(args, context):\n    return 'x' * (100 * 1024 * 1024)\n"
    outcome = await runner.run(job(code, timeout_s=10, memory_mb=512))
    assert_failed(outcome, "ResultTooLarge", "1048576-byte limit")


# Ending the process


async def test_sys_exit_fails(runner: WarmRunner) -> None:
    code = "import sys\n\ndef main(args, context):\n    sys.exit(3)\n"
    assert_failed(await runner.run(job(code)), "SystemExit", "3")


async def test_os_exit_fails(runner: WarmRunner) -> None:
    code = "import os\n\ndef main(args, context):\n    os._exit(0)\n"
    assert_failed(await runner.run(job(code)), "WorkerCrashed", "exited with code 0")


async def test_killing_the_parent_fails(runner: WarmRunner) -> None:
    code = "import os\n\ndef main(args, context):\n    os.kill(os.getppid(), 9)\n"
    assert_failed(await runner.run(job(code)), "PermissionError", "Operation not permitted")


@pytest.mark.parametrize("exception", ["SystemExit", "KeyboardInterrupt", "BaseException"])
async def test_raising_a_base_exception_fails(runner: WarmRunner, exception: str) -> None:
    code = f"def main(args, context):\n    raise {exception}('bye')\n"
    assert_failed(await runner.run(job(code)), exception, "bye")


async def test_a_segfault_through_ctypes_fails(runner: WarmRunner) -> None:
    code = "import ctypes\n\ndef main(args, context):\n    ctypes.string_at(0)\n"
    outcome = await runner.run(job(code))
    assert_failed(outcome, "WorkerCrashed", "signal 11 (SIGSEGV)")
    assert "Segmentation fault" in outcome.logs  # faulthandler's traceback


async def test_deep_recursion_fails(runner: WarmRunner) -> None:
    code = "def f(n):\n    return f(n + 1)\n\ndef main(args, context):\n    return f(0)\n"
    assert_failed(await runner.run(job(code)), "RecursionError", "maximum recursion depth")


async def test_recursion_with_the_limit_lifted_fails(runner: WarmRunner) -> None:
    # Python 3.11 recurses on the heap: this ends at the memory limit, not the C stack.
    code = """
import sys

def f(n):
    return f(n + 1)

def main(args, context):
    sys.setrecursionlimit(10 ** 8)
    return f(0)
"""
    outcome = await runner.run(job(code, memory_mb=64, timeout_s=5))
    assert outcome.status == "failed", outcome
    assert outcome.error is not None
    assert outcome.error.type in ("MemoryError", "SystemError", "RecursionError"), outcome.error


# Tampering with the interpreter


async def test_poisoned_modules_and_builtins_stay_in_their_worker(runner: WarmRunner) -> None:
    poison = """
import builtins, json, sys

def main(args, context):
    builtins.len = lambda obj: 42
    builtins.print = None
    json.dumps = lambda *a, **k: "poisoned"
    sys.modules["json"] = None
    sys.modules["os"] = None
    return "done"
"""
    poisoned = await runner.run(job(poison, key=new_key("tenant-a")))
    assert poisoned.status == "completed", poisoned  # the worker keeps its own references
    check = """
import json, os

def main(args, context):
    print("printing works")
    return [len([1, 2]), json.dumps({"a": 1}), os.getcwd()]
"""
    for tenant in ("tenant-a", "tenant-b"):
        outcome = await runner.run(job(check, key=new_key(tenant)))
        assert outcome.result is not None, outcome
        assert json.loads(outcome.result) == [2, '{"a": 1}', "/tmp"]
        assert outcome.logs == "printing works\n"


async def test_importing_a_missing_module_fails(runner: WarmRunner) -> None:
    code = "import faaspot_no_such_module\n\ndef main(args, context):\n    return 1\n"
    assert_failed(await runner.run(job(code)), "ModuleNotFoundError", "faaspot_no_such_module")


# What the sandbox is


async def test_creating_a_user_namespace_is_refused(runner: WarmRunner) -> None:
    code = """
import ctypes, os

def main(args, context):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER: the way back to capabilities
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return "root in a namespace of its own"
"""
    assert_failed(await runner.run(job(code)), "PermissionError", "Operation not permitted")


async def test_user_code_runs_as_host_nobody_without_capabilities(runner: WarmRunner) -> None:
    code = """
def main(args, context):
    status = dict(
        line.split(":", 1) for line in open("/proc/self/status").read().splitlines()
    )
    keys = ["Uid", "Gid", "Groups", "CapEff", "CapPrm", "CapAmb", "NoNewPrivs", "Seccomp"]
    found = {key: status[key].split() for key in keys}
    found["uid_map"] = open("/proc/self/uid_map").read().split()
    return found
"""
    outcome = await runner.run(job(code))
    assert outcome.result is not None, outcome
    found = json.loads(outcome.result)
    assert found["Uid"] == ["65534"] * 4 and found["Gid"] == ["65534"] * 4
    assert found["Groups"] == []
    assert found["CapEff"] == found["CapPrm"] == found["CapAmb"] == ["0000000000000000"]
    assert found["NoNewPrivs"] == ["1"] and found["Seccomp"] == ["2"]
    assert found["uid_map"] == ["0", "0", "1", "65534", "65534", "1"]  # host uid 65534 too
