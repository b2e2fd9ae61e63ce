"""Issue 13: the runtime image's environment, tested without Docker.

The Dockerfile's build stage copies pyproject.toml, uv.lock, README.md, listener/,
constraints/ and supabase/ and runs `uv sync --frozen --no-dev --no-editable`; the run stage
keeps only that virtualenv and starts `receptor-planner listen` as an unprivileged user,
far from the source tree. This test does the same into a clean directory
(UV_PROJECT_ENVIRONMENT), runs the entry point from it as an unprivileged OS user against
the test database, and processes a run, so a dependency missing from the runtime set (one
only the dev group brings) fails here instead of in production.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.listener.conftest import FINAL_STATES, wait_for_state
from tests.reliability.conftest import insert_run

pytestmark = [pytest.mark.reliability, pytest.mark.db, pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
COPIED = ("pyproject.toml", "uv.lock", "README.md", "listener", "constraints", "supabase")
UNPRIVILEGED = "nobody"


def run_as() -> dict:
    """subprocess kwargs that drop to an unprivileged user ({} when we are not root)."""
    if os.geteuid() != 0:
        return {}
    try:
        user = pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        pytest.skip(f"running as root and there is no {UNPRIVILEGED!r} user to drop to")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def interpreter(drop: dict) -> str:
    """A Python 3.11 the unprivileged user can run (the image has python:3.11's own)."""
    for candidate in ("/usr/local/bin/python3.11", "/usr/bin/python3.11", sys.executable):
        if not Path(candidate).exists():
            continue
        probe = subprocess.run([candidate, "-c", "pass"], capture_output=True, **drop)
        if probe.returncode == 0:
            return candidate
    pytest.skip("no Python 3.11 interpreter that an unprivileged user can run")


@pytest.fixture(scope="module")
def runtime_env() -> Iterator[tuple[Path, dict]]:
    uv = shutil.which("uv") or str(Path.home() / ".local/bin/uv")
    if not Path(uv).exists():
        pytest.skip("uv is not installed")
    drop = run_as()
    python = interpreter(drop)
    root = Path(tempfile.mkdtemp(prefix="receptor-runtime-"))
    try:
        root.chmod(0o755)
        app = root / "app"
        app.mkdir()
        for name in COPIED:
            source = REPO / name
            if source.is_dir():
                shutil.copytree(source, app / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, app / name)
        venv = root / "venv"
        env = {
            **os.environ,
            "UV_PROJECT_ENVIRONMENT": str(venv),
            "UV_LINK_MODE": "copy",
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_COMPILE_BYTECODE": "1",
        }
        env.pop("VIRTUAL_ENV", None)
        built = subprocess.run(
            [uv, "sync", "--frozen", "--no-dev", "--no-editable", "--python", python],
            cwd=app,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert built.returncode == 0, built.stderr[-4000:]
        shutil.rmtree(app)  # the run stage keeps the virtualenv only
        for path in [root, *root.rglob("*")]:  # readable by the unprivileged user
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | (0o555 if path.is_dir() else 0o444))
        yield venv, drop
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def test_the_runtime_environment_processes_a_run_as_an_unprivileged_user(
    runtime_env, conn, empty_queue, make_round, worker_dsn, reliability_ledger
):
    venv, drop = runtime_env
    work = Path(tempfile.mkdtemp(prefix="receptor-runtime-work-"))
    work.chmod(0o777)  # the health file lives here, written by the unprivileged user
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(work),
        "DATABASE_URL": worker_dsn,
        "PYTHONUNBUFFERED": "1",
        "PLANNER_LOG_FORMAT": "json",
        "PLANNER_WORKER_ID": "runtime-image-test",
        "PLANNER_POLL_INTERVAL_S": "1",
        "PLANNER_HEALTH_FILE": str(work / "health"),
    }
    process = subprocess.Popen(
        [str(venv / "bin" / "receptor-planner"), "listen"],
        cwd=work,  # not the repository: only the installed packages can be imported
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **drop,
    )
    try:
        run_id = reliability_ledger.track(await insert_run(conn, await make_round()), "COMPLETED")
        row = await wait_for_state(conn, run_id, FINAL_STATES, 120)
        assert row["state"] == "COMPLETED", row["error"]
        assert row["worker_id"] == "runtime-image-test"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    assert process.returncode == 0, output[-4000:]
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert any(r["message"].startswith("Run COMPLETED") for r in records)
    assert records and not [r for r in records if r["level"] in ("ERROR", "CRITICAL")], output
