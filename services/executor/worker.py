"""The process that runs user code. Standard library only: it starts with ``python -I -S -B``.

Life of a worker, over frames of a 4-byte big-endian length and a UTF-8 JSON object on
the inherited stdin/stdout (which this module moves out of the user's way):

1. It says ``{"ready": true, "uid": ...}`` as soon as the interpreter is up (and, given
   ``--drop-to UID:GID``, it dropped from the sandbox's root to that uid): a pre-warmed
   worker waits there, not yet bound to any function.
2. The executor binds it with one setup frame ``{"code", "context", "result_max",
   "logs_max", "memory_mb", "nproc", "nofile", "fsize_bytes"}``: the worker applies its
   limits, then runs the module code once.
3. Each ``{"params": "<JSON text>"}`` is one call, answered with ``{"status", "result",
   "error", "logs_truncated", "recycle"}``.

Output: the user's fds 1 and 2 and ``print`` all go, in order, to the log pipe (the
process's stderr). At the end of each call, after flushing, the worker writes
``END_MARK % seq`` there, then replies: the executor attributes everything before that
mark to the call. ``recycle`` asks the executor not to reuse this process (a call that
raised, or left threads or processes behind).
"""

from __future__ import annotations

import faulthandler
import io
import os
import resource
import struct
import sys

# What the worker uses once user code ran is bound here, at import: user code rebinding
# builtins or attributes of os, json or traceback (a monkeypatching library, say) breaks
# only itself, not the worker's replies.
from builtins import (  # noqa: UP029
    BaseException,
    RecursionError,
    TypeError,
    ValueError,
    any,
    int,
    len,
    max,
    open,
    str,
    type,
)
from json import dumps, loads
from os import _exit, getpid, listdir, write
from traceback import format_exception

TYPE_CHECKING = False  # typing costs start-up time: for mypy only
if TYPE_CHECKING:
    from typing import Any, BinaryIO

    Frame = dict[str, Any]

HEADER = struct.Struct(">I")
END_MARK = b"\x00\x1eFAASPOT-END %d\x1e\x00"  # ends the log output of call number %d
LOG_FD = 2
ERROR_TEXT_MAX = 16 * 1024  # characters of an error's message, and of its traceback
UNSHOWABLE = "<not shown: no memory left to format it (a very deep recursion?), or str() failed>"
WRITE_CHUNK = 8192  # bytes of a print() line buffered before they go to the log pipe


class LogStream(io.TextIOBase):
    """``sys.stdout`` and ``sys.stderr`` of user code: the log pipe, line-buffered, bounded.

    Keeps at most ``limit`` bytes per call and drops the rest (noting it), so that a
    function printing 100 MB costs neither memory nor pipe traffic.
    """

    def __init__(self, fd: int, limit: int) -> None:
        self.fd = fd
        self.limit = limit
        self.written = 0
        self.truncated = False
        self.pending: list[bytes] = []
        self.pending_size = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        data = text.encode("utf-8", errors="replace")
        room = self.limit - self.written
        if len(data) > room:
            data = data[: max(room, 0)]
            self.truncated = True
        if data:
            self.written += len(data)
            self.pending.append(data)
            self.pending_size += len(data)
            if self.pending_size >= WRITE_CHUNK or b"\n" in data:
                self.flush()  # line-buffered: what was printed before a crash is kept
        return len(text)

    def flush(self) -> None:
        data = b"".join(self.pending)
        self.pending.clear()
        self.pending_size = 0
        while data:
            data = data[write(self.fd, data) :]

    def next_call(self) -> None:
        self.written = 0
        self.truncated = False


def read_frame(stream: BinaryIO) -> Frame | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    frame: Frame = loads(stream.read(size))
    return frame


def write_frame(stream: BinaryIO, payload: Frame) -> None:
    data = dumps(payload, ensure_ascii=False).encode("utf-8", errors="replace")
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def error_info(exc: BaseException, skip_frames: int = 1) -> Frame:
    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is not None:
            tb = tb.tb_next
    try:
        message = str(exc)
        text = "".join(format_exception(type(exc), exc, tb))
    except BaseException:  # out of memory after a deep recursion; a __str__ that raises
        tb = exc.__traceback__ = None  # frees the frames the traceback held
        message, text = UNSHOWABLE, ""
    return {"type": type(exc).__name__, "message": _clip(message), "traceback": _clip(text)}


def _clip(text: str) -> str:
    if len(text) <= ERROR_TEXT_MAX:
        return text
    half = ERROR_TEXT_MAX // 2
    return text[:half] + "\n[... cut ...]\n" + text[-half:]


