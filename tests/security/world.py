"""Two organisations, A (the victim) and B (the attacker's), each with members, rounds, lines,
a completed run (with logs and a snapshot), a GENERATING run and a registered worker, built
through the real API as the superuser and the planner_worker login. Attacks and legitimate
actions then run as an actor inside a transaction that is always rolled back, so every
attempt meets the same world.

Actors:
  anon           PostgREST's anonymous role
  stranger       authenticated, member of no organisation
  viewer         viewer of A            editor   editor of A          admin   admin of A
  admin_b        admin of B (another organisation)
  worker         the planner_worker login
  forged_worker  planner_worker with JWT claims {"role": "service_role", "sub": A's admin}
  forged_member  authenticated with claims {"role": "service_role", "sub": B's admin}
  service        service_role
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

UNITS = ("ED", "GM", "SURG", "PSYCH")
LINES = [
    {"label": f"L-{i}", "rotations": [{"term": t, "unit": UNITS[(t + i) % 4]} for t in range(1, 5)]}
    for i in range(4)
]
ATTACKERS = (
    "anon",
    "stranger",
    "viewer",
    "editor",
    "admin_b",
    "worker",
    "forged_worker",
    "forged_member",
)


@dataclass
class Org:
    id: uuid.UUID
    members: dict[str, uuid.UUID]
    round_id: uuid.UUID  # lines, a completed run and a snapshot
    spare_round_id: uuid.UUID  # no runs: legitimate requests go here
    busy_round_id: uuid.UUID  # a GENERATING run
    units: dict[str, uuid.UUID]
    spare_unit_id: uuid.UUID  # a unit without demand rows
    empty_line_id: uuid.UUID  # a line without rotations
    completed_run_id: uuid.UUID
    completed_worker: str
    generating_run_id: uuid.UUID
    generating_worker: str
    history_id: uuid.UUID
    worker_id: str  # registered in planner_workers with host-<x>, pid 4242


@dataclass
class World:
    su: psycopg.Connection
    worker: psycopg.Connection
    a: Org
    b: Org
    stranger: uuid.UUID
    extra: dict[str, Any] = field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        """Named parameters every attack SQL may use: a_* for A's rows, b_* for B's."""
        out: dict[str, Any] = {"stranger": self.stranger}
        for prefix, org in (("a", self.a), ("b", self.b)):
            out |= {
                f"{prefix}_org": org.id,
                f"{prefix}_round": org.round_id,
                f"{prefix}_spare_round": org.spare_round_id,
                f"{prefix}_busy_round": org.busy_round_id,
                f"{prefix}_unit": org.units["ED"],
                f"{prefix}_spare_unit": org.spare_unit_id,
                f"{prefix}_empty_line": org.empty_line_id,
                f"{prefix}_completed": org.completed_run_id,
                f"{prefix}_completed_worker": org.completed_worker,
                f"{prefix}_generating": org.generating_run_id,
                f"{prefix}_generating_worker": org.generating_worker,
                f"{prefix}_history": org.history_id,
                f"{prefix}_worker_id": org.worker_id,
                f"{prefix}_admin": org.members["admin"],
                f"{prefix}_editor": org.members["editor"],
                f"{prefix}_viewer": org.members["viewer"],
            }
        return out

    @contextmanager
    def acting(self, actor: str) -> Iterator[psycopg.Connection]:
        """A connection acting as `actor` inside a transaction that is rolled back."""
        api = {
            "anon": ("anon", {"role": "anon"}),
            "stranger": ("authenticated", {"role": "authenticated", "sub": str(self.stranger)}),
            "viewer": ("authenticated", self._claims(self.a, "viewer")),
            "editor": ("authenticated", self._claims(self.a, "editor")),
            "admin": ("authenticated", self._claims(self.a, "admin")),
            "admin_b": ("authenticated", self._claims(self.b, "admin")),
            "editor_b": ("authenticated", self._claims(self.b, "editor")),
            "forged_member": (
                "authenticated",
                {"role": "service_role", "sub": str(self.b.members["admin"])},
            ),
            "service": ("service_role", {"role": "service_role"}),
        }
        conn = self.worker if actor in ("worker", "forged_worker") else self.su
        with conn.transaction(force_rollback=True):
            if actor in api:
                role, claims = api[actor]
                conn.execute(f"set local role {role}")
                conn.execute(
                    "select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)]
                )
            elif actor == "forged_worker":
                claims = {"role": "service_role", "sub": str(self.a.members["admin"])}
                conn.execute(
                    "select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)]
                )
            elif actor != "worker":
                raise ValueError(actor)
            yield conn

    @staticmethod
    def _claims(org: Org, role: str) -> dict[str, str]:
        return {"role": "authenticated", "sub": str(org.members[role])}


def empty_queue(su: psycopg.Connection) -> None:
    """Cancel every PENDING run (claims are global); runs in flight stay in flight."""
    su.execute("update allocation_planner_runs set state = 'CANCELLED' where state = 'PENDING'")


def new_user(su: psycopg.Connection, tag: str) -> uuid.UUID:
    user = uuid.uuid4()
    su.execute(
        "insert into auth.users (id, email, aud, role) values (%s, %s, 'authenticated', "
        "'authenticated')",
        (user, f"{tag}-{user.hex[:8]}@example.test"),
    )
    return user


def new_round(su: psycopg.Connection, org: uuid.UUID, name: str) -> tuple[uuid.UUID, dict]:
    rnd = su.execute(
        "insert into allocation_runs (organization_id, name) values (%s, %s) returning id",
        (org, name),
    ).fetchone()[0]
    su.execute(
        "insert into plan_terms (organization_id, allocation_run_id, ordinal, name, weeks) "
        "select %s, %s, t, 'Term ' || t, 13 from generate_series(1, 4) t",
        (org, rnd),
    )
    units = {}
    for code in UNITS:
        units[code] = su.execute(
            "insert into units (organization_id, allocation_run_id, code, name, specialty, "
            "subspecialty) values (%s, %s, %s, %s, %s, %s) returning id",
            (org, rnd, code, code, code, code),
        ).fetchone()[0]
    su.execute(
        "insert into unit_demands (organization_id, allocation_run_id, unit_id, term_ordinal, "
        "min_lines, max_lines) select %s, %s, u.id, t.ordinal, 1, 1 from units u "
        "join plan_terms t on t.allocation_run_id = u.allocation_run_id "
        "where u.allocation_run_id = %s",
        (org, rnd, rnd),
    )
    return rnd, units


def request_run(su: psycopg.Connection, org: uuid.UUID, rnd: uuid.UUID) -> uuid.UUID:
    return su.execute(
        "insert into allocation_planner_runs (organization_id, allocation_run_id, constraints) "
        "values (%s, %s, '{VIC_PGY2}') returning id",
        (org, rnd),
    ).fetchone()[0]


def claim(worker: psycopg.Connection, worker_id: str) -> tuple[uuid.UUID, int]:
    row = worker.execute("select id, attempt from planner.claim_run(%s)", [worker_id]).fetchone()
    assert row is not None, "nothing to claim"
    return row[0], row[1]


def build_org(su: psycopg.Connection, worker: psycopg.Connection, tag: str) -> Org:
    org = su.execute(
        "insert into organizations (name) values (%s) returning id", [f"Security {tag}"]
    ).fetchone()[0]
    members = {}
    for role in ("admin", "editor", "viewer"):
        members[role] = new_user(su, f"{tag}-{role}")
        su.execute(
            "insert into organization_members (organization_id, user_id, role) values (%s, %s, %s)",
            (org, members[role], role),
        )
    rnd, units = new_round(su, org, f"{tag} round")
    spare_round, _ = new_round(su, org, f"{tag} spare round")
    busy_round, _ = new_round(su, org, f"{tag} busy round")
    spare_unit = su.execute(
        "insert into units (organization_id, allocation_run_id, code, name, specialty, "
        "subspecialty) values (%s, %s, 'SPARE', 'Spare', 'Spare', 'Spare') returning id",
        (org, rnd),
    ).fetchone()[0]

    # a completed run: its lines, its snapshot of the lines it replaced, its logs
    empty_queue(su)
    run_id = request_run(su, org, rnd)
    completed_worker = f"sec-{tag}-done"
    claimed, attempt = claim(worker, completed_worker)
    assert claimed == run_id
    written = worker.execute(
        "select planner.write_logs(%s)",
        [
            Jsonb(
                [
                    {
                        "run_id": str(run_id),
                        "worker_id": completed_worker,
                        "attempt": attempt,
                        "message": f"{tag}'s private log line",
                    }
                ]
            )
        ],
    ).fetchone()[0]
    assert written == 1
    owned = worker.execute(
        "select planner.complete_run(%s, %s, %s, %s, %s)",
        (run_id, completed_worker, attempt, Jsonb(LINES), Jsonb({"status": "OPTIMAL"})),
    ).fetchone()[0]
    assert owned
    history = su.execute(
        "select id from job_lines_history where planner_run_id = %s", [run_id]
    ).fetchone()[0]
    empty_line = su.execute(
        "insert into job_lines (organization_id, allocation_run_id, label) "
        "values (%s, %s, 'EMPTY') returning id",
        (org, rnd),
    ).fetchone()[0]

    # a run in flight
    generating_run = request_run(su, org, busy_round)
    generating_worker = f"sec-{tag}-busy"
    claimed, _ = claim(worker, generating_worker)
    assert claimed == generating_run

    worker_id = f"sec-{tag}-registered"
    worker.execute(
        "select planner.register_worker(%s, %s, 4242, 'v', null)", (worker_id, f"host-{tag}")
    )
    return Org(
        id=org,
        members=members,
        round_id=rnd,
        spare_round_id=spare_round,
        busy_round_id=busy_round,
        units=units,
        spare_unit_id=spare_unit,
        empty_line_id=empty_line,
        completed_run_id=run_id,
        completed_worker=completed_worker,
        generating_run_id=generating_run,
        generating_worker=generating_worker,
        history_id=history,
        worker_id=worker_id,
    )


def build_world(su: psycopg.Connection, worker: psycopg.Connection) -> World:
    a = build_org(su, worker, "a")
    b = build_org(su, worker, "b")
    return World(su=su, worker=worker, a=a, b=b, stranger=new_user(su, "stranger"))
