"""The plain runner: one fresh child process per job, speaking the worker protocol.

It isolates user code from the executor process (a crash, an exit, a hang or a memory
blow-up ends only the child) but is no sandbox; the sandboxed warm pool replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import struct
import sys
import time
from pathlib import Path
from typing import Any

from services.executor.runner import Job, Outcome
from shared.messages import ErrorInfo

WORKER_PATH = Path(__file__).with_name("worker.py")
HEADER = struct.Struct(">I")
FRAME_MAX = 64 * 1024 * 1024  # bytes of one reply frame the executor accepts
CPU_GRACE_S = 1  # CPU seconds over the wall timeout before the kernel kills the worker
TRUNCATED = "\n[... output truncated ...]\n"
LOGS_LINGER_S = 1.0  # how long to wait for the log pipe to close once the worker is gone


class WorkerDied(Exception):
    """The worker process ended without answering."""


def worker_command() -> list[str]:
    # -I: ignore PYTHON* variables and the user's site; -S: no site-packages; -B: no .pyc.
    return [sys.executable, "-I", "-S", "-B", str(WORKER_PATH)]


def setup_frame(job: Job, result_max: int, logs_max: int) -> dict[str, Any]:
    return {
        "code": job.code,
        "context": job.context,
        "result_max": result_max,
        "logs_max": logs_max,
        "memory_mb": job.memory_mb,
        "cpu_s": int(job.timeout_s) + CPU_GRACE_S,
    }


def encode_frame(payload: dict[str, Any]) -> bytes:
    data = json.dumps(payload).encode("utf-8")
    return HEADER.pack(len(data)) + data


async def read_frame(stream: asyncio.StreamReader) -> dict[str, Any]:
    try:
        header = await stream.readexactly(HEADER.size)
        (size,) = HEADER.unpack(header)
        if size > FRAME_MAX:
            raise WorkerDied(f"the worker sent a {size}-byte frame")
        reply: dict[str, Any] = json.loads(await stream.readexactly(size))
    except asyncio.IncompleteReadError as exc:
        raise WorkerDied("the worker closed its pipe") from exc
    return reply


async def drain_logs(stream: asyncio.StreamReader, limit: int) -> str:
    """Read the log pipe to its end, keeping at most ``limit`` bytes."""
    kept = bytearray()
    truncated = False
    while chunk := await stream.read(65536):
        room = limit - len(kept)
        kept += chunk[: max(room, 0)]
        truncated = truncated or len(chunk) > room
    text = kept.decode("utf-8", errors="replace")
    return text + TRUNCATED if truncated else text


async def collected(logs: asyncio.Task[str]) -> str:
    """The logs, unless an escaped descendant keeps the pipe open: then none."""
    try:
        return await asyncio.wait_for(logs, LOGS_LINGER_S)
    except TimeoutError:
        return TRUNCATED


def outcome_from_reply(reply: dict[str, Any], started: float, logs: str) -> Outcome:
    error = reply.get("error")
    result = reply.get("result")
    return _outcome(
        reply["status"],
        started,
        result=None if result is None else result.encode("utf-8"),
        error=None if error is None else ErrorInfo(**error),
        logs=(reply.get("logs") or "") + logs,
    )


def _outcome(
    status: Any,
    started: float,
    *,
    result: bytes | None = None,
    error: ErrorInfo | None = None,
    logs: str = "",
) -> Outcome:
    finished = time.time()
    return Outcome(
        status=status,
        result=result,
        error=error,
        logs=logs,
        started_at=started,
        finished_at=finished,
        duration_ms=round((finished - started) * 1000, 3),
    )


def kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


class ProcessRunner:
    """One child per job, in its own session so that everything it started dies with it."""

    def __init__(self, result_max: int, logs_max: int) -> None:
        self.result_max = result_max
        self.logs_max = logs_max

    async def start(self) -> None:
        return None

    async def forget(self, tenant: str, function: str) -> None:
        return None

    async def close(self) -> None:
        return None

    async def run(self, job: Job) -> Outcome:
        started = time.time()
        process = await asyncio.create_subprocess_exec(
            *worker_command(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            cwd="/tmp",
        )
        assert process.stdin and process.stdout and process.stderr
        logs = asyncio.create_task(drain_logs(process.stderr, self.logs_max))
        try:
            process.stdin.write(encode_frame(setup_frame(job, self.result_max, self.logs_max)))
            process.stdin.write(encode_frame({"params": job.params.decode("utf-8")}))
            process.stdin.close()
            reply = await asyncio.wait_for(read_frame(process.stdout), job.timeout_s)
        except TimeoutError:
            kill_group(process)
            return _outcome("timeout", started, error=_timed_out(job), logs=await collected(logs))
        except (WorkerDied, ConnectionError) as exc:
            kill_group(process)
            code = await process.wait()
            return _outcome("failed", started, error=_died(exc, code, job), logs=await collected(logs))
        finally:
            kill_group(process)
            await process.wait()
        return outcome_from_reply(reply, started, await collected(logs))


def _timed_out(job: Job) -> ErrorInfo:
    return ErrorInfo(
        type="ExecutionTimedOut",
        message=f"the function ran longer than its {job.timeout_s:g} s limit",
    )


def _died(exc: Exception, exit_code: int, job: Job) -> ErrorInfo:
    if exit_code == -signal.SIGKILL or exit_code == -signal.SIGXCPU:
        reason = f"it was killed (signal {-exit_code}): over its CPU or memory limit?"
    elif exit_code < 0:
        reason = f"it was killed by signal {-exit_code}"
    else:
        reason = f"it exited with code {exit_code}"
    return ErrorInfo(
        type="WorkerCrashed",
        message=f"the function's process ended without an answer: {reason} ({exc})",
    )
