"""The LP master over pattern counts (GLOP), kept alive across stages so columns accumulate.

Rows: each demand row min (with a shortfall slack) and max, the generic line count, one
equality per partial-line class, one capacity row per current pattern (stability pairs) and
the total shortfall. Columns: generic lines of a pattern, partial-class lines of a pattern,
and stability pairs "a new line of pattern p paired with current pattern q". Stages only
change objective coefficients and bounds; `duals()` feeds the pricing models.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ortools.linear_solver import pywraplp

from constraints.patterns import Context, Pattern, matches

INF = pywraplp.Solver.infinity()
# GLOP parameters. Column generation only adds columns, and without presolve GLOP re-solves
# from its last basis: on 1000 lines the lines LP's solves took 2.9 s instead of 7.3 s. Dives
# change column bounds, where presolve pays (without it the lines dive took 51 s, not 1.4 s).
GLOP_PRICING_PARAMS = "use_preprocessing: false"
GLOP_DIVING_PARAMS = ""


@dataclass(frozen=True)
class Column:
    pattern: Pattern
    cls: int | None = None  # partial-line class index
    pair: int | None = None  # current-pattern index (stability)


@dataclass(frozen=True)
class Stage:
    """Objective and bounds of one LP stage (see the solver for the sequence)."""

    line_cost: float = 0.0  # per generic line
    slack_cost: float = 1.0  # per unit of missing minimum demand
    art_cost: float = 1.0  # phase-1 artificials on line-count and partial-class rows
    slack_allowed: bool = True
    shortfall_cap: float | None = None
    lines: tuple[int, int] | None = None  # generic line-count bounds (default: params)
    cap: int | None = None  # fairness: most service-or-nights rotations per line
    pairing: bool = False  # stability columns active (cost = -matching terms)


@dataclass
class Duals:
    rows: dict[tuple[str, int], float]  # min and max row duals of a demand row, summed
    lines: float
    classes: list[float]
    pairs: list[float]
    short: float = 0.0  # the total-shortfall row

    def mix(self, other: Duals, weight: float) -> Duals:
        """weight * self + (1 - weight) * other (dual smoothing)."""

        def m(a: float, b: float) -> float:
            return weight * a + (1 - weight) * b

        return Duals(
            rows={k: m(v, other.rows[k]) for k, v in self.rows.items()},
            lines=m(self.lines, other.lines),
            classes=[m(a, b) for a, b in zip(self.classes, other.classes, strict=True)],
            pairs=[m(a, b) for a, b in zip(self.pairs, other.pairs, strict=True)],
            short=m(self.short, other.short),
        )


class Master:
    def __init__(self, ctx: Context, deadline: Callable[[], float] | None = None) -> None:
        self.ctx = ctx
        # when a solve must stop, as time.monotonic(): read at each solve, because the
        # solver moves its deadline (the stability stage ends before the explanations)
        self.deadline = deadline
        s = pywraplp.Solver.CreateSolver("GLOP")
        self.s = s
        self.min_rows = {k: s.Constraint(ctx.lo[k], INF, f"min{k}") for k in ctx.rows}
        self.max_rows = {k: s.Constraint(-INF, ctx.hi[k], f"max{k}") for k in ctx.rows}
        self.lines_row = s.Constraint(ctx.min_generic, ctx.max_generic, "lines")
        self.class_rows = [
            s.Constraint(c.count, c.count, f"cls{i}") for i, c in enumerate(ctx.classes)
        ]
        self.pair_rows = [s.Constraint(-INF, m, f"pair{i}") for i, (_, m) in enumerate(ctx.current)]
        self.short_row = s.Constraint(-INF, INF, "shortfall")
        # Shortfall slacks (reported) and phase-1 artificials (line count, classes).
        self.slack = {}
        for k in ctx.rows:
            v = s.NumVar(0, INF, f"slack{k}")
            self.min_rows[k].SetCoefficient(v, 1)
            self.short_row.SetCoefficient(v, 1)
            self.slack[k] = v
        self.art_lines = s.NumVar(0, INF, "art_lines")
        self.lines_row.SetCoefficient(self.art_lines, 1)
        self.art_classes = []
        for row in self.class_rows:
            v = s.NumVar(0, INF, "art_cls")
            row.SetCoefficient(v, 1)
            self.art_classes.append(v)
        self.columns: list[Column] = []
        self.vars: list = []
        self.index: dict[Column, int] = {}
        self.stage = Stage()
        self.lower: dict[int, int] = {}
        self.upper: dict[int, int] = {}
        self.objective = s.Objective()
        self.objective.SetMinimization()
        self._params = ""  # GLOP's defaults

    # --- columns -------------------------------------------------------------------------
    def cost(self, col: Column) -> float:
        if col.cls is not None:
            return 0.0  # partial lines are lines whatever happens; they cost nothing extra
        if col.pair is not None:
            return -matches(col.pattern, self.ctx.current[col.pair][0])
        return self.stage.line_cost

    def add(self, col: Column) -> bool:
        if col in self.index:
            return False
        v = self.s.NumVar(0, INF, f"c{len(self.columns)}")
        for t, u in enumerate(col.pattern, 1):
            self.min_rows[(u, t)].SetCoefficient(v, 1)
            self.max_rows[(u, t)].SetCoefficient(v, 1)
        if col.cls is None:
            self.lines_row.SetCoefficient(v, 1)
        else:
            self.class_rows[col.cls].SetCoefficient(v, 1)
        if col.pair is not None:
            self.pair_rows[col.pair].SetCoefficient(v, 1)
        self.index[col] = len(self.columns)
        self.columns.append(col)
        self.vars.append(v)
        self._configure(len(self.columns) - 1)
        return True

    def allowed(self, col: Column) -> bool:
        if col.pair is not None and not self.stage.pairing:
            return False
        return self.stage.cap is None or self.ctx.load(col.pattern) <= self.stage.cap

    def fix(self, i: int, lower: int) -> None:
        """Diving: commit at least `lower` lines of column i."""
        self.lower[i] = lower
        self.vars[i].SetLb(lower)

    def forbid_above(self, i: int, upper: int) -> None:
        """Diving backtrack: the other branch, at most `upper` lines of column i."""
        self.upper[i] = upper
        self.vars[i].SetUb(upper)

    def full_kinds(self) -> set[int | None]:
        """Diving: line kinds (None generic, else class) whose every line is committed."""
        committed: dict[int | None, int] = {}
        for i, lb in self.lower.items():
            cls = self.columns[i].cls
            committed[cls] = committed.get(cls, 0) + lb
        _, hi = self.stage.lines if self.stage.lines else (0, self.ctx.max_generic)
        return {
            cls
            for cls, k in committed.items()
            if k >= (hi if cls is None else self.ctx.classes[cls].count)
        }

    def bounds(self) -> tuple[dict[int, int], dict[int, int]]:
        return dict(self.lower), dict(self.upper)

    def restore(self, saved: tuple[dict[int, int], dict[int, int]]) -> None:
        """Diving backtrack: return to the column bounds `bounds()` returned."""
        self.unfix()
        for i, lb in saved[0].items():
            self.fix(i, lb)
        for i, ub in saved[1].items():
            self.forbid_above(i, ub)

    def unfix(self) -> None:
        for i in self.lower:
            self.vars[i].SetLb(0)
        self.lower.clear()
        for i in self.upper:
            self._configure(i)
        self.upper.clear()

    def _configure(self, i: int) -> None:
        col, v = self.columns[i], self.vars[i]
        allowed = self.allowed(col)
        v.SetUb(INF if allowed else 0)
        self.objective.SetCoefficient(v, self.cost(col) if allowed else 0.0)

    # --- stages --------------------------------------------------------------------------
    def set_stage(self, stage: Stage) -> None:
        self.stage = stage
        o = self.objective
        for v in self.slack.values():
            o.SetCoefficient(v, stage.slack_cost)
            v.SetUb(INF if stage.slack_allowed else 0.0)
        for v in [self.art_lines, *self.art_classes]:
            o.SetCoefficient(v, stage.art_cost)
            v.SetUb(INF if stage.art_cost else 0.0)
        self.short_row.SetUb(INF if stage.shortfall_cap is None else stage.shortfall_cap)
        lo, hi = stage.lines if stage.lines else (self.ctx.min_generic, self.ctx.max_generic)
        self.lines_row.SetBounds(lo, hi)
        for i in range(len(self.columns)):
            self._configure(i)

    def set_min(self, k: tuple[str, int], value: float) -> None:
        """Explanations: try demand row k with another minimum (net of locked lines, like
        ctx.lo); `set_min(k, ctx.lo[k])` restores it."""
        self.min_rows[k].SetLb(value)

    def solve(self) -> float | None:
        """The LP value, or None when infeasible or stopped at `deadline`."""
        params = GLOP_DIVING_PARAMS if self.lower or self.upper else GLOP_PRICING_PARAMS
        if params != self._params:
            self.s.SetSolverSpecificParametersAsString(params)
            self._params = params
        if self.deadline is not None:  # a wall-clock safety net: one solve can take seconds
            self.s.SetTimeLimit(max(round(1000 * (self.deadline() - time.monotonic())), 1))
        status = self.s.Solve()
        if status != pywraplp.Solver.OPTIMAL:
            return None
        return self.objective.Value()

    def duals(self) -> Duals:
        ctx = self.ctx
        rows = {k: self.min_rows[k].dual_value() + self.max_rows[k].dual_value() for k in ctx.rows}
        return Duals(
            rows=rows,
            lines=self.lines_row.dual_value(),
            classes=[r.dual_value() for r in self.class_rows],
            pairs=[r.dual_value() for r in self.pair_rows],
            short=self.short_row.dual_value(),
        )

    def dual_objective(self, duals: Duals) -> float:
        """The dual objective of `duals` over the rows (each demand row's summed dual split
        onto its min row when positive, its max row when negative, the split that scores
        best). With the best reduced value of every line kind subtracted it is a Lagrangian
        bound, for any duals that keep the slack and artificial columns dual feasible (a
        mix of two LP dual solutions of one stage does). Valid while no column bound is
        fixed (outside dives); at the LP's own duals it equals the LP value."""
        ctx = self.ctx
        total = 0.0
        for k in ctx.rows:
            y = duals.rows[k]
            total += y * (ctx.lo[k] if y > 0 else ctx.hi[k])
        total += duals.lines * (self.lines_row.lb() if duals.lines > 0 else self.lines_row.ub())
        total += sum(y * row.lb() for y, row in zip(duals.classes, self.class_rows, strict=True))
        total += sum(y * row.ub() for y, row in zip(duals.pairs, self.pair_rows, strict=True))
        if duals.short and self.short_row.ub() < INF:
            total += duals.short * self.short_row.ub()
        return total

    def values(self) -> list[float]:
        return [v.solution_value() for v in self.vars]
