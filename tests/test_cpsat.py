"""Tests of the CP-SAT solver (lpsched.solvers.cpsat).

The least periods of tiny instances are compared with a brute force that
shares nothing with the model: it enumerates processor assignments and start
offsets, and decides the stages by a longest-path test; it computes durations
per processor and message costs per link class itself. Every returned schedule
goes through the independent validator.
"""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.bounds import lower_bounds
from lpsched.errors import InputError
from lpsched.graph import Edge, Task, TaskGraph, make_graph
from lpsched.networks import get_network
from lpsched.platform import Link, Platform, Processor
from lpsched.problem import Problem
from lpsched.schedule import Schedule, Status
from lpsched.solvers import cpsat
from lpsched.solvers.cpsat import run_cpsat, solve_cpsat
from lpsched.solvers.registry import DEFAULT_EXACT_SECONDS, SOLVERS, Options
from lpsched.solvers.toolkit import Clock, Incumbent, one_processor
from lpsched.taskgraph import build_task_graph
from lpsched.validate import check_schedule, validate
from tests.brute import brute_force_period, tiny_byte_graphs, tiny_graphs, tiny_platforms
from tests.platforms import delay

FEW = settings(max_examples=25, deadline=None)
ROOT = Path(__file__).resolve().parents[1]
#: Every phase budgeted by CP-SAT's deterministic time, one worker: no outcome below
#: depends on how busy the machine is.
DET = {"workers": 1, "deterministic": True}


def assert_valid(schedule: Schedule) -> None:
    problems = validate(schedule)
    assert not problems, [v.message for v in problems[:5]]
    check_schedule(schedule)


def auto_graph(cap: int) -> TaskGraph:
    """A two-layer chain whose weight edges are decisions in [1, cap]."""
    tasks = [("F1", 2), ("F2", 1), ("D2", 1), ("D1", 2), ("U1", 1), ("U2", 1)]
    edges = [
        Edge("F1", "F2", 0, 1, 100),
        Edge("F2", "D2", 0, 0, 100),
        Edge("D2", "D1", 0, 1, 100),
        Edge("D1", "U1", 0, 0, 10),
        Edge("D2", "U2", 0, 0, 10),
        Edge("U1", "F1", cap, 1, 50, weights="l1"),
        Edge("U2", "F2", cap, 1, 50, weights="l2"),
        Edge("U1", "U1", 1),
        Edge("U2", "U2", 1),
    ]
    return TaskGraph(
        tuple(Task(name, dur, layer=f"l{name[-1]}") for name, dur in tasks),
        tuple(edges),
        staleness_cap=cap,
    )


def ring() -> TaskGraph:
    """Four tasks in a loop of distance 2 with communication costs."""
    return make_graph(
        [("a", 3), ("b", 2), ("c", 4), ("d", 1)],
        [("a", "b", 0, 1), ("b", "c", 0, 2), ("c", "d", 0, 0), ("d", "a", 2, 1)],
    )


def byte_ring() -> TaskGraph:
    """:func:`ring` with bytes instead of fixed costs (1 us units): the link class decides."""
    edges = [("a", "b", 0, 1), ("b", "c", 0, 2), ("c", "d", 0, 0), ("d", "a", 2, 1)]
    return make_graph(
        [("a", 3), ("b", 2), ("c", 4), ("d", 1)],
        [Edge(u, v, w, None, b) for u, v, w, b in edges],
        time_unit="1us",
    )


def platform(speeds: list[float], nodes: list[int] | None = None) -> Platform:
    """Processors of these speeds and nodes; 1 B/us within a node, 0.5 B/us between."""
    nodes = nodes or [0] * len(speeds)
    procs = tuple(Processor(s, None, n) for s, n in zip(speeds, nodes, strict=True))
    return Platform(procs, Link(1e6, 0.0), Link(0.5e6, 0.0))


def heuristic_schedule(graph: TaskGraph, P: int) -> Schedule:
    """The registry's heuristic on the default platform of ``P`` processors."""
    return SOLVERS["heuristic"].run(Problem(graph, P), Options()).schedule


#: Hand-picked platforms: mixed speeds, the fast processor last (symmetry breaking
#: across speeds would cut the optimum), two nodes with dearer links between them.
PLATFORMS = [
    platform([1.0, 2.0]),
    platform([0.5, 1.0, 1.0]),
    platform([1.0, 1.0, 1.0], [0, 0, 1]),
    platform([2.0, 1.0, 2.0], [0, 1, 1]),
]


