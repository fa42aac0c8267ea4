"""The CLI and the Python client against the running stack (the `stack` session fixture).

Covers every CLI and Python example of the user documentation verbatim, then
every command and call, then the error paths. Tests that touch the shared
tenant use unique function names; the documentation's examples, which use
fixed names, run in a fresh tenant.
"""

import ast
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from faaspot import (
    AsyncFaaspot,
    AuthenticationError,
    ExecutionTimeout,
    Faaspot,
    FunctionError,
    NotFoundError,
    ServerUnreachable,
    ValidationError,
    WaitTimeout,
)

HELLO = "def main(args, context):\n    return 'Hello ' + args.get('name', 'world')\n"
ECHO = "def main(args, context):\n    return args\n"
FAILING = "def main(args, context):\n    raise ValueError('bad input: ' + args.get('x', ''))\n"
SLOW = (
    "import time\n\n"
    "def main(args, context):\n    time.sleep(float(args.get('s', '3')))\n    return 'slept'\n"
)
CONTEXT_READER = "def main(args, context):\n    return context.get('secret_access_key')\n"
SEED_CONTEXT = 'access_key_is = "XYZ"\nsecret_access_key = "123"\n'
UUID_PATTERN = r"[0-9A-Za-z-]+"  # an execution id as printed: one token
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class Stack(Protocol):
    """What tests/conftest.py's `stack` fixture provides."""

    url: str
    token: str
    env: dict[str, str]

    def new_token(self) -> str: ...


