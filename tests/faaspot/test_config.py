"""Config precedence: explicit arguments > environment > file > default."""

import stat
from pathlib import Path

import pytest

from faaspot.config import DEFAULT_URL, ClientConfig, config_path, load_config, write_config
from faaspot.errors import ConfigError


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config path in a temporary directory, with no FAASPOT_URL/FAASPOT_TOKEN set."""
    path = tmp_path / "faaspot" / "config.toml"
    monkeypatch.setenv("FAASPOT_CONFIG", str(path))
    monkeypatch.delenv("FAASPOT_URL", raising=False)
    monkeypatch.delenv("FAASPOT_TOKEN", raising=False)
    return path


def test_config_path_defaults_to_the_user_config_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAASPOT_CONFIG", raising=False)
    monkeypatch.setenv("HOME", "/home/someone")
    assert config_path() == Path("/home/someone/.config/faaspot/config.toml")


def test_faaspot_config_overrides_the_path(config_file: Path) -> None:
    assert config_path() == config_file


def test_defaults_without_file_or_environment(config_file: Path) -> None:
    assert load_config() == ClientConfig(url=DEFAULT_URL, token=None)


def test_file_values_are_used(config_file: Path) -> None:
    write_config("http://files:1", "file-token")
    assert load_config() == ClientConfig(url="http://files:1", token="file-token")


def test_environment_overrides_the_file(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config("http://files:1", "file-token")
    monkeypatch.setenv("FAASPOT_URL", "http://env:2")
    monkeypatch.setenv("FAASPOT_TOKEN", "env-token")
    assert load_config() == ClientConfig(url="http://env:2", token="env-token")


def test_arguments_override_the_environment(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAASPOT_URL", "http://env:2")
    monkeypatch.setenv("FAASPOT_TOKEN", "env-token")
    config = load_config(url="http://arg:3", token="arg-token")
    assert config == ClientConfig(url="http://arg:3", token="arg-token")


def test_each_value_is_resolved_on_its_own(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config("http://files:1", "file-token")
    monkeypatch.setenv("FAASPOT_TOKEN", "env-token")
    assert load_config() == ClientConfig(url="http://files:1", token="env-token")


def test_empty_environment_values_count_as_unset(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config("http://files:1", "file-token")
    monkeypatch.setenv("FAASPOT_URL", "")
    monkeypatch.setenv("FAASPOT_TOKEN", "")
    assert load_config() == ClientConfig(url="http://files:1", token="file-token")


def test_trailing_slash_is_dropped(config_file: Path) -> None:
    assert load_config(url="http://host:8080/").url == "http://host:8080"


def test_url_without_scheme_is_a_config_error(config_file: Path) -> None:
    with pytest.raises(ConfigError, match="must start with http"):
        load_config(url="localhost:8080")


def test_invalid_toml_is_a_config_error(config_file: Path) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text("url = [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config()


def test_non_string_value_is_a_config_error(config_file: Path) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text("token = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'token' must be a string"):
        load_config()


def test_write_config_creates_parents_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "config.toml"
    assert write_config("http://h:1", "secret", path) == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8") == 'url = "http://h:1"\ntoken = "secret"\n'


def test_write_config_replaces_a_readable_file_and_restricts_it(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('url = "http://old:1"\n', encoding="utf-8")
    path.chmod(0o644)
    write_config("http://new:2", "t2", path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert 'url = "http://new:2"' in path.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temporary file left


def test_write_config_defaults_to_config_path(config_file: Path) -> None:
    assert write_config("http://h:1", "t") == config_file
    assert config_file.exists()


def test_token_is_kept_out_of_the_repr() -> None:
    assert "secret" not in repr(ClientConfig(url="http://h:1", token="secret"))
