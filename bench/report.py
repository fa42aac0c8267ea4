"""The results as Markdown: medians and ranges side by side with the peers, and the targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bench.stats import Spread, leaves, ratio, summarize

FAASPOT, CELERY, FLOOR = "faaspot", "celery", "amqp_floor"
GLUED_UNITS = frozenset({"x", "/s"})  # written without a space: 2.1x, 700/s
MISSING = "n/a"  # a figure this run has not got (no peers, workload not run)
MEMORY_SLACK_MB = 5.0  # growth between two bulks that still counts as noise ...
MEMORY_SLACK_SHARE = 0.05  # ... plus this share of the RSS after the first bulk

Summaries = Mapping[str, Mapping[str, Spread]]


@dataclass(frozen=True)
class Target:
    """A goal of issue 5 for one figure: relative to Celery's median, or absolute."""

    kind: Literal["celery_min", "celery_max", "max", "min"]
    value: float

    def text(self, unit: str) -> str:
        return {
            "celery_min": f"≥ {self.value:g}x Celery",
            "celery_max": f"≤ {self.value:g}x Celery",
            "max": f"≤ {with_unit(self.value, unit)}",
            "min": f"≥ {with_unit(self.value, unit)}",
        }[self.kind]

    def met(self, ours: float, celery: float | None) -> bool | None:
        """Whether ``ours`` meets the target; None when Celery's figure is missing."""
        if self.kind == "max":
            return ours <= self.value
        if self.kind == "min":
            return ours >= self.value
        if celery is None:
            return None
        if self.kind == "celery_min":
            return ours >= self.value * celery
        return ours <= self.value * celery


@dataclass(frozen=True)
class Row:
    """One line of the main table: our figure, and the peers' comparable ones."""

    workload: str
    label: str
    unit: str
    ours: str
    celery: str | None = None
    floor: str | None = None
    target: Target | None = None


ROWS = (
    Row(
        "1. bulk",
        "executions/s (Celery: group)",
        "/s",
        "bulk.executions_per_s",
        "bulk_group.tasks_per_s",
        "oneway_throughput.msgs_per_s",
        Target("celery_min", 2),
    ),
    Row(
        "",
        "executions/s (Celery: delay() loop)",
        "/s",
        "bulk.executions_per_s",
        "bulk_loop.tasks_per_s",
        None,
        Target("celery_min", 2),
    ),
    Row(
        "",
        "request → all completed",
        "s",
        "bulk.wall_s",
        "bulk_group.wall_s",
        "oneway_throughput.wall_s",
    ),
    Row(
        "",
        "accept (HTTP request) / submit",
        "s",
        "bulk.accept_s",
        "bulk_group.submit_s",
        "oneway_throughput.publish_confirmed_s",
    ),
    Row(
        "2. sync latency",
        "p50 (Celery: tuned get)",
        "ms",
        "sync.p50",
        "latency_tuned_get_ms.p50",
        "rpc_roundtrip_ms.p50",
        Target("celery_max", 1),
    ),
    Row("", "p90", "ms", "sync.p90", "latency_tuned_get_ms.p90", "rpc_roundtrip_ms.p90"),
    Row(
        "",
        "p99",
        "ms",
        "sync.p99",
        "latency_tuned_get_ms.p99",
        "rpc_roundtrip_ms.p99",
        Target("max", 10),
    ),
    Row("", "p50 (Celery: plain get)", "ms", "sync.p50", "latency_default_get_ms.p50"),
    Row("3. sync while a bulk drains", "p50", "ms", "sync_under_bulk.p50"),
    Row("", "p99", "ms", "sync_under_bulk.p99", target=Target("max", 50)),
    Row("", "calls made while it drained", "", "sync_under_bulk.calls_during_bulk"),
    Row("", "bulk executions/s meanwhile", "/s", "sync_under_bulk.bulk_executions_per_s"),
    Row(
        "4. non-blocking",
        "accepted calls/s",
        "/s",
        "nonblocking.accepted_per_s",
        floor="oneway_throughput.msgs_per_s",
    ),
    Row(
        "",
        "completed executions/s",
        "/s",
        "nonblocking.completed_per_s",
        floor="oneway_throughput.msgs_per_s",
    ),
    Row("", "POST p50", "ms", "nonblocking.post_ms.p50"),
    Row("", "POST p99", "ms", "nonblocking.post_ms.p99"),
    Row("", "benchmark client's CPU", "s", "nonblocking.client_cpu_s"),
    Row("5. scaling", "1 executor, executions/s", "/s", "scaling.one_executor.executions_per_s"),
    Row("", "2 executors, executions/s", "/s", "scaling.two_executors.executions_per_s"),
    Row("", "2 ÷ 1", "x", "scaling.speedup", target=Target("min", 1.5)),
)


