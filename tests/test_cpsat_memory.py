"""CP-SAT with memory capacities (formulations/cpsat.md section 2.8, C26-C29)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform, Processor
from lpsched.problem import Problem
from lpsched.schedule import Schedule, Status
from lpsched.solvers.cpsat import solve_cpsat
from lpsched.validate import check_schedule, memory_footprints, validate
from tests.brute import brute_force_period, tiny_platforms, tiny_weight_graphs

#: Every phase budgeted by CP-SAT's deterministic time, one worker.
DET = {"workers": 1, "deterministic": True, "seed": 0, "secondary": None}
FEW = settings(max_examples=12, deadline=None, derandomize=True)  # brute force: fixed work


def assert_valid(schedule: Schedule) -> None:
    problems = validate(schedule)
    assert not problems, [v.message for v in problems[:5]]
    check_schedule(schedule)


def unlimited(platform: Platform) -> Platform:
    """The platform with every memory unlimited."""
    return replace(platform, processors=tuple(replace(p, memory=None) for p in platform.processors))


def agree_with_brute_force(graph: TaskGraph, plat: Platform, budget: float = 5.0) -> None:
    """CP-SAT's answer against brute force up to the one-processor period.

    ``budget``: CP-SAT's deterministic seconds per solve (what it does not prove in it,
    the asserts below take as ``feasible`` or ``unknown``).
    """
    problem = Problem(graph, plat)
    result = solve_cpsat(problem, time_limit=budget, **DET)
    free = solve_cpsat(Problem(graph, unlimited(plat)), time_limit=budget, **DET)
    assert free.schedule is not None
    if result.schedule is not None:
        assert_valid(result.schedule)
        # a memory never buys a shorter period
        if free.status is Status.OPTIMAL:
            assert result.schedule.period >= free.schedule.period
    limit = result.period if result.schedule is not None else 2 * free.schedule.period + 2
    brute = brute_force_period(graph, plat, limit)
    if result.status is Status.OPTIMAL:
        assert brute == result.period
    elif result.status is Status.INFEASIBLE:
        assert brute is None
    elif result.schedule is not None:
        assert brute is not None and brute <= result.period
        assert result.lower_bound <= brute


@FEW
@given(tiny_weight_graphs(max_tasks=3), tiny_platforms(max_procs=2, memory=True))
def test_memory_matches_brute_force(graph: TaskGraph, plat: Platform) -> None:
    agree_with_brute_force(graph, plat)


def test_memory_on_ports_is_valid_and_never_shorter() -> None:
    # Ports with memory (the brute force of random cases is too slow for the suite: it
    # places every transfer): the stash loop on two processors at a memory that binds.
    graph = stash_graph(2)
    base = replace(Platform.default(2), intra=Link(1e6, 0.0), inter=Link(1e6, 0.0))
    free = solve_cpsat(Problem(graph, base), time_limit=2.0, **DET)
    need = max(memory_footprints(free.schedule))
    tight = replace(base, processors=tuple(Processor(1.0, need - 1) for _ in range(2)))
    result = solve_cpsat(Problem(graph, tight), time_limit=2.0, **DET)
    if result.schedule is not None:
        assert_valid(result.schedule)
        assert max(memory_footprints(result.schedule)) <= need - 1
        assert result.period >= free.lower_bound


def stash_graph(cap: int) -> TaskGraph:
    """A layer whose forward, backward and update lie on one loop: F -> B -> U -> F (weights).

    With the weights read at staleness ``s`` the loop may span ``s`` periods;
    each period of the lifetime ``F .. U`` and every weight version costs memory.
    """
    tasks = (Task("F", 4), Task("B", 4), Task("U", 1))
    edges = (
        Edge("F", "B", 0, None, 4, tensor="act"),
        Edge("B", "U", 0, None, 4, tensor="grad"),
        Edge("U", "F", cap, None, 8, "L0", "w:L0"),
        Edge("U", "B", cap, None, 8, "L0", "w:L0"),
    )
    return TaskGraph(tasks, edges, time_unit="1us", staleness_cap=cap)


def test_memory_forces_a_longer_period() -> None:
    graph = stash_graph(3)
    plat = Platform(
        tuple(Processor(1.0, None, 0) for _ in range(3)), Link(1e12, 0.0), Link(1e12, 0.0)
    )
    free = solve_cpsat(Problem(graph, plat), time_limit=5.0, **DET)
    assert free.status is Status.OPTIMAL and free.schedule is not None
    most = max(memory_footprints(free.schedule))
    tight = replace(plat, processors=tuple(replace(p, memory=most - 1) for p in plat.processors))
    result = solve_cpsat(Problem(graph, tight), time_limit=5.0, **DET)
    assert result.schedule is not None
    assert_valid(result.schedule)
    assert max(memory_footprints(result.schedule)) <= most - 1
    assert result.schedule.period > free.schedule.period
    brute = brute_force_period(graph, tight, result.schedule.period)
    assert brute is not None and result.lower_bound <= brute <= result.schedule.period
    if result.status is Status.OPTIMAL:
        assert brute == result.schedule.period


def test_weights_that_fit_nowhere_are_infeasible() -> None:
    graph = stash_graph(1)
    plat = Platform((Processor(1.0, 10, 0), Processor(1.0, 10, 0)), Link(1e6, 0.0), Link(1e6, 0.0))
    result = solve_cpsat(Problem(graph, plat), time_limit=5.0, **DET)
    assert result.schedule is None
    assert result.status in (Status.INFEASIBLE, Status.UNKNOWN)
    assert brute_force_period(graph, plat, 12) is None


@settings(max_examples=5, deadline=None, derandomize=True)
@given(st.sampled_from(["delay", "ports"]))
def test_every_schedule_fits(capacity: str) -> None:
    graph = stash_graph(2)
    procs = tuple(Processor(1.0, 40, 0) for _ in range(2))
    plat = Platform(procs, Link(4e6, 0.0), Link(4e6, 0.0), capacity=capacity)
    result = solve_cpsat(Problem(graph, plat), time_limit=5.0, **DET)
    assert result.schedule is not None
    assert_valid(result.schedule)
