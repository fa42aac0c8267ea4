"""How worker processes start: inside a bubblewrap sandbox, or (unsafe) as plain children.

The sandbox (DESIGN.md, guarantee 7) gives each worker fresh user, pid, network, ipc, uts
and (where possible) cgroup namespaces; a root file system of its own holding only the
Python runtime and the worker script, read-only; a private tmpfs ``/tmp`` of bounded size;
no environment but a few fixed variables; a seccomp filter (``seccomp.py``); and uid/gid
65534 with no capabilities. When the worker's bwrap process dies, everything inside dies.

uid mapping: bwrap maps the sandbox uid onto the uid of whoever runs it. For an executor
running as root that would make user code host root (without capabilities, but owner of
every root file and exempt from RLIMIT_NPROC). So a root executor writes the mapping
itself (``--userns-block-fd``): sandbox uid 0 is root only for bwrap's own set-up, and the
worker drops to 65534, which is host uid 65534 too, before it reads any user code.

Limits: the worker sets RLIMIT_AS (the function's ``memory``), NPROC, NOFILE, FSIZE and
CORE when it is bound; the executor sets RLIMIT_CPU from outside before each call. Linux
(5.14 and later) counts RLIMIT_NPROC per uid *per user namespace*, and each worker has its
own: the limit bounds one worker, and a fork bomb in one sandbox cannot starve the others
though all run as uid 65534. (On older kernels the count is per host uid, shared by every
worker; the pid namespace still keeps each bomb inside its sandbox, and kills it with it.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import struct
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from services.executor import seccomp
from shared.errors import ConfigurationError

logger = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
NOBODY = 65534  # uid and gid of user code
SANDBOX_ROOT = Path("/faaspot")
SANDBOX_PYTHON = SANDBOX_ROOT / "python"  # where the runtime appears inside
SANDBOX_WORKER = SANDBOX_ROOT / "worker.py"
SPAWN_TIMEOUT_S = 10.0  # for bwrap to create the namespaces and report the child's pid
PT_INTERP = 3  # ELF program header type naming the dynamic loader


class SandboxUnavailable(ConfigurationError):
    """bwrap is missing or cannot create the namespaces here: the executor cannot start."""


class WorkerStartFailed(Exception):
    """A worker process could not be started."""


@dataclass
class Spawned:
    """A started worker process: ``process`` has stdin/stdout (control) and stderr (logs)."""

    process: asyncio.subprocess.Process
    init_pid: int  # host pid of the process whose child is the worker (itself when plain)


class Launcher(Protocol):
    """Starts worker processes, each speaking the protocol of ``worker.py``."""

    sandboxed: bool

    async def spawn(self) -> Spawned: ...


def minimal_env() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", "TMPDIR": "/tmp"}


class PlainLauncher:
    """``FAASPOT_SANDBOX=none``: plain children in their own session. Isolation, no sandbox."""

    sandboxed = False

    async def spawn(self) -> Spawned:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-S",
            "-B",
            str(WORKER_SCRIPT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            env=minimal_env(),
            cwd="/tmp",
        )
        return Spawned(process, process.pid)


@dataclass(frozen=True)
class Runtime:
    """The host files of the interpreter that runs workers (this one), and nothing more."""

    executable: Path
    stdlib: Path
    libpython: Path | None  # when the interpreter links a shared libpython
    library_dirs: tuple[Path, ...]  # the C library's directory, which holds its siblings
    loader: Path | None  # the ELF interpreter path the executable names

    @classmethod
    def current(cls) -> Runtime:
        shared = sysconfig.get_config_var("Py_ENABLE_SHARED")
        libdir = sysconfig.get_config_var("LIBDIR")
        soname = sysconfig.get_config_var("INSTSONAME")
        libpython = Path(libdir, soname).resolve() if shared and libdir and soname else None
        executable = Path(sys.executable).resolve()
        return cls(
            executable=executable,
            stdlib=Path(sysconfig.get_paths()["stdlib"]).resolve(),
            libpython=libpython,
            library_dirs=tuple(_mapped_library_dirs()),
            loader=_elf_interpreter(executable),
        )

    def binds(self) -> list[tuple[Path, Path]]:
        """(host path, sandbox path) pairs, all bound read-only."""
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        binds = [
            (self.executable, SANDBOX_PYTHON / "bin" / "python3"),
            (self.stdlib, SANDBOX_PYTHON / "lib" / version),
        ]
        if self.libpython is not None:
            binds.append((self.libpython, SANDBOX_PYTHON / "lib" / self.libpython.name))
        binds += [(directory, directory) for directory in self.library_dirs]
        if self.loader is not None:
            binds.append((self.loader.resolve(), self.loader))
        binds.append((WORKER_SCRIPT.resolve(), SANDBOX_WORKER))
        return binds

    def hidden(self) -> list[Path]:
        """Directories inside the bound stdlib that user code must not see (installed packages)."""
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        inside = SANDBOX_PYTHON / "lib" / version
        return [
            inside / name
            for name in ("site-packages", "dist-packages")
            if (self.stdlib / name).is_dir()
        ]

    def library_path(self) -> str:
        dirs = [str(SANDBOX_PYTHON / "lib")] if self.libpython else []
        return ":".join(dirs + [str(d) for d in self.library_dirs])


def _mapped_library_dirs() -> list[Path]:
    """The directory of the C library this process runs on, as the loader found it."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split(maxsplit=5)[-1].strip()
            if "/libc.so" in path or "/libc-" in path:
                return [Path(path).resolve().parent]
    return []


