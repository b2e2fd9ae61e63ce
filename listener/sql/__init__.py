"""Named SQL queries: `listener/sql/<name>.sql`, loaded once by name."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def query(name: str) -> str:
    """The text of `listener/sql/<name>.sql`; raises FileNotFoundError for an unknown name."""
    text = resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")
    return text.strip().rstrip(";")
