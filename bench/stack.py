"""A throw-away FaaSpot stack for the benchmark: its own prefix, database, port and tenants.

Everything it creates (queues, exchanges, the database) is removed when the stack
context exits, on success, failure or Ctrl-C alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aio_pika

from bench import traces
from bench.errors import BenchError
from services import infra
from services.registry.crypto import new_key
from services.stack import ServiceProcess, Stack
from shared.amqp import BATCH, INTERACTIVE, Topology
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


@contextlib.contextmanager
def infrastructure(data_dir: Path) -> Iterator[None]:
    """RabbitMQ and MongoDB at their URLs, started (and later stopped) when absent."""
    started = [
        infra.ensure_rabbitmq(AMQP_URL),
        infra.ensure_mongo(MONGO_URL, data_dir=data_dir / "mongo"),
    ]
    try:
        yield
    finally:
        for server in reversed(started):
            if server is not None:
                server.stop()


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
    return {
        **os.environ,
        "FAASPOT_AMQP_URL": AMQP_URL,
        "FAASPOT_MONGO_URL": MONGO_URL,
        "FAASPOT_PREFIX": prefix,
        "FAASPOT_MONGO_DB": prefix,
        "FAASPOT_PORT": str(free_port()),
        "FAASPOT_HOME": str(home),
        "FAASPOT_CONFIG": str(home / "config.toml"),
        "FAASPOT_CONTEXT_KEY": new_key(),
        "FAASPOT_EXECUTORS": "1",
        "FAASPOT_BULK_MAX": str(bulk_max),
    }


def settings_of(env: dict[str, str]) -> Settings:
    """The settings a service started with ``env`` reads."""
    fields = {
        k.removeprefix("FAASPOT_").lower(): v for k, v in env.items() if k.startswith("FAASPOT_")
    }
    return Settings.model_validate(fields)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def remove_traces(settings: Settings) -> None:
    """Delete the stack's queues, exchanges and database; log, never raise."""
    topology = Topology(settings.prefix)
    queues, exchanges = traces.listed(settings.prefix + ".")
    known_queues = [
        topology.invoke_queue(INTERACTIVE),
        topology.invoke_queue(BATCH),
        topology.results_queue,
        topology.rpc_queue("registry"),
        topology.rpc_queue("results"),
        topology.dead_queue,
        topology.dead_invocations_queue,
    ]
    known_exchanges = [
        topology.invoke_exchange,
        topology.results_exchange,
        topology.events_exchange,
        topology.dead_exchange,
    ]
    traces.delete_names(AMQP_URL, known_queues + queues, known_exchanges + exchanges)
    traces.drop_database(MONGO_URL, settings.mongo_db)
