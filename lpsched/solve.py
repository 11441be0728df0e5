"""The one entry point: :func:`solve` a task graph on ``P`` processors with any solver."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from .bounds import lower_bounds
from .errors import InputError
from .graph import TaskGraph
from .schedule import Result, Schedule, Status
from .validate import check_schedule

SOLVERS: dict[str, str] = {
    "heuristic": "modulo list scheduling (Rau's iterative modulo scheduling with processor choice)",
    "pipedream": "PipeDream planner: contiguous stages by dynamic programming (the baseline)",
    "cpsat": "exact CP-SAT model (OR-Tools), warm-started by the heuristic",
    "milp": "exact MILP (PuLP + HiGHS), warm-started by the heuristic",
    "milp-cbc": "exact MILP (PuLP + bundled CBC), warm-started by the heuristic",
}

SECONDARY = ("comm", "staleness", "none")


def least_staleness(schedule: Schedule) -> Schedule:
    """Lower every layer's staleness to the least that the start times allow.

    Only for graphs built with the ``auto`` staleness policy
    (``graph.staleness_cap`` set); other schedules come back unchanged. A weight
    edge ``u -> v`` of layer ``l`` needs ``s_l * T >= s_u + d_u + c - s_v``, so
    ``s_l = max(1, ceil((s_u + d_u + c - s_v) / T))`` over the layer's weight
    edges keeps the schedule valid with the smallest delay of the gradients.
    """
    graph = schedule.graph
    if graph.staleness_cap is None:
        return schedule
    need: dict[str, int] = {}
    T = schedule.period
    for e in graph.edges:
        if e.weights is None:
            continue
        comm = e.comm if schedule.processor[e.src] != schedule.processor[e.dst] else 0
        slack = schedule.start[e.src] + graph.task(e.src).duration + comm - schedule.start[e.dst]
        need[e.weights] = max(need.get(e.weights, 1), 1, math.ceil(slack / T))
    return schedule.with_graph(graph.with_staleness(need))


def solve(
    graph: TaskGraph,
    processors: int,
    solver: str = "heuristic",
    *,
    time_limit: float | None = None,
    seed: int = 0,
    workers: int | None = None,
    secondary: str = "comm",
    log: Callable[[str], None] | None = None,
    export: str | None = None,
) -> Result:
    """Find a periodic schedule of ``graph`` on ``processors`` processors.

    Parameters
    ----------
    graph
        The task graph (see :func:`lpsched.taskgraph.build_task_graph`).
    processors
        Number of identical processors ``P >= 1``.
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
        staleness) or ``none``.
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
        On an unknown solver or ``processors < 1``.
    """
    if solver not in SOLVERS:
        raise InputError(f"unknown solver {solver!r}; choose from {', '.join(SOLVERS)}")
    if secondary not in SECONDARY:
        raise InputError(f"unknown secondary objective {secondary!r}; choose from {SECONDARY}")
    if secondary == "staleness" and solver.startswith("milp"):
        raise InputError("--secondary staleness needs --solver cpsat")
    if export is not None and not solver.startswith("milp"):
        raise InputError("--export needs --solver milp or milp-cbc")
    if time_limit is not None and time_limit <= 0:
        raise InputError(f"time limit must be positive, got {time_limit}")
    start = time.perf_counter()
    bounds = lower_bounds(graph, processors)
    lb = bounds.lower_bound

    from .solvers.heuristic import modulo_schedule

    if solver == "pipedream":
        from .solvers.pipedream import pipedream_schedule

        sched = pipedream_schedule(graph, processors)
        result = _heuristic_result(sched, lb, "pipedream", start)
    else:
        sched = modulo_schedule(graph, processors, lower_bound=lb, seed=seed)
        if log is not None:
            log(f"heuristic: period {sched.period}, lower bound {lb}")
        if solver == "heuristic":
            result = _heuristic_result(sched, lb, solver, start)
        elif solver == "cpsat":
            from .solvers.cpsat import solve_cpsat

            remaining = _remaining(time_limit, start)
            result = solve_cpsat(
                graph,
                processors,
                lower_bound=lb,
                initial=sched,
                time_limit=remaining,
                workers=workers,
                seed=seed,
                secondary=None if secondary == "none" else secondary,
                log=log,
            )
        else:
            from .solvers.milp import solve_milp

            result = solve_milp(
                graph,
                processors,
                backend="cbc" if solver == "milp-cbc" else "highs",
                lower_bound=lb,
                initial=sched,
                time_limit=_remaining(time_limit, start),
                seed=seed,
                secondary=None if secondary == "none" else secondary,
                export=export,
                log=log,
            )
    return _finish(result, graph, lb, start)


def _remaining(time_limit: float | None, start: float) -> float | None:
    if time_limit is None:
        return None
    return max(0.1, time_limit - (time.perf_counter() - start))


def _heuristic_result(sched: Schedule, lb: int, solver: str, start: float) -> Result:
    status = Status.OPTIMAL if sched.period == lb else Status.FEASIBLE
    return Result(sched, status, lb, solver, time.perf_counter() - start)


def _finish(result: Result, graph: TaskGraph, lb: int, start: float) -> Result:
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
        stats["period_seconds"] = round(max(0.0, elapsed - secondary["seconds"]), 3)
    return Result(
        schedule=sched,
        status=status,
        lower_bound=bound,
        solver=result.solver,
        solve_seconds=elapsed,
        network=graph.name,
        decomposition=graph.decomposition,
        stats=stats,
    )
