"""Removing what a benchmark left on the broker and the database server: names by prefix."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import aio_pika
from pymongo import MongoClient

logger = logging.getLogger(__name__)

RABBITMQCTL_TIMEOUT_S = 30.0


def listed(prefix: str) -> tuple[list[str], list[str]]:
    """Queues and exchanges whose names start with ``prefix`` (none without rabbitmqctl)."""
    return _listed("list_queues", prefix), _listed("list_exchanges", prefix)


def _listed(command: str, prefix: str) -> list[str]:
    try:
        done = subprocess.run(
            ["rabbitmqctl", command, "-q", "--no-table-headers", "name"],
            capture_output=True,
            text=True,
            timeout=RABBITMQCTL_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [name for name in done.stdout.split() if name.startswith(prefix)]


def delete_names(amqp_url: str, queues: Iterable[str], exchanges: Iterable[str]) -> None:
    """Delete these queues and exchanges (absent ones are fine); log, never raise."""
    try:
        asyncio.run(_delete(amqp_url, list(dict.fromkeys(queues)), list(dict.fromkeys(exchanges))))
    except Exception:
        logger.exception("could not delete queues %s and exchanges %s", queues, exchanges)


async def _delete(amqp_url: str, queues: list[str], exchanges: list[str]) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        for name in queues:
            channel = await connection.channel()  # a failed delete closes its channel
            await channel.queue_delete(name)
        for name in exchanges:
            channel = await connection.channel()
            await channel.exchange_delete(name)


def drop_database(mongo_url: str, name: str) -> None:
    """Drop a database; log, never raise."""
    try:
        client: MongoClient[dict[str, Any]]
        with MongoClient(mongo_url) as client:
            client.drop_database(name)
    except Exception:
        logger.exception("could not drop the database %s", name)


@contextlib.contextmanager
def uninterruptible() -> Iterator[None]:
    """Ignore Ctrl-C and SIGTERM while cleaning up, so that a second one cannot cut it short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
