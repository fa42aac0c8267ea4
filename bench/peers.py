"""The peers of ../shared/peers (Celery, the aio-pika floor), run as subprocesses in their venv.

They are called where they are, never copied. Where ../shared/peers is absent, or its
venv cannot be set up, the harness runs without them and says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bench import traces

ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = ROOT.parent / "shared" / "peers"
VENV_DIR = ROOT / ".bench" / "peers-venv"
STAMP = ".requirements.sha256"  # in the venv: hash of the requirements it was installed from
SCRIPTS = ("celery_bench", "amqp_floor")
INSTALL_TIMEOUT_S = 900.0
PEER_TIMEOUT_S = 1800.0  # a full Celery run takes ~4 min; a stuck one is cut off
INTERRUPT_GRACE_S = 60.0  # a peer cleans up its queues and database after SIGINT
PEER_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"  # the servers the peers use (fixed)
PEER_MONGO_URL = "mongodb://127.0.0.1:27017/"


class PeersUnavailable(Exception):
    """The peers cannot run here; the message says why."""


class PeerFailed(Exception):
    """One run of a peer script failed; the message says how."""


@dataclass(frozen=True)
class Peers:
    directory: Path
    python: Path


def locate(python: str | None, log_path: Path) -> Peers:
    """The peers and an interpreter with their requirements (a venv set up when needed)."""
    if not (PEERS_DIR / "celery_bench.py").is_file():
        raise PeersUnavailable(f"{PEERS_DIR} not found")
    if python is not None:
        return Peers(PEERS_DIR, Path(python))
    return Peers(PEERS_DIR, ensure_venv(VENV_DIR, PEERS_DIR / "requirements.txt", log_path))


def ensure_venv(venv: Path, requirements: Path, log_path: Path) -> Path:
    """The venv's python, after (re)installing ``requirements`` if they changed."""
    python = venv / "bin" / "python"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = venv / STAMP
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    print(f"setting up the peers' venv in {venv} (log: {log_path})", flush=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    with log_path.open("a") as log:
        _install_step([sys.executable, "-m", "venv", str(venv)], log)
        _install_step([*pip, "-r", str(requirements)], log)
    stamp.write_text(digest + "\n")
    return python


def _install_step(argv: list[str], log: IO[str]) -> None:
    try:
        subprocess.run(
            argv, stdout=log, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT_S, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise PeersUnavailable(f"could not set up the peers' venv: {exc}") from exc


def arguments(script: str, n: int, calls: int, celery_default_get: bool) -> list[str]:
    args = ["--n", str(n), "--calls", str(calls)]
    if script == "celery_bench" and not celery_default_get:
        args.append("--skip-default-get")
    return args


def run(peers: Peers, script: str, args: list[str], directory: Path) -> dict[str, Any]:
    """Run one peer script; its JSON line. Raises PeersUnavailable when it fails.

    The script runs in a session of its own, so that a Ctrl-C reaches it once, from us.
    After a failure its process group is ended and (Celery) its queues and database are
    deleted by their names, which derive from the run id we hand it in $BENCH_RUN.
    """
    run_id = uuid.uuid4().hex[:10]
    env = dict(os.environ, BENCH_RUN=run_id, PYTHONDONTWRITEBYTECODE="1")  # leave peers/ as is
    argv = [str(peers.python), f"{script}.py", *args]
    log_path = directory / f"{script}.log"
    with log_path.open("a") as log:
        log.write(f"== BENCH_RUN={run_id} {' '.join(argv)}\n")
        log.flush()
        process = subprocess.Popen(
            argv,
            cwd=peers.directory,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        try:
            stdout = _communicate(process)
        finally:
            with traces.uninterruptible():
                _stop(process)
                _end_group(process.pid)
                if script == "celery_bench":
                    _celery_aftermath(run_id, directory, clean=process.returncode != 0)
    if process.returncode != 0:
        raise PeerFailed(f"{script} exited with code {process.returncode}, see {log_path}")
    return _json_line(script, stdout)


def _communicate(process: subprocess.Popen[str]) -> str:
    try:
        stdout, _ = process.communicate(timeout=PEER_TIMEOUT_S)
        return stdout
    except subprocess.TimeoutExpired:
        raise PeerFailed(f"timed out after {PEER_TIMEOUT_S:g} s") from None


def _stop(process: subprocess.Popen[str]) -> None:
    """If it still runs (Ctrl-C, timeout): SIGINT, and time to clean up as it does on that."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    try:
        process.wait(INTERRUPT_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _json_line(script: str, stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            record: dict[str, Any] = json.loads(line)
            return record
    raise PeerFailed(f"{script} printed no JSON line")


def _end_group(pgid: int) -> None:
    """Stop whatever the script left running in its process group (an orphaned worker)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + INTERRUPT_GRACE_S
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def _celery_aftermath(run_id: str, directory: Path, *, clean: bool) -> None:
    """Keep the worker's log with our results; after a failure, delete the run's traces."""
    name = f"celerybench-{run_id}"
    worker_log = Path(f"/tmp/{name}.worker.log")  # the peer's fixed path
    if worker_log.exists():
        shutil.move(worker_log, directory / f"{name}.worker.log")
    if not clean:
        return
    Path(f"/tmp/{name}.ready").unlink(missing_ok=True)
    queues, exchanges = traces.listed(name)
    traces.delete_names(PEER_AMQP_URL, queues, [*exchanges, name, f"{name}.pidbox"])
    traces.drop_database(PEER_MONGO_URL, f"celerybench_{run_id}")
