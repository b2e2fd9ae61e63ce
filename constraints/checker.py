"""An independent checker: does a set of lines satisfy the plan, and what does it score?

It shares with the solver only the plan model, the rule-set clauses and the exact line
pairing (`stability.py`, tested against brute force), so the worker can run it on every
solution before writing anything. Violations are plain sentences naming
the line, units, terms and rule set; the objective follows DOMAIN.md's priorities.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from constraints.plan import Plan
from constraints.rotations import LineShapeError, Rotation, read_line
from constraints.rules import Clause, Distinct, PerGroup, get_rule_set
from constraints.solution import Objective, Shortfall, SolutionLine
from constraints.stability import changed_rotations


@dataclass(frozen=True)
class CheckReport:
    violations: list[str]
    objective: Objective
    shortfall: list[Shortfall] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def check(plan: Plan, lines: Sequence[SolutionLine]) -> CheckReport:
    violations: list[str] = []
    violations += _labels(lines)
    read: dict[str, list[Rotation]] = {}
    for line in lines:
        problems = _shape(plan, line)
        if not problems:
            try:
                read[line.label] = read_line(plan, line.rotations)
            except LineShapeError as exc:
                problems = [f"Line {line.label}: {exc}."]
        violations += problems
    violations += _line_count(plan, len(lines))
    demand_problems, shortfall = _demand(plan, lines)
    violations += demand_problems
    violations += _locks(plan, lines)
    for line in lines:
        if line.label in read:
            for name in plan.constraints:
                violations += [
                    f"Line {line.label} breaks {text}"
                    for text in explain_line(plan, name, read[line.label])
                ]
    objective = Objective(
        shortfall=sum(s.missing for s in shortfall),
        lines=len(lines),
        max_service_nights=max((_service_nights(plan, ln) for ln in lines), default=0),
        changed_rotations=_stability(plan, lines),
        shortfall_detail=tuple(shortfall),
    )
    return CheckReport(violations, objective, shortfall)


def explain_line(plan: Plan, rule_set_name: str, rotations: Sequence[Rotation]) -> list[str]:
    """Why a line breaks one rule set, one sentence per breach (empty when it complies).

    E.g. "VIC_PGY2: rotations in subspecialty Cardiology is 2, at most 1 allowed:
    CARD-A (term 1), CARD-B (term 3)."
    """
    out = []
    for clause in get_rule_set(rule_set_name).clauses_for(plan):
        for fragment, involved in _breaches(clause, rotations):
            where = ", ".join(r.describe() for r in involved) or "no rotation counts"
            out.append(f"{rule_set_name}: {fragment}: {where}.")
    return out


def _breaches(clause: Clause, rotations: Sequence[Rotation]) -> list[tuple[str, list[Rotation]]]:
    """Each violation fragment of a clause with the rotations it is about."""
    fragments = clause.violations(rotations)
    if not fragments:
        return []
    if isinstance(clause, PerGroup):
        groups = sorted(g for g, v in clause.values(rotations).items() if v > clause.at_most)
        return [
            (text, [r for r in rotations if clause.key(r) == g and clause.measure(r)])
            for text, g in zip(fragments, groups, strict=True)
        ]
    if isinstance(clause, Distinct):
        return [(fragments[0], list(rotations))]
    counted = [r for r in rotations if clause.measure(r)]
    # "at least" breaches with nothing counted are best explained by what the line does have
    return [(fragments[0], counted or list(rotations))]


def _labels(lines: Sequence[SolutionLine]) -> list[str]:
    counts = Counter(line.label for line in lines)
    return [f"Label {label} is used by {n} lines." for label, n in sorted(counts.items()) if n > 1]


def _shape(plan: Plan, line: SolutionLine) -> list[str]:
    """Exactly one known unit per term, and only on unit-terms that are open."""
    problems = []
    for term in plan.ordinals:
        code = line.rotations.get(term)
        if code is None:
            problems.append(f"Line {line.label} has no unit in term {term}.")
        elif code not in plan.unit_by_code:
            problems.append(f"Line {line.label}, term {term}: unknown unit {code!r}.")
        elif not plan.is_open(code, term):
            problems.append(
                f"Line {line.label}: {code} is closed in term {term} (it has no demand row)."
            )
    extra = sorted(t for t in line.rotations if t not in plan.ordinals)
    if extra:
        problems.append(f"Line {line.label} names terms {extra} outside 1..{plan.term_count}.")
    return problems


def _line_count(plan: Plan, count: int) -> list[str]:
    low, high = plan.params.min_lines, plan.params.max_lines
    if low is not None and count < low:
        return [f"{count} lines, but at least {low} are required (params.min_lines)."]
    if high is not None and count > high:
        return [f"{count} lines, but at most {high} are allowed (params.max_lines)."]
    return []


def _demand(plan: Plan, lines: Sequence[SolutionLine]) -> tuple[list[str], list[Shortfall]]:
    """Every rotation counts in each term it occupies (a six-month unit in both)."""
    counts = Counter((code, term) for line in lines for term, code in line.rotations.items())
    problems: list[str] = []
    shortfall: list[Shortfall] = []
    for d in plan.demand:
        count = counts[d.unit, d.term]
        term = plan.terms[d.term - 1].name
        if count < d.min:
            if plan.params.allow_shortfall:
                shortfall.append(Shortfall(d.unit, d.term, d.min - count))
            else:
                problems.append(
                    f"{term}: {d.unit} has {count} lines, but its minimum demand is {d.min}."
                )
        if count > d.max:
            problems.append(f"{term}: {d.unit} has {count} lines, but its maximum is {d.max}.")
    return problems, shortfall


def _locks(plan: Plan, lines: Sequence[SolutionLine]) -> list[str]:
    by_label = {line.label: line for line in lines}
    problems = []
    for locked in plan.locked_lines:
        line = by_label.get(locked.label)
        if line is None:
            problems.append(f"Locked line {locked.label} is missing.")
            continue
        for term, code in sorted(locked.rotations.items()):
            found = line.rotations.get(term)
            if found != code:
                problems.append(
                    f"Locked line {locked.label}, term {term}: locked to {code}, found {found}."
                )
    return problems


def _service_nights(plan: Plan, line: SolutionLine) -> int:
    """Service-or-nights rotations on a line; a six-month rotation counts once."""
    try:
        rotations = read_line(plan, line.rotations)
    except LineShapeError:
        return 0  # already reported as a violation; no meaningful count
    return sum(r.unit.is_service_or_nights for r in rotations)


def _stability(plan: Plan, lines: Sequence[SolutionLine]) -> int:
    """Changed rotations against the current lines; locked and partial lines do not count."""
    locked = {line.label for line in plan.locked_lines}
    new = [line.rotations for line in lines if line.label not in locked]
    current = [line.rotations for line in plan.current_lines]
    return changed_rotations(plan.term_count, new, current)
