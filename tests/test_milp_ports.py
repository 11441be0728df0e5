"""The MILP under ``capacity: ports``: transfers on ports, (M20)-(M28) of ``formulations/milp.md``.

Exact periods are checked against the brute force of ``tests/brute.py``
(which enumerates transfer offsets) and against CP-SAT; every schedule the
MILP returns passes the validator, which checks (P5)-(P7).
"""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, assume, given, settings

from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform, Processor
from lpsched.problem import Problem
from lpsched.schedule import Schedule, Status, Transfer
from lpsched.solvers.cpsat import run_cpsat
from lpsched.solvers.milp import run_milp
from lpsched.solvers.milp_model import build_model, estimate_size, set_initial
from lpsched.solvers.milp_ports import message_costs
from lpsched.solvers.registry import Options
from lpsched.validate import check_schedule, validate
from tests.brute import brute_force_period, tiny_byte_graphs, tiny_platforms

FEW = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def milp(problem: Problem, backend: str, **kwargs: object):
    """``run_milp`` with a generous limit (tiny instances end in milliseconds)."""
    options = Options(time_limit=30, secondary=None, **kwargs)
    result = run_milp(problem, options, backend)
    check_schedule(result.schedule)
    return result


def one_node(P: int, bandwidth: float = 1e6, latency: float = 0.0) -> Platform:
    """``P`` processors of speed 1 in one node, links as ports (1 B/us: a byte is a unit)."""
    procs = tuple(Processor(1.0, None, 0) for _ in range(P))
    return Platform(procs, Link(bandwidth, latency), Link(bandwidth, latency), capacity="ports")


def edge(src: str, dst: str, nbytes: int, distance: int = 1, tensor: str | None = None) -> Edge:
    return Edge(src, dst, distance, None, nbytes, tensor=tensor)


# ---------------------------------------------------------------------------
# Exact against brute force and CP-SAT
# ---------------------------------------------------------------------------
@settings(FEW, max_examples=50)
@given(
    graph=tiny_byte_graphs(max_tasks=4, shared=True),
    platform=tiny_platforms(capacity="ports"),
)
def test_highs_and_cbc_match_brute_force(graph, platform):
    assume(platform.P > 1)  # one processor has no transfer
    problem = Problem(graph, platform)
    best = brute_force_period(graph, platform)
    for backend in ("highs", "cbc"):
        result = milp(problem, backend)
        assert result.status == Status.OPTIMAL, backend
        assert result.schedule.period == best, backend


@settings(FEW, max_examples=15)
@given(
    graph=tiny_byte_graphs(max_tasks=5, shared=True),
    platform=tiny_platforms(capacity="ports"),
)
def test_highs_cbc_and_cpsat_agree(graph, platform):
    assume(platform.P > 1)
    problem = Problem(graph, platform)
    periods = {}
    for backend in ("highs", "cbc"):
        result = milp(problem, backend)
        assert result.status == Status.OPTIMAL
        periods[backend] = result.schedule.period
    cp = run_cpsat(problem, Options(workers=1, time_limit=20, seed=0, secondary=None))
    check_schedule(cp.schedule)
    assert cp.status == Status.OPTIMAL
    periods["cpsat"] = cp.schedule.period
    assert len(set(periods.values())) == 1, periods


# ---------------------------------------------------------------------------
# Crafted instances, computed by hand
# ---------------------------------------------------------------------------
def test_two_tensors_into_one_port_raise_the_period():
    """A, B (2 units) each send 3 bytes to C (4 units), distance 1, on 3 processors.

    Under ``delay`` T = 4 (A, B on one processor, C alone: the messages hide
    behind the distance). Under ports every placement with T < 6 fails: A or
    B with C loads a processor with 6; A, B together send 3 + 3 units out of
    one port; A, B, C apart receive 3 + 3 into C's in-port. T = 6: A with C,
    B alone sending 3 units.
    """
    graph = TaskGraph(
        (Task("A", 2), Task("B", 2), Task("C", 4)),
        (edge("A", "C", 3, tensor="x"), edge("B", "C", 3, tensor="y")),
        time_unit="1us",
    )
    ports = one_node(3)
    delay = dataclasses.replace(ports, capacity="delay")
    for backend in ("highs", "cbc"):
        assert milp(Problem(graph, delay), backend).schedule.period == 4
        result = milp(Problem(graph, ports), backend)
        assert result.status == Status.OPTIMAL
        assert result.schedule.period == 6
        assert len(result.schedule.transfers) == 1
    assert brute_force_period(graph, ports) == 6


def test_a_transfer_longer_than_the_delay_period():
    """A -> B (4 units each), 6 bytes at 1 B/us, distance 1, two processors.

    Under ``delay`` apart they take T = 4 (the 6-unit message hides behind the
    distance). Under ports the transfer busies two ports for 6 units a
    period, so apart needs T >= 6, together T = 8: the least period is 6.
    """
    graph = TaskGraph((Task("A", 4), Task("B", 4)), (edge("A", "B", 6),), time_unit="1us")
    ports = one_node(2)
    delay = dataclasses.replace(ports, capacity="delay")
    ports_problem = Problem(graph, ports)
    for backend in ("highs", "cbc"):
        assert milp(Problem(graph, delay), backend).schedule.period == 4
        result = milp(ports_problem, backend)
        assert (result.status, result.schedule.period) == (Status.OPTIMAL, 6)
        (transfer,) = result.schedule.transfers
        assert (transfer.duration, transfer.tensor) == (6, ports_problem.tensors[0].name)


