"""The API's view of the rest of the platform: auth, functions and invocations over AMQP."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from services.api.cache import TtlCache
from shared import amqp, calls
from shared.batching import Coalescer
from shared.errors import FaaspotError, MessageError, ServiceUnavailable, Unauthorized
from shared.ids import new_ids
from shared.messages import Event, ExecutionUpdate, Invocation, decode, encode
from shared.rpc import ReplyQueue, RpcClient
from shared.settings import Settings

logger = logging.getLogger(__name__)

PUBLISH_WINDOW = 1000  # invocations of one bulk awaiting their confirms at once
RPC_ACCEPT_BATCH = 2000  # pending records per accept call
ACCEPTS_IN_FLIGHT = 4  # accept calls at once: a bulk's does not hold up a blocking call's


@dataclass(frozen=True)
class Accepted:
    """A blocking call's end: the final update, or ``None`` when the wait ran out."""

    execution_id: str
    update: ExecutionUpdate | None


class Platform:
    """Everything a request handler needs; made in the lifespan, closed at shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topology = amqp.Topology(settings.prefix)
        self.tokens: TtlCache[str, str] = TtlCache(settings.cache_ttl)
        self.functions: TtlCache[tuple[str, str], calls.FunctionInfo] = TtlCache(settings.cache_ttl)
        self.connection: AbstractRobustConnection | None = None
        # Blocking calls and replies travel on a connection of their own, never queued
        # behind the frames of a bulk on the main one.
        self.interactive: AbstractRobustConnection | None = None
        self._rpc: RpcClient | None = None
        self._replies: ReplyQueue | None = None
        self._lanes: dict[str, amqp.Target] = {}
        # Concurrent requests' pending records travel together in few accept calls.
        self._pending = Coalescer(self._record_pending, RPC_ACCEPT_BATCH, ACCEPTS_IN_FLIGHT)

    # life cycle --------------------------------------------------------------------
    async def open(self) -> None:
        self.connection = await amqp.connect(self.settings, "api")
        self.interactive = await amqp.connect(self.settings, "api-interactive")
        self._replies = await ReplyQueue.open(self.interactive, self.topology, "api")
        self._rpc = RpcClient(self._replies, self.topology, self.settings.rpc_timeout)
        for lane, connection in (
            (amqp.BATCH, self.connection),
            (amqp.INTERACTIVE, self.interactive),
        ):
            channel = await connection.channel()  # publisher confirms on
            exchange, _ = await amqp.declare_invocations(channel, self.topology, self.settings)
            self._lanes[lane] = amqp.Target(channel, exchange.name)
        await self._follow_events()
        self._pending.start()

    async def close(self) -> None:
        await self._pending.close()
        for connection in (self.interactive, self.connection):
            if connection is not None:
                await connection.close()

    async def _follow_events(self) -> None:
        assert self.connection is not None
        channel = await self.connection.channel()
        events = await amqp.declare_events(channel, self.topology)
        queue = await channel.declare_queue(
            f"{self.settings.prefix}.events.api.{uuid.uuid4().hex[:12]}",
            exclusive=True,
            auto_delete=True,
        )
        await queue.bind(events, "#")
        await queue.consume(self._on_event, no_ack=True)

    async def _on_event(self, message: AbstractIncomingMessage) -> None:
        with contextlib.suppress(MessageError):
            event = decode(message.body, Event)
            if event.function is not None:
                self.functions.drop((event.tenant, event.function))
            if event.token_hash is not None:
                self.tokens.drop(event.token_hash)

    @property
    def rpc(self) -> RpcClient:
        if self._rpc is None:
            raise ServiceUnavailable("the API is not connected to the broker")
        return self._rpc

    # auth and functions --------------------------------------------------------------
    async def tenant_of(self, token: str) -> str:
        token_hash = hashlib.sha256(token.encode("utf-8")).hexdigest()
        tenant = self.tokens.get(token_hash)
        if tenant is None:
            try:
                tenant = await self.rpc.call(
                    calls.REGISTRY,
                    "tokens.resolve",
                    calls.ResolveToken(token_hash=token_hash),
                    str,
                )
            except Unauthorized:
                raise Unauthorized("unknown token") from None
            self.tokens.put(token_hash, tenant)
        return tenant

    async def function(self, tenant: str, name: str) -> calls.FunctionInfo:
        info = self.functions.get((tenant, name))
        if info is None:
            info = await self.rpc.call(
                calls.REGISTRY,
                "functions.get",
                calls.FunctionRef(tenant=tenant, name=name),
                calls.FunctionInfo,
            )
            self.functions.put((tenant, name), info)
        return info

    def forget_function(self, tenant: str, name: str) -> None:
        self.functions.drop((tenant, name))

    # invocations ---------------------------------------------------------------------
    def _invocations(
        self, tenant: str, info: calls.FunctionInfo, groups: list[bytes]
    ) -> list[Invocation]:
        now = time.time()
        return [
            Invocation(
                execution_id=execution_id,
                tenant=tenant,
                function=info.name,
                version=info.version,
                params=params,
                created_at=now,
                timeout_s=info.timeout_s,
                memory_mb=info.memory_mb,
            )
            for execution_id, params in zip(new_ids(len(groups)), groups, strict=True)
        ]

    async def submit(self, tenant: str, info: calls.FunctionInfo, groups: list[bytes]) -> list[str]:
        """Queue one invocation per group; returns once each is recorded and confirmed."""
        invocations = self._invocations(tenant, info, groups)
        await asyncio.gather(self._accept(invocations), self._publish_all(invocations, amqp.BATCH))
        return [invocation.execution_id for invocation in invocations]

    async def call(self, tenant: str, info: calls.FunctionInfo, params: bytes) -> Accepted:
        """Run one invocation on the interactive lane and wait for its end, within limits."""
        (invocation,) = self._invocations(tenant, info, [params])
        assert self._replies is not None
        waiting = self._replies.expect(invocation.execution_id)
        try:
            await asyncio.gather(
                self._accept([invocation]),
                self._publish(invocation, amqp.INTERACTIVE, self._replies.name),
            )
            raw = await asyncio.wait_for(waiting, self.settings.sync_wait)
        except TimeoutError:
            return Accepted(invocation.execution_id, None)
        finally:
            self._replies.forget(invocation.execution_id)
        return Accepted(invocation.execution_id, decode(raw, ExecutionUpdate))

    async def _accept(self, invocations: list[Invocation]) -> None:
        """Record the invocations as pending; returns once MongoDB has them."""
        await self._pending.submit(invocations)

    async def _record_pending(self, invocations: list[Invocation]) -> None:
        for start in range(0, len(invocations), RPC_ACCEPT_BATCH):
            chunk = invocations[start : start + RPC_ACCEPT_BATCH]
            await self.rpc.call(
                calls.RESULTS,
                "executions.accept",
                calls.Accept(updates=[ExecutionUpdate.pending(i) for i in chunk]),
                type(None),
            )

    async def _publish_all(self, invocations: list[Invocation], lane: str) -> None:
        for start in range(0, len(invocations), PUBLISH_WINDOW):
            window = invocations[start : start + PUBLISH_WINDOW]
            await asyncio.gather(*(self._publish(i, lane) for i in window))

    async def _publish(
        self, invocation: Invocation, lane: str, reply_to: str | None = None
    ) -> None:
        target = self._lanes.get(lane)
        if target is None:
            raise ServiceUnavailable("the API is not connected to the broker")
        try:
            await amqp.publish_persistent(target, encode(invocation), lane, reply_to)
        except (aio_pika.exceptions.AMQPError, ConnectionError) as exc:
            raise ServiceUnavailable(f"the broker did not take the invocation: {exc}") from exc

    async def health(self) -> dict[str, str]:
        """Each dependency's state: ``ok`` or why not."""
        checks = {
            "registry": self._ping(calls.REGISTRY),
            "results": self._ping(calls.RESULTS),
            "executor": self._executors(),
        }
        states = await asyncio.gather(*checks.values())
        return dict(zip(checks, states, strict=True))

    async def _ping(self, service: str) -> str:
        try:
            await self.rpc.call(service, "ping", calls.Ping(), str, timeout_s=2.0)
        except FaaspotError as exc:
            return exc.message
        return "ok"

    async def _executors(self) -> str:
        if self.connection is None or self.connection.is_closed:
            return "not connected to the broker"
        try:
            channel = await self.connection.channel()
            try:
                queue = await channel.declare_queue(
                    self.topology.invoke_queue(amqp.INTERACTIVE), passive=True
                )
            finally:
                await channel.close()
        except (aio_pika.exceptions.AMQPError, ConnectionError) as exc:
            return f"broker error: {exc}"
        consumers = queue.declaration_result.consumer_count
        return "ok" if consumers else "no executor is consuming invocations"