class Fas:
    """Runs the installed ``fas`` in a subprocess with a given environment and directory."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd

    def __call__(self, *args: str, timeout_s: float = 100) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*fas_command(), *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def ok(self, *args: str) -> str:
        """Run a command that must succeed; return its stdout."""
        completed = self(*args)
        assert completed.returncode == 0, completed.stderr
        return completed.stdout

    def shell(self, script: str) -> subprocess.CompletedProcess[str]:
        """Run a bash script in which ``fas`` is the installed command."""
        bin_dir = Path(sys.executable).parent
        prelude = "" if (bin_dir / "fas").exists() else 'fas() { "$PYTHON" -m faaspot.cli "$@"; }\n'
        env = {**self.env, "PATH": f"{bin_dir}{os.pathsep}{self.env.get('PATH', '')}"}
        env["PYTHON"] = sys.executable
        return subprocess.run(
            ["bash", "-c", "set -e\n" + prelude + script],
            env=env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=100,
            check=False,
        )


def fas_command() -> list[str]:
    """The installed ``fas`` script next to this Python, else ``python -m faaspot.cli``."""
    script = Path(sys.executable).with_name("fas")
    return [str(script)] if script.exists() else [sys.executable, "-m", "faaspot.cli"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def unknown_execution_id() -> str:
    """A well-formed execution id (a UUIDv7, as the server makes them) that names nothing."""
    value = uuid.uuid4().int & ~(0xF << 76) | (0x7 << 76)
    return str(uuid.UUID(int=value))


def run_snippet(code: str, namespace: dict[str, Any]) -> Any:
    """Execute documentation code; return the value of its last line if that is an expression."""
    tree = ast.parse(code)
    last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    body = tree.body[:-1] if last is not None else tree.body
    exec(compile(ast.Module(body=body, type_ignores=[]), "<doc>", "exec"), namespace)
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), "<doc>", "eval"), namespace)


def wait_ready(client: Faaspot, name: str) -> None:
    """Poll until the function is no longer being created (the docs' create does not wait)."""
    deadline = time.monotonic() + 60
    while client.functions.get(name)["status"] == "creating":
        assert time.monotonic() < deadline, f"{name} still creating after 60 s"
        time.sleep(0.2)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A directory with the test functions' files."""
    files = {
        "hello.py": HELLO,
        "echo.py": ECHO,
        "failing.py": FAILING,
        "slow.py": SLOW,
        "context_reader.py": CONTEXT_READER,
        "context.txt": SEED_CONTEXT,
    }
    for file_name, text in files.items():
        (tmp_path / file_name).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.fixture
def fas(stack: Stack, workdir: Path) -> Fas:
    """``fas`` for the shared tenant."""
    return Fas(stack.env, workdir)


@pytest.fixture
def fresh_env(stack: Stack, tmp_path: Path) -> dict[str, str]:
    """An environment for a fresh, empty tenant, with its own config file."""
    config = tmp_path / "fresh-config.toml"
    return {
        **stack.env,
        "FAASPOT_TOKEN": stack.new_token(),
        "FAASPOT_CONFIG": str(config),
    }


@pytest.fixture
def client(stack: Stack) -> Iterator[Faaspot]:
    with Faaspot(stack.url, stack.token) as faaspot:
        yield faaspot


@pytest.fixture
def make_function(client: Faaspot) -> Iterator[Callable[..., str]]:
    """Create ready functions with unique names; delete them afterwards."""
    created: list[str] = []

    def make(code: str, prefix: str = "fn", **options: Any) -> str:
        name = unique(prefix)
        client.functions.create(name, code=code, wait=True, **options)
        created.append(name)
        return name

    yield make
    for name in created:
        with contextlib.suppress(NotFoundError):
            client.functions.delete(name)


@pytest.fixture
def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# The documentation's CLI examples, verbatim, in a fresh tenant


def test_doc_cli_examples(fresh_env: dict[str, str], workdir: Path) -> None:
    (workdir / "FILE_PATH").write_text(ECHO, encoding="utf-8")
    fas = Fas(fresh_env, workdir)

    created = fas("functions", "create", "FUNCTION_NAME", "--file", "FILE_PATH")
    assert (created.returncode, created.stdout) == (0, "created FUNCTION_NAME (version 1)\n")
    fas.ok("functions", "create", "hello", "--file", "hello.py", "--wait")
    with Faaspot(fresh_env["FAASPOT_URL"], fresh_env["FAASPOT_TOKEN"]) as faaspot:
        wait_ready(faaspot, "FUNCTION_NAME")

    # $ fas functions run hello --parameters "name=user1" --wait
    assert (
        fas.ok("functions", "run", "hello", "--parameters", "name=user1", "--wait")
        == "Hello user1\n"
    )

    # $ fas functions run FUNCTION_NAME -p "param_1=value_1, param_2=value_2" --wait
    params = "param_1=value_1, param_2=value_2"
    out = fas.ok("functions", "run", "FUNCTION_NAME", "-p", params, "--wait")
    assert json.loads(out) == {"param_1": "value_1", "param_2": "value_2"}

    # $ UUID=`fas functions run hello --parameters "name=user1"`
    # $ fas executions get $UUID
    shell = fas.shell(
        'UUID=`fas functions run hello --parameters "name=user1"`\n'
        'echo "$UUID" > uuid.txt\n'
        "fas executions get $UUID\n"
    )
    assert shell.returncode == 0, shell.stderr
    execution_id = (workdir / "uuid.txt").read_text(encoding="utf-8").strip()
    assert re.fullmatch(UUID_PATTERN, execution_id)
    record = json.loads(shell.stdout)
    assert (record["id"], record["function"]) == (execution_id, "hello")
    assert record["parameters"] == {"name": "user1"}
    assert record["status"] in {"pending", "running", "completed"}

    # $ fas functions run_bulk FUNCTION_NAME -p "k1=v1, k2=v2" -p "k3=v3, k4=v4"
    out = fas.ok(
        "functions", "run_bulk", "FUNCTION_NAME", "-p", "k1=v1, k2=v2", "-p", "k3=v3, k4=v4"
    )
    ids = out.split()
    assert len(ids) == 2 and len(set(ids)) == 2
    waited = json.loads(fas.ok("executions", "wait", *ids, "--output", "json"))
    assert [r["result"] for r in waited] == [{"k1": "v1", "k2": "v2"}, {"k3": "v3", "k4": "v4"}]

    # $ fas functions delete FUNCTION_NAME
    assert fas.ok("functions", "delete", "FUNCTION_NAME") == "deleted FUNCTION_NAME\n"
    gone = fas("functions", "get", "FUNCTION_NAME")
    assert gone.returncode == EXIT_FAILURE
    assert gone.stderr.startswith("error: ")


def test_doc_context_file_example(fresh_env: dict[str, str], workdir: Path) -> None:
    fas = Fas(fresh_env, workdir)
    fas.ok(
        "functions", "create", "reader", "--file", "context_reader.py",
        "--context-file", "context.txt", "--wait",
    )  # fmt: skip
    assert fas.ok("functions", "run", "reader", "--wait") == "123\n"
    assert json.loads(fas.ok("functions", "get", "reader"))["has_context"] is True


# The documentation's Python examples, verbatim, in a fresh tenant


@pytest.fixture
def doc_namespace(
    stack: Stack, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """Globals for the docs' snippets: a fresh tenant in the environment, and the placeholders."""
    monkeypatch.setenv("FAASPOT_URL", stack.url)
    monkeypatch.setenv("FAASPOT_TOKEN", stack.new_token())
    monkeypatch.setenv("FAASPOT_CONFIG", str(workdir / "doc-config.toml"))
    (workdir / "FILE_PATH").write_text(ECHO, encoding="utf-8")
    monkeypatch.chdir(workdir)
    namespace: dict[str, Any] = {"FUNCTION_NAME": "FUNCTION_NAME", "FILE_PATH": "FILE_PATH"}
    yield namespace
    if isinstance(namespace.get("faaspot"), Faaspot):
        namespace["faaspot"].close()


def test_doc_python_examples(
    doc_namespace: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    record = run_snippet(
        "from faaspot import Faaspot\n"
        "faaspot = Faaspot()\n"
        "faaspot.functions.create(FUNCTION_NAME, file=FILE_PATH)\n",
        doc_namespace,
    )
    assert (record["name"], record["version"]) == ("FUNCTION_NAME", 1)
    wait_ready(doc_namespace["faaspot"], "FUNCTION_NAME")

    result = run_snippet(
        "from faaspot import Faaspot\n"
        "faaspot = Faaspot()\n"
        "faaspot.functions.run(FUNCTION_NAME, {'PARAMETER_1': 'VALUE_1', "
        "'PARAMETER_2': 'VALUE_2'}, wait=True)\n",
        doc_namespace,
    )
    assert result == {"PARAMETER_1": "VALUE_1", "PARAMETER_2": "VALUE_2"}

    # The docs' last line is Python 2 (`print execution['status']`); the calls are verbatim.
    run_snippet(
        "from faaspot import Faaspot\n"
        "faaspot = Faaspot()\n"
        "execution_id = faaspot.functions.run('FUNCTION_NAME', {'PARAMETER': 'VALUE'})\n"
        "execution = faaspot.executions().get(execution_id)\n"
        "print(execution['status'])\n",
        doc_namespace,
    )
    assert capsys.readouterr().out.strip() in {"pending", "running", "completed"}
    assert doc_namespace["execution"]["id"] == doc_namespace["execution_id"]

    run_snippet(
        "from faaspot import Faaspot\n"
        "faaspot = Faaspot()\n"
        "args_list = [{'k1': 'v1', 'k2': 'v2'}, {'k3': 'v3', 'k4': 'v4'}]\n"
        "id_list = faaspot.functions.run_bulk(FUNCTION_NAME, args_list)\n",
        doc_namespace,
    )
    id_list = doc_namespace["id_list"]
    records = doc_namespace["faaspot"].executions.wait(id_list, timeout=60)
    assert [r["result"] for r in records] == [{"k1": "v1", "k2": "v2"}, {"k3": "v3", "k4": "v4"}]

    run_snippet(
        "from faaspot import Faaspot\n"
        "faaspot = Faaspot()\n"
        "faaspot.functions.delete(FUNCTION_NAME)\n",
        doc_namespace,
    )
    with pytest.raises(NotFoundError):
        doc_namespace["faaspot"].functions.get("FUNCTION_NAME")


# fas functions


def test_create_prints_the_version(fas: Fas, client: Faaspot) -> None:
    name = unique("create")
    create = ("functions", "create", name, "--file", "hello.py", "--wait")
    try:
        assert fas.ok(*create) == f"created {name} (version 1)\n"
        assert fas.ok(*create) == f"created {name} (version 2)\n"
        record = json.loads(fas.ok("functions", "get", name))
        assert (record["name"], record["version"], record["status"]) == (name, 2, "ready")
        assert "code" not in record
    finally:
        client.functions.delete(name)


def test_create_with_limits_records_them(fas: Fas, client: Faaspot) -> None:
    name = unique("limits")
    try:
        limits = ("--timeout", "5", "--memory", "128")
        fas.ok("functions", "create", name, "--file", "hello.py", "--wait", *limits)
        record = json.loads(fas.ok("functions", "get", name))
        assert (record["timeout"], record["memory"]) == (5.0, 128)
    finally:
        client.functions.delete(name)


def test_create_of_code_without_main_fails(fas: Fas, workdir: Path) -> None:
    (workdir / "nomain.py").write_text("def helper():\n    return 1\n", encoding="utf-8")
    completed = fas("functions", "create", unique("nomain"), "--file", "nomain.py", "--wait")
    assert completed.returncode == EXIT_FAILURE
    assert completed.stderr.startswith("error: ")
    assert len(completed.stderr.splitlines()) == 1


def test_create_of_invalid_python_fails(fas: Fas, workdir: Path) -> None:
    (workdir / "broken.py").write_text("def main(args, context)\n    return 1\n", encoding="utf-8")
    completed = fas("functions", "create", unique("broken"), "--file", "broken.py", "--wait")
    assert completed.returncode == EXIT_FAILURE
    assert completed.stderr.startswith("error: ")


def test_run_prints_only_the_execution_id(fas: Fas, make_function: Callable[..., str]) -> None:
    name = make_function(HELLO)
    out = fas.ok("functions", "run", name, "--parameters", "name=user1")
    assert re.fullmatch(UUID_PATTERN + "\n", out)
    record = json.loads(fas.ok("executions", "get", out.strip()))
    assert (record["function"], record["parameters"]) == (name, {"name": "user1"})


def test_run_merges_json_and_every_p(fas: Fas, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    out = fas.ok(
        "functions", "run", name, "--json", '{"n": 1, "a": "json"}',
        "-p", "a=p1, b = x=y ", "-p", "c=3", "--wait",
    )  # fmt: skip
    assert json.loads(out) == {"n": 1, "a": "p1", "b": "x=y", "c": "3"}


def test_run_wait_of_a_failing_function(fas: Fas, make_function: Callable[..., str]) -> None:
    name = make_function(FAILING)
    completed = fas("functions", "run", name, "-p", "x=42", "--wait")
    assert completed.returncode == EXIT_FAILURE
    assert completed.stdout == ""
    first_line = completed.stderr.splitlines()[0]
    assert re.fullmatch(r"error: execution \S+ failed: ValueError: bad input: 42", first_line)
    assert "Traceback" in completed.stderr


def test_run_wait_of_a_function_over_its_timeout(
    fas: Fas, make_function: Callable[..., str]
) -> None:
    name = make_function(SLOW, timeout=1)
    completed = fas("functions", "run", name, "-p", "s=5", "--wait")
    assert completed.returncode == EXIT_FAILURE
    assert re.match(r"error: execution \S+ timed out: ", completed.stderr)


def test_run_of_an_unknown_function(fas: Fas) -> None:
    completed = fas("functions", "run", unique("missing"), "-p", "a=1")
    assert (completed.returncode, completed.stdout) == (EXIT_FAILURE, "")
    assert completed.stderr.startswith("error: ")
    assert len(completed.stderr.splitlines()) == 1


def test_bad_parameters_start_nothing(
    fas: Fas, client: Faaspot, make_function: Callable[..., str]
) -> None:
    name = make_function(HELLO)
    completed = fas("functions", "run", name, "-p", "name")
    assert completed.returncode == EXIT_USAGE
    assert "'name' is not key=value" in completed.stderr
    assert client.executions.list(function=name) == []


def test_run_bulk_from_p_and_files(
    fas: Fas, workdir: Path, make_function: Callable[..., str]
) -> None:
    name = make_function(ECHO)
    (workdir / "groups.json").write_text('[{"i": 1}, {"i": 2}]', encoding="utf-8")
    (workdir / "groups.jsonl").write_text('{"i": 3}\n\n{"i": 4}\n', encoding="utf-8")
    ids = fas.ok("functions", "run_bulk", name, "-p", "i=0", "--file", "groups.json").split()
    ids += fas.ok("functions", "run_bulk", name, "--file", "groups.jsonl").split()
    assert len(ids) == 5
    waited = json.loads(fas.ok("executions", "wait", *ids, "--output", "json"))
    assert [r["result"] for r in waited] == [{"i": "0"}, {"i": 1}, {"i": 2}, {"i": 3}, {"i": 4}]


def test_run_bulk_output_json(fas: Fas, make_function: Callable[..., str]) -> None:
    name = make_function(HELLO)
    ids = json.loads(
        fas.ok("functions", "run_bulk", name, "-p", "a=1", "-p", "a=2", "--output", "json")
    )
    assert isinstance(ids, list) and len(ids) == 2
    assert all(isinstance(id_, str) for id_ in ids)


def test_run_bulk_wait_summarises(
    fas: Fas, workdir: Path, make_function: Callable[..., str]
) -> None:
    name = make_function(HELLO)
    lines = "\n".join(json.dumps({"name": f"u{i}"}) for i in range(100))
    (workdir / "many.jsonl").write_text(lines, encoding="utf-8")
    completed = fas("functions", "run_bulk", name, "--file", "many.jsonl", "--wait")
    assert completed.returncode == 0, completed.stderr
    assert len(completed.stdout.split()) == 100
    assert "100 executions: 100 completed" in completed.stderr


def test_run_bulk_wait_fails_when_a_run_fails(fas: Fas, make_function: Callable[..., str]) -> None:
    name = make_function(FAILING)
    completed = fas("functions", "run_bulk", name, "-p", "x=1", "-p", "x=2", "--wait")
    assert completed.returncode == EXIT_FAILURE
    assert len(completed.stdout.split()) == 2
    assert "2 executions: 2 failed" in completed.stderr
    assert "ValueError: bad input: 1" in completed.stderr


def test_functions_list(fas: Fas, make_function: Callable[..., str]) -> None:
    name = make_function(HELLO)
    table = fas.ok("functions", "list")
    assert table.splitlines()[0].split()[:3] == ["NAME", "VERSION", "STATUS"]
    assert any(line.split()[:3] == [name, "1", "ready"] for line in table.splitlines())
    records = json.loads(fas.ok("functions", "list", "--output", "json"))
    assert name in {record["name"] for record in records}


def test_functions_delete(fas: Fas, client: Faaspot) -> None:
    name = unique("delete")
    client.functions.create(name, code=HELLO, wait=True)
    assert fas.ok("functions", "delete", name) == f"deleted {name}\n"
    completed = fas("functions", "delete", name)
    assert completed.returncode == EXIT_FAILURE
    assert completed.stderr.startswith("error: ")


# fas executions


def test_executions_list_filters(
    fas: Fas, client: Faaspot, make_function: Callable[..., str]
) -> None:
    name = make_function(HELLO)
    ids = client.functions.run_bulk(name, [{"name": "a"}, {"name": "b"}, {"name": "c"}])
    client.executions.wait(ids, timeout=60)
    table = fas.ok("executions", "list", "--function", name)
    rows = table.splitlines()[1:]
    assert sorted(row.split()[0] for row in rows) == sorted(ids)
    assert all(row.split()[1:4] == [name, "1", "completed"] for row in rows)
    assert len(fas.ok("executions", "list", "--function", name, "--limit", "2").splitlines()) == 3
    as_json = ("--output", "json")
    completed = fas.ok("executions", "list", "--function", name, "--status", "completed", *as_json)
    assert sorted(record["id"] for record in json.loads(completed)) == sorted(ids)
    failed = fas.ok("executions", "list", "--function", name, "--status", "failed", *as_json)
    assert json.loads(failed) == []


def test_executions_wait_prints_results_in_order(
    fas: Fas, client: Faaspot, make_function: Callable[..., str]
) -> None:
    name = make_function(HELLO)
    first = client.functions.run(name, {"name": "one"})
    second = client.functions.run(name, {"name": "two"})
    assert fas.ok("executions", "wait", second, first) == "Hello two\nHello one\n"


def test_executions_wait_fails_when_one_failed(
    fas: Fas, client: Faaspot, make_function: Callable[..., str]
) -> None:
    good = client.functions.run(make_function(HELLO), {})
    bad = client.functions.run(make_function(FAILING), {"x": "oops"})
    completed = fas("executions", "wait", good, bad)
    assert completed.returncode == EXIT_FAILURE
    assert completed.stdout == "Hello world\n"
    assert f"error: execution {bad} failed: ValueError: bad input: oops" in completed.stderr


def test_executions_wait_times_out(
    fas: Fas, client: Faaspot, make_function: Callable[..., str]
) -> None:
    execution_id = client.functions.run(make_function(SLOW), {"s": "3"})
    completed = fas("executions", "wait", execution_id, "--timeout", "0.5")
    assert completed.returncode == EXIT_FAILURE
    assert "1 of 1 executions not finished after 0.5 s" in completed.stderr


def test_executions_get_of_an_unknown_id(fas: Fas) -> None:
    completed = fas("executions", "get", unknown_execution_id())
    assert completed.returncode == EXIT_FAILURE
    assert completed.stderr.startswith("error: ")


def test_executions_get_of_a_malformed_id(fas: Fas) -> None:
    completed = fas("executions", "get", "not-an-id")
    assert (completed.returncode, completed.stdout) == (EXIT_FAILURE, "")
    assert completed.stderr.startswith("error: ")
    assert len(completed.stderr.splitlines()) == 1


# Configuration and authentication


def test_configure_then_use(stack: Stack, workdir: Path) -> None:
    env = {k: v for k, v in stack.env.items() if k not in {"FAASPOT_URL", "FAASPOT_TOKEN"}}
    env["FAASPOT_CONFIG"] = str(workdir / "configured.toml")
    fas = Fas(env, workdir)
    assert fas("functions", "list").returncode != 0  # no URL or token yet
    fas.ok("configure", "--url", stack.url, "--token", stack.new_token())
    assert fas.ok("functions", "list", "--output", "json") == "[]\n"


def test_global_options_override_the_environment(stack: Stack, workdir: Path) -> None:
    fas = Fas({**stack.env, "FAASPOT_TOKEN": "wrong"}, workdir)
    assert fas("functions", "list").returncode == EXIT_FAILURE
    fas.ok("--url", stack.url, "--token", stack.token, "functions", "list")


def test_bad_token(stack: Stack, workdir: Path) -> None:
    completed = Fas({**stack.env, "FAASPOT_TOKEN": "not-a-token"}, workdir)("functions", "list")
    assert completed.returncode == EXIT_FAILURE
    assert completed.stderr.startswith("error: authentication failed: ")
    assert len(completed.stderr.splitlines()) == 1


def test_unreachable_server(stack: Stack, workdir: Path, closed_port_url: str) -> None:
    completed = Fas({**stack.env, "FAASPOT_URL": closed_port_url}, workdir)("executions", "list")
    assert completed.returncode == EXIT_UNREACHABLE
    assert completed.stderr.startswith(f"error: cannot reach FaaSpot at {closed_port_url}: ")


# The Python client


def test_client_function_lifecycle(client: Faaspot) -> None:
    name = unique("life")
    record = client.functions.create(name, code=HELLO, wait=True, timeout=10, memory=128)
    try:
        assert (record["name"], record["status"], record["timeout"], record["memory"]) == (
            name,
            "ready",
            10.0,
            128,
        )
        assert client.functions.get(name)["version"] == 1
        assert name in {f["name"] for f in client.functions.list()}
        assert client.functions.run(name, {"name": "py"}, wait=True) == "Hello py"
    finally:
        client.functions.delete(name)
    with pytest.raises(NotFoundError):
        client.functions.get(name)


def test_client_lists_every_page(stack: Stack) -> None:
    names = [f"f{i:03d}" for i in range(60)]
    with Faaspot(stack.url, stack.new_token()) as faaspot:
        for name in names:
            faaspot.functions.create(name, code=HELLO)
        assert [f["name"] for f in faaspot.functions.list()] == names


def test_client_run_without_wait(client: Faaspot, make_function: Callable[..., str]) -> None:
    name = make_function(HELLO)
    execution_id = client.functions.run(name, {"name": "later"})
    [record] = client.executions.wait([execution_id], timeout=60)
    assert (record["id"], record["status"], record["result"]) == (
        execution_id,
        "completed",
        "Hello later",
    )
    assert client.executions.get(execution_id)["result"] == "Hello later"


def test_client_function_error(client: Faaspot, make_function: Callable[..., str]) -> None:
    name = make_function(FAILING)
    with pytest.raises(FunctionError) as caught:
        client.functions.run(name, {"x": "7"}, wait=True)
    error = caught.value
    assert (error.type, error.message) == ("ValueError", "bad input: 7")
    assert error.traceback is not None and "ValueError" in error.traceback
    # The record follows the answer by a few milliseconds: it is readable at once, and final soon.
    [record] = client.executions.wait([error.execution_id], timeout=30)
    assert record["status"] == "failed"


def test_client_execution_timeout(client: Faaspot, make_function: Callable[..., str]) -> None:
    name = make_function(SLOW, timeout=1)
    with pytest.raises(ExecutionTimeout) as caught:
        client.functions.run(name, {"s": "5"}, wait=True)
    [record] = client.executions.wait([caught.value.execution_id], timeout=30)
    assert record["status"] == "timeout"


def test_client_run_bulk_and_wait(client: Faaspot, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    groups = [{"i": i} for i in range(30)]
    ids = client.functions.run_bulk(name, groups)
    seen: list[str] = []
    records = client.executions.wait(ids, timeout=100, on_finished=lambda r: seen.append(r["id"]))
    assert [r["result"] for r in records] == groups
    assert sorted(seen) == sorted(ids)


def test_client_wait_timeout(client: Faaspot, make_function: Callable[..., str]) -> None:
    execution_id = client.functions.run(make_function(SLOW), {"s": "3"})
    with pytest.raises(WaitTimeout) as caught:
        client.executions.wait([execution_id], timeout=0.5)
    assert caught.value.unfinished == [execution_id]


def test_client_list_executions(client: Faaspot, make_function: Callable[..., str]) -> None:
    ok_name, bad_name = make_function(HELLO), make_function(FAILING)
    ok_ids = client.functions.run_bulk(ok_name, [{}, {}, {}])
    bad_id = client.functions.run(bad_name, {})
    client.executions.wait([*ok_ids, bad_id], timeout=60)
    listed = client.executions.list(function=ok_name)
    assert sorted(r["id"] for r in listed) == sorted(ok_ids)
    assert "result" not in listed[0]
    assert len(client.executions.list(function=ok_name, limit=2)) == 2
    assert [r["id"] for r in client.executions.list(function=bad_name, status="failed")] == [bad_id]


def test_client_not_found(client: Faaspot) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.functions.run(unique("missing"), {})
    assert caught.value.status == 404
    with pytest.raises(NotFoundError):
        client.executions.get(unknown_execution_id())
    with pytest.raises(ValidationError):
        client.executions.get("not-an-id")
    with pytest.raises(NotFoundError):
        client.functions.delete(unique("missing"))


def test_client_invalid_limits(client: Faaspot) -> None:
    with pytest.raises(ValidationError) as caught:
        client.functions.create(unique("limits"), code=HELLO, timeout=-1)
    assert caught.value.status == 400


def test_client_bad_token(stack: Stack) -> None:
    with Faaspot(stack.url, "not-a-token") as faaspot, pytest.raises(AuthenticationError) as caught:
        faaspot.functions.list()
    assert (caught.value.status, caught.value.type) == (401, "Unauthorized")


def test_client_unreachable(closed_port_url: str) -> None:
    with Faaspot(closed_port_url, "t") as faaspot, pytest.raises(ServerUnreachable):
        faaspot.executions.get("x")


async def test_async_client(stack: Stack) -> None:
    name = unique("async")
    async with AsyncFaaspot(stack.url, stack.token) as faaspot:
        record = await faaspot.functions.create(name, code=HELLO, wait=True)
        try:
            assert record["status"] == "ready"
            assert await faaspot.functions.run(name, {"name": "aio"}, wait=True) == "Hello aio"
            ids = await faaspot.functions.run_bulk(name, [{"name": str(i)} for i in range(10)])
            records = await faaspot.executions.wait(ids, timeout=60)
            assert [r["result"] for r in records] == [f"Hello {i}" for i in range(10)]
            assert (await faaspot.executions().get(ids[0]))["status"] == "completed"
            assert name in {f["name"] for f in await faaspot.functions.list()}
            assert len(await faaspot.executions.list(function=name, limit=5)) == 5
        finally:
            await faaspot.functions.delete(name)
        with pytest.raises(NotFoundError):
            await faaspot.functions.get(name)


async def test_async_client_function_error(stack: Stack) -> None:
    name = unique("async-fail")
    async with AsyncFaaspot(stack.url, stack.token) as faaspot:
        await faaspot.functions.create(name, code=FAILING, wait=True)
        try:
            with pytest.raises(FunctionError, match="bad input: z"):
                await faaspot.functions.run(name, {"x": "z"}, wait=True)
        finally:
            await faaspot.functions.delete(name)


def test_wait_returns_every_terminal_status(
    client: Faaspot, make_function: Callable[..., str]
) -> None:
    ids = [
        client.functions.run(make_function(HELLO), {}),
        client.functions.run(make_function(FAILING), {}),
        client.functions.run(make_function(SLOW, timeout=1), {"s": "5"}),
    ]
    statuses = [record["status"] for record in client.executions.wait(ids, timeout=100)]
    assert statuses == ["completed", "failed", "timeout"]
