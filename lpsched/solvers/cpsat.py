"""Exact periodic scheduling with CP-SAT (OR-Tools); the model is ``formulations/cpsat.md``.

For a fixed period ``T`` the model (equations (1)-(13) of the formulation) is a
feasibility problem whose constraints are all linear, because ``T`` is a
constant: start ``S_v = r_v + T*k_v`` with offset ``r_v`` and stage ``k_v``.
Feasibility is monotone in ``T`` (section 3), so the least period is certified
by proving ``T* - 1`` infeasible. The search (:data:`PLAN`) takes cheap proofs
from a bin-packing relaxation (section 4), gives the heuristic a share of the
time, lets the same model with ``T`` a variable (17) squeeze the best schedule
by large-neighbourhood search, and then tries one period below the best with
the fixed-period model, which both finds schedules and proves infeasibility.
At the optimal period a second model minimises communication volume or total
staleness, hinted with the first solution (section 5).
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from ortools.sat.python import cp_model

from ..errors import InputError
from ..graph import TaskGraph
from ..schedule import Result, Schedule, Status

Log = Callable[[str], None]

#: Accepted values of ``secondary`` (besides ``None``).
SECONDARY_OBJECTIVES = ("comm", "staleness")

#: Without a time limit, the search with a variable period stops after this many
#: seconds (the proof that follows is not limited), and the secondary objective
#: gets at most this many seconds more than the period took.
UNLIMITED_PHASE_SECONDS = 60.0

#: The period search (formulation, section 3): phases in order, each with its share
#: of the time left. ``packing``: bisection on the bin-packing relaxation;
#: ``heuristic``: iterative modulo scheduling; ``segments``: the lower bound with the
#: critical loop kept in a few pieces (:mod:`lpsched.solvers.segments`);
#: ``variable``: the model with ``T`` a variable; ``lower``/``lower-hard``: the
#: soft/hard model at the lower bound;
#: ``descend``/``descend-soft``: ``best - 1`` until proven infeasible; ``bisect``:
#: bisection with the hard model. The default was chosen by measurement
#: (``benchmarks/cpsat_targets.py``).
PLAN: tuple[tuple[str, float], ...] = (
    ("packing", 0.1),
    ("heuristic", 0.25),
    ("segments", 0.4),
    ("variable", 0.5),
    ("descend", 1.0),
)

#: The bin-packing relaxation is skipped when its arc-flow graph would be larger.
MAX_PACKING_ARCS = 60_000

#: Longest CP-SAT call of the ``segments`` phase: finding an assignment takes from
#: under a second to over a minute depending on the seed (GPT-2 on 8 processors), so
#: short tries with new seeds beat one long one.
SEGMENT_SLICE = 5.0

#: The model with the period a variable is skipped when it would hold more optional
#: intervals (8) than this. Above it, CP-SAT's first descent does not check the time
#: limit: ResNet-50 on 32 processors (11,680 intervals with ``intra``, 19,680 with
#: ``layerpipe``) took 26 s and 22 s for a limit of 6 s and 8 s, and found nothing
#: (formulation, section 3).
MAX_VARIABLE_INTERVALS = 10_000


# ----------------------------------------------------------------------------- instance
@dataclass
class _Edge:
    src: int
    dst: int
    distance: int  # the fixed distance (for an auto weight edge: the cap)
    comm: int
    nbytes: int
    layer: str | None  # set when the distance is the staleness variable s_l


@dataclass
class _Instance:
    """The graph in index form."""

    graph: TaskGraph
    P: int
    names: list[str]
    d: list[int]
    edges: list[_Edge]
    layers: list[str]  # layers whose staleness is a variable (auto only)
    cap: int | None
    order: list[int]  # symmetry-breaking order of the tasks, longest first
    anchor: int  # the task whose offset is 0
    strongly_connected: bool
    pairs: list[tuple[int, int]]  # unordered ends of the edges between two tasks
    slack: int = 0  # (16) soft distances: up to this much more on every loop-closing edge

    @classmethod
    def build(cls, graph: TaskGraph, processors: int) -> _Instance:
        names = [t.name for t in graph.tasks]
        idx = {name: i for i, name in enumerate(names)}
        d = graph.durations
        cap = graph.staleness_cap
        edges = []
        layers: list[str] = []
        for e in graph.edges:
            layer = e.weights if cap is not None else None
            if layer is not None and layer not in layers:
                layers.append(layer)
            edges.append(_Edge(idx[e.src], idx[e.dst], e.distance, e.comm, e.bytes, layer))
        n = len(names)
        order = sorted(range(n), key=lambda v: (-d[v], v))
        comps = _sccs(n, [(e.src, e.dst) for e in edges])
        big = max(comps, key=len)
        anchor = min(big, key=lambda v: (-d[v], v))
        pairs = sorted({_pair(e.src, e.dst) for e in edges if e.src != e.dst})
        return cls(
            graph, processors, names, d, edges, layers, cap, order, anchor, len(big) == n, pairs
        )

    def distance_range(self, e: _Edge) -> tuple[int, int]:
        """Smallest and largest distance that edge ``e`` can have."""
        if e.layer is None:
            extra = self.slack if e.distance >= 1 and e.src != e.dst else 0
            return e.distance, e.distance + extra
        assert self.cap is not None
        return 1, self.cap + self.slack

    def relaxed(self, T: int) -> _Instance:
        """The instance with soft distances (16), slack enough for any packing at ``T``.

        With every task of a processor back to back and stages along a topological
        order of the distance-0 edges, no edge needs more than ``slack`` extra
        iterations, so the relaxed model has a solution whenever the loads fit.
        """
        worst = max((self.d[e.src] + e.comm for e in self.edges), default=0)
        slack = len(self.d) * (2 + -(-worst // T))
        return replace(self, slack=slack)


def _pair(u: int, v: int) -> tuple[int, int]:
    return (u, v) if u < v else (v, u)


def _sccs(n: int, arcs: Sequence[tuple[int, int]]) -> list[list[int]]:
    """Strongly connected components (iterative Tarjan)."""
    succ: list[list[int]] = [[] for _ in range(n)]
    for u, v in arcs:
        succ[u].append(v)
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    comps: list[list[int]] = []
    counter = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack[v] = True
            if i < len(succ[v]):
                work.append((v, i + 1))
                w = succ[v][i]
                if index[w] < 0:
                    work.append((w, 0))
                elif on_stack[w]:
                    low[v] = min(low[v], index[w])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp.append(w)
                    if w == v:
                        break
                comps.append(comp)
    return comps


# ------------------------------------------------------------------ preprocessing at T
@dataclass
class _Prep:
    """What the loosest form of the precedences implies at period ``T`` (section 2.3).

    Computed with ``lo`` set, everything holds for every period in ``[lo, T]``.
    """

    T: int
    windows: list[tuple[int, int]]  # (6) start windows
    stages: list[tuple[int, int]]  # (6) the stages the windows allow
    together: set[tuple[int, int]]  # (13) pairs that cannot be on different processors


def _longest(inst: _Instance, T: int) -> np.ndarray | None:
    """All-pairs longest paths of the loosest constraints (3), by Floyd-Warshall.

    Loosest: no communication and the largest distances. ``None`` when a cycle
    is positive.
    """
    n = len(inst.d)
    D = np.full((n, n), -np.inf)
    for e in inst.edges:
        if e.src != e.dst:
            w = inst.d[e.src] - inst.distance_range(e)[1] * T
            D[e.src, e.dst] = max(D[e.src, e.dst], w)
    np.fill_diagonal(D, np.maximum(np.diag(D), 0.0))
    for k in range(n):
        np.maximum(D, D[:, k : k + 1] + D[k : k + 1, :], out=D)
    if (np.diag(D) > 0).any():
        return None
    return D


def _prepare(inst: _Instance, T: int, lo: int | None = None) -> _Prep | None:
    """Windows and forced co-locations at period ``T`` (or every period in ``[lo, T]``).

    ``None`` when ``T`` is proven infeasible by the precedences alone (a cycle
    longer than its distance allows).
    """
    d = inst.d
    for e in inst.edges:  # a self-loop binds T alone
        if e.src == e.dst and inst.distance_range(e)[1] * T < d[e.src]:
            return None
    D = _longest(inst, T)
    if D is None:
        return None
    n = len(d)
    if inst.strongly_connected:
        # Both ends of a window move inwards as T falls: S_v / T and the windows
        # at T bound every smaller period too (section 2.3).
        a = inst.anchor
        windows = [(int(D[a, v]), int(-D[v, a])) for v in range(n)]
        stages = [(lo_v // T, hi_v // T) for lo_v, hi_v in windows]
    else:
        # Least stages: S_v in [0, T - 1 + L], L bounding any simple path (section 2.3).
        periods = (T,) if lo is None else (lo, T)
        worst = [0] * n
        for e in inst.edges:
            if e.src != e.dst:
                for t in periods:
                    step = d[e.src] + e.comm + (1 - inst.distance_range(e)[0]) * t - 1
                    worst[e.src] = max(worst[e.src], step)
        windows = [(0, T - 1 + sum(worst))] * n
        stages = [(0, (T - 1 + sum(worst)) // min(periods))] * n
    together = set()
    # The way back from v to u crosses processors too, at no less than the cheapest message.
    back = min((e.comm for e in inst.edges if e.src != e.dst), default=0)
    for e in inst.edges:
        u, v = e.src, e.dst
        if u != v and D[v, u] > -np.inf:
            if d[u] + e.comm + back - inst.distance_range(e)[1] * T + D[v, u] > 0:
                together.add(_pair(u, v))
    return _Prep(T, windows, stages, together)


def _groups(inst: _Instance, together: set[tuple[int, int]]) -> list[list[int]]:
    """Tasks joined by forced co-locations (union-find)."""
    parent = list(range(len(inst.d)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for u, v in together:
        parent[find(u)] = find(v)
    out: dict[int, list[int]] = {}
    for v in range(len(inst.d)):
        out.setdefault(find(v), []).append(v)
    return list(out.values())


# -------------------------------------------------------------- bin-packing relaxation
def _packing(inst: _Instance, prep: _Prep, limit: float, workers: int, seed: int) -> str:
    """Decide whether the co-location groups fit into ``P`` bins of size ``T`` (section 4).

    Returns ``"infeasible"`` (then so is the schedule), ``"feasible"`` or
    ``"unknown"`` (time out, or the arc-flow graph is too large to try).
    """
    T, P = prep.T, inst.P
    sizes = [sum(inst.d[v] for v in g) for g in _groups(inst, prep.together)]
    if max(sizes) > T or sum(sizes) > P * T:
        return "infeasible"
    # Items of size 1 fill any gap: with sum <= P*T they never decide feasibility.
    count = Counter(s for s in sizes if s > 1)
    if len(count) == 0 or P == 1:
        return "feasible"
    if _first_fit(sorted(count.elements(), reverse=True), P, T):
        return "feasible"
    types = sorted(count, reverse=True)
    # Arc-flow graph (Valerio de Carvalho 1999): a bin is a path 0 -> T whose item
    # arcs take items in non-increasing size.
    arcs: set[tuple[int, int, int]] = set()
    reach = {0}
    for t, s in enumerate(types):
        frontier = set(reach)
        for _ in range(count[s]):
            nxt = {i + s for i in frontier if i + s <= T}
            arcs.update((i, i + s, t) for i in frontier if i + s <= T)
            if len(arcs) > MAX_PACKING_ARCS:
                return "unknown"
            if not nxt:
                break
            reach |= nxt
            frontier = nxt
    m = cp_model.CpModel()
    flow = {a: m.new_int_var(0, count[types[a[2]]], "") for a in sorted(arcs)}
    into: dict[int, list] = {i: [] for i in reach | {T}}
    out: dict[int, list] = {i: [] for i in reach | {T}}
    for (i, j, _t), f in flow.items():
        out[i].append(f)
        into[j].append(f)
    for i in reach:
        if i != T:  # loss arc: the rest of the bin stays empty
            f = m.new_int_var(0, P, "")
            out[i].append(f)
            into[T].append(f)
    for i in into:
        if i == 0:
            m.add(sum(out[i]) == P)
        elif i != T:
            m.add(sum(into[i]) == sum(out[i]))
    by_type: dict[int, list] = {}
    for (_i, _j, t), f in flow.items():
        by_type.setdefault(t, []).append(f)
    for t, s in enumerate(types):
        m.add(sum(by_type.get(t, [])) >= count[s])
    solver = _solver(workers, seed, limit, None)
    status = solver.solve(m)
    if status == cp_model.INFEASIBLE:
        return "infeasible"
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return "feasible"
    return "unknown"


def _first_fit(items: list[int], P: int, T: int) -> bool:
    """Whether first-fit decreasing packs the items into ``P`` bins of size ``T``."""
    room = [T] * P
    for s in items:
        for p in range(P):
            if room[p] >= s:
                room[p] -= s
                break
        else:
            return False
    return True


# ------------------------------------------------------------------------- the model
@dataclass
class _Model:
    """One model (fixed or variable period) and its variables."""

    model: cp_model.CpModel
    T: int | cp_model.IntVar
    x: list[list[cp_model.IntVar | int]]  # x[v][p]
    used: list[list[cp_model.IntVar]]
    r: list[cp_model.IntVar]
    k: list[cp_model.IntVar]
    S: list[cp_model.IntVar]
    y: dict[tuple[int, int], cp_model.IntVar]
    st: dict[str, cp_model.IntVar]
    excess: list[cp_model.IntVar]


def _build_model(
    inst: _Instance, prep: _Prep, lo: int | None = None, fixed: Sequence[int] | None = None
) -> _Model:
    """The model of the formulation, equations (1)-(13).

    With ``lo`` set the period is a variable in ``[lo, prep.T]`` (then ``prep``
    must have been computed at the largest period ``prep.T``: its windows and
    co-locations hold for every smaller one), else the constant ``prep.T``.
    With ``fixed`` (a processor per task) every ``x_vp`` is that constant and
    the symmetry breaking (9), (10) is left out: only times and staleness remain.
    """
    m = cp_model.CpModel()
    n, P, d = len(inst.d), inst.P, inst.d
    hi = prep.T
    T: int | cp_model.IntVar = hi if lo is None else m.new_int_var(lo, hi, "T")

    def times_T(var: cp_model.IntVar, vlo: int, vhi: int, name: str):
        """``T * var``: a linear expression for a fixed T, else a product (17)."""
        if isinstance(T, int):
            return T * var
        assert lo is not None
        corners = [a * b for a in (lo, hi) for b in (vlo, vhi)]
        z = m.new_int_var(min(corners), max(corners), name)
        m.add_multiplication_equality(z, [T, var])
        return z

    # (1) assignment; (9) the i-th task of the symmetry order uses processors 0..i.
    rank = {v: i for i, v in enumerate(inst.order)}
    x: list[list[cp_model.IntVar | int]] = []
    for v in range(n):
        row: list[cp_model.IntVar | int] = []
        for p in range(P):
            if fixed is not None:
                row.append(int(fixed[v] == p))
            elif P == 1:
                row.append(1)
            elif p > rank[v]:
                row.append(0)
            else:
                row.append(m.new_bool_var(f"x[{inst.names[v]},{p}]"))
        x.append(row)
        if P > 1 and fixed is None:
            m.add_exactly_one(b for b in row if not isinstance(b, int))
    # (10) processors open in order: used[i][p] = processor p holds one of the first
    # i+1 tasks of the order; task i may take p > 0 only if p-1 was used before.
    used: list[list[cp_model.IntVar]] = []
    for i, v in enumerate(inst.order if P > 1 and fixed is None else []):
        for p in range(1, min(i, P - 1) + 1):
            m.add_implication(x[v][p], used[i - 1][p - 1])
        cur: list[cp_model.IntVar] = []
        for p in range(min(i, P - 2) + 1):
            u = m.new_bool_var(f"used[{i},{p}]")
            if p < i:
                m.add_max_equality(u, [used[i - 1][p], x[v][p]])
            else:
                m.add(u == x[v][p])
            cur.append(u)
        used.append(cur)

    # (2) offsets and stages, S_v = r_v + T k_v with 0 <= r_v < T; (6) start windows.
    r, k, S = [], [], []
    for v in range(n):
        wlo, whi = prep.windows[v]
        name = inst.names[v]
        klo, khi = prep.stages[v]
        rv = m.new_int_var(0, hi - 1, f"r[{name}]")
        kv = m.new_int_var(klo, khi, f"k[{name}]")
        sv = m.new_int_var(wlo, whi, f"S[{name}]")
        if lo is not None:
            m.add(rv <= T - 1)
        m.add(sv == rv + times_T(kv, klo, khi, f"Tk[{name}]"))
        r.append(rv)
        k.append(kv)
        S.append(sv)
    # (7) rotation symmetry: the anchor's offset is 0.
    m.add(r[inst.anchor] == 0)

    # (4) y_uv = [p_u != p_v] for every pair of tasks joined by an edge;
    # (13) y_uv = 0 where a cycle leaves no room for the communication.
    y: dict[tuple[int, int], cp_model.IntVar] = {}
    for u, v in inst.pairs if P > 1 else []:
        b = m.new_bool_var(f"y[{inst.names[u]},{inst.names[v]}]")
        if (u, v) in prep.together:
            m.add(b == 0)
        if fixed is not None:
            m.add(b == int(fixed[u] != fixed[v]))
            y[(u, v)] = b
            continue
        for p in range(P):
            xu, xv = x[u][p], x[v][p]
            if isinstance(xu, int) and isinstance(xv, int):
                if xu != xv:
                    m.add(b == 1)
                continue
            m.add(xu - xv <= b)
            m.add(xv - xu <= b)
            m.add(xu + xv + b <= 2)
        y[(u, v)] = b

    # (5) staleness of the auto layers; (16) with soft distances, the excess over
    # the cap (or over an edge's distance) is what the relaxed model minimises.
    st: dict[str, cp_model.IntVar] = {}
    stT: dict[str, object] = {}
    excess: list[cp_model.IntVar] = []
    for layer in inst.layers:
        assert inst.cap is not None
        top = inst.cap + inst.slack
        st[layer] = m.new_int_var(1, top, f"s[{layer}]")
        stT[layer] = times_T(st[layer], 1, top, f"sT[{layer}]")
        if inst.slack:
            z = m.new_int_var(0, inst.slack, f"excess[{layer}]")
            m.add(z >= st[layer] - inst.cap)
            excess.append(z)

    # (3) precedence: S_v + w T >= S_u + d_u + c y_uv.
    for e in inst.edges:
        u, v = e.src, e.dst
        wlo, whi = inst.distance_range(e)
        if e.layer is not None:
            dist = stT[e.layer]
        elif whi > wlo:
            z = m.new_int_var(0, whi - wlo, f"excess[{inst.names[u]},{inst.names[v]}]")
            excess.append(z)
            dist = wlo * T + times_T(z, 0, whi - wlo, "")
        else:
            dist = e.distance * T
        if u == v:
            m.add(dist >= d[u])
            continue
        comm = e.comm * y[_pair(u, v)] if e.comm and P > 1 else 0
        m.add(S[v] + dist >= S[u] + d[u] + comm)

    # (8) modulo resource: on each processor the copies [r_v, r_v + d_v) and
    # [r_v + T, r_v + T + d_v) of its tasks are pairwise disjoint.
    if isinstance(T, int):
        second = [r[v] + T for v in range(n)]
    else:
        second = []
        for v in range(n):
            a = m.new_int_var(lo or 0, 2 * hi - 1, f"r2[{inst.names[v]}]")
            m.add(a == r[v] + T)
            second.append(a)
    for p in range(P):
        ivs = []
        for v in range(n):
            pres = x[v][p]
            if isinstance(pres, int) and pres == 0:
                continue
            for start in (r[v], second[v]):
                if isinstance(pres, int):
                    ivs.append(m.new_fixed_size_interval_var(start, d[v], ""))
                else:
                    ivs.append(m.new_optional_fixed_size_interval_var(start, d[v], pres, ""))
        m.add_no_overlap(ivs)
        if P > 1 and fixed is None:
            # (11) load (redundant with (8)).
            m.add(sum(d[v] * x[v][p] for v in range(n) if not isinstance(x[v][p], int)) <= T)
    if P > 1:
        # (12) at most P tasks at once (redundant; exact on [T, 2T)).
        ivs = [
            m.new_fixed_size_interval_var(start, d[v], "")
            for v in range(n)
            for start in (r[v], second[v])
        ]
        m.add_cumulative(ivs, [1] * len(ivs), P)
    return _Model(m, T, x, used, r, k, S, y, st, excess)


# --------------------------------------------------------------------------- solutions
@dataclass
class _Solution:
    """A schedule in index form: period, processor and start of every task, staleness."""

    T: int
    proc: list[int]
    start: list[int]
    staleness: dict[str, int]


def _extract(inst: _Instance, mod: _Model, solver: cp_model.CpSolver) -> _Solution:
    proc = []
    for row in mod.x:
        pv = 0
        for p, b in enumerate(row):
            if (b if isinstance(b, int) else solver.boolean_value(b)) == 1:
                pv = p
        proc.append(pv)
    T = mod.T if isinstance(mod.T, int) else int(solver.value(mod.T))
    start = [int(solver.value(s)) for s in mod.S]
    st = {layer: int(solver.value(var)) for layer, var in mod.st.items()}
    return _Solution(T, proc, start, st)


def _normalise(inst: _Instance, sol: _Solution, prep: _Prep) -> _Solution:
    """Move a valid solution into the model's conventions, to be a complete hint.

    Processors are renamed in order of first use along the symmetry order (9)-(10);
    times shift so that the anchor starts at 0 (7); without strong connectivity
    the stages are then lowered to the least ones (section 2.3).
    """
    T = sol.T
    proc = _rename_processors(inst, sol.proc)
    shift = sol.start[inst.anchor]
    start = [s - shift for s in sol.start]
    if not inst.strongly_connected:
        off = [s % T for s in start]
        kk = [0] * len(start)
        changed = True
        while changed:  # longest-path fixpoint; terminates as the solution is valid
            changed = False
            for e in inst.edges:
                u, v = e.src, e.dst
                if u == v:
                    continue
                w = sol.staleness[e.layer] if e.layer is not None else e.distance
                c = e.comm if proc[u] != proc[v] else 0
                need = -(-(off[u] + T * kk[u] + inst.d[u] + c - w * T - off[v]) // T)
                if need > kk[v]:
                    kk[v] = need
                    changed = True
        start = [off[v] + T * kk[v] for v in range(len(start))]
    return _Solution(T, proc, start, dict(sol.staleness))


def _rename_processors(inst: _Instance, proc: list[int]) -> list[int]:
    rename: dict[int, int] = {}
    for v in inst.order:
        if proc[v] not in rename:
            rename[proc[v]] = len(rename)
    return [rename[p] for p in proc]


def _hint(inst: _Instance, mod: _Model, sol: _Solution) -> None:
    """A complete hint: every decision variable gets the (normalised) solution's value."""
    m = mod.model
    m.clear_hints()
    T = sol.T
    if not isinstance(mod.T, int):
        m.add_hint(mod.T, T)
    for v in range(len(inst.d)):
        for p, b in enumerate(mod.x[v]):
            if not isinstance(b, int):
                m.add_hint(b, int(sol.proc[v] == p))
        m.add_hint(mod.S[v], sol.start[v])
        m.add_hint(mod.r[v], sol.start[v] % T)
        m.add_hint(mod.k[v], sol.start[v] // T)
    for i, row in enumerate(mod.used):
        seen = {sol.proc[v] for v in inst.order[: i + 1]}
        for p, b in enumerate(row):
            m.add_hint(b, int(p in seen))
    for (u, v), b in mod.y.items():
        m.add_hint(b, int(sol.proc[u] != sol.proc[v]))
    for layer, var in mod.st.items():
        m.add_hint(var, sol.staleness[layer])


def _least_staleness(inst: _Instance, sol: _Solution) -> dict[str, int]:
    """The least staleness of each auto layer that the solution's start times allow."""
    need = {layer: 1 for layer in inst.layers}
    for e in inst.edges:
        if e.layer is None:
            continue
        c = e.comm if sol.proc[e.src] != sol.proc[e.dst] else 0
        slack = sol.start[e.src] + inst.d[e.src] + c - sol.start[e.dst]
        need[e.layer] = max(need[e.layer], -(-slack // sol.T))
    return need


def _to_schedule(inst: _Instance, sol: _Solution) -> Schedule:
    graph = inst.graph
    if inst.cap is not None:
        graph = graph.with_staleness(_least_staleness(inst, sol))
    first = min(sol.start)  # starts from 0: a common shift changes nothing
    return Schedule(
        graph=graph,
        platform=inst.P,
        period=sol.T,
        processor={name: sol.proc[v] for v, name in enumerate(inst.names)},
        start={name: sol.start[v] - first for v, name in enumerate(inst.names)},
    )


def _from_schedule(inst: _Instance, sched: Schedule) -> _Solution:
    proc = [sched.processor[name] for name in inst.names]
    start = [sched.start[name] for name in inst.names]
    sol = _Solution(sched.period, proc, start, {})
    if inst.layers:
        assert inst.cap is not None
        sol.staleness = {layer: inst.cap for layer in inst.layers}
        sol.staleness = _least_staleness(inst, sol)
    return sol


def _sequential(inst: _Instance) -> _Solution:
    """Everything on processor 0 in a topological order of the distance-0 edges.

    Valid at ``T = sum d_v`` for every graph without a zero-distance cycle: each
    distance-0 edge points forward, and every other edge spans at least ``T``.
    """
    n = len(inst.d)
    indeg = [0] * n
    succ: list[list[int]] = [[] for _ in range(n)]
    for e in inst.edges:
        if inst.distance_range(e)[0] == 0 and e.src != e.dst:
            succ[e.src].append(e.dst)
            indeg[e.dst] += 1
    ready = [v for v in range(n) if indeg[v] == 0]
    start = [0] * n
    t = 0
    while ready:
        v = ready.pop()
        start[v] = t
        t += inst.d[v]
        for w in succ[v]:
            indeg[w] -= 1
            if indeg[w] == 0:
                ready.append(w)
    return _Solution(sum(inst.d), [0] * n, start, {layer: 1 for layer in inst.layers})


def _is_valid(inst: _Instance, sol: _Solution) -> bool:
    """The definition of DESIGN.md section 1, as a cheap guard on hints and warm starts."""
    T = sol.T
    if T < 1 or any(not 0 <= p < inst.P for p in sol.proc):
        return False
    if any(not 1 <= s <= (inst.cap or 0) for s in sol.staleness.values()):
        return False
    for e in inst.edges:
        w = sol.staleness[e.layer] if e.layer is not None else e.distance
        c = e.comm if sol.proc[e.src] != sol.proc[e.dst] else 0
        if sol.start[e.dst] + w * T < sol.start[e.src] + inst.d[e.src] + c:
            return False
    arcs: dict[int, list[tuple[int, int]]] = {}
    for v, p in enumerate(sol.proc):
        if inst.d[v] > T:
            return False
        arcs.setdefault(p, []).append((sol.start[v] % T, inst.d[v]))
    for lst in arcs.values():
        lst.sort()
        for (a, da), (b, _db) in zip(lst, lst[1:], strict=False):
            if a + da > b:
                return False
        if lst[-1][0] + lst[-1][1] > T + lst[0][0]:
            return False
    return True


# ------------------------------------------------------------------------------ solving
class _Clock:
    def __init__(self, limit: float | None) -> None:
        self.t0 = time.perf_counter()
        self.limit = limit

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def remaining(self) -> float:
        if self.limit is None:
            return math.inf
        return self.limit - self.elapsed()


def _solver(workers: int, seed: int, limit: float, log: Log | None) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.num_workers = workers
    prm.random_seed = seed
    if math.isfinite(limit):
        prm.max_time_in_seconds = max(0.01, limit)
    if log is not None:
        prm.log_search_progress = True
        prm.log_to_stdout = False
        solver.log_callback = log
    return solver


@dataclass
class _Search:
    """State shared by the phases of :func:`solve_cpsat`."""

    inst: _Instance
    clock: _Clock
    workers: int
    seed: int
    log: Log | None
    lo: int  # proven lower bound
    best: _Solution
    stats: dict
    calls: int = 0

    def next_seed(self) -> int:
        """A new seed for every CP-SAT call, so that a repeated attempt searches anew."""
        self.calls += 1
        return self.seed + self.calls - 1

    def say(self, line: str) -> None:
        if self.log is not None:
            self.log(f"cpsat: {line}")

    def step(self, what: str, T: int, outcome: str, seconds: float) -> None:
        self.stats["steps"].append(
            {"phase": what, "period": T, "outcome": outcome, "seconds": round(seconds, 3)}
        )

    # -- phase 1: proofs that come cheap -----------------------------------------
    def raise_by_packing(self, budget: float) -> None:
        """Bisection on the bin-packing relaxation: every period it rejects is infeasible."""
        lo, hi = self.lo, self.best.T - 1
        stop = self.clock.elapsed() + budget
        while lo <= hi and self.clock.elapsed() < stop:
            T = (lo + hi) // 2
            t0 = time.perf_counter()
            prep = _prepare(self.inst, T)
            if prep is None:
                outcome = "infeasible"
            else:
                limit = min(stop - self.clock.elapsed(), self.clock.remaining())
                outcome = _packing(self.inst, prep, limit, self.workers, self.seed)
            self.step("packing", T, outcome, time.perf_counter() - t0)
            self.say(f"T={T} packing {outcome} ({time.perf_counter() - t0:.2f} s)")
            if outcome == "infeasible":
                self.lo = lo = T + 1
            elif outcome == "feasible":
                hi = T - 1
            else:
                break

    # -- phase 2: searches for better schedules ---------------------------------------
    def heuristic(self, budget: float) -> None:
        """Iterative modulo scheduling (:mod:`lpsched.solvers.heuristic`) with a budget.

        Without a time limit on the call its default effort is used, so that one
        seed gives one answer.
        """
        from .heuristic import modulo_schedule

        t0 = time.perf_counter()
        limit = None if self.clock.limit is None else max(0.01, budget)
        sched = modulo_schedule(
            self.inst.graph, self.inst.P, lower_bound=self.lo, seed=self.seed, time_limit=limit
        )
        sol = _from_schedule(self.inst, sched)
        better = _is_valid(self.inst, sol) and sol.T < self.best.T
        if better:
            self.best = sol
        self.step("heuristic", sched.period, "feasible", time.perf_counter() - t0)
        self.say(f"heuristic: period {sched.period} ({time.perf_counter() - t0:.2f} s)")

    def variable(self, budget: float) -> None:
        """Minimise T in the model with a variable period, hinted with the best schedule.

        Skipped when the model would hold more than :data:`MAX_VARIABLE_INTERVALS`
        optional intervals.
        """
        if self.best.T <= self.lo:
            return
        size = _optional_intervals(self.inst)
        if size > MAX_VARIABLE_INTERVALS:
            self.say(f"variable period: skipped, {size} optional intervals")
            return
        t0 = time.perf_counter()
        prep = _prepare(self.inst, self.best.T, lo=self.lo)
        assert prep is not None  # the best schedule is valid at its period
        mod = _build_model(self.inst, prep, lo=self.lo)
        assert not isinstance(mod.T, int)
        mod.model.minimize(mod.T)
        _hint(self.inst, mod, _normalise(self.inst, self.best, prep))
        left = budget - (time.perf_counter() - t0)  # building the model counts against it
        solver = _solver(self.workers, self.next_seed(), left, self.log)
        status = solver.solve(mod.model)
        outcome = solver.status_name(status).lower()
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            sol = _extract(self.inst, mod, solver)
            if sol.T < self.best.T:
                self.best = sol
            # (the objective bound is a proof: the model is exact for every T <= hi)
            self.lo = max(self.lo, int(math.ceil(solver.best_objective_bound - 1e-6)))
        elif status == cp_model.INFEASIBLE:  # impossible with a valid hint; be safe
            raise RuntimeError("CP-SAT found the warm start infeasible")
        self.step("variable period", self.best.T, outcome, time.perf_counter() - t0)
        self.say(
            f"variable period: best {self.best.T}, bound {self.lo} "
            f"({time.perf_counter() - t0:.2f} s)"
        )

    def segments(self, budget: float) -> None:
        """Look for a schedule at the lower bound with the critical loop in a few pieces.

        Each try assigns processors with :func:`lpsched.solvers.segments.loop_segments`
        (``P + P // 2`` pieces, a new seed each time, at most :data:`SEGMENT_SLICE` seconds)
        and gives the assignment to the fixed-period model at ``T = lo``, which then
        only decides the start times. Finds, never proves.
        """
        from ..bounds import iteration_bound
        from .segments import loop_segments

        inst, T = self.inst, self.lo
        if self.best.T <= T or inst.P == 1:
            return
        _, names = iteration_bound(inst.graph)
        if len(names) < 2:
            return
        index = {name: v for v, name in enumerate(inst.names)}
        loop = [index[name] for name in names]
        t0 = time.perf_counter()
        stop = t0 + budget
        prep = _prepare(inst, T)
        tries = 0
        outcome = "unknown"
        while prep is not None and time.perf_counter() < stop - 0.05:
            tries += 1
            left = stop - time.perf_counter()
            proc = loop_segments(
                inst.d,
                loop,
                inst.P,
                T,
                inst.P + inst.P // 2,
                limit=min(SEGMENT_SLICE, left),
                workers=self.workers,
                seed=self.next_seed(),
            )
            if proc is None:
                continue
            mod = _build_model(inst, prep, fixed=proc)
            left = stop - time.perf_counter()
            if left <= 0.01:
                break
            solver = _solver(self.workers, self.next_seed(), min(left, SEGMENT_SLICE), self.log)
            if solver.solve(mod.model) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                self.best = _extract(inst, mod, solver)
                outcome = "feasible"
                break
        seconds = time.perf_counter() - t0
        self.step("segments", T, outcome, seconds)
        self.say(f"T={T} {outcome} (loop segments, {tries} tries, {seconds:.2f} s)")

    # -- phase 3: fixed periods ---------------------------------------------------
    def decide(self, T: int, model: str, limit: float) -> tuple[str, _Solution | None]:
        """Decide period ``T``: packing relaxation, then the hard or the soft model.

        ``"hard"`` is the model (1)-(13); ``"soft"`` the relaxation (16) that
        minimises the distance excess.

        Returns ``("feasible", solution)``, ``("infeasible", None)`` (proven) or
        ``("unknown", None)``.
        """
        deadline = time.perf_counter() + limit
        inst = self.inst if model == "hard" else self.inst.relaxed(T)
        prep = _prepare(inst, T)
        if prep is None:
            return "infeasible", None
        if _packing(inst, prep, min(limit / 4, 5.0), self.workers, self.seed) == "infeasible":
            return "infeasible", None
        mod = _build_model(inst, prep)
        if model == "soft":
            mod.model.minimize(sum(mod.excess))
        _partial_hint(inst, mod, self.best)
        left = deadline - time.perf_counter()  # the packing and the model took their share
        if left <= 0.01:
            return "unknown", None
        solver = _solver(self.workers, self.next_seed(), left, self.log)
        status = solver.solve(mod.model)
        if status == cp_model.MODEL_INVALID:
            raise RuntimeError(f"CP-SAT model invalid: {mod.model.validate()}")
        if status == cp_model.INFEASIBLE:
            return "infeasible", None
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            if model == "hard" or solver.objective_value < 0.5:
                return "feasible", _extract(inst, mod, solver)
            if solver.best_objective_bound > 0.5:  # (16): no schedule without excess
                return "infeasible", None
        return "unknown", None

    def attempt(self, T: int, model: str, limit: float) -> str:
        """:meth:`decide` ``T`` and record what it shows."""
        t0 = time.perf_counter()
        outcome, sol = self.decide(T, model, limit)
        seconds = time.perf_counter() - t0
        self.step(f"{model} model", T, outcome, seconds)
        self.say(f"T={T} {outcome} ({model} model, {seconds:.2f} s)")
        if outcome == "feasible":
            assert sol is not None
            if sol.T < self.best.T:
                self.best = sol
        elif outcome == "infeasible":
            # Monotone in T (section 3): every smaller period is infeasible too.
            self.lo = max(self.lo, T + 1)
        return outcome

    def descend(self, soft: bool = False) -> None:
        """Try ``best - 1`` until it is proven infeasible or the time is up.

        A period gets half the time left (all of it below 10 s); when that proves
        nothing, the model with a variable period searches from the best schedule
        for a quarter of the time left (with a new seed), and the loop goes on.
        With ``soft``, each period first gets a share in the soft model (16).
        """
        while self.best.T > self.lo and self.clock.remaining() > 0.05:
            T = self.best.T - 1
            left = self.clock.remaining()
            outcome = "unknown"
            if soft:
                outcome = self.attempt(T, "soft", min(left / 4, UNLIMITED_PHASE_SECONDS))
                left = self.clock.remaining()
            if outcome == "unknown" and left > 0.05:
                outcome = self.attempt(T, "hard", left if left < 10 else left / 2)
            if outcome == "infeasible" or self.clock.remaining() <= 0.05:
                break
            if outcome == "unknown":
                self.variable(self.clock.remaining() / 4)

    def bisect(self) -> None:
        """Bisection between the bound and the best period with the hard model.

        A step that times out proves nothing; the search goes on above it.
        """
        search_lo = self.lo
        while search_lo < self.best.T and self.clock.remaining() > 0.05:
            hi = self.best.T - 1
            T = (search_lo + hi) // 2
            steps = max(1, math.ceil(math.log2(hi - search_lo + 2)))
            outcome = self.attempt(T, "hard", self.clock.remaining() / steps)
            if outcome != "feasible":
                search_lo = T + 1


def _optional_intervals(inst: _Instance) -> int:
    """How many optional intervals (8) the model holds: two per task and allowed processor (9)."""
    if inst.P == 1:
        return 0
    return 2 * sum(min(rank + 1, inst.P) for rank in range(len(inst.d)))


def _partial_hint(inst: _Instance, mod: _Model, sol: _Solution) -> None:
    """Hint a model at a smaller period with a solution's processors (renamed)."""
    proc = _rename_processors(inst, sol.proc)
    for v, row in enumerate(mod.x):
        for p, b in enumerate(row):
            if not isinstance(b, int):
                mod.model.add_hint(b, int(proc[v] == p))


def _secondary(search: _Search, objective: str, limit: float) -> None:
    """Minimise the secondary objective at the best period; keep the best if nothing better."""
    built = time.perf_counter()  # from here, building the model counts against the limit
    inst, sol = search.inst, search.best
    prep = _prepare(inst, sol.T)
    assert prep is not None
    mod = _build_model(inst, prep)
    if objective == "comm":
        # (14) communication volume: bytes of the edges between different processors.
        weight: dict[tuple[int, int], int] = {}
        for e in inst.edges:
            if e.src != e.dst and e.nbytes:
                key = _pair(e.src, e.dst)
                weight[key] = weight.get(key, 0) + e.nbytes
        terms = [w * mod.y[key] for key, w in weight.items() if key in mod.y]
        value = _comm_bytes(inst, sol)
    else:
        # (15) total staleness.
        terms = list(mod.st.values())
        value = sum(_least_staleness(inst, sol).values())
    if not terms:
        return
    mod.model.minimize(sum(terms))
    hinted = _normalise(inst, sol, prep)
    if inst.layers:
        hinted.staleness = _least_staleness(inst, hinted)
    _hint(inst, mod, hinted)
    t0 = time.perf_counter()
    solver = _solver(search.workers, search.seed, limit - (t0 - built), search.log)
    status = solver.solve(mod.model)
    info = {
        "objective": objective,
        "status": solver.status_name(status).lower(),
        "seconds": round(time.perf_counter() - t0, 3),
        "initial": value,
        "value": value,
    }
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and solver.objective_value < value:
        search.best = _extract(inst, mod, solver)
        info["value"] = int(round(solver.objective_value))
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        info["bound"] = int(math.ceil(solver.best_objective_bound - 1e-6))
    search.stats["secondary"] = info
    search.say(
        f"{objective} {info['initial']} -> {info['value']} at T={sol.T} "
        f"({info['status']}, {info['seconds']:.2f} s)"
    )


def _comm_bytes(inst: _Instance, sol: _Solution) -> int:
    return sum(e.nbytes for e in inst.edges if sol.proc[e.src] != sol.proc[e.dst])


def solve_cpsat(
    graph: TaskGraph,
    processors: int,
    *,
    lower_bound: int | None = None,
    initial: Schedule | None = None,
    time_limit: float | None = None,
    workers: int | None = None,
    seed: int = 0,
    secondary: str | None = "comm",
    log: Log | None = None,
) -> Result:
    """Minimise the period with CP-SAT, then a secondary objective at that period.

    Parameters
    ----------
    graph
        The task graph. With ``graph.staleness_cap`` set (the ``auto`` policy) each
        weighted layer's staleness is a decision in ``[1, cap]``; otherwise the
        distances are used as given.
    processors
        Number of identical processors ``P >= 1``.
    lower_bound
        A known lower bound on the period (default: :func:`lpsched.bounds.lower_bounds`).
    initial
        A valid schedule of ``graph`` to start from: its period is the first upper
        bound and it hints the first model. The result is never worse.
    time_limit
        Wall-time limit in seconds for the whole call (``None``: none).
    workers
        CP-SAT search workers (default: the number of CPUs, at most 8).
    seed
        Random seed; with ``workers=1`` the same seed gives the same answer when
        no time limit is reached.
    secondary
        At the optimal period, minimise ``"comm"`` (bytes between processors per
        iteration) or ``"staleness"`` (total staleness; auto graphs only), or
        ``None``.
    log
        Receives CP-SAT's log lines and one progress line per phase and period
        (prefixed ``cpsat:``); ``None`` prints nothing.

    Returns
    -------
    Result
        ``solver="cpsat"``, never ``INFEASIBLE`` (one processor always works).
        ``OPTIMAL`` only when the period equals the proven lower bound
        (``lower_bound``, the packing relaxation, one more than a period proven
        infeasible, or the variable-period model's bound); else ``FEASIBLE`` with
        that bound. ``stats`` lists every step (phase, period, outcome, seconds)
        and the secondary objective's result.

    Raises
    ------
    InputError
        On ``processors < 1``, an unknown ``secondary``, a non-positive time limit,
        an ``initial`` schedule without some task of ``graph``, or a ``lower_bound``
        above the period of a valid ``initial`` schedule.
    """
    clock = _Clock(time_limit)
    if isinstance(processors, bool) or not isinstance(processors, int) or processors < 1:
        raise InputError(f"processors must be a positive integer, got {processors!r}")
    if secondary is not None and secondary not in SECONDARY_OBJECTIVES:
        raise InputError(
            f"unknown secondary objective {secondary!r}; choose from {SECONDARY_OBJECTIVES}"
        )
    if time_limit is not None and not time_limit > 0:
        raise InputError(f"time limit must be positive, got {time_limit}")
    if workers is None:
        workers = max(1, min(8, os.cpu_count() or 1))

    inst = _Instance.build(graph, processors)
    if lower_bound is None:
        from ..bounds import lower_bounds

        lower_bound = lower_bounds(graph, processors).lower_bound
    lo = max(int(lower_bound), max(inst.d), -(-sum(inst.d) // processors))
    best = _sequential(inst)
    if initial is not None:
        for name in inst.names:
            if name not in initial.processor or name not in initial.start:
                raise InputError(f"initial schedule: no assignment for task {name!r}")
    if initial is not None and initial.period < best.T:
        start = _from_schedule(inst, initial)
        if not _is_valid(inst, start):
            if log is not None:
                log("cpsat: the initial schedule is not valid for this graph; ignored")
        elif start.T < lo:
            raise InputError(
                f"lower bound {lo} exceeds the period {start.T} of the valid initial schedule"
            )
        else:
            best = start
    search = _Search(inst, clock, workers, seed, log, lo, best, {"steps": [], "workers": workers})
    search.say(f"period in [{lo}, {best.T}], {len(inst.d)} tasks, {processors} processors")

    def share(fraction: float, cap: float = UNLIMITED_PHASE_SECONDS) -> float:
        return max(0.0, min(cap, fraction * clock.remaining()))

    # The search of section 3.
    for phase, fraction in PLAN:
        if search.best.T <= search.lo or clock.remaining() <= 0.05:
            break
        if phase == "packing":
            search.raise_by_packing(share(fraction, cap=10.0))
        elif phase == "heuristic":
            search.heuristic(share(fraction))
        elif phase == "segments":
            search.segments(share(fraction))
        elif phase == "variable":
            search.variable(share(fraction))
        elif phase in ("lower", "lower-hard"):
            search.attempt(search.lo, "soft" if phase == "lower" else "hard", share(fraction))
        elif phase in ("descend", "descend-soft"):
            search.descend(soft=phase == "descend-soft")
        elif phase == "bisect":
            search.bisect()
        else:
            raise ValueError(f"unknown phase {phase!r}")

    wanted = (secondary == "comm" and processors > 1) or (secondary == "staleness" and inst.layers)
    if wanted:
        limit = share(1.0, cap=UNLIMITED_PHASE_SECONDS + clock.elapsed())
        if limit > 0.05:
            _secondary(search, secondary, limit)

    schedule = _to_schedule(inst, search.best)
    lo = search.lo
    if lo > schedule.period:  # a proof contradicted by a valid schedule: a bug
        raise RuntimeError(f"cpsat: proven bound {lo} above the period {schedule.period}")
    status = Status.OPTIMAL if schedule.period == lo else Status.FEASIBLE
    search.stats["proven_lower_bound"] = search.lo
    return Result(
        schedule=schedule,
        status=status,
        lower_bound=lo,
        solver="cpsat",
        solve_seconds=clock.elapsed(),
        network=graph.name,
        decomposition=graph.decomposition,
        stats=search.stats,
    )
