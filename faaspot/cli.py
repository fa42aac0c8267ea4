"""``fas``, the FaaSpot command line.

Exit codes: 0 success; 1 an execution failed or timed out, or the server
refused the request; 2 a bad command line, parameters, file or configuration;
3 the server could not be reached. Errors are one ``error: ...`` line on stderr
(a failed execution's traceback follows it).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from faaspot import render
from faaspot.client import AsyncFaaspot, Faaspot
from faaspot.config import DEFAULT_URL, ClientConfig, write_config
from faaspot.errors import (
    ConfigError,
    ExecutionError,
    FaaspotError,
    ServerUnreachable,
)
from faaspot.operations import OnFinished
from faaspot.params import (
    ParameterError,
    Params,
    merge_parameters,
    parse_json_object,
    parse_parameters,
    read_groups,
)
from faaspot.protocol import EXECUTION_STATUSES, Record, check_created, execution_error

EXIT_FAILURE = 1  # an execution failed or timed out, or the server refused the request
EXIT_USAGE = 2  # a bad command line, parameters, file or configuration
EXIT_UNREACHABLE = 3  # no answer from the server
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT
FAILURES_SHOWN = 5  # failed executions detailed after a bulk wait; the summary counts them all
EXECUTIONS_LIST_DEFAULT = 50  # rows shown by `fas executions list` without --limit

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
OUTPUT_OPTION = click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Text for people, JSON for programs.",
)


@dataclass(frozen=True)
class Session:
    """The server options given to ``fas``; clients are opened from them on demand."""

    url: str | None
    token: str | None

    def client(self) -> Faaspot:
        """A client closed when the command ends."""
        return click.get_current_context().with_resource(Faaspot(self.url, self.token))

    def async_client(self) -> AsyncFaaspot:
        return AsyncFaaspot(self.url, self.token)


def _session() -> Session:
    session = click.get_current_context().find_object(Session)
    assert session is not None
    return session


EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 an execution failed or timed out, or the server refused the "
    "request; 2 a bad command line, file or configuration; 3 the server cannot be reached."
)


@click.group(context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@click.option(
    "--url",
    metavar="URL",
    help=f"The FaaSpot server [default: $FAASPOT_URL, the config file, {DEFAULT_URL}].",
)
@click.option(
    "--token", metavar="TOKEN", help="The API token [default: $FAASPOT_TOKEN, the config file]."
)
@click.version_option(package_name="faaspot", prog_name="fas")
@click.pass_context
def cli(ctx: click.Context, url: str | None, token: str | None) -> None:
    """FaaSpot: create functions and run them."""
    ctx.obj = Session(url=url, token=token)


@cli.command()
@click.option("--url", required=True, metavar="URL", help="The FaaSpot server's URL.")
@click.option("--token", required=True, metavar="TOKEN", help="Your API token.")
def configure(url: str, token: str) -> None:
    """Save the server URL and token in the config file.

    The file is $FAASPOT_CONFIG, else ~/.config/faaspot/config.toml, readable by you only.
    $FAASPOT_URL and $FAASPOT_TOKEN, when set, still take precedence over it.
    """
    config = ClientConfig(url=url, token=token)
    path = write_config(config.url, token)
    click.echo(f"wrote {path}")


# fas functions


@cli.group()
def functions() -> None:
    """Create, run, list and delete functions."""


@functions.command("create")
@click.argument("name")
@click.option(
    "--file",
    "code_file",
    required=True,
    type=EXISTING_FILE,
    help="The code: a Python file with main(args, context).",
)
@click.option(
    "--context-file", type=EXISTING_FILE, help="A context file, given to every run as `context`."
)
@click.option("--wait", is_flag=True, help="Wait until the function is ready; fail if it is not.")
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    metavar="S",
    help="The function's time limit, in seconds.",
)
@click.option(
    "--memory",
    "memory_mb",
    type=click.IntRange(min=1),
    metavar="MB",
    help="The function's memory, in MB.",
)
def create_function(
    name: str,
    code_file: Path,
    context_file: Path | None,
    wait: bool,
    timeout_s: float | None,
    memory_mb: int | None,
) -> None:
    """Create the function NAME (or replace it with a new version)."""
    code = _read_text(code_file, "--file")
    context = None if context_file is None else _read_text(context_file, "--context-file")
    client = _session().client()
    record = client.functions.create(
        name, code=code, context=context, wait=wait, timeout=timeout_s, memory=memory_mb
    )
    check_created(record)
    click.echo(f"created {record.get('name', name)} (version {record.get('version')})")


def _parse_parameter_options(
    ctx: click.Context, param: click.Parameter, values: Sequence[str]
) -> list[dict[str, str]]:
    try:
        return [parse_parameters(value) for value in values]
    except ParameterError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from error


def _parse_json_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> Params | None:
    try:
        return None if value is None else parse_json_object(value)
    except ParameterError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from error


F = TypeVar("F", bound=Callable[..., Any])
PARAMETERS_HELP = '"k1=v1, k2=v2": parameters (strings); a value may contain "=", not ",".'


def parameters_option(more_help: str) -> Callable[[F], F]:
    """The -p/--parameters option, parsed into one group per use."""
    return click.option(
        "-p",
        "--parameters",
        "groups",
        multiple=True,
        metavar='"K=V, ..."',
        callback=_parse_parameter_options,
        help=PARAMETERS_HELP + more_help,
    )


@functions.command("run")
@click.argument("name")
@parameters_option(" Repeat to add more.")
@click.option(
    "--json",
    "json_object",
    metavar="OBJECT",
    callback=_parse_json_option,
    help="Parameters as a JSON object; -p values override its keys.",
)
@click.option("--wait", is_flag=True, help="Wait for the result and print it.")
def run_function(
    name: str, groups: list[dict[str, str]], json_object: Params | None, wait: bool
) -> None:
    """Run the function NAME.

    Prints the execution id, or with --wait the function's result (a string
    as it is, anything else as JSON).
    """
    params = merge_parameters(json_object, groups)
    client = _session().client()
    if wait:
        click.echo(render.result_text(client.functions.run(name, params, wait=True)))
    else:
        click.echo(client.functions.run(name, params))


@functions.command("run_bulk")
@click.argument("name")
@parameters_option(" Each -p is one run.")
@click.option(
    "--file",
    "groups_file",
    type=EXISTING_FILE,
    help="More runs: a JSON list of objects, or JSON Lines.",
)
@click.option(
    "--wait", is_flag=True, help="Wait for every run, with a progress bar and a summary on stderr."
)
@OUTPUT_OPTION
@click.pass_context
def run_bulk(
    ctx: click.Context,
    name: str,
    groups: list[dict[str, str]],
    groups_file: Path | None,
    wait: bool,
    output: str,
) -> None:
    """Run the function NAME once per group of parameters; print the execution ids.

    With --wait, exits with 1 if any run failed or timed out.
    """
    all_groups: list[Params] = [*groups, *_read_groups(groups_file)]
    if not all_groups:
        raise click.UsageError("give at least one group of parameters with -p or --file")
    ids = _session().client().functions.run_bulk(name, all_groups)
    click.echo(render.pretty_json(ids) if output == "json" else "\n".join(ids))
    sys.stdout.flush()  # the ids are useful before the wait ends
    if wait:
        records = _wait_with_progress(ids, None)
        _report_bulk(records)
        if _failed(records):
            ctx.exit(EXIT_FAILURE)


@functions.command("get")
@click.argument("name")
def get_function(name: str) -> None:
    """Print the function's record as JSON."""
    click.echo(render.pretty_json(_session().client().functions.get(name)))


