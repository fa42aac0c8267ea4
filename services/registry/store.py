"""The registry's MongoDB collections: functions, their versions, tenants and tokens."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.calls import FunctionInfo
from shared.mongo import Document, store_errors

TOKEN_PREFIX = "fsp_"


def hash_token(token: str) -> str:
    """Tokens are 256-bit random strings, so a plain SHA-256 is a safe way to store them."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewVersion:
    tenant: str
    name: str
    code: str
    context_enc: bytes | None
    timeout_s: float
    memory_mb: int


def _function_id(tenant: str, name: str) -> str:
    return f"{tenant}/{name}"


def _version_id(tenant: str, name: str, version: int) -> str:
    return f"{tenant}/{name}/{version}"


def to_info(doc: Document) -> FunctionInfo:
    return FunctionInfo(
        name=doc["name"],
        version=doc["version"],
        status=doc["status"],
        timeout_s=doc["timeout_s"],
        memory_mb=doc["memory_mb"],
        has_context=doc["has_context"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        error=doc.get("error"),
    )


class RegistryStore:
    """Owns ``functions``, ``function_versions``, ``function_counters``, ``tenants``, ``tokens``."""

    def __init__(self, db: AsyncDatabase[Document], versions_kept: int) -> None:
        self.functions = db["functions"]
        self.versions = db["function_versions"]
        # Never deleted, so that a re-created function never reuses a version number
        # that a queued execution of the deleted one still names.
        self.counters = db["function_counters"]
        self.tenants = db["tenants"]
        self.tokens = db["tokens"]
        self.versions_kept = versions_kept

    async def ensure_indexes(self) -> None:
        with store_errors("creating registry indexes"):
            await self.functions.create_index([("tenant", ASCENDING), ("name", ASCENDING)])
            await self.versions.create_index(
                [("tenant", ASCENDING), ("name", ASCENDING), ("version", ASCENDING)]
            )

    async def put_version(self, new: NewVersion) -> tuple[FunctionInfo, bool]:
        """Store ``new`` as the next version; return the record and whether it was created.

        The version document is written before the function points to it, so a crash
        in between leaves an unreferenced version, never a function without code.
        """
        with store_errors("storing the function"):
            version = await self._next_version(new.tenant, new.name)
            now = time.time()
            await self.versions.insert_one(
                {
                    "_id": _version_id(new.tenant, new.name, version),
                    "tenant": new.tenant,
                    "name": new.name,
                    "version": version,
                    "code": new.code,
                    "context_enc": new.context_enc,
                    "timeout_s": new.timeout_s,
                    "memory_mb": new.memory_mb,
                    "created_at": now,
                }
            )
            doc, created = await self._point_to(new, version, now)
            await self._prune(new.tenant, new.name, version)
        return to_info(doc), created

    async def _next_version(self, tenant: str, name: str) -> int:
        counter = await self.counters.find_one_and_update(
            {"_id": _function_id(tenant, name)},
            {"$inc": {"version": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert counter is not None  # an upsert returning the document after always has one
        return int(counter["version"])

    async def _point_to(self, new: NewVersion, version: int, now: float) -> tuple[Document, bool]:
        fields = {
            "tenant": new.tenant,
            "name": new.name,
            "version": version,
            "status": "ready",
            "timeout_s": new.timeout_s,
            "memory_mb": new.memory_mb,
            "has_context": new.context_enc is not None,
            "updated_at": now,
            "error": None,
        }
        function_id = _function_id(new.tenant, new.name)
        try:
            result = await self.functions.update_one(
                {"_id": function_id, "version": {"$lt": version}},
                {"$set": fields, "$setOnInsert": {"created_at": now}},
                upsert=True,
            )
        except DuplicateKeyError:
            # A concurrent put with a higher version won; ours is already superseded.
            return {**fields, "created_at": now}, False
        doc = await self.functions.find_one({"_id": function_id})
        return doc or {**fields, "created_at": now}, result.upserted_id is not None

    async def _prune(self, tenant: str, name: str, version: int) -> None:
        await self.versions.delete_many(
            {"tenant": tenant, "name": name, "version": {"$lte": version - self.versions_kept}}
        )

    async def get(self, tenant: str, name: str) -> Document | None:
        with store_errors("reading the function"):
            return await self.functions.find_one({"_id": _function_id(tenant, name)})

    async def list(self, tenant: str, limit: int, after: str | None) -> list[Document]:
        query: Document = {"tenant": tenant}
        if after is not None:
            query["name"] = {"$gt": after}
        with store_errors("listing functions"):
            cursor = self.functions.find(query).sort("name", ASCENDING).limit(limit)
            return await cursor.to_list()

    async def delete(self, tenant: str, name: str) -> bool:
        """Remove the function first (no new run resolves it), then all its versions."""
        with store_errors("deleting the function"):
            result = await self.functions.delete_one({"_id": _function_id(tenant, name)})
            await self.versions.delete_many({"tenant": tenant, "name": name})
        return result.deleted_count > 0

    async def get_version(self, tenant: str, name: str, version: int) -> Document | None:
        with store_errors("reading the function's code"):
            return await self.versions.find_one({"_id": _version_id(tenant, name, version)})

    async def resolve_token(self, token_hash: str) -> str | None:
        with store_errors("resolving the token"):
            doc = await self.tokens.find_one({"_id": token_hash})
        return None if doc is None else str(doc["tenant"])

    async def create_token(self, tenant: str) -> str:
        """Create the tenant if needed and a new token for it; only the hash is stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        with store_errors("creating the token"):
            await self.tenants.update_one(
                {"_id": tenant}, {"$setOnInsert": {"created_at": now}}, upsert=True
            )
            await self.tokens.insert_one(
                {"_id": hash_token(token), "tenant": tenant, "created_at": now}
            )
        return token
