"""Parsing the parameters given on the command line.

``-p "k1=v1, k2=v2"`` is one group of parameters; ``--json '{...}'`` is a
group as a JSON object; a groups file is a JSON list of objects or JSON Lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Params = dict[str, Any]


class ParameterError(ValueError):
    """A parameter string, JSON text or groups file cannot be read; the message says where."""


def parse_parameters(text: str) -> dict[str, str]:
    """Parse ``"k1=v1, k2=v2"`` into ``{"k1": "v1", "k2": "v2"}``.

    Items are separated by commas; keys and values are stripped of surrounding
    spaces; a value keeps any ``=`` after the first. A blank string is an empty
    group. Later keys override earlier ones. Raises :class:`ParameterError` for
    an item without ``=`` (naming it), an empty item or an empty key.
    """
    if not text.strip():
        return {}
    params: dict[str, str] = {}
    for item in text.split(","):
        key, value = _parse_item(item, text)
        params[key] = value
    return params


def _parse_item(item: str, text: str) -> tuple[str, str]:
    if not item.strip():
        raise ParameterError(f"empty item in {text!r} (a stray comma?)")
    key, separator, value = item.partition("=")
    if not separator:
        raise ParameterError(f"{item.strip()!r} is not key=value")
    if not key.strip():
        raise ParameterError(f"{item.strip()!r} has an empty key")
    return key.strip(), value.strip()


def parse_json_object(text: str, *, source: str | None = None) -> Params:
    """Parse a JSON object; raises :class:`ParameterError` for bad JSON or another JSON type.

    ``source`` (a file name, a line) prefixes the error message.
    """
    where = f"{source}: " if source else ""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParameterError(f"{where}not valid JSON ({error})") from error
    if not isinstance(value, dict):
        raise ParameterError(f"{where}expected a JSON object, not {_json_type(value)}")
    return value


def merge_parameters(json_object: Params | None, groups: Iterable[dict[str, str]]) -> Params:
    """One group from a ``--json`` object and ``-p`` groups, later keys winning."""
    merged: Params = dict(json_object or {})
    for group in groups:
        merged.update(group)
    return merged


def parse_groups(text: str, *, source: str) -> list[Params]:
    """Parse groups of parameters: a JSON list of objects, or JSON Lines (one object per line).

    Blank lines in JSON Lines are skipped. Raises :class:`ParameterError`
    naming ``source`` (and the line or item) on anything else.
    """
    stripped = text.strip()
    if stripped.startswith("["):
        return _parse_group_list(stripped, source)
    return [
        parse_json_object(line, source=f"{source} line {number}")
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


def _parse_group_list(text: str, source: str) -> list[Params]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParameterError(f"{source}: not valid JSON ({error})") from error
    if not isinstance(items, list):
        raise ParameterError(f"{source}: expected a JSON list of objects")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ParameterError(
                f"{source}: item {index}: expected a JSON object, not {_json_type(item)}"
            )
    return items


def read_groups(path: Path) -> list[Params]:
    """Read a groups file (see :func:`parse_groups`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ParameterError(f"cannot read {path}: {error}") from error
    return parse_groups(text, source=str(path))


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")
