"""Why this many lines and why this fairness, from the engine's own proofs, in words a
workforce manager acts on (a COMPLETED run's `result.explanation`).

The line count: first the counting causes that equal the proven count (a term's minimum
demand, a rule's "at most" per line against the demand, params.min_lines, the locked lines),
else the dual certificate of the converged lines LP (the demand rows with a positive dual).
Then what would lower it: each candidate row's minimum is lowered by one on the LP master,
re-priced, and only a proven drop is reported ("lowers the proven minimum to N"; "would
allow N lines" only when a dive also found a plan with N lines). Fairness the same way: a
locked line's own load, the counting argument of the fairness stage, or the LP at one less.

Every sentence comes from a proof (a count, or a converged LP whose bound is exact); when a
stage was not proven or the small time budget runs out, its sentences are left out.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ortools.sat.python import cp_model

from constraints.colgen import Pricers, dive, generate
from constraints.colgen.control import Control, Stopped
from constraints.colgen.master import Master, Stage
from constraints.colgen.tolerance import TOL
from constraints.explain import _rotations_required, _rule_of, certificate_rows, describe_rows
from constraints.patterns import Context
from constraints.plan import Unit
from constraints.rules import Total

MAX_CANDIDATES = 4  # demand rows tried (lowered by one) for "what would lower it"
DIVE_MIN_S = 0.5  # budget left below which no dive starts (its LP solves are not interruptible)
PRICES_PER_LP = 40  # CP-SAT pricing calls per re-solved LP (a deterministic budget)
# the lines stage's LP, minimum demand hard (explanations are given only when it was met)
LINES_STAGE = Stage(line_cost=1.0, slack_cost=0.0, art_cost=0.0, slack_allowed=False)


@dataclass(frozen=True)
class Proven:
    """What the solve proved, handed over by the solver."""

    lines: int | None  # total line count (locked included) when proven optimal, else None
    fairness: int | None  # max service-or-nights per line when proven optimal, else None
    short_cap: int  # missing minimum demand allowed (allow_shortfall), else 0


@dataclass(frozen=True)
class ServiceNightCount:
    """The fairness stage's counting argument: every line but the fully locked ones (whose
    use is netted out of `ctx.lo`) holds at most `cap` service-or-nights rotations, each
    covering at most `span` unit-terms of their minimum demand `need`."""

    need: int
    span: int
    free: int  # lines not fully locked

    @classmethod
    def of(cls, ctx: Context, lines: int, short_cap: int) -> ServiceNightCount:
        units = {u.code: u for u in ctx.plan.units}
        rows = [k for k in ctx.rows if units[k[0]].is_service_or_nights]
        need = sum(max(ctx.lo[k], 0) for k in rows) - short_cap
        span = max((units[k[0]].span_terms for k in rows), default=1)
        return cls(need, span, lines + sum(c.count for c in ctx.classes))

    def counts_out(self, cap: int) -> bool:
        return self.need > cap * self.span * self.free


def explain_bounds(
    ctx: Context,
    master: Master,
    pricers: Pricers,
    control: Control,
    proven: Proven,
    budget_s: float,
) -> list[str]:
    """The sentences, within `budget_s` seconds (and the solve's own deadline). The master
    is left in the stage and with the row bounds it had."""
    if proven.short_cap > 0:
        return []  # minimum demand was not all met: "the minimum demand forces" would be wrong
    sub = _budgeted(control, budget_s)
    saved = master.stage
    out: list[str] = []
    try:
        work = _Explainer(ctx, master, pricers, sub, proven, out)
        work.run()
    except Stopped:
        if control.cancelled:
            raise
    finally:
        sub.close()
        for k in ctx.rows:
            master.set_min(k, ctx.lo[k])
        master.set_stage(saved)
    return out


def _budgeted(control: Control, seconds: float) -> Control:
    """A Control sharing the solve's cancel token and progress, with its own deadline."""
    sub = Control(
        time_limit_s=control.time_limit_s,
        seed=control.seed,
        deterministic=control.deterministic,
        cancel=control.cancel,
        reporter=control.reporter,
        started=control.started,
    )
    sub.deadline = min(control.deadline, time.monotonic() + max(seconds, 0.0))
    return sub


def _ceil(x: float) -> int:
    return math.ceil(x - TOL)


def _rules(ctx: Context) -> str:
    return _and(list(ctx.plan.constraints)) if ctx.plan.constraints else "the units' open terms"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class _Explainer:
    def __init__(
        self,
        ctx: Context,
        master: Master,
        pricers: Pricers,
        control: Control,
        proven: Proven,
        out: list[str],
    ) -> None:
        self.ctx, self.master, self.pricers, self.control = ctx, master, pricers, control
        self.proven, self.out = proven, out

    def run(self) -> None:
        """Causes first (cheap, and what a manager reads first), then what would change them."""
        lines, fairness = self.proven.lines, self.proven.fairness
        if lines is None:
            return  # the fairness proof is at the proven line count
        causes, binding_terms = line_count_causes(self.ctx, lines)
        if not causes:
            causes = self._line_certificate(lines)
        self.out += causes
        fairness_said = fairness is not None and self._fairness(lines)
        if causes:
            self.out += self._lower_lines(lines, binding_terms)
        if fairness_said:
            assert fairness is not None
            self.out += self._fewer_service_nights(lines, fairness)

    # --- the line count ----------------------------------------------------------------
    def _lines_lp(self) -> float | None:
        """The lines stage's LP, re-priced to convergence: its exact bound (generic lines),
        or None when it did not converge within the budget."""
        self.master.set_stage(LINES_STAGE)
        cg = generate(self.master, self.pricers, self.control, "explain", max_prices=PRICES_PER_LP)
        return cg.bound if cg.converged and cg.value is not None else None

    def _line_certificate(self, lines: int) -> list[str]:
        bound = self._lines_lp()
        if bound is None or _ceil(bound) + self.ctx.fixed_lines != lines:
            return []
        shown, more = describe_rows(certificate_rows(self.ctx, self.master))
        if not shown:
            return []
        return [
            f"Under {_rules(self.ctx)}, no plan with fewer than {lines} lines meets these "
            "demands together (every line takes one unit per term and obeys every "
            f"rule): {'; '.join(shown)}{more}."
        ]

    def _lower_lines(self, lines: int, binding_terms: list[int]) -> list[str]:
        """Demand rows whose minimum, lowered by one, lowers the proven line count."""
        ctx, master = self.ctx, self.master
        if len(binding_terms) > 1:
            names = _and([_term_name(ctx, t) for t in binding_terms])
            return [f"Fewer lines need a lower minimum in each of {names}."]
        bound = self._lines_lp()
        if bound is None:
            return []
        need = bound + ctx.fixed_lines - (lines - 1)  # the dual a row needs to drop a line
        duals = {k: master.min_rows[k].dual_value() for k in ctx.rows}
        candidates = sorted(
            (k for k in ctx.rows if duals[k] >= need - TOL and ctx.lo[k] >= 1),
            key=lambda k: (-duals[k], k),
        )[:MAX_CANDIDATES]
        for k in candidates:
            lowered = self._try_lower(k)
            if lowered is not None and lowered < lines:
                return [self._lower_sentence(k, lowered)]
        return []

    def _try_lower(self, k: tuple[str, int]) -> int | None:
        """The proven line count with row k's minimum one lower (None: not converged)."""
        master = self.master
        master.set_min(k, self.ctx.lo[k] - 1)
        try:
            bound = self._lines_lp()
        finally:
            master.set_min(k, self.ctx.lo[k])
        return None if bound is None else _ceil(bound) + self.ctx.fixed_lines

    def _lower_sentence(self, k: tuple[str, int], lowered: int) -> str:
        ctx, master = self.ctx, self.master
        row = ctx.plan.demand_by_key[k]
        what = f"{k[0]}'s minimum in term {k[1]} from {row.min} to {row.min - 1}"
        master.set_min(k, ctx.lo[k] - 1)
        try:
            found = self._plan_with(lowered - ctx.fixed_lines)
        finally:
            master.set_min(k, ctx.lo[k])
        if found:
            return f"Lowering {what} would allow {lowered} lines (a plan with {lowered} exists)."
        return f"Lowering {what} lowers the proven minimum to {lowered} lines."

    def _plan_with(self, generic: int) -> bool:
        """A dive on the lowered LP: True when it rounds to a plan with `generic` lines that
        meets every (lowered) row and partial-line class."""
        ctx, master = self.ctx, self.master
        if self.control.remaining < DIVE_MIN_S:
            return False  # a dive step cannot be cut short: never start one this late
        master.set_stage(LINES_STAGE)
        try:
            counts = dive(master, self.pricers, self.control, "explain", target=float(generic))
        except Stopped:  # out of time: the proven minimum is still worth saying
            if self.control.cancelled:
                raise
            return False
        if counts is None:
            return False
        cover = dict.fromkeys(ctx.rows, 0)
        per_class = [0] * len(ctx.classes)
        total = 0
        for col, n in counts.items():
            for t, u in enumerate(col.pattern, 1):
                cover[(u, t)] += n
            if col.cls is None:
                total += n
            else:
                per_class[col.cls] += n
        rows_ok = all(
            master.min_rows[k].lb() - TOL <= cover[k] <= ctx.hi[k] + TOL for k in ctx.rows
        )
        classes_ok = per_class == [c.count for c in ctx.classes]
        return rows_ok and classes_ok and total == generic

    # --- fairness ----------------------------------------------------------------------
    def _fairness(self, lines: int) -> bool:
        """Why no plan with this line count keeps every line to one less; True when the LP
        said it (the counting sentences say what would allow one less themselves)."""
        fairness = self.proven.fairness
        assert fairness is not None
        if fairness == 0:
            return False
        counted = fairness_by_counting(self.ctx, lines, fairness)
        if counted is not None:
            self.out.append(counted)
            return False
        return self._fairness_certificate(lines, fairness - 1, fairness)

    def _fairness_certificate(self, lines: int, cap: int, fairness: int) -> bool:
        ctx, master = self.ctx, self.master
        generic = lines - ctx.fixed_lines
        master.set_stage(Stage(slack_cost=1.0, art_cost=1.0, lines=(0, generic), cap=cap))
        cg = generate(master, self.pricers, self.control, "explain", max_prices=PRICES_PER_LP)
        if not cg.converged or cg.value is None or cg.bound <= TOL:
            return False
        if any(v.solution_value() > TOL for v in (master.art_lines, *master.art_classes)):
            return False  # partial lines, not demand, carry part of it: not said in words
        missing = _ceil(cg.bound)
        shown, more = describe_rows(certificate_rows(ctx, master), limit=4)
        mainly = f"; the demands involved: {'; '.join(shown)}{more}" if shown else ""
        self.out.append(
            f"At most {_plural(fairness, 'service or night rotation')} on one line is the least "
            f"possible with {lines} lines: with at most {cap} per line, at least "
            f"{_plural(missing, 'place')} of minimum demand would stay unfilled under "
            f"{_rules(ctx)}{mainly}."
        )
        return True

    def _fewer_service_nights(self, lines: int, fairness: int) -> list[str]:
        """How many lines one less per line would take: a proven lower bound (the LP with
        penalised slacks: any plan that meets the demand costs its line count)."""
        ctx, master = self.ctx, self.master
        penalty = ctx.max_generic + 1
        cap = fairness - 1
        master.set_stage(
            Stage(line_cost=1.0, slack_cost=penalty, art_cost=penalty, slack_allowed=True, cap=cap)
        )
        cg = generate(master, self.pricers, self.control, "explain", max_prices=PRICES_PER_LP)
        if not cg.converged or cg.value is None:
            return []
        need = max(_ceil(cg.bound), ctx.min_generic) + ctx.fixed_lines
        if need <= lines:
            return []
        # a plan that meets the demand costs at most the line maximum in this LP: a bound
        # above it proves that no allowed line count is enough
        if need > ctx.max_generic + ctx.fixed_lines:
            return [
                f"At most {_plural(cap, 'service or night rotation')} per line is not possible "
                "with any line count the plan allows unless the minimum demand is lowered."
            ]
        words = _plural(cap, "service or night rotation")
        return [f"At most {words} per line would take at least {need} lines (today {lines})."]


def counting_only(ctx: Context, proven: Proven) -> list[str]:
    """The sentences that need no LP (milliseconds): what an interrupted solve can still say."""
    if proven.short_cap > 0 or proven.lines is None:
        return []
    out, _ = line_count_causes(ctx, proven.lines)
    if proven.fairness:
        counted = fairness_by_counting(ctx, proven.lines, proven.fairness)
        out += [counted] if counted is not None else []
    return out


def fairness_by_counting(ctx: Context, lines: int, fairness: int) -> str | None:
    """A locked line's own load, or the counting argument, for `fairness` (> 0) at `lines`
    lines (locked included): the sentence, or None when neither proves it."""
    locked = [ln for ln in ctx.full_locked if ctx.fixed_load(ln.rotations) >= fairness]
    if locked:
        words = "service or night rotation"
        return (
            f"Locked line {locked[0].label} already has {_plural(fairness, words)}, so some "
            f"line carries {fairness} whatever the plan."
        )
    count = ServiceNightCount.of(ctx, lines - ctx.fixed_lines, 0)
    if count.counts_out(fairness - 1):
        return _counting_fairness(ctx, count, fairness - 1, fairness)
    return None


def _counting_fairness(ctx: Context, count: ServiceNightCount, cap: int, fairness: int) -> str:
    netted = " (after the locked lines)" if ctx.full_locked else ""
    head = (
        f"At most {_plural(fairness, 'service or night rotation')} on one line is the least "
        "possible: "
        f"the service and night units need {_plural(count.need, 'place')} of minimum demand "
        f"across the year{netted}"
    )
    if cap == 0:
        return head + ", so at least one line must take one."
    hold = cap * count.span * count.free
    # free lines needed, plus the fully locked lines (partial ones are among the free)
    lines_needed = -(-count.need // (cap * count.span)) + len(ctx.full_locked)
    lines = count.free + len(ctx.full_locked)
    return (
        f"{head}, but {count.free} lines with at most {cap} each hold at most {hold}. At most "
        f"{cap} per line would take at least {lines_needed} lines, or, with {lines} lines, at "
        f"least {count.need - hold} fewer places of service or night minimum demand."
    )


# --- counting causes of the line count ---------------------------------------------------
def line_count_causes(ctx: Context, lines: int) -> tuple[list[str], list[int]]:
    """Counting arguments whose bound equals `lines` (total, locked included), in words,
    and the terms whose minimum demand alone adds up to it."""
    plan, out = ctx.plan, []
    p = plan.params
    if p.min_lines is not None and p.min_lines == lines:
        if p.max_lines == p.min_lines:
            out.append(f"The plan fixes the line count at {lines} (min_lines = max_lines).")
        else:
            out.append(f"The plan asks for at least {lines} lines (min_lines).")
    terms: list[int] = []
    six = False
    for t in plan.ordinals:
        plain, least = _term_minimum(ctx, t)
        if least == lines:
            terms.append(t)
            six |= least > plain
    if terms:
        names = _and([_term_name(ctx, t) for t in terms])
        whose = (
            f"{names}'s minimum demand"
            if len(terms) == 1
            else (f"{names}: the minimum demand of each")
        )
        with_six = " (counting the six-month rotations that must cover it)" if six else ""
        out.append(
            f"{whose} adds up to {lines} rotations{with_six}, and a line holds one rotation "
            f"per term, so at least {lines} lines are needed."
        )
    out += _rule_causes(ctx, lines)
    if ctx.fixed_lines == lines and lines:
        out.append(f"The {lines} locked lines are all the lines: they already meet the demand.")
    return out, terms


def _term_minimum(ctx: Context, t: int) -> tuple[int, int]:
    """Term t's minimum demand as entered, and the least number of lines that must sit in
    its units: a six-month unit may have to be in term t to cover a neighbouring term."""
    plan = ctx.plan
    plain = sum(d.min for d in plan.demand if d.term == t)
    least = 0
    for d in plan.demand:
        if d.term != t:
            continue
        unit = plan.unit_by_code[d.unit]
        least += _six_month_least(ctx, unit, t) if unit.span_terms == 2 else d.min
    return plain, max(least, plain)


def _six_month_least(ctx: Context, unit: Unit, t: int) -> int:
    """The fewest rotations of a six-month unit in term t over all starts that meet its
    demand rows (a tiny CP-SAT model); its own minimum when that is not decided."""
    plan = ctx.plan
    rows = {s: plan.demand_by_key.get((unit.code, s)) for s in plan.ordinals}
    own = rows[t].min if rows[t] is not None else 0  # type: ignore[union-attr]
    m = cp_model.CpModel()
    T = plan.term_count
    most = max((r.max for r in rows.values() if r), default=0)
    starts = {
        s: m.new_int_var(0, most if s < T and rows[s] and rows[s + 1] else 0, f"s{s}") for s in rows
    }
    count = {s: starts[s] + (starts[s - 1] if s > 1 else 0) for s in rows}
    for s, r in rows.items():
        m.add(count[s] >= (r.min if r else 0))
        m.add(count[s] <= (r.max if r else 0))
    m.minimize(count[t])
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = 0.5
    solver.parameters.num_workers = 1
    if solver.solve(m) != cp_model.OPTIMAL:
        return own
    return max(own, round(solver.objective_value))


def _rule_causes(ctx: Context, lines: int) -> list[str]:
    """A rule's "at most per line" against the minimum demand's total of that measure."""
    owners, out = _rule_of(ctx), []
    for i, clause in enumerate(ctx.clauses):
        if not isinstance(clause, Total) or not clause.at_most:
            continue
        required = _rotations_required(ctx, clause.measure)
        if -(-required // clause.at_most) == lines:
            out.append(
                f"The minimum demand needs {required} {clause.what} across the year and "
                f"{owners[i]} allows at most {clause.at_most} per line, so at least {lines} "
                "lines are needed."
            )
    return out


def _term_name(ctx: Context, t: int) -> str:
    return next(term.name for term in ctx.plan.terms if term.ordinal == t)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