@dataclass
class Context:
    """Everything the report says besides the figures."""

    date: str
    label: str
    settings: dict[str, Any]
    machine: dict[str, Any]
    versions: dict[str, str]
    results_dir: str
    peer_versions: dict[str, str] = field(default_factory=dict)
    loads: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def number(value: float) -> str:
    """Three significant digits or so, thousands separated by a space (as the peers' README)."""
    if isinstance(value, int):  # a count
        return f"{value:,}".replace(",", " ")
    if abs(value) >= 100:
        return f"{value:,.0f}".replace(",", " ")
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def with_unit(value: float, unit: str) -> str:
    joiner = "" if unit in GLUED_UNITS else " "
    return f"{number(value)}{joiner}{unit}".strip()


def cell(figure: Spread | None, unit: str) -> str:
    if figure is None:
        return MISSING
    text = with_unit(figure.median, unit)
    if figure.runs > 1:
        text += f" ({number(figure.low)}..{number(figure.high)})"
    return text


def times(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f}x"


def verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: MISSING}[met]


def row_cells(row: Row, summaries: Summaries) -> list[str]:
    ours = summaries[FAASPOT].get(row.ours)
    celery = summaries[CELERY].get(row.celery) if row.celery else None
    floor = summaries[FLOOR].get(row.floor) if row.floor else None
    median = ours.median if ours else None
    celery_median = celery.median if celery else None
    met = None
    if row.target is not None and median is not None:
        met = row.target.met(median, celery_median)
    return [
        row.workload,
        row.label,
        cell(ours, row.unit),
        cell(celery, row.unit),
        times(ratio(median, celery_median)),
        cell(floor, row.unit),
        times(ratio(median, floor.median if floor else None)),
        row.target.text(row.unit) if row.target else "",
        verdict(met) if row.target else "",
    ]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return lines


def main_table(summaries: Summaries) -> list[str]:
    header = [
        "workload",
        "figure",
        "FaaSpot",
        "Celery",
        "FaaSpot ÷ Celery",
        "AMQP floor",
        "FaaSpot ÷ floor",
        "target",
        "verdict",
    ]
    rows = [row_cells(row, summaries) for row in ROWS if row.ours in summaries[FAASPOT]]
    return table(header, rows)


def services_in(summary: Mapping[str, Spread]) -> list[str]:
    """Service names found in the memory figures, in the stack's start order."""
    order = {"registry": 0, "results": 1, "executor": 2, "api": 3}
    names = {path.split(".")[2] for path in summary if path.startswith("memory.idle.")}
    return sorted(names, key=lambda name: (order.get(name.split("-")[0], 9), name))


def memory_cells(name: str, summary: Mapping[str, Spread]) -> list[str]:
    def get(path: str) -> Spread | None:
        return summary.get(path)

    growth = get(f"memory.growth_mb.{name}")
    after = get(f"memory.after_1.{name}.rss_mb")
    bounded = None
    if growth is not None and after is not None:
        bounded = growth.median <= MEMORY_SLACK_MB + MEMORY_SLACK_SHARE * after.median
    return [
        name,
        cell(get(f"memory.idle.{name}.tree_rss_mb"), "MB"),
        cell(get(f"bulk.memory_peak_mb.{name}"), "MB"),
        cell(get(f"memory.peak_1_mb.{name}"), "MB"),
        cell(after, "MB"),
        cell(get(f"memory.after_1.{name}.tree_rss_mb"), "MB"),
        cell(get(f"memory.after_2.{name}.rss_mb"), "MB"),
        cell(growth, "MB"),
        cell(get(f"memory.after_2.{name}.hwm_mb"), "MB"),
        verdict(bounded),
    ]


