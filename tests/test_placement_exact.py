"""CP-SAT and the MILP under placements ``layer`` and ``stages`` (C30, C31; M35, M36).

The reference is ``tests/brute.py``'s brute force (:func:`placed_brute`): it
enumerates the assignments that keep the placement, by its own reading of the
rules (units by layer in first-appearance order, each processor's units one
interval), and the start offsets of each, with the stages by a longest-path
test; its reading of the rules is checked here against CP-SAT's.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched.errors import InputError
from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform, Processor
from lpsched.problem import Problem
from lpsched.schedule import Status
from lpsched.solve import solve
from lpsched.solvers import cpsat_placement
from lpsched.solvers.cpsat import solve_cpsat
from lpsched.solvers.milp import run_milp
from lpsched.solvers.milp_backend import FEASIBLE, INFEASIBLE, solve_model
from lpsched.solvers.milp_model import build_model, extract
from lpsched.solvers.registry import Options
from lpsched.solvers.toolkit import one_processor
from lpsched.validate import validate
from tests.brute import brute_force_period, keeps, tiny_layered_graphs, tiny_platforms
from tests.platforms import delay

FEW = settings(
    max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
DET = {"deterministic": True, "workers": 1, "time_limit": 20}


# ------------------------------------------------------------------ brute force
def placed_brute(graph: TaskGraph, P: int, placement: str) -> int:
    """The least period on ``P`` identical processors (links as delays) under ``placement``.

    ``tests/brute.py``'s enumeration, which keeps only the assignments that keep
    the placement by its own reading of the rules (``keeps``, checked against
    :func:`lpsched.solvers.cpsat_placement.kept` below).
    """
    period = brute_force_period(graph, delay(P), placement=placement)
    assert period is not None  # (no memory limit: one processor always fits)
    return period


# ------------------------------------------------------------------ instances
def _solve(graph: TaskGraph, platform: Platform | int, solver: str, placement: str):
    extra = DET if solver == "cpsat" else {"time_limit": 30}
    result = solve(graph, platform, solver, placement=placement, **extra)
    assert result.schedule is not None
    assert result.schedule.placement == placement
    assert not validate(result.schedule), validate(result.schedule)[:3]
    return result


# ------------------------------------------------------------------ the tests
@FEW
@given(tiny_layered_graphs(), st.integers(2, 3))
def test_exact_solvers_agree_with_brute_force(graph: TaskGraph, P: int) -> None:
    """CP-SAT = MILP (HiGHS) = brute force under layer and stages; free <= layer <= stages."""
    platform = delay(P)
    periods = [placed_brute(graph, P, "free")]
    for placement in ("layer", "stages"):
        want = placed_brute(graph, P, placement)
        for solver in ("cpsat", "milp"):
            result = _solve(graph, platform, solver, placement)
            assert result.status == Status.OPTIMAL, (placement, solver)
            assert result.schedule.period == want, (placement, solver)
            assert result.lower_bound <= want
        _models_decide(Problem(graph, platform, placement), want)
        periods.append(want)
    assert periods == sorted(periods)


@FEW
@given(tiny_layered_graphs(max_tasks=4), tiny_platforms())
def test_cpsat_equals_milp_on_other_platforms(graph: TaskGraph, platform: Platform) -> None:
    """Speeds 0.5..2 and two nodes: the two models agree under layer and stages, both proven."""
    for placement in ("layer", "stages"):
        a = _solve(graph, platform, "cpsat", placement)
        b = _solve(graph, platform, "milp", placement)
        assert a.status == b.status == Status.OPTIMAL, placement
        assert a.schedule.period == b.schedule.period, placement
        bound = Problem(graph, platform, placement).bounds
        assert bound.lower_bound <= a.schedule.period


def _models_decide(problem: Problem, want: int) -> None:
    """The models themselves, without the bounds: each finds ``want`` and refutes ``want - 1``.

    CP-SAT from the bound 1 (its own packing relaxation and models prove the
    period); the MILP at both periods directly.
    """
    result = solve_cpsat(problem, lower_bound=1, **DET)
    assert result.status == Status.OPTIMAL and result.schedule.period == want
    assert not validate(result.schedule)
    for T, expected in ((want, FEASIBLE), (want - 1, INFEASIBLE)):
        if T < max(problem.min_durations):
            continue
        model = build_model(problem, T)
        outcome = (
            INFEASIBLE
            if model.trivially_infeasible
            else solve_model(model, "highs", 20, 0, None, warm_start=False)
        )
        assert outcome == expected, (problem.placement, T)
        if outcome == FEASIBLE:
            assert not validate(extract(model))


def chain(durations: list[int], comm: int = 0) -> TaskGraph:
    """One task per layer ``l0, l1, ...`` in a loop: ``t_i -> t_{i+1}`` and back, distance 2."""
    n = len(durations)
    tasks = tuple(Task(f"t{i}", dur, f"l{i}") for i, dur in enumerate(durations))
    edges = [Edge(f"t{i}", f"t{i + 1}", 0, comm) for i in range(n - 1)]
    edges.append(Edge(f"t{n - 1}", "t0", 2, comm))
    return TaskGraph(tasks, tuple(edges))


def forward_backward(durations: list[int], comm: int = 0) -> TaskGraph:
    """Layer ``l_i`` holds ``f_i`` and ``b_i``: ``f`` forward, ``b`` back, ``b_i -> f_i`` at 2."""
    n = len(durations)
    tasks = [Task(f"f{i}", dur, f"l{i}") for i, dur in enumerate(durations)]
    tasks += [Task(f"b{i}", dur, f"l{i}") for i, dur in enumerate(durations)]
    edges = [Edge(f"f{i}", f"f{i + 1}", 0, comm) for i in range(n - 1)]
    edges.append(Edge(f"f{n - 1}", f"b{n - 1}", 0, comm))
    edges += [Edge(f"b{i + 1}", f"b{i}", 0, comm) for i in range(n - 1)]
    edges += [Edge(f"b{i}", f"f{i}", 2, comm) for i in range(n)]
    return TaskGraph(tuple(tasks), tuple(edges))


def test_stages_cost_more_than_layers_when_contiguity_decides() -> None:
    """Layers 3,3,1,1 on 2 processors: {3,1},{3,1} packs in 4, contiguous stages need 5."""
    graph = TaskGraph(tuple(Task(f"t{i}", dur, f"l{i}") for i, dur in enumerate([3, 3, 1, 1])), ())
    for solver in ("cpsat", "milp"):
        assert _solve(graph, delay(2), solver, "layer").schedule.period == 4
        result = _solve(graph, delay(2), solver, "stages")
        assert result.schedule.period == 5 and result.status == Status.OPTIMAL
    assert placed_brute(graph, 2, "stages") == 5


def test_a_layer_split_by_the_free_optimum_is_kept_whole() -> None:
    """A layer of two 2-unit tasks among 1-unit ones: free splits it, layer cannot."""
    tasks = (Task("a", 2, "L"), Task("b", 2, "L"), Task("c", 1, "M"), Task("e", 1, "N"))
    graph = TaskGraph(tasks, ())
    assert placed_brute(graph, 3, "free") == 2
    for solver in ("cpsat", "milp"):
        result = _solve(graph, delay(3), solver, "layer")
        assert result.schedule.period == 4
        proc = result.schedule.processor
        assert proc["a"] == proc["b"]


def test_ports_case_agrees() -> None:
    """Under ports (tensors that busy the link ports): CP-SAT = MILP, and the bounds below."""
    tasks = (
        Task("f1", 2, "L1"),
        Task("f2", 2, "L2"),
        Task("b2", 2, "L2"),
        Task("b1", 2, "L1"),
    )
    edges = (
        Edge("f1", "f2", 0, None, 2),
        Edge("f2", "b2", 0, None, 2),
        Edge("b2", "b1", 0, None, 2),
        Edge("b1", "f1", 2, None, 1),
    )
    graph = TaskGraph(tasks, edges, time_unit="1us")
    platform = Platform(tuple(Processor() for _ in range(2)), Link(1e6, 0.0), Link(1e6, 0.0))
    assert platform.capacity == "ports"
    for placement in ("layer", "stages"):
        a = _solve(graph, platform, "cpsat", placement)
        b = _solve(graph, platform, "milp", placement)
        assert a.status == b.status == Status.OPTIMAL
        assert a.schedule.period == b.schedule.period
        assert Problem(graph, platform, placement).lower_bound <= a.schedule.period
        free = _solve(graph, platform, "cpsat", "free")
        assert free.schedule.period <= a.schedule.period


def memory_case() -> tuple[TaskGraph, Platform]:
    """Two layers, forward and backward, on 2 processors of 40 bytes, links as delays."""
    tasks = (Task("f1", 2, "L1"), Task("f2", 3, "L2"), Task("b2", 3, "L2"), Task("b1", 2, "L1"))
    edges = (
        Edge("f1", "f2", 0, 1, 4),
        Edge("f2", "b2", 0, 1, 4),
        Edge("b2", "b1", 0, 1, 4),
        Edge("b1", "f1", 3, 1, 2),
    )
    graph = TaskGraph(tasks, edges, time_unit="1us")
    procs = tuple(Processor(1.0, 40.0) for _ in range(2))
    return graph, delay(Platform(procs, Link(1e6, 0.0), Link(1e6, 0.0)))


def test_memory_case_agrees() -> None:
    """With a memory capacity: CP-SAT = MILP under layer, and every schedule fits."""
    graph, platform = memory_case()
    a = _solve(graph, platform, "cpsat", "layer")
    b = _solve(graph, platform, "milp", "layer")
    assert a.status == b.status == Status.OPTIMAL
    assert a.schedule.period == b.schedule.period
    assert Problem(graph, platform, "layer").lower_bound <= a.schedule.period


def test_kept_reads_the_rules() -> None:
    graph = chain([1, 1, 1, 1])
    stages = Problem(graph, 3, "stages")
    layer = Problem(graph, 3, "layer")
    assert cpsat_placement.kept(stages, [0, 0, 1, 2])
    assert not cpsat_placement.kept(stages, [0, 1, 0, 2])  # processor 0 holds two intervals
    assert cpsat_placement.kept(layer, [0, 1, 0, 2])
    split = Problem(TaskGraph((Task("a", 1, "L"), Task("b", 1, "L")), ()), 2, "layer")
    assert not cpsat_placement.kept(split, [0, 1])
    assert cpsat_placement.kept(Problem(graph, 3), [0, 1, 0, 2])


@FEW
@given(tiny_layered_graphs(max_tasks=4), st.integers(2, 3))
def test_kept_and_the_brute_force_read_the_rules_alike(graph: TaskGraph, P: int) -> None:
    """CP-SAT's test (C30, C31) and ``tests/brute.py``'s agree on every assignment."""
    for placement in ("free", "layer", "stages"):
        problem = Problem(graph, P, placement)
        verdicts = set()
        for proc in itertools.product(range(P), repeat=graph.n):
            mine = cpsat_placement.kept(problem, list(proc))
            # (brute.py's keeps reads layer and stages; free keeps everything)
            theirs = placement == "free" or keeps(graph, list(proc), placement)
            assert mine == theirs, (placement, proc)
            verdicts.add(mine)
        # (something to refuse: a layer of two tasks, or under stages three units: a, b, a)
        shared = any(len(u) > 1 for u in problem.units)
        refusable = shared or (placement == "stages" and len(problem.units) > 2)
        assert (False in verdicts) == (placement != "free" and refusable)


def test_a_warm_start_that_breaks_the_placement_is_dropped() -> None:
    """CP-SAT ignores an initial schedule that breaks the placement; the MILP refuses it."""
    tasks = tuple(Task(f"t{i}", dur, f"l{i}") for i, dur in enumerate([2, 1, 1, 2]))
    graph = TaskGraph(tasks, tuple(Edge(f"t{i}", f"t{i + 1}") for i in range(3)))
    problem = Problem(graph, delay(2), "stages")
    # valid under free (two processors, period 3), but processor 0 holds l0 and l2
    bad = replace(
        one_processor(problem),
        processor={"t0": 0, "t1": 1, "t2": 0, "t3": 1},
        start={"t0": 0, "t1": 2, "t2": 5, "t3": 6},
        period=3,
    )
    assert not validate(replace(bad, placement="free"))
    assert validate(replace(bad, placement="stages"))
    result = solve_cpsat(problem, initial=bad, **DET)
    assert not validate(replace(result.schedule, placement="stages"))
    proc = [result.schedule.processor[t.name] for t in graph.tasks]
    assert result.schedule.placement == "stages" and cpsat_placement.kept(problem, proc)
    assert result.schedule.period == placed_brute(graph, 2, "stages") == 3  # [2, 1 | 1, 2]
    with pytest.raises(InputError, match="placement"):
        run_milp(problem, Options(initial=bad, time_limit=10))


def test_stage_layout_when_no_heuristic_helps() -> None:
    """When the heuristic keeps nothing of ``stages``, CP-SAT times the greedy contiguous layout.

    On a uniform platform CP-SAT's heuristic phase schedules the graph without
    the placement; on this forward-backward chain that schedule splits layers,
    so it is dropped and the stage layout finds the optimum.
    """
    graph = chain([2, 2, 1, 3, 1, 2], comm=1)
    problem = Problem(graph, delay(3), "stages")
    assert cpsat_placement.stage_layout(problem, [2, 2, 1, 3, 1, 2], 4) == [0, 0, 1, 1, 2, 2]
    assert cpsat_placement.stage_layout(problem, [2, 2, 1, 3, 1, 2], 3) is None
    graph = forward_backward([2, 1, 2], comm=1)
    result = solve_cpsat(Problem(graph, delay(3), "stages"), lower_bound=1, secondary=None, **DET)
    assert not validate(result.schedule) and result.status == Status.OPTIMAL
    steps = [s for s in result.stats["steps"] if s["phase"] in ("heuristic", "stage layout")]
    assert [(s["phase"], s["outcome"]) for s in steps] == [
        ("heuristic", "feasible"),
        ("stage layout", "optimal"),  # (it found the schedule)
    ]
    assert result.schedule.period == placed_brute(graph, 3, "stages")
