"""Which line became which after a regenerate, and the labels that keep line identity.

`constraints.stability` counts the changed rotations; this module returns the pairing behind
that count, line by line, so a manager sees where the changes are and a line that did not
change keeps its label. The pairing is the same optimum, from the same code
(`stability.group_pairing`: a min-cost flow between groups of identical lines maximising
matching (term, unit) cells); its flow is split back into line pairs, and the lines left
over (which can match nothing, or the flow would have used them) are paired in order while
both sides have some, each such pair changing every term. So kept + changed lines number
min(new, current), and the total equals `stability.changed_rotations` exactly. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from constraints.plan import FixedLine, Plan
from constraints.solution import SolutionLine
from constraints.stability import Cells, group_pairing

ChangeStatus = Literal["kept", "changed", "new", "removed"]
_NUMBERED = re.compile(r"^(.*?)(\d+)$")


@dataclass(frozen=True)
class TermChange:
    term: int
    old: str | None  # None: the current line had no unit in that term
    new: str


@dataclass(frozen=True)
class LineChange:
    status: ChangeStatus
    label: str  # the line's label in the solution ("removed": the current line's label)
    previous_label: str | None  # the current line it was paired with (None for "new")
    terms: tuple[TermChange, ...] = ()  # "changed" only: the terms whose unit differs

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "label": self.label,
            "previous_label": self.previous_label,
            "terms": [{"term": c.term, "old": c.old, "new": c.new} for c in self.terms],
        }

    @classmethod
    def from_json(cls, doc: Mapping) -> LineChange:
        terms = tuple(
            TermChange(int(c["term"]), None if c["old"] is None else str(c["old"]), str(c["new"]))
            for c in doc.get("terms", ())
        )
        previous = doc.get("previous_label")
        return cls(
            doc["status"], str(doc["label"]), None if previous is None else str(previous), terms
        )


@dataclass(frozen=True)
class ChangeReport:
    """Per unlocked line of the solution, and per current line left out, what happened."""

    term_count: int
    lines: tuple[LineChange, ...]

    def _with(self, status: ChangeStatus) -> tuple[LineChange, ...]:
        return tuple(c for c in self.lines if c.status == status)

    @property
    def kept(self) -> tuple[LineChange, ...]:
        return self._with("kept")

    @property
    def changed(self) -> tuple[LineChange, ...]:
        return self._with("changed")

    @property
    def new(self) -> tuple[LineChange, ...]:
        return self._with("new")

    @property
    def removed(self) -> tuple[LineChange, ...]:
        return self._with("removed")

    @property
    def changed_rotations(self) -> int:
        """Equals Objective.changed_rotations: differing terms of paired lines, plus every
        term of an unpaired line; 0 when there were no current lines."""
        if not (self.kept or self.changed or self.removed):
            return 0
        paired = sum(len(c.terms) for c in self.changed)
        return paired + self.term_count * (len(self.new) + len(self.removed))

    def totals(self) -> dict[str, int]:
        return {
            "kept": len(self.kept),
            "changed": len(self.changed),
            "new": len(self.new),
            "removed": len(self.removed),
            "changed_rotations": self.changed_rotations,
        }

    def to_json(self) -> dict:
        return {
            "term_count": self.term_count,
            "totals": self.totals(),
            "lines": [c.to_json() for c in self.lines],
        }

    @classmethod
    def from_json(cls, doc: Mapping) -> ChangeReport:
        lines = tuple(LineChange.from_json(c) for c in doc.get("lines", ()))
        return cls(int(doc["term_count"]), lines)


def relabel_and_report(
    plan: Plan, lines: Sequence[SolutionLine]
) -> tuple[list[SolutionLine], ChangeReport]:
    """The solution with each new line paired to a current line carrying that line's label,
    unpaired new lines under fresh labels; and the change report in those labels.

    This is the seam for line identity in the database: a line whose label is a current
    line's label is that line (kept or changed), so its row can be updated in place.
    Locked and partial lines come first, unchanged; then the new lines sorted by label.
    Without current lines there is nothing to keep and the solver's labels stay."""
    pairs, unpaired = _pairing(plan, lines)
    if not plan.current_lines:
        return list(lines), _report(plan, lines, pairs, unpaired)
    label_of = {i: plan.current_lines[j].label for i, j in pairs}
    label_of.update(zip(unpaired, _fresh_labels(plan, lines, len(unpaired)), strict=True))
    renamed = [
        replace(ln, label=label_of[i]) if i in label_of else ln for i, ln in enumerate(lines)
    ]
    fixed = [i for i, ln in enumerate(renamed) if ln.source != "new"]
    new = sorted((i for i in label_of), key=lambda i: natural_key(renamed[i].label))
    order = fixed + new
    position = {old: k for k, old in enumerate(order)}
    out = [renamed[i] for i in order]
    moved_pairs = [(position[i], j) for i, j in pairs]
    return out, _report(plan, out, moved_pairs, [position[i] for i in unpaired])


def change_report(plan: Plan, lines: Sequence[SolutionLine]) -> ChangeReport:
    """The report for `lines` as labelled (no relabelling): new lines are those with
    source "new", as in the stability objective; locked and partial lines do not count."""
    return _report(plan, lines, *_pairing(plan, lines))


