"""The execution store against a real MongoDB: order of arrival does not matter."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest
from pymongo import AsyncMongoClient

from services.results.store import ExecutionStore
from shared.ids import new_id
from shared.messages import ErrorInfo, ExecutionUpdate
from tests.stackutil import MONGO_URL


@pytest.fixture
async def store(infra: None) -> AsyncIterator[ExecutionStore]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(MONGO_URL, tz_aware=True)
    name = "t" + uuid.uuid4().hex[:10]
    try:
        store = ExecutionStore(client[name])
        await store.ensure_indexes()
        yield store
    finally:
        await client.drop_database(name)
        await client.close()


def update(execution_id: str, status: str, **fields: object) -> ExecutionUpdate:
    base = ExecutionUpdate(
        execution_id=execution_id,
        tenant="t",
        function="f",
        version=1,
        params=b'{"a": 1}',
        created_at=time.time(),
        status="pending",
    )
    return msgspec.structs.replace(base, status=status, **fields)


async def test_updates_in_any_order_build_the_same_record(store: ExecutionStore) -> None:
    first, second = new_id(), new_id()
    done = dict(result=b'"ok"', finished_at=time.time(), duration_ms=1.0, attempts=1)
    await store.apply(
        [
            update(first, "pending"),
            update(first, "running", attempts=1),
            update(first, "completed", **done),
        ]
    )
    await store.apply([update(second, "completed", **done), update(second, "running", attempts=1)])
    await store.insert_pending([update(second, "pending")])
    a, b = await store.get("t", first), await store.get("t", second)
    assert a is not None and b is not None
    assert (
        (a.status, a.result, a.params)
        == (b.status, b.result, b.params)
        == ("completed", b'"ok"', b'{"a": 1}')
    )


async def test_the_first_terminal_status_wins(store: ExecutionStore) -> None:
    execution_id = new_id()
    await store.apply([update(execution_id, "timeout", attempts=1)])
    await store.apply(
        [update(execution_id, "failed", attempts=2, error=ErrorInfo(type="X", message="later"))]
    )
    record = await store.get("t", execution_id)
    assert record is not None and (record.status, record.error) == ("timeout", None)


async def test_a_record_is_invisible_to_another_tenant(store: ExecutionStore) -> None:
    execution_id = new_id()
    await store.insert_pending([update(execution_id, "pending")])
    assert await store.get("other", execution_id) is None
