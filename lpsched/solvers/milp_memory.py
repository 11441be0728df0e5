"""Memory capacities in the MILP: copies of every tensor and the footprint rows, (M29)-(M34).

The mathematics is in ``formulations/milp.md`` ("Memory"); the model is (P8)
of ``formulations/README.md`` and :mod:`lpsched.footprint` is its reference.
At a fixed period ``T`` the copies of a residency, ``ceil(L / T)``, are an
integer ``n_gp`` with ``T n_gp >= L``: linear, since ``T`` is a constant of
each model. One variable per tensor group ``g`` and processor ``p`` with a
bounded memory; its rows are switched on by the processor binaries, with
big-Ms taken from the bounds of the starts. Without a bounded memory nothing
here is written and the model is the one of (M1)-(M28).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulp

from ..footprint import residencies
from ..problem import Problem
from ..schedule import Schedule

if TYPE_CHECKING:
    from .milp_model import PeriodModel


@dataclass(frozen=True)
class Group:
    """A tensor group as the footprint counts it: producer, name, bytes, its edges."""

    producer: int
    name: str
    bytes: int
    edges: tuple[int, ...]


@dataclass
class MemoryRows:
    """The memory part of one period model.

    Attributes
    ----------
    groups
        The tensor groups with bytes (:func:`memory_groups`).
    copies
        ``(g, p) -> n_gp`` (M29), for processors of bounded memory only.
    scale
        The common divisor of every byte count, by which the rows (M30) are divided.
    """

    groups: list[Group] = field(default_factory=list)
    copies: dict[tuple[int, int], Any] = field(default_factory=dict)
    scale: int = 1


# ---------------------------------------------------------------------------
# What the footprint counts
# ---------------------------------------------------------------------------
def bounded(problem: Problem) -> bool:
    """Whether some processor has a memory capacity."""
    return any(p.memory is not None for p in problem.platform.processors)


def memory_groups(problem: Problem) -> list[Group]:
    """Every edge grouped by (producer, tensor name) as :mod:`lpsched.footprint` does; bytes > 0."""
    graph = problem.graph
    groups: dict[tuple[int, str], list[int]] = {}
    for i, e in enumerate(graph.edges):
        name = e.tensor if e.tensor is not None else f"e{i}:{e.src}->{e.dst}"
        groups.setdefault((graph.index(e.src), name), []).append(i)
    out = []
    for (u, name), idx in groups.items():
        nbytes = max(graph.edges[i].bytes for i in idx)
        if nbytes > 0:
            out.append(Group(u, name, nbytes, tuple(idx)))
    return out


def optimizer_bytes(problem: Problem) -> dict[int, int]:
    """Update task -> its optimizer state: ``optimizer_state x`` its parameter bytes."""
    factor = problem.platform.optimizer_state
    out: dict[int, int] = {}
    if factor == 0:
        return out
    graph = problem.graph
    for e in graph.edges:
        if e.weights is not None:
            u = graph.index(e.src)
            out[u] = max(out.get(u, 0), math.ceil(factor * e.bytes))
    return out


def most_distance(problem: Problem, e_idx: int) -> int:
    """The largest distance edge ``e`` may take: the cap for a weight edge of ``auto``."""
    e = problem.graph.edges[e_idx]
    cap = problem.graph.staleness_cap
    return cap if cap is not None and e.weights is not None else e.distance


def extra_stages(problem: Problem) -> int:
    """Stages the horizon ``K`` gains under bounded memory (``formulations/milp.md``, "Memory").

    With offsets fixed, a row (M32)-(M34) bounds a stage difference along an
    edge from above by ``n - w_e - 2`` at worst, so a simple path of the
    difference constraints gains at most ``w_e + 2`` per edge it uses (twice
    under ports: producer to transfer, transfer to reader).
    """
    if not bounded(problem):
        return 0
    total = sum(most_distance(problem, e) + 2 for g in memory_groups(problem) for e in g.edges)
    return total * (2 if problem.ports else 1)


def memory_size(problem: Problem, procs: list[list[int]]) -> tuple[int, int, int]:
    """Upper bounds on the rows, columns and nonzeros of (M29)-(M34)."""
    if not bounded(problem):
        return 0, 0, 0
    finite = {p for p, proc in enumerate(problem.platform.processors) if proc.memory is not None}
    graph = problem.graph
    rows = cols = nonzeros = 0
    for g in memory_groups(problem):
        where = set(procs[g.producer])
        for e in g.edges:
            v = graph.index(graph.edges[e].dst)
            where |= set(procs[v])
            # (M32)-(M34): per processor of the reader and of the producer, <= 3 rows.
            rows += 3 * len(procs[v]) + 2 * len(procs[g.producer])
            nonzeros += 12 * (3 * len(procs[v]) + 2 * len(procs[g.producer]))
        cols += len(where & finite)
        rows += len(procs[g.producer])
        nonzeros += 2 * len(procs[g.producer])
    rows += len(finite)
    nonzeros += cols + problem.n * len(finite)
    return rows, cols, nonzeros


def fits(schedule: Schedule) -> bool:
    """Whether ``schedule``'s footprint (the validator's) fits every memory."""
    from ..validate import memory_footprints

    used = memory_footprints(schedule)
    return all(
        p.memory is None or b <= p.memory
        for b, p in zip(used, schedule.platform.processors, strict=True)
    )


# ---------------------------------------------------------------------------
# The rows
# ---------------------------------------------------------------------------
def start_range(model: PeriodModel) -> tuple[int, int]:
    """The least and largest value a start ``s_v`` takes in this model's bounds."""
    from .milp_model import horizon

    T = model.period
    K = horizon(model.problem, T)
    if model.variant == "relaxed":
        return -T * (K + 1), T * (K + 1)
    return 0, T * K + T - 1


