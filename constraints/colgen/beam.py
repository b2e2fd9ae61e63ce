"""Fast heuristic pricing: a beam search over terms that finds many improving lines at once.

It walks the terms in order; a state is a line covered up to some term with its running
clause counts (each `Total`'s sum, each `PerGroup`'s per-key sums, each `Distinct`'s keys),
so every "at most" is checked as the line grows and every "at least" is pruned by the most
the remaining terms can still add. States that reach the same term compete on the value of
their rotations so far (their remaining terms are the same), and only the best `width` go on.

It proves nothing: column generation calls it first for many columns, and the exact
labelling (`labels.py`, CP-SAT where that gives up) gives the proof that no column is left.
It walks the representatives of interchangeable rotations (`space.py`): one beam per fairness
cap serves every line kind, each call choosing the members its kind may use.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import NamedTuple

from constraints.colgen.space import Choice, GroupField, Space, packed_fields
from constraints.patterns import Pattern
from constraints.rotations import Rotation
from constraints.rules import Distinct, PerGroup, Total

BEAM_WIDTH = 16  # states kept per term
BEAM_BRANCH = 12  # best-valued valid extensions per state and term (plus what "at least" needs)
BEAM_NEEDED = 3  # extra rotations per "at least" rule and term, best-valued first
BEAM_COLUMNS = 100  # improving lines returned per call (many columns per round)
# returned lines sharing one unit-term, at most (diverse columns), in a four-term year; in
# proportion to the terms in longer years, whose lines share more unit-terms (13 terms: 20;
# with 6 the lines LP of a 120-line 13-term plan got 6 lines a call and stalled)
BEAM_ROW_REUSE = 6
BEAM_VARIANTS = 2  # per rotation of a line found, lines with another member of its class
BEAM_VARIED = 20  # lines found whose variants are offered (the best ones)


class _State(NamedTuple):  # a tuple, not a frozen dataclass: millions are made per solve
    value: float
    path: tuple[int, ...]  # representatives taken so far
    totals: tuple[int, ...]  # per Total clause
    groups: int  # the PerGroup sums so far, packed (see `space.packed_fields`)
    seen: int  # the Distinct keys touched, one bit each
    distinct: tuple[int, ...]  # per Distinct clause: keys touched
    load: int  # service-or-nights rotations


@dataclass(frozen=True)
class _Info:
    """A representative's contribution to every clause, precomputed once."""

    measures: tuple[int, ...]
    groups: tuple[GroupField, ...]  # its PerGroup sums' bit fields
    distinct: tuple[tuple[int, int], ...]  # (clause, the key's bit)
    load: int
    span: int


