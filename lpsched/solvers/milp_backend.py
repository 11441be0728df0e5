"""Solving one period model with HiGHS or CBC: quiet stdout, warm starts, honest outcomes.

``formulations/milp.md`` ("Solver output and statuses") says why each device
here is needed: HiGHS prints a banner from C++, PuLP 3.3 neither passes
initial values to HiGHS nor maps all of its statuses, CBC interrupted by its
time limit may call a feasible model infeasible, and CBC does not always
honour its time limit (so it runs as a child process that is stopped on
request and killed past its limit). A solve stops early when ``stop`` is set
(HiGHS at its next callback, CBC by SIGINT) or, with ``patience``, when
HiGHS has found no better solution for that many seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pulp

from .milp_model import PeriodModel

#: Backend name -> solver name in results.
BACKENDS: dict[str, str] = {"highs": "milp", "cbc": "milp-cbc"}

#: Outcomes of one solve.
FEASIBLE, INFEASIBLE, UNKNOWN = "feasible", "infeasible", "unknown"

#: CBC is killed when it runs this many seconds, plus this share of its limit, past
#: its limit: it does not check the limit everywhere (a model of a million
#: nonzeros ran 14 minutes with ``-sec 0.01``).
CBC_GRACE_SECONDS = 1.0
CBC_GRACE_SHARE = 0.25

#: Seconds CBC is given to write its solution after SIGINT before it is killed.
CBC_STOP_SECONDS = 1.0

#: Above this period HiGHS's integrality tolerance (1e-6) times ``T`` would be more
#: than a tenth of a unit; it is tightened to ``0.1 / T`` (at least 1e-10).
TIGHT_TOLERANCE_PERIOD = 100_000


@contextlib.contextmanager
def _stdout_to_devnull() -> Iterator[None]:
    """Point file descriptor 1 at /dev/null: HiGHS prints its banner from C++.

    Always descriptor 1, which C++ writes to, whatever ``sys.stdout`` is (a
    capture may give it another descriptor); nothing happens when 1 is closed.
    """
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
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


class _Watch:
    """When a HiGHS run should stop: ``stop`` set, or no better solution for ``patience`` s.

    The patience counts from the first solution HiGHS finds that beats
    ``start`` (the objective of the MIP start, which HiGHS reports as its
    first solution): before it, only the time limit ends the search.
    """

    def __init__(
        self,
        stop: threading.Event | None,
        patience: float | None,
        start: float | None = None,
        time_limit: float | None = None,
    ) -> None:
        self.stop, self.patience, self.start = stop, patience, start
        self.last: float | None = None
        # HiGHS does not check its own limit everywhere (completing a partial MIP
        # start ran 2.5 s for a limit of 1.2 s): the callbacks check it too.
        self.deadline = None if time_limit is None else time.perf_counter() + time_limit

    def improved(self, event: Any) -> None:
        """A better solution: the patience starts again."""
        value = event.data_out.objective_function_value
        if self.start is not None and value > self.start - 0.5:
            return  # the MIP start itself (objectives are integers here)
        self.last = time.perf_counter()

    def check(self, event: Any) -> None:
        """Interrupt on ``stop``, past the time limit, or when the patience has run out."""
        now = time.perf_counter()
        late = (
            self.patience is not None and self.last is not None and now - self.last > self.patience
        )
        if late:
            event.interrupt()
        else:
            self.check_stop(event)

    def check_stop(self, event: Any) -> None:
        """Interrupt on ``stop`` or past the time limit (the patience is for the MIP search)."""
        past = self.deadline is not None and time.perf_counter() > self.deadline
        if past or (self.stop is not None and self.stop.is_set()):
            event.interrupt()


class _HiGHS(pulp.HiGHS):
    """PuLP's HiGHS interface, silent on stdout, with warm starts and a log callback.

    PuLP 3.3 passes ``warmStart`` to HiGHS as an (unknown) option and never
    calls ``setSolution``; this subclass does, with the values given by
    ``setInitialValue``.
    """

    def __init__(
        self, *, warm_start: bool, log: _LineLog | None, watch: _Watch, **kwargs: Any
    ) -> None:
        super().__init__(msg=log is not None, **kwargs)
        self.warm_start, self.line_log, self.watch = warm_start, log, watch

    def createAndConfigureSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 (PuLP's name)
        with _stdout_to_devnull():
            super().createAndConfigureSolver(lp)
        h = lp.solverModel
        if self.line_log is not None:
            h.setOptionValue("log_to_console", False)
            line_log = self.line_log
            h.cbLogging += lambda event: line_log.write(event.message)
        # Callbacks only watch: they never change what HiGHS does until they interrupt it.
        h.cbMipImprovingSolution += self.watch.improved
        h.cbMipInterrupt += self.watch.check
        h.cbSimplexInterrupt += self.watch.check_stop

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
    *,
    stop: threading.Event | None = None,
    patience: float | None = None,
) -> str:
    """Solve ``model``; return ``feasible`` (values loaded), ``infeasible`` or ``unknown``.

    ``model.proven`` tells afterwards whether the solver proved its answer
    (infeasibility, or optimality of the solution). ``log`` receives the
    solver's raw log. ``max_solutions`` stops the search after that many
    improving solutions; ``stop`` (an event) ends it when set; ``patience``
    (HiGHS only) when no better solution came for that many seconds.
    """
    prob = model.prob
    model.proven = False
    if backend == "highs":
        start = prob.objective.value() if warm_start and patience is not None else None
        watch = _Watch(stop, patience, start, time_limit)
        _run_highs(prob, model.period, time_limit, seed, log, warm_start, max_solutions, watch)
    else:
        t0 = time.perf_counter()
        _run_cbc(prob, time_limit, seed, log, warm_start, max_solutions, stop)
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
        if stop is not None and stop.is_set():
            return UNKNOWN  # an interrupted run proves nothing
        model.proven = True
        return INFEASIBLE
    if prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        model.proven = prob.sol_status == pulp.LpSolutionOptimal
        return FEASIBLE
    return UNKNOWN


def _run_highs(
    prob: pulp.LpProblem,
    period: int,
    time_limit: float | None,
    seed: int,
    log: Callable[[str], None] | None,
    warm_start: bool,
    max_solutions: int | None,
    watch: _Watch,
) -> None:
    line_log = _LineLog(log, "  highs: ") if log is not None else None
    options: dict[str, Any] = {"random_seed": int(seed) % 2147483647}
    if time_limit is not None:
        options["timeLimit"] = max(0.01, time_limit)
    if max_solutions is not None:
        options["mip_max_improving_sols"] = max_solutions
    if period > TIGHT_TOLERANCE_PERIOD:
        options["mip_feasibility_tolerance"] = max(1e-10, 0.1 / period)
    solver = _HiGHS(warm_start=warm_start, log=line_log, watch=watch, **options)
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
    stop: threading.Event | None,
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
        solver = _CBC(
            stop=stop,
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
            with open(logfile, errors="replace") as fh:
                for line in fh:
                    if line.strip():
                        log(f"  cbc: {line.rstrip()}")
        if logfile is not None:
            os.unlink(logfile)


class _CBC(pulp.PULP_CBC_CMD):
    """PuLP's bundled CBC with the command line PuLP writes, run as a child we watch.

    The child is sent SIGINT when ``stop`` is set (CBC then writes its best
    solution) and killed when it runs past its time limit by more than
    :data:`CBC_GRACE_SECONDS` plus :data:`CBC_GRACE_SHARE` of the limit; a
    killed run has no solution (``unknown``).
    """

    def __init__(self, *, stop: threading.Event | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stop = stop

    def actualSolve(self, lp: pulp.LpProblem, **kwargs: Any) -> int:  # noqa: N802 (PuLP's name)
        tmp_lp, tmp_mps, tmp_sol, tmp_mst = self.create_tmp_files(
            lp.name, "lp", "mps", "sol", "mst"
        )
        vs, var_names, row_names, _ = lp.writeMPS(tmp_mps, rename=1)
        args = [self.path, tmp_mps]
        if lp.sense == pulp.LpMaximize:
            args.append("-max")
        if self.optionsDict.get("warmStart", False):
            self.writesol(tmp_mst, lp, vs, var_names, row_names)
            args += ["-mips", tmp_mst]
        if self.timeLimit is not None:
            args += ["-sec", f"{self.timeLimit}"]
        for option in self.options + self.getOptions():
            args += f"-{option}".split()
        args += ["-solve", "-printingOptions", "all", "-solution", tmp_sol]
        log_path = self.optionsDict.get("logPath") or os.devnull
        with open(log_path, "w") as out:
            child = subprocess.Popen(args, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
            finished = self._wait(child)
        if finished and child.returncode == 0 and os.path.exists(tmp_sol):
            status, values, _, _, _, sol_status = self.readsol_MPS(
                tmp_sol, lp, vs, var_names, row_names
            )
            lp.assignVarsVals(values)
            lp.assignStatus(status, sol_status)
        else:
            lp.assignStatus(pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound)
        self.delete_tmp_files(tmp_mps, tmp_lp, tmp_sol, tmp_mst)
        return lp.status

    def _wait(self, child: subprocess.Popen[bytes]) -> bool:
        """Wait for CBC; SIGINT on ``stop``, kill past the limit. Whether it ended by itself."""
        began = time.perf_counter()
        limit = None
        if self.timeLimit is not None:
            limit = self.timeLimit * (1 + CBC_GRACE_SHARE) + CBC_GRACE_SECONDS
        interrupted = None
        while True:
            try:
                child.wait(timeout=0.05)
                return True
            except subprocess.TimeoutExpired:
                pass
            now = time.perf_counter()
            if interrupted is None and self.stop is not None and self.stop.is_set():
                child.send_signal(signal.SIGINT)
                interrupted = now
            late = limit is not None and now - began > limit
            if late or (interrupted is not None and now - interrupted > CBC_STOP_SECONDS):
                child.kill()
                child.wait()
                return False
