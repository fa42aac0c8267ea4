"""Building requests and reading responses, without a server."""

from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from faaspot import protocol
from faaspot.errors import (
    AuthenticationError,
    ExecutionTimeout,
    FaaspotError,
    FunctionCreationFailed,
    FunctionError,
    NotFoundError,
    ServerError,
    ValidationError,
)
from faaspot.protocol import Page, Returned, StillRunning


def response(
    status: int, body: Any = None, *, text: str | None = None, **headers: str
) -> httpx.Response:
    request = httpx.Request("GET", "http://faaspot.test/v1/x")
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


def error_body(type_: str, message: str) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message}}


# Requests


def test_code_is_percent_encoded_utf8() -> None:
    text = "def main(args, context):\n    return 'héllo & 100%'\n"
    encoded = protocol.encode_text(text)
    assert "\n" not in encoded and " " not in encoded and "é" not in encoded
    assert unquote(encoded, encoding="utf-8") == text


def test_put_function_sends_only_given_fields() -> None:
    request = protocol.put_function("hello", "code", None, None, None)
    assert (request.method, request.path) == ("PUT", "/v1/functions/")
    assert request.json == {"name": "hello", "code": "code"}


def test_put_function_with_context_and_limits() -> None:
    request = protocol.put_function("hello", "c", "k = 'v'", 2.5, 128)
    assert request.json == {
        "name": "hello",
        "code": "c",
        "context": protocol.encode_text("k = 'v'"),
        "timeout": 2.5,
        "memory": 128,
    }


def test_run_requests() -> None:
    assert protocol.run_function("hello", {"a": "1"}) == protocol.Request(
        "POST", "/v1/functions/hello/rpc/", json={"a": "1"}
    )
    sync = protocol.run_function_sync("hello", {})
    assert (sync.method, sync.path, sync.json) == ("POST", "/v1/sync/functions/hello/rpc/", {})
    bulk = protocol.run_bulk("hello", [{"k1": "v1"}, {"k2": "v2"}])
    assert (bulk.path, bulk.json) == ("/v1/functions/hello/bulk_rpc/", [{"k1": "v1"}, {"k2": "v2"}])


def test_list_executions_sends_only_given_filters() -> None:
    request = protocol.list_executions(None, "failed", 10, "cursor-1")
    assert request.params == {"limit": 10, "after": "cursor-1", "status": "failed"}


def test_execution_id_is_quoted_in_the_path() -> None:
    assert protocol.get_execution("a/b").path == "/v1/executions/a%2Fb"


@pytest.mark.parametrize("name", ["", "a/b", "../x", "x" * 65, "héllo"])
def test_invalid_function_name_is_refused_before_sending(name: str) -> None:
    with pytest.raises(ValidationError, match="invalid function name") as caught:
        protocol.get_function(name)
    assert caught.value.type == "InvalidName"


# Errors


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, ValidationError),
        (401, AuthenticationError),
        (404, NotFoundError),
        (413, ValidationError),
        (503, ServerError),
        (500, ServerError),
    ],
)
def test_error_statuses_map_to_error_classes(status: int, error_class: type[FaaspotError]) -> None:
    error = protocol.error_from_response(response(status, error_body("Some", "said the server")))
    assert type(error) is error_class
    assert (error.type, error.message, error.status) == ("Some", "said the server", status)


def test_unexpected_status_is_a_plain_faaspot_error() -> None:
    error = protocol.error_from_response(response(405, error_body("MethodNotAllowed", "no")))
    assert type(error) is FaaspotError
    assert error.type == "MethodNotAllowed"


def test_error_without_json_body_describes_the_status() -> None:
    error = protocol.error_from_response(response(502, text="<html>Bad Gateway</html>"))
    assert type(error) is ServerError
    assert error.type == "HTTP502"
    assert error.message == "HTTP 502 Bad Gateway: <html>Bad Gateway</html>"


def test_function_raised_in_a_blocking_run() -> None:
    body = {
        "error": {"type": "ValueError", "message": "boom", "traceback": "Traceback ...\n"},
        "execution_id": "e1",
    }
    error = protocol.error_from_response(response(502, body))
    assert isinstance(error, FunctionError)
    assert (error.execution_id, error.type, error.message) == ("e1", "ValueError", "boom")
    assert (error.traceback, error.status) == ("Traceback ...\n", 502)


