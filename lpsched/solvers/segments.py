"""Processor assignments that keep a loop in a few contiguous segments.

With the ``auto`` staleness policy the distance of the longest training loop (the
forward pass through every layer and the backward pass back) is capped, so the
loop has to complete within ``cap`` periods: its work, its messages and every
wait for a busy processor. An assignment that scatters the loop over the
processors makes it wait at every hop; one that cuts it into a few pieces of
consecutive tasks, each on one processor, makes it wait only where a piece ends.
:func:`loop_segments` finds such an assignment whose loads fit into ``P``
processors of capacity ``T``; the fixed-period model of
:mod:`lpsched.solvers.cpsat` then only decides the start times
(formulations/cpsat.md, section 3, "Loop segments").

The model (CP-SAT) cuts the loop into ``K`` non-empty pieces at tasks longer than
one unit; the run of unit tasks after a piece's last longer task is split between
it and the next piece, so the unit tasks keep the room they give while the model
stays at ``O(KP + nP)`` variables. Tasks off the loop are placed freely, those of
one unit as a divisible filler. Nothing here is a proof: a failure says nothing
about the period.

The processors are identical: a task lasts ``d_v`` on each of them. CP-SAT runs
this phase only on uniform platforms and under placement ``free``
(:mod:`lpsched.solvers.cpsat`): the pieces cut the loop between any two tasks,
also inside a layer, and place the tasks off the loop freely.

:func:`segment_model` builds the model and leaves the solving to the caller
(:mod:`lpsched.solvers.cpsat` solves it under its own budget, stoppable);
:func:`loop_segments` builds, solves and reads it in one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

from .cpsat import cp_solver

__all__ = ["SegmentModel", "loop_segments", "segment_model"]


@dataclass
class _Loop:
    """The loop rotated to start at a longer task, with its runs of unit tasks."""

    order: list[int]  # the loop's tasks from its first longer task on
    big: list[int]  # positions in ``order`` of the tasks longer than one unit
    run: list[int]  # unit tasks after longer task j, up to the next one
    prefix: list[int]  # prefix sums of the steps (a longer task and its run)


def _rotate(d: Sequence[int], loop: Sequence[int]) -> _Loop | None:
    """The loop from a longer task on; ``None`` when every task of it lasts one unit."""
    heads = [i for i, v in enumerate(loop) if d[v] > 1]
    if not heads:
        return None
    order = list(loop[heads[0] :]) + list(loop[: heads[0]])
    big = [i for i, v in enumerate(order) if d[v] > 1]
    ends = [*big[1:], len(order)]
    run = [ends[j] - big[j] - 1 for j in range(len(big))]
    prefix = [0]
    for j in range(len(big)):
        prefix.append(prefix[-1] + d[order[big[j]]] + run[j])
    return _Loop(order, big, run, prefix)


@dataclass
class _Pieces:
    """The assignment model and the variables the answer is read from."""

    model: cp_model.CpModel
    cut: list[cp_model.IntVar]  # piece s holds longer tasks cut[s] .. cut[s+1]-1
    keep: list[cp_model.IntVar]  # units of the run after piece s's last longer task it keeps
    on: list[list[cp_model.IntVar]]  # on[s][p]: piece s on processor p
    x: list[list[cp_model.IntVar]]  # x[j][p]: the j-th longer task off the loop on p
    fill: list[cp_model.IntVar]  # unit tasks off the loop on each processor


def _pieces_model(
    lp: _Loop, d: Sequence[int], off: list[int], units: int, P: int, T: int, K: int
) -> _Pieces:
    """The CP-SAT model of the module docstring: ``K`` pieces, loads at most ``T``."""
    M = len(lp.big)
    mdl = cp_model.CpModel()
    # Piece s holds longer tasks cut[s] .. cut[s+1]-1 with the runs between them; the run
    # after its last longer task is split: keep[s] units stay, the rest open piece s+1.
    cut = [mdl.new_int_var(0, M, f"cut{s}") for s in range(K + 1)]
    mdl.add(cut[0] == 0)
    mdl.add(cut[K] == M)
    total = [mdl.new_int_var(0, lp.prefix[-1], f"total{s}") for s in range(K + 1)]
    tail = [mdl.new_int_var(0, max(lp.run), f"tail{s}") for s in range(K)]
    keep = [mdl.new_int_var(0, max(lp.run), f"keep{s}") for s in range(K)]
    for s in range(K + 1):
        mdl.add_element(cut[s], lp.prefix, total[s])
        if s:
            mdl.add(cut[s] >= cut[s - 1] + 1)  # no empty piece
            mdl.add_element(cut[s] - 1, lp.run, tail[s - 1])
            mdl.add(keep[s - 1] <= tail[s - 1])
    mdl.add(keep[K - 1] == tail[K - 1])  # the last run closes the loop on the last piece
    length = []
    for s in range(K):
        ln = total[s + 1] - total[s] - tail[s] + keep[s]
        if s:
            ln += tail[s - 1] - keep[s - 1]
        length.append(ln)
    on = [[mdl.new_bool_var(f"on{s},{p}") for p in range(P)] for s in range(K)]
    size = [[mdl.new_int_var(0, T, f"size{s},{p}") for p in range(P)] for s in range(K)]
    for s in range(K):
        mdl.add_exactly_one(on[s])
        for p in range(P):
            mdl.add(size[s][p] == length[s]).only_enforce_if(on[s][p])
            mdl.add(size[s][p] == 0).only_enforce_if(on[s][p].Not())
    x = [[mdl.new_bool_var(f"x{v},{p}") for p in range(P)] for v in off]
    for row in x:
        mdl.add_exactly_one(row)
    fill = [mdl.new_int_var(0, units, f"fill{p}") for p in range(P)]
    mdl.add(sum(fill) == units)
    for p in range(P):
        load = sum(size[s][p] for s in range(K)) + sum(d[v] * x[j][p] for j, v in enumerate(off))
        mdl.add(load + fill[p] <= T)
    return _Pieces(mdl, cut, keep, on, x, fill)


def _read(
    lp: _Loop, pc: _Pieces, solver: cp_model.CpSolver, n: int, off: list[int], P: int
) -> list[int]:
    """A processor per task from a solution of :func:`_pieces_model`."""
    K = len(pc.on)
    proc = [-1] * n
    where = [next(q for q in range(P) if solver.value(pc.on[s][q])) for s in range(K)]
    for s in range(K):
        first, last = solver.value(pc.cut[s]), solver.value(pc.cut[s + 1]) - 1
        # from the longer task that opens the piece to the kept part of the last run
        stop = lp.big[last] + 1 + solver.value(pc.keep[s])
        for i in range(lp.big[first], stop):
            proc[lp.order[i]] = where[s]
        if s + 1 < K:  # the rest of that run opens the next piece
            for i in range(stop, lp.big[last + 1]):
                proc[lp.order[i]] = where[s + 1]
    assert all(proc[v] >= 0 for v in lp.order)
    for j, v in enumerate(off):
        proc[v] = next(q for q in range(P) if solver.value(pc.x[j][q]))
    room = [solver.value(f) for f in pc.fill]
    p = 0
    for v in range(n):
        if proc[v] < 0:  # a unit task off the loop
            while room[p] == 0:
                p += 1
            proc[v] = p
            room[p] -= 1
    return proc


@dataclass
class SegmentModel:
    """The assignment model of one instance, to be solved by the caller.

    Attributes
    ----------
    model
        The CP-SAT model; any solution of it is an assignment.
    """

    model: cp_model.CpModel
    loop: _Loop
    pieces: _Pieces
    n: int
    off: list[int]
    processors: int

    def assignment(self, solver: cp_model.CpSolver) -> list[int]:
        """``proc[v]`` in ``0..P-1`` from ``solver``, which found a solution of :attr:`model`."""
        return _read(self.loop, self.pieces, solver, self.n, self.off, self.processors)


def segment_model(
    durations: Sequence[int], loop: Sequence[int], processors: int, period: int, pieces: int
) -> SegmentModel | None:
    """The model of an assignment with ``loop`` cut into at most ``pieces`` contiguous pieces.

    Parameters are those of :func:`loop_segments`. ``None`` when every task of
    the loop lasts one unit (there is nothing to cut next to).
    """
    d = list(durations)
    n = len(d)
    lp = _rotate(d, loop)
    if lp is None:
        return None
    K = max(1, min(pieces, len(lp.big)))
    on_loop = set(loop)
    off = [v for v in range(n) if v not in on_loop and d[v] > 1]
    units = sum(1 for v in range(n) if v not in on_loop and d[v] == 1)
    pc = _pieces_model(lp, d, off, units, processors, period, K)
    return SegmentModel(pc.model, lp, pc, n, off, processors)


def loop_segments(
    durations: Sequence[int],
    loop: Sequence[int],
    processors: int,
    period: int,
    pieces: int,
    *,
    limit: float,
    workers: int,
    seed: int,
    deterministic: bool = False,
) -> list[int] | None:
    """A processor per task, with ``loop`` cut into at most ``pieces`` contiguous pieces.

    Parameters
    ----------
    durations
        ``d_v`` of every task (the same on every processor).
    loop
        Task indices of a cycle, in order (each at most once).
    processors
        ``P``.
    period
        ``T``: the load of every processor is at most ``T``.
    pieces
        ``K``: the loop is cut into exactly ``min(K, M)`` non-empty pieces, ``M``
        the number of its tasks longer than one unit (consecutive pieces may share
        a processor).
    limit, workers, seed
        CP-SAT's time limit (seconds), workers and random seed.
    deterministic
        ``limit`` is CP-SAT's deterministic time: with one worker the answer is
        then the same on any machine however busy.

    Returns
    -------
    list[int] or None
        ``proc[v]`` in ``0..P-1``, or ``None`` when no such assignment was found
        within the limit, none exists, or every task of the loop lasts one unit.
    """
    built = segment_model(durations, loop, processors, period, pieces)
    if built is None:
        return None
    solver = cp_solver(workers, seed, limit, None, deterministic=deterministic)
    if solver.solve(built.model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return built.assignment(solver)
