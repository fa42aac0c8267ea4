"""The warm runner: sandboxed workers kept per function version, reused across calls.

A worker is bound to one ``FunctionKey`` (it loads that code once) and serves calls of it
one at a time; concurrent calls of one function get several workers. Workers are ended
after ``max_runs`` calls, after ``idle_ttl_s`` idle, after any call that did not complete
cleanly (an exception, a timeout, a crash, a limit hit, threads or processes left behind),
and when their function is replaced or deleted (``forget``). A few pre-warmed workers wait
with the interpreter up and no function bound, so that a cold call skips start-up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from services.executor.pool import Pool, PoolLimits, Slot
from services.executor.process import CallResult, WorkerProcess
from services.executor.runner import Job, Outcome
from services.executor.sandbox import (
    NOBODY,
    BwrapLauncher,
    Launcher,
    PlainLauncher,
    SandboxLimits,
    SandboxUnavailable,
    WorkerStartFailed,
)
from shared.messages import ErrorInfo
from shared.settings import Settings

logger = logging.getLogger(__name__)

MB = 1024 * 1024
PREWARM_MB = 32  # reserved for an unbound worker (an idle interpreter is ~12 MB resident)
REAP_EVERY_S = 5.0  # how often idle workers are checked against their TTL
FRAME_OVERHEAD = 1024 * 1024  # bytes of a reply frame beyond its escaped result and error


@dataclass(frozen=True)
class WarmConfig:
    """Everything the warm runner is tuned by; ``from_settings`` reads it from FAASPOT_*."""

    result_max: int = 1024 * 1024  # bytes of a JSON result
    logs_max: int = 64 * 1024  # bytes of one call's output
    concurrency: int = 2  # invocations per lane; two lanes may each run this many at once
    max_runs: int = 1000  # calls a worker serves before it is replaced
    idle_ttl_s: float = 300.0  # seconds a bound worker may stay idle
    workers_max: int = 32  # worker processes at once (raised to fit both lanes)
    memory_budget_mb: int = 0  # sum of workers' memory reservations; 0: half this machine's RAM
    prewarm: int = 2  # unbound workers kept ready
    tmp_mb: int = 64  # size of each worker's private /tmp
    nproc: int = 32  # processes and threads per worker (its own user namespace: not shared)
    nofile: int = 256  # open files per worker

    @classmethod
    def from_settings(cls, settings: Settings) -> WarmConfig:
        return cls(
            result_max=settings.result_max,
            logs_max=settings.logs_max,
            concurrency=settings.executor_concurrency,
            max_runs=settings.executor_max_runs,
            idle_ttl_s=settings.executor_idle_ttl,
            workers_max=settings.executor_workers_max,
            memory_budget_mb=settings.executor_memory_budget,
            prewarm=settings.executor_prewarm,
            tmp_mb=settings.sandbox_tmp_mb,
            nproc=settings.sandbox_nproc,
            nofile=settings.sandbox_nofile,
        )

    def pool_limits(self) -> PoolLimits:
        budget = self.memory_budget_mb or _half_of_ram_mb()
        return PoolLimits(
            # Busy workers are never ended: room for both lanes' jobs and the pre-warmed.
            workers_max=max(self.workers_max, 2 * self.concurrency + self.prewarm),
            memory_budget_mb=budget,
            max_runs=self.max_runs,
            idle_ttl_s=self.idle_ttl_s,
            prewarm=self.prewarm,
            prewarm_mb=PREWARM_MB,
        )


def _half_of_ram_mb() -> int:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // MB // 2


def launcher_for(settings: Settings, config: WarmConfig) -> Launcher:
    if settings.sandbox == "none":
        return PlainLauncher()
    return BwrapLauncher(SandboxLimits(tmp_bytes=config.tmp_mb * MB))


class RunnerClosed(Exception):
    """A job arrived, or was waiting for a worker, while the runner closed."""


class WarmRunner:
    """A ``Runner`` keeping an LRU pool of warm workers within a count and memory budget."""

    def __init__(self, launcher: Launcher, config: WarmConfig) -> None:
        self.launcher = launcher
        self.config = config
        self.pool: Pool[WorkerProcess] = Pool(config.pool_limits())
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings) -> WarmRunner:
        config = WarmConfig.from_settings(settings)
        return cls(launcher_for(settings, config), config)

    async def start(self) -> None:
        """Check that workers start (in the sandbox, as uid 65534), then warm up the pool.

        Raises ``SandboxUnavailable`` when they cannot: the executor must not start.
        """
        if not self.launcher.sandboxed:
            logger.warning(
                "FAASPOT_SANDBOX=none: user functions run WITHOUT a sandbox, as plain child "
                "processes with this executor's rights; use it only for trusted code"
            )
        slot, _ = self.pool.reserve(None, PREWARM_MB) or (None, [])
        if slot is None:
            raise SandboxUnavailable("the warm pool has no room for a single worker")
        try:
            worker, hello = await WorkerProcess.start(self.launcher, self.config.logs_max)
        except WorkerStartFailed as exc:
            self.pool.drop(slot)
            raise SandboxUnavailable(
                f"{exc}. The executor needs bubblewrap with user namespaces; "
                "set FAASPOT_SANDBOX=none to run functions without a sandbox (unsafe)"
            ) from exc
        if self.launcher.sandboxed and hello.get("uid") != NOBODY:
            await worker.close()
            raise SandboxUnavailable(
                f"sandboxed workers run as uid {hello.get('uid')}, not {NOBODY}"
            )
        self.pool.started(slot, worker, time.monotonic())
        self._fill_prewarm()
        self._reaper = asyncio.create_task(self._reap())

    async def run(self, job: Job) -> Outcome:
        """Run ``job`` on a worker bound to its function; user faults become the outcome.

        Raises ``WorkerStartFailed`` when no worker could be started (the platform's fault,
        not the function's: the executor leaves the invocation to be delivered again) and
        ``RunnerClosed`` once ``close`` began.
        """
        slot = await self._lease(job)
        started = time.time()  # the call's time: not a wait for room, nor a worker's start
        assert slot.worker is not None
        try:
            result = self._checked(await slot.worker.call(job.params, job.timeout_s))
        except BaseException:
            self._retire(slot)  # cancelled mid-call: the worker's state is unknown
            raise
        self._release(slot, result.reusable)
        return _outcome(result, started)

    async def forget(self, tenant: str, function: str) -> None:
        for slot in self.pool.forget(tenant, function):
            self._end(slot)
        self._notify()

    async def close(self) -> None:
        self._closed = True
        self._notify()  # jobs waiting for room learn that none will come
        if self._reaper is not None:
            self._reaper.cancel()
        for slot in list(self.pool.slots):
            self.pool.drop(slot)
            self._end(slot)
        # Not cancelled: a pre-warm start sees ``_closed`` when it is done and ends its worker.
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def live_workers(self) -> list[WorkerProcess]:
        return [slot.worker for slot in self.pool.slots if slot.worker is not None]

    async def _lease(self, job: Job) -> Slot[WorkerProcess]:
        """A worker bound to ``job.key``, marked busy: warm, else pre-warmed, else new."""
        reserve_mb = self.pool.reservation_mb(job.memory_mb, self.config.tmp_mb)
        while True:
            if self._closed:
                raise RunnerClosed("the runner is closing")
            slot = self.pool.take_warm(job.key)
            if slot is not None and slot.worker is not None and slot.worker.alive:
                return slot
            if slot is not None:  # died while idle (the host's OOM killer, say)
                self._retire(slot)
                continue
            if (taken := self.pool.take_prewarmed(job.key, reserve_mb)) is not None:
                slot, evicted = taken
                self._end_all(evicted)
                if self._bind(slot, job):
                    return slot  # replaced on release: a start now would slow this call
                continue
            if (reserved := self.pool.reserve(job.key, reserve_mb)) is not None:
                slot, evicted = reserved
                self._end_all(evicted)
                return await self._start_bound(slot, job)
            await self._changed.wait()

    async def _start_bound(self, slot: Slot[WorkerProcess], job: Job) -> Slot[WorkerProcess]:
        try:
            worker, _ = await WorkerProcess.start(self.launcher, self.config.logs_max)
        except BaseException:
            self.pool.drop(slot)
            self._notify()
            raise
        self.pool.started(slot, worker, time.monotonic())
        if not self._bind(slot, job):
            raise WorkerStartFailed("the new worker died before its first call")
        return slot

    def _bind(self, slot: Slot[WorkerProcess], job: Job) -> bool:
        worker = slot.worker
        if worker is None or not worker.alive:
            self._retire(slot)
            return False
        worker.bind(self._setup(job), self._frame_max())
        return True

    def _setup(self, job: Job) -> dict[str, Any]:
        config = self.config
        return {
            "code": job.code,
            "context": job.context,
            "result_max": config.result_max,
            "logs_max": config.logs_max,
            "memory_mb": job.memory_mb,
            "nproc": config.nproc,
            "nofile": config.nofile,
            "fsize_bytes": config.tmp_mb * MB,
        }

    def _frame_max(self) -> int:
        # JSON escaping may take six bytes per character of result, logs or error text.
        return 6 * (self.config.result_max + self.config.logs_max) + FRAME_OVERHEAD

    def _checked(self, result: CallResult) -> CallResult:
        """Trust no reply: a completed result must be JSON and within ``result_max``."""
        if result.status != "completed" or result.result is None:
            return result
        text = result.result
        problem = None
        if len(text.encode("utf-8", errors="replace")) > self.config.result_max:
            problem = ErrorInfo("ResultTooLarge", f"over the {self.config.result_max}-byte limit")
        else:
            try:
                json.loads(text)
            except ValueError:
                problem = ErrorInfo(
                    "ResultNotSerializable", "the result the worker sent is no JSON"
                )
        if problem is None:
            return result
        return CallResult("failed", None, problem, result.logs, reusable=False)

    def _release(self, slot: Slot[WorkerProcess], reusable: bool) -> None:
        if not self.pool.release(slot, reusable, time.monotonic()):
            self._end(slot)
        self._fill_prewarm()
        self._notify()

    def _retire(self, slot: Slot[WorkerProcess]) -> None:
        self.pool.drop(slot)
        self._end(slot)
        self._notify()

    def _end_all(self, slots: list[Slot[WorkerProcess]]) -> None:
        for slot in slots:
            self._end(slot)

    def _end(self, slot: Slot[WorkerProcess]) -> None:
        if slot.worker is not None:
            slot.worker.kill()
            self._spawn(slot.worker.close())

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _fill_prewarm(self) -> None:
        if self._closed:
            return
        for _ in range(self.pool.prewarm_wanted()):
            reserved = self.pool.reserve(None, PREWARM_MB)
            if reserved is None:
                return
            self._spawn(self._prewarm(reserved[0]))

    async def _prewarm(self, slot: Slot[WorkerProcess]) -> None:
        try:
            worker, _ = await WorkerProcess.start(self.launcher, self.config.logs_max)
        except WorkerStartFailed as exc:
            logger.warning("a pre-warmed worker did not start: %s", exc)
            self.pool.drop(slot)
        else:
            if self._closed:
                await worker.close()
                return
            self.pool.started(slot, worker, time.monotonic())
        self._notify()

    async def _reap(self) -> None:
        every_s = min(REAP_EVERY_S, self.config.idle_ttl_s / 2)
        while True:
            await asyncio.sleep(every_s)
            for slot in self.pool.expired(time.monotonic()):
                self._end(slot)
            self._fill_prewarm()
            self._notify()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _outcome(result: CallResult, started: float) -> Outcome:
    finished = time.time()
    return Outcome(
        status=result.status,
        result=None if result.result is None else result.result.encode("utf-8"),
        error=result.error,
        logs=result.logs,
        started_at=started,
        finished_at=finished,
        duration_ms=round((finished - started) * 1000, 3),
    )
