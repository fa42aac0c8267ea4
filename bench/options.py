"""The command line of `make bench` (bench/run.py) and what it resolves to."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.workloads import WORKLOADS, Sizes

ROOT = Path(__file__).resolve().parent.parent
RESULTS_ROOT = ROOT / ".bench" / "results"
DOCS_PATH = ROOT / "docs" / "BENCHMARKS.md"

FULL = {"runs": 3, "n": 10_000, "calls": 300, "nonblocking_calls": 2000, "settle_s": 10.0}
QUICK = {"runs": 1, "n": 500, "calls": 50, "nonblocking_calls": 200, "settle_s": 2.0}
WARMUP_CALLS = 20  # blocking calls before the sync latency is measured (as the peers do)
CLIENTS = 50  # concurrent HTTP clients of the non-blocking workload


@dataclass(frozen=True)
class Options:
    runs: int
    sizes: Sizes
    settle_s: float
    workloads: tuple[str, ...]
    peers: bool
    peers_python: str | None
    celery_plain_get: bool
    write_docs: bool
    docs_path: Path
    label: str
    results_dir: Path
    report_from: Path | None  # re-render the report of an earlier run's results dir


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/run.py",
        description="FaaSpot's workloads side by side with Celery and the AMQP floor (issue 5).",
    )
    p.add_argument("--quick", action="store_true", help="smoke mode: 1 run, n 500, 50 calls")
    p.add_argument("--runs", type=int, help="interleaved runs of each benchmark (3)")
    p.add_argument("--n", type=int, help="parameter groups per bulk, and peer tasks (10000)")
    p.add_argument("--calls", type=int, help="sequential blocking calls measured (300)")
    p.add_argument(
        "--nonblocking-calls", type=int, help="non-blocking calls in all, workload 4 (2000)"
    )
    p.add_argument("--clients", type=int, default=CLIENTS, help="concurrent HTTP clients (50)")
    p.add_argument("--settle", type=float, help="seconds of idle before each run (10)")
    p.add_argument("--only", help=f"comma-separated workloads: {','.join(WORKLOADS)}")
    p.add_argument("--no-peers", action="store_true", help="skip Celery and the AMQP floor")
    p.add_argument("--peers-python", help="interpreter with the peers' requirements")
    p.add_argument(
        "--celery-plain-get",
        action=argparse.BooleanOptionalAction,
        help="also measure Celery's plain .get() (0.5 s polling; +150 s per run; default: "
        "on, off with --quick)",
    )
    p.add_argument(
        "--docs",
        action=argparse.BooleanOptionalAction,
        help=f"write the results into {DOCS_PATH.relative_to(ROOT)} (default: on for a full "
        "run of every workload)",
    )
    p.add_argument("--label", default="", help="a note on this run, e.g. 'before the pass'")
    p.add_argument("--results-dir", type=Path, help="where raw results go (.bench/results/TS)")
    p.add_argument(
        "--report",
        type=Path,
        metavar="RESULTS_DIR",
        help="measure nothing: print (and with --docs write) the report of an earlier run",
    )
    return p


def chosen_workloads(only: str | None) -> tuple[str, ...]:
    if not only:
        return tuple(WORKLOADS)
    wanted = {name.strip() for name in only.split(",") if name.strip()}
    unknown = wanted - set(WORKLOADS)
    if unknown:
        raise SystemExit(f"unknown workloads: {', '.join(sorted(unknown))}")
    return tuple(name for name in WORKLOADS if name in wanted)


def parse(argv: Sequence[str] | None = None) -> Options:
    args = parser().parse_args(argv)
    base = QUICK if args.quick else FULL

    def pick(value: float | None, key: str) -> float:
        return base[key] if value is None else value

    workloads = chosen_workloads(args.only)
    sizes = Sizes(
        n=int(pick(args.n, "n")),
        calls=int(pick(args.calls, "calls")),
        warmup=WARMUP_CALLS,
        nonblocking_calls=int(pick(args.nonblocking_calls, "nonblocking_calls")),
        concurrency=args.clients,
    )
    complete = not args.quick and len(workloads) == len(WORKLOADS)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Options(
        runs=int(pick(args.runs, "runs")),
        sizes=sizes,
        settle_s=pick(args.settle, "settle_s"),
        workloads=workloads,
        peers=not args.no_peers,
        peers_python=args.peers_python,
        celery_plain_get=not args.quick if args.celery_plain_get is None else args.celery_plain_get,
        write_docs=(complete and args.report is None) if args.docs is None else args.docs,
        docs_path=DOCS_PATH,
        label=args.label,
        results_dir=args.report or args.results_dir or RESULTS_ROOT / stamp,
        report_from=args.report,
    )
