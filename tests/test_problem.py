"""Problems: durations per processor, costs per link class, and the relaxed graph."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched.errors import InputError
from lpsched.graph import Edge, Task, TaskGraph, make_graph
from lpsched.platform import Link, Platform, Processor
from lpsched.problem import Problem, as_problem, message_units, scaled_duration
from lpsched.schedule import Schedule
from lpsched.validate import validate
from tests.brute import tiny_byte_graphs, tiny_graphs, tiny_platforms


def exact(x: float) -> Fraction:
    """The decimal a float was written as (``1e-06`` is 1/10**6, not the binary float)."""
    return Fraction(repr(x))


def expected_cost(e: Edge, platform: Platform, p: int, q: int, unit: float) -> int:
    """``formulations/README.md`` (P0b), in exact arithmetic on the written numbers."""
    if p == q:
        return 0
    if e.comm is not None:
        return e.comm
    if e.bytes == 0:
        return 0
    link = platform.link(p, q)
    seconds = exact(link.latency) + (
        0 if math.isinf(link.bandwidth) else e.bytes / exact(link.bandwidth)
    )
    return math.ceil(seconds / exact(unit))


def speeds(*values: float, nodes: tuple[int, ...] | None = None, **links: Link) -> Platform:
    nodes = nodes or (0,) * len(values)
    procs = tuple(Processor(s, None, n) for s, n in zip(values, nodes, strict=True))
    return Platform(procs, **links)


# ---------------------------------------------------------------- durations
@pytest.mark.parametrize(
    ("speed", "durations"),
    [
        (1.0, {1: 1, 3: 3, 10: 10}),
        (0.5, {1: 2, 3: 6}),
        (2.0, {1: 1, 3: 2, 4: 2}),  # never below one unit
        (1.5, {1: 1, 3: 2, 4: 3, 9: 6}),
        (0.1, {1: 10, 3: 30, 7: 70}),  # 0.1 as written is exactly 1/10
        (0.6, {3: 5, 6: 10, 1: 2}),  # 3/5 exactly: no extra unit at multiples
        # 1/3 is written 0.3333333333333333, a hair below 1/3, and the speed is the decimal
        # it is written as (formulations/README.md, P0a): every duration gains a unit over 3d.
        (1 / 3, {1: 4, 2: 7, 3: 10}),
    ],
)
def test_durations_are_exact_ceilings(speed, durations):
    for d, expected in durations.items():
        assert (
            scaled_duration(d, speed) == expected == max(1, math.ceil(Fraction(d) / exact(speed)))
        )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(1, 10**6), min_size=1, max_size=5),
    st.lists(
        st.sampled_from([0.1, 0.3, 1 / 3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 7.5]),
        min_size=1,
        max_size=4,
    ),
)
def test_problem_durations_per_processor(durations, values):
    g = make_graph([(f"t{i}", d) for i, d in enumerate(durations)])
    problem = Problem(g, speeds(*values))
    for v, d in enumerate(durations):
        row = [max(1, math.ceil(Fraction(d) / exact(s))) for s in values]
        assert list(problem.durations[v]) == row
        assert [problem.duration(v, p) for p in range(len(values))] == row
        assert problem.min_durations[v] == min(row)
    assert problem.uniform == (len(set(values)) == 1)
    assert (problem.P, problem.n) == (len(values), len(durations))


# ---------------------------------------------------------------- messages
def two_nodes() -> Platform:
    # 1 GB/s and 2 us within a node, 0.25 GB/s and 10 us between nodes; unit 1 us.
    return speeds(1, 1, 1, nodes=(0, 0, 1), intra=Link(1e9, 2e-6), inter=Link(0.25e9, 10e-6))


def test_link_classes_and_derived_costs():
    g = TaskGraph(
        (Task("a", 3), Task("b", 2)),
        (
            Edge("a", "b", 0, None, 1000, tensor="x"),  # intra 2 + 1, inter 10 + 4 us
            Edge("a", "b", 0, None, 1001, tensor="y"),  # a fraction over: one more unit
            Edge("a", "b", 1, None, 0, tensor="z"),  # no bytes, no message: no latency either
        ),
        time_unit="1us",
    )
    platform = two_nodes()
    problem = Problem(g, platform)
    assert platform.link_class(0, 1) == "intra" and platform.link_class(1, 2) == "inter"
    assert problem.comm == (
        {"intra": 3, "inter": 14},
        {"intra": 4, "inter": 15},
        {"intra": 0, "inter": 0},
    )
    for e, edge in enumerate(g.edges):
        for p in range(3):
            for q in range(3):
                want = expected_cost(edge, platform, p, q, 1e-6)
                assert problem.edge_cost(e, p, q) == want
    assert problem.edge_cost(0, 2, 2) == 0 and problem.edge_cost(0, 0, 2) == 14
    assert problem.min_comm == [3, 4, 0]
    assert not problem.uniform


def test_fixed_comm_is_a_pure_delay():
    g = TaskGraph(
        (Task("a", 3), Task("b", 2)),
        (Edge("a", "b", 0, 5, 10**9), Edge("b", "a", 2, 0, 10**9)),
        time_unit="1us",
    )
    problem = Problem(g, two_nodes())
    # The bytes (1 s on either link) play no part: the fixed comm is charged as it is.
    assert problem.comm == ({"intra": 5, "inter": 5}, {"intra": 0, "inter": 0})
    assert problem.edge_cost(0, 0, 2) == 5 and problem.edge_cost(0, 1, 1) == 0


def test_message_units():
    link = Link(50e9, 10e-6)
    assert message_units(0, link, 25e-6) == 0
    assert message_units(1, link, 25e-6) == 1
    # 10 us + 1.25e6 B / 50 GB/s = 35 us = 1.4 units of 25 us; 3.75e6 B: 85 us = 3.4.
    assert message_units(1_250_000, link, 25e-6) == 2
    assert message_units(3_750_000, link, 25e-6) == 4
    # 2e6 B: 10 + 40 = 50 us, exactly two units (not three, whatever the float noise).
    assert message_units(2_000_000, link, 25e-6) == 2
    assert message_units(10**12, Link(math.inf, 3e-6), 1e-6) == 3


def test_one_processor_and_one_node_minima():
    g = TaskGraph((Task("a", 1), Task("b", 1)), (Edge("a", "b", 0, None, 4000, tensor="t"),))
    # One processor: no edge ever crosses, whatever it carries.
    assert Problem(g, 1).min_comm == [0]
    # One node: the inter link, however cheap, is never used.
    one_node = speeds(1, 1, intra=Link(1e9, 0.0), inter=Link(math.inf, 0.0))
    assert Problem(g, one_node).min_comm == [4]
    two = speeds(1, 1, nodes=(0, 1), intra=Link(1e9, 0.0), inter=Link(math.inf, 0.0))
    assert Problem(g, two).min_comm == [0]


def test_one_processor_per_node_is_uniform():
    g = TaskGraph((Task("a", 1), Task("b", 1)), (Edge("a", "b", 0, None, 4000, tensor="t"),))
    apart = speeds(1, 1, 1, nodes=(0, 1, 2), intra=Link(1e12, 0.0), inter=Link(1e9, 0.0))
    problem = Problem(g, apart)
    # No two processors share a node: the cheap intra link joins no pair.
    assert problem.min_comm == [4] and problem.comm[0] == {"intra": 1, "inter": 4}
    assert problem.uniform
    assert [e.comm for e in problem.relaxed_graph().edges] == [4]
    assert {problem.edge_cost(0, p, q) for p in range(3) for q in range(3) if p != q} == {4}


def test_bytes_need_a_time_unit():
    g = TaskGraph((Task("a", 1), Task("b", 1)), (Edge("a", "b", 0, None, 8),), time_unit="steps")
    with pytest.raises(InputError, match="no time"):
        Problem(g, 2)
    fixed = TaskGraph((Task("a", 1), Task("b", 1)), (Edge("a", "b", 0, 3, 8),), time_unit="steps")
    assert Problem(fixed, 2).comm == ({"intra": 3, "inter": 3},)


def test_as_problem_and_cached_bounds():
    g = make_graph([("a", 3), ("b", 4)], [("a", "b", 0, 2), ("b", "a", 1, 2)])
    problem = Problem(g, 2)
    assert as_problem(problem) is problem
    assert as_problem(problem, Platform.default(2)) is problem
    with pytest.raises(InputError, match="already has its platform"):
        as_problem(problem, 3)
    with pytest.raises(InputError, match="platform or a processor count"):
        as_problem(g)
    assert as_problem(g, 2).platform == Platform.default(2)
    assert problem.bounds is problem.bounds
    assert problem.lower_bound == problem.bounds.lower_bound >= 7


# ----------------------------------------------------------- the relaxation
def test_relaxed_graph_is_the_problem_on_a_uniform_platform():
    g = TaskGraph(
        (Task("a", 3), Task("b", 5)),
        (Edge("a", "b", 0, None, 2000, tensor="x"), Edge("b", "a", 2, 4)),
        time_unit="1us",
    )
    pcie = speeds(1, 1, 1, intra=Link(1e9, 2e-6), inter=Link(1e9, 2e-6))
    problem = Problem(g, pcie)
    relaxed = problem.relaxed_graph()
    assert problem.uniform
    assert relaxed.durations == [3, 5]
    assert [e.comm for e in relaxed.edges] == [4, 4]
    again = Problem(relaxed, 3)
    assert again.durations == problem.durations and again.comm == problem.comm


def list_schedule(
    graph: TaskGraph, platform: Platform, proc: list[int]
) -> tuple[int, dict[str, int]]:
    """A valid schedule with the given processors: one iteration laid out, then a long period.

    Durations and costs are computed here from the definitions, not by ``Problem``.
    """
    unit = graph.time_unit_seconds or 1.0
    idx = {t.name: i for i, t in enumerate(graph.tasks)}
    d = [
        max(1, math.ceil(Fraction(t.duration) / exact(platform.processors[proc[v]].speed)))
        for v, t in enumerate(graph.tasks)
    ]
    start: dict[str, int] = {}
    busy = [0] * platform.P
    for v, t in enumerate(graph.tasks):  # task order is a topological order of distance 0
        ready = busy[proc[v]]
        for e in graph.edges:
            if e.dst == t.name and e.distance == 0:
                u = idx[e.src]
                c = expected_cost(e, platform, proc[u], proc[v], unit)
                ready = max(ready, start[e.src] + d[u] + c)
        start[t.name] = ready
        busy[proc[v]] = ready + d[v]
    most = max(
        (expected_cost(e, platform, 0, q, unit) for e in graph.edges for q in range(platform.P)),
        default=0,
    )
    span = max(start[t.name] + d[v] for v, t in enumerate(graph.tasks))
    return span + most + 1, start


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(tiny_byte_graphs(), tiny_graphs()), tiny_platforms(), st.data())
def test_relaxed_graph_is_a_relaxation(graph, platform, data):
    """Every schedule valid on the problem is valid, as placed, on the relaxed graph."""
    problem = Problem(graph, platform)
    relaxed = problem.relaxed_graph()
    assert relaxed.durations == problem.min_durations
    proc = [data.draw(st.integers(0, platform.P - 1)) for _ in graph.tasks]
    period, start = list_schedule(graph, platform, proc)
    placement = {t.name: p for t, p in zip(graph.tasks, proc, strict=True)}
    # Tighter periods and shifted starts too, kept only where valid on the problem.
    tighter = data.draw(st.integers(1, period))
    shift = {name: s + tighter * data.draw(st.integers(-1, 1)) for name, s in start.items()}
    candidates = [(period, start), (tighter, start), (tighter, shift)]
    for i, (T, s) in enumerate(candidates):
        sched = Schedule(graph, platform, T, placement, s)
        found = validate(sched)
        if i == 0:
            assert found == [], found  # built valid
        if not found:
            loose = Schedule(relaxed, problem.P, T, placement, s)
            assert validate(loose) == []
