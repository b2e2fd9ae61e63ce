"""Our applier and the real Supabase CLI (package.json pins it) take each other's databases:
applied with ours, `supabase db push --include-seed` finds nothing to do, and the reverse;
the statements the CLI stores are the ones our splitter produces."""

from __future__ import annotations

import hashlib
import os
import subprocess
from contextlib import AbstractContextManager
from pathlib import Path

import psycopg
import pytest

from listener.local_postgres import LocalPostgres, free_port, throwaway_postgres
from listener.migrations import SEED_PATH, apply_migrations, migrations, split_statements

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "node_modules" / ".bin" / "supabase"

pytestmark = [pytest.mark.db, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def supabase_cli() -> None:
    if not CLI.exists():
        if os.environ.get("REQUIRE_SUPABASE_CLI"):
            pytest.fail("the Supabase CLI is not installed: run `npm ci`")
        pytest.skip("the Supabase CLI is not installed (`npm ci`); scripts/test requires it")


def cli_cluster() -> AbstractContextManager[LocalPostgres]:
    port = free_port()
    while port in (54320, 54322):  # the CLI takes these for its own Docker stack
        port = free_port()
    return throwaway_postgres(port=port)


def supabase(pg: LocalPostgres, *args: str) -> str:
    done = subprocess.run(
        [str(CLI), *args, "--db-url", f"{pg.dsn}?sslmode=disable", "--yes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def history(pg: LocalPostgres) -> tuple[list[tuple], list[tuple]]:
    with psycopg.connect(pg.dsn) as c:
        versions = c.execute(
            "select version, name, statements from supabase_migrations.schema_migrations "
            "order by version"
        ).fetchall()
        seeds = c.execute("select path, hash from supabase_migrations.seed_files").fetchall()
    return versions, seeds


def expected_history() -> tuple[list[tuple], list[tuple]]:
    seed = (ROOT / "supabase" / "seed.sql").read_bytes()
    return (
        [(m.version, m.name, split_statements(m.path.read_text())) for m in migrations()],
        [(SEED_PATH, hashlib.sha256(seed).hexdigest())],
    )


def test_the_cli_pushes_onto_a_database_we_migrated():
    with cli_cluster() as pg:
        apply_migrations(pg.dsn)
        out = supabase(pg, "db", "push", "--include-seed")
        assert "Remote database is up to date" in out
        assert "Applying migration" not in out and "Seeding data" not in out
        assert history(pg) == expected_history()


def test_we_apply_onto_a_database_the_cli_pushed():
    with cli_cluster() as pg:
        out = supabase(pg, "db", "push", "--include-seed")
        assert "Seeding data from supabase/seed.sql" in out
        # the CLI's own records equal ours, statement for statement
        assert history(pg) == expected_history()
        assert apply_migrations(pg.dsn) == []
        with psycopg.connect(pg.dsn) as c:
            users = c.execute("select count(*) from auth.users").fetchone()
        assert users == (1,)
