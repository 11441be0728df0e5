"""Link ports in the CP-SAT model: transfers on the ports modulo ``T`` (C20-C25).

Under ``capacity: ports`` (``formulations/README.md``, (P5)-(P7)) every tensor
``k`` whose producer ``u`` runs on ``p`` travels once to every other processor
``q`` that runs one of its readers. The model of :mod:`lpsched.solvers.cpsat`
gets, per tensor and destination ``(k, q)`` that can be present, a transfer
that starts ``delta_kq`` after the producer ends (``0 <= delta < T``: any
transfer can move back by whole periods to get there, which only helps its
readers) and busies the out-port of ``p`` and the in-port of ``q`` of the
pair's link class as tasks busy a processor (two copies of an interval, C9).
``formulations/cpsat.md`` section 2.7 gives the equations; every family is one
``add_*`` function here, called by ``_build_model`` of :mod:`.cpsat` only on a
ports platform, so that the model under ``capacity: delay`` is unchanged.

Nothing here imports :mod:`.cpsat`: the model and the instance are passed in
(duck-typed: ``mod.model``, ``mod.T``, ``mod.x``, ``mod.S``, ``mod.r``,
``mod.times_T``, ``inst.dp``, ``inst.edges``, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from ..problem import Problem

__all__ = [
    "PortTensor",
    "PortVars",
    "Ports",
    "add_arrivals",
    "add_port_classes",
    "add_port_load",
    "add_port_no_overlap",
    "add_transfer_presence",
    "add_transfer_times",
    "least_stage_transfers",
    "port_items",
    "port_load",
    "port_load_exprs",
    "port_loads",
    "port_staleness",
    "present_pairs",
    "transfer_starts",
]

Lit = Any  # a CP-SAT literal or the constant 0 / 1


@dataclass
class PortTensor:
    """One tensor of :attr:`lpsched.problem.Problem.tensors` in the model's terms."""

    producer: int
    name: str
    nbytes: int
    readers: list[int]  # distinct tasks that read it, the producer left out
    edges: list[int]  # its edges (indices of graph.edges = inst.edges), self-loops left out
    tau: dict[str, int]  # port time per link class present
    arrive: dict[str, int]  # tau + latency per link class present


@dataclass
class Ports:
    """The tensors and the link classes of a ports platform."""

    tensors: list[PortTensor]
    node: list[int]  # node of each processor
    classes: tuple[str, ...]  # link classes some pair uses

    @classmethod
    def build(cls, problem: Problem, classes: tuple[str, ...]) -> Ports:
        """The tensors of ``problem`` with each class's transfer time and arrival delay."""
        node = [p.node for p in problem.platform.processors]
        pair = _class_pairs(node)
        tensors = []
        for k, t in enumerate(problem.tensors):
            edges = [
                e for e in t.edges if problem.graph.index(problem.graph.edges[e].dst) != t.producer
            ]
            readers = sorted({problem.graph.index(problem.graph.edges[e].dst) for e in edges})
            tau = {c: problem.transfer_time(k, *pair[c]) for c in classes}
            arrive = {c: problem.arrival_delay(k, *pair[c]) for c in classes}
            tensors.append(PortTensor(t.producer, t.name, t.bytes, readers, edges, tau, arrive))
        return cls(tensors, node, classes)

    def cls(self, p: int, q: int) -> str:
        """The link class between two different processors."""
        return "intra" if self.node[p] == self.node[q] else "inter"

    def tensor_edges(self) -> dict[int, int]:
        """Edge index -> tensor index, for the edges that travel as transfers."""
        return {e: k for k, t in enumerate(self.tensors) for e in t.edges}


def _class_pairs(node: list[int]) -> dict[str, tuple[int, int]]:
    """One pair of processors per link class present."""
    out: dict[str, tuple[int, int]] = {}
    for p in range(len(node)):
        for q in range(len(node)):
            if p != q:
                out.setdefault("intra" if node[p] == node[q] else "inter", (p, q))
    return out


