"""The warm runner with real sandboxed workers: reuse, pre-warming, recycling, limits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvloop

from services.executor.runner import FunctionKey, Outcome
from services.executor.sandbox import (
    BwrapLauncher,
    PlainLauncher,
    SandboxLimits,
    Spawned,
    WorkerStartFailed,
)
from services.executor.warm import RunnerClosed, WarmConfig, WarmRunner
from tests.services.executor.conftest import MB, TEST_CONFIG, job, new_key

# Each worker loads this once: TOKEN tells workers apart, CALLS counts calls per worker.
COUNTING = """
import os, time
TOKEN = os.urandom(8).hex()
CALLS = 0

def main(args, context):
    global CALLS
    CALLS += 1
    if args.get("sleep"):
        time.sleep(args["sleep"])
    if args.get("fail"):
        raise ValueError("asked to fail")
    print("call", CALLS)
    return {"token": TOKEN, "calls": CALLS}
"""


@asynccontextmanager
async def warm_runner(**overrides: Any) -> AsyncIterator[WarmRunner]:
    config = WarmConfig(**{**TEST_CONFIG.__dict__, **overrides})
    runner = WarmRunner(BwrapLauncher(SandboxLimits(tmp_bytes=config.tmp_mb * MB)), config)
    await runner.start()
    try:
        yield runner
    finally:
        await runner.close()


async def call(runner: WarmRunner, key: FunctionKey, **args: Any) -> dict[str, Any]:
    outcome = await runner.run(job(COUNTING, json.dumps(args).encode(), key=key))
    assert outcome.status == "completed", outcome
    assert outcome.result is not None
    result: dict[str, Any] = json.loads(outcome.result)
    return result


async def eventually(check: Callable[[], bool], within_s: float = 3.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_a_warm_worker_loads_the_code_once_and_serves_many_calls() -> None:
    async with warm_runner() as runner:
        key = new_key()
        results = [await call(runner, key) for _ in range(3)]
        assert [r["calls"] for r in results] == [1, 2, 3]
        assert len({r["token"] for r in results}) == 1


async def test_each_call_gets_its_own_logs() -> None:
    async with warm_runner() as runner:
        key = new_key()
        logs = []
        for _ in range(3):
            outcome = await runner.run(job(COUNTING, key=key))
            logs.append(outcome.logs)
        assert logs == ["call 1\n", "call 2\n", "call 3\n"]


async def test_a_cold_call_binds_a_prewarmed_worker_and_the_pool_warms_another() -> None:
    async with warm_runner(prewarm=1) as runner:
        await eventually(lambda: any(s.ready and s.key is None for s in runner.pool.slots))
        prewarmed = next(s.worker for s in runner.pool.slots if s.key is None)
        key = new_key()
        await call(runner, key)
        bound = [s.worker for s in runner.pool.slots if s.key == key]
        assert bound == [prewarmed]
        await eventually(lambda: any(s.ready and s.key is None for s in runner.pool.slots))


async def test_concurrent_calls_of_one_function_get_several_workers() -> None:
    async with warm_runner(prewarm=0) as runner:
        key = new_key()
        started = time.monotonic()
        results = await asyncio.gather(*(call(runner, key, sleep=0.5) for _ in range(3)))
        assert time.monotonic() - started < 1.4  # in parallel, not one after the other
        assert len({r["token"] for r in results}) == 3


async def test_a_worker_is_replaced_after_max_runs() -> None:
    async with warm_runner(max_runs=2) as runner:
        key = new_key()
        tokens = [(await call(runner, key))["token"] for _ in range(4)]
        assert tokens[0] == tokens[1] != tokens[2] == tokens[3]


async def test_an_idle_worker_ends_after_its_ttl() -> None:
    async with warm_runner(idle_ttl_s=0.3) as runner:
        key = new_key()
        first = await call(runner, key)
        await eventually(lambda: all(s.key != key for s in runner.pool.slots))
        assert (await call(runner, key))["token"] != first["token"]


async def test_forget_ends_the_workers_of_a_replaced_function_only() -> None:
    async with warm_runner() as runner:
        replaced, other = new_key("tenant-a"), new_key("tenant-a")
        before = await call(runner, replaced)
        kept = await call(runner, other)
        await runner.forget(replaced.tenant, replaced.function)
        assert (await call(runner, replaced))["token"] != before["token"]
        assert (await call(runner, other))["token"] == kept["token"]


async def test_a_failed_call_does_not_reuse_its_worker() -> None:
    async with warm_runner() as runner:
        key = new_key()
        before = await call(runner, key)
        outcome = await runner.run(job(COUNTING, b'{"fail": true}', key=key))
        assert outcome.status == "failed" and outcome.error is not None
        assert outcome.error.type == "ValueError" and outcome.logs == ""
        assert (await call(runner, key))["token"] != before["token"]


async def test_a_thread_left_running_retires_its_worker() -> None:
    code = """
