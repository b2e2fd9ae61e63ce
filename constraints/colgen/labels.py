"""Exact pricing by labelling over terms: a dynamic programme with bound pruning.

A line is built term by term. Its **resource state** is the vector of its running `Total`
clause sums (each capped where more no longer matters: at its "at least" when it has no "at
most"), plus its service-or-nights load under a fairness cap. Those states are few, so a
backward dynamic programme over (term, state) gives, for any row values, the best value the
rest of a line can add while every `Total` clause ends within bounds: an exact upper bound of
the relaxation that drops the `PerGroup` and `Distinct` clauses (numpy, one step per term).

A forward depth-first labelling then completes lines exactly: a label is a partial line with
its resource state and its `PerGroup` sums and `Distinct` keys; children are tried best bound
first and a label is dropped as soon as its value plus its state's bound cannot beat the
threshold (the k-th best line found, or `eps`). Two labels at the same term with equal states,
group sums and keys are the same for the rest of the line: the lower-valued one is dominated.
When the search finishes, its best line is the exact optimum, a proof as good as CP-SAT's;
after `LABEL_NODE_LIMIT` labels it stops and says so (the bound it returns stays valid), and
the caller falls back to CP-SAT. A plan whose resource states exceed `LABEL_STATE_LIMIT` per
term has no labelling (`available` is False).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from constraints.patterns import Context, Lock, Pattern
from constraints.rotations import Rotation
from constraints.rules import Distinct, PerGroup, Total

LABEL_NODE_LIMIT = 10_000  # labels expanded per call before the proof goes back to CP-SAT
LABEL_STATE_LIMIT = 20_000  # resource states per term beyond which the plan has no labelling
# A kind whose searches gave up this often is left to the beam and CP-SAT (the relaxation
# is loose where PerGroup rules bind over many terms, e.g. 13 terms one per subspecialty).
LABEL_GIVE_UPS = 2
NEG = -np.inf


@dataclass(frozen=True)
class LabelOutcome:
    found: list[tuple[Pattern, float]]  # best first, each above the threshold
    bound: float  # valid upper bound on the best line's value
    optimal: bool  # the search finished: `bound` is the exact optimum (or <= threshold)
    nodes: int


@dataclass(frozen=True)
class _Resource:
    """One coordinate of the resource state: a capped running sum with an allowed range."""

    measures: np.ndarray  # per rotation (global rotation index)
    cap: int  # sums are clipped here (at_least when there is no at_most)
    at_most: int | None
    at_least: int


class LabelSearch:
    """Labelling for one line kind (a lock and a service-or-nights cap), built once."""

    def __init__(self, ctx: Context, *, lock: Lock = (), max_load: int | None = None) -> None:
        self.ctx = ctx
        T = self.T = ctx.T
        locked = dict(lock)
        rots: list[Rotation] = []
        for r in ctx.candidates:  # the same candidate filter as the CP-SAT model and the beam
            if any(t in locked and locked[t] != r.unit.code for t in r.terms):
                continue
            if not locked and any(ctx.hi[(r.unit.code, t)] <= 0 for t in r.terms):
                continue
            if max_load is not None and r.unit.is_service_or_nights and max_load < 1:
                continue
            rots.append(r)
        self.rotations = rots
        self.by_start: list[np.ndarray] = [
            np.array([i for i, r in enumerate(rots) if r.start == t], dtype=np.int64)
            for t in range(1, T + 1)
        ]
        self.resources = self._resources(ctx, rots, max_load)
        self._rules(ctx, rots)
        self.available = True
        self.gave_up = 0  # searches cut short by the node limit
        self._build_states()
        self._rows = [[(r.unit.code, t) for t in r.terms] for r in rots]  # unit-terms covered
        self._index_rows()

    # --- the clauses ---------------------------------------------------------------------
    def _resources(self, ctx: Context, rots: list[Rotation], cap: int | None) -> list[_Resource]:
        out = []
        for c in ctx.clauses:
            if not isinstance(c, Total) or (c.at_least is None and c.at_most is None):
                continue
            m = np.array([c.measure(r) for r in rots], dtype=np.int64)
            least = c.at_least or 0
            top = c.at_most if c.at_most is not None else least
            out.append(_Resource(m, max(top, 0), c.at_most, least))
        if cap is not None:
            m = np.array([int(r.unit.is_service_or_nights) for r in rots], dtype=np.int64)
            out.append(_Resource(m, cap, cap, 0))
        return out

    def _rules(self, ctx: Context, rots: list[Rotation]) -> None:
        """Per rotation: its PerGroup contributions and Distinct keys (small integer ids)."""
        keys: dict[tuple[int, str], int] = {}
        groups = [c for c in ctx.clauses if isinstance(c, PerGroup)]
        distinct = [c for c in ctx.clauses if isinstance(c, Distinct)]
        self.distinct_least = [d.at_least for d in distinct]
        self.group_info: list[tuple[tuple[int, int, int], ...]] = []
        self.distinct_info: list[tuple[tuple[int, int], ...]] = []
        for r in rots:
            self.group_info.append(
                tuple(
                    (keys.setdefault((k, c.key(r)), len(keys)), c.measure(r), c.at_most)
                    for k, c in enumerate(groups)
                    if c.measure(r)
                )
            )
            self.distinct_info.append(
                tuple(
                    (k, keys.setdefault((-1 - k, d.key(r)), len(keys)))
                    for k, d in enumerate(distinct)
                )
            )

    # --- resource states ----------------------------------------------------------------
    def _build_states(self) -> None:
        """Forward-reachable resource states per term and the transition table per term.

        states[t]: sorted state codes reachable at the start of term t (t = 1..T+1);
        nxt[t]: per (state at t, rotation starting at t) the index of the next state in its
        own term's array, or -1 when a clause's "at most" is exceeded."""
        res = self.resources
        T = self.T
        radix = [r.cap + 1 for r in res]
        self.mult = np.array([math.prod(radix[:i]) for i in range(len(res))], dtype=np.int64)
        caps = np.array([r.cap for r in res], dtype=np.int64)
        most = np.array(
            [r.at_most if r.at_most is not None else np.iinfo(np.int64).max for r in res],
            dtype=np.int64,
        )
        meas = (
            np.stack([r.measures for r in res], axis=1)
            if res
            else np.zeros((len(self.rotations), 0), dtype=np.int64)
        )
        arriving: list[list[np.ndarray]] = [[] for _ in range(T + 2)]
        arriving[1].append(np.zeros(1, dtype=np.int64))
        self.states: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * (T + 2)
        self.vectors: list[np.ndarray] = [np.zeros((0, len(res)), dtype=np.int64)] * (T + 2)
        raw: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0), np.zeros(0))] * (T + 1)
        spans = np.array([len(r.terms) for r in self.rotations], dtype=np.int64)
        for t in range(1, T + 2):
            codes = np.unique(np.concatenate(arriving[t])) if arriving[t] else np.zeros(0)
            codes = codes.astype(np.int64)
            if len(codes) > LABEL_STATE_LIMIT:
                self.available = False
                return
            self.states[t] = codes
            self.vectors[t] = self._decode(codes)
            if t > T:
                break
            idx = self.by_start[t - 1]
            if not len(codes) or not len(idx):
                raw[t] = (np.zeros((len(codes), len(idx)), dtype=np.int64), idx)
                continue
            summed = self.vectors[t][:, None, :] + meas[idx][None, :, :]
            ok = (summed <= most).all(axis=2)
            code = (np.minimum(summed, caps) * self.mult).sum(axis=2)
            code = np.where(ok, code, -1)
            raw[t] = (code, idx)
            for span in (1, 2):
                cols = spans[idx] == span
                if cols.any() and t + span <= T + 1:
                    hit = code[:, cols]
                    arriving[t + span].append(hit[hit >= 0])
        # codes -> indices into the arriving term's state array
        self.nxt: list[list[tuple[np.ndarray, np.ndarray, int]]] = [[] for _ in range(T + 2)]
        for t in range(1, T + 1):
            code, idx = raw[t]
            if not len(idx):
                continue
            for span in (1, 2):
                cols = np.flatnonzero(spans[idx] == span)
                if not len(cols) or t + span > T + 1:
                    continue
                target = self.states[t + span]
                c = code[:, cols]
                pos = np.searchsorted(target, c)
                pos = np.where(c >= 0, pos, len(target))  # len(target): the dead sentinel
                self.nxt[t].append((idx[cols], pos, t + span))
        final = self.vectors[T + 1]
        least = np.array([r.at_least for r in res], dtype=np.int64)
        self.complete = (final >= least).all(axis=1) if len(res) else np.ones(len(final), bool)

    def _decode(self, codes: np.ndarray) -> np.ndarray:
        res = self.resources
        out = np.zeros((len(codes), len(res)), dtype=np.int64)
        rest = codes.copy()
        for i in range(len(res) - 1, -1, -1):
            out[:, i] = rest // self.mult[i]
            rest = rest % self.mult[i]
        return out

    # --- pricing ------------------------------------------------------------------------
    def _index_rows(self) -> None:
        keys = sorted({k for rows in self._rows for k in rows})
        self.row_keys = keys
        where = {k: i for i, k in enumerate(keys)}
        self._entry_rot = np.array(
            [r for r, rows in enumerate(self._rows) for _ in rows], dtype=np.int64
        )
        self._entry_row = np.array([where[k] for rows in self._rows for k in rows], dtype=np.int64)
        self.covering: dict[tuple[str, int], np.ndarray] = {
            k: self._entry_rot[self._entry_row == i] for i, k in enumerate(keys)
        }

    def gains(self, values: Mapping[tuple[str, int], float]) -> np.ndarray:
        """Per rotation: the sum of `values` over the unit-terms it covers."""
        vals = np.array([values.get(k, 0.0) for k in self.row_keys])
        return np.bincount(
            self._entry_rot, weights=vals[self._entry_row], minlength=len(self.rotations)
        )

    def upper(self, gain: np.ndarray) -> list[np.ndarray]:
        """ub[t][s]: the most terms t..T can add from resource state s (relaxation); each
        array ends with a dead sentinel (-inf)."""
        T = self.T
        ub: list[np.ndarray] = [np.zeros(0)] * (T + 2)
        ub[T + 1] = np.append(np.where(self.complete, 0.0, NEG), NEG)
        for t in range(T, 0, -1):
            best = np.full(len(self.states[t]), NEG)
            for idx, pos, to in self.nxt[t]:
                cand = ub[to][pos] + gain[idx][None, :]
                if cand.size:
                    best = np.maximum(best, cand.max(axis=1))
            ub[t] = np.append(best, NEG)
        return ub

    def price(
        self,
        values: Mapping[tuple[str, int], float],
        constant: float,
        eps: float,
        *,
        k: int = 1,
        floor: float | None = None,
        node_limit: int = LABEL_NODE_LIMIT,
    ) -> LabelOutcome:
        """The best `k` valid lines whose value (row values plus `constant`) exceeds `eps`.

        `floor`: the value of a line known to exist (e.g. the beam's best): lines at or below
        it are not searched for."""
        return self.search(
            self.gains(values), constant, eps, k=k, floor=floor, node_limit=node_limit
        )

    def search(
        self,
        gain: np.ndarray,
        constant: float,
        eps: float,
        *,
        k: int = 1,
        floor: float | None = None,
        node_limit: int = LABEL_NODE_LIMIT,
    ) -> LabelOutcome:
        """`price` on per-rotation gains (see `gains`)."""
        if not self.available:
            raise RuntimeError("no labelling for this plan: its resource states are too many")
        ub = self.upper(gain)
        root = float(ub[1][0]) + constant if len(self.states[1]) else NEG
        start = eps if floor is None else max(eps, floor)
        if root <= start:  # the relaxation already proves it
            return LabelOutcome([], root, True, 0)
        T = self.T
        least = self.distinct_least
        heap: list[tuple[float, tuple[int, ...]]] = []  # the k best (value, rotations) found
        seen: dict[tuple, float] = {}
        # (term, state index, value, group sums, distinct keys, distinct counts, rotations)
        stack: list[tuple[int, int, float, tuple, frozenset, tuple[int, ...], tuple[int, ...]]]
        stack = [(1, 0, constant, (), frozenset(), tuple(0 for _ in least), ())]
        nodes = 0
        while stack:
            threshold = heap[0][0] if len(heap) >= k else start
            if nodes >= node_limit:  # give up: everything still open is bounded by its ub
                self.gave_up += 1
                rest = max(v + float(ub[t][s]) for t, s, v, *_ in stack)
                best = max(rest, threshold, max((h[0] for h in heap), default=NEG))
                return LabelOutcome(self._patterns(heap), min(best, root), False, nodes)
            t, s, v, groups, keys, counts, path = stack.pop()
            if v + ub[t][s] <= threshold:
                continue
            if t == T + 1:
                if all(c >= n for c, n in zip(counts, least, strict=True)):
                    heapq.heappush(heap, (v, path))
                    if len(heap) > k:
                        heapq.heappop(heap)
                continue
            key = (t, s, groups, keys)
            if seen.get(key, NEG) >= v:
                continue  # an equal label with at least this value was expanded: dominated
            seen[key] = v
            nodes += 1
            children = []
            for idx, pos, to in self.nxt[t]:
                row = pos[s]
                vals = v + gain[idx] + ub[to][row]
                for j in np.flatnonzero(vals > threshold):
                    children.append((float(vals[j]), int(idx[j]), int(row[j]), to))
            children.sort()  # ascending: the best child is popped first
            for _, r, ns, to in children:
                child = self._child(groups, keys, counts, r, T - to + 1)
                if child is not None:
                    stack.append((to, ns, v + float(gain[r]), *child, (*path, r)))
        found = self._patterns(heap)
        return LabelOutcome(found, found[0][1] if found else min(root, start), True, nodes)

    def _child(self, groups: tuple, keys: frozenset, counts: tuple[int, ...], r: int, left: int):
        """The PerGroup sums and Distinct keys after rotation r, or None when a PerGroup
        "at most" is exceeded or a Distinct "at least" can no longer be reached with the
        `left` terms that remain."""
        gi = self.group_info[r]
        if gi:
            d = dict(groups)
            for gid, m, most in gi:
                x = d.get(gid, 0) + m
                if x > most:
                    return None
                d[gid] = x
            groups = tuple(sorted(d.items()))
        di = self.distinct_info[r]
        if di:
            fresh = [(c, kid) for c, kid in di if kid not in keys]
            if fresh:
                keys = keys | {kid for _, kid in fresh}
                bumped = list(counts)
                for c, _ in fresh:
                    bumped[c] += 1
                counts = tuple(bumped)
            least = self.distinct_least
            if any(c + left < n for c, n in zip(counts, least, strict=True)):
                return None
        return groups, keys, counts

    def _patterns(self, heap: list[tuple[float, tuple[int, ...]]]) -> list[tuple[Pattern, float]]:
        out = []
        for v, path in sorted(heap, reverse=True):
            units: dict[int, str] = {}
            for r in path:
                rot = self.rotations[r]
                for t in rot.terms:
                    units[t] = rot.unit.code
            out.append((tuple(units[t] for t in range(1, self.T + 1)), v))
        return out
