"""Validation of function code and context, before anything is stored."""

from __future__ import annotations

import ast
import tomllib

from shared.errors import InvalidCode, InvalidContext, InvalidLimits, PayloadTooLarge
from shared.settings import Settings

MEMORY_MIN_MB = 16  # below this no Python interpreter starts


def check_code(code: str, code_max: int) -> None:
    """Refuse code that is too large, does not parse, or lacks ``def main(args, context)``."""
    size = len(code.encode("utf-8"))
    if size > code_max:
        raise PayloadTooLarge(f"code is {size} bytes; the limit is {code_max} bytes")
    tree = _parse(code)
    mains = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "main"
    ]
    if not mains:
        raise InvalidCode("no top-level function main(args, context) found")
    _check_main(mains[-1])


def _parse(code: str) -> ast.Module:
    try:
        return ast.parse(code, filename="<function>")
    except SyntaxError as exc:
        if exc.lineno is None:
            raise InvalidCode(f"code cannot be parsed: {exc.msg}") from exc
        raise InvalidCode(f"syntax error at line {exc.lineno}: {exc.msg}") from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise InvalidCode(f"code cannot be parsed: {exc}") from exc


def _check_main(main: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    where = f"line {main.lineno}"
    if isinstance(main, ast.AsyncFunctionDef):
        raise InvalidCode(f"{where}: main must be a plain 'def', not 'async def'")
    args = main.args
    positional = [a.arg for a in args.posonlyargs + args.args]
    required_kwonly = [
        a.arg for a, default in zip(args.kwonlyargs, args.kw_defaults, strict=True) if not default
    ]
    if len(positional) != 2 or args.vararg or args.kwarg or required_kwonly:
        raise InvalidCode(
            f"{where}: main must take exactly two positional parameters (args, context); "
            f"it takes ({ast.unparse(args)})"
        )


def check_context(context: str) -> None:
    """The context is ``key = "value"`` lines: TOML."""
    try:
        tomllib.loads(context)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidContext(f"context is not valid: {exc}") from exc


def resolve_limits(
    settings: Settings, timeout_s: float | None, memory_mb: int | None
) -> tuple[float, int]:
    """Apply defaults and refuse values outside the allowed range."""
    timeout_s = settings.timeout_default if timeout_s is None else timeout_s
    memory_mb = settings.memory_default if memory_mb is None else memory_mb
    if not 0 < timeout_s <= settings.timeout_max:
        raise InvalidLimits(f"timeout must be in (0, {settings.timeout_max:g}] seconds")
    if not MEMORY_MIN_MB <= memory_mb <= settings.memory_max:
        raise InvalidLimits(f"memory must be in [{MEMORY_MIN_MB}, {settings.memory_max}] MB")
    return timeout_s, memory_mb
