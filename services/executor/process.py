"""The executor's handle on one worker process: frames in and out, logs per call, limits, kill.

A worker speaks the protocol of ``worker.py`` on its stdin/stdout; its stderr is the log
pipe, read all the time (so the worker never blocks on it) and split into calls at the
end marks the worker writes. A handle never raises for user faults: a timeout, a crash
or a protocol violation becomes a ``CallResult`` and the process is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import resource
import signal
import struct
from dataclasses import dataclass
from typing import Any, Literal

from services.executor.sandbox import Launcher, WorkerStartFailed
from shared.messages import ErrorInfo

HEADER = struct.Struct(">I")
MARK_PREFIX = b"\x00\x1eFAASPOT-END "  # worker.END_MARK up to the call number
MARK_SUFFIX = b"\x1e\x00"
MARK_MAX = len(MARK_PREFIX) + 20 + len(MARK_SUFFIX)  # bytes of the longest end mark
TRUNCATED = "\n[... output truncated ...]\n"
READY_TIMEOUT_S = 10.0  # for a new worker's interpreter to come up
LOGS_LINGER_S = 1.0  # for the rest of a call's logs once its reply (or end) is in
CPU_GRACE_S = 1  # CPU seconds over the wall timeout before the kernel stops a call
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

Frame = dict[str, Any]


class WorkerDied(Exception):
    """The worker ended, or broke the protocol, without answering."""


@dataclass(frozen=True)
class CallResult:
    status: Literal["completed", "failed", "timeout"]
    result: str | None  # JSON text, when completed
    error: ErrorInfo | None
    logs: str
    reusable: bool  # the process may serve another call


class CallLogs:
    """Splits the log pipe into per-call output at the worker's end marks.

    Output after the end mark of call n belongs to call n + 1 (stray output of a thread
    that outlived its call, say). A mark for another call number than the one expected
    (user code can print one) is dropped and ends nothing.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.expected = 1
        self.current = bytearray()
        self.truncated = False
        self.carry = b""
        self.done: dict[int, tuple[bytes, bool]] = {}

    def feed(self, chunk: bytes) -> None:
        data = self.carry + chunk
        self.carry = b""
        while data:
            start = data.find(MARK_PREFIX)
            if start < 0:
                keep = max(len(data) - len(MARK_PREFIX) + 1, 0)  # a mark may begin at the end
                self._keep(data[:keep])
                self.carry = data[keep:]
                return
            self._keep(data[:start])
            data = self._mark(data[start:])

    def _mark(self, data: bytes) -> bytes:
        """Consume the end mark at the start of ``data``; return what follows it."""
        end = data.find(MARK_SUFFIX, len(MARK_PREFIX))
        if end < 0 and len(data) < MARK_MAX:
            self.carry = data  # the mark is cut between two reads
            return b""
        number = data[len(MARK_PREFIX) : end]
        if end < 0 or not number.isdigit():
            self._keep(data[:1])  # not a mark after all: plain output
            return data[1:]
        if int(number) == self.expected:
            self.done[self.expected] = (bytes(self.current), self.truncated)
            self.expected += 1
            self.current = bytearray()
            self.truncated = False
        return data[end + len(MARK_SUFFIX) :]

    def _keep(self, data: bytes) -> None:
        room = self.limit - len(self.current)
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        self.current += data

    def take(self, call: int) -> tuple[bytes, bool] | None:
        return self.done.pop(call, None)

    def rest(self) -> tuple[bytes, bool]:
        """Whatever came after the last end mark: the output of a call that never ended."""
        self._keep(self.carry)
        self.carry = b""
        return bytes(self.current), self.truncated


def logs_text(data: bytes, truncated: bool, limit: int) -> str:
    text = data[:limit].decode("utf-8", errors="replace")
    return text + TRUNCATED if truncated or len(data) > limit else text


