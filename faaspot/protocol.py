"""The HTTP API (docs/API.md) without I/O: the requests to send, and how to read the answers.

Everything here is a pure function of its arguments, shared by the sync and
async clients. Reading a response either returns plain data or raises the
:mod:`faaspot.errors` error that the response stands for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from faaspot.errors import (
    AuthenticationError,
    ExecutionError,
    ExecutionTimeout,
    FaaspotError,
    FunctionCreationFailed,
    FunctionError,
    NotFoundError,
    ServerError,
    ValidationError,
)

Record = dict[str, Any]  # a function or execution record as the server returns it

FUNCTIONS_PAGE_SIZE = 50  # functions per list request (the API's documented default)
EXECUTIONS_PAGE_MAX = 1000  # the API's largest `limit` for listing executions
TERMINAL_STATUSES = frozenset({"completed", "failed", "timeout"})
EXECUTION_STATUSES = ("pending", "running", "completed", "failed", "timeout")
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

_ERROR_CLASSES: dict[int, type[FaaspotError]] = {
    400: ValidationError,
    401: AuthenticationError,
    404: NotFoundError,
    413: ValidationError,
}
_EXECUTION_ERROR_CLASSES: dict[int, type[ExecutionError]] = {
    502: FunctionError,
    504: ExecutionTimeout,
}


@dataclass(frozen=True)
class Request:
    """One HTTP request, relative to the server's base URL; ``json=None`` sends no body.

    ``long_poll`` marks a request the server may hold (a blocking run, up to
    its ``FAASPOT_SYNC_WAIT``), which needs a longer read timeout.
    """

    method: str
    path: str
    params: Mapping[str, str | int] | None = None
    json: Any = None
    long_poll: bool = False


@dataclass(frozen=True)
class Page:
    """One page of a list: its items and the cursor of the next page, if any."""

    items: list[Record]
    next: str | None


@dataclass(frozen=True)
class Returned:
    """A blocking run finished within the server's wait: ``value`` is the function's result."""

    value: Any
    execution_id: str | None


@dataclass(frozen=True)
class StillRunning:
    """A blocking run outlasted the server's wait; poll the execution to learn its outcome."""

    execution_id: str


# Requests


def encode_text(text: str) -> str:
    """Percent-encode code or context as the API expects: ``quote(text.encode("utf-8"))``."""
    return quote(text.encode("utf-8"))


