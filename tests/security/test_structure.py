"""Structural guarantees behind the attacks: how every planner function is pinned and
written, what each role is granted, what keys and messages can reveal, that the request
limits equal the engine's, and that the migrations apply as a non-superuser owner."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import psycopg
import pytest

from constraints.limits import LIMITS
from constraints.loading.params import MAX_SEED, PARAM_KEYS
from constraints.rules import known_rule_sets
from listener.migrations import migration_files
from tests.tenant_tables import PLANNER_TENANT_TABLES
from tests.tenant_tables import TENANT_TABLES as APP_TENANT_TABLES

SECURITY_MIGRATION = next(p for p in migration_files() if p.name.endswith("_planner_security.sql"))
# The migration's TEMPORARY block, run on its own against a database of the test's choosing.
TEMPORARY_BLOCK = re.search(
    r"^do \$\$\ndeclare\n    r text;\n    owner text;.*?^end \$\$;",
    SECURITY_MIGRATION.read_text(),
    re.S | re.M,
).group(0)

pytestmark = [pytest.mark.db, pytest.mark.security]

LISTENER_SQL = Path(__file__).resolve().parents[2] / "listener" / "sql"
TENANT_TABLES = (*APP_TENANT_TABLES, *PLANNER_TENANT_TABLES)  # the planner's own too


def planner_functions(su: psycopg.Connection) -> list[tuple[str, bool, list[str], str]]:
    return su.execute(
        "select p.proname, p.prosecdef, coalesce(p.proconfig, '{}'), p.prosrc "
        "from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
        "where n.nspname = 'planner' order by 1"
    ).fetchall()


def test_every_planner_function_pins_search_path_with_pg_temp_last(world):
    for name, _definer, config, _src in planner_functions(world.su):
        assert "search_path=pg_catalog, pg_temp" in config, (name, config)


# a cast or declaration naming a type without its schema
UNQUALIFIED_CAST = re.compile(r"::\s*(?!pg_catalog\.|public\.|planner\.)([a-z_]+)", re.I)
UNQUALIFIED_DECLARE = re.compile(
    r"^\s+\w+\s+(?:constant\s+)?(uuid|text|jsonb|json|timestamptz|bool|boolean|int4|integer|"
    r"numeric|interval)\b",
    re.I | re.M,
)


def test_security_definer_bodies_qualify_every_type_and_use_no_temp_tables(world):
    definers = [row for row in planner_functions(world.su) if row[1]]
    assert len(definers) >= 15
    for name, _definer, _config, src in definers:
        assert not UNQUALIFIED_CAST.findall(src), (name, UNQUALIFIED_CAST.findall(src))
        assert not UNQUALIFIED_DECLARE.findall(src), (name, UNQUALIFIED_DECLARE.findall(src))
        assert not re.search(r"\btemp(orary)?\b|pg_temp\.", src, re.I), name


def test_no_role_check_reads_jwt_claims(world):
    for name, _definer, _config, src in planner_functions(world.su):
        assert not re.search(r"auth\.jwt|auth\.role|jwt\.claims", src), name
    policies = world.su.execute(
        "select policyname, coalesce(qual, '') || coalesce(with_check, '') from pg_policies "
        "where schemaname = 'public'"
    ).fetchall()
    assert policies
    for name, text in policies:
        assert not re.search(r"jwt|auth\.role", text), name


def listener_calls() -> set[str]:
    calls: set[str] = set()
    for path in LISTENER_SQL.glob("*.sql"):
        calls |= set(re.findall(r"planner\.(\w+)\s*\(", path.read_text()))
    return calls


def executable(su: psycopg.Connection, role: str) -> set[str]:
    return {
        row[0]
        for row in su.execute(
            "select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
            "where n.nspname = 'planner' and has_function_privilege(%s, p.oid, 'execute')",
            [role],
        )
    }


def test_the_worker_login_executes_exactly_what_the_listener_calls(world):
    assert executable(world.su, "planner_worker") == listener_calls()


def test_api_roles_execute_only_the_policy_helpers_and_restore(world):
    assert executable(world.su, "anon") == set()
    assert executable(world.su, "authenticated") == {
        "has_role",
        "is_member",
        "run_request_problem",
        "restore_snapshot",
    }


def test_new_planner_functions_are_not_executable_by_public(world):
    with world.su.transaction(force_rollback=True):
        world.su.execute(
            "create function planner.zz_probe() returns int language sql as 'select 1'"
        )
        for role in ("planner_worker", "anon", "authenticated"):
            assert not world.su.execute(
                "select has_function_privilege(%s, 'planner.zz_probe()', 'execute')", [role]
            ).fetchone()[0], role


def test_temporary_is_revoked_where_the_migrating_role_owns_the_database(pg_cluster):
    """`postgres` (not a superuser) creates and so owns a database: the security migration
    revokes TEMPORARY from PUBLIC there, and gives it back to service_role only."""
    database = f"tmp_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_cluster.dsn, autocommit=True) as conn:
        conn.execute(f"create database {database}")
    try:
        dsn = pg_cluster.dsn_for("postgres", dbname=database)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(TEMPORARY_BLOCK)
            for role in ("planner_worker", "anon", "authenticated"):
                assert not conn.execute(
                    "select has_database_privilege(%s, current_database(), 'TEMPORARY')", [role]
                ).fetchone()[0], role
            assert conn.execute(
                "select has_database_privilege('service_role', current_database(), 'TEMPORARY')"
            ).fetchone()[0]
    finally:
        with psycopg.connect(pg_cluster.dsn, autocommit=True) as conn:
            conn.execute(f"drop database if exists {database} with (force)")


def test_a_database_owned_by_the_platform_keeps_temporary_and_says_so(pg_cluster):
    """On Supabase the database belongs to supabase_admin: `postgres` cannot revoke PUBLIC's
    TEMPORARY, and the migration says so in a WARNING with the statement to run."""
    with psycopg.connect(pg_cluster.dsn, autocommit=True) as conn:
        notices: list[str] = []
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        conn.execute(TEMPORARY_BLOCK)
    assert any("only its owner (supabase_admin) can revoke it" in n for n in notices), notices


def test_tenant_unique_keys_start_with_the_organisation(world):
    rows = world.su.execute(
        "select c.relname, i.indexrelid::regclass::text, "
        "array(select a.attname from unnest(i.indkey) with ordinality k(attnum, n) "
        "      join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum "
        "      order by k.n)::text[] "
        "from pg_index i join pg_class c on c.oid = i.indrelid "
        "join pg_namespace s on s.oid = c.relnamespace "
        "where s.nspname = 'public' and i.indisunique and c.relname = any(%s)",
        [list(TENANT_TABLES)],
    ).fetchall()
    for table, index, columns in rows:
        if columns == ["id"]:
            continue  # a generated id: never chosen by a member (below)
        if table == "planner_run_claims":
            continue  # written by claim_run only
        first = "id" if table == "organizations" else "organization_id"
        assert columns[0] == first, (table, index, columns)


@pytest.mark.parametrize("privilege", ["INSERT", "UPDATE"])
def test_members_never_choose_ids_or_move_rows(world, privilege):
    for table in TENANT_TABLES:
        for column in ("id", "created_at") + (
            ("organization_id",) if privilege == "UPDATE" else ()
        ):
            exists = world.su.execute(
                "select 1 from information_schema.columns where table_schema = 'public' "
                "and table_name = %s and column_name = %s",
                (table, column),
            ).fetchone()
            if exists:
                assert not world.su.execute(
                    "select has_column_privilege('authenticated', %s, %s, %s)",
                    (f"public.{table}", column, privilege),
                ).fetchone()[0], (table, column, privilege)


def request_limits_source(su: psycopg.Connection) -> str:
    return su.execute(
        "select prosrc from pg_proc where proname = 'run_request_problem'"
    ).fetchone()[0]


def sql_array(src: str, name: str) -> list[str]:
    body = re.search(rf"{name} constant pg_catalog\.text\[\] :=\s*array\[([^\]]*)\]", src)
    assert body, name
    return re.findall(r"'([^']*)'", body.group(1))


def sql_number(src: str, name: str) -> int:
    found = re.search(rf"{name} constant pg_catalog\.\w+ := (\d+);", src)
    assert found, name
    return int(found.group(1))


def test_request_limits_equal_the_engines(world):
    src = request_limits_source(world.su)
    assert sql_array(src, "known") == known_rule_sets()
    assert sql_array(src, "param_keys") == list(PARAM_KEYS)
    assert sql_number(src, "max_constraints") == LIMITS["constraints"]
    assert sql_number(src, "max_lines") == LIMITS["lines"]
    assert sql_number(src, "max_time_limit_s") == LIMITS["time_limit_s"]
    assert sql_number(src, "max_seed") == MAX_SEED


def test_migrations_apply_as_a_non_superuser_database_owner(pg_cluster):
    """As on Supabase: the cluster's `postgres` is not a superuser, applied every migration
    (the session fixture does, like `supabase db push`) and owns what they made, and the
    worker login may not create temporary objects."""
    with psycopg.connect(pg_cluster.dsn, autocommit=True) as conn:
        role = conn.execute(
            "select current_user, rolsuper from pg_roles where rolname = current_user"
        ).fetchone()
        assert role == ("postgres", False)
        owner = conn.execute(
            "select pg_get_userbyid(nspowner) from pg_namespace where nspname = 'planner'"
        ).fetchone()[0]
        assert owner == "postgres"
        applied = conn.execute(
            "select count(*) from supabase_migrations.schema_migrations"
        ).fetchone()[0]
        assert applied == len(migration_files())
