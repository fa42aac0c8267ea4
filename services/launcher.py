"""The `faaspot` command: run the local stack (`up`, `down`) or one service (`service`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import click
import httpx

from faaspot.config import load_config, write_config
from services import infra
from services.registry.crypto import new_key
from services.stack import Stack
from shared.settings import Settings

LOCAL_TENANT = "local"
DETACH_TIMEOUT_S = 600.0  # `up --detach` may install RabbitMQ first
CHILD_POLL_S = 0.5


def home_of(settings: Settings) -> Path:
    home = Path(settings.home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def context_key(settings: Settings, home: Path) -> str:
    """The configured key, else the one kept in the home folder (made on first use)."""
    if settings.context_key is not None:
        return settings.context_key.get_secret_value()
    path = home / "context.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(new_key())
    return path.read_text().strip()


def token_still_valid(url: str, token: str) -> bool:
    try:
        response = httpx.get(
            f"{url}/v1/functions/",
            params={"limit": 1},
            headers={"Authorization": f"Token {token}"},
            timeout=10.0,
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def local_token(stack: Stack) -> str:
    """Keep the token already configured for this URL when it still works."""
    configured = load_config()
    same_stack = configured.url == stack.url and configured.token
    if same_stack and configured.token and token_still_valid(stack.url, configured.token):
        return configured.token
    return stack.create_token(LOCAL_TENANT)


class Stopped(Exception):
    """SIGTERM or SIGINT reached the launcher."""


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


def run_foreground(settings: Settings) -> None:
    home = home_of(settings)
    (home / "ready").unlink(missing_ok=True)
    cleanups: list[Callable[[], None]] = []
    signal.signal(signal.SIGTERM, _raise_stopped)
    signal.signal(signal.SIGINT, _raise_stopped)
    try:
        for started in (
            infra.ensure_rabbitmq(settings.amqp()),
            infra.ensure_mongo(settings.mongo(), data_dir=home / "mongo"),
        ):
            if started is not None:
                cleanups.append(started.stop)
        env = {**os.environ, "FAASPOT_CONTEXT_KEY": context_key(settings, home)}
        stack = Stack(settings, env)
        cleanups.append(stack.stop)
        stack.start()
        stack.wait_healthy()
        token = local_token(stack)
        path = write_config(stack.url, token)
        announce(stack.url, token, path)
        (home / "ready").write_text(f"{stack.url}\n{token}\n{path}\n")
        while True:
            stack.check_alive()
            time.sleep(CHILD_POLL_S)
    except Stopped:
        click.echo("\nstopping FaaSpot...", err=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup
        for cleanup in reversed(cleanups):
            cleanup()
        (home / "ready").unlink(missing_ok=True)


def announce(url: str, token: str, path: Path) -> None:
    click.echo(
        f"\nFaaSpot is running.\n  API URL: {url}\n  token:   {token}\n"
        f"  (saved to {path}, where `fas` and the Python client read them)\n"
        "Press Ctrl-C to stop.\n"
    )


def run_detached(settings: Settings) -> None:
    home = home_of(settings)
    (home / "ready").unlink(missing_ok=True)
    log_path = home / "faaspot.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.launcher", "up"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (home / "faaspot.pid").write_text(str(process.pid))
    deadline = time.monotonic() + DETACH_TIMEOUT_S
    while not (home / "ready").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise click.ClickException(f"FaaSpot did not start; see {log_path}")
        time.sleep(CHILD_POLL_S)
    url, token, path = (home / "ready").read_text().split("\n")[:3]
    announce(url, token, Path(path))
    click.echo(
        f"running in the background (pid {process.pid}, log {log_path}); stop it with: faaspot down"
    )


@click.group()
def main() -> None:
    """Run FaaSpot: the whole local stack, or one service of a fleet."""


@main.command()
@click.option("--detach", is_flag=True, help="Start in the background; return once healthy.")
def up(detach: bool) -> None:
    """Start RabbitMQ and MongoDB if needed, then all four services."""
    settings = Settings()
    if detach:
        run_detached(settings)
    else:
        run_foreground(settings)


@main.command()
def down() -> None:
    """Stop a stack started with `faaspot up --detach`."""
    pid_path = home_of(Settings()) / "faaspot.pid"
    if not pid_path.exists():
        raise click.ClickException("no detached FaaSpot is running (no pid file)")
    pid = int(pid_path.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_path.unlink()
        raise click.ClickException(f"process {pid} is gone already") from None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(CHILD_POLL_S)
    pid_path.unlink(missing_ok=True)
    click.echo("FaaSpot stopped")


@main.command()
@click.argument("name", type=click.Choice(["api", "registry", "executor", "results"]))
def service(name: str) -> None:
    """Run one service in the foreground (for fleets: any number of executors)."""
    if name == "api":
        from services.api.app import main as run
    elif name == "registry":
        from services.registry.service import main as run
    elif name == "executor":
        from services.executor.service import main as run
    else:
        from services.results.service import main as run
    run()


@main.command()
def keygen() -> None:
    """Print a new FAASPOT_CONTEXT_KEY."""
    click.echo(new_key())


@main.command("token")
@click.argument("tenant")
def token_create(tenant: str) -> None:
    """Create a tenant (if needed) and print a new token for it."""
    import asyncio

    from services.stack import create_token

    click.echo(asyncio.run(create_token(Settings(), tenant)))


if __name__ == "__main__":
    main()
