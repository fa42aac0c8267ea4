from __future__ import annotations

from urllib.parse import quote

import pytest

from services.api import inputs
from shared.errors import InvalidEncoding, InvalidRequest, PayloadTooLarge, TooManyGroups


def test_percent_decoding_undoes_quote() -> None:
    text = "def main(args, context):\n    return '100% ünïcode + spaces'\n"
    assert inputs.percent_decode(quote(text.encode("utf-8")), "code") == text


def test_plain_text_without_percent_signs_passes_unchanged() -> None:
    assert inputs.percent_decode("def main(a, c): pass", "code") == "def main(a, c): pass"


@pytest.mark.parametrize("bad", ["%", "%2", "%G0", "abc%zz"])
def test_broken_escapes_are_refused(bad: str) -> None:
    with pytest.raises(InvalidEncoding, match="percent-encoding"):
        inputs.percent_decode(bad, "code")


def test_bulk_items_keep_their_exact_json() -> None:
    groups = inputs.parse_bulk(b'[{"a": 1},  {"b": [1, 2]} ]', 10, 100)
    assert groups == [b'{"a": 1}', b'{"b": [1, 2]}']


def test_bulk_limits() -> None:
    with pytest.raises(TooManyGroups, match="at most 2"):
        inputs.parse_bulk(b"[{}, {}, {}]", 2, 100)
    with pytest.raises(PayloadTooLarge, match="item 1"):
        inputs.parse_bulk(b'[{}, {"k": "' + b"x" * 100 + b'"}]', 10, 50)
    with pytest.raises(InvalidRequest, match="item 0"):
        inputs.parse_bulk(b'["text"]', 10, 100)


def test_query_parameters_become_a_json_object_of_strings() -> None:
    assert (
        inputs.query_params([("a", "1"), ("b", "x y"), ("a", "2")], 100) == b'{"a":"2","b":"x y"}'
    )


def test_an_empty_body_is_no_parameters() -> None:
    assert inputs.parse_object(b"  ", 10) == b"{}"
