"""Apply `supabase/migrations/*.sql`, then `seed.sql`, exactly as the Supabase CLI does.

Same semantics as `supabase db push --include-seed` (supabase/cli pkg/migration), so a
database made by the demo or the tests can later take `supabase db push`, and the reverse:

- only files named `<digits>_<name>.sql` are migrations (the CLI ignores the others);
- each file is split into statements with the CLI's tokenizer, run in one transaction after
  `RESET ALL`, and recorded in `supabase_migrations.schema_migrations (version, name,
  statements)`;
- each seed file runs once and is recorded in `supabase_migrations.seed_files (path, hash)`
  with the SHA-256 of its bytes; a seed whose hash changed is not re-run, only re-hashed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import psycopg

MIGRATION_NAME = re.compile(r"^([0-9]+)_(.*)\.sql$")
# The path the CLI records for `[db.seed] sql_paths = ["./seed.sql"]` (relative to its workdir).
SEED_PATH = "supabase/seed.sql"

# supabase/cli pkg/migration/history.go, verbatim
CREATE_VERSION_TABLE = (
    "SET lock_timeout = '4s'",
    "CREATE SCHEMA IF NOT EXISTS supabase_migrations",
    "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations"
    " (version text NOT NULL PRIMARY KEY)",
    "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[]",
    "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text",
)
CREATE_SEED_TABLE = (
    "SET lock_timeout = '4s'",
    "CREATE SCHEMA IF NOT EXISTS supabase_migrations",
    "CREATE TABLE IF NOT EXISTS supabase_migrations.seed_files"
    " (path text NOT NULL PRIMARY KEY, hash text NOT NULL)",
)
INSERT_MIGRATION_VERSION = (
    "INSERT INTO supabase_migrations.schema_migrations(version, name, statements) "
    "VALUES(%s, %s, %s)"
)
UPSERT_SEED_FILE = (
    "INSERT INTO supabase_migrations.seed_files(path, hash) VALUES(%s, %s) "
    "ON CONFLICT (path) DO UPDATE SET hash = EXCLUDED.hash"
)


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    def statements(self) -> list[str]:
        return split_statements(self.path.read_text())


@dataclass(frozen=True)
class Seed:
    path: str  # as recorded in seed_files
    file: Path

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.file.read_bytes()).hexdigest()


def supabase_dir() -> Path:
    """The repository's `supabase/`, or the copy force-included in an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "supabase", here / "_supabase"):
        if (candidate / "migrations").is_dir():
            return candidate
    raise FileNotFoundError("supabase/migrations not found next to the listener package")


