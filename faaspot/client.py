"""The Python client: :class:`Faaspot` (blocking) and :class:`AsyncFaaspot` (asyncio).

Both expose the same calls under ``.functions`` and ``.executions``; the work
of each call is an operation of :mod:`faaspot.operations`, driven by the
client's transport.

>>> from faaspot import Faaspot
>>> with Faaspot() as faaspot:                                     # doctest: +SKIP
...     faaspot.functions.create("hello", file="hello.py", wait=True)
...     faaspot.functions.run("hello", {"name": "user1"}, wait=True)
'Hello user1'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeAlias, TypeVar, overload

import httpx

from faaspot import operations
from faaspot.config import ClientConfig, load_config
from faaspot.operations import OnFinished, Operation
from faaspot.protocol import Record
from faaspot.transport import AsyncTransport, SyncTransport

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 60.0  # bounds each HTTP request; a blocking run holds one for the server's wait
StrPath: TypeAlias = str | os.PathLike[str]
Records: TypeAlias = list[Record]


class Faaspot:
    """A blocking client of a FaaSpot server.

    ``url`` and ``token`` default to the environment (``FAASPOT_URL``,
    ``FAASPOT_TOKEN``), then the config file (see :mod:`faaspot.config`).
    ``timeout`` bounds each HTTP request, in seconds. One connection pool
    serves every call; close it with :meth:`close` or a ``with`` block.
    ``transport`` replaces httpx's network transport (for proxies or tests).

    Raises :class:`~faaspot.errors.ConfigError` for an invalid configuration.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config: ClientConfig = load_config(url, token)
        self._transport = SyncTransport(self.config, timeout, transport)
        self.functions = Functions(self._transport)
        self.executions = Executions(self._transport)

    def close(self) -> None:
        """Close the connections."""
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Faaspot(url={self.config.url!r})"


class AsyncFaaspot:
    """The asyncio twin of :class:`Faaspot`: the same calls, as coroutines.

    Close it with ``await af.close()`` or ``async with AsyncFaaspot() as af``.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config: ClientConfig = load_config(url, token)
        self._transport = AsyncTransport(self.config, timeout, transport)
        self.functions = AsyncFunctions(self._transport)
        self.executions = AsyncExecutions(self._transport)

    async def close(self) -> None:
        """Close the connections."""
        await self._transport.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncFaaspot(url={self.config.url!r})"


class Functions:
    """Create, run, list and delete functions: ``faaspot.functions``."""

    def __init__(self, transport: SyncTransport) -> None:
        self._run = transport.run

    def create(
        self,
        name: str,
        file: StrPath | None = None,
        context_file: StrPath | None = None,
        wait: bool = False,
        code: str | None = None,
        context: str | None = None,
        timeout: float | None = None,
        memory: int | None = None,
    ) -> Record:
        """Create the function ``name``, or replace it with a new version; return its record.

        The code comes from ``file`` (a path) or ``code`` (the text); the
        optional context from ``context_file`` or ``context``. ``timeout`` is
        the function's time limit in seconds, ``memory`` its memory in MB
        (server defaults when None). Without ``wait`` the record may still say
        ``creating``; with ``wait`` it is ``ready``, or
        :class:`~faaspot.errors.FunctionCreationFailed` is raised.
        """
        return self._run(_create(name, file, context_file, wait, code, context, timeout, memory))

    @overload
    def run(
        self, name: str, params: Mapping[str, Any] | None = None, wait: Literal[False] = False
    ) -> str: ...
    @overload
    def run(self, name: str, params: Mapping[str, Any] | None, wait: Literal[True]) -> Any: ...
    @overload
    def run(self, name: str, params: Mapping[str, Any] | None = None, *, wait: bool) -> Any: ...
    def run(self, name: str, params: Mapping[str, Any] | None = None, wait: bool = False) -> Any:
        """Run ``name`` with ``params`` (its ``args``).

        Without ``wait``, return the execution id at once. With ``wait``,
        return the function's return value; raise
        :class:`~faaspot.errors.FunctionError` if it raised and
        :class:`~faaspot.errors.ExecutionTimeout` if it ran out of time.
        """
        return self._run(_run(name, params, wait))

    def run_bulk(self, name: str, args_list: Iterable[Mapping[str, Any]]) -> list[str]:
        """Start one run of ``name`` per group of parameters; return the execution ids in order."""
        return self._run(operations.run_bulk(name, list(args_list)))

    def get(self, name: str) -> Record:
        """The function's record (``status``, ``version``, ``timeout``, ``memory``...)."""
        return self._run(operations.get_function(name))

    def list(self) -> Records:
        """Every function's record, by name (all pages)."""
        return self._run(operations.list_functions())

    def delete(self, name: str) -> None:
        """Delete the function; raises :class:`~faaspot.errors.NotFoundError` if there is none."""
        self._run(operations.delete_function(name))


