"""Placement policies ``layer`` and ``stages`` in the heuristic and the PipeDream planner.

Every schedule is checked three ways: :func:`lpsched.solve.solve` validates it
against the policy the problem asked for, the validator is run again here, and
:func:`tests.brute.keeps` recounts the policy with code of its own. On tiny
graphs the heuristic's period is compared with the brute force's optimum under
the same policy (never below it).
"""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched import build_task_graph, get_network, solve
from lpsched.errors import InputError
from lpsched.graph import Edge, Task, TaskGraph
from lpsched.networks import BUILTIN_NETWORKS
from lpsched.placement import placement_units
from lpsched.platform import Platform, Processor
from lpsched.problem import Problem
from lpsched.schedule import Schedule
from lpsched.solvers.heuristic import modulo_schedule
from lpsched.solvers.pipedream import layer_order, pipeline_layers, plan_stages
from lpsched.validate import validate
from tests.brute import brute_force_period, keeps, tiny_layered_graphs, tiny_platforms
from tests.platforms import delay

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

PLACED = ("layer", "stages")


def _check(result, placement: str) -> Schedule:
    """The result's schedule, after every check of the policy this file makes."""
    sched = result.schedule
    assert sched is not None
    assert sched.placement == placement
    assert validate(sched) == []
    graph = sched.graph
    proc = [sched.processor[t.name] for t in graph.tasks]
    assert keeps(graph, proc, placement)
    assert sched.period >= result.lower_bound
    return sched


def _graph(name: str, P: int, decomposition: str = "layerpipe") -> TaskGraph:
    return build_task_graph(get_network(name), decomposition=decomposition, processors=P)


# ------------------------------------------------------- every built-in network
#: The small networks as LayerPipe graphs, the large ones as PipeDream graphs (half the
#: tasks: the free search under ``layer`` takes seconds on their LayerPipe graphs);
#: ResNet-50 at 2 processors only (its 8-processor rows are in the report).
SMALL = ("mlp", "lenet5", "alexnet")
HEURISTIC_CASES = [
    (name, P, "layerpipe" if name in SMALL else "pipedream")
    for name in BUILTIN_NETWORKS
    for P in ((2,) if name == "resnet50" else (2, 4, 8))
]


@pytest.mark.parametrize(("name", "P", "decomposition"), HEURISTIC_CASES)
def test_heuristic_keeps_placement_on_builtin_networks(name, P, decomposition):
    graph = _graph(name, P, decomposition)
    periods = {}
    for placement in PLACED:
        result = solve(graph, P, "heuristic", deterministic=True, placement=placement)
        periods[placement] = _check(result, placement).period
    # Both are above the free lower bound (the heuristic does not promise layer <= stages).
    free_lb = Problem(graph, P).lower_bound
    assert min(periods.values()) >= free_lb


@pytest.mark.parametrize("name", list(BUILTIN_NETWORKS))
@pytest.mark.parametrize("decomposition", ["pipedream", "intra", "layerpipe"])
def test_planner_keeps_placement_on_every_decomposition(name, decomposition):
    counts = (2, 4, 8) if name in SMALL or decomposition == "pipedream" else (4,)
    for P in counts:
        graph = _graph(name, P, decomposition)
        result = solve(graph, P, "pipedream", deterministic=True, placement="stages")
        sched = _check(result, "stages")
        proc = [sched.processor[t.name] for t in graph.tasks]
        assert keeps(graph, proc, "layer")  # stages keep layers whole too
        # The planner's stages are contiguous already: it keeps stages under layer too.
        if P == 4 and name in SMALL:
            other = solve(graph, P, "pipedream", deterministic=True, placement="layer")
            assert _check(other, "layer").processor == sched.processor


def test_planner_order_is_the_units_order():
    """On the built-in networks the planner's topological layer order is the graph's own."""
    for name in BUILTIN_NETWORKS:
        graph = _graph(name, 4)
        problem = Problem(graph, 4, "stages")
        units = [graph.tasks[u[0]].layer for u in problem.units]
        assert layer_order(graph) == units == pipeline_layers(problem) == graph.layers


