"""The Markdown report: cells, targets, ratios, and the generated section of the docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.docs import BEGIN, END, with_section, write_section
from bench.report import Context, Target, cell, headline, number, render
from bench.stats import Spread

MEMORY = {
    "idle": {"api": {"rss_mb": 60.0, "hwm_mb": 61.0, "tree_rss_mb": 60.0}},
    "peak_1_mb": {"api": 64.0},
    "after_1": {"api": {"rss_mb": 62.0, "hwm_mb": 64.0, "tree_rss_mb": 62.0}},
    "peak_2_mb": {"api": 64.0},
    "after_2": {"api": {"rss_mb": 62.5, "hwm_mb": 64.0, "tree_rss_mb": 62.5}},
    "growth_mb": {"api": 0.5},
}
OURS: dict[str, Any] = {
    "bench": "faaspot",
    "run": 1,
    "bulk": {"n": 10, "executions_per_s": 1500.0, "wall_s": 6.7, "accept_s": 0.5},
    "sync": {"calls": 300, "p50": 3.0, "p90": 4.0, "p99": 12.0},
    "scaling": {"speedup": 1.2},
    "memory": MEMORY,
}
CELERY: dict[str, Any] = {
    "bench": "celery",
    "bulk_group": {"tasks_per_s": 700.0, "wall_s": 14.0, "submit_s": 8.0},
    "bulk_loop": {"tasks_per_s": 666.0},
    "latency_tuned_get_ms": {"p50": 3.4, "p90": 4.2, "p99": 4.9},
}
FLOOR: dict[str, Any] = {"bench": "amqp_floor", "rpc_roundtrip_ms": {"p50": 1.4}}


def context() -> Context:
    machine = {"nproc": 2, "cpu": "cpu", "memory_mb": 1024, "kernel": "6", "os": "Debian"}
    return Context("2026-11-26", "", {"runs": 1}, machine, {"python": "3.11"}, ".bench/x")


def test_numbers_keep_about_three_digits() -> None:
    assert number(3021.4) == "3 021"
    assert number(15.02) == "15.0"
    assert number(32) == "32"
    assert number(32.0) == "32.0"
    assert number(3.421) == "3.42"


def test_cell_shows_range_only_for_several_runs() -> None:
    assert cell(Spread(700.0, 650.0, 860.0, 3), "/s") == "700/s (650..860)"
    assert cell(Spread(3.4, 3.4, 3.4, 1), "ms") == "3.40 ms"
    assert cell(None, "ms") == "n/a"


def test_targets_relative_to_celery_need_celery() -> None:
    assert Target("celery_min", 2).met(1500.0, 700.0) is True
    assert Target("celery_min", 2).met(1300.0, 700.0) is False
    assert Target("celery_max", 1).met(3.0, None) is None
    assert Target("max", 10).met(12.0, None) is False
    assert Target("max", 10).text("ms") == "≤ 10 ms"


def test_render_puts_peers_ratios_and_verdicts_side_by_side() -> None:
    text = render({"faaspot": [OURS], "celery": [CELERY], "amqp_floor": [FLOOR]}, context())
    bulk = next(line for line in text.splitlines() if "executions/s (Celery: group)" in line)
    assert "1 500/s" in bulk and "700/s" in bulk and "2.14x" in bulk and "| met |" in bulk
    p99 = next(line for line in text.splitlines() if line.startswith("|  | p99 |"))
    assert "**missed**" in p99
    assert "| api | 60.0 MB |" in text
    assert "- api: 62.0 → 62.5 MB" in text


def test_render_without_peers_or_workloads() -> None:
    text = render({"faaspot": [{"bench": "faaspot", "sync": {"p50": 3.0, "p99": 4.0}}]}, context())
    assert "0 Celery" in text and "n/a" in text
    assert "Resident memory" not in text


def test_headline_names_a_workloads_key_figures() -> None:
    assert headline("sync", OURS["sync"]) == "p50 3.00, p90 4.00, p99 12.0"


def test_section_is_replaced_between_markers_and_the_rest_kept() -> None:
    text = f"# Title\n\nabove\n\n{BEGIN}\nold\n{END}\n\nbelow\n"
    updated = with_section(text, "new")
    assert "old" not in updated and "new" in updated
    assert updated.startswith("# Title\n\nabove") and updated.endswith("below\n")


def test_section_is_appended_to_a_file_without_markers(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    write_section(path, "first")
    write_section(path, "second")
    text = path.read_text()
    assert text.startswith("# Benchmarks") and "second" in text and "first" not in text
    assert text.count(BEGIN) == 1
