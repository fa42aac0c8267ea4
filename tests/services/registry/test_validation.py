from __future__ import annotations

import pytest

from services.registry.validation import check_code, check_context, resolve_limits
from shared.errors import InvalidCode, InvalidContext, InvalidLimits, PayloadTooLarge
from shared.settings import Settings


@pytest.mark.parametrize(
    "code",
    [
        "def main(args, context):\n    return ''\n",
        "def main(a, b, /):\n    return 1\n",
        "def main(args, context, *, debug=False):\n    return 1\n",
        "import os\n\ndef helper():\n    pass\n\ndef main(args, context):\n    return helper()\n",
    ],
)
def test_good_code_passes(code: str) -> None:
    check_code(code, 1 << 20)


def test_the_last_main_is_the_one_that_counts() -> None:
    with pytest.raises(InvalidCode, match="line 4"):
        check_code("def main(args, context):\n    pass\n\ndef main(args):\n    pass\n", 1 << 20)


def test_a_required_keyword_only_parameter_is_refused() -> None:
    with pytest.raises(InvalidCode, match="exactly two"):
        check_code("def main(args, context, *, must):\n    pass\n", 1 << 20)


def test_code_size_counts_utf8_bytes() -> None:
    code = "def main(args, context):\n    return 'é'\n"
    with pytest.raises(PayloadTooLarge):
        check_code(code, len(code))  # 'é' is two bytes


def test_pathologically_nested_code_is_refused_cleanly() -> None:
    with pytest.raises(InvalidCode):
        check_code("x = " + "(" * 10_000 + ")" * 10_000 + "\ndef main(a, c):\n    pass\n", 1 << 20)


def test_context_must_be_toml() -> None:
    check_context('access_key_is = "XYZ"\nsecret_access_key = "123"\n')
    with pytest.raises(InvalidContext, match="line 1"):
        check_context("access_key_is = XYZ\n")


def test_limits_get_defaults_and_bounds() -> None:
    settings = Settings(timeout_default=30, timeout_max=60, memory_default=128, memory_max=512)
    assert resolve_limits(settings, None, None) == (30, 128)
    assert resolve_limits(settings, 60, 512) == (60, 512)
    for timeout, memory in ((0, None), (61, None), (None, 8), (None, 513)):
        with pytest.raises(InvalidLimits):
            resolve_limits(settings, timeout, memory)
