"""Execution updates on their way to the results service, published in adaptive batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractExchange

from shared import amqp
from shared.messages import ExecutionUpdate, UpdateBatch, encode

logger = logging.getLogger(__name__)

BATCH_MAX = 500  # updates in one message


@dataclass
class _Pending:
    update: ExecutionUpdate
    confirmed: asyncio.Future[None]


class UpdatePublisher:
    """Like Nagle's algorithm: an update is sent at once when nothing is in flight; while a
    batch waits for its confirm, the updates that arrive meanwhile gather into the next one.

    So a lone update costs one confirm of latency and a busy executor sends few, large
    messages.
    """

    def __init__(self, exchange: AbstractExchange, batch_max: int = BATCH_MAX) -> None:
        self.exchange = exchange
        self.batch_max = batch_max
        self._queue: list[_Pending] = []
        self._wakeup = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_forever())

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender

    async def publish(self, update: ExecutionUpdate) -> None:
        """Returns once the broker confirmed the batch that carried ``update``."""
        pending = _Pending(update, asyncio.get_running_loop().create_future())
        self._queue.append(pending)
        self._wakeup.set()
        await pending.confirmed

    async def _send_forever(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch = self._queue[: self.batch_max]
                del self._queue[: self.batch_max]
                await self._send(batch)

    async def _send(self, batch: list[_Pending]) -> None:
        message = aio_pika.Message(
            encode(UpdateBatch(updates=[p.update for p in batch])),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        try:
            await self.exchange.publish(message, routing_key=amqp.RESULTS)
        except Exception as exc:  # every waiter learns it; their invocations stay unacked
            for pending in batch:
                if not pending.confirmed.done():
                    pending.confirmed.set_exception(exc)
            return
        for pending in batch:
            if not pending.confirmed.done():
                pending.confirmed.set_result(None)
