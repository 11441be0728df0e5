"""Memory capacity in the CP-SAT model: copies of every resident tensor (C26-C29).

``formulations/README.md`` (P8) and :mod:`lpsched.footprint` (the validator's
count, which this model reproduces exactly) define the footprint: a tensor
group ``g`` (all edges of one producer ``u`` with one tensor name, ``b_g`` the
most bytes of its edges) is resident on ``u``'s processor from ``S_u`` until
the end of its last local reader or send, and on another processor ``q`` that
reads it from its transfer's start (ports; else ``u``'s end) until the end of
its last reader there; a reader's iteration ``w`` ends at ``S_v + w T + d_v``.
A lifetime ``L`` needs ``ceil(L / T)`` copies: an integer ``c_gq`` with
``T c_gq >= L`` is that many or more, and the capacity row only wants them few,
so ``c_gq`` meets ``ceil(L / T)`` in some solution of every feasible model.
``formulations/cpsat.md`` section 2.8 gives the equations; every family is one
``add_*`` function here, called by ``_build_model`` of :mod:`.cpsat` only when
some processor has a memory, so that the model without memory is unchanged.

Nothing here imports :mod:`.cpsat`: the model and the instance are passed in
(duck-typed as in :mod:`.cpsat_ports`: ``mod.model``, ``mod.x``, ``mod.S``,
``mod.dist``, ``mod.times_T``, ``mod.ports``, ``inst.dp``, ``inst.ports``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..problem import Problem
from ..schedule import tensor_name
from .cpsat_ports import duration_expr

__all__ = [
    "MemoryGroup",
    "Memory",
    "MemoryVars",
    "add_copies",
    "add_local_lifetimes",
    "add_memory_capacity",
    "add_remote_lifetimes",
    "memory_items",
]

Lit = Any  # a CP-SAT literal or the constant 0 / 1


@dataclass
class MemoryGroup:
    """One tensor group of :mod:`lpsched.footprint`: producer, name, bytes, edges."""

    producer: int
    name: str
    nbytes: int
    edges: list[int]  # indices of graph.edges (= inst.edges), self-loops included
    port: int | None  # its tensor in problem.tensors (ports: the transfers), if any


@dataclass
class Memory:
    """The groups that hold bytes, each processor's capacity and the optimizer state."""

    groups: list[MemoryGroup]
    capacity: list[int | None]  # bytes per processor (floor), None when unlimited
    optimizer: dict[int, int]  # update task -> bytes of its optimizer state (rounded up)

    @classmethod
    def build(cls, problem: Problem) -> Memory | None:
        """The memory data of ``problem``, or None when every memory is unlimited."""
        caps = [p.memory for p in problem.platform.processors]
        if all(c is None for c in caps):
            return None
        graph = problem.graph
        port = {(t.producer, t.name): k for k, t in enumerate(problem.tensors)}
        keyed: dict[tuple[int, str], list[int]] = {}
        for i, e in enumerate(graph.edges):
            keyed.setdefault((graph.index(e.src), tensor_name(graph, i)), []).append(i)
        groups = []
        for (u, name), edges in keyed.items():
            nbytes = max(graph.edges[i].bytes for i in edges)
            if nbytes > 0:  # (0 bytes count nothing)
                k = port.get((u, name)) if problem.ports else None
                groups.append(MemoryGroup(u, name, nbytes, edges, k))
        factor = problem.platform.optimizer_state
        optimizer: dict[int, int] = {}
        for e in graph.edges if factor else []:
            if e.weights is not None:
                u = graph.index(e.src)
                # (rounded up: a fractional factor never lets a schedule over the capacity)
                optimizer[u] = max(optimizer.get(u, 0), math.ceil(factor * e.bytes))
        capacity = [None if c is None else math.floor(c) for c in caps]
        return cls(groups, capacity, optimizer)

    def limited(self) -> list[int]:
        """The processors with a capacity."""
        return [q for q, c in enumerate(self.capacity) if c is not None]


@dataclass
class MemoryVars:
    """The copies ``c_gq`` by (group index, processor)."""

    copies: dict[tuple[int, int], Any] = field(default_factory=dict)
    scaled: dict[tuple[int, int], Any] = field(default_factory=dict)  # T c_gq


def _enforce(m: Any, row: Any, lits: list[Lit]) -> None:
    """``row`` when every literal of ``lits`` holds (constants folded; nothing if one is 0)."""
    if any(isinstance(b, int) and b == 0 for b in lits):
        return
    lits = [b for b in lits if not isinstance(b, int)]
    ct = m.add(row)
    if lits:
        ct.only_enforce_if(lits)


def _not(b: Lit) -> Lit:
    return 1 - b if isinstance(b, int) else b.Not()


