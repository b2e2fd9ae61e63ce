"""solve(plan): the staged, pattern-based solve behind the engine API.

Stages follow DOMAIN.md's priorities lexicographically; each one runs column generation on
the shared LP master (its converged LP value is the stage's proven lower bound), then the
integer master over the pooled patterns with every earlier stage's value fixed:

  feasibility (phase 1) -> shortfall (if allowed) -> lines -> fairness -> stability

Last, the explanations of the proven line count and fairness (`bounds_explain`) run on the
same master within their own small budget, which the stability stage leaves free.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from constraints import explain
from constraints.bounds_explain import Proven, ServiceNightCount, counting_only, explain_bounds
from constraints.colgen import TOL, Pricers, dive, generate, seed_pairs
from constraints.colgen.closer import bring_closer
from constraints.colgen.construct import Constructed, construct
from constraints.colgen.control import Control, Stopped
from constraints.colgen.greedy_values import CLOSED
from constraints.colgen.intmaster import (
    Assignment,
    Goal,
    StageResult,
    evaluate,
    from_counts,
    solve_stage,
)
from constraints.colgen.master import Column, Master, Stage
from constraints.colgen.neighbourhood import search_neighbourhoods
from constraints.colgen.repair import rescue_values
from constraints.patterns import Context, Lock, Pattern
from constraints.plan import Plan
from constraints.progress import CancelToken, Progress, ProgressReporter
from constraints.result import SolveResult, Status
from constraints.solution import Objective, Shortfall, SolutionLine
from constraints.stability import pair_lines, paired_changes

# Deterministic work budgets, per second of params.time_limit_s: CP-SAT pricing calls for the
# stability LP, and CP-SAT deterministic time for each integer master.
PRICES_PER_SECOND = 60
IP_WORK_SHARE = 0.3
# The stability LP stops once its proven bound is within this share of its changed rotations
# (the goal is 2%; the dive needs the rest), and (wall-clock safety net) while this share of
# the time limit is left.
STABILITY_LP_GAP = 0.005
STABILITY_LP_SHARE = 0.5  # of the remaining time (and of the pricing budget) for its LP
STABILITY_SLACK_PER_TERM = 4.0  # slack cost per term: above any change a missing unit saves
# The greedy first plan stops only this close to the time limit (a wall-clock safety net):
# without it a plan whose LP cannot converge in time would end with no line at all.
CONSTRUCT_MARGIN_S = 0.05
# the greedy's CP-SAT fallback needs a good line, not a proof: a short cap (1000 lines: 85
# fallbacks took ~0.6 s each uncapped)
GREEDY_CP_SAT_CAP = 0.1
# ... and the labelling before it a good line, not the best: it stops after this many labels
# with the best line found so far (a 12-term year: 0.14 s a call at the proofs' limit)
GREEDY_LABEL_NODES = 2000
# the rescue's integer master (greedy lines that leave a minimum short) needs a plan, not
# a proof: this share of the time limit in CP-SAT deterministic time
RESCUE_WORK_SHARE = 0.02
# greedy lines that neither the repair nor the rescue complete: first phase 1's LP for this
# long (wall clock, in either mode): on an impossible plan the proof (0.04 s, 5 rounds, on
# g_m_inf_subspecialty), on a hard 13-term one a round or two ...
FEASIBILITY_PROBE_S = 0.5
# ... then neighbourhood search for as long as the greedy took (at least the minimum), within
# this share of the time limit (wall clock), before phase 1's LP runs to the end
NEIGHBOURHOOD_SHARE, NEIGHBOURHOOD_MIN_S = 0.15, 1.0
LAST_RESORT_MARGIN_S = 0.2  # the last-resort neighbourhood search stops this short of the limit
LAST_RESORT_SHARE = 0.3  # of the time limit, kept for it while the lines stage has no plan
GREEDY_LOADS = (1, 2)  # the greedy tries lines with at most 1, then 2 service/nights first
STABILITY_RESERVE = 0.25
# the result after the last stage (see _finish_reserve): at most this share of the limit
FINISH_SHARE, FINISH_MIN_S, FINISH_S_PER_LINE = 0.1, 0.05, 1e-4
CLOSER_SHARE = 0.05  # of the time limit, at most, for each local search toward today's lines
# "Why this many lines / this fairness" (bounds_explain): its own small wall-clock budget,
# a share of the time limit, never closer to the limit than the margin.
EXPLAIN_SHARE, EXPLAIN_MAX_S, EXPLAIN_MARGIN_S = 0.05, 5.0, 0.1
_R = TypeVar("_R")

NOT_FOUND = (
    "No plan was found, but none was proven impossible either: the demand can be met in the "
    "linear relaxation, yet no whole-line plan came out of the line patterns generated within "
    "the limits. Try a longer time limit."
)


def solve(
    plan: Plan,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    progress_interval_ms: int = 500,
    cancel: CancelToken | None = None,
) -> SolveResult:
    started = time.monotonic()
    control = Control(
        time_limit_s=plan.params.time_limit_s,
        seed=plan.params.seed,
        deterministic=plan.params.deterministic,
        cancel=cancel,
        reporter=ProgressReporter(on_progress, progress_interval_ms, started),
        started=started,
    )
    control.deadline -= _finish_reserve(plan)
    run = _Run(plan, control)
    try:
        result = run.execute()
    except Stopped:
        result = run.interrupted()
    finally:
        control.close()
    control.report("done", None, None, force=True)
    return result


def _finish_reserve(plan: Plan) -> float:
    """Time kept after the last stage for the result: labels, the exact pairing with the
    current lines, the independent check (5000 + 5000 lines: about a second)."""
    p = plan.params
    lines = p.max_lines or max(
        (sum(d.max for d in plan.demand if d.term == t) for t in plan.ordinals), default=0
    )
    work = FINISH_S_PER_LINE * (lines + len(plan.current_lines))
    return min(FINISH_SHARE * p.time_limit_s, FINISH_MIN_S + work)


def _ceil(x: float) -> int:
    """Integer lower bound from an LP bound (0, always valid here, when there is none)."""
    return math.ceil(x - TOL) if math.isfinite(x) else 0


class _Run:
    def __init__(self, plan: Plan, control: Control) -> None:
        self.plan, self.control = plan, control
        self.ctx: Context | None = None
        self.best: Assignment | None = None
        self.values: dict[str, int] = {}
        self.bound: dict[str, int] = {}
        self.proven: dict[str, bool] = {}
        self.timing: dict[str, float] = {}
        self.rounds: dict[str, int] = {}
        self.master: Master | None = None
        self.explanation: list[str] | None = None  # why this many lines / this fairness
        self.short_plan: Assignment | None = None  # greedy lines that leave a minimum short

    # --- stages ------------------------------------------------------------------------
    def execute(self) -> SolveResult:
        """The stages in DOMAIN.md's priority order; each returns False when it must stop."""
        reasons = self._prechecks()
        if reasons:
            return self._infeasible(reasons)
        self._start_master()
        reasons = self._first_plan()
        if reasons:
            return self._infeasible(reasons)
        if self.plan.params.allow_shortfall and not self._shortfall():
            return self._not_found()
        if not self._lines():
            return self._not_found()
        self._fairness()
        if self.ctx is not None and self.ctx.current:
            self._stability_leaving_time_to_explain()
        self.explanation = self._explain_bounds()
        return self._result(explanation=self.explanation)

    def _prechecks(self) -> list[str]:
        """Counting causes of infeasibility, in milliseconds."""
        ctx = self.ctx = Context(self.plan)
        reasons = explain.prechecks(ctx)
        self.timing["prechecks"] = self.control.elapsed()
        return reasons

    def _start_master(self) -> None:
        """The LP master, seeded with today's lines that are still valid (stability)."""
        ctx = self._context()
        control = self.control
        master = self.master = Master(ctx, deadline=lambda: control.deadline)
        self.pricers = Pricers(ctx)
        for q, _ in ctx.current:
            if None not in q:
                pattern = tuple(u for u in q if u is not None)
                if ctx.usable(pattern):
                    master.add(Column(pattern))

    def _first_plan(self) -> list[str]:
        """A plan before the LP stages, else phase 1's reasons why none exists ([] when
        phase 1 finds the demand can be met: the lines stage then looks for the plan).

        Greedy lines that leave a minimum short even after the rescue are a hard plan or an
        impossible one. A short look at phase 1 first, since on an impossible plan it is the
        quick proof; then the neighbourhood search, then phase 1 to the end."""
        first = self._construct()
        self.short_plan = first.short
        if first.plan is None and first.short is not None:
            first.plan = self._rescue(first.short)
        if first.plan is None and first.short is not None:
            reasons = self._feasibility(budget_s=FEASIBILITY_PROBE_S)
            if reasons:
                return reasons
            first.plan = self._neighbourhoods(first.short)
        if first.plan is None:
            return self._feasibility()
        self._keep_first(first.plan)
        return []

    def _feasibility(self, budget_s: float | None = None) -> list[str]:
        """Phase 1: minimise missing demand; a bound above 0 proves infeasibility. With a
        budget (wall clock in either mode, like the neighbourhood search it goes before) it
        may stop undecided, and then returns []."""
        master = self._master()
        allow = self.plan.params.allow_shortfall
        master.set_stage(Stage(slack_cost=0.0 if allow else 1.0, art_cost=1.0))
        reserve = None if budget_s is None else self.control.remaining - budget_s
        with self._lp_deadline(budget_s):
            cg = self._cg(master, self.pricers, "feasibility", stop_above=TOL, reserve_s=reserve)
        if cg.bound > TOL:
            return explain.explain(self._context(), self.control, master)
        return []

    @contextlib.contextmanager
    def _lp_deadline(self, budget_s: float | None) -> Iterator[None]:
        """With a budget, every LP solve also stops when it is spent: the budget's loop
        checks between solves, and the first GLOP solve of a 1000-line six-term plan took
        1.6 s of a 0.5 s probe (a solve stopped early leaves the stage undecided)."""
        master = self._master()
        if budget_s is None:
            yield
            return
        before, end = master.deadline, time.monotonic() + budget_s
        master.deadline = lambda: min(self.control.deadline, end)
        try:
            yield
        finally:
            master.deadline = before

    def _shortfall(self) -> bool:
        """allow_shortfall: the least missing minimum demand, before everything else."""
        master = self._master()
        master.set_stage(Stage(slack_cost=1.0, art_cost=0.0))
        cg = self._cg(master, self.pricers, "shortfall")
        goal = Goal("shortfall", lower_bound=_ceil(cg.bound), allow_shortfall=True)
        return self._stage(goal, "shortfall", target=goal.lower_bound)

    def _short_cap(self) -> int:
        return self.values.get("shortfall", 0) if self.plan.params.allow_shortfall else 0

    def _lines(self) -> bool:
        """The fewest lines; the LP value is the proven bound. Without a plan yet but with
        greedy lines to search from, the LP and its dives leave the last resort a share of
        the time limit (a 13-term 88-line plan's LP took all of its 10 s: no plan at all,
        where the neighbourhood search finds one in about a second)."""
        allow, short_cap = self.plan.params.allow_shortfall, self._short_cap()
        counted = self._context().least_generic_lines(short_cap if allow else 0)
        if self.best is not None and self.best.lines <= counted:
            return self._proven_by_counting("lines", counted)
        if self.best is not None or self.short_plan is None:
            return self._lines_lp(counted)
        reserve = LAST_RESORT_SHARE * self.plan.params.time_limit_s
        done = self._reserving(reserve, lambda: self._lines_lp(counted))
        # a dive may have kept a plan before the early deadline stopped it
        return bool(done) or self.best is not None or self._last_resort()

    def _lines_lp(self, counted: int) -> bool:
        """The lines LP from the counting bound up, then its dive and integer master."""
        master, allow, short_cap = (
            self._master(),
            self.plan.params.allow_shortfall,
            self._short_cap(),
        )
        master.set_stage(
            Stage(
                line_cost=1.0,
                slack_cost=0.0,
                art_cost=0.0,
                slack_allowed=allow,
                shortfall_cap=short_cap,
            )
        )
        cg = self._cg(master, self.pricers, "lines", known_bound=counted)
        goal = Goal(
            "lines",
            lower_bound=max(_ceil(cg.bound), counted),
            shortfall_cap=short_cap,
            allow_shortfall=allow,
        )
        if not allow and self.best is None:
            # No greedy plan to fall back on: penalised slacks keep every dive step's LP
            # feasible, so a round-up the pool cannot cover is priced out, not backtracked
            # into an empty stack (slower on 1000 lines: used only when it must succeed).
            penalty = self._context().max_generic + 1
            master.set_stage(Stage(line_cost=1.0, slack_cost=penalty, art_cost=penalty))
        # Without a plan yet, any plan first: the targeted dive re-prices every step back down
        # to the bound, which in a 13-term year took the whole minute (80 lines: no plan).
        target = goal.lower_bound if self.best is not None else None
        return self._stage(goal, "lines", target=target)

    def _reserving(self, reserve_s: float, stage: Callable[[], _R]) -> _R | None:
        """`stage` under a deadline `reserve_s` before the real one; None when that
        deadline stopped it (a cancel still stops the solve)."""
        control = self.control
        deadline = control.deadline
        control.deadline = deadline - reserve_s
        try:
            return stage()
        except Stopped:
            if control.cancelled:
                raise
            return None
        finally:
            control.deadline = deadline

    def _last_resort(self) -> bool:
        """Neither the greedy, its repairs, nor the LP's dives and integer master found a
        plan: the neighbourhood search resumes from the greedy's lines and keeps trying
        until the time limit, so a feasible plan does not end with no line while time is
        left (an 80-line 13-term plan ended TIMEOUT at 38 s of its 60)."""
        if self.short_plan is None:
            return False
        t0 = time.monotonic()
        deadline = self.control.deadline - LAST_RESORT_MARGIN_S
        found = search_neighbourhoods(
            self._context(), self.control, self.short_plan, deadline, patience=None
        )
        self.timing["last_resort"] = round(time.monotonic() - t0, 3)
        if found is None:
            return False
        self._keep("lines", found, found.lines, optimal=False)
        return True

    def _proven_by_counting(self, phase: str, bound: int) -> bool:
        """The plan in hand already meets a bound counting proves: no LP is needed."""
        assert self.best is not None
        self.bound[phase] = bound
        self.values[phase] = bound
        self.proven[phase] = True
        self.timing[f"{phase}_done_at"] = round(self.control.elapsed(), 3)
        self.control.report(phase, bound, bound, force=True)
        return True

    def _fairness(self) -> None:
        """The smallest service-or-nights cap per line at the line count just proven: each
        cap below the current plan's is tried on the LP (a bound above the line count
        proves it impossible), then the lowest possible one is dived for."""
        ctx, master = self._context(), self._master()
        allow, short_cap, lines = (
            self.plan.params.allow_shortfall,
            self._short_cap(),
            self.values["lines"],
        )
        floor = max((ctx.fixed_load(ln.rotations) for ln in ctx.full_locked), default=0)
        assert self.best is not None
        high = max(self.best.max_load(ctx), floor)
        penalty = ctx.max_generic + 1  # per missing unit: no line count can buy one back
        f_lb = high
        for cap in range(floor, high):
            if _cap_counts_out(ctx, cap, lines, short_cap):
                continue  # proven by counting, without an LP
            master.set_stage(
                Stage(
                    line_cost=1.0, slack_cost=penalty, art_cost=penalty, lines=(0, lines), cap=cap
                )
            )
            cg = self._cg(master, self.pricers, "fairness")
            if cg.bound > lines + penalty * short_cap + TOL:
                continue  # proven: no plan with this line count keeps every line under `cap`
            f_lb = cap
            break
        self.bound["fairness"] = f_lb
        self.timing["fairness_bound_at"] = round(self.control.elapsed(), 3)
        if f_lb < high:
            master.set_stage(
                Stage(
                    line_cost=1.0,
                    slack_cost=penalty,
                    art_cost=penalty,
                    lines=(lines, lines),
                    cap=f_lb,
                )
            )
            goal = Goal(
                "fairness",
                lower_bound=f_lb,
                lines=lines,
                shortfall_cap=short_cap,
                allow_shortfall=allow,
                fixed_load=floor,
            )
            self._stage(goal, "fairness")
        self.values["fairness"] = max(self.best.max_load(ctx), floor)
        self.proven["fairness"] = self.values["fairness"] <= f_lb

    def _stability(self) -> None:
        """The fewest changed rotations against today's lines, by pairing columns."""
        ctx, master = self._context(), self._master()
        allow, short_cap = self.plan.params.allow_shortfall, self._short_cap()
        lines, cap = self.values["lines"], self.values["fairness"]
        penalty = STABILITY_SLACK_PER_TERM * ctx.T
        master.set_stage(
            Stage(  # penalised slacks keep every dive step's LP feasible
                line_cost=0.0,
                slack_cost=penalty,
                art_cost=penalty,
                slack_allowed=True,
                shortfall_cap=short_cap if allow else None,
                lines=(lines, lines),
                cap=cap,
                pairing=True,
            )
        )
        goal = Goal(
            "stability",
            lower_bound=ctx.T * abs(lines - ctx.current_count),  # unpaired lines change wholly
            lines=lines,
            cap=cap,
            shortfall_cap=short_cap,
            allow_shortfall=allow,
        )
        self._bring_closer(goal)  # a close plan first, in case the LP takes the time left
        seed_pairs(master)
        # Stability only refines an optimal plan: keep time for the dive and the IP, and
        # stop pricing once the LP is within STABILITY_LP_GAP of its proven bound.
        limit = self.plan.params.time_limit_s
        base = ctx.T * max(lines, ctx.current_count)
        cg = self._cg(
            master,
            self.pricers,
            "stability",
            budget_s=STABILITY_LP_SHARE * self.control.remaining,
            max_prices=max(1, round(STABILITY_LP_SHARE * PRICES_PER_SECOND * limit)),
            close_enough=lambda v, b: v - b <= STABILITY_LP_GAP * max(base + v, 1.0),
            reserve_s=STABILITY_RESERVE * limit,
            check=False,
        )
        trivial = ctx.T * abs(lines - ctx.current_count)  # unpaired lines change wholly
        # with shortfall allowed the LP also pays `penalty` per missing unit, up to the
        # proven shortfall: only what is left of its bound bounds the changes
        paid = penalty * short_cap if allow else 0.0
        lp = base + _ceil(cg.bound - paid) if math.isfinite(cg.bound) else trivial
        self.bound["stability"] = max(lp, trivial)
        self.control.check()  # the bound is kept even when the time limit hit the LP
        goal = dataclasses.replace(goal, lower_bound=self.bound["stability"])
        # Dive target in LP units: the restricted LP's own value (its bound when the LP
        # did not converge is lower, and a dive cannot price its way down to it).
        target = _ceil(cg.value) if cg.value is not None else None
        self._stage(goal, "stability", target=target)
        self._bring_closer(goal)

    def _bring_closer(self, goal: Goal) -> None:
        """The best plan's lines moved closer to the current lines (local search), kept if
        that lowers the changed rotations."""
        ctx, best = self._context(), self.best
        assert best is not None
        t0 = time.monotonic()
        budget = min(CLOSER_SHARE * self.plan.params.time_limit_s, self.control.remaining)
        closer = bring_closer(ctx, best, goal.cap, t0 + budget)
        value = evaluate(ctx, closer, goal)
        if value is not None:
            optimal = "stability" in self.bound and value <= self.bound["stability"]
            self._keep("stability", closer, value, optimal=optimal)
        self.timing["stability_closer"] = round(
            self.timing.get("stability_closer", 0.0) + time.monotonic() - t0, 3
        )

    def _stability_leaving_time_to_explain(self) -> None:
        """Stability under a deadline that keeps the explanations' budget: a stability stage
        cut short there keeps its best plan (status FEASIBLE) and the sentences still come.
        (The explanations run after it: their LP dives add columns that, tried before it,
        sent the stability dive of m_pgy2_current_locked into a 45 s integer master.)"""
        reserve = self._explain_budget(self.control.remaining)
        self._reserving(reserve, self._stability)

    def _explain_budget(self, remaining: float) -> float:
        limit = self.plan.params.time_limit_s
        return max(min(EXPLAIN_SHARE * limit, EXPLAIN_MAX_S, remaining - EXPLAIN_MARGIN_S), 0.0)

    def _explain_bounds(self) -> list[str]:
        """Why this many lines and this fairness, for what the stages proved."""
        t0 = time.monotonic()
        ctx = self._context()
        budget = self._explain_budget(self.control.remaining)
        if budget <= 0:  # no time for an LP: what counting alone proves
            out = counting_only(ctx, self._proven())
        else:
            out = explain_bounds(
                ctx, self._master(), self.pricers, self.control, self._proven(), budget
            )
        self.timing["explain"] = round(time.monotonic() - t0, 3)
        return out

    def _proven(self) -> Proven:
        """The proven stage values the explanations may name (None: not proven)."""
        lines = self.values.get("lines") if self.proven.get("lines") else None
        fairness = self.values.get("fairness") if self.proven.get("fairness") else None
        return Proven(
            lines=None if lines is None else lines + self._context().fixed_lines,
            fairness=fairness,
            short_cap=self._short_cap(),
        )

    def _context(self) -> Context:
        assert self.ctx is not None
        return self.ctx

    def _master(self) -> Master:
        assert self.master is not None
        return self.master

    def _construct(self) -> Constructed:
        """The greedy lines before any LP; their patterns warm-start the LP either way."""
        ctx, master = self._context(), self._master()
        t0 = time.monotonic()
        allow = self.plan.params.allow_shortfall
        budget = self.control.remaining - CONSTRUCT_MARGIN_S
        out = construct(ctx, self._best_line, budget, allow_shortfall=allow)
        self.timing["construct"] = round(time.monotonic() - t0, 3)
        for p, cls in out.patterns:
            master.add(Column(p, cls=cls))
        return out

    def _keep_first(self, found: Assignment) -> None:
        """The first plan: the answer so far, and its lines prove the lines LP feasible."""
        master = self._master()
        for i, counts in enumerate([found.generic, *found.classes], -1):
            for p in counts:
                master.add(Column(p, cls=None if i < 0 else i))
        allow = self.plan.params.allow_shortfall
        phase = "shortfall" if allow else "lines"
        value = sum(found.shortfall.values()) if allow else found.lines
        self._keep(phase, found, value, optimal=False)

    def _rescue(self, short: Assignment) -> Assignment | None:
        """Greedy lines that leave a few minimums short: CP-SAT over the pool and the
        beam's lines through each short unit-term (an integer master over early columns)
        looks for lines that leave none."""
        ctx, master = self._context(), self._master()
        t0 = time.monotonic()
        beam = self.pricers.beam()
        for values in rescue_values(ctx, short.generic, short.classes):
            for p, _ in beam.price(values, 0.0, CLOSED / 2):
                master.add(Column(p))
        goal = Goal("shortfall", allow_shortfall=True)
        work = max(1.0, RESCUE_WORK_SHARE * self.plan.params.time_limit_s)
        out = solve_stage(ctx, master.columns, goal, self.control, short, "construct", work)
        self.timing["rescue"] = round(time.monotonic() - t0, 3)
        return out.assignment if out.value == 0 else None

    def _neighbourhoods(self, short: Assignment) -> Assignment | None:
        """Greedy lines the rescue could not complete: re-plan a few at a time."""
        t0 = time.monotonic()
        budget = min(
            NEIGHBOURHOOD_SHARE * self.plan.params.time_limit_s,
            max(self.timing["construct"], NEIGHBOURHOOD_MIN_S),  # as the repair: the greedy's
            self.control.remaining,
        )
        found = search_neighbourhoods(self._context(), self.control, short, t0 + budget)
        self.timing["neighbourhoods"] = round(time.monotonic() - t0, 3)
        return found

    def _best_line(
        self, lock: Lock, values: dict, starts: dict, floor: float, least_load: int = 0
    ) -> list[tuple[Pattern, float]]:
        """The beam's best lines for these values, else the labelling's best line within
        its node limit, else CP-SAT's where the labelling stops with none (both on the row
        values alone: they ignore the start bonuses)."""
        caps = [c for c in GREEDY_LOADS if c >= least_load]
        for cap in (*caps, None):  # fair lines first: fairness then starts low
            found = self.pricers.beam(lock, cap).price(values, 0.0, floor, starts)
            if found:
                return found
        labels = self.pricers.labels(lock, proving=False)
        if labels is not None:
            good = labels.price(values, 0.0, floor, node_limit=GREEDY_LABEL_NODES, proving=False)
            if good.found or good.optimal:  # a good line, or proof that none beats floor
                return good.found[:1]
        out = self.pricers.get(lock=lock).price(
            self.control, values, 0.0, phase="construct", time_cap=GREEDY_CP_SAT_CAP
        )
        best = max(out.found, key=lambda f: f.value, default=None)
        return [(best.pattern, best.value)] if best is not None and best.value > floor else []

    def _cg(self, master: Master, pricers: Pricers, phase: str, check=True, **budget):
        cg = generate(master, pricers, self.control, phase, **budget)
        if check:
            self.control.check()
        self.timing[f"{phase}_lp"] = round(cg.seconds, 3)
        self.rounds[phase] = self.rounds.get(phase, 0) + cg.rounds
        return cg

    def _stage(self, goal: Goal, phase: str, target: float | None = None) -> bool:
        """Dive for an integer plan; ask CP-SAT over the pool only if a gap remains."""
        ctx, master = self.ctx, self.master
        assert ctx is not None and master is not None
        t0 = time.monotonic()
        # Without a target: first dive on the pool as it is (LP re-solves only), then re-price
        # while diving if the pool alone cannot be rounded to a plan. With a target (the
        # stage's integer bound in LP units) one dive re-prices only while the LP is above
        # it, which subsumes the pool-only dive. (Dives never price stability pairs.)
        self.bound[phase] = goal.lower_bound
        counts: dict[Column, int] | None = None
        quick: int | None = None
        if target is None:
            counts = dive(master, self.pricers, self.control, phase, rounds_per_step=0)
        if counts is not None:
            quick = evaluate(ctx, from_counts(ctx, counts), goal)
        if counts is not None and quick is not None:  # kept if the time limit interrupts
            self._keep(phase, from_counts(ctx, counts), quick, optimal=quick <= goal.lower_bound)
        if quick is None or quick > goal.lower_bound:
            again = dive(
                master,
                self.pricers,
                self.control,
                phase,
                rounds_per_step=3 if target is None else 30,
                target=target,
            )
            value = evaluate(ctx, from_counts(ctx, again), goal) if again is not None else None
            if again is not None and value is not None and (quick is None or value < quick):
                counts = again
                self._keep(phase, from_counts(ctx, again), value, optimal=value <= goal.lower_bound)
        self.control.check()
        self.timing[f"{phase}_dive"] = round(time.monotonic() - t0, 3)
        found = from_counts(ctx, counts) if counts is not None else None
        value = evaluate(ctx, found, goal) if found is not None else None
        if value is None:
            found = self.best
            value = evaluate(ctx, found, goal) if found is not None else None
        if value is not None and value <= goal.lower_bound:
            out = StageResult(found, value, goal.lower_bound, True)
        else:
            t1 = time.monotonic()
            if self.control.deterministic:
                work = max(1.0, IP_WORK_SHARE * self.plan.params.time_limit_s)
            else:
                work = max(1.0, IP_WORK_SHARE * self.control.remaining)
            out = _judged(
                ctx, goal, solve_stage(ctx, master.columns, goal, self.control, found, phase, work)
            )
            self.timing[f"{phase}_ip"] = round(time.monotonic() - t1, 3)
            worse = value is not None and out.value is not None and out.value > value
            if out.assignment is None or worse:
                out = StageResult(found, value, out.bound, False) if found else out
        self.bound[phase] = out.bound
        self.timing[f"{phase}_done_at"] = round(self.control.elapsed(), 3)
        if out.assignment is None:
            return False
        if "first_solution" not in self.timing:
            self.timing["first_solution"] = round(self.control.elapsed(), 3)
        self.best = out.assignment
        self.values[phase] = out.value  # type: ignore[assignment]
        self.proven[phase] = out.optimal
        self.control.report(phase, out.value, out.bound, force=True)
        return True

    def _keep(self, phase: str, found: Assignment, value: int, *, optimal: bool) -> None:
        """An interim plan for a stage; a later, better one replaces it (on a tie, the one
        with fewer service-or-nights rotations on its busiest line: the next stage's goal)."""
        old = self.values.get(phase) if phase in self.proven else None
        if old is not None and self.best is not None:
            ctx = self._context()
            if (old, self.best.max_load(ctx)) <= (value, found.max_load(ctx)):
                return
        self.best, self.values[phase], self.proven[phase] = found, value, optimal
        self.timing.setdefault("first_solution", round(self.control.elapsed(), 3))

    # --- results -----------------------------------------------------------------------
    def interrupted(self) -> SolveResult:
        if self.control.cancelled:
            return self._result("CANCELLED")
        if self.best is None:
            return self._result("TIMEOUT")
        if self.explanation is None:
            self.explanation = counting_only(self._context(), self._proven())
        return self._result("FEASIBLE", self.explanation)

    def _not_found(self) -> SolveResult:
        """The LP has a plan but no integer plan came out of the patterns: not a proof."""
        self.best = None
        return self._result("TIMEOUT", [NOT_FOUND])

    def _infeasible(self, reasons: list[str]) -> SolveResult:
        self.best = None
        return self._result("INFEASIBLE", reasons)

    def _result(self, status: Status | None = None, explanation: list[str] | None = None):
        ctx, best = self.ctx, self.best
        stats = {
            "patterns": len(self.master.columns) if self.master else 0,
            "cg_rounds": dict(self.rounds),
            "proven": dict(self.proven),
            "timing": {**self.timing, "total": round(self.control.elapsed(), 3)},
        }
        if ctx is None or best is None or status in ("CANCELLED", "INFEASIBLE"):
            return SolveResult(
                status or "TIMEOUT",
                explanation=explanation or [],
                bound=dict(self.bound),
                statistics=stats,
            )
        lines = _lines(ctx, best)
        loads = [ctx.fixed_load(ln.rotations) for ln in lines]
        new = {ln.label: ln.rotations for ln in lines if ln.source == "new"}
        current = {ln.label: ln.rotations for ln in ctx.plan.current_lines}
        pairing = pair_lines(ctx.T, new, current)
        changed = paired_changes(ctx.T, new, current, pairing)
        shortfall = tuple(Shortfall(u, t, m) for (u, t), m in sorted(best.shortfall.items()))
        objective = Objective(
            shortfall=sum(s.missing for s in shortfall),
            lines=len(lines),
            max_service_nights=max(loads, default=0),
            changed_rotations=changed,
            shortfall_detail=shortfall,
        )
        if status is None:
            stages = ["lines", "fairness"] + (["stability"] if ctx.current else [])
            if ctx.plan.params.allow_shortfall:
                stages.insert(0, "shortfall")
            status = "OPTIMAL" if all(self.proven.get(s) for s in stages) else "FEASIBLE"
        bound = dict(self.bound)
        if "lines" in bound:
            bound["lines"] += ctx.fixed_lines  # report totals, like the objective
        return SolveResult(status, lines, objective, bound, explanation or [], stats, pairing)


