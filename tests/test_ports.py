"""The validator under ``capacity: ports``: transfers, their sizes and times, and port overlaps."""

from __future__ import annotations

import json

import pytest

from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform, Processor
from lpsched.schedule import Result, Schedule, Status, Transfer
from lpsched.validate import validate

# 1 byte per microsecond within a node, half that between nodes; 2 us latency between nodes.
INTRA = Link(1e6, 0.0)
INTER = Link(0.5e6, 2e-6)


def platform(nodes: tuple[int, ...] = (0, 0, 0), capacity: str = "ports") -> Platform:
    return Platform(tuple(Processor(1.0, None, n) for n in nodes), INTRA, INTER, capacity)


def fan_out() -> TaskGraph:
    """``a`` sends tensor x (3 bytes) to b and c, and tensor y (2 bytes) to d."""
    tasks = tuple(Task(n, 2) for n in "abcd")
    edges = (
        Edge("a", "b", 0, None, 3, tensor="x"),
        Edge("a", "c", 0, None, 3, tensor="x"),
        Edge("a", "d", 0, None, 2, tensor="y"),
    )
    return TaskGraph(tasks, edges, time_unit="1us")


def sched(transfers, proc=None, start=None, nodes=(0, 0, 0), period=20) -> Schedule:
    proc = proc or {"a": 0, "b": 1, "c": 1, "d": 2}
    start = start or {"a": 0, "b": 6, "c": 8, "d": 8}
    return Schedule(fan_out(), platform(nodes), period, proc, start, tuple(transfers))


def kinds(s: Schedule) -> list[str]:
    return [v.kind for v in validate(s)]


def test_one_transfer_per_tensor_and_destination_is_valid():
    # x to processor 1 serves both b and c: one transfer, 3 units; y to processor 2: 2 units.
    s = sched([Transfer("x", "a", 0, 1, 2, 3), Transfer("y", "a", 0, 2, 5, 2)])
    assert validate(s) == []


def test_two_transfers_overlapping_on_one_out_port_are_both_named():
    # Both leave processor 0 at 2: x lasts [2, 5), y [2, 4): the intra out-port of 0 is shared.
    s = sched([Transfer("x", "a", 0, 1, 2, 3), Transfer("y", "a", 0, 2, 2, 2)])
    [v] = validate(s)
    assert v.kind == "port"
    assert "x" in v.message and "y" in v.message
    assert "out-port of processor 0" in v.message


def test_overlap_modulo_the_period_is_found():
    # y starts 20 later (a whole period): its copy of the next iteration still overlaps x.
    s = sched([Transfer("x", "a", 0, 1, 2, 3), Transfer("y", "a", 0, 2, 23, 2)], period=20)
    assert "port" in kinds(s)


def test_missing_transfer_is_named():
    s = sched([Transfer("x", "a", 0, 1, 2, 3)])
    [v] = validate(s)
    assert v.kind == "transfer" and "tensor y" in v.message and "processor 2" in v.message


def test_transfer_nobody_needs_is_refused():
    s = sched(
        [
            Transfer("x", "a", 0, 1, 2, 3),
            Transfer("y", "a", 0, 2, 5, 2),
            Transfer("x", "a", 0, 2, 7, 3),
        ]
    )
    [v] = validate(s)
    assert v.kind == "transfer" and "needs it" in v.message


def test_wrong_duration_early_start_and_late_arrival():
    too_short = sched([Transfer("x", "a", 0, 1, 2, 2), Transfer("y", "a", 0, 2, 5, 2)])
    assert "lasts 2, but 3 bytes take 3" in validate(too_short)[0].message
    early = sched([Transfer("x", "a", 0, 1, 1, 3), Transfer("y", "a", 0, 2, 5, 2)])
    assert "before a ends at 2" in validate(early)[0].message
    # x arrives at 2 + 3 = 5; b at 4 is one unit short.
    late = sched(
        [Transfer("x", "a", 0, 1, 2, 3), Transfer("y", "a", 0, 2, 5, 2)],
        start={"a": 0, "b": 4, "c": 8, "d": 8},
    )
    [v] = validate(late)
    assert v.kind == "precedence" and "short by 1" in v.message


def test_between_nodes_the_inter_link_and_its_latency_count():
    # Processor 2 in node 1: y (2 bytes) takes 4 units at 0.5 B/us and 2 units of latency.
    ok = sched(
        [Transfer("x", "a", 0, 1, 2, 3), Transfer("y", "a", 0, 2, 2, 4)],
        nodes=(0, 0, 1),
        start={"a": 0, "b": 6, "c": 8, "d": 8},
    )
    assert validate(ok) == []  # different ports: intra out and inter out of processor 0
    short = sched(
        [Transfer("x", "a", 0, 1, 2, 3), Transfer("y", "a", 0, 2, 3, 4)],
        nodes=(0, 0, 1),
        start={"a": 0, "b": 6, "c": 8, "d": 8},
    )
    [v] = validate(short)
    assert v.kind == "precedence" and "arrives on processor 2 at 9" in v.message


def test_same_processor_needs_no_transfer():
    s = sched([], proc={"a": 0, "b": 0, "c": 0, "d": 0}, start={"a": 0, "b": 2, "c": 4, "d": 6})
    assert validate(s) == []


def test_transfers_under_the_delay_model_are_refused():
    s = Schedule(
        fan_out(),
        platform(capacity="delay"),
        20,
        {n: 0 for n in "abcd"},
        {"a": 0, "b": 2, "c": 4, "d": 6},
        (Transfer("x", "a", 0, 1, 2, 3),),
    )
    assert kinds(s) == ["transfer"]


def test_schedule_file_round_trip_keeps_transfers(tmp_path):
    s = sched([Transfer("x", "a", 0, 1, 2, 3), Transfer("y", "a", 0, 2, 5, 2)])
    path = tmp_path / "s.json"
    Result(s, Status.FEASIBLE, 1, "hand", 0.0).to_json(path)
    back = Result.read(path).schedule
    assert back is not None and back.transfers == s.transfers and validate(back) == []
    data = json.loads(path.read_text())
    assert data["platform"]["capacity"] == "ports"
    assert data["transfers"][0] == {
        "tensor": "x",
        "producer": "a",
        "src": 0,
        "dst": 1,
        "start": 2,
        "duration": 3,
    }


@pytest.mark.parametrize("field", ["src", "start", "duration"])
def test_transfer_fields_must_be_integers(tmp_path, field):
    from lpsched.errors import InputError

    s = sched([Transfer("x", "a", 0, 1, 2, 3), Transfer("y", "a", 0, 2, 5, 2)])
    data = Result(s, Status.FEASIBLE, 1, "hand", 0.0).to_dict()
    data["transfers"][0][field] = 1.5
    with pytest.raises(InputError, match=field):
        Result.from_dict(data)


def test_normalising_a_schedule_shifts_its_transfers_with_its_tasks():
    transfers = [Transfer("x", "a", 0, 1, 7, 3), Transfer("y", "a", 0, 2, 10, 2)]
    s = sched(transfers, start={"a": 5, "b": 11, "c": 13, "d": 13})
    assert validate(s) == []
    n = s.normalised()
    assert n.start["a"] == 0 and [x.start for x in n.transfers] == [2, 5]
    assert validate(n) == []
