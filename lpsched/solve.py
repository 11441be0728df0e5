"""The one entry point: :func:`solve` a task graph on a platform with any solver."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .errors import InputError
from .graph import TaskGraph
from .platform import Platform
from .problem import Problem, as_problem
from .schedule import Result, Status
from .solvers.registry import SOLVERS as REGISTRY
from .solvers.registry import Options, check_numbers
from .solvers.toolkit import least_staleness
from .validate import check_schedule

#: Solver name -> one-line description (the registry holds the rest).
SOLVERS: dict[str, str] = {name: info.description for name, info in REGISTRY.items()}

SECONDARY = ("comm", "staleness", "none")

__all__ = ["SECONDARY", "SOLVERS", "abandoned", "least_staleness", "solve"]


def solve(
    graph: TaskGraph | Problem,
    platform: Platform | int | None = None,
    solver: str = "heuristic",
    *,
    time_limit: float | None = None,
    seed: int = 0,
    workers: int | None = None,
    secondary: str = "comm",
    log: Callable[[str], None] | None = None,
    export: str | None = None,
    deterministic: bool = False,
    solver_log: Callable[[str], None] | None = None,
    placement: str | None = None,
) -> Result:
    """Find a periodic schedule of ``graph`` on ``platform``.

    Parameters
    ----------
    graph
        The task graph (see :func:`lpsched.taskgraph.build_task_graph`), or a
        :class:`~lpsched.problem.Problem` (then no ``platform``).
    platform
        The platform, or ``P`` for the default platform of ``P`` processors.
    solver
        One of :data:`SOLVERS`.
    time_limit
        Wall-time limit in seconds (``None``: the solver's default, 60 s for
        the exact solvers, said through ``log``). A solver stops earlier when it
        has proven its answer; a limit never turns ``feasible`` into ``optimal``.
    seed, workers
        Random seed and number of search workers (CP-SAT); one worker and a
        seed give the same answer twice.
    secondary
        Second objective at the optimal period of the exact solvers:
        ``comm`` (communication bytes per iteration), ``staleness`` (total
        staleness) or ``none``. Solvers without one ignore it.
    log
        Receives progress lines (one per improvement); ``None`` for silence.
    export
        MILP only: write the model for the proven period to this ``.lp`` or ``.mps`` file.
    deterministic
        Stop by work, not wall time, so that the same call gives the same
        schedule on any machine however busy (solvers that declare it).
    solver_log
        Receives the underlying solver's raw log; ``None`` for silence.
    placement
        ``free``, ``layer`` or ``stages`` (:mod:`lpsched.placement`); ``None``
        keeps a problem's own and is ``free`` for a graph.

    Returns
    -------
    Result
        The validated schedule with its status, lower bound and wall time.
        Interrupted from the keyboard (Ctrl-C), the best schedule found so far,
        validated, with ``stats["interrupted"] = True``.

    Raises
    ------
    InputError
        On an unknown solver or secondary objective, a request the solver
        cannot take, or a bad platform.
    """
    if solver not in REGISTRY:
        raise InputError(f"unknown solver {solver!r}; choose from {', '.join(REGISTRY)}")
    if secondary not in SECONDARY:
        raise InputError(f"unknown secondary objective {secondary!r}; choose from {SECONDARY}")
    check_numbers(time_limit, seed, workers)
    start = time.perf_counter()
    problem = as_problem(graph, platform, placement)
    info = REGISTRY[solver]
    wanted = None if secondary == "none" or not info.secondaries else secondary
    if deterministic and not info.deterministic:
        takes = [s.name for s in REGISTRY.values() if s.deterministic]
        raise InputError(f"--deterministic needs --solver {' or '.join(takes)}")
    if time_limit is None and info.default_time_limit is not None:
        time_limit = info.default_time_limit
        if log is not None:
            log(f"{solver}: no time limit given: at most {time_limit:g} s")
    options = Options(
        time_limit=time_limit,
        seed=seed,
        workers=workers,
        secondary=wanted,
        log=log,
        export=export,
        deterministic=deterministic,
        solver_log=solver_log,
    )
    info.check(problem, options)
    lb = problem.lower_bound
    reason = problem.bounds.memory_infeasible
    if reason is not None:
        # Proven for every solver alike: no need to run one.
        stats = {"reason": reason}
        return _finish(
            Result(None, Status.INFEASIBLE, lb, solver, 0.0, stats=stats), problem, lb, start
        )
    options = _remaining(options, start)
    result, interrupted = _run(info, problem, options)
    if interrupted:
        result = _interrupted(result, options, lb, solver, start)
    return _finish(result, problem, lb, start)


#: Seconds an interrupted solver is given to return its best schedule before the
#: incumbent it offered is taken instead.
GRACE_SECONDS = 5.0

#: One event per solver thread that an interrupt left running past its grace; set
#: when the thread ends (see :func:`abandoned`).
_LEFT_RUNNING: list[threading.Event] = []


def abandoned() -> bool:
    """Whether a solver thread left running by Ctrl-C has not ended yet.

    Such a thread may be inside CP-SAT or HiGHS; exiting the interpreter under
    it can abort the process from C++ (a joinable ``std::thread`` destroyed), so
    the command line then leaves with ``os._exit`` once its output is written.
    """
    return any(not ended.is_set() for ended in _LEFT_RUNNING)


def _run(info: Any, problem: Problem, options: Options) -> tuple[Result | None, bool]:
    """Run the solver; on Ctrl-C ask it to stop and keep what it has.

    Python delivers SIGINT to the main thread only, and only between bytecodes:
    a solver blocked in native code (CP-SAT, HiGHS) would not see it. So the
    solver runs in a worker thread while the main thread waits; a
    KeyboardInterrupt sets ``options.stop``, which the solvers poll (CP-SAT
    stops its search through it), and the solver's result, or the incumbent
    it offered, is what the caller gets.

    The wait is on an event the worker sets, not on ``Thread.join``: a join
    that a KeyboardInterrupt breaks can leave Python 3.11's thread reporting
    itself ended while it still runs (CPython gh-90882), and the grace would
    then be skipped.
    """
    if threading.current_thread() is not threading.main_thread():
        return info.run(problem, options), False
    box: dict[str, Any] = {}
    ended = threading.Event()

    def target() -> None:
        try:
            box["result"] = info.run(problem, options)
        except BaseException as err:  # re-raised in the caller's thread
            box["error"] = err
        finally:
            ended.set()

    worker = threading.Thread(target=target, name=f"lpsched-{info.name}", daemon=True)
    worker.start()
    interrupted = False
    try:
        while not ended.wait(0.1):  # a timed wait, so that Ctrl-C is seen within 0.1 s
            pass
    except KeyboardInterrupt:
        interrupted = True
        options.stop.set()
        if not ended.wait(GRACE_SECONDS):
            _LEFT_RUNNING.append(ended)
    if "error" in box:
        raise box["error"]
    return box.get("result"), interrupted


def _interrupted(
    result: Result | None, options: Options, lb: int, solver: str, start: float
) -> Result:
    """What an interrupted solve keeps: the solver's result, else its incumbent."""
    best = options.incumbent.best
    if (
        result is None
        or result.schedule is None
        or (best is not None and best.period < result.schedule.period)
    ):
        if best is None:
            raise KeyboardInterrupt
        result = Result(best, Status.FEASIBLE, lb, solver, time.perf_counter() - start)
    stats = dict(result.stats)
    stats["interrupted"] = True
    return replace(result, stats=stats)


