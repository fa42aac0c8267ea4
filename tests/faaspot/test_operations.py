"""The operations' steps, driven by a fake server: no network, no sleeping."""

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest

from faaspot import operations
from faaspot.errors import (
    FunctionCreationFailed,
    FunctionError,
    NotFoundError,
    ValidationError,
    WaitTimeout,
)
from faaspot.operations import Batch, Operation, Pause, Reply, Step
from faaspot.protocol import Request

T = TypeVar("T")
Server = Callable[[Request], httpx.Response]


def drive(
    operation: Operation[T], server: Server, on_pause: Callable[[], None] | None = None
) -> tuple[T, list[Step]]:
    """Run ``operation`` against ``server``; return its result and every step it took.

    ``on_pause`` is called instead of sleeping, to let time pass on the fake server.
    """
    steps: list[Step] = []
    reply: Reply = None
    while True:
        try:
            step = operation.send(reply)
        except StopIteration as stop:
            return stop.value, steps
        steps.append(step)
        if isinstance(step, Pause):
            reply = None
            if on_pause is not None:
                on_pause()
        elif isinstance(step, Batch):
            reply = [server(request) for request in step.requests]
        else:
            reply = server(step)


def answer(status: int, body: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json=body, headers=headers, request=httpx.Request("GET", "http://t/")
    )


def requests_of(steps: list[Step]) -> list[Request]:
    flat: list[Request] = []
    for step in steps:
        if isinstance(step, Batch):
            flat.extend(step.requests)
        elif isinstance(step, Request):
            flat.append(step)
    return flat


def pauses_of(steps: list[Step]) -> list[float]:
    return [step.seconds for step in steps if isinstance(step, Pause)]


class FakeExecutions:
    """Executions whose status follows a script: its n-th status after n pauses."""

    def __init__(self, scripts: dict[str, list[str]]) -> None:
        self.scripts = scripts
        self.gets: dict[str, int] = dict.fromkeys(scripts, 0)
        self.pauses = 0

    def tick(self) -> None:
        self.pauses += 1

    def __call__(self, request: Request) -> httpx.Response:
        execution_id = request.path.rsplit("/", 1)[-1]
        if execution_id not in self.scripts:
            return answer(404, {"error": {"type": "ExecutionNotFound", "message": "unknown"}})
        script = self.scripts[execution_id]
        status = script[min(self.pauses, len(script) - 1)]
        self.gets[execution_id] += 1
        if status == "missing":
            return answer(404, {"error": {"type": "ExecutionNotFound", "message": "unknown"}})
        error = (
            {"type": "ValueError", "message": "bad", "traceback": "tb"}
            if status == "failed"
            else None
        )
        result = f"result of {execution_id}" if status == "completed" else None
        return answer(200, {"id": execution_id, "status": status, "result": result, "error": error})


# Functions


def test_create_without_wait_returns_the_first_record() -> None:
    record = {"name": "f", "version": 1, "status": "creating"}
    result, steps = drive(
        operations.create_function("f", "code", None, None, None, wait=False),
        lambda request: answer(201, record),
    )
    assert result == record
    assert [(r.method, r.path) for r in requests_of(steps)] == [("PUT", "/v1/functions/")]


def test_create_with_wait_polls_until_ready() -> None:
    statuses = iter(["creating", "creating", "ready"])

    def server(request: Request) -> httpx.Response:
        return answer(200, {"name": "f", "version": 2, "status": next(statuses)})

    result, steps = drive(operations.create_function("f", "c", None, 5.0, 64, wait=True), server)
    assert result["status"] == "ready"
    assert [r.method for r in requests_of(steps)] == ["PUT", "GET", "GET"]
    assert pauses_of(steps) == [0.1, pytest.approx(0.15)]


def test_create_with_wait_raises_when_the_build_failed() -> None:
    statuses = iter(["creating", "failed"])

    def server(request: Request) -> httpx.Response:
        return answer(200, {"name": "f", "status": next(statuses), "error": "no main()"})

    with pytest.raises(FunctionCreationFailed, match="no main"):
        drive(operations.create_function("f", "c", None, None, None, wait=True), server)


def test_list_functions_follows_the_pages() -> None:
    pages = {None: ({"name": "a"}, "c1"), "c1": ({"name": "b"}, None)}

    def server(request: Request) -> httpx.Response:
        cursor = (request.params or {}).get("after")
        item, next_cursor = pages[cursor if isinstance(cursor, str) else None]
        return answer(200, {"items": [item], "next": next_cursor})

    result, steps = drive(operations.list_functions(), server)
    assert result == [{"name": "a"}, {"name": "b"}]
    assert len(requests_of(steps)) == 2


