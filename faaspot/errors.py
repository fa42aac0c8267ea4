"""The client's error tree: every error it raises is a :class:`FaaspotError`.

Errors the server reports keep its error ``type`` (``FunctionNotFound``,
``Unauthorized``, ...), its ``message`` and the HTTP ``status``. Errors that
happen on the client side (no connection, a wait that ran out) have ``status``
``None``.
"""

from __future__ import annotations

from collections.abc import Sequence


class FaaspotError(Exception):
    """Root of every error the client raises.

    Keyword arguments have defaults so that errors survive pickling.

    Attributes:
        message: a human-readable explanation, the server's when it gave one.
        type: the error type, e.g. ``FunctionNotFound`` (the server's when it gave one).
        status: the HTTP status of the response, or ``None`` when there was none.
    """

    def __init__(self, message: str, *, type: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.type = type or self.__class__.__name__
        self.status = status

    def __str__(self) -> str:
        return self.message


class ConfigError(FaaspotError):
    """The configuration (file, environment or arguments) is invalid."""


class AuthenticationError(FaaspotError):
    """The server refused the token (HTTP 401)."""


class NotFoundError(FaaspotError):
    """The function, execution or path does not exist (HTTP 404)."""


class ValidationError(FaaspotError):
    """The server rejected the request as invalid (HTTP 400) or too large (HTTP 413)."""


class ServerError(FaaspotError):
    """The server failed or answered something the client cannot read (HTTP 5xx)."""


class ServerUnreachable(FaaspotError, ConnectionError):
    """No answer from the server: connection refused, network error or a request timeout."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message, type="ServerUnreachable")
        self.url = url


class FunctionCreationFailed(FaaspotError):
    """A function's creation ended with status ``failed``; ``record`` is the function record."""

    def __init__(self, message: str, *, record: dict[str, object] | None = None) -> None:
        super().__init__(message, type="FunctionCreationFailed")
        self.record = record or {}


class ExecutionError(FaaspotError):
    """An execution ended without a result.

    Attributes:
        execution_id: the execution's id, to look it up with ``executions.get``.
        traceback: the function's traceback as text, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        execution_id: str = "",
        type: str = "",
        traceback: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, type=type, status=status)
        self.execution_id = execution_id
        self.traceback = traceback


class FunctionError(ExecutionError):
    """The function raised; ``type`` and ``message`` are those of its exception."""


class ExecutionTimeout(ExecutionError):
    """The function ran longer than its timeout and was stopped."""


class WaitTimeout(FaaspotError, TimeoutError):
    """The client's own wait ran out before every execution finished.

    ``unfinished`` lists the ids still pending or running; the executions go on.
    """

    def __init__(self, message: str, *, unfinished: Sequence[str] = ()) -> None:
        super().__init__(message, type="WaitTimeout")
        self.unfinished = list(unfinished)