def add_memory(model: PeriodModel) -> None:
    """(M29)-(M34) on ``model`` (nothing when every memory is unlimited)."""
    problem = model.problem
    if not bounded(problem):
        return
    mem = MemoryRows(groups=memory_groups(problem))
    opt = optimizer_bytes(problem)
    mem.scale = math.gcd(*[g.bytes for g in mem.groups], *opt.values()) or 1
    model.memory = mem
    finite = [p.memory for p in problem.platform.processors]
    graph = problem.graph
    for gi, g in enumerate(mem.groups):
        where = set(model.procs[g.producer])
        for e in g.edges:
            where |= set(model.procs[graph.index(graph.edges[e].dst)])
        for p in sorted(where):
            if finite[p] is not None:
                top = math.floor(finite[p] / g.bytes)
                mem.copies[gi, p] = pulp.LpVariable(f"n_{gi}_{p}", 0, top, cat=pulp.LpInteger)
    for gi, g in enumerate(mem.groups):
        _producer_rows(model, gi, g)
        for e in g.edges:
            _edge_rows(model, gi, g, e)
    _footprint_rows(model, opt)


def _x(model: PeriodModel, v: int, p: int) -> Any:
    """``x_vp``: a binary, or 0/1 in the restriction (0 where ``v`` may not use ``p``)."""
    if model.assignment is not None:
        return 1 if model.assignment[v] == p else 0
    return model.x.get((v, p), 0)


