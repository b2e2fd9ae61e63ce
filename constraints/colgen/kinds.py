"""Line kinds: a generic line, or the lines of one partially locked class, each with an
optional service-or-nights cap (fairness).

A kind is a mask over the shared rotation space (`space.py`) bound to the searches of its
cap, which every kind shares: the beam (many good lines), the exact labelling (the best line
and a proof) and the one-line CP-SAT model (where the labelling gives up). Each call turns
row values into member gains (once per dual vector when the caller passes them), chooses
each representative's best member the kind may use, searches, and returns concrete lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from constraints.colgen.beam import BeamSearch
from constraints.colgen.control import Control
from constraints.colgen.labels import LABEL_NODE_LIMIT, LabelSearch
from constraints.colgen.pricing import PRICING_TIME_CAP, LineSearch, PricingOutcome
from constraints.colgen.space import Choice, Space, Values
from constraints.patterns import Pattern


@dataclass(frozen=True)
class LabelOutcome:
    found: list[tuple[Pattern, float]]  # best first, each above the threshold
    bound: float  # valid upper bound on the best line's value
    optimal: bool  # the search finished: `bound` is the exact optimum (or <= threshold)
    nodes: int


class _Kind:
    def __init__(self, space: Space, mask: np.ndarray) -> None:
        self.space, self.mask = space, mask

    def choice(self, values: Values, starts: Values | None, gains: np.ndarray | None) -> Choice:
        member = self.space.member_gains(values, starts) if gains is None else gains
        return self.space.choose(member, self.mask)


class KindBeam(_Kind):
    def __init__(self, space: Space, mask: np.ndarray, beam: BeamSearch) -> None:
        super().__init__(space, mask)
        self.beam = beam

    def price(
        self,
        values: Values,
        constant: float,
        eps: float,
        starts: Mapping[tuple[str, int], float] | None = None,
        *,
        gains: np.ndarray | None = None,
    ) -> list[tuple[Pattern, float]]:
        """Up to the beam's column count of valid lines worth more than `eps`, best first:
        a line is worth its `values` summed over its unit-terms, its six-month `starts`
        bonuses and `constant`. `gains`: the member gains of `values` (no starts), if the
        caller has them."""
        return self.beam.price(self.choice(values, starts, gains), constant, eps)


class KindLabels(_Kind):
    def __init__(self, space: Space, mask: np.ndarray, search: LabelSearch) -> None:
        super().__init__(space, mask)
        self.search = search

    def price(
        self,
        values: Values,
        constant: float,
        eps: float,
        *,
        k: int = 1,
        floor: float | None = None,
        node_limit: int = LABEL_NODE_LIMIT,
        gains: np.ndarray | None = None,
        proving: bool = True,
    ) -> LabelOutcome:
        """The best `k` lines of the kind worth more than `eps` (see `LabelSearch.search`),
        as concrete lines."""
        choice = self.choice(values, None, gains)
        out = self.search.search(
            choice.gain, constant, eps, k=k, floor=floor, node_limit=node_limit, proving=proving
        )
        found = [(self.space.pattern(path, choice), v) for path, v in out.found]
        return LabelOutcome(found, out.bound, out.optimal, out.nodes)


class KindModel(_Kind):
    def __init__(self, space: Space, mask: np.ndarray, search: LineSearch) -> None:
        super().__init__(space, mask)
        self.search = search

    @property
    def empty(self) -> bool:
        """No line of this kind exists: some term has no rotation it may use."""
        return not self.space.covers_every_term(self.mask)

    def price(
        self,
        control: Control,
        values: Values,
        constant: float,
        hint: Pattern | None = None,
        phase: str = "pricing",
        time_cap: float = PRICING_TIME_CAP,
        *,
        gains: np.ndarray | None = None,
    ) -> PricingOutcome:
        """CP-SAT's best line of the kind (proven optimal unless the time cap hits)."""
        choice = self.choice(values, None, gains)
        return self.search.price(control, choice, constant, hint, phase, time_cap)
