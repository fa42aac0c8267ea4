"""The ``executions`` collection: idempotent upserts whose status only moves forward."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.calls import ExecutionRecord, ListExecutions
from shared.messages import STATUS_RANK, ErrorInfo, ExecutionUpdate
from shared.mongo import Document, store_errors, to_datetime, to_epoch

DUPLICATE_KEY = 11000
SUMMARY_PROJECTION = {"params": 0, "result": 0, "logs": 0}  # left out of listings


def _base_fields(update: ExecutionUpdate) -> Document:
    """What the pending record holds; written once, whichever update comes first."""
    return {
        "_id": update.execution_id,
        "tenant": update.tenant,
        "function": update.function,
        "version": update.version,
        "params": update.params.decode("utf-8"),
        "created_at": to_datetime(update.created_at),
        "status": "pending",
        "rank": 0,
        "result": None,
        "error": None,
        "logs": "",
        "started_at": None,
        "finished_at": None,
        "duration_ms": None,
        "attempts": 0,
    }


def _progress_fields(update: ExecutionUpdate) -> Document:
    fields: Document = {
        "status": update.status,
        "rank": STATUS_RANK[update.status],
        "started_at": to_datetime(update.started_at),
        "attempts": update.attempts,
    }
    if update.status != "running":
        fields.update(
            result=None if update.result is None else update.result.decode("utf-8"),
            error=None if update.error is None else _error_doc(update.error),
            logs=update.logs,
            finished_at=to_datetime(update.finished_at),
            duration_ms=update.duration_ms,
        )
    return fields


def _error_doc(error: ErrorInfo) -> Document:
    return {"type": error.type, "message": error.message, "traceback": error.traceback}


def write_op(update: ExecutionUpdate) -> UpdateOne:
    """One idempotent upsert: create the record if missing, move it forward if behind.

    When the record exists but is not behind, the upsert's insert collides on ``_id``
    (duplicate key): the update was superseded, which is fine.
    """
    base = _base_fields(update)
    if update.status == "pending":
        return UpdateOne({"_id": update.execution_id}, {"$setOnInsert": base}, upsert=True)
    progress = _progress_fields(update)
    on_insert = {k: v for k, v in base.items() if k not in progress and k != "_id"}
    return UpdateOne(
        _may_advance(update), {"$set": progress, "$setOnInsert": on_insert}, upsert=True
    )


def _may_advance(update: ExecutionUpdate) -> Document:
    """The records this update moves: lower status, or a rerun's later attempt.

    ``_id`` stays a top-level equality so that an upsert inserts under that id.
    """
    rank = STATUS_RANK[update.status]
    if update.status != "running":
        return {"_id": update.execution_id, "rank": {"$lt": rank}}  # first terminal wins
    rerun = {"rank": rank, "attempts": {"$lt": update.attempts}}
    return {"_id": update.execution_id, "$or": [{"rank": {"$lt": rank}}, rerun]}


def to_record(doc: Document) -> ExecutionRecord:
    error = doc.get("error")
    params, result = doc.get("params"), doc.get("result")
    return ExecutionRecord(
        id=doc["_id"],
        function=doc["function"],
        function_version=doc["version"],
        status=doc["status"],
        params=None if params is None else params.encode("utf-8"),
        result=None if result is None else result.encode("utf-8"),
        error=None if error is None else ErrorInfo(**error),
        logs=doc.get("logs"),
        created_at=to_epoch(doc["created_at"]) or 0.0,
        started_at=to_epoch(doc.get("started_at")),
        finished_at=to_epoch(doc.get("finished_at")),
        duration_ms=doc.get("duration_ms"),
        attempts=doc.get("attempts", 0),
    )


class ExecutionStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.executions = db["executions"]

    async def ensure_indexes(self) -> None:
        with store_errors("creating execution indexes"):
            for fields in (["tenant"], ["tenant", "function"], ["tenant", "status"]):
                keys: list[tuple[str, Any]] = [(name, 1) for name in fields]
                await self.executions.create_index([*keys, ("_id", DESCENDING)])

    async def insert_pending(self, updates: list[ExecutionUpdate]) -> None:
        """Insert new pending records; ids already present (a later update won) are kept."""
        ops = [InsertOne(_base_fields(update)) for update in updates]
        await self._bulk(ops, "recording pending executions")

    async def apply(self, updates: list[ExecutionUpdate]) -> None:
        """Write every update; each moves its record forward or is already superseded."""
        ops = [write_op(update) for update in updates]
        collided = await self._bulk(ops, "recording execution updates")
        if collided:
            # An insert of the same id (a concurrent pending record) won the race against
            # our upsert's insert: now the record exists, so the update applies or is moot.
            await self._bulk([ops[i] for i in collided], "recording execution updates")

    async def _bulk(self, ops: list[Any], action: str) -> list[int]:
        """Run ``ops`` unordered; return the indexes that hit an existing ``_id``."""
        if not ops:
            return []
        with store_errors(action):
            try:
                await self.executions.bulk_write(ops, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details["writeErrors"]
                if exc.details.get("writeConcernErrors") or any(
                    e["code"] != DUPLICATE_KEY for e in errors
                ):
                    raise
                return [e["index"] for e in errors]
        return []

    async def get(self, tenant: str, execution_id: str) -> ExecutionRecord | None:
        with store_errors("reading the execution"):
            doc = await self.executions.find_one({"_id": execution_id, "tenant": tenant})
        return None if doc is None else to_record(doc)

    async def list(self, query: ListExecutions, limit: int) -> list[ExecutionRecord]:
        """Newest first; ``after`` is the last id of the previous page."""
        filters: Document = {"tenant": query.tenant}
        if query.function is not None:
            filters["function"] = query.function
        if query.status is not None:
            filters["status"] = query.status
        if query.after is not None:
            filters["_id"] = {"$lt": query.after}
        with store_errors("listing executions"):
            cursor = (
                self.executions.find(filters, SUMMARY_PROJECTION)
                .sort("_id", DESCENDING)
                .limit(limit)
            )
            return [to_record(doc) for doc in await cursor.to_list()]
