"""Fast heuristic pricing: a beam search over terms that finds many improving lines at once.

It walks the terms in order; a state is a line covered up to some term with its running
clause counts (each `Total`'s sum, each `PerGroup`'s per-key sums, each `Distinct`'s keys),
so every "at most" is checked as the line grows and every "at least" is pruned by the most
the remaining terms can still add. States that reach the same term compete on the value of
their rotations so far (their remaining terms are the same), and only the best `width` go on.

It proves nothing: column generation calls it first and falls back to the exact CP-SAT
pricing (`pricing.LineSearch`) only when the beam finds no improving line, so the proof that
no column is left (and every bound) still comes from CP-SAT.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from constraints.patterns import Context, Lock, Pattern
from constraints.rotations import Rotation
from constraints.rules import Distinct, PerGroup, Total

BEAM_WIDTH = 16  # states kept per term
BEAM_BRANCH = 12  # best-valued valid extensions per state and term (plus what "at least" needs)
BEAM_NEEDED = 3  # extra rotations per "at least" rule and term, best-valued first
BEAM_COLUMNS = 100  # improving lines returned per call (many columns per round)
BEAM_ROW_REUSE = 6  # returned lines sharing one unit-term, at most (diverse columns)


class _State(NamedTuple):  # a tuple, not a frozen dataclass: millions are made per solve
    value: float
    rotations: tuple[Rotation, ...]
    totals: tuple[int, ...]  # per Total clause
    groups: dict[int, int]  # (PerGroup clause, key) index -> its sum so far (never mutated)
    seen: frozenset[int]  # (Distinct clause, key) indices touched
    distinct: tuple[int, ...]  # per Distinct clause: keys touched
    load: int  # service-or-nights rotations


@dataclass(frozen=True)
class _Info:
    """A rotation's contribution to every clause, precomputed once."""

    measures: tuple[int, ...]
    groups: tuple[tuple[int, int, int], ...]  # (group index, measure, at most)
    distinct: tuple[tuple[int, int], ...]  # (clause, key index)
    load: int


