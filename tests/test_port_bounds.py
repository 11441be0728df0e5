"""Link ports: the brute force under ``capacity: ports``, and the bounds that see links.

``formulations/README.md``, "Link ports" (P5)-(P7) and "Lower bounds".
"""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings

from lpsched.bounds import port_model
from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform, Processor
from lpsched.problem import Problem
from lpsched.validate import check_schedule
from tests.brute import (
    brute_force_period,
    brute_force_schedule,
    tiny_byte_graphs,
    tiny_platforms,
)

TINY = settings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


def ports(platform: Platform) -> Platform:
    """The same platform with ports."""
    return dataclasses.replace(platform, capacity="ports")


def fan_out(nbytes: int) -> TaskGraph:
    """``a`` (1 unit) sends a tensor of ``nbytes`` to ``b`` and one to ``c`` (2 units each)."""
    tasks = (Task("a", 1), Task("b", 2), Task("c", 2))
    edges = (Edge("a", "b", 0, None, nbytes), Edge("a", "c", 0, None, nbytes))
    return TaskGraph(tasks, edges, time_unit="1us")


THREE = Platform(tuple(Processor(1.0, None, 0) for _ in range(3)), Link(1e6, 0.0), Link(1e6, 0.0))


# ------------------------------------------------------------------ brute force
@TINY
@given(tiny_byte_graphs(max_tasks=4, max_duration=4, shared=True), tiny_platforms(capacity="ports"))
def test_ports_period_is_never_below_delay(graph: TaskGraph, platform: Platform) -> None:
    """Rounding tau and the latency apart never saves time; the witness is a valid schedule."""
    delay = dataclasses.replace(platform, capacity="delay")
    best = brute_force_period(graph, platform)
    assert best >= brute_force_period(graph, delay)
    witness = brute_force_schedule(graph, platform)
    assert witness.period == best
    check_schedule(witness)


def test_two_transfers_share_an_out_port() -> None:
    """``a`` alone: its two 1-unit transfers fill its out-port at T = 2, one after the other."""
    graph, platform = fan_out(1), ports(THREE)
    assert brute_force_period(graph, dataclasses.replace(platform, capacity="delay")) == 2
    assert brute_force_period(graph, platform) == 2
    witness = brute_force_schedule(graph, platform)
    check_schedule(witness)
    assert len({witness.processor[t] for t in "abc"}) == 3
    assert sorted(x.start % 2 for x in witness.transfers) == [0, 1]


def test_a_full_out_port_forces_co_location() -> None:
    """Two 2-unit transfers need 4 units of ``a``'s out-port: at T = 3 ``a`` must join ``b``.

    Apart, the port needs 4 > 3; ``b`` with ``c`` loads 4 > 3; ``a`` with ``b``
    (load 3) leaves one 2-unit transfer: T = 3. The delay model gets 2.
    """
    graph, platform = fan_out(2), ports(THREE)
    assert brute_force_period(graph, dataclasses.replace(platform, capacity="delay")) == 2
    assert brute_force_period(graph, platform) == 3
    check_schedule(brute_force_schedule(graph, platform))


# ----------------------------------------------------------------------- bounds
@settings(
    max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
@given(tiny_byte_graphs(max_tasks=4, max_duration=3, shared=True), tiny_platforms(capacity="ports"))
def test_port_bound_never_exceeds_brute_force(graph: TaskGraph, platform: Platform) -> None:
    """A bound is a proof: below the least ports period of every tiny instance."""
    problem = Problem(graph, platform)
    bounds = problem.bounds
    assert bounds.lower_bound <= brute_force_period(graph, platform)
    model = port_model(problem)
    if model is not None:  # its tau is Problem.transfer_time's, at the cheapest class
        pairs = [(p, q) for p in range(problem.P) for q in range(problem.P) if p != q]
        expected = [
            min(problem.transfer_time(k, p, q) for p, q in pairs)
            for k, t in enumerate(problem.tensors)
            if {graph.edges[e].dst for e in t.edges} - {graph.tasks[t.producer].name}
        ]
        assert model.tau.tolist() == expected
    delay = Problem(graph, dataclasses.replace(platform, capacity="delay")).bounds
    assert delay.port_bound == 0 and bounds.lower_bound >= delay.lower_bound


def test_port_bound_charges_the_out_port() -> None:
    """At T = 2 ``a`` joins neither reader (load 3), so 4 units leave it: the bound is 3."""
    graph, platform = fan_out(2), ports(THREE)
    delay = Problem(graph, dataclasses.replace(platform, capacity="delay")).bounds
    bounds = Problem(graph, platform).bounds
    assert delay.lower_bound == 2
    assert bounds.port_bound == bounds.lower_bound == 3 == brute_force_period(graph, platform)
    assert bounds.binding == ["port bound"]


def test_a_tensor_no_port_carries_stays_local() -> None:
    """A 10-unit tensor fits no port below T = 10: ``a`` and ``b`` share one processor (B7)."""
    graph = TaskGraph((Task("a", 3), Task("b", 3)), (Edge("a", "b", 0, None, 10),), time_unit="1us")
    two = Platform((Processor(1.0, None, 0),) * 2, Link(1e6, 0.0), Link(1e6, 0.0), "delay")
    assert Problem(graph, two).lower_bound == 3 == brute_force_period(graph, two)
    bounds = Problem(graph, ports(two)).bounds
    assert bounds.port_bound == 6 == brute_force_period(graph, ports(two))
    assert "port bound" in bounds.summary() and bounds.to_dict()["port_bound"] == 6
