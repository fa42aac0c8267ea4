"""Splitting the log pipe into calls, and trusting no reply: pure logic of process.py."""

from __future__ import annotations

from services.executor.process import TRUNCATED, CallLogs, _from_reply, logs_text


def mark(call: int) -> bytes:
    return b"\x00\x1eFAASPOT-END %d\x1e\x00" % call


def test_output_is_attributed_to_the_call_whose_mark_follows_it() -> None:
    logs = CallLogs(limit=1000)
    logs.feed(b"one\n" + mark(1) + b"two\n")
    logs.feed(b"more two\n" + mark(2))
    assert logs.take(1) == (b"one\n", False)
    assert logs.take(2) == (b"two\nmore two\n", False)
    assert logs.take(3) is None


def test_a_mark_cut_between_two_reads_is_still_found() -> None:
    logs = CallLogs(limit=1000)
    whole = b"out" + mark(1) + b"next"
    for split in range(1, len(whole)):
        logs = CallLogs(limit=1000)
        logs.feed(whole[:split])
        logs.feed(whole[split:])
        assert logs.take(1) == (b"out", False), split
        assert logs.rest() == (b"next", False)


def test_a_forged_mark_for_another_call_ends_nothing() -> None:
    logs = CallLogs(limit=1000)
    logs.feed(b"a" + mark(7) + b"b" + mark(1))
    assert logs.take(1) == (b"ab", False)
    assert logs.take(7) is None


def test_a_stale_mark_after_a_forged_one_is_dropped() -> None:
    logs = CallLogs(limit=1000)
    logs.feed(b"early" + mark(1) + b"late" + mark(1) + b"second" + mark(2))
    assert logs.take(1) == (b"early", False)
    assert logs.take(2) == (b"latesecond", False)


def test_text_that_only_looks_like_a_mark_is_kept() -> None:
    logs = CallLogs(limit=1000)
    fake = b"\x00\x1eFAASPOT-END not-a-number" + b"x" * 40
    logs.feed(fake + mark(1))
    assert logs.take(1) == (fake, False)


def test_each_call_keeps_at_most_the_limit() -> None:
    logs = CallLogs(limit=10)
    logs.feed(b"x" * 25 + mark(1) + b"short" + mark(2))
    assert logs.take(1) == (b"x" * 10, True)
    assert logs.take(2) == (b"short", False)


def test_truncated_logs_end_with_the_marker() -> None:
    assert logs_text(b"abc", truncated=True, limit=10) == "abc" + TRUNCATED
    assert logs_text(b"abc", truncated=False, limit=10) == "abc"
    assert logs_text("é".encode() * 3, truncated=False, limit=10) == "ééé"


def test_a_malformed_reply_is_a_crash_not_a_result() -> None:
    for reply in (
        {"status": "completed"},  # no result
        {"status": "done", "result": "1"},
        {"status": "failed", "result": None, "error": {"unexpected": 1}},
        {"result": "1"},
    ):
        result = _from_reply(reply, "", in_sync=True)
        assert result.status == "failed", reply
        assert result.error is not None and result.error.type == "WorkerCrashed"
        assert not result.reusable


def test_a_reply_is_reusable_only_when_the_worker_says_so_and_logs_are_in_step() -> None:
    clean = {"status": "completed", "result": "1", "error": None, "recycle": False}
    assert _from_reply(clean, "", in_sync=True).reusable
    assert not _from_reply(clean, "", in_sync=False).reusable
    assert not _from_reply({**clean, "recycle": True}, "", in_sync=True).reusable
    truncated = _from_reply({**clean, "logs_truncated": True}, "x", in_sync=True)
    assert truncated.logs == "x" + TRUNCATED
