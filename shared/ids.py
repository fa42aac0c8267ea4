"""Execution ids: UUIDv7 strings, so that sorting by id sorts by creation time."""

from __future__ import annotations

import os
import re
import threading
import time
import uuid

ID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_COUNTER_MAX = 0xFFF  # 12 bits of sub-millisecond sequence (RFC 9562, method 1)


def new_id() -> str:
    """A time-ordered UUIDv7, monotonic within this process."""
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms, _counter = now_ms, 0
        elif _counter < _COUNTER_MAX:
            _counter += 1
        else:  # more than 4096 ids in one millisecond: borrow the next one
            _last_ms, _counter = _last_ms + 1, 0
        ms, seq = _last_ms, _counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | rand
    return str(uuid.UUID(int=value))


def new_ids(count: int) -> list[str]:
    return [new_id() for _ in range(count)]


def is_id(text: str) -> bool:
    return ID_PATTERN.match(text) is not None
