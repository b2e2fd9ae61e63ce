"""What the greedy first plan (`construct.py`) and its repair (`repair.py`) ask the beam:
the best valid line of a kind for values per unit-term."""

from __future__ import annotations

from typing import Protocol

from constraints.patterns import Lock, Pattern

# best valid line of a kind (its lock) for row values and six-month start bonuses, if its
# value exceeds the floor
Values = dict[tuple[str, int], float]


class Price(Protocol):
    """The best valid lines of a kind with their values, best first (empty: none above the
    floor); `least_load`: the fewest service-or-nights rotations per line the lines left
    must be allowed to carry their need (0: no floor)."""

    def __call__(
        self, lock: Lock, values: Values, starts: Values, floor: float, least_load: int = 0
    ) -> list[tuple[Pattern, float]]: ...


CLOSED = -1e6  # row value of a unit-term at its maximum: the beam never takes it
SCARCE = 0.3  # cost of taking a unit-term nobody needs, over its places left (keep room)
