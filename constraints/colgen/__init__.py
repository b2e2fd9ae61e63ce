"""Column generation: the method behind `constraints.solve`, kept apart from the plan model
(`patterns.py`, `plan.py`) and the rules (`rules/`).

- `construct`: the greedy first plan, before any LP (a beam over the rule clauses).
- `master`: the LP master over pattern counts (GLOP), alive across stages.
- `beam`: fast heuristic pricing; `pricing`: the exact one-line CP-SAT pricing (the proof).
- `pairprice`: stability pricing of (new line, current line) pairs.
- `loop`: the pricing loop (`generate`, with its Lagrangian bound) and the price-and-fix
  `dive`.
- `intmaster`: CP-SAT over integer pattern counts, one stage at a time.
- `control`: time limit, cancellation and progress shared by every call.
"""

from constraints.colgen.loop import CgOutcome, Pricers, dive, generate, seed_pairs
from constraints.colgen.tolerance import TOL

__all__ = ["TOL", "CgOutcome", "Pricers", "dive", "generate", "seed_pairs"]