@dataclass
class PortVars:
    """The transfer variables of one model, by ``(k, q)`` (and ``(k, p, q)`` for ``m``)."""

    keys: list[tuple[int, int]] = field(default_factory=list)  # the (k, q) that can be present
    present: dict[tuple[int, int], Lit] = field(default_factory=dict)
    reads: dict[tuple[int, int], Lit] = field(default_factory=dict)  # a reader of k on q
    m: dict[tuple[int, int, int], Lit] = field(default_factory=dict)  # u on p and present
    lit: dict[tuple[int, int, str], Lit] = field(default_factory=dict)  # present, in class c
    delta: dict[tuple[int, int], Any] = field(default_factory=dict)
    rho: dict[tuple[int, int], Any] = field(default_factory=dict)
    wrap: dict[tuple[int, int], Any] = field(default_factory=dict)
    second: dict[tuple[int, int], Any] = field(default_factory=dict)


# ---------------------------------------------------------------- constant folding
def _const(b: Lit) -> int | None:
    return b if isinstance(b, int) else None


def _and(m: cp_model.CpModel, a: Lit, b: Lit, name: str) -> Lit:
    """A literal equal to ``a AND b`` (a constant when either is one)."""
    if _const(a) == 0 or _const(b) == 0:
        return 0
    if _const(a) == 1:
        return b
    if _const(b) == 1:
        return a
    c = m.new_bool_var(name)
    m.add_implication(c, a)
    m.add_implication(c, b)
    m.add_bool_or([a.Not(), b.Not(), c])
    return c


def _or(m: cp_model.CpModel, xs: list[Lit], name: str) -> Lit:
    """A literal equal to ``OR xs`` (a constant or the one literal when it can be)."""
    if any(_const(b) == 1 for b in xs):
        return 1
    lits = [b for b in xs if not isinstance(b, int)]
    if not lits:
        return 0
    if len(lits) == 1:
        return lits[0]
    h = m.new_bool_var(name)
    m.add_max_equality(h, lits)
    return h


def _not(b: Lit) -> Lit:
    return 1 - b if isinstance(b, int) else b.Not()


def _sum_lit(m: cp_model.CpModel, xs: list[Lit], name: str) -> Lit:
    """A literal equal to ``sum xs`` where at most one of ``xs`` is true."""
    lits = [b for b in xs if not isinstance(b, int)]
    ones = sum(b for b in xs if isinstance(b, int))
    if not lits:
        return ones
    if ones == 0 and len(lits) == 1:
        return lits[0]
    c = m.new_bool_var(name)
    m.add(c == ones + sum(lits))
    return c


def duration_expr(inst: Any, x: list[list[Lit]], v: int) -> Any:
    """``sum_p d_vp x_vp``: the constant ``d_v`` when every processor gives the same."""
    row = inst.dp[v]
    if min(row) == max(row):
        return row[0]
    return sum(
        dv * b for dv, b in zip(row, x[v], strict=True) if not (isinstance(b, int) and b == 0)
    )


# ---------------------------------------------------------------------- families
def add_transfer_presence(mod: Any, inst: Any, ports: Ports) -> PortVars:
    """C20 ``present_kq = OR_v x_vq AND NOT x_uq``; ``m_kpq = x_up AND OR_v x_vq``.

    ``sum_{p != q} m_kpq = present_kq`` is added as a redundant link (C20).
    Only the ``(k, q)`` where some reader may run on ``q`` and the producer
    may run elsewhere get variables.
    """
    m, x, P = mod.model, mod.x, inst.P
    pv = PortVars()
    for k, t in enumerate(ports.tensors):
        u = t.producer
        for q in range(P):
            reads = _or(m, [x[v][q] for v in t.readers], f"reads[{t.name},{q}]")
            present = _and(m, reads, _not(x[u][q]), f"present[{t.name},{q}]")
            if _const(present) == 0:
                continue
            pv.keys.append((k, q))
            pv.reads[(k, q)], pv.present[(k, q)] = reads, present
            row = []
            for p in range(P):
                if p != q:
                    pv.m[(k, p, q)] = _and(m, x[u][p], reads, f"m[{t.name},{p},{q}]")
                    row.append(pv.m[(k, p, q)])
            if not all(isinstance(b, int) for b in [*row, present]):
                m.add(sum(row) == present)
    mod.ports = pv
    return pv


