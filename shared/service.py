"""How a service process starts and stops: logging, settings, event loop, signals."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

import uvloop

from shared.settings import Settings

Serve = Callable[[Settings, asyncio.Event], Awaitable[None]]
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT)
    logging.getLogger("aio_pika").setLevel(logging.WARNING)
    logging.getLogger("aiormq").setLevel(logging.WARNING)


async def _serve_until_signalled(serve: Serve, settings: Settings) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await serve(settings, stopping)


def run(serve: Serve, settings: Settings | None = None) -> None:
    """Run one service in the foreground until SIGINT or SIGTERM, then stop it cleanly."""
    configure_logging()
    uvloop.run(_serve_until_signalled(serve, settings or Settings()))
