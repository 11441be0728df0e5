"""Tests of the heuristics: modulo scheduling and the PipeDream planner.

Every schedule goes through the independent validator; periods are compared
with the lower bounds; the PipeDream dynamic programme is compared with brute
force over all cuts of a chain.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.bounds import lower_bounds
from lpsched.errors import InputError
from lpsched.graph import Edge, Task, TaskGraph, make_graph
from lpsched.networks import BUILTIN_NETWORKS, get_network
from lpsched.schedule import Schedule, Status
from lpsched.solvers import heuristic
from lpsched.solvers.heuristic import modulo_schedule
from lpsched.solvers.pipedream import layer_order, pipedream_schedule, plan_stages
from lpsched.taskgraph import DECOMPOSITIONS, build_task_graph
from lpsched.validate import validate

FAST = settings(max_examples=120, deadline=None)


def assert_valid(schedule: Schedule, graph: TaskGraph, processors: int) -> None:
    problems = validate(schedule)
    assert not problems, [v.message for v in problems[:5]]
    assert schedule.processors == processors
    # The schedule embeds the graph it was given: same tasks, same distances.
    assert schedule.graph.edges == graph.edges
    assert schedule.graph.tasks == graph.tasks
    assert schedule.graph.staleness_cap == graph.staleness_cap
    assert schedule.period >= lower_bounds(graph, processors).lower_bound


# ------------------------------------------------------------------- generators
@st.composite
def small_graphs(draw: st.DrawFn) -> TaskGraph:
    """<= 8 tasks with random edges; distance-0 edges go forward in a random order.

    Backward edges and self-loops get distances 1..3; communication costs are
    0..12, sometimes larger than every duration (as in small networks).
    """
    n = draw(st.integers(1, 8))
    durations = draw(st.lists(st.integers(1, 9), min_size=n, max_size=n))
    order = draw(st.permutations(range(n)))
    position = {v: i for i, v in enumerate(order)}
    raw = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.integers(0, n - 1),
                st.integers(0, 3),
                st.integers(0, 12),
            ),
            max_size=16,
        )
    )
    edges = []
    for u, v, w, c in raw:
        if w == 0 and position[u] >= position[v]:
            w = 1  # a backward (or self) edge needs a distance
        edges.append(Edge(f"t{u}", f"t{v}", w, c))
    tasks = [Task(f"t{i}", d, layer=f"l{i % 3}", kind="F") for i, d in enumerate(durations)]
    return make_graph(tasks, edges)


def chain(work: list[int], comm: list[int]) -> TaskGraph:
    """A chain of one-task layers ``F:l0 -> F:l1 -> ...`` with the given costs."""
    tasks = [Task(f"F:l{i}", w, f"l{i}", "F") for i, w in enumerate(work)]
    edges = [Edge(f"F:l{i}", f"F:l{i + 1}", 0, c) for i, c in enumerate(comm)]
    return make_graph(tasks, edges)


def brute_force_stage_time(work: list[int], comm: list[int], processors: int, mode: str) -> int:
    """The best slowest stage over every cut of a chain into at most ``processors`` stages."""
    n = len(work)
    best = None
    for k in range(1, min(processors, n) + 1):
        for cuts in itertools.combinations(range(1, n), k - 1):
            bounds = [0, *cuts, n]
            worst = 0
            for a, b in itertools.pairwise(bounds):
                t = sum(work[a:b])
                if mode == "add":
                    t += (comm[a - 1] if a > 0 else 0) + (comm[b - 1] if b < n else 0)
                worst = max(worst, t)
            if mode == "overlap":
                worst = max([worst, *(comm[c - 1] for c in cuts)])
            best = worst if best is None else min(best, worst)
    assert best is not None
    return best


# ------------------------------------------------------------- modulo scheduling
@FAST
@given(small_graphs(), st.integers(1, 4), st.integers(0, 3))
def test_modulo_schedule_is_valid_on_random_graphs(graph, processors, seed):
    sched = modulo_schedule(graph, processors, seed=seed)
    assert_valid(sched, graph, processors)
    assert min(sched.start.values()) == 0


@FAST
@given(small_graphs(), st.integers(1, 3), st.data())
def test_fixed_processors_are_respected(graph, processors, data):
    names = [t.name for t in graph.tasks]
    pinned = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    fixed = {name: data.draw(st.integers(0, processors - 1)) for name in pinned}
    sched = modulo_schedule(graph, processors, fixed_processor=fixed)
    assert_valid(sched, graph, processors)
    assert all(sched.processor[name] == p for name, p in fixed.items())


@FAST
@given(small_graphs(), st.integers(1, 3))
def test_fallback_is_valid(graph, processors):
    # The safety net, pinned or not: tasks one after another in a topological order.
    for fixed in (None, {t.name: i % processors for i, t in enumerate(graph.tasks)}):
        prob = heuristic._Problem.build(graph, processors, fixed)
        period, proc, start = heuristic._fallback(prob)
        sched = Schedule(
            graph,
            processors,
            period,
            {t.name: proc[i] for i, t in enumerate(graph.tasks)},
            {t.name: start[i] for i, t in enumerate(graph.tasks)},
        )
        assert not validate(sched)
        if fixed is None:
            assert period == graph.total_work


@FAST
@given(small_graphs())
def test_one_processor_runs_everything_back_to_back(graph):
    # Every cycle has a distance >= 1, so one iteration in sequence fits in sum(d).
    assert modulo_schedule(graph, 1).period == graph.total_work


def test_same_seed_same_schedule():
    graph = build_task_graph(get_network("alexnet"), "layerpipe", processors=4)
    a = modulo_schedule(graph, 4, seed=7)
    b = modulo_schedule(graph, 4, seed=7)
    assert (a.period, a.processor, a.start) == (b.period, b.processor, b.start)


def test_reaches_the_bound_when_the_work_splits_evenly():
    # Four independent unit loops on two processors: T = 2 is the resource bound.
    tasks = [(f"t{i}", 1) for i in range(4)]
    edges = [(f"t{i}", f"t{i}", 1, 0) for i in range(4)]
    sched = modulo_schedule(make_graph(tasks, edges), 2)
    assert sched.period == 2


def test_expensive_edge_on_a_tight_loop_keeps_its_ends_together():
    # a -> b -> a with distance 1: split, the loop would need 2 + 100 > T.
    graph = make_graph([("a", 1), ("b", 1), ("c", 2)], [("a", "b", 0, 100), ("b", "a", 1, 100)])
    sched = modulo_schedule(graph, 2)
    assert sched.processor["a"] == sched.processor["b"]
    assert sched.period == 2


def problem(graph: TaskGraph, processors: int) -> heuristic._Problem:
    return heuristic._Problem.build(graph, processors, None)


def test_rebalancing_moves_then_swaps_to_meet_the_target():
    # All four tasks on processor 0; target 6 on two processors. Moving the two
    # shortest (2, then 3) leaves 4 + 3 = 7 > 6 and no single move fits; the
    # swap of 4 with the 3 on processor 1 gives loads 6 and 6.
    graph = make_graph([("a", 4), ("b", 3), ("c", 3), ("d", 2)])
    proc = heuristic._rebalanced(problem(graph, 2), [0, 0, 0, 0], 6)
    assert proc is not None
    loads = [sum(d for d, p in zip(graph.durations, proc, strict=True) if p == q) for q in (0, 1)]
    assert loads == [6, 6]
    assert heuristic._rebalanced(problem(graph, 2), [0, 0, 0, 0], 5) is None  # 12 > 2 x 5


def test_a_swap_of_two_neighbours_costs_no_communication():
    # W (p0) and B (p1) share an edge; swapping them leaves it cut as before, so the
    # swap W <-> B costs nothing while W <-> Y cuts the edge Y - Z.
    graph = make_graph(
        [
            ("X", 4),
            ("W", 3),
            ("B", 2),
            ("G1", 1),
            ("G2", 1),
            ("G3", 1),
            ("Y", 2),
            ("Z", 2),
            ("H", 1),
        ],
        [("W", "B", 0, 5), ("Y", "Z", 0, 3)],
    )
    proc = [0, 0, 1, 1, 1, 1, 2, 2, 2]
    moved = heuristic._rebalanced(problem(graph, 3), proc, 6)
    assert moved is not None
    cut = sum(e.comm for e in graph.edges if moved[graph.index(e.src)] != moved[graph.index(e.dst)])
    assert cut == 5


@FAST
@given(
    st.lists(st.integers(1, 9), min_size=1, max_size=8),
    st.integers(2, 4),
    st.data(),
)
def test_rebalanced_loads_never_exceed_the_target(durations, processors, data):
    graph = make_graph([(f"t{i}", d) for i, d in enumerate(durations)])
    proc = data.draw(
        st.lists(st.integers(0, processors - 1), min_size=len(durations), max_size=len(durations))
    )
    target = data.draw(st.integers(max(durations), sum(durations)))
    moved = heuristic._rebalanced(problem(graph, processors), proc, target)
    if moved is not None:
        for q in range(processors):
            assert sum(d for d, p in zip(durations, moved, strict=True) if p == q) <= target
    elif sum(durations) <= target:
        raise AssertionError("one processor holds everything: a move always exists")


def test_rebalancing_closes_the_gap_on_resnet50():
    # Without the rebalancing step the search stops at the largest load, 1016
    # (3.0% above the resource bound 986); moving and swapping short tasks
    # between processors, then rescheduling with them fixed, reaches 1%.
    graph = build_task_graph(get_network("resnet50"), "layerpipe", processors=16)
    lb = lower_bounds(graph, 16).lower_bound
    sched = modulo_schedule(graph, 16, lower_bound=lb)
    assert_valid(sched, graph, 16)
    assert sched.period <= 1.01 * lb


def test_low_cohesion_levels_find_the_optimum_of_a_latency_bound_network():
    # LeNet-5 on 32 processors: a 10 us message is ~20% of a loop's slack, so
    # the long loop affords few crossings; grouping edges down to 20% of their
    # cycle's slack lets the search find CP-SAT's proven optimum.
    from lpsched.solvers.cpsat import solve_cpsat

    graph = build_task_graph(get_network("lenet5"), "layerpipe", processors=32)
    sched = modulo_schedule(graph, 32)
    assert_valid(sched, graph, 32)
    exact = solve_cpsat(graph, 32, workers=2, time_limit=60, initial=sched, secondary=None)
    assert exact.status is Status.OPTIMAL
    assert sched.period == exact.period


def test_bad_arguments():
    graph = make_graph([("a", 1)])
    with pytest.raises(InputError):
        modulo_schedule(graph, 0)
    with pytest.raises(InputError, match="fixed processor"):
        modulo_schedule(graph, 2, fixed_processor={"a": 2})
    with pytest.raises(InputError, match="unknown task"):
        modulo_schedule(graph, 2, fixed_processor={"zz": 0})


# ----------------------------------------------------------------------- PipeDream
@FAST
@given(
    st.lists(st.integers(1, 20), min_size=1, max_size=7),
    st.data(),
    st.integers(1, 5),
    st.sampled_from(["overlap", "add"]),
)
def test_stage_plan_matches_brute_force_on_chains(work, data, processors, mode):
    comm = data.draw(st.lists(st.integers(0, 25), min_size=len(work) - 1, max_size=len(work) - 1))
    plan = plan_stages(chain(work, comm), processors, comm=mode)
    assert plan.stage_time == brute_force_stage_time(work, comm, processors, mode)
    # The plan is a cut of the chain in order, whose own cost is the reported one.
    assert [name for stage in plan.stages for name in stage] == [f"l{i}" for i in range(len(work))]
    assert 1 <= len(plan.stages) <= processors
    assert plan.stage_time == max(plan.stage_times + plan.cut_times)


@FAST
@given(small_graphs(), st.integers(1, 4))
def test_pipedream_schedule_is_valid_on_random_graphs(graph, processors):
    # Random graphs have several tasks per layer and forward edges both ways between layers.
    sched = pipedream_schedule(graph, processors)
    assert_valid(sched, graph, processors)
    plan = plan_stages(graph, processors)
    for k, stage in enumerate(plan.stages):
        for t in graph.tasks:
            if t.layer in stage:
                assert sched.processor[t.name] == k


def test_layer_order_follows_the_forward_edges():
    graph = build_task_graph(get_network("resnet18"), "layerpipe", processors=4)
    order = {name: i for i, name in enumerate(layer_order(graph))}
    for e in graph.edges:
        a, b = graph.task(e.src), graph.task(e.dst)
        if e.distance == 0 and a.kind == b.kind == "F" and a.layer != b.layer:
            assert order[a.layer] < order[b.layer]


@pytest.mark.parametrize("decomposition", list(DECOMPOSITIONS))
def test_pipedream_schedule_keeps_layers_whole_in_contiguous_stages(decomposition):
    graph = build_task_graph(get_network("vgg16"), decomposition, processors=4)
    sched = pipedream_schedule(graph, 4)
    assert_valid(sched, graph, 4)
    proc_of_layer: dict[str, int] = {}
    for t in graph.tasks:
        assert proc_of_layer.setdefault(t.layer, sched.processor[t.name]) == sched.processor[t.name]
    stages = [proc_of_layer[name] for name in layer_order(graph)]
    assert stages == sorted(stages)  # stage k on processor k, in pipeline order
    # Processors are fixed by the stages, so the period is at least the slowest stage's work.
    work = [0] * 4
    for t in graph.tasks:
        work[sched.processor[t.name]] += t.duration
    assert sched.period >= max(work)


# ----------------------------------------------------------- the built-in networks
GRID = [
    (net, decomposition, p)
    for net in BUILTIN_NETWORKS
    for decomposition in DECOMPOSITIONS
    for p in (1, 2, 3, 4, 8, 16)
]


@pytest.mark.parametrize(("net", "decomposition", "processors"), GRID)
def test_builtin_networks(net, decomposition, processors):
    graph = build_task_graph(get_network(net), decomposition, processors=processors)
    lb = lower_bounds(graph, processors).lower_bound
    sched = modulo_schedule(graph, processors, lower_bound=lb, time_limit=0)
    assert_valid(sched, graph, processors)
    if processors == 1:
        assert sched.period == graph.total_work
    pd = pipedream_schedule(graph, processors)
    assert_valid(pd, graph, processors)


@pytest.mark.parametrize("staleness", ["sync", 2, "layerpipe2"])
def test_fixed_staleness_is_respected(staleness):
    graph = build_task_graph(get_network("resnet18"), "layerpipe", staleness, processors=4)
    assert graph.staleness_cap is None
    for sched in (modulo_schedule(graph, 4), pipedream_schedule(graph, 4)):
        assert_valid(sched, graph, 4)
