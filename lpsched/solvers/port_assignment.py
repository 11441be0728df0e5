"""The port-assignment relaxation: loads and port time without start times.

A schedule of period ``T`` under ``capacity: ports`` puts every task on a
processor whose load is at most ``T`` and sends every tensor once to each other
processor that reads it, on ports that are each busy at most ``T`` per period
(P5)-(P7). Forget the start times and what is left is an assignment problem:

* the co-location groups at ``T`` (tasks that share a processor in every
  schedule of period ``<= T``, and the ends of every tensor whose transfer
  lasts longer than ``T``) each go on one processor, whose load is at most ``T``;
* a tensor crosses into processor ``q`` when ``q`` runs one of its readers and
  not its producer: its least transfer time counts on ``q``'s in-ports and, once
  per such ``q``, on its producer's out-ports, each side at most ``c T`` (``c``
  ports per direction).

On the relaxed instance (the fastest durations, the least transfer times, every
processor with the most ports any has) every schedule of period ``T' <= T``
meets it, so a period whose relaxation is infeasible refutes every period up to
it; the processors are then identical, and group ``i`` (by decreasing load) may
go on processors ``0..i`` only. ``formulations/cpsat.md``, section 4.1, states
the model; :mod:`lpsched.solvers.cpsat` bisects on it before the full model.

Where a heavy tensor sits in a chain of heavy tensors (the 102.8 MB and
25.7 MB activations of ResNet-18's first layers on PCIe links), no processor
can hold one piece of the chain with neighbours on both sides, which the
one-step bounds of :mod:`lpsched.bounds` do not see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
from ortools.sat.python import cp_model

from ..bounds import PortModel

__all__ = ["AssignmentModel", "assignment_model", "co_location_groups"]


@dataclass
class AssignmentModel:
    """The relaxation at one period, built and not yet solved.

    Attributes
    ----------
    model
        The CP-SAT feasibility model.
    groups
        The co-location groups (task indices), by decreasing load.
    x
        ``x[i][p]``: group ``i`` sits on processor ``p`` (``0`` where the
        symmetry rule rules it out).
    """

    model: cp_model.CpModel
    groups: list[list[int]]
    x: list[list[cp_model.IntVar | int]]

    def processors(self, solver: cp_model.CpSolver) -> list[int]:
        """Every task's processor in the solution ``solver`` holds.

        The CP-SAT phase only proves and reads no solution; this is for
        callers (and tests) that look at the relaxation's assignments.
        """
        n = sum(len(g) for g in self.groups)
        proc = [0] * n
        for group, row in zip(self.groups, self.x, strict=True):
            p = next(q for q, b in enumerate(row) if not isinstance(b, int) and solver.value(b))
            for v in group:
                proc[v] = p
        return proc


def co_location_groups(
    n: int, pairs: Sequence[tuple[int, int]], ports: PortModel, T: int
) -> list[list[int]]:
    """Tasks joined by ``pairs`` and by every tensor no port carries within ``T``.

    A transfer lasts at most the period (P7), so the producer and every reader
    of a tensor whose least transfer time exceeds ``T`` share a processor.

    Parameters
    ----------
    n
        The number of tasks.
    pairs
        Task pairs that share a processor in every schedule of period ``<= T``.
    ports
        The relaxed tensors and ports (:func:`lpsched.bounds.port_model`).
    T
        The period.

    Returns
    -------
    list of list of int
        The groups, each a list of task indices in increasing order.
    """
    long = ports.tau[ports.pair_tensor] > T
    ends = zip(
        ports.producer[ports.pair_tensor[long]].tolist(),
        ports.pair_reader[long].tolist(),
        strict=True,
    )
    joined = nx.utils.UnionFind(range(n))
    for u, v in [*pairs, *ends]:
        joined.union(u, v)
    return [sorted(group) for group in joined.to_sets()]


def assignment_model(
    durations: Sequence[int],
    pairs: Sequence[tuple[int, int]],
    processors: int,
    ports: PortModel,
    T: int,
    hint: Sequence[int] | None = None,
) -> AssignmentModel | None:
    """The relaxation at period ``T``; ``None`` when a group or all loads cannot fit.

    Parameters
    ----------
    durations
        Per task, its fastest duration.
    pairs
        Task pairs that share a processor in every schedule of period ``<= T``.
    processors
        ``P``.
    ports
        The relaxed tensors and ports (:func:`lpsched.bounds.port_model`).
    T
        The period.
    hint
        A processor per task (a schedule's) that the search tries first,
        relabelled to meet the symmetry rule; a group takes its first task's.
    """
    groups = co_location_groups(len(durations), pairs, ports, T)
    load = [sum(durations[v] for v in g) for g in groups]
    if max(load) > T or sum(load) > processors * T:
        return None
    order = sorted(range(len(groups)), key=lambda i: (-load[i], groups[i][0]))
    groups, load = [groups[i] for i in order], [load[i] for i in order]
    m = cp_model.CpModel()
    x = _add_groups(m, load, processors, T)
    group_of = {v: i for i, g in enumerate(groups) for v in g}
    _add_ports(m, x, group_of, ports, ports.ports * T)
    if hint is not None:
        _add_hint(m, x, [hint[g[0]] for g in groups])
    return AssignmentModel(m, groups, x)


def _add_hint(m: cp_model.CpModel, x: list[list[cp_model.IntVar | int]], where: list[int]) -> None:
    """Hint group ``i`` on ``where[i]``, processors renumbered in the order of first use."""
    label: dict[int, int] = {}
    for row, p in zip(x, where, strict=True):
        q = label.setdefault(p, len(label))
        for r, b in enumerate(row):
            if not isinstance(b, int):
                m.add_hint(b, r == q)


def _add_groups(
    m: cp_model.CpModel, load: Sequence[int], processors: int, T: int
) -> list[list[cp_model.IntVar | int]]:
    """One processor per group, ``0..i`` for the ``i``-th largest; every load at most ``T``."""
    x: list[list[cp_model.IntVar | int]] = []
    for i in range(len(load)):
        row: list[cp_model.IntVar | int] = [
            m.new_bool_var(f"x{i},{p}") if p <= i else 0 for p in range(processors)
        ]
        m.add_exactly_one(b for b in row if not isinstance(b, int))
        x.append(row)
    for p in range(processors):
        terms = [(load[i], x[i][p]) for i in range(p, len(load))]
        if sum(s for s, _ in terms) > T:
            m.add(sum(s * b for s, b in terms) <= T)
    _add_first_use_order(m, x)
    return x


def _add_first_use_order(m: cp_model.CpModel, x: list[list[cp_model.IntVar | int]]) -> None:
    """Processor ``p`` holds a group only if ``p - 1`` holds an earlier one.

    Relabelling the processors in the order of their first group maps every
    assignment of identical processors onto one that meets this, so no
    relaxed assignment is lost; ``used[i][p]``: a group ``<= i`` sits on ``p``.
    """
    P = len(x[0])
    used_before: list[cp_model.IntVar | int] = [0] * P
    for row in x:
        for p in range(1, P):
            if isinstance(row[p], int):
                continue
            if isinstance(used_before[p - 1], int):
                m.add(row[p] == 0)
            else:
                m.add_implication(row[p], used_before[p - 1])
        now: list[cp_model.IntVar | int] = []
        for p in range(P):
            if isinstance(row[p], int):
                now.append(used_before[p])
                continue
            if isinstance(used_before[p], int):
                now.append(row[p])
                continue
            u = m.new_bool_var("")
            m.add_max_equality(u, [row[p], used_before[p]])
            now.append(u)
        used_before = now


def _add_ports(
    m: cp_model.CpModel,
    x: list[list[cp_model.IntVar | int]],
    group_of: dict[int, int],
    ports: PortModel,
    capacity: int,
) -> None:
    """Transfers into each processor that reads a tensor it does not produce; port time.

    ``r[q]`` (some reader group on ``q``) and ``t[q]`` (a transfer into ``q``:
    ``r[q]`` and not the producer's group) per tensor; the in-ports of ``q`` carry
    ``sum tau t[q]``, the out-ports of ``p`` ``tau * (number of transfers)`` for the
    tensors whose producer sits on ``p``, each side at most ``capacity``.
    """
    P = len(x[0])
    readers: dict[int, set[int]] = {}
    for k, v in zip(ports.pair_tensor.tolist(), ports.pair_reader.tolist(), strict=True):
        readers.setdefault(k, set()).add(group_of[v])
    into: list[list[cp_model.LinearExprT]] = [[] for _ in range(P)]
    out_of: list[list[cp_model.LinearExprT]] = [[] for _ in range(P)]
    for k, reading in readers.items():
        g, tau = group_of[int(ports.producer[k])], int(ports.tau[k])
        reading.discard(g)
        if not reading or tau == 0:
            continue
        sent = []
        for q in range(P):
            reads = [x[h][q] for h in reading if not isinstance(x[h][q], int)]
            if not reads:
                continue
            t = m.new_bool_var("")
            home = x[g][q]  # (R4) as clauses: t or not x[h][q] or x[g][q]
            for b in reads:
                m.add_bool_or([t, ~b] if isinstance(home, int) else [t, ~b, home])
            into[q].append(tau * t)
            sent.append(t)
        if not sent:
            continue
        count = sum(sent)
        for p in range(P):
            if isinstance(x[g][p], int):
                continue
            c = m.new_int_var(0, len(sent), "")
            m.add(c >= count).only_enforce_if(x[g][p])
            out_of[p].append(tau * c)
    for p in range(P):
        m.add(sum(into[p]) <= capacity)
        m.add(sum(out_of[p]) <= capacity)
