"""Parsing -p strings, --json objects and groups files."""

from pathlib import Path

import pytest

from faaspot.params import (
    ParameterError,
    merge_parameters,
    parse_groups,
    parse_json_object,
    parse_parameters,
    read_groups,
)


def test_pairs_split_on_commas_and_are_stripped() -> None:
    assert parse_parameters(" k1 = v1 ,k2=v2 ") == {"k1": "v1", "k2": "v2"}


def test_single_pair() -> None:
    assert parse_parameters("name=user1") == {"name": "user1"}


def test_value_keeps_equal_signs_after_the_first() -> None:
    assert parse_parameters("query=a=b, eq==") == {"query": "a=b", "eq": "="}


def test_empty_value_is_allowed() -> None:
    assert parse_parameters("k=") == {"k": ""}


def test_blank_string_is_an_empty_group() -> None:
    assert parse_parameters("  ") == {}


def test_later_key_wins() -> None:
    assert parse_parameters("k=1, k=2") == {"k": "2"}


def test_values_stay_strings() -> None:
    assert parse_parameters("n=1, flag=true") == {"n": "1", "flag": "true"}


def test_item_without_equal_sign_is_named_in_the_error() -> None:
    with pytest.raises(ParameterError, match="'oops' is not key=value"):
        parse_parameters("k=v, oops")


def test_empty_key_is_an_error() -> None:
    with pytest.raises(ParameterError, match="empty key"):
        parse_parameters("k=v, =v2")


def test_stray_comma_is_an_error() -> None:
    with pytest.raises(ParameterError, match="empty item"):
        parse_parameters("k=v,")


def test_json_object_is_parsed() -> None:
    assert parse_json_object('{"n": 1, "tags": ["a"]}') == {"n": 1, "tags": ["a"]}


@pytest.mark.parametrize(
    ("text", "kind"), [("[1]", "a list"), ('"s"', "a string"), ("3", "a number"), ("null", "null")]
)
def test_json_that_is_not_an_object_is_an_error(text: str, kind: str) -> None:
    with pytest.raises(ParameterError, match=f"expected a JSON object, not {kind}"):
        parse_json_object(text)


def test_invalid_json_is_an_error() -> None:
    with pytest.raises(ParameterError, match="not valid JSON"):
        parse_json_object("{name: 1}")


def test_merge_puts_p_groups_over_json() -> None:
    merged = merge_parameters({"a": 1, "b": 2}, [{"b": "x"}, {"c": "y"}])
    assert merged == {"a": 1, "b": "x", "c": "y"}


def test_merge_without_anything_is_empty() -> None:
    assert merge_parameters(None, []) == {}


def test_groups_as_a_json_list() -> None:
    assert parse_groups(' [{"k1": "v1"}, {}]\n', source="g.json") == [{"k1": "v1"}, {}]


def test_groups_as_json_lines_skip_blank_lines() -> None:
    text = '{"k1": "v1"}\n\n{"k2": 2}\n'
    assert parse_groups(text, source="g.jsonl") == [{"k1": "v1"}, {"k2": 2}]


def test_groups_list_item_that_is_not_an_object_is_an_error() -> None:
    with pytest.raises(ParameterError, match=r"g.json: item 1: expected a JSON object, not a list"):
        parse_groups('[{"a": 1}, [2]]', source="g.json")


def test_json_lines_error_names_the_line() -> None:
    with pytest.raises(ParameterError, match=r"g\.jsonl line 2: not valid JSON"):
        parse_groups('{"a": 1}\n{oops\n', source="g.jsonl")


def test_read_groups_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "groups.jsonl"
    path.write_text('{"name": "é"}\n', encoding="utf-8")
    assert read_groups(path) == [{"name": "é"}]


def test_read_groups_of_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="cannot read"):
        read_groups(tmp_path / "missing.json")
