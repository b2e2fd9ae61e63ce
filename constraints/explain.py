"""Why a plan cannot be solved, in words a workforce manager understands.

Two layers. `prechecks` are counting arguments that run in milliseconds and catch the common
causes (a term's demand against the line limits, a rule's total demand against what the
units offer, locked lines that break a rule or overfill a unit, six-month units that cannot
tile their demand). `explain` runs when only the solver can tell: the phase-1 LP duals name
the demand rows and limits in the infeasibility certificate, and dropping each rule set in
turn names the rule sets that are needed for the conflict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from ortools.sat.python import cp_model

from constraints.colgen.control import Control
from constraints.colgen.tolerance import TOL
from constraints.patterns import Context, Lock
from constraints.plan import EXPERIENCE_NAMES, Unit
from constraints.rotations import LineShapeError, Rotation, make_rotation, read_line
from constraints.rules import Clause, PerGroup, Total, get_rule_set


def prechecks(ctx: Context) -> list[str]:
    out: list[str] = []
    out += _locked(ctx)
    if ctx.plan.params.allow_shortfall:
        return out  # minimum demand is a penalty then; only hard limits can refuse
    out += _term_totals(ctx)
    out += _six_month(ctx)
    if not out:
        out += _no_line(ctx) or _rule_totals(ctx)
    return out


def _rule_of(ctx: Context) -> dict[int, str]:
    """Clause index -> rule-set name (the clauses are concatenated in constraint order)."""
    owners: dict[int, str] = {}
    i = 0
    for name in ctx.plan.constraints:
        for _ in get_rule_set(name).clauses_for(ctx.plan):
            owners[i] = name
            i += 1
    return owners


def _locked(ctx: Context) -> list[str]:
    plan, out = ctx.plan, []
    owners = _rule_of(ctx)
    for ln in ctx.full_locked:
        try:
            rotations = read_line(plan, ln.rotations)
        except LineShapeError as e:
            out.append(f"Locked line {ln.label} is not a valid line: {e}.")
            continue
        for i, clause in enumerate(ctx.clauses):
            for v in clause.violations(rotations):
                out.append(f"Locked line {ln.label} breaks {owners[i]}: {v}.")
    if ctx.fixed_lines > (plan.params.max_lines if plan.params.max_lines is not None else 10**9):
        out.append(
            f"There are {ctx.fixed_lines} locked lines but only {plan.params.max_lines} lines "
            "are allowed."
        )
    for (u, t), used in sorted(ctx.locked_usage.items()):
        row = plan.demand_by_key.get((u, t))
        if row is None:
            out.append(f"{u} is closed in term {t} but locked lines use it {used} time(s).")
        elif used > row.max:
            out.append(
                f"{u} in term {t}: locked lines already use {used} places but the maximum is "
                f"{row.max}."
            )
    for cls in ctx.classes:
        for t, u in cls.lock:
            if not plan.is_open(u, t):
                out.append(
                    f"{u} is closed in term {t} but partially locked line {cls.labels[0]} "
                    "is locked to it."
                )
    out += _partial_over_limits(ctx, owners)
    return out


def _uncompletable(ctx: Context) -> list[str]:
    """Partially locked lines that no line obeying the rules completes (demand aside). Run
    only once a plan is proven impossible: on a feasible plan its lines say so already."""
    if not ctx.classes:
        return []
    out, completion = [], _Completion(ctx)
    rules = " and ".join(ctx.plan.constraints) or "the open units"
    for cls in ctx.classes:
        if not completion.possible(cls.lock):
            locks = ", ".join(f"{u} in term {t}" for t, u in cls.lock)
            out.append(
                f"Partially locked line {cls.labels[0]} ({locks}) cannot be completed into "
                f"a line that obeys {rules}."
            )
    return out


def _no_line(ctx: Context) -> list[str]:
    """No line at all obeys the rule sets on the open units (a one-term year under VIC_PGY2,
    say): which rule sets, and which of their rules alone, rule every line out."""
    plan = ctx.plan
    if not plan.constraints or _line_exists(ctx, ctx.clauses) is not False:
        return []
    year = f"a year of {plan.term_count} term{'s' if plan.term_count > 1 else ''}"
    out: list[str] = []
    for name in plan.constraints:
        clauses = get_rule_set(name).clauses_for(plan)
        if _line_exists(ctx, clauses) is not False:
            continue
        alone = [c for c in clauses if _line_exists(ctx, [c]) is False]
        for c in alone:
            out.append(f"No line can obey {name} in {year} with these units: {_rule_words(c)}.")
        if alone:
            continue
        pair = next(
            (
                (a, b)
                for i, a in enumerate(clauses)
                for b in clauses[i + 1 :]
                if _line_exists(ctx, [a, b]) is False
            ),
            None,
        )
        if pair is not None:
            words = " and ".join(_rule_words(c) for c in pair)
            out.append(f"No line can obey {name} in {year} with these units: {words}.")
        else:
            out.append(f"No line can obey all the rules of {name} in {year} with these units.")
    if not out:
        rules = " and ".join(plan.constraints)
        out.append(f"No line can obey {rules} together in {year} with these units.")
    return out


def _rule_words(clause: Clause) -> str:
    """A clause as a manager reads it: "every line needs at least 47 weeks worked"."""
    if isinstance(clause, PerGroup):
        items, _, group = clause.what.partition(" in ")
        return f"a line may have at most {clause.at_most} of its {items} in any one {group}"
    if clause.at_least is not None:
        return f"every line needs at least {clause.at_least} {clause.what}"
    return f"a line may have at most {clause.at_most} {clause.what}"


def _line_exists(ctx: Context, clauses: Sequence[Clause]) -> bool | None:
    """Some line of open units obeys `clauses` (demand aside); None: CP-SAT could not tell
    within a second."""
    from constraints.colgen.pricing import post_line  # local: off the prechecks' path

    m = cp_model.CpModel()
    if post_line(m, ctx.candidates, ctx.plan.ordinals, clauses) is None:
        return False
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = 1.0
    solver.parameters.num_workers = 1
    status = solver.solve(m)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return True
    return False if status == cp_model.INFEASIBLE else None


class _Completion:
    """Whether a lock can be completed into a line that obeys every rule on open units
    (demand aside): the labelling decides it in milliseconds, CP-SAT (1 s) only where it
    gives up. Unknown counts as possible: the solve then decides."""

    def __init__(self, ctx: Context) -> None:
        from constraints.colgen.labels import LabelSearch  # local: off the prechecks' path
        from constraints.colgen.space import Space

        self.space = space = Space.of(ctx)
        labels = LabelSearch(space)
        self.labels = labels if labels.available else None

    def possible(self, lock: Lock) -> bool:
        from constraints.colgen.pricing import LineSearch

        space = self.space
        mask = space.allowed(lock, full_rows=True)
        if not space.covers_every_term(mask):
            return False
        choice = space.choose(np.zeros(len(space.members)), mask)
        if self.labels is not None:
            out = self.labels.search(choice.gain, 0.0, -1.0)
            if out.optimal:
                return bool(out.found)
        return LineSearch(space).exists(choice, seconds=1.0) is not False


def _partial_over_limits(ctx: Context, owners: dict[int, str]) -> list[str]:
    """A partial line whose locked rotations alone exceed a rule's "at most"."""
    plan, out = ctx.plan, []
    for cls in ctx.classes:
        if any(not plan.is_open(u, t) for t, u in cls.lock):
            continue  # said above
        rotations: list[Rotation] = []
        covered: set[int] = set()
        for t, code in cls.lock:
            if t in covered:
                continue
            unit = plan.unit_by_code[code]
            # a locked six-month half counts once, whichever neighbour holds its other half
            r = make_rotation(plan, unit, min(t, plan.term_count - unit.span_terms + 1))
            rotations.append(r)
            covered.update(r.terms)
        for i, clause in enumerate(ctx.clauses):
            if isinstance(clause, Total) and clause.at_most is not None:
                if clause.value(rotations) > clause.at_most:
                    what = ", ".join(f"{u} in term {t}" for t, u in cls.lock)
                    out.append(
                        f"Locked line {cls.labels[0]} ({what}) breaks {owners[i]}: "
                        f"{clause.what} is {clause.value(rotations)}, at most "
                        f"{clause.at_most} allowed."
                    )
            elif isinstance(clause, PerGroup):
                for v in clause.violations(rotations):
                    out.append(f"Locked line {cls.labels[0]} breaks {owners[i]}: {v}.")
    return out


