"""The README's configuration table lists exactly the settings the code reads."""

from __future__ import annotations

import re
from pathlib import Path

from shared.settings import Settings

README = Path(__file__).parent.parent / "README.md"


def test_the_configuration_table_matches_the_settings() -> None:
    documented = set(re.findall(r"^\| `(FAASPOT_[A-Z_]+)` \|", README.read_text(), re.M))
    expected = {f"FAASPOT_{name.upper()}" for name in Settings.model_fields}
    assert documented == expected


def test_the_readme_shows_both_commands() -> None:
    text = README.read_text()
    assert "make run" in text and "make test" in text
