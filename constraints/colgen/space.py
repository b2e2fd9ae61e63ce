"""The rotations a pricing search chooses from, with interchangeable ones merged.

The rule clauses read a rotation only through numbers and keys: each `Total`'s measure, each
`PerGroup`'s key and measure, each `Distinct`'s key, and (for the fairness cap) whether it is
a service or nights rotation. Two rotations with the same start, span and readings are
interchangeable for every rule: a line may swap one for the other and stays valid. A
state-wide round offers 500 units but only about 26 such kinds of rotation per term, so the
searches (`beam`, `labels`, `pricing`) run over one representative per class of
interchangeable rotations. At each call a representative is worth its best member among the
members the line kind may use (its lock, rows with room), and a line found takes those
members: the best line over representatives is the best line over units.

A `PerGroup` clause implied by another (NO_REPEAT_UNIT's "one rotation per unit" under the
VIC rule sets' "one rotation per subspecialty": a unit has one subspecialty) is left out of
the readings, else it would keep every unit apart; the searches enforce the clause that
implies it. `Space.clauses` are the clauses the searches post.

Line kinds differ only in which members they may use (`Space.allowed`): a generic line uses
rotations whose every unit-term has room left after the fully locked lines; a partially
locked line uses the rotations that agree with its lock. So every kind, however many partial
classes a plan has, shares one search structure per fairness cap.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from constraints.patterns import Context, Lock, Pattern
from constraints.rotations import Rotation
from constraints.rules import Clause, PerGroup, Total

NEG = -np.inf
# Ties between members are broken by noise this small: far below the pricing tolerance, so a
# chosen member is worth its representative's best to within 1e-9 (its own value is used).
TIE_BREAK = 1e-9
Values = Mapping[tuple[str, int], float]
_SPACES: weakref.WeakKeyDictionary[Context, Space] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Choice:
    """One call's representatives: each one's value (-inf: no member allowed) and the member
    it stands for."""

    gain: np.ndarray  # per representative
    member: np.ndarray  # per representative: index into Space.members (-1: none)
    masked: np.ndarray  # per member: its gain, -inf where the kind may not use it


class Space:
    """Representatives of interchangeable rotations, built once per solve (`Space.of`)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.clauses: list[Clause] = effective_clauses(ctx.clauses, ctx.candidates)
        by_reading: dict[tuple, list[int]] = {}
        for i, r in enumerate(ctx.candidates):
            by_reading.setdefault(self._reading(r), []).append(i)
        classes = list(by_reading.values())
        # members sorted by class, so each class is one contiguous segment
        self.members: list[Rotation] = [ctx.candidates[i] for c in classes for i in c]
        self.reps: list[Rotation] = [ctx.candidates[c[0]] for c in classes]
        self.sizes = sizes = np.array([len(c) for c in classes], dtype=np.int64)
        self.segment = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        self.rep_of = np.repeat(np.arange(len(classes), dtype=np.int64), sizes)
        rows = sorted({(r.unit.code, t) for r in self.members for t in r.terms})
        self.row_keys = rows
        where = {k: i for i, k in enumerate(rows)}
        self._entry_member = np.array(
            [m for m, r in enumerate(self.members) for _ in r.terms], dtype=np.int64
        )
        self._entry_row = np.array(
            [where[(r.unit.code, t)] for r in self.members for t in r.terms], dtype=np.int64
        )
        self._start_key = [(r.unit.code, r.start) for r in self.members]
        self._unit_index = {u.code: i for i, u in enumerate(ctx.plan.units)}
        self._unit_of = np.array([self._unit_index[r.unit.code] for r in self.members])
        self._covering = [
            np.array([m for m, r in enumerate(self.members) if t in r.terms], dtype=np.int64)
            for t in ctx.plan.ordinals
        ]
        hi = ctx.hi
        self._room = np.array(
            [all(hi.get((r.unit.code, t), 0) > 0 for t in r.terms) for r in self.members],
            dtype=bool,
        )
        self._masks: dict[tuple[Lock, bool], np.ndarray] = {}
        self._ties = np.random.default_rng(ctx.plan.params.seed)

    @classmethod
    def of(cls, ctx: Context) -> Space:
        """The context's space (built on first use, shared by every search of the solve)."""
        space = _SPACES.get(ctx)
        if space is None:
            space = _SPACES[ctx] = cls(ctx)
        return space

    def _reading(self, r: Rotation) -> tuple:
        out: list = [r.start, len(r.terms), r.unit.is_service_or_nights]
        for c in self.clauses:
            if isinstance(c, Total):
                out.append(c.measure(r))
            elif isinstance(c, PerGroup):
                out.append((c.key(r), c.measure(r)) if c.measure(r) else None)
            else:
                out.append(c.key(r))
        return tuple(out)

    # --- line kinds ------------------------------------------------------------------------
    def allowed(self, lock: Lock = (), *, full_rows: bool = False) -> np.ndarray:
        """Members a line of this kind may use: agreeing with its lock, and (unless
        `full_rows`) covering only unit-terms the fully locked lines leave room in."""
        key = (lock, full_rows)
        mask = self._masks.get(key)
        if mask is None:
            mask = np.ones(len(self.members), dtype=bool) if full_rows else self._room.copy()
            for t, code in lock:
                covering = self._covering[t - 1]
                mask[covering[self._unit_of[covering] != self._unit_index.get(code, -1)]] = False
            self._masks[key] = mask
        return mask

    def covers_every_term(self, mask: np.ndarray) -> bool:
        """Some allowed member covers each term (else no line of the kind exists)."""
        covered: set[int] = set()
        for m in np.flatnonzero(mask):
            covered.update(self.members[m].terms)
        return len(covered) == self.ctx.T

    # --- one call ---------------------------------------------------------------------------
    def member_gains(self, values: Values, starts: Values | None = None) -> np.ndarray:
        """Per member: `values` summed over its unit-terms, plus its six-month start bonus."""
        vals = np.array([values.get(k, 0.0) for k in self.row_keys])
        gains = np.bincount(
            self._entry_member, weights=vals[self._entry_row], minlength=len(self.members)
        )
        if starts:
            gains += np.array([starts.get(k, 0.0) for k in self._start_key])
        return gains

    def choose(self, gains: np.ndarray, mask: np.ndarray) -> Choice:
        """Each representative's best allowed member. Ties (common: equal duals on a
        degenerate LP) go to a member drawn afresh each call, so that successive calls offer
        the LP different lines rather than the same first member every time (a stability
        LP stalled on such lines for 20 rounds)."""
        masked = np.where(mask, gains, NEG)
        if not len(masked):
            return Choice(np.zeros(0), np.zeros(0, dtype=np.int64), masked)
        noisy = masked + TIE_BREAK * self._ties.random(len(masked))
        best = np.maximum.reduceat(noisy, self.segment)
        hit = np.flatnonzero((noisy == best[self.rep_of]) & mask)
        reps, first = np.unique(self.rep_of[hit], return_index=True)
        member = np.full(len(self.reps), -1, dtype=np.int64)
        member[reps] = hit[first]
        gain = np.full(len(self.reps), NEG)
        gain[reps] = masked[member[reps]]
        return Choice(gain, member, masked)

    def pattern(self, path: Sequence[int], choice: Choice) -> Pattern:
        """The line a path of representatives stands for at this call."""
        return self.line([int(choice.member[rep]) for rep in path])

    def line(self, members: Sequence[int]) -> Pattern:
        """The line made of these members (one rotation each)."""
        units = [""] * self.ctx.T
        for m in members:
            r = self.members[m]
            for t in r.terms:
                units[t - 1] = r.unit.code
        return tuple(units)

    def variants(
        self, path: Sequence[int], value: float, choice: Choice, eps: float, per_rep: int
    ) -> Iterator[tuple[Pattern, float]]:
        """The line of a path, then the same line with one rotation swapped for another
        allowed member of its class (up to `per_rep` per rotation, best first): as valid as
        the first, and worth its value less the member's shortfall, kept while above `eps`.
        Column generation gets many lines from one search this way (the LP of a 13-term
        year stalled for dozens of rounds on the beam's few distinct lines)."""
        chosen = [int(choice.member[rep]) for rep in path]
        yield self.line(chosen), value
        if per_rep <= 0:
            return
        for i, rep in enumerate(path):
            lo, hi = self.segment[rep], self.segment[rep] + self.sizes[rep]
            if hi - lo < 2:
                continue
            gains = choice.masked[lo:hi]
            order = np.argsort(-gains, kind="stable")[: per_rep + 1]
            for j in order:
                m = int(lo + j)
                loss = float(choice.gain[rep] - gains[j])
                if m == chosen[i] or not np.isfinite(gains[j]) or value - loss <= eps:
                    continue
                yield self.line([*chosen[:i], m, *chosen[i + 1 :]]), value - loss

    @cached_property
    def rep_at(self) -> dict[tuple[str, int], int]:
        """(unit, start) -> the representative of that rotation (for hints)."""
        return {(r.unit.code, r.start): int(self.rep_of[m]) for m, r in enumerate(self.members)}