def test_delete_raises_not_found() -> None:
    server = lambda request: answer(404, {"error": {"type": "FunctionNotFound", "message": "no f"}})  # noqa: E731
    with pytest.raises(NotFoundError, match="no f"):
        drive(operations.delete_function("f"), server)


# Running


def test_run_returns_the_execution_id() -> None:
    result, steps = drive(operations.run_function("f", {"a": "1"}), lambda r: answer(202, "e1"))
    assert result == "e1"
    assert requests_of(steps)[0].json == {"a": "1"}


def test_run_and_wait_returns_the_value_of_a_quick_run() -> None:
    result, steps = drive(
        operations.run_function_and_wait("f", {}),
        lambda request: answer(200, "Hello world", **{"X-Execution-Id": "e1"}),
    )
    assert result == "Hello world"
    assert [r.path for r in requests_of(steps)] == ["/v1/sync/functions/f/rpc/"]


def test_run_and_wait_polls_a_long_run() -> None:
    executions = FakeExecutions({"e1": ["running", "completed"]})

    def server(request: Request) -> httpx.Response:
        if request.path.startswith("/v1/sync/"):
            return answer(202, {"execution_id": "e1"})
        return executions(request)

    result, _ = drive(operations.run_function_and_wait("f", {}), server, executions.tick)
    assert result == "result of e1"
    assert executions.gets["e1"] == 2


def test_run_and_wait_raises_when_a_long_run_failed() -> None:
    executions = FakeExecutions({"e1": ["running", "failed"]})

    def server(request: Request) -> httpx.Response:
        if request.path.startswith("/v1/sync/"):
            return answer(202, {"execution_id": "e1"})
        return executions(request)

    with pytest.raises(FunctionError) as caught:
        drive(operations.run_function_and_wait("f", {}), server, executions.tick)
    assert (caught.value.execution_id, caught.value.type, caught.value.message) == (
        "e1",
        "ValueError",
        "bad",
    )


def bulk_server(max_groups: int) -> Server:
    """A server that refuses bulks over ``max_groups`` and names ids after the groups."""

    def server(request: Request) -> httpx.Response:
        groups = request.json
        assert isinstance(groups, list)
        if len(groups) > max_groups:
            return answer(413, {"error": {"type": "TooManyGroups", "message": "too many"}})
        return answer(202, [f"id-{group['i']}" for group in groups])

    return server


def test_run_bulk_sends_one_request_when_it_fits() -> None:
    groups = [{"i": i} for i in range(5)]
    result, steps = drive(operations.run_bulk("f", groups), bulk_server(10))
    assert result == [f"id-{i}" for i in range(5)]
    assert len(requests_of(steps)) == 1


def test_run_bulk_splits_when_the_server_says_too_large() -> None:
    groups = [{"i": i} for i in range(5)]
    result, steps = drive(operations.run_bulk("f", groups), bulk_server(2))
    assert result == [f"id-{i}" for i in range(5)]
    sizes = [len(r.json) for r in requests_of(steps)]
    assert sizes == [5, 2, 2, 1]  # the refused 5, then chunks of 2


def test_run_bulk_raises_when_one_group_is_too_large() -> None:
    with pytest.raises(ValidationError, match="too many"):
        drive(operations.run_bulk("f", [{"i": 0}]), bulk_server(0))


# Listing executions


def test_list_executions_pages_up_to_the_limit() -> None:
    sizes: list[int] = []

    def server(request: Request) -> httpx.Response:
        limit = (request.params or {})["limit"]
        assert isinstance(limit, int)
        sizes.append(limit)
        return answer(200, {"items": [{"id": str(i)} for i in range(limit)], "next": "more"})

    result, _ = drive(operations.list_executions("f", None, 2500), server)
    assert len(result) == 2500
    assert sizes == [1000, 1000, 500]


def test_list_executions_without_limit_reads_every_page() -> None:
    pages = iter([("c1", 3), (None, 2)])

    def server(request: Request) -> httpx.Response:
        cursor, count = next(pages)
        return answer(200, {"items": [{"id": "x"}] * count, "next": cursor})

    result, _ = drive(operations.list_executions(None, "failed", None), server)
    assert len(result) == 5


def test_list_executions_refuses_a_limit_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        drive(operations.list_executions(None, None, 0), bulk_server(0))


# Waiting


def test_wait_returns_records_in_the_order_given_and_reports_each_once() -> None:
    executions = FakeExecutions(
        {"a": ["running", "completed"], "b": ["failed"], "c": ["pending", "pending", "timeout"]}
    )
    seen: list[str] = []
    records, _ = drive(
        operations.wait_for_executions(
            ["c", "a", "b", "a"], on_finished=lambda r: seen.append(r["id"])
        ),
        executions,
        executions.tick,
    )
    assert [record["id"] for record in records] == ["c", "a", "b", "a"]
    assert [record["status"] for record in records] == [
        "timeout",
        "completed",
        "failed",
        "completed",
    ]
    assert sorted(seen) == ["a", "b", "c"]


