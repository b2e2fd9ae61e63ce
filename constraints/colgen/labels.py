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
threshold (the k-th best line found, or `eps`). The bound is tightened by Lagrangian
relaxation of the `PerGroup` "at most" rules (under VIC_PGY2 on 13 terms, at most one
rotation per subspecialty is what the resource states cannot see): each key's multiplier
is charged on the rotations that use it and paid back for the room a label has left, which
keeps the bound valid for any multipliers >= 0; a few subgradient steps per call choose
them. Two labels at the same term with equal states,
group sums and keys are the same for the rest of the line: the lower-valued one is dominated.
When the search finishes, its best line is the exact optimum, a proof as good as CP-SAT's;
after `LABEL_NODE_LIMIT` labels it stops and says so (the bound it returns stays valid), and
the caller falls back to CP-SAT. A plan whose resource states exceed `LABEL_STATE_LIMIT` per
term has no labelling (`available` is False).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from constraints.colgen.space import Space, packed_fields
from constraints.rotations import Rotation
from constraints.rules import Clause, Distinct, PerGroup, Total

LABEL_NODE_LIMIT = 10_000  # labels expanded per call before the proof goes back to CP-SAT
LABEL_STATE_LIMIT = 20_000  # resource states per term beyond which the plan has no labelling
# A kind whose searches gave up at least this often and on more than this share of its
# calls is left to the beam and CP-SAT (each give-up costs a CP-SAT call on top). With the
# Lagrangian bound, 13-term VIC_PGY2 pricing gives up on about 1 call in 20.
LABEL_GIVE_UPS, LABEL_GIVE_UP_SHARE = 2, 0.25
# Subgradient steps per call on the multipliers of the PerGroup "at most" rules (warm-started
# from the previous call, whose duals were close), and the Polyak step's scale.
LAGRANGE_STEPS = 8
LAGRANGE_SCALE = 1.0
NEG = -np.inf


Path = tuple[int, ...]  # representatives of a line, in term order


@dataclass(frozen=True)
class SearchOutcome:
    found: list[tuple[Path, float]]  # best first, each above the threshold
    bound: float  # valid upper bound on the best line's value
    optimal: bool  # the search finished: `bound` is the exact optimum (or <= threshold)
    nodes: int


@dataclass(frozen=True)
class _Relaxed:
    """The Lagrangian relaxation at some multipliers: penalised gains, their DP bound per
    (term, state), the root bound, and the multipliers paid back at the root."""

    gains: np.ndarray
    upper: list[np.ndarray]
    root: float
    room: float
    multipliers: np.ndarray


@dataclass(frozen=True)
class _Resource:
    """One coordinate of the resource state: a capped running sum with an allowed range."""

    measures: np.ndarray  # per rotation (global rotation index)
    cap: int  # sums are clipped here (at_least when there is no at_most)
    at_most: int | None
    at_least: int