# ------------------------------------------------------------------------ tests
@FEW
@given(tiny_graphs(), st.integers(1, 3))
def test_optimal_period_matches_brute_force(graph: TaskGraph, P: int) -> None:
    result = solve_cpsat(graph, P, **DET, time_limit=60)
    assert result.schedule is not None
    assert_valid(result.schedule)
    assert result.status is Status.OPTIMAL
    assert result.period == brute_force_period(graph, P)
    assert result.lower_bound == result.period


@FEW
@given(tiny_graphs(max_tasks=5, max_duration=3, max_comm=8), st.integers(2, 3))
def test_expensive_messages_match_brute_force(graph: TaskGraph, P: int) -> None:
    # Messages up to 8 against tasks of 1..3: forced co-location (13) and the
    # co-location bound come into play, and must not cut off the optimum.
    result = solve_cpsat(graph, P, **DET, time_limit=60)
    assert_valid(result.schedule)
    assert result.status is Status.OPTIMAL
    assert result.period == brute_force_period(graph, P)


@pytest.mark.parametrize("P", [1, 2, 3])
def test_ring_matches_brute_force(P: int) -> None:
    graph = ring()
    result = solve_cpsat(graph, P, **DET, time_limit=60)
    assert_valid(result.schedule)
    assert result.period == brute_force_period(graph, P)
    assert result.status is Status.OPTIMAL


@pytest.mark.parametrize("cap", [1, 2, 3])
@pytest.mark.parametrize("P", [2, 3])
def test_auto_staleness_within_cap(cap: int, P: int) -> None:
    graph = auto_graph(cap)
    result = solve_cpsat(graph, P, **DET, time_limit=60, secondary="staleness")
    sched = result.schedule
    assert sched is not None
    # The schedule carries the distances it chose, each within [1, cap] ...
    chosen = sched.graph.staleness()
    assert set(chosen) == {"l1", "l2"}
    assert all(1 <= s <= cap for s in chosen.values())
    assert sched.graph.staleness_cap is None
    # ... and is valid on its own graph, with the least period of the cap.
    assert_valid(sched)
    assert result.status is Status.OPTIMAL
    assert result.period == brute_force_period(graph, P)


def test_fixed_distances_are_kept() -> None:
    graph = ring()
    result = solve_cpsat(graph, 2, **DET, time_limit=60)
    assert result.schedule.graph.edges == graph.edges


def test_one_processor_is_sequential() -> None:
    graph = ring()
    result = solve_cpsat(graph, 1, **DET)
    assert result.period == graph.total_work
    assert result.status is Status.OPTIMAL
    assert set(result.schedule.processor.values()) == {0}


@pytest.mark.parametrize("name, P", [("lenet5", 2), ("mlp", 3)])
def test_never_worse_than_heuristic(name: str, P: int) -> None:
    graph = build_task_graph(get_network(name), "layerpipe", staleness="auto", processors=P)
    lb = lower_bounds(graph, P).lower_bound
    heur = heuristic_schedule(graph, P)
    for initial in (heur, None):
        result = solve_cpsat(
            graph, P, lower_bound=lb, initial=initial, **DET, time_limit=2, secondary=None
        )
        assert_valid(result.schedule)
        assert lb <= result.lower_bound <= result.period <= heur.period
        if result.status is Status.OPTIMAL:
            assert result.period == result.lower_bound


def test_deterministic_with_one_worker() -> None:
    graph = ring()
    runs = [solve_cpsat(graph, 2, workers=1, seed=7, secondary="comm") for _ in range(2)]
    a, b = (r.schedule for r in runs)
    assert (a.period, a.processor, a.start) == (b.period, b.processor, b.start)


def test_time_limit_gives_feasible_not_optimal() -> None:
    # vgg16 on 8 processors: the bound 751 is not attainable (no packing of the
    # tasks into 8 periods of 770 exists), and 0.05 s proves nothing.
    graph = build_task_graph(get_network("vgg16"), "layerpipe", staleness="auto", processors=8)
    initial = heuristic_schedule(graph, 8)
    result = solve_cpsat(graph, 8, lower_bound=751, initial=initial, time_limit=0.05, **DET)
    assert result.status is Status.FEASIBLE
    assert result.lower_bound < result.period <= initial.period
    assert_valid(result.schedule)


