"""Runner-level fixtures: a real warm runner over real bwrap sandboxes, no broker needed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from services.executor.runner import FunctionKey, Job, Outcome
from services.executor.sandbox import BwrapLauncher, SandboxLimits
from services.executor.warm import WarmConfig, WarmRunner

MB = 1024 * 1024
TIMEOUT_S = 1.5  # small, so that the timeout cases stay fast
MEMORY_MB = 128

NORMAL = """
def main(args, context):
    return {"sum": args["a"] + args["b"]}
"""

TEST_CONFIG = WarmConfig(
    result_max=1024 * 1024,
    logs_max=64 * 1024,
    concurrency=2,
    prewarm=2,
    tmp_mb=16,
    memory_budget_mb=4096,
)


def new_key(tenant: str = "tenant-a") -> FunctionKey:
    return FunctionKey(tenant, "f" + uuid.uuid4().hex[:12], 1)


def job(
    code: str,
    params: bytes = b"{}",
    *,
    key: FunctionKey | None = None,
    context: str | None = None,
    timeout_s: float = TIMEOUT_S,
    memory_mb: int = MEMORY_MB,
) -> Job:
    """A job of a fresh function unless ``key`` says which."""
    return Job(
        key=key or new_key(),
        code=code,
        context=context,
        params=params,
        timeout_s=timeout_s,
        memory_mb=memory_mb,
    )


async def run_normal(runner: WarmRunner, key: FunctionKey | None = None) -> Outcome:
    return await runner.run(job(NORMAL, b'{"a": 2, "b": 3}', key=key))


@pytest.fixture(scope="module")
async def runner() -> AsyncIterator[WarmRunner]:
    """One sandboxed warm runner shared by a test module, as an executor shares it."""
    warm = WarmRunner(BwrapLauncher(SandboxLimits(tmp_bytes=TEST_CONFIG.tmp_mb * MB)), TEST_CONFIG)
    await warm.start()
    yield warm
    await warm.close()
