"""Pure figures: percentiles of samples, and the median and range of a figure across runs."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Keys that describe a run's settings rather than measure it (as in ../shared/peers/summarize.py).
NOT_FIGURES = frozenset(
    {
        "loadavg_before",
        "run",
        "n",
        "calls",
        "get_interval_s",
        "batch",
        "consumer_prefetch",
        "bytes_per_msg",
        "prefetch_multiplier",
        "concurrency",
        "executors",
    }
)
UNSUMMARIZED = frozenset({"versions", "load", "worker"})  # sub-records that hold no figures


def percentiles(samples_ms: Iterable[float], digits: int = 3) -> dict[str, float]:
    """p50, p90, p99, mean and max, computed as the peers do (inclusive quantiles).

    Fewer than two samples give an empty mapping: no percentile means anything then.
    """
    values = list(samples_ms)
    if len(values) < 2:
        return {}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50": round(cuts[49], digits),
        "p90": round(cuts[89], digits),
        "p99": round(cuts[98], digits),
        "mean": round(statistics.fmean(values), digits),
        "max": round(max(values), digits),
    }


@dataclass(frozen=True)
class Spread:
    """A figure across runs: median, smallest and largest value, number of runs."""

    median: float
    low: float
    high: float
    runs: int


def spread(values: Iterable[float]) -> Spread:
    """The median and range of ``values`` (at least one)."""
    items = list(values)
    if not items:
        raise ValueError("a spread needs at least one value")
    return Spread(statistics.median(items), min(items), max(items), len(items))


def leaves(record: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every numeric figure of a JSON record, as (dotted path, value)."""
    for key, value in record.items():
        if isinstance(value, Mapping):
            if key not in UNSUMMARIZED:
                yield from leaves(value, f"{prefix}{key}.")
        elif _is_number(value) and key not in NOT_FIGURES:
            yield prefix + key, value  # an int stays an int: a count, shown as one


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def summarize(records: Iterable[Mapping[str, Any]]) -> dict[str, Spread]:
    """Median and range of each figure over the runs that have it."""
    figures: dict[str, list[float]] = {}
    for record in records:
        for path, value in leaves(record):
            figures.setdefault(path, []).append(value)
    return {path: spread(values) for path, values in figures.items()}


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """ours / theirs, or None when either is missing or theirs is zero."""
    if ours is None or theirs is None or theirs == 0:
        return None
    return ours / theirs
