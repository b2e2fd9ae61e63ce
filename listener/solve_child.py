"""The solve child process: plan document in, progress and one result out, over a pipe.

Runs in a process started by the forkserver (never forked from the event loop). The
messages both ways are the classes of `listener.messages`; a closed pipe means the parent is
gone, so we exit too.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import threading
import traceback
from multiprocessing.connection import Connection
from typing import Any

import constraints
from listener.messages import (
    Cancel,
    ChildMessage,
    Crashed,
    OutOfMemory,
    PlanRejected,
    Progress,
    Solved,
)

PROGRESS_FIELDS = ("elapsed_s", "phase", "objective", "bound", "solutions", "percent")
MIB = 1024 * 1024


def progress_to_json(progress: Any) -> dict[str, Any]:
    out = {field: getattr(progress, field, None) for field in PROGRESS_FIELDS}
    for key in ("elapsed_s", "objective", "bound", "percent"):
        value = out[key]
        if isinstance(value, float):
            out[key] = round(value, 3)
    return out


def cap_memory(memory_mb: int) -> None:
    if memory_mb <= 0:
        return
    # Fewer malloc arenas: each solver thread would otherwise reserve 64 MiB of address
    # space it never uses, which counts against RLIMIT_AS.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    limit = memory_mb * MIB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _obey_parent(conn: Connection, token: Any) -> None:
    """Set the cancel token on `Cancel`; exit at once when the parent disappears."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            token.cancel()
            os._exit(3)
        if isinstance(message, Cancel):
            token.cancel()


def child_main(conn: Connection, plan_doc: dict, memory_mb: int) -> None:
    send_lock = threading.Lock()

    def send(message: ChildMessage) -> None:
        with send_lock:
            try:
                conn.send(message)
            except (BrokenPipeError, OSError):
                os._exit(3)  # parent gone: nobody wants this solve any more

    try:
        cap_memory(memory_mb)
        token = constraints.CancelToken()
        threading.Thread(target=_obey_parent, args=(conn, token), daemon=True).start()
        plan = constraints.load_plan(plan_doc)
        result = constraints.solve(
            plan,
            on_progress=lambda progress: send(Progress(progress_to_json(progress))),
            cancel=token,
        )
        send(Solved(result.to_json()))
    except constraints.PlanError as exc:
        send(PlanRejected(str(exc), [str(problem) for problem in exc.problems]))
    except MemoryError:
        send(OutOfMemory(f"the solve needed more than the {memory_mb} MB memory cap"))
    except BaseException as exc:
        send(Crashed(f"{type(exc).__name__}: {exc}", traceback.format_exc()))
