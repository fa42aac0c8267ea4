"""Checks every service agrees on."""

from __future__ import annotations

import re

from shared.errors import InvalidName

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        shown = name if len(name) <= 80 else name[:80] + "..."
        raise InvalidName(
            f"invalid function name {shown!r}: use 1 to 64 letters, digits, '_' or '-'"
        )
    return name