def test_latency_counts_on_a_loop():
    """A <-> B (3 units each) with 1 byte each way, latency 2 us, the loop of distance 1.

    Apart the loop takes 3 + (1 + 2) + 3 + (1 + 2) = 12 > 6 = both on one
    processor, which the MILP must see: T = 6, no transfer.
    """
    graph = TaskGraph(
        (Task("A", 3), Task("B", 3)),
        (edge("A", "B", 1, distance=0), edge("B", "A", 1, distance=1)),
        time_unit="1us",
    )
    problem = Problem(graph, one_node(2, latency=2e-6))
    for backend in ("highs", "cbc"):
        result = milp(problem, backend)
        assert result.schedule.period == 6
        assert result.schedule.transfers == ()
    assert brute_force_period(graph, problem.platform) == 6


# ---------------------------------------------------------------------------
# The model: delay untouched, sizes, warm starts
# ---------------------------------------------------------------------------
def test_delay_model_has_no_transfers():
    graph = TaskGraph((Task("A", 4), Task("B", 4)), (edge("A", "B", 6),), time_unit="1us")
    delay = Problem(graph, dataclasses.replace(one_node(2), capacity="delay"))
    ports = Problem(graph, one_node(2))
    assert message_costs(delay) is delay.comm
    model = build_model(delay, 6)
    assert model.ports is None
    assert not any(v.name.startswith(("a_", "rho_", "po_")) for v in model.prob.variables())
    with_ports = build_model(ports, 6)
    # (M4a) puts the first task (A) on processor 0: the one candidate is A's tensor to 1.
    assert with_ports.ports is not None and with_ports.ports.transfers == [(0, 1)]


def _size(model) -> tuple[int, int, int]:
    prob = model.prob
    nonzeros = sum(len(row) for row in prob.constraints.values()) + len(prob.objective)
    return len(prob.constraints), len(prob.variables()), nonzeros


@FEW
@given(graph=tiny_byte_graphs(max_tasks=5, shared=True), platform=tiny_platforms(capacity="ports"))
def test_estimate_bounds_the_built_model(graph, platform):
    problem = Problem(graph, platform)
    T = max(problem.lower_bound, 2)
    assignment = {v: v % problem.P for v in range(problem.n)}
    for variant, objective in (("full", "comm"), ("relaxed", "latency"), ("fixed", None)):
        kwargs = {"variant": variant, "objective": objective}
        if variant == "fixed":
            kwargs["assignment"] = assignment
        rows, columns, nonzeros = _size(build_model(problem, T, **kwargs))
        est = estimate_size(problem, T, **kwargs)
        assert (est.rows, est.columns, est.nonzeros) >= (rows, columns, nonzeros), variant


def _rows_hold(model) -> list[str]:
    """Names of the rows the variables' current values violate."""
    return [name for name, row in model.prob.constraints.items() if not row.valid(1e-9)]


@FEW
@given(graph=tiny_byte_graphs(max_tasks=4, shared=True), platform=tiny_platforms(capacity="ports"))
def test_a_schedule_with_transfers_is_a_solution_of_its_model(graph, platform):
    """``set_initial`` gives every variable (transfers too) a value satisfying every row."""
    problem = Problem(graph, platform)
    sched = milp(problem, "highs").schedule
    for variant in ("full", "relaxed"):
        model = build_model(problem, sched.period, variant=variant)
        set_initial(model, sched, full=True)
        assert all(v.varValue is not None for v in model.prob.variables())
        assert _rows_hold(model) == [], variant


def test_initial_schedule_keeps_its_transfers():
    """A hand-made schedule with a waiting transfer: a solution of its model, and improved on.

    T = 8, A, B, C on processors 0, 1, 2 from 0; x leaves A at 2, y waits
    from 2 to 5 after B (C's in-port is busy with x during [2, 5)); both
    arrive by 8 = C's start one period later.
    """
    graph = TaskGraph(
        (Task("A", 2), Task("B", 2), Task("C", 4)),
        (edge("A", "C", 3, tensor="x"), edge("B", "C", 3, tensor="y")),
        time_unit="1us",
    )
    problem = Problem(graph, one_node(3))
    transfers = (Transfer("x", "A", 0, 2, 2, 3), Transfer("y", "B", 1, 2, 5, 3))
    start = {"A": 0, "B": 0, "C": 0}
    slow = Schedule(graph, problem.platform, 8, {"A": 0, "B": 1, "C": 2}, start, transfers)
    assert validate(slow) == []
    for variant in ("full", "relaxed"):
        model = build_model(problem, 8, variant=variant)
        set_initial(model, slow, full=True)
        assert _rows_hold(model) == [], variant
    for backend in ("highs", "cbc"):
        result = milp(problem, backend, initial=slow)
        assert (result.status, result.schedule.period) == (Status.OPTIMAL, 6)


def test_only_needed_transfers_are_listed():
    """One tensor read by two tasks on one other processor travels once."""
    graph = TaskGraph(
        (Task("A", 4), Task("B", 2), Task("C", 2)),
        (edge("A", "B", 2, tensor="x"), edge("A", "C", 2, tensor="x")),
        time_unit="1us",
    )
    problem = Problem(graph, one_node(2))
    for backend in ("highs", "cbc"):
        sched = milp(problem, backend).schedule
        assert sched.period == 4
        crossing = {sched.processor[v] for v in ("B", "C")} - {sched.processor["A"]}
        assert len(sched.transfers) == len(crossing)