import os, threading, time
TOKEN = os.urandom(8).hex()

def main(args, context):
    if args.get("leave"):
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
    return TOKEN
"""
    async with warm_runner() as runner:
        key = new_key()
        leaving = await runner.run(job(code, b'{"leave": true}', key=key))
        assert leaving.status == "completed"
        after = await runner.run(job(code, key=key))
        assert after.result != leaving.result


async def test_the_memory_budget_bounds_the_pool() -> None:
    # 128 MB functions with a 16 MB /tmp reserve 144 MB each: two fit in 330 MB.
    async with warm_runner(memory_budget_mb=330, prewarm=0) as runner:
        keys = [new_key() for _ in range(4)]
        for key in keys:
            await call(runner, key)
            assert runner.pool.reserved_mb <= 330
        warm_keys = {s.key for s in runner.pool.slots}
        assert warm_keys == {keys[2], keys[3]}  # the least recently used went first


async def test_limits_apply_inside_and_cannot_be_raised() -> None:
    code = """
import resource

def main(args, context):
    names = ["AS", "NPROC", "NOFILE", "FSIZE", "CORE", "CPU"]
    limits = {name: resource.getrlimit(getattr(resource, "RLIMIT_" + name)) for name in names}
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY,) * 2)
        limits["raised"] = True
    except ValueError:
        limits["raised"] = False
    return limits
"""
    async with warm_runner(nproc=16, nofile=100, tmp_mb=8) as runner:
        outcome: Outcome = await runner.run(job(code, memory_mb=200, timeout_s=3))
    assert outcome.result is not None, outcome
    limits = json.loads(outcome.result)
    assert limits["AS"] == [200 * MB] * 2
    assert limits["NPROC"] == [16, 16]
    assert limits["NOFILE"] == [100, 100]
    assert limits["FSIZE"] == [8 * MB] * 2
    assert limits["CORE"] == [0, 0]
    soft, hard = limits["CPU"]
    assert 4 <= soft <= 6 and hard == soft + 1  # used so far + 3 s + 1 s of grace
    assert limits["raised"] is False


async def test_closing_the_runner_ends_every_worker() -> None:
    async with warm_runner(prewarm=2) as runner:
        await call(runner, new_key())
        await eventually(lambda: len(runner.live_workers()) == 3)
        pids = [w.worker_pid for w in runner.live_workers()]
        pids += [w.process.pid for w in runner.live_workers()]
    await eventually(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in pids))


def test_the_runner_works_on_uvloop_as_the_executor_runs_it() -> None:
    async def scenario() -> list[str]:
        async with warm_runner(prewarm=1) as runner:
            key = new_key()
            statuses: list[str] = [
                (await runner.run(job(COUNTING, key=key))).status for _ in range(2)
            ]
            crash = "import os\n\ndef main(args, context):\n    os._exit(1)\n"
            statuses.append((await runner.run(job(crash))).status)
            loop = "def main(args, context):\n    while True:\n        pass\n"
            statuses.append((await runner.run(job(loop, timeout_s=0.5))).status)
            return statuses

    assert uvloop.run(scenario()) == ["completed", "completed", "failed", "timeout"]


class BreakingLauncher(PlainLauncher):
    """Starts its first worker, then no more (as when the host runs out of processes)."""

    spawned = 0

    async def spawn(self) -> Spawned:
        self.spawned += 1
        if self.spawned > 1:
            raise WorkerStartFailed("no more processes")
        return await super().spawn()


async def test_a_worker_that_cannot_start_is_the_platforms_failure_not_the_functions() -> None:
    runner = WarmRunner(BreakingLauncher(), WarmConfig(prewarm=0))
    await runner.start()  # its one worker waits, pre-warmed
    try:
        await call(runner, new_key())
        with pytest.raises(WorkerStartFailed, match="no more processes"):
            await runner.run(job(COUNTING))  # raised: the executor has it delivered again
        assert len(runner.pool.slots) == 1
    finally:
        await runner.close()


async def test_a_job_waiting_for_room_ends_when_the_runner_closes() -> None:
    async with warm_runner(memory_budget_mb=200, prewarm=0) as runner:
        busy = asyncio.create_task(call(runner, new_key(), sleep=1))
        await eventually(lambda: any(s.busy for s in runner.pool.slots))
        waiting = asyncio.create_task(runner.run(job(COUNTING)))
        await asyncio.sleep(0.1)
        assert not waiting.done()  # 144 MB more would not fit in 200 MB
        await runner.close()
        with pytest.raises(RunnerClosed):
            await waiting
        busy.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await busy
