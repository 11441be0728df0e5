"""Lower bounds on the iteration period (``formulations/README.md``, "Lower bounds").

Every bound here holds for every periodic schedule of the graph on its
platform; the functions on a bare graph take ``P`` identical processors.

* :func:`resource_bound` -- ``ceil(sum d_v / P)``;
* longest task -- ``max d_v``;
* :func:`packing_bound` -- pigeonhole over the longest tasks (a task never
  splits across processors);
* :func:`iteration_bound` -- the maximum cycle ratio ``T_inf`` (Parhi and
  Messerschmitt 1991), computed exactly;
* :func:`colocation_bound` -- the only bound that sees communication: an edge
  whose cut would make a loop too slow forces its ends onto one processor, and
  the groups so formed must pack into ``P`` processors of capacity ``T``;
* :func:`port_refuted` -- under ``capacity: ports``, the co-location test
  with tensors too long for any port kept local and the port time of what
  must cross charged to the ports of the groups it leaves and enters;
* under placement ``layer`` or ``stages``: :func:`unit_bound` (a layer's work
  on one processor, B17), the co-location bound with layers joined (B18), and
  under ``stages`` the contiguous-partition bound (:func:`partition_bound`,
  :func:`stages_refuted`, B19).

:func:`lower_bounds` combines them into a :class:`Bounds`; a schedule whose
period equals :attr:`Bounds.lower_bound` is optimal without a solver's proof.

The iteration bound uses the distances the graph carries. When the staleness
policy is ``auto`` (``graph.staleness_cap`` set) those are the cap, the largest
staleness a solver may choose; larger distances only relax precedences, so the
bound is valid for every staleness choice.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, NamedTuple

import networkx as nx
import numpy as np

from .graph import Edge, TaskGraph
from .platform import Platform
from .problem import Problem, as_problem, exact_speed

__all__ = [
    "Bounds",
    "bins_bound",
    "colocation_bound",
    "groups_refuted",
    "partition_bound",
    "stage_blocks",
    "stages_refuted",
    "unit_bound",
    "unit_pairs",
    "iteration_bound",
    "PortModel",
    "lower_bounds",
    "MemoryModel",
    "memory_bound",
    "memory_infeasible",
    "memory_model",
    "packing_bound",
    "port_model",
    "port_refuted",
    "problem_bounds",
    "resource_bound",
]

# Adjacency of the cyclic part of a graph: succ[u] = [(v, w), ...] with one entry
# per successor, carrying the smallest distance among parallel edges u -> v.
_Adjacency = list[list[tuple[int, int]]]


# ---------------------------------------------------------------------------
# The bounds on task durations alone
# ---------------------------------------------------------------------------
def resource_bound(durations: Sequence[int], processors: int) -> int:
    """``ceil(sum d_v / P)``: the work of one iteration spread evenly.

    Each processor runs the tasks assigned to it once per period on disjoint
    arcs of a circle of length ``T``, so its load is at most ``T``; the ``P``
    loads add up to ``sum d_v``.
    """
    return -(-sum(durations) // processors)


def packing_bound(durations: Sequence[int], processors: int) -> int:
    """The pigeonhole bound of ``P||Cmax`` over the longest tasks.

    With durations sorted in decreasing order ``d_(1) >= d_(2) >= ...``::

        T >= max over k >= 0 with k*P + 1 <= n of  d_(kP-k+1) + ... + d_(kP+1)

    Argument: as in :func:`resource_bound`, the tasks on one processor have a
    total duration of at most ``T``. Of the ``k*P + 1`` longest tasks, some
    processor holds at least ``k + 1`` (pigeonhole); their total is at least the
    sum of the ``k + 1`` shortest of those ``k*P + 1`` tasks, which is the sum
    above. ``k = 0`` gives the longest task; ``k = 1`` gives ``d_(P) + d_(P+1)``.
    Taking the ``m`` longest tasks for any other ``m`` gives nothing more: some
    processor then holds ``ceil(m / P)`` of them, and for a given ``k + 1 =
    ceil(m / P)`` the smallest such ``m``, ``k*P + 1``, has the largest tail.

    Parameters
    ----------
    durations
        Task durations (positive integers), in any order.
    processors
        ``P >= 1``.

    Returns
    -------
    int
        The bound (0 for no tasks).
    """
    d = sorted(durations, reverse=True)
    best = 0
    k = 0
    while k * processors + 1 <= len(d):
        top = k * processors + 1  # number of longest tasks considered
        best = max(best, sum(d[top - k - 1 : top]))
        k += 1
    return best


def bins_bound(sizes: Sequence[int], capacity: int) -> int:
    """Martello and Toth's ``L2``: a lower bound on the bins of size ``capacity`` ``sizes`` need.

    For each ``0 <= K <= C/2``: items larger than ``C - K`` (set ``N1``) and
    those in ``(C/2, C - K]`` (``N2``) each need a bin of their own, and no item
    of ``N3 = [K, C/2]`` fits beside an ``N1`` item; the ``N3`` items that do
    not fit into the room the ``N2`` bins leave need
    ``ceil((sum N3 - (|N2| C - sum N2)) / C)`` more bins. ``L2`` is the largest
    count over ``K`` (Martello and Toth 1990, *Knapsack Problems*, section 8.3.1).

    Returns
    -------
    int
        The bound; ``len(sizes) + 1`` (more than any packing uses) when an item
        exceeds the capacity, and 0 for no items.
    """
    if not sizes:
        return 0
    a = np.sort(np.asarray(sizes, dtype=np.int64))
    C = int(capacity)
    if int(a[-1]) > C:
        return len(a) + 1
    prefix = np.concatenate(([0], np.cumsum(a)))
    n = len(a)
    half = int(np.searchsorted(a, C // 2, side="right"))  # items w with 2w <= C
    ks = np.unique(np.concatenate(([0], a[:half])))
    # N3 = [K, C/2]; N2 = (C/2, C-K]; N1 = (C-K, C]
    lo3 = np.searchsorted(a, ks, side="left")
    hi2 = np.searchsorted(a, C - ks, side="right")
    n1 = n - hi2
    n2 = hi2 - half
    sum2 = prefix[hi2] - prefix[half]
    sum3 = prefix[half] - prefix[lo3]
    rest = sum3 - (n2 * C - sum2)
    extra = np.maximum(0, -(-rest // C))
    return int((n1 + n2 + extra).max())


# ---------------------------------------------------------------------------
# The iteration bound: exact maximum cycle ratio
# ---------------------------------------------------------------------------
def iteration_bound(graph: TaskGraph) -> tuple[Fraction | None, list[str]]:
    """The iteration bound ``T_inf`` and a critical loop attaining it.

    ``T_inf = max over cycles C of sum_{v in C} d_v / sum_{e in C} w_e`` with
    ``w_e`` the edge distances. Self-loops are cycles of one task; of parallel
    edges only the one with the smallest distance can attain the maximum.

    Parameters
    ----------
    graph
        The task graph; its distances are used as they are.

    Returns
    -------
    tuple[Fraction | None, list[str]]
        ``T_inf`` as an exact fraction and the critical loop as task names in
        cycle order (each has an edge to the next, the last to the first), or
        ``(None, [])`` when the graph has no cycle.

    Notes
    -----
    1. Keep the edges inside strongly connected components (every cycle lies in
       one), with the smallest distance per ordered pair of tasks.
    2. Howard's policy iteration for the maximum cycle ratio (Cochet-Terrasson
       et al. 1998; Dasdan 2004) in floating point gives a near-optimal cycle
       ``C`` and potentials ``x``.
    3. Exact certification in integers: with ``p/q = ratio(C)`` (a
       :class:`~fractions.Fraction`), edge costs ``c(u,v) = q*d_u - p*w_uv``
       have no positive cycle iff no cycle beats ``p/q``. A queue-based
       Bellman-Ford for longest paths, warm-started from ``-q*x``, either ends
       with integer potentials ``pi`` such that ``pi_v >= pi_u + c(u,v)`` on
       every edge -- summing over any cycle proves ``ratio <= p/q`` -- or finds
       a cycle of the predecessor graph, which has positive cost and hence a
       strictly larger ratio; it replaces ``C`` and step 3 repeats (a Dinkelbach
       step; ratios strictly increase over finitely many cycles, so it ends).
       The potentials are checked edge by edge before returning, so the answer
       never depends on the floating-point phase being right.
    """
    names = [t.name for t in graph.tasks]
    succ, d, members = _cyclic_part(graph)
    if not members:
        return None, []
    cycle, x = _howard(succ, d)
    ratio, cycle = _certify(succ, d, cycle, x)
    return ratio, [names[members[u]] for u in cycle]


def _cyclic_part(graph: TaskGraph) -> tuple[_Adjacency, list[int], list[int]]:
    """The edges inside strong components, on tasks renumbered ``0..m-1``.

    Returns the adjacency (smallest distance per ordered pair), the durations
    and, for each new number, the task's index in ``graph.tasks``.
    """
    component = _components(graph)
    best: dict[tuple[int, int], int] = {}
    for e in graph.edges:
        u, v = graph.index(e.src), graph.index(e.dst)
        if component[u] == component[v]:
            key = (u, v)
            if key not in best or e.distance < best[key]:
                best[key] = e.distance
    # Every task of a component with an inner edge has an inner out-edge.
    members = sorted({u for u, _v in best})
    local = {u: i for i, u in enumerate(members)}
    succ: _Adjacency = [[] for _ in members]
    for (u, v), w in best.items():
        succ[local[u]].append((local[v], w))
    durations = graph.durations
    return succ, [durations[u] for u in members], members


def _components(graph: TaskGraph) -> list[int]:
    """The strong component of every task, by index (every cycle lies in one)."""
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.n))
    g.add_edges_from((graph.index(e.src), graph.index(e.dst)) for e in graph.edges)
    component = [0] * graph.n
    for c, nodes in enumerate(nx.strongly_connected_components(g)):
        for v in nodes:
            component[v] = c
    return component


def _policy_cycles(policy: list[int], n: int) -> list[list[int]]:
    """The cycles of the functional graph ``u -> policy[u]``, each in cycle order."""
    stamp = [-1] * n
    cycles = []
    for s in range(n):
        u = s
        while stamp[u] < 0:
            stamp[u] = s
            u = policy[u]
        if stamp[u] == s:  # the walk from s closed a new cycle at u
            cycle = [u]
            v = policy[u]
            while v != u:
                cycle.append(v)
                v = policy[v]
            cycles.append(cycle)
    return cycles


def _howard(succ: _Adjacency, d: list[int], max_iter: int = 1000) -> tuple[list[int], list[float]]:
    """Howard's policy iteration for the maximum cycle ratio, in floating point.

    A policy picks one out-edge per task. Value determination gives every task
    the ratio ``eta`` of the policy cycle it reaches and a potential ``x`` with
    ``x_u = d_u - eta * w + x_v`` along policy edges; improvement first moves
    tasks towards cycles with a larger ``eta``, then (among equal ``eta``) to
    successors with a larger ``d_u - eta * w + x_v``. Tolerances only affect
    speed: the result is a starting point for :func:`_certify`. Returns the best
    policy cycle and ``x``.
    """
    n = len(succ)
    weight = {(u, v): w for u in range(n) for v, w in succ[u]}
    gpred: list[list[int]] = [[] for _ in range(n)]
    for u in range(n):
        for v, _w in succ[u]:
            gpred[v].append(u)
    # Start from the edge with the smallest distance: locally the largest ratio.
    policy = [min(succ[u], key=lambda vw: vw[1])[0] for u in range(n)]
    x = [0.0] * n
    eta = [0.0] * n
    scale = float(sum(d))
    tol_eta = 1e-12 * scale
    tol_x = 1e-10 * scale
    best_cycle: list[int] = []
    for _ in range(max_iter):
        # Value determination, one policy component at a time from its cycle.
        pred: list[list[int]] = [[] for _ in range(n)]
        for u in range(n):
            pred[policy[u]].append(u)
        cycles = _policy_cycles(policy, n)
        best_ratio = Fraction(-1)
        for cycle in cycles:
            cycle_d = sum(d[u] for u in cycle)
            cycle_w = sum(weight[u, policy[u]] for u in cycle)
            ratio = Fraction(cycle_d, cycle_w)
            if ratio > best_ratio:
                best_ratio, best_cycle = ratio, cycle
            e = cycle_d / cycle_w
            # Keep the handle's old value so an unchanged component keeps its
            # potentials (what makes policy iteration terminate).
            handle = min(cycle)
            eta[handle] = e
            done = {handle}
            queue = deque([handle])
            while queue:
                v = queue.popleft()
                for u in pred[v]:
                    if u not in done:
                        done.add(u)
                        eta[u] = e
                        x[u] = d[u] - e * weight[u, v] + x[v]
                        queue.append(u)
        # Improvement, first on eta: every task that can reach a policy cycle
        # with a larger ratio is pointed along a path towards the best one
        # (reverse breadth-first search in the graph, cycles by decreasing
        # ratio). The textbook rule moves each task to its best successor only,
        # which needs as many iterations as a chain of layers has tasks.
        changed = False
        seen = [False] * n
        for cycle in sorted(cycles, key=lambda c: -eta[c[0]]):
            e = eta[cycle[0]]
            queue = deque(v for v in cycle if not seen[v])
            for v in queue:
                seen[v] = True
            while queue:
                v = queue.popleft()
                for u in gpred[v]:
                    if not seen[u]:
                        seen[u] = True
                        queue.append(u)
                        if eta[u] < e - tol_eta:
                            policy[u] = v
                            changed = True
        if not changed:
            for u in range(n):
                e = eta[u]
                best_v, best_x = -1, x[u] + tol_x
                for v, w in succ[u]:
                    if eta[v] >= e - tol_eta:
                        value = d[u] - e * w + x[v]
                        if value > best_x:
                            best_v, best_x = v, value
                if best_v >= 0:
                    policy[u] = best_v
                    changed = True
        if not changed:
            break
    return best_cycle, x


def _certify(
    succ: _Adjacency, d: list[int], cycle: list[int], x: list[float] | None = None
) -> tuple[Fraction, list[int]]:
    """The exact maximum cycle ratio, starting from ``cycle`` (see :func:`iteration_bound`).

    ``x`` are optional floating-point potentials (``x_u >= d_u - ratio*w + x_v``
    approximately) used only as a warm start.
    """
    n = len(succ)
    ratio = _ratio(succ, d, cycle)
    q = ratio.denominator
    pi = [-round(q * xv) for xv in x] if x is not None else [0] * n
    while True:
        p, q_new = ratio.numerator, ratio.denominator
        if q_new != q:
            pi = [v * q_new // q for v in pi]
            q = q_new
        better = _positive_cycle(succ, [q * dv for dv in d], p, pi)
        if better is None:
            # The certificate: pi_v >= pi_u + q*d_u - p*w on every edge, so every
            # cycle C has q*d(C) - p*w(C) <= 0, i.e. d(C)/w(C) <= p/q.
            if any(pi[v] < pi[u] + q * d[u] - p * w for u in range(n) for v, w in succ[u]):
                raise AssertionError("iteration bound: certificate check failed")
            return ratio, cycle
        new_ratio = _ratio(succ, d, better)
        if new_ratio <= ratio:
            raise AssertionError("iteration bound: positive cycle without a larger ratio")
        ratio, cycle = new_ratio, better


def _ratio(succ: _Adjacency, d: list[int], cycle: list[int]) -> Fraction:
    """``d(C) / w(C)`` of a cycle given in order (smallest distance per step)."""
    total_w = 0
    for i, u in enumerate(cycle):
        v = cycle[(i + 1) % len(cycle)]
        total_w += min(w for t, w in succ[u] if t == v)
    return Fraction(sum(d[u] for u in cycle), total_w)


def _positive_cycle(succ: _Adjacency, qd: list[int], p: int, pi: list[int]) -> list[int] | None:
    """Longest-path Bellman-Ford (FIFO queue) on costs ``qd_u - p*w``, updating ``pi``.

    Returns ``None`` when ``pi`` has become a feasible potential (no positive
    cycle), else a cycle of the predecessor graph in edge order. Such a cycle has
    positive cost: along a predecessor edge ``pi_v <= pi_u + c(u,v)`` holds from
    the moment it is set (``pi_u`` may only grow), and the relaxation that closed
    the cycle made it strict for the next edge. A positive cycle makes labels grow
    without end, so the predecessor graph eventually has a cycle; it is looked for
    after every ``n`` relaxations, which costs ``O(1)`` amortised per relaxation.
    """
    n = len(succ)
    parent = [-1] * n
    queue = deque(range(n))
    queued = [True] * n
    relaxations = 0
    while queue:
        u = queue.popleft()
        queued[u] = False
        base = pi[u] + qd[u]
        for v, w in succ[u]:
            label = base - p * w
            if label > pi[v]:
                pi[v] = label
                parent[v] = u
                if not queued[v]:
                    queued[v] = True
                    queue.append(v)
                relaxations += 1
                if relaxations >= n:
                    relaxations = 0
                    cycle = _parent_cycle(parent)
                    if cycle:
                        return cycle
    return None


def _parent_cycle(parent: list[int]) -> list[int]:
    """A cycle of the predecessor graph in edge order (``parent[v] -> v``), or ``[]``."""
    n = len(parent)
    stamp = [-1] * n
    for s in range(n):
        v = s
        while v >= 0 and stamp[v] < 0:
            stamp[v] = s
            v = parent[v]
        if v >= 0 and stamp[v] == s:
            cycle = [v]
            u = parent[v]
            while u != v:
                cycle.append(u)
                u = parent[u]
            cycle.reverse()  # parent pointers run against the edges
            return cycle
    return []


# ---------------------------------------------------------------------------
# The co-location bound: communication on loops, then packing
# ---------------------------------------------------------------------------
#: Loops of more tasks than this skip :func:`colocation_bound`: each period it
#: tries costs an all-pairs longest-path computation, ``O(n^3)``.
MAX_COLOCATION_TASKS = 400


def colocation_bound(
    graph: TaskGraph,
    processors: int,
    lower: int = 0,
    ports: PortModel | None = None,
    component: list[int] | None = None,
    units: Sequence[Sequence[int]] | None = None,
    stages: bool = False,
) -> int:
    """The least period from ``lower`` up that co-location and packing do not refute.

    At a period ``T`` the test is:

    1. *Forced edges.* If edge ``e = (u, v)`` inside a loop crossed processors,
       the closed walk ``e`` + (longest path ``v -> u``) would cross at least
       twice -- the path returns from ``v``'s processor to ``u``'s -- and
       summing the precedences along it gives
       ``T w(W) >= d(W) + c_e + c_min``, with ``c_min`` the least
       communication cost of an edge of that loop. When that fails at ``T``,
       ``u`` and ``v`` share a processor in every schedule of period ``T``.
       Distances are the largest allowed (the staleness cap for weight
       edges), no other communication is charged: the walk is the loosest.
    2. *Packing.* The groups of tasks joined by forced edges each sit on one
       processor, so their sizes must pack into ``P`` bins of capacity ``T``:
       refuted when a group exceeds ``T``, or by the pigeonhole bound
       (:func:`packing_bound`) or Martello and Toth's ``L2``
       (:func:`bins_bound`) over the group sizes.

    A refutation at ``T`` rules out every smaller period too: a schedule of
    period ``T' < T`` keeps the edges forced at ``T`` uncut (the walk's slack
    only shrinks with the period) and its loads of at most ``T'`` are at most
    ``T``, so it would pass the test at ``T``. The galloping then binary search
    therefore only ever returns one more than a refuted period: sound, and the
    least unrefuted period whenever the test itself is monotone (the pigeonhole
    part need not be, when groups merge).

    Parameters
    ----------
    graph
        The task graph.
    processors
        ``P >= 1``.
    lower
        Where the search starts (a period already known to be a lower bound).
    ports
        Under ``capacity: ports``, the tensors and ports (:func:`port_model`):
        then the test also merges the ends of a tensor too long for any port
        and refutes ``T`` by the port time of what must cross
        (:func:`port_refuted`); edges cost :attr:`PortModel.comm`, not their
        fixed ``comm``.
    component
        The strong component of every task, when known (as ``_components``).
    units
        Under placement ``layer`` or ``stages``, the task indices of each
        layer in layer order (:attr:`~lpsched.problem.Problem.units`): each
        unit joins one group, so its tasks pack together and, under ports,
        its edges never cross (B18).
    stages
        Under placement ``stages``: the groups must also form at most ``P``
        contiguous intervals of the unit order (:func:`stages_refuted`, B19).

    Returns
    -------
    int
        ``max(lower, 1, least unrefuted T)``. When the loops hold more than
        :data:`MAX_COLOCATION_TASKS` tasks, no edge is taken as forced and
        only the packing of single tasks is tested.
    """
    n = graph.n
    durations = graph.durations
    if component is None:
        component = _components(graph)
    # With auto staleness a weight edge carries the cap, the loosest distance (graph.py).
    ends = [(graph.index(e.src), graph.index(e.dst), e) for e in graph.edges]
    cost = [e.comm for e in graph.edges] if ports is None else ports.comm
    inner = [
        (u, v, e.distance, c)
        for (u, v, e), c in zip(ends, cost, strict=True)
        if u != v and component[u] == component[v]
    ]
    members = sorted({u for u, *_ in inner})
    if len(members) > MAX_COLOCATION_TASKS:
        inner, members = [], []  # too costly: pack the tasks one by one
    local = {u: i for i, u in enumerate(members)}
    m = len(members)
    # The return crossing lies in the same loop as e: the least cost of that loop.
    least = {}
    for u, _v, _w, c in inner:
        least[component[u]] = min(least.get(component[u], c), c)
    src = np.array([local[u] for u, *_ in inner], dtype=int)
    dst = np.array([local[v] for _, v, *_ in inner], dtype=int)
    dist = np.array([w for *_, w, _ in inner], dtype=float)
    slack = np.array([durations[u] + c + least[component[u]] for u, _v, _w, c in inner], float)
    dloc = np.array([durations[u] for u in members], dtype=float)
    outside = [durations[v] for v in range(n) if v not in local]

    joined = unit_pairs(units) if units else []

    def by_groups(T: int, pairs: list[tuple[int, int]]) -> bool:
        """The tests on the groups the forced pairs and the units join."""
        pairs = [*pairs, *joined]
        if ports is not None and port_refuted(T, durations, pairs, processors, ports):
            return True
        if stages:
            assert units is not None
            return stages_refuted(T, durations, _groups(n, pairs), units, processors)
        return ports is None and groups_refuted(T, durations, pairs, processors)

    def refuted(T: int) -> bool:
        if m == 0 and (ports is not None or units):
            return by_groups(T, [])
        D = np.full((m, m), -np.inf)
        np.maximum.at(D, (src, dst), dloc[src] - dist * T)
        np.fill_diagonal(D, np.maximum(np.diag(D), 0.0))
        for k in range(m):
            np.maximum(D, D[:, k : k + 1] + D[k : k + 1, :], out=D)
        if (np.diag(D) > 0).any():
            return True  # a loop is too slow even without communication
        forced = slack - dist * T + D[dst, src] > 0
        if ports is not None or units:
            pairs = [
                (members[u], members[v])
                for u, v in zip(src[forced].tolist(), dst[forced].tolist(), strict=True)
            ]
            return by_groups(T, pairs)
        groups = nx.utils.UnionFind(range(m))
        for u, v in zip(src[forced].tolist(), dst[forced].tolist(), strict=True):
            groups.union(u, v)
        items = [sum(durations[members[i]] for i in g) for g in groups.to_sets()]
        items += outside
        # packing_bound covers a group longer than T (its k = 0 term).
        return packing_bound(items, processors) > T or bins_bound(items, T) > processors

    return least_unrefuted(refuted, max(lower, 1), sum(durations))


def groups_refuted(
    T: int, durations: Sequence[int], pairs: Sequence[tuple[int, int]], processors: int
) -> bool:
    """Whether the groups ``pairs`` join (each on one processor) cannot pack into ``P`` bins.

    By a group longer than ``T``, the pigeonhole bound (:func:`packing_bound`)
    or ``L2`` (:func:`bins_bound`) over the group sizes, as in (B6).
    """
    root = _groups(len(durations), pairs)
    load = np.zeros(len(durations), dtype=np.int64)
    np.add.at(load, root, np.asarray(durations, dtype=np.int64))
    items = load[load > 0].tolist()
    return packing_bound(items, processors) > T or bins_bound(items, T) > processors


# ---------------------------------------------------------------------------
# Placements layer and stages: units, and contiguous stages (B17)-(B19)
# ---------------------------------------------------------------------------
def unit_pairs(units: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """Pairs of tasks that join each unit into one group (consecutive tasks of a unit)."""
    return [(a, b) for unit in units for a, b in zip(unit, unit[1:], strict=False)]


def unit_bound(durations: Sequence[Sequence[int]], units: Sequence[Sequence[int]]) -> int:
    """(B17): ``max over units of min_p sum_{v in unit} d_vp``, a unit's work on one processor.

    Under placement ``layer`` or ``stages`` a unit's tasks share a processor,
    whose arcs are disjoint: the period is at least their total there, at
    least on the processor where it is least.
    """
    P = len(durations[0]) if durations else 0
    return max((min(sum(durations[v][p] for v in u) for p in range(P)) for u in units), default=0)


#: What :func:`_intervals` answers when a weight exceeds the period: no partition.
NO_PARTITION = 2**62


def _intervals(weights: Sequence[int], T: int) -> int:
    """Least number of contiguous intervals of ``weights`` with sums at most ``T`` (greedy).

    Greedy is exact: closing an interval only when the next weight does not
    fit keeps every later interval's start as late as any partition's.
    :data:`NO_PARTITION` (more than any processor count) when a weight exceeds ``T``.
    """
    count, room = 0, 0
    for w in weights:
        if w > T:
            return NO_PARTITION
        if w > room:
            count, room = count + 1, T
        room -= w
    return count


def partition_bound(weights: Sequence[int], processors: int) -> int:
    """The least, over partitions of ``weights`` into at most ``P`` intervals, of the largest sum.

    Exact, by bisection on the period with the greedy count of :func:`_intervals`
    (monotone in ``T``). 0 for no weights.
    """
    if not weights:
        return 0
    lo = max(max(weights), -(-sum(weights) // processors))
    hi = sum(weights)
    while lo < hi:
        mid = (lo + hi) // 2
        if _intervals(weights, mid) <= processors:
            hi = mid
        else:
            lo = mid + 1
    return lo


def stage_blocks(
    durations: Sequence[int], root: np.ndarray, units: Sequence[Sequence[int]]
) -> list[int]:
    """The units merged into blocks that one processor must hold whole, with their work.

    A group (``root``: each task's group) spans the units from its first to
    its last; under ``stages`` one processor holds that whole span, so
    overlapping spans merge into one block.
    """
    unit_of = np.zeros(len(durations), dtype=np.int64)
    for i, u in enumerate(units):
        unit_of[list(u)] = i
    reach = list(range(len(units)))  # the last unit a group starting at unit i spans
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for v, g in enumerate(root.tolist()):
        i = int(unit_of[v])
        first[g] = min(first.get(g, i), i)
        last[g] = max(last.get(g, i), i)
    for g, i in first.items():
        reach[i] = max(reach[i], last[g])
    work = [sum(durations[v] for v in u) for u in units]
    blocks: list[int] = []
    end = -1
    for i, w in enumerate(work):
        if i > end:
            blocks.append(0)
        blocks[-1] += w
        end = max(end, reach[i])
    return blocks


def stages_refuted(
    T: int,
    durations: Sequence[int],
    root: np.ndarray,
    units: Sequence[Sequence[int]],
    processors: int,
) -> bool:
    """(B19): whether the blocks of :func:`stage_blocks` need more than ``P`` intervals of ``T``.

    Under ``stages`` each processor holds one contiguous interval of units
    with load at most ``T`` (durations at the fastest speed, which only lowers
    every load), so the unit sequence splits into at most ``P`` such
    intervals, none cutting a block.
    """
    return _intervals(stage_blocks(durations, root, units), T) > processors


def least_unrefuted(refuted: Callable[[int], bool], T: int, top: int) -> int:
    """One more than the largest period a gallop then bisection from ``T`` finds refuted.

    ``T`` itself when it is not refuted. ``refuted(T)`` must mean that no
    schedule of period ``<= T`` exists; ``top`` (one processor running
    everything) is never refuted.
    """
    if not refuted(T):
        return T
    proven, step = T, 1
    while True:
        probe = min(proven + step, top)
        if probe == proven or not refuted(probe):
            break
        proven, step = probe, 2 * step
    hi = probe
    while hi - proven > 1:
        mid = (proven + hi) // 2
        if refuted(mid):
            proven = mid
        else:
            hi = mid
    return proven + 1


# ---------------------------------------------------------------------------
# Link ports: what must cross, charged to ports
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class PortModel:
    """The tensors and ports of a problem under ``capacity: ports``, relaxed.

    Only tensors read on some task other than their producer are kept.

    Attributes
    ----------
    producer
        Per tensor, its producer (task index).
    tau
        Per tensor, its least transfer time over the link classes in use.
    pair_tensor, pair_reader
        One entry per tensor and reader other than the producer (task index).
    ports
        The most link classes one processor reaches: its ports per direction.
    total_ports
        Out-ports of all processors together (classes each one reaches).
    comm
        Per edge, the least it delays its reader across processors: a tensor
        edge its least ``tau + latency`` over the classes in use, (P5)-(P6)
        (at least its delay cost (P0b): rounding two parts apart never gives
        less), another edge its relaxed cost.
    """

    producer: np.ndarray
    tau: np.ndarray
    pair_tensor: np.ndarray
    pair_reader: np.ndarray
    ports: int
    total_ports: int
    comm: tuple[int, ...]


def _class_pairs(platform: Platform) -> dict[str, tuple[int, int]]:
    """One processor pair of each link class in use."""
    out: dict[str, tuple[int, int]] = {}
    first_of_node: dict[int, int] = {}
    for q, proc in enumerate(platform.processors):
        p = first_of_node.setdefault(proc.node, q)
        if p != q:
            out.setdefault("intra", (p, q))
    nodes = list(first_of_node.values())
    if len(nodes) > 1:
        out["inter"] = (nodes[0], nodes[1])
    return out


def port_model(problem: Problem) -> PortModel | None:
    """The :class:`PortModel` of a ports problem; ``None`` under ``delay`` or on one processor."""
    pairs = list(_class_pairs(problem.platform).values())
    if not problem.ports or not pairs:
        return None
    graph = problem.graph
    per_node: dict[int, int] = {}
    for proc in problem.platform.processors:
        per_node[proc.node] = per_node.get(proc.node, 0) + 1
    reach = [(per_node[p.node] > 1) + (len(per_node) > 1) for p in problem.platform.processors]
    latency = np.array([problem.latency_units(p, q) for p, q in pairs], dtype=np.int64)
    unit = graph.time_unit_seconds
    tensors = problem.tensors
    nbytes = np.array([t.bytes for t in tensors], dtype=float)
    times = np.zeros((len(pairs), len(tensors)), dtype=np.int64)
    for c, (p, q) in enumerate(pairs):
        # Problem.transfer_units, for every tensor at once (same float operations).
        bw = problem.platform.link(p, q).bandwidth
        if not math.isinf(bw) and unit is not None:
            x = nbytes / bw / unit
            times[c] = np.ceil(x - 1e-9 * np.abs(x))
    arrive = (times + latency[:, None]).min(axis=0).tolist()
    least = times.min(axis=0).tolist()
    comm = list(problem.min_comm)
    where = {t.name: i for i, t in enumerate(graph.tasks)}
    dst_of = [where[e.dst] for e in graph.edges]
    producer, tau, pair_tensor, pair_reader = [], [], [], []
    for t, a, x in zip(tensors, arrive, least, strict=True):
        for e in t.edges:
            comm[e] = max(comm[e], a)
        dst = {dst_of[e] for e in t.edges} - {t.producer}
        if dst:
            pair_tensor += [len(tau)] * len(dst)
            pair_reader += sorted(dst)
            producer.append(t.producer)
            tau.append(x)
    return PortModel(
        np.array(producer, dtype=np.int64),
        np.array(tau, dtype=np.int64),
        np.array(pair_tensor, dtype=np.int64),
        np.array(pair_reader, dtype=np.int64),
        max(reach),
        sum(reach),
        tuple(comm),
    )


def _groups(n: int, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """The root of every task's group when the pairs are joined (union-find)."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for u, v in pairs:
        a, b = find(u), find(v)
        if a != b:
            parent[a] = b
    return np.array([find(v) for v in range(n)], dtype=np.int64)


def port_refuted(
    T: int,
    durations: Sequence[int],
    pairs: Sequence[tuple[int, int]],
    processors: int,
    ports: PortModel,
) -> bool:
    """Whether no schedule of period ``<= T`` exists, by groups and port time (B7)-(B10).

    ``pairs`` are task pairs that share a processor in every such schedule
    (the forced edges of :func:`colocation_bound`); the ends of every tensor
    whose transfer exceeds ``T`` join them, since no port can carry it (B7).
    The groups must pack (as in :func:`colocation_bound`) and pass
    :func:`_ports_overfull`.
    """
    n = len(durations)
    long = ports.tau[ports.pair_tensor] > T
    src = ports.producer[ports.pair_tensor[long]].tolist()
    too_long = zip(src, ports.pair_reader[long].tolist(), strict=True)
    root = _groups(n, [*pairs, *too_long])
    load = np.zeros(n, dtype=np.int64)
    np.add.at(load, root, np.asarray(durations, dtype=np.int64))
    items = load[load > 0].tolist()
    if packing_bound(items, processors) > T or bins_bound(items, T) > processors:
        return True
    return _ports_overfull(T, root, load, ports)


def _ports_overfull(T: int, root: np.ndarray, load: np.ndarray, ports: PortModel) -> bool:
    """The port tests (B8)-(B10) of ``formulations/README.md`` on the groups ``root``.

    (B8) a tensor of group ``g`` read in a group ``h`` that cannot join ``g``
    (``load g + load h > T``) crosses: its transfers busy ``g``'s out-ports and
    ``h``'s in-ports, each at most ``c T`` per processor (``c`` ports per
    direction); (B9) all such transfers fit in the ``total_ports`` out-ports;
    (B10) a group whose tensors to and from other groups exceed ``c T`` must
    host neighbours that save the excess within its spare load.
    """
    n, m, cT = len(root), len(ports.tau), ports.ports * T
    group_of = root[ports.producer]  # per tensor
    h = root[ports.pair_reader]
    keep = (h != group_of[ports.pair_tensor]) & (ports.tau[ports.pair_tensor] > 0)
    if not keep.any():
        return False
    # One entry per tensor and reading group: one transfer into each processor at most.
    key = np.unique(ports.pair_tensor[keep] * n + h[keep])
    k, h = key // n, key % n
    g, t = group_of[k], ports.tau[k]
    crossing = np.zeros(m, dtype=bool)
    crossing[k] = True
    out_total = np.zeros(n, dtype=np.int64)
    np.add.at(out_total, group_of[crossing], ports.tau[crossing])
    in_total = np.zeros(n, dtype=np.int64)
    np.add.at(in_total, h, t)
    apart = load[g] + load[h] > T
    # The groups a tensor must reach apart from its own need this many processors at least.
    apart_load = np.zeros(m, dtype=np.int64)
    np.add.at(apart_load, k[apart], load[h[apart]])
    copies = -(-apart_load // T)
    out_forced = np.zeros(n, dtype=np.int64)
    np.add.at(out_forced, group_of, ports.tau * copies)
    in_forced = np.zeros(n, dtype=np.int64)
    np.add.at(in_forced, h[apart], t[apart])
    if out_forced.max() > cT or in_forced.max() > cT:
        return True
    if int(out_forced.sum()) > ports.total_ports * T:
        return True
    need = np.maximum(in_total - cT, 0) + np.maximum(out_total - cT, 0)
    if not (need > 0).any():
        return False
    # Hosting y saves the transfers between x and y (out of x: at most, if y reads it alone).
    near: dict[int, dict[int, int]] = {int(x): {} for x in np.flatnonzero(need > 0)}
    for a, b, s in zip(g.tolist(), h.tolist(), t.tolist(), strict=True):
        for x, y in ((a, b), (b, a)):
            if x in near:
                near[x][y] = near[x].get(y, 0) + s
    return any(_most_saved(ys, load, T - int(load[x])) < need[x] for x, ys in near.items())


def _most_saved(near: dict[int, int], load: np.ndarray, room: int) -> float:
    """The most port time neighbours of total load ``<= room`` save (fractional knapsack)."""
    items = sorted(
        ((s, int(load[y])) for y, s in near.items() if load[y] <= room),
        key=lambda sl: sl[0] / sl[1],
        reverse=True,
    )
    saved = 0.0
    for s, size in items:
        if size >= room:
            return saved + s * room / size
        saved += s
        room -= size
    return saved


# ---------------------------------------------------------------------------
# Memory (P8): the least footprint, packing and the period it implies
# ---------------------------------------------------------------------------
#: Graphs with more tasks than this skip the longest distance-0 paths of the
#: memory bound (one pass over the edges per producer) and count each edge alone.
MAX_MEMORY_PATH_TASKS = 2000


class _Term(NamedTuple):
    """A lower bound on a tensor's copies: ``w(T) + ceil(numer / T)`` (B12)."""

    w: int  # a fixed distance, or the least staleness when ``loop`` is not None
    loop: int | None  # auto staleness: w(T) = max(1, ceil(loop / T))
    numer: int


def _term_w(term: _Term, T: int) -> int:
    return term.w if term.loop is None else max(1, -(-term.loop // T))


@dataclass(frozen=True, eq=False)
class MemoryModel:
    """The T-independent parts of the least footprint (B12)-(B14) of a problem.

    Attributes
    ----------
    bytes
        Each tensor's bytes (edges grouped by producer and tensor name, max).
    terms
        Each tensor's lower bounds on its copies summed over processors (B12).
    cycles
        ``(tensors, weight term, D, least bytes)``: loops of disjoint tensors
        whose copies sum to at least ``w(T) + ceil(D / T)`` (B13).
    optimizer
        Optimizer state in bytes, in all.
    items
        ``(bytes, what)`` per task: what its processor holds whatever the
        schedule (B15).
    memories
        The processors' capacities (all finite, else no model).
    hold
        ``(bytes, what)`` of the task holding most with its inputs (B20), if any.
    """

    bytes: list[int]
    terms: list[list[_Term]]
    cycles: list[tuple[list[int], _Term, int, int]]
    optimizer: float
    items: list[tuple[float, str]]
    memories: list[float]
    hold: tuple[float, str] | None = None

    def copies(self, T: int) -> list[int]:
        """The least copies of every tensor at period ``T`` (B12)."""
        return [max(_term_w(t, T) + -(-t.numer // T) for t in ts) for ts in self.terms]

    def least_footprint(self, T: int) -> float:
        """A lower bound on the bytes all processors hold at period ``T``: (B14)."""
        lo = self.copies(T)
        total = float(sum(b * c for b, c in zip(self.bytes, lo, strict=True)))
        for ks, term, D, least in self.cycles:
            short = _term_w(term, T) + -(-D // T) - sum(lo[k] for k in ks)
            total += max(0, short) * least
        return total + self.optimizer


def _zero_succ(graph: TaskGraph) -> tuple[list[list[tuple[int, int]]], list[int]]:
    """Distance-0 successors ``(v, edge)`` of every task, and a topological order of them."""
    succ: list[list[tuple[int, int]]] = [[] for _ in range(graph.n)]
    indeg = [0] * graph.n
    for i, e in enumerate(graph.edges):
        if e.distance == 0:
            v = graph.index(e.dst)
            succ[graph.index(e.src)].append((v, i))
            indeg[v] += 1
    order = [v for v in range(graph.n) if indeg[v] == 0]
    for x in order:  # Kahn: distance-0 edges form a DAG (the graph checks it)
        for y, _i in succ[x]:
            indeg[y] -= 1
            if indeg[y] == 0:
                order.append(y)
    return succ, order


def _zero_paths(graph: TaskGraph, d: Sequence[int], sources: set[int]) -> dict[int, list[float]]:
    """Longest distance-0 paths from each source: ``L[s][v]`` sums ``d`` on the path but ``v``."""
    succ, order = _zero_succ(graph)
    rank = {v: i for i, v in enumerate(order)}
    out = {}
    for s in sources:
        dist = [-math.inf] * graph.n
        dist[s] = 0.0
        for x in order[rank[s] :]:
            if dist[x] > -math.inf:
                for y, _i in succ[x]:
                    dist[y] = max(dist[y], dist[x] + d[x])
        out[s] = dist
    return out


def memory_model(problem: Problem) -> MemoryModel | None:
    """The least-footprint model of (B12)-(B15), (B20), or None when some memory is unlimited."""
    memories = [p.memory for p in problem.platform.processors]
    if any(m is None for m in memories):
        return None
    graph = problem.graph
    d = problem.min_durations
    groups: dict[tuple[int, str], list[int]] = {}
    for i, e in enumerate(graph.edges):
        name = e.tensor if e.tensor is not None else f"e{i}:{e.src}->{e.dst}"
        groups.setdefault((graph.index(e.src), name), []).append(i)
    keys = list(groups)
    ends = [(graph.index(e.src), graph.index(e.dst)) for e in graph.edges]
    paths = graph.n <= MAX_MEMORY_PATH_TASKS
    sources = {u for u, _ in keys} | {
        v for (_, v), e in zip(ends, graph.edges, strict=True) if e.distance
    }
    L = _zero_paths(graph, d, sources) if paths else {}

    def reach(a: int, b: int) -> float:
        return L[a][b] if paths else -math.inf

    def auto(e: Edge) -> bool:
        return graph.staleness_cap is not None and e.weights is not None

    def weight_term(i: int, numer: int) -> _Term:
        u, v = ends[i]
        e = graph.edges[i]
        if not auto(e):
            return _Term(e.distance, None, numer)
        back = reach(v, u)  # the loop u -> v (staleness s) -> ... -> u: s T >= its work
        return _Term(1, 0 if back == -math.inf else int(back) + d[u], numer)

    terms = []
    for (u, _name), es in groups.items():
        ts = []
        for i in es:
            v = ends[i][1]
            ts.append(_Term(0, None, d[u] + d[v]))
            if u == v:
                ts.append(weight_term(i, d[u]))
            elif reach(u, v) > -math.inf:
                ts.append(weight_term(i, int(reach(u, v)) + d[v]))
        ts += _sibling_terms(graph, d, u, es, ends, reach)
        terms.append(ts)
    nbytes = [max(graph.edges[i].bytes for i in es) for es in groups.values()]
    cycles = (
        _memory_cycles(graph, d, keys, groups, ends, nbytes, reach, weight_term) if paths else []
    )
    opt: dict[int, float] = {}
    for (u, _v), e in zip(ends, graph.edges, strict=True):
        if e.weights is not None:
            opt[u] = max(opt.get(u, 0.0), problem.platform.optimizer_state * e.bytes)
    items = _task_items(graph, keys, groups, ends, nbytes, opt)
    hold = _largest_hold(graph, d, keys, groups, ends, nbytes, items)
    return MemoryModel(
        nbytes, terms, cycles, sum(opt.values()), items, [float(m) for m in memories], hold
    )


def _sibling_terms(graph, d, u, es, ends, reach) -> list[_Term]:
    """Two readers of one tensor at distances ``w1 <= w2`` with a path ``v1 -> v2``: (B12c)."""
    out = []
    for i in es:
        for j in es:
            e1, e2 = graph.edges[i], graph.edges[j]
            v1, v2 = ends[i][1], ends[j][1]
            if i == j or v1 == u or v1 == v2 or not (e1.distance and e2.distance):
                continue
            if reach(v1, v2) == -math.inf:
                continue
            numer = d[u] + int(reach(v1, v2)) + d[v2]
            cap = graph.staleness_cap is not None
            if cap and (e1.weights is not None or e2.weights is not None):
                # auto: one staleness per layer (P4), so w1 = w2 within a layer only
                if e1.weights is not None and e1.weights == e2.weights:
                    out.append(_Term(0, None, numer))
            elif e2.distance >= e1.distance:
                out.append(_Term(e2.distance - e1.distance, None, numer))
    return out


def _memory_cycles(graph, d, keys, groups, ends, nbytes, reach, weight_term) -> list:
    """Loops of disjoint tensors: an edge of distance ``>= 1`` and a widest distance-0 path back.

    Weight edges first; each tensor joins at most one loop, so the loops' extra
    copies add up (B13). The path is chosen by its least bytes, then its work.
    """
    group_of = {i: g for g, key in enumerate(keys) for i in groups[key]}
    succ, order = _zero_succ(graph)
    rank = {v: i for i, v in enumerate(order)}
    used: set[int] = set()
    out = []
    picks = sorted(
        (i for i, e in enumerate(graph.edges) if e.distance and ends[i][0] != ends[i][1]),
        key=lambda i: (graph.edges[i].weights is None, -nbytes[group_of[i]]),
    )
    for i in picks:
        u, v = ends[i]
        g0 = group_of[i]
        if g0 in used or nbytes[g0] == 0 or reach(v, u) == -math.inf:
            continue
        best: dict[int, tuple[float, int]] = {v: (math.inf, 0)}
        parent: dict[int, tuple[int, int]] = {}
        for x in order[rank[v] : rank[u]]:
            if x not in best:
                continue
            for y, j in succ[x]:
                g = group_of[j]
                if g in used or g == g0 or rank[y] > rank[u]:
                    continue
                cand = (min(best[x][0], nbytes[g]), best[x][1] + d[x])
                if y not in best or cand > best[y]:
                    best[y], parent[y] = cand, (x, g)
        if u not in best or best[u][0] == 0:
            continue
        ks, x = [g0], u
        while x != v:
            x, g = parent[x]
            ks.append(g)
        used.update(ks)
        D = best[u][1] + d[u]
        out.append((ks, weight_term(i, 0), D, int(min(nbytes[k] for k in ks))))
    return out


def _task_items(graph, keys, groups, ends, nbytes, opt) -> list[tuple[float, str]]:
    """What each task's processor holds whatever the schedule (B15), largest first.

    One copy of every tensor it produces (resident from its start to its end),
    ``w + 1`` of one it reads itself at distance ``w`` (least staleness 1 when
    auto), and its optimizer state.
    """
    held = [0.0] * graph.n
    for g, (u, _name) in enumerate(keys):
        base = 1
        for i in groups[(u, _name)]:
            e = graph.edges[i]
            if ends[i][1] == u:
                w = 1 if graph.staleness_cap is not None and e.weights is not None else e.distance
                base = max(base, w + 1)
        held[u] += nbytes[g] * base
    for u, x in opt.items():
        held[u] += x
    names = [t.name for t in graph.tasks]
    out = [(held[u], names[u]) for u in range(graph.n) if held[u] > 0]
    return sorted(out, reverse=True)


def _largest_hold(graph, d, keys, groups, ends, nbytes, items) -> tuple[float, str] | None:
    """The task holding most with what it reads (B20): its B15 item, one copy of each input.

    A task ``v`` with ``d_v >= 1`` that reads tensor ``k`` of another task
    holds a copy of ``k`` on its processor while it runs (local or
    received), besides its own item. Two tasks' inputs may be one copy when
    they share a processor, so this is no packing item: only the largest counts.
    """
    held = {name: size for size, name in items}
    names = [t.name for t in graph.tasks]
    for g, (u, _name) in enumerate(keys):
        readers = {ends[i][1] for i in groups[(u, _name)]} - {u}
        for v in readers:
            if d[v] >= 1:
                held[names[v]] = held.get(names[v], 0.0) + nbytes[g]
    if not held:
        return None
    name = max(held, key=lambda x: (held[x], x))
    return held[name], name


def memory_infeasible(problem: Problem, model: MemoryModel | None = None) -> str | None:
    """Why no schedule fits the memories, or None when these tests cannot tell (B14)-(B15), (B20).

    Proven infeasible when the least footprint of every tensor (B14, at any
    period) exceeds the memories' sum, or one task holds more than the largest
    memory with what it reads (B20), or when what each task's processor must
    hold (B15) cannot be packed into the memories: one item above the largest,
    or, for the ``j`` largest memories, the items larger than the ``j+1``-th
    exceed their sum or Martello and Toth's ``L2`` says they need more than
    ``j`` of them. None when some memory is unlimited.
    """
    from .units import format_bytes

    model = memory_model(problem) if model is None else model
    if model is None:
        return None
    total = sum(model.memories)
    least = model.least_footprint(max(1, sum(problem.min_durations)))
    if least > total:
        return (
            f"the tensors need at least {format_bytes(least)} (optimizer state "
            f"{format_bytes(model.optimizer)}) at any period, more than "
            + (
                f"the {len(model.memories)} memories' {format_bytes(total)}"
                if len(model.memories) > 1
                else f"the processor's memory of {format_bytes(total)}"
            )
        )
    mems = sorted(model.memories, reverse=True)
    if model.items and model.items[0][0] > mems[0]:
        size, name = model.items[0]
        return (
            f"task {name} holds at least {format_bytes(size)} (what it produces and its "
            f"optimizer state), more than the largest memory, {format_bytes(mems[0])}"
        )
    if model.hold is not None and model.hold[0] > mems[0]:
        size, name = model.hold
        return (
            f"task {name} holds at least {format_bytes(size)} while it runs (what it reads, "
            f"what it produces and its optimizer state), more than the largest memory, "
            f"{format_bytes(mems[0])}"
        )
    for j in range(1, len(mems) + 1):
        below = mems[j] if j < len(mems) else 0.0
        big = [s for s, _ in model.items if s > below]
        if not big:
            continue
        if (
            sum(big) > sum(mems[:j])
            or bins_bound([math.floor(s) for s in big], math.floor(mems[0])) > j
        ):
            return (
                f"{len(big)} tasks hold more than {format_bytes(below)} each "
                f"({format_bytes(sum(big))} in all): they do not pack into the {j} largest "
                f"memories ({format_bytes(sum(mems[:j]))})"
            )
    return None


def memory_bound(problem: Problem, lower: int = 1, model: MemoryModel | None = None) -> int:
    """The least period from ``lower`` up at which the least footprint (B14) fits: (B16).

    0 when some memory is unlimited or when no period fits (then
    :func:`memory_infeasible` says why).
    """
    model = memory_model(problem) if model is None else model
    if model is None:
        return 0
    total = sum(model.memories)
    top = max(1, sum(problem.min_durations))
    if model.least_footprint(top) > total:
        return 0
    return least_unrefuted(lambda T: model.least_footprint(T) > total, max(1, lower), top)


# ---------------------------------------------------------------------------
# All bounds together
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Bounds:
    """Lower bounds on the period of one instance on ``P`` processors.

    Attributes
    ----------
    resource_bound
        ``ceil(sum d_v / P)``.
    longest_task
        ``max d_v``.
    iteration_bound
        ``T_inf``, the exact maximum cycle ratio, or ``None`` without cycles.
    critical_loop
        Task names of a cycle attaining ``T_inf``, in order; ``[]`` without cycles.
    lower_bound
        ``max`` of all the integer bounds, including ``ceil(T_inf)``.
    packing_bound
        The pigeonhole bound over the longest tasks (:func:`packing_bound`).
    colocation_bound
        The least period co-location and packing leave open
        (:func:`colocation_bound`), searched from the other bounds' maximum.
    port_bound
        Under ``capacity: ports``, the least period that co-location, packing
        and the port time of what must cross leave open (:func:`port_refuted`),
        searched from all the other bounds; 0 under ``delay``.
    memory_bound
        With finite memories, the least period at which the least footprint of
        every tensor fits their sum (:func:`memory_bound`, (B16)); 0 otherwise.
    memory_infeasible
        Why no schedule fits the memories (:func:`memory_infeasible`), or
        ``None``: a proof, for the solvers to report ``infeasible``.
    placement
        The placement policy the bounds assume (:mod:`lpsched.placement`).
    unit_bound
        Under ``layer`` or ``stages``, the largest unit's work on the processor
        where it is least (:func:`unit_bound`, (B17)); 0 under ``free``.
    unit_packing_bound
        Under ``layer`` or ``stages``, the co-location bound with every unit
        joined into its group (:func:`colocation_bound` with ``units``,
        (B18)), searched from the bounds before it; 0 under ``free``.
    stage_bound
        Under ``stages``, the contiguous-partition bound: the least largest
        interval work over partitions of the units into ``P`` intervals
        (:func:`partition_bound`), raised by co-location (blocks of units a
        forced pair spans, (B19)); 0 otherwise.
    processors
        ``P``.
    time_unit_seconds
        Seconds per time unit of the bounds, or ``None`` when the unit is no
        time; :meth:`summary` and :meth:`to_dict` then give milliseconds too.
    """

    resource_bound: int
    longest_task: int
    iteration_bound: Fraction | None
    critical_loop: list[str]
    lower_bound: int
    packing_bound: int = 0
    colocation_bound: int = 0
    port_bound: int = 0
    processors: int = 0
    time_unit_seconds: float | None = None
    memory_bound: int = 0
    memory_infeasible: str | None = None
    placement: str = "free"
    unit_bound: int = 0
    unit_packing_bound: int = 0
    stage_bound: int = 0

    @property
    def binding(self) -> list[str]:
        """Names of the bounds equal to :attr:`lower_bound`."""
        out = []
        others = max(
            self.resource_bound,
            self.longest_task,
            self.packing_bound,
            0 if self.iteration_bound is None else math.ceil(self.iteration_bound),
        )
        # The derived bounds, each named when it alone reaches the lower bound over the
        # bounds it is searched from (those after it here) and the basic ones.
        derived = [
            ("memory bound", self.memory_bound),
            ("port bound", self.port_bound),
            ("stage bound", self.stage_bound),
            ("unit packing bound", self.unit_packing_bound),
            ("co-location bound", self.colocation_bound),
            ("unit bound", self.unit_bound),
        ]
        for i, (name, value) in enumerate(derived):
            below = max((v for _, v in derived[i + 1 :]), default=0)
            if value == self.lower_bound > max(others, below):
                return [name]
        if self.iteration_bound is not None and math.ceil(self.iteration_bound) == self.lower_bound:
            out.append("iteration bound")
        if self.resource_bound == self.lower_bound:
            out.append("resource bound")
        if self.packing_bound == self.lower_bound and self.packing_bound > self.longest_task:
            out.append("packing bound")
        if self.longest_task == self.lower_bound:
            out.append("longest task")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form.

        ``iteration_bound`` is always written as ``"NUM/DEN"``, also for integers
        (``"7/1"``), so readers parse one format; it is ``None`` without cycles.
        ``lower_bound_ms`` and ``time_unit_seconds`` are ``None`` when the time
        unit is no time.
        """
        ib = self.iteration_bound
        unit = self.time_unit_seconds
        return {
            "lower_bound": self.lower_bound,
            "lower_bound_ms": None if unit is None else self.lower_bound * unit * 1e3,
            "resource_bound": self.resource_bound,
            "longest_task": self.longest_task,
            "packing_bound": self.packing_bound,
            "colocation_bound": self.colocation_bound,
            "port_bound": self.port_bound,
            "iteration_bound": None if ib is None else f"{ib.numerator}/{ib.denominator}",
            "critical_loop": list(self.critical_loop),
            "processors": self.processors,
            "time_unit_seconds": unit,
            "memory_bound": self.memory_bound,
            "memory_infeasible": self.memory_infeasible,
            "placement": self.placement,
            "unit_bound": self.unit_bound,
            "unit_packing_bound": self.unit_packing_bound,
            "stage_bound": self.stage_bound,
        }

    def summary(self) -> str:
        """A few human-readable lines: every bound in time units, and in ms beside it."""
        from .units import format_ms

        unit = self.time_unit_seconds

        def value(units: float) -> str:
            text = str(units) if isinstance(units, int) else f"{units:.6g}"
            return text if unit is None else f"{text} ({format_ms(units * unit)})"

        ib = self.iteration_bound
        lines = [
            f"lower bound     {value(self.lower_bound)}  ({', '.join(self.binding)})",
            f"resource bound  {value(self.resource_bound)}"
            + (f"  (total work / {self.processors} processors)" if self.processors else ""),
            f"longest task    {value(self.longest_task)}",
            f"packing bound   {value(self.packing_bound)}",
            f"co-location     {value(self.colocation_bound)}",
        ]
        if self.port_bound:
            lines.append(f"port bound      {value(self.port_bound)}  (what must cross, on ports)")
        if self.unit_bound:
            lines.append(
                f"unit bound      {value(self.unit_bound)}  (placement {self.placement}: "
                "the largest layer on one processor)"
            )
        if self.unit_packing_bound:
            lines.append(
                f"unit packing    {value(self.unit_packing_bound)}  (layers pack whole into "
                f"{self.processors or 'P'} processors)"
            )
        if self.stage_bound:
            lines.append(
                f"stage bound     {value(self.stage_bound)}  (layers in at most "
                f"{self.processors or 'P'} contiguous stages)"
            )
        if self.memory_bound:
            lines.append(f"memory bound    {value(self.memory_bound)}  (least footprint fits)")
        if self.memory_infeasible:
            lines.append(f"infeasible      {self.memory_infeasible}")
        if ib is None:
            lines.append("iteration bound none (no loops)")
        else:
            exact = "" if ib.denominator == 1 else f" = {ib.numerator}/{ib.denominator}"
            lines.append(f"iteration bound {value(float(ib))}{exact}")
            loop = self.critical_loop
            shown = loop if len(loop) <= 10 else [*loop[:6], "...", *loop[-3:]]
            lines.append(f"critical loop   {' -> '.join([*shown, loop[0]])}  ({len(loop)} tasks)")
        return "\n".join(lines)


def lower_bounds(graph: TaskGraph | Problem, platform: Platform | int | None = None) -> Bounds:
    """All lower bounds on the period of ``graph`` on a platform (or ``P`` processors).

    Parameters
    ----------
    graph
        The task graph, or a :class:`~lpsched.problem.Problem` (then no platform).
    platform
        The platform, or ``P >= 1`` for the default platform of ``P`` processors.

    Returns
    -------
    Bounds
        With ``lower_bound = max(resource, longest task, packing, ceil(T_inf),
        co-location)``.

    Raises
    ------
    InputError
        When the processor count is not an integer of at least 1.
    """
    return as_problem(graph, platform).bounds


def problem_bounds(problem: Problem) -> Bounds:
    """The bounds of a problem (:attr:`Problem.bounds` calls this once).

    Heterogeneous processors and link classes are bounded through the relaxed
    instance of :meth:`~lpsched.problem.Problem.relaxed_graph` (every task at
    the fastest speed, every message on the cheapest link), which every
    schedule of the problem satisfies. The resource bound also counts the
    speeds: a processor of speed ``s`` does at most ``s T`` units of speed-1
    work per period, so ``T >= sum d / sum s``. Under ``capacity: ports``
    every bound of ``delay`` holds (a ports schedule meets (P1)), and the port
    bound (:func:`port_refuted`) is added.
    """
    graph = problem.relaxed_graph()
    processors = problem.P
    durations = graph.durations
    by_speed = math.ceil(
        Fraction(problem.graph.total_work) / sum(map(exact_speed, problem.platform.speeds))
    )
    resource = max(resource_bound(durations, processors), by_speed)
    longest = max(durations)
    packing = packing_bound(durations, processors)
    ib, loop = iteration_bound(graph)
    lb = max(resource, longest, packing, 0 if ib is None else math.ceil(ib))
    component = _components(graph)
    placed = _placement_bounds(problem)
    lb = max(lb, placed.unit)
    colocation = colocation_bound(graph, processors, lb, component=component)
    lb = max(lb, colocation)
    if placed.units:
        stages = problem.placement == "stages"
        placed = _placement_packing(placed, graph, processors, lb, component, stages)
        lb = max(lb, placed.packing, placed.stages)
    model = port_model(problem)
    port = 0
    if model is not None:
        # The port tests without loops first: they cost no Floyd-Warshall per period.
        d = graph.durations
        joined = unit_pairs(placed.units) if placed.units else []
        port = least_unrefuted(lambda T: port_refuted(T, d, joined, processors, model), lb, sum(d))
        stages = problem.placement == "stages"  # (also when no unit: then False)
        port = colocation_bound(graph, processors, port, model, component, placed.units, stages)
        lb = max(lb, port)
    memory = memory_model(problem)
    infeasible = memory_infeasible(problem, memory)
    mem_bound = 0 if infeasible else memory_bound(problem, lb, memory)
    lb = max(lb, mem_bound)
    return Bounds(
        resource_bound=resource,
        longest_task=longest,
        iteration_bound=ib,
        critical_loop=loop,
        lower_bound=lb,
        packing_bound=packing,
        colocation_bound=colocation,
        port_bound=port,
        processors=processors,
        time_unit_seconds=problem.graph.time_unit_seconds,
        memory_bound=mem_bound,
        memory_infeasible=infeasible,
        placement=problem.placement,
        unit_bound=placed.unit,
        unit_packing_bound=placed.packing,
        stage_bound=placed.stages,
    )


@dataclass(frozen=True)
class _Placed:
    """The placement bounds (B17)-(B19) of a problem, and its units (none under ``free``)."""

    units: tuple[tuple[int, ...], ...] = ()
    unit: int = 0
    packing: int = 0
    stages: int = 0


def _placement_bounds(problem: Problem) -> _Placed:
    """(B17) under ``layer`` and ``stages``; nothing under ``free``."""
    if problem.placement == "free":
        return _Placed()
    return _Placed(problem.units, unit_bound(problem.durations, problem.units))


def _placement_packing(
    placed: _Placed,
    graph: TaskGraph,
    processors: int,
    lb: int,
    component: list[int],
    stages: bool,
) -> _Placed:
    """(B18) the unit packing bound, then under ``stages`` (B19), each searched from the last.

    The durations are the relaxed graph's (the fastest speed for every task):
    every load only shrinks, so every refutation holds on the platform.
    """
    units = placed.units
    packing = colocation_bound(graph, processors, lb, component=component, units=units)
    if not stages:
        return replace(placed, packing=packing)
    work = [sum(graph.durations[v] for v in u) for u in units]
    start = max(packing, partition_bound(work, processors))
    found = colocation_bound(
        graph, processors, start, component=component, units=units, stages=True
    )
    return replace(placed, packing=packing, stages=found)
