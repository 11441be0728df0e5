"""The PipeDream planner under a memory capacity ((P8) of ``formulations/README.md``).

Its stages must fit their processor's memory, as PipeDream's own planner
rejects a stage whose stash does not fit: every schedule it returns passes
the validator (memory included), and it says ``infeasible`` only with a reason.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched import build_task_graph
from lpsched.errors import InfeasibleError
from lpsched.graph import Edge, Task, TaskGraph
from lpsched.networks import get_network
from lpsched.platform import Link, Platform, Processor, override
from lpsched.problem import Problem
from lpsched.solvers.pipedream import memory_shortfall, pipedream_schedule, plan_stages
from lpsched.solvers.toolkit import least_staleness
from lpsched.validate import check_schedule, validate
from tests.brute import tiny_byte_graphs, tiny_platforms

FAST = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

CAPACITIES = ("delay", "ports")


def with_memory(P: int, capacity: str, memory: float | None, optimizer: float = 0.0) -> Platform:
    """The default platform of ``P`` processors, each of ``memory`` bytes."""
    base = dataclasses.replace(Platform.default(P), capacity=capacity, optimizer_state=optimizer)
    if memory is None:
        return base
    return Platform.from_dict(override(base.to_dict(), memory=memory))


def mlp(P: int = 4):
    return build_task_graph(get_network("mlp"), "layerpipe", processors=P)


def weights_and_state(graph, factor: float) -> dict[str, float]:
    """Each layer's weight bytes times ``1 + factor`` (one version and the optimizer state)."""
    out: dict[str, float] = {}
    for e in graph.edges:
        if e.weights is not None:
            out[e.weights] = max(out.get(e.weights, 0.0), (1 + factor) * e.bytes)
    return out


@pytest.mark.parametrize("capacity", CAPACITIES)
@pytest.mark.parametrize("network", ["mlp", "lenet5"])
def test_a_memory_the_free_plan_exceeds_gives_a_plan_that_fits(network, capacity):
    P = 4
    graph = build_task_graph(get_network(network), "layerpipe", processors=P)
    free = least_staleness(pipedream_schedule(Problem(graph, with_memory(P, capacity, None))))
    need = max(free.footprints())
    for fraction in (0.9, 0.6):
        memory = fraction * need
        platform = with_memory(P, capacity, memory)
        # The free plan does not fit: the constraint has work to do.
        assert any(
            v.kind == "memory" for v in validate(dataclasses.replace(free, platform=platform))
        )
        problem = Problem(graph, platform)
        try:
            sched = pipedream_schedule(problem)
        except InfeasibleError as err:
            # Only the tighter memory may defeat the planner, and it must say why.
            assert fraction < 0.9
            assert "memory" in str(err)
            continue
        check_schedule(sched)
        assert max(sched.footprints()) <= memory
        # Not >= free.period: the free planner keeps the fewest stages of its best
        # objective, the memory planner schedules every stage count's best plan.
        assert sched.period >= problem.lower_bound
        assert sched.period >= max(free.period, 1) or len(set(sched.processor.values())) != len(
            set(free.processor.values())
        )


@pytest.mark.parametrize("capacity", CAPACITIES)
def test_ample_memory_keeps_the_free_plan(capacity):
    graph = mlp()
    plain = with_memory(4, capacity, None)
    roomy = with_memory(4, capacity, 1e15)  # bounded, but far above any footprint
    a = pipedream_schedule(Problem(graph, plain))
    b = pipedream_schedule(Problem(graph, roomy))
    # The memory search schedules the free plan too, and other stage counts' best.
    assert b.period <= a.period
    assert (
        plan_stages(Problem(graph, plain)).stages
        == plan_stages(Problem(graph, roomy), memory=False).stages
    )
    check_schedule(b)


@pytest.mark.parametrize("capacity", CAPACITIES)
def test_a_memory_below_a_layers_weights_and_state_is_infeasible(capacity):
    graph = mlp()
    need = weights_and_state(graph, 2.0)
    memory = 0.99 * max(need.values())
    problem = Problem(graph, with_memory(4, capacity, memory, optimizer=2.0))
    assert memory_shortfall(problem) is not None
    with pytest.raises(InfeasibleError) as err:
        pipedream_schedule(problem)
    named = str(err.value).split("(layer ")[1].split(")")[0]
    assert need[named] > memory  # the layer named is one that cannot fit


def test_more_memory_in_all_than_the_weights_need_is_not_proven_infeasible():
    graph = mlp()
    total = sum(weights_and_state(graph, 0.0).values())
    problem = Problem(graph, with_memory(4, "delay", 2 * total))
    assert memory_shortfall(problem) is None


@FAST
@given(
    graph=tiny_byte_graphs(max_tasks=4, shared=True),
    platform=tiny_platforms(memory=True),
    capacity=st.sampled_from(CAPACITIES),
)
def test_tiny_graphs_with_memory_are_valid_or_infeasible(graph, platform, capacity):
    platform = dataclasses.replace(platform, capacity=capacity)
    try:
        sched = pipedream_schedule(Problem(graph, platform))
    except InfeasibleError:
        return
    check_schedule(sched)
    for used, proc in zip(sched.footprints(), platform.processors, strict=True):
        assert proc.memory is None or used <= proc.memory


def test_called_directly_it_gives_the_bounds_proof():
    """A task that reads 3 B and makes 3 B needs 6 B at once (B20): 5 B is proven too little.

    ``memory_shortfall`` counts outputs alone (3 B per task), so the proof is the bounds'.
    """
    edges = (Edge("A", "B", 0, None, 3), Edge("B", "C", 0, None, 3))
    graph = TaskGraph((Task("A", 1), Task("B", 1), Task("C", 1)), edges, time_unit="1us")
    procs = tuple(Processor(1.0, 5.0, 0) for _ in range(2))
    problem = Problem(graph, Platform(procs, Link(1e6, 0.0), Link(0.5e6, 0.0)))
    assert memory_shortfall(problem) is None
    with pytest.raises(InfeasibleError, match=r"\(proven\).*task B"):
        pipedream_schedule(problem)
