"""Runner-level figures of the sandboxed warm pool (issue 4), no broker or HTTP involved.

    .venv/bin/python bench/sandbox.py [--rounds 5] [--warm-calls 2000] [--cold-calls 20]

Each round measures, on a fresh runner with real bwrap sandboxes:
- cold call, no pre-warmed worker: sandbox and interpreter start, code load, call;
- cold call, pre-warmed: a ready interpreter is bound to the new function, then called;
- warm call: p50 and p99 of a no-op function's calls on its warm worker;
- executor CPU per warm call: the runner's own cost (this process's CPU time per call);
- a warm worker's resident memory (VmRSS of the sandboxed Python, from the host).
It prints the median of the rounds' figures as a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

import uvloop

from services.executor.runner import FunctionKey, Job
from services.executor.sandbox import BwrapLauncher, SandboxLimits
from services.executor.warm import WarmConfig, WarmRunner

NOOP = "def main(args, context):\n    return args\n"
MB = 1024 * 1024
TMP_MB = 64


def new_job(key: FunctionKey | None = None) -> Job:
    key = key or FunctionKey("bench", "f" + uuid.uuid4().hex[:12], 1)
    return Job(key=key, code=NOOP, context=None, params=b'{"x": 1}', timeout_s=10, memory_mb=256)


async def started_runner(prewarm: int) -> WarmRunner:
    config = WarmConfig(prewarm=prewarm, tmp_mb=TMP_MB, workers_max=64)
    runner = WarmRunner(BwrapLauncher(SandboxLimits(tmp_bytes=TMP_MB * MB)), config)
    await runner.start()
    return runner


async def prewarmed_ready(runner: WarmRunner, count: int) -> None:
    for _ in range(2000):  # 10 s
        if sum(1 for s in runner.pool.slots if s.ready and s.key is None) >= count:
            return
        await asyncio.sleep(0.005)
    raise RuntimeError("pre-warmed workers did not come up")


async def timed_ms(runner: WarmRunner, job: Job) -> float:
    started = time.perf_counter()
    outcome = await runner.run(job)
    elapsed = (time.perf_counter() - started) * 1000
    if outcome.status != "completed":
        raise RuntimeError(f"benchmark call failed: {outcome}")
    return elapsed


async def cold_ms(calls: int, prewarm: int) -> float:
    runner = await started_runner(prewarm)
    try:
        times = []
        for _ in range(calls):
            await prewarmed_ready(runner, prewarm)
            await asyncio.sleep(0.02)  # let the pool settle: measure the call alone
            times.append(await timed_ms(runner, new_job()))
        return statistics.median(times)
    finally:
        await runner.close()


async def warm_figures(calls: int) -> dict[str, float]:
    runner = await started_runner(prewarm=0)
    try:
        job = new_job()
        for _ in range(50):  # bind, then let caches and branch predictors settle
            await timed_ms(runner, job)
        cpu_started = time.process_time()
        times = sorted([await timed_ms(runner, job) for _ in range(calls)])
        cpu_ms = (time.process_time() - cpu_started) * 1000 / calls
        worker = next(s.worker for s in runner.pool.slots if s.key == job.key)
        assert worker is not None
        rss_kb = worker.rss_kb() or 0
        return {
            "warm_p50_ms": statistics.median(times),
            "warm_p99_ms": times[int(len(times) * 0.99) - 1],
            "executor_cpu_per_call_ms": cpu_ms,
            "warm_worker_rss_mb": rss_kb / 1024,
        }
    finally:
        await runner.close()


async def one_round(warm_calls: int, cold_calls: int) -> dict[str, float]:
    figures = {
        "cold_no_prewarm_p50_ms": await cold_ms(cold_calls, prewarm=0),
        "cold_prewarmed_p50_ms": await cold_ms(cold_calls, prewarm=2),
    }
    figures.update(await warm_figures(warm_calls))
    return figures


LABELS = {
    "cold_no_prewarm_p50_ms": ("cold call, no pre-warmed worker, p50", "ms", 50.0),
    "cold_prewarmed_p50_ms": ("cold call, pre-warmed worker, p50", "ms", 50.0),
    "warm_p50_ms": ("warm call, p50", "ms", 1.0),
    "warm_p99_ms": ("warm call, p99", "ms", None),
    "executor_cpu_per_call_ms": ("executor CPU per warm call", "ms", None),
    "warm_worker_rss_mb": ("warm worker resident memory", "MB", 30.0),
}


def print_table(medians: dict[str, float], rounds: int) -> None:
    print(f"sandboxed warm runner, median of {rounds} rounds")
    print(f"{'figure':<40} {'value':>10}  target")
    for name, (label, unit, target) in LABELS.items():
        goal = f"<= {target:g} {unit}" if target is not None else ""
        print(f"{label:<40} {medians[name]:>7.3f} {unit:<2}  {goal}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warm-calls", type=int, default=2000)
    parser.add_argument("--cold-calls", type=int, default=20)
    options = parser.parse_args()
    rounds = [
        await one_round(options.warm_calls, options.cold_calls) for _ in range(options.rounds)
    ]
    medians = {name: statistics.median(r[name] for r in rounds) for name in LABELS}
    print_table(medians, options.rounds)
    print(json.dumps({"bench": "sandbox", "rounds": options.rounds, **medians}))


if __name__ == "__main__":
    uvloop.run(main())  # the executor service runs on uvloop
