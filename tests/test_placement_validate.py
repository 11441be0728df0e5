"""The validator's placement rules (``layer``, ``stages``) and their round trip through files."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lpsched.errors import InputError
from lpsched.graph import Edge, Task, TaskGraph
from lpsched.placement import placement_units
from lpsched.problem import Problem
from lpsched.schedule import Result, Schedule, Status
from lpsched.validate import validate


def _graph() -> TaskGraph:
    """Three layers a, b, c in a chain (F then B each), and a task without a layer."""
    tasks = [
        Task("F:a", 1, "a", "F"),
        Task("F:b", 1, "b", "F"),
        Task("F:c", 1, "c", "F"),
        Task("B:c", 1, "c", "B"),
        Task("B:b", 1, "b", "B"),
        Task("B:a", 1, "a", "B"),
        Task("x", 1),
    ]
    chain = ["F:a", "F:b", "F:c", "B:c", "B:b", "B:a", "x"]
    edges = [Edge(u, v, comm=0) for u, v in zip(chain, chain[1:], strict=False)]
    return TaskGraph(tasks=tuple(tasks), edges=tuple(edges), name="abc")


def _schedule(procs: dict[str, int], placement: str) -> Schedule:
    g = _graph()
    start = {t.name: i for i, t in enumerate(g.tasks)}  # one after the other: no overlap
    return Schedule(g, 3, 7, procs, start, placement=placement)


def _by_layer(a: int, b: int, c: int, x: int) -> dict[str, int]:
    where = {"a": a, "b": b, "c": c}
    out = {t.name: where[t.layer] for t in _graph().tasks if t.layer}
    out["x"] = x
    return out


def test_units_are_layers_in_order_and_lone_tasks():
    assert placement_units(_graph()) == ((0, 5), (1, 4), (2, 3), (6,))


def test_free_accepts_a_split_layer():
    procs = _by_layer(0, 1, 2, 0)
    procs["B:b"] = 2
    assert validate(_schedule(procs, "free")) == []
    found = validate(_schedule(procs, "layer"))
    assert [v.kind for v in found] == ["placement"]
    assert "B:b" in found[0].message and "layer b" in found[0].message


def test_layer_accepts_what_stages_refuses():
    procs = _by_layer(0, 1, 0, 2)  # a and c share processor 0 around b: not contiguous
    assert validate(_schedule(procs, "layer")) == []
    found = validate(_schedule(procs, "stages"))
    assert [v.kind for v in found] == ["placement"]
    assert "layer c" in found[0].message and "processor 0" in found[0].message


@pytest.mark.parametrize(
    ("a", "b", "c", "x"), [(0, 0, 0, 0), (0, 1, 2, 2), (2, 1, 0, 0), (1, 1, 0, 2)]
)
def test_contiguous_intervals_are_stages(a, b, c, x):
    assert validate(_schedule(_by_layer(a, b, c, x), "stages")) == []


def test_placement_round_trips_through_the_schedule_file(tmp_path):
    sched = _schedule(_by_layer(0, 1, 2, 2), "stages")
    path = tmp_path / "s.json"
    Result(sched, Status.FEASIBLE, 0, "hand", 0.0).to_json(path)
    back = Result.read(path).schedule
    assert back is not None and back.placement == "stages"
    data = json.loads(path.read_text())
    data["placement"] = "rows"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="placement must be one of free, layer, stages"):
        Result.read(path)
    del data["placement"]  # files of earlier versions: free
    path.write_text(json.dumps(data))
    back = Result.read(path).schedule
    assert back is not None and back.placement == "free"


def test_a_broken_placement_in_a_file_is_caught(tmp_path):
    procs = _by_layer(0, 1, 0, 2)
    path = tmp_path / "s.json"
    Result(_schedule(procs, "layer"), Status.FEASIBLE, 0, "hand", 0.0).to_json(path)
    data = json.loads(path.read_text())
    data["placement"] = "stages"
    path.write_text(json.dumps(data))
    back = Result.read(path).schedule
    assert back is not None and [v.kind for v in validate(back)] == ["placement"]
    assert validate(replace(back, placement="layer")) == []


def test_problem_refuses_an_unknown_placement():
    with pytest.raises(InputError, match="unknown placement 'rows'"):
        Problem(_graph(), 3, "rows")
    assert Problem(_graph(), 3, "stages").units == placement_units(_graph())
