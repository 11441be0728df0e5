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
