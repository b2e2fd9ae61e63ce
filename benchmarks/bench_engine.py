"""Engine benchmark: prints measured figures for the generated plan sizes (not a test).

    uv run python benchmarks/bench_engine.py [--quick]

Per size: time to first solution, when each stage was proven (or its final gap), objective
components, patterns generated, peak memory; then the time to explain each infeasible
variant. Each plan is solved in a fresh child process so peak RSS is per solve.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import sys
import time

SIZES = [("PGY2", 24), ("PGY2", 120), ("PGY2", 300), ("PGY1", 300), ("PGY2", 1000)]
VARIANTS = [
    "term_demand_over_max_lines",
    "experience_capacity",
    "locked_breaks_rule",
    "six_month_cannot_fit",
    "demand_conflicts_rule",
    "subspecialty_demand_conflicts_rule",
]


def _solve(kind: str, lines: int, variant: str | None, limit: float, queue) -> None:
    from constraints import load_plan, solve
    from constraints.generator import generate_plan

    doc = generate_plan(kind, lines, 1, variant=variant)
    doc["params"]["time_limit_s"] = limit
    plan = load_plan(doc)
    t0 = time.monotonic()
    r = solve(plan)
    wall = time.monotonic() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(
        (
            r.status,
            r.objective.to_json(),
            r.bound,
            r.statistics,
            r.explanation,
            wall,
            rss,
            len(plan.current_lines),
        )
    )


def run(kind: str, lines: int, variant: str | None = None, limit: float = 60.0):
    queue = mp.get_context("spawn").Queue()
    p = mp.get_context("spawn").Process(target=_solve, args=(kind, lines, variant, limit, queue))
    p.start()
    out = queue.get()
    p.join()
    return out


def _gap(value: int | None, bound: int | None) -> str:
    if value is None or bound is None:
        return "-"
    if value <= bound:
        return "0 (proven)"
    return f"{100.0 * (value - bound) / max(bound, 1):.1f}%"


def main() -> None:
    quick = "--quick" in sys.argv
    sizes = SIZES[:3] if quick else SIZES
    print(
        "| plan | status | first sol s | lines proven s | fairness proven s | stability done s "
        "| total s | lines (bound) | max s/n (bound) | changed (bound, gap) | patterns | peak MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for kind, n in sizes:
        limit = 60.0 if n >= 1000 else 30.0
        status, obj, bound, stats, _, wall, rss, _ = run(kind, n, limit=limit)
        tm = stats["timing"]
        proven = stats["proven"]
        fair_at = tm.get("fairness_done_at", tm.get("fairness_bound_at"))
        print(
            f"| {kind} {n} | {status} | {tm.get('first_solution', '-')} "
            f"| {tm.get('lines_done_at', '-') if proven.get('lines') else 'not proven'} "
            f"| {fair_at if proven.get('fairness') else 'not proven'} "
            f"| {tm.get('stability_done_at', '-')} | {wall:.2f} "
            f"| {obj['lines']} ({bound.get('lines', '-')}) "
            f"| {obj['max_service_nights']} ({bound.get('fairness', '-')}) "
            f"| {obj['changed_rotations']} ({bound.get('stability', '-')}, "
            f"{_gap(obj['changed_rotations'], bound.get('stability'))}) "
            f"| {stats['patterns']} | {rss:.0f} |"
        )
    print()
    print("| infeasible variant (PGY2 120) | status | explained in s | first sentence |")
    print("|---|---|---|---|")
    for v in VARIANTS:
        status, _, _, stats, explanation, wall, _, _ = run("PGY2", 120, v, limit=30.0)
        first = explanation[0] if explanation else "-"
        print(f"| {v} | {status} | {wall:.3f} | {first[:140]} |")


if __name__ == "__main__":
    main()
