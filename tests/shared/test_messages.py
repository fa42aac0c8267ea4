from __future__ import annotations

import msgspec
import pytest

from shared import errors
from shared.messages import Invocation, RpcReply, decode, encode

INVOCATION = Invocation(
    execution_id="e",
    tenant="t",
    function="f",
    version=3,
    params=b'{"a": 1}',
    created_at=1.5,
    timeout_s=2.0,
    memory_mb=64,
)


def test_a_message_survives_the_round_trip() -> None:
    assert decode(encode(INVOCATION), Invocation) == INVOCATION


@pytest.mark.parametrize(
    "data", [b"", b"\xc1", b"\x93\x01\x02\x03", msgspec.msgpack.encode({"v": 1})]
)
def test_garbage_becomes_a_message_error(data: bytes) -> None:
    with pytest.raises(errors.MessageError):
        decode(data, Invocation)


def test_an_unknown_schema_version_is_refused() -> None:
    data = encode(msgspec.structs.replace(INVOCATION, v=99))
    with pytest.raises(errors.MessageError, match="schema version 99"):
        decode(data, Invocation)


def test_rpc_replies_carry_the_result_raw() -> None:
    reply = decode(encode(RpcReply(ok=True, result=msgspec.Raw(encode([1, 2])))), RpcReply)
    assert decode(bytes(reply.result), list[int]) == [1, 2]


def test_errors_cross_the_wire_by_name() -> None:
    rebuilt = errors.from_wire("FunctionNotFound", "gone")
    assert isinstance(rebuilt, errors.FunctionNotFound) and rebuilt.status == 404
    assert type(errors.from_wire("NoSuchError", "x")) is errors.FaaspotError
