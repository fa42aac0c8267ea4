"""When is a tenant's work done: its executions counted in the results service's collection.

Polled every 10 ms with PyMongo directly, as the Celery peer polls its result count: the
fairest match for Celery's "all results stored in MongoDB".
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pymongo import MongoClient

from bench.errors import BenchError

POLL_S = 0.01  # the Celery peer's polling interval
STALL_S = 120.0  # no execution finished for this long: the run has stalled
TERMINAL = ("completed", "failed", "timeout")
EXECUTIONS = "executions"  # the results service's collection


class Executions:
    """Counts of one stack's execution records, by tenant (a covered index query)."""

    def __init__(self, mongo_url: str, database: str) -> None:
        self._client: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
        self._collection = self._client[database][EXECUTIONS]

    def close(self) -> None:
        self._client.close()

    def finished(self, tenant: str) -> int:
        """Executions of ``tenant`` in a terminal status."""
        return self._collection.count_documents({"tenant": tenant, "status": {"$in": TERMINAL}})

    def statuses(self, tenant: str) -> dict[str, int]:
        pipeline: list[dict[str, Any]] = [
            {"$match": {"tenant": tenant}},
            {"$group": {"_id": "$status", "n": {"$sum": 1}}},
        ]
        return {str(row["_id"]): int(row["n"]) for row in self._collection.aggregate(pipeline)}

    def wait_finished(self, tenant: str, n: int, stop: threading.Event | None = None) -> float:
        """Poll until ``n`` executions of ``tenant`` finished; the perf_counter() at that moment.

        Raises BenchError when progress stalls or when any of them did not complete.
        """
        progress, progress_at = -1, time.monotonic()
        while (done := self.finished(tenant)) < n:
            if done != progress:
                progress, progress_at = done, time.monotonic()
            elif time.monotonic() - progress_at > STALL_S:
                raise BenchError(f"stalled at {done}/{n}: {self.statuses(tenant)}")
            if stop is not None and stop.is_set():
                raise BenchError("stopped while waiting")
            time.sleep(POLL_S)
        finished_at = time.perf_counter()
        self.check_completed(tenant, n)
        return finished_at

    def check_completed(self, tenant: str, n: int) -> None:
        counts = self.statuses(tenant)
        if counts.get("completed", 0) < n:
            example = self._collection.find_one(
                {"tenant": tenant, "status": {"$ne": "completed"}}, {"error": 1, "status": 1}
            )
            raise BenchError(f"not every execution completed: {counts}; e.g. {example}")


class Watcher:
    """Waits for a tenant's ``n`` executions in a background thread."""

    def __init__(self, executions: Executions, tenant: str, n: int) -> None:
        self.finished_at: float | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(executions, tenant, n), name="bench-watcher", daemon=True
        )
        self._thread.start()

    def _run(self, executions: Executions, tenant: str, n: int) -> None:
        try:
            self.finished_at = executions.wait_finished(tenant, n, self._stop)
        except BaseException as exc:  # handed to the waiting thread in result()
            self.error = exc
        finally:
            self.done.set()

    def result(self) -> float:
        """Block until done; the perf_counter() at completion, or the watcher's error."""
        self._thread.join()
        if self.error is not None:
            raise self.error
        assert self.finished_at is not None
        return self.finished_at

    def cancel(self) -> None:
        self._stop.set()
        self._thread.join()
