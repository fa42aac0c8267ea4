"""How the CLI shows results, tables, summaries and errors."""

from faaspot import render
from faaspot.errors import (
    AuthenticationError,
    ExecutionTimeout,
    FunctionError,
    NotFoundError,
    ServerUnreachable,
)


def test_result_text_prints_strings_as_they_are() -> None:
    assert render.result_text("Hello user1") == "Hello user1"


def test_result_text_prints_other_values_as_json() -> None:
    assert render.result_text({"a": [1, None], "é": True}) == '{"a": [1, null], "é": true}'
    assert render.result_text(None) == "null"
    assert render.result_text("") == ""


def test_table_aligns_columns_and_shows_none_as_dash() -> None:
    text = render.table(("ID", "STATUS", "MS"), [["a", "completed", 1.5], ["bbbb", None, 10.0]])
    assert text.splitlines() == [
        "ID    STATUS     MS",
        "a     completed  1.5",
        "bbbb  -          10",
    ]


def test_executions_table_has_a_row_per_record() -> None:
    record = {
        "id": "e1",
        "function": "hello",
        "function_version": 2,
        "status": "failed",
        "created_at": "2026-11-26T17:40:00Z",
        "duration_ms": 3.25,
    }
    lines = render.executions_table([record]).splitlines()
    assert lines[0].split() == list(render.EXECUTION_COLUMNS)
    assert lines[1].split() == ["e1", "hello", "2", "failed", "2026-11-26T17:40:00Z", "3.25"]


def test_functions_table_with_no_functions_is_the_header() -> None:
    assert render.functions_table([]).split() == list(render.FUNCTION_COLUMNS)


def test_status_summary_counts_in_lifecycle_order() -> None:
    records = [{"status": "failed"}, {"status": "completed"}, {"status": "completed"}]
    assert render.status_summary(records) == "3 executions: 2 completed, 1 failed"
    assert render.status_summary([{"status": "timeout"}]) == "1 execution: 1 timeout"


def test_error_lines() -> None:
    assert (
        render.error_line(AuthenticationError("unknown token"))
        == "authentication failed: unknown token"
    )
    assert render.error_line(NotFoundError("function 'x' not found")) == "function 'x' not found"
    unreachable = ServerUnreachable("cannot reach FaaSpot at http://h:1: refused", url="http://h:1")
    assert render.error_line(unreachable) == "cannot reach FaaSpot at http://h:1: refused"
    failed = FunctionError("boom", execution_id="e1", type="ValueError")
    assert render.error_line(failed) == "execution e1 failed: ValueError: boom"
    timed_out = ExecutionTimeout("after 1 s", execution_id="e2", type="Timeout")
    assert render.error_line(timed_out) == "execution e2 timed out: Timeout: after 1 s"