def migrations(root: Path | None = None) -> list[Migration]:
    """The files the CLI would apply, in version order."""
    found = []
    for path in sorted((root or supabase_dir()).joinpath("migrations").glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if match:
            found.append(Migration(match[1], match[2], path))
    return found


def migration_files(root: Path | None = None) -> list[Path]:
    return [m.path for m in migrations(root)]


def apply_migrations(dsn: str, *, seed: bool = True, root: Path | None = None) -> list[str]:
    """Apply pending migrations, then pending seed files; return the versions applied."""
    root = root or supabase_dir()
    with psycopg.connect(dsn, autocommit=True) as conn:
        applied = apply_pending(conn, migrations(root))
        if seed and (root / "seed.sql").exists():
            apply_seed(conn, Seed(SEED_PATH, root / "seed.sql"))
    return applied


def apply_pending(conn: psycopg.Connection, files: list[Migration]) -> list[str]:
    run_batch(conn, CREATE_VERSION_TABLE)
    done = {
        row[0] for row in conn.execute("SELECT version FROM supabase_migrations.schema_migrations")
    }
    applied = []
    for migration in files:
        if migration.version in done:
            continue
        # as the CLI: a `set_config(..., false)` in one file must not leak into the next
        conn.execute("RESET ALL")
        statements = migration.statements()
        with conn.transaction():
            for statement in statements:
                conn.execute(statement.encode())
            conn.execute(INSERT_MIGRATION_VERSION, [migration.version, migration.name, statements])
        applied.append(migration.version)
    return applied


def apply_seed(conn: psycopg.Connection, seed: Seed) -> bool:
    """Run the seed unless seed_files already has it; return whether its statements ran."""
    run_batch(conn, CREATE_SEED_TABLE)
    row = conn.execute(
        "SELECT hash FROM supabase_migrations.seed_files WHERE path = %s", [seed.path]
    ).fetchone()
    digest = seed.hash
    if row is not None and row[0] == digest:
        return False
    with conn.transaction():
        if row is None:  # a changed seed is only re-hashed, as the CLI marks it "dirty"
            for statement in split_statements(seed.file.read_text()):
                conn.execute(statement.encode())
        conn.execute(UPSERT_SEED_FILE, [seed.path, digest])
    return row is None


def apply_sql_file(conn: psycopg.Connection, path: Path) -> None:
    """Run one file's statements in a single transaction after `RESET ALL`, without recording
    it (for re-running an idempotent migration)."""
    conn.execute("RESET ALL")
    with conn.transaction():
        for statement in split_statements(path.read_text()):
            conn.execute(statement.encode())


def run_batch(conn: psycopg.Connection, statements: tuple[str, ...]) -> None:
    """Run statements in one implicit transaction, as the CLI's pgconn batches do."""
    with conn.transaction():
        for statement in statements:
            conn.execute(statement.encode())


# --- the CLI's statement splitter (supabase/cli pkg/parser, state.go + token.go) -------------
# A port of its state machine, quirks included, so the statements we store are the CLI's.
# A state's `next(text, start, end)` sees the token so far, text[start:end]; it returns the
# next state, or None to emit the token (a `;` outside quotes, comments and bodies).


class _State(Protocol):
    def next(self, text: str, start: int, end: int) -> _State | None: ...


class _Ready:
    def next(self, text: str, start: int, end: int) -> _State | None:
        r = text[end - 1]
        if r == "$":
            return _Tag(end - 1)
        if r in "'\"":
            return _Quote(r)
        if r == "-":
            return _Comment()
        if r == "/":
            return _Block()
        if r == "\\":
            return _Escape()
        if r == ";":
            return None
        if r == "(":
            return _Atomic(self, ")")
        if r in "cC" and _is_begin_atomic(text[start:end]):
            return _Atomic(self, "END")
        return self


def _is_identifier(r: str) -> bool:
    return r.isalpha() or r.isdigit() or r in "_$"


def _is_begin_atomic(data: str) -> bool:
    offset = len(data) - len("ATOMIC")
    if offset < 0 or data[offset:].upper() != "ATOMIC":
        return False
    if offset > 0 and _is_identifier(data[offset - 1]):
        return False
    prefix = data[:offset].rstrip()
    offset = len(prefix) - len("BEGIN")
    if offset < 0 or prefix[offset:].upper() != "BEGIN":
        return False
    return offset == 0 or not _is_identifier(prefix[offset - 1])


class _Comment:
    def next(self, text: str, start: int, end: int) -> _State | None:
        if text[end - 1] == "-":
            return _Dollar("\n")
        return _Ready().next(text, start, end)


class _Block:
    def __init__(self) -> None:
        self.depth = 0

    def next(self, text: str, start: int, end: int) -> _State | None:
        window = text[max(start, end - 2) : end]
        if window == "/*":
            self.depth += 1
            return self
        if self.depth == 0:
            return _Ready().next(text, start, end)
        if window == "*/":
            self.depth -= 1
            if self.depth == 0:
                return _Ready()
        return self


class _Quote:
    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter
        self.escape = False

    def next(self, text: str, start: int, end: int) -> _State | None:
        r = text[end - 1]
        if self.escape:
            if r == self.delimiter:  # a doubled quote stays inside the literal
                self.escape = False
                return self
            return _Ready().next(text, start, end)
        if r == self.delimiter:
            self.escape = True
        return self


class _Dollar:
    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter

    def next(self, text: str, start: int, end: int) -> _State | None:
        if text[max(start, end - len(self.delimiter)) : end] == self.delimiter:
            return _Ready()
        return self


class _Tag:
    def __init__(self, offset: int) -> None:
        self.offset = offset

    def next(self, text: str, start: int, end: int) -> _State | None:
        r = text[end - 1]
        if r == "$":
            return _Dollar(text[self.offset : end])
        if r.isalpha() or r.isdigit() or r == "_":
            return self
        return _Ready().next(text, start, end)


class _Escape:
    def next(self, text: str, start: int, end: int) -> _State | None:
        return _Ready()


class _Atomic:
    def __init__(self, prev: _State, delimiter: str) -> None:
        self.prev = prev
        self.delimiter = delimiter

    def next(self, text: str, start: int, end: int) -> _State | None:
        current = self.prev.next(text, start, end)
        if current is not None:
            self.prev = current
        if isinstance(self.prev, _Ready):
            window = text[max(start, end - len(self.delimiter)) : end]
            if window.upper() == self.delimiter.upper():
                return _Ready()
        return self


def split_statements(text: str) -> list[str]:
    """Statements as `parser.SplitAndTrim` returns them: comments kept, trailing `;` and
    surrounding whitespace trimmed, empty ones dropped."""
    tokens: list[str] = []
    state: _State = _Ready()
    start = 0
    for end in range(1, len(text) + 1):
        following = state.next(text, start, end)
        if following is None:
            tokens.append(text[start:end])
            start, state = end, _Ready()
        else:
            state = following
    if start < len(text):
        tokens.append(text[start:])
    trimmed = (token.rstrip(";").strip() for token in tokens)
    return [token for token in trimmed if token]
