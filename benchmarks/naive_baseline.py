"""The first model anyone writes, on the same plans as bench_engine.py, side by side (issue 14).

    uv run python benchmarks/naive_baseline.py [--public-only | --family-only] [--only NAME ...]
        [--time-scale X] [--quick]

One CP-SAT model, read straight from the plan file: a Boolean per (line slot, term, unit)
for every open unit-term (a start Boolean per six-month rotation), a Boolean per slot for
"this line exists", demand min/max, locks, and each rule set written out as linear
constraints on one slot. It minimises the line count (shortfall first when allowed), then,
with that count fixed, the largest service-or-nights load; stability is not modelled. The
whole params.time_limit_s covers building and both solves, on both cores.

Printed per plan, next to the engine (each in its own child process): time to first plan,
time to proven lines, lines and fairness reached, and the ratios naive / engine.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_engine as bench  # a sibling script, not a package

WORKERS = 2
LINES_SHARE = 0.7  # of the time left after building, for the line-count solve


# --- the model ------------------------------------------------------------------------------


class Naive:
    def __init__(self, doc: dict) -> None:
        from ortools.sat.python import cp_model

        self.doc, self.m = doc, cp_model.CpModel()
        self.weeks = {t["ordinal"]: t["weeks"] for t in doc["terms"]}
        self.T = len(self.weeks)
        self.units = {u["code"]: u for u in doc["units"]}
        self.demand = {(d["unit"], d["term"]): (d["min"], d["max"]) for d in doc["demand"]}
        self.locked = doc.get("locked_lines", [])
        self.slots = self._slot_count()
        # per slot: (term, unit) -> the slot holds that unit in that term (a Boolean, or the
        # sum of the two six-month starts that cover the term), and unit -> its rotations
        self.x: list[dict[tuple[int, str], Any]] = []
        self.rot: list[dict[str, Any]] = []
        self.use = [self.m.new_bool_var(f"use{s}") for s in range(self.slots)]
        for s in range(self.slots):
            self._slot(s)
        self._demand()
        self._locks()
        low = self.doc.get("params", {}).get("min_lines")
        if low is not None:
            self.m.add(sum(self.use) >= low)
        for s in range(len(self.locked), self.slots - 1):  # interchangeable generic slots
            self.m.add(self.use[s] >= self.use[s + 1])

    def _slot_count(self) -> int:
        params = self.doc.get("params", {})
        per_term = [
            sum(hi for (_, t), (_, hi) in self.demand.items() if t == term) for term in self.weeks
        ]
        cap = min(per_term) if per_term else 0
        if params.get("max_lines") is not None:
            cap = min(cap, params["max_lines"])
        return max(cap, len(self.locked))

    def _slot(self, s: int) -> None:
        m = self.m
        x: dict[tuple[int, str], Any] = {}
        starts: dict[str, list] = defaultdict(list)
        for code, t in self.demand:
            if self.units[code]["span_terms"] == 1:
                x[t, code] = m.new_bool_var("")
                starts[code].append(x[t, code])
        for code, unit in self.units.items():
            if unit["span_terms"] != 2:
                continue
            begin = {
                t: m.new_bool_var("")
                for t in range(1, self.T)
                if (code, t) in self.demand and (code, t + 1) in self.demand
            }
            for t in range(1, self.T + 1):
                parts = [begin[k] for k in (t, t - 1) if k in begin]
                if parts:
                    x[t, code] = sum(parts)
            starts[code] = list(begin.values())
        by_term = defaultdict(list)
        for (t, _), var in x.items():
            by_term[t].append(var)
        for t in self.weeks:
            m.add(sum(by_term[t]) == self.use[s])
        self.x.append(x)
        self.rot.append({code: sum(starts[code]) for code in self.units})
        self._rules(s)

    def _demand(self) -> None:
        self.short = []
        allow = self.doc.get("params", {}).get("allow_shortfall", False)
        for (code, t), (lo, hi) in self.demand.items():
            count = sum(x[t, code] for x in self.x if (t, code) in x)
            self.m.add(count <= hi)
            if allow and lo > 0:
                miss = self.m.new_int_var(0, lo, "")
                self.m.add(count + miss >= lo)
                self.short.append(miss)
            else:
                self.m.add(count >= lo)

    def _locks(self) -> None:
        for s, line in enumerate(self.locked):
            self.m.add(self.use[s] == 1)
            for term, code in line["rotations"].items():
                key = (int(term), code)
                if key not in self.x[s]:  # closed unit-term: the plan is infeasible
                    self.m.add(self.use[s] == 0)
                else:
                    self.m.add(self.x[s][key] == 1)

    # --- rule sets, one slot at a time --------------------------------------------------------

    def _rules(self, s: int) -> None:
        rules = set(self.doc.get("constraints", []))
        nights = self._count(s, lambda u: u["nights"])
        if "NO_NIGHTS" in rules:
            self.m.add(nights == 0)
        if "MAX_ONE_NIGHTS" in rules:
            self.m.add(nights <= 1)
        if "NO_REPEAT_UNIT" in rules:
            for code in self.units:
                self.m.add(self.rot[s][code] <= 1)
        if rules & {"VIC_PGY1", "VIC_PGY2"}:
            self._vic_common(s, "ABCD" if "VIC_PGY1" in rules else "ABC")
        if "VIC_PGY1" in rules:
            self._vic_pgy1(s)
        if "VIC_PGY2" in rules:
            self._vic_pgy2(s)

    def _count(self, s: int, test) -> Any:
        return sum(self.rot[s][c] for c, u in self.units.items() if test(u))

    def _weeks(self, s: int, test) -> Any:
        return sum(var * self.weeks[t] for (t, c), var in self.x[s].items() if test(self.units[c]))

    def _vic_common(self, s: int, needed: str) -> None:
        m, use = self.m, self.use[s]
        worked = self._weeks(s, lambda u: u["kind"] != "leave") - sum(
            self.rot[s][c] * u["leave_weeks"] for c, u in self.units.items() if u["kind"] != "leave"
        )
        m.add(worked >= 47 * use)
        for sub in {u["subspecialty"] for u in self.units.values()}:
            m.add(self._count(s, lambda u, sub=sub: u["subspecialty"] == sub) <= 1)
        for e in needed:
            m.add(self._count(s, lambda u, e=e: e in u["experiences"]) >= use)

    def _vic_pgy1(self, s: int) -> None:
        m = self.m
        specialties = sorted({u["specialty"] for u in self.units.values()})
        has = []
        for spec in specialties:
            count = self._count(s, lambda u, spec=spec: u["specialty"] == spec)
            terms = sum(
                var for (_, c), var in self.x[s].items() if self.units[c]["specialty"] == spec
            )
            m.add(terms <= self.T // 2)
            flag = m.new_bool_var("")
            m.add(count >= flag)
            has.append(flag)
        m.add(sum(has) >= 4 * self.use[s])

    def _vic_pgy2(self, s: int) -> None:
        m = self.m
        has = []
        for sub in sorted({u["subspecialty"] for u in self.units.values()}):
            flag = m.new_bool_var("")
            m.add(self._count(s, lambda u, sub=sub: u["subspecialty"] == sub) >= flag)
            has.append(flag)
        m.add(sum(has) >= 3 * self.use[s])
        m.add(self._count(s, lambda u: u["kind"] == "non_clinical") <= 1)
        m.add(4 * self._weeks(s, lambda u: u["kind"] == "service") <= sum(self.weeks.values()))

    # --- objectives ---------------------------------------------------------------------------

    def lines(self) -> Any:
        return sum(self.use)

    def fairness(self) -> Any:
        cap = self.m.new_int_var(0, self.T, "fairness")
        for s in range(self.slots):
            self.m.add(cap >= self._count(s, lambda u: u["kind"] == "service" or u["nights"]))
        return cap

    def lines_doc(self, solver) -> list[dict]:
        out = []
        for s in range(self.slots):
            if not solver.value(self.use[s]):
                continue
            rotations = {str(t): c for (t, c), var in self.x[s].items() if solver.value(var)}
            label = self.locked[s]["label"] if s < len(self.locked) else f"N-{s + 1:04d}"
            out.append({"label": label, "rotations": rotations})
        return out


# --- solving ---------------------------------------------------------------------------------


def solve_naive(doc: dict, limit_s: float) -> dict:
    """Both stages inside `limit_s` (building included); figures measured from the start."""
    from ortools.sat.python import cp_model

    t0 = time.monotonic()
    naive = Naive(doc)
    out: dict = {"build_s": round(time.monotonic() - t0, 3), "first_s": None}
    m = naive.m
    primary = sum(naive.short) * (naive.slots + 1) + naive.lines() if naive.short else naive.lines()
    m.minimize(primary)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = WORKERS
    left = limit_s - (time.monotonic() - t0)
    if left <= 0:
        return {**out, "status": "TIMEOUT", "note": "model not built within the time limit"}
    solver.parameters.max_time_in_seconds = left * LINES_SHARE

    class First(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            if out["first_s"] is None:
                out["first_s"] = round(time.monotonic() - t0, 3)

    status = solver.solve(m, First())
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        name = "INFEASIBLE" if status == cp_model.INFEASIBLE else "TIMEOUT"
        return {**out, "status": name, "wall_s": round(time.monotonic() - t0, 3)}
    out["lines_proven_s"] = round(time.monotonic() - t0, 3) if status == cp_model.OPTIMAL else None
    value = round(solver.objective_value)
    lines = naive.lines_doc(solver)
    m.add(primary <= value)  # keep the line count (and shortfall) reached
    m.clear_objective()
    m.minimize(naive.fairness())
    for var in naive.use:
        m.add_hint(var, solver.value(var))
    solver.parameters.max_time_in_seconds = max(0.1, limit_s - (time.monotonic() - t0))
    second = solver.solve(m)
    if second in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        lines = naive.lines_doc(solver)
    proven = status == cp_model.OPTIMAL and second == cp_model.OPTIMAL
    return {
        **out,
        "status": "OPTIMAL" if proven else "FEASIBLE",
        "fairness_proven_s": round(time.monotonic() - t0, 3) if proven else None,
        "wall_s": round(time.monotonic() - t0, 3),
        "lines": lines,
    }


def child(plan_path: str, out_path: str, scale: float) -> None:
    doc = json.loads(Path(plan_path).read_text())
    limit = doc.get("params", {}).get("time_limit_s", 30) * scale
    Path(out_path).write_text(json.dumps(solve_naive(doc, limit)))


# --- side by side ----------------------------------------------------------------------------


def run_naive(case: bench.Case, scale: float, workdir: Path) -> tuple[dict, dict]:
    out_path = workdir / f"{case.name}.naive.json"
    out_path.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--child", str(case.path), str(out_path), str(scale)]
    _, peak, _ = bench.run_child(command, bench.time_limit(case, scale) + bench.GRACE_S)
    if not out_path.exists():
        return {"status": "NO_ANSWER", "peak_mib": peak}, {}
    result = json.loads(out_path.read_text())
    result["peak_mib"] = peak
    summary: dict = {}
    if result.get("lines"):
        summary = _validate(case, out_path)
    return result, summary


def _validate(case: bench.Case, solution_path: Path) -> dict:
    import subprocess

    done = subprocess.run(
        [sys.executable, str(bench.SHARED / "validate.py"), str(case.path), str(solution_path)],
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


HEADER = (
    "| plan | engine status | naive status | first plan s engine / naive (ratio) "
    "| lines proven s engine / naive (ratio) | lines engine / naive | fairness engine / naive "
    "| naive valid | naive peak MiB |"
)


def _seconds(text: str) -> float | None:
    try:
        return float(text.rstrip("*"))
    except ValueError:
        return None


def _pair(engine: float | None, naive: float | None) -> str:
    e = "-" if engine is None else f"{engine:.2f}"
    n = "-" if naive is None else f"{naive:.2f}"
    ratio = (
        f" ({naive / max(engine, 0.01):.1f}x)" if engine is not None and naive is not None else ""
    )
    return f"{e} / {n}{ratio}"


def side_by_side(o: bench.Outcome, naive: dict, summary: dict) -> str:
    engine_first = _seconds(o.first_s) if o.summary else None  # no lines, no plan
    first = _pair(engine_first, naive.get("first_s"))
    proven = _pair(_seconds(o.lines_s), naive.get("lines_proven_s"))
    lines = f"{o.summary.get('lines', '-')} / {summary.get('lines', '-')}"
    fair = f"{o.summary.get('max_service_nights', '-')} / {summary.get('max_service_nights', '-')}"
    valid = "-" if not summary else ("yes" if summary.get("valid") else "NO")
    peak = naive.get("peak_mib")
    return (
        f"| {o.case.name} | {o.status} | {naive['status']} | {first} | {proven} | {lines} "
        f"| {fair} | {valid} | {'-' if peak is None else f'{peak:.0f}'} |"
    )


def _saved(path: Path | None) -> dict[str, bench.Outcome]:
    """Engine outcomes saved by `bench_engine.py --save` (same plans, same time limits)."""
    if path is None:
        return {}
    out = {}
    for line in path.read_text().splitlines():
        doc = json.loads(line)
        name = doc.pop("name")
        out[name] = bench.Outcome(bench.Case(name, Path(), False, {}), **doc)
    return out


def main(argv: list[str] | None = None) -> None:
    import tempfile

    args = bench.parse(argv, engine_option=True)
    with tempfile.TemporaryDirectory(prefix="naive-baseline-") as tmp:
        family_dir = args.family_dir or Path(tmp) / "family"
        workdir = Path(tmp) / "solutions"
        workdir.mkdir()
        print(HEADER)
        print("|" + "---|" * HEADER.count(" | ") + "---|")
        saved = _saved(args.engine)
        for case in bench.cases(args, family_dir):
            outcome = saved.get(case.name) or bench.solve_case(case, args.time_scale, workdir)
            outcome.case = case
            naive, summary = run_naive(case, args.time_scale, workdir)
            print(side_by_side(outcome, naive, summary), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        main()
