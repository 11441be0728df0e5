"""Tests of coarser decompositions and refined schedules (lpsched.coarsen)."""

from __future__ import annotations

from collections import Counter

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.coarsen import coarsen, refine
from lpsched.errors import InputError
from lpsched.graph import Task, TaskGraph, make_graph
from lpsched.networks import BUILTIN_NETWORKS, get_network
from lpsched.platform import Platform, Processor
from lpsched.problem import Problem, scaled_duration
from lpsched.schedule import Schedule
from lpsched.solvers.heuristic import modulo_schedule
from lpsched.taskgraph import build_task_graph
from lpsched.validate import validate
from tests.brute import brute_force_period, tiny_graphs, tiny_platforms
from tests.platforms import delay


def shape(graph: TaskGraph) -> tuple[dict, Counter]:
    """Tasks and edges, independent of the order they are listed in."""
    tasks = {t.name: (t.duration, t.layer, t.kind) for t in graph.tasks}
    edges = Counter((e.src, e.dst, e.distance, e.comm, e.bytes, e.weights) for e in graph.edges)
    return tasks, edges


@pytest.mark.parametrize("name", sorted(BUILTIN_NETWORKS))
@pytest.mark.parametrize("staleness", ["auto", 2])
def test_coarsening_a_graph_is_building_the_coarser_one(name: str, staleness) -> None:
    network = get_network(name)
    graphs = {
        d: build_task_graph(network, d, staleness=staleness, processors=4)
        for d in ("layerpipe", "intra", "pipedream")
    }
    intra = coarsen(graphs["layerpipe"], "intra")
    assert intra is not None
    assert shape(intra.graph) == shape(graphs["intra"])
    for fine in (graphs["layerpipe"], graphs["intra"]):
        pipedream = coarsen(fine, "pipedream")
        assert pipedream is not None
        assert shape(pipedream.graph) == shape(graphs["pipedream"])
    assert coarsen(graphs["pipedream"], "intra") is None
    assert coarsen(graphs["pipedream"], "pipedream") is None


@pytest.mark.parametrize("name", ["lenet5", "resnet18", "gpt2"])
@pytest.mark.parametrize("P", [2, 3, 5])
def test_refined_schedules_are_valid(name: str, P: int) -> None:
    fine = build_task_graph(get_network(name), "layerpipe", staleness="auto", processors=P)
    for decomposition in ("intra", "pipedream"):
        coarsening = coarsen(fine, decomposition)
        assert coarsening is not None
        # Refining maps tasks and starts: the delay model's schedule (under ports the
        # heuristic fits the fine graph's transfers afterwards, tests/test_heuristic_ports.py).
        sched = modulo_schedule(Problem(coarsening.graph, delay(P)), quick=True)
        refined = refine(sched, fine, coarsening)
        assert refined.period == sched.period
        assert not validate(refined), [v.message for v in validate(refined)[:3]]


def test_refine_keeps_a_fixed_staleness() -> None:
    fine = build_task_graph(get_network("lenet5"), "layerpipe", staleness="auto", processors=3)
    coarsening = coarsen(fine, "intra")
    assert coarsening is not None
    sched = modulo_schedule(coarsening.graph, 3, quick=True)
    fixed = sched.graph.with_staleness(dict.fromkeys(sched.graph.staleness(), 5))
    staled = Schedule(fixed, 3, sched.period, sched.processor, sched.start)
    refined = refine(staled, fine, coarsening)
    assert refined.graph.staleness_cap is None
    assert set(refined.graph.staleness().values()) == {5}
    assert not validate(refined)


def test_graphs_without_kinds_do_not_coarsen() -> None:
    graph = make_graph([("a", 1), ("b", 2)], [("a", "b", 0, 1), ("b", "a", 1, 1)])
    assert coarsen(graph, "intra") is None
    assert coarsen(graph, "pipedream") is None


def test_a_merged_name_clashing_with_a_task_is_not_coarsened() -> None:
    tasks = (Task("D:l", 1, "l", "D"), Task("G:l", 1, "l", "G"), Task("A:l", 1, "m", "F"))
    graph = TaskGraph(tasks, ())
    assert coarsen(graph, "intra") is None


@st.composite
def labelled_graphs(draw: st.DrawFn) -> TaskGraph:
    """Tiny graphs whose tasks get random layers and primitive kinds."""
    graph = draw(tiny_graphs(max_tasks=5, max_comm=3))
    tasks = tuple(
        Task(t.name, t.duration, draw(st.sampled_from("ab")), draw(st.sampled_from("FDGWU")))
        for t in graph.tasks
    )
    return TaskGraph(tasks, graph.edges)


