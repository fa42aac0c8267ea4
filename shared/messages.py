"""The msgpack messages that cross RabbitMQ, as typed frozen structs validated on decode.

Every message carries ``v``, its schema version. JSON that users sent or functions
returned travels as raw JSON bytes (``params``, ``result``) so that no hop re-encodes it.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import msgspec

from shared.errors import MessageError

SCHEMA_VERSION = 1

Status = Literal["pending", "running", "completed", "failed", "timeout"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "timeout"})
# Status order: a record only ever moves to a higher rank (guarantee 2).
STATUS_RANK: dict[str, int] = {
    "pending": 0,
    "running": 1,
    "completed": 2,
    "failed": 2,
    "timeout": 2,
}


class Message(msgspec.Struct, frozen=True, kw_only=True):
    v: int = SCHEMA_VERSION


class ErrorInfo(msgspec.Struct, frozen=True):
    type: str
    message: str
    traceback: str | None = None


class Invocation(Message, frozen=True, kw_only=True):
    """One run of one function version with one parameter group."""

    execution_id: str
    tenant: str
    function: str
    version: int
    params: bytes  # a JSON object
    created_at: float  # epoch seconds
    timeout_s: float
    memory_mb: int


class ExecutionUpdate(Message, frozen=True, kw_only=True):
    """A step in an execution's life, written by the results service.

    Self-sufficient: it carries what the pending record holds, so that updates may
    arrive in any order and still build the whole record.
    """

    execution_id: str
    tenant: str
    function: str
    version: int
    params: bytes
    created_at: float
    status: Status
    result: bytes | None = None  # JSON
    error: ErrorInfo | None = None
    logs: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    duration_ms: float | None = None
    attempts: int = 0

    @classmethod
    def of(cls, invocation: Invocation, status: Status, **fields: Any) -> ExecutionUpdate:
        """An update of ``invocation``'s execution, carrying what its pending record holds."""
        return cls(
            execution_id=invocation.execution_id,
            tenant=invocation.tenant,
            function=invocation.function,
            version=invocation.version,
            params=invocation.params,
            created_at=invocation.created_at,
            status=status,
            **fields,
        )

    @classmethod
    def pending(cls, invocation: Invocation) -> ExecutionUpdate:
        return cls.of(invocation, "pending")


class UpdateBatch(Message, frozen=True, kw_only=True):
    updates: list[ExecutionUpdate]


class RpcRequest(Message, frozen=True, kw_only=True):
    method: str
    params: msgspec.Raw  # the method's own params struct, decoded by its handler


class RpcReply(Message, frozen=True, kw_only=True):
    ok: bool
    result: msgspec.Raw = msgspec.Raw(b"\xc0")  # msgpack nil
    error_type: str | None = None
    error_message: str | None = None


class Event(Message, frozen=True, kw_only=True):
    """A change the registry announces on the events exchange."""

    kind: Literal["function.changed", "function.deleted", "token.revoked"]
    tenant: str
    function: str | None = None
    version: int | None = None
    token_hash: str | None = None


T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder()
_decoders: dict[Any, msgspec.msgpack.Decoder[Any]] = {}


def encode(message: Any) -> bytes:
    return _encoder.encode(message)


def decode(data: bytes, kind: type[T]) -> T:  # kind may also be a generic alias
    """Decode and validate ``data`` as ``kind``; anything else raises :class:`MessageError`."""
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.msgpack.Decoder(kind)
    try:
        value: T = decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        name = getattr(kind, "__name__", str(kind))
        raise MessageError(f"undecodable {name}: {exc}") from exc
    version = getattr(value, "v", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise MessageError(f"{type(value).__name__} of unknown schema version {version}")
    return value
