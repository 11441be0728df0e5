"""The validator: check a periodic schedule against the model of ``formulations/README.md``.

Iteration ``i`` of task ``v`` runs on processor ``p_v`` during
``[s_v + i*T, s_v + i*T + d_v)``, where ``d_v = ceil(d / speed(p_v))`` is the
task's duration on that processor. A schedule is valid when

* the period ``T`` and the number of processors ``P`` are positive integers;
* every task of the graph has exactly one assignment (no task missing, no
  unknown name), with an integer start and an integer processor in ``0..P-1``;
* every edge ``u -> v`` with distance ``w`` satisfies
  ``s_v + w*T >= s_u + d_u + c(p_u, p_v)`` (self-loops included), where
  ``c`` is 0 on one processor and otherwise the edge's fixed ``comm`` or the
  time its bytes take on the link class of the pair, recomputed from the
  embedded platform;
* on every processor no two task instances ever overlap, a task with its own
  later iterations included: the arcs ``[s_v mod T, s_v mod T + d_v)`` on a
  circle of length ``T`` are pairwise disjoint, and no ``d_v`` exceeds ``T``
  (such a task overlaps its own next iteration).

Only ``s_v mod T`` matters for the resources; starts may be negative or beyond
``T``.

This module deliberately shares no code with the formulations and heuristics
(it imports only the graph, platform and schedule types), so that it can catch
their mistakes. It checks the distances of the graph embedded in the schedule, as
given.
"""

from __future__ import annotations

import heapq
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from .footprint import footprints
from .graph import Edge
from .schedule import Schedule, Transfer
from .units import format_bytes

ViolationKind = Literal[
    "period", "assignment", "processor", "precedence", "overlap", "transfer", "port", "memory"
]

#: How many violations :class:`InvalidScheduleError` spells out before summarising.
SHOWN_VIOLATIONS = 5


@dataclass(frozen=True)
class Violation:
    """One way in which a schedule breaks the definition.

    Parameters
    ----------
    kind
        ``"period"`` (period not a positive integer), ``"assignment"`` (a task
        missing, an unknown task, a start that is not an integer),
        ``"processor"`` (processor count not a positive integer, processor not
        an integer or out of range), ``"precedence"`` (an edge's constraint
        fails), ``"overlap"`` (two task instances share a processor at the
        same time), ``"placement"`` (a layer split, or a processor's layers not
        contiguous, under the schedule's placement policy), ``"memory"`` or
        ``"transfer"``.
    message
        A one-line human-readable description.
    tasks
        The tasks involved: one for assignment and processor violations,
        ``(src, dst)`` for precedence, the overlapping pair for overlap (the
        same name twice when a task overlaps its own next iteration).
    processor
        The processor concerned (overlap, processor out of range), else ``None``.
    amount
        Precedence: by how many time units the edge is short. Overlap: the
        length of :attr:`interval`. Else ``None``.
    interval
        Overlap: an absolute time interval ``[lo, hi)`` during which the two
        instances in :attr:`iterations` both run. Else ``None``.
    iterations
        Overlap: the iteration numbers ``(i, j)`` of the two tasks in
        :attr:`tasks` whose instances overlap. Else ``None``.
    edge
        Precedence: the violated edge. Else ``None``.
    """

    kind: ViolationKind
    message: str
    tasks: tuple[str, ...] = ()
    processor: int | None = None
    amount: int | None = None
    interval: tuple[int, int] | None = None
    iterations: tuple[int, int] | None = None
    edge: Edge | None = None

    def __str__(self) -> str:
        return self.message


class InvalidScheduleError(ValueError):
    """A schedule that breaks the definition; :attr:`violations` lists how.

    Parameters
    ----------
    violations
        All violations found (non-empty).
    """

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = list(violations)
        n = len(self.violations)
        lines = [f"invalid schedule: {n} violation{'s' if n != 1 else ''}"]
        lines += [f"  - {v.message}" for v in self.violations[:SHOWN_VIOLATIONS]]
        if n > SHOWN_VIOLATIONS:
            lines.append(f"  ... and {n - SHOWN_VIOLATIONS} more")
        super().__init__("\n".join(lines))


