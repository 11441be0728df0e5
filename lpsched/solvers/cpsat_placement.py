"""Placement policies ``layer`` and ``stages`` in the CP-SAT model (C30, C31).

``formulations/cpsat.md``, section 2.9. Under ``layer`` every task of a unit
(:attr:`lpsched.problem.Problem.units`: a layer, or a task without one) sits
on one processor: C30 makes the assignment literals of a unit's tasks equal.
Under ``stages`` the units on each processor also form one interval of the unit
order: with ``y_lp`` unit ``l``'s literal on processor ``p`` (its first task's
``x``), C31 counts the interval starts ``s_lp >= y_lp - y_{l-1,p}`` and allows
at most one per processor.

Both families are invariant under renaming processors, so the symmetry
breaking C11, C12 (processors of a group opened in order of their first task)
stays valid with them: any schedule that keeps the placement, renamed by first
use, still keeps it. The model's ``x`` entries may be constants (0 or 1: C10,
C11, a fixed assignment); the rows here take them as they are.

This module also gives the checks the search uses on warm starts and hints
(:func:`kept`), the pairs a placement joins for the co-location sets (C15) and
the packing relaxation (:func:`joined_pairs`, :func:`stages_refuted_groups`),
and the contiguous layout the ``stages`` search starts from (:func:`stage_layout`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from ..bounds import stages_refuted
from ..problem import Problem

__all__ = [
    "add_layer_colocation",
    "add_stage_contiguity",
    "joined_pairs",
    "kept",
    "placement_items",
    "stage_layout",
    "stages_refuted_groups",
]

Literal = Any  # a BoolVar, or the constant 0 or 1


def kept(problem: Problem, proc: Sequence[int]) -> bool:
    """Whether the processors ``proc`` (one per task index) keep ``problem.placement``.

    ``layer``: each unit on one processor; ``stages``: also the units of each
    processor consecutive in the unit order. Always true under ``free``.
    """
    if problem.placement == "free":
        return True
    where = []
    for unit in problem.units:
        p = proc[unit[0]]
        if any(proc[v] != p for v in unit):
            return False
        where.append(p)
    if problem.placement != "stages":
        return True
    closed: set[int] = set()
    for before, p in zip([None, *where], where, strict=False):
        if before is not None and before != p:
            closed.add(before)
        if p in closed:
            return False
    return True


def _infeasible(m: cp_model.CpModel) -> None:
    """Make the model infeasible: a fixed assignment breaks the placement."""
    m.add_bool_or([])


def add_layer_colocation(mod: Any, problem: Problem) -> None:
    """C30: ``x_vp = x_{u_0 p}`` for every task ``v`` of a unit with first task ``u_0``.

    ``mod`` is the CP-SAT module's model record (``mod.model``, ``mod.x``).
    Nothing under ``free``.
    """
    if problem.placement == "free" or problem.P == 1:
        return
    m, x = mod.model, mod.x
    for unit in problem.units:
        head = unit[0]
        for v in unit[1:]:
            for p in range(problem.P):
                a, b = x[head][p], x[v][p]
                if isinstance(a, int) and isinstance(b, int):
                    if a != b:
                        _infeasible(m)
                    continue
                m.add(a == b)


def add_stage_contiguity(mod: Any, problem: Problem) -> None:
    """C31: ``s_lp >= y_lp - y_{l-1,p}`` (``y_{-1,p} = 0``) and ``sum_l s_lp <= 1`` per ``p``.

    ``y_lp`` is the literal of unit ``l``'s first task on ``p`` (C30 makes the
    others equal). A start literal is made only where unit ``l`` may sit on
    ``p``; with both literals constants its value is forced. Nothing unless
    the placement is ``stages``.
    """
    if problem.placement != "stages" or problem.P == 1:
        return
    m, x = mod.model, mod.x
    heads = [unit[0] for unit in problem.units]
    for p in range(problem.P):
        starts: list[Literal] = []
        prev: Literal = 0
        for i, v in enumerate(heads):
            cur = x[v][p]
            if not (isinstance(cur, int) and cur == 0):
                if isinstance(cur, int) and isinstance(prev, int):
                    starts.append(int(cur - prev > 0))
                else:
                    s = m.new_bool_var(f"start[{i},{p}]")
                    m.add(s >= cur - prev)
                    starts.append(s)
            prev = cur
        fixed = sum(s for s in starts if isinstance(s, int))
        free = [s for s in starts if not isinstance(s, int)]
        if fixed > 1:
            _infeasible(m)
        elif free:
            m.add(sum(free) <= 1 - fixed)


def placement_items(problem: Problem) -> int:
    """About how many variables and constraints C30 and C31 add (for the size estimates)."""
    if problem.placement == "free":
        return 0
    items = problem.P * (problem.n - len(problem.units))
    if problem.placement == "stages":
        items += 2 * problem.P * len(problem.units) + problem.P
    return items


def joined_pairs(problem: Problem) -> set[tuple[int, int]]:
    """Task pairs a placement keeps on one processor (consecutive tasks of a unit), ordered.

    They join the co-location pairs (C15) and the packing relaxation's groups
    (section 4); none under ``free``.
    """
    if problem.placement == "free":
        return set()
    return {(min(a, b), max(a, b)) for u in problem.units for a, b in zip(u, u[1:], strict=False)}


def stages_refuted_groups(
    problem: Problem, durations: Sequence[int], groups: Sequence[Sequence[int]], T: int
) -> bool:
    """Under ``stages``: whether the co-location groups fit no ``P`` contiguous stages of ``T``.

    The packing relaxation of section 4 with contiguity (the bound (B19) of
    ``formulations/README.md``): the units a group spans sit whole on one
    processor. ``False`` under another placement.
    """
    if problem.placement != "stages":
        return False
    root = np.zeros(problem.n, dtype=np.int64)
    for g, members in enumerate(groups):
        root[list(members)] = g
    return stages_refuted(T, durations, root, problem.units, problem.P)


def stage_layout(problem: Problem, durations: Sequence[int], T: int) -> list[int] | None:
    """Processors that cut the units into consecutive stages of work at most ``T``, greedily.

    Unit ``l`` goes to the current processor while its load stays within
    ``T`` (``durations`` per task, the fastest ones), else to the next; ``None``
    when more than ``P`` stages are needed. A start for the ``stages`` search
    (the model then finds start times and transfers), not a proof.
    """
    proc = [0] * problem.n
    p, load = 0, 0
    for unit in problem.units:
        work = sum(durations[v] for v in unit)
        if load and load + work > T:
            p, load = p + 1, 0
        if p >= problem.P or work > T:
            return None
        for v in unit:
            proc[v] = p
        load += work
    return proc
