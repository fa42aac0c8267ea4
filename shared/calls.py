"""The RPC contracts between services: each method's parameters and result, typed.

Registry methods: ``functions.put|get|list|delete|fetch``, ``tokens.resolve|create``.
Results methods: ``executions.accept|get|list``. Every service answers ``ping``.
"""

from __future__ import annotations

import msgspec

from shared.messages import ErrorInfo, ExecutionUpdate

REGISTRY = "registry"
RESULTS = "results"


class Params(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every method's parameters."""


class Ping(Params, frozen=True, kw_only=True):
    pass


# Registry ------------------------------------------------------------------------------


class PutFunction(Params, frozen=True, kw_only=True):
    tenant: str
    name: str
    code: str
    context: str | None = None  # TOML text
    timeout_s: float | None = None
    memory_mb: int | None = None


class FunctionRef(Params, frozen=True, kw_only=True):
    tenant: str
    name: str


class FetchCode(Params, frozen=True, kw_only=True):
    tenant: str
    name: str
    version: int


class ListPage(Params, frozen=True, kw_only=True):
    tenant: str
    limit: int = 50
    after: str | None = None


class ResolveToken(Params, frozen=True, kw_only=True):
    token_hash: str


class CreateToken(Params, frozen=True, kw_only=True):
    tenant: str


class FunctionInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A function as its owner may see it: never the context's values."""

    name: str
    version: int
    status: str  # creating | ready | failed
    timeout_s: float
    memory_mb: int
    has_context: bool
    created_at: float
    updated_at: float
    error: str | None = None


class PutResult(msgspec.Struct, frozen=True, kw_only=True):
    function: FunctionInfo
    created: bool


class FunctionPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[FunctionInfo]
    next: str | None


class FunctionCode(msgspec.Struct, frozen=True, kw_only=True):
    """What an executor needs to run one version. ``context`` is decrypted TOML text."""

    code: str
    context: str | None
    timeout_s: float
    memory_mb: int


# Results -------------------------------------------------------------------------------


class Accept(Params, frozen=True, kw_only=True):
    updates: list[ExecutionUpdate]


class ExecutionRef(Params, frozen=True, kw_only=True):
    tenant: str
    id: str


class ListExecutions(Params, frozen=True, kw_only=True):
    tenant: str
    function: str | None = None
    status: str | None = None
    limit: int = 50
    after: str | None = None


class ExecutionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An execution record. In listings ``params``, ``result`` and ``logs`` are left out."""

    id: str
    function: str
    function_version: int
    status: str
    params: bytes | None = None  # JSON object
    result: bytes | None = None  # JSON
    error: ErrorInfo | None = None
    logs: str | None = None
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    duration_ms: float | None = None
    attempts: int = 0


class ExecutionPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ExecutionRecord]
    next: str | None