def add_port_classes(mod: Any, inst: Any, ports: Ports, pv: PortVars) -> None:
    """C21 the class of a transfer, ``lit_kqc = sum_{p: class(p, q) = c} m_kpq``; ``tau <= T``.

    With one link class ``lit_kqc = present_kq``. A class whose transfer would
    last longer than the period is forbidden (fixed ``T``: ``lit = 0``;
    variable ``T``: ``lit => T >= tau``), as (P2) forbids a task longer than T.
    """
    m = mod.model
    for k, q in pv.keys:
        t = ports.tensors[k]
        for c in ports.classes:
            if len(ports.classes) == 1:
                lit = pv.present[(k, q)]
            else:
                row = [pv.m[(k, p, q)] for p in range(inst.P) if p != q and ports.cls(p, q) == c]
                lit = _sum_lit(m, row, f"lit[{t.name},{q},{c}]")
            pv.lit[(k, q, c)] = lit
            if _const(lit) == 0 or t.tau[c] <= (mod.lo if mod.lo is not None else mod.hi):
                continue
            if t.tau[c] > mod.hi:
                m.add_bool_or([_not(lit)] if not isinstance(lit, int) else [])
            else:  # variable period, lo < tau <= hi
                if isinstance(lit, int):
                    m.add(mod.T >= t.tau[c])
                else:
                    m.add(mod.T >= t.tau[c]).only_enforce_if(lit)


def add_transfer_times(mod: Any, inst: Any, ports: Ports, pv: PortVars) -> None:
    """C22 ``t_kq = S_u + d_u + delta_kq``, ``0 <= delta_kq < T`` (P5); its offset ``rho_kq``.

    ``rho_kq = r_u + d_u + delta_kq - T j_kq`` with ``0 <= rho_kq < T`` and
    ``j_kq in {0, 1, 2}`` (the sum is below ``3T``), and the second copy
    ``rho_kq + T`` of the port intervals (as C9's).
    """
    m, T, hi = mod.model, mod.T, mod.hi
    for k, q in pv.keys:
        t = ports.tensors[k]
        u, name = t.producer, f"{t.name},{q}"
        delta = m.new_int_var(0, hi - 1, f"delta[{name}]")
        rho = m.new_int_var(0, hi - 1, f"rho[{name}]")
        wrap = m.new_int_var(0, 2, f"j[{name}]")
        if mod.lo is not None:
            m.add(delta <= T - 1)
            m.add(rho <= T - 1)
        dur = duration_expr(inst, mod.x, u)
        m.add(rho == mod.r[u] + dur + delta - mod.times_T(wrap, 0, 2, f"Tj[{name}]"))
        if isinstance(T, int):
            second = rho + T
        else:
            second = m.new_int_var(mod.lo or 0, 2 * hi - 1, f"rho2[{name}]")
            m.add(second == rho + T)
        pv.delta[(k, q)], pv.rho[(k, q)] = delta, rho
        pv.wrap[(k, q)], pv.second[(k, q)] = wrap, second


