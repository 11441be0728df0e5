"""Tests of lpsched.bounds against brute force: cycle enumeration and optimal packings."""

from __future__ import annotations

import itertools
import json
import math
import random
from fractions import Fraction

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.bounds import (
    Bounds,
    _certify,
    _cyclic_part,
    bins_bound,
    colocation_bound,
    iteration_bound,
    lower_bounds,
    packing_bound,
    resource_bound,
)
from lpsched.errors import InputError
from lpsched.graph import Edge, Task, TaskGraph, make_graph
from lpsched.networks import get_network
from lpsched.platform import Link, Platform, Processor
from lpsched.problem import Problem
from lpsched.schedule import Status
from lpsched.solve import solve
from lpsched.taskgraph import build_task_graph
from tests.brute import brute_force_period, tiny_byte_graphs, tiny_graphs, tiny_platforms

FAST = settings(max_examples=150, deadline=None)


# ---------------------------------------------------------------- generators
@st.composite
def small_graphs(draw: st.DrawFn) -> TaskGraph:
    """<= 7 tasks, random edges (parallel and self-loops included) with distances 0..3.

    Distance-0 edges only go forward in a random order, so they form a DAG.
    Durations are sometimes huge and nearly equal, to catch floating-point ties.
    """
    n = draw(st.integers(1, 7))
    durations = draw(
        st.lists(st.integers(1, 20) | st.integers(10**17, 10**17 + 3), min_size=n, max_size=n)
    )
    order = draw(st.permutations(range(n)))
    position = {v: i for i, v in enumerate(order)}
    raw = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.integers(0, 3)),
            max_size=14,
        )
    )
    edges = []
    for u, v, w in raw:
        if w == 0 and position[u] >= position[v]:
            w = 1  # a backward (or self) edge needs a distance
        edges.append((f"t{u}", f"t{v}", w))
    return make_graph([(f"t{i}", d) for i, d in enumerate(durations)], edges)


def min_distances(graph: TaskGraph) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for e in graph.edges:
        key = (e.src, e.dst)
        out[key] = min(out.get(key, e.distance), e.distance)
    return out


def brute_force_ratio(graph: TaskGraph) -> Fraction | None:
    """Maximum cycle ratio over all simple cycles (the maximum is always attained by one)."""
    dist = min_distances(graph)
    g = nx.DiGraph()
    g.add_nodes_from(t.name for t in graph.tasks)
    g.add_edges_from(dist)
    best = None
    for cycle in nx.simple_cycles(g):
        d = sum(graph.task(v).duration for v in cycle)
        w = sum(dist[cycle[i], cycle[(i + 1) % len(cycle)]] for i in range(len(cycle)))
        ratio = Fraction(d, w)
        best = ratio if best is None else max(best, ratio)
    return best


def loop_ratio(graph: TaskGraph, loop: list[str]) -> Fraction:
    """Ratio of a loop given in order; fails unless every step is an edge of the graph."""
    dist = min_distances(graph)
    assert len(set(loop)) == len(loop), "the critical loop repeats a task"
    w = sum(dist[loop[i], loop[(i + 1) % len(loop)]] for i in range(len(loop)))
    return Fraction(sum(graph.task(v).duration for v in loop), w)