def _is_int(value: Any) -> bool:
    # bool is an Integral in Python, but True as a start time is a bug, not a 1.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def validate(schedule: Schedule) -> list[Violation]:
    """Check ``schedule`` against the definition of a periodic schedule on its platform.

    Parameters
    ----------
    schedule
        The schedule to check, with the graph (and distances) it schedules and
        the platform it runs on.

    Returns
    -------
    list of Violation
        Empty when the schedule is valid. Ordered by kind (period, processor
        count, assignment, processor, precedence, overlap), then by task order.
        Each overlapping pair of tasks is reported once. Tasks with a missing
        or non-integer start or processor are left out of the precedence and
        overlap checks; tasks on a processor out of range are left out of the
        overlap check. Without a valid period neither precedence nor overlap
        is checked.

    Notes
    -----
    Durations and communication costs are recomputed here from the graph and
    the platform (``ceil(d / speed)``; ``ceil((latency + bytes / bandwidth) /
    unit)`` of the pair's link class), not taken from any solver. The overlap
    check sorts each processor's arcs by ``s mod T`` and sweeps over two turns
    of the circle, so it takes ``O(n log n + k)`` time for ``n`` tasks and
    ``k`` overlapping pairs.
    """
    out: list[Violation] = []
    T = _check_period(schedule.period, out)
    P = _check_count(schedule, out)
    start, proc = _check_assignments(schedule, P, out)
    if not T:
        return out
    placed = {t.name for t in schedule.graph.tasks if t.name in start and t.name in proc}
    duration = _durations(schedule, proc, placed, P)
    out.extend(_check_precedence(schedule, T, start, proc, placed, duration))
    if P:
        out.extend(_check_resources(schedule, T, P, start, proc, placed, duration))
    if P and len(placed) == schedule.graph.n and all(0 <= proc[t] < P for t in placed):
        out.extend(_check_memory(schedule, duration))
        out.extend(_check_placement(schedule, proc))
    if P and schedule.platform.capacity == "ports":
        out.extend(_check_transfers(schedule, T, P, start, proc, placed, duration))
    elif schedule.transfers:
        out.append(
            Violation("transfer", "transfers are listed, but the platform's capacity is 'delay'")
        )
    return out


def _check_placement(schedule: Schedule, proc: Mapping[str, int]) -> list[Violation]:
    """``layer``: a layer's tasks on one processor; ``stages``: each processor's layers contiguous.

    Layers are ordered by first appearance in the graph's task list; a task
    without a layer is a layer of its own.
    """
    policy = schedule.placement
    if policy == "free":
        return []
    where: dict[tuple[str, str], int] = {}
    order: list[tuple[str, str]] = []
    out: list[Violation] = []
    for t in schedule.graph.tasks:
        key = ("layer", t.layer) if t.layer else ("task", t.name)
        if key not in where:
            where[key] = proc[t.name]
            order.append(key)
        elif where[key] != proc[t.name]:
            out.append(
                Violation(
                    "placement",
                    f"placement {policy}: task {t.name} is on processor {proc[t.name]}, "
                    f"its layer {key[1]} on processor {where[key]}",
                    (t.name,),
                    processor=proc[t.name],
                )
            )
    if policy == "stages" and not out:
        closed: set[int] = set()
        for before, key in zip([None, *order], order, strict=False):
            p = where[key]
            if before is not None and where[before] != p:
                closed.add(where[before])
            if p in closed:
                out.append(
                    Violation(
                        "placement",
                        f"placement stages: {key[0]} {key[1]} is on processor {p}, "
                        f"whose layers before it end at an earlier layer (not contiguous)",
                        processor=p,
                    )
                )
                break
    return out


def _check_period(period: Any, out: list[Violation]) -> int:
    """The period, or 0 (with a violation) when it is no positive integer."""
    if _is_int(period) and period > 0:
        return int(period)
    out.append(Violation("period", f"period must be a positive integer, got {period!r}"))
    return 0


def _check_count(schedule: Schedule, out: list[Violation]) -> int:
    """The processor count, or 0 (with a violation) when it is no positive integer."""
    nprocs = schedule.processors
    if _is_int(nprocs) and nprocs > 0:
        return int(nprocs)
    out.append(
        Violation("processor", f"number of processors must be a positive integer, got {nprocs!r}")
    )
    return 0


