"""Random plan shapes: plans unlike the family's, for robustness sweeps (issue 14).

The family (`family.py`) draws its lines from one Victorian catalogue with a relief rotation
on every line. Here everything is drawn at random, seeded: a year of 1 to 13 terms of
unequal weeks; a catalogue of units with random specialties, subspecialties shared between
hospitals, AMC experiences, kinds (whole-term leave units included), nights, six-month units
and leave weeks; unit-terms closed at random; any rule-set combination. The lines are valid
patterns found by CP-SAT under random objectives over the rule clauses, so no sampler's
habits shape the plan. Demand is derived from the lines (tight to loose), 0-40% of the lines
are locked (mostly partially), a previous plan carries random churn, the line count has a
random window (none, a maximum, a range, fixed), and a plan may allow shortfall with a known
minimal shortfall. When no valid line exists for the catalogue and rules (VIC_PGY1 in three
terms, say) the plan is infeasible by construction.

    uv run python -m constraints.generator --shapes DIR --count N [--seed S]
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from pathlib import Path

from ortools.sat.python import cp_model

from constraints.checker import check
from constraints.colgen.pricing import line_choices
from constraints.generator import Expected, GeneratedPlan
from constraints.generator.family import witness_doc
from constraints.loading import load_plan
from constraints.patterns import Context
from constraints.rotations import read_line
from constraints.solution import LineSource, SolutionLine

TERM_COUNTS = {1: 1, 2: 1, 3: 2, 4: 6, 5: 5, 6: 5, 7: 1, 8: 2, 10: 1, 12: 1, 13: 4}
RULE_COMBINATIONS = (
    (),
    ("NO_NIGHTS",),
    ("MAX_ONE_NIGHTS",),
    ("NO_REPEAT_UNIT",),
    ("MAX_ONE_NIGHTS", "NO_REPEAT_UNIT"),
    ("VIC_PGY1",),
    ("VIC_PGY1", "MAX_ONE_NIGHTS"),
    ("VIC_PGY1", "NO_NIGHTS", "NO_REPEAT_UNIT"),
    ("VIC_PGY2",),
    ("VIC_PGY2", "MAX_ONE_NIGHTS"),
    ("VIC_PGY2", "NO_NIGHTS"),
    ("VIC_PGY2", "MAX_ONE_NIGHTS", "NO_REPEAT_UNIT"),
)
SPECIALTIES = {
    "Medicine": ("General Medicine", "Cardiology", "Renal", "Respiratory", "Geriatrics"),
    "Surgery": ("General Surgery", "Orthopaedics", "Urology", "Vascular", "Colorectal"),
    "Emergency Medicine": ("Emergency Medicine", "Short Stay"),
    "Psychiatry": ("Adult Psychiatry", "Consultation-Liaison", "Youth Mental Health"),
    "Paediatrics": ("General Paediatrics", "Neonates"),
    "Obstetrics and Gynaecology": ("Obstetrics", "Gynaecology"),
    "Anaesthetics": ("Anaesthetics",),
    "Intensive Care": ("Intensive Care",),
    "Rehabilitation": ("Rehabilitation",),
    "General Practice": ("Community GP", "Rural GP"),
    "Relief": ("Medical Relief", "Surgical Relief", "Night Relief"),
    "Research": ("Research", "Medical Education"),
}
KIND_WEIGHTS = {"clinical": 80, "service": 10, "non_clinical": 6, "leave": 4}
PATTERN_TRIES = 3  # CP-SAT draws per pattern wanted (duplicates are dropped)
PATTERN_WORK = 0.05  # CP-SAT deterministic time per draw (its own effort unit, not seconds)
PATTERN_WORK_MOST = 200.0  # ... up to this for the first draw, which must decide (`_draw`)


def random_plan(seed: int, *, most_lines: int = 400) -> GeneratedPlan:
    """One random plan, deterministic in `seed`; loads, and its witness (when feasible) is
    valid by our checker (both asserted)."""
    rng = random.Random(f"shapes/{seed}")
    weeks = _term_weeks(rng)
    lines = min(most_lines, round(math.exp(rng.uniform(math.log(8), math.log(most_lines)))))
    units = _units(rng, lines, len(weeks), min(weeks))
    rules = list(rng.choice(RULE_COMBINATIONS))
    opened = _openings(rng, units, len(weeks))
    skeleton = _document(f"Random shapes {seed}", weeks, units, rules, _open_rows(opened))
    patterns = _patterns(rng, skeleton, lines)
    if not patterns:
        return _no_valid_line(rng, skeleton)
    built = _draw_lines(rng, patterns, lines)
    doc = dict(skeleton, demand=_demand(rng, built, opened))
    locked, witness = _locks(rng, doc, built)
    doc["locked_lines"] = locked
    doc["current_lines"] = _current(rng, built[len(locked) :], patterns, units, weeks)
    doc["params"], expected = _params(rng, doc, built)
    plan = load_plan(doc)
    report = check(plan, witness)
    assert report.ok, report.violations[:3]
    return GeneratedPlan(doc=doc, lines=witness, expected=expected)


def write_shapes(directory: Path, count: int, seed: int = 0, most_lines: int = 400) -> list[Path]:
    """`count` random plans in validate.py's layout (like `family.write_family`)."""
    (directory / "certificates").mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(count):
        name = f"r_{seed}_{i:03d}"
        generated = random_plan(seed * 100_000 + i, most_lines=most_lines)
        generated.doc["name"] = f"{name}: {generated.doc['name']}"
        path = directory / f"{name}.json"
        path.write_text(json.dumps(generated.doc, indent=1) + "\n")
        if generated.expected.feasible:
            cert = directory / "certificates" / f"{name}.solution.json"
            cert.write_text(json.dumps(witness_doc(generated)) + "\n")
        expected = {k: v for k, v in vars(generated.expected).items() if v is not None}
        (directory / f"{name}.expected.json").write_text(json.dumps(expected) + "\n")
        written.append(path)
    return written