def layer_graph(
    layers: int, staleness: list[int], seed: int | None = 0, skips: bool = True
) -> TaskGraph:
    """A LayerPipe-style chain (``formulations/README.md``), with residual skips every other layer.

    ``seed=None`` gives every layer the same cost (100 MACs).
    """
    rng = random.Random(seed)
    tasks, edges = [], []
    for layer in range(1, layers + 1):
        mac = 100 if seed is None else rng.randint(5, 500)
        parts = [("F", mac), ("D", max(1, mac // 50)), ("G", mac), ("W", mac), ("U", mac // 20 + 1)]
        for kind, dur in parts:
            if not (kind == "G" and layer == 1):
                tasks.append(Task(f"{kind}:{layer}", dur, str(layer), kind))
    for layer in range(1, layers + 1):
        s = staleness[layer - 1]

        def t(kind: str, i: int = layer) -> str:
            return f"{kind}:{i}"

        producers = [layer - 1] if layer > 1 else []
        if skips and layer > 2 and layer % 2 == 0:
            producers.append(layer - 2)
        for p in producers:
            edges += [Edge(t("F", p), t("F")), Edge(t("F", p), t("W")), Edge(t("G"), t("D", p))]
        edges += [Edge(t("F"), t("D")), Edge(t("D"), t("W")), Edge(t("W"), t("U"))]
        edges += [Edge(t("U"), t("U"), 1), Edge(t("U"), t("F"), s, weights=str(layer))]
        if layer > 1:
            edges += [Edge(t("D"), t("G")), Edge(t("U"), t("G"), s, weights=str(layer))]
    return TaskGraph(tuple(tasks), tuple(edges))


# ---------------------------------------------------------- iteration bound
@FAST
@given(small_graphs())
def test_iteration_bound_matches_brute_force(graph: TaskGraph) -> None:
    expected = brute_force_ratio(graph)
    ratio, loop = iteration_bound(graph)
    assert ratio == expected
    if expected is None:
        assert loop == []
    else:
        assert isinstance(ratio, Fraction)
        assert loop_ratio(graph, loop) == ratio


@FAST
@given(small_graphs(), st.randoms(use_true_random=False))
def test_exact_phase_recovers_from_any_starting_cycle(graph: TaskGraph, rng: random.Random) -> None:
    """The integer certification alone (no Howard, no warm start) reaches the maximum."""
    expected = brute_force_ratio(graph)
    if expected is None:
        return
    succ, d, members = _cyclic_part(graph)
    local = {graph.tasks[m].name: i for i, m in enumerate(members)}
    g = nx.DiGraph([(u, v) for u in range(len(succ)) for v, _w in succ[u]])
    start = rng.choice(sorted(nx.simple_cycles(g)))
    ratio, cycle = _certify(succ, d, start, None)
    assert ratio == expected
    names = {v: k for k, v in local.items()}
    assert loop_ratio(graph, [names[u] for u in cycle]) == expected


def test_iteration_bound_hand_cases() -> None:
    # a -> b -> c -> a with distance 2 (ratio 12/2), self-loop on b (4/1) and a
    # parallel c -> a with distance 1 (ratio 12/1 wins).
    g = make_graph(
        [("a", 3), ("b", 4), ("c", 5)],
        [("a", "b", 0), ("b", "c", 0), ("c", "a", 2), ("b", "b", 1), ("c", "a", 1)],
    )
    ratio, loop = iteration_bound(g)
    assert ratio == 12
    assert loop in (["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"])
    # A self-loop alone.
    ratio, loop = iteration_bound(make_graph([("a", 7), ("b", 1)], [("a", "a", 3), ("a", "b")]))
    assert (ratio, loop) == (Fraction(7, 3), ["a"])
    # No cycle: a DAG, even with positive distances.
    g = make_graph([("a", 2), ("b", 3), ("c", 1)], [("a", "b", 0), ("b", "c", 2), ("a", "c", 1)])
    assert iteration_bound(g) == (None, [])


def test_iteration_bound_layer_chain_independent_check() -> None:
    """A 60-layer chain: the loop attains the ratio and networkx finds no better cycle."""
    rng = random.Random(3)
    for staleness in ([1] * 60, [rng.randint(1, 6) for _ in range(60)], list(range(60, 0, -1))):
        graph = layer_graph(60, staleness, seed=len(set(staleness)))
        ratio, loop = iteration_bound(graph)
        assert ratio is not None and loop_ratio(graph, loop) == ratio
        # ratio = p/q is maximal iff costs p*w - q*d_src have no negative cycle.
        p, q = ratio.numerator, ratio.denominator
        g = nx.DiGraph()
        for (u, v), w in min_distances(graph).items():
            g.add_edge(u, v, weight=p * w - q * graph.task(u).duration)
        assert not nx.negative_edge_cycle(g)


def test_synchronous_chain_loop_is_the_whole_forward_and_backward_pass() -> None:
    # Staleness 1, equal layers (F = G = W = 100, D = 2, U = 6): the longest loop
    # runs U:1 -> F:1 .. F:L -> D:L -> G:L -> D:L-1 .. D:1 -> W:1 -> U:1 with
    # distance 1, so T_inf = 100 L + 2 L + 100 (L - 1) + 100 + 6.
    layers = 6
    graph = layer_graph(layers, [1] * layers, seed=None, skips=False)
    ratio, loop = iteration_bound(graph)
    assert ratio == 202 * layers + 6 == brute_force_ratio(graph)
    start = loop.index("U:1")
    forward = [f"F:{i}" for i in range(1, layers + 1)]
    backward = [x for i in range(layers, 1, -1) for x in (f"D:{i}", f"G:{i}")]
    assert loop[start:] + loop[:start] == ["U:1", *forward, *backward, "D:1", "W:1"]


# ------------------------------------------------------------ other bounds
def best_makespan(durations: list[int], processors: int) -> int:
    """Optimal P||Cmax by enumeration: no periodic schedule has a smaller period."""
    best = math.inf
    for assign in itertools.product(range(processors), repeat=len(durations)):
        loads = [0] * processors
        for d, p in zip(durations, assign, strict=True):
            loads[p] += d
        best = min(best, max(loads))
    return int(best)


@FAST
@given(st.lists(st.integers(1, 30), min_size=1, max_size=7), st.integers(1, 4))
def test_duration_bounds_never_exceed_optimal_packing(durations: list[int], procs: int) -> None:
    opt = best_makespan(durations, procs)
    assert packing_bound(durations, procs) <= opt
    assert resource_bound(durations, procs) <= opt
    assert max(durations) <= packing_bound(durations, procs)
    graph = make_graph([(f"t{i}", d) for i, d in enumerate(durations)])
    assert lower_bounds(graph, procs).lower_bound <= opt


def test_packing_bound_hand_cases() -> None:
    # Three tasks of 5 on two processors: two share one, T >= 10 (resource bound 8).
    assert packing_bound([5, 5, 5], 2) == 10 == best_makespan([5, 5, 5], 2)
    # Five tasks of 4 on two processors: three share one (k = 2), T >= 12.
    assert packing_bound([4] * 5, 2) == 12 == best_makespan([4] * 5, 2)
    # d_(P) + d_(P+1) with P = 3, whatever the order.
    assert packing_bound([1, 9, 2, 7, 8, 3], 3) == 7 + 3
    assert packing_bound([6, 2], 5) == 6  # more processors than tasks
    assert resource_bound([5, 5, 5], 2) == 8


def test_lower_bounds_hand_case() -> None:
    g = make_graph(
        [("a", 3), ("b", 4), ("c", 5), ("d", 9)],
        [("a", "b", 0), ("b", "c", 0), ("c", "a", 2)],
    )
    b = lower_bounds(g, 2)
    assert (b.resource_bound, b.longest_task, b.packing_bound) == (11, 9, 9)
    assert b.iteration_bound == 6 and b.critical_loop[0] in "abc"
    # 9 leaves room 2 beside it, so 3 + 4 + 5 = 12 share the other processor:
    # T = 11 cannot pack (Martello-Toth L2 with K = 3 counts 3 bins).
    assert b.colocation_bound == b.lower_bound == 12 and b.binding == ["co-location bound"]
    b = lower_bounds(g, 3)
    assert b.lower_bound == b.longest_task == 9 and b.binding == ["longest task"]
    b = lower_bounds(g, 1)
    assert b.lower_bound == b.resource_bound == 21
    b = lower_bounds(g, 4)  # resource 6, longest 9, packing 3 + 4, T_inf 6
    assert b.lower_bound == 9 and b.binding == ["longest task"]
    g2 = make_graph([("a", 3), ("b", 4)], [("a", "b", 0), ("b", "a", 3)])
    b = lower_bounds(g2, 4)
    assert b.iteration_bound == Fraction(7, 3) and b.lower_bound == 4  # ceil(7/3) = 3 < 4


def test_iteration_bound_can_bind_with_ceiling() -> None:
    g = make_graph([("a", 5), ("b", 6), ("c", 1)], [("a", "b", 0), ("b", "a", 2)])
    b = lower_bounds(g, 8)
    assert b.iteration_bound == Fraction(11, 2)
    assert b.lower_bound == 6 and "iteration bound" in b.binding


@pytest.mark.parametrize("procs", [0, -3, True, 2.5, "4"])
def test_bad_processor_count(procs: object) -> None:
    g = make_graph([("a", 1)])
    with pytest.raises(InputError, match="--procs"):
        lower_bounds(g, procs)  # type: ignore[arg-type]


# ------------------------------------------------------------------- output
def test_to_dict_format() -> None:
    g = make_graph([("a", 3), ("b", 4)], [("a", "b", 0), ("b", "a", 1)])
    out = lower_bounds(g, 2).to_dict()
    required = {"lower_bound", "resource_bound", "longest_task", "iteration_bound", "critical_loop"}
    assert required <= set(out)
    assert out["iteration_bound"] == "7/1"
    assert out["lower_bound"] == 7 and out["critical_loop"] in (["a", "b"], ["b", "a"])
    assert json.loads(json.dumps(out)) == out
    g = make_graph([("a", 3), ("b", 4)], [("a", "b", 0), ("b", "a", 2)])
    assert lower_bounds(g, 2).to_dict()["iteration_bound"] == "7/2"
    acyclic = lower_bounds(make_graph([("a", 3)]), 1).to_dict()
    assert acyclic["iteration_bound"] is None and acyclic["critical_loop"] == []


def test_summary_mentions_the_numbers() -> None:
    g = make_graph([("a", 3), ("b", 4)], [("a", "b", 0), ("b", "a", 2)])
    text = lower_bounds(g, 2).summary()
    assert "7/2" in text and "a -> b -> a" in text or "b -> a -> b" in text
    assert "lower bound     4" in text
    assert "no loops" in lower_bounds(make_graph([("a", 3)]), 1).summary()
    long_loop = Bounds(1, 1, Fraction(1), [f"t{i}" for i in range(20)], 1)
    assert "..." in long_loop.summary() and "(20 tasks)" in long_loop.summary()


# --------------------------------------------------------- co-location bound
@settings(max_examples=300, deadline=None)
@given(tiny_graphs(max_tasks=4, max_duration=3, max_comm=6), st.integers(2, 3))
def test_lower_bound_with_communication_never_exceeds_brute_force(
    graph: TaskGraph, procs: int
) -> None:
    bounds = lower_bounds(graph, procs)
    assert bounds.colocation_bound <= bounds.lower_bound <= brute_force_period(graph, procs)


@settings(max_examples=60, deadline=None)
@given(tiny_graphs(max_tasks=5, max_duration=3, max_comm=8), st.integers(1, 3), st.data())
def test_colocation_search_does_not_depend_on_where_it_starts(
    graph: TaskGraph, procs: int, data: st.DataObject
) -> None:
    found = colocation_bound(graph, procs)
    start = data.draw(st.integers(0, found))
    assert colocation_bound(graph, procs, start) == max(found, 1)


def test_colocation_bound_sees_a_loop_too_slow_to_split() -> None:
    # a -> b -> a with distance 2: split, the loop pays 2 x 10 of communication:
    # T >= (3 + 3 + 20) / 2 = 13 > 6 = a and b together on one processor.
    graph = make_graph([("a", 3), ("b", 3)], [("a", "b", 0, 10), ("b", "a", 2, 10)])
    bounds = lower_bounds(graph, 2)
    assert max(bounds.resource_bound, bounds.packing_bound, bounds.iteration_bound) == 3
    assert bounds.colocation_bound == bounds.lower_bound == 6
    assert brute_force_period(graph, 2) == 6
    # Cheap messages: a split loop needs T >= (6 + 2) / 2 = 4 < 6, which the
    # brute force attains by splitting.
    cheap = make_graph([("a", 3), ("b", 3)], [("a", "b", 0, 1), ("b", "a", 2, 1)])
    assert lower_bounds(cheap, 2).colocation_bound == 4 == brute_force_period(cheap, 2)


def test_colocation_bound_binds_on_a_latency_bound_network() -> None:
    # LeNet-5 at batch 32: a 10 us message outweighs the whole iteration's
    # work, so no split pays on 2 processors; the heuristic's one-processor
    # schedule is then proven optimal by the bound alone.
    graph = build_task_graph(get_network("lenet5"), "layerpipe", processors=2)
    bounds = lower_bounds(graph, 2)
    assert bounds.lower_bound == graph.total_work > bounds.resource_bound
    assert bounds.binding == ["co-location bound"]
    result = solve(graph, 2, solver="heuristic")
    assert result.status is Status.OPTIMAL


def optimal_bins(sizes: list[int], capacity: int) -> int:
    """Least bins by trying every assignment (few items)."""
    for bins in range(1, len(sizes) + 1):
        for assignment in itertools.product(range(bins), repeat=len(sizes)):
            load = [0] * bins
            for s, b in zip(sizes, assignment, strict=True):
                load[b] += s
            if max(load) <= capacity:
                return bins
    return len(sizes) + 1


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=1, max_size=6), st.integers(1, 14))
def test_bins_bound_between_volume_and_optimum(sizes: list[int], capacity: int) -> None:
    got = bins_bound(sizes, capacity)
    if max(sizes) > capacity:
        assert got > len(sizes)
        return
    assert math.ceil(sum(sizes) / capacity) <= got <= optimal_bins(sizes, capacity)


def test_bins_bound_hand_case() -> None:
    # Three items over half the capacity need three bins, whatever their volume.
    assert bins_bound([6, 6, 6], 10) == 3
    assert math.ceil(18 / 10) == 2
    # K = 3: {6, 6} alone in their bins, 3 + 3 + 3 = 9 > 2 * (10 - 6) = 8 of room left.
    assert bins_bound([6, 6, 3, 3, 3], 10) == 3


# ------------------------------------------------------ heterogeneous platforms
@settings(max_examples=200, deadline=None)
@given(
    st.one_of(tiny_byte_graphs(max_tasks=4, max_duration=3), tiny_graphs(max_tasks=4)),
    tiny_platforms(),
)
def test_bounds_on_a_platform_never_exceed_brute_force(
    graph: TaskGraph, platform: Platform
) -> None:
    """Speeds 0.5..2 and one or two nodes: every bound is a bound of the problem."""
    bounds = lower_bounds(graph, platform)
    best = brute_force_period(graph, platform)
    for value in (
        bounds.resource_bound,
        bounds.longest_task,
        bounds.packing_bound,
        bounds.colocation_bound,
        bounds.lower_bound,
    ):
        assert value <= best
    if bounds.iteration_bound is not None:
        assert bounds.iteration_bound <= best
    assert bounds.processors == platform.P


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(1, 40), min_size=1, max_size=8),
    st.lists(st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.0]), min_size=1, max_size=4),
)
def test_speed_resource_bound(durations: list[int], speeds: list[float]) -> None:
    """A processor of speed s does at most s T units of speed-1 work a period."""
    graph = make_graph([(f"t{i}", d) for i, d in enumerate(durations)])
    platform = Platform(tuple(Processor(s) for s in speeds))
    bounds = lower_bounds(graph, platform)
    by_speed = math.ceil(Fraction(sum(durations)) / sum(Fraction(repr(s)) for s in speeds))
    assert bounds.resource_bound >= by_speed
    assert bounds.lower_bound >= bounds.resource_bound
    # And every task lasts at least its time on the fastest processor.
    fastest = max(speeds)
    assert bounds.longest_task >= max(math.ceil(Fraction(d) / Fraction(fastest)) for d in durations)