def _footprint_rows(model: PeriodModel, opt: dict[int, int]) -> None:
    """(M30): ``sum_g b_g n_gp + sum_U o_U x_Up <= memory(p)``, divided by the common scale."""
    mem = model.memory
    s = mem.scale
    for p, proc in enumerate(model.problem.platform.processors):
        if proc.memory is None:
            continue
        terms = [mem.groups[gi].bytes // s * n for (gi, q), n in mem.copies.items() if q == p]
        terms += [b // s * _x(model, u, p) for u, b in opt.items()]
        model.prob += pulp.lpSum(terms) <= math.floor(proc.memory / s), f"mem_{p}"


def _producer_rows(model: PeriodModel, gi: int, g: Group) -> None:
    """(M31): on the producer's processor at least ``ceil(d_up / T) = 1`` copy."""
    u = g.producer
    for p in model.procs[u]:
        n = model.memory.copies.get((gi, p))
        if n is not None and model.problem.durations[u][p] > 0:
            model.prob += n >= _x(model, u, p), f"mprod_{gi}_{p}"


def _edge_rows(model: PeriodModel, gi: int, g: Group, e_idx: int) -> None:
    """(M32)-(M34) of one edge of group ``g``: local reader, reader's copy, producer's send."""
    from .milp_model import distance_term

    problem, graph, T = model.problem, model.graph, model.period
    e = graph.edges[e_idx]
    u, v = g.producer, graph.index(e.dst)
    lo, hi = start_range(model)
    span = hi - lo
    W = most_distance(problem, e_idx)
    w = distance_term(model, e_idx)
    copies, prob, d = model.memory.copies, model.prob, problem.durations
    tag = f"{gi}_{e_idx}"
    for p in model.procs[u]:
        n = copies.get((gi, p))
        if n is None:
            continue
        # (M32) v on p too: the residency reaches v's end, s_v + w T + d_vp.
        if v == u:
            M = T * W + d[u][p]
            prob += T * n >= T * w + d[u][p] - M * (1 - _x(model, u, p)), f"mself_{tag}_{p}"
        elif p in model.procs[v]:
            gap = model.start(v) + T * w + d[v][p] - model.start(u)
            off = 2 - _x(model, u, p) - _x(model, v, p)
            if not (isinstance(off, int) and off > 0):
                prob += T * n >= gap - (span + T * W + d[v][p]) * off, f"mloc_{tag}_{p}"
    if v == u:
        return
    for q in model.procs[v]:
        n = copies.get((gi, q))
        if n is not None:
            _reader_row(model, n, u, v, q, e_idx, w, W, span, f"mread_{tag}_{q}")
    _send_rows(model, gi, u, v, e_idx)


def _transfer_of(model: PeriodModel, e_idx: int, q: int) -> int | None:
    """The candidate transfer ``X`` that carries edge ``e``'s tensor to ``q`` (ports), or None."""
    pm = model.ports
    k = model.problem.tensor_of_edge.get(e_idx) if model.problem.ports else None
    if pm is None or k is None:
        return None
    return pm.index().get((k, q))


def _reader_row(
    model: PeriodModel,
    n: Any,
    u: int,
    v: int,
    q: int,
    e_idx: int,
    w: Any,
    W: int,
    span: int,
    name: str,
) -> None:
    """(M33): on a reader's processor ``q != p_u``, from the send's start to ``v``'s end.

    The send starts when ``u`` ends (delay) or at the transfer ``t_X`` (ports).
    In the relaxation (M17) there is no ``t_X``: one copy at least.
    """
    T, d = model.period, model.problem.durations
    off = 1 - _x(model, v, q) + _x(model, u, q)
    if isinstance(off, int) and off > 0:
        return
    X = _transfer_of(model, e_idx, q)
    if X is not None and model.variant == "relaxed":
        model.prob += n >= 1 - off, name
        return
    if X is not None:
        from .milp_ports import transfer_time

        begin = transfer_time(model, model.ports, X)
    else:
        begin = model.start(u) + model.duration(u)
    gap = model.start(v) + T * w + d[v][q] - begin
    model.prob += T * n >= gap - (span + T * W + d[v][q]) * off, name


def _send_rows(model: PeriodModel, gi: int, u: int, v: int, e_idx: int) -> None:
    """(M34): on the producer's processor until its send ends.

    That is ``u``'s end plus the edge's cost (delay), or the transfer's end
    ``t_X + tau`` (ports; in the relaxation its earliest, ``u``'s end + ``tau``).
    """
    T, problem = model.period, model.problem
    copies, d = model.memory.copies, problem.durations
    for p in model.procs[u]:
        n = copies.get((gi, p))
        if n is None:
            continue
        xu = _x(model, u, p)
        for q in model.procs[v]:
            if q == p or (model.assignment is not None and model.assignment[v] != q):
                continue
            X = _transfer_of(model, e_idx, q)
            if X is None:
                cost = problem.delay_cost(e_idx, p, q)
                if d[u][p] + cost <= T:
                    continue  # one copy, (M31)
                on = xu + _x(model, v, q) - 1
                if isinstance(on, int) and on <= 0:
                    continue
                model.prob += T * n >= (d[u][p] + cost) * on, f"msend_{gi}_{e_idx}_{p}_{q}"
                continue
            pm = model.ports
            if p not in pm.senders[X]:
                continue
            a, tau = pm.a[X, p], pm.tau[X][p]
            if f"mxfer_{gi}_{X}_{p}" in model.prob.constraints:
                continue  # another reader on q of the same tensor: one transfer, one row
            if model.variant == "relaxed":
                if d[u][p] + tau > T:
                    model.prob += T * n >= (d[u][p] + tau) * a, f"mxfer_{gi}_{X}_{p}"
                continue
            from .milp_ports import transfer_time

            t = transfer_time(model, pm, X)
            lo, hi = start_range(model)
            M = hi + T * lag_limit(problem, T) + tau - lo
            model.prob += T * n >= t + tau - model.start(u) - M * (1 - a), f"mxfer_{gi}_{X}_{p}"


def lag_limit(problem: Problem, period: int) -> int:
    """The largest lag ``kappa`` of a transfer: 2 (M22), or ``K + 2`` under bounded memory.

    With a memory the wait ``t_X - s_u - D_u`` is no longer below ``T`` without
    loss (a later transfer shortens the reader's residency): it is bounded
    only by the stages, ``t_X <= s_v + w T`` for a reader ``v`` (M34).
    """
    from .milp_model import horizon
    from .milp_ports import MAX_LAG

    if not bounded(problem):
        return MAX_LAG
    return MAX_LAG + horizon(problem, period)


# ---------------------------------------------------------------------------
# Warm starts
# ---------------------------------------------------------------------------
def set_memory_initial(model: PeriodModel, schedule: Schedule, relabel: dict[int, int]) -> None:
    """Copies from ``schedule``'s residencies (:mod:`lpsched.footprint`'s rule), renumbered."""
    mem = model.memory
    if mem is None or schedule.period != model.period:
        return
    problem = model.problem
    graph = problem.graph
    duration = {t.name: schedule.duration(t.name) for t in graph.tasks}
    index = {e: i for i, e in enumerate(schedule.graph.edges)}  # same order as graph.edges

    def comm(edge: Any, p: int, q: int) -> int:
        return problem.delay_cost(index[edge], p, q)

    held: dict[tuple[str, str, int], int] = {}
    for r in residencies(schedule, duration, comm):
        held[r.producer, r.tensor, relabel[r.processor]] = r.copies
    names = [t.name for t in graph.tasks]
    for (gi, p), var in mem.copies.items():
        g = mem.groups[gi]
        var.setInitialValue(held.get((names[g.producer], g.name, p), 0))