def _term_totals(ctx: Context) -> list[str]:
    plan, out = ctx.plan, []
    mins = {t: sum(d.min for d in plan.demand if d.term == t) for t in plan.ordinals}
    maxs = {t: sum(d.max for d in plan.demand if d.term == t) for t in plan.ordinals}
    name = {t.ordinal: t.name for t in plan.terms}
    cap = plan.params.max_lines
    for t in plan.ordinals:
        if cap is not None and mins[t] > cap:
            out.append(
                f"{name[t]}: minimum demand adds up to {mins[t]} but only {cap} lines are allowed."
            )
    need = max(mins.values(), default=0)
    floor = plan.params.min_lines or 0
    for t in plan.ordinals:
        if maxs[t] < floor:
            out.append(
                f"{name[t]}: maximum demand adds up to {maxs[t]} but at least {floor} lines are "
                "required (every line needs a unit in every term)."
            )
        elif maxs[t] < need:
            worst = max(plan.ordinals, key=lambda s: mins[s])
            out.append(
                f"{name[worst]} needs at least {need} lines (its minimum demand) but "
                f"{name[t]} has places for only {maxs[t]} (its maximum demand), and every line "
                "needs a unit in every term."
            )
    return out


def _six_month(ctx: Context) -> list[str]:
    out: list[str] = []
    for u in ctx.plan.units:
        if u.span_terms == 2:
            out += _six_month_unit(ctx, u)
    return out


