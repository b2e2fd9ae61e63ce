"""`receptor-planner report RUN_ID [-o FILE]`: the plan report of a COMPLETED run, from the
database, as one self-contained HTML file (the same page as `solve --report`).

Needs DATABASE_URL of a role that may read the planner tables (the database owner or
`service_role`; the worker's `planner_worker` role may only call the worker API). Everything
is read from the run's own organisation and round. Exit codes: 0 written; 1 the run cannot be
reported on (unknown, not COMPLETED, lines since replaced) or the file cannot be written;
2 DATABASE_URL missing or the database unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from pathlib import Path

import asyncpg

from listener.config import redact_url
from listener.report.database import ReportError, fetch_report
from listener.report.html import render

EXIT_WRITTEN, EXIT_NOT_REPORTABLE, EXIT_NO_DATABASE = 0, 1, 2
CONNECT_TIMEOUT_S = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", type=uuid.UUID, help="the allocation_planner_runs id")
    parser.add_argument(
        "-o", "--output", type=Path, help="the HTML file to write (default: plan-RUN_ID.html)"
    )


def run(args: argparse.Namespace) -> int:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        _error("DATABASE_URL is not set: give the PostgreSQL URL of the Supabase database")
        return EXIT_NO_DATABASE
    output: Path = args.output or Path(f"plan-{args.run_id}.html")
    try:
        html = asyncio.run(_report_html(url, args.run_id))
    except ReportError as exc:
        _error(str(exc))
        return EXIT_NOT_REPORTABLE
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _error(f"cannot read run {args.run_id} from {redact_url(url)}: {message}")
        return EXIT_NO_DATABASE
    try:
        output.write_text(html, encoding="utf-8")
    except OSError as exc:
        _error(f"cannot write {output}: {exc}")
        return EXIT_NOT_REPORTABLE
    print(f"Wrote the plan report of run {args.run_id} to {output}")
    return EXIT_WRITTEN


async def _report_html(url: str, run_id: uuid.UUID) -> str:
    conn = await asyncpg.connect(
        url,
        timeout=CONNECT_TIMEOUT_S,
        server_settings={"application_name": "receptor-planner report"},
    )
    try:
        async with conn.transaction(readonly=True, isolation="repeatable_read"):  # one snapshot
            data = await fetch_report(conn, run_id)
    finally:
        await conn.close()
    return render(data)


def _error(message: str) -> None:
    print(f"receptor-planner report: {message}", file=sys.stderr)