def test_initial_returned_when_nothing_better() -> None:
    graph = ring()
    first = solve_cpsat(graph, 2, **DET, secondary=None)
    again = solve_cpsat(graph, 2, initial=first.schedule, **DET, secondary=None)
    assert again.period == first.period
    assert again.status is Status.OPTIMAL


def test_secondary_comm_never_increases_bytes() -> None:
    graph = auto_graph(3)
    plain = solve_cpsat(graph, 3, **DET, secondary=None)
    comm = solve_cpsat(graph, 3, **DET, secondary="comm")
    assert comm.period == plain.period
    assert comm.schedule.comm_bytes() <= plain.schedule.comm_bytes()
    assert comm.stats["secondary"]["status"] == "optimal"
    assert_valid(comm.schedule)


def test_secondary_staleness_is_least() -> None:
    graph = auto_graph(3)
    plain = solve_cpsat(graph, 2, **DET, secondary=None)
    least = solve_cpsat(graph, 2, **DET, secondary="staleness")
    assert least.period == plain.period
    assert sum(least.schedule.staleness().values()) <= sum(plain.schedule.staleness().values())
    assert_valid(least.schedule)


#: A progress line for a person: time, period in units and ms, bound, gap in percent.
PROGRESS = re.compile(r"cpsat +\d+\.\d s  period (\d+) \([\d.e+]+ ms\)  bound (\d+)  gap \d+\.\d%")


def test_log_has_a_line_per_improvement_and_the_raw_log_goes_elsewhere() -> None:
    lines: list[str] = []
    raw: list[str] = []
    result = solve_cpsat(
        auto_graph(3), 3, lower_bound=1, log=lines.append, solver_log=raw.append, **DET
    )
    found = [PROGRESS.fullmatch(line) for line in lines]
    shown = [(int(m[1]), int(m[2])) for m in found if m]
    assert shown, lines
    # each line says something new: the period falls or the bound rises, never back
    assert all(a != b for a, b in zip(shown, shown[1:], strict=False))
    assert all(b[0] <= a[0] and b[1] >= a[1] for a, b in zip(shown, shown[1:], strict=False))
    assert shown[-1] == (result.period, result.lower_bound)
    assert all(line.startswith("cpsat") for line in lines)
    assert not any("CP-SAT" in line for line in lines)  # CP-SAT's own log only in solver_log
    assert any("CP-SAT" in line and not line.startswith("cpsat") for line in raw)
    assert any(line.startswith("cpsat: period in") for line in raw)


def test_silent_without_log(capsys: pytest.CaptureFixture[str]) -> None:
    solve_cpsat(ring(), 2, **DET)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


@pytest.mark.parametrize(
    "kwargs",
    [{"processors": 0}, {"secondary": "latency"}, {"time_limit": 0}, {"time_limit": -1.0}],
)
def test_bad_arguments(kwargs: dict) -> None:
    args = {"processors": 2, **kwargs}
    P = args.pop("processors")
    with pytest.raises(InputError):
        solve_cpsat(ring(), P, **args)


def test_initial_for_another_graph_is_an_input_error() -> None:
    other = make_graph([("a", 1), ("z", 1)])
    initial = Schedule(other, 2, 2, {"a": 0, "z": 1}, {"a": 0, "z": 0})
    with pytest.raises(InputError, match="no assignment for task 'b'"):
        solve_cpsat(ring(), 2, initial=initial)


def test_lower_bound_above_initial_is_an_input_error() -> None:
    first = solve_cpsat(ring(), 2, **DET, secondary=None)
    with pytest.raises(InputError, match="exceeds the period"):
        solve_cpsat(ring(), 2, initial=first.schedule, lower_bound=first.period + 1)


def test_staleness_secondary_on_one_processor() -> None:
    result = solve_cpsat(auto_graph(3), 1, **DET, secondary="staleness")
    assert result.status is Status.OPTIMAL
    assert result.stats["secondary"]["objective"] == "staleness"
    assert_valid(result.schedule)


PLANS = [
    (("bisect", 1.0),),
    (("variable", 1.0),),
    (("lower", 0.5), ("descend-soft", 1.0)),
    (("lower-hard", 0.5), ("descend", 1.0)),
]


