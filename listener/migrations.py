"""Apply `supabase/migrations/*.sql` in file order, then `seed.sql`: what `supabase db reset` does.

Applied versions are recorded in `supabase_migrations.schema_migrations`, the table the
Supabase CLI keeps, so running this again against the same database applies only new files,
and a database the CLI migrated is recognised. The seed runs only on a fresh database.
"""

from __future__ import annotations

from pathlib import Path

import psycopg


def supabase_dir() -> Path:
    """The repository's `supabase/`, or the copy force-included in an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "supabase", here / "_supabase"):
        if (candidate / "migrations").is_dir():
            return candidate
    raise FileNotFoundError("supabase/migrations not found next to the listener package")


def shim_file() -> Path:
    """The minimal Supabase stand-in (roles, auth.users/uid()/jwt(), realtime publication) that a
    plain PostgreSQL needs before the migrations: repo `tests/`, or `listener/_supabase/`."""
    here = Path(__file__).resolve().parent
    for candidate in (
        here.parent / "tests" / "supabase_shim.sql",
        here / "_supabase" / "supabase_shim.sql",
    ):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("supabase_shim.sql not found")


def migration_files(root: Path | None = None) -> list[Path]:
    return sorted((root or supabase_dir()).joinpath("migrations").glob("*.sql"))


def apply_sql_file(conn: psycopg.Connection, path: Path) -> None:
    """Run one file as a single transaction (simple query protocol: many statements, no params)."""
    with conn.transaction():
        conn.execute(path.read_text().encode())


def apply_migrations(
    dsn: str, *, seed: bool = True, shim: bool = False, root: Path | None = None
) -> list[str]:
    """Apply pending migrations (and the seed on a fresh database); return the versions applied.
    `shim=True` first applies the Supabase shim (for a plain PostgreSQL such as local_postgres)."""
    root = root or supabase_dir()
    applied: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        if shim:
            apply_sql_file(conn, shim_file())
        conn.execute(
            "create schema if not exists supabase_migrations;"
            "create table if not exists supabase_migrations.schema_migrations"
            " (version text primary key, statements text[], name text)"
        )
        done = {
            row[0]
            for row in conn.execute("select version from supabase_migrations.schema_migrations")
        }
        fresh = not done
        for path in migration_files(root):
            version, _, name = path.stem.partition("_")
            if version in done:
                continue
            with conn.transaction():
                conn.execute(path.read_text().encode())
                conn.execute(
                    "insert into supabase_migrations.schema_migrations (version, name) "
                    "values (%s, %s)",
                    [version, name],
                )
            applied.append(version)
        seed_file = root / "seed.sql"
        if seed and fresh and seed_file.exists():
            apply_sql_file(conn, seed_file)
    return applied
