"""Which database errors are an outage (retry) and which are an answer (stop).

A finished plan is worth holding on to: a database that is restarting, read-only (a full
disk, a failover in progress), out of connection slots or that aborted us as a
serialisation/deadlock victim will take the same call later. Everything else raised by a
planner function (a refused payload, a fencing exception) is the database's answer.
"""

from __future__ import annotations

import asyncpg

from listener.db import CONNECTION_ERRORS

# SQLSTATE classes and codes (PostgreSQL Appendix A) that say "not now", not "no".
TRANSIENT_SQLSTATE_PREFIXES = (
    "08",  # connection exception
    "53",  # insufficient resources: disk full, out of memory, too many connections (53300)
    "57P0",  # admin/crash shutdown, cannot connect now, database dropped (a failover)
)
TRANSIENT_SQLSTATES = frozenset(
    {
        "25006",  # read_only_sql_transaction: default_transaction_read_only, a hot standby
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
    }
)


def is_transient(exc: BaseException) -> bool:
    """True when the same call may well succeed later (connection loss included)."""
    if isinstance(exc, asyncpg.PostgresError):
        code = exc.sqlstate or ""
        return code.startswith(TRANSIENT_SQLSTATE_PREFIXES) or code in TRANSIENT_SQLSTATES
    return isinstance(exc, CONNECTION_ERRORS)