def _most_copies(inst: Any, prep: Any, mod: Any, g: MemoryGroup) -> int:
    """An upper bound on ``ceil(L / T)`` for group ``g`` on any processor, from C7's windows."""
    T = mod.lo if mod.lo is not None else mod.hi
    lo_u = prep.windows[g.producer][0]
    top = 3  # a send ends before S_u + d_u + 2T (C22, tau <= T)
    for i in g.edges:
        e = inst.edges[i]
        w = inst.distance_range(e)[1]
        span = prep.windows[e.dst][1] + w * mod.hi + max(inst.dp[e.dst]) - lo_u
        top = max(top, -(-span // T) + 1)
    return top


# ---------------------------------------------------------------------- families
def add_copies(mod: Any, inst: Any, prep: Any, memory: Memory) -> MemoryVars:
    """C26 ``c_gq in {0..C_g}`` and ``T c_gq``, for every group and limited processor.

    ``C_g`` bounds the lifetime by the start windows (C7) over the least period.
    """
    mv = MemoryVars()
    m = mod.model
    for j, g in enumerate(memory.groups):
        top = _most_copies(inst, prep, mod, g)
        for q in memory.limited():
            c = m.new_int_var(0, top, f"c[{g.name},{q}]")
            mv.copies[(j, q)] = c
            mv.scaled[(j, q)] = mod.times_T(c, 0, top, f"Tc[{g.name},{q}]")
    mod.memory = mv
    return mv


def add_local_lifetimes(
    mod: Any, inst: Any, memory: Memory, mv: MemoryVars, comm: Callable[[Any], Any]
) -> None:
    """C27 on the producer's processor ``q``: ``T c_gq >= L`` from ``S_u`` if ``x_uq``.

    The end of ``u`` (``c_gq >= 1``), of every reader on ``q`` (``S_v + w T +
    d_vq - S_u``, if ``x_vq`` too), and of every send: ports, a transfer to
    ``q'`` ends at ``S_u + d_u + delta + tau`` (if ``m_kqq'``); a message
    without one at ``S_u + d_u + c_e(q, p_v)`` (delay: C3's term, ``comm(e)``).
    """
    m, x = mod.model, mod.x
    pv = mod.ports
    for j, g in enumerate(memory.groups):
        u = g.producer
        for q in memory.limited():
            xu = x[u][q]
            if isinstance(xu, int) and xu == 0:
                continue
            Tc = mv.scaled[(j, q)]
            du = inst.dp[u][q]
            _enforce(m, mv.copies[(j, q)] >= 1, [xu])
            for i in g.edges:
                e = inst.edges[i]
                v = e.dst
                if v == u:
                    _enforce(m, Tc >= mod.dist[i] + du, [xu])
                    continue
                done = mod.S[v] + mod.dist[i] + inst.dp[v][q] - mod.S[u]
                _enforce(m, Tc >= done, [xu, x[v][q]])
                _add_send(mod, inst, g, q, i, Tc, comm)
            if g.port is not None and pv is not None:
                t = inst.ports.tensors[g.port]
                for q2 in range(inst.P):
                    key = (g.port, q2)
                    if q2 == q or key not in pv.delta:
                        continue
                    tau = t.tau[inst.ports.cls(q, q2)]
                    _enforce(m, Tc >= du + pv.delta[key] + tau, [pv.m[(g.port, q, q2)]])


def _add_send(
    mod: Any, inst: Any, g: MemoryGroup, q: int, i: int, Tc: Any, comm: Callable[[Any], Any]
) -> None:
    """C27's send of edge ``i`` without a transfer: ``T c_gq >= d_uq + c_e(q, p_v)``."""
    m, x = mod.model, mod.x
    u, e = g.producer, inst.edges[i]
    pv = mod.ports
    carried = g.port is not None and pv is not None
    tensor_edge = carried and i in inst.ports.tensors[g.port].edges
    if tensor_edge:
        return  # (it travels by its transfer whenever the reader is elsewhere)
    if not carried:
        # C3's message term: c_e(p_u, p_v) exactly, 0 on one processor
        _enforce(m, Tc >= inst.dp[u][q] + comm(e), [x[u][q]])
        return
    for q2 in range(inst.P):  # (ports, an edge of the group that no transfer carries)
        if q2 == q:
            continue
        present = pv.present.get((g.port, q2), 0)
        cost = inst.cost(e, q, q2)
        _enforce(m, Tc >= inst.dp[u][q] + cost, [x[u][q], x[e.dst][q2], _not(present)])


def add_remote_lifetimes(mod: Any, inst: Any, memory: Memory, mv: MemoryVars) -> None:
    """C28 on a reader's processor ``q`` (the producer elsewhere): ``T c_gq >= L``.

    From the transfer's start ``S_u + d_u + delta_kq`` when it is present,
    else from ``u``'s end, until ``S_v + w T + d_vq`` of every reader on ``q``.
    """
    m, x = mod.model, mod.x
    pv = mod.ports
    for j, g in enumerate(memory.groups):
        u = g.producer
        du = duration_expr(inst, x, u)
        for i in g.edges:
            v = inst.edges[i].dst
            if v == u:
                continue
            for q in memory.limited():
                xv = x[v][q]
                if isinstance(xv, int) and xv == 0:
                    continue
                Tc = mv.scaled[(j, q)]
                done = mod.S[v] + mod.dist[i] + inst.dp[v][q] - mod.S[u] - du
                key = (g.port, q)
                if g.port is not None and pv is not None and key in pv.present:
                    present = pv.present[key]
                    _enforce(m, Tc >= done - pv.delta[key], [xv, present])
                    _enforce(m, Tc >= done, [xv, _not(x[u][q]), _not(present)])
                else:
                    _enforce(m, Tc >= done, [xv, _not(x[u][q])])


def add_memory_capacity(mod: Any, inst: Any, memory: Memory, mv: MemoryVars) -> None:
    """C29 (P8) ``sum_g b_g c_gq + sum_U o_U x_Uq <= M_q`` for every limited processor."""
    for q in memory.limited():
        terms = [g.nbytes * mv.copies[(j, q)] for j, g in enumerate(memory.groups)]
        terms += [o * mod.x[u][q] for u, o in memory.optimizer.items()]
        cap = memory.capacity[q]
        assert cap is not None
        mod.model.add(sum(terms) <= cap)


def memory_items(inst: Any, memory: Memory) -> int:
    """About how many variables and constraints C26-C29 add (for the model's size check)."""
    per = sum(3 + 2 * len(g.edges) + (inst.P if g.port is not None else 0) for g in memory.groups)
    return per * len(memory.limited())
