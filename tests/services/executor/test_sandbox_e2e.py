"""The sandbox through the whole platform: HTTP in, a real executor, HTTP out."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Deploy
from tests.stackutil import RunningStack

HELLO = "def main(args, context):\n    return 'Hello ' + args.get('name', 'world')\n"

HOSTILE = {
    "exit": ("import os\n\ndef main(args, context):\n    os._exit(0)\n", 502, "WorkerCrashed"),
    "segfault": (
        "import ctypes\n\ndef main(args, context):\n    ctypes.string_at(0)\n",
        502,
        "WorkerCrashed",
    ),
    "loop": ("def main(args, context):\n    while True:\n        pass\n", 504, "ExecutionTimedOut"),
    "memory": ("def main(args, context):\n    bytearray(10 * 1024 ** 3)\n", 502, "MemoryError"),
    "exit-call": ("import sys\n\ndef main(args, context):\n    sys.exit(3)\n", 502, "SystemExit"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_function_fails_and_the_executor_keeps_serving(
    api: httpx.Client, deploy: Deploy, name: str, case: str
) -> None:
    code, status, error_type = HOSTILE[case]
    deploy(f"{name}-{case}", code, timeout=1, memory=64)
    response = api.get(f"/v1/sync/functions/{name}-{case}/rpc/")
    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == error_type
    deploy(name, HELLO)
    response = api.get(f"/v1/sync/functions/{name}/rpc/", params={"name": "after"})
    assert (response.status_code, response.json()) == (200, "Hello after")


def test_the_platforms_secrets_are_invisible_to_functions(
    stack: RunningStack, api: httpx.Client, deploy: Deploy, name: str
) -> None:
    code = """
import os

def main(args, context):
    seen = [sorted(os.listdir("/")), dict(os.environ)]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            seen.append(open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace"))
        except OSError as exc:
            seen.append(repr(exc))
    return seen
"""
    deploy(name, code)
    response = api.get(f"/v1/sync/functions/{name}/rpc/")
    assert response.status_code == 200, response.text
    for variable in ("FAASPOT_CONTEXT_KEY", "FAASPOT_AMQP_URL", "FAASPOT_MONGO_URL"):
        assert stack.env[variable] not in response.text
        assert variable not in response.text
    assert response.json()[0] == ["dev", "faaspot", "lib64", "proc", "tmp", "usr"]


def test_warm_calls_reuse_a_worker_until_the_function_is_replaced(
    api: httpx.Client, deploy: Deploy, name: str
) -> None:
    code = """
import os
TOKEN = os.urandom(8).hex()

def main(args, context):
    return [VERSION, TOKEN]
"""
    deploy(name, "VERSION = 1\n" + code)
    first = [api.get(f"/v1/sync/functions/{name}/rpc/").json() for _ in range(5)]
    assert all(answer == first[0] for answer in first), first  # one warm worker served all
    deploy(name, "VERSION = 2\n" + code)
    version, token = api.get(f"/v1/sync/functions/{name}/rpc/").json()
    assert version == 2 and token != first[0][1]