class Executions:
    """Look up and wait for executions: ``faaspot.executions`` (or ``faaspot.executions()``)."""

    def __init__(self, transport: SyncTransport) -> None:
        self._run = transport.run

    def __call__(self) -> Self:
        """Return this object, so that ``faaspot.executions().get(id)`` works too."""
        return self

    def get(self, execution_id: str) -> Record:
        """The execution's record: ``status``, ``result``, ``error``, ``logs``, times..."""
        return self._run(operations.get_execution(execution_id))

    def list(
        self, function: str | None = None, status: str | None = None, limit: int | None = None
    ) -> Records:
        """Execution summaries (records without parameters, result and logs), newest first.

        Filter by ``function`` name and ``status``; return at most ``limit``
        (all when None).
        """
        return self._run(operations.list_executions(function, status, limit))

    def wait(
        self,
        ids: str | Iterable[str],
        timeout: float | None = None,
        *,
        on_finished: OnFinished | None = None,
    ) -> Records:
        """Wait until every execution has finished; return their records in the order given.

        Failed executions are returned, not raised. ``timeout`` bounds the
        wait in seconds (:class:`~faaspot.errors.WaitTimeout` when it runs out;
        the executions go on). ``on_finished`` is called with each record as
        soon as it is seen finished.
        """
        return self._run(operations.wait_for_executions(_ids(ids), timeout, on_finished))


class AsyncFunctions:
    """The coroutine versions of :class:`Functions`' calls."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._run = transport.run

    async def create(
        self,
        name: str,
        file: StrPath | None = None,
        context_file: StrPath | None = None,
        wait: bool = False,
        code: str | None = None,
        context: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the function's time limit, sent to the server)
        memory: int | None = None,
    ) -> Record:
        """See :meth:`Functions.create`."""
        operation = _create(name, file, context_file, wait, code, context, timeout, memory)
        return await self._run(operation)

    @overload
    async def run(
        self, name: str, params: Mapping[str, Any] | None = None, wait: Literal[False] = False
    ) -> str: ...
    @overload
    async def run(
        self, name: str, params: Mapping[str, Any] | None, wait: Literal[True]
    ) -> Any: ...
    @overload
    async def run(
        self, name: str, params: Mapping[str, Any] | None = None, *, wait: bool
    ) -> Any: ...
    async def run(
        self, name: str, params: Mapping[str, Any] | None = None, wait: bool = False
    ) -> Any:
        """See :meth:`Functions.run`."""
        return await self._run(_run(name, params, wait))

    async def run_bulk(self, name: str, args_list: Iterable[Mapping[str, Any]]) -> list[str]:
        """See :meth:`Functions.run_bulk`."""
        return await self._run(operations.run_bulk(name, list(args_list)))

    async def get(self, name: str) -> Record:
        """See :meth:`Functions.get`."""
        return await self._run(operations.get_function(name))

    async def list(self) -> Records:
        """See :meth:`Functions.list`."""
        return await self._run(operations.list_functions())

    async def delete(self, name: str) -> None:
        """See :meth:`Functions.delete`."""
        await self._run(operations.delete_function(name))


class AsyncExecutions:
    """The coroutine versions of :class:`Executions`' calls."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._run = transport.run

    def __call__(self) -> Self:
        """Return this object, so that ``af.executions().get(id)`` works too."""
        return self

    async def get(self, execution_id: str) -> Record:
        """See :meth:`Executions.get`."""
        return await self._run(operations.get_execution(execution_id))

    async def list(
        self, function: str | None = None, status: str | None = None, limit: int | None = None
    ) -> Records:
        """See :meth:`Executions.list`."""
        return await self._run(operations.list_executions(function, status, limit))

    async def wait(
        self,
        ids: str | Iterable[str],
        timeout: float | None = None,  # noqa: ASYNC109 (the same signature as Executions.wait)
        *,
        on_finished: OnFinished | None = None,
    ) -> Records:
        """See :meth:`Executions.wait`."""
        return await self._run(operations.wait_for_executions(_ids(ids), timeout, on_finished))


def _create(
    name: str,
    file: StrPath | None,
    context_file: StrPath | None,
    wait: bool,
    code: str | None,
    context: str | None,
    timeout_s: float | None,
    memory_mb: int | None,
) -> Operation[Record]:
    source = _text("code", file, code)
    if source is None:
        raise ValueError("the code is missing: give file= or code=")
    context_text = _text("context", context_file, context)
    return operations.create_function(name, source, context_text, timeout_s, memory_mb, wait)


def _run(name: str, params: Mapping[str, Any] | None, wait: bool) -> Operation[Any]:
    if wait:
        return operations.run_function_and_wait(name, params or {})
    return operations.run_function(name, params or {})


def _text(what: str, path: StrPath | None, text: str | None) -> str | None:
    """The text given directly, or read from ``path`` (UTF-8), or None; not both."""
    if path is not None and text is not None:
        raise ValueError(f"give the {what} as a file or as text, not both")
    if path is not None:
        return Path(path).read_text(encoding="utf-8")
    return text


def _ids(ids: str | Iterable[str]) -> Sequence[str]:
    return [ids] if isinstance(ids, str) else list(ids)
