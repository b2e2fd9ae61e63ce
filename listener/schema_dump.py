"""The current database schema as one file: `supabase/schema.sql`.

Applies every migration to a throwaway cluster and prints `pg_dump --schema-only` of the
`public` and `planner` schemas, normalised so the output is the same on every run. A reader
opens `supabase/schema.sql` instead of replaying the migrations in their head; a test checks
it is up to date. Regenerate after changing a migration:

    uv run python -m listener.schema_dump > supabase/schema.sql
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from listener.local_postgres import find_pg_ctl, throwaway_postgres
from listener.migrations import apply_migrations

SCHEMAS = ("public", "planner")
HEADER = (
    "-- The schema after every migration in supabase/migrations/ (public and planner).\n"
    "-- Generated, do not edit: uv run python -m listener.schema_dump > supabase/schema.sql\n"
)
# Lines that change between runs or pg_dump builds but say nothing about the schema.
VOLATILE = re.compile(r"^(-- Dumped (from|by) |\\(un)?restrict |SELECT pg_catalog\.set_config)")


def pg_dump_path() -> str:
    return str(Path(find_pg_ctl()).resolve().parent / "pg_dump")


def normalise(dump: str) -> str:
    """Drop volatile lines and runs of blank lines; end with exactly one newline."""
    lines = [line.rstrip() for line in dump.splitlines() if not VOLATILE.match(line)]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return f"{HEADER}\n{text}\n"


def current_schema() -> str:
    with throwaway_postgres() as pg:
        apply_migrations(pg.dsn, seed=False)
        command = [pg_dump_path(), "--schema-only", "--no-owner"]
        command += [f"--schema={schema}" for schema in SCHEMAS]
        dump = subprocess.run(
            [*command, pg.dsn], check=True, capture_output=True, text=True, timeout=120
        )
    return normalise(dump.stdout)


if __name__ == "__main__":
    sys.stdout.write(current_schema())
