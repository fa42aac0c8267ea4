"""A whole local FaaSpot stack as child processes: what `faaspot up` and the tests run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services import infra
from services.registry.crypto import new_key
from shared import amqp, calls
from shared.rpc import ReplyQueue, RpcClient
from shared.settings import Settings

logger = logging.getLogger(__name__)

SERVICES = ("registry", "results", "executor", "api")
STOP_GRACE_S = 10.0  # between SIGTERM and SIGKILL for a service process
HEALTH_POLL_S = 0.2


@dataclass
class ServiceProcess:
    name: str
    process: subprocess.Popen[bytes]


@dataclass
class Stack:
    """The four services (and ``settings.executors`` executors), started with ``env``."""

    settings: Settings
    env: dict[str, str]
    log_dir: Path | None = None
    processes: list[ServiceProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    def start(self) -> None:
        for name in SERVICES:
            count = self.settings.executors if name == "executor" else 1
            for index in range(count):
                self.start_service(name, index)

    def start_service(self, name: str, index: int = 0) -> ServiceProcess:
        log = self._log_file(f"{name}-{index}" if index else name)
        process = subprocess.Popen(
            [sys.executable, "-m", "services.launcher", "service", name],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT if log is not None else None,
            start_new_session=True,  # Ctrl-C reaches the launcher, which stops us in order
        )
        started = ServiceProcess(name, process)
        self.processes.append(started)
        return started

    def _log_file(self, name: str) -> int | None:
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return os.open(self.log_dir / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def wait_healthy(self, timeout_s: float = 60.0) -> None:
        """Return once ``/healthz`` answers 200; raise with the last answer otherwise."""
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                response = httpx.get(f"{self.url}/healthz", timeout=5.0)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(HEALTH_POLL_S)
        raise RuntimeError(f"the stack did not become healthy in {timeout_s:g} s: {last}")

    def check_alive(self) -> None:
        for service in self.processes:
            code = service.process.poll()
            if code is not None:
                raise RuntimeError(f"the {service.name} service exited with code {code}")

    def stop_service(self, service: ServiceProcess, sig: int = signal.SIGTERM) -> None:
        with contextlib.suppress(ProcessLookupError):
            service.process.send_signal(sig)
        try:
            service.process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()
        if service in self.processes:
            self.processes.remove(service)

    def stop(self) -> None:
        """Stop the API first (no new work), the executors, then the stores."""
        for name in reversed(SERVICES):
            for service in [s for s in self.processes if s.name == name]:
                self.stop_service(service)

    def create_token(self, tenant: str) -> str:
        return asyncio.run(create_token(self.settings, tenant))


async def create_token(settings: Settings, tenant: str) -> str:
    """A new token of ``tenant`` (created if needed), asked of the registry over RPC."""
    topology = amqp.Topology(settings.prefix)
    connection = await amqp.connect(settings, "admin")
    try:
        replies = await ReplyQueue.open(connection, topology, "admin")
        rpc = RpcClient(replies, topology, settings.rpc_timeout)
        return await rpc.call(
            calls.REGISTRY, "tokens.create", calls.CreateToken(tenant=tenant), str
        )
    finally:
        await connection.close()


# Throw-away stacks (tests, benchmarks) --------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def settings_of(env: dict[str, str]) -> Settings:
    """The settings a service started with ``env`` reads."""
    fields = {
        k.removeprefix("FAASPOT_").lower(): v for k, v in env.items() if k.startswith("FAASPOT_")
    }
    return Settings.model_validate(fields)


def throwaway_env(
    prefix: str, home: Path, amqp_url: str, mongo_url: str, **settings: str
) -> dict[str, str]:
    """An environment for a stack of its own: names from ``prefix``, a free port, a new
    context key, state in ``home``; ``settings`` adds FAASPOT_* values (``bulk_max="5"``)."""
    return {
        **os.environ,
        "FAASPOT_AMQP_URL": amqp_url,
        "FAASPOT_MONGO_URL": mongo_url,
        "FAASPOT_PREFIX": prefix,
        "FAASPOT_MONGO_DB": prefix,
        "FAASPOT_PORT": str(free_port()),
        "FAASPOT_HOME": str(home),
        "FAASPOT_CONFIG": str(home / "config.toml"),
        "FAASPOT_CONTEXT_KEY": new_key(),
        **{f"FAASPOT_{name.upper()}": value for name, value in settings.items()},
    }


@contextlib.contextmanager
def infrastructure(data_dir: Path, amqp_url: str, mongo_url: str) -> Iterator[None]:
    """RabbitMQ and MongoDB at their URLs, started (and later stopped) when absent."""
    started = [
        infra.ensure_rabbitmq(amqp_url),
        infra.ensure_mongo(mongo_url, data_dir=data_dir / "mongo"),
    ]
    try:
        yield
    finally:
        for server in reversed(started):
            if server is not None:
                server.stop()
