"""Documented size limits of a plan: the loader refuses anything larger, naming the limit.

They keep one solve inside a worker's memory and time budget; raising one is a deliberate
change here (and in the README), never a silent one.

Measured 2026-12-01 on the 2-core machine (CLI, one plan, figures in docs/engine.md):
242 units, 1856 lines (xl_pgy2 with demand doubled): OPTIMAL 1856/1 in 33.5 s, first plan
3.9 s, peak 134 MiB; 500 units, 30 hospitals, 2000 lines (the generator's g_xxl_t4_state,
120 s limit): FEASIBLE 2029 lines (bound 1900) at 120 s, first plan 51.7 s, peak 263 MiB.
Memory is far from a limit; time is not: the limits stay as they are.
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
