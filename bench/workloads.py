"""The six workloads of issue 5, each measured against our running stack.

Each workload uses fresh tenants, so that counting a tenant's finished executions in
MongoDB tells when exactly its own work is done. Every tenant's function is created and
called once before timing starts (its first sandboxed worker is up): the steady state a
user meets, as the Celery peer's worker is running before its timer starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvloop

from bench import api
from bench.completion import Executions, Watcher
from bench.memory import PeakSampler, snapshot
from bench.stack import BenchStack, Tenant
from bench.stats import percentiles

AFTER_BULK_PAUSE_S = 2.0  # lets services go idle (and collect garbage) before a sample
Record = dict[str, Any]


@dataclass(frozen=True)
class Sizes:
    """How much each workload does."""

    n: int  # parameter groups of one bulk
    calls: int  # sequential blocking calls measured
    warmup: int  # blocking calls made before measuring
    nonblocking_calls: int  # non-blocking calls in all, from `concurrency` clients
    concurrency: int


@dataclass
class Bench:
    """What every workload uses: the stack, the execution counter, the sizes."""

    stack: BenchStack
    executions: Executions
    sizes: Sizes


@dataclass
class Session:
    """A fresh tenant with the function deployed, and how many of its executions are done."""

    tenant: Tenant
    http: httpx.Client
    finished_before: int

    def wait_finished(self, executions: Executions, n: int) -> float:
        return executions.wait_finished(self.tenant.name, self.finished_before + n)

    def watch(self, executions: Executions, n: int) -> Watcher:
        return Watcher(executions, self.tenant.name, self.finished_before + n)


@contextlib.contextmanager
def session(bench: Bench) -> Iterator[Session]:
    tenant = bench.stack.new_tenant()
    with api.client(bench.stack.url, tenant.token) as http:
        api.deploy(http)
        api.sync_hello(http, "warm")
        yield Session(tenant, http, finished_before=1)


def sync_ms(http: httpx.Client, arg: str) -> float:
    """One checked blocking call; its latency in ms."""
    started = time.perf_counter()
    api.sync_hello(http, arg)
    return (time.perf_counter() - started) * 1000


def name_groups(n: int) -> list[dict[str, Any]]:
    return [{"name": f"n{i}"} for i in range(n)]


# --- 1. bulk ------------------------------------------------------------------------------


def bulk(bench: Bench) -> Record:
    """One bulk_rpc of n groups: request → every execution `completed` in MongoDB."""
    return timed_bulk(bench, sample_memory=True)


def timed_bulk(bench: Bench, *, sample_memory: bool) -> Record:
    n = bench.sizes.n
    groups = name_groups(n)
    pids = bench.stack.service_pids() if sample_memory else {}
    with session(bench) as user, PeakSampler(pids) as sampler:
        started = time.perf_counter()
        api.bulk_rpc(user.http, groups)
        accepted = time.perf_counter()
        finished = user.wait_finished(bench.executions, n)
    record: Record = {
        "n": n,
        "accept_s": round(accepted - started, 3),
        "wall_s": round(finished - started, 3),
        "executions_per_s": round(n / (finished - started), 1),
    }
    if sample_memory:
        record["memory_peak_mb"] = sampler.peaks_mb
    return record


# --- 2. sync latency ----------------------------------------------------------------------


def sync(bench: Bench) -> Record:
    """Sequential blocking calls on one persistent connection, after warm-ups."""
    sizes = bench.sizes
    with session(bench) as user:
        for _ in range(sizes.warmup):
            api.sync_hello(user.http, "warm")
        latencies = [sync_ms(user.http, f"c{i}") for i in range(sizes.calls)]
    return {"calls": sizes.calls, **percentiles(latencies)}


# --- 3. sync latency while a bulk drains --------------------------------------------------


def sync_under_bulk(bench: Bench) -> Record:
    """Blocking calls made one after another from the moment a bulk is accepted until it is done.

    Only calls that end while the bulk is still draining count.
    """
    sizes = bench.sizes
    with session(bench) as batch, session(bench) as interactive:
        for _ in range(sizes.warmup):
            api.sync_hello(interactive.http, "warm")
        started = time.perf_counter()
        api.bulk_rpc(batch.http, name_groups(sizes.n))
        accepted = time.perf_counter()
        watcher = batch.watch(bench.executions, sizes.n)
        try:
            latencies = calls_until(watcher, interactive.http)
        finally:
            watcher.cancel()
        finished = watcher.result()
    return {
        "n": sizes.n,
        "calls_during_bulk": len(latencies),
        **percentiles(latencies),
        "bulk_accept_s": round(accepted - started, 3),
        "bulk_executions_per_s": round(sizes.n / (finished - started), 1),
    }


def calls_until(watcher: Watcher, http: httpx.Client) -> list[float]:
    """Latencies of sequential blocking calls that ended before ``watcher`` was done."""
    latencies: list[float] = []
    while not watcher.done.is_set():
        latency_ms = sync_ms(http, f"c{len(latencies)}")
        if not watcher.done.is_set():
            latencies.append(latency_ms)
    return latencies


# --- 4. non-blocking calls from concurrent clients ----------------------------------------


def nonblocking(bench: Bench) -> Record:
    """``concurrency`` HTTP clients share ``nonblocking_calls`` POST /rpc calls, until done."""
    sizes = bench.sizes
    with session(bench) as user:
        started, cpu_started = time.perf_counter(), time.process_time()
        post_ms = uvloop.run(
            fire(bench.stack.url, user.tenant.token, sizes.nonblocking_calls, sizes.concurrency)
        )
        accepted, client_cpu_s = time.perf_counter(), time.process_time() - cpu_started
        finished = user.wait_finished(bench.executions, sizes.nonblocking_calls)
    return {
        "calls": sizes.nonblocking_calls,
        "concurrency": sizes.concurrency,
        "accept_s": round(accepted - started, 3),
        "accepted_per_s": round(sizes.nonblocking_calls / (accepted - started), 1),
        "wall_s": round(finished - started, 3),
        "completed_per_s": round(sizes.nonblocking_calls / (finished - started), 1),
        "post_ms": percentiles(post_ms),
        "client_cpu_s": round(client_cpu_s, 3),  # shows whether the client was the limit
    }


async def fire(url: str, token: str, calls: int, concurrency: int) -> list[float]:
    """Make ``calls`` non-blocking calls from ``concurrency`` clients; each call's latency.

    Each client has its own connection: one shared httpx pool of 50 connections spends
    milliseconds of CPU per request choosing a connection, and would measure itself.
    """
    latencies: list[float] = []
    numbers = iter(range(calls))  # shared: each call number is taken by one client

    async def one_client() -> None:
        async with api.async_client(url, token, connections=1) as http:
            for number in numbers:
                started = time.perf_counter()
                await api.rpc_hello(http, f"c{number}")
                latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return latencies


# --- 5. scaling ---------------------------------------------------------------------------


def scaling(bench: Bench) -> Record:
    """Workload 1 with one executor, then with a second executor started beside it."""
    one = timed_bulk(bench, sample_memory=False)
    extra = bench.stack.add_executor()
    try:
        two = timed_bulk(bench, sample_memory=False)
    finally:
        bench.stack.remove_executor(extra)
    return {
        "one_executor": one,
        "two_executors": two,
        "speedup": round(two["executions_per_s"] / one["executions_per_s"], 3),
    }


# --- 6. memory ----------------------------------------------------------------------------


def memory(bench: Bench) -> Record:
    """Each service's memory idle, during and after a bulk, and after a second one."""
    pids = bench.stack.service_pids()
    idle = snapshot(pids)
    first = timed_bulk(bench, sample_memory=True)
    time.sleep(AFTER_BULK_PAUSE_S)
    after_first = snapshot(pids)
    second = timed_bulk(bench, sample_memory=True)
    time.sleep(AFTER_BULK_PAUSE_S)
    after_second = snapshot(pids)
    return {
        "n": bench.sizes.n,
        "idle": idle,
        "peak_1_mb": first["memory_peak_mb"],
        "after_1": after_first,
        "peak_2_mb": second["memory_peak_mb"],
        "after_2": after_second,
        "growth_mb": {
            name: round(after_second[name]["rss_mb"] - after_first[name]["rss_mb"], 1)
            for name in pids
        },
    }


WORKLOADS: dict[str, Callable[[Bench], Record]] = {
    "bulk": bulk,
    "sync": sync,
    "sync_under_bulk": sync_under_bulk,
    "nonblocking": nonblocking,
    "scaling": scaling,
    "memory": memory,
}
