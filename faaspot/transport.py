"""The two thin transports that drive operations (:mod:`faaspot.operations`) over HTTP.

Each owns one httpx client, so connections are reused across calls, and
translates httpx's network failures into :class:`ServerUnreachable`.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from importlib import metadata
from typing import Any, TypeVar

import httpx

from faaspot.config import ClientConfig
from faaspot.errors import ServerError, ServerUnreachable
from faaspot.operations import Batch, Operation, Pause, Reply, Step
from faaspot.protocol import Request

T = TypeVar("T")

USER_AGENT = f"faaspot-client/{metadata.version('faaspot')}"
# A blocking run is held by the server up to its FAASPOT_SYNC_WAIT (60 s by default) before
# a 202; reading its answer may take this long. Still finite: a silently dropped connection
# must not hang the client forever.
LONG_POLL_READ_TIMEOUT_S = 600.0


class SyncTransport:
    """Drives operations with blocking I/O."""

    def __init__(
        self, config: ClientConfig, timeout_s: float, transport: httpx.BaseTransport | None
    ) -> None:
        self._url = config.url
        self._long_poll_timeout = long_poll_timeout(timeout_s)
        self._client = httpx.Client(transport=transport, **client_options(config, timeout_s))
        # `faaspot = Faaspot()` without close() is the documented usage: close on collection.
        self._finalizer = weakref.finalize(self, self._client.close)

    def run(self, operation: Operation[T]) -> T:
        """Drive ``operation`` to its end and return its result (or raise its error)."""
        reply: Reply = None
        while True:
            try:
                step = operation.send(reply)
            except StopIteration as stop:
                result: T = stop.value
                return result
            reply = self._perform(step)

    def close(self) -> None:
        self._finalizer()

    def _perform(self, step: Step) -> Reply:
        if isinstance(step, Pause):
            time.sleep(step.seconds)
            return None
        if isinstance(step, Batch):
            return [self._send(request) for request in step.requests]
        return self._send(step)

    def _send(self, request: Request) -> httpx.Response:
        try:
            return self._client.request(
                request.method,
                request.path,
                params=request.params,
                json=request.json,
                timeout=self._long_poll_timeout if request.long_poll else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.RequestError as error:
            raise translate_error(self._url, error) from error


class AsyncTransport:
    """Drives operations with asyncio; the requests of a batch are sent concurrently."""

    def __init__(
        self, config: ClientConfig, timeout_s: float, transport: httpx.AsyncBaseTransport | None
    ) -> None:
        self._url = config.url
        self._long_poll_timeout = long_poll_timeout(timeout_s)
        self._client = httpx.AsyncClient(transport=transport, **client_options(config, timeout_s))

    async def run(self, operation: Operation[T]) -> T:
        """Drive ``operation`` to its end and return its result (or raise its error)."""
        reply: Reply = None
        while True:
            try:
                step = operation.send(reply)
            except StopIteration as stop:
                result: T = stop.value
                return result
            reply = await self._perform(step)

    async def close(self) -> None:
        await self._client.aclose()

    async def _perform(self, step: Step) -> Reply:
        if isinstance(step, Pause):
            await asyncio.sleep(step.seconds)
            return None
        if isinstance(step, Batch):
            return await self._send_all(step.requests)
        return await self._send(step)

    async def _send_all(self, requests: tuple[Request, ...]) -> list[httpx.Response]:
        # return_exceptions lets every request end before an error is raised: none is left behind.
        outcomes = await asyncio.gather(
            *(self._send(request) for request in requests), return_exceptions=True
        )
        responses: list[httpx.Response] = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
            responses.append(outcome)
        return responses

    async def _send(self, request: Request) -> httpx.Response:
        try:
            return await self._client.request(
                request.method,
                request.path,
                params=request.params,
                json=request.json,
                timeout=self._long_poll_timeout if request.long_poll else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.RequestError as error:
            raise translate_error(self._url, error) from error


def client_options(config: ClientConfig, timeout_s: float) -> dict[str, Any]:
    """The options both httpx clients share: base URL, headers, timeout."""
    headers = {"User-Agent": USER_AGENT}
    if config.token:
        headers["Authorization"] = f"Token {config.token}"
    return {"base_url": config.url, "headers": headers, "timeout": timeout_s}


def long_poll_timeout(timeout_s: float) -> httpx.Timeout:
    """The client's timeout, with a read timeout long enough for a held request."""
    return httpx.Timeout(timeout_s, read=max(timeout_s, LONG_POLL_READ_TIMEOUT_S))


def translate_error(url: str, error: httpx.RequestError) -> ServerUnreachable | ServerError:
    """Our error for an httpx failure, saying what happened and where."""
    reason = str(error) or type(error).__name__
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
        return ServerUnreachable(f"cannot reach FaaSpot at {url}: {reason}", url=url)
    if isinstance(error, httpx.TimeoutException):
        return ServerUnreachable(f"no answer in time from FaaSpot at {url}: {reason}", url=url)
    if isinstance(error, httpx.TransportError):
        return ServerUnreachable(f"lost the connection to FaaSpot at {url}: {reason}", url=url)
    return ServerError(f"unreadable answer from FaaSpot at {url}: {reason}", type="InvalidResponse")
