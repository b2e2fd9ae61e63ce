"""Documented size limits of a plan: the loader refuses anything larger, naming the limit.

They keep one solve inside a worker's memory and time budget; raising one is a deliberate
change here (and in the README), never a silent one.
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
