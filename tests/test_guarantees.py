"""DESIGN.md's guarantees 1, 2 and 4, each shown on the real stack (5 is in test_auth)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aio_pika
import httpx
import msgspec

from shared.amqp import BATCH, RESULTS
from shared.messages import ExecutionUpdate, UpdateBatch, encode
from tests.conftest import Deploy
from tests.services.api.test_runs import SLEEPY, wait_terminal
from tests.stackutil import AMQP_URL, TEST_DELIVERY_LIMIT, RunningStack


@contextmanager
def executors_stopped(stack: RunningStack) -> Iterator[None]:
    processes = stack.services("executor")
    for process in processes:
        stack.stop(process)
    try:
        yield
    finally:
        for _ in processes:
            stack.start("executor")


def wait_for(
    api: httpx.Client, execution_id: str, check: Any, timeout_s: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record: dict[str, Any] = api.get(f"/v1/executions/{execution_id}").json()
        if check(record):
            return record
        time.sleep(0.05)
    raise AssertionError(f"{execution_id} never reached the expected state: {record}")


async def _publish(exchange: str, routing_key: str, body: bytes) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        target = await channel.get_exchange(exchange)
        await target.publish(
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key
        )


async def _message_count(queue: str) -> int:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


def dead_letters(stack: RunningStack) -> int:
    return asyncio.run(_message_count(stack.topology.dead_queue))


# Guarantee 1 ---------------------------------------------------------------------------
def test_accepted_executions_survive_the_api_and_results_being_killed(
    stack: RunningStack, api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name)
    with executors_stopped(stack):
        ids = api.post(
            f"/v1/functions/{name}/bulk_rpc/", json=[{"name": str(i)} for i in range(50)]
        ).json()
        for execution_id in ids[:5]:
            assert api.get(f"/v1/executions/{execution_id}").json()["status"] == "pending"
        for service in ("api", "results"):
            for process in stack.services(service):
                stack.stop(process, signal.SIGKILL)
            stack.start(service)
    stack.stack.wait_healthy()
    results = [wait_terminal(api, execution_id) for execution_id in ids]
    assert [r["result"] for r in results] == [f"Hello {i}" for i in range(50)]


# Guarantee 2 ---------------------------------------------------------------------------
def test_an_execution_whose_executor_dies_runs_again_and_is_recorded_once(
    stack: RunningStack, api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name, SLEEPY)
    execution_id = api.get(f"/v1/functions/{name}/rpc/", params={"s": "1.5"}).json()
    wait_for(api, execution_id, lambda r: r["status"] == "running")
    (executor,) = stack.services("executor")
    stack.stop(executor, signal.SIGKILL)
    stack.start("executor")
    record = wait_terminal(api, execution_id)
    assert record["status"] == "completed" and record["result"] == "slept"
    assert record["attempts"] == 2
    listed = api.get("/v1/executions/", params={"function": name}).json()["items"]
    assert [item["id"] for item in listed] == [execution_id]


def test_duplicate_and_late_updates_never_move_a_terminal_status_back(
    stack: RunningStack, api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name)
    execution_id = api.get(f"/v1/sync/functions/{name}/rpc/?name=once").headers["X-Execution-Id"]
    record = wait_for(api, execution_id, lambda r: r["status"] == "completed")
    late = ExecutionUpdate(
        execution_id=execution_id,
        tenant="ignored",
        function=name,
        version=1,
        params=b"{}",
        created_at=time.time(),
        status="running",
        started_at=time.time(),
        attempts=7,
    )
    again = msgspec.structs.replace(late, status="failed", attempts=9)
    for update in (late, again, late):
        body = encode(UpdateBatch(updates=[update]))
        asyncio.run(_publish(stack.topology.results_exchange, RESULTS, body))
    time.sleep(1.0)  # let the results service consume them
    after = api.get(f"/v1/executions/{execution_id}").json()
    assert after == record


# Guarantee 4 ---------------------------------------------------------------------------
def test_undecodable_messages_go_to_the_dead_letter_queue(stack: RunningStack) -> None:
    before = dead_letters(stack)
    asyncio.run(_publish(stack.topology.invoke_exchange, BATCH, b"\xc1 not msgpack"))
    asyncio.run(_publish(stack.topology.results_exchange, RESULTS, b"\x93\x01\x02\x03"))
    deadline = time.monotonic() + 15
    while dead_letters(stack) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dead_letters(stack) == before + 2


def test_an_invocation_that_keeps_crashing_its_executor_is_dead_lettered_and_failed(
    stack: RunningStack, api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name, SLEEPY, timeout=60)
    execution_id = api.get(f"/v1/functions/{name}/rpc/", params={"s": "60"}).json()
    for attempt in range(1, TEST_DELIVERY_LIMIT + 2):
        wait_for(
            api, execution_id, lambda r, a=attempt: r["attempts"] == a and r["status"] == "running"
        )
        (executor,) = stack.services("executor")
        stack.stop(executor, signal.SIGKILL)
        stack.start("executor")
    record = wait_terminal(api, execution_id)
    assert record["status"] == "failed"
    assert record["error"]["type"] == "DeliveryLimitExceeded"
    assert api.get(f"/v1/sync/functions/{name}/rpc/", params={"s": "0"}).json() == "slept"
