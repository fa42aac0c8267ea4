"""The JSON the API answers with: records rendered once, user JSON embedded as is."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from shared.calls import ExecutionRecord, FunctionInfo
from shared.messages import ErrorInfo

NULL = msgspec.Raw(b"null")


class FunctionView(msgspec.Struct):
    name: str
    version: int
    status: str
    timeout: float
    memory: int
    has_context: bool
    created_at: str | None
    updated_at: str | None
    error: str | None


class ExecutionSummary(msgspec.Struct):
    id: str
    function: str
    function_version: int
    status: str
    error: ErrorInfo | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    duration_ms: float | None
    attempts: int


class ExecutionView(msgspec.Struct):
    id: str
    function: str
    function_version: int
    status: str
    parameters: msgspec.Raw
    result: msgspec.Raw
    error: ErrorInfo | None
    logs: str
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    duration_ms: float | None
    attempts: int


class Page(msgspec.Struct):
    items: list[FunctionView] | list[ExecutionSummary]
    next: str | None


def iso(epoch_s: float | None) -> str | None:
    if epoch_s is None:
        return None
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def function_view(info: FunctionInfo) -> FunctionView:
    return FunctionView(
        name=info.name,
        version=info.version,
        status=info.status,
        timeout=info.timeout_s,
        memory=info.memory_mb,
        has_context=info.has_context,
        created_at=iso(info.created_at),
        updated_at=iso(info.updated_at),
        error=info.error,
    )


def execution_summary(record: ExecutionRecord) -> ExecutionSummary:
    return ExecutionSummary(
        id=record.id,
        function=record.function,
        function_version=record.function_version,
        status=record.status,
        error=record.error,
        created_at=iso(record.created_at),
        started_at=iso(record.started_at),
        finished_at=iso(record.finished_at),
        duration_ms=record.duration_ms,
        attempts=record.attempts,
    )


def execution_view(record: ExecutionRecord) -> ExecutionView:
    return ExecutionView(
        id=record.id,
        function=record.function,
        function_version=record.function_version,
        status=record.status,
        parameters=msgspec.Raw(record.params) if record.params else NULL,
        result=msgspec.Raw(record.result) if record.result is not None else NULL,
        error=record.error,
        logs=record.logs or "",
        created_at=iso(record.created_at),
        started_at=iso(record.started_at),
        finished_at=iso(record.finished_at),
        duration_ms=record.duration_ms,
        attempts=record.attempts,
    )