@pytest.mark.parametrize("plan", PLANS, ids=lambda plan: "+".join(p for p, _ in plan))
@pytest.mark.parametrize("P", [2, 3])
def test_every_plan_finds_the_optimum(plan, P: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpsat, "PLAN", plan)
    for graph in (ring(), auto_graph(2)):
        result = solve_cpsat(graph, P, **DET, lower_bound=1, secondary=None)
        assert_valid(result.schedule)
        assert result.period == brute_force_period(graph, P)
        if result.status is Status.OPTIMAL:
            assert result.lower_bound == result.period


def test_plan_phases_are_known() -> None:
    known = {"packing", "heuristic", "segments", "variable", "lower", "lower-hard", "descend"}
    known |= {"descend-soft", "bisect", "neighbourhood", "ports"}
    assert {phase for phase, _share in cpsat.PLAN} <= known


@pytest.mark.parametrize("P", [1, 2, 3, 5])
def test_optional_interval_count_matches_the_model(P: int) -> None:
    # The count of the delay model's intervals; the port intervals are cpsat_ports' (C24).
    graph = build_task_graph(get_network("lenet5"), "layerpipe", staleness="auto", processors=P)
    inst = cpsat._Instance.build(Problem(graph, delay(P)))
    prep = cpsat._prepare(inst, sum(inst.d))
    assert prep is not None
    model = cpsat._build_model(inst, prep, lo=1).model.proto
    optional = [c for c in model.constraints if c.has_interval() and c.enforcement_literal]
    assert cpsat._optional_intervals(inst) == len(optional)


@pytest.mark.parametrize("lo", [None, 1])
def test_optional_interval_count_with_slow_processors(lo: int | None) -> None:
    # A processor 100 times slower cannot run the longer tasks at T = sum of the
    # fastest durations (C10), and the groups {0, 1}, {2}, {3} break symmetry apart.
    graph = build_task_graph(get_network("lenet5"), "layerpipe", staleness="auto", processors=4)
    problem = Problem(graph, delay(platform([1.0, 1.0, 0.01, 2.0])))
    inst = cpsat._Instance.build(problem)
    T = sum(inst.d)
    assert any(row[2] > T for row in inst.dp)
    prep = cpsat._prepare(inst, T)
    assert prep is not None
    model = cpsat._build_model(inst, prep, lo=lo).model.proto
    optional = [c for c in model.constraints if c.has_interval() and c.enforcement_literal]
    assert cpsat._optional_intervals(inst, T) == len(optional)
    assert cpsat._optional_intervals(inst, T) < cpsat._optional_intervals(inst)