def _elf_interpreter(executable: Path) -> Path | None:
    """The PT_INTERP path of a 64-bit little-endian ELF (the dynamic loader), if any."""
    with open(executable, "rb") as elf:
        header = elf.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:
            return None
        (phoff,) = struct.unpack_from("<Q", header, 32)
        phentsize, phnum = struct.unpack_from("<HH", header, 54)
        for index in range(phnum):
            elf.seek(phoff + index * phentsize)
            entry = elf.read(phentsize)
            p_type, _, p_offset = struct.unpack_from("<IIQ", entry, 0)
            if p_type == PT_INTERP:
                (p_filesz,) = struct.unpack_from("<Q", entry, 32)
                elf.seek(p_offset)
                return Path(elf.read(p_filesz).rstrip(b"\0").decode())
    return None


@dataclass(frozen=True)
class SandboxLimits:
    tmp_bytes: int  # size of the private /tmp


class BwrapLauncher:
    """Workers under bubblewrap. Builds the command once; each spawn adds its own pipes."""

    sandboxed = True

    def __init__(
        self,
        limits: SandboxLimits,
        runtime: Runtime | None = None,
        bwrap: str | None = None,
        as_root: bool | None = None,
    ) -> None:
        found = bwrap or shutil.which("bwrap")
        if found is None:
            raise SandboxUnavailable(
                "bwrap (bubblewrap) is not installed: install it (apt-get install bubblewrap) "
                "or set FAASPOT_SANDBOX=none to run functions without a sandbox (unsafe)"
            )
        self.bwrap = found
        self.runtime = runtime or Runtime.current()
        self.limits = limits
        self.as_root = os.geteuid() == 0 if as_root is None else as_root
        self.filter = seccomp.filter_program()
        if self.filter is None:
            logger.warning("no seccomp filter for this architecture: user namespaces stay open")
        self.options = self.sandbox_options()

    def sandbox_options(self) -> list[str]:
        """Every bwrap option that does not depend on one spawn's file descriptors."""
        runtime = self.runtime
        options = [
            "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", "faaspot",
            "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "LANG", "C.UTF-8", "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
            "--setenv", "PATH", str(SANDBOX_PYTHON / "bin"),
            "--cap-drop", "ALL",
        ]  # fmt: skip
        if runtime.library_path():
            options += ["--setenv", "LD_LIBRARY_PATH", runtime.library_path()]
        if self.as_root:  # held by the worker until it drops to 65534 (module docstring)
            options += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            options += ["--uid", str(NOBODY), "--gid", str(NOBODY)]
        binds = runtime.binds()
        for directory in _parents([dest for _, dest in binds]):
            options += ["--perms", "0755", "--dir", str(directory)]
        for source, dest in binds:
            options += ["--ro-bind", str(source), str(dest)]
        for hidden in runtime.hidden():
            options += ["--tmpfs", str(hidden), "--remount-ro", str(hidden)]
        options += [
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(self.limits.tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp",
            "--remount-ro", "/", "--chdir", "/tmp",
        ]  # fmt: skip
        return options

    def command(self, fds: list[str]) -> list[str]:
        worker = [str(SANDBOX_PYTHON / "bin" / "python3"), "-I", "-S", "-B", str(SANDBOX_WORKER)]
        if self.as_root:
            worker += ["--drop-to", f"{NOBODY}:{NOBODY}"]
        return [self.bwrap, *self.options, *fds, "--", *worker]

    async def spawn(self) -> Spawned:
        with _SpawnPipes(self.filter, self.as_root) as pipes:
            process = await _start(
                self.command(pipes.options()),
                pipes.child_fds(),
            )
            pipes.close_child_ends()
            try:
                init_pid = await asyncio.wait_for(pipes.child_pid(), SPAWN_TIMEOUT_S)
                if self.as_root:
                    _map_ids(init_pid)
                    pipes.release_child()
            except (OSError, ValueError, TimeoutError) as exc:
                _kill(process)
                await process.wait()
                stderr = await process.stderr.read() if process.stderr else b""
                raise WorkerStartFailed(_bwrap_error(stderr, exc)) from exc
        return Spawned(process, init_pid)


async def _start(command: list[str], pass_fds: tuple[int, ...]) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            pass_fds=pass_fds,
            start_new_session=True,
            env={},  # bwrap's own environment shows in /proc/1/environ inside
            cwd="/",
        )  # no extra_groups=[] (it rules out vfork): the worker drops its groups itself
    except OSError as exc:
        raise WorkerStartFailed(f"bwrap could not be run: {exc}") from exc


