"""What the solve child and the worker say to each other over the pipe: one class a message.

Child to parent: any number of `Progress`, then exactly one ending (`Solved`, `PlanRejected`,
`OutOfMemory` or `Crashed`). Parent to child: `Cancel`. A closed pipe is not a message: the
parent reads it as `solver_process.ChildExit`, the child as "the parent is gone".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Progress:
    """The engine's latest progress, as written to the run row (`progress jsonb`)."""

    fields: dict[str, Any]


@dataclass(frozen=True)
class Solved:
    """The solver finished (any status, INFEASIBLE and TIMEOUT included): `Result.to_json()`."""

    result: dict[str, Any]


@dataclass(frozen=True)
class PlanRejected:
    """The plan failed validation: the PlanError text and one line per problem."""

    message: str
    problems: list[str]


@dataclass(frozen=True)
class OutOfMemory:
    message: str


@dataclass(frozen=True)
class Crashed:
    """Anything else the solve raised."""

    message: str
    traceback: str


@dataclass(frozen=True)
class Cancel:
    """Parent to child: stop solving and report what you have."""


Ending = Solved | PlanRejected | OutOfMemory | Crashed
ChildMessage = Progress | Ending