class BeamSearch:
    """The beam over a space's representatives for one service-or-nights cap, built once."""

    def __init__(self, space: Space, *, max_load: int | None = None) -> None:
        self.space = space
        self.T = space.ctx.T
        clauses = space.clauses
        self.totals: list[Total] = [c for c in clauses if isinstance(c, Total)]
        self.groups: list[PerGroup] = [c for c in clauses if isinstance(c, PerGroup)]
        self.distinct: list[Distinct] = [c for c in clauses if isinstance(c, Distinct)]
        self.cap = max_load
        self.by_start: dict[int, list[int]] = {t: [] for t in range(1, self.T + 1)}
        for i, r in enumerate(space.reps):
            if max_load is not None and r.unit.is_service_or_nights and max_load < 1:
                continue
            self.by_start[r.start].append(i)
        self.info = self._infos(space.reps)
        self.at_most = [(k, c.at_most) for k, c in enumerate(self.totals) if c.at_most is not None]
        self.at_least = [
            (k, c.at_least) for k, c in enumerate(self.totals) if c.at_least is not None
        ]
        self.rest = self._most_from()

    def _infos(self, reps: list[Rotation]) -> list[_Info]:
        keys: dict[tuple[int, str], int] = {}
        groups = [
            tuple(
                (keys.setdefault((k, c.key(r)), len(keys)), c.measure(r), c.at_most)
                for k, c in enumerate(self.groups)
                if c.measure(r)
            )
            for r in reps
        ]
        distinct = [
            tuple(
                (k, keys.setdefault((-1 - k, c.key(r)), len(keys)))
                for k, c in enumerate(self.distinct)
            )
            for r in reps
        ]
        fields, bits = packed_fields(groups, distinct)
        return [
            _Info(
                tuple(c.measure(r) for c in self.totals),
                fields[i],
                bits[i],
                int(r.unit.is_service_or_nights),
                len(r.terms),
            )
            for i, r in enumerate(reps)
        ]

    def _most_from(self) -> list[list[int]]:
        """rest[t-1][i]: the most of Total i that terms t..T can still add (ignoring rules)."""
        T = self.T
        rest = [[0] * len(self.totals) for _ in range(T + 2)]
        for t in range(T, 0, -1):
            for i in range(len(self.totals)):
                best = 0
                for rep in self.by_start[t]:
                    info = self.info[rep]
                    best = max(best, info.measures[i] + rest[t + info.span - 1][i])
                rest[t - 1][i] = max(best, 0) if self.by_start[t] else rest[t][i]
        return rest

    def price(self, choice: Choice, constant: float, eps: float) -> list[tuple[Pattern, float]]:
        """Up to BEAM_COLUMNS valid lines whose value exceeds `eps`, best first: a line's
        value is its representatives' gains in `choice` plus `constant`."""
        T = self.T
        gain: list[float] = choice.gain.tolist()  # Python floats: the loops below are Python
        ranked: dict[int, list[int]] = {}
        needed: dict[int, list[int]] = {}
        for t, reps in self.by_start.items():
            live = [i for i in reps if gain[i] > -math.inf]
            ranked[t] = sorted(live, key=gain.__getitem__, reverse=True)
            extra: list[int] = []
            for k, c in enumerate(self.totals):
                if c.at_least:
                    extra += [i for i in ranked[t] if self.info[i].measures[k] > 0][:BEAM_NEEDED]
            needed[t] = extra
        empty = _State(
            constant,
            (),
            tuple(0 for _ in self.totals),
            0,
            0,
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
        reuse = math.ceil(BEAM_ROW_REUSE * T / 4)
        for n, s in enumerate(done):  # best first, skipping lines the chosen ones crowd
            variants = BEAM_VARIANTS if n < BEAM_VARIED else 0
            for p, value in self.space.variants(s.path, s.value, choice, eps, variants):
                rows = [(u, t) for t, u in enumerate(p, 1)]
                if p in seen_p or (out and any(uses.get(r, 0) >= reuse for r in rows)):
                    continue
                seen_p.add(p)
                out.append((p, value))
                for r in rows:
                    uses[r] = uses.get(r, 0) + 1
                if len(out) >= BEAM_COLUMNS:
                    return sorted(out, key=lambda pv: pv[1], reverse=True)
        return sorted(out, key=lambda pv: pv[1], reverse=True)

    def _grow(
        self,
        s: _State,
        t: int,
        ranked: list[int],
        needed: list[int],
        gain: list[float],
        buckets: dict[int, list[_State]],
    ) -> None:
        """State s's best BEAM_BRANCH valid extensions at term t (scanning the ranked
        representatives until that many pass the rules: a fixed top-k would leave a state
        whose best units its "at most" rules forbid with none), plus the ones "at least"
        needs."""
        grown = 0
        tried: set[int] = set()
        for rep in ranked:
            tried.add(rep)
            nxt = self._extend(s, rep, gain[rep], t)
            if nxt is not None:
                buckets[t + self.info[rep].span].append(nxt)
                grown += 1
                if grown >= BEAM_BRANCH:
                    break
        for rep in needed:
            if rep not in tried:
                nxt = self._extend(s, rep, gain[rep], t)
                if nxt is not None:
                    buckets[t + self.info[rep].span].append(nxt)

    def _extend(self, s: _State, rep: int, g: float, t: int) -> _State | None:
        info = self.info[rep]
        load = s.load + info.load
        if self.cap is not None and load > self.cap:
            return None
        totals = tuple(map(operator.add, s.totals, info.measures))
        for k, most in self.at_most:
            if totals[k] > most:
                return None
        rest = self.rest[t + info.span - 1]
        for k, least in self.at_least:
            if totals[k] + rest[k] < least:
                return None
        groups = s.groups
        for shift, m, most, mask in info.groups:
            if ((groups >> shift) & mask) + m > most:
                return None
            groups += m << shift
        seen, distinct = s.seen, s.distinct
        if info.distinct:
            counts = list(distinct)
            for k, bit in info.distinct:
                if not seen & bit:
                    counts[k] += 1
                    seen |= bit
            left = self.T - (t + info.span - 1)
            for k, c in enumerate(self.distinct):
                if counts[k] + left < c.at_least:
                    return None
            distinct = tuple(counts)
        return _State(s.value + g, (*s.path, rep), totals, groups, seen, distinct, load)

    def _complete(self, s: _State) -> bool:
        for k, c in enumerate(self.totals):
            if c.at_least is not None and s.totals[k] < c.at_least:
                return False
        return all(s.distinct[k] >= d.at_least for k, d in enumerate(self.distinct))
