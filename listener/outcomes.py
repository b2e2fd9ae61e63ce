"""What a run's ending looks like on the row: payloads, summaries and readable errors."""

from __future__ import annotations

from typing import Any


def completion_payload(lines: list[Any]) -> list[dict[str, Any]]:
    """SolutionLines as `planner.complete_run` takes them (one rotation per term)."""
    return [
        {
            "label": line.label,
            "source": line.source,
            "rotations": [
                {"term": term, "unit": unit, "locked": term in line.locked_terms}
                for term, unit in sorted(line.rotations.items())
            ],
        }
        for line in lines
    ]


def result_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The solver result for the run row, without the lines (those live in job_lines)."""
    summary = {key: value for key, value in result.items() if key != "lines"}
    summary["line_count"] = len(result.get("lines") or [])
    return summary


def plan_error_message(problems: str) -> str:
    return (
        "The allocation round cannot be planned as entered. Fix these and run again:\n"
        + "\n".join(f"- {line}" for line in problems.splitlines() if line.strip())
    )


def infeasible_error(explanation: list[str]) -> str:
    if not explanation:
        return "No set of job lines meets every demand and rule (the solver gave no detail)."
    return "No set of job lines meets every demand and rule:\n" + "\n".join(
        f"- {reason}" for reason in explanation
    )


def timeout_error(time_limit_s: float | None) -> str:
    limit = f"{time_limit_s:g}s" if time_limit_s else "the time limit"
    suggestion = f" (for example to {2 * time_limit_s:g})" if time_limit_s else ""
    return (
        f"No plan was found within {limit}. Raise params.time_limit_s{suggestion} and run "
        "again, or relax the demand, the line range or the rule sets."
    )