def _check_assignments(
    schedule: Schedule, P: int, out: list[Violation]
) -> tuple[dict[str, int], dict[str, int]]:
    """Integer starts and processors of the tasks that have them; violations for the rest."""
    proc_map: Mapping[str, Any] = schedule.processor
    start_map: Mapping[str, Any] = schedule.start
    start: dict[str, int] = {}
    proc: dict[str, int] = {}
    bad_proc: list[Violation] = []
    for t in schedule.graph.tasks:
        name = t.name
        has_p, has_s = name in proc_map, name in start_map
        if not has_p and not has_s:
            out.append(Violation("assignment", f"task {name} is not assigned", (name,)))
            continue
        if not has_p:
            out.append(Violation("assignment", f"task {name} has no processor", (name,)))
        if not has_s:
            out.append(Violation("assignment", f"task {name} has no start time", (name,)))
        if has_s:
            s = start_map[name]
            if _is_int(s):
                start[name] = int(s)
            else:
                out.append(
                    Violation("assignment", f"task {name}: start {s!r} is not an integer", (name,))
                )
        if has_p:
            p = proc_map[name]
            if not _is_int(p):
                bad_proc.append(
                    Violation(
                        "processor", f"task {name}: processor {p!r} is not an integer", (name,)
                    )
                )
                continue
            proc[name] = int(p)
            if P and not 0 <= p < P:
                bad_proc.append(
                    Violation(
                        "processor",
                        f"task {name}: processor {p} is out of range 0..{P - 1} "
                        f"({P} processor{'s' if P != 1 else ''})",
                        (name,),
                        processor=int(p),
                    )
                )
    known = {t.name for t in schedule.graph.tasks}
    for what, mapping in (("processor", proc_map), ("start time", start_map)):
        for name in mapping:
            if name not in known:
                out.append(
                    Violation("assignment", f"{what} given for unknown task {name!r}", (str(name),))
                )
    out.extend(bad_proc)
    return start, proc


def _durations(
    schedule: Schedule, proc: Mapping[str, int], placed: set[str], P: int
) -> dict[str, int]:
    """Each placed task's duration on its processor: ``ceil(d / speed)``, exactly."""
    speeds = [p.speed for p in schedule.platform.processors]
    out: dict[str, int] = {}
    for t in schedule.graph.tasks:
        p = proc.get(t.name)
        if t.name in placed and p is not None and 0 <= p < min(P, len(speeds)):
            # The speed as the decimal it is written as (repr), exactly.
            out[t.name] = math.ceil(Fraction(t.duration) / Fraction(repr(float(speeds[p]))))
        else:
            out[t.name] = t.duration
    return out


def _comm(schedule: Schedule, e: Edge, pu: int, pv: int) -> int:
    """What edge ``e`` costs from processor ``pu`` to ``pv``: 0 on one processor."""
    if pu == pv:
        return 0
    if e.comm is not None:
        return e.comm
    if e.bytes == 0:
        return 0
    platform = schedule.platform
    same_node = platform.processors[pu].node == platform.processors[pv].node
    link = platform.intra if same_node else platform.inter
    unit = schedule.graph.time_unit_seconds
    if unit is None:  # the Problem refuses such graphs; a hand-made schedule may not
        return 0
    x = (link.latency + e.bytes / link.bandwidth) / unit
    return math.ceil(x - 1e-9 * abs(x))


def _is_message(e: Edge) -> bool:
    """Whether an edge's data travels as a transfer under ``capacity: ports``."""
    return e.comm is None and e.bytes > 0


def _check_precedence(
    schedule: Schedule,
    T: int,
    start: Mapping[str, int],
    proc: Mapping[str, int],
    placed: set[str],
    duration: Mapping[str, int],
) -> list[Violation]:
    """Every edge ``u -> v``: ``s_v + w*T >= s_u + d_u + c(p_u, p_v)``."""
    out = []
    P = schedule.processors
    ports = schedule.platform.capacity == "ports"
    for e in schedule.graph.edges:
        u, v = e.src, e.dst
        if u not in placed or v not in placed:
            continue
        pu, pv = proc[u], proc[v]
        if ports and pu != pv and _is_message(e):
            continue  # the transfer carries it: _check_transfers
        in_range = 0 <= pu < P and 0 <= pv < P
        charged = _comm(schedule, e, pu, pv) if in_range else (e.comm or 0) * (pu != pv)
        end_u = start[u] + duration[u]
        need = end_u + charged  # when iteration w of v may start at the earliest
        have = start[v] + e.distance * T
        if have >= need:
            continue
        short = need - have
        where = f"across processors {pu} and {pv}" if pu != pv else f"both on processor {pu}"
        if e.distance == 0:
            dst_desc, src_desc = v, u
        else:
            dst_desc, src_desc = f"{v} of iteration {e.distance}", f"{u} of iteration 0"
        reason = f"{src_desc} ends at {end_u}" + (f" + comm {charged}" if charged else "")
        out.append(
            Violation(
                "precedence",
                f"edge {u} -> {v} (distance {e.distance}, comm "
                f"{charged if e.comm is None else e.comm}, {where}): "
                f"{dst_desc} starts at {have} but needs >= {need} ({reason}; short by {short})",
                (u, v),
                amount=short,
                edge=e,
            )
        )
    return out


