"""A throwaway, Supabase-shaped PostgreSQL cluster for the tests and `receptor-planner demo`.

Built on `listener.pg_ctl` (initdb + pg_ctl, no pytest at runtime). As on Supabase, the
bootstrap superuser is `supabase_admin` (initdb -U supabase_admin) and `supabase_platform.sql`
creates the rest once, on first start: the non-superuser `postgres` that applies the
migrations, the API roles, GoTrue's auth schema, the realtime publication, Supabase's default
privileges. `wal_level = logical`, and pg_cron is preloaded when the server has it (unless
`pg_cron=False`), with `cron.database_name` pointing at our database, so the migrations can
create the extension and the reaper really ticks.

PostgreSQL refuses to run as root. When we are root (CI, containers) every pg_ctl call goes
through a tiny wrapper that drops to the `postgres` OS user, and the data/socket directory
is a fresh temp dir owned by that user.

    with throwaway_postgres() as pg:
        apply_migrations(pg.dsn)          # as `postgres`, like `supabase db push`
        psycopg.connect(pg.admin_dsn)     # `supabase_admin`, only where a superuser is needed
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from listener.pg_ctl import PgCtlExecutor

OS_USER = "postgres"  # created by Debian's postgresql packages
SUPERUSER = "supabase_admin"  # Supabase's bootstrap superuser
PLATFORM_SQL = Path(__file__).with_name("supabase_platform.sql")


def find_pg_ctl() -> str:
    """$PG_CTL, else pg_ctl on PATH, else the newest /usr/lib/postgresql/*/bin/pg_ctl."""
    found = os.environ.get("PG_CTL") or shutil.which("pg_ctl")
    if found:
        return found
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise FileNotFoundError("pg_ctl not found: install postgresql-15 or set PG_CTL")
    return candidates[-1]


def has_pg_cron(pg_ctl: str) -> bool:
    # Debian layout: /usr/lib/postgresql/15/{bin/pg_ctl,lib/pg_cron.so}
    return (Path(pg_ctl).resolve().parent.parent / "lib" / "pg_cron.so").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """One cluster: `dsn`, `dsn_for(user, password)`, `start()`, `stop()`, `restart()`."""

    def __init__(
        self, dbname: str = "postgres", *, port: int | None = None, pg_cron: bool = True
    ) -> None:
        self.dbname = dbname
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.base = Path(tempfile.mkdtemp(prefix="receptor-pg-"))
        pg_ctl = find_pg_ctl()
        self.pg_cron = pg_cron and has_pg_cron(pg_ctl)
        if os.geteuid() == 0:
            pg_ctl = self._drop_root(pg_ctl)
        # logical: what Supabase runs (Realtime's replication slots need it)
        options = ["-c max_connections=200", "-c wal_level=logical"]
        if self.pg_cron:
            options += [
                "-c shared_preload_libraries=pg_cron",
                f"-c cron.database_name={dbname}",
                # jobs run in background workers: no libpq connection, no auth to configure
                "-c cron.use_background_workers=on",
                "-c max_worker_processes=32",
            ]
        self.executor = PgCtlExecutor(
            executable=pg_ctl,
            host=self.host,
            port=self.port,
            datadir=str(self.base / "data"),
            unixsocketdir=str(self.base),
            logfile=str(self.base / "postgresql.log"),
            startparams="-w",
            dbname=dbname,
            user=SUPERUSER,
            postgres_options=" ".join(options),
        )

    def _drop_root(self, pg_ctl: str) -> str:
        user = pwd.getpwnam(OS_USER)
        os.chown(self.base, user.pw_uid, user.pw_gid)
        os.chmod(self.base, 0o700)
        wrapper = self.base / "pg_ctl-as-postgres"
        # cd /: the postgres user may not be allowed into the caller's working directory
        wrapper.write_text(f'#!/bin/sh\ncd /\nexec runuser -u {OS_USER} -- "{pg_ctl}" "$@"\n')
        wrapper.chmod(0o755)
        return str(wrapper)

    @property
    def dsn(self) -> str:
        """DSN of `postgres`, the non-superuser that owns the project's objects (as on Supabase)."""
        return self.dsn_for("postgres")

    @property
    def admin_dsn(self) -> str:
        """DSN of the bootstrap superuser `supabase_admin`: only for what needs a superuser."""
        return self.dsn_for(SUPERUSER)

    def dsn_for(self, user: str, password: str | None = None, dbname: str | None = None) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname or self.dbname}"

    def start(self) -> LocalPostgres:
        self.executor.start()
        # `pg_ctl start -w` exits only when the server accepts connections (and fails if it
        # could not start), so wait for that.
        launcher = self.executor.process
        if launcher is not None and launcher.wait(timeout=120) != 0:
            log = (self.base / "postgresql.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl start failed:\n{log}")
        admin = self.dsn_for(SUPERUSER, dbname="postgres")
        with psycopg.connect(admin, autocommit=True) as c:
            exists = c.execute("select 1 from pg_database where datname = %s", [self.dbname])
            if not exists.fetchone():
                c.execute(sql.SQL("create database {}").format(sql.Identifier(self.dbname)))
            fresh = not c.execute("select 1 from pg_roles where rolname = 'postgres'").fetchone()
        if fresh:
            self._bootstrap()
        return self

    def _bootstrap(self) -> None:
        """What the Supabase image does before any project migration (once per cluster)."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as c, c.transaction():
            c.execute(PLATFORM_SQL.read_text().encode())
            if self.dbname != "postgres":
                c.execute(
                    sql.SQL("grant all on database {} to postgres").format(
                        sql.Identifier(self.dbname)
                    )
                )

    def stop(self) -> None:
        if self.executor.running():
            self.executor.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@contextmanager
def throwaway_postgres(
    dbname: str = "postgres", *, port: int | None = None, pg_cron: bool = True
) -> Iterator[LocalPostgres]:
    """Start a fresh cluster, yield it, then stop it and delete its files."""
    pg = LocalPostgres(dbname, port=port, pg_cron=pg_cron)
    try:
        yield pg.start()
    finally:
        pg.cleanup()