# --- the year and its units ------------------------------------------------------------------


def _term_weeks(rng: random.Random) -> list[int]:
    count = rng.choices(list(TERM_COUNTS), weights=list(TERM_COUNTS.values()))[0]
    total = rng.choice((52, 52, 52, 52, 50, 48))
    shares = [1 + rng.uniform(-0.3, 0.3) for _ in range(count)]
    weeks = [max(1, round(total * s / sum(shares))) for s in shares]
    weeks[-1] = max(1, weeks[-1] + total - sum(weeks))
    return weeks


def _units(rng: random.Random, lines: int, terms: int, shortest: int) -> list[dict]:
    count = max(6, min(500, round(lines * rng.uniform(0.15, 0.6)) + rng.randint(6, 14)))
    hospitals = max(1, min(30, count // rng.randint(8, 25)))
    out = []
    for i in range(count):
        kind = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
        specialty = "Relief" if kind == "service" else rng.choice(list(SPECIALTIES))
        if kind == "non_clinical":
            specialty = "Research"
        subspecialty = rng.choice(SPECIALTIES[specialty])
        experiences = (
            sorted({e for e in "ABCD" if rng.random() < 0.35}) if kind == "clinical" else []
        )
        if kind == "clinical" and not experiences:
            experiences = [rng.choice("ABCD")]
        six = terms >= 2 and kind != "leave" and rng.random() < 0.1
        leave = 0
        if kind in ("service", "clinical") and rng.random() < (0.5 if kind == "service" else 0.05):
            leave = min(rng.randint(1, 5), shortest)
        out.append(
            {
                "code": f"U{i:03d}-H{1 + i % hospitals}",
                "name": f"{subspecialty} {i} (Hospital {1 + i % hospitals})",
                "specialty": specialty,
                "subspecialty": subspecialty,
                "experiences": experiences,
                "kind": kind,
                "nights": kind in ("clinical", "service") and rng.random() < 0.08,
                "span_terms": 2 if six else 1,
                "leave_weeks": leave,
            }
        )
    return out


def _openings(rng: random.Random, units: list[dict], terms: int) -> dict[str, list[int]]:
    share = rng.choice((0.0, 0.0, 0.1, 0.25, 0.4))
    return {u["code"]: [t for t in range(1, terms + 1) if rng.random() >= share] for u in units}


def _open_rows(opened: dict[str, list[int]]) -> list[dict]:
    return [
        {"unit": code, "term": t, "min": 0, "max": 1} for code, ts in opened.items() for t in ts
    ]


def _document(name: str, weeks: list[int], units: list[dict], rules: list[str], demand) -> dict:
    return {
        "name": name,
        "terms": [{"ordinal": i, "name": f"Term {i}", "weeks": w} for i, w in enumerate(weeks, 1)],
        "units": units,
        "demand": demand,
        "locked_lines": [],
        "current_lines": [],
        "constraints": rules,
        "params": {"time_limit_s": 30, "seed": 0},
    }


# --- lines -----------------------------------------------------------------------------------


def _patterns(rng: random.Random, skeleton: dict, lines: int) -> list[tuple[str, ...]]:
    """Distinct valid lines, each CP-SAT's best under a random objective (popular units
    weigh more, so lines crowd some units as real plans do)."""
    ctx = Context(load_plan(skeleton))
    popular = {u["code"]: rng.expovariate(1.0) for u in skeleton["units"]}
    wanted = max(1, min(lines, rng.randint(4, 60)))
    found: dict[tuple[str, ...], None] = {}
    for attempt in range(wanted * PATTERN_TRIES):
        m = cp_model.CpModel()
        choices = line_choices(ctx, m)
        if choices is None:
            return []
        m.maximize(sum(round(100 * (popular[r.unit.code] + rng.random())) * x for r, x in choices))
        status, solver = _draw(m, attempt, decided=not found)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            if not found and status == cp_model.INFEASIBLE:
                return []  # proven: no line obeys the rules
            break
        pattern = [""] * ctx.T
        for r, x in choices:
            if solver.value(x):
                for t in r.terms:
                    pattern[t - 1] = r.unit.code
        found[tuple(pattern)] = None
        if len(found) >= wanted:
            break
    return list(found)


def _draw(
    m: cp_model.CpModel, attempt: int, *, decided: bool
) -> tuple[cp_model.CpSolverStatus, cp_model.CpSolver]:
    """One CP-SAT draw under deterministic effort, not wall-clock time (a solve the clock
    stopped returned whatever it had, so one seed gave different plans from run to run).
    `decided`: the first draw must find a line or prove there is none, so its effort grows
    until it does (an undecided draw once made a feasible 13-term plan "no valid line")."""
    work = PATTERN_WORK
    while True:
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = attempt
        solver.parameters.max_deterministic_time = work
        status = solver.solve(m)
        if not decided or status != cp_model.UNKNOWN or work >= PATTERN_WORK_MOST:
            return status, solver
        work *= 4


def _draw_lines(
    rng: random.Random, patterns: list[tuple[str, ...]], lines: int
) -> list[dict[int, str]]:
    weights = [rng.expovariate(1.0) for _ in patterns]
    drawn = rng.choices(patterns, weights=weights, k=lines)
    return [dict(enumerate(p, 1)) for p in drawn]


def _no_valid_line(rng: random.Random, skeleton: dict) -> GeneratedPlan:
    """No line keeps the rules: any minimum above 0 makes the plan infeasible."""
    rows = [dict(r) for r in skeleton["demand"]]
    row = rng.choice(rows)
    row.update(min=1, max=2)
    doc = dict(skeleton, demand=rows)
    cause = f"no valid line exists under {', '.join(skeleton['constraints']) or 'the unit shapes'}"
    load_plan(doc)
    return GeneratedPlan(doc=doc, lines=[], expected=Expected(feasible=False, cause=cause))


def _demand(
    rng: random.Random, built: list[dict[int, str]], opened: dict[str, list[int]]
) -> list[dict]:
    counts = Counter((u, t) for line in built for t, u in line.items())
    style = rng.choice(("tight", "near", "loose", "mixed"))
    rows = []
    for code, terms in opened.items():
        for t in terms:
            n = counts[(code, t)]
            if n:
                slack = {"tight": 0.0, "near": 0.1, "loose": 0.6}.get(style, rng.random())
                low = n - rng.randint(0, int(n * slack))
                high = n + rng.randint(0, math.ceil(n * slack))
            elif rng.random() < 0.15:
                low, high = 0, rng.randint(1, 3)
            else:
                continue
            rows.append({"unit": code, "term": t, "min": low, "max": high})
    # a unit's six-month rotation needs both its rows, which the counts give; spare rows of
    # six-month units stay harmless (min 0)
    return rows


def _locks(
    rng: random.Random, doc: dict, built: list[dict[int, str]]
) -> tuple[list[dict], list[SolutionLine]]:
    """The first lines become locked (80% of them partially: some whole rotations)."""
    plan = load_plan(doc)
    share = rng.choice((0.0, 0.0, 0.05, 0.2, 0.4))
    n_locked = round(share * len(built))
    docs, witness = [], []
    for i, line in enumerate(built):
        label = f"L-{i + 1:04d}"
        kept: set[int] = set()
        source: LineSource = "new"
        if i < n_locked:
            rotations = [r.terms for r in read_line(plan, line)]
            if rng.random() < 0.8 and len(rotations) > 1:
                chosen = rng.sample(rotations, rng.randint(1, len(rotations) - 1))
                kept, source = {t for ts in chosen for t in ts}, "partial"
            else:
                kept, source = set(line), "locked"
            docs.append({"label": label, "rotations": {str(t): line[t] for t in sorted(kept)}})
        witness.append(SolutionLine(label, dict(line), frozenset(kept), source))
    return docs, witness


def _current(
    rng: random.Random,
    free: list[dict[int, str]],
    patterns: list[tuple[str, ...]],
    units: list[dict],
    weeks: list[int],
) -> list[dict]:
    """Last year's lines: none, or the free lines with random churn, a few gone, some extra
    (a current line may use any unit, open or not: last year's plan had other demand)."""
    if rng.random() < 0.4:
        return []
    churn = rng.random()
    docs = []
    singles = [u["code"] for u in units if u["span_terms"] == 1]
    for i, line in enumerate(free + [dict(enumerate(rng.choice(patterns), 1))] * rng.randint(0, 5)):
        roll = rng.random()
        if roll < 0.03:
            continue
        if roll < churn:
            line = dict(enumerate(rng.choice(patterns), 1))
            if singles and rng.random() < 0.3:
                line[rng.randint(1, len(weeks))] = rng.choice(singles)
                line = _well_formed(line, units)
        docs.append({"label": f"C-{i + 1:04d}", "rotations": {str(t): u for t, u in line.items()}})
    return docs


def _well_formed(line: dict[int, str], units: list[dict]) -> dict[int, str]:
    """A six-month unit cut in half by an edit is replaced by the edit's unit."""
    span = {u["code"]: u["span_terms"] for u in units}
    out, t, terms = dict(line), 1, len(line)
    while t <= terms:
        code = out[t]
        if span[code] == 2:
            if t + 1 <= terms and out.get(t + 1) == code:
                t += 2
                continue
            out[t] = next(u["code"] for u in units if u["span_terms"] == 1)
        t += 1
    return out


def _params(rng: random.Random, doc: dict, built: list[dict[int, str]]) -> tuple[dict, Expected]:
    n = len(built)
    limit = 10 if n <= 100 else 20 if n <= 400 else 30
    params: dict = {"time_limit_s": limit, "seed": rng.randint(0, 9)}
    window = rng.choice(("none", "max", "range", "range", "fixed"))
    if window in ("max", "range"):
        params["max_lines"] = n + rng.randint(0, max(1, n // 5))
    if window == "range":
        params["min_lines"] = max(0, n - rng.randint(0, max(1, n // 5)))
    if window == "fixed":
        params["min_lines"] = params["max_lines"] = n
    if rng.random() < 0.12:
        missing = rng.randint(1, max(1, n // 30))
        _raise_minimums(rng, doc["demand"], built, missing)
        params.update(max_lines=n, allow_shortfall=True)
        params.pop("min_lines", None)
        return params, Expected(shortfall=missing)
    return params, Expected()


def _raise_minimums(
    rng: random.Random, rows: list[dict], built: list[dict[int, str]], missing: int
) -> None:
    """One term's used rows become tight (min = count), then `missing` more: with at most
    len(built) lines that term misses exactly `missing` places, and no other term misses any."""
    counts = Counter((u, t) for line in built for t, u in line.items())
    term = rng.choice(sorted({t for _, t in counts}))
    used = [r for r in rows if r["term"] == term and counts[(r["unit"], term)]]
    for r in used:
        r["min"] = counts[(r["unit"], term)]
    for _ in range(missing):
        r = rng.choice(used)
        r["min"] += 1
        r["max"] = max(r["max"], r["min"])
