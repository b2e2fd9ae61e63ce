"""Engine benchmark over the 19 public plans and the generated family (issue 14). Not a test.

    uv run python benchmarks/bench_engine.py [--public-only | --family-only] [--only NAME ...]
        [--time-scale X] [--quick] [--family-dir DIR] [--seed N] [--save FILE] [--witnesses]
    uv run python benchmarks/bench_engine.py --shapes N [--seed S] [--family-dir DIR] ...

Each plan is solved in a fresh child process with its own params.time_limit_s (times X), so
the peak RSS printed is that one solve's. Per plan: status, first plan s, lines proven s,
fairness proven s, stability value (bound), peak MiB, valid by ../shared/benchmark/validate.py
and by our checker, and for public plans lines/fairness/changes against best_known.json
(family plans: against what the generator knows, e.g. the minimal shortfall). Then
`plans with no answer: N`: a feasible plan that ended without lines, an infeasible one that
did not end INFEASIBLE, or a child that failed. `--witnesses` instead checks every family
plan's constructed lines (its known valid plan) by validate.py and by our checker.

Times come from the result's statistics["timing"]; a stage counts as proven only where its
statistics["proven"] says so (its progress reports carry LP values as well as plans, so an
LP value that meets the bound proves nothing). A first plan the timing lacks is taken from
the first progress report with an objective, marked `*`.
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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "benchmark"
GRACE_S = 30.0  # a child gets its time limit, then this long, before it is killed


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    public: bool
    known: dict  # best_known.json entry, or the generator's expected outcome


@dataclass
class Outcome:
    case: Case
    status: str = "NO_ANSWER"
    wall_s: float | None = None
    peak_mib: float | None = None
    first_s: str = "-"
    lines_s: str = "-"
    fairness_s: str = "-"
    solution: dict = field(default_factory=dict)
    valid_ref: str = "-"  # validate.py
    valid_ours: str = "-"  # constraints.checker
    summary: dict = field(default_factory=dict)  # validate.py's objective figures
    note: str = ""


# --- the child: one solve -------------------------------------------------------------------


def child(plan_path: str, out_path: str, scale: float) -> None:
    """Solve one plan; write the result and the progress events as JSON to `out_path`."""
    from constraints import PlanError, load_plan, solve

    doc = json.loads(Path(plan_path).read_text())
    doc["params"]["time_limit_s"] = doc["params"].get("time_limit_s", 30) * scale
    events: list[dict] = []
    try:
        plan = load_plan(doc)
    except PlanError as exc:
        Path(out_path).write_text(json.dumps({"status": "BAD_INPUT", "error": str(exc)}))
        return
    t0 = time.monotonic()
    result = solve(plan, on_progress=lambda p: events.append(_event(p)), progress_interval_ms=100)
    out = result.to_json()
    out["wall_s"] = round(time.monotonic() - t0, 3)
    out["events"] = events
    Path(out_path).write_text(json.dumps(out))


def _event(p) -> dict:
    return {"t": p.elapsed_s, "phase": p.phase, "objective": p.objective, "bound": p.bound}


# --- the parent: cases, runs, checks --------------------------------------------------------


def public_cases() -> list[Case]:
    best = json.loads((SHARED / "best_known.json").read_text())
    paths = sorted((SHARED / "plans").glob("*.json"))
    return [Case(p.stem, p, True, best.get(p.stem, {})) for p in paths]


def family_cases(directory: Path, seed: int, max_lines: int | None) -> list[Case]:
    from constraints.generator.family import write_family

    cases = []
    for path in write_family(directory, seed, max_lines):
        known = json.loads(path.with_suffix(".expected.json").read_text())
        cases.append(Case(path.stem, path, False, known))
    return cases


def run_child(command: list[str], timeout_s: float) -> tuple[int, float, float]:
    """Run `command`; kill it after `timeout_s`. Returns (exit status, peak MiB, wall s)."""
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=REPO, start_new_session=True)
    timer = threading.Timer(timeout_s, _kill, (proc.pid,))
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)  # rusage of this child alone
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024, time.monotonic() - started


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended just now
        os.killpg(pid, signal.SIGKILL)


def time_limit(case: Case, scale: float) -> float:
    return json.loads(case.path.read_text())["params"].get("time_limit_s", 30) * scale


def solve_case(case: Case, scale: float, workdir: Path) -> Outcome:
    out_path = workdir / f"{case.name}.solution.json"
    out_path.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--child", str(case.path), str(out_path), str(scale)]
    code, peak, wall = run_child(command, time_limit(case, scale) + GRACE_S)
    outcome = Outcome(case, peak_mib=peak, wall_s=wall)
    if not out_path.exists():
        outcome.note = f"child exited {code} without a result"
        return outcome
    solution = json.loads(out_path.read_text())
    outcome.solution, outcome.status = solution, solution["status"]
    if outcome.status == "BAD_INPUT":
        outcome.note = solution["error"].splitlines()[0][:120]
        return outcome
    _timings(outcome)
    _validate(outcome, out_path)
    outcome.wall_s = solution.get("wall_s", wall)
    return outcome


def _timings(o: Outcome) -> None:
    stats = o.solution.get("statistics", {})
    timing, proven = stats.get("timing", {}), stats.get("proven", {})
    events = o.solution.get("events", [])
    first = timing.get("first_solution")
    if not o.solution.get("lines"):
        o.first_s = "-"  # progress reports carry LP values too: no lines, no plan
    else:
        o.first_s = _fmt(first) if first is not None else _first_event(events)
    lines_at = timing.get("lines_done_at")
    o.lines_s = _fmt(lines_at) if proven.get("lines") and lines_at is not None else "no"
    fair = timing.get("fairness_done_at", timing.get("fairness_bound_at"))
    o.fairness_s = _fmt(fair) if proven.get("fairness") and fair is not None else "no"


def _fmt(seconds: float) -> str:
    return f"{seconds:.2f}"


def _first_event(events: list[dict]) -> str:
    hit = next((e["t"] for e in events if e["objective"] is not None), None)
    return "-" if hit is None else _fmt(hit) + "*"


def _validate(o: Outcome, solution_path: Path) -> None:
    """validate.py (run as a child) and our checker, on what the engine returned."""
    if o.status == "INFEASIBLE":
        infeasible = bool(o.case.known.get("infeasible")) or o.case.known.get("feasible") is False
        o.valid_ref = o.valid_ours = "yes" if infeasible else "NO (feasible plan)"
        o.first_s = o.lines_s = o.fairness_s = "-"
        total = o.solution.get("statistics", {}).get("timing", {}).get("total", o.wall_s)
        why = (o.solution.get("explanation") or ["(no explanation)"])[0][:120]
        o.note = f"explained in {total:.2f} s: {why}"
        return
    if not o.solution.get("lines"):
        o.note = " ".join(o.solution.get("explanation", []))[:120]
        return
    done = subprocess.run(
        [sys.executable, str(SHARED / "validate.py"), str(o.case.path), str(solution_path)],
        capture_output=True,
        text=True,
    )
    o.summary = json.loads(done.stdout.strip().splitlines()[-1])
    o.valid_ref = "yes" if done.returncode == 0 and o.summary.get("valid") else "NO"
    if o.valid_ref == "NO":
        o.note = "; ".join(o.summary.get("first_errors", [])[:2])[:120]
    o.valid_ours = _our_check(o)


def _our_check(o: Outcome) -> str:
    from constraints import check, load_plan
    from constraints.solution import SolutionLine

    plan = load_plan(json.loads(o.case.path.read_text()))
    report = check(plan, [SolutionLine.from_json(ln) for ln in o.solution["lines"]])
    return "yes" if report.ok else f"NO ({len(report.violations)})"


def check_witnesses(cases: list[Case]) -> list[str]:
    """Each feasible family plan's constructed lines, by validate.py and by our checker."""
    from constraints import PlanError, check, load_plan
    from constraints.solution import SolutionLine

    out = []
    for case in cases:
        witness = case.path.parent / "certificates" / f"{case.name}.solution.json"
        if case.public or not witness.exists():
            continue
        done = subprocess.run(
            [sys.executable, str(SHARED / "validate.py"), str(case.path), str(witness)],
            capture_output=True,
            text=True,
        )
        ref = "valid" if done.returncode == 0 else "INVALID"
        try:
            plan = load_plan(json.loads(case.path.read_text()))
            lines = json.loads(witness.read_text())["lines"]
            report = check(plan, [SolutionLine.from_json(ln) for ln in lines])
            ours = "valid" if report.ok else f"INVALID ({len(report.violations)})"
        except PlanError:
            ours = "not loaded (the loader refuses the plan)"
        out.append(f"witness {case.name}: validate.py {ref}, our checker {ours}")
    return out


