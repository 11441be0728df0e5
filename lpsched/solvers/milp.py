"""Exact MILP for the minimal period on a platform, with PuLP and HiGHS or CBC.

The mathematics is in ``formulations/milp.md``; comments cite its equation
numbers (M1, M2, ...). For a fixed period ``T`` a mixed-integer program
(:mod:`lpsched.solvers.milp_model`) decides whether a periodic schedule
exists; :func:`run_milp` searches ``T`` between the lower bound and the period
of a warm start. Every ``T`` proven infeasible raises the lower bound, every
feasible one lowers the upper bound. A step tries the relaxation (M17), then
back-to-back placements and the restriction (M18) to its assignment, then the
full model (M1)-(M15); :mod:`lpsched.solvers.milp_backend` runs the solvers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import networkx as nx

from ..errors import InputError
from ..graph import TaskGraph
from ..platform import Platform
from ..problem import Problem
from ..schedule import Result, Schedule
from .milp_backend import BACKENDS, FEASIBLE, INFEASIBLE, UNKNOWN, solve_model
from .milp_model import PeriodModel, assignment_of, build_model, extract, set_initial, starts_of
from .registry import SOLVERS, Options
from .toolkit import Clock, claim, least_staleness, one_processor

__all__ = [
    "BACKENDS",
    "SECONDARY_SECONDS",
    "best_rotation",
    "build_model",
    "contiguous",
    "rotate",
    "rotation_periods",
    "run_milp",
    "solve_milp",
    "warm_start",
]

Log = Callable[[str], None]

# A step is not worth starting with less time than this (seconds).
_MIN_STEP_SECONDS = 0.2

#: Seconds the secondary objective may take when the call has no time limit.
SECONDARY_SECONDS = 60.0

# Improving solutions of the relaxation (objective (M19)) before it hands its
# assignment to the restriction: a few rounds buy much slack in the loops.
_RELAXED_SOLUTIONS = 3


@dataclass
class _Search:
    """What every step of one call shares: the problem, the backend, the clock, the log."""

    problem: Problem
    backend: str
    seed: int
    log: Log | None
    clock: Clock

    @property
    def name(self) -> str:
        return BACKENDS[self.backend]

    def say(self, text: str) -> None:
        if self.log is not None:
            self.log(f"{self.name}: {text}")

    def left(self) -> float | None:
        """Seconds left, ``None`` without a time limit."""
        left = self.clock.remaining()
        return None if math.isinf(left) else left

    def solve(self, model: PeriodModel, time_limit: float | None, **kwargs: Any) -> str:
        return solve_model(model, self.backend, time_limit, self.seed, self.log, **kwargs)


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------
def run_milp(
    problem: Problem, options: Options, backend: str = "highs", *, lower_bound: int | None = None
) -> Result:
    """Minimise the period of ``problem`` by a search over ``T``, one MILP per period.

    Parameters
    ----------
    problem
        The task graph on its platform (any speeds, one or several nodes,
        ``capacity: delay``). With ``staleness_cap`` set, each weighted
        layer's staleness is chosen in ``[1, cap]`` and the schedule's graph
        carries the least staleness its starts allow.
    options
        ``time_limit`` (the whole search; a step that runs out of time proves
        nothing), ``seed`` (of the MILP solver), ``secondary`` (``"comm"``: at
        the best period, minimise the bytes sent between processors (M16)
        with what is left of the time, at most :data:`SECONDARY_SECONDS`
        without a limit), ``log`` (progress and the solver's own log; nothing
        is ever printed on stdout), ``export`` (a ``.lp`` or ``.mps`` path for
        the model of the best period) and ``initial`` (a valid schedule to
        start from; else the heuristic's when it takes the platform, else
        every task on the fastest processor).
    backend
        ``"highs"`` (HiGHS through highspy) or ``"cbc"`` (PuLP's bundled CBC).
    lower_bound
        A proven lower bound on the period besides ``problem.lower_bound``.

    Returns
    -------
    Result
        ``OPTIMAL`` when the period equals the proven lower bound (the bound
        given or computed, or one more than the largest period proven
        infeasible); ``FEASIBLE`` otherwise; never worse than the warm start.
        ``stats``: ``steps`` (period, outcome, the model that decided,
        seconds), ``comm_bytes``, ``comm_minimal`` (proven minimal at this
        period), ``model`` (size of the exported model).

    Raises
    ------
    InputError
        On an unknown backend, a bad time limit, secondary objective, export
        path or initial schedule, or a platform with ``capacity: ports``.
    """
    started = time.perf_counter()
    _check_request(problem, options, backend)
    best = warm_start(problem, options)
    # The clock starts after the warm start, as it always has: the limit is the search's.
    search = _Search(problem, backend, options.seed, options.log, Clock(options.time_limit))
    lb = max(problem.lower_bound, lower_bound or 0)
    search.say(f"lower bound {lb}, warm start period {best.period}")
    if best.period < lb:
        raise InputError(f"initial period {best.period} is below the lower bound {lb}")
    best, proven, steps = _period_search(search, best, lb)
    comm_proven = False
    comm = options.secondary == "comm"
    if comm:
        best, comm_proven, step = _minimise_bytes(search, best)
        steps.extend(step)
    stats: dict[str, Any] = {
        "formulation": "offset",
        "backend": backend,
        "steps": steps,
        "comm_bytes": best.comm_bytes(),
        "comm_minimal": comm_proven,
    }
    if options.export is not None:
        stats["model"] = _export(search, best, Path(options.export), comm)
    if problem.graph.staleness_cap is not None:
        # (P4), also for a warm start kept as it was (whose graph has fixed distances).
        best = least_staleness(best.with_graph(problem.graph))
    return Result(
        schedule=best,
        status=claim(best.period, proven),
        lower_bound=proven,
        solver=search.name,
        solve_seconds=time.perf_counter() - started,
        network=problem.graph.name,
        decomposition=problem.graph.decomposition,
        stats=stats,
    )


def solve_milp(
    graph: TaskGraph,
    platform: Platform | int,
    *,
    backend: str = "highs",
    lower_bound: int | None = None,
    initial: Schedule | None = None,
    time_limit: float | None = None,
    seed: int = 0,
    export: str | Path | None = None,
    log: Log | None = None,
    secondary: str | None = "comm",
) -> Result:
    """:func:`run_milp` of ``Problem(graph, platform)`` with the options as keywords.

    Raises
    ------
    InputError
        As :func:`run_milp`, and on a processor count that is not a positive integer.
    """
    if not isinstance(platform, Platform) and (
        isinstance(platform, bool) or not isinstance(platform, int) or platform < 1
    ):
        raise InputError(f"processors must be a positive integer, got {platform!r}")
    options = Options(
        time_limit=time_limit,
        seed=seed,
        secondary=secondary,
        log=log,
        export=None if export is None else str(export),
        initial=initial,
    )
    return run_milp(Problem(graph, platform), options, backend, lower_bound=lower_bound)


def _check_request(problem: Problem, options: Options, backend: str) -> None:
    """Raise :class:`InputError` on what the MILP cannot take."""
    if backend not in BACKENDS:
        raise InputError(f"unknown MILP backend {backend!r}: expected highs or cbc")
    if options.time_limit is not None and not options.time_limit > 0:
        raise InputError(f"time limit must be positive, got {options.time_limit}")
    export = options.export
    if export is not None and Path(export).suffix.lower() not in (".lp", ".mps"):
        raise InputError(f"export file {str(export)!r} must end in .lp or .mps")
    if options.secondary not in (None, "comm", "none"):
        raise InputError(f"unknown secondary objective {options.secondary!r} for the MILP")
    platform = problem.platform
    if platform.capacity != "delay":
        raise InputError("the MILP schedules capacity: delay only")
    if any(p.memory is not None for p in platform.processors):
        raise InputError("the MILP does not respect a memory capacity; drop it")


# ---------------------------------------------------------------------------
# Warm start
# ---------------------------------------------------------------------------
def warm_start(problem: Problem, options: Options) -> Schedule:
    """The first upper bound: ``options.initial``, the heuristic's schedule, or one processor.

    The heuristic is asked through the registry when it takes the platform
    (with the options less what only exact solvers take); otherwise every
    task runs on the fastest processor (:func:`~lpsched.solvers.toolkit.one_processor`).

    Raises
    ------
    InputError
        When ``options.initial`` is not a valid schedule of the problem.
    """
    if options.initial is not None:
        return _check_initial(problem, options.initial)
    heuristic = SOLVERS["heuristic"]
    plain = replace(options, secondary=None, export=None, initial=None, time_limit=None)
    try:
        heuristic.check(problem, plain)
    except InputError:
        sched = None
    else:
        sched = heuristic.run(problem, plain).schedule
    if sched is None:
        sched = one_processor(problem)
        if options.log is not None:
            options.log(f"warm start: every task on one processor, period {sched.period}")
    elif options.log is not None:
        options.log(f"heuristic: period {sched.period}, lower bound {problem.lower_bound}")
    return _check_initial(problem, sched)


def _check_initial(problem: Problem, initial: Schedule) -> Schedule:
    """``initial`` on the problem (with its own staleness for ``auto``); InputError if invalid."""
    from ..validate import validate

    graph = problem.graph
    names = {t.name for t in graph.tasks}
    if set(initial.processor) != names or set(initial.start) != names:
        raise InputError("initial schedule: its tasks differ from the graph's")
    if graph.staleness_cap is not None:
        cap = graph.staleness_cap
        used = {k: min(max(v, 1), cap) for k, v in initial.graph.staleness().items()}
        target = graph.with_staleness(used)
    else:
        target = graph
    sched = Schedule(
        target, problem.platform, initial.period, dict(initial.processor), dict(initial.start)
    )
    problems = validate(sched)
    if problems:
        raise InputError(f"initial schedule is not valid: {problems[0].message}")
    return sched


# ---------------------------------------------------------------------------
# The period search
# ---------------------------------------------------------------------------
def _period_search(
    search: _Search, best: Schedule, lb: int
) -> tuple[Schedule, int, list[dict[str, Any]]]:
    """Steps over ``T`` from ``lb`` up to the best period: the best schedule, the proven bound.

    The first step tries ``T = lb`` (often optimal, and it gets twice the
    share of time), the next ones bisect what is undecided. A step that runs
    out of time moves the search above it; when every period below the best
    one has, the search starts again from the proven bound with longer steps.
    """
    steps: list[dict[str, Any]] = []
    proven = lb  # every T < proven is infeasible
    low = lb  # the search looks at [low, best.period - 1]
    share = 1.0  # a step gets share * (time left) / (steps still to go)
    while best.period > proven:
        left = search.left()
        if left is not None and left < _MIN_STEP_SECONDS:
            break
        hi = best.period
        if low >= hi:
            # Every T in [proven, hi - 1] was tried and ran out of time: start again
            # from the proven bound with longer steps (iterative deepening).
            low, share = proven, share * 2
        T = low if not steps else (low + hi - 1) // 2
        todo = 1 + max(1, math.ceil(math.log2(hi - low + 1)))
        budget = None if left is None else min(left, share * left / todo * (1 if steps else 2))
        outcome, sched, how, seconds = _step(search, T, best, budget)
        if sched is not None:
            best = sched
        steps.append({"period": T, "outcome": outcome, "by": how, "seconds": round(seconds, 3)})
        search.say(f"T = {T}: {outcome} by the {how} model ({seconds:.2f} s)")
        if outcome == INFEASIBLE:
            proven = max(proven, T + 1)
            low = max(low, T + 1)
        elif outcome == UNKNOWN:
            low = max(low, T + 1)
    return best, proven, steps


def _step(
    search: _Search, T: int, best: Schedule, budget: float | None
) -> tuple[str, Schedule | None, str, float]:
    """Decide whether period ``T`` is feasible: relaxation, restriction, full model.

    The relaxation (M17) proves most infeasible periods and proposes an
    assignment; the restriction to that assignment (M18) turns it into a
    schedule most of the time; the full model (M1)-(M15) settles the rest.

    Returns
    -------
    outcome, schedule, model, seconds
        ``feasible`` (with a validated schedule of period ``T``), ``infeasible``
        or ``unknown``; the variant that decided; the wall time.
    """
    t0 = time.perf_counter()
    end = None if budget is None else t0 + budget

    def left(fraction: float = 1.0) -> float | None:
        if end is None:
            return None
        return max(0.05, fraction * (end - time.perf_counter()))

    relaxed = build_model(search.problem, T, variant="relaxed", objective="latency")
    if relaxed.trivially_infeasible:
        return INFEASIBLE, None, "relaxed", time.perf_counter() - t0
    set_initial(relaxed, best, full=False)
    outcome = search.solve(relaxed, left(0.4), warm_start=True, max_solutions=_RELAXED_SOLUTIONS)
    if outcome == INFEASIBLE:
        return INFEASIBLE, None, "relaxed", time.perf_counter() - t0
    hint = None
    if outcome == FEASIBLE:
        assignment = assignment_of(relaxed)
        sched, fixed = _sequence(search, T, assignment, left(0.5), starts_of(relaxed))
        if sched is not None:
            how = "fixed" if fixed is not None else "contiguous"
            return FEASIBLE, sched, how, time.perf_counter() - t0
        if fixed is not None and not fixed.proven:
            hint = assignment  # the restriction ran out of time: the assignment may be fine
    if end is not None and time.perf_counter() > end - _MIN_STEP_SECONDS / 4:
        return UNKNOWN, None, "full", time.perf_counter() - t0
    return (*_full_step(search, T, best, hint, left()), time.perf_counter() - t0)


def _full_step(
    search: _Search,
    T: int,
    best: Schedule,
    hint: dict[int, int] | None,
    time_limit: float | None,
) -> tuple[str, Schedule | None, str]:
    """The full model (M1)-(M15) at ``T``, warm-started by ``hint`` or the best assignment."""
    full = build_model(search.problem, T)
    if hint is not None:
        for (v, p), var in full.x.items():
            var.setInitialValue(1 if hint[v] == p else 0)
    else:
        set_initial(full, best, full=False)
    outcome = search.solve(full, time_limit, warm_start=True)
    sched = None
    if outcome == FEASIBLE:
        sched = _verified(extract(full), search.log)
        if sched is None:
            outcome = UNKNOWN
    return outcome, sched, "full"


def _minimise_bytes(search: _Search, best: Schedule) -> tuple[Schedule, bool, list[dict[str, Any]]]:
    """The secondary objective at the best period: fewer bytes between processors (M16).

    The relaxation (M17) minimising bytes gives a lower bound and an
    assignment; its restriction (M18) a schedule, kept only when it sends
    fewer bytes. Returns the schedule, whether its bytes are proven minimal
    at this period, and the step (none when no time is left).
    """
    problem, T = search.problem, best.period
    left = search.left()
    if left is not None and left <= _MIN_STEP_SECONDS:
        return best, False, []
    t0 = time.perf_counter()
    # Without a time limit the secondary objective still stops: it is a refinement.
    end = t0 + (SECONDARY_SECONDS if left is None else left)
    relaxed = build_model(problem, T, variant="relaxed", objective="comm")
    set_initial(relaxed, best, full=True)
    outcome = search.solve(relaxed, 0.6 * (end - t0), warm_start=True)
    proven = False
    if outcome == FEASIBLE:
        assignment = assignment_of(relaxed)
        limit = max(0.05, end - time.perf_counter())
        sched, _ = _sequence(search, T, assignment, limit, starts_of(relaxed))
        if sched is not None and sched.comm_bytes() < best.comm_bytes():
            best = sched
        # An optimum of the relaxation bounds the bytes of every schedule of period T.
        graph = problem.graph
        index = graph.index
        lower = sum(
            e.bytes for e in graph.edges if assignment[index(e.src)] != assignment[index(e.dst)]
        )
        proven = relaxed.proven and best.comm_bytes() <= lower
    seconds = time.perf_counter() - t0
    search.say(
        f"T = {T}: communication {best.comm_bytes()} bytes per iteration"
        f"{' (minimal)' if proven else ''} ({seconds:.2f} s)"
    )
    step = {"period": T, "outcome": "comm", "by": "relaxed", "seconds": round(seconds, 3)}
    return best, proven, [step]


def _export(search: _Search, best: Schedule, path: Path, comm: bool) -> dict[str, int]:
    """Write the full model at the best period as LP or MPS; return its size.

    PuLP's writers put no solution values in the file; the best schedule is
    one of the model's solutions.
    """
    model = build_model(search.problem, best.period, objective="comm" if comm else None)
    set_initial(model, best, full=True)
    try:
        if path.suffix.lower() == ".lp":
            model.prob.writeLP(str(path))
        else:
            model.prob.writeMPS(str(path))
    except OSError as err:
        raise InputError(f"{path}: cannot write ({err.strerror})") from None
    search.say(f"model for T = {best.period} written to {path}")
    return model.size()


# ---------------------------------------------------------------------------
# The restriction (M18): back-to-back placements, then the MILP
# ---------------------------------------------------------------------------
def _sequence(
    search: _Search,
    T: int,
    assignment: dict[int, int],
    time_limit: float | None,
    hint: list[float] | None = None,
) -> tuple[Schedule | None, PeriodModel | None]:
    """Solve the restriction (M18) to ``assignment``: a validated schedule or ``None``.

    Back-to-back placements (:func:`contiguous`) in the order of ``hint`` and in
    topological order come first; the MILP only when both fail.
    """
    for order in ([hint] if hint is not None else []) + [None]:
        quick = contiguous(search.problem, T, assignment, order)
        if quick is not None and _verified(quick, search.log) is not None:
            return quick, None
    fixed = build_model(search.problem, T, variant="fixed", assignment=assignment)
    if fixed.trivially_infeasible:
        return None, None
    if search.solve(fixed, time_limit, warm_start=False) != FEASIBLE:
        return None, fixed
    return _verified(extract(fixed), search.log), fixed


def contiguous(
    problem: Problem,
    T: int,
    assignment: dict[int, int],
    hint: list[float] | None = None,
) -> Schedule | None:
    """A quick try at the restriction (M18): each processor's tasks back to back.

    Tasks follow ``hint`` (e.g. the starts of the relaxation (M17), modulo
    ``T``) or else a topological order of the distance-0 edges on every
    processor; each processor's circle is turned (:func:`rotate`), and the
    least stages then solve the difference constraints
    ``k_v - k_u >= ceil((lat_e - w_e*T - r_v + r_u) / T)`` (Bellman-Ford).
    ``None`` when a processor is overloaded or a loop needs more periods than
    its distance gives.
    """
    graph = problem.graph
    n, index = graph.n, graph.index
    if hint is None:
        g = nx.DiGraph()
        g.add_nodes_from(range(n))
        g.add_edges_from(
            (index(e.src), index(e.dst)) for e in graph.edges if e.distance == 0 and e.src != e.dst
        )
        sequence = list(nx.lexicographical_topological_sort(g))
    else:
        sequence = sorted(range(n), key=lambda v: (hint[v] % T, v))
    offset = [0] * n
    fill: dict[int, int] = {}
    for v in sequence:
        p = assignment[v]
        offset[v] = fill.get(p, 0)
        fill[p] = offset[v] + problem.duration(v, p)
    if max(fill.values()) > T:
        return None
    rotate(problem, T, assignment, offset)
    stage = _least_stages(problem, T, assignment, offset)
    if stage is None:
        return None
    names = [t.name for t in graph.tasks]
    sched = Schedule(
        graph,
        problem.platform,
        T,
        {names[v]: assignment[v] for v in range(n)},
        {names[v]: offset[v] + T * stage[v] for v in range(n)},
    )
    return least_staleness(sched)


def _latency(problem: Problem, e_idx: int, assignment: dict[int, int]) -> int:
    """``d_u(p_u) + c_e(p_u, p_v)``: how long after ``u`` starts its message reaches ``v``."""
    e = problem.graph.edges[e_idx]
    u, v = problem.graph.index(e.src), problem.graph.index(e.dst)
    pu, pv = assignment[u], assignment[v]
    return problem.duration(u, pu) + problem.edge_cost(e_idx, pu, pv)


def _least_stages(
    problem: Problem, T: int, assignment: dict[int, int], offset: list[int]
) -> list[int] | None:
    """The least stages for fixed offsets (Bellman-Ford); ``None`` on a positive cycle."""
    graph = problem.graph
    rows = []
    for e_idx, e in enumerate(graph.edges):
        u, v = graph.index(e.src), graph.index(e.dst)
        lat = _latency(problem, e_idx, assignment)
        need = -(-(lat - e.distance * T - offset[v] + offset[u]) // T)
        if u == v:
            if need > 0:
                return None
            continue
        rows.append((u, v, need))
    stage = [0] * graph.n
    for _ in range(graph.n + 1):
        changed = False
        for u, v, need in rows:
            if stage[u] + need > stage[v]:
                stage[v] = stage[u] + need
                changed = True
        if not changed:
            return stage
    return None  # a loop asks for more periods than its distance gives


def rotate(problem: Problem, T: int, assignment: dict[int, int], offset: list[int]) -> None:
    """Turn each processor's circle so that crossing edges reach across few periods.

    A rotation keeps the arcs of a processor disjoint; it changes how many periods
    ``ceil((lat_e - w_e T - r_v + r_u) / T)`` each edge between two processors
    needs. Two rounds of coordinate descent over the processors minimise their
    sum, each turn chosen by :func:`best_rotation`.
    """
    graph = problem.graph
    crossing: dict[int, list[tuple[int, int, int]]] = {}
    for e_idx, e in enumerate(graph.edges):
        u, v = graph.index(e.src), graph.index(e.dst)
        if assignment[u] != assignment[v]:
            item = (u, v, _latency(problem, e_idx, assignment) - e.distance * T)
            crossing.setdefault(assignment[u], []).append(item)
            crossing.setdefault(assignment[v], []).append(item)
    first = min(assignment.values())
    for _ in range(2):
        for p, items in crossing.items():
            if p == first:
                continue  # turning every processor alike changes nothing
            terms = [(lat, offset[u], offset[v], assignment[u] == p) for u, v, lat in items]
            rho = best_rotation(T, terms)
            for v in assignment:
                if assignment[v] == p:
                    offset[v] = (offset[v] + rho) % T


def rotation_periods(T: int, terms: list[tuple[int, int, int, bool]], rho: int) -> int:
    """``sum ceil((lat - r_v' + r_u') / T)`` with the turned end's offset ``(r + rho) mod T``.

    Each term is ``(lat, r_u, r_v, u_turns)``: ``u_turns`` says which end sits
    on the processor being turned.
    """
    total = 0
    for lat, ru, rv, u_turns in terms:
        if u_turns:
            ru = (ru + rho) % T
        else:
            rv = (rv + rho) % T
        total += -(-(lat - rv + ru) // T)
    return total


def best_rotation(T: int, terms: list[tuple[int, int, int, bool]]) -> int:
    """The least ``rho`` in ``[0, T)`` minimising :func:`rotation_periods`.

    The sum is a step function of ``rho``: a term changes only where the
    turned offset wraps past 0 or where its ceiling steps, two values of
    ``rho`` per term. The least minimiser starts a step (or is 0), so only
    those candidates are evaluated: ``O(terms^2)`` work, whatever ``T`` is.
    """
    candidates = {0}
    for lat, ru, rv, u_turns in terms:
        if u_turns:
            # X = (r_u + rho) mod T wraps at 0; ceil((lat - r_v + X)/T) steps at X = 1 - lat + r_v.
            candidates.update(((-ru) % T, (1 - lat + rv - ru) % T))
        else:
            # Y = (r_v + rho) mod T wraps at Y = 0; ceil((lat + r_u - Y)/T) steps at Y = lat + r_u.
            candidates.update(((-rv) % T, (lat + ru - rv) % T))
    return min(sorted(candidates), key=lambda rho: rotation_periods(T, terms, rho))


def _verified(schedule: Schedule, log: Log | None) -> Schedule | None:
    """``schedule`` if the validator accepts it, else ``None`` (a rounding accident)."""
    from ..validate import validate

    problems = validate(schedule)
    if problems:
        if log is not None:
            log(f"solver solution rejected by the validator: {problems[0].message}")
        return None
    return schedule
