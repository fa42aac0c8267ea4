"""The one error tree of FaaSpot. Each error knows its HTTP status and travels over RPC by name."""

from __future__ import annotations

from typing import ClassVar


class FaaspotError(Exception):
    """Root of every error the platform raises on purpose."""

    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def type(self) -> str:
        return type(self).__name__


# 4xx: the caller's fault. Each is answered, never logged as a failure of ours.
class ClientError(FaaspotError):
    status = 400


class InvalidRequest(ClientError):
    """Malformed JSON, JSON of the wrong type, a bad query parameter."""


class InvalidName(ClientError):
    """A function name outside ``[A-Za-z0-9_-]{1,64}``."""


class InvalidCode(ClientError):
    """Code that does not parse or has no proper ``main(args, context)``."""


class InvalidContext(ClientError):
    """A context file that is not ``key = "value"`` lines (TOML)."""


class InvalidEncoding(ClientError):
    """Bad percent-encoding, or bytes that are not UTF-8."""


class InvalidLimits(ClientError):
    """``timeout`` or ``memory`` out of the allowed range."""


class InvalidExecutionId(ClientError):
    """An execution id that cannot be an id."""


class Unauthorized(ClientError):
    status = 401


class NotFound(ClientError):
    status = 404


class FunctionNotFound(NotFound):
    pass


class ExecutionNotFound(NotFound):
    pass


class MethodNotAllowed(ClientError):
    status = 405


class PayloadTooLarge(ClientError):
    status = 413


class TooManyGroups(PayloadTooLarge):
    """A bulk request over ``FAASPOT_BULK_MAX`` groups."""


# 5xx: the platform's own failures.
class ServiceUnavailable(FaaspotError):
    """A service did not answer in time, or the broker is unreachable."""

    status = 503


class MessageError(FaaspotError):
    """A message that cannot be decoded or does not fit its schema."""


class StoreError(FaaspotError):
    """MongoDB refused or failed a read or write."""


class StoreUnavailable(StoreError, ServiceUnavailable):
    """MongoDB cannot be reached now; the same write may succeed later."""


class ConfigurationError(FaaspotError):
    """A setting is missing or inconsistent; the service cannot start."""


def _all_subclasses(cls: type[FaaspotError]) -> dict[str, type[FaaspotError]]:
    found: dict[str, type[FaaspotError]] = {cls.__name__: cls}
    for sub in cls.__subclasses__():
        found.update(_all_subclasses(sub))
    return found


def from_wire(type_name: str, message: str) -> FaaspotError:
    """Rebuild an error that crossed an RPC boundary; unknown names become the root type."""
    cls = _all_subclasses(FaaspotError).get(type_name, FaaspotError)
    return cls(message)
