"""CP-SAT and the MILP under placements ``layer`` and ``stages`` (C30, C31; M35, M36).

The reference is a brute force of this file's own (:func:`placed_brute`): it
enumerates the assignments that keep the placement, by its own reading of the
rules (units by layer in first-appearance order, each processor's units one
interval), and the start offsets of each, with the stages by a longest-path
test. On ``free`` it must agree with ``tests/brute.py``, which checks it.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched.errors import InputError
from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform, Processor
from lpsched.problem import Problem
from lpsched.schedule import Status
from lpsched.solve import solve
from lpsched.solvers import cpsat as cpsat_module
from lpsched.solvers import cpsat_placement
from lpsched.solvers.cpsat import solve_cpsat
from lpsched.solvers.milp import run_milp
from lpsched.solvers.milp_backend import FEASIBLE, INFEASIBLE, solve_model
from lpsched.solvers.milp_model import build_model, extract
from lpsched.solvers.registry import Options
from lpsched.solvers.toolkit import one_processor
from lpsched.validate import validate
from tests.brute import brute_force_period, tiny_platforms
from tests.platforms import delay

FEW = settings(
    max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
DET = {"deterministic": True, "workers": 1, "time_limit": 20}


# ------------------------------------------------------------------ brute force
def _units(graph: TaskGraph) -> list[list[int]]:
    """Task indices per layer, layers in order of first appearance; no layer: alone."""
    keys: dict[str, list[int]] = {}
    for v, t in enumerate(graph.tasks):
        keys.setdefault(t.layer or f"#{t.name}", []).append(v)
    return list(keys.values())


def _keeps(units: list[list[int]], proc: tuple[int, ...], placement: str) -> bool:
    if placement == "free":
        return True
    where = []
    for u in units:
        if len({proc[v] for v in u}) > 1:
            return False
        where.append(proc[u[0]])
    if placement == "layer":
        return True
    # stages: each processor's units one run in the unit order
    runs = [p for i, p in enumerate(where) if i == 0 or where[i - 1] != p]
    return len(runs) == len(set(runs))


def _stages_exist(n: int, need: list[tuple[int, int, int]]) -> bool:
    """Integers k with ``k_v - k_u >= c`` for all ``(u, v, c)``: no positive cycle."""
    k = [0] * n
    for _ in range(n + 1):
        changed = False
        for u, v, c in need:
            if k[u] + c > k[v]:
                k[v] = k[u] + c
                changed = True
        if not changed:
            return True
    return False


def _offsets(proc: tuple[int, ...], d: list[int], edges: list, T: int) -> bool:
    """Offsets in ``[0, T)`` with disjoint arcs per processor and feasible stages."""
    n = len(d)
    r = [0] * n

    def clash(v: int) -> bool:
        for u in range(v):
            if proc[u] == proc[v]:
                gap = (r[v] - r[u]) % T
                if gap < d[u] or (T - gap) % T < d[v]:
                    return True
        return False

    def place(v: int) -> bool:
        if v == n:
            need = []
            for a, b, w, c in edges:
                lat = r[a] + d[a] + (c if proc[a] != proc[b] else 0) - w * T - r[b]
                need.append((a, b, -(-lat // T)))
            return _stages_exist(n, need)
        for x in range(T) if v else [0]:  # (a common shift changes nothing: r_0 = 0)
            r[v] = x
            if not clash(v) and place(v + 1):
                return True
        return False

    return place(0)


def placed_brute(graph: TaskGraph, P: int, placement: str) -> int:
    """The least period on ``P`` identical processors (links as delays) under ``placement``."""
    d = [t.duration for t in graph.tasks]
    idx = {t.name: v for v, t in enumerate(graph.tasks)}
    edges = [(idx[e.src], idx[e.dst], e.distance, e.comm or 0) for e in graph.edges]
    units = _units(graph)
    for T in range(max(d), sum(d) + 1):
        for proc in itertools.product(range(P), repeat=len(d)):
            if proc[0] != 0 or not _keeps(units, proc, placement):
                continue  # (processors are interchangeable: task 0 on processor 0)
            loads = [sum(d[v] for v in range(len(d)) if proc[v] == p) for p in range(P)]
            if max(loads) <= T and _offsets(proc, d, edges, T):
                return T
    raise AssertionError("one processor at the total work always fits")


# ------------------------------------------------------------------ instances
@st.composite
def layered_graphs(draw: st.DrawFn, max_tasks: int = 5) -> TaskGraph:
    """3..5 tasks of 1..3 units in up to 4 layers (some tasks without one), fixed comm 0..2."""
    n = draw(st.integers(3, max_tasks))
    durations = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    layers = draw(st.lists(st.sampled_from(["a", "b", "c", "d", ""]), min_size=n, max_size=n))
    tasks = tuple(
        Task(f"t{i}", dur, layer)
        for i, (dur, layer) in enumerate(zip(durations, layers, strict=True))
    )
    raw = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1), st.integers(0, n - 1), st.integers(0, 2), st.integers(0, 2)
            ),
            max_size=6,
        )
    )
    edges = []
    for u, v, w, c in raw:
        if w == 0 and u >= v:
            u, v = min(u, v), max(u, v)
            if u == v:
                continue
        edges.append(Edge(f"t{u}", f"t{v}", w, c))
    return TaskGraph(tasks, tuple(edges))


def _solve(graph: TaskGraph, platform: Platform | int, solver: str, placement: str):
    extra = DET if solver == "cpsat" else {"time_limit": 30}
    result = solve(graph, platform, solver, placement=placement, **extra)
    assert result.schedule is not None
    assert result.schedule.placement == placement
    assert not validate(result.schedule), validate(result.schedule)[:3]
    return result


# ------------------------------------------------------------------ the tests
@FEW
@given(layered_graphs(), st.integers(2, 3))
def test_exact_solvers_agree_with_brute_force(graph: TaskGraph, P: int) -> None:
    """CP-SAT = MILP (HiGHS) = brute force under layer and stages; free <= layer <= stages."""
    platform = delay(P)
    free = placed_brute(graph, P, "free")
    assert free == brute_force_period(graph, platform)  # (the brute force here is right)
    periods = [free]
    for placement in ("layer", "stages"):
        want = placed_brute(graph, P, placement)
        for solver in ("cpsat", "milp"):
            result = _solve(graph, platform, solver, placement)
            assert result.status == Status.OPTIMAL, (placement, solver)
            assert result.schedule.period == want, (placement, solver)
            assert result.lower_bound <= want
        _models_decide(Problem(graph, platform, placement), want)
        periods.append(want)
    assert periods == sorted(periods)


@FEW
@given(layered_graphs(max_tasks=4), tiny_platforms())
def test_cpsat_equals_milp_on_other_platforms(graph: TaskGraph, platform: Platform) -> None:
    """Speeds 0.5..2 and two nodes: the two models agree under layer and stages, both proven."""
    for placement in ("layer", "stages"):
        a = _solve(graph, platform, "cpsat", placement)
        b = _solve(graph, platform, "milp", placement)
        assert a.status == b.status == Status.OPTIMAL, placement
        assert a.schedule.period == b.schedule.period, placement
        bound = Problem(graph, platform, placement).bounds
        assert bound.lower_bound <= a.schedule.period


def _models_decide(problem: Problem, want: int) -> None:
    """The models themselves, without the bounds: each finds ``want`` and refutes ``want - 1``.

    CP-SAT from the bound 1 (its own packing relaxation and models prove the
    period); the MILP at both periods directly.
    """
    result = solve_cpsat(problem, lower_bound=1, **DET)
    assert result.status == Status.OPTIMAL and result.schedule.period == want
    assert not validate(result.schedule)
    for T, expected in ((want, FEASIBLE), (want - 1, INFEASIBLE)):
        if T < max(problem.min_durations):
            continue
        model = build_model(problem, T)
        outcome = (
            INFEASIBLE
            if model.trivially_infeasible
            else solve_model(model, "highs", 20, 0, None, warm_start=False)
        )
        assert outcome == expected, (problem.placement, T)
        if outcome == FEASIBLE:
            assert not validate(extract(model))


def chain(durations: list[int], comm: int = 0) -> TaskGraph:
    """One task per layer ``l0, l1, ...`` in a loop: ``t_i -> t_{i+1}`` and back, distance 2."""
    n = len(durations)
    tasks = tuple(Task(f"t{i}", dur, f"l{i}") for i, dur in enumerate(durations))
    edges = [Edge(f"t{i}", f"t{i + 1}", 0, comm) for i in range(n - 1)]
    edges.append(Edge(f"t{n - 1}", "t0", 2, comm))
    return TaskGraph(tasks, tuple(edges))


def test_stages_cost_more_than_layers_when_contiguity_decides() -> None:
    """Layers 3,3,1,1 on 2 processors: {3,1},{3,1} packs in 4, contiguous stages need 5."""
    graph = TaskGraph(tuple(Task(f"t{i}", dur, f"l{i}") for i, dur in enumerate([3, 3, 1, 1])), ())
    for solver in ("cpsat", "milp"):
        assert _solve(graph, delay(2), solver, "layer").schedule.period == 4
        result = _solve(graph, delay(2), solver, "stages")
        assert result.schedule.period == 5 and result.status == Status.OPTIMAL
    assert placed_brute(graph, 2, "stages") == 5


def test_a_layer_split_by_the_free_optimum_is_kept_whole() -> None:
    """A layer of two 2-unit tasks among 1-unit ones: free splits it, layer cannot."""
    tasks = (Task("a", 2, "L"), Task("b", 2, "L"), Task("c", 1, "M"), Task("e", 1, "N"))
    graph = TaskGraph(tasks, ())
    assert placed_brute(graph, 3, "free") == 2
    for solver in ("cpsat", "milp"):
        result = _solve(graph, delay(3), solver, "layer")
        assert result.schedule.period == 4
        proc = result.schedule.processor
        assert proc["a"] == proc["b"]


def test_ports_case_agrees() -> None:
    """Under ports (tensors that busy the link ports): CP-SAT = MILP, and the bounds below."""
    tasks = (
        Task("f1", 2, "L1"),
        Task("f2", 2, "L2"),
        Task("b2", 2, "L2"),
        Task("b1", 2, "L1"),
    )
    edges = (
        Edge("f1", "f2", 0, None, 2),
        Edge("f2", "b2", 0, None, 2),
        Edge("b2", "b1", 0, None, 2),
        Edge("b1", "f1", 2, None, 1),
    )
    graph = TaskGraph(tasks, edges, time_unit="1us")
    platform = Platform(tuple(Processor() for _ in range(2)), Link(1e6, 0.0), Link(1e6, 0.0))
    assert platform.capacity == "ports"
    for placement in ("layer", "stages"):
        a = _solve(graph, platform, "cpsat", placement)
        b = _solve(graph, platform, "milp", placement)
        assert a.status == b.status == Status.OPTIMAL
        assert a.schedule.period == b.schedule.period
        assert Problem(graph, platform, placement).lower_bound <= a.schedule.period
        free = _solve(graph, platform, "cpsat", "free")
        assert free.schedule.period <= a.schedule.period


def test_memory_case_agrees() -> None:
    """With a memory capacity: CP-SAT = MILP under layer, and every schedule fits."""
    tasks = (Task("f1", 2, "L1"), Task("f2", 3, "L2"), Task("b2", 3, "L2"), Task("b1", 2, "L1"))
    edges = (
        Edge("f1", "f2", 0, 1, 4),
        Edge("f2", "b2", 0, 1, 4),
        Edge("b2", "b1", 0, 1, 4),
        Edge("b1", "f1", 3, 1, 2),
    )
    graph = TaskGraph(tasks, edges, time_unit="1us")
    platform = delay(
        Platform(tuple(Processor(1.0, 40.0) for _ in range(2)), Link(1e6, 0.0), Link(1e6, 0.0))
    )
    a = _solve(graph, platform, "cpsat", "layer")
    b = _solve(graph, platform, "milp", "layer")
    assert a.status == b.status == Status.OPTIMAL
    assert a.schedule.period == b.schedule.period
    assert Problem(graph, platform, "layer").lower_bound <= a.schedule.period


def test_kept_reads_the_rules() -> None:
    graph = chain([1, 1, 1, 1])
    stages = Problem(graph, 3, "stages")
    layer = Problem(graph, 3, "layer")
    assert cpsat_placement.kept(stages, [0, 0, 1, 2])
    assert not cpsat_placement.kept(stages, [0, 1, 0, 2])  # processor 0 holds two intervals
    assert cpsat_placement.kept(layer, [0, 1, 0, 2])
    split = Problem(TaskGraph((Task("a", 1, "L"), Task("b", 1, "L")), ()), 2, "layer")
    assert not cpsat_placement.kept(split, [0, 1])
    assert cpsat_placement.kept(Problem(graph, 3), [0, 1, 0, 2])


def test_a_warm_start_that_breaks_the_placement_is_dropped() -> None:
    """CP-SAT ignores an initial schedule that breaks the placement; the MILP refuses it."""
    tasks = tuple(Task(f"t{i}", dur, f"l{i}") for i, dur in enumerate([2, 1, 1, 2]))
    graph = TaskGraph(tasks, tuple(Edge(f"t{i}", f"t{i + 1}") for i in range(3)))
    problem = Problem(graph, delay(2), "stages")
    # valid under free (two processors, period 3), but processor 0 holds l0 and l2
    bad = replace(
        one_processor(problem),
        processor={"t0": 0, "t1": 1, "t2": 0, "t3": 1},
        start={"t0": 0, "t1": 2, "t2": 5, "t3": 6},
        period=3,
    )
    assert not validate(replace(bad, placement="free"))
    assert validate(replace(bad, placement="stages"))
    result = solve_cpsat(problem, initial=bad, **DET)
    assert not validate(replace(result.schedule, placement="stages"))
    proc = [result.schedule.processor[t.name] for t in graph.tasks]
    assert result.schedule.placement == "stages" and cpsat_placement.kept(problem, proc)
    assert result.schedule.period == placed_brute(graph, 2, "stages") == 3  # [2, 1 | 1, 2]
    with pytest.raises(InputError, match="placement"):
        run_milp(problem, Options(initial=bad, time_limit=10))


def test_stage_layout_when_no_heuristic_helps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a heuristic schedule CP-SAT times the greedy contiguous layout first."""
    graph = chain([2, 2, 1, 3, 1, 2], comm=1)
    problem = Problem(graph, delay(3), "stages")
    assert cpsat_placement.stage_layout(problem, [2, 2, 1, 3, 1, 2], 4) == [0, 0, 1, 1, 2, 2]
    assert cpsat_placement.stage_layout(problem, [2, 2, 1, 3, 1, 2], 3) is None
    monkeypatch.setattr(cpsat_module, "_heuristic_schedule", lambda *args, **kwargs: None)
    result = solve_cpsat(problem, lower_bound=1, secondary=None, **DET)  # (no warm start)
    assert not validate(result.schedule) and result.status == Status.OPTIMAL
    layout = [s for s in result.stats["steps"] if s["phase"] == "stage layout"]
    assert [s["outcome"] for s in layout] == ["optimal"]  # (it found the schedule)
    assert result.schedule.period == placed_brute(graph, 3, "stages")