def test_wait_looks_at_a_small_window_until_executions_finish() -> None:
    ids = [f"e{i}" for i in range(120)]
    executions = FakeExecutions({id_: ["pending", "completed"] for id_ in ids})
    records, steps = drive(operations.wait_for_executions(ids), executions, executions.tick)
    assert all(record["status"] == "completed" for record in records)
    # Round 1 looks at the 4 oldest (all pending); round 2 finds all 120, in growing windows.
    assert sum(executions.gets.values()) == operations.WAIT_WINDOW_MIN + 120
    assert max(len(step.requests) for step in steps if isinstance(step, Batch)) == 50


def test_wait_for_finished_executions_takes_one_round() -> None:
    ids = [f"e{i}" for i in range(3000)]
    executions = FakeExecutions({id_: ["completed"] for id_ in ids})
    records, steps = drive(operations.wait_for_executions(ids), executions, executions.tick)
    assert len(records) == 3000
    assert sum(executions.gets.values()) == 3000
    assert pauses_of(steps) == []


def test_wait_finds_late_finishers_behind_early_ones() -> None:
    ids = [f"e{i}" for i in range(60)]
    scripts = {id_: ["completed"] for id_ in ids}
    scripts["e0"] = ["running", "running", "completed"]
    executions = FakeExecutions(scripts)
    records, _ = drive(operations.wait_for_executions(ids), executions, executions.tick)
    assert len(records) == 60
    # e0 is polled until done; the others once each, as the window grows past it.
    assert executions.gets["e0"] == 3
    assert sum(executions.gets.values()) == 59 + 3


def test_wait_backs_off_while_nothing_finishes() -> None:
    executions = FakeExecutions({"a": ["running"] * 4 + ["completed"]})
    _, steps = drive(operations.wait_for_executions(["a"]), executions, executions.tick)
    assert pauses_of(steps) == pytest.approx([0.15, 0.225, 0.3375, 0.50625])


class FifoExecutor:
    """Executions that finish in order, ``rate`` per second of the pauses the wait takes."""

    def __init__(self, count: int, rate: float) -> None:
        self.ids = [f"e{i}" for i in range(count)]
        self.index = {id_: i for i, id_ in enumerate(self.ids)}
        self.rate = rate
        self.now_s = 0.0
        self.gets = 0

    def __call__(self, request: Request) -> httpx.Response:
        self.gets += 1
        execution_id = request.path.rsplit("/", 1)[-1]
        done = self.index[execution_id] < int(self.rate * self.now_s)
        return answer(200, {"id": execution_id, "status": "completed" if done else "running"})

    def sleep(self, seconds: float) -> None:
        self.now_s += seconds


@pytest.mark.parametrize(("count", "rate"), [(1000, 24.0), (10_000, 500.0), (200, 2.0)])
def test_wait_costs_about_two_requests_per_execution(count: int, rate: float) -> None:
    executor = FifoExecutor(count, rate)
    operation = operations.wait_for_executions(executor.ids)
    steps: list[Step] = []
    reply: Reply = None
    while True:
        try:
            step = operation.send(reply)
        except StopIteration:
            break
        steps.append(step)
        if isinstance(step, Pause):
            executor.sleep(step.seconds)
            reply = None
        else:
            assert isinstance(step, Batch)
            reply = [executor(request) for request in step.requests]
    assert executor.gets <= 2.5 * count
    # The wait ends soon after the last execution finished.
    assert executor.now_s - count / rate <= operations.POLL_INTERVAL_MAX_S


def test_wait_times_out_with_the_unfinished_ids() -> None:
    executions = FakeExecutions({"a": ["completed"], "b": ["running"]})
    with pytest.raises(WaitTimeout, match="1 of 2 executions not finished after 0 s") as caught:
        drive(operations.wait_for_executions(["a", "b"], timeout_s=0), executions)
    assert caught.value.unfinished == ["b"]


def test_wait_tolerates_an_execution_not_yet_visible() -> None:
    executions = FakeExecutions({"a": ["missing", "pending", "completed"]})
    records, _ = drive(operations.wait_for_executions(["a"]), executions, executions.tick)
    assert records[0]["status"] == "completed"


def test_wait_raises_for_an_unknown_execution_after_the_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(operations, "NOT_FOUND_GRACE_S", 0.0)
    with pytest.raises(NotFoundError, match="unknown"):
        drive(operations.wait_for_executions(["nope"]), FakeExecutions({}))


def test_wait_for_nothing_returns_at_once() -> None:
    records, steps = drive(operations.wait_for_executions([]), FakeExecutions({}))
    assert (records, steps) == ([], [])
