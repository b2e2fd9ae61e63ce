"""A solution for people: the job-line table (lines down, terms across) and a summary.

Used by `receptor-planner solve`; the table itself is `listener.plan_table.lines_table`, which
the demo command shares.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from constraints.plan import Plan
from constraints.solution import Objective, Shortfall, SolutionLine
from listener.plan_table import lines_table

STATUS_STYLE = {
    "OPTIMAL": "green",
    "FEASIBLE": "yellow",
    "TIMEOUT": "yellow",
    "INFEASIBLE": "red",
    "CANCELLED": "red",
}


def solution_table(plan: Plan, lines: Sequence[SolutionLine]) -> RenderableType:
    """Locked cells are bold with a padlock; term headers carry the term's weeks."""
    terms = [(t.ordinal, f"{t.name} ({t.weeks} wk)") for t in plan.terms]
    return lines_table(
        terms,
        {line.label: line.rotations for line in lines},
        locked={line.label: set(line.locked_terms) for line in lines if line.locked_terms},
        title=f"{plan.name}: job lines",
    )


def summary(
    status: str,
    objective: Objective,
    *,
    explanation: Sequence[str] = (),
    shortfall: Sequence[Shortfall] = (),
    elapsed_s: float | None = None,
) -> RenderableType:
    style = STATUS_STYLE.get(status, "white")
    head = Text.assemble((status, f"bold {style}"))
    if status in ("OPTIMAL", "FEASIBLE", "TIMEOUT") and objective.lines:
        head.append(
            f": {objective.lines} lines; at most {objective.max_service_nights} service or "
            f"night rotations on one line; {objective.changed_rotations} rotations changed "
            "against the current lines"
        )
    if elapsed_s is not None:
        head.append(f" ({elapsed_s:.1f} s)", style="dim")
    parts: list[RenderableType] = [head]
    if shortfall:
        parts.append(
            Text(f"Unmet minimum demand ({objective.shortfall} in total):", style="yellow")
        )
        parts += [Text(f"  term {s.term}: {s.unit} short by {s.missing}") for s in shortfall]
    if explanation:
        parts.append(Text("Why:", style="bold"))
        parts += [Text(f"  • {sentence}") for sentence in explanation]
    return Group(*parts)
