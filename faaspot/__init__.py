"""FaaSpot's Python client and ``fas`` CLI.

>>> from faaspot import Faaspot
>>> faaspot = Faaspot()                                   # doctest: +SKIP
>>> faaspot.functions.run("hello", {"name": "user1"}, wait=True)  # doctest: +SKIP
'Hello user1'
"""

from importlib import metadata

from faaspot.client import AsyncFaaspot, Faaspot
from faaspot.config import DEFAULT_URL, ClientConfig, config_path, load_config, write_config
from faaspot.errors import (
    AuthenticationError,
    ConfigError,
    ExecutionError,
    ExecutionTimeout,
    FaaspotError,
    FunctionCreationFailed,
    FunctionError,
    NotFoundError,
    ServerError,
    ServerUnreachable,
    ValidationError,
    WaitTimeout,
)

__version__ = metadata.version("faaspot")

__all__ = [
    "DEFAULT_URL",
    "AsyncFaaspot",
    "AuthenticationError",
    "ClientConfig",
    "ConfigError",
    "ExecutionError",
    "ExecutionTimeout",
    "Faaspot",
    "FaaspotError",
    "FunctionCreationFailed",
    "FunctionError",
    "NotFoundError",
    "ServerError",
    "ServerUnreachable",
    "ValidationError",
    "WaitTimeout",
    "__version__",
    "config_path",
    "load_config",
    "write_config",
]