def test_planner_cuts_the_units_order_when_topology_disagrees():
    """A graph listing its layers out of topological order: stages cut the listed order."""
    tasks = (
        Task("F:b", 3, "b", "F"),
        Task("F:a", 3, "a", "F"),
        Task("F:c", 3, "c", "F"),
    )
    edges = (Edge("F:a", "F:b", 0, 0, 8), Edge("F:b", "F:c", 0, 0, 8))
    graph = TaskGraph(tasks, edges, time_unit="1us")
    assert layer_order(graph) == ["a", "b", "c"]
    problem = Problem(graph, 3, "stages")
    assert pipeline_layers(problem) == ["b", "a", "c"]
    plan = plan_stages(problem)
    assert [name for stage in plan.stages for name in stage] == ["b", "a", "c"]
    for solver in ("pipedream", "heuristic"):
        _check(solve(problem, None, solver, deterministic=True), "stages")


# ------------------------------------------------------------------ platforms
def _platforms() -> dict[str, Platform]:
    ports = Platform.default(4)
    hetero = dataclasses.replace(
        ports, processors=tuple(Processor(s) for s in (1.0, 1.0, 0.5, 0.5))
    )
    two_nodes = dataclasses.replace(
        ports, processors=tuple(Processor(1.0, None, n) for n in (0, 0, 1, 1))
    )
    return {
        "ports": ports,
        "delay": delay(4),
        "hetero": hetero,
        "nodes": dataclasses.replace(
            two_nodes, inter=dataclasses.replace(ports.inter, bandwidth=ports.inter.bandwidth / 4)
        ),
    }


@pytest.mark.parametrize("kind", ["ports", "delay", "hetero", "nodes"])
@pytest.mark.parametrize("solver", ["heuristic", "pipedream"])
def test_platforms_keep_placement(kind, solver):
    platform = _platforms()[kind]
    for name in ("alexnet", "lenet5"):
        graph = _graph(name, 4, "layerpipe" if name == "alexnet" else "pipedream")
        for placement in PLACED:
            result = solve(graph, platform, solver, deterministic=True, placement=placement)
            _check(result, placement)


@pytest.mark.parametrize("solver", ["heuristic", "pipedream"])
def test_memory_capacity_keeps_placement(solver):
    graph = _graph("lenet5", 4, "pipedream")
    free = solve(graph, 4, "heuristic", deterministic=True)
    # A capacity below the free schedule's largest footprint: the search must work for it.
    cap = 0.9 * max(free.schedule.footprints())
    platform = dataclasses.replace(
        Platform.default(4), processors=tuple(Processor(1.0, cap) for _ in range(4))
    )
    for placement in PLACED:
        result = solve(graph, platform, solver, deterministic=True, placement=placement)
        if result.schedule is None:
            assert result.status.value in ("unknown", "infeasible")
            continue
        sched = _check(result, placement)
        assert max(sched.footprints()) <= cap


def test_heuristic_stages_meets_the_stage_bound_on_vgg16():
    """VGG-16, 8 processors: the stage cut search reaches the stage bound (1072)."""
    graph = _graph("vgg16", 8)
    result = solve(graph, 8, "heuristic", deterministic=True, placement="stages")
    sched = _check(result, "stages")
    assert sched.period == result.lower_bound
    # Each processor holds one interval; eight stages are used.
    assert len(set(sched.processor.values())) == 8


def test_deterministic():
    graph = _graph("alexnet", 2)
    a, b = (solve(graph, 2, "heuristic", deterministic=True, placement="layer") for _ in range(2))
    assert a.schedule.processor == b.schedule.processor
    assert a.schedule.start == b.schedule.start


def test_stages_with_partial_pins_is_refused():
    graph = _graph("mlp", 2)
    problem = Problem(graph, 2, "stages")
    with pytest.raises(InputError, match="fix every task or none"):
        modulo_schedule(problem, fixed_processor={graph.tasks[0].name: 0})
    # Every task pinned on one processor: valid under stages.
    sched = modulo_schedule(problem, fixed_processor={t.name: 1 for t in graph.tasks})
    assert set(sched.processor.values()) == {1}


