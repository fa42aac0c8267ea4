"""What the figures were measured on: machine, load, and versions of everything involved."""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import aio_pika
from pymongo import MongoClient

PACKAGES = ("aio-pika", "aiormq", "pymongo", "starlette", "uvicorn", "uvloop", "msgspec", "httpx")
COMMAND_TIMEOUT_S = 10.0  # bounds vmstat, git and bwrap --version


def machine() -> dict[str, Any]:
    """Cores, memory, kernel, CPU model and OS of this machine."""
    return {
        "nproc": os.cpu_count(),
        "memory_mb": _meminfo_kb("MemTotal") // 1024,
        "kernel": platform.release(),
        "cpu": _cpu_model(),
        "os": _os_name(),
    }


def _meminfo_kb(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name == field:
            return int(rest.split()[0])
    return 0


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.partition("=")[2].strip('"')
    except OSError:
        pass
    return platform.system()


def load() -> dict[str, Any]:
    """Load averages now, and one 1 s vmstat line when vmstat exists (as run_peers.sh logs)."""
    figures: dict[str, Any] = {"loadavg": [round(x, 2) for x in os.getloadavg()]}
    vmstat = _output(["vmstat", "1", "2"])
    if vmstat:
        figures["vmstat"] = vmstat.splitlines()[-1].strip()
    return figures


def versions(amqp_url: str, mongo_url: str) -> dict[str, str]:
    """Python, RabbitMQ (from the AMQP server properties), mongod, bwrap, our packages, git."""
    found = {
        "python": platform.python_version(),
        "rabbitmq": rabbitmq_version(amqp_url),
        "mongodb": mongo_version(mongo_url),
        "bwrap": _output(["bwrap", "--version"]).removeprefix("bubblewrap ").strip() or "absent",
        "faaspot_commit": git_commit(),
    }
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found


def rabbitmq_version(amqp_url: str) -> str:
    return asyncio.run(_rabbitmq_version(amqp_url))


async def _rabbitmq_version(amqp_url: str) -> str:
    connection = await aio_pika.connect(amqp_url)
    try:
        underlay = connection.transport
        if underlay is None:
            return "unknown"
        found = underlay.connection.server_properties.get("version", "unknown")
        return found.decode() if isinstance(found, bytes) else str(found)
    finally:
        await connection.close()


def mongo_version(mongo_url: str) -> str:
    client: MongoClient[dict[str, Any]]
    with MongoClient(mongo_url) as client:
        return str(client.server_info()["version"])


def git_commit() -> str:
    """The project's commit, with "+dirty" when the work tree differs from it."""
    root = Path(__file__).resolve().parent.parent
    commit = _output(["git", "-C", str(root), "rev-parse", "--short", "HEAD"]).strip()
    if not commit:
        return "unknown"
    dirty = _output(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"])
    return commit + ("+dirty" if dirty.strip() else "")


def _output(argv: list[str]) -> str:
    """A command's stdout, or "" when it is missing or fails."""
    if shutil.which(argv[0]) is None:
        return ""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else ""
