"""Configuration: every variable parsed, every bad value reported at once, clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from listener.config import ConfigError, load_settings, redact_url

URL = "postgresql://postgres:secret@127.0.0.1:54322/postgres"


def test_defaults_with_only_database_url():
    settings = load_settings({"DATABASE_URL": URL})
    assert settings.database_url == URL
    assert settings.concurrency == 1
    assert settings.heartbeat_s == 5.0
    assert settings.shutdown_grace_s == 10.0
    assert settings.log_format == "json"
    assert settings.wakeup == "listen"
    assert settings.worker_id  # host-pid default
    assert "-" in settings.worker_id


def test_every_variable_is_parsed():
    settings = load_settings(
        {
            "DATABASE_URL": URL,
            "PLANNER_WORKER_ID": "worker-a",
            "PLANNER_CONCURRENCY": "3",
            "PLANNER_HEARTBEAT_S": "2.5",
            "PLANNER_POLL_INTERVAL_S": "0.5",
            "PLANNER_SHUTDOWN_GRACE_S": "0",
            "PLANNER_SOLVE_MEMORY_MB": "2048",
            "PLANNER_LOG_FORMAT": "TEXT",
            "PLANNER_LOG_LEVEL": "debug",
            "PLANNER_WAKEUP": "poll",
            "PLANNER_LISTEN_CHECK_S": "7",
            "PLANNER_RECONNECT_MAX_S": "9",
            "PLANNER_DB_TIMEOUT_S": "4",
            "PLANNER_DB_STATEMENT_CACHE_SIZE": "100",
            "PLANNER_CANCEL_GRACE_S": "1",
            "PLANNER_HEALTH_FILE": "/tmp/x.health",
            "PLANNER_HEALTH_MAX_AGE_S": "30",
        }
    )
    assert (settings.worker_id, settings.concurrency, settings.heartbeat_s) == ("worker-a", 3, 2.5)
    assert (settings.poll_interval_s, settings.shutdown_grace_s) == (0.5, 0.0)
    assert (settings.solve_memory_mb, settings.log_format, settings.log_level) == (
        2048,
        "text",
        "DEBUG",
    )
    assert (settings.wakeup, settings.listen_check_s, settings.reconnect_max_s) == ("poll", 7, 9)
    assert (settings.db_timeout_s, settings.statement_cache_size) == (4, 100)
    assert settings.health_file == Path("/tmp/x.health")
    assert settings.health_max_age_s == 30


def test_all_bad_values_reported_together_one_line_each():
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "DATABASE_URL": "mysql://x",
                "PLANNER_CONCURRENCY": "0",
                "PLANNER_HEARTBEAT_S": "fast",
                "PLANNER_LOG_FORMAT": "xml",
                "PLANNER_SOLVE_MEMORY_MB": "-5",
            }
        )
    problems = caught.value.problems
    assert len(problems) == 5
    by_name = {p.split("=", 1)[0]: p for p in problems}
    assert "postgresql://" in by_name["DATABASE_URL"]
    assert "at least 1" in by_name["PLANNER_CONCURRENCY"]
    assert (
        "'fast'" in by_name["PLANNER_HEARTBEAT_S"]
        and "not a number" in by_name["PLANNER_HEARTBEAT_S"]
    )
    assert "json, text" in by_name["PLANNER_LOG_FORMAT"]
    assert "PLANNER_SOLVE_MEMORY_MB" in by_name


def test_missing_database_url_explains_itself():
    with pytest.raises(ConfigError) as caught:
        load_settings({})
    assert caught.value.problems == [
        "DATABASE_URL is not set: give the PostgreSQL URL of the Supabase database, "
        "e.g. postgresql://postgres:postgres@127.0.0.1:54322/postgres"
    ]
    assert load_settings({}, require_database=False).database_url == ""


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("PLANNER_SOLVE_MEMORY_MB", "100", "too small"),
        ("PLANNER_HEARTBEAT_S", "0.2", "too small"),
        ("PLANNER_POLL_INTERVAL_S", "-1", "greater than 0"),
        ("PLANNER_POLL_INTERVAL_S", "nan", "greater than 0"),
        ("PLANNER_METRICS_PORT", "70000", "between 1 and 65535"),
        ("PLANNER_WAKEUP", "smoke-signals", "listen, poll"),
        ("PLANNER_CONCURRENCY", "1.5", "not a number"),
    ],
)
def test_single_bad_value(name, value, fragment):
    with pytest.raises(ConfigError) as caught:
        load_settings({"DATABASE_URL": URL, name: value})
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(name)
    assert fragment in caught.value.problems[0]


def test_password_never_echoed():
    with pytest.raises(ConfigError) as caught:
        load_settings({"DATABASE_URL": "http://user:hunter2@host/db"})
    assert "hunter2" not in str(caught.value)
    assert redact_url(URL) == "postgresql://postgres:***@127.0.0.1:54322/postgres"


def test_listen_command_exits_2_with_messages(monkeypatch, capsys):
    from listener.cli import main

    monkeypatch.setenv("DATABASE_URL", URL)
    monkeypatch.setenv("PLANNER_CONCURRENCY", "many")
    assert main(["listen"]) == 2
    err = capsys.readouterr().err
    assert "PLANNER_CONCURRENCY='many' is invalid" in err


REALTIME = {
    "DATABASE_URL": URL,
    "PLANNER_WAKEUP": "realtime",
    "SUPABASE_URL": "https://abcdefgh.supabase.co/",
    "SUPABASE_SERVICE_ROLE_KEY": "service-role-secret",
}


def test_realtime_wakeup_needs_url_and_key_and_names_both():
    with pytest.raises(ConfigError) as caught:
        load_settings({"DATABASE_URL": URL, "PLANNER_WAKEUP": "realtime"})
    problems = caught.value.problems
    assert [p.split(" ", 1)[0] for p in problems] == [
        "SUPABASE_URL",
        "SUPABASE_SERVICE_ROLE_KEY",
    ]
    assert all("PLANNER_WAKEUP=realtime" in p and "is not set" in p for p in problems)


def test_realtime_settings_are_parsed_and_the_key_is_never_shown():
    settings = load_settings({**REALTIME, "PLANNER_REALTIME_HEARTBEAT_S": "5"})
    assert settings.wakeup == "realtime"
    assert settings.supabase_url == "https://abcdefgh.supabase.co"
    assert settings.supabase_service_role_key == "service-role-secret"
    assert settings.realtime_heartbeat_s == 5
    assert "service-role-secret" not in repr(settings)
    with pytest.raises(ConfigError) as caught:
        load_settings({**REALTIME, "SUPABASE_SERVICE_ROLE_KEY": "oops secret", "SUPABASE_URL": "x"})
    text = str(caught.value)
    assert "oops" not in text and "secret'" not in text
    assert "SUPABASE_URL='x' is invalid" in text
    assert "SUPABASE_SERVICE_ROLE_KEY is invalid" in text


def test_make_source_builds_the_realtime_source():
    from listener.wakeup import make_source

    source = make_source(load_settings(REALTIME), notify=None)
    assert source.name == "realtime"
    assert source.wakeup.websocket_url == (
        "wss://abcdefgh.supabase.co/realtime/v1/websocket?apikey=REDACTED&vsn=1.0.0"
    )


def test_metrics_settings():
    settings = load_settings({"DATABASE_URL": URL})
    assert settings.metrics_port is None and settings.metrics_host == "127.0.0.1"
    settings = load_settings(
        {"DATABASE_URL": URL, "PLANNER_METRICS_PORT": "9464", "PLANNER_METRICS_HOST": "0.0.0.0"}
    )
    assert (settings.metrics_port, settings.metrics_host) == (9464, "0.0.0.0")
