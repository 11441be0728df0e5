"""Tests of :mod:`lpsched.solvers.segments`: loop-preserving processor assignments."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from lpsched.bounds import iteration_bound, lower_bounds
from lpsched.networks import get_network
from lpsched.schedule import Status
from lpsched.solvers import cpsat, segments
from lpsched.solvers.cpsat import solve_cpsat
from lpsched.solvers.segments import loop_segments, segment_model
from lpsched.taskgraph import build_task_graph
from lpsched.validate import validate
from tests.platforms import delay

#: CP-SAT's deterministic time with one worker: no outcome depends on how busy the machine is.
DET = {"limit": 10.0, "workers": 1, "seed": 0, "deterministic": True}


def pieces_of(proc: list[int], loop: list[int]) -> int:
    """Number of maximal runs of one processor along the loop, read cyclically."""
    changes = sum(proc[loop[i]] != proc[loop[i - 1]] for i in range(len(loop)))
    return max(1, changes)


@st.composite
def instances(draw):
    n = draw(st.integers(2, 9))
    d = draw(st.lists(st.integers(1, 12), min_size=n, max_size=n))
    loop = draw(st.permutations(range(n)))[: draw(st.integers(2, n))]
    P = draw(st.integers(1, 4))
    pieces = draw(st.integers(1, 5))
    T = draw(st.integers(max(d), sum(d)))
    return d, list(loop), P, pieces, T


@settings(max_examples=80, deadline=None)
@given(instances())
def test_assignment_fits_and_keeps_the_loop_in_pieces(case) -> None:
    d, loop, P, pieces, T = case
    proc = loop_segments(d, loop, P, T, pieces, **DET)
    if all(d[v] == 1 for v in loop):
        assert proc is None  # nothing to cut next to
        return
    if T == sum(d):
        assert proc is not None  # everything on one processor fits
    if proc is None:
        return
    assert len(proc) == len(d) and all(0 <= p < P for p in proc)
    for p in range(P):
        assert sum(dv for dv, q in zip(d, proc, strict=True) if q == p) <= T
    assert pieces_of(proc, loop) <= pieces


def test_no_assignment_beyond_the_capacity() -> None:
    d = [5, 5, 5, 1]
    assert loop_segments(d, [0, 1, 2, 3], 2, 7, 4, **DET) is None


def test_unit_runs_stay_whole_or_split_once() -> None:
    # Longer tasks 0, 4, 8 with runs of unit tasks between: three pieces on three
    # processors of capacity 6 must each take one longer task and a part of the runs.
    d = [4, 1, 1, 1, 4, 1, 1, 1, 4, 1, 1]
    loop = list(range(len(d)))
    proc = loop_segments(d, loop, 3, 7, 3, **DET)
    assert proc is not None
    assert pieces_of(proc, loop) <= 3
    assert len({proc[0], proc[4], proc[8]}) == 3


@pytest.mark.parametrize("name,P,seed", [("resnet50", 4, 0), ("resnet50", 8, 2)])
def test_segments_phase_reaches_the_bound(name: str, P: int, seed: int, monkeypatch) -> None:
    # From the sequential schedule, the segments phase alone reaches the lower
    # bound, which the heuristic misses on these instances; the result validates.
    # A deterministic budget: the tries and their outcomes are the same on any
    # machine. How long an assignment takes depends on the seed (formulation,
    # section 8); with these seeds one try each, 1.1 and 4.1 deterministic seconds
    # (seed 0 on 8 processors: 14.1).
    monkeypatch.setattr(cpsat, "PLAN", (("segments", 1.0),))
    # Under delay (the segments phase keeps loops in pieces; it places no transfers).
    graph = build_task_graph(get_network(name), "layerpipe", staleness="auto", processors=P)
    lb = lower_bounds(graph, delay(P)).lower_bound
    result = solve_cpsat(
        graph,
        delay(P),
        workers=1,
        deterministic=True,
        seed=seed,
        time_limit=30,
        lower_bound=lb,
        secondary=None,
    )
    assert validate(result.schedule) == []
    assert result.period == lb
    assert result.status is Status.OPTIMAL
    step = next(s for s in result.stats["steps"] if s["phase"] == "segments")
    assert step["outcome"] == "feasible"
    # the critical loop is in at most P + P // 2 pieces
    index = {t.name: v for v, t in enumerate(graph.tasks)}
    loop = [index[name] for name in iteration_bound(graph)[1]]
    proc = [result.schedule.processor[t.name] for t in graph.tasks]
    assert pieces_of(proc, loop) <= P + P // 2


def test_segment_model_is_solved_by_the_caller() -> None:
    # The model alone, solved by a solver of the caller's (as cpsat does under its
    # budget): the same assignment as loop_segments with the same settings.
    d = [4, 1, 1, 1, 4, 1, 1, 1, 4, 1, 1]
    loop = list(range(len(d)))
    built = segment_model(d, loop, 3, 7, 3)
    assert built is not None
    solver = cpsat.cp_solver(1, 0, 10.0, None, deterministic=True)
    assert solver.solve(built.model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    assert built.assignment(solver) == loop_segments(d, loop, 3, 7, 3, **DET)
    assert segment_model([1, 1, 1], [0, 1, 2], 2, 3, 2) is None  # nothing to cut next to


def test_imports_no_private_name() -> None:
    # segments takes CP-SAT's settings from the public cpsat.cp_solver, nothing private.
    tree = ast.parse(Path(segments.__file__).read_text(encoding="utf-8"))
    names = [
        a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for a in node.names
    ]
    assert "cp_solver" in names
    assert not [name for name in names if name.startswith("_")]
