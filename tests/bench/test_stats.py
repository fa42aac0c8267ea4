"""Percentiles and the median and range of figures across runs."""

from __future__ import annotations

import pytest

from bench.stats import Spread, leaves, percentiles, ratio, spread, summarize


def test_percentiles_match_inclusive_quantiles() -> None:
    figures = percentiles(float(x) for x in range(1, 102))
    assert figures["p50"] == 51.0
    assert figures["p90"] == 91.0
    assert figures["p99"] == 100.0
    assert figures["max"] == 101.0


def test_percentiles_of_fewer_than_two_samples_are_empty() -> None:
    assert percentiles([3.0]) == {}


def test_spread_is_median_and_range() -> None:
    assert spread([3.0, 1.0, 2.0]) == Spread(median=2.0, low=1.0, high=3.0, runs=3)
    with pytest.raises(ValueError):
        spread([])


def test_leaves_skip_settings_versions_and_flags() -> None:
    record = {
        "n": 10,
        "run": 1,
        "ok": True,
        "versions": {"python": 3.11},
        "bulk": {"n": 10, "wall_s": 2.0, "memory_peak_mb": {"api": 60.0}},
    }
    assert dict(leaves(record)) == {"bulk.wall_s": 2.0, "bulk.memory_peak_mb.api": 60.0}


def test_summarize_uses_the_runs_that_have_a_figure() -> None:
    summary = summarize([{"a": 1.0, "b": 5.0}, {"a": 3.0}])
    assert summary["a"] == Spread(2.0, 1.0, 3.0, 2)
    assert summary["b"].runs == 1


def test_ratio_is_none_without_both_figures() -> None:
    assert ratio(6.0, 3.0) == 2.0
    assert ratio(None, 3.0) is None
    assert ratio(1.0, 0.0) is None
