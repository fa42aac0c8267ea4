"""Parsing and validation of what HTTP callers send. Pure functions, no I/O."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_to_bytes

import msgspec

from shared.errors import (
    InvalidEncoding,
    InvalidExecutionId,
    InvalidRequest,
    PayloadTooLarge,
    TooManyGroups,
)
from shared.ids import is_id
from shared.messages import STATUS_RANK

BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
LIST_LIMIT_MAX = 1000  # items in one listing page


class FunctionBody(msgspec.Struct, forbid_unknown_fields=True):
    """The body of ``PUT /v1/functions/``."""

    name: str
    code: str
    context: str | None = None
    timeout: float | None = None  # seconds
    memory: int | None = None  # MB


_function_decoder = msgspec.json.Decoder(FunctionBody)
_object_decoder = msgspec.json.Decoder(dict[str, Any])
_bulk_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_json_encoder = msgspec.json.Encoder()


def _why(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"the body is not UTF-8 (byte {exc.start})"
    return str(exc).replace("`", "'")


# msgspec raises UnicodeDecodeError (not DecodeError) for bytes that are not UTF-8.
BAD_JSON = (msgspec.DecodeError, UnicodeDecodeError)


def parse_function_body(body: bytes) -> FunctionBody:
    try:
        return _function_decoder.decode(body)
    except BAD_JSON as exc:
        raise InvalidRequest(f"invalid function body: {_why(exc)}") from exc


def percent_decode(text: str, field: str) -> str:
    """Undo ``quote(text.encode("utf-8"))``; refuse broken escapes and non-UTF-8 bytes."""
    bad = BAD_PERCENT.search(text)
    if bad is not None:
        raise InvalidEncoding(
            f"{field}: bad percent-encoding at character {bad.start()}: "
            f"{text[bad.start() : bad.start() + 3]!r}"
        )
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEncoding(
            f"{field}: the decoded bytes are not UTF-8 (byte {exc.start})"
        ) from exc


def parse_object(body: bytes, params_max: int) -> bytes:
    """A JSON object body, returned as JSON bytes. An empty body is ``{}``."""
    if not body.strip():
        return b"{}"
    _check_group_size(body, params_max, "the parameters")
    try:
        _object_decoder.decode(body)
    except BAD_JSON as exc:
        raise InvalidRequest(f"the body must be a JSON object of parameters: {_why(exc)}") from exc
    return body


def query_params(items: list[tuple[str, str]], params_max: int) -> bytes:
    """Query parameters as a JSON object of strings (a repeated key keeps its last value)."""
    encoded = _json_encoder.encode(dict(items))
    _check_group_size(encoded, params_max, "the parameters")
    return encoded


def parse_bulk(body: bytes, bulk_max: int, params_max: int) -> list[bytes]:
    """A JSON list of parameter objects, each returned as its own JSON bytes, unre-encoded."""
    try:
        groups = _bulk_decoder.decode(body)
    except BAD_JSON as exc:
        raise InvalidRequest(
            f"the body must be a JSON list of parameter objects: {_why(exc)}"
        ) from exc
    if not groups:
        raise InvalidRequest("the list of parameter groups is empty")
    if len(groups) > bulk_max:
        raise TooManyGroups(
            f"{len(groups)} parameter groups; one bulk request takes at most {bulk_max}"
        )
    out = []
    for index, raw in enumerate(groups):
        group = bytes(raw)
        if not group.startswith(b"{"):
            raise InvalidRequest(f"item {index} of the list is not a JSON object")
        _check_group_size(group, params_max, f"item {index}")
        out.append(group)
    return out


def _check_group_size(data: bytes, params_max: int, what: str) -> None:
    if len(data) > params_max:
        raise PayloadTooLarge(f"{what} take {len(data)} bytes; the limit is {params_max}")


def check_execution_id(text: str) -> str:
    if not is_id(text):
        raise InvalidExecutionId(f"{text[:80]!r} is not an execution id")
    return text


def list_limit(value: str | None, default: int = 50) -> int:
    if value is None:
        return default
    try:
        limit = int(value)
    except ValueError:
        raise InvalidRequest(f"limit must be a whole number, not {value[:20]!r}") from None
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise InvalidRequest(f"limit must be between 1 and {LIST_LIMIT_MAX}")
    return limit


def status_filter(value: str | None) -> str | None:
    if value is not None and value not in STATUS_RANK:
        raise InvalidRequest(f"status must be one of {', '.join(STATUS_RANK)}")
    return value
