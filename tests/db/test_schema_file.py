"""supabase/schema.sql is the schema the migrations build today (a reader's single view)."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from listener.schema_dump import current_schema

pytestmark = [pytest.mark.db, pytest.mark.slow]

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "supabase" / "schema.sql"


def test_schema_file_is_up_to_date():
    diff = list(
        difflib.unified_diff(
            SCHEMA_FILE.read_text().splitlines(),
            current_schema().splitlines(),
            "supabase/schema.sql",
            "the migrations today",
            lineterm="",
        )
    )
    assert not diff, (
        "supabase/schema.sql is stale; regenerate it with "
        "`uv run python -m listener.schema_dump > supabase/schema.sql`:\n" + "\n".join(diff[:60])
    )
