"""What each client call does, step by step, written once for the sync and async clients.

An operation is a generator: it yields the steps to take (a :class:`Request`
to send, a :class:`Batch` of requests to send together, a :class:`Pause`)
and receives each step's outcome (the response, the list of responses,
``None``). Its return value is the call's result. A transport
(:mod:`faaspot.transport`) drives it with blocking or asyncio I/O, so the
logic here never touches the network or the clock's sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import httpx

from faaspot import protocol
from faaspot.errors import WaitTimeout
from faaspot.protocol import Record, Request, Returned

T = TypeVar("T")

POLL_INTERVAL_MIN_S = 0.1  # shortest pause between polls
POLL_INTERVAL_MAX_S = 2.0  # pauses grow to this while nothing finishes
POLL_BACKOFF = 1.5  # growth (and shrink) factor of the pause
WAIT_WINDOW_MIN = 4  # executions a polling round looks at, at least
WAIT_WINDOW_MAX = 1000  # executions a polling round looks at, at most
ROUND_TARGET = 25  # finished executions per round below which polling slows down
WAIT_BATCH_SIZE = 50  # requests sent together while waiting (concurrently when async)
NOT_FOUND_GRACE_S = 10.0  # how long a just-started execution may be unknown to the server


@dataclass(frozen=True)
class Batch:
    """Send these requests (concurrently if the transport can); the reply is their responses."""

    requests: tuple[Request, ...]


@dataclass(frozen=True)
class Pause:
    """Sleep this long before the next step; the reply is ``None``."""

    seconds: float


Step: TypeAlias = Request | Batch | Pause
Reply: TypeAlias = httpx.Response | list[httpx.Response] | None
Operation: TypeAlias = Generator[Step, Reply, T]
OnFinished: TypeAlias = Callable[[Record], None]


def call(request: Request) -> Operation[httpx.Response]:
    reply = yield request
    assert isinstance(reply, httpx.Response)
    return reply


def call_all(requests: Sequence[Request]) -> Operation[list[httpx.Response]]:
    reply = yield Batch(tuple(requests))
    assert isinstance(reply, list)
    return reply


def pause(seconds: float) -> Operation[None]:
    yield Pause(seconds)


class Backoff:
    """Pauses between polls: growing while nothing happens, short again after progress."""

    def __init__(self) -> None:
        self._delay_s = POLL_INTERVAL_MIN_S

    def next(self) -> float:
        delay_s = self._delay_s
        self._delay_s = min(delay_s * POLL_BACKOFF, POLL_INTERVAL_MAX_S)
        return delay_s

    def reset(self) -> None:
        self._delay_s = POLL_INTERVAL_MIN_S


# Functions


def create_function(
    name: str,
    code: str,
    context: str | None,
    timeout_s: float | None,
    memory_mb: int | None,
    wait: bool,
) -> Operation[Record]:
    """Create or replace a function; with ``wait``, poll until it is no longer ``creating``."""
    request = protocol.put_function(name, code, context, timeout_s, memory_mb)
    record = protocol.read_record((yield from call(request)))
    if not wait:
        return record
    backoff = Backoff()
    while record.get("status") == "creating":
        yield from pause(backoff.next())
        record = protocol.read_record((yield from call(protocol.get_function(name))))
    return protocol.check_created(record)


def get_function(name: str) -> Operation[Record]:
    return protocol.read_record((yield from call(protocol.get_function(name))))


def delete_function(name: str) -> Operation[None]:
    protocol.check((yield from call(protocol.delete_function(name))))


def list_functions() -> Operation[list[Record]]:
    """Every function, following the pages."""
    records: list[Record] = []
    cursor: str | None = None
    while True:
        page = protocol.read_page((yield from call(protocol.list_functions(cursor))))
        records.extend(page.items)
        if page.next is None:
            return records
        cursor = page.next


# Running


def run_function(name: str, params: Mapping[str, Any]) -> Operation[str]:
    """Start an execution and return its id."""
    return protocol.read_execution_id((yield from call(protocol.run_function(name, params))))


def run_function_and_wait(name: str, params: Mapping[str, Any]) -> Operation[Any]:
    """Run and return the result, polling when the server's own wait was too short."""
    response = yield from call(protocol.run_function_sync(name, params))
    answer = protocol.read_sync_run(response)
    if isinstance(answer, Returned):
        return answer.value
    [record] = yield from wait_for_executions([answer.execution_id])
    return protocol.execution_result(record)


def run_bulk(name: str, groups: Sequence[Mapping[str, Any]]) -> Operation[list[str]]:
    """Start one execution per group and return their ids in order.

    When the server refuses a request as too large, the groups are sent in
    smaller chunks (halving); a refused request started nothing.
    """
    ids: list[str] = []
    chunk_size = max(len(groups), 1)
    while True:
        chunk = groups[len(ids) : len(ids) + chunk_size]
        response = yield from call(protocol.run_bulk(name, chunk))
        if protocol.is_too_large(response) and chunk_size > 1:
            chunk_size //= 2
            continue
        ids.extend(protocol.read_execution_ids(response, len(chunk)))
        if len(ids) >= len(groups):
            return ids


# Executions


def get_execution(execution_id: str) -> Operation[Record]:
    return protocol.read_record((yield from call(protocol.get_execution(execution_id))))


