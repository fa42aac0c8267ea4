"""The executor service: consumes invocations from both lanes, runs them, reports results."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)

from services.executor.functions import FunctionCache
from services.executor.runner import FunctionKey, Job, Outcome, Runner
from services.executor.updates import UpdatePublisher
from services.executor.warm import WarmRunner
from shared import amqp, service
from shared.errors import FaaspotError, MessageError
from shared.messages import (
    ErrorInfo,
    Event,
    ExecutionUpdate,
    Invocation,
    decode,
    encode,
)
from shared.rpc import ReplyQueue, RpcClient
from shared.settings import Settings

logger = logging.getLogger(__name__)


def attempts_of(message: AbstractIncomingMessage) -> int:
    """Quorum queues count earlier deliveries in ``x-delivery-count``."""
    earlier = message.headers.get("x-delivery-count") or 0
    return int(str(earlier)) + 1


def update_for(invocation: Invocation, outcome: Outcome, attempts: int) -> ExecutionUpdate:
    return ExecutionUpdate.of(
        invocation,
        outcome.status,
        result=outcome.result,
        error=outcome.error,
        logs=outcome.logs,
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
        duration_ms=outcome.duration_ms,
        attempts=attempts,
    )


def failed_outcome(error: FaaspotError) -> Outcome:
    now = time.time()
    return Outcome(
        status="failed",
        result=None,
        error=ErrorInfo(type=error.type, message=error.message),
        logs="",
        started_at=now,
        finished_at=now,
        duration_ms=0.0,
    )


class Executor:
    """Handles one invocation message from delivery to ack."""

    def __init__(
        self,
        settings: Settings,
        runner: Runner,
        functions: FunctionCache,
        updates: UpdatePublisher,
        reply_channel: AbstractChannel,
    ) -> None:
        self.settings = settings
        self.runner = runner
        self.functions = functions
        self.updates = updates
        self._reports: set[asyncio.Task[None]] = set()
        self.reply_channel = reply_channel
        concurrency = settings.executor_concurrency
        # Each lane has its own slots: a blocking call never waits behind a bulk.
        self.slots = {
            amqp.INTERACTIVE: asyncio.Semaphore(concurrency),
            amqp.BATCH: asyncio.Semaphore(concurrency),
        }

    def consumer(self, lane: str) -> _LaneConsumer:
        return _LaneConsumer(self, self.slots[lane])

    async def handle(self, message: AbstractIncomingMessage, slots: asyncio.Semaphore) -> None:
        """Run the invocation within a slot, then report it and ack it outside the slot."""
        try:
            invocation = decode(message.body, Invocation)
        except MessageError:
            logger.exception("dead-lettering an undecodable invocation")
            await message.reject(requeue=False)
            return
        async with slots:
            update = await self.execute(invocation, attempts_of(message))
        if message.reply_to:
            # The waiting caller hears at once; the record follows through the results
            # service, and the ack waits for that to be confirmed.
            await self.reply(message.reply_to, update)
        await self.updates.publish(update)
        await message.ack()

    async def execute(self, invocation: Invocation, attempts: int) -> ExecutionUpdate:
        key = FunctionKey(invocation.tenant, invocation.function, invocation.version)
        try:
            code = await self.functions.get(key)
        except FaaspotError as exc:
            return update_for(invocation, failed_outcome(exc), attempts)
        job = Job(
            key=key,
            code=code.code,
            context=code.context,
            params=invocation.params,
            timeout_s=invocation.timeout_s,
            memory_mb=invocation.memory_mb,
        )
        # Short runs end before anyone could see them running: only longer ones say so.
        # A timer, not a task per run: most runs cancel it.
        reporting = asyncio.get_running_loop().call_later(
            self.settings.running_after, self._report_running, invocation, time.time(), attempts
        )
        try:
            outcome = await self.runner.run(job)
        finally:
            reporting.cancel()
        return update_for(invocation, outcome, attempts)

    def _report_running(self, invocation: Invocation, started_at: float, attempts: int) -> None:
        running = ExecutionUpdate.of(
            invocation, "running", started_at=started_at, attempts=attempts
        )
        task = asyncio.create_task(self._publish_quietly(running))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _publish_quietly(self, update: ExecutionUpdate) -> None:
        """A progress report is best effort: the final update carries everything."""
        try:
            await self.updates.publish(update)
        except Exception:
            logger.warning("a running report was not published", exc_info=True)

    async def reply(self, reply_to: str, update: ExecutionUpdate) -> None:
        await self.reply_channel.default_exchange.publish(
            aio_pika.Message(encode(update), correlation_id=update.execution_id),
            routing_key=reply_to,
        )

    async def on_event(self, message: AbstractIncomingMessage) -> None:
        with contextlib.suppress(MessageError):
            event = decode(message.body, Event)
            if event.function is not None and event.kind == "function.deleted":
                self.functions.forget(event.tenant, event.function)
            if event.function is not None:
                await self.runner.forget(event.tenant, event.function)


class _LaneConsumer:
    def __init__(self, executor: Executor, slots: asyncio.Semaphore) -> None:
        self.executor = executor
        self.slots = slots

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        try:
            await self.executor.handle(message, self.slots)
        except Exception:
            # Not acked: the broker redelivers it, and dead-letters it past the limit.
            logger.exception("invocation failed inside the executor")
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)


def make_runner(settings: Settings) -> Runner:
    """Sandboxed warm workers (or, with ``FAASPOT_SANDBOX=none``, plain ones); its ``start``
    raises ``SandboxUnavailable`` where bwrap cannot create the sandbox."""
    return WarmRunner.from_settings(settings)


async def _consume(
    connections: dict[str, AbstractRobustConnection], executor: Executor, settings: Settings
) -> None:
    """Each lane on its own connection: a blocking call's delivery never waits on the
    socket behind a bulk's frames."""
    topology = amqp.Topology(settings.prefix)
    prefetch = {
        amqp.INTERACTIVE: settings.executor_concurrency,
        amqp.BATCH: settings.batch_prefetch,
    }
    connection = connections[amqp.BATCH]
    for lane, count in prefetch.items():
        channel = await connections[lane].channel()
        await channel.set_qos(prefetch_count=count)
        _, queues = await amqp.declare_invocations(channel, topology, settings)
        await queues[lane].consume(executor.consumer(lane))
    events_channel = await connection.channel()
    events = await amqp.declare_events(events_channel, topology)
    queue = await events_channel.declare_queue(
        f"{settings.prefix}.events.executor.{uuid.uuid4().hex[:12]}",
        exclusive=True,
        auto_delete=True,
    )
    await queue.bind(events, "function.#")
    await queue.consume(executor.on_event, no_ack=True)


async def serve(settings: Settings, stopping: asyncio.Event) -> None:
    topology = amqp.Topology(settings.prefix)
    runner = make_runner(settings)
    await runner.start()
    connections = {
        amqp.BATCH: await amqp.connect(settings, "executor"),
        amqp.INTERACTIVE: await amqp.connect(settings, "executor-interactive"),
    }
    updates: UpdatePublisher | None = None
    try:
        main = connections[amqp.BATCH]
        replies = await ReplyQueue.open(main, topology, "executor")
        rpc = RpcClient(replies, topology, settings.rpc_timeout)
        results_channel = await main.channel()
        results, _ = await amqp.declare_results(results_channel, topology, settings)
        reply_channel = await connections[amqp.INTERACTIVE].channel(publisher_confirms=False)
        updates = UpdatePublisher(results)
        updates.start()
        executor = Executor(settings, runner, FunctionCache(rpc), updates, reply_channel)
        await _consume(connections, executor, settings)
        logger.info("executor ready (concurrency %d)", settings.executor_concurrency)
        await stopping.wait()
    finally:
        for connection in connections.values():
            await connection.close()
        if updates is not None:
            await updates.close()
        await runner.close()


def main() -> None:
    service.run(serve)
