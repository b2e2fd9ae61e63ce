"""`receptor-planner solve PLAN.json [-o SOLUTION.json] [--report PLAN.html] [--time-limit S]
[--seed N]`.

Solves a plan file offline: a live progress bar, then the job-line table, the changes
against the current lines and a summary. New lines paired with current lines carry their
labels (`constraints.changes`); the solution file adds the change report under `changes`.
Exit codes: 0 solved (OPTIMAL, FEASIBLE, or TIMEOUT with a solution); 1 bad input (unreadable
file, not JSON, or the plan's problems); 2 infeasible (the explanation is printed); 3 no usable
solution (time limit reached before any solution, or a solution the independent checker
rejects, which would be an engine bug); 130 interrupted (Ctrl-C cancels the solve).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from constraints.changes import ChangeReport, relabel_and_report
from constraints.checker import check
from constraints.loading import PlanError, load_plan
from constraints.plan import Plan
from constraints.progress import CancelToken
from constraints.progress import Progress as SolveProgress
from constraints.result import SolveResult
from constraints.solver import solve
from listener.render import solution_table, summary
from listener.report.console import change_summary
from listener.report.data import gather
from listener.report.html import render

PIPED_WIDTH = 160
EXIT_SOLVED, EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_NO_SOLUTION, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", type=Path, help="plan file (JSON, the plan-file format)")
    parser.add_argument("-o", "--output", type=Path, help="write the solution file here")
    parser.add_argument(
        "--report", type=Path, help="write the plan report here (one self-contained HTML file)"
    )
    parser.add_argument("--time-limit", type=float, help="seconds (overrides params.time_limit_s)")
    parser.add_argument("--seed", type=int, help="random seed (overrides params.seed)")


def run(args: argparse.Namespace) -> int:
    console = Console()
    if not console.is_terminal:  # piped or captured: keep whole table rows, never crop cells
        console = Console(width=PIPED_WIDTH)
    errors = Console(stderr=True, soft_wrap=True)  # one message, one line
    doc = _read_document(args.plan, errors)
    if doc is None:
        return EXIT_BAD_INPUT
    _override_params(doc, args)
    try:
        plan = load_plan(doc)
    except PlanError as exc:
        errors.print(f"[red]{args.plan}: {len(exc.problems)} problem(s) in the plan:[/red]")
        for problem in exc.problems:
            errors.print(f"  {problem}", markup=False, highlight=False)
        return EXIT_BAD_INPUT

    started = time.monotonic()
    result = _solve_with_progress(plan, console)
    if result is None:
        errors.print("[red]Interrupted: the solve was cancelled.[/red]")
        return EXIT_INTERRUPTED
    elapsed = time.monotonic() - started

    changes = None
    if result.lines:
        result.lines, changes = relabel_and_report(plan, result.lines)
    if args.output is not None and not _write_solution(args.output, result, changes, errors):
        return EXIT_BAD_INPUT
    if args.report is not None and not _write_report(args, plan, result, changes, errors):
        return EXIT_BAD_INPUT
    if result.lines:
        console.print(solution_table(plan, result.lines))
    if changes is not None:
        console.print(change_summary(changes, len(plan.current_lines)))
    console.print(
        summary(
            result.status,
            result.objective,
            explanation=result.explanation,
            shortfall=result.shortfall,
            elapsed_s=elapsed,
        )
    )
    return _exit_code(plan, result, errors)


def _read_document(path: Path, errors: Console) -> Any:
    """The parsed JSON (any value: the loader reports what is wrong), or None (reported)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        errors.print(f"[red]Cannot read {path}: {exc}[/red]", highlight=False)
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        errors.print(f"[red]{path} is not valid JSON: {exc.msg} ({where})[/red]", highlight=False)
        return None


def _override_params(doc: object, args: argparse.Namespace) -> None:
    """Command-line values go into the document, so the loader validates them like any other."""
    if not isinstance(doc, dict):
        return
    params = doc.setdefault("params", {})
    if not isinstance(params, dict):
        return  # the loader reports the malformed params
    if args.time_limit is not None:
        params["time_limit_s"] = args.time_limit
    if args.seed is not None:
        params["seed"] = args.seed


def _solve_with_progress(plan: Plan, console: Console) -> SolveResult | None:
    """Solve on a worker thread so Ctrl-C can cancel it; None when interrupted."""
    cancel = CancelToken()
    outcome: dict[str, object] = {}
    budget = plan.params.time_limit_s
    columns = (
        TextColumn("[bold]{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=100, detail="")

        def on_progress(p: SolveProgress) -> None:
            percent = p.percent if p.percent is not None else 100 * p.elapsed_s / budget
            detail = f"best {p.objective}" if p.objective is not None else "searching"
            if p.bound is not None:
                detail += f" · bound {p.bound:g}"
            bar.update(task, description=p.phase, completed=min(percent, 100), detail=detail)

        def work() -> None:
            try:
                outcome["result"] = solve(plan, on_progress=on_progress, cancel=cancel)
            except BaseException as exc:  # re-raised on the main thread
                outcome["error"] = exc

        worker = threading.Thread(target=work, name="solve", daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                worker.join(0.1)
        except KeyboardInterrupt:
            cancel.cancel()
            worker.join(5)
            return None
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]


def _write_solution(
    path: Path, result: SolveResult, changes: ChangeReport | None, errors: Console
) -> bool:
    doc = result.to_json()
    if changes is not None:
        doc["changes"] = changes.to_json()
        # The lines now carry the labels of the current lines they were paired with.
        doc["pairing"] = {
            line.label: line.previous_label
            for line in changes.lines
            if line.status in ("kept", "changed")
        }
    return _write_text(path, json.dumps(doc, indent=2) + "\n", errors)


def _write_report(
    args: argparse.Namespace,
    plan: Plan,
    result: SolveResult,
    changes: ChangeReport | None,
    errors: Console,
) -> bool:
    data = gather(
        plan,
        result.lines,
        status=result.status,
        objective=result.objective.to_json(),
        explanation=result.explanation,
        changes=changes,
        origin=f"solved from {args.plan.name}",
    )
    return _write_text(args.report, render(data), errors)


def _write_text(path: Path, text: str, errors: Console) -> bool:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        errors.print(f"[red]Cannot write {path}: {exc}[/red]", highlight=False)
        return False
    return True


def _exit_code(plan: Plan, result: SolveResult, errors: Console) -> int:
    if result.status == "INFEASIBLE":
        return EXIT_INFEASIBLE
    if result.status == "CANCELLED":
        return EXIT_INTERRUPTED
    if not result.lines:
        errors.print("[red]No solution was found within the time limit.[/red]")
        return EXIT_NO_SOLUTION
    report = check(plan, result.lines)
    if not report.ok:
        errors.print("[red]The independent checker rejects this solution (an engine bug):[/red]")
        for violation in report.violations:
            errors.print(f"  {violation}", markup=False, highlight=False)
        return EXIT_NO_SOLUTION
    return EXIT_SOLVED
