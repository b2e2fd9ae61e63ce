"""Optimal pairing of new and current lines for the stability count (a transportation LP).

Lines are interchangeable, so pairing works on pattern counts. Pairing costs T - matches
and leaving a line unpaired costs T, so the count is T * max(new, current) minus the
matching terms of the pairs; maximising matches is a transportation problem, whose LP
optimum is integral (GLOP returns a vertex).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ortools.linear_solver import pywraplp

Row = Sequence[str | None]


def changed_rotations(
    term_count: int, new: Mapping[tuple, int], current: Mapping[tuple, int]
) -> int:
    base = term_count * max(sum(new.values()), sum(current.values()))
    pairs = [(p, q, sum(a == b for a, b in zip(p, q, strict=True))) for p in new for q in current]
    pairs = [x for x in pairs if x[2] > 0]
    if not pairs:
        return base
    s = pywraplp.Solver.CreateSolver("GLOP")
    z = {(p, q): s.NumVar(0, min(new[p], current[q]), "") for p, q, _ in pairs}
    for p in new:
        s.Add(sum(v for (pp, _), v in z.items() if pp == p) <= new[p])
    for q in current:
        s.Add(sum(v for (_, qq), v in z.items() if qq == q) <= current[q])
    s.Maximize(sum(w * z[(p, q)] for p, q, w in pairs))
    s.Solve()
    return base - round(s.Objective().Value())
