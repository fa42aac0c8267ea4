"""What goes wrong in a benchmark run."""

from __future__ import annotations


class BenchError(Exception):
    """A benchmark could not measure what it set out to (a call failed, progress stalled)."""
