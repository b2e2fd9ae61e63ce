"""Changed rotations between new and current lines, with lines paired optimally.

Lines are interchangeable, so any new line may pair with any current line. Pairing two lines
costs the terms where their units differ; an unpaired line, new or current, costs all T terms.
So the count is T * max(new, current) minus the most matching (line, term) cells any pairing
achieves; with no current lines it is 0 (there is no plan to change). Identical lines are
grouped, and the best pairing is a min-cost flow between the groups (arcs only where two
groups share a unit in some term).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from ortools.graph.python import min_cost_flow

Line = Mapping[int, str]  # term -> unit code; current lines may miss terms
Cells = tuple[str | None, ...]  # one unit code per term; None where a line has none


def changed_rotations(term_count: int, new: Sequence[Line], current: Sequence[Line]) -> int:
    if not current:
        return 0  # no current lines: nothing to change, the goal does not apply (docs/engine.md)
    base = term_count * max(len(new), len(current))
    if not new:
        return base
    return base - most_matches(term_count, new, current)


def most_matches(term_count: int, new: Sequence[Line], current: Sequence[Line]) -> int:
    """The largest total of equal (term, unit) cells over one-to-one pairings."""
    terms = range(1, term_count + 1)
    new_groups = Counter(tuple(line.get(t) for t in terms) for line in new)
    current_groups = Counter(tuple(line.get(t) for t in terms) for line in current)
    total, _ = group_pairing(term_count, new_groups, current_groups)
    return total


def paired_changes(
    term_count: int,
    new: Mapping[str, Line],
    current: Mapping[str, Line],
    pairing: Mapping[str, str],
) -> int:
    """`changed_rotations` of lines already paired optimally by `pair_lines` (no second
    pairing)."""
    if not current:
        return 0
    base = term_count * max(len(new), len(current))
    terms = range(1, term_count + 1)
    same = sum(
        1
        for a, b in pairing.items()
        for t in terms
        if new[a].get(t) is not None and new[a].get(t) == current[b].get(t)
    )
    return base - same


def pair_lines(
    term_count: int, new: Mapping[str, Line], current: Mapping[str, Line]
) -> dict[str, str]:
    """One optimal pairing behind `changed_rotations`: new label -> current label (labels of
    lines left unpaired are absent). Among identical lines, labels pair in sorted order."""
    terms = range(1, term_count + 1)

    def groups(lines: Mapping[str, Line]) -> dict[Cells, list[str]]:
        out: dict[Cells, list[str]] = {}
        for label in sorted(lines):
            out.setdefault(tuple(lines[label].get(t) for t in terms), []).append(label)
        return out

    new_groups, current_groups = groups(new), groups(current)
    _, flows = group_pairing(
        term_count,
        Counter({g: len(v) for g, v in new_groups.items()}),
        Counter({g: len(v) for g, v in current_groups.items()}),
    )
    pairing: dict[str, str] = {}
    for g, h, k in flows:
        for _ in range(k):
            pairing[new_groups[g].pop(0)] = current_groups[h].pop(0)
    return pairing


def group_pairing(
    term_count: int, new_groups: Counter[Cells], current_groups: Counter[Cells]
) -> tuple[int, list[tuple[Cells, Cells, int]]]:
    """The one min-cost pairing of the engine (the stability objective, `pair_lines` and the
    change report in `constraints.changes` all read it): over groups of identical lines
    (cells -> lines), the most matching cells, and the flow (new group, current group,
    lines paired) achieving it."""
    if not new_groups or not current_groups:
        return 0, []
    codes = {
        c: i
        for i, c in enumerate(sorted({c for g in (*new_groups, *current_groups) for c in g if c}))
    }
    # a missing unit never matches: -1 on the new side, -2 on the current side
    a = np.array([[codes.get(c, -1) if c else -1 for c in g] for g in new_groups], dtype=np.int32)
    b = np.array(
        [[codes.get(c, -2) if c else -2 for c in g] for g in current_groups], dtype=np.int32
    )
    matches = np.zeros((len(a), len(b)), dtype=np.int16)
    for t in range(term_count):
        matches += a[:, t][:, None] == b[:, t][None, :]
    left, right = np.nonzero(matches)
    if len(left) == 0:
        return 0, []

    new_sizes = np.array(list(new_groups.values()), dtype=np.int64)
    current_sizes = np.array(list(current_groups.values()), dtype=np.int64)
    source, sink = 0, 1 + len(a) + len(b)
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        np.zeros(len(a), dtype=np.int32),
        1 + np.arange(len(a), dtype=np.int32),
        new_sizes,
        np.zeros(len(a), dtype=np.int64),
    )
    pair_arcs = flow.add_arcs_with_capacity_and_unit_cost(
        (1 + left).astype(np.int32),
        (1 + len(a) + right).astype(np.int32),
        np.minimum(new_sizes[left], current_sizes[right]),
        -matches[left, right].astype(np.int64),
    )
    flow.add_arcs_with_capacity_and_unit_cost(
        1 + len(a) + np.arange(len(b), dtype=np.int32),
        np.full(len(b), sink, dtype=np.int32),
        current_sizes,
        np.zeros(len(b), dtype=np.int64),
    )
    n_new = int(new_sizes.sum())
    flow.add_arc_with_capacity_and_unit_cost(source, sink, n_new, 0)  # lines left unpaired
    flow.set_node_supply(source, n_new)
    flow.set_node_supply(sink, -n_new)
    status = flow.solve()
    if status != flow.OPTIMAL:  # pragma: no cover - a bypass arc makes it always feasible
        raise RuntimeError(f"line pairing failed with status {status}")
    flows = flow.flows(pair_arcs)
    new_keys, current_keys = list(new_groups), list(current_groups)
    used = [
        (new_keys[int(i)], current_keys[int(j)], int(k))
        for i, j, k in zip(left, right, flows, strict=True)
        if k
    ]
    return -flow.optimal_cost(), used
