"""`receptor-planner demo`: the whole loop on one machine, in about half a minute.

Without DATABASE_URL: a throwaway PostgreSQL (pg_cron when installed), the migrations and
the seed. With DATABASE_URL: that database as it is. Then: a real worker process
(`python -m listener`), one "Generate plan" run for the demo round, a live progress bar,
the resulting job lines as a table, and a clean shutdown (SIGTERM to the worker, cluster
stopped and deleted).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from listener.plan_table import lines_table
from listener.sql import psycopg_query

FINAL_STATES = ("COMPLETED", "INFEASIBLE", "FAILED", "CANCELLED")
POLL_S = 0.2  # the demo polls the row like a UI would
console = Console()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--constraints", default="VIC_PGY2", help="comma-separated rule sets (default VIC_PGY2)"
    )
    parser.add_argument("--time-limit", type=float, default=20.0, help="solver seconds (20)")
    parser.add_argument("--timeout", type=float, default=180.0, help="give up after (180 s)")


def run(args: argparse.Namespace) -> int:
    url = os.environ.get("DATABASE_URL", "").strip()
    with contextlib.ExitStack() as stack:
        if not url:
            url = stack.enter_context(_throwaway_database())
        log_path = Path(tempfile.mkstemp(prefix="receptor-worker-", suffix=".log")[1])
        worker = stack.enter_context(_worker(url, log_path))
        try:
            code = _generate(url, args, worker, log_path)
            if code == 0:  # keep the worker's log only when something went wrong
                stack.callback(log_path.unlink, missing_ok=True)
            return code
        except KeyboardInterrupt:
            console.print("[yellow]Interrupted: shutting down[/yellow]")
            return 130


@contextlib.contextmanager
def _throwaway_database() -> Iterator[str]:
    from listener.local_postgres import throwaway_postgres
    from listener.migrations import apply_migrations

    with throwaway_postgres() as pg:
        with console.status("Applying the migrations and the seed..."):
            apply_migrations(pg.dsn)  # as `postgres`, like `supabase db push`
        cron = "with pg_cron" if pg.pg_cron else "without pg_cron (reaper not scheduled)"
        console.print(f"[green]✓[/green] PostgreSQL on port {pg.port} {cron}, demo data loaded")
        yield pg.dsn
    console.print("[green]✓[/green] Throwaway PostgreSQL stopped and deleted")


@contextlib.contextmanager
def _worker(url: str, log_path: Path) -> Iterator[subprocess.Popen]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PLANNER_LOG_FORMAT": "text",
        "PLANNER_WORKER_ID": f"demo-{os.getpid()}",
        "PLANNER_HEALTH_FILE": str(log_path.with_suffix(".health")),
    }
    with log_path.open("w") as log_file:
        worker = subprocess.Popen(
            [sys.executable, "-m", "listener", "listen"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    console.print(f"[green]✓[/green] Worker started (pid {worker.pid}, log {log_path})")
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        console.print(f"[green]✓[/green] Worker stopped (exit code {worker.returncode})")


def _generate(url: str, args: argparse.Namespace, worker: subprocess.Popen, log: Path) -> int:
    constraints = [c.strip() for c in args.constraints.split(",") if c.strip()]
    params = {"time_limit_s": args.time_limit, "seed": 0}
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(*psycopg_query("demo/find_round")).fetchone()
        if found is None:
            console.print("[red]No allocation round in this database: run the seed first[/red]")
            return 1
        round_id, org_id, round_name = found
        for (stale,) in conn.execute(*psycopg_query("demo/cancel_active", round_id)).fetchall():
            console.print(f"Cancelled a leftover active run {stale}")
        inserted = conn.execute(
            *psycopg_query("demo/insert_run", org_id, round_id, constraints, Jsonb(params))
        ).fetchone()
        assert inserted is not None  # INSERT ... RETURNING gives one row
        (run_id,) = inserted
        console.print(
            f"[green]✓[/green] Run {run_id} inserted for [bold]{round_name}[/bold] "
            f"with {constraints} (what the UI's Generate button does)"
        )
        state, _progress, result, error = _follow(conn, run_id, args.timeout, worker)
        if state is None:
            console.print(f"[red]The worker stopped or timed out; its log: {log}[/red]")
            console.print(log.read_text()[-3000:])
            return 1
        if state == "COMPLETED":
            _print_lines(conn, round_id, round_name, result)
            return 0
        console.print(f"[red]Run ended {state}[/red]\n{error or ''}")
        if result and result.get("explanation"):
            console.print(json.dumps(result["explanation"], indent=2))
        return 1


def _follow(conn, run_id, timeout_s: float, worker: subprocess.Popen):
    """Show the row's progress until a final state; (None, ...) if the worker died."""
    deadline = time.monotonic() + timeout_s
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("PENDING", total=100, detail="")
        while time.monotonic() < deadline and worker.poll() is None:
            row = conn.execute(*psycopg_query("demo/run_status", run_id)).fetchone()
            if row is None:
                break  # the run row was deleted under us
            state, progress, result, error, _worker_id = row
            progress = progress or {}
            detail = ""
            if progress:
                detail = (
                    f"phase {progress.get('phase') or '-'} · objective "
                    f"{progress.get('objective')} · {progress.get('solutions') or 0} solutions"
                )
            percent = 100 if state in FINAL_STATES else progress.get("percent") or 0
            bar.update(task, description=state, completed=percent, detail=detail)
            if state in FINAL_STATES:
                return state, progress, result, error
            time.sleep(POLL_S)
    return None, None, None, None


def _print_lines(conn, round_id, round_name: str, result: dict | None) -> None:
    rows = conn.execute(*psycopg_query("demo/terms", round_id))
    terms = [(ordinal, name) for ordinal, name, _ in rows]
    lines: dict[str, dict[int, str]] = {}
    locked: dict[str, set[int]] = {}
    for label, line_locked, _source, term, unit, rotation_locked in conn.execute(
        *psycopg_query("demo/lines", round_id)
    ):
        lines.setdefault(label, {})[term] = unit
        if line_locked or rotation_locked:
            locked.setdefault(label, set()).add(term)
    console.print(lines_table(terms, lines, locked=locked, title=f"{round_name}: job lines"))
    objective = (result or {}).get("objective") or {}
    console.print(
        f"[green]✓[/green] COMPLETED: {len(lines)} lines, at most "
        f"{objective.get('max_service_nights', '?')} service/night rotations on one line, "
        f"{objective.get('changed_rotations', '?')} rotations changed; 🔒 = locked"
    )
