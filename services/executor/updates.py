"""Execution updates on their way to the results service, published in adaptive batches."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractExchange

from shared import amqp
from shared.batching import Coalescer
from shared.messages import ExecutionUpdate, UpdateBatch, encode

BATCH_MAX = 500  # updates in one message


class UpdatePublisher:
    """Publishes updates to the results service: a lone update costs one confirm of
    latency, a busy executor sends few, large messages (see :class:`Coalescer`)."""

    def __init__(self, exchange: AbstractExchange, batch_max: int = BATCH_MAX) -> None:
        self.exchange = exchange
        self._coalescer = Coalescer(self._send, batch_max)

    def start(self) -> None:
        self._coalescer.start()

    async def close(self) -> None:
        await self._coalescer.close()

    async def publish(self, update: ExecutionUpdate) -> None:
        """Returns once the broker confirmed the batch that carried ``update``."""
        await self._coalescer.submit([update])

    async def _send(self, updates: list[ExecutionUpdate]) -> None:
        message = aio_pika.Message(
            encode(UpdateBatch(updates=updates)),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self.exchange.publish(message, routing_key=amqp.RESULTS)
