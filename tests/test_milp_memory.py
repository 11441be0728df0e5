"""The MILP under memory capacities, (M29)-(M34) of formulations/milp.md: exact, and unchanged
without them."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform
from lpsched.problem import Problem
from lpsched.schedule import Status
from lpsched.solvers.milp import run_milp
from lpsched.solvers.milp_model import build_model
from lpsched.solvers.registry import Options
from lpsched.validate import check_schedule, memory_footprints

from .brute import brute_force_period, tiny_platforms, tiny_weight_graphs
from .platforms import delay

FAST = Options(time_limit=20, secondary=None)


def _solve(problem: Problem, backend: str):
    result = run_milp(problem, FAST, backend)
    if result.schedule is not None:
        check_schedule(result.schedule)  # checks (P8) too
    return result


def _unbounded(platform: Platform) -> Platform:
    procs = tuple(dataclasses.replace(p, memory=None) for p in platform.processors)
    return dataclasses.replace(platform, processors=procs)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(st.data())
def test_equals_brute_force_with_memory(data: st.DataObject) -> None:
    """HiGHS and CBC agree with brute force on tiny weight graphs with memories."""
    capacity = data.draw(st.sampled_from(["delay", "ports"]))
    graph = data.draw(tiny_weight_graphs(max_tasks=3))
    platform = data.draw(tiny_platforms(max_procs=2, capacity=capacity, memory=True))
    problem = Problem(graph, platform)
    periods = []
    for backend in ("highs", "cbc"):
        result = _solve(problem, backend)
        assert result.status in (Status.OPTIMAL, Status.INFEASIBLE, Status.UNKNOWN)
        periods.append(result.period)
    assert periods[0] == periods[1]
    if periods[0] is None:
        assert brute_force_period(graph, platform) is None
    else:
        assert brute_force_period(graph, platform, limit=periods[0]) == periods[0]


def _stash_chain() -> TaskGraph:
    """F -> B -> U with weights U -> F at the cap: a stash of ``w`` copies of 4 bytes."""
    tasks = (Task("F", 2), Task("B", 2), Task("U", 1))
    edges = (
        Edge("F", "B", 0, None, 1, None, "a"),
        Edge("B", "U", 0, None, 1, None, "g"),
        Edge("U", "F", 2, None, 4, "L", "w:L"),
        Edge("U", "B", 2, None, 4, "L", "w:L"),
    )
    return TaskGraph(tasks, edges, time_unit="1us", staleness_cap=2)


def test_memory_forces_a_larger_period() -> None:
    """Two processors, free links: the loop F -> B -> U -> F (5 units, staleness <= 2) fits
    T = 4 with two weight versions; 8 bytes per processor cannot hold them with the other
    tensors, so the period must grow (brute force confirms both periods)."""
    graph = _stash_chain()
    free = dataclasses.replace(
        delay(2), intra=Link(1e12, 0.0), inter=Link(1e12, 0.0)
    )  # the hand count is the delay model's
    base = _solve(Problem(graph, free), "highs")
    assert base.period == brute_force_period(graph, free)
    tight = dataclasses.replace(
        free, processors=tuple(dataclasses.replace(p, memory=8) for p in free.processors)
    )
    for backend in ("highs", "cbc"):
        result = _solve(Problem(graph, tight), backend)
        assert result.status == Status.OPTIMAL
        assert result.period > base.period
        assert max(memory_footprints(result.schedule)) <= 8
        assert result.period == brute_force_period(graph, tight, limit=result.period)


def test_proven_infeasible_by_the_bounds() -> None:
    """Weights of 4 bytes cannot fit a memory of 3 at any period: ``infeasible``, no schedule."""
    graph = _stash_chain()
    plat = Platform.default(1)
    plat = dataclasses.replace(
        plat, processors=(dataclasses.replace(plat.processors[0], memory=3),)
    )
    result = run_milp(Problem(graph, plat), FAST, "highs")
    assert result.schedule is None
    assert result.status == Status.INFEASIBLE


def test_no_memory_rows_without_a_capacity() -> None:
    """Under unlimited memory the model has no copies; with a capacity it has."""
    graph = _stash_chain()
    plat = Platform.default(2)
    bounded = dataclasses.replace(
        plat, processors=tuple(dataclasses.replace(p, memory=100) for p in plat.processors)
    )
    for variant in ("full", "relaxed"):
        free = build_model(Problem(graph, plat), 5, variant=variant)
        assert free.memory is None
        assert not any(c.startswith("mem_") for c in free.prob.constraints)
        held = build_model(Problem(graph, bounded), 5, variant=variant)
        assert held.memory is not None and held.memory.copies
        assert {f"mem_{p}" for p in range(2)} <= set(held.prob.constraints)


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_generous_memory_changes_no_period(data: st.DataObject) -> None:
    """A memory larger than any footprint leaves the optimal period as without it."""
    graph = data.draw(tiny_weight_graphs(max_tasks=3))
    platform = _unbounded(data.draw(tiny_platforms(max_procs=2)))
    free = _solve(Problem(graph, platform), "highs")
    big = dataclasses.replace(
        platform,
        processors=tuple(dataclasses.replace(p, memory=10**6) for p in platform.processors),
    )
    held = _solve(Problem(graph, big), "highs")
    assert free.status == held.status == Status.OPTIMAL
    assert free.period == held.period
