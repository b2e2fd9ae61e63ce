"""The test database is shaped like Supabase's, and our applier records what the CLI records.

Facts checked here are the platform's (supabase/postgres role setup, GoTrue's auth tables):
if one of them stops holding, the rest of the suite no longer proves anything about Supabase.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import psycopg
import pytest

from listener.local_postgres import LocalPostgres, throwaway_postgres
from listener.migrations import (
    SEED_PATH,
    apply_migrations,
    migrations,
    split_statements,
    supabase_dir,
)

pytestmark = pytest.mark.db

DEMO_USER = uuid.UUID("d3000000-0000-4000-8000-000000000001")


async def test_migrations_ran_as_the_non_superuser_postgres(conn):
    role = await conn.fetchrow(
        "select rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
        "from pg_roles where rolname = current_user"
    )
    assert dict(role) == {
        "rolname": "postgres",
        "rolsuper": False,
        "rolcreatedb": True,
        "rolcreaterole": True,
        "rolreplication": True,
        "rolbypassrls": True,
    }
    owners = await conn.fetch(
        "select distinct pg_get_userbyid(relowner) as owner from pg_class "
        "where relnamespace in ('public'::regnamespace, 'planner'::regnamespace)"
    )
    assert [r["owner"] for r in owners] == ["postgres"]


async def test_roles_schemas_and_settings_are_supabases(conn):
    members = await conn.fetch(
        "select r.rolname, m.rolname as member from pg_auth_members a "
        "join pg_roles r on r.oid = a.roleid join pg_roles m on m.oid = a.member "
        "where r.rolname in ('anon', 'authenticated', 'service_role')"
    )
    for api_role in ("anon", "authenticated", "service_role"):
        assert {r["member"] for r in members if r["rolname"] == api_role} >= {
            "postgres",
            "authenticator",
        }
    assert (
        await conn.fetchval("select rolinherit from pg_roles where rolname = 'authenticator'")
        is False
    )
    assert await conn.fetchval("select rolsuper from pg_roles where rolname = 'supabase_admin'")
    assert (
        await conn.fetchval(
            "select nspowner::regrole::text from pg_namespace where nspname = 'auth'"
        )
        == "supabase_admin"
    )
    assert {
        r["relname"]: r["owner"]
        for r in await conn.fetch(
            "select relname, relowner::regrole::text as owner from pg_class "
            "where relnamespace = 'auth'::regnamespace and relkind = 'r'"
        )
    } == {"users": "supabase_auth_admin", "identities": "supabase_auth_admin"}
    assert (
        await conn.fetchval(
            "select pubowner::regrole::text from pg_publication where pubname = 'supabase_realtime'"
        )
        == "postgres"
    )
    assert await conn.fetchval("show wal_level") == "logical"
    assert await conn.fetchval("select has_schema_privilege('postgres', 'cron', 'usage')")


async def test_supabase_default_privileges_grant_new_public_tables_to_the_api_roles(conn):
    # what makes RLS and the migrations' revokes the only protection
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute("create table public.default_privileges_probe (id int)")
        for role in ("anon", "authenticated", "service_role"):
            assert await conn.fetchval(
                "select has_table_privilege($1, 'public.default_privileges_probe', "
                "'select, insert, update, delete')",
                role,
            )
    finally:
        await tx.rollback()


async def test_the_demo_user_is_written_the_way_gotrue_writes_it(conn):
    user = await conn.fetchrow("select * from auth.users where id = $1", DEMO_USER)
    assert user["email"] == "workforce@demo-health.test"
    assert user["email_confirmed_at"] is not None and user["confirmed_at"] is not None
    for column in (
        "confirmation_token",
        "recovery_token",
        "email_change_token_new",
        "email_change",
        "email_change_token_current",
        "phone_change",
        "phone_change_token",
        "reauthentication_token",
    ):
        assert user[column] == "", column
    assert user["encrypted_password"].startswith("$2a$10$")  # bcrypt, GoTrue's cost
    assert await conn.fetchval(
        "select encrypted_password = extensions.crypt('receptor-demo', encrypted_password) "
        "from auth.users where id = $1",
        DEMO_USER,
    )
    identity = await conn.fetchrow("select * from auth.identities where user_id = $1", DEMO_USER)
    assert (identity["provider"], identity["provider_id"]) == ("email", str(DEMO_USER))
    assert identity["email"] == "workforce@demo-health.test"
    assert identity["identity_data"]["sub"] == str(DEMO_USER)


async def test_migrations_and_seed_are_recorded_as_the_cli_records_them(conn):
    rows = await conn.fetch(
        "select version, name, statements from supabase_migrations.schema_migrations "
        "order by version"
    )
    assert [(r["version"], r["name"], r["statements"]) for r in rows] == [
        (m.version, m.name, split_statements(m.path.read_text())) for m in migrations()
    ]
    seed = (supabase_dir() / "seed.sql").read_bytes()
    assert [tuple(r) for r in await conn.fetch("select * from supabase_migrations.seed_files")] == [
        (SEED_PATH, hashlib.sha256(seed).hexdigest())
    ]


def test_applying_again_applies_nothing_and_does_not_reseed(db_dsn):
    assert apply_migrations(db_dsn) == []  # a re-run seed would hit users_pkey


def test_only_files_the_cli_takes_are_migrations(tmp_path: Path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name in (
        "20260102_b.sql",
        "20260101_a.sql",
        "README.sql",
        "abc_def.sql",
        "20260103_c.txt",
        "20260104.sql",
    ):
        (folder / name).write_text("select 1;")
    assert [(m.version, m.name) for m in migrations(tmp_path)] == [
        ("20260101", "a"),
        ("20260102", "b"),
    ]


@pytest.mark.parametrize(
    ("sql", "statements"),
    [
        ("select 1; select 2;", ["select 1", "select 2"]),
        ("select ';' as a;;\n\n", ["select ';' as a"]),
        ("select 'it''s; fine'; x", ["select 'it''s; fine'", "x"]),
        ("-- a comment; still\nselect 1;", ["-- a comment; still\nselect 1"]),
        (
            "/* one; /* two; */ */ select 1; select 2",
            ["/* one; /* two; */ */ select 1", "select 2"],
        ),
        (
            "do $x$ begin perform 1; end $x$; select 2;",
            ["do $x$ begin perform 1; end $x$", "select 2"],
        ),
        (
            "create function f() returns int begin atomic select 1; end; select 2;",
            ["create function f() returns int begin atomic select 1; end", "select 2"],
        ),
        ('select "a;b" from t; select 2', ['select "a;b" from t', "select 2"]),
    ],
)
def test_statements_are_split_as_the_cli_splits_them(sql: str, statements: list[str]):
    assert split_statements(sql) == statements


def test_settings_do_not_leak_from_one_migration_into_the_next(
    pg_cluster: LocalPostgres, tmp_path: Path
):
    """As the CLI, RESET ALL before each file: an emptied search_path (pg_dump output does
    this) must not make the next file's unqualified names fail."""
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "1_empty_path.sql").write_text(
        "select pg_catalog.set_config('search_path', '', false);"
    )
    (tmp_path / "migrations" / "2_unqualified.sql").write_text("create table probe (a int);")
    with psycopg.connect(pg_cluster.dsn, autocommit=True) as c:
        c.execute("create database reset_probe")
    try:
        dsn = pg_cluster.dsn_for("postgres", dbname="reset_probe")
        assert apply_migrations(dsn, root=tmp_path) == ["1", "2"]
    finally:
        with psycopg.connect(pg_cluster.dsn, autocommit=True) as c:
            c.execute("drop database reset_probe")


@pytest.mark.slow
def test_without_pg_cron_the_cron_migration_fails_and_says_why():
    with throwaway_postgres(pg_cron=False) as pg:
        with pytest.raises(psycopg.errors.RaiseException, match="pg_cron is required") as err:
            apply_migrations(pg.dsn)
        assert "Enable the pg_cron extension" in (err.value.diag.message_hint or "")
        with psycopg.connect(pg.dsn) as c:
            applied = c.execute(
                "select array_agg(name order by version) from supabase_migrations.schema_migrations"
            ).fetchone()
            assert applied == (
                [
                    "planner_schema",
                    "planner_run_triggers",
                    "planner_worker_api",
                    "planner_security",
                ],
            )
            assert not c.execute("select 1 from pg_extension where extname = 'pg_cron'").fetchone()
