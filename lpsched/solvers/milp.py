"""Exact MILP for the minimal period, with PuLP and HiGHS or CBC.

The mathematics is in ``formulations/milp.md``; comments cite its equation
numbers. In short: for a fixed period ``T`` a mixed-integer program decides
whether a periodic schedule exists (the *offset* formulation: processor
binaries, offsets ``r_v`` within the period, integer stages ``k_v`` and, for
every pair of tasks, an order binary whose big-M is a task duration, not the
period). :func:`solve_milp` searches ``T`` between the lower bound and the
period of a warm start; every ``T`` proven infeasible raises the lower bound,
every feasible one lowers the upper bound.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import pulp

from ..errors import InputError
from ..graph import TaskGraph
from ..schedule import Result, Schedule, Status

#: Backend name -> solver name in results.
BACKENDS: dict[str, str] = {"highs": "milp", "cbc": "milp-cbc"}

# Outcomes of one fixed-period step.
_FEASIBLE, _INFEASIBLE, _UNKNOWN = "feasible", "infeasible", "unknown"

# A step is not worth starting with less time than this (seconds).
_MIN_STEP_SECONDS = 0.2

#: Seconds the secondary objective may take when the call has no time limit.
SECONDARY_SECONDS = 60.0

# Improving solutions of the relaxation (objective (17)) before it hands its
# assignment to the restriction: a few rounds buy much slack in the loops.
_RELAXED_SOLUTIONS = 3


# ---------------------------------------------------------------------------
# The model for one fixed period
# ---------------------------------------------------------------------------
@dataclass
class PeriodModel:
    """An MILP for one fixed period ``T``: (1)-(13), or (15), (16) of ``formulations/milp.md``.

    Variables are indexed by task position in ``graph.tasks`` (``v``), processor
    (``p``), task pair ``(u, v)`` with ``u < v``, edge position (``e``) and
    layer name (staleness). In an exported file they read ``x_v_p``, ``r_v``,
    ``k_v``, ``o_u_v``, ``y_u_v`` (same processor), ``z_e`` (edge crosses
    processors), ``s_v`` (relaxation only) and ``sigma_i`` (staleness of
    ``layers[i]``).

    Attributes
    ----------
    graph, processors, period
        The instance and the fixed period.
    prob
        The PuLP problem.
    order
        Task positions in the order used for symmetry breaking (longest first).
    x, r, k, o, y, z, sigma, s
        The variables (see above); empty where the variant has none.
    layers
        Layers whose staleness is a decision (``auto`` graphs), sorted by name.
    variant, assignment
        ``full``, ``relaxed`` or ``fixed``, and the fixed assignment of the last.
    trivially_infeasible
        Why no schedule with this period can exist, when that is evident
        without a solver (a task longer than ``T``), else ``None``.
    proven
        After a solve: whether the solver proved its answer (infeasibility, or
        optimality of its solution).
    """

    graph: TaskGraph
    processors: int
    period: int
    prob: pulp.LpProblem
    order: list[int]
    x: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    r: list[pulp.LpVariable] = field(default_factory=list)
    k: list[pulp.LpVariable] = field(default_factory=list)
    o: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    y: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    z: dict[int, pulp.LpVariable] = field(default_factory=dict)
    sigma: dict[str, pulp.LpVariable] = field(default_factory=dict)
    layers: list[str] = field(default_factory=list)
    s: list[pulp.LpVariable] = field(default_factory=list)
    variant: str = "full"
    assignment: dict[int, int] | None = None
    trivially_infeasible: str | None = None
    proven: bool = False

    def size(self) -> dict[str, int]:
        """Numbers of variables, integer variables and constraints."""
        variables = self.prob.variables()
        return {
            "variables": len(variables),
            "integers": sum(1 for v in variables if v.cat == pulp.LpInteger),
            "constraints": self.prob.numConstraints(),
        }


def horizon(graph: TaskGraph, period: int) -> int:
    """Largest stage any task needs: the bound ``K`` of (1) in ``formulations/milp.md``.

    With the offsets and processors of a schedule fixed, the least stages
    solve a system of difference constraints; along a simple path each edge
    adds at most ``lat_e / T + 1``, so ``K = n + 1 + ceil(sum lat / T)``.
    """
    latency = graph.total_work + sum(e.comm for e in graph.edges)
    return graph.n + 1 + math.ceil(latency / period)


def build_model(
    graph: TaskGraph,
    processors: int,
    period: int,
    *,
    objective: str | None = None,
    variant: str = "full",
    assignment: dict[int, int] | None = None,
) -> PeriodModel:
    """The MILP deciding whether ``graph`` has a schedule of period ``period``.

    Parameters
    ----------
    graph
        The task graph; with ``staleness_cap`` set, each weighted layer's
        staleness is a decision in ``[1, cap]`` (13).
    processors
        Number of identical processors ``P``.
    period
        The fixed period ``T``.
    objective
        ``None``: a pure feasibility problem (objective 0); ``"comm"``:
        minimise the bytes sent between processors per iteration (14);
        ``"latency"``: minimise the communication time (17). Both are constant,
        hence dropped, in the ``fixed`` variant.
    variant
        ``"full"``: the exact model (1)-(13). ``"relaxed"``: its relaxation
        without the non-overlap of pairs, (15): processors, loads and
        precedence with communication on continuous starts; infeasible only
        when the full model is. ``"fixed"``: its restriction to the processor
        of every task given by ``assignment`` (task position -> processor), (16).

    Returns
    -------
    PeriodModel
    """
    if variant not in ("full", "relaxed", "fixed"):
        raise ValueError(f"unknown variant {variant!r}")
    if objective not in (None, "comm", "latency"):
        raise ValueError(f"unknown objective {objective!r}")
    if (variant == "fixed") != (assignment is not None):
        raise ValueError("an assignment is given exactly for variant 'fixed'")
    T = int(period)
    n = graph.n
    d = graph.durations
    P = min(processors, n)  # processors beyond n stay empty (and symmetric)
    prob = pulp.LpProblem(f"lpsched_period_{T}", pulp.LpMinimize)
    # Longest tasks first: they are the hardest to pack, and symmetry breaking (4)
    # then places the first task on processor 0, the next on 0 or 1, and so on.
    order = sorted(range(n), key=lambda v: (-d[v], v))
    pos = {v: i for i, v in enumerate(order)}
    model = PeriodModel(graph, processors, T, prob, order, variant=variant, assignment=assignment)
    if max(d) > T:
        v = max(range(n), key=lambda i: d[i])
        model.trivially_infeasible = (
            f"task {graph.tasks[v].name} lasts {d[v]} > T = {T} and would overlap itself"
        )
    K = horizon(graph, T)

    def procs(v: int) -> range:
        if assignment is not None:
            return range(assignment[v], assignment[v] + 1)
        return range(min(P, pos[v] + 1))  # (4a): the i-th task uses processors 0..i

    # Variables (1): assignment, offsets within the period, stages.
    x = model.x
    if assignment is None:
        for v in range(n):
            for p in procs(v):
                x[v, p] = pulp.LpVariable(f"x_{v}_{p}", cat=pulp.LpBinary)
    if variant == "relaxed":
        # (15): one continuous start per task, s_v = r_v + T*k_v of the full model
        # shifted so that s_{v0} = 0 (a shift by any amount is harmless here).
        H = T * (K + 1)
        start = [pulp.LpVariable(f"s_{v}", -H, H) for v in range(n)]
        start[order[0]].lowBound = start[order[0]].upBound = 0
        model.s = start
    else:
        model.r = [pulp.LpVariable(f"r_{v}", 0, T - 1, cat=pulp.LpInteger) for v in range(n)]
        model.k = [pulp.LpVariable(f"k_{v}", 0, K, cat=pulp.LpInteger) for v in range(n)]
        start = [model.r[v] + T * model.k[v] for v in range(n)]
        # (4c): rotating every start by the same amount changes nothing; fix one offset.
        model.r[order[0]].upBound = 0

    if assignment is None:
        # (2) every task on exactly one processor.
        for v in range(n):
            prob += pulp.lpSum(x[v, p] for p in procs(v)) == 1, f"assign_{v}"
        # (3) load of a processor at most T (implied by (6)-(7), but a strong cut).
        for p in range(P):
            prob += (
                pulp.lpSum(d[v] * x[v, p] for v in range(n) if (v, p) in x) <= T,
                f"load_{p}",
            )
        # (4b): processor p >= 1 is used only if an earlier task sits on p - 1, so the
        # processors are numbered by their first task (lowest position) in `order`.
        for i, v in enumerate(order):
            for p in range(1, min(P, i + 1)):
                prob += (
                    x[v, p] <= pulp.lpSum(x[u, p - 1] for u in order[:i] if (u, p - 1) in x),
                    f"sym_{v}_{p}",
                )
    else:
        load: dict[int, int] = {}
        for v, p in assignment.items():
            load[p] = load.get(p, 0) + d[v]
        p, most = max(load.items(), key=lambda item: item[1])
        if most > T:
            model.trivially_infeasible = f"processor {p} carries {most} > T = {T}"

    # (5)-(7) modulo non-overlap of every pair that may share a processor.
    for i in range(n):
        for j in range(i + 1, n):
            common = [p for p in procs(i) if p in procs(j)]
            if not common:
                continue
            if d[i] + d[j] > T:
                # Two arcs longer than the circle together never fit: (5').
                if assignment is not None:
                    model.trivially_infeasible = (
                        f"{graph.tasks[i].name} and {graph.tasks[j].name} share a processor "
                        f"and last more than T = {T} together"
                    )
                for p in common:
                    if (i, p) in x:
                        prob += x[i, p] + x[j, p] <= 1, f"apart_{i}_{j}_{p}"
                continue
            if variant == "relaxed":
                continue
            oij = pulp.LpVariable(f"o_{i}_{j}", cat=pulp.LpBinary)
            model.o[i, j] = oij
            if assignment is None:
                yij: Any = pulp.LpVariable(f"y_{i}_{j}", 0, 1)
                model.y[i, j] = yij
                for p in common:  # (5) y = 1 when both run on p
                    prob += yij >= x[i, p] + x[j, p] - 1, f"same_{i}_{j}_{p}"
            else:
                yij = 1
            # (6)-(7): r_j - r_i + T*o lies in [d_i, T - d_j] on a shared processor
            # and in [0, T] otherwise; the big-M is a duration, not the period.
            r = model.r
            prob += r[j] - r[i] + T * oij >= d[i] * yij, f"after_{i}_{j}"
            prob += r[j] - r[i] + T * oij <= T - d[j] * yij, f"before_{i}_{j}"

    # (8)-(9) precedence with communication only across processors; (13) staleness.
    cap = graph.staleness_cap
    if cap is not None:
        model.layers = sorted({e.weights for e in graph.edges if e.weights is not None})
        for idx, layer in enumerate(model.layers):
            model.sigma[layer] = pulp.LpVariable(f"sigma_{idx}", 1, cap, cat=pulp.LpInteger)
    index = graph.index
    for e_idx, e in enumerate(graph.edges):
        u, v = index(e.src), index(e.dst)
        if u == v:
            # A loop on one task: s + w*T >= s + d, i.e. T*w >= d (no communication).
            most = cap if (cap is not None and e.weights is not None) else e.distance
            if d[u] > T * most:
                model.trivially_infeasible = (
                    f"self-loop on {e.src} needs T >= {d[u]}/{most}, have {T}"
                )
            continue
        dist: Any = e.distance
        if cap is not None and e.weights is not None:
            dist = model.sigma[e.weights]
        crossing: Any = 0
        zvar: Any = 0
        if assignment is not None:
            zvar = 1 if assignment[u] != assignment[v] else 0
            crossing = e.comm * zvar
        elif e.comm > 0 or (objective == "comm" and e.bytes > 0):
            zvar = _crossing(model, e_idx, u, v, procs)
            crossing = e.comm * zvar
        prob += start[v] - start[u] + T * dist >= d[u] + crossing, f"prec_{e_idx}"
        if variant != "relaxed":
            _wrap_cuts(model, e_idx, u, v, dist, zvar)

    if objective == "comm" and assignment is None:
        # (14) communication bytes per iteration.
        prob += pulp.lpSum(graph.edges[e].bytes * z for e, z in model.z.items())
    elif objective == "latency" and assignment is None:
        # (17) communication time per iteration: steers the relaxation to assignments
        # whose loops keep slack, which the restriction (16) can then sequence.
        prob += pulp.lpSum(graph.edges[e].comm * z for e, z in model.z.items())
    else:
        prob += pulp.LpAffineExpression()  # feasibility: any solution is optimal
    return model


def _wrap_cuts(model: PeriodModel, e_idx: int, u: int, v: int, dist: Any, z: Any) -> None:
    """Integer rounding of precedence (8) edge by edge: cuts (10)-(12).

    ``q = k_v - k_u + w`` counts the periods edge ``u -> v`` reaches across, and
    (8) reads ``T*q + r_v - r_u >= lat``. The LP only gets ``q >= (lat - r_v + r_u)/T``;
    these cuts round it up using whether ``v`` starts before ``u`` within the
    period (``b``, from the order binary) and whether the edge crosses processors.
    """
    T = model.period
    e = model.graph.edges[e_idx]
    du = model.graph.durations[u]
    q = model.k[v] - model.k[u] + dist
    i, j = min(u, v), max(u, v)
    o = model.o.get((i, j))
    prob = model.prob
    if e.comm > 0 and not isinstance(z, int):
        # (11) crossing: r_v - r_u <= T - 1, so q >= ceil((d_u + c - T + 1)/T).
        qa = -(-(du + e.comm - T + 1) // T)
        if qa >= 1:
            prob += q >= qa * z, f"wrapc_{e_idx}"
    elif isinstance(z, int) and z == 1:
        qa = -(-(du + e.comm - T + 1) // T)
        if qa >= 1:
            prob += q >= qa, f"wrapc_{e_idx}"
    if o is None:
        return
    # b = 1 when r_v <= r_u (v not after u); then T*q >= lat >= 1, so q >= 1 (10).
    b = o if u == i else 1 - o
    prob += q >= b, f"wrap_{e_idx}"
    if e.comm > 0 and not (isinstance(z, int) and z == 0):
        # (12) crossing and v not after u: q >= ceil((d_u + c)/T).
        qb = -(-(du + e.comm) // T)
        if qb >= 2:
            prob += q >= qb * (z + b - 1), f"wrapb_{e_idx}"


def _crossing(
    model: PeriodModel, e_idx: int, u: int, v: int, procs: Callable[[int], range]
) -> pulp.LpVariable:
    """``z_e >= x_up - x_vp`` for all ``p`` (9): 1 when the edge crosses processors."""
    z = pulp.LpVariable(f"z_{e_idx}", 0, 1)
    model.z[e_idx] = z
    for p in procs(u):
        rhs = model.x[u, p] - model.x[v, p] if (v, p) in model.x else model.x[u, p]
        model.prob += z >= rhs, f"cross_{e_idx}_{p}"
    return z


# ---------------------------------------------------------------------------
# Warm starts
# ---------------------------------------------------------------------------
def canonical_processors(schedule: Schedule, order: list[int]) -> dict[str, int]:
    """Renumber processors by their first task in ``order``, as (4b) requires."""
    names = [t.name for t in schedule.graph.tasks]
    relabel: dict[int, int] = {}
    for v in order:
        p = schedule.processor[names[v]]
        if p not in relabel:
            relabel[p] = len(relabel)
    return {name: relabel[schedule.processor[name]] for name in names}


def set_initial(model: PeriodModel, schedule: Schedule, *, full: bool) -> None:
    """Give every variable the value it takes in ``schedule`` (``setInitialValue``).

    With ``full=False`` (``schedule`` has another period) only the processor
    binaries are set, a partial start that the solver completes or discards.
    """
    graph = model.graph
    names = [t.name for t in graph.tasks]
    proc = canonical_processors(schedule, model.order)
    for (v, p), var in model.x.items():
        var.setInitialValue(1 if proc[names[v]] == p else 0)
    if not full:
        return
    T = model.period
    v0 = model.order[0]
    shift = schedule.start[names[v0]]  # (4c): rotate so that r_{v0} = 0
    start = [schedule.start[name] - shift for name in names]
    offset = [s % T for s in start]
    stage = [s // T for s in start]
    low = min(stage)
    stage = [s - low for s in stage]
    for v in range(graph.n):
        if model.s:
            var = model.s[v]
            if v != v0 and abs(start[v]) > (var.upBound or 0):
                var.lowBound, var.upBound = -abs(start[v]), abs(start[v])  # a redundant bound
            var.setInitialValue(start[v])
            continue
        model.r[v].setInitialValue(offset[v])
        if stage[v] > (model.k[v].upBound or 0):
            model.k[v].upBound = stage[v]  # relaxing a redundant bound is safe
        model.k[v].setInitialValue(stage[v])
    for (i, j), var in model.o.items():
        var.setInitialValue(1 if offset[j] < offset[i] else 0)
    for (i, j), var in model.y.items():
        var.setInitialValue(1 if proc[names[i]] == proc[names[j]] else 0)
    for e_idx, var in model.z.items():
        e = graph.edges[e_idx]
        var.setInitialValue(1 if proc[e.src] != proc[e.dst] else 0)
    used = schedule.graph.staleness()
    for layer, var in model.sigma.items():
        var.setInitialValue(used.get(layer, var.upBound))


# ---------------------------------------------------------------------------
# Backends
# ---------------------------------------------------------------------------
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


def _run(
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
            return _UNKNOWN
    if prob.status == pulp.LpStatusInfeasible:
        model.proven = True
        return _INFEASIBLE
    if prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        model.proven = prob.sol_status == pulp.LpSolutionOptimal
        return _FEASIBLE
    return _UNKNOWN


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


def assignment_of(model: PeriodModel) -> dict[int, int]:
    """Task position -> processor in the solver's values (or the fixed assignment)."""
    if model.assignment is not None:
        return dict(model.assignment)
    best: dict[int, tuple[float, int]] = {}
    for (v, p), var in model.x.items():
        value = (var.varValue or 0.0, -p)
        if v not in best or value > best[v]:
            best[v] = value
    return {v: -p for v, (_, p) in best.items()}