def test_function_timed_out_in_a_blocking_run() -> None:
    body = {
        "error": {"type": "Timeout", "message": "after 1 s", "traceback": None},
        "execution_id": "e2",
    }
    error = protocol.error_from_response(response(504, body))
    assert isinstance(error, ExecutionTimeout)
    assert (error.execution_id, error.message, error.traceback) == ("e2", "after 1 s", None)


def test_check_passes_success_and_raises_errors() -> None:
    protocol.check(response(204))
    with pytest.raises(NotFoundError, match="no such function"):
        protocol.check(response(404, error_body("FunctionNotFound", "no such function")))


# Bodies


def test_read_record() -> None:
    assert protocol.read_record(response(200, {"name": "hello"})) == {"name": "hello"}


def test_read_record_refuses_other_json() -> None:
    with pytest.raises(ServerError, match="expected a JSON object") as caught:
        protocol.read_record(response(200, ["x"]))
    assert caught.value.type == "InvalidResponse"


def test_read_json_refuses_a_body_that_is_not_json() -> None:
    with pytest.raises(ServerError, match="not JSON"):
        protocol.read_json(response(200, text="<html>"))


def test_read_page() -> None:
    page = protocol.read_page(response(200, {"items": [{"id": "1"}], "next": "c"}))
    assert page == Page(items=[{"id": "1"}], next="c")


def test_read_page_refuses_a_malformed_page() -> None:
    with pytest.raises(ServerError, match="'items'"):
        protocol.read_page(response(200, {"items": "x", "next": None}))


def test_read_execution_id() -> None:
    assert protocol.read_execution_id(response(202, "abc")) == "abc"
    with pytest.raises(ServerError):
        protocol.read_execution_id(response(202, {"id": "abc"}))


def test_read_execution_ids_checks_the_count() -> None:
    assert protocol.read_execution_ids(response(202, ["a", "b"]), 2) == ["a", "b"]
    with pytest.raises(ServerError, match="expected 3 execution ids, got 2"):
        protocol.read_execution_ids(response(202, ["a", "b"]), 3)


def test_read_sync_run_returns_the_value() -> None:
    answer = protocol.read_sync_run(response(200, {"n": 1}, **{"X-Execution-Id": "e1"}))
    assert answer == Returned(value={"n": 1}, execution_id="e1")


def test_read_sync_run_when_still_running() -> None:
    assert protocol.read_sync_run(response(202, {"execution_id": "e1"})) == StillRunning("e1")


def test_read_sync_run_raises_function_errors() -> None:
    body = {"error": {"type": "KeyError", "message": "'x'"}, "execution_id": "e1"}
    with pytest.raises(FunctionError, match="'x'"):
        protocol.read_sync_run(response(502, body))


# Records


def execution(status: str, **fields: Any) -> dict[str, Any]:
    return {"id": "e1", "status": status, "result": None, "error": None, **fields}


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        ("pending", False),
        ("running", False),
        ("completed", True),
        ("failed", True),
        ("timeout", True),
    ],
)
def test_is_terminal(status: str, terminal: bool) -> None:
    assert protocol.is_terminal(execution(status)) is terminal


def test_execution_result_of_a_completed_execution() -> None:
    assert protocol.execution_result(execution("completed", result=[1, 2])) == [1, 2]


def test_execution_result_of_a_failed_execution_raises() -> None:
    error = {"type": "ValueError", "message": "bad", "traceback": "tb"}
    with pytest.raises(FunctionError) as caught:
        protocol.execution_result(execution("failed", error=error))
    assert (caught.value.execution_id, caught.value.type, caught.value.traceback) == (
        "e1",
        "ValueError",
        "tb",
    )
    assert caught.value.status is None


def test_execution_result_of_a_timed_out_execution_raises() -> None:
    with pytest.raises(ExecutionTimeout, match="the function timed out"):
        protocol.execution_result(execution("timeout"))


def test_check_created() -> None:
    assert protocol.check_created({"name": "f", "status": "ready"}) == {
        "name": "f",
        "status": "ready",
    }
    record = {"name": "f", "status": "failed", "error": "SyntaxError: invalid syntax"}
    with pytest.raises(FunctionCreationFailed, match="'f' failed to build: SyntaxError") as caught:
        protocol.check_created(record)
    assert caught.value.record == record
