"""The results service: records execution updates and answers execution look-ups."""

from __future__ import annotations

import asyncio
import logging

from services.results.store import ExecutionStore
from services.results.writer import BatchWriter
from shared import amqp, calls, mongo, service
from shared.errors import ExecutionNotFound
from shared.rpc import RpcServer
from shared.settings import Settings

logger = logging.getLogger(__name__)

PAGE_MAX = 1000  # executions in one listing page
RPC_PREFETCH = 64  # look-ups one results process answers at once


class Results:
    def __init__(self, store: ExecutionStore) -> None:
        self.store = store

    def register(self, server: RpcServer) -> None:
        server.register("ping", calls.Ping, self.ping)
        server.register("executions.accept", calls.Accept, self.accept)
        server.register("executions.get", calls.ExecutionRef, self.get)
        server.register("executions.list", calls.ListExecutions, self.list)

    async def ping(self, _: calls.Ping) -> str:
        return "pong"

    async def accept(self, params: calls.Accept) -> None:
        """Record executions as pending; answered only once MongoDB acknowledged."""
        await self.store.insert_pending(params.updates)

    async def get(self, params: calls.ExecutionRef) -> calls.ExecutionRecord:
        record = await self.store.get(params.tenant, params.id)
        if record is None:
            raise ExecutionNotFound(f"execution {params.id!r} not found")
        return record

    async def list(self, params: calls.ListExecutions) -> calls.ExecutionPage:
        limit = max(1, min(params.limit, PAGE_MAX))
        records = await self.store.list(params, limit + 1)
        items = records[:limit]
        return calls.ExecutionPage(items=items, next=items[-1].id if len(records) > limit else None)


async def serve(settings: Settings, stopping: asyncio.Event) -> None:
    topology = amqp.Topology(settings.prefix)
    client = mongo.connect(settings, "results")
    store = ExecutionStore(mongo.database(client, settings))
    await store.ensure_indexes()
    connection = await amqp.connect(settings, "results")
    writer = BatchWriter(store, settings.results_batch)
    writing = asyncio.create_task(writer.run())
    try:
        # A reply needs no confirm: a lost one times out at the caller.
        rpc_channel = await connection.channel(publisher_confirms=False)
        await rpc_channel.set_qos(prefetch_count=RPC_PREFETCH)
        rpc_queue = await amqp.declare_rpc_queue(rpc_channel, topology, calls.RESULTS, settings)
        server = RpcServer(calls.RESULTS)
        Results(store).register(server)
        await server.start(rpc_channel, rpc_queue)

        updates_channel = await connection.channel()
        await updates_channel.set_qos(prefetch_count=settings.results_batch * 2)
        _, updates_queue = await amqp.declare_results(updates_channel, topology, settings)
        await updates_queue.consume(writer.on_update)
        dead = await updates_channel.get_queue(topology.dead_invocations_queue)
        await dead.consume(writer.on_dead_invocation)
        logger.info("results ready on %s and %s", rpc_queue.name, updates_queue.name)
        await stopping.wait()
    finally:
        writing.cancel()
        await connection.close()
        await client.close()


def main() -> None:
    service.run(serve)