def add_arrivals(mod: Any, inst: Any, ports: Ports, pv: PortVars) -> None:
    """C23 (P6) ``S_v + w_e T >= S_u + d_u + delta_kq + sum_c a_kc lit_kqc`` if ``x_vq``.

    For every edge ``e = (u, v)`` of tensor ``k`` and processor ``q``. With the
    producer on ``q`` too every ``lit`` is 0 and the row reads ``S_v + w T >=
    S_u + d_u + delta``, which ``delta = 0`` meets by C3; so the enforcement
    needs ``x_vq`` alone.
    """
    m = mod.model
    keys = set(pv.keys)
    for k, t in enumerate(ports.tensors):
        u = t.producer
        dur = duration_expr(inst, mod.x, u)
        for e in t.edges:
            edge = inst.edges[e]
            v = edge.dst
            dist = mod.dist[e]
            for q in range(inst.P):
                on = mod.x[v][q]
                if _const(on) == 0 or (k, q) not in keys:
                    continue
                arrive = sum(t.arrive[c] * pv.lit[(k, q, c)] for c in ports.classes)
                row = mod.S[v] + dist >= mod.S[u] + dur + pv.delta[(k, q)] + arrive
                if isinstance(on, int):
                    m.add(row)
                else:
                    m.add(row).only_enforce_if(on)


def add_port_no_overlap(mod: Any, inst: Any, ports: Ports, pv: PortVars) -> None:
    """C24 (P7) on every port, the two copies of its transfers never overlap (as C9).

    The out-port of ``p`` in class ``c`` holds ``(k, q)`` when ``m_kpq``
    (``class(p, q) = c``); the in-port of ``q`` in class ``c`` when
    ``lit_kqc``. Transfers of no duration busy no port.
    """
    m = mod.model
    lanes: dict[tuple[int, str, str], list[tuple[tuple[int, int], int, Lit]]] = {}
    for k, q in pv.keys:
        t = ports.tensors[k]
        for c in ports.classes:
            if t.tau[c] > 0:
                lanes.setdefault((q, "in", c), []).append(((k, q), t.tau[c], pv.lit[(k, q, c)]))
        for p in range(inst.P):
            if p != q and t.tau[ports.cls(p, q)] > 0:
                tau = t.tau[ports.cls(p, q)]
                lanes.setdefault((p, "out", ports.cls(p, q)), []).append(
                    ((k, q), tau, pv.m[(k, p, q)])
                )
    for lane in lanes.values():
        ivs = []
        for key, tau, lit in lane:
            if _const(lit) == 0:
                continue
            for start in (pv.rho[key], pv.second[key]):
                if isinstance(lit, int):
                    ivs.append(m.new_fixed_size_interval_var(start, tau, ""))
                else:
                    ivs.append(m.new_optional_fixed_size_interval_var(start, tau, lit, ""))
        if len(ivs) > 2:
            m.add_no_overlap(ivs)


def add_port_load(mod: Any, inst: Any, ports: Ports, pv: PortVars) -> None:
    """C25 every port's load ``sum tau lit <= T`` (redundant with C24, as C13 with C9)."""
    for terms, _fixed in _load_terms(inst, ports, pv).values():
        if len(terms) > 1:
            mod.model.add(sum(terms) <= mod.T)


def port_load_exprs(inst: Any, ports: Ports, pv: PortVars, procs: frozenset[int]) -> list[Any]:
    """The load of each port of ``procs`` that a free transfer may use, fixed ones included.

    For a neighbourhood's secondary objective (its busiest resource among
    ``procs``): a port that only fixed transfers use keeps its load whatever
    the neighbourhood does, so it is left out.
    """
    return [
        sum(terms) + fixed
        for (p, _direction, _c), (terms, fixed) in _load_terms(inst, ports, pv).items()
        if p in procs and terms
    ]


