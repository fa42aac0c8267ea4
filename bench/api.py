"""The few HTTP calls the workloads make, checked: any unexpected answer is a BenchError."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from bench.errors import BenchError

FUNCTION = "hello"
# The trivial function, the same work as the Celery peer's `hello` task.
HELLO = "def main(args, context):\n    return 'Hello ' + args['name']\n"
HTTP_TIMEOUT_S = 300.0  # a 10 000-group bulk request can take a while to be accepted


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def client(url: str, token: str) -> httpx.Client:
    """One persistent connection (keep-alive), as a real client would hold."""
    return httpx.Client(base_url=url, headers=headers(token), timeout=HTTP_TIMEOUT_S)


def async_client(url: str, token: str, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(
        base_url=url,
        headers=headers(token),
        timeout=HTTP_TIMEOUT_S,
        limits=limits,
        verify=False,  # plain http; skips loading the CA bundle (~0.1 s of CPU) per client
    )


def deploy(http: httpx.Client, name: str = FUNCTION, code: str = HELLO) -> None:
    body = {"name": name, "code": quote(code.encode("utf-8"))}
    _expect(http.put("/v1/functions/", json=body), 200, 201)


def sync_hello(http: httpx.Client, arg: str, name: str = FUNCTION) -> None:
    """One blocking call; its answer must be the function's return value."""
    response = http.get(f"/v1/sync/functions/{name}/rpc/", params={"name": arg})
    _expect(response, 200)
    if response.json() != f"Hello {arg}":
        raise BenchError(f"sync call answered {response.text[:200]!r}")


def bulk_rpc(http: httpx.Client, groups: list[dict[str, Any]], name: str = FUNCTION) -> int:
    """One bulk request; returns the number of execution ids it answered."""
    response = http.post(f"/v1/functions/{name}/bulk_rpc/", json=groups)
    _expect(response, 200, 202)
    ids = response.json()
    if not isinstance(ids, list) or len(ids) != len(groups):
        raise BenchError(f"bulk_rpc answered {response.text[:200]!r}")
    return len(ids)


async def rpc_hello(http: httpx.AsyncClient, arg: str, name: str = FUNCTION) -> None:
    """One non-blocking call; its answer must be an execution id."""
    response = await http.post(f"/v1/functions/{name}/rpc/", json={"name": arg})
    _expect(response, 200, 202)
    if not isinstance(response.json(), str):
        raise BenchError(f"rpc answered {response.text[:200]!r}")


def _expect(response: httpx.Response, *statuses: int) -> None:
    if response.status_code not in statuses:
        raise BenchError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