def _parents(paths: list[Path]) -> list[Path]:
    """Every ancestor directory of ``paths`` (not ``/``), parents before children."""
    found = {parent for path in paths for parent in path.parents if parent != Path("/")}
    return sorted(found, key=lambda path: (len(path.parts), str(path)))


def _map_ids(pid: int) -> None:
    """Sandbox 0 = host 0 for bwrap's set-up, sandbox 65534 = host 65534 for user code."""
    mapping = f"0 0 1\n{NOBODY} {NOBODY} 1\n".encode()
    for name in ("uid_map", "gid_map"):
        fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY)
        try:
            os.write(fd, mapping)  # one write: the kernel takes the whole map at once
        finally:
            os.close(fd)


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, 9)


def _bwrap_error(stderr: bytes, exc: BaseException) -> str:
    said = stderr.decode("utf-8", errors="replace").strip() or type(exc).__name__
    return f"bwrap could not start the sandbox: {said}"


class _SpawnPipes:
    """The pipes of one bwrap spawn: seccomp program in, child info out, user-ns gate."""

    def __init__(self, program: bytes | None, gated: bool) -> None:
        self.program = program
        self.gated = gated
        self._fds: list[int] = []
        self.info_r, self.info_w = self._pipe()
        self.seccomp_r = -1
        if program is not None:
            self.seccomp_r, seccomp_w = self._pipe()
            os.write(seccomp_w, program)  # well under a pipe's capacity
            self._close(seccomp_w)
        self.gate_r, self.gate_w = self._pipe() if gated else (-1, -1)

    def _pipe(self) -> tuple[int, int]:
        read, write = os.pipe()
        self._fds += [read, write]
        return read, write

    def _close(self, fd: int) -> None:
        if fd in self._fds:
            self._fds.remove(fd)
            os.close(fd)

    def options(self) -> list[str]:
        options = ["--info-fd", str(self.info_w)]
        if self.seccomp_r >= 0:
            options += ["--seccomp", str(self.seccomp_r)]
        if self.gated:
            options += ["--userns-block-fd", str(self.gate_r)]
        return options

    def child_fds(self) -> tuple[int, ...]:
        return tuple(fd for fd in (self.info_w, self.seccomp_r, self.gate_r) if fd >= 0)

    def close_child_ends(self) -> None:
        for fd in self.child_fds():
            self._close(fd)

    async def child_pid(self) -> int:
        """bwrap writes a JSON object with ``child-pid`` and closes the pipe."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(self.info_r, "rb", 0)
        )
        self._fds.remove(self.info_r)  # the transport owns it now
        data = b""
        try:
            # Not up to EOF: the sandboxed child holds the pipe's other end until it starts.
            while chunk := await reader.read(4096):
                data += chunk
                with contextlib.suppress(ValueError):
                    return int(json.loads(data)["child-pid"])
        finally:
            transport.close()
        raise ValueError(f"bwrap reported no child pid ({data!r})")

    def release_child(self) -> None:
        os.write(self.gate_w, b"1")
        self._close(self.gate_w)

    def __enter__(self) -> _SpawnPipes:
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in list(self._fds):
            self._close(fd)