def _check_resources(
    schedule: Schedule,
    T: int,
    P: int,
    start: dict[str, int],
    proc: Mapping[str, int],
    placed: set[str],
    duration: dict[str, int],
) -> list[Violation]:
    """No two task instances overlap on a processor, a task's own iterations included."""
    graph = schedule.graph
    order = {t.name: i for i, t in enumerate(graph.tasks)}
    by_proc: dict[int, list[str]] = {}
    for t in graph.tasks:
        if t.name in placed and 0 <= proc[t.name] < P:
            by_proc.setdefault(proc[t.name], []).append(t.name)
    overlaps: list[tuple[int, int, Violation]] = []
    for p in sorted(by_proc):
        names = by_proc[p]
        for name in names:
            if duration[name] > T:
                v = _overlap(name, name, 0, 1, p, start, duration, T)
                overlaps.append((order[name], order[name], v))
        for a, b in _circle_overlaps(names, start, duration, T):
            if order[a] > order[b]:
                a, b = b, a
            k = _first_shift(start[a], duration[a], start[b], duration[b], T)
            i, j = (0, k) if k >= 0 else (-k, 0)
            overlaps.append((order[a], order[b], _overlap(a, b, i, j, p, start, duration, T)))
    overlaps.sort(key=lambda x: (x[0], x[1]))
    return [v for _, _, v in overlaps]


# ------------------------------------------------------------------------------ memory
def _check_memory(schedule: Schedule, duration: Mapping[str, int]) -> list[Violation]:
    """Each processor's footprint (:mod:`lpsched.footprint`) within its memory: (P8)."""
    out = []
    used = footprints(schedule, duration, lambda e, p, q: _comm(schedule, e, p, q))
    for p, (nbytes, proc) in enumerate(zip(used, schedule.platform.processors, strict=True)):
        if proc.memory is not None and nbytes > proc.memory:
            out.append(
                Violation(
                    "memory",
                    f"processor {p} holds {nbytes:.0f} bytes ({format_bytes(nbytes)}) but its "
                    f"memory is {proc.memory:.0f} bytes ({format_bytes(proc.memory)})",
                    processor=p,
                    amount=math.ceil(nbytes - proc.memory),
                )
            )
    return out


def memory_footprints(schedule: Schedule) -> list[float]:
    """Bytes each processor of a valid schedule holds (:mod:`lpsched.footprint`)."""
    placed = {t.name for t in schedule.graph.tasks}
    duration = _durations(schedule, schedule.processor, placed, schedule.processors)
    return footprints(schedule, duration, lambda e, p, q: _comm(schedule, e, p, q))


# ------------------------------------------------------------------ transfers (ports)
def _units(seconds: float, unit: float | None) -> int:
    """Whole time units of ``seconds``, rounded up (0 for no time or no unit)."""
    if unit is None or seconds == 0:
        return 0
    x = seconds / unit
    return math.ceil(x - 1e-9 * abs(x))


def _needed(
    schedule: Schedule, proc: Mapping[str, int], placed: set[str]
) -> dict[tuple[str, str], tuple[int, dict[int, list[Edge]]]]:
    """``(producer, tensor) -> (bytes, {destination: [edges]})``: the messages that must travel.

    A tensor's size is the largest over all its message edges, crossing or not
    (they carry one tensor; the footprint counts it so too).
    """
    graph = schedule.graph
    size: dict[tuple[str, str], int] = {}
    out: dict[tuple[str, str], tuple[int, dict[int, list[Edge]]]] = {}
    for i, e in enumerate(graph.edges):
        if not _is_message(e):
            continue
        key = (e.src, e.tensor if e.tensor is not None else f"e{i}:{e.src}->{e.dst}")
        size[key] = max(size.get(key, 0), e.bytes)
        if e.src not in placed or e.dst not in placed or proc[e.src] == proc[e.dst]:
            continue
        out.setdefault(key, (0, {}))[1].setdefault(proc[e.dst], []).append(e)
    return {key: (size[key], dests) for key, (_, dests) in out.items()}


