"""Configuration, read once from the environment (``FAASPOT_*``) at start-up and passed down."""

from __future__ import annotations

import os

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every tunable of the platform. Field ``foo_bar`` is read from ``FAASPOT_FOO_BAR``."""

    model_config = SettingsConfigDict(env_prefix="FAASPOT_", frozen=True, extra="ignore")

    # Infrastructure
    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    mongo_url: SecretStr = SecretStr("mongodb://127.0.0.1:27017")
    mongo_db: str = "faaspot"
    prefix: str = Field(default="faaspot", pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    # Local stack (`faaspot up`)
    home: str = "~/.local/share/faaspot"  # state: MongoDB data, context key, logs

    # HTTP API
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    sync_wait: float = Field(default=60.0, gt=0)  # seconds a blocking call waits before 202
    bulk_max: int = Field(default=10_000, ge=1)  # parameter groups in one bulk_rpc
    code_max: int = Field(default=1024 * 1024, ge=1)  # bytes of decoded function code
    params_max: int = Field(default=1024 * 1024, ge=2)  # bytes of one parameter group (JSON)
    body_max: int = Field(default=64 * 1024 * 1024, ge=1024)  # bytes of any request body
    cache_ttl: float = Field(default=5.0, ge=0)  # s the API caches a token or function

    # Function limits: defaults and the maxima a create may ask for
    timeout_default: float = Field(default=30.0, gt=0)
    timeout_max: float = Field(default=900.0, gt=0)
    memory_default: int = Field(default=256, ge=16)
    memory_max: int = Field(default=4096, ge=16)
    versions_kept: int = Field(default=10, ge=1)  # old versions kept for queued executions

    # Context encryption (Fernet key, urlsafe base64 of 32 bytes)
    context_key: SecretStr | None = None

    # Executor
    executors: int = Field(default=1, ge=1)  # executor processes `faaspot up` starts
    # Calls in flight per lane: a few per core hide the pipe and broker round trips.
    executor_concurrency: int = Field(default=8 * (os.cpu_count() or 2), ge=1)
    batch_prefetch: int = Field(default=256, ge=1)  # unacked batch invocations held
    logs_max: int = Field(default=64 * 1024, ge=0)  # bytes of captured stdout/stderr
    result_max: int = Field(default=1024 * 1024, ge=1)  # bytes of a JSON result
    executor_max_runs: int = Field(default=1000, ge=1)  # calls a warm worker serves, then replaced
    executor_idle_ttl: float = Field(default=300.0, gt=0)  # s a warm worker may stay idle
    executor_workers_max: int = Field(default=32, ge=1)  # worker processes (see README)
    executor_memory_budget: int = Field(default=0, ge=0)  # MB workers may reserve; 0: half the RAM
    executor_prewarm: int = Field(default=2, ge=0)  # unbound workers kept ready for cold calls
    sandbox: str = Field(default="bwrap", pattern=r"^(bwrap|none)$")
    sandbox_tmp_mb: int = Field(default=64, ge=1)  # MB of each worker's /tmp (and RLIMIT_FSIZE)
    sandbox_nproc: int = Field(default=32, ge=1)  # processes+threads per worker (RLIMIT_NPROC)
    sandbox_nofile: int = Field(default=256, ge=16)  # open files per worker (RLIMIT_NOFILE)
    running_after: float = Field(default=0.05, ge=0)  # s before a run is reported `running`

    # Messaging
    rpc_timeout: float = Field(default=10.0, gt=0)  # seconds an RPC waits for its reply
    delivery_limit: int = Field(default=5, ge=1)  # deliveries before dead-lettering
    results_batch: int = Field(default=500, ge=1)  # results written per bulk_write

    def amqp(self) -> str:
        return self.amqp_url.get_secret_value()

    def mongo(self) -> str:
        return self.mongo_url.get_secret_value()
