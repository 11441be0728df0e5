"""Per-processor programs (lpsched.programs): checked against the schedule they come from.

Every property is recomputed here from the schedule's start times, edges and the
validator's verdict, not from the programs' own bookkeeping.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import pytest

from lpsched import build_task_graph, get_network, solve
from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform, Processor
from lpsched.programs import (
    TORCH_EQUIVALENT,
    Action,
    arrival,
    build_programs,
    count_kinds,
    message_key,
)
from lpsched.schedule import Schedule, tensor_name
from lpsched.validate import validate
from tests.platforms import delay


def _two_nodes(P: int) -> Platform:
    """P processors in two nodes, slow inter links and mixed speeds: every link class in use."""
    procs = tuple(Processor(speed=1.0 if p % 2 == 0 else 0.5, node=p * 2 // P) for p in range(P))
    return Platform(procs, Link(50e9, 10e-6), Link(10e9, 30e-6))


CASES = [
    ("alexnet", "layerpipe", 4, "ports"),
    ("alexnet", "layerpipe", 4, "delay"),
    ("alexnet", "pipedream", 3, "ports"),
    ("vgg16", "pipedream", 2, "ports"),
    ("mlp", "layerpipe", 3, "delay"),
    ("vgg16", "intra", 4, "two-nodes"),
    ("resnet18", "pipedream", 4, "ports"),
    ("resnet18", "pipedream", 3, "delay"),
]


@functools.cache
def _schedule(net: str, decomposition: str, P: int, kind: str) -> Schedule:
    platform = {"ports": Platform.default(P), "delay": delay(P), "two-nodes": _two_nodes(P)}[kind]
    graph = build_task_graph(get_network(net), decomposition=decomposition, processors=P)
    result = solve(graph, platform, "heuristic", deterministic=True)
    assert result.schedule is not None
    assert validate(result.schedule) == []
    return result.schedule


def _first_readers(s: Schedule) -> dict[tuple[str, str, int], list[Edge]]:
    """(producer, tensor, destination) -> the crossing edges that read it there."""
    out: dict[tuple[str, str, int], list[Edge]] = {}
    for i, e in enumerate(s.graph.edges):
        if s.processor[e.src] != s.processor[e.dst]:
            out.setdefault((e.src, tensor_name(s.graph, i), s.processor[e.dst]), []).append(e)
    return out


def _check_programs(s: Schedule, N: int) -> dict[str, int]:
    """Every property of the unrolled programs of ``s``; returns the action counts."""
    programs = build_programs(s)
    T, lo = s.period, min(s.start.values())
    unrolled = programs.unrolled(N)
    assert len(unrolled) == s.processors
    computes: dict[tuple[str, int], tuple[int, Action]] = {}
    sends: dict[tuple, Action] = {}
    recvs: dict[tuple, Action] = {}
    for p, actions in enumerate(unrolled):
        keys = [(a.time, ("recv", "compute", "send").index(a.kind)) for a in actions]
        assert keys == sorted(keys), "time order, recv before compute before send"
        busy = [a for a in actions if a.kind == "compute"]
        for a, b in zip(busy, busy[1:], strict=False):
            assert a.time + a.duration <= b.time, f"{a.name} and {b.name} overlap on {p}"
        for a in actions:
            assert 0 <= a.iteration < N
            assert a.kind != "recv" or a.duration == 0
            if a.kind == "compute":
                computes[(a.name, a.iteration)] = (p, a)
            else:
                table = sends if a.kind == "send" else recvs
                key = message_key(a, p)
                assert key not in table, f"message {key} twice"
                table[key] = a
    # Every task instance exactly once, where and when the schedule says.
    assert len(computes) == s.graph.n * N
    for (name, i), (p, a) in computes.items():
        assert p == s.processor[name]
        assert a.time == s.start[name] - lo + i * T
        assert a.duration == s.duration(name)
    assert sends.keys() == recvs.keys()
    readers = _first_readers(s)
    for key, send in sends.items():
        producer, name, src, dst, i = key
        recv = recvs[key]
        assert (send.peer, recv.peer) == (dst, src)
        assert send.time >= computes[(producer, i)][1].time + s.duration(producer)
        edges = readers[(producer, name, dst)]
        # The recv sits right before the first reader instance of producer iteration i ...
        first = min(s.start[e.dst] - lo + (i + e.distance) * T for e in edges)
        assert recv.time == first
        # ... and in a valid schedule the tensor has arrived by then (so by every reader).
        assert arrival(send) <= recv.time, f"{name} of {producer} arrives late on {dst}"
        if s.platform.capacity == "delay" or send.bytes == 0:
            assert send.duration == 0
    per_iteration = len(sends) / N
    assert per_iteration == len({k[:4] for k in sends})
    # One message per crossing tensor and destination (no fixed comm in built graphs).
    assert per_iteration == len(s.messages())
    return count_kinds(a for actions in unrolled for a in actions)


@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_programs_follow_the_schedule(case: tuple[str, str, int, str]) -> None:
    s = _schedule(*case)
    programs = build_programs(s)
    counts = _check_programs(s, programs.depth + 3)
    assert counts["send"] == counts["recv"] > 0
    assert programs.period == s.period
    assert programs.capacity == s.platform.capacity


def test_ports_send_at_transfer_start() -> None:
    s = _schedule("alexnet", "layerpipe", 4, "ports")
    lo = min(s.start.values())
    programs = build_programs(s)
    sends = {
        (a.producer, a.name, a.peer): (p, a)
        for p, loop in enumerate(programs.loops)
        for a in loop
        if a.kind == "send"
    }
    assert len(sends) == len(s.transfers) > 0
    for x in s.transfers:
        p, a = sends[(x.producer, x.tensor, x.dst)]
        assert p == x.src and a.duration == x.duration
        assert a.time == (x.start - lo) % s.period
        assert a.iteration == -((x.start - lo) // s.period)
        seconds = s.platform.link(x.src, x.dst).latency / s.graph.time_unit_seconds
        assert a.latency == math.ceil(seconds - 1e-9) > 0


def test_delay_latency_is_the_whole_cost() -> None:
    s = _schedule("alexnet", "layerpipe", 4, "delay")
    unit = s.graph.time_unit_seconds
    assert unit is not None and not s.transfers
    sends = [a for loop in build_programs(s).loops for a in loop if a.kind == "send"]
    assert sends
    for a in sends:
        link = s.platform.link(0, 1)
        exact = (link.latency + a.bytes / link.bandwidth) / unit
        assert a.latency == math.ceil(exact - 1e-9 * exact)
        assert a.duration == 0


def test_loop_offsets_and_depth() -> None:
    s = _schedule("resnet18", "pipedream", 4, "ports")
    programs = build_programs(s)
    lo = min(s.start.values())
    offsets = [a.iteration for loop in programs.loops for a in loop]
    assert max(offsets) <= 0 and programs.depth == -min(offsets) > 0
    for p, loop in enumerate(programs.loops):
        for a in loop:
            assert 0 <= a.time < s.period
            if a.kind == "compute":
                assert s.processor[a.name] == p
                assert a.time + (-a.iteration) * s.period == s.start[a.name] - lo
    # N iterations of the loop hold N instances of every action, whatever N (even N < depth).
    for N in (1, programs.depth, programs.depth + 1):
        total = sum(len(x) for x in programs.unrolled(N))
        assert total == N * sum(len(loop) for loop in programs.loops)
    assert programs.phase(0, 10) == "prologue"
    assert programs.phase(programs.depth, programs.depth + 1) == "loop"
    assert programs.phase(programs.depth + 1, programs.depth + 1) == "epilogue"
    with pytest.raises(ValueError):
        programs.unrolled(0)


def test_late_reader_is_caught() -> None:
    """The arrival check can fail: a schedule whose reader starts too early gives a late recv."""
    s = _schedule("alexnet", "layerpipe", 4, "delay")
    programs = build_programs(s)
    recv = next(a for loop in programs.loops for a in loop if a.kind == "recv" and a.latency > 1)
    readers = [e.dst for e in s.graph.edges if e.src == recv.producer and e.tensor == recv.name]
    reader = min(readers, key=lambda v: s.start[v])
    bad = dataclasses.replace(s, start={**s.start, reader: s.start[reader] - 1})
    assert any(v.kind == "precedence" for v in validate(bad))
    with pytest.raises(AssertionError):
        _check_programs(bad, 2)


def _fixed_comm_schedule() -> Schedule:
    """A hand-written graph: a fixed-comm edge, a zero-byte edge and a tensor, on two processors."""
    tasks = (Task("a", 3, "x", "F"), Task("b", 2, "y", "F"), Task("c", 2, "y", "D"))
    edges = (
        Edge("a", "b", comm=4),
        Edge("a", "c", bytes=0),
        Edge("b", "c"),
        Edge("c", "a", distance=2, comm=1),
    )
    graph = TaskGraph(tasks, edges, time_unit="us")
    platform = Platform.default(2)
    return Schedule(graph, platform, 7, {"a": 0, "b": 1, "c": 1}, {"a": 0, "b": 7, "c": 9})


def test_fixed_comm_and_zero_byte_edges_are_pure_delays() -> None:
    s = _fixed_comm_schedule()
    assert validate(s) == []
    programs = build_programs(s)
    sends = {a.name: a for a in programs.loops[0] if a.kind == "send"}
    assert set(sends) == {"e0:a->b", "e1:a->c"}
    assert (sends["e0:a->b"].latency, sends["e0:a->b"].duration) == (4, 0)
    assert (sends["e1:a->c"].latency, sends["e1:a->c"].bytes) == (0, 0)
    (back,) = [a for a in programs.loops[1] if a.kind == "send"]
    assert (back.op, back.latency, back.peer) == ("SEND_B", 1, 0)
    # a of iteration i (at 7 i, time 0 of window i) reads c of iteration i - 2: the recv of
    # window k, before a of iteration k, is for c's iteration k - 2.
    (recv,) = [a for a in programs.loops[0] if a.kind == "recv"]
    assert (recv.time, recv.iteration, recv.producer) == (0, -2, "c")
    _check_fixed(s)


def _check_fixed(s: Schedule) -> None:
    unrolled = build_programs(s).unrolled(4)
    sends = {message_key(a, p): a for p, xs in enumerate(unrolled) for a in xs if a.kind == "send"}
    recvs = {message_key(a, p): a for p, xs in enumerate(unrolled) for a in xs if a.kind == "recv"}
    assert sends.keys() == recvs.keys() and len(sends) == 3 * 4
    for key, a in sends.items():
        assert arrival(a) <= recvs[key].time


def test_ops_and_notation() -> None:
    s = _schedule("alexnet", "layerpipe", 4, "ports")
    programs = build_programs(s)
    kinds = {t.name: t.kind for t in s.graph.tasks}
    expect = {"F": "F", "D": "I", "G": "I", "W": "W", "U": "U"}
    for loop in programs.loops:
        for a in loop:
            assert a.op in TORCH_EQUIVALENT
            if a.kind == "compute":
                assert a.op == expect[kinds[a.name]]
            else:
                cls = {"F": "F", "D": "B", "G": "B", "U": "W", "W": "W"}[kinds[a.producer]]
                assert a.op == f"{a.kind.upper()}_{cls}"
    assert TORCH_EQUIVALENT["U"] is None and TORCH_EQUIVALENT["SEND_W"] is None
    pipedream = build_programs(_schedule("alexnet", "pipedream", 3, "ports"))
    ops = {a.op for loop in pipedream.loops for a in loop}
    assert "B" in ops and not ops & {"I", "W", "U"}


# ------------------------------------------------------------------ lpsched export --programs
def _write_schedule(tmp_path, case: tuple[str, str, int, str]) -> str:
    from lpsched.schedule import Result, Status

    s = _schedule(*case)
    path = tmp_path / "s.json"
    Result(s, Status.FEASIBLE, 0, "heuristic", 0.0).to_json(path)
    return str(path)


def test_export_programs_json(tmp_path, capsys) -> None:
    import json

    from tests.cli_helpers import run

    case = ("alexnet", "layerpipe", 4, "ports")
    s = _schedule(*case)
    path, out = _write_schedule(tmp_path, case), tmp_path / "p.json"
    code, _, err = run(capsys, "export", path, "--programs", str(out))
    assert code == 0, err
    assert f"wrote {out}" in err
    data = json.loads(out.read_text())
    programs = build_programs(s)
    assert (data["period"], data["depth"]) == (s.period, programs.depth)
    assert data["notation"]["U"]["torch"] is None and data["notation"]["I"]["torch"] == "I"
    assert data["period_ms"] == pytest.approx(s.period * s.graph.time_unit_seconds * 1e3)
    N = programs.depth + 4
    unrolled = programs.unrolled(N)
    for p, row in enumerate(data["processors"]):
        # Rebuild the unrolled actions of N iterations from the JSON's three parts alone.
        T, D = s.period, programs.depth
        got = [(a["window"] * T + a["time"], a["name"], a["iteration"]) for a in row["prologue"]]
        got += [
            ((k * T) + a["time"], a["name"], k + a["offset"])
            for k in range(D, N)
            for a in row["loop"]["actions"]
        ]
        got += [
            ((N + a["window_from_n"]) * T + a["time"], a["name"], N + a["iteration_from_n"])
            for a in row["epilogue"]
        ]
        want = [(a.time, a.name, a.iteration) for a in unrolled[p]]
        assert sorted(got) == sorted(want)
        assert all(a["iteration"] == f"N{a['iteration_from_n']}" for a in row["epilogue"])


def test_export_programs_csv(tmp_path, capsys) -> None:
    import csv

    from tests.cli_helpers import run

    case = ("alexnet", "pipedream", 3, "ports")
    s = _schedule(*case)
    path, out = _write_schedule(tmp_path, case), tmp_path / "p.csv"
    code, _, err = run(capsys, "export", path, "--programs", str(out), "--iterations", "3")
    assert code == 0, err
    rows = list(csv.DictReader(out.open()))
    programs = build_programs(s)
    assert len(rows) == 3 * sum(len(loop) for loop in programs.loops)
    unit = s.graph.time_unit_seconds
    computes = [r for r in rows if r["kind"] == "compute"]
    assert len(computes) == 3 * s.graph.n
    lo = min(s.start.values())
    for r in computes:
        assert int(r["time"]) == s.start[r["name"]] - lo + int(r["iteration"]) * s.period
        assert float(r["time_ms"]) == pytest.approx(int(r["time"]) * unit * 1e3, rel=1e-5)
        assert r["phase"] == programs.phase(int(r["time"]) // s.period, 3)
    for p in range(s.processors):
        mine = [int(r["index"]) for r in rows if int(r["processor"]) == p]
        assert mine == list(range(len(mine)))
    # The default N is 2 depth + 2.
    code, _, err = run(capsys, "export", path, "--programs", str(out))
    assert code == 0 and f"{2 * programs.depth + 2} iterations" in err


def test_export_errors(tmp_path, capsys) -> None:
    from tests.cli_helpers import one_line_error, run

    case = ("alexnet", "layerpipe", 4, "delay")
    path = _write_schedule(tmp_path, case)
    out = tmp_path / "p.json"
    bad = tmp_path / "bad.json"
    s = _schedule(*case)
    v = s.graph.tasks[-1].name
    from lpsched.schedule import Result, Status

    broken = dataclasses.replace(s, start={**s.start, v: s.start[v] + 1}, period=s.period - 1)
    Result(broken, Status.FEASIBLE, 0, "x", 0.0).to_json(bad)
    cases = [
        ((str(bad), "--programs", str(out)), "invalid schedule"),
        ((str(tmp_path / "none.json"), "--programs", str(out)), "none.json"),
        ((path, "--programs", str(tmp_path / "p.txt")), "must end in .json, .csv"),
        ((path, "--programs", str(out), "--iterations", "0"), "--iterations"),
        ((path, "--programs", str(out), "--iterations", "1"), "less than the depth"),
        ((path,), "give at least one of"),
        ((path, "--programs", path), "is the input file"),
    ]
    for argv, needle in cases:
        code, _, err = run(capsys, "export", *argv)
        assert code == 2, (argv, err)
        assert needle in one_line_error(err), (argv, err)
        assert not out.exists()


# ------------------------------------------------------------ random graphs (hypothesis)
def _random_graph(draw) -> TaskGraph:
    """A DAG of 4-9 tasks with shared tensors, some fixed comms and backward edges."""
    from hypothesis import strategies as st

    n = draw(st.integers(4, 9))
    kinds = ["F", "D", "G", "W", "U", "B", "A", "WU", ""]
    tasks = tuple(
        Task(f"t{v}", draw(st.integers(1, 30)), f"l{v // 2}", draw(st.sampled_from(kinds)))
        for v in range(n)
    )
    edges = []
    for v in range(1, n):
        for u in draw(st.sets(st.integers(0, v - 1), min_size=1, max_size=3)):
            # Two tensors per producer at most: readers share them.
            tensor = f"x{u}.{draw(st.integers(0, 1))}"
            if draw(st.integers(0, 5)) == 0:
                edges.append(Edge(f"t{u}", f"t{v}", comm=draw(st.integers(0, 9))))
            else:
                size = 10_000 * (1 + int(tensor[-1]))  # one size per tensor
                edges.append(Edge(f"t{u}", f"t{v}", bytes=size * (u + 1), tensor=tensor))
    for _ in range(draw(st.integers(0, 2))):
        u, v = sorted(draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2)))
        edges.append(Edge(f"t{v}", f"t{u}", distance=draw(st.integers(1, 3)), bytes=5000))
    return TaskGraph(tasks, tuple(edges), time_unit="1us")


def test_random_schedules_receive_in_time() -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=40,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(data=st.data())
    def check(data) -> None:
        graph = _random_graph(data.draw)
        P = data.draw(st.integers(2, 3))
        kind = data.draw(st.sampled_from(["ports", "delay", "two-nodes"]))
        platform = {"ports": Platform.default(P), "delay": delay(P), "two-nodes": _two_nodes(P)}
        # Slow links (2 GB/s) make the transfers long against tasks of a few microseconds.
        slow = dataclasses.replace(platform[kind], intra=Link(2e9, 3e-6))
        result = solve(graph, slow, "heuristic", deterministic=True)
        assert result.schedule is not None and validate(result.schedule) == []
        programs = build_programs(result.schedule)
        N = data.draw(st.integers(1, programs.depth + 3))
        crossed.append(_check_programs_any(result.schedule, N))

    crossed: list[int] = []
    check()
    # The examples exercise messages: most schedules send some.
    assert sum(1 for c in crossed if c > 0) >= len(crossed) // 2


def _check_programs_any(s: Schedule, N: int) -> int:
    """:func:`_check_programs` for graphs with fixed comms: one message per distinct delay too."""
    unrolled = build_programs(s).unrolled(N)
    sends = {message_key(a, p): a for p, xs in enumerate(unrolled) for a in xs if a.kind == "send"}
    recvs = {message_key(a, p): a for p, xs in enumerate(unrolled) for a in xs if a.kind == "recv"}
    assert sends.keys() == recvs.keys()
    lo = min(s.start.values())
    readers = _first_readers(s)
    for key, send in sends.items():
        producer, name, _, dst, i = key
        assert arrival(send) <= recvs[key].time
        assert send.time >= s.start[producer] - lo + i * s.period + s.duration(producer)
        first = min(
            s.start[e.dst] - lo + (i + e.distance) * s.period for e in readers[key[:2] + (dst,)]
        )
        assert recvs[key].time == first
    # Every crossing edge is served: its reader instance comes after the tensor's arrival.
    for key, edges in readers.items():
        for i in range(N):
            mine = [
                a
                for k, a in sends.items()
                if k[0] == key[0] and k[1] == key[1] and k[3] == key[2] and k[4] == i
            ]
            assert mine, f"no message for {key} iteration {i}"
            for e in edges:
                at = s.start[e.dst] - lo + (i + e.distance) * s.period
                ours = [a for a in mine if e.comm is None or a.latency == e.comm]
                assert ours and min(arrival(a) for a in ours) <= at
    return len(sends)


def test_one_tensor_with_two_fixed_delays_gives_two_messages() -> None:
    """Edges of one named tensor to one processor with different fixed ``comm`` are two
    messages with two names: each arrives in time for its own reader, and the simulator
    runs the schedule at exactly T."""
    from lpsched.simulate import simulate

    tasks = (Task("a", 2), Task("b", 1), Task("c", 1))
    edges = (Edge("a", "b", comm=1, tensor="x"), Edge("a", "c", comm=5, tensor="x"))
    graph = TaskGraph(tasks=tasks, edges=edges, name="two-delays")
    s = Schedule(graph, 2, 9, {"a": 0, "b": 1, "c": 1}, {"a": 0, "b": 3, "c": 7})
    assert validate(s) == []
    programs = build_programs(s)
    sends = sorted((a.name, a.latency) for a in programs.loops[0] if a.kind == "send")
    assert sends == [("x (comm 1)", 1), ("x (comm 5)", 5)]
    unrolled = programs.unrolled(3)
    recvs = {message_key(a, 1): a for a in unrolled[1] if a.kind == "recv"}
    for a in unrolled[0]:
        if a.kind == "send":
            assert arrival(a) <= recvs[message_key(a, 0)].time
    report = simulate(s, iterations=20)
    assert report.deadlock is None and report.violation_count == 0
    assert set(report.periods) == {9}
