"""Tests of the validator, by hand-made schedules and against a brute-force simulation."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched.errors import InputError
from lpsched.graph import Edge, Task, TaskGraph, make_graph
from lpsched.platform import Link, Platform, Processor
from lpsched.schedule import Result, Schedule, Status
from lpsched.validate import InvalidScheduleError, Violation, check_schedule, validate
from tests.brute import tiny_byte_graphs, tiny_platforms


def sched(
    graph: TaskGraph, period: int, placement: dict, processors: int | Platform = 2
) -> Schedule:
    """A schedule from ``{task: (processor, start)}`` on ``processors`` (a count or a platform)."""
    return Schedule(
        graph,
        processors,
        period,
        {k: p for k, (p, _s) in placement.items()},
        {k: s for k, (_p, s) in placement.items()},
    )


def kinds(violations: list[Violation]) -> list[str]:
    return [v.kind for v in violations]


# ---------------------------------------------------------------------------
# Brute force: unroll iterations as absolute intervals and check the definition
# literally. Shares nothing with lpsched.validate: durations and costs are
# computed here from the platform (formulations/README.md, (P0a) and (P0b)).
# ---------------------------------------------------------------------------
def durations_on(s: Schedule) -> dict[str, int]:
    """Each task's duration on its processor: ``ceil(d / speed)`` in exact arithmetic."""
    speed = [p.speed for p in s.platform.processors]
    return {
        t.name: max(1, math.ceil(Fraction(t.duration) / Fraction(repr(speed[s.processor[t.name]]))))
        for t in s.graph.tasks
    }


def cost_on(s: Schedule, e: Edge) -> int:
    """What edge ``e`` costs as placed: a fixed comm, or its bytes over the pair's link."""
    pu, pv = s.processor[e.src], s.processor[e.dst]
    if pu == pv:
        return 0
    if e.comm is not None:
        return e.comm
    if e.bytes == 0:
        return 0
    procs = s.platform.processors
    link = s.platform.intra if procs[pu].node == procs[pv].node else s.platform.inter
    seconds = Fraction(repr(link.latency)) + e.bytes / Fraction(repr(link.bandwidth))
    return math.ceil(seconds / Fraction(repr(s.graph.time_unit_seconds)))


