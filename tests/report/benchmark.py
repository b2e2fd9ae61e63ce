"""Where the public benchmark plans are: $PLANNER_BENCHMARK_DIR, else a `shared/benchmark`
beside the checkout's parent (how the project's machines lay it out).

Without them a test is skipped on a developer's machine, but in CI (`CI` set, as `.ci/run`
is run) a missing benchmark is an error: the tests on customer-made plans must never pass
there by not running."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def benchmark_dir() -> Path:
    given = os.environ.get("PLANNER_BENCHMARK_DIR")
    if given:
        return Path(given)
    return Path(__file__).resolve().parents[3] / "shared" / "benchmark"


def missing(what: str) -> None:
    """Skip (a developer's checkout without the benchmark) or, in CI, fail."""
    reason = f"no public benchmark {what} in {benchmark_dir()} (set PLANNER_BENCHMARK_DIR)"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def missing_param(what: str, nargs: int = 1) -> list:
    """The parametrize list for a missing benchmark: one skipped case, or a failure in CI."""
    reason = f"no public benchmark {what} in {benchmark_dir()} (set PLANNER_BENCHMARK_DIR)"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    skip = pytest.mark.skip(reason=reason)
    return [pytest.param(*([None] * nargs), marks=skip, id="no-benchmark")]


def current_plans() -> list:
    """pytest params, one per public plan with current lines (a skip when none is there)."""
    plans = sorted((benchmark_dir() / "plans").glob("*current*.json"))
    if not plans:
        return missing_param("plans")
    return [pytest.param(p, id=p.stem) for p in plans]