def memory_table(summary: Mapping[str, Spread]) -> list[str]:
    names = services_in(summary)
    if not names:
        return []
    header = [
        "service",
        "idle (tree)",
        "peak in workload 1 (tree)",
        "peak in bulk 1 (tree)",
        "after bulk 1 (main)",
        "after bulk 1 (tree)",
        "after bulk 2 (main)",
        "growth 1 → 2 (main)",
        "VmHWM (main)",
        "bounded",
    ]
    return table(header, [memory_cells(name, summary) for name in names])


def memory_trail(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each service's main-process RSS after every memory-workload bulk, in order."""
    trail: dict[str, list[float]] = {}
    for record in records:
        figures = record.get("memory")
        if not figures:
            continue
        for sample in ("after_1", "after_2"):
            for name, values in figures[sample].items():
                trail.setdefault(name, []).append(values["rss_mb"])
    return [f"- {name}: {' → '.join(number(v) for v in mbs)} MB" for name, mbs in trail.items()]


def describe(context: Context) -> list[str]:
    m = context.machine
    lines = [
        f"Measured {context.date}" + (f" ({context.label})" if context.label else "") + ".",
        "",
        f"- Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_mb']} MB, "
        f"kernel {m['kernel']}, {m['os']}.",
        "- Settings: " + ", ".join(f"{k} {v}" for k, v in context.settings.items()) + ".",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in context.versions.items()) + ".",
        "- Peers' versions: "
        + (", ".join(f"{k} {v}" for k, v in context.peer_versions.items()) or MISSING)
        + ".",
        f"- Raw JSON lines, load log and service logs: `{context.results_dir}`.",
    ]
    return lines


def loads(context: Context) -> list[str]:
    if not context.loads:
        return []
    parts = [
        f"{bench} {run}: {' '.join(f'{x:.2f}' for x in load['loadavg'])}"
        for bench, run, load in context.loads
    ]
    return ["Load averages (1, 5, 15 min) before each run: " + "; ".join(parts) + "."]


def render(records: Mapping[str, Sequence[Mapping[str, Any]]], context: Context) -> str:
    """The whole generated section."""
    summaries = {bench: summarize(records.get(bench, ())) for bench in (FAASPOT, CELERY, FLOOR)}
    runs = {bench: len(records.get(bench, ())) for bench in (FAASPOT, CELERY, FLOOR)}
    lines = [*describe(context), ""]
    lines.append(
        f"Medians of {runs[FAASPOT]} FaaSpot, {runs[CELERY]} Celery and {runs[FLOOR]} "
        "AMQP-floor runs, interleaved; min..max in parentheses."
    )
    lines += ["", *main_table(summaries), ""]
    memory = memory_table(summaries[FAASPOT])
    if memory:
        lines += ["Resident memory (MB; tree = the service and its child processes):", ""]
        lines += [*memory, ""]
        lines += ["RSS of each service after every measured bulk of the memory workload:", ""]
        lines += [*memory_trail(records.get(FAASPOT, ())), ""]
    lines += loads(context)
    if context.notes:
        lines += ["", "Notes:", "", *(f"- {note}" for note in context.notes)]
    return "\n".join(lines).rstrip() + "\n"


# Figures printed as each run ends, to follow a long benchmark as it goes.
HEADLINES = {
    "bulk": ("executions_per_s", "wall_s", "accept_s"),
    "sync": ("p50", "p90", "p99"),
    "sync_under_bulk": ("p50", "p99", "calls_during_bulk", "bulk_executions_per_s"),
    "nonblocking": ("accepted_per_s", "completed_per_s"),
    "scaling": (
        "one_executor.executions_per_s",
        "two_executors.executions_per_s",
        "speedup",
    ),
    "memory": tuple(f"growth_mb.{name}" for name in ("registry", "results", "executor", "api")),
    "celery": (
        "bulk_loop.tasks_per_s",
        "bulk_group.tasks_per_s",
        "latency_tuned_get_ms.p50",
        "latency_tuned_get_ms.p99",
    ),
    "amqp_floor": ("rpc_roundtrip_ms.p50", "oneway_throughput.msgs_per_s"),
}


def headline(name: str, record: Mapping[str, Any]) -> str:
    wanted = HEADLINES.get(name, ())
    found = dict(leaves(record))
    return ", ".join(f"{path} {number(found[path])}" for path in wanted if path in found)
