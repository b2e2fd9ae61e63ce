"""Documented size limits of a plan: the loader refuses anything larger, naming the limit.

They keep one solve inside a worker's memory and time budget; raising one is a deliberate
change here (and in the README), never a silent one.

Measured 2026-12-07 on the 2-core machine (figures in docs/engine.md): 500 units, 30
hospitals, 2000 lines (the generator's g_xxl_t4_state, 120 s limit): first plan 3.4 s, lines
and fairness proven at 11.4 s, peak 259 MiB; the PGY1 round of the same size proven at
105 s, peak 185 MiB. At every limit at once (13 terms, 500 units, 5000 lines, 5000 current
lines; the reliability suite's memory-hungry round): FEASIBLE within its 60 s, peak 473 MiB
resident. Memory is far from a limit; time is, on 13-term years, whose lines the engine does
not yet prove within a minute at 120 lines: the limits stay as they are.
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
