"""The port-assignment relaxation (``formulations/cpsat.md``, section 4.1) and its CP-SAT phase."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from ortools.sat.python import cp_model

from lpsched.bounds import port_model
from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform, Processor
from lpsched.problem import Problem
from lpsched.solvers.cpsat import solve_cpsat
from lpsched.solvers.port_assignment import assignment_model, co_location_groups
from lpsched.validate import check_schedule
from tests.brute import brute_force_period, brute_force_schedule, tiny_byte_graphs, tiny_platforms

TINY = settings(
    max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)

TWO = Platform((Processor(1.0, None, 0),) * 2, Link(1e6, 0.0), Link(1e6, 0.0), "ports")


def relaxed(problem: Problem, T: int, pairs: list[tuple[int, int]] | None = None) -> str:
    """``feasible`` or ``infeasible``: the relaxation of ``problem`` at ``T``, solved to the end."""
    model = port_model(problem)
    assert model is not None
    am = assignment_model(problem.min_durations, pairs or [], problem.P, model, T)
    if am is None:
        return "infeasible"
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    status = solver.solve(am.model)
    assert status in (cp_model.OPTIMAL, cp_model.INFEASIBLE)
    return "feasible" if status == cp_model.OPTIMAL else "infeasible"


def four_crossings() -> TaskGraph:
    """``a b c d`` (3 units each); a, b and c each send 4-byte tensors on (5 edges, 4 us each).

    On two processors every split of two and two sends 8 or 12 units out of one
    processor, so below ``T = 8`` no assignment keeps the ports within ``T``.
    """
    tasks = tuple(Task(n, 3) for n in "abcd")
    pairs = ("ab", "bc", "cd", "ac", "bd")
    return TaskGraph(tasks, tuple(Edge(u, v, 0, None, 4) for u, v in pairs), time_unit="1us")


# ------------------------------------------------------------------ the relaxation
@TINY
@given(tiny_byte_graphs(max_tasks=4, max_duration=3, shared=True), tiny_platforms(capacity="ports"))
def test_the_relaxation_accepts_every_schedules_period(
    graph: TaskGraph, platform: Platform
) -> None:
    """A relaxation is a proof: it accepts the least period the brute force finds, and above."""
    problem = Problem(graph, platform)
    if port_model(problem) is None:
        return
    best = brute_force_period(graph, platform)
    assert relaxed(problem, best) == "feasible"
    witness = brute_force_schedule(graph, platform)
    assert relaxed(problem, witness.period + 1) == "feasible"


def test_the_relaxation_sees_two_boundaries_that_the_static_bounds_miss() -> None:
    """Four crossings: the static bounds say 6, the relaxation 8, the brute force 8."""
    problem = Problem(four_crossings(), TWO)
    assert problem.lower_bound == 6
    assert relaxed(problem, 7) == "infeasible"
    assert relaxed(problem, 8) == "feasible"
    assert brute_force_period(problem.graph, TWO) == 8


@TINY
@given(tiny_byte_graphs(max_tasks=5, max_duration=3, shared=True), tiny_platforms(capacity="ports"))
def test_an_accepted_assignment_keeps_loads_and_ports_within_the_period(
    graph: TaskGraph, platform: Platform
) -> None:
    """The processors read back: loads and port time recounted here are at most ``c T``."""
    problem = Problem(graph, platform)
    model = port_model(problem)
    if model is None:
        return
    T = max(problem.lower_bound, 1)
    while (am := assignment_model(problem.min_durations, [], problem.P, model, T)) is None:
        T += 1
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    while solver.solve(am.model) != cp_model.OPTIMAL:
        T += 1
        am = assignment_model(problem.min_durations, [], problem.P, model, T)
        assert am is not None
    proc = am.processors(solver)
    d = problem.min_durations
    assert all(sum(d[v] for v in range(graph.n) if proc[v] == p) <= T for p in range(problem.P))
    sends, takes = [0] * problem.P, [0] * problem.P
    for k, tensor in enumerate(problem.tensors):
        tau = min(
            problem.transfer_time(k, p, q)
            for p in range(problem.P)
            for q in range(problem.P)
            if p != q
        )
        readers = {proc[graph.index(graph.edges[e].dst)] for e in tensor.edges}
        away = readers - {proc[tensor.producer]}
        sends[proc[tensor.producer]] += tau * len(away)
        for q in away:
            takes[q] += tau
    assert max(sends) <= model.ports * T and max(takes) <= model.ports * T


def test_a_tensor_longer_than_the_period_joins_its_ends() -> None:
    """At T = 3 the 4-unit tensors cannot cross: ``a`` joins ``b`` and ``c``, ``b`` joins ``d``."""
    problem = Problem(four_crossings(), TWO)
    model = port_model(problem)
    assert model is not None
    groups = co_location_groups(4, [], model, 3)
    assert sorted(map(sorted, groups)) == [[0, 1, 2, 3]]
    assert sorted(map(sorted, co_location_groups(4, [], model, 4))) == [[0], [1], [2], [3]]
    assert sorted(map(sorted, co_location_groups(4, [(0, 3)], model, 4))) == [[0, 3], [1], [2]]
    # One group of 12 units exceeds T = 11: no model at all.
    assert assignment_model(problem.min_durations, [], 2, model, 3) is None


def test_more_ports_per_processor_carry_more() -> None:
    """With two nodes of two, each processor has two ports a direction: 8 fits at 4."""
    four = Platform(
        tuple(Processor(1.0, None, n) for n in (0, 0, 1, 1)),
        Link(1e6, 0.0),
        Link(1e6, 0.0),
        "ports",
    )
    problem = Problem(four_crossings(), four)
    assert port_model(problem).ports == 2
    assert relaxed(problem, 4) == "feasible"


# --------------------------------------------------------------------- CP-SAT
def test_cpsat_reports_the_relaxations_bound() -> None:
    """The ``ports`` phase proves 8 where the static bounds say 6; the schedule is valid."""
    problem = Problem(four_crossings(), TWO)
    result = solve_cpsat(problem, time_limit=30, workers=1, deterministic=True)
    assert result.lower_bound == 8 == result.schedule.period
    assert result.status.value == "optimal"
    check_schedule(result.schedule)
    # The phase's own proof, before any schedule model ran:
    steps = [(s["phase"], s["period"], s["outcome"]) for s in result.stats["steps"]]
    assert ("ports", 7, "infeasible") in steps
    assert steps.index(("ports", 7, "infeasible")) < steps.index(("heuristic", 9, "feasible"))


def test_the_ports_phase_is_skipped_under_delay() -> None:
    """Under ``capacity: delay`` no transfer busies a port: the phase runs no step."""
    delay = dataclasses.replace(TWO, capacity="delay")
    result = solve_cpsat(
        Problem(four_crossings(), delay), time_limit=30, workers=1, deterministic=True
    )
    assert all(s["phase"] != "ports" for s in result.stats["steps"])
    check_schedule(result.schedule)
