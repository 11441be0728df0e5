"""The memory footprint of a schedule: what every processor must hold, as the validator counts it.

A tensor is **resident** on its producer's processor from the producer's start
until the end of its last local reader or of its last send, and on each other
processor ``q`` that reads it from the moment it is sent there until the end of
its last reader on ``q``. Times are absolute: iteration ``w`` of a reader
(an edge of distance ``w``) ends at ``s_v + w T + d_v``. A lifetime ``L`` of a
periodic schedule overlaps ``ceil(L / T)`` iterations of itself, so it needs
that many copies. Weights are tensors too (written by ``U``, read by ``F`` and
``G`` at the layer's staleness), which counts weight stashing by the same rule;
optimizer state is ``optimizer_state x`` the parameter bytes, one copy, with ``U``.

    footprint(p) = sum over tensors resident on p of bytes x ceil(L / T)
                   + optimizer state on p

It is an upper bound on the true peak. Under ``capacity: ports`` a send starts
at its transfer's start and ends at its end; under ``capacity: delay`` it
starts when the producer ends and lasts the edge's communication cost.

This module shares no code with the solvers: the validator uses it to check
them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .graph import Edge
from .schedule import Schedule


@dataclass(frozen=True)
class Residency:
    """One tensor's stay on one processor: bytes, first and last time, copies."""

    tensor: str
    producer: str
    processor: int
    bytes: int
    begin: int
    end: int
    copies: int


def _name(e: Edge, i: int) -> str:
    return e.tensor if e.tensor is not None else f"e{i}:{e.src}->{e.dst}"


def residencies(
    schedule: Schedule,
    duration: Mapping[str, int],
    comm: Callable[[Edge, int, int], int],
) -> list[Residency]:
    """Every tensor's residency on every processor that holds it.

    Parameters
    ----------
    schedule
        A schedule whose tasks all have a processor in range and a start.
    duration
        Each task's duration on its processor.
    comm
        ``comm(edge, p, q)``: the edge's cost between two processors under
        ``capacity: delay`` (used when the schedule lists no transfers).
    """
    T = schedule.period
    start, proc = schedule.start, schedule.processor
    sent = {(x.producer, x.tensor, x.dst): x for x in schedule.transfers}
    ports = schedule.platform.capacity == "ports"
    groups: dict[tuple[str, str], list[Edge]] = {}
    for i, e in enumerate(schedule.graph.edges):
        groups.setdefault((e.src, _name(e, i)), []).append(e)
    out = []
    for (u, name), edges in groups.items():
        nbytes = max(e.bytes for e in edges)
        p = proc[u]
        end_u = start[u] + duration[u]
        held = {p: [start[u], end_u]}
        for e in edges:
            q = proc[e.dst]
            done = start[e.dst] + e.distance * T + duration[e.dst]
            if q == p:
                held[p][1] = max(held[p][1], done)
                continue
            x = sent.get((u, name, q))
            if ports and x is not None:
                begin, finish = x.start, x.start + x.duration
            else:
                begin, finish = end_u, end_u + comm(e, p, q)
            held[p][1] = max(held[p][1], finish)
            lo, hi = held.get(q, [begin, done])
            held[q] = [min(lo, begin), max(hi, done)]
        for q, (lo, hi) in held.items():
            out.append(Residency(name, u, q, nbytes, lo, hi, math.ceil((hi - lo) / T)))
    return out


def optimizer_bytes(schedule: Schedule) -> dict[str, float]:
    """Optimizer state per update task: ``optimizer_state x`` its layer's parameter bytes."""
    factor = schedule.platform.optimizer_state
    out: dict[str, float] = {}
    if factor == 0:
        return out
    for e in schedule.graph.edges:
        if e.weights is not None:
            out[e.src] = max(out.get(e.src, 0.0), factor * e.bytes)
    return out


def footprints(
    schedule: Schedule,
    duration: Mapping[str, int],
    comm: Callable[[Edge, int, int], int],
) -> list[float]:
    """Bytes each processor holds, by processor (the sum of this module's docstring)."""
    total = [0.0] * schedule.processors
    for r in residencies(schedule, duration, comm):
        total[r.processor] += r.bytes * r.copies
    for task, nbytes in optimizer_bytes(schedule).items():
        total[schedule.processor[task]] += nbytes
    return total
