"""The PipeDream planner under ``capacity: ports``: stage costs with port loads, transfers listed.

The hand counts follow ``formulations/README.md`` ("Link ports"): a transfer
busies the sender's out-port and the receiver's in-port for
``ceil(bytes / bandwidth)`` units each (rounded per transfer; the latency
busies no port), so a stage's time is the larger of its work and its
busiest port's load.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched import build_task_graph
from lpsched.graph import Edge, Task, TaskGraph
from lpsched.networks import get_network
from lpsched.platform import Link, Platform, Processor, preset
from lpsched.problem import Problem
from lpsched.solvers.pipedream import pipedream_schedule, plan_stages
from lpsched.validate import check_schedule
from tests.brute import tiny_byte_graphs, tiny_platforms
from tests.platforms import delay

FAST = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def ports(platform: Platform) -> Platform:
    """``platform`` with its links as ports."""
    return dataclasses.replace(platform, capacity="ports")


def line(P: int, bandwidth: float, latency: float = 0.0) -> Platform:
    """``P`` processors of speed 1 in one node, links of ``bandwidth`` B/s, as ports."""
    link = Link(bandwidth, latency)
    return Platform(tuple(Processor() for _ in range(P)), link, link, capacity="ports")


def assert_stages_whole(graph: TaskGraph, sched_processor: dict[str, int], stages: list) -> None:
    """Every layer's tasks run on the processor of the layer's stage."""
    for k, stage in enumerate(stages):
        for t in graph.tasks:
            if (t.layer or t.name) in stage:
                assert sched_processor[t.name] == k


@pytest.mark.parametrize(
    ("network", "decomposition", "P", "base"),
    [
        ("vgg16", "pipedream", 4, "default"),
        ("vgg16", "layerpipe", 8, "pcie"),
        ("resnet18", "layerpipe", 8, "default"),
        ("resnet18", "pipedream", 16, "pcie"),
    ],
)
def test_real_networks_on_ports_are_valid(network, decomposition, P, base):
    graph = build_task_graph(get_network(network), decomposition, processors=P)
    platform = Platform.default(P) if base == "default" else preset(base, P)
    problem = Problem(graph, ports(platform))
    sched = pipedream_schedule(problem)
    check_schedule(sched)
    assert sched.transfers  # the stages exchange activations and gradients
    plan = plan_stages(problem)
    assert_stages_whole(graph, sched.processor, plan.stages)
    # The plan counts each port's load (a lower bound on it where a tensor's readers on one
    # side span several stages), so no schedule of its stages beats it.
    assert sched.period >= plan.stage_time
    # Under delay the same network keeps no transfers.
    assert not pipedream_schedule(Problem(graph, delay(platform))).transfers


def pipeline(work: int, nbytes: int) -> TaskGraph:
    """Three layers, ``F`` and ``B`` of ``work`` each; activations forward, gradients back.

    Every cross-layer edge carries ``nbytes`` (time unit 1us).
    """
    tasks = tuple(Task(f"{k}:l{i}", work, f"l{i}", k) for i in range(3) for k in "FB")
    edges = (
        Edge("F:l0", "F:l1", 0, None, nbytes),
        Edge("F:l1", "F:l2", 0, None, nbytes),
        *(Edge(f"F:l{i}", f"B:l{i}", 0, None, nbytes) for i in range(3)),
        Edge("B:l2", "B:l1", 0, None, nbytes),
        Edge("B:l1", "B:l0", 0, None, nbytes),
    )
    return TaskGraph(tasks, edges, time_unit="1us")


def test_a_cut_whose_transfers_dominate_sets_the_plan():
    # 139 bytes at 2 B/us: 70 units per transfer (69.5 rounded up, per transfer); the
    # latency (3 us) busies no port. Three stages of one layer: the middle one sends an
    # activation forward and a gradient back on its out-port, 140 units, more than its
    # work (100); two stages would take 200 of work, one 300.
    problem = Problem(pipeline(50, 139), line(3, 2e6, 3e-6))
    plan = plan_stages(problem)
    assert [len(s) for s in plan.stages] == [1, 1, 1]
    assert plan.port_times == [70, 140, 70]
    assert plan.stage_time == max(100, 2 * 70) == 140
    sched = pipedream_schedule(problem)
    check_schedule(sched)
    assert len(sched.transfers) == 4
    assert {x.duration for x in sched.transfers} == {70}
    assert sched.period == 140  # the out-port of the middle stage, full


def test_a_forward_chain_reaches_its_hand_count():
    # F:l0 -> F:l1 -> F:l2, 100 units each, 120 bytes per cut at 1 B/us: three stages
    # take max(100, 120) = 120 per iteration, which the start times reach exactly.
    tasks = tuple(Task(f"F:l{i}", 100, f"l{i}", "F") for i in range(3))
    edges = tuple(Edge(f"F:l{i}", f"F:l{i + 1}", 0, None, 120) for i in range(2))
    problem = Problem(TaskGraph(tasks, edges, time_unit="1us"), line(3, 1e6, 5e-6))
    plan = plan_stages(problem)
    assert plan.stage_time == 120 and len(plan.stages) == 3
    sched = pipedream_schedule(problem)
    check_schedule(sched)
    assert sched.period == 120
    assert [(x.src, x.dst, x.duration) for x in sched.transfers] == [(0, 1, 120), (1, 2, 120)]


def test_a_tensor_read_twice_across_a_cut_is_sent_once():
    # F:l0 makes x, read by F:l1 and B:l1 on the next stage: one transfer of 80 units, so
    # two stages take max(100, 80) = 100 (counted once per reader, 160).
    tasks = (Task("F:l0", 100, "l0", "F"), Task("F:l1", 50, "l1", "F"), Task("B:l1", 50, "l1", "B"))
    edges = (
        Edge("F:l0", "F:l1", 0, None, 80, tensor="x"),
        Edge("F:l0", "B:l1", 0, None, 80, tensor="x"),
        Edge("F:l1", "B:l1", 0, None, 10),
    )
    problem = Problem(TaskGraph(tasks, edges, time_unit="1us"), line(2, 1e6))
    plan = plan_stages(problem)
    assert plan.stages == [["l0"], ["l1"]]
    assert plan.port_times == [80, 80]
    assert plan.stage_time == 100
    sched = pipedream_schedule(problem)
    check_schedule(sched)
    assert [(x.tensor, x.src, x.dst, x.duration) for x in sched.transfers] == [("x", 0, 1, 80)]
    assert sched.period == 100


@FAST
@given(tiny_byte_graphs(shared=True), tiny_platforms(max_procs=3, capacity="ports"))
def test_tiny_byte_graphs_on_ports_get_valid_schedules(graph, platform):
    problem = Problem(graph, platform)
    sched = pipedream_schedule(problem)
    check_schedule(sched)
    plan = plan_stages(problem)
    assert_stages_whole(graph, sched.processor, plan.stages)
    assert sched.period >= plan.stage_time


@FAST
@given(tiny_byte_graphs(shared=True), st.integers(1, 3))
def test_tiny_byte_graphs_keep_the_delay_schedule_without_transfers(graph, P):
    # Under delay the planner is what it was: no transfers, a valid schedule.
    sched = pipedream_schedule(Problem(graph, delay(P)))
    check_schedule(sched)
    assert sched.transfers == ()
