"""Creating, replacing, reading, listing and deleting functions over HTTP."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from tests.conftest import HELLO, Deploy, function_body
from tests.stackutil import RunningStack


def test_create_returns_201_and_the_record_without_context_values(
    api: httpx.Client, name: str
) -> None:
    body = function_body(name, HELLO, 'access_key_is = "XYZ"\nsecret_access_key = "123"\n')
    response = api.put("/v1/functions/", json=body)
    assert response.status_code == 201
    record = response.json()
    assert record["name"] == name
    assert record["version"] == 1
    assert record["status"] == "ready"
    assert record["timeout"] == 30.0 and record["memory"] == 256
    assert record["has_context"] is True
    assert "XYZ" not in response.text and "123" not in response.text


def test_replace_returns_200_and_a_new_version(
    api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name)
    response = api.put("/v1/functions", json=function_body(name, HELLO, timeout=5, memory=64))
    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert api.get(f"/v1/functions/{name}").json()["timeout"] == 5.0


def test_get_answers_with_and_without_trailing_slash(
    api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name)
    for path in (f"/v1/functions/{name}", f"/v1/functions/{name}/"):
        response = api.get(path)
        assert response.status_code == 200
        assert response.json()["name"] == name


def test_list_is_paginated_by_name(fresh_api: httpx.Client) -> None:
    api = fresh_api
    for index in range(5):
        assert api.put("/v1/functions/", json=function_body(f"fn{index}", HELLO)).status_code == 201
    first = api.get("/v1/functions/", params={"limit": 2}).json()
    assert [f["name"] for f in first["items"]] == ["fn0", "fn1"]
    second = api.get("/v1/functions", params={"limit": 10, "after": first["next"]}).json()
    assert [f["name"] for f in second["items"]] == ["fn2", "fn3", "fn4"]
    assert second["next"] is None


def test_delete_answers_204_then_404(api: httpx.Client, deploy: Deploy, name: str) -> None:
    deploy(name)
    assert api.delete(f"/v1/functions/{name}").status_code == 204
    assert api.get(f"/v1/functions/{name}").status_code == 404
    again = api.delete(f"/v1/functions/{name}/")
    assert again.status_code == 404
    assert again.json()["error"]["type"] == "FunctionNotFound"


def test_no_new_invocation_starts_after_delete(
    api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name)
    assert api.delete(f"/v1/functions/{name}").status_code == 204
    response = api.get(f"/v1/sync/functions/{name}/rpc/")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "FunctionNotFound"


def test_context_reaches_main_as_a_dict(api: httpx.Client, deploy: Deploy, name: str) -> None:
    code = "def main(args, context):\n    return context\n"
    deploy(name, code, 'access_key_is = "XYZ"\nsecret_access_key = "123"\n')
    response = api.get(f"/v1/sync/functions/{name}/rpc/")
    assert response.json() == {"access_key_is": "XYZ", "secret_access_key": "123"}


def test_function_without_context_gets_an_empty_dict(
    api: httpx.Client, deploy: Deploy, name: str
) -> None:
    deploy(name, "def main(args, context):\n    return context\n")
    assert api.get(f"/v1/sync/functions/{name}/rpc/").json() == {}


# Bad input: a clear 4xx and nothing stored ---------------------------------------------
def _refused(api: httpx.Client, name: str, response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == kind
    assert api.get(f"/v1/functions/{name}").status_code == 404  # nothing stored
    message: str = error["message"]
    return message


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("def main(args, context):\n    return (\n", "line 2"),
        ("def handler(args, context):\n    return 1\n", "no top-level function main"),
        ("x = 1\n\n\ndef main(args):\n    return 1\n", "line 4"),
        ("def main(args, context, extra):\n    return 1\n", "exactly two positional"),
        ("def main(*args):\n    return 1\n", "exactly two positional"),
        ("async def main(args, context):\n    return 1\n", "async"),
        ("class A:\n    def main(self, args, context):\n        return 1\n", "no top-level"),
        ("def main(args, context):\n\x00    return 1\n", "cannot be parsed"),
    ],
)
def test_bad_code_is_refused_naming_the_problem(
    api: httpx.Client, name: str, code: str, fragment: str
) -> None:
    response = api.put("/v1/functions/", json=function_body(name, code))
    message = _refused(api, name, response, 400, "InvalidCode")
    assert fragment in message


def test_bad_context_is_refused_naming_the_line(api: httpx.Client, name: str) -> None:
    body = function_body(name, HELLO, 'good = "1"\nthis is not toml\n')
    message = _refused(api, name, api.put("/v1/functions/", json=body), 400, "InvalidContext")
    assert "line 2" in message


@pytest.mark.parametrize("bad", ["", "a b", "x" * 65, "semi;colon", "dot.ted", "é"])
def test_bad_names_are_refused(api: httpx.Client, bad: str) -> None:
    response = api.put("/v1/functions/", json=function_body(bad, HELLO))
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "InvalidName"


@pytest.mark.parametrize(
    "limits",
    [{"timeout": 0}, {"timeout": -1}, {"timeout": 10_000}, {"memory": 1}, {"memory": 1_000_000}],
)
def test_limits_out_of_range_are_refused(
    api: httpx.Client, name: str, limits: dict[str, int]
) -> None:
    response = api.put("/v1/functions/", json=function_body(name, HELLO, None, **limits))
    _refused(api, name, response, 400, "InvalidLimits")


def test_code_over_the_limit_is_refused(api: httpx.Client, stack: RunningStack, name: str) -> None:
    code = HELLO + "#" * stack.settings.code_max
    response = api.put("/v1/functions/", json=function_body(name, code))
    _refused(api, name, response, 413, "PayloadTooLarge")


def test_body_over_the_limit_is_refused(api: httpx.Client, stack: RunningStack) -> None:
    response = api.put("/v1/functions/", content=b" " * (stack.settings.body_max + 1))
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "PayloadTooLarge"


def test_bad_percent_encoding_is_refused(api: httpx.Client, name: str) -> None:
    body = {"name": name, "code": "def%20main(args, context):%ZZ"}
    message = _refused(api, name, api.put("/v1/functions/", json=body), 400, "InvalidEncoding")
    assert "%ZZ" in message


def test_bytes_that_are_not_utf8_are_refused(api: httpx.Client, name: str) -> None:
    body = {"name": name, "code": quote(HELLO.encode()) + "%FF%FE"}
    message = _refused(api, name, api.put("/v1/functions/", json=body), 400, "InvalidEncoding")
    assert "UTF-8" in message


def test_raw_non_utf8_body_is_refused(api: httpx.Client) -> None:
    response = api.put("/v1/functions/", content=b'{"name": "x\xff", "code": "a"}')
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "InvalidRequest"


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[]",
        b'"text"',
        b'{"name": "x"}',
        b'{"name": 1, "code": "c"}',
        b'{"name": "x", "code": "c", "unknown": 1}',
        b'{"name": "x", "code": "c", "timeout": "5"}',
    ],
)
def test_malformed_or_mistyped_bodies_are_refused(api: httpx.Client, content: bytes) -> None:
    response = api.put("/v1/functions/", content=content)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "InvalidRequest"
