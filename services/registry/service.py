"""The registry service: answers function and token RPCs, announces changes as events."""

from __future__ import annotations

import asyncio
import logging

import aio_pika
from aio_pika.abc import AbstractExchange

from services.registry.crypto import ContextCipher
from services.registry.store import NewVersion, RegistryStore, to_info
from services.registry.validation import check_code, check_context, resolve_limits
from shared import amqp, calls, mongo, service
from shared.errors import ConfigurationError, FunctionNotFound, Unauthorized
from shared.messages import Event, encode
from shared.rpc import RpcServer
from shared.settings import Settings
from shared.validation import check_name

logger = logging.getLogger(__name__)

PAGE_MAX = 1000  # functions in one listing page
RPC_PREFETCH = 64  # requests one registry process handles at once


class Registry:
    """The RPC handlers; each validates, touches the store, and announces what changed."""

    def __init__(
        self,
        store: RegistryStore,
        cipher: ContextCipher,
        settings: Settings,
        events: AbstractExchange,
    ) -> None:
        self.store = store
        self.cipher = cipher
        self.settings = settings
        self.events = events

    def register(self, server: RpcServer) -> None:
        server.register("ping", calls.Ping, self.ping)
        server.register("functions.put", calls.PutFunction, self.put)
        server.register("functions.get", calls.FunctionRef, self.get)
        server.register("functions.list", calls.ListPage, self.list)
        server.register("functions.delete", calls.FunctionRef, self.delete)
        server.register("functions.fetch", calls.FetchCode, self.fetch)
        server.register("tokens.resolve", calls.ResolveToken, self.resolve_token)
        server.register("tokens.create", calls.CreateToken, self.create_token)

    async def ping(self, _: calls.Ping) -> str:
        return "pong"

    async def put(self, params: calls.PutFunction) -> calls.PutResult:
        check_name(params.name)
        check_code(params.code, self.settings.code_max)
        if params.context is not None:
            check_context(params.context)
        timeout_s, memory_mb = resolve_limits(self.settings, params.timeout_s, params.memory_mb)
        info, created = await self.store.put_version(
            NewVersion(
                tenant=params.tenant,
                name=params.name,
                code=params.code,
                context_enc=None if params.context is None else self.cipher.encrypt(params.context),
                timeout_s=timeout_s,
                memory_mb=memory_mb,
            )
        )
        await self._announce(
            Event(
                kind="function.changed",
                tenant=params.tenant,
                function=params.name,
                version=info.version,
            )
        )
        return calls.PutResult(function=info, created=created)

    async def get(self, params: calls.FunctionRef) -> calls.FunctionInfo:
        doc = await self.store.get(params.tenant, params.name)
        if doc is None:
            raise _not_found(params.name)
        return to_info(doc)

    async def list(self, params: calls.ListPage) -> calls.FunctionPage:
        limit = max(1, min(params.limit, PAGE_MAX))
        docs = await self.store.list(params.tenant, limit + 1, params.after)
        items = [to_info(doc) for doc in docs[:limit]]
        return calls.FunctionPage(items=items, next=items[-1].name if len(docs) > limit else None)

    async def delete(self, params: calls.FunctionRef) -> None:
        if not await self.store.delete(params.tenant, params.name):
            raise _not_found(params.name)
        await self._announce(
            Event(kind="function.deleted", tenant=params.tenant, function=params.name)
        )

    async def fetch(self, params: calls.FetchCode) -> calls.FunctionCode:
        doc = await self.store.get_version(params.tenant, params.name, params.version)
        if doc is None:
            raise FunctionNotFound(
                f"function {params.name!r} version {params.version} no longer exists"
            )
        context_enc = doc.get("context_enc")
        return calls.FunctionCode(
            code=doc["code"],
            context=None if context_enc is None else self.cipher.decrypt(context_enc),
            timeout_s=doc["timeout_s"],
            memory_mb=doc["memory_mb"],
        )

    async def resolve_token(self, params: calls.ResolveToken) -> str:
        tenant = await self.store.resolve_token(params.token_hash)
        if tenant is None:
            raise Unauthorized("unknown token")
        return tenant

    async def create_token(self, params: calls.CreateToken) -> str:
        check_name(params.tenant)
        return await self.store.create_token(params.tenant)

    async def _announce(self, event: Event) -> None:
        await self.events.publish(
            aio_pika.Message(encode(event)), routing_key=f"{event.kind}.{event.tenant}"
        )


def _not_found(name: str) -> FunctionNotFound:
    return FunctionNotFound(f"function {name!r} not found")


def load_cipher(settings: Settings) -> ContextCipher:
    if settings.context_key is None:
        raise ConfigurationError(
            "FAASPOT_CONTEXT_KEY is not set: the registry needs it to encrypt contexts "
            "(generate one with: faaspot keygen)"
        )
    return ContextCipher(settings.context_key.get_secret_value())


async def serve(settings: Settings, stopping: asyncio.Event) -> None:
    cipher = load_cipher(settings)
    topology = amqp.Topology(settings.prefix)
    client = mongo.connect(settings, "registry")
    store = RegistryStore(mongo.database(client, settings), settings.versions_kept)
    await store.ensure_indexes()
    connection = await amqp.connect(settings, "registry")
    try:
        # Replies need no confirm (a lost one times out), nor do events (caches also expire).
        channel = await connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=RPC_PREFETCH)
        events = await amqp.declare_events(channel, topology)
        queue = await amqp.declare_rpc_queue(channel, topology, calls.REGISTRY, settings)
        server = RpcServer(calls.REGISTRY)
        Registry(store, cipher, settings, events).register(server)
        await server.start(channel, queue)
        logger.info("registry ready on %s", queue.name)
        await stopping.wait()
    finally:
        await connection.close()
        await client.close()


def main() -> None:
    service.run(serve)