def _load_terms(
    inst: Any, ports: Ports, pv: PortVars
) -> dict[tuple[int, str, str], tuple[list[Any], int]]:
    """Each port's terms ``tau x lit`` and the time of its fixed transfers.

    A transfer that may be present adds a term; one that is (its literal the
    constant 1) adds its time to the second item.
    """
    load: dict[tuple[int, str, str], tuple[list[Any], int]] = {}

    def add(lane: tuple[int, str, str], tau: int, lit: Lit) -> None:
        terms, fixed = load.get(lane, ([], 0))
        if isinstance(lit, int):
            fixed += tau * lit
        else:
            terms.append(tau * lit)
        load[lane] = (terms, fixed)

    for k, q in pv.keys:
        t = ports.tensors[k]
        for c in ports.classes:
            if t.tau[c] > 0:
                add((q, "in", c), t.tau[c], pv.lit[(k, q, c)])
        for p in range(inst.P):
            tau = t.tau[ports.cls(p, q)] if p != q else 0
            if tau > 0:
                add((p, "out", ports.cls(p, q)), tau, pv.m.get((k, p, q), 0))
    return load


def _loads(ports: Ports, proc: list[int]) -> dict[tuple[int, str, str], int]:
    """Each port's time per period under the placement ``proc``."""
    load: dict[tuple[int, str, str], int] = {}
    for k, q in present_pairs(ports, proc):
        t = ports.tensors[k]
        p = proc[t.producer]
        c = ports.cls(p, q)
        load[(p, "out", c)] = load.get((p, "out", c), 0) + t.tau[c]
        load[(q, "in", c)] = load.get((q, "in", c), 0) + t.tau[c]
    return load


def port_load(inst: Any, ports: Ports, proc: list[int]) -> int:
    """The busiest port's time per period under the placement ``proc``."""
    return max(_loads(ports, proc).values(), default=0)


def port_loads(ports: Ports, proc: list[int], P: int) -> list[int]:
    """Each processor's busiest port's time per period under the placement ``proc``."""
    out = [0] * P
    for (p, _direction, _c), load in _loads(ports, proc).items():
        out[p] = max(out[p], load)
    return out


def port_items(inst: Any, ports: Ports) -> int:
    """About how many variables and constraints C20-C25 add (for the model's size check)."""
    P = inst.P
    per_kq = 8 + 4 * (P - 1) + 2 * len(ports.classes)
    return sum(per_kq * P + len(t.edges) * P for t in ports.tensors)


# ---------------------------------------------------------------------- solutions
def transfer_starts(
    ports: Ports, pv: PortVars, solver: cp_model.CpSolver, end: list[int], proc: list[int]
) -> dict[tuple[int, int], int]:
    """``t_kq = S_u + d_u + delta_kq`` of every transfer a solution makes present.

    ``end[u]`` is the end of task ``u`` in the solution, ``proc`` its processors.
    """
    out = {}
    for k, q in present_pairs(ports, proc):
        out[(k, q)] = end[ports.tensors[k].producer] + int(solver.value(pv.delta[(k, q)]))
    return out


def present_pairs(ports: Ports, proc: list[int]) -> list[tuple[int, int]]:
    """The ``(k, q)`` a placement needs: a reader of ``k`` on ``q``, the producer elsewhere."""
    out = []
    for k, t in enumerate(ports.tensors):
        p = proc[t.producer]
        for q in sorted({proc[v] for v in t.readers}):
            if q != p:
                out.append((k, q))
    return out


def least_stage_transfers(
    inst: Any,
    ports: Ports,
    T: int,
    proc: list[int],
    start: list[int],
    transfers: dict[tuple[int, int], int],
) -> dict[tuple[int, int], int]:
    """Each transfer moved by whole periods to the first start at or after its producer's end."""
    out = {}
    for (k, q), t in transfers.items():
        u = ports.tensors[k].producer
        end = start[u] + inst.dp[u][proc[u]]
        out[(k, q)] = end + (t - end) % T
    return out


