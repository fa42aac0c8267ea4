"""Resident memory of each service, read from /proc: the main process and its process tree.

The executor's tree includes its sandboxed worker processes (bwrap and the warm Python
workers), which /proc shows with their host pids and parents.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

PROC = Path("/proc")
SAMPLE_INTERVAL_S = 0.25  # between two samples of every service's tree while a bulk runs
KB_PER_MB = 1024


def status_kb(pid: int, field: str) -> int:
    """A "kB" field of /proc/PID/status (VmRSS, VmHWM), or 0 when the process is gone."""
    try:
        text = (PROC / str(pid) / "status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def parents() -> dict[int, int]:
    """Parent pid of every process now running."""
    found: dict[int, int] = {}
    for entry in os.scandir(PROC):
        if entry.name.isdigit():
            try:
                stat = (PROC / entry.name / "stat").read_text()
            except OSError:
                continue  # it exited while we looked
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            found[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    return found


def descendants(root: int, parent_of: Mapping[int, int]) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, parent in parent_of.items():
        children.setdefault(parent, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_rss_mb(root: int, parent_of: Mapping[int, int]) -> float:
    return sum(status_kb(pid, "VmRSS") for pid in descendants(root, parent_of)) / KB_PER_MB


def snapshot(pids: Mapping[str, int]) -> dict[str, dict[str, float]]:
    """For each service: its main process's RSS and peak RSS (VmHWM), and its tree's RSS, MB."""
    parent_of = parents()
    return {
        name: {
            "rss_mb": round(status_kb(pid, "VmRSS") / KB_PER_MB, 1),
            "hwm_mb": round(status_kb(pid, "VmHWM") / KB_PER_MB, 1),
            "tree_rss_mb": round(tree_rss_mb(pid, parent_of), 1),
        }
        for name, pid in pids.items()
    }


class PeakSampler:
    """Samples each service's tree RSS in a background thread; keeps the peaks.

    Use as a context manager around the work; ``peaks_mb`` holds the result afterwards.
    """

    def __init__(self, pids: Mapping[str, int], interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.pids = dict(pids)
        self.peaks_mb: dict[str, float] = dict.fromkeys(self.pids, 0.0)
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()  # the last moment counts too
        self.peaks_mb = {name: round(mb, 1) for name, mb in self.peaks_mb.items()}

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample()

    def _sample(self) -> None:
        if not self.pids:
            return
        parent_of = parents()
        for name, pid in self.pids.items():
            self.peaks_mb[name] = max(self.peaks_mb[name], tree_rss_mb(pid, parent_of))
