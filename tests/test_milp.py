"""Tests of the MILP solver: HiGHS and CBC prove the least periods, honestly and quietly.

Least periods of tiny instances come from ``tests.brute`` (an enumeration
that shares nothing with the model), on identical processors, heterogeneous
speeds and two nodes; larger built-in networks are compared with CP-SAT.
Every schedule returned goes through ``check_schedule``.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import networkx as nx
import pulp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched.costs import CostModel
from lpsched.errors import InputError
from lpsched.graph import Edge, Task, TaskGraph, make_graph
from lpsched.networks import get_network
from lpsched.platform import Link, Platform, Processor
from lpsched.problem import Problem
from lpsched.schedule import Result, Schedule, Status
from lpsched.solve import solve
from lpsched.solvers import milp as milp_module
from lpsched.solvers import milp_model
from lpsched.solvers.milp import (
    best_rotation,
    build_model,
    contiguous,
    rotation_periods,
    run_milp,
    solve_milp,
    warm_start,
)
from lpsched.solvers.milp_backend import UNKNOWN, solve_model
from lpsched.solvers.milp_model import PeriodModel, estimate_size, set_initial
from lpsched.solvers.registry import SOLVERS, Options
from lpsched.solvers.toolkit import one_processor
from lpsched.taskgraph import build_task_graph
from lpsched.validate import check_schedule, validate
from tests.brute import brute_force_period, tiny_byte_graphs, tiny_platforms
from tests.platforms import delay

BACKENDS = ["highs", "cbc"]
SOLVER_NAME = {"highs": "milp", "cbc": "milp-cbc"}
FEW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def serial(problem: Problem) -> Schedule:
    """All tasks back to back on processor 0 in a topological order: a weak but valid start.

    Handing it to the MILP as ``initial`` makes the period search do all the work
    (the heuristic would often reach the lower bound by itself).
    """
    graph = problem.graph
    g = nx.DiGraph()
    g.add_nodes_from(t.name for t in graph.tasks)
    g.add_edges_from((e.src, e.dst) for e in graph.edges if e.distance == 0 and e.src != e.dst)
    start, t = {}, 0
    for name in nx.topological_sort(g):
        start[name] = t
        t += problem.duration(graph.index(name), 0)
    return Schedule(graph, problem.platform, t, {name: 0 for name in start}, start)


def milp(problem: Problem, backend: str = "highs", **options) -> Result:
    """:func:`run_milp` with ``Options(**options)``."""
    return run_milp(problem, Options(**options), backend)


def cpsat_optimum(problem: Problem) -> int:
    """The period CP-SAT proves (one worker, no time limit: deterministic)."""
    res = SOLVERS["cpsat"].run(problem, Options(workers=1, secondary=None))
    assert res.status is Status.OPTIMAL
    check_schedule(res.schedule)
    return res.period


def check(result: Result, problem: Problem, backend: str) -> Schedule:
    """Every MILP result: the right solver name, a valid schedule, a consistent status."""
    assert result.solver == SOLVER_NAME[backend]
    s = result.schedule
    assert s is not None
    check_schedule(s)
    assert s.platform == problem.platform
    assert [t.name for t in s.graph.tasks] == [t.name for t in problem.graph.tasks]
    assert result.lower_bound <= s.period
    assert (result.status is Status.OPTIMAL) == (result.lower_bound == s.period)
    return s


def satisfied(model: PeriodModel) -> list[str]:
    """Rows and bounds that the model's initial values violate (names)."""
    bad = []
    for var in model.prob.variables():
        value = var.varValue
        if value is None:
            bad.append(f"{var.name} unset")
        elif (var.lowBound is not None and value < var.lowBound - 1e-9) or (
            var.upBound is not None and value > var.upBound + 1e-9
        ):
            bad.append(f"{var.name} = {value} out of bounds")
    bad.extend(name for name, row in model.prob.constraints.items() if not row.valid(1e-9))
    return bad


# ---------------------------------------------------------------------------
# Random small graphs on identical processors: the brute force's period
# ---------------------------------------------------------------------------
@st.composite
def small_graphs(draw, auto: bool) -> tuple[TaskGraph, int]:
    n = draw(st.integers(2, 5))
    layers = [f"L{i % 2}" for i in range(n)]
    tasks = [Task(f"t{i}", draw(st.integers(1, 4)), layers[i]) for i in range(n)]
    edges = []
    for _ in range(draw(st.integers(0, 2 * n))):
        u = draw(st.integers(0, n - 1))
        v = draw(st.integers(0, n - 1))
        # Distance 0 only forward, so that distance-0 edges form a DAG.
        w = draw(st.integers(0, 1)) if u < v else draw(st.integers(1, 2))
        weights = layers[u] if auto and w > 0 and u != v and draw(st.booleans()) else None
        edges.append(
            Edge(f"t{u}", f"t{v}", w, draw(st.integers(0, 4)), draw(st.integers(0, 50)), weights)
        )
    cap = None
    if auto and any(e.weights for e in edges):
        cap = 2
        edges = [
            Edge(e.src, e.dst, cap, e.comm, e.bytes, e.weights) if e.weights else e for e in edges
        ]
    graph = TaskGraph(tuple(tasks), tuple(edges), staleness_cap=cap)
    return graph, draw(st.integers(1, 3))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=small_graphs(auto=False))
