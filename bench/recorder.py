"""The raw results of one benchmark session: JSON lines, the load log, and notes."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import machine

Record = dict[str, Any]


@dataclass
class Recorder:
    """Appends every record to ``<directory>/<file>.jsonl`` as soon as it is measured."""

    directory: Path
    records: dict[str, list[Record]] = field(default_factory=dict)
    loads: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed: bool = False

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def settle(self, bench: str, run: int, settle_s: float) -> dict[str, Any]:
        """Wait ``settle_s`` of idle, then note the load (as run_peers.sh does)."""
        time.sleep(settle_s)
        load = machine.load()
        self.loads.append((bench, run, load))
        line = f"== {bench} run {run}: loadavg {load['loadavg']} vmstat {load.get('vmstat', '')}"
        print(line, flush=True)
        with (self.directory / "load.log").open("a") as log:
            log.write(line + "\n")
        return load

    def add(self, bench: str, file_stem: str, record: Record) -> None:
        self.records.setdefault(bench, []).append(record)
        with (self.directory / f"{file_stem}.jsonl").open("a") as out:
            out.write(json.dumps(record) + "\n")

    def note(self, text: str, *, failure: bool = False) -> None:
        print(f"note: {text}", flush=True)
        self.notes.append(text)
        self.failed = self.failed or failure

    def write(self, name: str, content: str) -> Path:
        path = self.directory / name
        path.write_text(content)
        return path
