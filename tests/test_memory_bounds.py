"""Memory bounds (B12)-(B16) against brute force, and the brute force's memory (P8)."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched.bounds import memory_bound, memory_infeasible, memory_model
from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform, Processor
from lpsched.problem import Problem
from lpsched.validate import check_schedule, memory_footprints
from tests.brute import (
    brute_footprints,
    brute_force_period,
    brute_force_schedule,
    tiny_byte_graphs,
    tiny_platforms,
    tiny_weight_graphs,
)

FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    derandomize=True,
)


def _platform(memories: list[float | None], optimizer: float = 0.0) -> Platform:
    procs = tuple(Processor(1.0, m, 0) for m in memories)
    return Platform(procs, Link(1e6, 0.0), Link(0.5e6, 0.0), optimizer_state=optimizer)


def _loop(staleness_cap: int | None = 2) -> TaskGraph:
    """F -> U (gradient, 1 B) and U -> F (weights, 1 B) at the cap: a layer's loop."""
    edges = (
        Edge("F", "U", 0, None, 1, tensor="dW:L"),
        Edge("U", "F", staleness_cap or 1, None, 1, "L", "w:L"),
    )
    tasks = (Task("F", 2), Task("U", 2))
    return TaskGraph(tasks, edges, time_unit="1us", staleness_cap=staleness_cap)


def test_brute_footprint_is_the_validators() -> None:
    """The brute force's witness fits, and its own recount equals the validator's."""
    schedule = brute_force_schedule(_loop(), _platform([3.0], optimizer=1.0))
    assert schedule is not None
    check_schedule(schedule)
    index = {t.name: i for i, t in enumerate(schedule.graph.tasks)}
    proc = [schedule.processor[t.name] for t in schedule.graph.tasks]
    start = [schedule.start[t.name] for t in schedule.graph.tasks]
    distance = {i: e.distance for i, e in enumerate(schedule.graph.edges)}
    mine = brute_footprints(
        schedule.graph, schedule.platform, schedule.period, proc, start, distance, {}
    )
    assert mine == memory_footprints(schedule)
    assert index  # the graph is the one scheduled


def test_memory_forces_less_staleness_and_a_longer_period() -> None:
    """With the cap 3 the loop overlaps iterations; 2 B per processor forbid the stash."""
    graph = _loop(3)
    free = brute_force_period(graph, _platform([None, None]))
    tight = _platform([2.0, 2.0])
    best = brute_force_period(graph, tight)
    assert free is not None and best is not None and best > free
    bounds = Problem(graph, tight).bounds
    assert bounds.memory_infeasible is None
    assert 0 < bounds.memory_bound <= bounds.lower_bound <= best


def test_fixed_staleness_stash_is_infeasible() -> None:
    """Staleness 4 fixed: the loop keeps 4 + ceil(4 / T) >= 5 copies of 1 B (B13); 4 B in all."""
    graph = dataclasses.replace(
        _loop(None),
        edges=(_loop(None).edges[0], dataclasses.replace(_loop(None).edges[1], distance=4)),
    )
    platform = _platform([2.0, 2.0])
    reason = Problem(graph, platform).bounds.memory_infeasible
    assert reason is not None and "5 B" in reason
    assert brute_force_period(graph, platform) is None
    roomy = _platform([5.0, 5.0])
    assert Problem(graph, roomy).bounds.memory_infeasible is None
    assert brute_force_period(graph, roomy) is not None


def test_weights_and_optimizer_state_that_fit_nowhere_are_infeasible() -> None:
    graph = _loop(None)
    platform = _platform([2.0, 2.0], optimizer=2.0)  # U holds 1 B of weights + 2 B of state
    reason = Problem(graph, platform).bounds.memory_infeasible
    assert reason is not None and "U" in reason and "3 B" in reason.replace(".0", "")
    assert brute_force_period(graph, platform) is None
    # U also reads its 1 B gradient while it runs (B20): 4 B at least.
    three = _platform([2.0, 3.0], optimizer=2.0)
    reason = memory_infeasible(Problem(graph, three))
    assert reason is not None and "task U" in reason and "4 B" in reason.replace(".0", "")
    assert brute_force_period(graph, three) is None
    assert memory_infeasible(Problem(graph, _platform([2.0, 4.0], optimizer=2.0))) is None
    assert brute_force_period(graph, _platform([2.0, 4.0], optimizer=2.0)) is not None


def _chain(nbytes: int = 3) -> TaskGraph:
    """A -> B -> C, each edge ``nbytes``: B holds what it reads and what it makes at once."""
    edges = (Edge("A", "B", 0, None, nbytes), Edge("B", "C", 0, None, nbytes))
    tasks = (Task("A", 1), Task("B", 1), Task("C", 1))
    return TaskGraph(tasks, edges, time_unit="1us")


def test_a_reader_holds_its_inputs_and_outputs_b20() -> None:
    """(B20): B's 3 B input and 3 B output share its processor; 5 B each is proven too little."""
    graph = _chain()
    tight = _platform([5.0, 5.0])
    model = memory_model(Problem(graph, tight))
    assert model is not None and model.hold == (6.0, "B") and model.items[0][0] == 3.0
    reason = memory_infeasible(Problem(graph, tight))
    assert reason is not None and "task B" in reason and "6 B" in reason.replace(".0", "")
    assert brute_force_period(graph, tight) is None
    roomy = _platform([6.0, 6.0])
    assert memory_infeasible(Problem(graph, roomy)) is None
    assert brute_force_period(graph, roomy) is not None


def test_unlimited_memory_changes_nothing() -> None:
    problem = Problem(_loop(), _platform([None, None]))
    assert memory_model(problem) is None
    assert problem.bounds.memory_bound == 0 and problem.bounds.memory_infeasible is None
    assert memory_bound(problem, 1) == 0


@FAST
@given(tiny_weight_graphs(max_tasks=4), tiny_platforms(max_procs=2, memory=True))
def test_bounds_below_brute_force_delay(graph: TaskGraph, platform: Platform) -> None:
    _against_brute_force(graph, platform)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    derandomize=True,
)
@given(tiny_weight_graphs(max_tasks=3), tiny_platforms(max_procs=2, capacity="ports", memory=True))
def test_bounds_below_brute_force_ports(graph: TaskGraph, platform: Platform) -> None:
    _against_brute_force(graph, platform)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    derandomize=True,
)
@given(tiny_byte_graphs(max_tasks=3), tiny_platforms(max_procs=2, memory=True), st.booleans())
def test_bounds_below_brute_force_fixed(graph: TaskGraph, platform: Platform, adam: bool) -> None:
    """Fixed distances (no cap): staleness is not a choice, stashing is forced."""
    _against_brute_force(graph, dataclasses.replace(platform, optimizer_state=2.0 * adam))


def _against_brute_force(graph: TaskGraph, platform: Platform) -> None:
    bounds = Problem(graph, platform).bounds
    schedule = brute_force_schedule(graph, platform)
    if schedule is None:
        return
    check_schedule(schedule)  # it fits: the validator checks (P8)
    assert bounds.memory_infeasible is None, bounds.memory_infeasible
    assert bounds.lower_bound <= schedule.period
    model = memory_model(Problem(graph, platform))
    if model is not None:
        assert model.least_footprint(schedule.period) <= sum(memory_footprints(schedule)) + 1e-9
