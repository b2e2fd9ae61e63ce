"""Documented size limits of a plan: the loader refuses anything larger, naming the limit.

They keep one solve inside a worker's memory and time budget; raising one is a deliberate
change here (and in the README), never a silent one.

Why they stay as they are: the 2000-line, 500-unit, 30-hospital state-wide rounds of the
generated family solve within their 120 s in under 260 MiB (their figures: the tables in
docs/engine.md). At every limit at once (13 terms, 500 units, 5000 lines, 5000 current
lines; the reliability suite's memory-hungry round, 2026-12-07): FEASIBLE within its 60 s,
peak 473 MiB resident. Memory is far from a limit; time is, on 13-term years, whose lines
the engine does not yet prove within a minute at 120 lines.
"""

from __future__ import annotations

from types import MappingProxyType

LIMITS = MappingProxyType(
    {
        "terms": 13,  # 4-weekly terms at the finest
        "term_weeks": 52,
        "units": 500,
        "demand_rows": 10_000,
        "lines": 5_000,  # min/max_lines, demand max, locked lines, current lines
        "time_limit_s": 3_600,
        "text_length": 200,  # names, codes, labels
        "constraints": 20,
    }
)