def enough_iterations(s: Schedule) -> int:
    """Iterations to unroll so that every overlap and every edge shows up.

    Instances (a, i) and (b, j) overlap iff ``-d_b < s_b - s_a + (j-i)*T < d_a``,
    so ``|j - i| <= (span of starts + max d) / T + 1``; unrolling one more
    iteration than that lets both i and j be non-negative. Edges need more
    iterations than their distance.
    """
    span = max(s.start.values()) - min(s.start.values())
    longest = max(durations_on(s).values())
    far = max((e.distance for e in s.graph.edges), default=0)
    return max((span + longest) // s.period + 3, far + 2)


def brute_force(s: Schedule) -> tuple[set[tuple[str, str]], set[int]]:
    """Overlapping task pairs (sorted names; ``(a, a)`` for self) and violated edge indices."""
    T, K = s.period, enough_iterations(s)
    d = durations_on(s)
    instances = [
        (s.processor[v], s.start[v] + i * T, s.start[v] + i * T + d[v], v, i)
        for v in d
        for i in range(K)
    ]
    overlapping = set()
    for x, (p1, lo1, hi1, v1, i1) in enumerate(instances):
        for p2, lo2, hi2, v2, i2 in instances[x + 1 :]:
            if p1 == p2 and lo1 < hi2 and lo2 < hi1:
                assert (v1, i1) != (v2, i2)
                overlapping.add(tuple(sorted((v1, v2))))
    violated = set()
    for k, e in enumerate(s.graph.edges):
        comm = cost_on(s, e)
        for i in range(K - e.distance):
            src_end = s.start[e.src] + i * T + d[e.src]
            dst_begin = s.start[e.dst] + (i + e.distance) * T
            if dst_begin < src_end + comm:
                violated.add(k)
    return overlapping, violated


def check_against_brute_force(s: Schedule) -> list[Violation]:
    found = validate(s)
    overlapping, violated = brute_force(s)
    reported_pairs = [tuple(sorted(v.tasks)) for v in found if v.kind == "overlap"]
    assert len(reported_pairs) == len(set(reported_pairs)), "a pair reported twice"
    assert set(reported_pairs) == overlapping
    edge_ids = {id(e): k for k, e in enumerate(s.graph.edges)}
    reported_edges = [edge_ids[id(v.edge)] for v in found if v.kind == "precedence"]
    assert sorted(reported_edges) == sorted(violated)
    assert all(v.kind in ("precedence", "overlap") for v in found)
    d = durations_on(s)
    T = s.period
    for v in found:
        if v.kind == "overlap":
            # The reported instances really run on that processor during the interval.
            (a, b), (i, j), (lo, hi) = v.tasks, v.iterations, v.interval
            assert s.processor[a] == s.processor[b] == v.processor
            assert (a, i) != (b, j) and i >= 0 and j >= 0
            assert lo < hi and v.amount == hi - lo
            for task, it in ((a, i), (b, j)):
                assert s.start[task] + it * T <= lo and hi <= s.start[task] + it * T + d[task]
        else:
            e = v.edge
            comm = cost_on(s, e)
            short = s.start[e.src] + d[e.src] + comm - s.start[e.dst] - e.distance * T
            assert v.amount == short > 0
    return found


# ---------------------------------------------------------------------------
# Hand-made schedules
# ---------------------------------------------------------------------------
CHAIN = make_graph([("F:a", 3), ("F:b", 2), ("U:a", 1)], [("F:a", "F:b"), ("U:a", "F:a", 2)])


def test_valid_chain_on_one_processor():
    s = sched(CHAIN, 6, {"F:a": (0, 0), "F:b": (0, 3), "U:a": (0, 5)})
    assert validate(s) == []
    check_schedule(s)  # does not raise


def test_precedence_distance_zero_message():
    g = make_graph([("F:a", 1), ("F:b", 2)], [("F:a", "F:b", 0, 3)])
    s = sched(g, 20, {"F:a": (0, 10), "F:b": (1, 10)})
    [v] = validate(s)
    assert v.kind == "precedence" and v.tasks == ("F:a", "F:b") and v.amount == 4
    assert v.edge == g.edges[0]
    assert v.message == (
        "edge F:a -> F:b (distance 0, comm 3, across processors 0 and 1): "
        "F:b starts at 10 but needs >= 14 (F:a ends at 11 + comm 3; short by 4)"
    )


def test_precedence_with_distance_depends_on_period():
    # U:a (start 5, ends 6) feeds F:a of two iterations later (start 0 + 2*T).
    placement = {"F:a": (0, 0), "F:b": (0, 3), "U:a": (0, 5)}
    assert validate(sched(CHAIN, 6, placement)) == []
    g = make_graph([("F:a", 3), ("U:a", 3)], [("U:a", "F:a", 2)])
    s = sched(g, 4, {"F:a": (0, 0), "U:a": (1, 7)}, processors=2)
    [v] = validate(s)
    assert v.kind == "precedence" and v.amount == 2
    assert v.message == (
        "edge U:a -> F:a (distance 2, comm 0, across processors 1 and 0): "
        "F:a of iteration 2 starts at 8 but needs >= 10 (U:a of iteration 0 ends at 10; "
        "short by 2)"
    )
    assert validate(replace(s, period=5)) == []


def test_communication_only_across_processors():
    g = make_graph([("a", 2), ("b", 2)], [("a", "b", 0, 5)])
    same = sched(g, 10, {"a": (1, 0), "b": (1, 2)})
    assert validate(same) == []  # no comm charged on one processor
    across = sched(g, 10, {"a": (0, 0), "b": (1, 2)})
    [v] = validate(across)
    assert v.kind == "precedence" and v.amount == 5
    assert "across processors 0 and 1" in v.message
    assert validate(sched(g, 10, {"a": (0, 0), "b": (1, 7)})) == []


def test_precedence_same_processor_message():
    g = make_graph([("a", 4), ("b", 2)], [("a", "b", 0, 5)])
    # b's arc [6, 8) is clear of a's [0, 4), but b starts before a ends.
    [v] = validate(sched(g, 10, {"a": (1, 0), "b": (1, -4)}))
    assert v.amount == 8
    assert v.message == (
        "edge a -> b (distance 0, comm 5, both on processor 1): "
        "b starts at -4 but needs >= 4 (a ends at 4; short by 8)"
    )


def test_self_loop_edge():
    g = make_graph([("U:a", 3)], [("U:a", "U:a", 1)])
    assert validate(sched(g, 3, {"U:a": (0, 0)})) == []
    s = sched(TaskGraph(g.tasks, (Edge("U:a", "U:a", 2, 0),)), 1, {"U:a": (0, 0)})
    found = validate(s)
    assert kinds(found) == ["precedence", "overlap"]
    assert found[0].tasks == ("U:a", "U:a") and found[0].amount == 1
    # Also with period >= d/w but d > T: the precedence holds, the resource does not.
    s = sched(TaskGraph(g.tasks, (Edge("U:a", "U:a", 2, 0),)), 2, {"U:a": (0, 0)})
    assert kinds(validate(s)) == ["overlap"]


def test_overlap_wrapping_around_the_period():
    g = make_graph([("F:a", 4), ("B:c", 2)])
    s = sched(g, 10, {"F:a": (2, 8), "B:c": (2, 1)}, processors=3)
    [v] = validate(s)
    assert v.kind == "overlap" and v.processor == 2
    assert v.tasks == ("F:a", "B:c") and v.iterations == (0, 1)
    assert v.interval == (11, 12) and v.amount == 1
    assert v.message == (
        "F:a (iteration 0, [8, 12)) and B:c (iteration 1, [11, 13)) "
        "overlap on processor 2 during [11, 12)"
    )
    # On different processors, or touching exactly at the wrap, there is no overlap.
    assert validate(replace(s, processor={"F:a": 2, "B:c": 0})) == []
    assert validate(replace(s, start={"F:a": 8, "B:c": 2})) == []
    assert validate(replace(s, start={"F:a": 6, "B:c": 0})) == []


def test_overlap_message_in_the_order_of_the_graph():
    g = make_graph([("F:a", 5), ("B:c", 4)])
    [v] = validate(sched(g, 10, {"F:a": (2, 3), "B:c": (2, 15)}, processors=3))
    assert v.message == (
        "F:a (iteration 1, [13, 18)) and B:c (iteration 0, [15, 19)) "
        "overlap on processor 2 during [15, 18)"
    )
    assert v.iterations == (1, 0) and v.interval == (15, 18)


def test_task_longer_than_the_period_overlaps_itself():
    g = make_graph([("W:a", 7)])
    [v] = validate(sched(g, 5, {"W:a": (0, 1)}, processors=1))
    assert v.kind == "overlap" and v.tasks == ("W:a", "W:a") and v.iterations == (0, 1)
    assert v.message == (
        "W:a (iteration 0, [1, 8)) and W:a (iteration 1, [6, 13)) "
        "overlap on processor 0 during [6, 8)"
    )
    assert validate(sched(g, 7, {"W:a": (0, 1)}, processors=1)) == []


def test_task_as_long_as_the_period_fills_its_processor():
    g = make_graph([("a", 5), ("b", 1), ("c", 1)])
    alone = sched(g, 5, {"a": (0, 3), "b": (1, 0), "c": (1, 1)})
    assert validate(alone) == []
    crowded = replace(alone, processor={"a": 0, "b": 0, "c": 1})
    [v] = validate(crowded)
    assert v.tasks == ("a", "b")


def test_negative_starts_and_starts_beyond_the_period():
    g = make_graph([("a", 3), ("b", 3), ("c", 4)])
    base = {"a": (0, 0), "b": (0, 3), "c": (0, 6)}
    assert validate(sched(g, 10, base)) == []
    for shifts in [(-1, 0, 2), (3, -7, 0), (100, -100, 1)]:
        moved = {k: (p, s + 10 * m) for (k, (p, s)), m in zip(base.items(), shifts, strict=True)}
        assert validate(sched(g, 10, moved)) == []
    # One time unit later, c wraps onto a (which starts at -40, i.e. 0 mod 10).
    bad = sched(g, 10, {"a": (0, -40), "b": (0, 23), "c": (0, 7)})
    [v] = validate(bad)
    assert v.tasks == ("a", "c") and v.amount == 1
    assert v.iterations == (5, 0) and v.interval == (10, 11)
    check_against_brute_force(bad)


def test_missing_and_unknown_tasks():
    s = Schedule(CHAIN, 1, 10, {"F:a": 0, "F:b": 0, "X": 0}, {"F:a": 0, "U:a": 5, "Y": 1})
    found = validate(s)
    msgs = [v.message for v in found]
    assert kinds(found) == ["assignment"] * 4
    assert msgs == [
        "task F:b has no start time",
        "task U:a has no processor",
        "processor given for unknown task 'X'",
        "start time given for unknown task 'Y'",
    ]
    s = Schedule(CHAIN, 1, 10, {"F:a": 0, "F:b": 0}, {"F:a": 0, "F:b": 3})
    [v] = validate(s)
    assert v.message == "task U:a is not assigned" and v.tasks == ("U:a",)


def test_non_integer_values():
    g = make_graph([("a", 2), ("b", 2)], [("a", "b")])
    s = Schedule(g, 2, 10, {"a": 0, "b": 1.0}, {"a": 2.5, "b": True})
    found = validate(s)
    assert [(v.kind, v.message) for v in found] == [
        ("assignment", "task a: start 2.5 is not an integer"),
        ("assignment", "task b: start True is not an integer"),
        ("processor", "task b: processor 1.0 is not an integer"),
    ]


def test_processor_out_of_range():
    g = make_graph([("a", 2), ("b", 2)])
    found = validate(sched(g, 4, {"a": (2, 0), "b": (-1, 2)}))
    assert [(v.kind, v.processor) for v in found] == [("processor", 2), ("processor", -1)]
    assert found[0].message == "task a: processor 2 is out of range 0..1 (2 processors)"
    # Out-of-range tasks are not counted as overlapping with each other.
    assert kinds(validate(sched(g, 4, {"a": (5, 0), "b": (5, 0)}))) == ["processor"] * 2


def test_bad_period_and_processor_count():
    g = make_graph([("a", 2), ("b", 2)], [("a", "b")])
    placement = {"a": (0, 0), "b": (0, 0)}
    [v] = validate(sched(g, 0, placement))
    assert v.kind == "period" and v.message == "period must be a positive integer, got 0"
    assert kinds(validate(sched(g, 2.0, placement))) == ["period"]
    assert kinds(validate(sched(g, -3, placement))) == ["period"]
    # No platform has 0 processors, and Schedule(g, 0, ...) refuses the count; the
    # validator still reports one that a broken caller forced in.
    with pytest.raises(InputError, match="between 1 and 4096"):
        sched(g, 4, placement, processors=0)
    broken = sched(g, 4, placement, processors=1)
    empty = Platform.default(1)
    object.__setattr__(empty, "processors", ())
    object.__setattr__(broken, "platform", empty)
    assert broken.processors == 0
    found = validate(broken)
    assert kinds(found) == ["processor", "precedence"]
    assert found[0].message == "number of processors must be a positive integer, got 0"


@pytest.mark.parametrize("version", [1, 2])
def test_a_file_with_no_processors_is_a_one_line_input_error(version):
    g = make_graph([("a", 2)])
    data = Result(sched(g, 2, {"a": (0, 0)}, 1), Status.FEASIBLE, 2, "x", 0.0).to_dict()
    data["processors"] = 0
    if version == 1:
        data["format"] = "lpsched-schedule/1"
        del data["platform"]
    with pytest.raises(InputError) as info:
        Result.from_dict(json.loads(json.dumps(data)), source="s.json")
    message = str(info.value)
    assert message.startswith("s.json: processors ") and "\n" not in message
    assert not message.startswith("s.json: s.json")


def test_check_schedule_raises_with_a_summary():
    g = make_graph([(f"t{i}", 2) for i in range(8)])
    s = sched(g, 4, {f"t{i}": (0, 0) for i in range(8)}, processors=1)
    with pytest.raises(InvalidScheduleError) as info:
        check_schedule(s)
    err = info.value
    assert isinstance(err, ValueError)
    assert len(err.violations) == 28  # every pair of 8 tasks, once
    text = str(err)
    assert text.startswith("invalid schedule: 28 violations\n  - t0 (iteration 0")
    assert text.endswith("... and 23 more")
    assert text.count("\n  - ") == 5


def test_violation_is_frozen_and_prints_its_message():
    v = Violation("period", "period must be a positive integer, got 0")
    assert str(v) == v.message
    with pytest.raises(AttributeError):
        v.kind = "overlap"  # type: ignore[misc]


def test_json_round_trip_keeps_validity(tmp_path):
    g = make_graph(
        [Task("F:a", 3, "a", "F"), Task("F:b", 2, "b", "F"), Task("U:a", 4, "a", "U")],
        [
            Edge("F:a", "F:b", 0, 2, 100),
            Edge("U:a", "F:a", 2, 1, 50, weights="a"),
            Edge("U:a", "U:a", 1),
        ],
    )
    good = sched(g, 6, {"F:a": (0, -4), "F:b": (1, 1), "U:a": (1, 3)})
    bad = replace(good, start={"F:a": -4, "F:b": 1, "U:a": 4})
    assert validate(good) == []
    assert validate(bad) != []
    for s in (good, bad):
        path = tmp_path / "s.json"
        Result(s, Status.FEASIBLE, 4, "test", 0.0).to_json(path)
        back = Result.read(path).schedule
        assert back is not None
        assert [v.message for v in validate(back)] == [v.message for v in validate(s)]


# ---------------------------------------------------------------------------
# The platform: durations and costs recomputed from the one the schedule carries
# ---------------------------------------------------------------------------
def test_durations_follow_the_speed_of_the_processor():
    g = make_graph([("a", 2), ("b", 2)])
    placement = {"a": (0, 0), "b": (0, 2)}
    fast = Platform((Processor(1.0), Processor(1.0)))
    assert validate(sched(g, 4, placement, fast)) == []
    slow = Platform((Processor(0.5), Processor(1.0)))  # a and b last 4 on processor 0
    [v] = validate(sched(g, 4, placement, slow))
    assert v.kind == "overlap" and v.tasks == ("a", "b") and v.processor == 0
    assert v.amount == 2  # [0, 4) and [2, 6), a turn apart or not
    # On the fast processor of the same platform they fit again.
    assert validate(sched(g, 4, {"a": (1, 0), "b": (1, 2)}, slow)) == []
    # A task longer than the period on a slow processor overlaps itself.
    lone = make_graph([("a", 3)])
    assert validate(sched(lone, 3, {"a": (1, 0)}, slow)) == []
    assert kinds(validate(sched(lone, 3, {"a": (0, 0)}, slow))) == ["overlap"]


def test_a_precedence_waits_for_the_slow_producer():
    g = make_graph([("a", 3), ("b", 1)], [("a", "b", 0, 0)])
    platform = Platform((Processor(1.5), Processor(0.75)))  # a lasts 2 on 0, 4 on 1
    assert validate(sched(g, 10, {"a": (0, 0), "b": (0, 2)}, platform)) == []
    [v] = validate(sched(g, 10, {"a": (1, 0), "b": (0, 2)}, platform))
    assert v.kind == "precedence" and v.amount == 2
    assert "a ends at 4" in v.message


def two_node_platform() -> Platform:
    # Unit 1 us: 1 GB/s and 2 us in a node, 0.25 GB/s and 10 us between nodes; messages
    # as delays (tests/test_ports.py checks the same links as ports).
    return Platform(
        (Processor(1.0, None, 0), Processor(1.0, None, 0), Processor(1.0, None, 1)),
        Link(1e9, 2e-6),
        Link(0.25e9, 10e-6),
        "delay",
    )


def test_two_nodes_charge_the_inter_node_link():
    g = TaskGraph(
        (Task("a", 3), Task("b", 2)),
        (Edge("a", "b", 0, None, 1000, tensor="x"),),  # 3 units intra, 14 inter
        time_unit="1us",
    )
    platform = two_node_platform()
    within = sched(g, 20, {"a": (0, 0), "b": (1, 6)}, platform)  # 3 + 3
    assert validate(within) == []
    assert validate(replace(within, start={"a": 0, "b": 5})) != []
    across = replace(within, processor={"a": 0, "b": 2})
    [v] = validate(across)
    assert v.kind == "precedence" and v.amount == 14 - 3  # exactly the inter-node extra
    assert v.message == (
        "edge a -> b (distance 0, comm 14, across processors 0 and 2): "
        "b starts at 6 but needs >= 17 (a ends at 3 + comm 14; short by 11)"
    )
    assert validate(replace(across, start={"a": 0, "b": 17})) == []
    # A fixed comm is a pure delay, the same on either link.
    fixed = TaskGraph(g.tasks, (Edge("a", "b", 0, 3, 1000),), time_unit="1us")
    assert validate(sched(fixed, 20, {"a": (0, 0), "b": (2, 6)}, platform)) == []


def test_schedule_file_round_trip_keeps_the_platform(tmp_path):
    g = TaskGraph(
        (Task("a", 3), Task("b", 2), Task("c", 4)),
        (
            Edge("a", "b", 0, None, 1000, tensor="x"),
            Edge("b", "c", 0, None, 0, tensor="y"),
            Edge("c", "a", 2, 1),
        ),
        time_unit="1us",
        name="tiny",
    )
    platform = replace(two_node_platform(), name="two")
    good = sched(g, 20, {"a": (0, 0), "b": (2, 17), "c": (2, 19)}, platform)
    # c moved onto a's processor: its arc [19, 23) wraps onto a's [0, 3).
    bad = replace(good, processor={"a": 0, "b": 2, "c": 0})
    assert validate(good) == []
    assert validate(bad) != []
    for s in (good, bad):
        path = tmp_path / "s.json"
        Result(s, Status.FEASIBLE, 4, "test", 0.0).to_json(path)
        data = json.loads(path.read_text())
        assert data["format"] == "lpsched-schedule/2"
        assert data["processors"] == 3 and data["platform"]["links"]["inter"]["latency"] == 10e-6
        back = Result.read(path).schedule
        assert back is not None
        assert back.platform == platform and back == s
        assert [v.message for v in validate(back)] == [v.message for v in validate(s)]


def test_version_1_schedule_files_run_on_the_default_platform():
    data = {
        "format": "lpsched-schedule/1",
        "processors": 2,
        "period": 6,
        "status": "feasible",
        "assignments": [
            {"task": "a", "processor": 0, "start": 0},
            {"task": "b", "processor": 1, "start": 5},
        ],
        "graph": {
            "format": "lpsched-graph/1",
            "time_unit": "us",
            "tasks": [{"name": "a", "duration": 3}, {"name": "b", "duration": 1}],
            "edges": [
                {"src": "a", "dst": "b", "bytes": 10**9},
                {"src": "b", "dst": "a", "distance": 1},
            ],
        },
    }
    result = Result.from_dict(data)
    s = result.schedule
    assert s is not None and s.platform == Platform.default(2)
    # In version 1 an edge without comm had comm 0: its bytes cost nothing.
    assert all(e.comm == 0 for e in s.graph.edges)
    assert validate(s) == []
    assert Result.from_dict(result.to_dict()).schedule == s  # written back as version 2


def test_large_valid_schedule():
    # 2,000 tasks on 8 processors, each processor's tasks back to back around the
    # period and scattered over many turns: valid, and the sweep must say so quickly.
    rng = random.Random(1)
    n, procs = 2000, 8
    durations = [rng.randint(1, 9) for _ in range(n)]
    proc = [i % procs for i in range(n)]
    T = max(sum(d for d, p in zip(durations, proc, strict=True) if p == q) for q in range(procs))
    clock = [rng.randint(0, T) for _ in range(procs)]
    start = []
    for d, p in zip(durations, proc, strict=True):
        start.append(clock[p] + T * rng.randint(-3, 3))
        clock[p] += d
    names = [f"t{i}" for i in range(n)]
    g = TaskGraph(tuple(Task(x, d) for x, d in zip(names, durations, strict=True)), ())
    s = Schedule(
        g, procs, T, dict(zip(names, proc, strict=True)), dict(zip(names, start, strict=True))
    )
    assert validate(s) == []
    # Moving one task by one unit creates overlaps with its neighbours only.
    s2 = replace(s, start={**s.start, "t800": s.start["t800"] + 1})
    found = validate(s2)
    assert found and all(v.kind == "overlap" and "t800" in v.tasks for v in found)


# ---------------------------------------------------------------------------
# Random schedules against the brute force
# ---------------------------------------------------------------------------
@st.composite
def graphs(draw) -> TaskGraph:
    n = draw(st.integers(1, 5))
    names = [f"t{i}" for i in range(n)]
    tasks = [(x, draw(st.integers(1, 5))) for x in names]
    edges = []
    for _ in range(draw(st.integers(0, 6))):
        u, v = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        # Distance 0 only forward in the task order keeps the distance-0 edges acyclic.
        distance = draw(st.integers(0 if u < v else 1, 2))
        edges.append((names[u], names[v], distance, draw(st.integers(0, 3))))
    return make_graph(tasks, edges)


@st.composite
def schedules(draw) -> Schedule:
    if draw(st.booleans()):
        g, platform = draw(graphs()), Platform.default(draw(st.integers(1, 3)))
    else:  # bytes on the edges, speeds 0.5..2, one or two nodes
        g, platform = draw(tiny_byte_graphs()), draw(tiny_platforms())
    procs = platform.P
    proc = {t.name: draw(st.integers(0, procs - 1)) for t in g.tasks}
    if draw(st.booleans()):
        # Arbitrary: almost always invalid.
        period = draw(st.integers(1, 10))
        start = {t.name: draw(st.integers(-8, 12)) for t in g.tasks}
    else:
        # Built valid (list schedule of one iteration, period = its length + comm),
        # then shifted by whole periods and perhaps perturbed.
        probe = Schedule(g, platform, 1, proc, dict.fromkeys(proc, 0))
        d = durations_on(probe)
        start, busy = {}, dict.fromkeys(range(procs), 0)
        for t in g.tasks:  # task order is a topological order of distance-0 edges
            ready = busy[proc[t.name]]
            for e in g.edges:
                if e.dst == t.name and e.distance == 0:
                    ready = max(ready, start[e.src] + d[e.src] + cost_on(probe, e))
            start[t.name] = ready
            busy[proc[t.name]] = ready + d[t.name]
        period = max(start[x] + d[x] for x in start) + 3
        start = {x: s + period * draw(st.integers(-1, 1)) for x, s in start.items()}
        period += draw(st.sampled_from([0, 0, 0, -1, -2, -3, -period // 2]))
        period = max(period, 1)
        if draw(st.booleans()):
            victim = draw(st.sampled_from(sorted(start)))
            start[victim] += draw(st.integers(-3, 3))
    return Schedule(g, platform, period, proc, start)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules())
def test_validate_agrees_with_brute_force(s):
    check_against_brute_force(s)


def test_random_sample_covers_valid_and_invalid():
    # Guard against a cross-check that only ever sees one answer.
    rng = random.Random(7)
    outcomes = set()
    for _ in range(60):
        n = rng.randint(1, 4)
        g = make_graph([(f"t{i}", rng.randint(1, 4)) for i in range(n)])
        T = rng.randint(1, 12)
        s = Schedule(
            g,
            2,
            T,
            {f"t{i}": rng.randint(0, 1) for i in range(n)},
            {f"t{i}": rng.randint(-10, 20) for i in range(n)},
        )
        outcomes.add(bool(check_against_brute_force(s)))
    assert outcomes == {True, False}
