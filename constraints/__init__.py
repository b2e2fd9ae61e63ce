"""Pure planning engine: plan model, named rule sets, CP-SAT model, explanations. No I/O."""

from constraints.checker import check
from constraints.loading import PlanError, Problem, load_plan
from constraints.progress import CancelToken, Progress
from constraints.result import SolveResult
from constraints.solution import SolutionLine
from constraints.solver import solve

__all__ = [
    "CancelToken",
    "PlanError",
    "Problem",
    "Progress",
    "SolutionLine",
    "SolveResult",
    "check",
    "load_plan",
    "solve",
]
