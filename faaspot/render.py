"""How the CLI shows records, results and errors as text."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from faaspot.errors import (
    AuthenticationError,
    ExecutionError,
    ExecutionTimeout,
    FaaspotError,
)
from faaspot.protocol import EXECUTION_STATUSES, Record

FUNCTION_COLUMNS = ("NAME", "VERSION", "STATUS", "TIMEOUT_S", "MEMORY_MB", "UPDATED")
EXECUTION_COLUMNS = ("ID", "FUNCTION", "VERSION", "STATUS", "CREATED", "DURATION_MS")
COLUMN_GAP = "  "


def pretty_json(value: Any) -> str:
    """Indented JSON, non-ASCII kept as is."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def result_text(value: Any) -> str:
    """A function's result: a string as it is, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces; ``None`` shows as ``-``."""
    lines = [list(headers), *([_cell(value) for value in row] for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(headers))]
    return "\n".join(
        COLUMN_GAP.join(
            cell.ljust(width) for cell, width in zip(line, widths, strict=True)
        ).rstrip()
        for line in lines
    )


def functions_table(records: Iterable[Record]) -> str:
    keys = ("name", "version", "status", "timeout", "memory", "updated_at")
    return table(FUNCTION_COLUMNS, ([record.get(key) for key in keys] for record in records))


def executions_table(records: Iterable[Record]) -> str:
    keys = ("id", "function", "function_version", "status", "created_at", "duration_ms")
    return table(EXECUTION_COLUMNS, ([record.get(key) for key in keys] for record in records))


def status_summary(records: Sequence[Record]) -> str:
    """``"3 executions: 2 completed, 1 failed"``, statuses in their lifecycle order."""
    counts = Counter(str(record.get("status")) for record in records)
    known = [status for status in EXECUTION_STATUSES if counts[status]]
    others = sorted(set(counts) - set(EXECUTION_STATUSES))
    parts = ", ".join(f"{counts[status]} {status}" for status in [*known, *others])
    noun = "execution" if len(records) == 1 else "executions"
    return f"{len(records)} {noun}: {parts}" if parts else f"0 {noun}"


def error_line(error: FaaspotError) -> str:
    """The one line the CLI prints (after ``error: ``) for an error."""
    if isinstance(error, AuthenticationError):
        return f"authentication failed: {error.message}"
    if isinstance(error, ExecutionError):
        return execution_error_line(error)
    return error.message


def execution_error_line(error: ExecutionError) -> str:
    what = "timed out" if isinstance(error, ExecutionTimeout) else "failed"
    return f"execution {error.execution_id} {what}: {error.type}: {error.message}"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
