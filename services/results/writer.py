"""Consumes execution updates and writes them in batches; acks only what MongoDB stored."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aio_pika.abc import AbstractIncomingMessage

from services.results.store import ExecutionStore
from shared.errors import MessageError, StoreError, StoreUnavailable
from shared.messages import ErrorInfo, ExecutionUpdate, Invocation, UpdateBatch, decode

logger = logging.getLogger(__name__)

RETRY_MAX_S = 5.0  # longest pause between two tries of a write while MongoDB is down


@dataclass(frozen=True)
class Received:
    message: AbstractIncomingMessage
    updates: list[ExecutionUpdate]


class BatchWriter:
    """Collects whatever has arrived while the previous batch was being written, up to
    about ``batch_max`` updates (a message carries one or more)."""

    def __init__(self, store: ExecutionStore, batch_max: int) -> None:
        self.store = store
        self.batch_max = batch_max
        self._inbox: asyncio.Queue[Received] = asyncio.Queue()

    async def on_update(self, message: AbstractIncomingMessage) -> None:
        try:
            batch = decode(message.body, UpdateBatch)
        except MessageError:
            logger.exception("dead-lettering an undecodable update")
            await message.reject(requeue=False)
            return
        self._inbox.put_nowait(Received(message, batch.updates))

    async def on_dead_invocation(self, message: AbstractIncomingMessage) -> None:
        """An invocation the broker gave up on: its execution ends ``failed``."""
        try:
            invocation = decode(message.body, Invocation)
        except MessageError:
            # Kept in the dead-letter queue proper for operators; nothing to record.
            await message.ack()
            return
        self._inbox.put_nowait(Received(message, [dead_update(invocation, message)]))

    async def run(self) -> None:
        while True:
            batch = [await self._inbox.get()]
            size = len(batch[0].updates)
            while size < self.batch_max and not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
                size += len(batch[-1].updates)
            await self._write(batch)

    async def _write(self, batch: list[Received]) -> None:
        updates = [update for received in batch for update in received.updates]
        try:
            await self._store_until_reachable(updates)
        except StoreError:
            logger.exception("a batch of %d updates was refused; writing one by one", len(batch))
            await self._write_one_by_one(batch)
            return
        for received in batch:
            await received.message.ack()

    async def _store_until_reachable(self, updates: list[ExecutionUpdate]) -> None:
        pause_s = 0.1
        while True:
            try:
                await self.store.apply(updates)
                return
            except StoreUnavailable as exc:
                logger.warning("MongoDB unavailable, retrying in %.1f s: %s", pause_s, exc)
                await asyncio.sleep(pause_s)
                pause_s = min(pause_s * 2, RETRY_MAX_S)

    async def _write_one_by_one(self, batch: list[Received]) -> None:
        for received in batch:
            try:
                await self._store_until_reachable(received.updates)
            except StoreError:
                logger.exception("dead-lettering an update MongoDB refuses")
                await received.message.reject(requeue=False)
            else:
                await received.message.ack()


def dead_update(invocation: Invocation, message: AbstractIncomingMessage) -> ExecutionUpdate:
    reason = _death_reason(message)
    return ExecutionUpdate.of(
        invocation,
        "failed",
        error=ErrorInfo(
            type="DeliveryLimitExceeded" if reason == "delivery_limit" else "Undeliverable",
            message=f"the invocation was dead-lettered ({reason}): "
            "its executor kept crashing or refused it",
        ),
        attempts=int(str(message.headers.get("x-delivery-count", 0) or 0)),
    )


def _death_reason(message: AbstractIncomingMessage) -> str:
    reason = message.headers.get("x-first-death-reason")
    return reason.decode() if isinstance(reason, bytes) else str(reason or "unknown")
