"""Task graphs and schedules: input checks and file round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.errors import InputError
from lpsched.graph import Edge, Task, TaskGraph, make_graph
from lpsched.platform import Link, Platform, Processor
from lpsched.schedule import Result, Schedule, Status


def graph_dict(tasks, edges):
    return {"format": "lpsched-graph/1", "time_unit": "us", "tasks": tasks, "edges": edges}


GOOD_TASKS = [{"name": "a", "duration": 2}, {"name": "b", "duration": 3}]


@pytest.mark.parametrize(
    "tasks, edges, fragment",
    [
        ([{"name": "a", "duration": 2}, {"name": "a", "duration": 1}], [], "duplicate task"),
        (GOOD_TASKS, [{"src": "a", "dst": "zz"}], "unknown task 'zz'"),
        ([{"name": "a", "duration": 0}], [], "duration must be >= 1"),
        ([{"name": "a", "duration": -4}], [], "duration must be >= 1"),
        ([{"name": "a", "duration": 2.5}], [], "duration must be an integer"),
        ([{"name": "a", "duration": "3"}], [], "duration must be an integer"),
        ([{"name": "a", "duration": True}], [], "duration must be an integer"),
        (GOOD_TASKS, [{"src": "a", "dst": "b", "distance": -1}], "distance must be >= 0"),
        (GOOD_TASKS, [{"src": "a", "dst": "b", "comm": -2}], "comm must be >= 0"),
        (GOOD_TASKS, [{"src": "a", "dst": "b", "bytes": -2}], "bytes must be >= 0"),
        (GOOD_TASKS, [{"src": "a", "dst": "b"}, {"src": "b", "dst": "a"}], "zero total distance"),
        ([{"duration": 2}], [], "has no 'name'"),
        ([], [], "no tasks"),
    ],
)
def test_bad_graph_input_names_the_problem(tasks, edges, fragment):
    with pytest.raises(InputError, match=fragment):
        TaskGraph.from_dict(graph_dict(tasks, edges), source="g.json")


def test_errors_name_the_source():
    with pytest.raises(InputError, match=r"^g\.json: "):
        TaskGraph.from_dict(graph_dict([{"name": "a", "duration": 0}], []), source="g.json")
    with pytest.raises(InputError, match="format"):
        TaskGraph.from_dict({"format": "other", "tasks": []}, source="g.json")


def test_zero_distance_cycle_is_named():
    with pytest.raises(InputError) as err:
        make_graph([("a", 1), ("b", 1), ("c", 1)], [("a", "b"), ("b", "c"), ("c", "a")])
    message = str(err.value)
    assert all(name in message for name in "abc")


def test_positive_distance_cycle_is_fine():
    g = make_graph([("a", 1), ("b", 1)], [("a", "b", 0), ("b", "a", 1), ("a", "a", 1)])
    assert g.n == 2


def test_malformed_json_file_names_line(tmp_path):
    path = tmp_path / "g.json"
    path.write_text('{\n "format": "lpsched-graph/1",\n "tasks": [}\n')
    with pytest.raises(InputError, match=r"g\.json: invalid JSON at line 3"):
        TaskGraph.read(path)


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 8))
    tasks = [
        Task(
            f"t{i}",
            draw(st.integers(1, 20)),
            layer=f"l{i % 3}",
            kind=draw(st.sampled_from("FDGWU")),
        )
        for i in range(n)
    ]
    edges = []
    for _ in range(draw(st.integers(0, 12))):
        u, v = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        # distance-0 edges only forward in index order keep the zero-distance subgraph a DAG
        dist = draw(st.integers(0, 3)) if u < v else draw(st.integers(1, 3))
        weights = draw(st.sampled_from([None, "l0"]))
        comm = draw(st.none() | st.integers(0, 9))  # None: derived from the bytes
        tensor = draw(st.sampled_from([None, f"a:t{u}", "w:l0"]))
        edges.append(Edge(f"t{u}", f"t{v}", dist, comm, draw(st.integers(0, 99)), weights, tensor))
    unit = draw(st.sampled_from(["us", "25us", "1ms"]))
    return TaskGraph(
        tuple(tasks), tuple(edges), time_unit=unit, name="rand", decomposition="layerpipe"
    )


@st.composite
def platforms(draw, procs: int) -> Platform:
    if draw(st.booleans()):
        return Platform.default(procs)
    nodes = sorted(draw(st.lists(st.integers(0, 1), min_size=procs, max_size=procs)))
    if nodes[0] == 1:
        nodes = [0] * procs
    speeds = st.sampled_from([0.5, 1.0, 1 / 3, 2.0])
    memory = st.none() | st.just(80e9)
    return Platform(
        tuple(Processor(draw(speeds), draw(memory), n) for n in nodes),
        Link(450e9, 3e-6),
        Link(draw(st.sampled_from([25e9, float("inf")])), 1e-5),
        name=draw(st.sampled_from(["", "mine"])),
    )


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_graph_round_trip(graph):
    again = TaskGraph.from_dict(json.loads(graph.to_json()))
    assert again == graph


@settings(max_examples=60, deadline=None)
@given(graphs(), st.integers(1, 4), st.data())
def test_schedule_round_trip(graph, procs, data):
    period = graph.total_work
    platform = data.draw(platforms(procs))
    proc = {t.name: data.draw(st.integers(0, procs - 1)) for t in graph.tasks}
    start = {t.name: data.draw(st.integers(-50, 50)) for t in graph.tasks}
    result = Result(
        Schedule(graph, platform, period, proc, start), Status.FEASIBLE, 1, "heuristic", 0.5
    )
    data_out = json.loads(result.to_json())
    assert data_out["format"] == "lpsched-schedule/2"
    again = Result.from_dict(data_out)
    assert again.schedule == result.schedule  # the platform included
    assert again.schedule.platform == platform
    assert (again.status, again.lower_bound, again.solver) == ("feasible", 1, "heuristic")


def test_graph_versions_and_comm():
    v1 = {
        "format": "lpsched-graph/1",
        "tasks": GOOD_TASKS,
        "edges": [
            {"src": "a", "dst": "b", "bytes": 8},
            {"src": "b", "dst": "a", "distance": 1, "comm": 2},
        ],
    }
    g = TaskGraph.from_dict(v1)
    assert [e.comm for e in g.edges] == [0, 2]  # version 1: every comm is fixed, default 0
    v2 = dict(v1, format="lpsched-graph/2")
    v2["edges"] = [*v1["edges"], {"src": "a", "dst": "b", "bytes": 8, "tensor": "a:x"}]
    g = TaskGraph.from_dict(v2)
    assert [e.comm for e in g.edges] == [None, 2, None]  # version 2: derived unless given
    assert [e.tensor for e in g.edges] == [None, None, "a:x"]
    out = g.to_dict()
    assert out["format"] == "lpsched-graph/2"
    assert "comm" not in out["edges"][0] and out["edges"][1]["comm"] == 2
    assert out["edges"][2]["tensor"] == "a:x" and "tensor" not in out["edges"][0]
    assert TaskGraph.from_dict(out) == g
    with pytest.raises(InputError, match="tensor must be a string"):
        make_graph([("a", 1), ("b", 1)], [Edge("a", "b", tensor=3)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("unit", "seconds"),
    [("us", 1e-6), ("25us", 25e-6), ("1ms", 1e-3), ("2.5e-5", 2.5e-5), ("s", 1.0), ("steps", None)],
)
def test_time_unit_seconds(unit, seconds):
    g = make_graph([("a", 1)], time_unit=unit)
    assert g.time_unit_seconds == (None if seconds is None else pytest.approx(seconds))


def test_schedule_metrics():
    g = make_graph(
        [("a", 2), ("b", 3), ("c", 1)],
        [Edge("a", "b", 0, 1, 100), Edge("b", "c", 0, 1, 10), Edge("c", "a", 2, 0, 0, "L")],
    )
    s = Schedule(g, 2, 5, {"a": 0, "b": 1, "c": 1}, {"a": 0, "b": 3, "c": 6})
    assert s.speedup == pytest.approx(6 / 5)
    assert s.utilisation() == [pytest.approx(2 / 5), pytest.approx(4 / 5)]
    assert s.comm_bytes() == 100
    assert s.staleness() == {"L": 2}
    assert s.iterations_in_flight() == 2  # spans [0, 7) with T = 5


def test_schedule_file_with_bad_assignments(tmp_path):
    g = make_graph([("a", 2)])
    good = Result(Schedule(g, 1, 2, {"a": 0}, {"a": 0}), Status.OPTIMAL, 2, "x", 0.0).to_dict()
    good["assignments"] = []
    with pytest.raises(InputError, match="no assignment"):
        Result.from_dict(good)
    good["assignments"] = [{"task": "a", "processor": 0, "start": 0}] * 2
    with pytest.raises(InputError, match="assigned twice"):
        Result.from_dict(good)
