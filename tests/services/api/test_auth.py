"""Tokens and tenant isolation (guarantee 5): another tenant's object answers 404."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Deploy, client_for
from tests.services.api.test_runs import wait_terminal
from tests.stackutil import RunningStack


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Token"},
        {"Authorization": "Token nope"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer fsp_unknown"},
    ],
)
def test_missing_or_unknown_token_is_401(stack: RunningStack, headers: dict[str, str]) -> None:
    response = httpx.get(f"{stack.url}/v1/functions/", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "Unauthorized"


def test_bearer_works_like_token(stack: RunningStack) -> None:
    response = httpx.get(
        f"{stack.url}/v1/functions/", headers={"Authorization": f"Bearer {stack.token}"}
    )
    assert response.status_code == 200


def test_another_tenants_function_and_execution_answer_404(
    stack: RunningStack, api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name)
    execution_id = api.get(f"/v1/functions/{name}/rpc/").json()
    wait_terminal(api, execution_id)
    with client_for(stack, stack.new_token()) as other:
        assert other.get(f"/v1/functions/{name}").status_code == 404
        assert other.delete(f"/v1/functions/{name}").status_code == 404
        assert other.get(f"/v1/functions/{name}/rpc/").status_code == 404
        assert other.get(f"/v1/executions/{execution_id}").status_code == 404
        assert other.get("/v1/executions/").json()["items"] == []
        assert other.get("/v1/functions/").json()["items"] == []
    assert api.get(f"/v1/functions/{name}").status_code == 200  # untouched


def test_two_tenants_may_use_the_same_name(stack: RunningStack, deploy: Deploy, name: str) -> None:
    deploy(name, "def main(args, context):\n    return 'first'\n")
    with client_for(stack, stack.new_token()) as other:
        from tests.conftest import function_body

        body = function_body(name, "def main(args, context):\n    return 'second'\n")
        assert other.put("/v1/functions/", json=body).status_code == 201
        assert other.get(f"/v1/sync/functions/{name}/rpc/").json() == "second"
    with client_for(stack, stack.token) as api:
        assert api.get(f"/v1/sync/functions/{name}/rpc/").json() == "first"