def _check_transfers(
    schedule: Schedule,
    T: int,
    P: int,
    start: Mapping[str, int],
    proc: Mapping[str, int],
    placed: set[str],
    duration: Mapping[str, int],
) -> list[Violation]:
    """``capacity: ports``: one transfer per tensor and destination, sized, timed, ports free.

    ``formulations/README.md`` (P5)-(P7).
    """
    needed = _needed(schedule, proc, placed)
    producers: dict[str, set[str]] = {}
    for producer, name in needed:
        producers.setdefault(name, set()).add(producer)
    out: list[Violation] = []
    given: dict[tuple[str, str, int], Transfer] = {}
    for x in schedule.transfers:
        producer = x.producer or next(iter(producers.get(x.tensor, {""})))
        key = (producer, x.tensor, x.dst)
        what = f"transfer of {x.tensor} from {x.src} to {x.dst}"
        if key[:2] not in needed or x.dst not in needed[key[:2]][1]:
            out.append(Violation("transfer", f"{what}: no task on processor {x.dst} needs it"))
        elif key in given:
            out.append(Violation("transfer", f"{what}: listed twice"))
        else:
            given[key] = x
    for (producer, name), (nbytes, dests) in needed.items():
        for q, edges in sorted(dests.items()):
            x = given.get((producer, name, q))
            if x is None:
                p = proc[producer]
                out.append(
                    Violation(
                        "transfer",
                        f"tensor {name} of {producer} (processor {p}) is read on processor {q} "
                        "but no transfer brings it there",
                        (producer,),
                    )
                )
                continue
            out.extend(_check_one_transfer(schedule, T, x, nbytes, edges, start, proc, duration))
    out.extend(_check_ports(schedule, T, P, list(given.values())))
    return out


def _check_one_transfer(
    schedule: Schedule,
    T: int,
    x: Transfer,
    nbytes: int,
    edges: list[Edge],
    start: Mapping[str, int],
    proc: Mapping[str, int],
    duration: Mapping[str, int],
) -> list[Violation]:
    """One transfer: from the producer's processor, after its end, as long as its bytes take.

    It must arrive (with the latency) before every consumer on its destination.
    """
    producer = edges[0].src
    platform = schedule.platform
    what = f"transfer of {x.tensor} from {x.src} to {x.dst}"
    out = []
    if x.src != proc[producer]:
        out.append(
            Violation("transfer", f"{what}: {producer} runs on {proc[producer]}, not {x.src}")
        )
        return out
    same = platform.processors[x.src].node == platform.processors[x.dst].node
    link = platform.intra if same else platform.inter
    unit = schedule.graph.time_unit_seconds
    tau = 0 if math.isinf(link.bandwidth) else _units(nbytes / link.bandwidth, unit)
    if x.duration != tau:
        out.append(
            Violation("transfer", f"{what}: lasts {x.duration}, but {nbytes} bytes take {tau}")
        )
    end = start[producer] + duration[producer]
    if x.start < end:
        out.append(
            Violation("transfer", f"{what}: starts at {x.start}, before {producer} ends at {end}")
        )
    arrive = x.start + tau + _units(link.latency, unit)
    for e in edges:
        have = start[e.dst] + e.distance * T
        if have < arrive:
            out.append(
                Violation(
                    "precedence",
                    f"edge {e.src} -> {e.dst} (distance {e.distance}): {x.tensor} arrives on "
                    f"processor {x.dst} at {arrive} but {e.dst} starts at {have} "
                    f"(short by {arrive - have})",
                    (e.src, e.dst),
                    amount=arrive - have,
                    edge=e,
                )
            )
    return out