def _report(
    plan: Plan, lines: Sequence[SolutionLine], pairs: list[tuple[int, int]], unpaired: list[int]
) -> ChangeReport:
    T = plan.term_count
    by_new = dict(pairs)
    entries: list[LineChange] = []
    for i, line in enumerate(lines):
        if line.source != "new":
            continue
        if i in by_new:
            current = plan.current_lines[by_new[i]]
            diffs = _differences(T, line.rotations, current.rotations)
            status: ChangeStatus = "changed" if diffs else "kept"
            entries.append(LineChange(status, line.label, current.label, diffs))
        else:
            entries.append(LineChange("new", line.label, None))
    paired_current = {j for _, j in pairs}
    for j, current in enumerate(plan.current_lines):
        if j not in paired_current:
            entries.append(LineChange("removed", current.label, current.label))
    assert len(unpaired) == sum(e.status == "new" for e in entries)
    return ChangeReport(T, tuple(entries))


def _differences(
    term_count: int, new: Mapping[int, str], current: Mapping[int, str]
) -> tuple[TermChange, ...]:
    return tuple(
        TermChange(t, current.get(t), new[t])
        for t in range(1, term_count + 1)
        if current.get(t) != new[t]
    )


def _pairing(plan: Plan, lines: Sequence[SolutionLine]) -> tuple[list[tuple[int, int]], list[int]]:
    """(solution index, current index) pairs, and the solution indices of new lines left
    unpaired, in solution order. Among optimal pairings, the one that pairs lines by equal
    label wins: lines relabelled by `relabel_and_report` (or kept in the database by label)
    read back as the same lines, although ties could pair them otherwise."""
    T = plan.term_count
    cells = {i: _cells(T, ln.rotations) for i, ln in enumerate(lines) if ln.source == "new"}
    current = {j: _cells(T, ln.rotations) for j, ln in enumerate(plan.current_lines)}
    best = _optimal_pairs(T, cells, current)
    by_label = {ln.label: j for j, ln in enumerate(plan.current_lines)}
    same = [(i, by_label[lines[i].label]) for i in cells if lines[i].label in by_label]
    if same:
        rest_new = {i: c for i, c in cells.items() if lines[i].label not in by_label}
        taken = {j for _, j in same}
        rest_current = {j: c for j, c in current.items() if j not in taken}
        pairs, left = _optimal_pairs(T, rest_new, rest_current)
        labelled = (sorted(same + pairs), left)
        if _cost(T, cells, current, labelled) == _cost(T, cells, current, best):
            return labelled
    return best


def _cells(term_count: int, rotations: Mapping[int, str]) -> Cells:
    return tuple(rotations.get(t) for t in range(1, term_count + 1))


def _cost(
    term_count: int,
    new: Mapping[int, Cells],
    current: Mapping[int, Cells],
    pairing: tuple[list[tuple[int, int]], list[int]],
) -> int:
    pairs, _ = pairing
    differing = sum(
        sum(c is None or c != n for n, c in zip(new[i], current[j], strict=True)) for i, j in pairs
    )
    return differing + term_count * (len(new) + len(current) - 2 * len(pairs))


def _optimal_pairs(
    term_count: int, new: Mapping[int, Cells], current: Mapping[int, Cells]
) -> tuple[list[tuple[int, int]], list[int]]:
    members_new: dict[Cells, list[int]] = defaultdict(list)
    for i, cells in new.items():
        members_new[cells].append(i)
    members_current: dict[Cells, list[int]] = defaultdict(list)
    for j, cells in current.items():
        members_current[cells].append(j)

    pairs: list[tuple[int, int]] = []
    _, flows = group_pairing(term_count, Counter(new.values()), Counter(current.values()))
    for g, h, count in flows:
        for _ in range(count):
            pairs.append((members_new[g].pop(0), members_current[h].pop(0)))
    left_new = sorted(i for group in members_new.values() for i in group)
    left_current = sorted(j for group in members_current.values() for j in group)
    pairs.extend(zip(left_new, left_current, strict=False))  # nothing in common: all T change
    pairs.sort()
    return pairs, left_new[len(left_current) :]


def _fresh_labels(plan: Plan, lines: Sequence[SolutionLine], count: int) -> list[str]:
    """`count` labels in the style of the current lines' labels (prefix and zero padding of
    the most common numbered form, e.g. L-0001), numbered after every label of the plan and
    the solution so a fresh label never reuses a removed line's label."""
    taken = {ln.label for ln in plan.current_lines} | {ln.label for ln in plan.locked_lines}
    taken |= {ln.label for ln in lines if ln.source != "new"}
    prefix, width = _label_style(plan.current_lines)
    numbers = [
        int(m.group(2)) for lb in taken if (m := _NUMBERED.match(lb)) and m.group(1) == prefix
    ]
    number = max(numbers, default=0)
    fresh: list[str] = []
    while len(fresh) < count:
        number += 1
        label = f"{prefix}{number:0{width}d}"
        if label not in taken:
            fresh.append(label)
    return fresh


def _label_style(current: Sequence[FixedLine]) -> tuple[str, int]:
    styles = Counter(
        (m.group(1), len(m.group(2))) for ln in current if (m := _NUMBERED.match(ln.label))
    )
    if not styles:
        return "L-", 4
    return styles.most_common(1)[0][0]


def natural_key(label: str) -> tuple[str, int, str]:
    m = _NUMBERED.match(label)
    return (m.group(1), int(m.group(2)), label) if m else (label, -1, label)