@pytest.mark.parametrize("P", [2, 3])
def test_large_models_skip_the_variable_period(P: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Below the threshold the variable phase must not run, and descend alone still
    # reaches the optimum.
    monkeypatch.setattr(cpsat, "PLAN", (("variable", 0.5), ("descend", 1.0)))
    monkeypatch.setattr(cpsat, "MAX_VARIABLE_INTERVALS", 0)
    for graph in (ring(), auto_graph(2)):
        lines: list[str] = []
        result = solve_cpsat(graph, P, **DET, lower_bound=1, secondary=None, log=lines.append)
        assert_valid(result.schedule)
        assert result.period == brute_force_period(graph, P)
        assert not any(s["phase"] == "variable period" for s in result.stats["steps"])
        assert any("variable period: skipped" in line for line in lines)


# ------------------------------------------------------------ heterogeneous platforms
HETERO = settings(max_examples=40, deadline=None)
SEVERAL = tiny_platforms().filter(lambda p: p.P > 1)


@HETERO
@given(tiny_byte_graphs(), SEVERAL)
def test_platforms_match_brute_force(graph: TaskGraph, plat: Platform) -> None:
    # Speeds 0.5..2 and one or two nodes (a byte costs 1 unit within a node, 2
    # between): durations per processor (C3, C9), link classes (C5) and symmetry
    # only within interchangeable groups (C11, C12) must keep the optimum.
    result = solve_cpsat(Problem(graph, plat), **DET, secondary=None)
    assert_valid(result.schedule)
    expected = brute_force_period(graph, plat)
    assert result.period == expected
    assert result.status is Status.OPTIMAL
    assert result.lower_bound == expected


@HETERO
@given(tiny_graphs(max_tasks=5, max_comm=4), SEVERAL)
def test_fixed_costs_on_platforms_match_brute_force(graph: TaskGraph, plat: Platform) -> None:
    result = solve_cpsat(graph, plat, **DET, secondary=None)
    assert_valid(result.schedule)
    assert result.period == brute_force_period(graph, plat)
    assert result.status is Status.OPTIMAL


@pytest.mark.parametrize("plat", PLATFORMS, ids=lambda p: p.describe()[:40])
@pytest.mark.parametrize("make", [byte_ring, lambda: auto_graph(2)], ids=["ring", "auto"])
def test_hand_picked_platforms_match_brute_force(make, plat: Platform) -> None:
    graph = make()
    result = solve_cpsat(graph, plat, **DET, secondary="comm")
    assert_valid(result.schedule)
    assert result.period == brute_force_period(graph, plat)
    assert result.status is Status.OPTIMAL


def test_the_fast_processor_gets_the_long_task() -> None:
    # Two independent tasks of 4 and 1 on speeds (1, 2): the optimum (2) puts the
    # long one on processor 1. Breaking symmetry across the speeds (the task of
    # rank 0 on processor 0 only) would leave 4.
    graph = make_graph([("long", 4), ("short", 1)])
    result = solve_cpsat(graph, platform([1.0, 2.0]), **DET, secondary=None)
    assert_valid(result.schedule)
    assert result.period == brute_force_period(graph, platform([1.0, 2.0])) == 2
    assert result.schedule.processor["long"] == 1
    assert result.status is Status.OPTIMAL


def test_inter_node_messages_cost_more() -> None:
    # Two tasks of 2 in a loop of distance 2, a byte each way: split within a node
    # the loop takes 2 + 1 + 2 + 1 = 6 <= 2T (T = 3); across nodes 8 (T = 4, no
    # better than one processor). With a third processor in another node the pair
    # within node 0 must be found (groups {0, 1} and {2}).
    graph = make_graph(
        [("a", 2), ("b", 2)],
        [Edge("a", "b", 0, None, 1), Edge("b", "a", 2, None, 1)],
        time_unit="1us",
    )
    cases = [(platform([1.0, 1.0]), 3), (platform([1.0, 1.0], [0, 1]), 4)]
    cases += [(platform([1.0, 1.0, 1.0], [1, 0, 0]), 3)]
    for plat, period in cases:
        assert brute_force_period(graph, plat) == period
        result = solve_cpsat(graph, plat, **DET, secondary=None)
        assert_valid(result.schedule)
        assert result.period == period
        assert result.status is Status.OPTIMAL


@pytest.mark.parametrize("plan", PLANS, ids=lambda plan: "+".join(p for p, _ in plan))
def test_every_plan_on_platforms(plan, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpsat, "PLAN", plan)
    for plat in PLATFORMS[1:]:
        for graph in (byte_ring(), auto_graph(2)):
            result = solve_cpsat(graph, plat, **DET, lower_bound=1, secondary=None)
            assert_valid(result.schedule)
            assert result.period == brute_force_period(graph, plat)
            if result.status is Status.OPTIMAL:
                assert result.lower_bound == result.period


def test_registry_entry_takes_platforms() -> None:
    info = SOLVERS["cpsat"]
    assert info.heterogeneous and info.topology
    problem = Problem(byte_ring(), PLATFORMS[3])
    options = Options(workers=1, secondary="comm", deterministic=True)
    info.check(problem, options)
    lines: list[str] = []
    result = info.run(problem, replace(options, log=lines.append))
    assert_valid(result.schedule)
    assert result.schedule.platform == problem.platform
    assert result.period == brute_force_period(problem.graph, problem.platform)
    assert result.status is Status.OPTIMAL
    # the warm start: the heuristic when it takes the platform, else one processor
    start = r"cpsat +\d+\.\d s  starts from the (heuristic|one processor): period \d+"
    assert [line for line in lines if re.fullmatch(start, line)], lines
    assert info.deterministic and info.default_time_limit == DEFAULT_EXACT_SECONDS


def test_run_cpsat_starts_from_the_given_schedule() -> None:
    problem = Problem(auto_graph(3), platform([0.5, 1.0, 1.0]))
    initial = one_processor(problem)
    lines: list[str] = []
    options = Options(secondary=None, initial=initial, log=lines.append, **DET)
    result = run_cpsat(problem, options)
    assert lines[0].endswith(f"starts from the initial schedule: period {initial.period}")
    assert_valid(result.schedule)
    assert result.period <= initial.period
    assert result.period == brute_force_period(problem.graph, problem.platform)


def test_segments_phase_skipped_on_mixed_speeds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpsat, "PLAN", (("segments", 1.0),))
    lines: list[str] = []
    graph = build_task_graph(get_network("lenet5"), "layerpipe", staleness="auto", processors=2)
    plat = platform([1.0, 2.0])
    result = solve_cpsat(graph, plat, **DET, secondary=None, lower_bound=1, log=lines.append)
    assert_valid(result.schedule)
    assert not any(s["phase"] == "segments" for s in result.stats["steps"])
    assert "cpsat: segments: skipped, the processors are not identical" in lines


