"""The placement bounds (B17)-(B19): unit, unit packing, contiguous partition (stage).

Each must stay at or below the least period of the placement, which the
brute force of ``tests/test_placement_exact.py`` gives on tiny graphs, and
the contiguous-partition bound must be exact on its own problem (checked
against every partition) and tight where contiguity decides.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.bounds import partition_bound, unit_bound
from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform, Processor
from lpsched.problem import Problem
from lpsched.schedule import Status
from lpsched.solve import solve
from tests.brute import tiny_layered_graphs
from tests.platforms import delay
from tests.test_placement_exact import memory_case, placed_brute

FEW = settings(max_examples=12, deadline=None, derandomize=True)
DET = {"deterministic": True, "workers": 1, "time_limit": 20}


def _best_partition(weights: list[int], P: int) -> int:
    """The least largest interval sum over every cut of ``weights`` into at most ``P`` intervals."""
    n = len(weights)
    best = sum(weights)
    for k in range(min(P, n)):
        for cuts in itertools.combinations(range(1, n), k):
            bounds = [0, *cuts, n]
            best = min(best, max(sum(weights[a:b]) for a, b in itertools.pairwise(bounds)))
    return best


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=7), st.integers(1, 4))
def test_partition_bound_is_the_best_contiguous_partition(weights: list[int], P: int) -> None:
    assert partition_bound(weights, P) == _best_partition(weights, P)


@FEW
@given(tiny_layered_graphs(), st.integers(2, 3))
def test_placement_bounds_never_exceed_the_least_period(graph: TaskGraph, P: int) -> None:
    """Every bound, the new ones included, is at most the brute-force period of its placement."""
    for placement in ("free", "layer", "stages"):
        best = placed_brute(graph, P, placement)
        b = Problem(graph, delay(P), placement).bounds
        assert b.placement == placement
        assert max(b.unit_bound, b.unit_packing_bound, b.stage_bound, b.lower_bound) <= best
        if placement == "free":
            assert b.unit_bound == b.unit_packing_bound == b.stage_bound == 0
        else:
            assert b.unit_bound >= max(
                sum(graph.tasks[v].duration for v in u) for u in _units(graph)
            )
        if placement != "stages":
            assert b.stage_bound == 0


def _units(graph: TaskGraph) -> list[list[int]]:
    keys: dict[str, list[int]] = {}
    for v, t in enumerate(graph.tasks):
        keys.setdefault(t.layer or f"#{t.name}", []).append(v)
    return list(keys.values())


def test_stage_bound_is_tight_where_contiguity_decides() -> None:
    """Layers 3, 3, 1, 1 on 2 processors: every other bound says 4; stages need 5."""
    graph = TaskGraph(tuple(Task(f"t{i}", d, f"l{i}") for i, d in enumerate([3, 3, 1, 1])), ())
    free = Problem(graph, delay(2)).bounds
    stages = Problem(graph, delay(2), "stages").bounds
    assert free.lower_bound == 4
    assert stages.stage_bound == stages.lower_bound == 5
    assert stages.binding == ["stage bound"]
    result = solve(graph, delay(2), "cpsat", placement="stages", **DET)
    assert result.schedule.period == 5 and result.status == Status.OPTIMAL
    assert placed_brute(graph, 2, "stages") == 5
    layer = Problem(graph, delay(2), "layer").bounds
    assert layer.stage_bound == 0 and layer.lower_bound == 4


def test_stage_bound_merges_the_units_a_forced_pair_spans() -> None:
    """A loop l0 -> l3 whose message cannot cross keeps l0..l3 on one processor: T >= 8.

    Without the co-location the partition alone says 4 (l0, l1 | l2, l3).
    """
    tasks = tuple(Task(f"t{i}", 2, f"l{i}") for i in range(4))
    edges = (Edge("t0", "t3", 0, 50), Edge("t3", "t0", 1, 50))
    graph = TaskGraph(tasks, edges)
    assert partition_bound([2, 2, 2, 2], 2) == 4
    b = Problem(graph, delay(2), "stages").bounds
    assert b.stage_bound == 8 == placed_brute(graph, 2, "stages")
    assert (
        Problem(graph, delay(2), "layer").bounds.lower_bound == 4 == placed_brute(graph, 2, "layer")
    )


def test_unit_bound_takes_the_fastest_processor() -> None:
    """A layer of two 4-unit tasks: 8 on speed 1, 4 on speed 2; the bound is 4 and tight."""
    tasks = (Task("a", 4, "L"), Task("b", 4, "L"), Task("c", 1, "M"))
    graph = TaskGraph(tasks, ())
    platform = delay(Platform((Processor(1.0), Processor(2.0)), Link(1e9, 0.0), Link(1e9, 0.0)))
    problem = Problem(graph, platform, "layer")
    assert unit_bound(problem.durations, problem.units) == 4
    assert problem.bounds.unit_bound == 4
    result = solve(graph, platform, "cpsat", placement="layer", **DET)
    assert result.schedule.period == 4 and result.status == Status.OPTIMAL


def test_port_bound_under_layer_sees_that_units_cannot_split() -> None:
    """A tensor of 6 units from layer A to layer B: free keeps it local, layer must send it.

    Free: {a1, b1} and {a2, b2} on two processors, nothing crosses, T = 4.
    Layer: A and B apart (together 8), the transfer busies a port 6 units: T >= 6.
    """
    tasks = (Task("a1", 2, "A"), Task("a2", 2, "A"), Task("b1", 2, "B"), Task("b2", 2, "B"))
    graph = TaskGraph(tasks, (Edge("a1", "b1", 0, None, 6),), time_unit="1us")
    platform = Platform(tuple(Processor() for _ in range(2)), Link(1e6, 0.0), Link(1e6, 0.0))
    free = Problem(graph, platform).bounds
    layer = Problem(graph, platform, "layer").bounds
    assert free.lower_bound == 4
    assert layer.port_bound >= 6 and layer.lower_bound >= 6
    for solver in ("cpsat", "milp"):
        extra = DET if solver == "cpsat" else {"time_limit": 20}
        got = solve(graph, platform, solver, placement="layer", **extra)
        assert got.status == Status.OPTIMAL and got.schedule.period >= layer.lower_bound
    assert solve(graph, platform, "cpsat", **DET).schedule.period == 4


def test_memory_case_bounds_stay_below_the_optimum() -> None:
    """With memories: the placement bounds and the memory bound together stay below CP-SAT's."""
    graph, platform = memory_case()
    for placement in ("layer", "stages"):
        b = Problem(graph, platform, placement).bounds
        got = solve(graph, platform, "cpsat", placement=placement, **DET)
        assert got.status == Status.OPTIMAL
        assert b.lower_bound <= got.schedule.period
        assert b.unit_bound == 6  # (L2: 3 + 3)


def test_bounds_report_names_the_new_bounds() -> None:
    graph = TaskGraph(tuple(Task(f"t{i}", d, f"l{i}") for i, d in enumerate([3, 3, 1, 1])), ())
    b = Problem(graph, delay(2), "stages").bounds
    text = b.summary()
    assert "stage bound     5" in text and "unit bound      3" in text
    assert "unit packing" in text
    data = b.to_dict()
    assert data["stage_bound"] == 5 and data["placement"] == "stages"
    assert data["unit_bound"] == 3 and data["unit_packing_bound"] == 4
    assert "stage bound" not in Problem(graph, delay(2)).bounds.summary()