class WorkerProcess:
    """One running worker. Calls are sequential: the pool hands it to one job at a time."""

    def __init__(self, spawned_process: asyncio.subprocess.Process, logs_max: int) -> None:
        assert spawned_process.stdin and spawned_process.stdout and spawned_process.stderr
        self.process = spawned_process
        self.stdin = spawned_process.stdin
        self.stdout = spawned_process.stdout
        self.logs_max = logs_max
        self.logs = CallLogs(logs_max)
        self.calls = 0
        self.worker_pid: int | None = None  # host pid of the Python worker itself
        self.parent_pid: int | None = None  # host pid of its parent, bwrap's init (sandboxed)
        self.frame_max = 0
        self._log_event = asyncio.Event()
        self._log_reader = asyncio.create_task(self._read_logs(spawned_process.stderr))
        self._hard_cpu_ok = True

    @classmethod
    async def start(cls, launcher: Launcher, logs_max: int) -> tuple[WorkerProcess, Frame]:
        """Start a worker and wait until its interpreter is up; return it and its hello frame."""
        spawned = await launcher.spawn()
        worker = cls(spawned.process, logs_max)
        try:
            hello = await asyncio.wait_for(worker._read_frame(), READY_TIMEOUT_S)
        except (WorkerDied, TimeoutError) as exc:
            await worker.close()
            said = logs_text(*worker.logs.rest(), logs_max).strip()
            raise WorkerStartFailed(f"the worker did not start: {said or exc}") from exc
        worker.parent_pid = spawned.init_pid if spawned.init_pid != spawned.process.pid else None
        worker.worker_pid = _worker_pid(spawned.init_pid, spawned.process.pid)
        return worker, hello

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def bind(self, setup: Frame, frame_max: int) -> None:
        """Send the setup frame (limits, code, context); its errors come with the first call."""
        self.frame_max = frame_max
        self._send(setup)

    async def call(self, params: bytes, timeout_s: float) -> CallResult:
        self.calls += 1
        self._limit_cpu(timeout_s)
        request = {"params": params.decode("utf-8", errors="replace")}
        try:
            self._send(request)
            reply = await asyncio.wait_for(self._read_frame(), timeout_s)
        except TimeoutError:
            await self.close()
            error = ErrorInfo(
                type="ExecutionTimedOut",
                message=f"the function ran longer than its {timeout_s:g} s limit",
            )
            return CallResult("timeout", None, error, self._unended_logs(), reusable=False)
        except (WorkerDied, ConnectionError) as exc:
            await self.close()
            error = ErrorInfo(type="WorkerCrashed", message=self._crash_reason(exc))
            return CallResult("failed", None, error, self._unended_logs(), reusable=False)
        logs, in_sync = await self._logs_of(self.calls)
        return _from_reply(reply, logs, in_sync)

    def kill(self) -> None:
        """SIGKILL the process group of our child (bwrap, or the plain worker).

        The sandbox goes with bwrap: its init dies by --die-with-parent, and with the init
        the kernel kills every process of the pid namespace. The worker is never killed by
        its host pid, which may belong to another process once the worker is gone.
        """
        if self.process.returncode is None:  # not reaped: the group id is still ours
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    async def close(self) -> None:
        """Kill the process (and with it everything it started) and reap it."""
        self.kill()
        await self.process.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._log_reader), LOGS_LINGER_S)
        self._log_reader.cancel()

    def rss_kb(self) -> int | None:
        """Resident memory of the Python worker, from the host's /proc."""
        if self.worker_pid is None:
            return None
        with contextlib.suppress(OSError), open(f"/proc/{self.worker_pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None

    def _send(self, payload: Frame) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.stdin.write(HEADER.pack(len(data)) + data)

    async def _read_frame(self) -> Frame:
        try:
            (size,) = HEADER.unpack(await self.stdout.readexactly(HEADER.size))
            if self.frame_max and size > self.frame_max:
                raise WorkerDied(f"the worker sent a {size}-byte frame")
            frame = json.loads(await self.stdout.readexactly(size))
        except asyncio.IncompleteReadError as exc:
            raise WorkerDied("the worker closed its pipe") from exc
        except ValueError as exc:
            raise WorkerDied("the worker sent a malformed frame") from exc
        if not isinstance(frame, dict):
            raise WorkerDied("the worker sent a malformed frame")
        return frame

    async def _read_logs(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.logs.feed(chunk)
            self._log_event.set()
        self._log_event.set()

    async def _logs_of(self, call: int) -> tuple[str, bool]:
        """The output of call number ``call``; False when its end mark never came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOGS_LINGER_S
        while (taken := self.logs.take(call)) is None:
            if self._log_reader.done() or loop.time() >= deadline:
                return self._unended_logs(), False
            self._log_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._log_event.wait(), deadline - loop.time())
        return logs_text(*taken, self.logs_max), True

    def _unended_logs(self) -> str:
        return logs_text(*self.logs.rest(), self.logs_max)

    def _limit_cpu(self, timeout_s: float) -> None:
        """RLIMIT_CPU of this call: what the worker used so far, plus the timeout, plus grace.

        Set from outside, so user code cannot raise it; the kernel sends SIGXCPU at the soft
        limit and SIGKILL a second later. The wall-clock timeout is still the one that
        normally ends a long call: this one also stops CPU burnt by several threads.
        """
        if self.worker_pid is None:
            return
        used_s = _cpu_seconds(self.worker_pid, self.parent_pid or os.getpid())
        if used_s is None:
            return
        soft = math.ceil(used_s + timeout_s) + CPU_GRACE_S
        try:
            if self._hard_cpu_ok:
                resource.prlimit(self.worker_pid, resource.RLIMIT_CPU, (soft, soft + 1))
                return
        except PermissionError:
            self._hard_cpu_ok = False  # unprivileged plain mode: the hard limit cannot rise
        with contextlib.suppress(OSError, ValueError):
            _, hard = resource.prlimit(self.worker_pid, resource.RLIMIT_CPU)
            resource.prlimit(self.worker_pid, resource.RLIMIT_CPU, (soft, hard))

    def _crash_reason(self, exc: BaseException) -> str:
        code = self.process.returncode
        # A sandboxed worker's status comes through bwrap, which exits with 128 + signal.
        signum = -code if code is not None and code < 0 else (code or 0) - 128
        if signum in (signal.SIGKILL, signal.SIGXCPU):
            reason = f"it was killed (signal {signum}): over its CPU or memory limit?"
        elif signum in signal.valid_signals():
            reason = f"it was killed by signal {signum} ({signal.Signals(signum).name})"
        else:
            reason = f"it exited with code {code}"
        return f"the function's process ended without an answer: {reason} ({exc})"


def _from_reply(reply: Frame, logs: str, in_sync: bool) -> CallResult:
    try:
        status = reply["status"]
        error = reply.get("error")
        result = reply.get("result")
        truncated = bool(reply.get("logs_truncated"))
        info = None if error is None else ErrorInfo(**error)
        if status not in ("completed", "failed") or (status == "completed") != (result is not None):
            raise ValueError(status)
    except (KeyError, TypeError, ValueError):
        error = ErrorInfo(type="WorkerCrashed", message="the worker sent a malformed reply")
        return CallResult("failed", None, error, logs, reusable=False)
    if truncated and not logs.endswith(TRUNCATED):
        logs += TRUNCATED
    reusable = in_sync and not reply.get("recycle", True)
    return CallResult(status, result if isinstance(result, str) else None, info, logs, reusable)


def _worker_pid(init_pid: int, process_pid: int) -> int | None:
    """The Python worker's host pid: ``init_pid`` itself, or its only child (bwrap's init)."""
    if init_pid == process_pid:
        return process_pid
    path = f"/proc/{init_pid}/task/{init_pid}/children"
    with contextlib.suppress(OSError, ValueError, IndexError), open(path) as children:
        return int(children.read().split()[0])
    return None


def _cpu_seconds(pid: int, parent: int) -> float | None:
    """User plus system CPU time of a process (all its threads), from /proc/PID/stat.

    None unless ``pid`` is still the child of ``parent``: a dead worker's pid may be reused.
    """
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if int(fields[1]) != parent:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