def take_over_stdio() -> tuple[BinaryIO, BinaryIO]:
    """Keep the control pipes private; the user's fds 1 and 2 both go to the log pipe.

    Every other inherited descriptor is closed, so user code finds nothing open but
    its own stdin (``/dev/null``) and the log pipe.
    """
    ctrl_in_fd = os.dup(0)
    ctrl_out_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(LOG_FD, 1)
    os.close(devnull)
    low, high = sorted((ctrl_in_fd, ctrl_out_fd))
    for start, stop in ((3, low), (low + 1, high), (high + 1, os.sysconf("SC_OPEN_MAX"))):
        os.closerange(start, stop)
    return os.fdopen(ctrl_in_fd, "rb"), os.fdopen(ctrl_out_fd, "wb")


def drop_privileges(argv: list[str]) -> None:
    """``--drop-to UID:GID``: the sandbox starts us as its root; user code never runs so."""
    if "--drop-to" not in argv:
        return
    uid, gid = (int(part) for part in argv[argv.index("--drop-to") + 1].split(":"))
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # clears every capability the sandbox left us


def apply_limits(setup: Frame) -> None:
    """Limits that hold for the worker's whole life. CPU time is set per call by the executor."""
    limits = {
        resource.RLIMIT_NPROC: setup["nproc"],
        resource.RLIMIT_NOFILE: setup["nofile"],
        resource.RLIMIT_FSIZE: setup["fsize_bytes"],
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_AS: setup["memory_mb"] * 1024 * 1024,
    }
    for kind, value in limits.items():
        resource.setrlimit(kind, (value, value))


def load(setup: Frame) -> tuple[Any, Any, Frame | None]:
    """Run the module code once; return its ``main`` and context, or what prevented it."""
    namespace: dict[str, Any] = {"__name__": "faaspot_function", "__builtins__": __builtins__}
    try:
        context = parse_context(setup["context"])
        exec(compile(setup["code"], "<function>", "exec"), namespace)
        return namespace["main"], context, None
    except BaseException as exc:  # the module itself may raise anything, SystemExit too
        return None, None, error_info(exc)


def parse_context(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    import tomllib  # here: a third of the start-up time, and most functions have no context

    return tomllib.loads(text)


class ResultNotSerializable(Exception):
    pass


class ResultTooLarge(Exception):
    pass


def encode_result(value: Any, result_max: int) -> str:
    try:
        text = dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ResultNotSerializable(f"the return value is not JSON-serialisable: {exc}") from None
    if len(text.encode("utf-8", errors="replace")) > result_max:
        raise ResultTooLarge(f"the return value is over the {result_max}-byte limit") from None
    return text


def call(main: Any, context: Any, params: str, result_max: int) -> Frame:
    try:
        value = main(loads(params), context)
        result = encode_result(value, result_max)
        return {"status": "completed", "result": result, "error": None}
    except BaseException as exc:  # SystemExit, KeyboardInterrupt: still the function's fault
        return {"status": "failed", "result": None, "error": error_info(exc)}


def left_behind(own_pid: int) -> bool:
    """Did user code leave threads or processes running (or unreaped) after its call?"""
    if len(listdir("/proc/self/task")) > 1:
        return True
    if own_pid == 2:  # pid 2 of our own pid namespace: every process here is ours or init
        return any(name.isdigit() and int(name) not in (1, own_pid) for name in listdir("/proc"))
    for tid in listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/children") as children:
            if children.read().strip():
                return True
    return False


class Worker:
    def __init__(self, ctrl_in: BinaryIO, ctrl_out: BinaryIO) -> None:
        self.ctrl_in = ctrl_in
        self.ctrl_out = ctrl_out
        self.pid = getpid()
        self.calls = 0

    def serve(self) -> None:
        write_frame(self.ctrl_out, {"ready": True, "uid": os.getuid()})
        setup = read_frame(self.ctrl_in)
        if setup is None:
            return
        apply_limits(setup)
        logs = LogStream(LOG_FD, setup["logs_max"])
        sys.stdout = sys.stderr = logs
        main, context, load_error = load(setup)
        while (request := read_frame(self.ctrl_in)) is not None:
            logs.next_call()
            if load_error is not None:
                reply = {"status": "failed", "result": None, "error": load_error}
            else:
                reply = call(main, context, request["params"], setup["result_max"])
            self.answer(reply, logs)

    def answer(self, reply: Frame, logs: LogStream) -> None:
        if getpid() != self.pid:
            _exit(70)  # a fork of user code came back here: only the worker answers
        self.calls += 1
        reply["recycle"] = reply["status"] != "completed" or left_behind(self.pid)
        logs.flush()
        reply["logs_truncated"] = logs.truncated
        write(LOG_FD, END_MARK % self.calls)
        write_frame(self.ctrl_out, reply)


def main() -> None:
    ctrl_in, ctrl_out = take_over_stdio()
    drop_privileges(sys.argv)
    faulthandler.enable(file=LOG_FD)  # a crash leaves a Python traceback in the logs
    Worker(ctrl_in, ctrl_out).serve()


if __name__ == "__main__":
    main()
