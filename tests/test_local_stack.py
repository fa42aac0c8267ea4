"""`faaspot up` as `make run` runs it, driven with the seed's curl examples, then stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from shared.settings import Settings
from tests.stackutil import remove_traces, stack_env

HELLO = 'def main(args, context):\n    return "Hello " + args.get("name", "world")\n'
UP_TIMEOUT_S = 120


def launcher(*args: str) -> list[str]:
    return [sys.executable, "-m", "services.launcher", *args]


def processes_with(prefix: str) -> list[int]:
    """Processes whose environment names this stack's prefix."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"FAASPOT_PREFIX={prefix}".encode() in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def wait_ready(home: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + UP_TIMEOUT_S
    while not (home / "ready").exists():
        assert process.poll() is None, "faaspot up exited early"
        assert time.monotonic() < deadline, "faaspot up did not get ready"
        time.sleep(0.2)


@pytest.fixture
def up_env(infra: None) -> Iterator[dict[str, str]]:
    prefix = "t" + uuid.uuid4().hex[:10]
    with tempfile.TemporaryDirectory(prefix="faaspot-up-") as tmp:
        env = stack_env(prefix, Path(tmp))
        del env["FAASPOT_CONTEXT_KEY"]  # `faaspot up` makes and keeps its own
        try:
            yield env
        finally:
            remove_traces(Settings(prefix=prefix, mongo_db=prefix))


def sh(script: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_faaspot_up_serves_the_seed_examples_and_stops_on_ctrl_c(up_env: dict[str, str]) -> None:
    home = Path(up_env["FAASPOT_HOME"])
    log_path = home / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen(launcher("up"), env=up_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(home, up)
        config = tomllib.loads(Path(up_env["FAASPOT_CONFIG"]).read_text())
        host = config["url"]
        assert host == f"http://127.0.0.1:{up_env['FAASPOT_PORT']}"
        env = {
            **up_env,
            "MY_TOKEN": config["token"],
            "MY_API_TOKEN": config["token"],
            "HOST": host,
            "THE_CODE": quote(HELLO.encode("utf-8")),
            "THE_CONTEXT": quote(b'access_key_is = "XYZ"\nsecret_access_key = "123"\n'),
        }
        created = sh(
            """curl -s -X PUT --header "Authorization: Token $MY_TOKEN" --header "Content-Type: application/json" \
--data '{"name": "hello", "code": "'"$THE_CODE"'", "context": "'"$THE_CONTEXT"'"}' $HOST/v1/functions/""",
            env,
        )
        assert '"name":"hello"' in created and "XYZ" not in created
        # The seed's URL is unquoted; a shell would cut it at '&', so it is quoted here.
        assert (
            sh(
                """curl -s -X GET --header "Authorization: Token $MY_API_TOKEN" \
"$HOST/v1/sync/functions/hello/rpc/?name=user1&PARAMETER_2=VALUE_2" """,
                env,
            )
            == '"Hello user1"'
        )
        record = sh(
            """EXECUTION_ID_STR=`curl -s --header "Authorization: Token $MY_API_TOKEN" $HOST/v1/functions/hello/rpc/?name=PARAM`
EXECUTION_ID=`sed -e 's/^"//' -e 's/"$//' <<< "$EXECUTION_ID_STR"`
sleep 1
curl -s --header "Authorization: Token $MY_API_TOKEN" $HOST/v1/executions/$EXECUTION_ID""",
            env,
        )
        assert '"result":"Hello PARAM"' in record
        one = sh(
            """curl -s -X POST --header "Content-Type: application/json" --header "Authorization: Token $MY_API_TOKEN" \
$HOST/v1/functions/hello/rpc/ -d '{"PARAMETER_1": "VALUE_1", "PARAMETER_2": "VALUE_2"}'""",
            env,
        )
        assert one.startswith('"') and len(one.strip('"')) == 36
        bulk = sh(
            """curl -s -X POST --header "Content-Type: application/json" --header "Authorization: Token $MY_API_TOKEN" \
$HOST/v1/functions/hello/bulk_rpc/ -d '[{"k1": "v1", "k2": "v2"}, {"k3": "v3", "k4": "v4"}]'""",
            env,
        )
        assert bulk.startswith("[") and bulk.count(",") == 1
        assert (
            sh(
                """curl -s -o /dev/null -w '%{http_code}' -X DELETE --header "Authorization: Token $MY_API_TOKEN" \
$HOST/v1/functions/hello""",
                env,
            )
            == "204"
        )
        assert processes_with(up_env["FAASPOT_PREFIX"])
    finally:
        up.send_signal(signal.SIGINT)
        assert up.wait(60) == 0
    output = log_path.read_text()
    assert "API URL: " in output and "token:" in output
    assert processes_with(up_env["FAASPOT_PREFIX"]) == []
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{host}/healthz", timeout=2)


def test_up_detach_returns_once_healthy_and_down_stops_it(up_env: dict[str, str]) -> None:
    started = subprocess.run(
        launcher("up", "--detach"), env=up_env, capture_output=True, text=True, timeout=UP_TIMEOUT_S
    )
    assert started.returncode == 0, started.stderr
    url = f"http://127.0.0.1:{up_env['FAASPOT_PORT']}"
    try:
        assert f"API URL: {url}" in started.stdout
        assert httpx.get(f"{url}/healthz").status_code == 200
        token = tomllib.loads(Path(up_env["FAASPOT_CONFIG"]).read_text())["token"]
        response = httpx.get(f"{url}/v1/functions/", headers={"Authorization": f"Token {token}"})
        assert response.status_code == 200
    finally:
        stopped = subprocess.run(
            launcher("down"), env=up_env, capture_output=True, text=True, timeout=150
        )
    assert stopped.returncode == 0, stopped.stderr
    assert processes_with(up_env["FAASPOT_PREFIX"]) == []
    assert not os.path.exists(Path(up_env["FAASPOT_HOME"]) / "faaspot.pid")