# ---------------------------------------------------------- against brute force
@settings(FUZZ, max_examples=40)
@given(
    graph=tiny_layered_graphs(max_tasks=5),
    platform=tiny_platforms(max_procs=3),
    placement=st.sampled_from(PLACED),
)
def test_heuristic_against_brute_force_delay(graph, platform, placement):
    _against_brute(graph, platform, placement)


@settings(FUZZ, max_examples=25)
@given(
    graph=tiny_layered_graphs(max_tasks=4, ports=True),
    platform=tiny_platforms(max_procs=3, capacity="ports"),
    placement=st.sampled_from(PLACED),
)
def test_heuristic_against_brute_force_ports(graph, platform, placement):
    _against_brute(graph, platform, placement)


def _against_brute(graph: TaskGraph, platform: Platform, placement: str) -> None:
    best = brute_force_period(graph, platform, placement=placement)
    loose = brute_force_period(graph, platform)
    assert best is not None and loose is not None
    assert best >= loose  # a policy only removes assignments
    result = solve(graph, platform, "heuristic", deterministic=True, placement=placement)
    sched = _check(result, placement)
    assert sched.period >= best
    assert result.lower_bound <= best  # the bounds under the policy are bounds
    # (a loose quality bar, checked per graph: order-independent, unlike a report at the end)
    assert sched.period < 2.5 * best, (placement, sched.period, best)


def test_brute_force_stages_on_a_known_graph():
    """Three layers a -> b -> c on two processors: stages forbid a and c together."""
    tasks = (Task("a", 2, "A"), Task("b", 4, "B"), Task("c", 2, "C"))
    edges = (Edge("a", "b", 0, 0), Edge("b", "c", 0, 0), Edge("c", "a", 1, 0))
    graph = TaskGraph(tasks, edges)
    assert brute_force_period(graph, delay(2)) == 8  # the loop a -> b -> c -> a
    loose = TaskGraph(tasks, (Edge("a", "b", 0, 0), Edge("b", "c", 0, 0)))
    assert brute_force_period(loose, delay(2)) == 4  # {a, c} | {b}
    assert brute_force_period(loose, delay(2), placement="layer") == 4
    assert brute_force_period(loose, delay(2), placement="stages") == 6  # {a, b} | {c}
    result = solve(loose, delay(2), "heuristic", deterministic=True, placement="stages")
    assert _check(result, "stages").period == 6


def test_keeps_agrees_with_the_validator():
    """Two independent readings of the policies, on random assignments of layered tasks."""
    rng = random.Random(7)
    layers = ["L0", "L1", "", "L2", "L0", "", "L1", "L3"]
    tasks = tuple(Task(f"t{i}", 1, layer) for i, layer in enumerate(layers))
    graph = TaskGraph(tasks, ())
    assert len(placement_units(graph)) == 6
    seen = {True: 0, False: 0}
    for _ in range(300):
        proc = [rng.randrange(3) for _ in tasks]
        if rng.random() < 0.5:  # more assignments that keep layers together
            home = {}
            proc = [home.setdefault(t.layer or t.name, p) for t, p in zip(tasks, proc, strict=True)]
        names = [t.name for t in tasks]
        for placement in PLACED:
            sched = Schedule(
                graph,
                Platform.default(3),
                len(tasks),
                dict(zip(names, proc, strict=True)),
                dict(zip(names, range(len(tasks)), strict=True)),
                placement=placement,
            )
            ok = not [v for v in validate(sched) if v.kind == "placement"]
            assert ok == keeps(graph, proc, placement)
            seen[ok] += 1
    assert seen[True] > 50 and seen[False] > 50


def test_all_assignments_by_policy():
    """``keeps`` counts: 3 layers of one task on 2 processors, 8 assignments in all."""
    graph = TaskGraph(tuple(Task(f"t{i}", 1, f"L{i}") for i in range(3)), ())
    count = {p: 0 for p in ("layer", "stages")}
    for proc in itertools.product(range(2), repeat=3):
        for placement in count:
            count[placement] += keeps(graph, list(proc), placement)
    # stages refuses 0,1,0 and 1,0,1 only
    assert count == {"layer": 8, "stages": 6}
