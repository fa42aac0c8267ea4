"""The HTTP endpoints of the seed's contract. Errors are raised, and answered in app.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.api import inputs, render
from services.api.platform import Platform
from shared import calls
from shared.errors import PayloadTooLarge, Unauthorized
from shared.messages import ExecutionUpdate
from shared.validation import check_name

_encoder = msgspec.json.Encoder()
AUTH_SCHEMES = ("token", "bearer")


def json_response(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(_encoder.encode(content), status_code, headers, "application/json")


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def tenant_of(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() not in AUTH_SCHEMES or not token.strip():
        raise Unauthorized("missing token: send 'Authorization: Token YOUR_TOKEN'")
    return await platform_of(request).tenant_of(token.strip())


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


# functions -----------------------------------------------------------------------------
async def put_function(request: Request) -> Response:
    platform = platform_of(request)
    tenant = await tenant_of(request)
    body = inputs.parse_function_body(await read_body(request, platform.settings.body_max))
    check_name(body.name)
    params = calls.PutFunction(
        tenant=tenant,
        name=body.name,
        code=inputs.percent_decode(body.code, "code"),
        context=None if body.context is None else inputs.percent_decode(body.context, "context"),
        timeout_s=body.timeout,
        memory_mb=body.memory,
    )
    result = await platform.rpc.call(calls.REGISTRY, "functions.put", params, calls.PutResult)
    platform.forget_function(tenant, body.name)
    return json_response(render.function_view(result.function), 201 if result.created else 200)


async def list_functions(request: Request) -> Response:
    platform = platform_of(request)
    query = calls.ListPage(
        tenant=await tenant_of(request),
        limit=inputs.list_limit(request.query_params.get("limit")),
        after=request.query_params.get("after"),
    )
    page = await platform.rpc.call(calls.REGISTRY, "functions.list", query, calls.FunctionPage)
    items = [render.function_view(info) for info in page.items]
    return json_response(render.Page(items=items, next=page.next))


async def get_function(request: Request) -> Response:
    tenant = await tenant_of(request)
    name = check_name(request.path_params["name"])
    ref = calls.FunctionRef(tenant=tenant, name=name)
    info = await platform_of(request).rpc.call(
        calls.REGISTRY, "functions.get", ref, calls.FunctionInfo
    )
    return json_response(render.function_view(info))


async def delete_function(request: Request) -> Response:
    platform = platform_of(request)
    tenant = await tenant_of(request)
    name = check_name(request.path_params["name"])
    ref = calls.FunctionRef(tenant=tenant, name=name)
    await platform.rpc.call(calls.REGISTRY, "functions.delete", ref, type(None))
    platform.forget_function(tenant, name)
    return Response(status_code=204)


# runs ----------------------------------------------------------------------------------
async def _params(request: Request, platform: Platform) -> bytes:
    limit = platform.settings.params_max
    if request.method == "POST":
        return inputs.parse_object(await read_body(request, limit + 1), limit)
    return inputs.query_params(request.query_params.multi_items(), limit)


async def _target(request: Request) -> tuple[Platform, str, calls.FunctionInfo]:
    platform = platform_of(request)
    tenant = await tenant_of(request)
    info = await platform.function(tenant, check_name(request.path_params["name"]))
    return platform, tenant, info


async def run_async(request: Request) -> Response:
    platform, tenant, info = await _target(request)
    (execution_id,) = await platform.submit(tenant, info, [await _params(request, platform)])
    return json_response(execution_id, 202)


async def run_bulk(request: Request) -> Response:
    platform, tenant, info = await _target(request)
    settings = platform.settings
    body = await read_body(request, settings.body_max)
    groups = inputs.parse_bulk(body, settings.bulk_max, settings.params_max)
    return json_response(await platform.submit(tenant, info, groups), 202)


async def run_sync(request: Request) -> Response:
    platform, tenant, info = await _target(request)
    accepted = await platform.call(tenant, info, await _params(request, platform))
    if accepted.update is None:
        return json_response({"execution_id": accepted.execution_id}, 202)
    return sync_answer(accepted.update)


SYNC_STATUS = {"completed": 200, "failed": 502, "timeout": 504}


def sync_answer(update: ExecutionUpdate) -> Response:
    headers = {"X-Execution-Id": update.execution_id}
    if update.status == "completed":
        return Response(update.result or b"null", 200, headers, "application/json")
    return json_response(
        {"error": update.error, "execution_id": update.execution_id},
        SYNC_STATUS.get(update.status, 502),
        headers,
    )


# executions ----------------------------------------------------------------------------
async def get_execution(request: Request) -> Response:
    ref = calls.ExecutionRef(
        tenant=await tenant_of(request),
        id=inputs.check_execution_id(request.path_params["id"]),
    )
    record = await platform_of(request).rpc.call(
        calls.RESULTS, "executions.get", ref, calls.ExecutionRecord
    )
    return json_response(render.execution_view(record))


async def list_executions(request: Request) -> Response:
    query_params = request.query_params
    after = query_params.get("after")
    function = query_params.get("function")
    query = calls.ListExecutions(
        tenant=await tenant_of(request),
        function=None if function is None else check_name(function),
        status=inputs.status_filter(query_params.get("status")),
        limit=inputs.list_limit(query_params.get("limit")),
        after=None if after is None else inputs.check_execution_id(after),
    )
    page = await platform_of(request).rpc.call(
        calls.RESULTS, "executions.list", query, calls.ExecutionPage
    )
    items = [render.execution_summary(record) for record in page.items]
    return json_response(render.Page(items=items, next=page.next))


async def healthz(request: Request) -> Response:
    checks = await platform_of(request).health()
    healthy = all(state == "ok" for state in checks.values())
    return json_response(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, 200 if healthy else 503
    )


def _both(path: str, endpoint: Any, methods: list[str]) -> list[Route]:
    """Every path answers with and without its trailing slash, without a redirect."""
    bare = path.rstrip("/")
    return [Route(bare, endpoint, methods=methods), Route(bare + "/", endpoint, methods=methods)]


ROUTES: list[Route] = [
    *_both("/healthz", healthz, ["GET"]),
    *_both("/v1/functions/", put_function, ["PUT"]),
    *_both("/v1/functions/", list_functions, ["GET"]),
    *_both("/v1/functions/{name}", get_function, ["GET"]),
    *_both("/v1/functions/{name}", delete_function, ["DELETE"]),
    *_both("/v1/functions/{name}/rpc/", run_async, ["GET", "POST"]),
    *_both("/v1/functions/{name}/bulk_rpc/", run_bulk, ["POST"]),
    *_both("/v1/sync/functions/{name}/rpc/", run_sync, ["GET", "POST"]),
    *_both("/v1/executions/", list_executions, ["GET"]),
    *_both("/v1/executions/{id}", get_execution, ["GET"]),
]
