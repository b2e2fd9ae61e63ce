"""Random valid lines: each sampled line is checked against the selected rule sets' clauses.

The sampler places a relief rotation (which carries the year's leave), sometimes a six-month,
nights or non-clinical rotation, then fills the remaining terms with clinical units, preferring
units that bring an AMC experience category the line still lacks. Whatever it builds is then
judged by the same clauses the solver and the checker use; a line that fails is resampled.
Units closed in a term (`open_terms`) are never placed there.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from constraints.plan import Plan, Unit
from constraints.rotations import read_line
from constraints.rules import Clause

SIX_MONTH_SHARE = 0.15
NIGHTS_SHARE = 0.2
NON_CLINICAL_SHARE = 0.08
MAX_ATTEMPTS = 500


class LineSampler:
    def __init__(
        self,
        plan: Plan,
        clauses: Sequence[Clause],
        weights: dict[str, int],
        open_terms: Mapping[str, frozenset[int]] | None = None,
    ) -> None:
        self.plan = plan
        self.clauses = list(clauses)
        self.weights = weights
        every = frozenset(plan.ordinals)
        self.open_terms = {u.code: (open_terms or {}).get(u.code, every) for u in plan.units}
        units = plan.units
        self.relief = [u for u in units if u.kind == "service"]
        self.six_month = [u for u in units if u.span_terms == 2]
        self.nights = [u for u in units if u.nights and u.span_terms == 1]
        self.non_clinical = [u for u in units if u.kind == "non_clinical" and u.span_terms == 1]
        self.clinical = [
            u for u in units if u.kind == "clinical" and not u.nights and u.span_terms == 1
        ]
        self.required = sorted({c for u in units for c in u.experiences})

    def sample(self, rng: random.Random) -> dict[int, str]:
        for _ in range(MAX_ATTEMPTS):
            line = self._attempt(rng)
            if line is not None and self.is_valid(line):
                return line
        raise RuntimeError("generator could not build a valid line; the catalogue is too thin")

    def is_valid(self, line: dict[int, str]) -> bool:
        rotations = read_line(self.plan, line)
        return not any(clause.violations(rotations) for clause in self.clauses)

    def _attempt(self, rng: random.Random) -> dict[int, str] | None:
        terms = list(self.plan.ordinals)
        line: dict[int, str] = {}
        free = set(terms)
        relief = self._pick(rng, self.relief)
        self._place(line, free, relief, rng.choice(self._starts(relief, free)))
        if (
            self.six_month
            and rng.random() < SIX_MONTH_SHARE
            and any(t in free and t + 1 in free for t in terms)
        ):
            self._place_one_of(line, free, self.six_month, rng)
        for pool, share in ((self.nights, NIGHTS_SHARE), (self.non_clinical, NON_CLINICAL_SHARE)):
            if pool and free and rng.random() < share:
                self._place_one_of(line, free, pool, rng)
        for term in rng.sample(sorted(free), len(free)):
            clinical = self._pick_clinical(rng, line, term)
            if clinical is None:
                return None
            self._place(line, free, clinical, term)
        return line

    def _place_one_of(
        self, line: dict[int, str], free: set[int], pool: Sequence[Unit], rng: random.Random
    ) -> None:
        """Place a unit drawn from `pool` where it is open; none if it is open nowhere free."""
        unit = self._pick(rng, pool)
        starts = self._starts(unit, free)
        if starts:
            self._place(line, free, unit, rng.choice(starts))

    def _starts(self, unit: Unit, free: set[int]) -> list[int]:
        """Terms where `unit` can start: each term it occupies is free and open."""
        opened = self.open_terms[unit.code]
        span = range(unit.span_terms)
        return [t for t in sorted(free) if all(t + k in free and t + k in opened for k in span)]

    def _pick_clinical(self, rng: random.Random, line: dict[int, str], term: int) -> Unit | None:
        on_line = [self.plan.unit_by_code[c] for c in line.values()]
        used_subspecialties = {u.subspecialty for u in on_line}
        covered = {c for u in on_line for c in u.experiences}
        missing = set(self.required) - covered
        candidates = [
            u
            for u in self.clinical
            if u.subspecialty not in used_subspecialties and term in self.open_terms[u.code]
        ]
        helpful = [u for u in candidates if missing & u.experiences]
        pool = helpful or candidates
        return self._pick(rng, pool) if pool else None

    def _pick(self, rng: random.Random, units: Sequence[Unit]) -> Unit:
        return rng.choices(units, weights=[self.weights[u.code] for u in units])[0]

    @staticmethod
    def _place(line: dict[int, str], free: set[int], unit: Unit, start: int) -> None:
        for term in range(start, start + unit.span_terms):
            line[term] = unit.code
            free.discard(term)