def _six_month_unit(ctx: Context, u: Unit) -> list[str]:
    """A six-month unit's demand must be a sum of two-term rotations on open term pairs."""
    plan = ctx.plan
    T = plan.term_count
    rows = {t: plan.demand_by_key.get((u.code, t)) for t in plan.ordinals}
    can_start = {t: t < T and rows[t] is not None and rows[t + 1] is not None for t in rows}
    uncovered = [
        (t, r.min)
        for t, r in rows.items()
        if r is not None and r.min > 0 and not can_start[t] and not can_start.get(t - 1, False)
    ]
    if uncovered:
        return [_uncoverable(plan, u.code, t, need) for t, need in uncovered]
    m = cp_model.CpModel()
    most = max((r.max for r in rows.values() if r), default=0)
    starts = {t: m.new_int_var(0, most if can_start[t] else 0, f"s{t}") for t in rows}
    for t, r in rows.items():
        count = starts[t] + (starts[t - 1] if t > 1 else 0)
        m.add(count >= (r.min if r else 0))
        m.add(count <= (r.max if r else 0))
    if cp_model.CpSolver().solve(m) != cp_model.INFEASIBLE:
        return []
    asked = ", ".join(
        f"{r.min}-{r.max} in term {t}" if r.min != r.max else f"{r.min} in term {t}"
        for t, r in rows.items()
        if r is not None
    )
    return [
        f"Six-month unit {u.code} cannot be staffed as demanded ({asked}): each of its "
        "rotations covers two consecutive open terms and may start in any term but the "
        "last, so these numbers cannot all be met."
    ]


def _uncoverable(plan, code: str, t: int, need: int) -> str:
    """Why no six-month rotation of `code` can cover term t, in words."""
    before = f"it is closed in term {t - 1}" if t > 1 else "no term comes before term 1"
    after = f"it is closed in term {t + 1}" if t < plan.term_count else f"term {t} is the last"
    return (
        f"Six-month unit {code} needs at least {need} in term {t}, but no six-month rotation "
        f"can cover term {t}: {before} and {after} (a six-month rotation needs two "
        "consecutive open terms)."
    )


