"""Worker configuration: environment variables, validated once at start-up.

Every bad value is reported (all of them, one line each) before the worker touches the
database, so a misconfigured deployment fails fast with a message an operator can act on.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

WAKEUP_SOURCES = ("listen", "poll", "realtime")
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


class ConfigError(Exception):
    """One or more environment variables are invalid; `problems` holds one message each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    database_url: str
    worker_id: str
    concurrency: int = 1
    heartbeat_s: float = 5.0
    poll_interval_s: float = 10.0
    shutdown_grace_s: float = 10.0
    solve_memory_mb: int = 4096
    log_format: str = "json"
    log_level: str = "INFO"
    wakeup: str = "listen"
    listen_check_s: float = 10.0
    reconnect_max_s: float = 30.0
    db_timeout_s: float = 10.0
    statement_cache_size: int = 0
    cancel_grace_s: float = 1.5
    health_file: Path = Path("/tmp/receptor-planner.health")
    health_max_age_s: float = 60.0
    # PLANNER_WAKEUP=realtime only. The key bypasses RLS: never shown in repr or logs.
    supabase_url: str = ""
    supabase_service_role_key: str = dataclasses.field(default="", repr=False)
    realtime_heartbeat_s: float = 15.0
    # Prometheus metrics: off unless PLANNER_METRICS_PORT is set.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    metrics_refresh_s: float = 15.0

    def redacted_url(self) -> str:
        """DATABASE_URL without its password, safe for logs."""
        return redact_url(self.database_url)


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


# (env var, Settings field, parser). Parsers raise ValueError with a human message.
def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError("must be a whole number of at least 1")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be a whole number of at least 0 (0 = no limit)")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a number of seconds greater than 0")
    return value


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0 or value == float("inf"):
        raise ValueError("must be a number of seconds, 0 or more")
    return value


def _choice(options: tuple[str, ...], *, upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().upper() if upper else raw.strip().lower()
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return parse


def _database_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError("must be a postgresql:// URL, e.g. postgresql://user:pass@host:5432/db")
    if not parts.hostname and "host=" not in parts.query:
        raise ValueError("has no host")
    return raw.strip()


def _worker_id(raw: str) -> str:
    value = raw.strip()
    if not value or len(value) > 200:
        raise ValueError("must be 1 to 200 characters")
    return value


def _supabase_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise ValueError(
            "must be the project's API URL, e.g. https://<project-ref>.supabase.co "
            "(or http://127.0.0.1:54321 for `supabase start`)"
        )
    return raw.strip().rstrip("/")


def _secret(raw: str) -> str:
    value = raw.strip()
    if any(ch.isspace() for ch in value):
        raise ValueError("must be one token without spaces (copy it from Settings -> API)")
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 65535:
        raise ValueError("must be a TCP port between 1 and 65535")
    return value


def _host(raw: str) -> str:
    value = raw.strip()
    if not value or any(ch.isspace() for ch in value):
        raise ValueError("must be an address to bind, e.g. 127.0.0.1 or 0.0.0.0")
    return value


def _path(raw: str) -> Path:
    if not raw.strip():
        raise ValueError("must be a file path")
    return Path(raw.strip())


PARSERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "DATABASE_URL": ("database_url", _database_url),
    "PLANNER_WORKER_ID": ("worker_id", _worker_id),
    "PLANNER_CONCURRENCY": ("concurrency", _positive_int),
    "PLANNER_HEARTBEAT_S": ("heartbeat_s", _positive_float),
    "PLANNER_POLL_INTERVAL_S": ("poll_interval_s", _positive_float),
    "PLANNER_SHUTDOWN_GRACE_S": ("shutdown_grace_s", _non_negative_float),
    "PLANNER_SOLVE_MEMORY_MB": ("solve_memory_mb", _non_negative_int),
    "PLANNER_LOG_FORMAT": ("log_format", _choice(LOG_FORMATS)),
    "PLANNER_LOG_LEVEL": ("log_level", _choice(LOG_LEVELS, upper=True)),
    "PLANNER_WAKEUP": ("wakeup", _choice(WAKEUP_SOURCES)),
    "PLANNER_LISTEN_CHECK_S": ("listen_check_s", _positive_float),
    "PLANNER_RECONNECT_MAX_S": ("reconnect_max_s", _positive_float),
    "PLANNER_DB_TIMEOUT_S": ("db_timeout_s", _positive_float),
    "PLANNER_DB_STATEMENT_CACHE_SIZE": ("statement_cache_size", _non_negative_int),
    "PLANNER_CANCEL_GRACE_S": ("cancel_grace_s", _positive_float),
    "PLANNER_HEALTH_FILE": ("health_file", _path),
    "PLANNER_HEALTH_MAX_AGE_S": ("health_max_age_s", _positive_float),
    "SUPABASE_URL": ("supabase_url", _supabase_url),
    "SUPABASE_SERVICE_ROLE_KEY": ("supabase_service_role_key", _secret),
    "PLANNER_REALTIME_HEARTBEAT_S": ("realtime_heartbeat_s", _positive_float),
    "PLANNER_METRICS_PORT": ("metrics_port", _port),
    "PLANNER_METRICS_HOST": ("metrics_host", _host),
    "PLANNER_METRICS_REFRESH_S": ("metrics_refresh_s", _positive_float),
}
# Never echoed in a problem message.
SECRET_VARIABLES = ("SUPABASE_SERVICE_ROLE_KEY",)