def put_function(
    name: str,
    code: str,
    context: str | None = None,
    timeout_s: float | None = None,
    memory_mb: int | None = None,
) -> Request:
    """Create or replace a function; ``code`` and ``context`` are plain text, encoded here."""
    body: dict[str, Any] = {"name": _checked_name(name), "code": encode_text(code)}
    optional = {
        "context": None if context is None else encode_text(context),
        "timeout": timeout_s,
        "memory": memory_mb,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return Request("PUT", "/v1/functions/", json=body)


def get_function(name: str) -> Request:
    return Request("GET", _function_path(name))


def delete_function(name: str) -> Request:
    return Request("DELETE", _function_path(name))


def list_functions(after: str | None = None) -> Request:
    return Request("GET", "/v1/functions/", params=_page_params(FUNCTIONS_PAGE_SIZE, after))


def run_function(name: str, params: Mapping[str, Any]) -> Request:
    """Non-blocking run: answered 202 with the execution id."""
    return Request("POST", _function_path(name) + "/rpc/", json=dict(params))


def run_function_sync(name: str, params: Mapping[str, Any]) -> Request:
    """Blocking run: answered with the result, an execution error, or 202 when still running."""
    path = f"/v1/sync/functions/{_segment(_checked_name(name))}/rpc/"
    return Request("POST", path, json=dict(params), long_poll=True)


def run_bulk(name: str, groups: Sequence[Mapping[str, Any]]) -> Request:
    """Non-blocking runs, one per group of parameters: answered with their ids in order."""
    return Request("POST", _function_path(name) + "/bulk_rpc/", json=[dict(g) for g in groups])


def get_execution(execution_id: str) -> Request:
    return Request("GET", f"/v1/executions/{_segment(execution_id)}")


def list_executions(
    function: str | None = None,
    status: str | None = None,
    limit: int = EXECUTIONS_PAGE_MAX,
    after: str | None = None,
) -> Request:
    """A page of execution summaries, newest first, optionally filtered."""
    params = _page_params(limit, after)
    if function is not None:
        params["function"] = function
    if status is not None:
        params["status"] = status
    return Request("GET", "/v1/executions/", params=params)


def _page_params(limit: int, after: str | None) -> dict[str, str | int]:
    params: dict[str, str | int] = {"limit": limit}
    if after is not None:
        params["after"] = after
    return params


def _function_path(name: str) -> str:
    return f"/v1/functions/{_segment(_checked_name(name))}"


def _checked_name(name: str) -> str:
    """Reject a name the server would reject, before it lands in a path and means another one."""
    if not FUNCTION_NAME.fullmatch(name):
        raise ValidationError(
            f"invalid function name {name!r}: use 1 to 64 letters, digits, '_' or '-'",
            type="InvalidName",
        )
    return name


def _segment(value: str) -> str:
    return quote(value, safe="")


# Responses


def check(response: httpx.Response) -> None:
    """Raise the error a non-2xx response stands for."""
    if not response.is_success:
        raise error_from_response(response)


def error_from_response(response: httpx.Response) -> FaaspotError:
    """The error for a non-2xx response, with the server's type and message when it sent them."""
    status = response.status_code
    body = _json_object(response)
    error = body.get("error")
    if not isinstance(error, dict):
        error = {}
    error_type = str(error.get("type") or f"HTTP{status}")
    message = str(error.get("message") or _fallback_message(response))
    execution_class = _EXECUTION_ERROR_CLASSES.get(status)
    if execution_class is not None and "execution_id" in body:
        traceback = error.get("traceback")
        return execution_class(
            message,
            execution_id=str(body["execution_id"]),
            type=error_type,
            traceback=None if traceback is None else str(traceback),
            status=status,
        )
    default = ServerError if status >= 500 else FaaspotError
    return _ERROR_CLASSES.get(status, default)(message, type=error_type, status=status)


def is_too_large(response: httpx.Response) -> bool:
    """Whether the server refused a request as too large (too many groups or too many bytes)."""
    return response.status_code == 413


def read_json(response: httpx.Response) -> Any:
    """The JSON body of a successful response."""
    check(response)
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _invalid(response, f"the body is not JSON: {error}") from error


def read_record(response: httpx.Response) -> Record:
    """A JSON object body: a function or execution record."""
    value = read_json(response)
    if not isinstance(value, dict):
        raise _invalid(response, "expected a JSON object")
    return value


def read_page(response: httpx.Response) -> Page:
    """A list page: ``{"items": [...], "next": cursor or null}``."""
    body = read_record(response)
    items, cursor = body.get("items"), body.get("next")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise _invalid(response, "expected 'items' to be a list of objects")
    if cursor is not None and not isinstance(cursor, str):
        raise _invalid(response, "expected 'next' to be a string or null")
    return Page(items=items, next=cursor)


def read_execution_id(response: httpx.Response) -> str:
    """A non-blocking run's answer: the execution id as a JSON string."""
    value = read_json(response)
    if not isinstance(value, str):
        raise _invalid(response, "expected an execution id")
    return value


def read_execution_ids(response: httpx.Response, expected: int) -> list[str]:
    """A bulk run's answer: ``expected`` execution ids, in the order of the groups."""
    value = read_json(response)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _invalid(response, "expected a list of execution ids")
    if len(value) != expected:
        raise _invalid(response, f"expected {expected} execution ids, got {len(value)}")
    return value


def read_sync_run(response: httpx.Response) -> Returned | StillRunning:
    """A blocking run's answer; raises :class:`FunctionError` or :class:`ExecutionTimeout`."""
    if response.status_code == 202:
        body = read_record(response)
        if not isinstance(body.get("execution_id"), str):
            raise _invalid(response, "expected an execution id")
        return StillRunning(execution_id=body["execution_id"])
    return Returned(value=read_json(response), execution_id=response.headers.get("X-Execution-Id"))


def is_terminal(record: Record) -> bool:
    """Whether an execution has finished: completed, failed or timed out."""
    return record.get("status") in TERMINAL_STATUSES


def execution_result(record: Record) -> Any:
    """A finished execution's result; raises its :class:`ExecutionError` if it did not complete."""
    if record.get("status") == "completed":
        return record.get("result")
    raise execution_error(record)


def execution_error(record: Record) -> ExecutionError:
    """The error of a failed or timed-out execution record."""
    error = record.get("error") or {}
    timed_out = record.get("status") == "timeout"
    error_class = ExecutionTimeout if timed_out else FunctionError
    default_message = "the function timed out" if timed_out else "the function failed"
    traceback = error.get("traceback")
    return error_class(
        str(error.get("message") or default_message),
        execution_id=str(record.get("id", "")),
        type=str(error.get("type") or ""),
        traceback=None if traceback is None else str(traceback),
    )


def check_created(record: Record) -> Record:
    """The function record, unless its creation failed: then :class:`FunctionCreationFailed`."""
    if record.get("status") != "failed":
        return record
    reason = record.get("error") or "no reason given"
    message = f"function {record.get('name')!r} failed to build: {reason}"
    raise FunctionCreationFailed(message, record=record)


def _invalid(response: httpx.Response, problem: str) -> ServerError:
    try:
        where = f" to {response.request.method} {response.request.url.path}"
    except RuntimeError:  # a response built without its request
        where = ""
    return ServerError(
        f"unexpected answer{where}: {problem}",
        type="InvalidResponse",
        status=response.status_code,
    )


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The body if it is a JSON object, else an empty one (an error page from a proxy, say)."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _fallback_message(response: httpx.Response) -> str:
    text = response.text.strip()
    snippet = f": {text[:200]}" if text else ""
    return f"HTTP {response.status_code} {response.reason_phrase}{snippet}"
