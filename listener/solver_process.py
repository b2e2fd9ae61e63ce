"""Parent side of a solve child: start it, read its messages, cancel or kill it.

Children come from a multiprocessing *forkserver* whose process imported the engine once
(`set_forkserver_preload`), so a solve starts in milliseconds without ever forking the
asyncio process itself. A child that dies (signal, out of memory) closes the pipe, which
the parent sees as end-of-file: the worker lives on.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import weakref
from dataclasses import dataclass
from functools import cache
from multiprocessing.context import ForkServerContext

import anyio

from listener.messages import Cancel, ChildMessage
from listener.solve_child import child_main

# Every live child, so a forced exit (second signal) can kill them synchronously.
LIVE_CHILDREN: weakref.WeakSet[SolverProcess] = weakref.WeakSet()


@cache
def solver_context() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["listener.solve_child"])
    return context


def _noop() -> None:
    pass


def warm_up() -> None:
    """Start the forkserver (engine imported) now instead of on the first run. Blocking."""
    process = solver_context().Process(target=_noop, name="planner-warmup", daemon=True)
    process.start()
    process.join(60)


@dataclass(frozen=True)
class ChildExit:
    """The pipe closed without a result: the child died."""

    exitcode: int | None

    def describe(self) -> str:
        code = self.exitcode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"killed by {name}"
        return f"exited with code {code}"


class SolverProcess:
    def __init__(self, plan_doc: dict, memory_mb: int, *, name: str = "planner-solve"):
        context = solver_context()
        self._conn, child_conn = context.Pipe(duplex=True)
        self._child_conn = child_conn
        self.process = context.Process(
            target=child_main, args=(child_conn, plan_doc, memory_mb), name=name, daemon=True
        )

    async def start(self) -> None:
        # start() pickles the plan to the forkserver: keep that off the event loop.
        await anyio.to_thread.run_sync(self.process.start)
        self._child_conn.close()  # so EOF reaches us when the child dies
        LIVE_CHILDREN.add(self)

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.pid is not None and self.process.exitcode is None

    async def next_message(self) -> ChildMessage | ChildExit:
        """The next message, or ChildExit once the pipe is closed."""
        try:
            await anyio.wait_readable(self._conn.fileno())
            return self._conn.recv()
        except (EOFError, OSError):
            return ChildExit(await self.wait_exit())

    async def wait_exit(self) -> int | None:
        """Await the child's exit. One waiter at a time (the event loop allows one reader)."""
        await anyio.wait_readable(self.process.sentinel)
        self.process.join()
        return self.process.exitcode

    def cancel(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # already gone
            self._conn.send(Cancel())

    def kill(self) -> None:
        if self.running:
            with contextlib.suppress(OSError, ValueError):
                self.process.kill()

    def close(self) -> None:
        """Kill if still running and release the pipe. Safe to call twice."""
        self.kill()
        LIVE_CHILDREN.discard(self)
        self._conn.close()
        if self.process.pid is not None:
            self.process.join(5)


def kill_all_children() -> None:
    for child in list(LIVE_CHILDREN):
        child.kill()