def effective_clauses(clauses: Sequence[Clause], rotations: Sequence[Rotation]) -> list[Clause]:
    """The clauses less every `PerGroup` another one implies: same measure on every rotation,
    an "at most" no larger, and groups that never split its own (two rotations in one of its
    groups are always in one group of the other)."""
    groups = [c for c in clauses if isinstance(c, PerGroup)]
    implied: set[int] = set()
    for i, weak in enumerate(groups):
        for j, strong in enumerate(groups):
            if i == j or j in implied or strong.at_most > weak.at_most:
                continue
            if _refines(weak, strong, rotations):
                implied.add(i)
                break
    dropped = {id(groups[i]) for i in implied}
    return [c for c in clauses if id(c) not in dropped]


def _refines(weak: PerGroup, strong: PerGroup, rotations: Sequence[Rotation]) -> bool:
    parent: dict[str, str] = {}
    for r in rotations:
        if weak.measure(r) != strong.measure(r):
            return False
        if not weak.measure(r):
            continue
        if parent.setdefault(weak.key(r), strong.key(r)) != strong.key(r):
            return False
    return True


GroupField = tuple[int, int, int, int]  # (shift, measure, at most, mask) of one PerGroup key


def packed_fields(
    groups: Sequence[Sequence[tuple[int, int, int]]],
    distinct: Sequence[Sequence[tuple[int, int]]],
) -> tuple[list[tuple[GroupField, ...]], list[tuple[tuple[int, int], ...]]]:
    """Per rotation, its PerGroup entries (key id, measure, at most) and Distinct entries
    (clause, key id) as fields of two Python ints, which the searches keep per partial line
    instead of a dict and a set (copied millions of times a solve on 13 terms): each PerGroup
    key owns a bit field wide enough for its "at most" (a sum is checked before it is
    stored, so it never overflows), each Distinct key one bit."""
    width = {g: max(int(most).bit_length(), 1) for gi in groups for g, _, most in gi}
    shift, at = {}, 0
    for g in sorted(width):
        shift[g], at = at, at + width[g]
    fields = [tuple((shift[g], m, most, (1 << width[g]) - 1) for g, m, most in gi) for gi in groups]
    bits = [tuple((c, 1 << kid) for c, kid in di) for di in distinct]
    return fields, bits