class LabelSearch:
    """Labelling over a space's representatives for one service-or-nights cap, built once;
    every line kind (lock) searches with it, through the gains its call chose."""

    def __init__(self, space: Space, *, max_load: int | None = None) -> None:
        self.space = space
        T = self.T = space.ctx.T
        rots = self.rotations = space.reps
        self.by_start: list[np.ndarray] = [
            np.array([i for i, r in enumerate(rots) if r.start == t], dtype=np.int64)
            for t in range(1, T + 1)
        ]
        self.resources = self._resources(space.clauses, rots, max_load)
        self._rules(space.clauses, rots)
        self.available = True
        self.gave_up = 0  # searches cut short by the node limit
        self.calls = 0
        self._build_states()

    @property
    def worth_it(self) -> bool:
        """False once its searches give up too often to be worth a call before CP-SAT."""
        many = self.gave_up >= LABEL_GIVE_UPS
        return not (many and self.gave_up > LABEL_GIVE_UP_SHARE * self.calls)

    # --- the clauses ---------------------------------------------------------------------
    def _resources(
        self, clauses: list[Clause], rots: list[Rotation], cap: int | None
    ) -> list[_Resource]:
        out = []
        for c in clauses:
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

    def _rules(self, clauses: list[Clause], rots: list[Rotation]) -> None:
        """Per rotation: its PerGroup contributions and Distinct keys (small integer ids)."""
        keys: dict[tuple[int, str], int] = {}
        groups = [c for c in clauses if isinstance(c, PerGroup)]
        distinct = [c for c in clauses if isinstance(c, Distinct)]
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
        # the PerGroup entries as arrays: (rotation, key, measure), and each key's "at most"
        entries = [(i, g, m) for i, gi in enumerate(self.group_info) for g, m, _ in gi]
        self._g_rot = np.array([e[0] for e in entries], dtype=np.int64)
        self._g_key = np.array([e[1] for e in entries], dtype=np.int64)
        self._g_measure = np.array([e[2] for e in entries], dtype=float)
        self.group_most = np.zeros(len(keys))
        for gi in self.group_info:
            for g, _, most in gi:
                self.group_most[g] = most
        self._multipliers = np.zeros(len(keys))  # warm start for the next call
        # a label keeps its PerGroup sums and Distinct keys packed into two ints
        self.group_fields, self.distinct_bits = packed_fields(self.group_info, self.distinct_info)

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

    def search(
        self,
        gain: np.ndarray,
        constant: float,
        eps: float,
        *,
        k: int = 1,
        floor: float | None = None,
        node_limit: int = LABEL_NODE_LIMIT,
        proving: bool = True,
    ) -> SearchOutcome:
        """The best `k` valid lines whose value (gains along the line plus `constant`)
        exceeds `eps`, as paths of representatives, best first. `floor`: the value of a line
        known to exist (e.g. the beam's best): lines at or below it are not searched for.
        Representatives with gain -inf are never taken (the kind may not use them).
        `proving=False`: a caller that wants a good line, not a proof; its give-ups do not
        count toward `worth_it`."""
        if not self.available:
            raise RuntimeError("no labelling for this plan: its resource states are too many")
        self.calls += proving
        start = eps if floor is None else max(eps, floor)
        plain = self.upper(gain)  # the resource DP alone: at some labels the tighter bound
        relaxed = self._tightened(gain, constant, start)
        penalised, ub = relaxed.gains, relaxed.upper
        root = min(relaxed.root, float(plain[1][0]) + constant) if len(self.states[1]) else NEG
        if root <= start:  # the relaxation already proves it
            return SearchOutcome([], root, True, 0)
        T = self.T
        least = self.distinct_least
        # per call, not per label: each term's slices of the gains and bounds, and what
        # each rotation is charged at these multipliers (paid back from the label's room)
        steps = [
            [(idx, pos, to, penalised[idx], gain[idx], ub[to], plain[to]) for idx, pos, to in nxt]
            for nxt in self.nxt
        ]
        gain_of = gain.tolist()
        paid_of = self._charged(relaxed.multipliers, len(gain)).tolist()
        heap: list[tuple[float, tuple[int, ...]]] = []  # the k best (value, rotations) found
        seen: dict[tuple, float] = {}
        # (term, state index, value, multipliers paid back for the room left, group sums,
        # distinct keys, distinct counts, rotations)
        Label = tuple[int, int, float, float, int, int, tuple[int, ...], tuple[int, ...]]
        stack: list[Label] = [(1, 0, constant, relaxed.room, 0, 0, tuple(0 for _ in least), ())]
        nodes = 0
        while stack:
            threshold = heap[0][0] if len(heap) >= k else start
            if nodes >= node_limit:  # give up: everything still open is bounded by its ub
                self.gave_up += proving
                rest = max(
                    v + min(room + float(ub[t][s]), float(plain[t][s]))
                    for t, s, v, room, *_ in stack
                )
                best = max(rest, threshold, max((h[0] for h in heap), default=NEG))
                return SearchOutcome(self._patterns(heap), min(best, root), False, nodes)
            t, s, v, room, groups, keys, counts, path = stack.pop()
            if v + min(room + ub[t][s], plain[t][s]) <= threshold:
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
            children: list[tuple[float, int, int, int]] = []
            for idx, pos, to, pen, gn, ub_to, plain_to in steps[t]:
                row = pos[s]
                vals = v + np.minimum(room + pen + ub_to[row], gn + plain_to[row])
                js = np.flatnonzero(vals > threshold)
                if len(js):
                    children += zip(
                        vals[js].tolist(),
                        idx[js].tolist(),
                        row[js].tolist(),
                        [to] * len(js),
                        strict=True,
                    )
            children.sort()  # ascending: the best child is popped first
            for _, r, ns, to in children:
                child = self._child(groups, keys, counts, r, T - to + 1)
                if child is not None:
                    label = (to, ns, v + gain_of[r], room - paid_of[r], *child, (*path, r))
                    stack.append(label)
        found = self._patterns(heap)
        return SearchOutcome(found, found[0][1] if found else min(root, start), True, nodes)

    def _tightened(self, gain: np.ndarray, constant: float, start: float) -> _Relaxed:
        """The lowest bound a few subgradient steps on the PerGroup multipliers reach.

        For multipliers u >= 0, a line's value is at most the resource DP over gains less
        u times each rotation's PerGroup measures, plus u times each key's "at most": a line
        that keeps the rules pays back at least what it was charged. The subgradient is
        the best relaxed line's use of each key less its "at most"."""
        u = self._multipliers
        best: _Relaxed | None = None
        steps = LAGRANGE_STEPS if len(self._g_rot) else 1
        for _ in range(steps):
            relaxed = self._relaxed(gain, constant, u)
            if best is None or relaxed.root < best.root:
                best = relaxed
            if not math.isfinite(relaxed.root) or relaxed.root <= start:
                break
            over = self._best_path_use(relaxed) - self.group_most
            over = np.where((u > 0) | (over > 0), over, 0.0)
            norm = float(over @ over)
            if norm == 0.0:  # the best relaxed line keeps every PerGroup rule
                break
            gap = relaxed.root - start if math.isfinite(start) else abs(relaxed.root) + 1.0
            u = np.maximum(u + LAGRANGE_SCALE * min(gap, abs(relaxed.root) + 1.0) / norm * over, 0)
        assert best is not None
        self._multipliers = best.multipliers
        return best

    def _charged(self, u: np.ndarray, n: int) -> np.ndarray:
        """Per rotation, its PerGroup measures priced at the multipliers u."""
        return np.bincount(self._g_rot, weights=u[self._g_key] * self._g_measure, minlength=n)

    def _relaxed(self, gain: np.ndarray, constant: float, u: np.ndarray) -> _Relaxed:
        penalised = gain - self._charged(u, len(gain))
        ub = self.upper(penalised)
        room = float(u @ self.group_most)
        root = float(ub[1][0]) + room + constant if len(self.states[1]) else NEG
        return _Relaxed(penalised, ub, root, room, u)

    def _best_path_use(self, relaxed: _Relaxed) -> np.ndarray:
        """Each key's PerGroup measure summed along the relaxed DP's best line."""
        use = np.zeros(len(self.group_most))
        t, s = 1, 0
        while t <= self.T:
            pick: tuple[float, int, int, int] | None = None
            for idx, pos, to in self.nxt[t]:
                cand = relaxed.gains[idx] + relaxed.upper[to][pos[s]]
                if not len(cand):
                    continue
                j = int(np.argmax(cand))
                if pick is None or cand[j] > pick[0]:
                    pick = (float(cand[j]), int(idx[j]), int(pos[s][j]), to)
            if pick is None or not math.isfinite(pick[0]):
                break
            _, r, s, t = pick
            for g, m, _ in self.group_info[r]:
                use[g] += m
        return use

    def _child(self, groups: int, keys: int, counts: tuple[int, ...], r: int, left: int):
        """The PerGroup sums and Distinct keys (packed, see `packed_fields`) after
        rotation r, or None when a PerGroup "at most" is exceeded or a Distinct "at least"
        can no longer be reached with the `left` terms that remain."""
        for shift, m, most, mask in self.group_fields[r]:
            if ((groups >> shift) & mask) + m > most:
                return None
            groups += m << shift
        di = self.distinct_bits[r]
        if di:
            bumped = None
            for c, bit in di:
                if not keys & bit:
                    keys |= bit
                    bumped = bumped or list(counts)
                    bumped[c] += 1
            if bumped is not None:
                counts = tuple(bumped)
            least = self.distinct_least
            if any(c + left < n for c, n in zip(counts, least, strict=True)):
                return None
        return groups, keys, counts

    def _patterns(self, heap: list[tuple[float, tuple[int, ...]]]) -> list[tuple[Path, float]]:
        return [(path, v) for v, path in sorted(heap, reverse=True)]
