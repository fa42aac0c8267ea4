"""The clients' wiring, over httpx's mock transport: headers, files, errors, concurrency."""

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from faaspot import AsyncFaaspot, Faaspot
from faaspot.errors import (
    AuthenticationError,
    FunctionError,
    ServerError,
    ServerUnreachable,
)
from faaspot.operations import WAIT_BATCH_SIZE

URL = "http://faaspot.test:8080"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's config file and environment out of these tests."""
    monkeypatch.setenv("FAASPOT_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.delenv("FAASPOT_URL", raising=False)
    monkeypatch.delenv("FAASPOT_TOKEN", raising=False)


def client(handler: Handler, token: str | None = "tok") -> Faaspot:
    return Faaspot(URL, token, transport=httpx.MockTransport(handler))


def json_response(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_requests_carry_the_token_and_go_to_the_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response(200, {"name": "hello", "status": "ready"})

    with client(handler) as faaspot:
        assert faaspot.functions.get("hello") == {"name": "hello", "status": "ready"}
    assert str(seen[0].url) == f"{URL}/v1/functions/hello"
    assert seen[0].headers["Authorization"] == "Token tok"
    assert seen[0].headers["User-Agent"].startswith("faaspot-client/")


def test_blocking_runs_get_a_long_read_timeout() -> None:
    read_timeouts: dict[str, float] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        read_timeouts[request.url.path] = request.extensions["timeout"]["read"]
        if request.url.path.startswith("/v1/sync/"):
            return json_response(200, "done")
        return json_response(202, "e1")

    with Faaspot(URL, "tok", timeout=5, transport=httpx.MockTransport(handler)) as faaspot:
        faaspot.functions.run("f", wait=True)
        faaspot.functions.run("f")
    # The server holds a blocking run up to its FAASPOT_SYNC_WAIT (60 s by default).
    assert read_timeouts == {"/v1/sync/functions/f/rpc/": 600.0, "/v1/functions/f/rpc/": 5.0}


def test_no_token_sends_no_authorization_and_a_401_is_an_authentication_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "Authorization" not in request.headers
        return json_response(401, {"error": {"type": "Unauthorized", "message": "missing token"}})

    with client(handler, token=None) as faaspot, pytest.raises(AuthenticationError) as caught:
        faaspot.functions.list()
    assert (caught.value.status, caught.value.type, caught.value.message) == (
        401,
        "Unauthorized",
        "missing token",
    )


def test_url_and_token_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAASPOT_URL", "http://env.test:1/")
    monkeypatch.setenv("FAASPOT_TOKEN", "env-token")
    faaspot = Faaspot()
    assert (faaspot.config.url, faaspot.config.token) == ("http://env.test:1", "env-token")
    assert repr(faaspot) == "Faaspot(url='http://env.test:1')"
    faaspot.close()


def test_create_reads_the_files_and_encodes_them(tmp_path: Path) -> None:
    code_file = tmp_path / "hello.py"
    code_file.write_text("def main(args, context):\n    return 'héllo'\n", encoding="utf-8")
    context_file = tmp_path / "context"
    context_file.write_text('secret = "123"\n', encoding="utf-8")
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return json_response(201, {"name": "hello", "version": 1, "status": "ready"})

    with client(handler) as faaspot:
        record = faaspot.functions.create("hello", file=code_file, context_file=str(context_file))
    assert record["version"] == 1
    assert unquote(bodies[0]["code"]) == code_file.read_text(encoding="utf-8")
    assert unquote(bodies[0]["context"]) == 'secret = "123"\n'
    assert "timeout" not in bodies[0] and "memory" not in bodies[0]


def test_create_needs_code_from_exactly_one_place(tmp_path: Path) -> None:
    with client(lambda request: json_response(500, {})) as faaspot:
        with pytest.raises(ValueError, match="code is missing"):
            faaspot.functions.create("f")
        with pytest.raises(ValueError, match="not both"):
            faaspot.functions.create("f", file=tmp_path / "x.py", code="x")


def test_executions_is_also_callable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(200, {"id": "e1", "status": "completed"})

    with client(handler) as faaspot:
        assert faaspot.executions() is faaspot.executions
        assert faaspot.executions().get("e1")["status"] == "completed"


def test_run_and_wait_raises_the_function_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/sync/functions/f/rpc/"
        assert json.loads(request.content) == {"k": "v"}
        error = {"type": "ValueError", "message": "bad k", "traceback": "Traceback..."}
        return json_response(502, {"error": error, "execution_id": "e9"})

    with client(handler) as faaspot, pytest.raises(FunctionError) as caught:
        faaspot.functions.run("f", {"k": "v"}, wait=True)
    assert (caught.value.execution_id, caught.value.type, caught.value.message) == (
        "e9",
        "ValueError",
        "bad k",
    )


def test_refused_connection_is_server_unreachable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with client(handler) as faaspot, pytest.raises(ServerUnreachable) as caught:
        faaspot.functions.run("f")
    assert str(caught.value) == f"cannot reach FaaSpot at {URL}: [Errno 111] Connection refused"
    assert isinstance(caught.value, ConnectionError)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_read_timeout_is_server_unreachable_saying_so() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with client(handler) as faaspot, pytest.raises(ServerUnreachable, match="no answer in time"):
        faaspot.functions.get("f")


def test_undecodable_body_is_a_server_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.DecodingError("bad gzip", request=request)

    with client(handler) as faaspot, pytest.raises(ServerError, match="unreadable answer"):
        faaspot.functions.get("f")


# The async client


def async_client(handler: Callable[[httpx.Request], Any]) -> AsyncFaaspot:
    return AsyncFaaspot(URL, "tok", transport=httpx.MockTransport(handler))


async def test_async_client_runs_the_same_calls() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/functions/f/bulk_rpc/":
            return json_response(202, ["e1", "e2"])
        return json_response(200, "Hello world", **{"X-Execution-Id": "e3"})

    async with async_client(handler) as faaspot:
        assert await faaspot.functions.run_bulk("f", [{}, {}]) == ["e1", "e2"]
        assert await faaspot.functions.run("f", wait=True) == "Hello world"


async def test_async_wait_fetches_a_batch_concurrently() -> None:
    in_flight = 0
    most_in_flight = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        execution_id = request.url.path.rsplit("/", 1)[-1]
        return json_response(200, {"id": execution_id, "status": "completed", "result": 1})

    ids = [f"e{i}" for i in range(200)]
    async with async_client(handler) as faaspot:
        records = await faaspot.executions().wait(ids)
    assert [record["id"] for record in records] == ids
    assert most_in_flight == WAIT_BATCH_SIZE


async def test_async_batch_raises_the_first_error_after_every_request_ended() -> None:
    ended: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        execution_id = request.url.path.rsplit("/", 1)[-1]
        if execution_id == "bad":
            raise httpx.ConnectError("refused", request=request)
        await asyncio.sleep(0.01)
        ended.append(execution_id)
        return json_response(200, {"id": execution_id, "status": "completed"})

    async with async_client(handler) as faaspot:
        with pytest.raises(ServerUnreachable, match="refused"):
            await faaspot.executions.wait(["a", "bad", "c"])
    assert sorted(ended) == ["a", "c"]