# --- the table ------------------------------------------------------------------------------

HEADER = (
    "| plan | status | first plan s | lines proven s | fairness proven s | total s "
    "| stability (bound) | peak MiB | valid ref/ours | lines (best) | fairness (best) "
    "| changes (best) | note |"
)


def no_answer(o: Outcome) -> bool:
    infeasible = bool(o.case.known.get("infeasible")) or o.case.known.get("feasible") is False
    if infeasible:
        return o.status != "INFEASIBLE"
    return not o.solution.get("lines")


def row(o: Outcome) -> str:
    obj = o.solution.get("objective", {})
    bound = o.solution.get("bound", {})
    known = o.case.known
    stability = "-"
    if "stability" in bound:
        stability = f"{obj.get('changed_rotations', '-')} ({bound.get('stability', '-')})"
    lines = _versus(o.summary.get("lines"), known.get("lines"))
    fairness = _versus(o.summary.get("max_service_nights"), known.get("max_service_nights"))
    changes = "-"
    if "stability" in bound or known.get("changes") is not None:  # the plan has current lines
        changes = _versus(o.summary.get("changes"), known.get("changes"))
    if known.get("shortfall") is not None:
        got = sum(s["missing"] for s in o.summary.get("shortfall", []))
        lines += f", shortfall {got} ({known['shortfall']})"
    peak = "-" if o.peak_mib is None else f"{o.peak_mib:.0f}"
    total = "-" if o.wall_s is None else f"{o.wall_s:.1f}"
    cells = [o.case.name, o.status, o.first_s, o.lines_s, o.fairness_s, total, stability, peak]
    cells += [f"{o.valid_ref}/{o.valid_ours}", lines, fairness, changes, o.note.replace("|", "/")]
    return "| " + " | ".join(cells) + " |"