def test_uniform_fast_platform_is_the_scaled_problem() -> None:
    # Every processor at speed 2: the problem with durations ceil(d / 2), exactly.
    graph = auto_graph(2)
    fast = platform([2.0, 2.0])
    result = solve_cpsat(graph, fast, **DET, secondary=None)
    assert_valid(result.schedule)
    scaled = Problem(graph, fast).relaxed_graph()
    assert result.period == brute_force_period(graph, fast) == brute_force_period(scaled, 2)


def test_equation_numbers_match_the_formulation() -> None:
    # Every C-number the code cites is in formulations/cpsat.md and the other way
    # round, numbered C1..Cn without gaps.
    code = (ROOT / "lpsched" / "solvers" / "cpsat.py").read_text(encoding="utf-8")
    doc = (ROOT / "formulations" / "cpsat.md").read_text(encoding="utf-8")
    cited = {int(k) for k in re.findall(r"\bC(\d+)\b", code)}
    defined = {int(k) for k in re.findall(r"\(C(\d+)\)", doc)}
    assert defined == set(range(1, len(defined) + 1))
    assert cited == defined


# ------------------------------------------------------- time limits, stop, big instances
def test_deterministic_budget_gives_one_answer() -> None:
    # VGG-16 on 8 processors from the bound 751 with 0.3 deterministic seconds: the
    # search is cut short in every phase, by work and not by the clock, so two calls
    # take the same steps and return the same schedule.
    graph = build_task_graph(get_network("vgg16"), "layerpipe", staleness="auto", processors=8)
    initial = heuristic_schedule(graph, 8)
    a, b = (
        solve_cpsat(graph, 8, lower_bound=751, initial=initial, time_limit=0.3, **DET)
        for _ in range(2)
    )
    steps = [[(s["phase"], s["period"], s["outcome"]) for s in r.stats["steps"]] for r in (a, b)]
    assert steps[0] == steps[1]
    assert (a.period, a.schedule.processor, a.schedule.start) == (
        b.period,
        b.schedule.processor,
        b.schedule.start,
    )
    assert a.stats["deterministic_seconds"] == b.stats["deterministic_seconds"]
    assert_valid(a.schedule)


def test_secondary_gets_a_bounded_share() -> None:
    # At most 25% of the limit, at most as long as the period took (at least 2 s).
    def limit(time_limit: float | None, spent: float) -> float:
        budget = cpsat._Budget(time_limit, True, threading.Event(), Clock(None), used=spent)
        return cpsat._secondary_limit(budget)

    assert limit(60, 0.0) == cpsat.SECONDARY_FLOOR
    assert limit(60, 5.0) == 5.0
    assert limit(60, 30.0) == 60 * cpsat.SECONDARY_SHARE
    assert limit(60, 59.0) == pytest.approx(1.0)
    assert limit(None, 500.0) == cpsat.UNLIMITED_PHASE_SECONDS


def test_secondary_patience() -> None:
    search = cpsat._Search.__new__(cpsat._Search)  # only its progress is reached
    watch = cpsat._ObjectiveWatch(search, "comm", 10, patience=1.0)
    assert not watch.idle()  # no solution yet: presolve does not count
    watch.last = time.perf_counter()
    assert not watch.idle()
    watch.last = time.perf_counter() - 2.0
    assert watch.idle()
    assert not cpsat._ObjectiveWatch(search, "comm", 10, patience=None).idle()


