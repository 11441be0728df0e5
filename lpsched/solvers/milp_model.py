"""The MILP of one fixed period on a platform: variables, constraint families, values.

The mathematics is in ``formulations/milp.md``; every function that adds a
family of rows cites its equation numbers (M1, M2, ...). A model decides
whether a :class:`~lpsched.problem.Problem` has a periodic schedule of period
``T`` (the *offset* formulation: processor binaries, offsets ``r_v`` within
the period, integer stages ``k_v`` and, for every pair of tasks that may share
a processor, an order binary whose big-M is a task duration, not the period).
Tasks last ``d_vp`` on processor ``p``; an edge's message costs its ``intra``
or ``inter`` price by whether the two processors share a node. Under
``capacity: ports`` the transfers and their ports are (M20)-(M28), in
:mod:`lpsched.solvers.milp_ports`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pulp

from ..graph import TaskGraph
from ..problem import Problem
from ..schedule import Schedule
from .milp_memory import (
    MemoryRows,
    add_memory,
    extra_stages,
    lag_limit,
    memory_size,
    set_memory_initial,
)
from .milp_placement import add_placement, broken_by, placement_size
from .milp_ports import (
    PortModel,
    add_transfers,
    cheapest_costs,
    message_costs,
    set_transfer_initial,
    transfer_size,
    transfers_of,
)
from .toolkit import least_staleness

#: The model variants: the exact model, its relaxation (M17), its restriction (M18).
VARIANTS = ("full", "relaxed", "fixed")

#: The objectives: none (feasibility), bytes (M16), communication time (M19).
OBJECTIVES = (None, "comm", "latency")

#: Up to this many tasks (every built-in network) the symmetry rows (M4b) sum the
#: earlier tasks' binaries directly; above, through running counts, in ``O(n P)``
#: nonzeros instead of ``P n^2 / 2``.
SYMMETRY_DENSE_TASKS = 400


@dataclass
class PeriodModel:
    """An MILP for one fixed period ``T``: (M1)-(M16), or (M17), (M18) of ``formulations/milp.md``.

    Variables are indexed by task position in ``graph.tasks`` (``v``),
    processor (``p``), task pair ``(u, v)`` with ``u < v``, edge position
    (``e``) and layer name (staleness). In an exported file they read
    ``x_v_p``, ``r_v``, ``k_v``, ``o_u_v``, ``y_u_v`` (same processor), ``z_e``
    (edge crosses processors), ``m_e`` (edge crosses nodes), ``s_v``
    (relaxation only) and ``sigma_i`` (staleness of ``layers[i]``); under
    ports also ``a_k_q_p``, ``rho_k_q``, ``kappa_k_q``, ``po_X_Y``, ``py_X_Y``
    (:mod:`lpsched.solvers.milp_ports`).

    Attributes
    ----------
    problem, period
        The instance and the fixed period.
    prob
        The PuLP problem.
    order
        Task positions in the order used for symmetry breaking (longest first).
    procs
        ``procs[v]``: the processors task ``v`` may use in this model (M1).
    x, r, k, o, y, z, m, sigma, s
        The variables (see above); empty where the variant has none.
    layers
        Layers whose staleness is a decision (``auto`` graphs), sorted by name.
    variant, assignment
        ``full``, ``relaxed`` or ``fixed``, and the fixed assignment of the last.
    costs
        ``costs[e]``: the cost ``C_e`` of (M9) per link class (``problem.comm``
        under ``delay``; the transfer's arrival under ports, (M28)).
    ports
        The transfers and their variables under ``capacity: ports``, else ``None``.
    trivially_infeasible
        Why no schedule with this period can exist, when that is evident
        without a solver (a task longer than ``T`` on every processor), else ``None``.
    proven
        After a solve: whether the solver proved its answer (infeasibility, or
        optimality of its solution).
    """

    problem: Problem
    period: int
    prob: pulp.LpProblem
    order: list[int]
    procs: list[list[int]] = field(default_factory=list)
    x: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    r: list[pulp.LpVariable] = field(default_factory=list)
    k: list[pulp.LpVariable] = field(default_factory=list)
    o: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    y: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    z: dict[int, pulp.LpVariable] = field(default_factory=dict)
    m: dict[int, pulp.LpVariable] = field(default_factory=dict)
    sigma: dict[str, pulp.LpVariable] = field(default_factory=dict)
    layers: list[str] = field(default_factory=list)
    s: list[pulp.LpVariable] = field(default_factory=list)
    variant: str = "full"
    assignment: dict[int, int] | None = None
    costs: tuple[dict[str, int], ...] = ()
    ports: PortModel | None = None
    memory: MemoryRows | None = None
    trivially_infeasible: str | None = None
    proven: bool = False

    @property
    def graph(self) -> TaskGraph:
        """The problem's task graph."""
        return self.problem.graph

    def size(self) -> dict[str, int]:
        """Numbers of variables, integer variables and constraints."""
        variables = self.prob.variables()
        return {
            "variables": len(variables),
            "integers": sum(1 for v in variables if v.cat == pulp.LpInteger),
            "constraints": self.prob.numConstraints(),
        }

    def start(self, v: int) -> Any:
        """``s_v``: the relaxation's continuous start, else ``r_v + T k_v`` (M1)."""
        if self.s:
            return self.s[v]
        return self.r[v] + self.period * self.k[v]

    def duration(self, v: int) -> Any:
        """``D_v = sum_p d_vp x_vp`` (M9): an integer when ``v``'s processors agree."""
        d = self.problem.durations[v]
        values = {d[p] for p in self.procs[v]}
        if len(values) == 1:
            return values.pop()
        return pulp.lpSum(d[p] * self.x[v, p] for p in self.procs[v])

    def min_duration(self, v: int) -> int:
        """The least duration of ``v`` on the processors it may use here."""
        return min(self.problem.durations[v][p] for p in self.procs[v])


# ---------------------------------------------------------------------------
# Sizes derived from the problem
# ---------------------------------------------------------------------------
def link_classes(problem: Problem) -> list[str]:
    """The link classes a pair of distinct processors can use (none on one processor)."""
    if problem.P == 1:
        return []
    return ["intra"] if problem.platform.nodes == 1 else ["intra", "inter"]


def max_comm(problem: Problem) -> list[int]:
    """Each edge's dearest cost ``C_e`` across processors (0 on one processor)."""
    classes = link_classes(problem)
    return [max((c[k] for k in classes), default=0) for c in message_costs(problem)]


def horizon(problem: Problem, period: int) -> int:
    """Largest stage any task needs: the bound ``K`` of (M1) in ``formulations/milp.md``.

    With the offsets and processors of a schedule fixed, the least stages
    solve a system of difference constraints; along a simple path each edge
    adds at most ``lat_e / T + 1``, and ``lat_e`` is at most the longest
    duration of its source plus the dearest link, so
    ``K = n + 1 + ceil((sum_v max_p d_vp + sum_e max c_e) / T)``. Under ports
    an edge is two steps (producer to transfer, transfer to reader), each
    adding at most 1 more: ``K = 2n + 2 + ...`` with the arrivals (M28).
    """
    latency = sum(max(row) for row in problem.durations) + sum(max_comm(problem))
    steps = 2 * problem.n + 2 if problem.ports else problem.n + 1
    steps += extra_stages(problem)  # 0 unless a memory is bounded ("Memory")
    return steps + -(-latency // period)  # exact for any size, unlike a float ceil


def magnitude(problem: Problem, period: int) -> int:
    """The largest number a model of period ``period`` holds: ``T (K + 1)``, a duration or a cost.

    Starts ``s_v = r_v + T k_v`` reach ``T (K + 1)`` (the relaxation's bound
    ``H``); the run compares it with its limit before building anything
    (``formulations/milp.md``, "Numbers").
    """
    T = int(period)
    largest = max((max(row) for row in problem.durations), default=0)
    dearest = max(max_comm(problem), default=0)
    # a transfer's time reaches T (K + 1 + lag)
    lag = lag_limit(problem, T) if problem.ports else 0
    return max(T * (horizon(problem, T) + 1 + lag), largest, dearest)


def symmetry_order(problem: Problem) -> list[int]:
    """Task positions, longest (on the fastest processor) first, ties by position."""
    d = problem.min_durations
    return sorted(range(problem.n), key=lambda v: (-d[v], v))


# ---------------------------------------------------------------------------
# The size of a model, before it is built
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSize:
    """Rows, columns and nonzeros of a model (an upper bound when estimated), and its pairs.

    ``pairs``: the pairs of tasks with rows (M5)-(M8); in the full model
    every pair that may share a processor, quadratic in the tasks.
    """

    rows: int
    columns: int
    nonzeros: int
    pairs: int

    def __add__(self, other: ModelSize) -> ModelSize:
        return ModelSize(
            self.rows + other.rows,
            self.columns + other.columns,
            self.nonzeros + other.nonzeros,
            self.pairs + other.pairs,
        )

    def as_dict(self) -> dict[str, int]:
        """The four numbers by name."""
        return {
            "rows": self.rows,
            "columns": self.columns,
            "nonzeros": self.nonzeros,
            "pairs": self.pairs,
        }


def estimate_size(
    problem: Problem,
    period: int,
    *,
    objective: str | None = None,
    variant: str = "full",
    assignment: dict[int, int] | None = None,
) -> ModelSize:
    """An upper bound on the size of :func:`build_model` (same arguments), without building it.

    Family by family, as :func:`build_model` writes them; pairs of tasks are
    counted per processor (``sum_p C(c_p, 2)`` for the ``c_p`` tasks that may
    use ``p``), never enumerated, so the estimate takes ``O(n P + E)`` time
    and memory (``O(n log n)`` per processor for the relaxation's long pairs).
    """
    T = int(period)
    order = symmetry_order(problem)
    procs = _allowed_processors(problem, T, order, assignment)
    n = problem.n
    X = 0 if assignment is not None else sum(len(ps) for ps in procs)
    size = ModelSize(0, X + (n if variant == "relaxed" else 2 * n), 0, 0)
    if assignment is None:
        size += ModelSize(n + problem.P, 0, 2 * X, 0)  # (M2), (M3)
        size += _symmetry_size(problem, order, procs)
    size += _pair_size(problem, T, procs, variant, assignment)
    size += _edge_size(problem, procs, variant, objective, assignment)
    layers = len({e.weights for e in problem.graph.edges if e.weights is not None})
    cap = problem.graph.staleness_cap
    size += ModelSize(*transfer_size(problem, procs, variant, assignment))
    size += ModelSize(*memory_size(problem, procs), 0)
    if assignment is None:
        size += ModelSize(*placement_size(problem, procs), 0)
    return size + ModelSize(0, layers if cap is not None else 0, len(problem.graph.edges), 0)


def _symmetry_size(problem: Problem, order: list[int], procs: list[list[int]]) -> ModelSize:
    """Rows (M4b) as :func:`_symmetry_rows` writes them, dense or with running counts."""
    previous: dict[int, int] = {}
    for group in problem.platform.interchangeable():
        previous.update(zip(group[1:], group[:-1], strict=False))
    counted = set(previous.values())
    seen: dict[int, int] = {}  # q -> tasks so far with a binary on q
    rows = nonzeros = counts = 0
    for v in order:
        for p in procs[v]:
            if p in previous:
                rows += 1
                nonzeros += 1 + seen.get(previous[p], 0)
        for q in procs[v]:
            seen[q] = seen.get(q, 0) + 1
            counts += q in counted
    if problem.n > SYMMETRY_DENSE_TASKS:
        return ModelSize(rows + counts, counts, 2 * rows + 3 * counts, 0)
    return ModelSize(rows, 0, nonzeros, 0)


def _pair_size(
    problem: Problem,
    T: int,
    procs: list[list[int]],
    variant: str,
    assignment: dict[int, int] | None,
) -> ModelSize:
    """Rows (M5)-(M8) of the pairs, counted per processor."""
    on: dict[int, list[int]] = {}
    for v, ps in enumerate(procs):
        for p in ps:
            on.setdefault(p, []).append(v)
    d = problem.durations
    if assignment is not None:  # (M18): two rows, one order binary per pair on a processor
        pairs = sum(len(t) * (len(t) - 1) // 2 for t in on.values())
        return ModelSize(2 * pairs, pairs, 6 * pairs, pairs)
    if variant == "relaxed":  # (M17): only (M6), for pairs longer than the circle
        long = sum(_long_pair_count([d[v][p] for v in t], T) for p, t in on.items())
        return ModelSize(long, 0, 2 * long, long)
    n = problem.n
    incidences = sum(len(t) * (len(t) - 1) // 2 for t in on.values())
    pairs = min(n * (n - 1) // 2, incidences)
    # (M5) or (M6) per common processor; (M7), (M8) per pair, with y and o.
    rows = incidences + 2 * pairs
    return ModelSize(rows, 2 * pairs, 3 * incidences + 8 * pairs + 2 * incidences, pairs)


def _long_pair_count(durations: list[int], T: int) -> int:
    """Pairs of ``durations`` (two positions) whose sum exceeds ``T``: two pointers."""
    ranked = sorted(durations)
    count, low = 0, 0
    for high in range(len(ranked) - 1, -1, -1):
        while low < high and ranked[low] + ranked[high] <= T:
            low += 1
        if low >= high:
            break
        count += high - low
    return count


def _edge_size(
    problem: Problem,
    procs: list[list[int]],
    variant: str,
    objective: str | None,
    assignment: dict[int, int] | None,
) -> ModelSize:
    """Rows (M9)-(M14) of every edge: precedence, crossings, rounding cuts."""
    graph = problem.graph
    nodes = problem.platform.nodes
    classes = link_classes(problem)
    costs = message_costs(problem)
    rows = columns = nonzeros = 0
    for e_idx, e in enumerate(graph.edges):
        u, v = graph.index(e.src), graph.index(e.dst)
        if u == v:
            continue
        au, av = len(procs[u]), len(procs[v])
        rows += 1 if variant == "relaxed" else 6  # (M9); (M12)-(M14)
        nonzeros += 9 + au + (0 if variant == "relaxed" else 30)
        if assignment is not None:
            continue
        c = costs[e_idx]
        if (c["intra"] > 0 and classes) or (objective == "comm" and e.bytes > 0):
            rows, columns, nonzeros = rows + au, columns + 1, nonzeros + 3 * au  # (M10)
        if "inter" in classes and c["inter"] != c["intra"]:
            rows, columns = rows + 2 * nodes, columns + 1  # (M11)
            nonzeros += 2 * (nodes + au + av)
    return ModelSize(rows, columns, nonzeros, 0)


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------
def build_model(
    problem: Problem,
    period: int,
    *,
    objective: str | None = None,
    variant: str = "full",
    assignment: dict[int, int] | None = None,
) -> PeriodModel:
    """The MILP deciding whether ``problem`` has a schedule of period ``period``.

    Parameters
    ----------
    problem
        The task graph on its platform; with ``staleness_cap`` set, each
        weighted layer's staleness is a decision in ``[1, cap]`` (M15).
    period
        The fixed period ``T``.
    objective
        ``None``: a pure feasibility problem (objective 0); ``"comm"``:
        minimise the bytes sent between processors per iteration (M16);
        ``"latency"``: minimise the communication time (M19). Both are
        constant, hence dropped, in the ``fixed`` variant.
    variant
        ``"full"``: the exact model (M1)-(M15). ``"relaxed"``: its relaxation
        without the non-overlap of pairs, (M17): processors, loads and
        precedence with communication on continuous starts; infeasible only
        when the full model is. ``"fixed"``: its restriction to the processor
        of every task given by ``assignment`` (task position -> processor), (M18).

    Returns
    -------
    PeriodModel
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}")
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}")
    if (variant == "fixed") != (assignment is not None):
        raise ValueError("an assignment is given exactly for variant 'fixed'")
    T = int(period)
    prob = pulp.LpProblem(f"lpsched_period_{T}", pulp.LpMinimize)
    order = symmetry_order(problem)
    model = PeriodModel(problem, T, prob, order, variant=variant, assignment=assignment)
    model.costs = message_costs(problem)
    model.procs = _allowed_processors(problem, T, order, assignment)
    _check_durations(model)
    _variables(model)
    if assignment is None:
        _assignment_rows(model)
        _load_rows(model)
        _symmetry_rows(model)
        add_placement(model)  # (M35), (M36) under placement layer or stages
    else:
        _fixed_loads(model)
        if model.trivially_infeasible is None:
            model.trivially_infeasible = broken_by(problem, assignment)
    _pair_rows(model)
    _staleness_variables(model)
    for e_idx in range(len(problem.graph.edges)):
        _precedence(model, e_idx, objective)
    add_transfers(model)  # (M20)-(M27) under ports; nothing under delay
    add_memory(model)  # (M29)-(M34) under a bounded memory; nothing otherwise
    _objective(model, objective)
    return model


def _allowed_processors(
    problem: Problem, T: int, order: list[int], assignment: dict[int, int] | None
) -> list[list[int]]:
    """The processors of each task (M1): symmetry (M4a), and no processor too slow for ``T``.

    Within each group of interchangeable processors ``g_0 < g_1 < ...``, the
    task at position ``i`` of ``order`` may use ``g_0 .. g_i`` (M4a). A
    processor on which the task lasts more than ``T`` is left out, unless every
    processor is (then the model is trivially infeasible and never solved).
    """
    if assignment is not None:
        return [[assignment[v]] for v in range(problem.n)]
    pos = {v: i for i, v in enumerate(order)}
    groups = problem.platform.interchangeable()
    out = []
    for v in range(problem.n):
        sym = sorted(p for g in groups for p in g[: pos[v] + 1])
        fits = [p for p in sym if problem.durations[v][p] <= T]
        out.append(fits or sym)
    return out


def _check_durations(model: PeriodModel) -> None:
    """A task that lasts more than ``T`` even on its fastest processor overlaps itself."""
    d = model.problem.min_durations
    v = max(range(model.problem.n), key=lambda i: (d[i], -i))
    if d[v] > model.period:
        name = model.graph.tasks[v].name
        model.trivially_infeasible = (
            f"task {name} lasts {d[v]} > T = {model.period} and would overlap itself"
        )


def _variables(model: PeriodModel) -> None:
    """(M1): processor binaries, then offsets and stages (or the relaxation's starts).

    Also (M4c): shifting every start by one amount changes nothing, so the
    first task of the symmetry order starts at offset 0.
    """
    T, n = model.period, model.problem.n
    if model.assignment is None:
        for v in range(n):
            for p in model.procs[v]:
                model.x[v, p] = pulp.LpVariable(f"x_{v}_{p}", cat=pulp.LpBinary)
    K = horizon(model.problem, T)
    v0 = model.order[0]
    if model.variant == "relaxed":
        # (M17): one continuous start per task, s_v = r_v + T*k_v of the full model
        # shifted so that s_{v0} = 0 (a shift by any amount is harmless here).
        H = T * (K + 1)
        model.s = [pulp.LpVariable(f"s_{v}", -H, H) for v in range(n)]
        model.s[v0].lowBound = model.s[v0].upBound = 0
        return
    model.r = [pulp.LpVariable(f"r_{v}", 0, T - 1, cat=pulp.LpInteger) for v in range(n)]
    model.k = [pulp.LpVariable(f"k_{v}", 0, K, cat=pulp.LpInteger) for v in range(n)]
    model.r[v0].upBound = 0


def _assignment_rows(model: PeriodModel) -> None:
    """(M2): every task on exactly one processor."""
    for v in range(model.problem.n):
        model.prob += pulp.lpSum(model.x[v, p] for p in model.procs[v]) == 1, f"assign_{v}"


def _load_rows(model: PeriodModel) -> None:
    """(M3): a processor's load at most ``T`` (implied by (M7)-(M8), but a strong cut)."""
    d = model.problem.durations
    for p in range(model.problem.P):
        terms = [d[v][p] * model.x[v, p] for v in range(model.problem.n) if (v, p) in model.x]
        if terms:
            model.prob += pulp.lpSum(terms) <= model.period, f"load_{p}"


def _symmetry_rows(model: PeriodModel) -> None:
    """(M4b): in a group ``g_0 < g_1 < ...``, ``g_j`` is used only after ``g_{j-1}`` is.

    So the processors of every group of interchangeable ones are numbered by
    their first task in ``order``; any schedule can be relabelled so. Up to
    :data:`SYMMETRY_DENSE_TASKS` tasks each row sums the earlier tasks'
    binaries (``P n^2 / 2`` nonzeros); above, through running counts
    (:func:`_symmetry_counts`): the same rows in ``O(n P)`` nonzeros.
    """
    previous: dict[int, int] = {}
    for group in model.problem.platform.interchangeable():
        previous.update(zip(group[1:], group[:-1], strict=False))
    if model.problem.n > SYMMETRY_DENSE_TASKS:
        _symmetry_counts(model, previous)
        return
    x = model.x
    for i, v in enumerate(model.order):
        for p in model.procs[v]:
            if p not in previous or (v, p) not in x:
                continue
            q = previous[p]
            earlier = [x[u, q] for u in model.order[:i] if (u, q) in x]
            model.prob += x[v, p] <= pulp.lpSum(earlier), f"sym_{v}_{p}"


def _symmetry_counts(model: PeriodModel, previous: dict[int, int]) -> None:
    """(M4b) with ``c_vq = sum_{u up to v in order} x_uq``, one continuous count per binary.

    ``c_vq = c_v'q + x_vq`` (``v'`` the task before ``v`` on ``q``) and
    ``x_vp <= c_v'q`` for ``q`` before ``p`` in its group: the rows of
    :func:`_symmetry_rows`, each sum written once.
    """
    x, prob = model.x, model.prob
    counted = set(previous.values())
    count: dict[int, Any] = {}
    for v in model.order:
        for p in model.procs[v]:
            if p in previous and (v, p) in x:
                prob += x[v, p] <= count.get(previous[p], 0), f"sym_{v}_{p}"
        for q in model.procs[v]:
            if q in counted and (v, q) in x:
                c = pulp.LpVariable(f"c_{v}_{q}", 0, model.problem.n)
                prob += c == count.get(q, 0) + x[v, q], f"count_{v}_{q}"
                count[q] = c


def _fixed_loads(model: PeriodModel) -> None:
    """(M3) of the restriction (M18): an overloaded processor makes it trivially infeasible."""
    assert model.assignment is not None
    load: dict[int, int] = {}
    for v, p in model.assignment.items():
        load[p] = load.get(p, 0) + model.problem.durations[v][p]
    p, most = max(load.items(), key=lambda item: item[1])
    if most > model.period:
        model.trivially_infeasible = f"processor {p} carries {most} > T = {model.period}"


def _pair_rows(model: PeriodModel) -> None:
    """(M5)-(M8): modulo non-overlap of every pair of tasks that may share a processor."""
    T = model.period
    d = model.problem.durations
    for i, j, common in _candidate_pairs(model):
        apart = [p for p in common if d[i][p] + d[j][p] > T]
        if apart:
            _pair_apart(model, i, j, apart)
        shared = [p for p in common if d[i][p] + d[j][p] <= T]
        if shared and model.variant != "relaxed":
            _pair_order(model, i, j, shared)


def _candidate_pairs(model: PeriodModel) -> Iterator[tuple[int, int, list[int]]]:
    """Pairs ``i < j`` with rows in this variant, lexicographically, with their common processors.

    The full model needs every pair that may share a processor (quadratic,
    which :func:`estimate_size` counts before building); the restriction
    (M18) only the pairs on one processor, and the relaxation (M17) only the
    pairs too long to share one (M6): both are found without looking at the
    other pairs, so that their models stay proportional to what they hold.
    """
    n = model.problem.n
    allowed = [set(ps) for ps in model.procs]
    if model.variant == "full" and model.assignment is None:
        for i in range(n):
            for j in range(i + 1, n):
                common = [p for p in model.procs[i] if p in allowed[j]]
                if common:
                    yield i, j, common
        return
    if model.assignment is not None:
        candidates = _same_processor_pairs(model.assignment, n)
    else:
        candidates = _long_pairs(model)
    for i, j in candidates:
        yield i, j, [p for p in model.procs[i] if p in allowed[j]]


def _same_processor_pairs(assignment: dict[int, int], n: int) -> Iterator[tuple[int, int]]:
    """Pairs ``i < j`` on one processor of ``assignment``, in lexicographic order."""
    on: dict[int, list[int]] = {}
    for v in range(n):
        on.setdefault(assignment[v], []).append(v)
    rank = {v: a for tasks in on.values() for a, v in enumerate(tasks)}
    for i in range(n):
        tasks = on[assignment[i]]
        for j in tasks[rank[i] + 1 :]:
            yield i, j


def _long_pairs(model: PeriodModel) -> list[tuple[int, int]]:
    """Pairs ``i < j`` with ``d_ip + d_jp > T`` on a common processor ``p``, sorted.

    On each processor the tasks are sorted by duration, longest first; the
    partners of a task that together exceed ``T`` are a prefix of that list.
    """
    T, d = model.period, model.problem.durations
    on: dict[int, list[int]] = {}
    for v, ps in enumerate(model.procs):
        for p in ps:
            on.setdefault(p, []).append(v)
    found: set[tuple[int, int]] = set()
    for p, tasks in on.items():
        ranked = sorted(tasks, key=lambda v: -d[v][p])
        for a, i in enumerate(ranked):
            for b in range(a):
                j = ranked[b]
                if d[i][p] + d[j][p] <= T:
                    break
                found.add((min(i, j), max(i, j)))
    return sorted(found)


def _pair_apart(model: PeriodModel, i: int, j: int, apart: list[int]) -> None:
    """(M6): two arcs longer than the circle together never share processor ``p``."""
    if model.assignment is not None:
        names = model.graph.tasks
        model.trivially_infeasible = (
            f"{names[i].name} and {names[j].name} share a processor "
            f"and last more than T = {model.period} together"
        )
        return
    for p in apart:
        model.prob += model.x[i, p] + model.x[j, p] <= 1, f"apart_{i}_{j}_{p}"


def _pair_order(model: PeriodModel, i: int, j: int, shared: list[int]) -> None:
    """(M5), (M7), (M8): ``r_j - r_i + T o_ij`` in ``[D_i, T - D_j]`` on one processor.

    On different processors the rows only ask ``r_j - r_i + T o in [0, T]``:
    the big-M is a duration, not the period.
    """
    T, prob = model.period, model.prob
    o = pulp.LpVariable(f"o_{i}_{j}", cat=pulp.LpBinary)
    model.o[i, j] = o
    if model.assignment is None:
        y: Any = pulp.LpVariable(f"y_{i}_{j}", 0, 1)
        model.y[i, j] = y
        for p in shared:  # (M5) y = 1 when both run on p
            prob += y >= model.x[i, p] + model.x[j, p] - 1, f"same_{i}_{j}_{p}"
    else:
        y = 1
    r = model.r
    prob += r[j] - r[i] + T * o >= _busy(model, i, shared, y), f"after_{i}_{j}"
    prob += r[j] - r[i] + T * o <= T - _busy(model, j, shared, y), f"before_{i}_{j}"


def _busy(model: PeriodModel, v: int, shared: list[int], y: Any) -> Any:
    """``v``'s duration when ``y = 1`` (both on one processor of ``shared``), else at most 0.

    ``d_v y`` when ``v`` lasts alike on all its processors, else
    ``sum_{p in shared} d_vp x_vp - max_{p in shared} d_vp (1 - y)`` (M7), (M8).
    """
    d = model.problem.durations[v]
    if model.assignment is not None or len({d[p] for p in model.procs[v]}) == 1:
        return d[model.procs[v][0]] * y
    most = max(d[p] for p in shared)
    return pulp.lpSum(d[p] * model.x[v, p] for p in shared) - most * (1 - y)


def _staleness_variables(model: PeriodModel) -> None:
    """(M15): with the ``auto`` policy, each weighted layer's staleness in ``[1, cap]``."""
    graph = model.graph
    cap = graph.staleness_cap
    if cap is None:
        return
    model.layers = sorted({e.weights for e in graph.edges if e.weights is not None})
    for idx, layer in enumerate(model.layers):
        model.sigma[layer] = pulp.LpVariable(f"sigma_{idx}", 1, cap, cat=pulp.LpInteger)


def _precedence(model: PeriodModel, e_idx: int, objective: str | None) -> None:
    """(M9): ``s_v - s_u + T w_e >= D_u + C_e``, with the crossings (M10), (M11) and cuts.

    ``C_e = c_intra z_e + (c_inter - c_intra) m_e`` is the message's cost:
    ``z_e`` says the edge crosses processors, ``m_e`` that it crosses nodes.
    """
    graph, T = model.graph, model.period
    e = graph.edges[e_idx]
    u, v = graph.index(e.src), graph.index(e.dst)
    cap = graph.staleness_cap
    if u == v:
        # A loop on one task: s + w*T >= s + d, i.e. T*w >= d (no communication).
        most = cap if (cap is not None and e.weights is not None) else e.distance
        if model.min_duration(u) > T * most:
            model.trivially_infeasible = (
                f"self-loop on {e.src} needs T >= {model.min_duration(u)}/{most}, have {T}"
            )
        return
    dist = distance_term(model, e_idx)
    z, m, cost = _message(model, e_idx, u, v, objective)
    row = model.start(v) - model.start(u) + T * dist >= model.duration(u) + cost
    model.prob += row, f"prec_{e_idx}"
    if model.variant != "relaxed":
        _rounding_cuts(model, e_idx, u, v, dist, z, m)


def distance_term(model: PeriodModel, e_idx: int) -> Any:
    """``w_e``, or the staleness ``sigma_l`` of its layer (M15) for a weight edge of ``auto``."""
    e = model.graph.edges[e_idx]
    cap = model.graph.staleness_cap
    return model.sigma[e.weights] if cap is not None and e.weights is not None else e.distance


def _cost(model: PeriodModel, e_idx: int, p: int, q: int) -> int:
    """``C_e`` between processors ``p`` and ``q`` (0 on one): ``problem.edge_cost`` under delay."""
    if p == q:
        return 0
    return model.costs[e_idx][model.problem.platform.link_class(p, q)]


def _message(
    model: PeriodModel, e_idx: int, u: int, v: int, objective: str | None
) -> tuple[Any, Any, Any]:
    """The crossing indicators ``z_e``, ``m_e`` (variables or constants) and ``C_e``."""
    problem = model.problem
    if model.assignment is not None:
        pu, pv = model.assignment[u], model.assignment[v]
        z = 1 if pu != pv else 0
        m = 1 if problem.platform.link_class(pu, pv) == "inter" and z else 0
        return z, m, _cost(model, e_idx, pu, pv) if z else 0
    c = model.costs[e_idx]
    intra = c["intra"] if problem.P > 1 else 0
    extra = c["inter"] - c["intra"] if "inter" in link_classes(problem) else 0
    z: Any = 0
    m: Any = 0
    if intra > 0 or (objective == "comm" and model.graph.edges[e_idx].bytes > 0):
        z = _processor_crossing(model, e_idx, u, v)
    if extra != 0:
        m = _node_crossing(model, e_idx, u, v, upper=extra < 0)
    return z, m, intra * z + extra * m


def _processor_crossing(model: PeriodModel, e_idx: int, u: int, v: int) -> pulp.LpVariable:
    """(M10): ``z_e >= x_up - x_vp`` for all ``p``: 1 when the edge crosses processors."""
    z = pulp.LpVariable(f"z_{e_idx}", 0, 1)
    model.z[e_idx] = z
    for p in model.procs[u]:
        rhs = model.x[u, p] - model.x[v, p] if (v, p) in model.x else model.x[u, p]
        model.prob += z >= rhs, f"cross_{e_idx}_{p}"
    return z


def _node_crossing(
    model: PeriodModel, e_idx: int, u: int, v: int, *, upper: bool
) -> pulp.LpVariable:
    """(M11): ``m_e >= X_uN - X_vN`` for every node ``N``: 1 when the edge crosses nodes.

    ``X_vN = sum_{p in N} x_vp``. When an inter-node message is the cheaper
    one (``upper``), ``m_e`` lowers ``C_e`` and is also bounded above:
    ``m_e <= 2 - X_uN - X_vN`` (0 when both ends sit in node ``N``).
    """
    m = pulp.LpVariable(f"m_{e_idx}", 0, 1)
    model.m[e_idx] = m
    nodes = [p.node for p in model.problem.platform.processors]
    for node in range(model.problem.platform.nodes):
        xu = [model.x[u, p] for p in model.procs[u] if nodes[p] == node]
        xv = [model.x[v, p] for p in model.procs[v] if nodes[p] == node]
        if xu:
            model.prob += m >= pulp.lpSum(xu) - pulp.lpSum(xv), f"node_{e_idx}_{node}"
        if upper and xu and xv:
            model.prob += m <= 2 - pulp.lpSum(xu) - pulp.lpSum(xv), f"nodeub_{e_idx}_{node}"
    return m


def _rounding_cuts(
    model: PeriodModel, e_idx: int, u: int, v: int, dist: Any, z: Any, m: Any
) -> None:
    """(M12)-(M14): integer rounding of precedence (M9) edge by edge.

    ``q = k_v - k_u + w`` counts the periods edge ``u -> v`` reaches across,
    and (M9) reads ``T*q + r_v - r_u >= lat``. The LP only gets
    ``q >= (lat - r_v + r_u)/T``; these cuts round it up using whether ``v``
    starts before ``u`` within the period (``b``, from the order binary) and
    whether the edge crosses processors (``z``) or nodes (``m``), each with the
    least latency it implies.
    """
    T = model.period
    q = model.k[v] - model.k[u] + dist
    o = model.o.get((min(u, v), max(u, v)))
    prob = model.prob
    crossings = _crossing_latencies(model, e_idx, u, z, m)
    for tag, ind, lat in crossings:
        # (M13) crossing: r_v - r_u <= T - 1, so q >= ceil((lat - T + 1)/T).
        qa = -(-(lat - T + 1) // T)
        if qa >= 1:
            prob += q >= qa * ind, f"wrapc{tag}_{e_idx}"
    if o is None:
        return
    # b = 1 when r_v <= r_u (v not after u); then T*q >= lat >= 1, so q >= 1 (M12).
    b = o if u < v else 1 - o
    prob += q >= b, f"wrap_{e_idx}"
    for tag, ind, lat in crossings:
        # (M14) crossing and v not after u: q >= ceil(lat/T).
        qb = -(-lat // T)
        if qb >= 2:
            prob += q >= qb * (ind + b - 1), f"wrapb{tag}_{e_idx}"


def _crossing_latencies(
    model: PeriodModel, e_idx: int, u: int, z: Any, m: Any
) -> list[tuple[str, Any, int]]:
    """``(tag, indicator, least latency when it is 1)`` for the cuts (M13), (M14).

    An indicator that is the constant 0 gives no cut; nor, in the full and
    relaxed models, a crossing that costs nothing (its cuts could only bind
    for a task exactly as long as the period).
    """
    problem = model.problem
    out: list[tuple[str, Any, int]] = []
    if model.assignment is not None:
        if z == 1:
            pu = model.assignment[u]
            pv = model.assignment[model.graph.index(model.graph.edges[e_idx].dst)]
            out.append(("", 1, problem.durations[u][pu] + _cost(model, e_idx, pu, pv)))
        return out
    du = model.min_duration(u)
    least = cheapest_costs(problem, model.costs)[e_idx]
    if not isinstance(z, int) and least > 0:
        out.append(("", z, du + least))
    inter = model.costs[e_idx]["inter"]
    if not isinstance(m, int) and inter > least:
        out.append(("n", m, du + inter))
    return out


def _objective(model: PeriodModel, objective: str | None) -> None:
    """(M16) bytes per iteration, (M19) communication time, or none (feasibility)."""
    graph, prob = model.graph, model.prob
    if model.assignment is None and objective == "comm":
        prob += pulp.lpSum(graph.edges[e].bytes * z for e, z in model.z.items())
    elif model.assignment is None and objective == "latency":
        # (M19) steers the relaxation to assignments whose loops keep slack, which
        # the restriction (M18) can then sequence.
        prob += _communication_time(model)
    else:
        prob += pulp.LpAffineExpression()  # feasibility: any solution is optimal


def _communication_time(model: PeriodModel) -> Any:
    """``sum_e C_e`` (M19) with ``C_e`` of (M9)."""
    problem, costs = model.problem, model.costs
    terms = []
    for e, z in model.z.items():
        terms.append((costs[e]["intra"] if problem.P > 1 else 0) * z)
    for e, m in model.m.items():
        terms.append((costs[e]["inter"] - costs[e]["intra"]) * m)
    return pulp.lpSum(terms)


# ---------------------------------------------------------------------------
# Warm starts
# ---------------------------------------------------------------------------
def canonical_processors(schedule: Schedule, problem: Problem, order: list[int]) -> dict[str, int]:
    """Renumber each group's processors by their first task in ``order``, as (M4b) requires."""
    relabel = canonical_relabel(schedule, problem, order)
    return {name: relabel[p] for name, p in schedule.processor.items()}


def canonical_relabel(schedule: Schedule, problem: Problem, order: list[int]) -> dict[int, int]:
    """Processor -> its number in :func:`canonical_processors` (unused ones take those left)."""
    names = [t.name for t in schedule.graph.tasks]
    group_of = {p: tuple(g) for g in problem.platform.interchangeable() for p in g}
    relabel: dict[int, int] = {}
    taken: dict[tuple[int, ...], int] = {}
    for v in order:
        p = schedule.processor[names[v]]
        if p not in relabel:
            g = group_of[p]
            relabel[p] = g[taken.get(g, 0)]
            taken[g] = taken.get(g, 0) + 1
    for g in set(group_of.values()):  # a permutation of each group (transfers name processors)
        free = [q for q in g if q not in relabel.values()]
        for p, q in zip([p for p in g if p not in relabel], free, strict=True):
            relabel[p] = q
    return relabel


def set_initial(model: PeriodModel, schedule: Schedule, *, full: bool) -> None:
    """Give every variable the value it takes in ``schedule`` (``setInitialValue``).

    With ``full=False`` (``schedule`` has another period) only the processor
    binaries are set, a partial start that the solver completes or discards.
    """
    names = [t.name for t in model.graph.tasks]
    relabel = canonical_relabel(schedule, model.problem, model.order)
    proc = {name: relabel[p] for name, p in schedule.processor.items()}
    for (v, p), var in model.x.items():
        var.setInitialValue(1 if proc[names[v]] == p else 0)
    if not full:
        return
    T = model.period
    v0 = model.order[0]
    shift = schedule.start[names[v0]]  # (M4c): rotate so that r_{v0} = 0
    start = [schedule.start[name] - shift for name in names]
    _set_times(model, start, v0)
    offset = [s % T for s in start]
    for (i, j), var in model.o.items():
        var.setInitialValue(1 if offset[j] < offset[i] else 0)
    for (i, j), var in model.y.items():
        var.setInitialValue(1 if proc[names[i]] == proc[names[j]] else 0)
    platform = model.problem.platform
    for e_idx, var in model.z.items():
        e = model.graph.edges[e_idx]
        var.setInitialValue(1 if proc[e.src] != proc[e.dst] else 0)
    for e_idx, var in model.m.items():
        e = model.graph.edges[e_idx]
        var.setInitialValue(1 if platform.link_class(proc[e.src], proc[e.dst]) == "inter" else 0)
    used = schedule.graph.staleness()
    for layer, var in model.sigma.items():
        var.setInitialValue(used.get(layer, var.upBound))
    set_transfer_initial(model, schedule, relabel, shift)
    set_memory_initial(model, schedule, relabel)


def _set_times(model: PeriodModel, start: list[int], v0: int) -> None:
    """Starts (relaxation) or offsets and stages, widening redundant bounds where needed."""
    T = model.period
    stage = [s // T for s in start]
    low = min(stage)
    stage = [s - low for s in stage]
    for v in range(model.problem.n):
        if model.s:
            var = model.s[v]
            if v != v0 and abs(start[v]) > (var.upBound or 0):
                var.lowBound, var.upBound = -abs(start[v]), abs(start[v])  # a redundant bound
            var.setInitialValue(start[v])
            continue
        model.r[v].setInitialValue(start[v] % T)
        if stage[v] > (model.k[v].upBound or 0):
            model.k[v].upBound = stage[v]  # relaxing a redundant bound is safe
        model.k[v].setInitialValue(stage[v])


# ---------------------------------------------------------------------------
# Reading solutions
# ---------------------------------------------------------------------------
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
    """The continuous starts of the relaxation (M17), in task order."""
    return [var.varValue or 0.0 for var in model.s]


def extract(model: PeriodModel) -> Schedule:
    """The schedule in the solver's values: ``s_v = r_v + T*k_v`` (M1), staleness lowered."""
    graph, T = model.graph, model.period
    names = [t.name for t in graph.tasks]
    where = assignment_of(model)
    processor = {name: where[v] for v, name in enumerate(names)}
    start = {
        name: round(model.r[v].varValue or 0.0) + T * round(model.k[v].varValue or 0.0)
        for v, name in enumerate(names)
    }
    transfers = transfers_of(model, where)
    return least_staleness(
        Schedule(
            graph,
            model.problem.platform,
            T,
            processor,
            start,
            transfers=transfers,
            placement=model.problem.placement,
        )
    )
