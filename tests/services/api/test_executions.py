"""Reading and listing execution records."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import HELLO, function_body
from tests.services.api.test_runs import FAILING, wait_terminal


def test_listing_is_newest_first_with_cursor_pagination(fresh_api: httpx.Client) -> None:
    api = fresh_api
    assert api.put("/v1/functions/", json=function_body("hello", HELLO)).status_code == 201
    assert api.put("/v1/functions/", json=function_body("broken", FAILING)).status_code == 201
    ids = api.post(
        "/v1/functions/hello/bulk_rpc/", json=[{"name": str(i)} for i in range(5)]
    ).json()
    failed = api.get("/v1/functions/broken/rpc/").json()
    for execution_id in [*ids, failed]:
        wait_terminal(api, execution_id)

    everything = api.get("/v1/executions/").json()["items"]
    assert [item["id"] for item in everything] == [failed, *reversed(ids)]
    first = api.get("/v1/executions", params={"function": "hello", "limit": 3}).json()
    assert [item["id"] for item in first["items"]] == list(reversed(ids))[:3]
    rest = api.get("/v1/executions/", params={"function": "hello", "after": first["next"]}).json()
    assert [item["id"] for item in rest["items"]] == list(reversed(ids))[3:]
    assert rest["next"] is None
    only_failed = api.get("/v1/executions/", params={"status": "failed"}).json()["items"]
    assert [item["id"] for item in only_failed] == [failed]
    assert only_failed[0]["error"]["type"] == "ValueError"
    assert "result" not in only_failed[0] and "logs" not in only_failed[0]


@pytest.mark.parametrize("bad", ["not-an-id", "123", "01a218fb-6a97-7000-ab64", "x" * 500])
def test_an_execution_id_that_is_not_an_id_is_400(api: httpx.Client, bad: str) -> None:
    response = api.get(f"/v1/executions/{bad}")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "InvalidExecutionId"


def test_an_unknown_execution_is_404(api: httpx.Client) -> None:
    response = api.get("/v1/executions/01a218fb-6a97-7000-ab64-8ea5c12f86b5")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "ExecutionNotFound"


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "x"},
        {"status": "done"},
        {"after": "nope"},
        {"function": "a.b"},
    ],
)
def test_bad_listing_queries_are_400(api: httpx.Client, query: dict[str, str]) -> None:
    response = api.get("/v1/executions/", params=query)
    assert response.status_code == 400
    assert response.json()["error"]["type"] in (
        "InvalidRequest",
        "InvalidExecutionId",
        "InvalidName",
    )
