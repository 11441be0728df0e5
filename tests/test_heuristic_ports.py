"""The modulo-scheduling heuristic under ``capacity: ports`` (transfers on link ports).

Every schedule here must pass the validator's port checks ((P5)-(P7) of
``formulations/README.md``); the periods are compared with brute force, and
with the split placement a heavy tensor would force.
"""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lpsched.graph import Edge, Task, TaskGraph
from lpsched.networks import get_network
from lpsched.platform import Link, Platform, Processor, preset
from lpsched.problem import Problem
from lpsched.solvers.heuristic import modulo_schedule
from lpsched.solvers.modulo_tables import PortTables
from lpsched.solvers.toolkit import least_staleness
from lpsched.taskgraph import build_task_graph
from lpsched.validate import check_schedule
from tests.brute import brute_force_period, tiny_byte_graphs, tiny_platforms


def ports(platform: Platform) -> Platform:
    """The platform with ``capacity: ports``."""
    return dataclasses.replace(platform, capacity="ports")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(graph=tiny_byte_graphs(), platform=tiny_platforms())
def test_tiny_ports_schedules_are_valid(graph: TaskGraph, platform: Platform) -> None:
    """Random small graphs with bytes: every schedule passes the port checks."""
    problem = Problem(graph, ports(platform))
    schedule = modulo_schedule(problem, seed=1)
    check_schedule(schedule)
    assert schedule.period >= problem.lower_bound


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(graph=tiny_byte_graphs(max_tasks=4, max_duration=3), platform=tiny_platforms(max_procs=2))
def test_tiny_ports_period_at_least_brute_force(graph: TaskGraph, platform: Platform) -> None:
    """No schedule beats the brute-force optimum of (P1)-(P7)."""
    platform = ports(platform)
    schedule = modulo_schedule(Problem(graph, platform))
    check_schedule(schedule)
    assert schedule.period >= brute_force_period(graph, platform)


def test_resnet18_ports_is_valid() -> None:
    """A real network on four processors: valid, with transfers, not below the delay period."""
    graph = build_task_graph(get_network("resnet18"), "layerpipe")
    platform = Platform.default(4)
    ported = modulo_schedule(Problem(graph, ports(platform)), quick=True)
    check_schedule(ported)
    assert ported.transfers
    assert {x.src for x in ported.transfers} | {x.dst for x in ported.transfers} <= set(range(4))


def heavy_pair(nbytes: int) -> TaskGraph:
    """``a -> b`` carrying ``nbytes`` (1 unit per byte on the links below), both lasting 10."""
    tasks = (Task("a", 10), Task("b", 10))
    edges = (Edge("a", "b", 0, None, nbytes, tensor="act"),)
    return TaskGraph(tasks, edges, time_unit="1us")


def two_processors() -> Platform:
    """Two identical processors in one node, 1 byte per microsecond."""
    procs = (Processor(1.0, None, 0), Processor(1.0, None, 0))
    return Platform(procs, Link(1e6, 0.0), Link(1e6, 0.0), capacity="ports")


def test_heavy_tensor_stays_local() -> None:
    """A tensor whose transfer outlasts the work keeps producer and reader together.

    Split, the transfer alone busies a port for 100 units, so any split period
    is at least 100; together the period is the work, 20.
    """
    graph = heavy_pair(100)
    schedule = modulo_schedule(Problem(graph, two_processors()))
    check_schedule(schedule)
    assert schedule.processor["a"] == schedule.processor["b"]
    assert not schedule.transfers
    assert schedule.period < 100
    assert schedule.period == brute_force_period(graph, two_processors())


def test_light_tensor_splits() -> None:
    """The same pair with a light tensor is split in two, with its transfer listed."""
    graph = heavy_pair(3)
    schedule = modulo_schedule(Problem(graph, two_processors()))
    check_schedule(schedule)
    assert schedule.period == 10
    assert schedule.processor["a"] != schedule.processor["b"]
    (x,) = schedule.transfers
    assert (x.tensor, x.producer, x.duration) == ("act", "a", 3)


def shared_port_graph() -> TaskGraph:
    """One producer, three readers, each tensor 4 bytes: the producer's out-port is shared."""
    tasks = (Task("src", 4), Task("r1", 4), Task("r2", 4), Task("r3", 4))
    edges = tuple(Edge("src", f"r{i}", 0, None, 4, tensor=f"x{i}") for i in (1, 2, 3))
    return TaskGraph(tasks, edges, time_unit="1us")


