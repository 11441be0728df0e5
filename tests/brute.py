"""A brute force for the least period of tiny instances, and a generator of them.

It shares nothing with the solvers or the bounds: it enumerates processor
assignments (up to renaming when the processors are identical) and start
offsets, and decides the stages by a longest-path test. Durations on each
processor and the cost of each edge between two processors are computed here
from the platform, by the rules of ``formulations/README.md``.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

from hypothesis import strategies as st

from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform, Processor


# ------------------------------------------------------------------ brute force
def _assignments(n: int, P: int):
    """Processor assignments up to renaming (restricted growth strings)."""

    def grow(prefix: list[int], used: int):
        if len(prefix) == n:
            yield list(prefix)
            return
        for p in range(min(used + 1, P)):
            prefix.append(p)
            yield from grow(prefix, max(used, p + 1))
            prefix.pop()

    yield from grow([], 0)


def _stages_exist(n: int, need: list[tuple[int, int, int]]) -> bool:
    """Integers k with k_v - k_u >= c for every (u, v, c): no positive cycle (Bellman-Ford)."""
    dist = [0] * n
    for _ in range(n + 1):
        changed = False
        for u, v, c in need:
            if dist[u] + c > dist[v]:
                dist[v] = dist[u] + c
                changed = True
        if not changed:
            return True
    return False


def _offsets_exist(proc: list[int], dp: list[list[int]], edges: list, T: int) -> bool:
    """Offsets in [0, T) with disjoint arcs per processor and stages for every edge."""
    n = len(dp)
    d = [dp[v][proc[v]] for v in range(n)]
    r = [0] * n

    def disjoint(v: int) -> bool:
        for u in range(v):
            if proc[u] == proc[v]:
                if (r[v] - r[u]) % T < d[u] or (r[u] - r[v]) % T < d[v]:
                    return False
        return True

    def place(v: int) -> bool:
        if v == n:
            need = [
                (u, w, math.ceil((r[u] + d[u] + c[proc[u]][proc[w]] - r[w]) / T) - dist)
                for u, w, dist, c in edges
            ]
            return _stages_exist(n, need)
        # Shifting every start by one constant changes nothing: task 0 starts at 0.
        for t in range(1 if v == 0 else T):
            r[v] = t
            if disjoint(v) and place(v + 1):
                return True
        return False

    return place(0)


def _cost(e: Edge, link: Link, unit: float) -> int:
    if e.comm is not None:
        return e.comm
    if e.bytes == 0:
        return 0
    x = (link.latency + e.bytes / link.bandwidth) / unit
    return math.ceil(x - 1e-9 * x)


def _tables(graph: TaskGraph, platform: Platform) -> tuple[list[list[int]], list]:
    """Durations ``dp[v][p]`` and edges ``(u, v, distance, c[p][q])``."""
    P = platform.P
    dp = [
        [math.ceil(Fraction(t.duration) / Fraction(repr(q.speed))) for q in platform.processors]
        for t in graph.tasks
    ]
    unit = graph.time_unit_seconds or 1.0
    nodes = [q.node for q in platform.processors]
    idx = {t.name: i for i, t in enumerate(graph.tasks)}
    edges = []
    for e in graph.edges:
        c = [
            [
                0
                if p == q
                else _cost(e, platform.intra if nodes[p] == nodes[q] else platform.inter, unit)
                for q in range(P)
            ]
            for p in range(P)
        ]
        edges.append((idx[e.src], idx[e.dst], e, c))
    return dp, edges


def _feasible(graph: TaskGraph, platform: Platform, T: int, distance: dict[int, int]) -> bool:
    dp, raw = _tables(graph, platform)
    n, P = len(dp), platform.P
    if any(min(row) > T for row in dp):
        return False
    edges = [(u, v, distance[i], c) for i, (u, v, _e, c) in enumerate(raw)]
    identical = len(set(platform.processors)) == 1 and platform.nodes == 1
    choices = _assignments(n, P) if identical else itertools.product(range(P), repeat=n)
    for proc in choices:
        proc = list(proc)
        loads = [0] * P
        for v in range(n):
            loads[proc[v]] += dp[v][proc[v]]
        if max(loads) > T:
            continue
        if _offsets_exist(proc, dp, edges, T):
            return True
    return False


def brute_force_period(graph: TaskGraph, platform: Platform | int) -> int:
    """The least period by enumeration; auto layers take the cap (more never hurts)."""
    if not isinstance(platform, Platform):
        platform = Platform.default(platform)
    distance = {}
    for i, e in enumerate(graph.edges):
        auto = graph.staleness_cap is not None and e.weights is not None
        distance[i] = graph.staleness_cap if auto else e.distance
    dp, _ = _tables(graph, platform)
    lb = max(min(row) for row in dp)
    top = min(sum(dp[v][p] for v in range(len(dp))) for p in range(platform.P))
    for T in range(lb, top + 1):
        if _feasible(graph, platform, T, distance):
            return T
    raise AssertionError("one processor at T = its total work is always feasible")


# ------------------------------------------------------------------- generators
@st.composite
def tiny_graphs(
    draw: st.DrawFn, max_tasks: int = 6, max_duration: int = 4, max_comm: int = 2
) -> TaskGraph:
    """<= 6 tasks, durations 1..4, comm 0..2; distance-0 edges go forward, others any way."""
    n = draw(st.integers(2, max_tasks))
    durations = draw(st.lists(st.integers(1, max_duration), min_size=n, max_size=n))
    raw = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.integers(0, n - 1),
                st.integers(0, 2),
                st.integers(0, max_comm),
            ),
            max_size=9,
        )
    )
    edges = []
    for u, v, w, c in raw:
        if w == 0 and u >= v:
            u, v = min(u, v), max(u, v)
            if u == v:
                continue
        edges.append(Edge(f"t{u}", f"t{v}", w, c, bytes=8 * (c + 1)))
    return TaskGraph(tuple(Task(f"t{i}", dur) for i, dur in enumerate(durations)), tuple(edges))


@st.composite
def tiny_byte_graphs(draw: st.DrawFn, max_tasks: int = 5, max_duration: int = 4) -> TaskGraph:
    """Like :func:`tiny_graphs`, but edges carry bytes (0..2) and no fixed comm.

    With the time unit ``1us`` and the links of :func:`tiny_platforms`, a byte
    costs one unit within a node and two between nodes.
    """
    g = draw(tiny_graphs(max_tasks=max_tasks, max_duration=max_duration, max_comm=2))
    edges = tuple(Edge(e.src, e.dst, e.distance, None, e.comm or 0) for e in g.edges)
    return TaskGraph(g.tasks, edges, time_unit="1us")


@st.composite
def tiny_platforms(draw: st.DrawFn, max_procs: int = 3) -> Platform:
    """1..3 processors of speeds 0.5..2, in one or two nodes; 1 B/us intra, 0.5 B/us inter."""
    P = draw(st.integers(1, max_procs))
    speeds = draw(st.lists(st.sampled_from([0.5, 1.0, 1.5, 2.0]), min_size=P, max_size=P))
    two = P > 1 and draw(st.booleans())
    nodes = [0] * P if not two else [0] + [draw(st.integers(0, 1)) for _ in range(P - 1)]
    if two and 1 not in nodes:
        nodes[-1] = 1
    procs = tuple(Processor(s, None, n) for s, n in zip(speeds, nodes, strict=True))
    return Platform(procs, Link(1e6, 0.0), Link(0.5e6, 0.0))
