"""A memory capacity through :func:`lpsched.solve`: schedules that fit, and proven failures."""

from __future__ import annotations

import dataclasses

import pytest

from lpsched import build_task_graph, get_network, solve
from lpsched.cli import main
from lpsched.platform import Platform, Processor
from lpsched.problem import Problem
from lpsched.schedule import Status


def with_memory(P: int, memory: float, capacity: str = "ports") -> Platform:
    base = dataclasses.replace(Platform.default(P), capacity=capacity)
    return dataclasses.replace(base, processors=tuple(Processor(1.0, memory, 0) for _ in range(P)))


@pytest.fixture(scope="module")
def lenet():
    return build_task_graph(get_network("lenet5"), "layerpipe")


def free_footprint(graph, P: int) -> float:
    result = solve(graph, Platform.default(P), "pipedream")
    return max(result.schedule.footprints())


def test_a_memory_the_bounds_refute_is_infeasible_without_running_a_solver(lenet):
    need = free_footprint(lenet, 2)
    platform = with_memory(2, need / 1000)
    reason = Problem(lenet, platform).bounds.memory_infeasible
    assert reason is not None
    result = solve(lenet, platform, "pipedream")
    assert result.schedule is None and result.status is Status.INFEASIBLE
    assert result.stats["reason"] == reason and reason in result.summary()


@pytest.mark.parametrize("capacity", ["ports", "delay"])
def test_a_schedule_that_fits_is_returned_within_its_memory(lenet, capacity):
    need = free_footprint(lenet, 2)
    platform = with_memory(2, 0.9 * need, capacity)
    assert Problem(lenet, platform).bounds.memory_infeasible is None
    result = solve(lenet, platform, "pipedream")
    if result.schedule is None:  # none found is no proof: unknown, with the planner's reason
        assert result.status is Status.UNKNOWN and result.stats["reason"]
    else:  # solve() validated it, memory included; the check here is independent of that
        assert max(result.schedule.footprints()) <= 0.9 * need


def test_the_command_line_says_why_there_is_no_schedule(capsys):
    assert main(["solve", "gpt2", "--procs", "8", "--solver", "pipedream", "--memory", "4GB"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "infeasible" in err[0] and "32 GB" in err[0]  # 8 x 4 GB


def test_gpt2_below_what_d_lm_head_holds_is_infeasible_for_every_solver():
    """(B20) on GPT-2, P = 8: ``D:lm_head`` reads the logits and makes their gradient at once.

    The two tensors' bytes are summed here from the graph's edges (not by the
    bound's code): any memory below their sum is refused before a solver runs,
    and one just above it is not refused by the bounds.
    """
    graph = build_task_graph(get_network("gpt2"), "layerpipe", processors=8)
    reads = {e.tensor: e.bytes for e in graph.edges if e.dst == "D:lm_head"}
    makes = {e.tensor: e.bytes for e in graph.edges if e.src == "D:lm_head"}
    need = sum(reads.values()) + sum(makes.values())
    assert need > 13e9  # the logits (6.59 GB) and their gradient
    below = with_memory(8, 0.99 * need)
    for solver in ("heuristic", "pipedream", "cpsat", "milp"):
        result = solve(graph, below, solver, time_limit=5)
        assert result.status is Status.INFEASIBLE and result.schedule is None
        assert "D:lm_head" in result.stats["reason"]
    above = with_memory(8, 1.01 * need)
    assert Problem(graph, above).bounds.memory_infeasible is None
