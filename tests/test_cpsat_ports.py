"""CP-SAT under ``capacity: ports``: transfers on link ports (formulations/cpsat.md, C20-C25)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import assume, given, settings

from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform, Processor
from lpsched.problem import Problem
from lpsched.schedule import Schedule, Status
from lpsched.solvers.cpsat import run_cpsat, solve_cpsat
from lpsched.solvers.registry import Options
from lpsched.validate import check_schedule, validate
from tests.brute import brute_force_period, brute_force_schedule, tiny_byte_graphs, tiny_platforms

#: Every phase budgeted by CP-SAT's deterministic time, one worker.
DET = {"workers": 1, "deterministic": True, "seed": 0}
FEW = settings(max_examples=30, deadline=None, derandomize=True)


def one_size_per_tensor(graph: TaskGraph) -> bool:
    """Whether the edges of each tensor carry the same bytes (as built graphs' do).

    The generator may give one tensor's edges different sizes; then
    ``Problem.tensors`` (the largest of all its edges) and the validator (the
    largest of those that cross) size its transfer differently.
    """
    sizes: dict[tuple[str, str | None], set[int]] = {}
    for e in graph.edges:
        if e.tensor is not None:
            sizes.setdefault((e.src, e.tensor), set()).add(e.bytes)
    return all(len(s) == 1 for s in sizes.values())


def assert_valid(schedule: Schedule) -> None:
    problems = validate(schedule)
    assert not problems, [v.message for v in problems[:5]]
    check_schedule(schedule)


INTRA = Link(1e6, 0.0)


def ports(nodes: tuple[int, ...], intra: Link = INTRA) -> Platform:
    """Speed-1 processors; 1 byte per unit within a node, 2 between nodes (unit 1 us)."""
    procs = tuple(Processor(1.0, None, n) for n in nodes)
    return Platform(procs, intra, Link(0.5e6, 0.0), capacity="ports")


def fan_out() -> TaskGraph:
    """``a`` (2 units) sends tensors x and y (4 bytes each) to ``b`` and ``c`` (4 units each)."""
    tasks = (Task("a", 2), Task("b", 4), Task("c", 4))
    edges = (
        Edge("a", "b", 0, None, 4, tensor="x"),
        Edge("a", "c", 0, None, 4, tensor="y"),
    )
    return TaskGraph(tasks, edges, time_unit="1us")


def test_two_transfers_on_one_port_force_a_larger_period() -> None:
    # Under delay, T = 4 = the longest task: a, b, c each alone, the messages hidden by
    # the stages. Under ports that placement sends x and y (4 units each) through a's
    # out-port: 8 > 4. Every other placement: {a, b} | {c} needs 6 (load 6, one transfer
    # of 4 on each port), {a} | {b, c} 8, all on one 10. So ports needs T = 6.
    graph = fan_out()
    delay = solve_cpsat(graph, replace(ports((0, 0, 0)), capacity="delay"), **DET)
    port = solve_cpsat(graph, ports((0, 0, 0)), **DET)
    for r in (delay, port):
        assert_valid(r.schedule)
        assert r.status is Status.OPTIMAL
    assert (delay.period, port.period) == (4, 6)
    assert delay.schedule.transfers == ()
    (x,) = port.schedule.transfers
    assert x.duration == 4 and x.src != x.dst
    assert port.schedule.processor["a"] in (x.src,)


def test_transfers_to_one_destination_share_its_in_port() -> None:
    # The reverse: b and c (2 units) each send 4 bytes to a (4 units). With all three
    # apart a's in-port takes 8 per period; b with a loads 6 with one transfer: T = 6.
    tasks = (Task("a", 4), Task("b", 2), Task("c", 2))
    edges = (Edge("b", "a", 0, None, 4, tensor="x"), Edge("c", "a", 0, None, 4, tensor="y"))
    graph = TaskGraph(tasks, edges, time_unit="1us")
    r = solve_cpsat(graph, ports((0, 0, 0)), **DET)
    assert_valid(r.schedule)
    assert (r.period, r.status) == (6, Status.OPTIMAL)


def test_a_latency_only_transfer_busies_no_port() -> None:
    # Infinite bandwidth within the node: transfers last 0, are listed, and busy no port,
    # so the delay optimum T = 4 stays; the latency (1 unit) only delays the readers.
    plat = ports((0, 0, 0), intra=Link(float("inf"), 1e-6))
    r = solve_cpsat(fan_out(), plat, **DET)
    assert_valid(r.schedule)
    assert r.period == 4
    assert sorted(x.duration for x in r.schedule.transfers) == [0, 0]


def test_two_nodes_use_the_pair_link_class() -> None:
    # b's node is another: x would take 8 units on the inter link, so T = 8 or b local.
    plat = ports((0, 0, 1))
    r = solve_cpsat(fan_out(), plat, **DET)
    assert_valid(r.schedule)
    assert r.period == brute_force_period(fan_out(), plat)
    assert r.status is Status.OPTIMAL


@FEW
@given(tiny_byte_graphs(max_tasks=3, shared=True), tiny_platforms(capacity="ports"))
def test_ports_match_brute_force(graph: TaskGraph, plat: Platform) -> None:
    assume(one_size_per_tensor(graph))
    result = solve_cpsat(Problem(graph, plat), **DET, secondary=None)
    assert_valid(result.schedule)
    expected = brute_force_period(graph, plat)
    assert result.period == expected
    assert result.status is Status.OPTIMAL
    delay = solve_cpsat(Problem(graph, replace(plat, capacity="delay")), **DET, secondary=None)
    assert delay.period <= result.period


@FEW
@given(tiny_byte_graphs(max_tasks=4, shared=True), tiny_platforms(capacity="ports"))
def test_secondary_objectives_keep_ports_schedules_valid(graph: TaskGraph, plat: Platform) -> None:
    assume(one_size_per_tensor(graph))
    plain = solve_cpsat(Problem(graph, plat), **DET, secondary=None)
    comm = solve_cpsat(Problem(graph, plat), **DET, secondary="comm")
    assert_valid(comm.schedule)
    assert comm.period == plain.period
    # C16 under ports counts each tensor once per destination: never more than the first.
    sent = sum(
        Problem(graph, plat).tensors[0].bytes * 0 + _bytes(comm.schedule, x.producer, x.tensor)
        for x in comm.schedule.transfers
    )
    first = sum(_bytes(plain.schedule, x.producer, x.tensor) for x in plain.schedule.transfers)
    assert sent <= first or _fixed_bytes(comm.schedule) < _fixed_bytes(plain.schedule)


def _bytes(schedule: Schedule, producer: str, tensor: str) -> int:
    problem = Problem(schedule.graph, schedule.platform)
    names = [t.name for t in schedule.graph.tasks]
    return next(
        t.bytes for t in problem.tensors if t.name == tensor and names[t.producer] == producer
    )


def _fixed_bytes(schedule: Schedule) -> int:
    return sum(
        e.bytes
        for e in schedule.graph.edges
        if e.comm is not None and schedule.processor[e.src] != schedule.processor[e.dst]
    )


def test_staleness_under_ports_counts_the_arrival() -> None:
    # A two-layer chain with auto staleness: the weight edges' distances are lowered
    # after the solve with (P6), the transfer's arrival, not the delay cost.
    tasks = (Task("F1", 2), Task("F2", 2), Task("B2", 2), Task("B1", 2), Task("U1", 1))
    edges = (
        Edge("F1", "F2", 0, None, 3, tensor="a1"),
        Edge("F2", "B2", 0, None, 1, tensor="a2"),
        Edge("B2", "B1", 0, None, 3, tensor="g2"),
        Edge("B1", "U1", 0, None, 1, tensor="dw"),
        Edge("U1", "F1", 3, None, 2, tensor="w1", weights="l1"),
    )
    graph = TaskGraph(tasks, edges, time_unit="1us", staleness_cap=3)
    for secondary in ("staleness", "comm", None):
        r = solve_cpsat(graph, ports((0, 0)), **DET, secondary=secondary)
        assert_valid(r.schedule)
        assert r.status is Status.OPTIMAL


def test_hints_with_and_without_transfers() -> None:
    # A ports schedule (brute force, with its transfers) is a warm start; the same
    # placement without transfers still hints, and CP-SAT adds the transfers.
    graph, plat = fan_out(), ports((0, 0, 0))
    best = brute_force_schedule(graph, plat)
    problem = Problem(graph, plat)
    with_x = run_cpsat(problem, Options(initial=best, **DET, secondary=None))
    bare = replace(best, transfers=())
    without = run_cpsat(problem, Options(initial=bare, **DET, secondary=None))
    for r in (with_x, without):
        assert_valid(r.schedule)
        assert r.period == best.period


def test_neighbourhoods_find_only_valid_schedules(monkeypatch) -> None:
    # The neighbourhood phase alone from a poor start (every task on one processor):
    # whatever it finds is valid and never worse than the start.
    from lpsched.solvers import cpsat

    monkeypatch.setattr(cpsat, "PLAN", (("neighbourhood", 1.0),))
    tasks = tuple(Task(f"t{i}", 2 + i % 2) for i in range(5))
    edges = tuple(Edge(f"t{i}", f"t{i + 1}", 0, None, 2, tensor=f"a{i}") for i in range(4)) + (
        Edge("t4", "t0", 2, None, 1, tensor="back"),
    )
    graph = TaskGraph(tasks, edges, time_unit="1us")
    plat = replace(Platform.default(3), intra=Link(1e6, 0.0), capacity="ports")
    problem = Problem(graph, plat)
    from lpsched.solvers.toolkit import one_processor

    start = one_processor(problem)
    result = run_cpsat(problem, Options(initial=start, secondary=None, **DET, time_limit=3.0))
    assert_valid(result.schedule)
    assert result.period <= start.period


def test_neighbourhoods_relieve_equally_busy_processors_one_at_a_time(monkeypatch) -> None:
    # Two processors at the period (two 4-unit tasks each) beside two idle ones: no
    # pair of processors lowers the period, since the other busy one stays at 8. The
    # neighbourhoods keep a move that relieves the busiest of its pair at the same
    # period, and so reach 4 (each task on its own processor); without, they end at 8.
    from lpsched.solvers import cpsat
    from lpsched.solvers.heuristic import modulo_schedule

    monkeypatch.setattr(cpsat, "PLAN", (("neighbourhood", 1.0),))
    tasks = tuple(Task(name, 4) for name in "abcd")
    graph = TaskGraph(tasks, (Edge("a", "b", 0, None, 1, tensor="x"),), time_unit="1us")
    plat = replace(Platform.default(4), intra=Link(1e6, 0.0), capacity="ports")
    problem = Problem(graph, plat)
    start = modulo_schedule(problem, fixed_processor={"a": 0, "b": 0, "c": 1, "d": 1})
    assert start.period == 8
    result = run_cpsat(problem, Options(initial=start, secondary=None, **DET, time_limit=5.0))
    assert_valid(result.schedule)
    assert result.period == 4


def test_neighbourhoods_relieve_equally_busy_ports_one_at_a_time(monkeypatch) -> None:
    # Three transfers of 4 units, each from its own processor to another, make the
    # period 4 on three out-ports. Keeping one pair of tasks together relieves one
    # port and leaves the period at 4; the neighbourhoods keep that move (the busiest
    # port of the freed processors is part of their objective), then the next, and
    # reach 2 (each pair on one processor); without, every pair of processors ends at 4.
    from lpsched.solvers import cpsat
    from lpsched.solvers.heuristic import modulo_schedule

    monkeypatch.setattr(cpsat, "PLAN", (("neighbourhood", 1.0),))
    tasks = tuple(Task(f"{x}{i}", 1) for i in (1, 2, 3) for x in "ab")
    edges = tuple(Edge(f"a{i}", f"b{i}", 0, None, 4, tensor=f"x{i}") for i in (1, 2, 3))
    graph = TaskGraph(tasks, edges, time_unit="1us")
    plat = replace(Platform.default(6), intra=Link(1e6, 0.0), capacity="ports")
    problem = Problem(graph, plat)
    apart = {"a1": 0, "b1": 3, "a2": 1, "b2": 4, "a3": 2, "b3": 5}
    start = modulo_schedule(problem, fixed_processor=apart)
    assert start.period == 4
    result = run_cpsat(problem, Options(initial=start, secondary=None, **DET, time_limit=5.0))
    assert_valid(result.schedule)
    assert result.period == 2
