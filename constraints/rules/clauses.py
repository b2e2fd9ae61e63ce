"""The three kinds of clause every rule set is written in.

A clause is data, not code paths: the checker evaluates it on a concrete line, the pattern
search posts it into a one-line CP-SAT model, and the explanations read its bounds. So a rule
is written once and all three always agree.

- `Total`: a sum over the line's rotations stays within bounds
  ("at least 47 weeks worked", "at most one nights rotation").
- `PerGroup`: the same sum, taken separately for each value of a unit attribute
  ("at most one rotation in any one subspecialty").
- `Distinct`: the line touches at least N different values of an attribute
  ("at least 3 different subspecialties").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

from constraints.rotations import Rotation

Measure = Callable[[Rotation], int]
Key = Callable[[Rotation], str]
Choices = Sequence[tuple[Rotation, cp_model.IntVar]]  # candidate rotation -> 0/1 "on this line"


def _bounds_text(value: int, at_least: int | None, at_most: int | None) -> str | None:
    if at_least is not None and value < at_least:
        return f"is {value}, at least {at_least} required"
    if at_most is not None and value > at_most:
        return f"is {value}, at most {at_most} allowed"
    return None


@dataclass(frozen=True)
class Total:
    what: str  # e.g. "weeks worked"
    measure: Measure
    at_least: int | None = None
    at_most: int | None = None

    def value(self, rotations: Sequence[Rotation]) -> int:
        return sum(self.measure(r) for r in rotations)

    def violations(self, rotations: Sequence[Rotation]) -> list[str]:
        text = _bounds_text(self.value(rotations), self.at_least, self.at_most)
        return [f"{self.what} {text}"] if text else []

    def post(self, model: cp_model.CpModel, choices: Choices) -> None:
        expr = sum(self.measure(r) * var for r, var in choices if self.measure(r))
        if self.at_least is not None:
            model.add(expr >= self.at_least)
        if self.at_most is not None:
            model.add(expr <= self.at_most)


@dataclass(frozen=True)
class PerGroup:
    what: str  # e.g. "rotations in subspecialty"
    key: Key
    measure: Measure
    at_most: int

    def values(self, rotations: Sequence[Rotation]) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for r in rotations:
            totals[self.key(r)] += self.measure(r)
        return dict(totals)

    def violations(self, rotations: Sequence[Rotation]) -> list[str]:
        return [
            f"{self.what} {group} is {value}, at most {self.at_most} allowed"
            for group, value in sorted(self.values(rotations).items())
            if value > self.at_most
        ]

    def post(self, model: cp_model.CpModel, choices: Choices) -> None:
        groups: dict[str, list] = defaultdict(list)
        for r, var in choices:
            if self.measure(r):
                groups[self.key(r)].append(self.measure(r) * var)
        for terms in groups.values():
            if len(terms) > self.at_most:  # cheap skip: cannot exceed with so few candidates
                model.add(sum(terms) <= self.at_most)


@dataclass(frozen=True)
class Distinct:
    what: str  # e.g. "different subspecialties"
    key: Key
    at_least: int

    def value(self, rotations: Sequence[Rotation]) -> int:
        return len({self.key(r) for r in rotations})

    def violations(self, rotations: Sequence[Rotation]) -> list[str]:
        value = self.value(rotations)
        if value < self.at_least:
            return [f"{self.what} is {value}, at least {self.at_least} required"]
        return []

    def post(self, model: cp_model.CpModel, choices: Choices) -> None:
        groups: dict[str, list] = defaultdict(list)
        for r, var in choices:
            groups[self.key(r)].append(var)
        touched = []
        for group, members in sorted(groups.items()):
            hit = model.new_bool_var(f"touches[{group}]")
            model.add(hit <= sum(members))  # a group counts only if some rotation is in it
            touched.append(hit)
        model.add(sum(touched) >= self.at_least)


Clause = Total | PerGroup | Distinct
