"""A throw-away FaaSpot stack for the test session: its own prefix, database and port."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
from pymongo import MongoClient

from services.stack import ServiceProcess, Stack, settings_of, throwaway_env
from services.stack import infrastructure as stack_infrastructure
from shared.amqp import Topology
from shared.settings import Settings

AMQP_URL = os.environ.get("FAASPOT_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
MONGO_URL = os.environ.get("FAASPOT_MONGO_URL", "mongodb://127.0.0.1:27017")
TEST_DELIVERY_LIMIT = 3  # so that poison messages reach the dead-letter queue quickly


@dataclass
class RunningStack:
    """What tests use: the URL and a token of a tenant of their own, and the processes."""

    stack: Stack
    token: str
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.stack.url

    @property
    def settings(self) -> Settings:
        return self.stack.settings

    @property
    def topology(self) -> Topology:
        return Topology(self.settings.prefix)

    def new_token(self) -> str:
        """A token of a fresh, empty tenant."""
        return self.stack.create_token("t" + uuid.uuid4().hex[:12])

    def services(self, name: str) -> list[ServiceProcess]:
        return [s for s in self.stack.processes if s.name == name]

    def start(self, name: str, **overrides: str) -> ServiceProcess:
        """Start one more process of service ``name``, with extra FAASPOT_* settings."""
        if not overrides:
            return self.stack.start_service(name)
        env = {**self.stack.env, **{f"FAASPOT_{k.upper()}": v for k, v in overrides.items()}}
        extra = Stack(settings_of(env), env, self.stack.log_dir)
        process = extra.start_service(name)
        self.stack.processes.append(process)
        return process

    def stop(self, service: ServiceProcess, signum: int = 15) -> None:
        self.stack.stop_service(service, signum)


def stack_env(prefix: str, home: Path) -> dict[str, str]:
    return throwaway_env(prefix, home, AMQP_URL, MONGO_URL, delivery_limit=str(TEST_DELIVERY_LIMIT))


def infrastructure(data_dir: Path) -> AbstractContextManager[None]:
    return stack_infrastructure(data_dir, AMQP_URL, MONGO_URL)


@contextmanager
def running_stack() -> Iterator[RunningStack]:
    prefix = "t" + uuid.uuid4().hex[:10]
    with tempfile.TemporaryDirectory(prefix="faaspot-test-") as tmp:
        home = Path(tmp)
        env = stack_env(prefix, home)
        settings = settings_of(env)
        stack = Stack(settings, env, log_dir=home / "logs")
        try:
            stack.start()
            stack.wait_healthy()
            token = stack.create_token("tenant-main")
            yield RunningStack(
                stack, token, home, {**env, "FAASPOT_URL": stack.url, "FAASPOT_TOKEN": token}
            )
        except BaseException:
            print_logs(home / "logs")
            raise
        finally:
            stack.stop()
            remove_traces(settings)


def print_logs(log_dir: Path) -> None:
    for log in sorted(log_dir.glob("*.log")):
        print(f"----- {log.name} -----\n{log.read_text()[-5000:]}")


def remove_traces(settings: Settings) -> None:
    """Delete the session's queues, exchanges and database."""
    asyncio.run(_delete_topology(Topology(settings.prefix)))
    client: MongoClient[dict[str, object]]
    with MongoClient(settings.mongo()) as client:
        client.drop_database(settings.mongo_db)


async def _delete_topology(topology: Topology) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        for name in topology.durable_queues():
            channel = await connection.channel()
            await channel.queue_delete(name)
        for name in topology.exchanges():
            channel = await connection.channel()
            await channel.exchange_delete(name)