def test_proven_period_ends_long_before_the_limit() -> None:
    # AlexNet on 4 processors: the heuristic meets the bound at once, and the call
    # ends within a few seconds of a 60 s limit (issue 18: it used to run to the limit).
    graph = build_task_graph(get_network("alexnet"), "layerpipe", processors=4)
    problem = Problem(graph, delay(4))
    problem.lower_bound  # noqa: B018 (the bounds are solve()'s work, before the limit)
    began = time.perf_counter()
    result = run_cpsat(problem, Options(time_limit=60, workers=1))
    assert time.perf_counter() - began < 30
    assert result.status is Status.OPTIMAL
    assert result.stats["secondary"]["seconds"] <= 60 * cpsat.SECONDARY_SHARE
    assert_valid(result.schedule)


def test_stop_ends_a_long_search_promptly(monkeypatch: pytest.MonkeyPatch) -> None:
    # The variable-period model cannot prove VGG-16/8 (its bound stays at 769), so it
    # would search for its whole share, 60 s; stop, set from a timer thread after 1 s,
    # ends it within about a second and the best schedule comes back.
    monkeypatch.setattr(cpsat, "PLAN", (("variable", 1.0),))
    graph = build_task_graph(get_network("vgg16"), "layerpipe", staleness="auto", processors=8)
    initial = heuristic_schedule(graph, 8)
    stop, incumbent = threading.Event(), Incumbent()
    timer = threading.Timer(1.0, stop.set)
    began = time.perf_counter()
    timer.start()
    try:
        result = solve_cpsat(
            graph,
            8,
            lower_bound=751,
            initial=initial,
            time_limit=120,
            workers=1,
            stop=stop,
            incumbent=incumbent,
        )
    finally:
        timer.cancel()
    assert time.perf_counter() - began < 20  # about 1.5 s idle; the phase alone takes 60 s
    assert result.stats["stopped"]
    assert_valid(result.schedule)
    assert result.period <= initial.period
    assert incumbent.best is not None and incumbent.best.period == result.period
    assert_valid(incumbent.best)


def test_stop_before_the_call_returns_the_start() -> None:
    stop = threading.Event()
    stop.set()
    result = solve_cpsat(auto_graph(3), 3, lower_bound=1, stop=stop, **DET)
    assert_valid(result.schedule)
    assert result.stats["stopped"]
    assert result.stats["deterministic_seconds"] == 0


def test_cp_solver_leaves_sigint_to_python() -> None:
    wall = cpsat.cp_solver(1, 0, 5.0, None).parameters
    work = cpsat.cp_solver(1, 0, 5.0, None, deterministic=True).parameters
    assert not wall.catch_sigint_signal and not work.catch_sigint_signal
    assert wall.max_time_in_seconds == 5.0
    assert work.max_deterministic_time == 5.0 and work.max_time_in_seconds > 1e9


