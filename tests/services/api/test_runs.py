"""Blocking, non-blocking and bulk runs: the seed's HTTP examples and their error paths."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.stack import free_port
from tests.conftest import Deploy, client_for
from tests.stackutil import RunningStack

FAILING = """
def main(args, context):
    raise ValueError('bad input: ' + args.get('x', ''))
"""
SLEEPY = """
import time

def main(args, context):
    time.sleep(float(args.get('s', '1')))
    return 'slept'
"""
ECHO = "def main(args, context):\n    return args\n"


def wait_terminal(api: httpx.Client, execution_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record: dict[str, Any] = api.get(f"/v1/executions/{execution_id}").json()
        if record["status"] in ("completed", "failed", "timeout"):
            return record
        time.sleep(0.05)
    raise AssertionError(f"execution {execution_id} did not end within {timeout_s} s")


# blocking ------------------------------------------------------------------------------
def test_sync_get_returns_the_value_and_the_execution_id(
    api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name)
    response = api.get(f"/v1/sync/functions/{name}/rpc/?name=user1")
    assert response.status_code == 200
    assert response.json() == "Hello user1"
    record = api.get(f"/v1/executions/{response.headers['X-Execution-Id']}").json()
    assert record["function"] == name
    assert record["parameters"] == {"name": "user1"}


def test_sync_post_takes_a_json_object(api: httpx.Client, deploy: Deploy, name: str) -> None:
    deploy(name, ECHO)
    params = {"PARAMETER_1": "VALUE_1", "n": [1, 2.5, None, {"deep": True}]}
    response = api.post(f"/v1/sync/functions/{name}/rpc", json=params)
    assert response.status_code == 200
    assert response.json() == params


def test_sync_failure_is_502_with_the_traceback(
    api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name, FAILING)
    response = api.get(f"/v1/sync/functions/{name}/rpc/", params={"x": "42"})
    assert response.status_code == 502
    body = response.json()
    assert body["error"]["type"] == "ValueError"
    assert body["error"]["message"] == "bad input: 42"
    assert "line 3, in main" in body["error"]["traceback"]
    assert api.get(f"/v1/executions/{body['execution_id']}").json()["status"] in (
        "failed",
        "pending",
        "running",
    )
    assert wait_terminal(api, body["execution_id"])["status"] == "failed"


def test_sync_past_the_time_limit_is_504(api: httpx.Client, deploy: Deploy, name: str) -> None:
    deploy(name, SLEEPY, timeout=1)
    response = api.get(f"/v1/sync/functions/{name}/rpc/", params={"s": "5"})
    assert response.status_code == 504
    body = response.json()
    assert body["error"]["type"] == "ExecutionTimedOut"
    assert wait_terminal(api, body["execution_id"])["status"] == "timeout"


@pytest.fixture(scope="module")
def impatient_api(stack: RunningStack) -> Iterator[httpx.Client]:
    """A second API process whose blocking calls wait only half a second."""
    port = free_port()
    process = stack.start("api", port=str(port), sync_wait="0.5")
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Token {stack.token}"},
            timeout=30,
        ) as client:
            wait_listening(client)
            yield client
    finally:
        stack.stop(process)


def wait_listening(client: httpx.Client) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the second API did not become healthy")


def test_sync_still_running_after_the_wait_answers_202(
    impatient_api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name, SLEEPY)
    response = impatient_api.get(f"/v1/sync/functions/{name}/rpc/", params={"s": "2"})
    assert response.status_code == 202
    execution_id = response.json()["execution_id"]
    record = impatient_api.get(f"/v1/executions/{execution_id}")
    assert record.status_code == 200  # readable at once
    assert record.json()["status"] in ("pending", "running")
    assert wait_terminal(impatient_api, execution_id)["result"] == "slept"


# non-blocking --------------------------------------------------------------------------
def test_async_get_returns_the_id_as_a_json_string_readable_at_once(
    api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name)
    response = api.get(f"/v1/functions/{name}/rpc/?PARAMETER=VALUE")
    assert response.status_code == 202
    assert response.text.startswith('"') and response.text.endswith('"')
    execution_id = response.json()
    assert api.get(f"/v1/executions/{execution_id}").json()["status"] in (
        "pending",
        "running",
        "completed",
    )
    record = wait_terminal(api, execution_id)
    assert record["status"] == "completed"
    assert record["result"] == "Hello world"
    assert record["parameters"] == {"PARAMETER": "VALUE"}
    assert record["attempts"] == 1
    assert record["function_version"] == 1
    for key in ("created_at", "started_at", "finished_at"):
        assert record[key].endswith("Z")
    assert record["duration_ms"] > 0


def test_async_post_takes_the_parameters_in_the_body(
    api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name, ECHO)
    params = {"PARAMETER_1": "VALUE_1", "PARAMETER_2": "VALUE_2"}
    execution_id = api.post(f"/v1/functions/{name}/rpc/", json=params).json()
    assert wait_terminal(api, execution_id)["result"] == params


def test_logs_are_captured(api: httpx.Client, deploy: Deploy, name: str) -> None:
    code = (
        "import sys\n\ndef main(args, context):\n"
        "    print('to out')\n    print('to err', file=sys.stderr)\n    return 1\n"
    )
    deploy(name, code)
    execution_id = api.get(f"/v1/functions/{name}/rpc").json()
    logs = wait_terminal(api, execution_id)["logs"]
    assert "to out" in logs and "to err" in logs


# bulk ----------------------------------------------------------------------------------
def test_bulk_returns_ids_in_order_one_execution_per_group(
    api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name, ECHO)
    groups = [{"k1": "v1", "k2": "v2"}, {"k3": "v3", "k4": "v4"}, {}]
    response = api.post(f"/v1/functions/{name}/bulk_rpc/", json=groups)
    assert response.status_code == 202
    ids = response.json()
    assert len(ids) == 3 and len(set(ids)) == 3
    assert [wait_terminal(api, i)["result"] for i in ids] == groups


def test_bulk_over_the_limit_is_413_saying_the_limit(
    api: httpx.Client, stack: RunningStack, deploy: Deploy, name: str
) -> None:
    deploy(name)
    limit = stack.settings.bulk_max
    response = api.post(f"/v1/functions/{name}/bulk_rpc/", json=[{}] * (limit + 1))
    assert response.status_code == 413
    assert str(limit) in response.json()["error"]["message"]
    assert api.get("/v1/executions/", params={"function": name}).json()["items"] == []


@pytest.mark.parametrize(
    "content",
    [b"[]", b'{"k": "v"}', b'[{"a": 1}, 2]', b'[{"a": 1}, ["x"]]', b"[{", b'"x"', b"", b"[null]"],
)
def test_bad_bulk_bodies_are_refused_and_nothing_runs(
    api: httpx.Client, deploy: Deploy, name: str, content: bytes
) -> None:
    deploy(name)
    response = api.post(f"/v1/functions/{name}/bulk_rpc/", content=content)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "InvalidRequest"
    assert api.get("/v1/executions/", params={"function": name}).json()["items"] == []


@pytest.mark.parametrize("content", [b"[1, 2]", b'"text"', b"{broken", b"\xff\xfe"])
def test_bad_run_bodies_are_refused(
    api: httpx.Client, deploy: Deploy, name: str, content: bytes
) -> None:
    deploy(name)
    for path in (f"/v1/functions/{name}/rpc/", f"/v1/sync/functions/{name}/rpc/"):
        response = api.post(path, content=content)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["type"] == "InvalidRequest"
    assert api.get("/v1/executions/", params={"function": name}).json()["items"] == []


def test_parameters_over_the_limit_are_413(
    api: httpx.Client, stack: RunningStack, deploy: Deploy, name: str
) -> None:
    deploy(name)
    big = json.dumps({"x": "a" * stack.settings.params_max}).encode()
    response = api.post(f"/v1/functions/{name}/rpc/", content=big)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "path", ["/v1/functions/{}/rpc/", "/v1/sync/functions/{}/rpc/", "/v1/functions/{}/bulk_rpc/"]
)
def test_unknown_function_is_404(api: httpx.Client, path: str) -> None:
    response = api.post(path.format("does-not-exist"), json=[{}] if "bulk" in path else {})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "FunctionNotFound"


def test_bad_function_name_in_the_path_is_400(api: httpx.Client) -> None:
    response = api.get("/v1/functions/bad.name/rpc/")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "InvalidName"


def test_unknown_path_and_method_answer_json_errors(api: httpx.Client) -> None:
    missing = api.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "NotFound"
    wrong = api.delete("/v1/executions/")
    assert wrong.status_code == 405 and wrong.json()["error"]["type"] == "MethodNotAllowed"


def test_replacing_a_function_keeps_queued_executions_on_their_version(
    stack: RunningStack, api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name, "def main(args, context):\n    return 'v1'\n")
    executors = stack.services("executor")
    for process in executors:
        stack.stop(process)
    try:
        queued = api.get(f"/v1/functions/{name}/rpc/").json()
        deploy(name, "def main(args, context):\n    return 'v2'\n")
        assert api.get(f"/v1/executions/{queued}").json()["status"] == "pending"
    finally:
        for _ in executors:
            stack.start("executor")
    record = wait_terminal(api, queued)
    assert (record["result"], record["function_version"]) == ("v1", 1)
    assert api.get(f"/v1/sync/functions/{name}/rpc/").json() == "v2"


def test_a_second_tenant_token_cannot_run_the_first_ones_function(
    stack: RunningStack, deploy: Deploy, name: str
) -> None:
    deploy(name)
    with client_for(stack, stack.new_token()) as other:
        response = other.get(f"/v1/sync/functions/{name}/rpc/")
    assert response.status_code == 404
