"""RabbitMQ connection and topology: every name derives from ``FAASPOT_PREFIX``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractQueue,
    AbstractRobustConnection,
)
from aiormq import spec

from shared.settings import Settings

logger = logging.getLogger(__name__)

INTERACTIVE = "interactive"  # routing key of blocking calls: their own lane
BATCH = "batch"  # routing key of non-blocking and bulk calls
RESULTS = "results"
DEAD_MAX_LENGTH = 100_000  # messages kept in the dead-letter queue for inspection


@dataclass(frozen=True)
class Topology:
    """The names of every exchange and queue of one FaaSpot stack."""

    prefix: str

    @property
    def invoke_exchange(self) -> str:
        return f"{self.prefix}.invoke"

    def invoke_queue(self, lane: str) -> str:
        return f"{self.prefix}.invoke.{lane}"

    @property
    def results_exchange(self) -> str:
        return f"{self.prefix}.results"

    @property
    def results_queue(self) -> str:
        return f"{self.prefix}.results"

    def rpc_queue(self, service: str) -> str:
        return f"{self.prefix}.rpc.{service}"

    @property
    def events_exchange(self) -> str:
        return f"{self.prefix}.events"

    @property
    def dead_exchange(self) -> str:
        return f"{self.prefix}.dlx"

    @property
    def dead_queue(self) -> str:
        """Every dead-lettered message, kept for operators."""
        return f"{self.prefix}.dead"

    @property
    def dead_invocations_queue(self) -> str:
        """Dead-lettered invocations, which the results service marks failed."""
        return f"{self.prefix}.dead.invocations"

    def reply_queue(self, owner: str, instance: str) -> str:
        return f"{self.prefix}.reply.{owner}.{instance}"

    def durable_queues(self) -> list[str]:
        """Every queue that outlives the processes (the others are exclusive)."""
        return [
            self.invoke_queue(INTERACTIVE),
            self.invoke_queue(BATCH),
            self.results_queue,
            self.rpc_queue("registry"),
            self.rpc_queue("results"),
            self.dead_queue,
            self.dead_invocations_queue,
        ]

    def exchanges(self) -> list[str]:
        return [
            self.invoke_exchange,
            self.results_exchange,
            self.events_exchange,
            self.dead_exchange,
        ]


PERSISTENT = spec.Basic.Properties(delivery_mode=2)


@dataclass(frozen=True)
class Target:
    """An exchange and the channel that publishes to it."""

    channel: AbstractChannel
    exchange: str


async def publish_persistent(
    target: Target, body: bytes, routing_key: str, reply_to: str | None = None
) -> None:
    """Publish and wait for the broker's confirm, without building an ``aio_pika.Message``.

    The hot path of a bulk: aio-pika's message object costs more CPU than the send itself.
    A negative confirm raises ``aiormq.exceptions.DeliveryError``.
    """
    properties = PERSISTENT
    if reply_to is not None:
        properties = spec.Basic.Properties(delivery_mode=2, reply_to=reply_to)
    channel = await target.channel.get_underlay_channel()
    await channel.basic_publish(
        body, exchange=target.exchange, routing_key=routing_key, properties=properties
    )


async def connect(settings: Settings, name: str) -> AbstractRobustConnection:
    """A robust connection (it reconnects by itself) named so the broker shows who it is."""
    return await aio_pika.connect_robust(
        settings.amqp(),
        client_properties={"connection_name": f"{settings.prefix}-{name}"},
    )


def _durable_args(settings: Settings, topology: Topology) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": settings.delivery_limit,
        "x-dead-letter-exchange": topology.dead_exchange,
    }


async def declare_dead_letters(channel: AbstractChannel, topology: Topology) -> None:
    exchange = await channel.declare_exchange(
        topology.dead_exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    dead = await channel.declare_queue(
        topology.dead_queue,
        durable=True,
        arguments={"x-queue-type": "quorum", "x-max-length": DEAD_MAX_LENGTH},
    )
    await dead.bind(exchange, "#")
    invocations = await channel.declare_queue(
        topology.dead_invocations_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    for lane in (INTERACTIVE, BATCH):
        await invocations.bind(exchange, lane)


async def declare_invocations(
    channel: AbstractChannel, topology: Topology, settings: Settings
) -> tuple[AbstractExchange, dict[str, AbstractQueue]]:
    """The invoke exchange and its two lanes: quorum queues that dead-letter poison."""
    await declare_dead_letters(channel, topology)
    exchange = await channel.declare_exchange(
        topology.invoke_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    queues: dict[str, AbstractQueue] = {}
    for lane in (INTERACTIVE, BATCH):
        queue = await channel.declare_queue(
            topology.invoke_queue(lane), durable=True, arguments=_durable_args(settings, topology)
        )
        await queue.bind(exchange, lane)
        queues[lane] = queue
    return exchange, queues


async def declare_results(
    channel: AbstractChannel, topology: Topology, settings: Settings
) -> tuple[AbstractExchange, AbstractQueue]:
    await declare_dead_letters(channel, topology)
    exchange = await channel.declare_exchange(
        topology.results_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    queue = await channel.declare_queue(
        topology.results_queue, durable=True, arguments=_durable_args(settings, topology)
    )
    await queue.bind(exchange, RESULTS)
    return exchange, queue


async def declare_events(channel: AbstractChannel, topology: Topology) -> AbstractExchange:
    return await channel.declare_exchange(
        topology.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )


async def declare_rpc_queue(
    channel: AbstractChannel, topology: Topology, service: str, settings: Settings
) -> AbstractQueue:
    """A request queue with competing consumers; stale requests expire unanswered."""
    return await channel.declare_queue(
        topology.rpc_queue(service),
        durable=True,
        arguments={"x-message-ttl": int(settings.rpc_timeout * 1000)},
    )
