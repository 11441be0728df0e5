"""Chrome/Perfetto traces (lpsched.trace) and ``lpsched export --trace``."""

from __future__ import annotations

import functools
import json

import pytest

from lpsched import build_task_graph, get_network, solve
from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Platform
from lpsched.programs import build_programs
from lpsched.schedule import Result, Schedule, Status
from lpsched.trace import Span, programs_trace, trace_events, write_trace
from lpsched.validate import validate
from tests.cli_helpers import one_line_error, run
from tests.platforms import delay


@functools.cache
def _schedule(net: str, P: int, capacity: str) -> Schedule:
    platform = Platform.default(P) if capacity == "ports" else delay(P)
    graph = build_task_graph(get_network(net), decomposition="layerpipe", processors=P)
    s = solve(graph, platform, "heuristic", deterministic=True).schedule
    assert s is not None and validate(s) == []
    return s


def _by_track(trace: dict) -> dict[tuple[int, int], list[dict]]:
    out: dict[tuple[int, int], list[dict]] = {}
    for e in trace["traceEvents"]:
        if e["ph"] != "M":
            out.setdefault((e["pid"], e["tid"]), []).append(e)
    return out


def _names(trace: dict, what: str) -> dict[tuple[int, int], str]:
    return {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in trace["traceEvents"]
        if e["ph"] == "M" and e["name"] == what
    }


@pytest.mark.parametrize("net,P", [("alexnet", 4), ("vgg16", 3)])
def test_ports_trace(net: str, P: int) -> None:
    s = _schedule(net, P, "ports")
    programs = build_programs(s)
    N = programs.depth + 2
    trace = json.loads(json.dumps(programs_trace(programs, N)))  # valid JSON, round trip
    unit_us = s.graph.time_unit_seconds * 1e6
    # One complete event per task instance, and one per transfer instance on each of its two
    # ports (the sender's out-port, the receiver's in-port).
    busy = [x for x in s.transfers if x.duration > 0]
    events = [e for e in trace["traceEvents"] if e["ph"] != "M"]
    assert len(events) == N * (s.graph.n + 2 * len(busy))
    assert all(e["ph"] == "X" for e in events)
    threads = _names(trace, "thread_name")
    procs = {pid: name for (pid, _), name in _names(trace, "process_name").items()}
    assert procs == {p: f"processor {p}" for p in range(P)}
    lo = min(s.start.values())
    for (pid, tid), track in _by_track(trace).items():
        name = threads[(pid, tid)]
        ts = [e["ts"] for e in track]
        assert ts == sorted(ts), f"ts not monotone on {name} of {pid}"
        # No two events overlap on a track: not on the compute track of a valid schedule,
        # and not on a port, since a valid ports schedule's transfers never share one.
        for a, b in zip(track, track[1:], strict=False):
            assert a["ts"] + a["dur"] <= b["ts"] + 1e-6, (name, a["name"], b["name"])
        if name == "compute":
            for e in track:
                i, v = e["args"]["iteration"], e["name"]
                assert s.processor[v] == pid
                assert e["ts"] == pytest.approx((s.start[v] - lo + i * s.period) * unit_us)
                assert e["dur"] == pytest.approx(s.duration(v) * unit_us)
        else:
            direction, link = name.split(" ")
            assert direction in ("out", "in") and link in ("intra", "inter")
            for e in track:
                peer = e["args"]["peer"]
                assert s.platform.link_class(pid, peer) == link
                src, dst = (pid, peer) if direction == "out" else (peer, pid)
                (x,) = [
                    x
                    for x in s.transfers
                    if (x.tensor, x.producer, x.src, x.dst)
                    == (e["name"], e["args"]["producer"], src, dst)
                ]
                at = x.start - lo + e["args"]["iteration"] * s.period
                assert e["ts"] == pytest.approx(at * unit_us)
                assert e["dur"] == pytest.approx(x.duration * unit_us)
    ports = {name for name in threads.values() if name != "compute"}
    assert ports == {"out intra", "in intra"}
    assert trace["otherData"]["time_unit_seconds"] == s.graph.time_unit_seconds


def test_delay_messages_are_instants() -> None:
    s = _schedule("alexnet", 4, "delay")
    programs = build_programs(s)
    trace = programs_trace(programs, 2)
    events = [e for e in trace["traceEvents"] if e["ph"] != "M"]
    instants = [e for e in events if e["ph"] == "i"]
    assert len(instants) == 2 * len(s.messages()) > 0
    assert len(events) - len(instants) == 2 * s.graph.n
    assert all("dur" not in e and e["s"] == "t" for e in instants)


def test_generic_spans_and_no_unit(tmp_path) -> None:
    spans = [
        Span(1, "compute", "b", 5, 2.5, {"iteration": 0}),
        Span(1, "compute", "a", 0, 3, {"iteration": 0}),
        Span(0, "net", "x", 1, 0),
    ]
    path = tmp_path / "t.json"
    write_trace(path, spans, None, processors=3, metadata={"source": "test"})
    trace = json.loads(path.read_text())
    assert "1 time unit is written as 1 us" in trace["otherData"]["note"]
    assert trace["otherData"]["source"] == "test"
    events = [e for e in trace["traceEvents"] if e["ph"] != "M"]
    assert [(e["name"], e["ts"]) for e in events] == [("x", 1.0), ("a", 0.0), ("b", 5.0)]
    assert events[2]["dur"] == 2.5
    threads = _names(trace, "thread_name")
    assert threads[(0, 1)] == "net" and threads[(2, 0)] == "compute"
    scaled = trace_events(spans, 2e-3)  # 2 ms per unit
    assert max(e["ts"] for e in scaled["traceEvents"] if e["ph"] != "M") == 10_000.0


def test_export_trace_cli(tmp_path, capsys) -> None:
    tasks = (Task("a", 3, "x", "F"), Task("b", 2, "y", "F"))
    graph = TaskGraph(tasks, (Edge("a", "b", comm=2),), time_unit="step")
    s = Schedule(graph, Platform.default(2), 5, {"a": 0, "b": 1}, {"a": 0, "b": 5})
    assert validate(s) == []
    path = tmp_path / "s.json"
    Result(s, Status.FEASIBLE, 0, "hand", 0.0).to_json(path)
    out = tmp_path / "t.json"
    code, _, err = run(capsys, "export", str(path), "--trace", str(out), "-n", "3")
    assert code == 0, err
    trace = json.loads(out.read_text())
    events = [e for e in trace["traceEvents"] if e["ph"] != "M"]
    assert len([e for e in events if e["ph"] == "X"]) == 6
    assert "note" in trace["otherData"]
    b = [e for e in events if e["name"] == "b"]
    assert [e["ts"] for e in b] == [5.0, 10.0, 15.0]
    code, _, err = run(capsys, "export", str(path), "--trace", str(tmp_path / "t.csv"))
    assert code == 2 and "must end in .json" in one_line_error(err)
