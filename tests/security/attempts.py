"""Run one attack or one legitimate action as an actor and record the outcome.

An attack counts as refused when the database raises one of the refusal errors below, or
when the statement succeeds but achieves nothing (`harmless(result)`: no rows seen or
changed, false, null, 0). Any other error (a syntax error, an unknown column or function)
means the attack itself is broken, so it is raised instead of being counted as refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from tests.security.scoreboard import SCOREBOARD
from tests.security.world import World

REFUSALS = {
    "42501": "insufficient_privilege",
    "23502": "not_null_violation",
    "23503": "foreign_key_violation",
    "23505": "unique_violation",
    "23514": "check_violation",
    "54000": "program_limit_exceeded",
    "22023": "invalid_parameter_value",
    "0A000": "feature_not_supported",  # a trigger function called directly
    "55006": "object_in_use",
    "P0002": "no_data_found",
}


@dataclass
class Outcome:
    sqlstate: str | None  # None: the statement succeeded
    message: str
    rows: list[tuple] | None
    rowcount: int

    @property
    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


def run(world: World, actor: str, sql: str, params: dict | None = None) -> Outcome:
    try:
        with world.acting(actor) as conn:
            cur = conn.execute(sql, {**world.params(), **(params or {})})
            rows = cur.fetchall() if cur.description else None
            return Outcome(None, cur.statusmessage or "", rows, cur.rowcount)
    except psycopg.Error as exc:
        state = exc.sqlstate or ""
        if state not in REFUSALS:
            raise
        return Outcome(state, str(exc).splitlines()[0], None, 0)


def nothing(outcome: Outcome) -> bool:
    """Succeeded without effect: no row changed, nothing seen, or a false/null/0/empty answer."""
    if outcome.rows is None:
        return outcome.rowcount == 0
    if not outcome.rows:
        return True
    value = outcome.rows[0][0]
    return value in (None, False, 0, [], {}, "")


def attack(
    world: World,
    name: str,
    actor: str,
    sql: str,
    params: dict | None = None,
    *,
    harmless: Callable[[Outcome], bool] = nothing,
) -> Outcome:
    outcome = run(world, actor, sql, params)
    refused = outcome.sqlstate is not None or harmless(outcome)
    SCOREBOARD.attack(name, refused)
    assert refused, f"attack worked: {name}: {outcome}"
    return outcome


def legitimate(
    world: World,
    name: str,
    actor: str,
    sql: str,
    params: dict | None = None,
    *,
    ok: Callable[[Outcome], bool] = lambda o: not nothing(o),
) -> Outcome:
    try:
        outcome = run(world, actor, sql, params)
        worked = outcome.sqlstate is None and ok(outcome)
    except psycopg.Error as exc:  # anything else: broken, and shown
        outcome, worked = Outcome(exc.sqlstate, str(exc), None, 0), False
    SCOREBOARD.legit(name, worked)
    assert worked, f"legitimate action broken: {name}: {outcome}"
    return outcome