def _remaining(options: Options, start: float) -> Options:
    """The options with the time limit less what the bounds took."""
    if options.time_limit is None or options.deterministic:
        return options  # a deterministic budget must not depend on how long the bounds took
    left = max(0.1, options.time_limit - (time.perf_counter() - start))
    return replace(options, time_limit=left)


def _finish(result: Result, problem: Problem, lb: int, start: float) -> Result:
    """Lower staleness, validate, and fill in provenance; never returns an invalid schedule."""
    sched = result.schedule
    if sched is not None:
        # The validator checks the placement the problem asked for, not one a solver claims.
        sched = replace(least_staleness(sched), placement=problem.placement)
        check_schedule(sched)
    bound = max(lb, result.lower_bound)
    status = result.status
    if sched is not None and sched.period == bound:
        status = Status.OPTIMAL
    if sched is not None and sched.period < bound:
        raise RuntimeError(f"{result.solver}: period {sched.period} below lower bound {bound}")
    elapsed = time.perf_counter() - start
    stats = dict(result.stats)
    secondary = stats.get("secondary")
    if isinstance(secondary, dict) and isinstance(secondary.get("seconds"), int | float):
        # The secondary objective runs on to the time limit; users want when T was settled.
        stats["settled_seconds"] = round(max(0.0, elapsed - secondary["seconds"]), 3)
    return Result(
        schedule=sched,
        status=status,
        lower_bound=bound,
        solver=result.solver,
        solve_seconds=elapsed,
        network=problem.graph.name,
        decomposition=problem.graph.decomposition,
        stats=stats,
    )
