"""Request/reply over RabbitMQ: a request queue per service, replies to the caller's own queue."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aio_pika
import msgspec
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from shared import errors
from shared.amqp import Topology
from shared.calls import Params
from shared.messages import RpcReply, RpcRequest, decode, encode

T = TypeVar("T")

logger = logging.getLogger(__name__)


class ReplyQueue:
    """An exclusive queue of this process where replies land, matched by correlation id.

    Replies nobody waits for (the waiter timed out) are dropped.
    """

    def __init__(self, channel: AbstractChannel, name: str) -> None:
        self.channel = channel
        self.name = name
        self._waiters: dict[str, asyncio.Future[bytes]] = {}

    @classmethod
    async def open(
        cls, connection: AbstractRobustConnection, topology: Topology, owner: str
    ) -> ReplyQueue:
        channel = await connection.channel(publisher_confirms=False)
        name = topology.reply_queue(owner, uuid.uuid4().hex[:12])
        replies = cls(channel, name)
        queue = await channel.declare_queue(name, exclusive=True, auto_delete=True)
        await queue.consume(replies._on_reply, no_ack=True)
        return replies

    def expect(self, correlation_id: str) -> asyncio.Future[bytes]:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiters[correlation_id] = future
        return future

    def forget(self, correlation_id: str) -> None:
        self._waiters.pop(correlation_id, None)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._waiters.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(message.body)


class RpcClient:
    """Calls methods of other services; every call has a timeout."""

    def __init__(self, replies: ReplyQueue, topology: Topology, timeout_s: float) -> None:
        self.replies = replies
        self.topology = topology
        self.timeout_s = timeout_s

    async def call(
        self,
        service: str,
        method: str,
        params: Params,
        result_type: type[T],
        timeout_s: float | None = None,
    ) -> T:
        """Call ``method`` of ``service``; raise the remote's error or ``ServiceUnavailable``."""
        timeout_s = timeout_s or self.timeout_s
        correlation_id = uuid.uuid4().hex
        future = self.replies.expect(correlation_id)
        body = encode(RpcRequest(method=method, params=msgspec.Raw(encode(params))))
        try:
            await self.replies.channel.default_exchange.publish(
                aio_pika.Message(
                    body,
                    correlation_id=correlation_id,
                    reply_to=self.replies.name,
                    expiration=timeout_s,
                ),
                routing_key=self.topology.rpc_queue(service),
            )
            raw = await asyncio.wait_for(future, timeout_s)
        except (TimeoutError, aio_pika.exceptions.AMQPError, ConnectionError) as exc:
            raise errors.ServiceUnavailable(
                f"the {service} service did not answer {method} within {timeout_s:g} s"
            ) from exc
        finally:
            self.replies.forget(correlation_id)
        reply = decode(raw, RpcReply)
        if not reply.ok:
            raise errors.from_wire(reply.error_type or "FaaspotError", reply.error_message or "")
        return decode(bytes(reply.result), result_type)


Handler = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True)
class _Method:
    params_type: type[Any]
    handler: Handler


class RpcServer:
    """Serves registered methods from a request queue; several instances compete for it."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._methods: dict[str, _Method] = {}
        self._channel: AbstractChannel | None = None

    def register(self, method: str, params_type: type[Any], handler: Handler) -> None:
        """``handler`` receives the request's params validated as ``params_type``."""
        self._methods[method] = _Method(params_type, handler)

    async def start(self, channel: AbstractChannel, queue: AbstractQueue) -> None:
        self._channel = channel
        await queue.consume(self._on_request)

    async def _on_request(self, message: AbstractIncomingMessage) -> None:
        async with message.process(requeue=False, ignore_processed=True):
            reply = await self._answer(message.body)
            if message.reply_to and self._channel is not None:
                await self._channel.default_exchange.publish(
                    aio_pika.Message(encode(reply), correlation_id=message.correlation_id),
                    routing_key=message.reply_to,
                )

    async def _answer(self, body: bytes) -> RpcReply:
        try:
            request = decode(body, RpcRequest)
            method = self._methods.get(request.method)
            if method is None:
                raise errors.MessageError(f"{self.service} has no method {request.method!r}")
            result = await method.handler(decode(bytes(request.params), method.params_type))
            return RpcReply(ok=True, result=msgspec.Raw(encode(result)))
        except errors.FaaspotError as exc:
            return RpcReply(ok=False, error_type=exc.type, error_message=exc.message)
        except Exception:
            logger.exception("%s: request failed", self.service)
            return RpcReply(
                ok=False,
                error_type="FaaspotError",
                error_message="internal error in " + self.service,
            )
