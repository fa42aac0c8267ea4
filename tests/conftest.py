"""Session fixtures: real RabbitMQ, real MongoDB and a real stack of the four services."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.stackutil import RunningStack, infrastructure, running_stack

HELLO = """
def main(args, context):
    return 'Hello ' + args.get('name', 'world')
"""


@pytest.fixture(scope="session")
def infra() -> Iterator[None]:
    with tempfile.TemporaryDirectory(prefix="faaspot-infra-") as tmp, infrastructure(Path(tmp)):
        yield


@pytest.fixture(scope="session")
def stack(infra: None) -> Iterator[RunningStack]:
    with running_stack() as running:
        yield running


def client_for(stack: RunningStack, token: str | None) -> httpx.Client:
    headers = {} if token is None else {"Authorization": f"Token {token}"}
    return httpx.Client(base_url=stack.url, headers=headers, timeout=90.0)


@pytest.fixture
def api(stack: RunningStack) -> Iterator[httpx.Client]:
    """An HTTP client of the main test tenant."""
    with client_for(stack, stack.token) as client:
        yield client


@pytest.fixture
def fresh_api(stack: RunningStack) -> Iterator[httpx.Client]:
    """An HTTP client of a new tenant that owns nothing yet."""
    with client_for(stack, stack.new_token()) as client:
        yield client


@pytest.fixture
def name() -> str:
    """A function name no other test uses."""
    return "f" + uuid.uuid4().hex[:12]


Deploy = Callable[..., dict[str, Any]]


def function_body(
    name: str, code: str, context: str | None = None, **limits: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "code": quote(code.encode("utf-8"))}
    if context is not None:
        body["context"] = quote(context.encode("utf-8"))
    body.update(limits)
    return body


@pytest.fixture
def deploy(api: httpx.Client) -> Deploy:
    """Create or replace a function; fails the test unless the API accepted it."""

    def create(
        name: str, code: str = HELLO, context: str | None = None, **limits: Any
    ) -> dict[str, Any]:
        response = api.put("/v1/functions/", json=function_body(name, code, context, **limits))
        assert response.status_code in (200, 201), response.text
        record: dict[str, Any] = response.json()
        return record

    return create
