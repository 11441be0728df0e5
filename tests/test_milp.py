"""Tests of the MILP solver: HiGHS and CBC prove the periods CP-SAT proves, honestly and quietly."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
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
from lpsched.schedule import Schedule, Status
from lpsched.solvers.cpsat import solve_cpsat
from lpsched.solvers.milp import build_model, solve_milp
from lpsched.taskgraph import build_task_graph
from lpsched.validate import validate

BACKENDS = ["highs", "cbc"]
SOLVER_NAME = {"highs": "milp", "cbc": "milp-cbc"}


def serial(graph: TaskGraph, processors: int) -> Schedule:
    """All tasks back to back on processor 0 in a topological order: a weak but valid start.

    Handing it to the MILP as ``initial`` makes the period search do all the work
    (the modulo heuristic would often reach the lower bound by itself).
    """
    g = nx.DiGraph()
    g.add_nodes_from(t.name for t in graph.tasks)
    g.add_edges_from((e.src, e.dst) for e in graph.edges if e.distance == 0 and e.src != e.dst)
    start, t = {}, 0
    for name in nx.topological_sort(g):
        start[name] = t
        t += graph.task(name).duration
    return Schedule(graph, processors, t, {name: 0 for name in start}, start)


def optimum(graph: TaskGraph, processors: int, limit: float | None = None) -> int:
    """The optimal period according to CP-SAT (the test is skipped if it cannot prove one).

    CP-SAT gives each phase of its search a share of the time limit, so tiny
    graphs go faster without one.
    """
    res = solve_cpsat(graph, processors, workers=1, secondary=None, time_limit=limit)
    if res.status is not Status.OPTIMAL:
        pytest.skip("CP-SAT did not prove an optimum")
    assert not validate(res.schedule)
    return res.period


def check(result, graph: TaskGraph, processors: int, backend: str) -> Schedule:
    """Every MILP result: the right solver name, a valid schedule, a consistent status."""
    assert result.solver == SOLVER_NAME[backend]
    s = result.schedule
    assert s is not None
    assert validate(s) == []
    assert s.processors == processors
    assert [t.name for t in s.graph.tasks] == [t.name for t in graph.tasks]
    assert result.lower_bound <= s.period
    assert (result.status is Status.OPTIMAL) == (result.lower_bound == s.period)
    return s


# ---------------------------------------------------------------------------
# Random small graphs: both backends prove the period CP-SAT proves
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
def test_random_graphs_same_optimum_as_cpsat(case):
    graph, P = case
    best = optimum(graph, P)
    for backend in BACKENDS:
        # From the heuristic, and from a serial schedule that leaves the search all the work.
        for initial in (None, serial(graph, P)):
            res = solve_milp(graph, P, backend=backend, initial=initial, secondary=None)
            check(res, graph, P, backend)
            assert res.status is Status.OPTIMAL
            assert res.period == best


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=small_graphs(auto=True))
def test_random_graphs_auto_staleness(case):
    graph, P = case
    best = optimum(graph, P)
    for backend in BACKENDS:
        res = solve_milp(graph, P, backend=backend, initial=serial(graph, P))
        s = check(res, graph, P, backend)
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
# Built-in networks
# ---------------------------------------------------------------------------
COARSE = {
    "mlp": CostModel(throughput=1e10, time_unit="50us"),
    "lenet5": CostModel(throughput=1e10, time_unit="50us", latency=0),
}


@pytest.mark.parametrize("net", ["mlp", "lenet5"])
@pytest.mark.parametrize("P", [2, 3])
def test_builtin_networks_coarse_costs(net, P):
    graph = build_task_graph(
        get_network(net), "layerpipe", staleness="auto", processors=P, costs=COARSE[net]
    )
    best = optimum(graph, P, limit=5)
    for backend in BACKENDS:
        res = solve_milp(
            graph, P, backend=backend, initial=serial(graph, P), time_limit=60, secondary=None
        )
        check(res, graph, P, backend)
        assert res.status is Status.OPTIMAL
        assert res.period == best
        assert res.network == net and res.decomposition == "layerpipe"


@pytest.mark.parametrize("backend", BACKENDS)
def test_secondary_objective_only_lowers_bytes(backend):
    graph = build_task_graph(
        get_network("mlp"), "layerpipe", staleness="auto", processors=2, costs=COARSE["mlp"]
    )
    plain = solve_milp(graph, 2, backend=backend, secondary=None)
    comm = solve_milp(graph, 2, backend=backend, secondary="comm")
    check(comm, graph, 2, backend)
    assert comm.period == plain.period
    assert comm.stats["comm_bytes"] == comm.schedule.comm_bytes() <= plain.schedule.comm_bytes()
    if comm.stats["comm_minimal"]:
        other = solve_cpsat(graph, 2, workers=1, secondary="comm", time_limit=5)
        if other.period == comm.period:
            assert comm.schedule.comm_bytes() <= other.schedule.comm_bytes()


def test_lenet5_communication_bound_period():
    """Default costs on 2 processors: messages cost more than the whole period."""
    graph = build_task_graph(get_network("lenet5"), "layerpipe", staleness="auto", processors=2)
    best = optimum(graph, 2, limit=2)
    res = solve_milp(graph, 2, time_limit=60)
    check(res, graph, 2, "highs")
    assert res.status is Status.OPTIMAL and res.period == best
    # Nothing pays to split: one processor runs it all, which the co-location
    # bound proves without a solve.
    assert best == graph.total_work == res.lower_bound


# ---------------------------------------------------------------------------
# Honest statuses under short time limits
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hard_instance() -> tuple[TaskGraph, int, int]:
    """lenet5 on 4 processors with default costs: CP-SAT proves it, the MILP needs long."""
    graph = build_task_graph(get_network("lenet5"), "layerpipe", staleness="auto", processors=4)
    return graph, 4, optimum(graph, 4, limit=2)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("limit", [0.3, 1.5])
def test_time_limit_statuses_are_honest(hard_instance, backend, limit):
    graph, P, best = hard_instance
    res = solve_milp(graph, P, backend=backend, time_limit=limit, seed=1)
    s = check(res, graph, P, backend)
    assert res.lower_bound <= best <= s.period
    if res.status is Status.OPTIMAL:
        assert s.period == best
    else:
        assert res.status is Status.FEASIBLE and res.gap > 0


def test_never_worse_than_initial(hard_instance):
    graph, P, _ = hard_instance
    initial = serial(graph, P)
    res = solve_milp(graph, P, initial=initial, time_limit=0.5)
    assert res.period <= initial.period
    assert validate(res.schedule) == []


def test_invalid_initial_is_an_input_error():
    graph = make_graph([("a", 2), ("b", 2)], [("a", "b", 0, 1)])
    bad = Schedule(graph, 1, 3, {"a": 0, "b": 0}, {"a": 0, "b": 1})
    with pytest.raises(InputError, match="initial schedule"):
        solve_milp(graph, 1, initial=bad)


# ---------------------------------------------------------------------------
# Export, quiet stdout, log, input errors
# ---------------------------------------------------------------------------
def small() -> TaskGraph:
    return make_graph(
        [("a", 3), ("b", 2), ("c", 2), ("d", 1)],
        [("a", "b", 0, 1), ("b", "c", 0, 2), ("c", "d", 0, 1), ("d", "a", 2, 1)],
    )


@pytest.mark.parametrize("suffix", [".lp", ".mps"])
def test_export_writes_a_solvable_model(tmp_path, suffix):
    graph = small()
    path = tmp_path / f"model{suffix}"
    res = solve_milp(graph, 2, export=path)
    assert path.exists() and path.stat().st_size > 0
    text = path.read_text()
    assert "x_0_0" in text and "r_0" in text and "k_0" in text
    # The exported model has a solution: it is the model of a feasible period.
    if suffix == ".mps":
        _, prob = pulp.LpProblem.fromMPS(str(path))
        prob.solve(pulp.PULP_CBC_CMD(msg=False))
        assert pulp.LpStatus[prob.status] == "Optimal"
    assert res.stats["model"]["variables"] > 0


def test_export_needs_lp_or_mps(tmp_path):
    with pytest.raises(InputError, match=r"\.lp or \.mps"):
        solve_milp(small(), 2, export=tmp_path / "model.txt")


@pytest.mark.parametrize("backend", BACKENDS)
def test_nothing_on_stdout(capfd, backend):
    graph = small()
    solve_milp(graph, 2, backend=backend, initial=serial(graph, 2), time_limit=10)
    out, _err = capfd.readouterr()
    assert out == ""


def test_nothing_on_stdout_in_a_fresh_process(tmp_path):
    """HiGHS prints a banner when a process creates its first solver object."""
    code = textwrap.dedent(
        """
        from lpsched.graph import make_graph
        from lpsched.solvers.milp import solve_milp
        g = make_graph([("a", 3), ("b", 2), ("c", 2)], [("a", "b", 0, 1), ("c", "a", 1, 1)])
        for backend in ("highs", "cbc"):
            solve_milp(g, 2, backend=backend, export=r"%s")
        """
        % (tmp_path / "m.lp")
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert run.stdout == ""


@pytest.mark.parametrize("backend", BACKENDS)
def test_log_receives_solver_lines(capfd, backend):
    graph = small()
    lines: list[str] = []
    solve_milp(graph, 2, backend=backend, initial=serial(graph, 2), log=lines.append)
    assert capfd.readouterr().out == ""
    assert any(line.startswith(SOLVER_NAME[backend] + ":") for line in lines)
    assert any(line.startswith(f"  {backend}: ") for line in lines)  # the solver's own log


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backend": "gurobi"}, "backend"),
        ({"time_limit": 0}, "time limit"),
        ({"secondary": "speed"}, "secondary"),
    ],
)
def test_input_errors(kwargs, match):
    with pytest.raises(InputError, match=match):
        solve_milp(small(), 2, **kwargs)


def test_processors_must_be_positive():
    with pytest.raises(InputError, match="processors"):
        solve_milp(small(), 0)


# ---------------------------------------------------------------------------
# The models themselves
# ---------------------------------------------------------------------------
def test_model_size_does_not_depend_on_the_period():
    graph = small()
    n, P, E = graph.n, 2, len(graph.edges)
    sizes = [build_model(graph, P, T).size()["variables"] for T in (40, 400, 4000)]
    # x, r, k, and per pair y and o, per edge z: nothing grows with T.
    assert sizes[0] == sizes[1] == sizes[2] <= n * P + 2 * n + n * (n - 1) + E


def test_task_longer_than_the_period_is_trivially_infeasible():
    model = build_model(small(), 2, 2)
    assert model.trivially_infeasible and "a" in model.trivially_infeasible


def test_relaxation_and_restriction_bracket_the_optimum():
    """R(T) feasible for every T >= optimum; S(T, a) of R's assignment a valid schedule."""
    graph = small()
    best = optimum(graph, 2)
    for T in range(max(graph.durations), best + 3):
        full = build_model(graph, 2, T)
        full.prob.solve(pulp.PULP_CBC_CMD(msg=False))
        feasible = pulp.LpStatus[full.prob.status] == "Optimal"
        assert feasible == (T >= best)
        relaxed = build_model(graph, 2, T, variant="relaxed")
        relaxed.prob.solve(pulp.PULP_CBC_CMD(msg=False))
        if feasible:
            assert pulp.LpStatus[relaxed.prob.status] == "Optimal"
    assert math.isfinite(best)


def test_serial_helper_is_valid():
    assert validate(serial(small(), 2)) == []


def test_results_are_reproducible_without_time_limit():
    graph = small()
    a = solve_milp(graph, 2, seed=3, initial=serial(graph, 2))
    b = solve_milp(graph, 2, seed=3, initial=serial(graph, 2))
    assert a.period == b.period and a.schedule.start == b.schedule.start


def test_module_has_no_print_calls():
    source = Path(__file__).parents[1] / "lpsched" / "solvers" / "milp.py"
    assert "print(" not in source.read_text()