class BeamSearch:
    """The beam for one line kind (a lock and a service-or-nights cap), built once."""

    def __init__(self, ctx: Context, *, lock: Lock = (), max_load: int | None = None) -> None:
        self.ctx = ctx
        locked = dict(lock)
        self.totals: list[Total] = [c for c in ctx.clauses if isinstance(c, Total)]
        self.groups: list[PerGroup] = [c for c in ctx.clauses if isinstance(c, PerGroup)]
        self.distinct: list[Distinct] = [c for c in ctx.clauses if isinstance(c, Distinct)]
        self.cap = max_load
        self._keys: dict[tuple[int, str], int] = {}
        self.by_start: dict[int, list[Rotation]] = {t: [] for t in ctx.plan.ordinals}
        for r in ctx.candidates:
            if any(t in locked and locked[t] != r.unit.code for t in r.terms):
                continue
            if not locked and any(ctx.hi[(r.unit.code, t)] <= 0 for t in r.terms):
                continue
            if max_load is not None and r.unit.is_service_or_nights and max_load < 1:
                continue
            self.by_start[r.start].append(r)
        self.locked = locked
        self.info = {id(r): self._info(r) for rs in self.by_start.values() for r in rs}
        self.at_most = [(k, c.at_most) for k, c in enumerate(self.totals) if c.at_most is not None]
        self.at_least = [
            (k, c.at_least) for k, c in enumerate(self.totals) if c.at_least is not None
        ]
        self.rest = self._most_from(ctx)

    def _info(self, r: Rotation) -> _Info:
        keys = self._keys
        groups = tuple(
            (keys.setdefault((k, c.key(r)), len(keys)), c.measure(r), c.at_most)
            for k, c in enumerate(self.groups)
            if c.measure(r)
        )
        distinct = tuple(
            (k, keys.setdefault((-1 - k, c.key(r)), len(keys))) for k, c in enumerate(self.distinct)
        )
        measures = tuple(c.measure(r) for c in self.totals)
        return _Info(measures, groups, distinct, int(r.unit.is_service_or_nights))

    def _most_from(self, ctx: Context) -> list[list[int]]:
        """rest[t-1][i]: the most of Total i that terms t..T can still add (ignoring rules)."""
        T = ctx.T
        rest = [[0] * len(self.totals) for _ in range(T + 2)]
        for t in range(T, 0, -1):
            for i, c in enumerate(self.totals):
                best = 0
                for r in self.by_start[t]:
                    best = max(best, c.measure(r) + rest[t + len(r.terms) - 1][i])
                rest[t - 1][i] = max(best, 0) if self.by_start[t] else rest[t][i]
        return rest

    def price(
        self,
        values: Mapping[tuple[str, int], float],
        constant: float,
        eps: float,
        starts: Mapping[tuple[str, int], float] | None = None,
    ) -> list[tuple[Pattern, float]]:
        """Up to BEAM_COLUMNS valid patterns whose value exceeds `eps`, best first.

        A line's value is the sum of `values` over its unit-terms plus `constant`, plus
        `starts[(unit, first term)]` for each rotation (the constructive plan's six-month
        starts)."""
        ctx = self.ctx
        T = ctx.T
        bonus = starts or {}
        gains = {
            id(r): sum(values.get((r.unit.code, t), 0.0) for t in r.terms)
            + bonus.get((r.unit.code, r.start), 0.0)
            for rs in self.by_start.values()
            for r in rs
        }

        def gain(r: Rotation) -> float:
            return gains[id(r)]

        ranked: dict[int, list[Rotation]] = {}
        needed: dict[int, list[Rotation]] = {}
        for t, rs in self.by_start.items():
            ranked[t] = sorted(rs, key=gain, reverse=True)
            extra: list[Rotation] = []
            for c in self.totals:
                if c.at_least:
                    extra += [r for r in ranked[t] if c.measure(r) > 0][:BEAM_NEEDED]
            needed[t] = extra
        empty = _State(
            constant,
            (),
            tuple(0 for _ in self.totals),
            {},
            frozenset(),
            tuple(0 for _ in self.distinct),
            0,
        )
        buckets: dict[int, list[_State]] = {t: [] for t in range(1, T + 2)}
        buckets[1].append(empty)
        for t in range(1, T + 1):
            states = sorted(buckets[t], key=lambda s: s.value, reverse=True)[:BEAM_WIDTH]
            for s in states:
                self._grow(s, t, ranked[t], needed[t], gain, buckets)
        done = [s for s in buckets[T + 1] if s.value > eps and self._complete(s)]
        done.sort(key=lambda s: s.value, reverse=True)
        out: list[tuple[Pattern, float]] = []
        seen_p: set[Pattern] = set()
        uses: dict[tuple[str, int], int] = {}
        for s in done:  # best first, skipping lines whose unit-terms the chosen ones crowd
            units: dict[int, str] = {}
            for r in s.rotations:
                for tt in r.terms:
                    units[tt] = r.unit.code
            p = tuple(units[tt] for tt in ctx.plan.ordinals)
            rows = [(u, t) for t, u in enumerate(p, 1)]
            if p in seen_p or (out and any(uses.get(k, 0) >= BEAM_ROW_REUSE for k in rows)):
                continue
            seen_p.add(p)
            out.append((p, s.value))
            for k in rows:
                uses[k] = uses.get(k, 0) + 1
            if len(out) >= BEAM_COLUMNS:
                break
        return out

    def _grow(
        self,
        s: _State,
        t: int,
        ranked: list[Rotation],
        needed: list[Rotation],
        gain: Callable[[Rotation], float],
        buckets: dict[int, list[_State]],
    ) -> None:
        """State s's best BEAM_BRANCH valid extensions at term t (scanning the ranked
        rotations until that many pass the rules: a fixed top-k would leave a state whose
        best units its "at most" rules forbid with none), plus the ones "at least" needs."""
        grown = 0
        tried: set[int] = set()
        for r in ranked:
            tried.add(id(r))
            nxt = self._extend(s, r, gain(r), t)
            if nxt is not None:
                buckets[t + len(r.terms)].append(nxt)
                grown += 1
                if grown >= BEAM_BRANCH:
                    break
        for r in needed:
            if id(r) not in tried:
                nxt = self._extend(s, r, gain(r), t)
                if nxt is not None:
                    buckets[t + len(r.terms)].append(nxt)

    def _extend(self, s: _State, r: Rotation, g: float, t: int) -> _State | None:
        info = self.info[id(r)]
        load = s.load + info.load
        if self.cap is not None and load > self.cap:
            return None
        totals = tuple(map(operator.add, s.totals, info.measures))
        for k, most in self.at_most:
            if totals[k] > most:
                return None
        rest = self.rest[t + len(r.terms) - 1]
        for k, least in self.at_least:
            if totals[k] + rest[k] < least:
                return None
        groups = s.groups
        if info.groups:
            groups = dict(groups)
            for key, m, most in info.groups:
                v = groups.get(key, 0) + m
                if v > most:
                    return None
                groups[key] = v
        seen, distinct = s.seen, s.distinct
        if info.distinct:
            counts = list(distinct)
            new = set()
            for k, key in info.distinct:
                if key not in seen:
                    counts[k] += 1
                    new.add(key)
            left = self.ctx.T - (t + len(r.terms) - 1)
            for k, c in enumerate(self.distinct):
                if counts[k] + left < c.at_least:
                    return None
            seen, distinct = seen | new, tuple(counts)
        return _State(s.value + g, (*s.rotations, r), totals, groups, seen, distinct, load)

    def _complete(self, s: _State) -> bool:
        for k, c in enumerate(self.totals):
            if c.at_least is not None and s.totals[k] < c.at_least:
                return False
        for k, d in enumerate(self.distinct):
            if s.distinct[k] < d.at_least:
                return False
        for t, u in self.locked.items():
            if not any(r.unit.code == u and t in r.terms for r in s.rotations):
                return False
        return True