def test_transfers_share_a_port_without_overlap() -> None:
    """Transfers from one processor never overlap modulo T on its out-port (P7)."""
    procs = tuple(Processor(1.0, None, 0) for _ in range(4))
    platform = Platform(procs, Link(1e6, 0.0), Link(1e6, 0.0), capacity="ports")
    graph = shared_port_graph()
    schedule = modulo_schedule(Problem(graph, platform))
    check_schedule(schedule)
    assert schedule.period >= brute_force_period(graph, platform)


def test_least_staleness_under_ports_stays_valid() -> None:
    """Lowering staleness after a ports schedule keeps every transfer in time."""
    network = get_network("lenet5")
    graph = build_task_graph(network, "layerpipe", staleness="auto", processors=4)
    problem = Problem(graph, ports(Platform.default(4)))
    schedule = modulo_schedule(problem, time_limit=20)
    check_schedule(schedule)
    lowered = least_staleness(schedule)
    check_schedule(lowered)
    assert max(lowered.staleness().values()) <= graph.staleness_cap


@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 6)), max_size=8),
    st.integers(0, 40),
    st.integers(0, 6),
)
def test_port_find_is_free_on_both_ports(arcs: list[tuple[int, int]], lo: int, tau: int) -> None:
    """:meth:`PortTables.find` returns the earliest start free on both ports, or none."""
    T = 12
    tables = PortTables(3, T)
    busy: dict[int, set[int]] = {}
    for i, (t, d) in enumerate(arcs):
        p, q = (0, 1) if i % 2 else (2, 1) if i % 3 else (0, 2)
        a, b = PortTables.ports(p, q, 0)
        slots = {(t + j) % T for j in range(d)}
        if d == 0 or slots & busy.get(a, set()) or slots & busy.get(b, set()):
            continue
        tables.add(p, q, 0, t, d, i)
        busy.setdefault(a, set()).update(slots)
        busy.setdefault(b, set()).update(slots)
    a, b = PortTables.ports(0, 1, 0)
    taken = busy.get(a, set()) | busy.get(b, set())

    def free(t: int) -> bool:
        return not {(t + j) % T for j in range(tau)} & taken

    expected = next((t for t in range(lo, lo + T) if free(t)), None)
    assert tables.find(0, 1, 0, lo, lo + T - 1, tau) == expected


def test_heavy_activations_keep_their_layers_whole() -> None:
    """ResNet-18 on 8 PCIe GPUs: the free search is no worse than placement ``layer``'s.

    Placement ``layer`` restricts ``free``; the free search alone sent the 25.7 MB
    activations of the first blocks over the ports (1648 where ``layer`` finds 1236),
    and now also searches with every layer whole, in its own steps.
    """
    graph = build_task_graph(get_network("resnet18"), "layerpipe", processors=8)
    platform = preset("pcie", 8)
    free = modulo_schedule(Problem(graph, platform))
    layered = modulo_schedule(Problem(graph, platform, "layer"))
    check_schedule(free)
    assert free.period <= layered.period


@given(
    widths=st.lists(st.sampled_from([64, 256, 1024, 4096, 8192]), min_size=3, max_size=6),
    P=st.sampled_from([3, 4, 6]),
)
@example(widths=[8192, 256, 4096, 256, 4096], P=6)
@settings(max_examples=12, deadline=None, derandomize=True, database=None)
def test_progress_shows_only_periods_the_search_keeps(widths: list[int], P: int) -> None:
    """Every period the log shows is one of a schedule with its transfers, the last the answer.

    A coarser decomposition's period (one merged task per layer) is no period
    of the instance's until its refinement's transfers are found, often at a
    longer period: ``mlp`` 8192-256-4096-256-4096 on 6 processors once showed
    305 and returned 311.
    """
    graph = build_task_graph(get_network("mlp", widths=tuple(widths)), "layerpipe", processors=P)
    problem = Problem(graph, Platform.default(P))
    lines: list[str] = []
    schedule = modulo_schedule(
        problem, lower_bound=problem.lower_bound * 21 // 20, log=lines.append
    )
    shown = [int(line.split("period ")[1].split()[0]) for line in lines if "  bound " in line]
    assert shown[-1] == schedule.period
    assert min(shown) == schedule.period
    check_schedule(schedule)
