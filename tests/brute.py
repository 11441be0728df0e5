"""A brute force for the least period of tiny instances, and a generator of them.

It shares nothing with the solvers or the bounds: it enumerates processor
assignments (up to renaming) and start offsets, and decides the stages by a
longest-path test.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from lpsched.graph import Edge, Task, TaskGraph


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


def _offsets_exist(proc: list[int], d: list[int], edges: list, T: int) -> bool:
    """Offsets in [0, T) with disjoint arcs per processor and stages for every edge."""
    n = len(d)
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
                (u, w, math.ceil((r[u] + d[u] + c * (proc[u] != proc[w]) - r[w]) / T) - dist)
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


def _feasible(graph: TaskGraph, P: int, T: int, distance: dict[int, int]) -> bool:
    idx = {t.name: i for i, t in enumerate(graph.tasks)}
    d = [t.duration for t in graph.tasks]
    n = len(d)
    if max(d) > T:
        return False
    edges = [(idx[e.src], idx[e.dst], distance[i], e.comm) for i, e in enumerate(graph.edges)]
    for proc in _assignments(n, P):
        if any(sum(d[v] for v in range(n) if proc[v] == p) > T for p in range(P)):
            continue
        if _offsets_exist(proc, d, edges, T):
            return True
    return False


def brute_force_period(graph: TaskGraph, P: int) -> int:
    """The least period by enumeration; auto layers take the cap (more never hurts)."""
    distance = {}
    for i, e in enumerate(graph.edges):
        auto = graph.staleness_cap is not None and e.weights is not None
        distance[i] = graph.staleness_cap if auto else e.distance
    d = [t.duration for t in graph.tasks]
    lb = max(max(d), math.ceil(sum(d) / P))
    for T in range(lb, sum(d) + 1):
        if _feasible(graph, P, T, distance):
            return T
    raise AssertionError("one processor at T = sum(d) is always feasible")


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
