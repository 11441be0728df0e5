"""The one entry point: :func:`solve` a task graph on a platform with any solver."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from .errors import InputError
from .graph import TaskGraph
from .platform import Platform
from .problem import Problem, as_problem
from .schedule import Result, Status
from .solvers.registry import SOLVERS as REGISTRY
from .solvers.registry import Options
from .solvers.toolkit import least_staleness
from .validate import check_schedule

#: Solver name -> one-line description (the registry holds the rest).
SOLVERS: dict[str, str] = {name: info.description for name, info in REGISTRY.items()}

SECONDARY = ("comm", "staleness", "none")

__all__ = ["SECONDARY", "SOLVERS", "least_staleness", "solve"]


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
        Wall-time limit in seconds for the exact solvers (``None``: no limit).
        A limit never turns ``feasible`` into ``optimal``.
    seed, workers
        Random seed and number of search workers (CP-SAT); one worker and a
        seed give the same answer twice.
    secondary
        Second objective at the optimal period of the exact solvers:
        ``comm`` (communication bytes per iteration), ``staleness`` (total
        staleness) or ``none``. Solvers without one ignore it.
    log
        Receives progress lines (and the solver's log); ``None`` for silence.
    export
        MILP only: write the model for the proven period to this ``.lp`` or ``.mps`` file.

    Returns
    -------
    Result
        The validated schedule with its status, lower bound and wall time.

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
    if time_limit is not None and not (time_limit > 0 and math.isfinite(time_limit)):
        raise InputError(f"time limit must be a positive number of seconds, got {time_limit}")
    start = time.perf_counter()
    problem = as_problem(graph, platform)
    info = REGISTRY[solver]
    wanted = None if secondary == "none" or not info.secondaries else secondary
    options = Options(
        time_limit=time_limit,
        seed=seed,
        workers=workers,
        secondary=wanted,
        log=log,
        export=export,
    )
    info.check(problem, options)
    lb = problem.lower_bound
    result = info.run(problem, _remaining(options, start))
    return _finish(result, problem, lb, start)


def _remaining(options: Options, start: float) -> Options:
    """The options with the time limit less what the bounds took."""
    if options.time_limit is None:
        return options
    from dataclasses import replace

    left = max(0.1, options.time_limit - (time.perf_counter() - start))
    return replace(options, time_limit=left)


def _finish(result: Result, problem: Problem, lb: int, start: float) -> Result:
    """Lower staleness, validate, and fill in provenance; never returns an invalid schedule."""
    sched = result.schedule
    if sched is not None:
        sched = least_staleness(sched)
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