def list_executions(
    function: str | None, status: str | None, limit: int | None
) -> Operation[list[Record]]:
    """Execution summaries, newest first: up to ``limit``, or all when ``limit`` is None."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    records: list[Record] = []
    cursor: str | None = None
    while limit is None or len(records) < limit:
        size = protocol.EXECUTIONS_PAGE_MAX
        if limit is not None:
            size = min(size, limit - len(records))
        request = protocol.list_executions(function, status, size, cursor)
        page = protocol.read_page((yield from call(request)))
        records.extend(page.items)
        if page.next is None:
            break
        cursor = page.next
    return records[:limit]


def wait_for_executions(
    ids: Sequence[str],
    timeout_s: float | None = None,
    on_finished: OnFinished | None = None,
) -> Operation[list[Record]]:
    """Poll until every execution is terminal; return their records in the order of ``ids``.

    Polling is paced by :class:`_Pacer` so that its cost follows the progress:
    about two requests per execution, whether there are 3 or 10,000.
    ``on_finished`` is called once per execution as it is found terminal.
    Raises :class:`WaitTimeout` after ``timeout_s``.
    """
    tracker = _Tracker(ids, on_finished)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    pacer = _Pacer()
    while True:
        unfinished_before = len(tracker.unfinished)
        finished = yield from _poll_round(tracker, pacer.window)
        if not tracker.unfinished:
            return tracker.records()
        delay_s = pacer.after_round(finished, unfinished_before)
        yield from pause(_bounded_pause(delay_s, deadline, tracker, timeout_s))


class _Pacer:
    """How many executions a polling round looks at, and how long to pause after it.

    Executions mostly finish in the order they started, so a round looks at
    the oldest unfinished ones: a window of what finished in the last round
    plus as much again (at least :data:`WAIT_WINDOW_MIN`), which keeps a
    round's cost near twice its progress. The pause shrinks while rounds find
    :data:`ROUND_TARGET` finished executions (or all that are left) and grows
    while they find fewer, so slow executions are not polled in a hurry.
    """

    def __init__(self) -> None:
        self.window = WAIT_WINDOW_MIN
        self._delay_s = POLL_INTERVAL_MIN_S

    def after_round(self, finished: int, unfinished_before: int) -> float:
        """Adapt to a round that found ``finished`` executions; return the pause to take."""
        self.window = min(finished + max(finished, WAIT_WINDOW_MIN), WAIT_WINDOW_MAX)
        if finished >= min(ROUND_TARGET, unfinished_before):
            self._delay_s = max(self._delay_s / POLL_BACKOFF, POLL_INTERVAL_MIN_S)
        else:
            self._delay_s = min(self._delay_s * POLL_BACKOFF, POLL_INTERVAL_MAX_S)
        return self._delay_s


def _poll_round(tracker: _Tracker, window: int) -> Operation[int]:
    """Fetch the oldest unfinished executions; return how many finished.

    A window in which everything finished is followed by one twice as large,
    so a wait for executions that are long done takes a single round.
    """
    unfinished = list(tracker.unfinished)
    position = finished = 0
    while position < len(unfinished):
        chunk = unfinished[position : position + window]
        found = yield from _fetch(tracker, chunk)
        finished += found
        position += len(chunk)
        if found < len(chunk):
            break
        window = min(window * 2, WAIT_WINDOW_MAX)
    return finished


def _fetch(tracker: _Tracker, ids: list[str]) -> Operation[int]:
    """Fetch executions a batch at a time; return how many are newly finished."""
    found = 0
    for start in range(0, len(ids), WAIT_BATCH_SIZE):
        batch = ids[start : start + WAIT_BATCH_SIZE]
        responses = yield from call_all([protocol.get_execution(id_) for id_ in batch])
        found += sum(
            tracker.update(id_, response) for id_, response in zip(batch, responses, strict=True)
        )
    return found


def _bounded_pause(
    delay_s: float, deadline: float | None, tracker: _Tracker, timeout_s: float | None
) -> float:
    """The pause, shortened to the deadline; :class:`WaitTimeout` once it has passed."""
    if deadline is None:
        return delay_s
    remaining_s = deadline - time.monotonic()
    if remaining_s <= 0:
        unfinished = list(tracker.unfinished)
        raise WaitTimeout(
            f"{len(unfinished)} of {tracker.count} executions not finished after {timeout_s:g} s",
            unfinished=unfinished,
        )
    return min(delay_s, remaining_s)


class _Tracker:
    """The executions being waited for: which are unfinished, and the records of the others."""

    def __init__(self, ids: Sequence[str], on_finished: OnFinished | None) -> None:
        self._ids = list(ids)
        self._on_finished = on_finished
        self._records: dict[str, Record] = {}
        # A dict keeps the order in which the executions were given, oldest first.
        self.unfinished: dict[str, None] = dict.fromkeys(self._ids)
        self.count = len(self.unfinished)
        self._grace_ends = time.monotonic() + NOT_FOUND_GRACE_S

    def update(self, execution_id: str, response: httpx.Response) -> bool:
        """Take in a fetched execution; return whether it is newly finished."""
        if response.status_code == 404 and time.monotonic() < self._grace_ends:
            return False
        record = protocol.read_record(response)
        if not protocol.is_terminal(record):
            return False
        del self.unfinished[execution_id]
        self._records[execution_id] = record
        if self._on_finished is not None:
            self._on_finished(record)
        return True

    def records(self) -> list[Record]:
        return [self._records[id_] for id_ in self._ids]