def test_random_graphs_same_optimum_as_brute_force(case):
    graph, P = case
    problem = Problem(graph, P)
    best = brute_force_period(graph, P)
    for backend in BACKENDS:
        # From the heuristic, and from a serial schedule that leaves the search all the work.
        for initial in (None, serial(problem)):
            res = milp(problem, backend, initial=initial, secondary=None)
            check(res, problem, backend)
            assert res.status is Status.OPTIMAL
            assert res.period == best


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=small_graphs(auto=True))
def test_random_graphs_auto_staleness(case):
    graph, P = case
    problem = Problem(graph, P)
    best = brute_force_period(graph, P)
    for backend in BACKENDS:
        res = milp(problem, backend, initial=serial(problem))
        s = check(res, problem, backend)
        assert res.status is Status.OPTIMAL
        assert res.period == best
        assert s.graph.staleness_cap is None
        if graph.staleness_cap is not None:
            assert all(1 <= x <= graph.staleness_cap for x in s.staleness().values())
            _assert_least_staleness(s)


def _assert_least_staleness(s: Schedule) -> None:
    """No layer's staleness can drop by one with the same starts."""
    for layer, x in s.staleness().items():
        if x > 1:
            lowered = s.with_graph(s.graph.with_staleness({layer: x - 1}))
            assert validate(lowered), f"staleness of {layer} could be {x - 1}"


# ---------------------------------------------------------------------------
# Heterogeneous speeds and two nodes: the brute force's period, both backends
# ---------------------------------------------------------------------------
def _same_period_as_brute_force(graph: TaskGraph, platform: Platform) -> None:
    problem = Problem(graph, platform)
    best = brute_force_period(graph, platform)
    periods = {}
    for backend in BACKENDS:
        # From the default warm start, and from one processor (the search does all the work).
        for initial in (None, one_processor(problem)):
            res = milp(problem, backend, initial=initial, secondary=None)
            check(res, problem, backend)
            assert res.status is Status.OPTIMAL
            assert res.period == best
            periods[backend, initial is None] = res.period
    assert len(set(periods.values())) == 1  # HiGHS and CBC agree


@FEW
@given(graph=tiny_byte_graphs(max_tasks=5), platform=tiny_platforms())
def test_heterogeneous_same_period_as_brute_force(graph, platform):
    _same_period_as_brute_force(graph, platform)


@FEW
@given(
    graph=tiny_byte_graphs(max_tasks=5),
    platform=tiny_platforms().filter(lambda p: p.nodes == 2),
)
def test_two_nodes_same_period_as_brute_force(graph, platform):
    _same_period_as_brute_force(graph, platform)


@FEW
@given(
    graph=tiny_byte_graphs(max_tasks=4),
    speeds=st.lists(st.sampled_from([1.0, 2.0]), min_size=3, max_size=3),
)
def test_cheaper_link_between_nodes(graph, speeds):
    """Inter-node messages cheaper than intra-node ones: (M11) bounds m_e above too."""
    procs = (
        Processor(speeds[0], None, 0),
        Processor(speeds[1], None, 0),
        Processor(speeds[2], None, 1),
    )
    platform = Platform(procs, Link(0.5e6, 0.0), Link(1e6, 0.0))  # intra 2 units/B, inter 1
    _same_period_as_brute_force(graph, platform)


@FEW
@given(graph=tiny_byte_graphs(max_tasks=5), platform=tiny_platforms(), secondary=st.booleans())
def test_valid_schedules_satisfy_every_row(graph, platform, secondary):
    """The models cut off no valid schedule: its values satisfy (M1)-(M16) and (M17)."""
    problem = Problem(graph, platform)
    objective = "comm" if secondary else None
    res = milp(problem, secondary="comm" if secondary else None)
    for sched in (res.schedule, one_processor(problem), warm_start(problem, Options())):
        check_schedule(sched)
        for variant in ("full", "relaxed"):
            model = build_model(problem, sched.period, variant=variant, objective=objective)
            assert not model.trivially_infeasible
            set_initial(model, sched, full=True)
            assert satisfied(model) == [], variant


def test_symmetry_breaking_stays_within_interchangeable_groups():
    """Speeds (2, 1, 1): only processors 1 and 2 are interchangeable (M4a), (M4b)."""
    graph = make_graph([("a", 4), ("b", 3), ("c", 2), ("d", 1)], [("a", "b", 0, 1)])
    platform = Platform((Processor(2.0), Processor(1.0), Processor(1.0)))
    model = build_model(Problem(graph, platform), 10)
    order = model.order
    assert [model.procs[order[0]], model.procs[order[1]]] == [[0, 1], [0, 1, 2]]
    assert not any(
        name.startswith("sym_") and name.endswith("_1") for name in model.prob.constraints
    )
    assert f"sym_{order[1]}_2" in model.prob.constraints