@functions.command("list")
@OUTPUT_OPTION
def list_functions(output: str) -> None:
    """List the functions."""
    records = _session().client().functions.list()
    click.echo(render.pretty_json(records) if output == "json" else render.functions_table(records))


@functions.command("delete")
@click.argument("name")
def delete_function(name: str) -> None:
    """Delete the function NAME."""
    _session().client().functions.delete(name)
    click.echo(f"deleted {name}")


# fas executions


@cli.group()
def executions() -> None:
    """Look up executions and wait for them."""


@executions.command("get")
@click.argument("execution_id", metavar="ID")
def get_execution(execution_id: str) -> None:
    """Print the execution's record as JSON."""
    click.echo(render.pretty_json(_session().client().executions.get(execution_id)))


@executions.command("list")
@click.option("--function", metavar="NAME", help="Only this function's executions.")
@click.option(
    "--status", type=click.Choice(EXECUTION_STATUSES), help="Only executions in this status."
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=EXECUTIONS_LIST_DEFAULT,
    show_default=True,
    help="At most this many, newest first.",
)
@OUTPUT_OPTION
def list_executions(function: str | None, status: str | None, limit: int, output: str) -> None:
    """List executions, newest first."""
    records = _session().client().executions.list(function=function, status=status, limit=limit)
    click.echo(
        render.pretty_json(records) if output == "json" else render.executions_table(records)
    )