def _rotations_offered(ctx: Context, measure) -> int:
    """Most of a per-rotation measure the whole year's maximum demand can provide."""
    plan, total = ctx.plan, 0
    for u in plan.units:
        if u.span_terms == 1:
            total += sum(
                measure(make_rotation(plan, u, t)) * plan.demand_by_key[(u.code, t)].max
                for t in plan.ordinals
                if (u.code, t) in plan.demand_by_key
            )
            continue
        # a six-month rotation takes a place in two terms: credit each place with half the
        # best measure of a rotation that can take it (so the last term counts too)
        starts = [t for t in plan.ordinals if t < plan.term_count]
        per_start = {t: measure(make_rotation(plan, u, t)) for t in starts}
        doubled = 0
        for t in plan.ordinals:
            row = plan.demand_by_key.get((u.code, t))
            covering = [per_start[s] for s in (t - 1, t) if s in per_start]
            if row is not None and covering:
                doubled += max(covering) * row.max
        total += doubled // 2
    return total


def _rotations_required(ctx: Context, measure) -> int:
    """Least of a per-rotation measure the minimum demand forces (a lower bound)."""
    plan, total = ctx.plan, 0
    by_unit: dict[str, list] = {}
    for d in plan.demand:
        by_unit.setdefault(d.unit, []).append(d)
    for code, rows in by_unit.items():
        u = plan.unit_by_code[code]
        if u.span_terms == 1:
            total += sum(measure(make_rotation(plan, u, d.term)) * d.min for d in rows)
            continue
        # each six-month rotation covers two terms' minimum: at least half of their sum
        starts = [t for t in plan.ordinals if t < plan.term_count]
        least = min((measure(make_rotation(plan, u, t)) for t in starts), default=0)
        total += least * ((sum(d.min for d in rows) + 1) // 2)
    return total


def _lines_needed(ctx: Context) -> int:
    plan = ctx.plan
    need = max((sum(d.min for d in plan.demand if d.term == t) for t in plan.ordinals), default=0)
    return max(need, plan.params.min_lines or 0)


def _lines_possible(ctx: Context) -> int:
    plan = ctx.plan
    most = min((sum(d.max for d in plan.demand if d.term == t) for t in plan.ordinals), default=0)
    return most if plan.params.max_lines is None else min(most, plan.params.max_lines)


def _rule_totals(ctx: Context) -> list[str]:
    """A rule's per-line minimum (or maximum) times the line count against what demand allows."""
    out: list[str] = []
    owners = _rule_of(ctx)
    need, most = _lines_needed(ctx), _lines_possible(ctx)
    for i, clause in enumerate(ctx.clauses):
        if not isinstance(clause, Total):
            continue
        rule = owners[i]
        if clause.at_least:
            offered = _rotations_offered(ctx, clause.measure)
            if offered < clause.at_least * need:
                what = clause.what
                cat = what.rsplit(" ", 1)[-1]
                if what.startswith("rotations with experience") and cat in EXPERIENCE_NAMES:
                    out.append(
                        f"Every line needs at least {clause.at_least} rotation with experience "
                        f"{cat} ({EXPERIENCE_NAMES[cat]}) under {rule}, but the units offering "
                        f"{cat} have at most {offered} places across the year for the {need} "
                        "lines the demand needs."
                    )
                else:
                    out.append(
                        f"Every line needs {what} of at least {clause.at_least} under {rule}, "
                        f"but the units can provide at most {offered} in total across the year "
                        f"for the {need} lines the demand needs."
                    )
        if clause.at_most is not None:
            required = _rotations_required(ctx, clause.measure)
            if required > clause.at_most * most:
                out.append(
                    f"The minimum demand needs {required} of {clause.what} across the year, but "
                    f"{rule} allows at most {clause.at_most} per line and there can be at most "
                    f"{most} lines."
                )
    return out


def explain(ctx: Context, control: Control, master=None) -> list[str]:
    """Beyond the counting checks: read the LP certificate, then test each rule set.

    `master` is the solver's converged phase-1 LP, when it has one: its duals are the
    certificate and its patterns warm-start each rule-set test (a pattern that obeys every
    rule set still obeys fewer), which stops as soon as its LP meets the demand.
    """
    from constraints.colgen import Pricers, generate
    from constraints.colgen.master import Column, Master, Stage

    out = prechecks(ctx) or _uncompletable(ctx)  # prechecks include the no-line and rule totals
    if out:
        return out

    def phase1(plan, seed=()) -> tuple[bool, Master]:
        c = Context(plan)
        m = Master(c)
        for col in seed:
            m.add(col)
        m.set_stage(Stage(slack_cost=1.0, art_cost=1.0))
        cg = generate(m, Pricers(c), control, "explain", max_rounds=200, target=0.0, stop_above=TOL)
        return not cg.bound > TOL, m

    if master is None:
        _, master = phase1(ctx.plan)
    pool = [Column(c.pattern, cls=c.cls) for c in master.columns if c.pair is None]
    master.set_stage(Stage(slack_cost=1.0, art_cost=1.0))
    master.solve()  # the certificate is read from this LP's duals
    duals = master.duals()
    plan = ctx.plan
    ranked = certificate_rows(ctx, master)
    limits = []
    if duals.lines < -TOL and plan.params.max_lines is not None:
        limits.append(f"at most {plan.params.max_lines} lines")
    if duals.lines > TOL and plan.params.min_lines:
        limits.append(f"at least {plan.params.min_lines} lines")
    needed = []
    for name in plan.constraints:
        if control.stopped:
            break
        relaxed = dataclasses.replace(
            plan, constraints=tuple(c for c in plan.constraints if c != name)
        )
        feasible, _ = phase1(relaxed, pool)
        if feasible:
            needed.append(name)
    shown, more = describe_rows(ranked)
    parts = "; ".join(shown + limits) + more
    rules = " and ".join(needed) if needed else "the units' open terms"
    return (
        [
            f"These demands cannot all be met together under {rules}: {parts}.",
            *(
                f"Without {name} the demand could be met, so {name} is part of the conflict."
                for name in needed
            ),
        ]
        if parts
        else [f"No set of lines can meet the demand under {rules}."]
    )


Ranked = list[tuple[float, tuple[str, str, int], list[int]]]


def certificate_rows(ctx: Context, master) -> Ranked:
    """The demand rows in the master LP's dual certificate (its last solve), ranked by what
    they add to it (dual x demand) so the units that carry it come first; each unit is named
    once per bound, with its terms: (-weight, ("at least" | "at most", unit, bound), terms)."""
    plan = ctx.plan
    rows: dict[tuple[str, str, int], list[tuple[float, int]]] = {}
    for k in ctx.rows:
        row = plan.demand_by_key[k]
        lo_d, hi_d = master.min_rows[k].dual_value(), master.max_rows[k].dual_value()
        if lo_d > TOL and row.min > 0:
            rows.setdefault(("at least", k[0], row.min), []).append((lo_d * row.min, k[1]))
        if hi_d < -TOL:
            rows.setdefault(("at most", k[0], row.max), []).append((-hi_d * row.max, k[1]))
    return sorted(
        ((-sum(w for w, _ in ts), key, sorted(t for _, t in ts)) for key, ts in rows.items()),
        key=lambda r: (r[0], r[1]),
    )


def describe_rows(ranked: Ranked, limit: int = 6) -> tuple[list[str], str]:
    """The first `limit` ranked rows in words ("at least 6 in ED-A in terms 1 and 2"), and
    " (and N smaller demands)" for the rest ("" when none)."""
    shown = [
        f"{word} {n} in {unit} in term{'s' if len(ts) > 1 else ''} {_terms(ts)}"
        for _, (word, unit, n), ts in ranked[:limit]
    ]
    rest = sum(len(ts) for _, _, ts in ranked[limit:])
    return shown, f" (and {rest} smaller demand{'s' if rest > 1 else ''})" if rest else ""


def _terms(terms: list[int]) -> str:
    text = [str(t) for t in terms]
    return text[0] if len(text) == 1 else ", ".join(text[:-1]) + " and " + text[-1]