# Smallest address-space cap that holds the interpreter, OR-Tools and its solver threads
# with room to solve a small round (measured: a 300-line round solves under 512 MiB; a
# 1000-line one needs about 768 MiB, hence the default of 4096).
MIN_SOLVE_MEMORY_MB = 512


def load_settings(
    env: Mapping[str, str] | None = None, *, require_database: bool = True
) -> Settings:
    """Parse and validate the environment; raise ConfigError listing every bad value."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, (field, parse) in PARSERS.items():
        raw = env.get(name)
        if raw is None or raw.strip() == "":
            continue
        try:
            values[field] = parse(raw)
        except ValueError as exc:
            reason = str(exc) if not str(exc).startswith(("invalid literal", "could not")) else ""
            if name in SECRET_VARIABLES:
                problems.append(f"{name} is invalid: {reason or 'not a number'}")
                continue
            shown = redact_url(raw) if name == "DATABASE_URL" else raw
            problems.append(f"{name}={shown!r} is invalid: {reason or 'not a number'}")

    problems += _missing_or_inconsistent(values, _named(problems), require_database)
    if problems:
        raise ConfigError(problems)
    values.setdefault("database_url", "")
    values.setdefault("worker_id", default_worker_id())
    return Settings(**values)


def _missing_or_inconsistent(
    values: dict[str, Any], named: set[str], require_database: bool
) -> list[str]:
    """Problems no single variable shows: required ones unset, values that do not fit."""
    problems: list[str] = []
    if "database_url" not in values and require_database and "DATABASE_URL" not in named:
        problems.append(
            "DATABASE_URL is not set: give the PostgreSQL URL of the Supabase database, "
            "e.g. postgresql://postgres:postgres@127.0.0.1:54322/postgres"
        )
    memory = values.get("solve_memory_mb")
    if memory and memory < MIN_SOLVE_MEMORY_MB:
        problems.append(
            f"PLANNER_SOLVE_MEMORY_MB={memory} is too small: use 0 (no cap) or at least "
            f"{MIN_SOLVE_MEMORY_MB}"
        )
    if values.get("wakeup") == "realtime":
        for name, field_name, hint in (
            (
                "SUPABASE_URL",
                "supabase_url",
                "the project's API URL, e.g. https://<project-ref>.supabase.co",
            ),
            (
                "SUPABASE_SERVICE_ROLE_KEY",
                "supabase_service_role_key",
                "the project's service role key (Settings -> API)",
            ),
        ):
            if field_name not in values and name not in named:
                problems.append(
                    f"{name} is not set: PLANNER_WAKEUP=realtime subscribes to Supabase "
                    f"Realtime and needs {hint}; or use PLANNER_WAKEUP=listen or poll"
                )
    heartbeat = values.get("heartbeat_s", Settings.heartbeat_s)
    if heartbeat < 1:
        problems.append(
            f"PLANNER_HEARTBEAT_S={heartbeat} is too small: progress is written at most once a "
            "second, so use 1 or more"
        )
    return problems


REALTIME_VARIABLES = ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY")


def realtime_credentials(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY), parsed as `load_settings` parses them, for
    a Realtime wake-up built outside the worker; ValueError naming what is missing or bad."""
    env = os.environ if env is None else env
    given = {name: env[name] for name in REALTIME_VARIABLES if name in env}
    try:
        settings = load_settings({**given, "PLANNER_WAKEUP": "realtime"}, require_database=False)
    except ConfigError as exc:
        missing = [
            name
            for name in REALTIME_VARIABLES
            if any(problem.startswith(f"{name} is not set") for problem in exc.problems)
        ]
        if missing:
            raise ValueError(f"PLANNER_WAKEUP=realtime needs {' and '.join(missing)}") from None
        raise ValueError(str(exc)) from None
    return settings.supabase_url, settings.supabase_service_role_key


def _named(problems: list[str]) -> set[str]:
    return {p.split("=", 1)[0].split(" ", 1)[0] for p in problems}
