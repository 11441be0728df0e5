"""The one entry point: validation, statuses, least staleness, timing."""

from __future__ import annotations

import pytest

from lpsched import InputError, Status, build_task_graph, get_network, solve, validate
from lpsched.solve import least_staleness


@pytest.fixture(scope="module")
def alexnet4():
    return build_task_graph(get_network("alexnet"), "layerpipe", processors=4)


@pytest.mark.parametrize("solver", ["heuristic", "pipedream"])
def test_auto_staleness_is_least(alexnet4, solver):
    result = solve(alexnet4, 4, solver)
    sched = result.schedule
    assert validate(sched) == []
    assert sched.graph.staleness_cap is None  # the schedule carries the values used
    cap = alexnet4.staleness_cap
    for layer, s in sched.staleness().items():
        assert 1 <= s <= cap
        if s > 1:  # one less must break a weight edge of that layer
            lowered = sched.with_graph(sched.graph.with_staleness({layer: s - 1}))
            assert any(v.kind == "precedence" for v in validate(lowered))


def test_least_staleness_leaves_fixed_distances_alone():
    graph = build_task_graph(get_network("mlp"), "layerpipe", staleness=3)
    sched = solve(graph, 2).schedule
    assert least_staleness(sched) is sched
    assert set(sched.staleness().values()) == {3}


def test_optimal_only_at_the_bound(alexnet4):
    result = solve(alexnet4, 4, "heuristic")
    assert (result.status == Status.OPTIMAL) == (result.period == result.lower_bound)


def test_period_settled_time_is_reported(alexnet4):
    result = solve(alexnet4, 4, "cpsat", time_limit=4, workers=1)
    assert validate(result.schedule) == []
    settled = result.stats["period_seconds"]
    assert 0 <= settled <= result.solve_seconds
    assert "settled after" in result.summary()


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"solver": "magic"}, "unknown solver"),
        ({"secondary": "joy"}, "secondary"),
        ({"solver": "milp", "secondary": "staleness"}, "cpsat"),
        ({"solver": "cpsat", "export": "m.lp"}, "--export"),
        ({"time_limit": -1}, "time limit"),
    ],
)
def test_bad_arguments(alexnet4, kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        solve(alexnet4, 4, **kwargs)