def _versus(got, best) -> str:
    if got is None:
        return "-"
    if best is None:
        return str(got)
    mark = "" if got <= best else " !"
    return f"{got} ({best}){mark}"


def saved_outcome(o: Outcome) -> dict:
    """What naive_baseline.py --engine needs to print the engine's side without re-solving."""
    keep = ("status", "first_s", "lines_s", "fairness_s", "wall_s", "peak_mib", "summary")
    return {"name": o.case.name, **{k: getattr(o, k) for k in keep}}


# --- main -----------------------------------------------------------------------------------


def shape_cases(directory: Path, count: int, seed: int) -> list[Case]:
    from constraints.generator.shapes import write_shapes

    cases = []
    for path in write_shapes(directory, count, seed):
        known = json.loads(path.with_suffix(".expected.json").read_text())
        cases.append(Case(path.stem, path, False, known))
    return cases


def cases(args: argparse.Namespace, family_dir: Path) -> list[Case]:
    chosen: list[Case] = []
    if args.shapes:
        return shape_cases(family_dir / "shapes", args.shapes, args.seed)
    if not args.family_only:
        chosen += public_cases()
    if not args.public_only:
        chosen += family_cases(family_dir, args.seed, 300 if args.quick else None)
    if args.quick:
        chosen = [c for c in chosen if not c.name.startswith(("l_", "xl_"))]
    if args.only:
        chosen = [c for c in chosen if c.name in args.only]
    return chosen


def parse(argv: list[str] | None = None, *, engine_option: bool = False) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--public-only", action="store_true")
    which.add_argument("--family-only", action="store_true")
    parser.add_argument("--only", action="append", help="a plan name (repeatable)")
    parser.add_argument("--time-scale", type=float, default=1.0, help="times params.time_limit_s")
    parser.add_argument("--quick", action="store_true", help="plans of up to 300 lines")
    parser.add_argument(
        "--shapes", type=int, default=0, help="instead: this many random shapes (--seed)"
    )
    parser.add_argument("--family-dir", type=Path, help="write the family here (default: tmp)")
    parser.add_argument("--seed", type=int, default=0, help="the family's seed")
    parser.add_argument("--save", type=Path, help="also write the outcomes here (JSON lines)")
    parser.add_argument(
        "--witnesses", action="store_true", help="only check the family's constructed plans"
    )
    if engine_option:
        parser.add_argument("--engine", type=Path, help="engine outcomes from --save (no re-run)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        family_dir = args.family_dir or Path(tmp) / "family"
        workdir = Path(tmp) / "solutions"
        workdir.mkdir()
        if args.witnesses:
            for line in check_witnesses(cases(args, family_dir)):
                print(line, flush=True)
            return
        print(HEADER)
        print("|" + "---|" * HEADER.count(" | ") + "---|")
        missing = 0
        for case in cases(args, family_dir):
            outcome = solve_case(case, args.time_scale, workdir)
            missing += no_answer(outcome)
            print(row(outcome), flush=True)
            if args.save:
                with args.save.open("a") as saved:
                    saved.write(json.dumps(saved_outcome(outcome)) + "\n")
        print(f"\nplans with no answer: {missing}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        main()