def _check_ports(schedule: Schedule, T: int, P: int, transfers: list[Transfer]) -> list[Violation]:
    """On each port (processor, direction, link class) transfers never overlap modulo ``T``."""
    platform = schedule.platform
    ports: dict[tuple[int, str, str], list[Transfer]] = {}
    for x in transfers:
        if x.duration <= 0 or not (0 <= x.src < P and 0 <= x.dst < P):
            continue
        same = platform.processors[x.src].node == platform.processors[x.dst].node
        cls = "intra" if same else "inter"
        ports.setdefault((x.src, "out", cls), []).append(x)
        ports.setdefault((x.dst, "in", cls), []).append(x)
    out = []
    for (p, direction, cls), xs in sorted(ports.items()):
        label = {f"{x.tensor}@{x.dst}<{x.producer}": x for x in xs}
        start = {k: x.start for k, x in label.items()}
        length = {k: x.duration for k, x in label.items()}
        pairs = sorted(_circle_overlaps(list(label), start, length, T))
        pairs += [(k, k) for k in label if length[k] > T]
        for a, b in pairs:
            xa, xb = label[a], label[b]
            out.append(
                Violation(
                    "port",
                    f"transfers of {xa.tensor} ({xa.src} -> {xa.dst}, starts {xa.start}, "
                    f"lasts {xa.duration}) and {xb.tensor} ({xb.src} -> {xb.dst}, starts "
                    f"{xb.start}, lasts {xb.duration}) overlap on the {cls} {direction}-port of "
                    f"processor {p} (period {T})",
                    (xa.producer, xb.producer),
                    processor=p,
                )
            )
    return out


def _circle_overlaps(
    names: list[str], start: dict[str, int], duration: dict[str, int], T: int
) -> set[tuple[str, str]]:
    """Unordered pairs of distinct tasks whose arcs on the circle of length ``T`` intersect.

    Each arc ``[s mod T, s mod T + min(d, T))`` is laid on a line twice, at
    ``s mod T`` and one turn later, so that an arc that wraps past ``T`` meets
    the arcs at the start of the next turn. Clipping to ``T`` keeps which arcs
    meet (an arc of length ``T`` already covers the whole circle) and keeps the
    two copies of one arc apart. Two arcs meet on the circle iff some copies
    meet on the line; a sweep by start with a heap of ends lists those.
    """
    intervals: list[tuple[int, int, str]] = []
    for name in names:
        r = start[name] % T
        length = min(duration[name], T)
        intervals.append((r, r + length, name))
        intervals.append((r + T, r + T + length, name))
    intervals.sort(key=lambda x: x[0])
    active: list[tuple[int, str]] = []  # heap of (end, name)
    pairs: set[tuple[str, str]] = set()
    for lo, hi, name in intervals:
        while active and active[0][0] <= lo:
            heapq.heappop(active)
        # Every interval still active started no later than lo and ends after it.
        for _, other in active:
            if other != name:
                pairs.add((other, name) if other < name else (name, other))
        heapq.heappush(active, (hi, name))
    return pairs


def _first_shift(sa: int, da: int, sb: int, db: int, T: int) -> int:
    """Return the least ``k`` such that ``[sa, sa+da)`` meets ``[sb + k*T, sb + k*T + db)``.

    They intersect iff ``-db < sb - sa + k*T < da``; the least ``k`` with the
    left inequality is ``ceil((sa - sb - db + 1) / T)``.
    """
    k = -((sb - sa + db - 1) // T)
    x = sb - sa + k * T
    if not -db < x < da:  # pragma: no cover - the sweep found an overlap, so this holds
        raise AssertionError(f"no overlap between arcs at {sa} (+{da}) and {sb} (+{db})")
    return k


def _overlap(
    a: str, b: str, i: int, j: int, p: int, start: dict[str, int], duration: dict[str, int], T: int
) -> Violation:
    a0, a1 = start[a] + i * T, start[a] + i * T + duration[a]
    b0, b1 = start[b] + j * T, start[b] + j * T + duration[b]
    lo, hi = max(a0, b0), min(a1, b1)
    return Violation(
        "overlap",
        f"{a} (iteration {i}, [{a0}, {a1})) and {b} (iteration {j}, [{b0}, {b1})) "
        f"overlap on processor {p} during [{lo}, {hi})",
        (a, b),
        processor=p,
        amount=hi - lo,
        interval=(lo, hi),
        iterations=(i, j),
    )


def check_schedule(schedule: Schedule) -> None:
    """Raise :class:`InvalidScheduleError` unless ``schedule`` is valid.

    Parameters
    ----------
    schedule
        The schedule to check.

    Raises
    ------
    InvalidScheduleError
        Listing the first few violations and how many there are in all; the
        full list is in its ``violations`` attribute.
    """
    violations = validate(schedule)
    if violations:
        raise InvalidScheduleError(violations)