def test_processor_too_slow_for_the_period_is_left_out():
    graph = make_graph([("a", 4), ("b", 1)], [])
    platform = Platform((Processor(2.0), Processor(1.0)))
    model = build_model(Problem(graph, platform), 3)
    assert model.procs[graph.index("a")] == [0]  # 4 units at speed 1 exceed T = 3
    assert not model.trivially_infeasible
    assert build_model(Problem(graph, platform), 1).trivially_infeasible


def test_equal_links_in_two_nodes_give_the_one_node_model():
    """A uniform platform of two nodes is the same model as one node: no m_e at all."""
    graph = TaskGraph(
        (Task("a", 3), Task("b", 2), Task("c", 2)),
        (Edge("a", "b", 0, None, 2), Edge("b", "c", 0, None, 1)),
        time_unit="1us",
    )
    link = Link(1e6, 0.0)
    # Under delay; under ports the two nodes' inter ports are ports of their own.
    two = Platform(tuple(Processor(1.0, None, i // 2) for i in range(4)), link, link, "delay")
    one = Platform(tuple(Processor() for _ in range(4)), link, link, "delay")
    texts = []
    for platform in (two, one):
        model = build_model(Problem(graph, platform), 5, objective="comm")
        assert not model.m
        texts.append(str(model.prob))
    assert texts[0] == texts[1]


def test_heterogeneous_through_solve_and_the_registry():
    graph = make_graph(
        [("a", 4), ("b", 4), ("c", 2)], [("a", "b", 0, 3), ("b", "c", 0, 1), ("c", "a", 2, 1)]
    )
    platform = Platform((Processor(2.0, None, 0), Processor(1.0, None, 1)))
    assert SOLVERS["milp"].heterogeneous and SOLVERS["milp-cbc"].topology
    for name in SOLVER_NAME.values():
        res = solve(graph, platform, name, secondary="none")
        check_schedule(res.schedule)
        assert res.period == brute_force_period(graph, platform)


# ---------------------------------------------------------------------------
# Back-to-back placements and rotations
# ---------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    T=st.integers(1, 25),
    terms=st.lists(
        st.tuples(st.integers(-60, 60), st.integers(0, 24), st.integers(0, 24), st.booleans()),
        max_size=6,
    ),
)
def test_best_rotation_is_the_least_minimiser(T, terms):
    terms = [(lat, ru % T, rv % T, turn) for lat, ru, rv, turn in terms]
    scan = min(range(T), key=lambda rho: rotation_periods(T, terms, rho))
    assert best_rotation(T, terms) == scan


def test_contiguous_placement_with_a_huge_period():
    """A period of 10**12 units: rotations are chosen without scanning the period."""
    big = 10**11
    graph = make_graph(
        [("a", 3 * big), ("b", 2 * big), ("c", 4 * big)],
        [("a", "b", 0, big), ("b", "c", 0, 5), ("c", "a", 2, big)],
    )
    problem = Problem(graph, 2)
    sched = contiguous(problem, 10 * big, {0: 0, 1: 1, 2: 0})
    assert sched is not None and sched.period == 10 * big
    check_schedule(sched)


# ---------------------------------------------------------------------------
# Built-in networks
# ---------------------------------------------------------------------------
COARSE = CostModel(throughput=1e10, time_unit="50us")
NO_LATENCY = {"mlp": None, "lenet5": 0.0}


def coarse_problem(net: str, P: int) -> Problem:
    graph = build_task_graph(
        get_network(net), "layerpipe", staleness="auto", processors=P, costs=COARSE
    )
    # The delay model: the MILP proves these in seconds (its ports model is
    # tests/test_milp_ports.py's).
    latency = NO_LATENCY[net]
    base = Platform.default(P) if latency is None else Platform.default(P, latency=latency)
    return Problem(graph, delay(base))


@pytest.mark.parametrize("net", ["mlp", "lenet5"])
@pytest.mark.parametrize("P", [2, 3])
def test_builtin_networks_coarse_costs(net, P):
    problem = coarse_problem(net, P)
    best = cpsat_optimum(problem)
    for backend in BACKENDS:
        res = milp(problem, backend, initial=serial(problem), time_limit=60, secondary=None)
        check(res, problem, backend)
        assert res.status is Status.OPTIMAL
        assert res.period == best
        assert res.network == net and res.decomposition == "layerpipe"


@pytest.mark.parametrize("backend", BACKENDS)
def test_secondary_objective_only_lowers_bytes(backend):
    problem = coarse_problem("mlp", 2)
    plain = milp(problem, backend, secondary=None)
    comm = milp(problem, backend, secondary="comm")
    check(comm, problem, backend)
    assert comm.period == plain.period
    assert comm.stats["comm_bytes"] == comm.schedule.comm_bytes() <= plain.schedule.comm_bytes()
    if comm.stats["comm_minimal"]:
        other = SOLVERS["cpsat"].run(problem, Options(workers=1, secondary="comm", time_limit=5))
        if other.period == comm.period:
            assert comm.schedule.comm_bytes() <= other.schedule.comm_bytes()


@pytest.mark.parametrize("backend", BACKENDS)
def test_secondary_objective_on_two_nodes(backend):
    """Bytes are minimised on a heterogeneous two-node platform too, never above the start."""
    graph = make_graph(
        [("a", 2), ("b", 2), ("c", 2), ("d", 2)],
        [("a", "b", 0, 0, 40), ("b", "c", 0, 0, 10), ("c", "d", 0, 0, 40), ("d", "a", 3, 0, 5)],
    )
    platform = Platform(tuple(Processor(s, None, n) for s, n in ((2.0, 0), (1.0, 0), (1.0, 1))))
    problem = Problem(graph, platform)
    plain = milp(problem, backend, secondary=None)
    comm = milp(problem, backend, secondary="comm")
    check(comm, problem, backend)
    assert comm.period == plain.period == brute_force_period(graph, platform)
    assert comm.schedule.comm_bytes() <= plain.schedule.comm_bytes()


def test_lenet5_communication_bound_period():
    """Default costs on 2 processors: messages cost more than the whole period."""
    graph = build_task_graph(get_network("lenet5"), "layerpipe", staleness="auto", processors=2)
    problem = Problem(graph, 2)
    best = cpsat_optimum(problem)
    res = milp(problem, time_limit=60)
    check(res, problem, "highs")
    assert res.status is Status.OPTIMAL and res.period == best
    # Nothing pays to split: one processor runs it all, which the co-location
    # bound proves without a solve.
    assert best == graph.total_work == res.lower_bound


# ---------------------------------------------------------------------------
# Honest statuses under short time limits
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hard_instance() -> tuple[Problem, int, int]:
    """lenet5 on 4 processors with default costs, and what CP-SAT knows of it in 10 s.

    CP-SAT usually proves the optimum; the tests below only use its proven
    lower bound and its period, which hold either way.
    """
    graph = build_task_graph(get_network("lenet5"), "layerpipe", staleness="auto", processors=4)
    problem = Problem(graph, 4)
    res = SOLVERS["cpsat"].run(problem, Options(workers=1, secondary=None, time_limit=10))
    check_schedule(res.schedule)
    return problem, res.lower_bound, res.period


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("limit", [0.3, 1.5])
def test_time_limit_statuses_are_honest(hard_instance, backend, limit):
    problem, low, high = hard_instance
    res = milp(problem, backend, time_limit=limit, seed=1)
    s = check(res, problem, backend)
    # The MILP's bound never passes a known period, its period never a proven bound.
    assert res.lower_bound <= high and low <= s.period
    if res.status is Status.OPTIMAL:
        assert low <= s.period <= high
    else:
        assert res.status is Status.FEASIBLE and res.gap > 0


def test_never_worse_than_initial(hard_instance):
    problem, _, _ = hard_instance
    initial = serial(problem)
    res = milp(problem, initial=initial, time_limit=0.5)
    assert res.period <= initial.period
    check_schedule(res.schedule)


def test_invalid_initial_is_an_input_error():
    graph = make_graph([("a", 2), ("b", 2)], [("a", "b", 0, 1)])
    bad = Schedule(graph, 1, 3, {"a": 0, "b": 0}, {"a": 0, "b": 1})
    with pytest.raises(InputError, match="initial schedule"):
        milp(Problem(graph, 1), initial=bad)


def test_warm_start_keeps_a_given_schedule():
    graph = small()
    problem = Problem(graph, 2)
    initial = serial(problem)
    got = warm_start(problem, Options(initial=initial))
    assert (got.period, got.processor, got.start) == (
        initial.period,
        initial.processor,
        initial.start,
    )
    check_schedule(warm_start(problem, Options()))


# ---------------------------------------------------------------------------
# Export, quiet stdout, log, input errors
# ---------------------------------------------------------------------------
def small() -> TaskGraph:
    return make_graph(
        [("a", 3), ("b", 2), ("c", 2), ("d", 1)],
        [("a", "b", 0, 1), ("b", "c", 0, 2), ("c", "d", 0, 1), ("d", "a", 2, 1)],
    )


HETERO = Platform(
    (Processor(2.0, None, 0), Processor(1.0, None, 0), Processor(1.0, None, 1)),
    Link(1e6, 0.0),
    Link(0.5e6, 0.0),
)


def small_bytes() -> TaskGraph:
    """:func:`small` with bytes instead of fixed costs (1 unit per byte intra, 2 inter)."""
    g = small()
    edges = tuple(Edge(e.src, e.dst, e.distance, None, e.comm) for e in g.edges)
    return TaskGraph(g.tasks, edges, time_unit="1us")


@pytest.mark.parametrize("suffix", [".lp", ".mps"])
@pytest.mark.parametrize("where", ["uniform", "heterogeneous"])
def test_export_writes_a_solvable_model(tmp_path, suffix, where):
    problem = Problem(small(), 2) if where == "uniform" else Problem(small_bytes(), HETERO)
    path = tmp_path / f"model{suffix}"
    res = milp(problem, export=str(path))
    assert path.exists() and path.stat().st_size > 0
    text = path.read_text()
    assert "x_0_0" in text and "r_0" in text and "k_0" in text
    if where == "heterogeneous":
        assert "m_" in text  # the node-crossing indicators (M11)
    # The exported model has a solution: it is the model of a feasible period.
    if suffix == ".mps":
        _, prob = pulp.LpProblem.fromMPS(str(path))
        prob.solve(pulp.PULP_CBC_CMD(msg=False))
        assert pulp.LpStatus[prob.status] == "Optimal"
    assert res.stats["model"]["variables"] > 0


def test_export_needs_lp_or_mps(tmp_path):
    with pytest.raises(InputError, match=r"\.lp or \.mps"):
        milp(Problem(small(), 2), export=str(tmp_path / "model.txt"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_nothing_on_stdout(capfd, backend):
    problem = Problem(small(), 2)
    milp(problem, backend, initial=serial(problem), time_limit=10)
    out, _err = capfd.readouterr()
    assert out == ""


def test_nothing_on_stdout_in_a_fresh_process(tmp_path):
    """HiGHS prints a banner when a process creates its first solver object."""
    code = textwrap.dedent(
        """
        from lpsched.graph import make_graph
        from lpsched.problem import Problem
        from lpsched.solvers.milp import run_milp
        from lpsched.solvers.registry import Options
        g = make_graph([("a", 3), ("b", 2), ("c", 2)], [("a", "b", 0, 1), ("c", "a", 1, 1)])
        for backend in ("highs", "cbc"):
            run_milp(Problem(g, 2), Options(export=r"%s"), backend)
        """
        % (tmp_path / "m.lp")
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
    )
    assert run.stdout == ""


@pytest.mark.parametrize("backend", BACKENDS)
def test_progress_lines_for_people_and_the_raw_log_apart(capfd, backend):
    """``log``: a line per step (time, period in units and ms, bound, gap); raw lines elsewhere."""
    problem = Problem(small_bytes(), 2)
    lines: list[str] = []
    raw: list[str] = []
    res = milp(problem, backend, initial=serial(problem), log=lines.append, solver_log=raw.append)
    assert capfd.readouterr().out == ""
    progress = [line for line in lines if line.startswith(SOLVER_NAME[backend] + "  ")]
    assert progress and all(
        " s  period " in line and " ms)  bound " in line and "%" in line for line in progress
    )
    assert f"period {res.period} (" in progress[-1]  # the last line is the final state
    assert not any(line.startswith(f"  {backend}: ") for line in lines)
    assert any(line.startswith(f"  {backend}: ") for line in raw)  # the solver's own log


@pytest.mark.parametrize(
    ("backend", "options", "match"),
    [
        ("gurobi", {}, "backend"),
        ("highs", {"time_limit": 0}, "time limit"),
        ("highs", {"secondary": "speed"}, "secondary"),
    ],
)
def test_input_errors(backend, options, match):
    with pytest.raises(InputError, match=match):
        run_milp(Problem(small(), 2), Options(**options), backend)


def test_processors_must_be_positive():
    with pytest.raises(InputError, match="processors"):
        solve_milp(small(), 0)


@pytest.mark.parametrize("where", ["uniform", "heterogeneous"])
def test_solve_milp_is_run_milp_on_a_problem(where):
    graph, platform = (small(), 2) if where == "uniform" else (small_bytes(), HETERO)
    a = solve_milp(graph, platform, seed=2, secondary=None)
    b = milp(Problem(graph, platform), seed=2, secondary=None)
    assert (a.period, a.schedule.start) == (b.period, b.schedule.start)
    check_schedule(a.schedule)


# ---------------------------------------------------------------------------
# The models themselves
# ---------------------------------------------------------------------------
def test_model_size_does_not_depend_on_the_period():
    graph = small()
    n, P, E = graph.n, 2, len(graph.edges)
    problem = Problem(graph, P)
    sizes = [build_model(problem, T).size()["variables"] for T in (40, 400, 4000)]
    # x, r, k, and per pair y and o, per edge z: nothing grows with T.
    assert sizes[0] == sizes[1] == sizes[2] <= n * P + 2 * n + n * (n - 1) + E


def test_task_longer_than_the_period_is_trivially_infeasible():
    model = build_model(Problem(small(), 2), 2)
    assert model.trivially_infeasible and "a" in model.trivially_infeasible


def test_relaxation_and_restriction_bracket_the_optimum():
    """R(T) feasible for every T >= optimum; the full model feasible exactly there."""
    graph = small()
    problem = Problem(graph, 2)
    best = brute_force_period(graph, 2)
    for T in range(max(graph.durations), best + 3):
        full = build_model(problem, T)
        full.prob.solve(pulp.PULP_CBC_CMD(msg=False))
        feasible = pulp.LpStatus[full.prob.status] == "Optimal"
        assert feasible == (T >= best)
        relaxed = build_model(problem, T, variant="relaxed")
        relaxed.prob.solve(pulp.PULP_CBC_CMD(msg=False))
        if feasible:
            assert pulp.LpStatus[relaxed.prob.status] == "Optimal"


def test_serial_helper_is_valid():
    assert validate(serial(Problem(small(), 2))) == []


def test_results_are_reproducible_without_time_limit():
    problem = Problem(small(), 2)
    a = milp(problem, seed=3, initial=serial(problem))
    b = milp(problem, seed=3, initial=serial(problem))
    assert a.period == b.period and a.schedule.start == b.schedule.start


def test_modules_have_no_print_calls():
    folder = Path(__file__).parents[1] / "lpsched" / "solvers"
    for name in ("milp.py", "milp_model.py", "milp_backend.py"):
        assert "print(" not in (folder / name).read_text(), name


# ---------------------------------------------------------------------------
# Budgets: sizes estimated before building, big graphs, big numbers
# ---------------------------------------------------------------------------
def layered(layers: int, width: int, seed: int = 0) -> TaskGraph:
    """The layered DAG of issue 20, smaller: each task reads 2 of the layer before.

    Durations 10..200 units, fixed comm 1..20, and a back edge of distance 2 from
    every fifth layer to the one two before.
    """
    import random

    rng = random.Random(seed)
    tasks = [Task(f"t{i}_{j}", rng.randint(10, 200)) for i in range(layers) for j in range(width)]
    edges = [
        Edge(f"t{i - 1}_{k}", f"t{i}_{j}", 0, rng.randint(1, 20))
        for i in range(1, layers)
        for j in range(width)
        for k in rng.sample(range(width), 2)
    ]
    edges += [Edge(f"t{i}_0", f"t{i - 2}_1", 2, 5) for i in range(2, layers, 5)]
    return TaskGraph(tuple(tasks), tuple(edges), name="layered")


def size_of(model: PeriodModel) -> tuple[int, int, int]:
    """Rows, columns and nonzeros (rows and objective) of a built model."""
    prob = model.prob
    nonzeros = sum(len(row) for row in prob.constraints.values()) + len(prob.objective)
    return len(prob.constraints), len(prob.variables()), nonzeros


@FEW
@given(
    graph=tiny_byte_graphs(max_tasks=5),
    platform=tiny_platforms(),
    T=st.integers(1, 12),
    dense=st.booleans(),
)
def test_estimate_bounds_the_built_model(graph, platform, T, dense):
    problem = Problem(graph, platform)
    assignment = {v: v % problem.P for v in range(problem.n)}
    saved = milp_model.SYMMETRY_DENSE_TASKS
    milp_model.SYMMETRY_DENSE_TASKS = 100 if dense else 0
    try:
        for variant, objective in (("full", "comm"), ("relaxed", "latency"), ("fixed", None)):
            kwargs = {"variant": variant, "objective": objective}
            if variant == "fixed":
                kwargs["assignment"] = assignment
            rows, columns, nonzeros = size_of(build_model(problem, T, **kwargs))
            est = estimate_size(problem, T, **kwargs)
            assert (est.rows, est.columns, est.nonzeros) >= (rows, columns, 0)
            assert est.nonzeros >= nonzeros, variant
    finally:
        milp_model.SYMMETRY_DENSE_TASKS = saved


@pytest.mark.parametrize("net", ["alexnet", "resnet18"])
def test_estimate_of_builtin_networks_is_close_above(net):
    """An upper bound, and within a factor of 3 of the built models (so skips are not rash)."""
    # Under delay; under ports the estimate counts every pair of transfers that may
    # share a port, about 3.1x the built model's nonzeros on these two networks.
    graph = build_task_graph(get_network(net), "layerpipe", staleness="auto", processors=4)
    problem = Problem(graph, delay(4))
    T = problem.lower_bound
    assignment = {v: v % 4 for v in range(problem.n)}
    for variant in ("full", "relaxed", "fixed"):
        kwargs = {"variant": variant, "assignment": assignment if variant == "fixed" else None}
        _, _, nonzeros = size_of(build_model(problem, T, **kwargs))
        assert nonzeros <= estimate_size(problem, T, **kwargs).nonzeros <= 3 * nonzeros


def test_symmetry_counts_keep_the_optimum(monkeypatch):
    """(M4b) through running counts: the same least periods, fewer nonzeros."""
    monkeypatch.setattr(milp_model, "SYMMETRY_DENSE_TASKS", 0)
    for graph, platform in [
        (small(), 3),
        (small_bytes(), HETERO),
        (small_bytes(), Platform((Processor(), Processor(), Processor(2.0), Processor(2.0)))),
    ]:
        problem = Problem(graph, platform)
        res = milp(problem, initial=one_processor(problem), secondary=None)
        check(res, problem, "highs")
        assert res.status is Status.OPTIMAL
        assert res.period == brute_force_period(graph, platform)
    graph = layered(4, 30)
    problem = Problem(graph, 8)
    counted = size_of(build_model(problem, 2000, variant="relaxed"))[2]
    monkeypatch.setattr(milp_model, "SYMMETRY_DENSE_TASKS", 400)
    assert counted < size_of(build_model(problem, 2000, variant="relaxed"))[2] / 3


def test_relaxation_and_restriction_hold_only_their_pairs():
    """(M17) writes (M6) for exactly the long pairs; (M18) only pairs on one processor."""
    graph = layered(6, 20)
    problem = Problem(graph, 4)
    d, T = problem.durations, 250
    relaxed = build_model(problem, T, variant="relaxed")
    long = {
        (i, j, p)
        for i in range(problem.n)
        for j in range(i + 1, problem.n)
        for p in set(relaxed.procs[i]) & set(relaxed.procs[j])
        if d[i][p] + d[j][p] > T
    }
    apart = {name for name in relaxed.prob.constraints if name.startswith("apart_")}
    assert long and apart == {f"apart_{i}_{j}_{p}" for i, j, p in long}
    assignment = {v: v % 4 for v in range(problem.n)}
    fixed = build_model(problem, 10**6, variant="fixed", assignment=assignment)
    assert all(assignment[i] == assignment[j] for i, j in fixed.o)
    assert len(fixed.o) == 4 * (30 * 29 // 2)


class Recorder:
    """Wraps :func:`build_model` in the MILP module and records every variant built."""

    def __init__(self, monkeypatch) -> None:
        self.variants: list[str] = []
        real = milp_module.build_model

        def build(problem, period, **kwargs):
            self.variants.append(kwargs.get("variant", "full"))
            return real(problem, period, **kwargs)

        monkeypatch.setattr(milp_module, "build_model", build)


@pytest.mark.parametrize("backend", BACKENDS)
def test_big_graph_skips_the_full_model_and_says_so(monkeypatch, backend):
    """600 tasks: the full model (about 180,000 pairs) is never built; the result is valid."""
    graph = layered(20, 30)
    problem = Problem(graph, 4)
    assert estimate_size(problem, problem.lower_bound).nonzeros > milp_module.MAX_NONZEROS
    built = Recorder(monkeypatch)
    lines: list[str] = []
    initial = one_processor(problem)
    res = milp(problem, backend, initial=initial, time_limit=4, log=lines.append)
    s = check(res, problem, backend)
    assert "full" not in built.variants and "full" not in res.stats["built"]
    assert any(skip["variant"] == "full" and skip["why"] == "size" for skip in res.stats["skipped"])
    assert any("full model" in line and "not built" in line for line in lines)
    assert s.period <= initial.period and res.lower_bound >= problem.lower_bound


def test_nothing_fits_returns_the_warm_start_with_its_bound(monkeypatch):
    """No model may be built: no MILP, the warm start (or a placement of it) and the bound."""
    monkeypatch.setattr(milp_module, "MAX_NONZEROS", 0)
    built = Recorder(monkeypatch)
    graph = layered(5, 8)
    problem = Problem(graph, 3)
    initial = warm_start(problem, Options())
    lines: list[str] = []
    res = milp(problem, initial=initial, log=lines.append, export=None)
    s = check(res, problem, "highs")
    assert built.variants == [] and res.stats["built"] == {}
    assert any("not built" in line for line in lines)
    assert s.period <= initial.period
    assert res.lower_bound == problem.lower_bound  # nothing proven beyond the bounds
    assert res.status is (Status.OPTIMAL if s.period == res.lower_bound else Status.FEASIBLE)


@pytest.mark.parametrize("backend", BACKENDS)
def test_huge_durations_are_refused_with_a_note_not_solved(monkeypatch, backend, tmp_path):
    """Work of 2**40 units (the most a graph may hold): beyond the solvers' resolution."""
    big = 2**36  # 10 * 2**36 units of work, messages of 2**36
    graph = make_graph(
        [("a", 3 * big), ("b", 2 * big), ("c", 4 * big), ("d", big)],
        [("a", "b", 0, big), ("b", "c", 0, 5), ("c", "d", 0, 1), ("d", "a", 2, big)],
    )
    problem = Problem(graph, 2)
    built = Recorder(monkeypatch)
    lines: list[str] = []
    export = tmp_path / "model.lp"
    res = milp(problem, backend, time_limit=20, log=lines.append, export=str(export))
    check(res, problem, backend)
    assert built.variants == []
    assert any("numbers up to" in line for line in lines)
    assert not export.exists() and "model" not in res.stats
    assert res.lower_bound == problem.lower_bound  # no infeasibility claimed at these sizes


def test_magnitude_is_the_largest_start():
    """``T (K + 1)`` with ``K`` the horizon (M1): what the relaxation's starts may reach."""
    problem = Problem(small(), delay(2))
    for T in (3, 10, 1000):
        K = milp_model.horizon(problem, T)
        assert K == problem.n + 1 + -(-(sum(problem.graph.durations) + 5) // T)
        assert milp_model.magnitude(problem, T) == T * (K + 1)
        model = build_model(problem, T, variant="relaxed")
        assert all(var.upBound <= T * (K + 1) for var in model.s)


# ---------------------------------------------------------------------------
# Time limits that mean "at most", interrupts, the incumbent
# ---------------------------------------------------------------------------
def test_secondary_objective_takes_a_bounded_share():
    """The period is proven at once; the secondary objective stops within its share."""
    problem = coarse_problem("lenet5", 2)
    limit = 40.0
    res = milp(problem, time_limit=limit)
    check(res, problem, "highs")
    secondary = res.stats["secondary"]
    assert secondary["value"] == res.schedule.comm_bytes() <= secondary["initial"]
    share = milp_module.SECONDARY_SHARE * limit
    floor = max(milp_module.SECONDARY_FLOOR, res.solve_seconds - secondary["seconds"])
    assert secondary["seconds"] <= min(share, floor) + 2.0  # building and sequencing after it


def test_warm_start_time_counts_against_the_limit(monkeypatch):
    """The heuristic gets at most its share of the limit, and its time is spent."""
    seen: list[float | None] = []
    heuristic = SOLVERS["heuristic"]

    def run(problem, options):
        seen.append(options.time_limit)
        time.sleep(0.5)
        return heuristic.run(problem, options)

    monkeypatch.setitem(SOLVERS, "heuristic", replace_run(heuristic, run))
    problem = Problem(small(), 2)
    res = milp(problem, time_limit=4, secondary=None)
    check(res, problem, "highs")
    assert seen == [4 * milp_module.WARM_START_SHARE]
    assert res.solve_seconds >= 0.5


def replace_run(info, run):
    """A copy of a registry entry with another ``run``."""
    from dataclasses import replace

    return replace(info, run=run)


@pytest.mark.parametrize("backend", BACKENDS)
def test_stop_before_a_step_returns_the_warm_start_at_once(monkeypatch, backend):
    """``options.stop`` set after the warm start: no step, no model, the warm start returned."""
    problem = Problem(small(), 2)
    initial = serial(problem)
    options = Options(initial=initial, time_limit=60)
    built = Recorder(monkeypatch)

    def log(line: str) -> None:
        if "warm start" in line:
            options.stop.set()

    res = run_milp(problem, replace_options(options, log=log), backend)
    s = check(res, problem, backend)
    assert s.period == initial.period and res.status is Status.FEASIBLE
    assert res.stats["stopped"] and res.stats["steps"] == [] and built.variants == []
    assert options.incumbent.best is not None and options.incumbent.best.period == s.period


def replace_options(options: Options, **changes) -> Options:
    """``options`` with ``changes``, sharing its stop event and incumbent."""
    from dataclasses import replace

    return replace(options, **changes)


@pytest.mark.parametrize("backend", BACKENDS)
def test_stop_during_a_solve_ends_it_promptly(backend):
    """Set while HiGHS or CBC runs a long step: the call returns long before its limit."""
    graph = build_task_graph(get_network("lenet5"), "layerpipe", staleness="auto", processors=4)
    problem = Problem(graph, 4)
    initial = serial(problem)
    options = Options(initial=initial, time_limit=300, secondary=None)
    timer = threading.Timer(1.0, options.stop.set)
    timer.start()
    began = time.perf_counter()
    try:
        res = run_milp(problem, options, backend)
    finally:
        timer.cancel()
    elapsed = time.perf_counter() - began
    s = check(res, problem, backend)
    assert s.period <= initial.period
    if res.status is not Status.OPTIMAL:  # proven before the stop is possible, if unlikely
        assert res.stats["stopped"]
        assert elapsed < 60  # a step would have had about 300 / 12 s at least


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_better_schedule_is_offered(backend):
    problem = Problem(small(), 2)
    initial = serial(problem)
    options = Options(initial=initial, secondary=None)
    res = run_milp(problem, options, backend)
    best = options.incumbent.best
    assert best is not None and best.period == res.period < initial.period
    check_schedule(best)


def test_cbc_that_ignores_its_limit_is_killed(monkeypatch, tmp_path):
    """A CBC that hangs (here a stand-in that sleeps) is killed past its limit: unknown."""
    script = tmp_path / "cbc"
    script.write_text("#!/bin/sh\nexec sleep 60\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(pulp.PULP_CBC_CMD, "pulp_cbc_path", str(script))
    model = build_model(Problem(small(), 2), 10)
    began = time.perf_counter()
    assert solve_model(model, "cbc", 0.2, 0, None, warm_start=False) == UNKNOWN
    assert time.perf_counter() - began < 30
    stop = threading.Event()
    stop.set()
    began = time.perf_counter()
    assert solve_model(model, "cbc", 60, 0, None, warm_start=False, stop=stop) == UNKNOWN
    assert time.perf_counter() - began < 30
