"""The Starlette application: routes, lifespan, and the one place errors become responses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from services.api.platform import Platform
from services.api.routes import ROUTES, json_response
from shared import service
from shared.errors import FaaspotError
from shared.settings import Settings

logger = logging.getLogger(__name__)

HTTP_ERROR_TYPES = {404: "NotFound", 405: "MethodNotAllowed"}


def error_body(error_type: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"type": error_type, "message": message}}


async def on_faaspot_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FaaspotError)
    if exc.status >= 500:
        logger.error("%s %s: %s: %s", request.method, request.url.path, exc.type, exc.message)
    return json_response(error_body(exc.type, exc.message), exc.status)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error_type = HTTP_ERROR_TYPES.get(exc.status_code, "HTTPError")
    return json_response(error_body(error_type, str(exc.detail)), exc.status_code, exc.headers)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("%s %s failed", request.method, request.url.path)
    return json_response(error_body("InternalError", "internal error"), 500)


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        platform = Platform(settings)
        await platform.open()
        app.state.platform = platform
        try:
            yield
        finally:
            await platform.close()

    return Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        exception_handlers={
            FaaspotError: on_faaspot_error,
            HTTPException: on_http_error,
            Exception: on_unexpected,
        },
    )


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The service runner owns SIGINT and SIGTERM; they set ``stopping``.
        yield


async def serve(settings: Settings, stopping: asyncio.Event) -> None:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="none",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = _Server(config)
    server_task = asyncio.create_task(server.serve())
    stopping_task = asyncio.create_task(stopping.wait())
    await asyncio.wait({server_task, stopping_task}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await server_task
    stopping_task.cancel()


def main() -> None:
    service.run(serve)
