"""`make bench`: FaaSpot's six workloads side by side with Celery and the AMQP floor (issue 5).

    .venv/bin/python bench/run.py [--quick] [--runs 3] [--n 10000] [--calls 300]
                                  [--only bulk,sync,...] [--no-peers] [--settle 10]

Starts RabbitMQ and MongoDB if absent, then a throw-away stack (its own prefix, database
and port), and runs, for each of --runs rounds: our workloads, then the Celery peer, then
the AMQP floor (../shared/peers, in their own venv), each after a settle pause. Prints a
table of medians and ranges with the ratios and the targets, writes it into
docs/BENCHMARKS.md (full runs) and the raw JSON lines into .bench/results/<timestamp>/.
Everything the run created is removed at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ on sys.path would shadow top-level names
    sys.path[0] = str(Path(__file__).resolve().parent.parent)  # import bench.* from the root

from bench import machine, peers, report
from bench.completion import Executions
from bench.docs import write_section
from bench.errors import BenchError
from bench.options import Options, parse
from bench.recorder import Recorder
from bench.stack import AMQP_URL, MONGO_URL, BenchStack, bench_stack, infrastructure
from bench.workloads import WORKLOADS, Bench

GAP_S = 2.0  # pause between two of our workloads within one run
PEER_NAMES = {"celery_bench": report.CELERY, "amqp_floor": report.FLOOR}
RECORD_FILES = {report.FAASPOT: report.FAASPOT, **PEER_NAMES}  # JSON-lines file stem → bench
CONTEXT_FILE = "context.json"  # what the report says besides the figures


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    if options.report_from is not None:
        return report_again(options)
    signal.signal(signal.SIGTERM, _interrupt)
    recorder = Recorder(options.results_dir)
    print(f"results: {options.results_dir}", flush=True)
    found = find_peers(options, recorder)
    try:
        context = measure(options, found, recorder)
    except KeyboardInterrupt:
        print("interrupted: the stack is stopped and its queues and database are gone")
        return 130
    publish(options, recorder, context)
    return 1 if recorder.failed else 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def find_peers(options: Options, recorder: Recorder) -> peers.Peers | None:
    if not options.peers:
        recorder.note("peer columns skipped: --no-peers")
        return None
    try:
        return peers.locate(options.peers_python, recorder.directory / "peers-install.log")
    except peers.PeersUnavailable as exc:
        recorder.note(f"peer columns skipped: {exc}")
        return None


def measure(options: Options, found: peers.Peers | None, recorder: Recorder) -> report.Context:
    """Start everything, run the interleaved rounds, stop everything; the report's context."""
    bulk_max = max(options.sizes.n, 10_000)
    with (
        tempfile.TemporaryDirectory(prefix="faaspot-bench-") as home,
        infrastructure(Path(home)),
        bench_stack(Path(home), recorder.directory / "logs", bulk_max) as stack,
    ):
        context = new_context(options, stack)
        executions = Executions(MONGO_URL, stack.settings.mongo_db)
        try:
            bench = Bench(stack, executions, options.sizes)
            for run in range(1, options.runs + 1):
                run_ours(bench, options, run, recorder)
                if found is not None:
                    run_peers(found, options, run, recorder)
        finally:
            executions.close()
    return context


def new_context(options: Options, stack: BenchStack) -> report.Context:
    sizes = options.sizes
    settings = {
        "runs": options.runs,
        "bulk n": sizes.n,
        "sync calls": f"{sizes.calls} after {sizes.warmup} warm-ups",
        "non-blocking calls": f"{sizes.nonblocking_calls} from {sizes.concurrency} clients",
        "settle": f"{options.settle_s:g} s",
        "executors": "1 (2 in workload 5)",
        "executor concurrency": stack.settings.executor_concurrency,
        "sandbox": stack.settings.sandbox,
    }
    return report.Context(
        date=time.strftime("%Y-%m-%d %H:%M %Z"),
        label=options.label,
        settings=settings,
        machine=machine.machine(),
        versions=machine.versions(AMQP_URL, MONGO_URL),
        results_dir=shown_path(options.results_dir),
    )


def shown_path(path: Path) -> str:
    """``path`` relative to the project when inside it (the docs should not name our disk)."""
    root = Path(__file__).resolve().parent.parent
    resolved = path.resolve()
    return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(path)


def run_ours(bench: Bench, options: Options, run: int, recorder: Recorder) -> None:
    load = recorder.settle(report.FAASPOT, run, options.settle_s)
    record = {"bench": report.FAASPOT, "run": run, "loadavg_before": load["loadavg"]}
    record.update(n=options.sizes.n, calls=options.sizes.calls)
    for index, name in enumerate(options.workloads):
        if index:
            time.sleep(GAP_S)
        print(f"[run {run}/{options.runs}] faaspot {name} ...", flush=True)
        try:
            record[name] = WORKLOADS[name](bench)
        except BenchError as exc:
            recorder.note(f"run {run}: workload {name} failed: {exc}", failure=True)
            bench.stack.stack.check_alive()  # a dead service ends the benchmark
            continue
        print(f"    {report.headline(name, record[name])}", flush=True)
    recorder.add(report.FAASPOT, report.FAASPOT, record)


def run_peers(found: peers.Peers, options: Options, run: int, recorder: Recorder) -> None:
    sizes = options.sizes
    for script, bench in PEER_NAMES.items():
        recorder.settle(bench, run, options.settle_s)
        print(f"[run {run}/{options.runs}] {script} ...", flush=True)
        args = peers.arguments(script, sizes.n, sizes.calls, options.celery_plain_get)
        try:
            record = peers.run(found, script, args, recorder.directory)
        except peers.PeerFailed as exc:
            recorder.note(f"run {run}: {script} failed: {exc}", failure=True)
            continue
        recorder.add(bench, script, record)
        print(f"    {report.headline(bench, record)}", flush=True)


def publish(options: Options, recorder: Recorder, context: report.Context) -> None:
    """Print the table, keep it beside the raw results, and (full runs) in the docs."""
    context.loads = recorder.loads
    context.notes = recorder.notes
    context.peer_versions = peer_versions(recorder)
    recorder.write(CONTEXT_FILE, json.dumps(dataclasses.asdict(context), indent=1))
    render(options, recorder.records, context)


def report_again(options: Options) -> int:
    """The report of an earlier run, from its JSON lines and context."""
    directory = options.results_dir
    records = {
        bench: [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for bench, path in (
            (name, directory / f"{stem}.jsonl") for stem, name in RECORD_FILES.items()
        )
        if path.exists()
    }
    context = report.Context(**json.loads((directory / CONTEXT_FILE).read_text()))
    context.label = options.label or context.label
    render(options, records, context)
    return 0


def render(
    options: Options, records: dict[str, list[dict[str, Any]]], context: report.Context
) -> None:
    section = report.render(records, context)
    print("\n" + section)
    (options.results_dir / "summary.md").write_text(section)
    if options.write_docs:
        write_section(options.docs_path, section)
        print(f"written into {options.docs_path}")


def peer_versions(recorder: Recorder) -> dict[str, str]:
    found: dict[str, str] = {}
    for bench in (report.CELERY, report.FLOOR):
        for record in recorder.records.get(bench, [])[-1:]:
            found.update(record.get("versions", {}))
    for shared in ("python", "rabbitmq", "mongodb"):
        found.pop(shared, None)
    return found


if __name__ == "__main__":
    sys.exit(main())
