"""The process that runs user code. Standard library only: it starts with ``python -I -S``.

Protocol on the inherited stdin/stdout (which this module moves out of the user's way):
frames of a 4-byte big-endian length and a UTF-8 JSON object. The executor first sends
``{"code", "context", "result_max", "logs_max", "memory_mb", "cpu_s"}``, then one
``{"params": "<JSON text>"}`` per call; each call is answered with
``{"status", "result", "error", "logs"}``. User code's own prints are captured per call;
output written straight to file descriptors 1 and 2 goes to the executor's log pipe.
"""

import io
import json
import os
import resource
import struct
import sys
import tomllib
import traceback

HEADER = struct.Struct(">I")
TRUNCATED = "\n[... output truncated ...]\n"


class BoundedText(io.TextIOBase):
    """A text sink that keeps the first ``limit`` characters and notes what it dropped."""

    def __init__(self, limit):
        self.limit = limit
        self.parts = []
        self.size = 0
        self.truncated = False

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        room = self.limit - self.size
        if len(text) > room:
            text = text[: max(room, 0)]
            self.truncated = True
        if text:
            self.parts.append(text)
            self.size += len(text)
        return len(text)

    def value(self):
        return "".join(self.parts) + (TRUNCATED if self.truncated else "")


def read_frame(stream):
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    return json.loads(stream.read(size))


def write_frame(stream, payload):
    data = json.dumps(payload).encode("utf-8")
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def error_info(exc, skip_frames=1):
    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is not None:
            tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return {"type": type(exc).__name__, "message": str(exc), "traceback": text}


def apply_limits(setup):
    memory = setup["memory_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu_s = int(setup["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))


def load(setup):
    """Run the module code once; return its ``main`` or the error that prevented it."""
    namespace = {"__name__": "faaspot_function", "__builtins__": __builtins__}
    try:
        context = tomllib.loads(setup["context"] or "")
        exec(compile(setup["code"], "<function>", "exec"), namespace)
        return namespace["main"], context, None
    except BaseException as exc:  # the module itself may raise anything, SystemExit too
        return None, None, error_info(exc)


def call(main, context, params, setup):
    out = BoundedText(setup["logs_max"])
    sys.stdout = sys.stderr = out
    try:
        value = main(json.loads(params), context)
        result = encode_result(value, setup["result_max"])
        return {"status": "completed", "result": result, "error": None, "logs": out.value()}
    except BaseException as exc:  # SystemExit, KeyboardInterrupt: still the function's fault
        return {"status": "failed", "result": None, "error": error_info(exc), "logs": out.value()}
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__


class ResultNotSerializable(Exception):
    pass


class ResultTooLarge(Exception):
    pass


def encode_result(value, result_max):
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ResultNotSerializable(f"the return value is not JSON-serialisable: {exc}") from None
    if len(text.encode("utf-8")) > result_max:
        raise ResultTooLarge(f"the return value is over the {result_max}-byte limit") from None
    return text


def serve(ctrl_in, ctrl_out):
    setup = read_frame(ctrl_in)
    if setup is None:
        return
    apply_limits(setup)
    main, context, load_error = load(setup)
    while (request := read_frame(ctrl_in)) is not None:
        if load_error is not None:
            reply = {"status": "failed", "result": None, "error": load_error, "logs": ""}
        else:
            reply = call(main, context, request["params"], setup)
        write_frame(ctrl_out, reply)


def take_over_stdio():
    """Keep the control pipes private; the user's fds 1 and 2 both go to the log pipe."""
    ctrl_in = os.fdopen(os.dup(0), "rb")
    ctrl_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    return ctrl_in, ctrl_out


if __name__ == "__main__":
    serve(*take_over_stdio())
