"""MongoDB access: one async client per service process, PyMongo errors become ours."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, PyMongoError

from shared.errors import StoreError, StoreUnavailable
from shared.settings import Settings

Document = dict[str, Any]
SERVER_SELECTION_TIMEOUT_MS = 5_000  # how long an operation waits for an unreachable server


def connect(settings: Settings, app_name: str) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        settings.mongo(),
        appname=f"{settings.prefix}-{app_name}",
        serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
        tz_aware=True,
    )


def database(client: AsyncMongoClient[Document], settings: Settings) -> AsyncDatabase[Document]:
    return client[settings.mongo_db]


@contextmanager
def store_errors(action: str) -> Iterator[None]:
    """Turn a PyMongo failure into a :class:`StoreError` that names the action."""
    try:
        yield
    except ConnectionFailure as exc:
        raise StoreUnavailable(f"{action} failed: MongoDB is unreachable: {exc}") from exc
    except PyMongoError as exc:
        raise StoreError(f"{action} failed: {exc}") from exc


def to_datetime(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC)


def to_epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()