def layered(layers: int, width: int, nbytes: bool = True) -> TaskGraph:
    """A smaller ``benchmarks/big.py`` DAG: each task reads 2 of the layer before, 3 back edges."""
    rng = random.Random(0)
    tasks = [Task(f"t{i}_{j}", rng.randint(10, 200)) for i in range(layers) for j in range(width)]
    size = (lambda: rng.randint(1_000, 1_000_000)) if nbytes else (lambda: 0)
    edges = [
        Edge(f"t{i - 1}_{k}", f"t{i}_{j}", bytes=size())
        for i in range(1, layers)
        for j in range(width)
        for k in rng.sample(range(width), 2)
    ]
    for i in (2, layers // 2, layers - 1):
        edges.append(Edge(f"t{i}_0", f"t{i - 2}_1", distance=2, bytes=size()))
    return TaskGraph(tuple(tasks), tuple(edges), time_unit="1us")


def test_big_graph_skips_the_all_pairs_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    # 900 tasks: the cubic pass must not run; the search starts from one processor,
    # so the packing, heuristic and model phases all see the big graph.
    graph = layered(9, 100)
    assert graph.n > cpsat.MAX_ALL_PAIRS_TASKS

    def refuse(*args: object) -> None:
        raise AssertionError("the all-pairs pass ran")

    monkeypatch.setattr(cpsat, "_longest", refuse)
    lines: list[str] = []
    problem = Problem(graph, 2)
    result = solve_cpsat(problem, time_limit=3, log=lines.append, **DET)
    assert_valid(result.schedule)
    assert result.period <= one_processor(problem).period
    assert any("no all-pairs longest paths above" in line for line in lines)
    assert any("no all-pairs longest paths above" in note for note in result.stats["notes"])
    # the packing phase prepared its periods (windows, co-locations) without the pass
    assert any(step["phase"] == "packing" for step in result.stats["steps"])


def test_no_bytes_no_secondary_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fixed costs carry no bytes: the secondary objective has no term and prepares nothing.
    monkeypatch.setattr(cpsat, "PLAN", ())

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was prepared")

    monkeypatch.setattr(cpsat, "_prepare", refuse)
    lines: list[str] = []
    result = solve_cpsat(ring(), 2, secondary="comm", log=lines.append, **DET)
    assert_valid(result.schedule)
    assert "cpsat: comm: skipped, no edge carries bytes" in lines
    assert "secondary" not in result.stats


@pytest.mark.parametrize("limit", ["MODEL_ITEMS_PER_SECOND", "MAX_MODEL_ITEMS", "MAX_MAGNITUDE"])
def test_models_that_do_not_fit_are_skipped(limit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every model too large (for the time, in size, or in its numbers): each phase
    # notes it and gives up, the search ends (no phase loops on a skipped model), and
    # the best schedule found without models comes back.
    monkeypatch.setattr(cpsat, limit, 1)
    for plan in [cpsat.PLAN, *PLANS]:
        monkeypatch.setattr(cpsat, "PLAN", plan)
        lines: list[str] = []
        graph = auto_graph(2)
        result = solve_cpsat(graph, 3, lower_bound=1, secondary="comm", log=lines.append, **DET)
        assert_valid(result.schedule)
        assert result.period >= brute_force_period(graph, 3)
        assert any(": skipped, " in line for line in lines)


@pytest.mark.parametrize("plan", PLANS, ids=lambda plan: "+".join(p for p, _ in plan))
def test_path_windows_keep_the_optimum(plan, monkeypatch: pytest.MonkeyPatch) -> None:
    # Above MAX_ALL_PAIRS_TASKS the windows of strongly connected graphs are those of
    # section 2.3 for other graphs, with least stages; with the threshold at 0 every
    # graph gets them, and every plan still finds the least period.
    monkeypatch.setattr(cpsat, "MAX_ALL_PAIRS_TASKS", 0)
    monkeypatch.setattr(cpsat, "PLAN", plan)
    for P in (2, 3):
        for graph in (ring(), auto_graph(2)):
            result = solve_cpsat(graph, P, lower_bound=1, secondary="comm", **DET)
            assert_valid(result.schedule)
            assert result.period == brute_force_period(graph, P)


@FEW
@given(tiny_graphs(), st.integers(2, 3))
def test_path_windows_match_brute_force(graph: TaskGraph, P: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cpsat, "MAX_ALL_PAIRS_TASKS", 0)
        result = solve_cpsat(graph, P, lower_bound=1, time_limit=60, **DET)
    assert_valid(result.schedule)
    assert result.period == brute_force_period(graph, P)
    assert result.status is Status.OPTIMAL


@pytest.mark.parametrize("plan", [cpsat.PLAN, *PLANS], ids=lambda p: "+".join(x for x, _ in p))
def test_huge_durations(plan, monkeypatch: pytest.MonkeyPatch) -> None:
    # Durations and costs times 2**34 (the total work near the 2**40 limit): every plan
    # ends within its deterministic budget with a valid schedule no worse than the
    # scaled optimum of the small instance (scaling a schedule keeps it valid).
    monkeypatch.setattr(cpsat, "PLAN", plan)
    scale = 2**34
    small = auto_graph(2)
    tasks = tuple(replace(t, duration=t.duration * scale) for t in small.tasks)
    edges = tuple(replace(e, comm=None if e.comm is None else e.comm * scale) for e in small.edges)
    graph = replace(small, tasks=tasks, edges=edges)
    result = solve_cpsat(graph, 3, lower_bound=1, time_limit=5, secondary="staleness", **DET)
    assert_valid(result.schedule)
    assert result.lower_bound <= result.period <= scale * brute_force_period(small, 3)
    assert result.stats["deterministic_seconds"] <= 5 + 1
