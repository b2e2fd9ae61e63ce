"""Time budget, cancellation and progress for one solve, shared by every CP-SAT call in it.

A watcher thread turns a cancel request into `CpSolver.stop_search()` on whichever solver
is running, so a long CP-SAT call stops within milliseconds; the stage loops poll
`stopped` between iterations.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ortools.sat.python import cp_model

from constraints.progress import CancelToken, ProgressReporter


class Stopped(Exception):
    """The solve was cancelled or ran out of time between two steps."""


@dataclass
class CpOutcome:
    status: int
    solver: cp_model.CpSolver

    @property
    def found(self) -> bool:
        return self.status in (cp_model.OPTIMAL, cp_model.FEASIBLE)

    @property
    def optimal(self) -> bool:
        return self.status == cp_model.OPTIMAL


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(self, control: Control, phase: str, collect) -> None:
        super().__init__()
        self._control = control
        self._phase = phase
        self._collect = collect

    def on_solution_callback(self) -> None:
        if self._collect is not None:
            self._collect(self)
        else:
            self._control.reporter.solutions += 1
            self._control.report(self._phase, self.objective_value, self.best_objective_bound)
        if self._control.stopped:
            self.stop_search()


class Control:
    def __init__(
        self,
        *,
        time_limit_s: float,
        seed: int,
        deterministic: bool,
        cancel: CancelToken | None,
        reporter: ProgressReporter,
        started: float,
    ) -> None:
        self.deadline = started + time_limit_s
        self.time_limit_s = time_limit_s
        self.seed = seed
        self.deterministic = deterministic
        self.cancel = cancel or CancelToken()
        self.reporter = reporter
        self.started = started
        self._current: cp_model.CpSolver | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._done.is_set():
            if self.cancel.wait(0.05):
                with self._lock:
                    if self._current is not None:
                        self._current.stop_search()
                if self._done.wait(0.05):
                    return

    def close(self) -> None:
        self._done.set()
        self._watcher.join(timeout=1)

    @property
    def cancelled(self) -> bool:
        return self.cancel.cancelled

    @property
    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    @property
    def stopped(self) -> bool:
        """Cancelled, or past the deadline as it stands now (the solver moves it back to
        keep time for a later stage, then restores it)."""
        return self.cancelled or self.remaining <= 0

    def check(self) -> None:
        if self.stopped:
            raise Stopped

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def report(self, phase: str, objective, bound, *, force: bool = False) -> None:
        percent = min(100.0, 100.0 * self.elapsed() / self.time_limit_s)
        self.reporter.report(phase, objective, bound, round(percent, 1), force=force)

    def run(
        self,
        model: cp_model.CpModel,
        phase: str,
        *,
        workers: int = 1,
        time_cap: float | None = None,
        work_cap: float | None = None,
        collect=None,
    ) -> CpOutcome:
        """Solve under the remaining budget; `collect(callback)` sees every solution.

        In deterministic mode a `time_cap` becomes a cap on CP-SAT's deterministic time, so
        the same plan stops at the same point on any machine; only the solve's own time
        limit stays wall-clock (a safety net: hitting it may break determinism).
        """
        self.check()
        solver = cp_model.CpSolver()
        params = solver.parameters
        limit = self.remaining
        if time_cap is not None and self.deterministic:
            work_cap = time_cap if work_cap is None else min(work_cap, time_cap)
        elif time_cap is not None:
            limit = min(limit, time_cap)
        params.max_time_in_seconds = max(limit, 0.01)
        if work_cap is not None:  # deterministic effort limit: same plan, same answer
            params.max_deterministic_time = work_cap
        params.random_seed = self.seed
        params.num_workers = workers
        if workers > 1 and self.deterministic:
            params.interleave_search = True  # reproducible parallel portfolio
        with self._lock:
            self._current = solver
        try:
            status = solver.solve(model, _Callback(self, phase, collect))
        finally:
            with self._lock:
                self._current = None
        if self.cancelled:
            raise Stopped
        return CpOutcome(int(status), solver)