def test_speed_bound_hand_case() -> None:
    # 12 units of work on speeds 2 and 1: at most 3 T of work a period, so T >= 4; the
    # relaxed graph (all at speed 2: 6 units on 2 processors) says only 3.
    graph = make_graph([("a", 4), ("b", 4), ("c", 4)])
    platform = Platform((Processor(2.0), Processor(1.0)))
    bounds = lower_bounds(graph, platform)
    assert bounds.resource_bound == 4 == math.ceil(Fraction(12, 3))
    assert brute_force_period(graph, platform) == 4  # a, b on the fast one (2 + 2), c alone
    assert Problem(graph, platform).lower_bound == bounds.lower_bound


def test_two_nodes_bound_by_the_cheapest_link() -> None:
    # A loop a -> b -> a that pays two messages if split: 1 unit each inside a node,
    # 5 between nodes. With the two processors in two nodes every split pays 5.
    graph = TaskGraph(
        (Task("a", 3), Task("b", 3)),
        (Edge("a", "b", 0, None, 1, tensor="x"), Edge("b", "a", 2, None, 1, tensor="y")),
        time_unit="1us",
    )
    one_node = Platform((Processor(), Processor()), Link(1e6, 0.0), Link(0.2e6, 0.0))
    two_nodes = Platform((Processor(node=0), Processor(node=1)), Link(1e6, 0.0), Link(0.2e6, 0.0))
    for platform in (one_node, two_nodes):
        bounds = lower_bounds(graph, platform)
        assert bounds.lower_bound <= brute_force_period(graph, platform)
    assert brute_force_period(graph, one_node) == 4  # split: (3 + 3 + 2) / 2
    assert brute_force_period(graph, two_nodes) == 6  # split costs (6 + 10) / 2 = 8: together
    assert lower_bounds(graph, two_nodes).lower_bound == 6  # the co-location bound sees it
