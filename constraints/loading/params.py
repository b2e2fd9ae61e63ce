"""The plan's settings: the rule sets it selects and the solver parameters, within LIMITS."""

from __future__ import annotations

import math

from constraints.limits import LIMITS
from constraints.loading.problems import MISSING, Problems, field_key, given, json_type
from constraints.plan import Params
from constraints.rules import known_rule_sets

PARAM_KEYS = ("min_lines", "max_lines", "time_limit_s", "seed", "allow_shortfall", "deterministic")
MAX_SEED = 2**31 - 1  # CP-SAT's random_seed is a 32-bit int


def load_constraints(raw: object, p: Problems) -> tuple[str, ...]:
    if raw is MISSING:
        return ()
    items = p.sequence(raw, "constraints", "constraints")
    if items is None:
        return ()
    known = known_rule_sets()
    names: list[str] = []
    for i, name in enumerate(items):
        f = f"constraints[{i}]"
        if not isinstance(name, str):
            p.add(f, name, f"must be a rule-set name (a string), not {json_type(name)}")
        elif name not in known:
            p.add(f, name, f"unknown rule set; known rule sets are: {', '.join(known)}")
        elif name in names:
            p.add(f, name, "rule set listed twice")
        else:
            names.append(name)
    return tuple(names)


def load_params(raw: object, p: Problems) -> Params:
    if raw is MISSING or raw is None:
        return Params()
    obj = p.mapping(raw, "params")
    if obj is None:
        return Params()
    for key in obj:
        if key not in PARAM_KEYS:
            p.add(
                f"params.{field_key(key)}",
                obj[key],
                f"unknown parameter; known: {', '.join(PARAM_KEYS)}",
            )
    lines_max = LIMITS["lines"]
    min_lines = _optional_int(obj, "min_lines", p, lines_max)
    max_lines = _optional_int(obj, "max_lines", p, lines_max)
    if min_lines is not None and max_lines is not None and min_lines > max_lines:
        p.add("params.min_lines", min_lines, f"must not exceed params.max_lines ({max_lines})")
    time_limit_s = _time_limit(given(obj, "time_limit_s"), p)
    seed = _optional_int(obj, "seed", p, MAX_SEED)
    return Params(
        min_lines=min_lines,
        max_lines=max_lines,
        time_limit_s=time_limit_s,
        seed=seed if seed is not None else Params.seed,
        allow_shortfall=bool(
            p.boolean(given(obj, "allow_shortfall"), "params.allow_shortfall", default=False)
        ),
        deterministic=bool(
            p.boolean(given(obj, "deterministic"), "params.deterministic", default=True)
        ),
    )


def _time_limit(value: object, p: Problems) -> float:
    """Seconds, up to the configured limit; the default when absent or unusable."""
    if value is MISSING or value is None:
        return Params.time_limit_s
    limit = LIMITS["time_limit_s"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        p.add(
            "params.time_limit_s",
            value,
            f"must be a number of seconds, not {json_type(value)}",
        )
    elif not math.isfinite(value) or value <= 0:
        p.add("params.time_limit_s", value, "must be a positive number of seconds")
    elif value > limit:
        p.add("params.time_limit_s", value, f"must be <= {limit} (the time limit's limit)")
    else:
        return float(value)
    return Params.time_limit_s


def _optional_int(obj: dict, key: str, p: Problems, maximum: int) -> int | None:
    value = given(obj, key)
    if value is MISSING or value is None:
        return None
    return p.integer(value, f"params.{key}", minimum=0, maximum=maximum)