@executions.command("wait")
@click.argument("execution_ids", metavar="ID...", nargs=-1, required=True)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0),
    metavar="S",
    help="Give up after S seconds (exit 1).",
)
@OUTPUT_OPTION
@click.pass_context
def wait_executions(
    ctx: click.Context, execution_ids: tuple[str, ...], timeout_s: float | None, output: str
) -> None:
    """Wait until the executions finish; print each result (text) or record (json).

    Exits with 1 if any failed or timed out; their errors go to stderr.
    """
    records = _wait_with_progress(list(execution_ids), timeout_s)
    if output == "json":
        click.echo(render.pretty_json(records))
    for record in records:
        if record.get("status") != "completed":
            _echo_execution_error(execution_error(record))
        elif output == "text":
            click.echo(render.result_text(record.get("result")))
    if _failed(records):
        ctx.exit(EXIT_FAILURE)


# Helpers


def _read_text(path: Path, option: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise click.BadParameter(f"{path} is not UTF-8 text", param_hint=option) from error
    except OSError as error:
        raise click.BadParameter(
            f"cannot read {path}: {error.strerror}", param_hint=option
        ) from error


def _read_groups(path: Path | None) -> list[Params]:
    try:
        return [] if path is None else read_groups(path)
    except ParameterError as error:
        raise click.BadParameter(str(error), param_hint="--file") from error


def _wait_with_progress(ids: list[str], timeout_s: float | None) -> list[Record]:
    """Wait for the executions, with a progress bar on stderr when it is a terminal."""
    console = Console(stderr=True)
    columns = (TextColumn("waiting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(
        *columns, console=console, disable=not console.is_terminal, redirect_stdout=False
    ) as progress:
        task = progress.add_task("waiting", total=len(set(ids)))

        def on_finished(record: Record) -> None:
            progress.advance(task)

        return asyncio.run(_wait(_session(), ids, timeout_s, on_finished))


async def _wait(
    session: Session, ids: list[str], timeout_s: float | None, on_finished: OnFinished
) -> list[Record]:
    # The async client fetches a batch of executions concurrently: fast for thousands of ids.
    async with session.async_client() as client:
        return await client.executions.wait(ids, timeout_s, on_finished=on_finished)


def _failed(records: list[Record]) -> list[Record]:
    """The executions that did not complete (failed or timed out)."""
    return [record for record in records if record.get("status") != "completed"]


def _report_bulk(records: list[Record]) -> None:
    click.echo(render.status_summary(records), err=True)
    failed = _failed(records)
    for record in failed[:FAILURES_SHOWN]:
        click.echo(f"  {render.execution_error_line(execution_error(record))}", err=True)
    if len(failed) > FAILURES_SHOWN:
        click.echo(f"  ... and {len(failed) - FAILURES_SHOWN} more", err=True)


def _echo_execution_error(error: ExecutionError) -> None:
    click.echo(f"error: {render.execution_error_line(error)}", err=True)
    if error.traceback:
        click.echo(error.traceback.rstrip("\n"), err=True)


# Entry point


def main(args: Sequence[str] | None = None) -> None:
    """The ``fas`` console script."""
    sys.exit(run(args))


def run(args: Sequence[str] | None = None) -> int:
    """Run ``fas`` with ``args`` (default: the command line) and return the exit code."""
    try:
        outcome = cli.main(args=args, prog_name="fas", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:
        error.show()
        return EXIT_USAGE
    except click.UsageError as error:
        return _fail(_usage_line(error), EXIT_USAGE)
    except click.ClickException as error:
        return _fail(error.format_message(), error.exit_code)
    except click.Abort:
        return _fail("interrupted", EXIT_INTERRUPTED)
    except FaaspotError as error:
        return _report_error(error)
    except BrokenPipeError:
        # The reader went away (`fas executions list | head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    return outcome if isinstance(outcome, int) else 0


def _report_error(error: FaaspotError) -> int:
    if isinstance(error, ExecutionError):
        _echo_execution_error(error)
        return EXIT_FAILURE
    if isinstance(error, ServerUnreachable):
        return _fail(render.error_line(error), EXIT_UNREACHABLE)
    if isinstance(error, ConfigError):
        return _fail(render.error_line(error), EXIT_USAGE)
    return _fail(render.error_line(error), EXIT_FAILURE)


def _usage_line(error: click.UsageError) -> str:
    hint = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
    return f"{error.format_message()}{hint}"


def _fail(message: str, code: int) -> int:
    click.echo(f"error: {message}", err=True)
    return code


if __name__ == "__main__":
    main()