@settings(max_examples=150, deadline=None)
@given(labelled_graphs(), st.integers(1, 3), st.sampled_from(["intra", "pipedream"]))
def test_any_coarse_schedule_refines_into_a_valid_one(graph: TaskGraph, P: int, dec: str) -> None:
    # The refinement argument of lpsched.coarsen on arbitrary graphs, not only networks:
    # a coarse schedule refines into a valid one, so the coarse optimum is never better.
    coarsening = coarsen(graph, dec)
    if coarsening is None:
        return
    sched = modulo_schedule(coarsening.graph, P, quick=True)
    refined = refine(sched, graph, coarsening)
    assert not validate(refined), [v.message for v in validate(refined)[:3]]
    assert brute_force_period(graph, P) <= brute_force_period(coarsening.graph, P)


@pytest.mark.parametrize("speeds", [(1.0, 0.5, 0.25), (0.5, 1.0, 0.125, 0.5)])
def test_refined_parts_last_their_duration_on_each_processor(speeds) -> None:
    # Where 1 / speed is a whole number the parts add up to the merged task exactly, so
    # any coarse schedule refines; every part lasts ceil(d / speed) on its processor.
    fine = build_task_graph(get_network("lenet5"), "layerpipe", processors=len(speeds))
    platform = delay(Platform(tuple(Processor(s) for s in speeds)))
    coarsening = coarsen(fine, "intra")
    assert coarsening is not None
    sched = modulo_schedule(Problem(coarsening.graph, platform), quick=True)
    refined = refine(sched, fine, coarsening)
    assert refined.platform == platform
    assert not validate(refined), [v.message for v in validate(refined)[:3]]
    for name, members in coarsening.parts.items():
        p = sched.processor[name]
        t = sched.start[name]
        for m in members:
            assert (refined.processor[m], refined.start[m]) == (p, t)
            t += scaled_duration(fine.task(m).duration, speeds[p])
        assert t - sched.start[name] == sched.duration(name)  # the parts fill the slot


@settings(max_examples=100, deadline=None)
@given(labelled_graphs(), tiny_platforms(), st.sampled_from(["intra", "pipedream"]))
def test_a_slot_holding_the_parts_refines_at_any_speed(graph, platform, dec) -> None:
    # At speed 1.5 the parts' ceil(d / s) may add up to more than the merged task's; a
    # coarse schedule whose slots hold the parts (all on the fastest processor, back to
    # back) refines into a valid schedule of the fine graph on the same platform.
    coarsening = coarsen(graph, dec)
    if coarsening is None:
        return
    coarse = coarsening.graph
    p = max(range(platform.P), key=lambda q: platform.speeds[q])

    def slot(name: str) -> int:
        parts = coarsening.parts[name]
        return sum(scaled_duration(graph.task(m).duration, platform.speeds[p]) for m in parts)

    dag = nx.DiGraph()
    dag.add_nodes_from(t.name for t in coarse.tasks)
    dag.add_edges_from((e.src, e.dst) for e in coarse.edges if e.distance == 0 and e.src != e.dst)
    start, t = {}, 0
    for name in nx.lexicographical_topological_sort(dag):
        start[name] = t
        t += slot(name)
    sched = Schedule(coarse, platform, t, dict.fromkeys(start, p), start)
    assert not validate(sched)
    refined = refine(sched, graph, coarsening)
    assert refined.period == t
    assert not validate(refined), [v.message for v in validate(refined)[:3]]


@pytest.mark.parametrize(("name", "P"), [("resnet18", 4), ("resnet50", 8), ("alexnet", 8)])
def test_layerpipe_heuristic_is_never_worse_than_intra(name: str, P: int) -> None:
    network = get_network(name)
    # Under delay the layerpipe search includes the intra schedule, refined; under ports
    # refining needs the fine graph's transfers to fit, which it does not promise.
    periods = {
        d: modulo_schedule(
            build_task_graph(network, d, staleness="auto", processors=P), delay(P)
        ).period
        for d in ("layerpipe", "intra")
    }
    assert periods["layerpipe"] <= periods["intra"]


def test_an_unknown_decomposition_is_an_input_error() -> None:
    graph = build_task_graph(get_network("lenet5"), "layerpipe")
    with pytest.raises(InputError, match="cannot coarsen to 'layerpipe'"):
        coarsen(graph, "layerpipe")
