"""The executor's cache of function code, keyed by immutable (tenant, function, version)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from services.executor.runner import FunctionKey
from shared import calls
from shared.rpc import RpcClient

CACHE_BYTES = 64 * 1024 * 1024  # code and context kept in memory by one executor


def _size(code: calls.FunctionCode) -> int:
    return len(code.code) + len(code.context or "")


class FunctionCache:
    """Versions never change, so entries stay valid until the function is deleted.

    Concurrent misses of one key share one registry call.
    """

    def __init__(self, rpc: RpcClient, budget_bytes: int = CACHE_BYTES) -> None:
        self.rpc = rpc
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[FunctionKey, calls.FunctionCode] = OrderedDict()
        self._bytes = 0
        self._loading: dict[FunctionKey, asyncio.Future[calls.FunctionCode]] = {}

    async def get(self, key: FunctionKey) -> calls.FunctionCode:
        """The code of ``key``; raises ``FunctionNotFound`` when it was deleted."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry
        loading = self._loading.get(key)
        if loading is not None:
            return await asyncio.shield(loading)
        future: asyncio.Future[calls.FunctionCode] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            entry = await self._fetch(key)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so a miss nobody shares logs nothing
            raise
        except asyncio.CancelledError:
            future.cancel()
            raise
        finally:
            del self._loading[key]
        future.set_result(entry)
        self._store(key, entry)
        return entry

    async def _fetch(self, key: FunctionKey) -> calls.FunctionCode:
        params = calls.FetchCode(tenant=key.tenant, name=key.function, version=key.version)
        return await self.rpc.call(calls.REGISTRY, "functions.fetch", params, calls.FunctionCode)

    def _store(self, key: FunctionKey, entry: calls.FunctionCode) -> None:
        self._entries[key] = entry
        self._bytes += _size(entry)
        while self._bytes > self.budget_bytes and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= _size(dropped)

    def forget(self, tenant: str, function: str) -> None:
        """Drop every version of a deleted function."""
        for key in [k for k in self._entries if (k.tenant, k.function) == (tenant, function)]:
            self._bytes -= _size(self._entries.pop(key))
