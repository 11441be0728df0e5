"""Placement policies ``layer`` and ``stages`` in the MILP: (M35), (M36), ``formulations/milp.md``.

Under ``layer`` every task of a unit (:attr:`lpsched.problem.Problem.units`)
sits on one processor, (M35): ``x_vp = x_{u_0 p}`` for every task ``v`` of a
unit whose first task is ``u_0`` (a binary the model leaves out is 0). Under
``stages`` the units on each processor also form one interval of the unit
order, (M36): with ``y_lp = x_{u_0(l) p}``, continuous starts
``0 <= t_lp <= 1`` with ``t_lp >= y_lp - y_{l-1,p}`` (``y_{-1,p} = 0``) and
``sum_l t_lp <= 1`` per processor; ``t`` needs no integrality, since the
``y`` are binary.

Both are invariant under renaming processors, so the symmetry rows (M4a),
(M4b) (each group's processors numbered by their first task) stay valid. The
restriction (M18) to a fixed assignment has no binaries: an assignment that
breaks the placement makes it trivially infeasible (:func:`broken_by`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulp

from ..problem import Problem
from .cpsat_placement import kept

__all__ = ["add_placement", "broken_by", "placement_size"]


def _binary(model: Any, v: int, p: int) -> Any:
    """``x_vp``, or 0 where the model has no such binary (M1)."""
    return model.x.get((v, p), 0)


def add_placement(model: Any) -> None:
    """(M35) and (M36) on ``model`` (a :class:`~lpsched.solvers.milp_model.PeriodModel`).

    Nothing under ``free``, on one processor, or for the restriction (M18),
    whose assignment :func:`broken_by` checks instead.
    """
    problem = model.problem
    if problem.placement == "free" or problem.P == 1 or model.assignment is not None:
        return
    _layer_rows(model, problem)
    if problem.placement == "stages":
        _stage_rows(model, problem)


def _layer_rows(model: Any, problem: Problem) -> None:
    """(M35): a unit's binaries on each processor equal its first task's."""
    for unit in problem.units:
        head = unit[0]
        for v in unit[1:]:
            for p in range(problem.P):
                a, b = _binary(model, head, p), _binary(model, v, p)
                if isinstance(a, int) and isinstance(b, int):
                    continue  # (both absent: 0 == 0)
                model.prob += a == b, f"unit_{v}_{p}"


def _stage_rows(model: Any, problem: Problem) -> None:
    """(M36): at most one interval start per processor along the unit order."""
    heads = [unit[0] for unit in problem.units]
    for p in range(problem.P):
        starts = []
        prev: Any = 0
        for i, v in enumerate(heads):
            cur = _binary(model, v, p)
            if not isinstance(cur, int):
                t = pulp.LpVariable(f"t_{i}_{p}", 0, 1)
                model.prob += t >= cur - prev, f"stage_{i}_{p}"
                starts.append(t)
            prev = cur
        if len(starts) > 1:
            model.prob += pulp.lpSum(starts) <= 1, f"stages_{p}"


def placement_size(problem: Problem, procs: Sequence[Sequence[int]]) -> tuple[int, int, int]:
    """Rows, columns and nonzeros of (M35) and (M36) at most, for ``estimate_size``."""
    if problem.placement == "free" or problem.P == 1:
        return 0, 0, 0
    rows = sum(len(u) - 1 for u in problem.units) * problem.P
    columns, nonzeros = 0, 2 * rows
    if problem.placement == "stages":
        heads = sum(len(procs[u[0]]) for u in problem.units)
        rows += heads + problem.P
        columns += heads
        nonzeros += 4 * heads
    return rows, columns, nonzeros


def broken_by(problem: Problem, assignment: dict[int, int]) -> str | None:
    """Why a fixed assignment (task position -> processor) breaks the placement, or ``None``."""
    proc = [assignment[v] for v in range(problem.n)]
    if kept(problem, proc):
        return None
    return f"the assignment breaks placement {problem.placement}"
