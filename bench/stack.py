"""A throw-away FaaSpot stack for the benchmark: its own prefix, database, port and tenants.

Everything it creates (queues, exchanges, the database) is removed when the stack
context exits, on success, failure or Ctrl-C alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aio_pika

from bench import traces
from bench.errors import BenchError
from services.stack import ServiceProcess, Stack, settings_of, throwaway_env
from services.stack import infrastructure as stack_infrastructure
from shared.amqp import BATCH, Topology
from shared.settings import Settings

AMQP_URL = os.environ.get("FAASPOT_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
MONGO_URL = os.environ.get("FAASPOT_MONGO_URL", "mongodb://127.0.0.1:27017")
CONSUMER_WAIT_S = 60.0  # how long a new executor may take to start consuming
CONSUMER_POLL_S = 0.2


@dataclass(frozen=True)
class Tenant:
    name: str
    token: str


@dataclass
class BenchStack:
    """The running stack and what workloads need of it."""

    stack: Stack

    @property
    def url(self) -> str:
        return self.stack.url

    @property
    def settings(self) -> Settings:
        return self.stack.settings

    def new_tenant(self) -> Tenant:
        """A fresh, empty tenant: its executions are counted apart from every other run's."""
        name = "bench-" + uuid.uuid4().hex[:12]
        return Tenant(name, self.stack.create_token(name))

    def service_pids(self) -> dict[str, int]:
        """Main process id of each service, named "executor", "executor-1", ..."""
        pids: dict[str, int] = {}
        for service in self.stack.processes:
            key = service.name
            index = 1
            while key in pids:
                key = f"{service.name}-{index}"
                index += 1
            pids[key] = service.process.pid
        return pids

    def add_executor(self) -> ServiceProcess:
        """Start one more executor and return once the broker shows it consuming."""
        queue = Topology(self.settings.prefix).invoke_queue(BATCH)
        before = consumer_count(AMQP_URL, queue)
        index = sum(1 for s in self.stack.processes if s.name == "executor")
        process = self.stack.start_service("executor", index)
        deadline = time.monotonic() + CONSUMER_WAIT_S
        while consumer_count(AMQP_URL, queue) <= before:
            self.stack.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"the new executor did not consume {queue} in time")
            time.sleep(CONSUMER_POLL_S)
        return process

    def remove_executor(self, process: ServiceProcess) -> None:
        self.stack.stop_service(process)


def consumer_count(amqp_url: str, queue: str) -> int:
    return asyncio.run(_consumer_count(amqp_url, queue))


async def _consumer_count(amqp_url: str, queue: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.consumer_count
        return int(count or 0)


def infrastructure(data_dir: Path) -> contextlib.AbstractContextManager[None]:
    return stack_infrastructure(data_dir, AMQP_URL, MONGO_URL)


@contextlib.contextmanager
def bench_stack(home: Path, log_dir: Path, bulk_max: int) -> Iterator[BenchStack]:
    """A healthy stack with one executor and default settings except its names and limits."""
    prefix = "bench" + uuid.uuid4().hex[:10]
    env = stack_env(prefix, home, bulk_max)
    settings = settings_of(env)
    stack = Stack(settings, env, log_dir=log_dir)
    try:
        stack.start()
        stack.wait_healthy()
        yield BenchStack(stack)
    finally:
        with traces.uninterruptible():
            stack.stop()
            remove_traces(settings)


def stack_env(prefix: str, home: Path, bulk_max: int) -> dict[str, str]:
    """The environment of every service process: our names, a free port, one executor."""
    return throwaway_env(prefix, home, AMQP_URL, MONGO_URL, executors="1", bulk_max=str(bulk_max))


def remove_traces(settings: Settings) -> None:
    """Delete the stack's queues, exchanges and database; log, never raise."""
    topology = Topology(settings.prefix)
    queues, exchanges = traces.listed(settings.prefix + ".")
    traces.delete_names(
        AMQP_URL, topology.durable_queues() + queues, topology.exchanges() + exchanges
    )
    traces.drop_database(MONGO_URL, settings.mongo_db)