def starts_of(model: PeriodModel) -> list[float]:
    """The continuous starts of the relaxation (15), in task order."""
    return [var.varValue or 0.0 for var in model.s]


def extract(model: PeriodModel) -> Schedule:
    """The schedule in the solver's values: ``s_v = r_v + T*k_v`` (1), staleness lowered."""
    graph, T = model.graph, model.period
    names = [t.name for t in graph.tasks]
    where = assignment_of(model)
    processor = {name: where[v] for v, name in enumerate(names)}
    start = {
        name: round(model.r[v].varValue or 0.0) + T * round(model.k[v].varValue or 0.0)
        for v, name in enumerate(names)
    }
    schedule = Schedule(graph, model.processors, T, processor, start)
    if graph.staleness_cap is not None:
        schedule = least_staleness(schedule)
    return schedule


def least_staleness(schedule: Schedule) -> Schedule:
    """Each layer's least staleness that the starts allow (13); a graph with fixed distances.

    ``s_l = max(1, ceil((s_u + d_u + c*[p_u != p_v] - s_v) / T))`` over the layer's
    weight edges ``u -> v``.
    """
    graph, T = schedule.graph, schedule.period
    need: dict[str, int] = {}
    for e in graph.edges:
        if e.weights is None:
            continue
        comm = e.comm if schedule.processor[e.src] != schedule.processor[e.dst] else 0
        late = schedule.start[e.src] + graph.task(e.src).duration + comm - schedule.start[e.dst]
        need[e.weights] = max(need.get(e.weights, 1), 1, -(-late // T))
    return schedule.with_graph(graph.with_staleness(need))


# ---------------------------------------------------------------------------
# The period search
# ---------------------------------------------------------------------------
def _one_processor(graph: TaskGraph, processors: int) -> Schedule:
    """All tasks back to back on processor 0 in a topological order: ``T = sum d``.

    Valid for every graph: a distance-0 edge goes forward in the order, and any
    other edge reaches at least one whole period ahead.
    """
    g = nx.DiGraph()
    g.add_nodes_from(t.name for t in graph.tasks)
    g.add_edges_from((e.src, e.dst) for e in graph.edges if e.distance == 0 and e.src != e.dst)
    start, t = {}, 0
    for name in nx.lexicographical_topological_sort(g, key=graph.index):
        start[name] = t
        t += graph.task(name).duration
    sched = Schedule(graph, processors, t, {name: 0 for name in start}, start)
    return least_staleness(sched) if graph.staleness_cap is not None else sched


def _check_initial(graph: TaskGraph, processors: int, initial: Schedule) -> Schedule:
    """``initial`` on ``graph`` (with its own staleness for ``auto``); InputError if invalid."""
    from ..validate import validate

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
        target, processors, initial.period, dict(initial.processor), dict(initial.start)
    )
    problems = validate(sched)
    if problems:
        raise InputError(f"initial schedule is not valid: {problems[0].message}")
    return sched


def _lower_bound(graph: TaskGraph, processors: int, given: int | None) -> int:
    lb = max(math.ceil(graph.total_work / processors), max(graph.durations))
    try:
        from ..bounds import lower_bounds
    except ImportError:  # pragma: no cover - bounds is part of the package
        pass
    else:
        lb = max(lb, lower_bounds(graph, processors).lower_bound)
    return max(lb, given or 0)


def solve_milp(
    graph: TaskGraph,
    processors: int,
    *,
    backend: str = "highs",
    lower_bound: int | None = None,
    initial: Schedule | None = None,
    time_limit: float | None = None,
    seed: int = 0,
    export: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    secondary: str | None = "comm",
) -> Result:
    """Minimise the period by a search over ``T``, one MILP per period.

    Parameters
    ----------
    graph
        The task graph. With ``staleness_cap`` set, each weighted layer's
        staleness is chosen in ``[1, cap]`` and the schedule's graph carries
        the least staleness its starts allow.
    processors
        Number of identical processors ``P >= 1``.
    backend
        ``"highs"`` (HiGHS through highspy) or ``"cbc"`` (PuLP's bundled CBC).
    lower_bound
        A proven lower bound on the period (e.g. from
        :func:`lpsched.bounds.lower_bounds`); the larger of it and the bounds
        computed here is used.
    initial
        A valid schedule to warm-start from; its period is the first upper
        bound and the result is never worse.
    time_limit
        Seconds for the whole call (``None``: no limit), shared among the
        steps of the search; a step that runs out of time proves nothing.
    seed
        Random seed of the MILP solver.
    export
        A path ending in ``.lp`` or ``.mps``: the model for the best period
        found (the feasibility model, or the communication model when
        ``secondary == "comm"``) is written there.
    log
        Receives progress lines and the solver's own log; ``None`` for silence.
        Nothing is ever printed on stdout.
    secondary
        ``"comm"``: at the best period, minimise communication bytes per
        iteration (14) by the relaxation (15) and the restriction (16), with
        what is left of the time limit (at most :data:`SECONDARY_SECONDS`
        without one); ``None`` or ``"none"``: stop at the period.

    Returns
    -------
    Result
        ``OPTIMAL`` when the period equals the proven lower bound (the lower
        bound given or computed, or one more than the largest period proven
        infeasible); ``FEASIBLE`` otherwise. ``stats``: ``steps`` (period,
        outcome, the model that decided, seconds), ``comm_bytes``,
        ``comm_minimal`` (proven minimal at this period), ``model`` (size of
        the exported model).

    Raises
    ------
    InputError
        On an unknown backend, a bad processor count, export path or initial
        schedule.
    """
    started = time.perf_counter()
    if backend not in BACKENDS:
        raise InputError(f"unknown MILP backend {backend!r}: expected highs or cbc")
    if isinstance(processors, bool) or not isinstance(processors, int) or processors < 1:
        raise InputError(f"processors must be a positive integer, got {processors!r}")
    if time_limit is not None and not time_limit > 0:
        raise InputError(f"time limit must be positive, got {time_limit}")
    if export is not None and Path(export).suffix.lower() not in (".lp", ".mps"):
        raise InputError(f"export file {str(export)!r} must end in .lp or .mps")
    if secondary not in (None, "comm", "none"):
        raise InputError(f"unknown secondary objective {secondary!r} for the MILP")
    comm_objective = "comm" if secondary == "comm" else None
    name = BACKENDS[backend]
    deadline = None if time_limit is None else started + time_limit

    def remaining() -> float | None:
        return None if deadline is None else deadline - time.perf_counter()

    def say(text: str) -> None:
        if log is not None:
            log(f"{name}: {text}")

    lb = _lower_bound(graph, processors, lower_bound)
    best = (
        _one_processor(graph, processors)
        if initial is None
        else _check_initial(graph, processors, initial)
    )
    if initial is None:
        try:
            from .heuristic import modulo_schedule
        except ImportError:  # pragma: no cover - the heuristic is part of the package
            pass
        else:
            sched = modulo_schedule(
                graph,
                processors,
                lower_bound=lb,
                seed=seed,
                time_limit=None if time_limit is None else 0.1 * time_limit,
            )
            if sched.period < best.period:
                best = _check_initial(graph, processors, sched)
    say(f"lower bound {lb}, warm start period {best.period}")
    if best.period < lb:
        raise InputError(f"initial period {best.period} is below the lower bound {lb}")

    steps: list[dict[str, Any]] = []
    proven = lb  # every T < proven is infeasible
    low = lb  # the search looks at [low, best.period - 1]
    share = 1.0  # a step gets share * (time left) / (steps still to go)

    while best.period > proven:
        left = remaining()
        if left is not None and left < _MIN_STEP_SECONDS:
            break
        hi = best.period
        if low >= hi:
            # Every T in [proven, hi - 1] was tried and ran out of time: start again
            # from the proven bound with longer steps (iterative deepening).
            low, share = proven, share * 2
        # Try the lower bound first (often optimal), then bisect what is undecided.
        T = low if not steps else (low + hi - 1) // 2
        todo = 1 + max(1, math.ceil(math.log2(hi - low + 1)))
        # The first step (T = L) is often decisive: it gets twice the share.
        budget = None if left is None else min(left, share * left / todo * (1 if steps else 2))
        outcome, sched, how, seconds = _step(graph, processors, T, best, backend, budget, seed, log)
        if sched is not None:
            best = sched
        steps.append({"period": T, "outcome": outcome, "by": how, "seconds": round(seconds, 3)})
        say(f"T = {T}: {outcome} by the {how} model ({seconds:.2f} s)")
        if outcome == _INFEASIBLE:
            proven = max(proven, T + 1)
            low = max(low, T + 1)
        elif outcome == _UNKNOWN:
            low = max(low, T + 1)

    # Secondary objective at the best period: the relaxation (15) minimising bytes
    # gives a lower bound and an assignment; its restriction (16) a schedule.
    comm_proven = False
    T = best.period
    left = remaining()
    if comm_objective and (left is None or left > _MIN_STEP_SECONDS):
        t0 = time.perf_counter()
        # Without a time limit the secondary objective still stops: it is a refinement.
        end = t0 + (SECONDARY_SECONDS if left is None else left)
        relaxed = build_model(graph, processors, T, variant="relaxed", objective="comm")
        set_initial(relaxed, best, full=True)
        outcome = _run(relaxed, backend, 0.6 * (end - t0), seed, log, warm_start=True)
        if outcome == _FEASIBLE:
            assignment = assignment_of(relaxed)
            sched, _ = _sequence(
                graph,
                processors,
                T,
                assignment,
                backend,
                max(0.05, end - time.perf_counter()),
                seed,
                log,
                starts_of(relaxed),
            )
            if sched is not None and sched.comm_bytes() < best.comm_bytes():
                best = sched
            # An optimum of the relaxation bounds the bytes of every schedule of period T.
            index = graph.index
            lower = sum(
                e.bytes for e in graph.edges if assignment[index(e.src)] != assignment[index(e.dst)]
            )
            comm_proven = relaxed.proven and best.comm_bytes() <= lower
        seconds = time.perf_counter() - t0
        steps.append(
            {"period": T, "outcome": "comm", "by": "relaxed", "seconds": round(seconds, 3)}
        )
        say(
            f"T = {T}: communication {best.comm_bytes()} bytes per iteration"
            f"{' (minimal)' if comm_proven else ''} ({seconds:.2f} s)"
        )

    if export is not None:
        exported = build_model(graph, processors, T, objective=comm_objective)
        set_initial(exported, best, full=True)
        _export(exported, Path(export))
        stats_model = exported.size()
        say(f"model for T = {T} written to {export}")

    if graph.staleness_cap is not None:
        best = least_staleness(best)  # (P4), also for a warm start kept as it was
    status = Status.OPTIMAL if best.period <= proven else Status.FEASIBLE
    stats: dict[str, Any] = {
        "formulation": "offset",
        "backend": backend,
        "steps": steps,
        "comm_bytes": best.comm_bytes(),
        "comm_minimal": comm_proven,
    }
    if export is not None:
        stats["model"] = stats_model
    return Result(
        schedule=best,
        status=status,
        lower_bound=proven,
        solver=name,
        solve_seconds=time.perf_counter() - started,
        network=graph.name,
        decomposition=graph.decomposition,
        stats=stats,
    )


def _step(
    graph: TaskGraph,
    processors: int,
    T: int,
    best: Schedule,
    backend: str,
    budget: float | None,
    seed: int,
    log: Callable[[str], None] | None,
) -> tuple[str, Schedule | None, str, float]:
    """Decide whether period ``T`` is feasible: relaxation, restriction, full model.

    The relaxation (15) proves most infeasible periods and proposes an
    assignment; the restriction to that assignment (16) turns it into a
    schedule most of the time; the full model (1)-(13) settles the rest.

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

    relaxed = build_model(graph, processors, T, variant="relaxed", objective="latency")
    if relaxed.trivially_infeasible:
        return _INFEASIBLE, None, "relaxed", time.perf_counter() - t0
    set_initial(relaxed, best, full=False)
    outcome = _run(
        relaxed, backend, left(0.4), seed, log, warm_start=True, max_solutions=_RELAXED_SOLUTIONS
    )
    if outcome == _INFEASIBLE:
        return _INFEASIBLE, None, "relaxed", time.perf_counter() - t0
    hint = None
    if outcome == _FEASIBLE:
        assignment = assignment_of(relaxed)
        sched, fixed = _sequence(
            graph, processors, T, assignment, backend, left(0.5), seed, log, starts_of(relaxed)
        )
        if sched is not None:
            how = "fixed" if fixed is not None else "contiguous"
            return _FEASIBLE, sched, how, time.perf_counter() - t0
        if fixed is not None and not fixed.proven:
            hint = assignment  # the restriction ran out of time: the assignment may be fine
    if end is not None and time.perf_counter() > end - _MIN_STEP_SECONDS / 4:
        return _UNKNOWN, None, "full", time.perf_counter() - t0
    full = build_model(graph, processors, T)
    if hint is not None:
        for (v, p), var in full.x.items():
            var.setInitialValue(1 if hint[v] == p else 0)
    else:
        set_initial(full, best, full=False)
    outcome = _run(full, backend, left(), seed, log, warm_start=True)
    sched = None
    if outcome == _FEASIBLE:
        sched = _verified(extract(full), log)
        if sched is None:
            outcome = _UNKNOWN
    return outcome, sched, "full", time.perf_counter() - t0


def contiguous(
    graph: TaskGraph,
    processors: int,
    T: int,
    assignment: dict[int, int],
    hint: list[float] | None = None,
) -> Schedule | None:
    """A quick try at the restriction (16): each processor's tasks back to back.

    Tasks follow ``hint`` (e.g. the starts of the relaxation (15), modulo
    ``T``) or else a topological order of the distance-0 edges on every
    processor; the least stages then solve the difference constraints
    ``k_v - k_u >= ceil((lat_e - w_e*T - r_v + r_u) / T)`` (Bellman-Ford).
    ``None`` when a processor is overloaded or a loop needs more periods than
    its distance gives.
    """
    n, d = graph.n, graph.durations
    index = graph.index
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
        fill[p] = offset[v] + d[v]
    if max(fill.values()) > T:
        return None
    _rotate(graph, T, assignment, offset)
    rows = []
    for e in graph.edges:
        u, v = index(e.src), index(e.dst)
        lat = d[u] + (e.comm if assignment[u] != assignment[v] else 0)
        need = -(-(lat - e.distance * T - offset[v] + offset[u]) // T)
        if u == v:
            if need > 0:
                return None
            continue
        rows.append((u, v, need))
    stage = [0] * n
    for _ in range(n + 1):
        changed = False
        for u, v, need in rows:
            if stage[u] + need > stage[v]:
                stage[v] = stage[u] + need
                changed = True
        if not changed:
            break
    else:
        return None  # a loop asks for more periods than its distance gives
    names = [t.name for t in graph.tasks]
    sched = Schedule(
        graph,
        processors,
        T,
        {names[v]: assignment[v] for v in range(n)},
        {names[v]: offset[v] + T * stage[v] for v in range(n)},
    )
    return least_staleness(sched) if graph.staleness_cap is not None else sched


def _rotate(graph: TaskGraph, T: int, assignment: dict[int, int], offset: list[int]) -> None:
    """Turn each processor's circle so that crossing edges reach across few periods.

    A rotation keeps the arcs of a processor disjoint; it changes how many periods
    ``ceil((lat_e - r_v + r_u) / T)`` each edge between two processors needs. Two
    rounds of coordinate descent over the processors minimise their sum.
    """
    index, d = graph.index, graph.durations
    crossing: dict[int, list[tuple[int, int, int, int]]] = {}
    for e in graph.edges:
        u, v = index(e.src), index(e.dst)
        if assignment[u] != assignment[v]:
            item = (u, v, d[u] + e.comm - e.distance * T, 0)
            crossing.setdefault(assignment[u], []).append(item)
            crossing.setdefault(assignment[v], []).append(item)
    first = min(assignment.values())
    for _ in range(2):
        for p, items in crossing.items():
            if p == first:
                continue  # turning every processor alike changes nothing

            def periods(rho: int, p: int = p, items: list = items) -> int:
                total = 0
                for u, v, lat, _ in items:
                    ru = (offset[u] + rho) % T if assignment[u] == p else offset[u]
                    rv = (offset[v] + rho) % T if assignment[v] == p else offset[v]
                    total += -(-(lat - rv + ru) // T)
                return total

            rho = min(range(T), key=periods)
            for v in assignment:
                if assignment[v] == p:
                    offset[v] = (offset[v] + rho) % T


def _sequence(
    graph: TaskGraph,
    processors: int,
    T: int,
    assignment: dict[int, int],
    backend: str,
    time_limit: float | None,
    seed: int,
    log: Callable[[str], None] | None,
    hint: list[float] | None = None,
) -> tuple[Schedule | None, PeriodModel | None]:
    """Solve the restriction (16) to ``assignment``: a validated schedule or ``None``.

    Back-to-back placements (:func:`contiguous`) in the order of ``hint`` and in
    topological order come first; the MILP only when both fail.
    """
    for order in ([hint] if hint is not None else []) + [None]:
        quick = contiguous(graph, processors, T, assignment, order)
        if quick is not None and _verified(quick, log) is not None:
            return quick, None
    fixed = build_model(graph, processors, T, variant="fixed", assignment=assignment)
    if fixed.trivially_infeasible:
        return None, None
    if _run(fixed, backend, time_limit, seed, log, warm_start=False) != _FEASIBLE:
        return None, fixed
    return _verified(extract(fixed), log), fixed


def _verified(schedule: Schedule, log: Callable[[str], None] | None) -> Schedule | None:
    """``schedule`` if the validator accepts it, else ``None`` (a rounding accident)."""
    from ..validate import validate

    problems = validate(schedule)
    if problems:
        if log is not None:
            log(f"solver solution rejected by the validator: {problems[0].message}")
        return None
    return schedule


def _export(model: PeriodModel, path: Path) -> None:
    """Write the model as LP or MPS (PuLP's writers; no solution values in the file)."""
    try:
        if path.suffix.lower() == ".lp":
            model.prob.writeLP(str(path))
        else:
            model.prob.writeMPS(str(path))
    except OSError as err:
        raise InputError(f"{path}: cannot write ({err.strerror})") from None
