"""Solving one period model with HiGHS or CBC: quiet stdout, warm starts, honest outcomes.

``formulations/milp.md`` ("Solver output and statuses") says why each device
here is needed: HiGHS prints a banner from C++, PuLP 3.3 neither passes
initial values to HiGHS nor maps all of its statuses, and CBC interrupted by
its time limit may call a feasible model infeasible.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import pulp

from .milp_model import PeriodModel

#: Backend name -> solver name in results.
BACKENDS: dict[str, str] = {"highs": "milp", "cbc": "milp-cbc"}

#: Outcomes of one solve.
FEASIBLE, INFEASIBLE, UNKNOWN = "feasible", "infeasible", "unknown"


@contextlib.contextmanager
def _stdout_to_devnull() -> Iterator[None]:
    """Point file descriptor 1 at /dev/null: HiGHS prints its banner from C++."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        fd = 1
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class _LineLog:
    """Turns chunks of solver output into whole lines for a ``log`` callable."""

    def __init__(self, log: Callable[[str], None], prefix: str) -> None:
        self.log, self.prefix, self.buffer = log, prefix, ""

    def write(self, text: str) -> None:
        self.buffer += text
        *lines, self.buffer = self.buffer.split("\n")
        for line in lines:
            if line.strip():
                self.log(self.prefix + line.rstrip())

    def flush(self) -> None:
        if self.buffer.strip():
            self.log(self.prefix + self.buffer.rstrip())
        self.buffer = ""


class _HiGHS(pulp.HiGHS):
    """PuLP's HiGHS interface, silent on stdout, with warm starts and a log callback.

    PuLP 3.3 passes ``warmStart`` to HiGHS as an (unknown) option and never
    calls ``setSolution``; this subclass does, with the values given by
    ``setInitialValue``.
    """

    def __init__(self, *, warm_start: bool, log: _LineLog | None, **kwargs: Any) -> None:
        super().__init__(msg=log is not None, **kwargs)
        self.warm_start, self.line_log = warm_start, log

    def createAndConfigureSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 (PuLP's name)
        with _stdout_to_devnull():
            super().createAndConfigureSolver(lp)
        h = lp.solverModel
        if self.line_log is not None:
            h.setOptionValue("log_to_console", False)
            line_log = self.line_log
            h.cbLogging += lambda event: line_log.write(event.message)

    def actualSolve(self, lp: pulp.LpProblem) -> int:  # noqa: N802 (PuLP's name)
        # PuLP 3.3 maps HiGHS statuses through a table that lacks some (e.g. the
        # solution limit) and reads values even when there is no solution.
        self.createAndConfigureSolver(lp)
        self.buildSolverModel(lp)
        self.callSolver(lp)
        h = lp.solverModel
        status = h.getModelStatus()
        ms = type(status)
        has_solution = h.getInfo().primal_solution_status == 2  # kSolutionStatusFeasible
        if has_solution:
            values = list(h.getSolution().col_value)
            for var in lp.variables():
                var.varValue = values[var.index]
        if status == ms.kOptimal:
            lp.assignStatus(pulp.LpStatusOptimal, pulp.LpSolutionOptimal)
        elif status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
            lp.assignStatus(pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible)
        elif has_solution:
            lp.assignStatus(pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible)
        else:
            lp.assignStatus(pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound)
        return lp.status

    def buildSolverModel(self, lp: pulp.LpProblem) -> None:  # noqa: N802 (PuLP's name)
        super().buildSolverModel(lp)
        if not self.warm_start:
            return
        given = [(v.index, v.varValue) for v in lp.variables() if v.varValue is not None]
        if given:
            idx, val = zip(*given, strict=True)
            lp.solverModel.setSolution(len(idx), list(idx), [float(x) for x in val])


def solve_model(
    model: PeriodModel,
    backend: str,
    time_limit: float | None,
    seed: int,
    log: Callable[[str], None] | None,
    warm_start: bool,
    max_solutions: int | None = None,
) -> str:
    """Solve ``model``; return ``feasible`` (values loaded), ``infeasible`` or ``unknown``.

    ``model.proven`` tells afterwards whether the solver proved its answer
    (infeasibility, or optimality of the solution). ``max_solutions`` stops
    the search after that many improving solutions.
    """
    prob = model.prob
    model.proven = False
    if backend == "highs":
        _run_highs(prob, time_limit, seed, log, warm_start, max_solutions)
    else:
        t0 = time.perf_counter()
        _run_cbc(prob, time_limit, seed, log, warm_start, max_solutions)
        if (
            prob.status == pulp.LpStatusInfeasible
            and time_limit is not None
            and time.perf_counter() - t0 >= time_limit
        ):
            # CBC interrupted by its time limit during preprocessing may report
            # "Pre-processing says infeasible": only a run that ended before the
            # limit (wall time here includes writing the MPS file) proves anything.
            return UNKNOWN
    if prob.status == pulp.LpStatusInfeasible:
        model.proven = True
        return INFEASIBLE
    if prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        model.proven = prob.sol_status == pulp.LpSolutionOptimal
        return FEASIBLE
    return UNKNOWN


def _run_highs(
    prob: pulp.LpProblem,
    time_limit: float | None,
    seed: int,
    log: Callable[[str], None] | None,
    warm_start: bool,
    max_solutions: int | None,
) -> None:
    line_log = _LineLog(log, "  highs: ") if log is not None else None
    options: dict[str, Any] = {"random_seed": int(seed) % 2147483647}
    if time_limit is not None:
        options["timeLimit"] = max(0.01, time_limit)
    if max_solutions is not None:
        options["mip_max_improving_sols"] = max_solutions
    solver = _HiGHS(warm_start=warm_start, log=line_log, **options)
    # The banner is silenced in createAndConfigureSolver; the run itself logs
    # only through the callback (or not at all), and `log` may print.
    prob.solve(solver)
    if line_log is not None:
        line_log.flush()


def _run_cbc(
    prob: pulp.LpProblem,
    time_limit: float | None,
    seed: int,
    log: Callable[[str], None] | None,
    warm_start: bool,
    max_solutions: int | None,
) -> None:
    # CBC runs as a subprocess; with a log it writes to a file we pass on line by line.
    logfile = None
    if log is not None:
        fd, logfile = tempfile.mkstemp(prefix="lpsched-cbc-", suffix=".log")
        os.close(fd)
    options = [f"randomCbcSeed {int(seed) % 2147483646 + 1}"]  # 0 would mean time of day
    if max_solutions is not None:
        options.append(f"maxSolutions {max_solutions}")
    try:
        solver = pulp.PULP_CBC_CMD(
            msg=False,
            timeLimit=None if time_limit is None else max(0.01, time_limit),
            warmStart=warm_start,
            threads=1,
            logPath=logfile,
            options=options,
        )
        prob.solve(solver)
    finally:
        if logfile is not None and log is not None:
            with open(logfile) as fh:
                for line in fh:
                    if line.strip():
                        log(f"  cbc: {line.rstrip()}")
        if logfile is not None:
            os.unlink(logfile)
