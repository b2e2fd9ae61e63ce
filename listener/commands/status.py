"""`receptor-planner status`: what on-call staff look at first.

Workers alive (registry, last seen), the queue (PENDING runs and the age of the oldest), the
runs GENERATING with their progress, and the last FAILED/INFEASIBLE runs with their
messages. `--json` prints the same document for scripts. Everything comes from one call,
`planner.status()` (SECURITY DEFINER), so the least-privilege `planner_worker` role can run
it. Needs DATABASE_URL; exits 1 when the database cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import psycopg
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from listener.config import redact_url
from listener.sql import psycopg_query


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    parser.add_argument(
        "--failures", type=int, default=10, help="how many recent failures to list (10)"
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="connect timeout in seconds (10)"
    )


def fetch_status(url: str, *, failures: int = 10, timeout_s: float = 10.0) -> dict[str, Any]:
    with psycopg.connect(
        url, autocommit=True, connect_timeout=max(1, int(timeout_s)),
        application_name="receptor-planner status",
    ) as conn:  # fmt: skip
        row = conn.execute(*psycopg_query("status", failures)).fetchone()
    return row[0] if row else {}


def run(args: argparse.Namespace) -> int:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        print(
            "receptor-planner status: DATABASE_URL is not set: give the PostgreSQL URL of the "
            "Supabase database (the planner_worker role is enough)",
            file=sys.stderr,
        )
        return 2
    try:
        status = fetch_status(url, failures=max(0, args.failures), timeout_s=args.timeout)
    except psycopg.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(
            f"receptor-planner status: cannot read the status from {redact_url(url)}: {message}",
            file=sys.stderr,
        )
        return 1
    if args.json:
        print(json.dumps(status, indent=2, default=str))
        return 0
    Console().print(render(status))
    return 0


# -- rendering ------------------------------------------------------------------------------


def _ago(seconds: Any) -> str:
    if seconds is None:
        return "-"
    s = float(seconds)
    if s < 90:
        return f"{s:.0f}s"
    if s < 5400:
        return f"{s / 60:.0f}m"
    if s < 172800:
        return f"{s / 3600:.1f}h"
    return f"{s / 86400:.1f}d"


def _objective(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items() if v is not None) or "-"
    return str(value)


def _short(text: Any, width: int = 100) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def render(status: dict[str, Any]) -> Group:
    parts: list[Any] = []
    workers = status.get("workers") or []
    alive = [w for w in workers if w.get("alive")]
    table = Table(
        title=f"Workers: {len(alive)} alive"
        + (f", {len(workers) - len(alive)} stale" if len(workers) > len(alive) else ""),
        title_justify="left",
    )
    for column in ("worker", "host", "pid", "version", "state", "run", "last seen", "up since"):
        table.add_column(column)
    for w in workers:
        style = "" if w.get("alive") else "red"
        table.add_row(
            str(w.get("worker_id")),
            str(w.get("host") or "-"),
            str(w.get("pid") or "-"),
            str(w.get("version") or "-"),
            Text(str(w.get("state")), style="green" if w.get("state") == "solving" else "")
            + (Text(" (polling alone)", style="yellow") if w.get("polling_alone") else ""),
            str(w.get("current_run_id") or "-"),
            Text(f"{_ago(w.get('last_seen_s'))} ago", style=style),
            str(w.get("started_at") or "-")[:19].replace("T", " "),
        )
    if not workers:
        table.add_row(Text("no worker registered", style="bold red"), *[""] * 7)
    parts.append(table)

    queue = status.get("queue") or {}
    pending = int(queue.get("pending") or 0)
    line = Text("Queue: ", style="bold")
    line.append(f"{pending} PENDING", style="yellow" if pending else "green")
    if pending:
        line.append(f", oldest waiting {_ago(queue.get('oldest_pending_age_s'))}")
        if not alive:
            line.append("  (no worker alive!)", style="bold red")
    line.append(f"; {int(queue.get('generating') or 0)} GENERATING")
    parts.append(line)

    generating = status.get("generating") or []
    table = Table(title=f"GENERATING ({len(generating)})", title_justify="left")
    for column in ("run", "organisation", "worker", "try", "progress", "elapsed", "phase"):
        table.add_column(column)
    table.add_column("objective")
    table.add_column("heartbeat")
    for r in generating:
        percent = r.get("percent")
        table.add_row(
            str(r.get("run_id")),
            _short(r.get("organization"), 30),
            str(r.get("worker_id")),
            str(r.get("attempt")),
            "-" if percent is None else f"{float(percent):.0f}%",
            _ago(r.get("elapsed_s")),
            str(r.get("phase") or "-"),
            _objective(r.get("objective")),
            Text(
                f"{_ago(r.get('heartbeat_age_s'))} ago",
                style="red" if float(r.get("heartbeat_age_s") or 0) > 30 else "",
            ),
        )
    parts.append(table)

    failures = status.get("failures") or []
    table = Table(title=f"Last failures ({len(failures)})", title_justify="left")
    for column in ("finished", "state", "organisation", "run"):
        table.add_column(column, no_wrap=True)
    table.add_column("error")
    for f in failures:
        table.add_row(
            str(f.get("finished_at") or "-")[:19].replace("T", " "),
            Text(str(f.get("state")), style="red" if f.get("state") == "FAILED" else "yellow"),
            _short(f.get("organization"), 30),
            str(f.get("run_id")),
            _short(f.get("error"), 160),
        )
    parts.append(table)
    return Group(*parts)
