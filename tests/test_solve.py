"""The one entry point: validation, statuses, least staleness, timing."""

from __future__ import annotations

import pytest

from lpsched import InputError, Status, build_task_graph, get_network, solve, validate
from lpsched.platform import Platform, override, preset, preset_spec
from lpsched.problem import Problem
from lpsched.solve import least_staleness
from tests.platforms import delay


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
    # Under delay the period is proven within the limit, and then the secondary runs.
    result = solve(alexnet4, delay(4), "cpsat", time_limit=4, workers=1)
    assert validate(result.schedule) == []
    settled = result.stats["settled_seconds"]
    assert 0 <= settled <= result.solve_seconds
    assert "settled after" in result.summary()


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"solver": "magic"}, "unknown solver"),
        ({"secondary": "joy"}, "secondary"),
        ({"solver": "milp", "secondary": "staleness"}, "cpsat"),
        ({"solver": "cpsat", "export": "m.lp"}, "--export"),
        ({"time_limit": -1}, "time-limit"),
    ],
)
def test_bad_arguments(alexnet4, kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        solve(alexnet4, 4, **kwargs)


@pytest.mark.parametrize("solver", ["heuristic", "pipedream"])
def test_solve_on_a_platform(alexnet4, solver):
    pcie = preset("pcie", 4)
    result = solve(alexnet4, pcie, solver)
    sched = result.schedule
    assert sched.platform == pcie and validate(sched) == []
    assert result.lower_bound == Problem(alexnet4, pcie).lower_bound <= sched.period
    # A Problem is solved as it is; a second platform beside it is a mistake.
    again = solve(Problem(alexnet4, pcie), solver=solver)
    assert again.period == result.period
    with pytest.raises(InputError, match="already has its platform"):
        solve(Problem(alexnet4, pcie), 4, solver)


def test_the_default_platform_is_the_processor_count(alexnet4):
    by_count = solve(alexnet4, 4, "heuristic")
    by_platform = solve(alexnet4, Platform.default(4), "heuristic")
    assert by_count.period == by_platform.period
    assert by_count.schedule.start == by_platform.schedule.start


@pytest.mark.parametrize("solver", ["heuristic", "pipedream"])
@pytest.mark.parametrize(
    "spec",
    [
        override({}, speeds=[1, 1, 0.5, 0.5]),
        override(preset_spec("ib"), procs=16, nodes=2, bandwidth={"inter": "25GB/s"}),
    ],
    ids=["speeds", "two-nodes"],
)
def test_heterogeneous_platforms(solver, spec):
    """Needs the platform-aware solvers: a valid schedule, no better than the bounds say."""
    graph = build_task_graph(get_network("alexnet"), "layerpipe", processors=4)
    platform = Platform.from_dict(spec)
    result = solve(graph, platform, solver)
    sched = result.schedule
    assert sched.platform == platform and validate(sched) == []
    assert sched.period >= result.lower_bound >= Problem(graph, platform).lower_bound
