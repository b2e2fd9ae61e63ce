"""Where the public benchmark plans are: $PLANNER_BENCHMARK_DIR, else a `shared/benchmark`
beside the checkout's parent (how the project's machines lay it out)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def benchmark_dir() -> Path:
    given = os.environ.get("PLANNER_BENCHMARK_DIR")
    if given:
        return Path(given)
    return Path(__file__).resolve().parents[3] / "shared" / "benchmark"


def current_plans() -> list:
    """pytest params, one per public plan with current lines (a skip when none is there)."""
    plans = sorted((benchmark_dir() / "plans").glob("*current*.json"))
    if not plans:
        reason = f"no public benchmark plans in {benchmark_dir()} (set PLANNER_BENCHMARK_DIR)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-benchmark")]
    return [pytest.param(p, id=p.stem) for p in plans]
