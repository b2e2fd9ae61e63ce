"""The README's configuration table lists exactly the variables `listener.config` parses."""

from __future__ import annotations

import re
from pathlib import Path

from listener.config import PARSERS

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_variables() -> list[str]:
    """First-column names of the table in the README's "## Configuration" section."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", section, flags=re.MULTILINE)


def test_readme_table_matches_the_parser():
    listed = readme_variables()
    assert len(listed) == len(set(listed)), "a variable is listed twice"
    assert set(listed) == set(PARSERS)
