"""Where the client finds the server and its token.

Precedence, highest first: explicit arguments, the environment
(``FAASPOT_URL``, ``FAASPOT_TOKEN``), the config file, :data:`DEFAULT_URL`.
The file is TOML with the keys ``url`` and ``token``, at
``~/.config/faaspot/config.toml`` unless ``FAASPOT_CONFIG`` names another path.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from faaspot.errors import ConfigError

DEFAULT_URL = "http://127.0.0.1:8080"
CONFIG_PATH_ENV = "FAASPOT_CONFIG"
URL_ENV = "FAASPOT_URL"
TOKEN_ENV = "FAASPOT_TOKEN"
CONFIG_FILE_MODE = 0o600  # the file holds a secret: owner only
CONFIG_DIR_MODE = 0o700  # applies only to directories we create


@dataclass(frozen=True)
class ClientConfig:
    """The server's base URL (no trailing slash) and the API token, if any."""

    url: str
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"invalid FaaSpot URL {self.url!r}: it must start with http(s)://")
        object.__setattr__(self, "url", self.url.rstrip("/"))


def config_path() -> Path:
    """The config file's path: ``$FAASPOT_CONFIG``, else ``~/.config/faaspot/config.toml``."""
    override = os.environ.get(CONFIG_PATH_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".config" / "faaspot" / "config.toml"


def load_config(url: str | None = None, token: str | None = None) -> ClientConfig:
    """Resolve the URL and token: explicit arguments > environment > config file > default.

    Empty values count as unset. Raises :class:`ConfigError` when the file is
    not valid TOML or the resulting URL is not an http(s) URL.
    """
    stored = _read_file(config_path())
    return ClientConfig(
        url=_first(url, os.environ.get(URL_ENV), stored.get("url")) or DEFAULT_URL,
        token=_first(token, os.environ.get(TOKEN_ENV), stored.get("token")),
    )


def write_config(url: str, token: str, path: Path | None = None) -> Path:
    """Write ``url`` and ``token`` to the config file (mode 0600) and return its path.

    ``path`` defaults to :func:`config_path`; missing parent directories are
    created. The file is replaced atomically, so readers never see half of it.
    """
    target = path if path is not None else config_path()
    target.parent.mkdir(parents=True, exist_ok=True, mode=CONFIG_DIR_MODE)
    content = tomli_w.dumps({"url": url, "token": token})
    # mkstemp creates the file with mode 0600 before any secret is written to it.
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".config-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(content)
        os.chmod(temporary, CONFIG_FILE_MODE)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _read_file(path: Path) -> dict[str, str]:
    """The file's string values for ``url`` and ``token``; empty when there is no file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from error
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from error
    return {key: _string(path, key, data[key]) for key in ("url", "token") if key in data}


def _string(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"config file {path}: {key!r} must be a string")
    return value


def _first(*values: str | None) -> str | None:
    """The first non-empty value."""
    return next((value for value in values if value), None)
