"""Coalescing of small sends into few large ones, the way Nagle's algorithm does it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Waiting(Generic[T]):
    items: list[T]
    done: asyncio.Future[None]


class Coalescer(Generic[T]):
    """Sends items at once while fewer than ``in_flight_max`` sends are in flight; past
    that, the items that arrive meanwhile gather into the next send (up to about
    ``batch_max``; a single larger submit goes alone).

    So a lone item costs one round trip and a busy process sends few, large messages.
    ``submit`` returns once the send that carried its items succeeded, and raises its error.
    """

    def __init__(
        self,
        send: Callable[[list[T]], Awaitable[None]],
        batch_max: int,
        in_flight_max: int = 1,
    ) -> None:
        self.send = send
        self.batch_max = batch_max
        self._slots = asyncio.Semaphore(in_flight_max)
        self._waiting: list[_Waiting[T]] = []
        self._wakeup = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_forever())

    async def close(self) -> None:
        for task in [self._sender, *self._sends]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for waiting in self._waiting:
            if not waiting.done.done():
                waiting.done.set_exception(ConnectionError("closed before it was sent"))

    async def submit(self, items: list[T]) -> None:
        waiting = _Waiting(items, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        self._wakeup.set()
        await waiting.done

    async def _send_forever(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._waiting:
                await self._slots.acquire()
                task = asyncio.create_task(self._send_one_batch(self._take()))
                self._sends.add(task)
                task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sends.discard(task)
        self._slots.release()

    def _take(self) -> list[_Waiting[T]]:
        taken: list[_Waiting[T]] = []
        size = 0
        while self._waiting and (not taken or size + len(self._waiting[0].items) <= self.batch_max):
            taken.append(self._waiting.pop(0))
            size += len(taken[-1].items)
        return taken

    async def _send_one_batch(self, batch: list[_Waiting[T]]) -> None:
        try:
            await self.send([item for waiting in batch for item in waiting.items])
        except asyncio.CancelledError:
            for waiting in batch:
                waiting.done.cancel()
            raise
        except Exception as exc:  # each waiter learns it
            for waiting in batch:
                if not waiting.done.done():
                    waiting.done.set_exception(exc)
            return
        for waiting in batch:
            if not waiting.done.done():
                waiting.done.set_result(None)