def _judged(ctx: Context, goal: Goal, out: StageResult) -> StageResult:
    """The integer master's plan valued as the stage's goal values it (for stability, with
    the lines paired optimally, not as the model's pair variables paired them)."""
    if out.assignment is None:
        return out
    value = evaluate(ctx, out.assignment, goal)
    proven = value is not None and value <= goal.lower_bound
    return StageResult(out.assignment, value, out.bound, proven)


def _cap_counts_out(ctx: Context, cap: int, lines: int, short_cap: int) -> bool:
    """True when `cap` service-or-nights rotations per line cannot cover their minimum
    demand (the counting argument, shared with the explanations)."""
    return ServiceNightCount.of(ctx, lines, short_cap).counts_out(cap)


def _lines(ctx: Context, best: Assignment) -> list[SolutionLine]:
    fixed: list[SolutionLine] = [
        SolutionLine(ln.label, dict(ln.rotations), frozenset(ln.rotations), "locked")
        for ln in ctx.full_locked
    ]
    for cls, counts in zip(ctx.classes, best.classes, strict=True):
        patterns = [p for p in sorted(counts) for _ in range(counts[p])]
        for label, p in zip(cls.labels, patterns, strict=True):
            rotations = dict(zip(ctx.plan.ordinals, p, strict=True))
            fixed.append(
                SolutionLine(label, rotations, frozenset(t for t, _ in cls.lock), "partial")
            )
    fixed.sort(key=lambda ln: ln.label)
    taken = {ln.label for ln in fixed}
    out = list(fixed)
    number = 0
    for p in sorted(best.generic):
        for _ in range(best.generic[p]):
            number += 1
            while f"L-{number:03d}" in taken:
                number += 1
            out.append(
                SolutionLine(f"L-{number:03d}", dict(zip(ctx.plan.ordinals, p, strict=True)))
            )
    return out