def port_staleness(
    inst: Any,
    ports: Ports,
    T: int,
    proc: list[int],
    start: list[int],
    transfers: dict[tuple[int, int], int],
) -> dict[str, int]:
    """The least staleness (P4) of each auto layer, with (P6) for the edges a transfer carries."""
    of = ports.tensor_edges()
    need: dict[str, int] = {}
    for i, e in enumerate(inst.edges):
        if e.layer is None:
            continue
        u, v = e.src, e.dst
        k = of.get(i)
        if k is not None and proc[u] != proc[v]:
            c = ports.cls(proc[u], proc[v])
            end = start[u] + inst.dp[u][proc[u]]
            # (a schedule without its transfers: as if each left at its producer's end)
            ready = transfers.get((k, proc[v]), end) + ports.tensors[k].arrive[c]
        else:
            ready = start[u] + inst.dp[u][proc[u]] + inst.cost(e, proc[u], proc[v])
        need[e.layer] = max(need.get(e.layer, 1), 1, math.ceil((ready - start[v]) / T))
    return need


def least_stages(
    inst: Any,
    ports: Ports,
    T: int,
    proc: list[int],
    start: list[int],
    staleness: dict[str, int],
    transfers: dict[tuple[int, int], int],
) -> tuple[list[int], dict[tuple[int, int], int]]:
    """The least stages ``>= 0`` of tasks and transfers with their offsets kept (section 2.3).

    A longest-path fixpoint as for tasks alone, with every transfer at its
    first start (its offset kept) after its producer's end; it terminates
    because the schedule is valid.
    """
    n = len(start)
    off = [s % T for s in start]
    rho = {key: t % T for key, t in transfers.items()}
    kk = [0] * n
    of = ports.tensor_edges()

    def end(u: int) -> int:
        return off[u] + T * kk[u] + inst.dp[u][proc[u]]

    changed = True
    while changed:
        changed = False
        for i, e in enumerate(inst.edges):
            u, v = e.src, e.dst
            if u == v:
                continue
            w = staleness[e.layer] if e.layer is not None else e.distance
            k = of.get(i)
            if k is not None and proc[u] != proc[v]:
                r = rho.get((k, proc[v]), end(u) % T)  # (none given: at the producer's end)
                t = end(u) + (r - end(u)) % T
                ready = t + ports.tensors[k].arrive[ports.cls(proc[u], proc[v])]
            else:
                ready = end(u) + inst.cost(e, proc[u], proc[v])
            need = -(-(ready - w * T - off[v]) // T)
            if need > kk[v]:
                kk[v] = need
                changed = True
    new_start = [off[v] + T * kk[v] for v in range(n)]
    return new_start, least_stage_transfers(inst, ports, T, proc, new_start, transfers)


def hint_ports(
    m: cp_model.CpModel,
    inst: Any,
    ports: Ports,
    pv: PortVars,
    T: int,
    proc: list[int],
    start: list[int],
    transfers: dict[tuple[int, int], int],
) -> None:
    """Hint every transfer variable from a solution; its transfers, when it lists them.

    Without transfers (a schedule from a solver that does not place them)
    only the presences are hinted.
    """
    need = set(present_pairs(ports, proc))
    complete = need <= set(transfers)
    # a presence may be a task's x (one reader) or another presence: hint each variable once
    seen = set(m.proto.solution_hint.vars)

    def hint(var: Lit, value: int) -> None:
        if not isinstance(var, int) and var.index >= 0 and var.index not in seen:
            seen.add(var.index)
            m.add_hint(var, value)

    for k, q in pv.keys:
        t = ports.tensors[k]
        u = t.producer
        on = (k, q) in need
        hint(pv.reads[(k, q)], int(any(proc[v] == q for v in t.readers)))
        hint(pv.present[(k, q)], int(on))
        for p in range(inst.P):
            if p != q:
                hint(pv.m[(k, p, q)], int(on and proc[u] == p))
        for c in ports.classes:
            hint(pv.lit[(k, q, c)], int(on and ports.cls(proc[u], q) == c))
        if not complete:
            continue
        end = start[u] + inst.dp[u][proc[u]]
        delta = transfers[(k, q)] - end if on else 0
        total = start[u] % T + inst.dp[u][proc[u]] + delta
        hint(pv.delta[(k, q)], delta)
        hint(pv.rho[(k, q)], total % T)
        hint(pv.wrap[(k, q)], total // T)
