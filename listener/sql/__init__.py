"""Named SQL queries: `listener/sql/<name>.sql`, loaded once by name.

The worker's queries sit here, one per `planner.*` call; the demo's (which play the UI's
part) sit apart in `demo/` and are named `"demo/<name>"`.

One parameter style everywhere: asyncpg's positional `$1, $2, ...`. The synchronous
commands (`demo`, `status`) use psycopg, which spells parameters differently, so they run
the same text through `psycopg_query`, which turns `$n` into psycopg's `%(n)s`.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

_POSITIONAL = re.compile(r"\$(\d+)")


@cache
def query(name: str) -> str:
    """The text of `listener/sql/<name>.sql`; raises FileNotFoundError for an unknown name."""
    path = resources.files(__package__).joinpath(*f"{name}.sql".split("/"))
    return path.read_text(encoding="utf-8").strip().rstrip(";")


def psycopg_query(name: str, *args: Any) -> tuple[str, dict[str, Any]]:
    """`query(name)` and `args` as psycopg takes them: `conn.execute(*psycopg_query(...))`."""
    text = _POSITIONAL.sub(r"%(\1)s", query(name))
    return text, {str(number): value for number, value in enumerate(args, start=1)}
