"""Memory footprints: a hand count on small schedules, and the capacity the validator checks."""

from __future__ import annotations

from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform, Processor
from lpsched.schedule import Schedule, Transfer
from lpsched.validate import memory_footprints, validate

LINK = Link(1e6, 0.0)  # 1 byte per microsecond


def plat(memory=None, optimizer_state=0.0, P=2, capacity="delay") -> Platform:
    # Most cases here count a message as the delay model sends it (from its producer's end,
    # for its cost); the ports case lists its transfer.
    procs = tuple(Processor(1.0, memory) for _ in range(P))
    return Platform(procs, LINK, LINK, capacity, optimizer_state=optimizer_state)


def test_a_message_across_processors_is_held_on_both_ends():
    # a (2 units) sends x (3 bytes = 3 units) to b: held on 0 during [0, 5), on 1 during [2, 7).
    g = TaskGraph(
        (Task("a", 2), Task("b", 2)), (Edge("a", "b", 0, None, 3, tensor="x"),), time_unit="1us"
    )
    s = Schedule(g, plat(), 10, {"a": 0, "b": 1}, {"a": 0, "b": 5})
    assert memory_footprints(s) == [3.0, 3.0]
    assert validate(s) == []


def test_a_transfer_is_held_from_its_start_on_both_ends():
    # Under ports x leaves at 4 (2 after a ends) for 3 units: held on 0 during [0, 7) and on 1
    # during [4, 9); with T = 5 that is 2 copies on 0 and 1 on 1.
    g = TaskGraph(
        (Task("a", 2), Task("b", 2)), (Edge("a", "b", 0, None, 3, tensor="x"),), time_unit="1us"
    )
    sent = (Transfer("x", "a", 0, 1, 4, 3),)
    s = Schedule(g, plat(capacity="ports"), 5, {"a": 0, "b": 1}, {"a": 0, "b": 7}, sent)
    assert validate(s) == []
    assert memory_footprints(s) == [6.0, 3.0]


def test_a_long_lifetime_needs_one_copy_per_period_it_spans():
    # b reads x two iterations later: iteration 2 of b ends at 2 + 2*4 + 2 = 12, so x lives
    # during [0, 12) and needs ceil(12 / 4) = 3 copies of its 10 bytes.
    g = TaskGraph(
        (Task("a", 2), Task("b", 2)), (Edge("a", "b", 2, None, 10, tensor="x"),), time_unit="1us"
    )
    s = Schedule(g, plat(P=1), 4, {"a": 0, "b": 0}, {"a": 0, "b": 2})
    assert validate(s) == []
    assert memory_footprints(s) == [10.0 * 3]


def test_weights_are_stashed_and_optimizer_state_sits_with_the_update():
    # U writes w (8 bytes) read by F at staleness 2; F ends at 1 + 2*5 + 1 = 12 from U's start 0.
    g = TaskGraph(
        (Task("U", 1), Task("F", 1)),
        (
            Edge("U", "F", 2, None, 8, weights="l", tensor="w:l"),
            Edge("U", "U", 1),
        ),
        time_unit="1us",
    )
    s = Schedule(g, plat(optimizer_state=2.0, P=1), 5, {"U": 0, "F": 0}, {"U": 0, "F": 1})
    # w: [0, 12) -> ceil(12/5) = 3 copies of 8 bytes; optimizer state 2 x 8 bytes.
    assert memory_footprints(s) == [3 * 8.0 + 16.0]


def test_a_schedule_over_capacity_names_the_processor_and_the_bytes():
    g = TaskGraph(
        (Task("a", 2), Task("b", 2)), (Edge("a", "b", 0, None, 3, tensor="x"),), time_unit="1us"
    )
    s = Schedule(g, plat(memory=2.0), 10, {"a": 0, "b": 1}, {"a": 0, "b": 5})
    vs = validate(s)
    assert [v.kind for v in vs] == ["memory", "memory"]
    assert "processor 0 holds 3 bytes" in vs[0].message and "memory is 2 bytes" in vs[0].message
