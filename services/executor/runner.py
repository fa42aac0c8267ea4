"""What an executor asks of the part that runs user code. Runners are interchangeable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from shared.messages import ErrorInfo


@dataclass(frozen=True)
class FunctionKey:
    """One version of one tenant's function: what a (warm) worker serves."""

    tenant: str
    function: str
    version: int


@dataclass(frozen=True)
class Job:
    key: FunctionKey
    code: str
    context: str | None  # TOML text, parsed inside the worker
    params: bytes  # a JSON object
    timeout_s: float
    memory_mb: int


@dataclass(frozen=True)
class Outcome:
    status: Literal["completed", "failed", "timeout"]
    result: bytes | None  # JSON, when completed
    error: ErrorInfo | None
    logs: str
    started_at: float  # epoch seconds
    finished_at: float
    duration_ms: float


class Runner(Protocol):
    """Runs jobs in isolation from the executor process; never raises for user faults."""

    async def start(self) -> None: ...

    async def run(self, job: Job) -> Outcome: ...

    async def forget(self, tenant: str, function: str) -> None:
        """The function was replaced or deleted: drop whatever is kept warm for it."""

    async def close(self) -> None: ...
