"""Iterative modulo scheduling (Rau 1994) with processor choice and communication costs.

For a candidate period ``T`` the tasks are placed one at a time in order of
decreasing *height* (the longest path to the end of the graph, every edge
weighted ``d_u + c - w*T``: Rau's ``HeightR``). Each task goes to the earliest
start its placed predecessors allow,

    s_v >= s_u + d_u + c * [p_u != p_v] - w * T,

no later than its placed successors allow (edges of positive distance close
loops), on the processor that offers the earliest free slot of its modulo
reservation table (the occupied arcs of a circle of length ``T``, wrap-around
included) in the window ``[estart, estart + T - 1]``. When no processor has
such a slot the task is forced in, at the position and on the processor that
evict the least work, and the tasks it collides with, on its processor or
through a violated edge, are placed again later (Rau's budgeted backtracking;
an attempt also gives up when the number of unplaced tasks stops falling).

The period search starts at the lower bound and raises ``T`` by one (0.1% in
fine time units), then by geometrically growing steps, until an attempt
succeeds; a binary search walks back down between the last failure and the
success; a few more attempts with perturbed priorities and processor choices
then aim between the lower bound and the best period found.

Extensions that make this work for training graphs:

* **Flush placement.** A task only goes where it touches an occupied arc (or
  on an empty processor), so that a processor's free time does not splinter
  into gaps too short for anything: near the resource bound the circles must
  be packed almost exactly. (Some improvement attempts drop the rule, to
  shorten waits on tight loops.)
* **Co-location.** An edge ``u -> v`` on a cycle ``C`` cannot cross processors
  at period ``T`` when ``d(C) + c_uv > w(C) * T``: the cycle alone would exceed
  its distance. Such ``u`` and ``v`` are kept on one processor (cycles through
  one edge of positive distance are examined), a group longer than ``T``
  proves ``T`` infeasible before any attempt, and a processor keeps room for
  the rest of a group once its first task is placed. With expensive weight
  transfers this keeps a layer's ``F``, ``W`` and ``U`` together. When a plain
  attempt fails, edges that would eat 70%, 50%, 30% or 20% of their cycle's
  slack are kept inside groups as well.
* **The PipeDream layout as a candidate.** When the lower bound is not reached
  at once, the PipeDream planner's stages (:mod:`lpsched.solvers.pipedream`)
  are scheduled with fixed processors, and the free search has to beat them.
* **Rebalancing.** Near the resource bound the period found is often just the
  largest processor load: the circles were packed unevenly. Tasks are then
  moved, or swapped with shorter ones, from the most loaded processor to
  processors with room (least communication added first) until every load is
  under ``T - 1``, and the start times are found again with those processors
  fixed; this repeats while it succeeds (ResNet-50 on 16 processors: 1016 ->
  988, which CP-SAT proves optimal; the resource bound is 986).
* **The coarser decomposition, refined.** A LayerPipe graph is also scheduled
  as ``intra`` (and that one as ``pipedream``), with fewer and longer tasks,
  and the schedule refined into the graph's own tasks (:mod:`lpsched.coarsen`,
  which proves the refined schedule valid), then rebalanced. The better of the
  two searches is returned (ResNet-18 on 4 processors: 1755 -> 1726, the
  bound; ResNet-50 on 32: 502 -> 498).
* **Fixed processors** (``fixed_processor``), which the PipeDream planner uses.

Every schedule returned has been checked against the definition of DESIGN.md
section 1 here; when nothing better is found the result is the trivially
valid schedule of all tasks in a topological order on one processor.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..graph import TaskGraph
from ..schedule import Schedule

#: Scheduling steps per task that one attempt at a period may take (Rau's BudgetRatio).
BUDGET_RATIO = 4
#: An attempt also gives up after this many steps per task (at most STALL_CAP steps) without
#: a new fewest-unplaced count: a failing attempt thrashes, and thrashing is expensive.
STALL_RATIO = 1.0
STALL_CAP = 300
#: Improvement attempts without a time limit: IMPROVEMENT_WORK / tasks, clamped to
#: IMPROVEMENT_ATTEMPTS (small graphs get more, as their attempts are cheap).
IMPROVEMENT_ATTEMPTS = (2, 16)
IMPROVEMENT_WORK = 1000
#: (perturbation in periods, best-fit window in periods, flush placement only) of the
#: improvement attempts, cycled. Slots that are not flush shorten waits on tight loops.
VARIANTS = (
    (0.02, 0.5, True),
    (0.05, 0.0, False),
    (0.1, 0.25, True),
    (0.02, 0.0, False),
    (0.05, 0.5, True),
    (0.1, 0.0, False),
)
#: Positions per processor tried for a forced placement (estart and the next arc ends).
FORCED_CANDIDATES = 6
#: Co-location levels tried at each period (see :func:`_colocation`): the necessary
#: groups alone, then edges costing more than 70%, 50%, 30% and 20% of their cycle's
#: slack. The low levels matter where one message costs a large part of a loop's
#: slack, so the loop affords a few crossings only (LeNet-5 on 32 processors: 392 ->
#: 324, the optimum); levels that give the same groups as an earlier one cost nothing.
COHESION = (1.0, 0.7, 0.5, 0.3, 0.2)
#: Slots starting within this fraction of T after the earliest compete by best fit.
FIT_WINDOW = 0.0
#: Largest (edges of positive distance) x (tasks) for the co-location analysis.
COLOCATION_LIMIT = 20_000_000

_NEG = -(1 << 62)
_POS = 1 << 62


@dataclass
class _Problem:
    """The graph as integer lists, built once per call."""

    n: int
    dur: list[int]
    # (other end, distance, comm) per task; self-loops are left out: they only need d <= w*T.
    preds: list[list[tuple[int, int, int]]]
    succs: list[list[tuple[int, int, int]]]
    edges: list[tuple[int, int, int, int]]  # (u, v, distance, comm), all of them
    topo: list[int]  # a topological order of the distance-0 edges
    allowed: list[tuple[int, ...]]  # processors each task may use
    processors: int
    min_period: int  # bounds from durations, pinned loads and self-loops
    # (u, v, comm, distance, length): the edge u -> v lies on a cycle of that total distance
    # and total duration; it cannot cross processors when comm > distance*T - length.
    ties: list[tuple[int, int, int, int, int]]

    @classmethod
    def build(cls, graph: TaskGraph, processors: int, fixed: Mapping[str, int] | None) -> _Problem:
        n = graph.n
        dur = graph.durations
        preds: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
        succs: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
        edges = []
        indeg = [0] * n
        for e in graph.edges:
            u, v = graph.index(e.src), graph.index(e.dst)
            edges.append((u, v, e.distance, e.comm))
            if u == v:
                continue
            preds[v].append((u, e.distance, e.comm))
            succs[u].append((v, e.distance, e.comm))
            if e.distance == 0:
                indeg[v] += 1
        topo = _topological_order(n, succs, indeg)
        everyone = tuple(range(processors))
        allowed: list[tuple[int, ...]] = [everyone] * n
        load = [0] * processors
        for name, p in (fixed or {}).items():
            if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < processors:
                raise InputError(
                    f"fixed processor of task {name!r} must be in 0..{processors - 1}, got {p!r}"
                )
            i = graph.index(name)
            allowed[i] = (p,)
            load[p] += dur[i]
        # A self-loop u -> u with distance w needs d_u <= w*T.
        self_need = max(
            (math.ceil(dur[u] / w) for u, v, w, _c in edges if u == v and w > 0), default=1
        )
        from ..bounds import packing_bound

        min_period = max(
            math.ceil(sum(dur) / processors),
            max(load),
            self_need,
            packing_bound(dur, processors),
        )
        ties = _cycle_ties(n, dur, preds, succs, edges, topo)
        return cls(n, dur, preds, succs, edges, topo, allowed, processors, min_period, ties)


def _topological_order(
    n: int, succs: list[list[tuple[int, int, int]]], indeg: list[int]
) -> list[int]:
    """Kahn's algorithm on the distance-0 edges, smallest index first (deterministic)."""
    indeg = list(indeg)
    ready = [v for v in range(n) if indeg[v] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        u = heapq.heappop(ready)
        order.append(u)
        for v, w, _c in succs[u]:
            if w == 0:
                indeg[v] -= 1
                if indeg[v] == 0:
                    heapq.heappush(ready, v)
    return order


def _cycle_ties(
    n: int,
    dur: list[int],
    preds: list[list[tuple[int, int, int]]],
    succs: list[list[tuple[int, int, int]]],
    edges: list[tuple[int, int, int, int]],
    topo: list[int],
) -> list[tuple[int, int, int, int, int]]:
    """Longest cycles through each edge that use exactly one edge of positive distance.

    For every back edge ``b = x -> y`` (distance ``w > 0``) the longest distance-0
    paths from ``y`` (forward) and into ``x`` (backward) are computed for all
    back edges of the same distance at once, as rows of a matrix; the longest
    cycle through a distance-0 edge ``u -> v`` and ``b`` is then
    ``fwd[b, u] + bwd[b, v]`` (durations of the tasks on it).
    """
    back = [(u, v, w, c) for u, v, w, c in edges if w > 0 and u != v]
    if not back or len(back) * n > COLOCATION_LIMIT:
        return []
    d = np.asarray(dur, dtype=np.int64)
    neg = np.int64(-(1 << 50))
    ties: list[tuple[int, int, int, int, int]] = []
    for w in sorted({b[2] for b in back}):
        group = [b for b in back if b[2] == w]
        rows = np.arange(len(group))
        fwd = np.full((n, len(group)), neg, dtype=np.int64)  # fwd[v, b]: longest y_b ~> v
        bwd = np.full((n, len(group)), neg, dtype=np.int64)  # bwd[v, b]: longest v ~> x_b
        fwd[[b[1] for b in group], rows] = d[[b[1] for b in group]]
        bwd[[b[0] for b in group], rows] = d[[b[0] for b in group]]
        for v in topo:
            for u, dist, _c in preds[v]:
                if dist == 0:
                    np.maximum(fwd[v], fwd[u] + d[v], out=fwd[v])
        for u in reversed(topo):
            for v, dist, _c in succs[u]:
                if dist == 0:
                    np.maximum(bwd[u], bwd[v] + d[u], out=bwd[u])
        for u, v, dist, c in edges:
            if c <= 0 or u == v:
                continue
            if dist == 0:
                length = int((fwd[u] + bwd[v]).max())
                if length > 0:
                    ties.append((u, v, c, w, length))
            elif dist == w:
                for i, b in enumerate(group):
                    if b[0] == u and b[1] == v and fwd[u, i] > 0:
                        ties.append((u, v, c, w, int(fwd[u, i])))
                        break
    return ties


def _colocation(
    prob: _Problem, T: int, cohesion: float = 1.0
) -> tuple[list[int], list[int]] | None:
    """Groups of tasks committed to one processor at period ``T``; None if ``T`` is infeasible.

    Tasks joined by an edge that cannot cross processors at ``T`` form a group,
    and so does every pinned task (alone or with its group). With
    ``cohesion < 1`` an edge is also kept inside a group when its cost exceeds
    ``cohesion`` times the slack of its cycle (tightest first, as long as the
    group still fits in ``T``): a heuristic choice, since other crossings and
    waits on the same cycle eat into that slack. Returns the group of every task (``-1`` for a free
    task on its own) and each group's processor (``-1`` until its first task is
    placed, unless pinned). ``T`` is infeasible when a necessary group is longer
    than ``T``, holds tasks pinned to different processors, or the groups pinned
    to a processor exceed ``T``.
    """
    n = prob.n
    dur = prob.dur
    parent = list(range(n))
    size = list(dur)
    pin = [a[0] if len(a) == 1 else -1 for a in prob.allowed]

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(u: int, v: int, optional: bool) -> None:
        ru, rv = root(u), root(v)
        if ru == rv:
            return
        if optional and (
            size[ru] + size[rv] > T or (pin[ru] >= 0 and pin[rv] >= 0 and pin[ru] != pin[rv])
        ):
            return
        parent[ru] = rv
        size[rv] += size[ru]
        a, b = pin[ru], pin[rv]  # -1: not pinned, -2: pinned to two processors (infeasible)
        pin[rv] = b if a == -1 else a if b == -1 or a == b else -2

    optional = []
    for u, v, c, w, length in prob.ties:
        slack = w * T - length
        if c > slack:
            join(u, v, False)
        elif cohesion < 1 and c > cohesion * slack:
            optional.append((-c / max(slack, 1), u, v))
    optional.sort()
    for _key, u, v in optional:
        join(u, v, True)
    roots = [root(v) for v in range(n)]
    index: dict[int, int] = {}
    group = [-1] * n
    gproc: list[int] = []
    load = [0] * prob.processors
    for v in range(n):
        r = roots[v]
        if r == v and (size[r] > T or pin[r] == -2):
            return None
        if r == v and pin[r] >= 0:
            load[pin[r]] += size[r]
            if load[pin[r]] > T:
                return None
    for v in range(n):
        r = roots[v]
        if r == v and size[r] == dur[v] and pin[r] == -1:
            continue  # a free task on its own
        if r not in index:
            index[r] = len(gproc)
            gproc.append(pin[r])
        group[v] = index[r]
    return group, gproc


class _Tables:
    """One modulo reservation table per processor: the arcs occupied on a circle of length T.

    A processor's arcs are kept sorted by start residue (``ends[i] - starts[i]``
    is the duration; an end beyond ``T`` wraps around), and so are its free gaps
    (``gap_starts``, ``gap_ends``; none on an empty processor, which is all free).
    Flush placement keeps the gaps few, so slot searches walk gaps, not arcs.
    """

    def __init__(self, processors: int, period: int) -> None:
        self.T = period
        self.starts: list[list[int]] = [[] for _ in range(processors)]
        self.ends: list[list[int]] = [[] for _ in range(processors)]
        self.owner: list[list[int]] = [[] for _ in range(processors)]
        self.gap_starts: list[list[int]] = [[] for _ in range(processors)]
        self.gap_ends: list[list[int]] = [[] for _ in range(processors)]
        self.load = [0] * processors
        self.wide = [-1] * processors  # widest free gap per processor, -1 when unknown

    def find(self, p: int, lo: int, hi: int, d: int) -> int | None:
        """Earliest flush ``t`` in ``[lo, hi]`` with ``[t, t+d)`` free on ``p`` (modulo T).

        Flush: the slot starts where an arc ends or ends where an arc starts (any
        ``t`` on an empty processor), so that no gap too short to use is left.
        """
        if not self.starts[p]:
            return lo
        if self.widest(p) < d:
            return None
        ra = lo % self.T
        base = lo - ra
        top = hi - base
        for a, b in self._gaps_from(p, ra):
            if a > top:
                return None
            if b - a >= d:
                if a >= ra:
                    return base + a
                if b - d >= ra:
                    return base + b - d if b - d <= top else None
        return None

    def find_any(self, p: int, lo: int, hi: int, d: int) -> int | None:
        """Earliest ``t`` in ``[lo, hi]`` with ``[t, t+d)`` free on ``p``, flush or not."""
        if not self.starts[p]:
            return lo
        if self.widest(p) < d:
            return None
        ra = lo % self.T
        base = lo - ra
        top = hi - base
        for gap_start, b in self._gaps_from(p, ra):
            a = max(gap_start, ra)
            if a > top:
                return None
            if b - a >= d:
                return base + a
        return None

    def _gaps_from(self, p: int, ra: int) -> Iterator[tuple[int, int]]:
        """Free gaps ``(start, end)`` of ``p`` from the one holding offset ``ra``, one lap on.

        Coordinates are relative to the lap of ``ra``: the gap before it may start at a
        negative offset (a lap earlier), later gaps past ``T`` (a lap later).
        """
        gs = self.gap_starts[p]
        ge = self.gap_ends[p]
        g = len(gs)
        i = bisect_right(gs, ra) - 1  # -1: the last gap, a lap earlier
        idx, off = (g - 1, -self.T) if i < 0 else (i, 0)
        for _ in range(g + 1):
            yield gs[idx] + off, ge[idx] + off
            idx += 1
            if idx == g:
                idx, off = 0, off + self.T

    def widest(self, p: int) -> int:
        """The longest free gap on ``p`` (cached until ``p``'s table changes)."""
        w = self.wide[p]
        if w < 0:
            if not self.starts[p]:
                w = self.T
            else:
                w = max(
                    (b - a for a, b in zip(self.gap_starts[p], self.gap_ends[p], strict=True)),
                    default=0,
                )
            self.wide[p] = w
        return w

    def forced_options(self, p: int, lo: int, hi: int, d: int, count: int) -> list[tuple[int, int]]:
        """``(evicted work, t)`` for ``t = lo`` and ``count`` arc ends after it, up to ``hi``.

        The evicted work of ``t`` is the total duration of the arcs that
        ``[t, t+d)`` overlaps (modulo T), as :meth:`conflicts` finds them.
        """
        starts = self.starts[p]
        k = len(starts)
        if k == 0:
            return [(0, lo)]
        T = self.T
        ends = self.ends[p]
        ra = lo % T
        base = lo - ra
        top = hi - base
        j = bisect_right(starts, ra) - 1  # -1: the last arc, a lap earlier
        # Arcs unrolled: arc i (any integer) starts at starts[i % k] + (i // k) * T.
        first = j if ends[j % k] + (j // k) * T > ra else j + 1
        points = [(ra, first)]
        for i in range(j, j + min(k, count) + 1):
            e = ends[i % k] + (i // k) * T
            if e > top:
                break
            if e > ra:
                points.append((e, i + 1))
        out = []
        for c, a in points:
            cost = 0
            q = c + d
            for i in range(a, a + k):
                lap, idx = divmod(i, k)
                if starts[idx] + lap * T >= q:
                    break
                cost += ends[idx] - starts[idx]
            out.append((cost, base + c))
        return out

    def conflicts(self, p: int, t: int, d: int) -> list[int]:
        """Positions in ``p``'s table of the arcs that overlap ``[t, t+d)`` modulo T.

        The arcs are disjoint and sorted, so the ones hit form a circular run:
        the arc containing ``t`` (if any), then those starting before ``t + d``.
        """
        starts = self.starts[p]
        k = len(starts)
        if k == 0:
            return []
        T = self.T
        ends = self.ends[p]
        r = t % T
        q = r + d
        j = bisect_right(starts, r) - 1  # -1: the last arc, a lap earlier
        out = []
        if ends[j] - (T if j < 0 else 0) > r:
            out.append(j % k)
        for jj in range(j + 1, j + 1 + k):
            lap, idx = divmod(jj, k)
            if starts[idx] + lap * T >= q or idx in out:
                break
            out.append(idx)
        return out

    def add(self, p: int, t: int, d: int, v: int) -> None:
        """Occupy ``[t, t+d)`` on ``p`` with task ``v``; the slot must be free."""
        T = self.T
        r = t % T
        starts = self.starts[p]
        gs = self.gap_starts[p]
        ge = self.gap_ends[p]
        if not starts:
            if d < T:
                gs.append((r + d) % T)
                ge.append((r + d) % T + T - d)
        else:
            # Split the gap [a, b) that holds the slot.
            i = bisect_right(gs, r) - 1
            if i >= 0 and ge[i] >= r + d:
                a, b = gs[i], ge[i]
            else:
                i = len(gs) - 1
                a, b = gs[i] - T, ge[i] - T
            del gs[i], ge[i]
            for lo, hi in ((a, r), (r + d, b)):
                if hi > lo:
                    k = bisect_right(gs, lo % T)
                    gs.insert(k, lo % T)
                    ge.insert(k, lo % T + hi - lo)
        i = bisect_right(starts, r)
        starts.insert(i, r)
        self.ends[p].insert(i, r + d)
        self.owner[p].insert(i, v)
        self.load[p] += d
        self.wide[p] = -1

    def remove(self, p: int, t: int, d: int) -> None:
        """Free the arc ``[t, t+d)`` of ``p``."""
        T = self.T
        r = t % T
        starts = self.starts[p]
        i = bisect_right(starts, r) - 1
        del starts[i]
        del self.ends[p][i]
        del self.owner[p][i]
        self.load[p] -= d
        self.wide[p] = -1
        gs = self.gap_starts[p]
        ge = self.gap_ends[p]
        if not starts:
            gs.clear()
            ge.clear()
            return
        # Merge [r, r+d) with the gap ending at r and the gap starting at r+d, if any.
        a, b = r, r + d
        i = bisect_right(gs, r) - 1
        if gs:
            j, off = (len(gs) - 1, -T) if i < 0 else (i, 0)
            if ge[j] + off == r:
                a = gs[j] + off
                del gs[j], ge[j]
        k = bisect_right(gs, b % T) - 1
        if k >= 0 and gs[k] == b % T:
            b += ge[k] - gs[k]
            del gs[k], ge[k]
        k = bisect_right(gs, a % T)
        gs.insert(k, a % T)
        ge.insert(k, a % T + b - a)


def _heights(prob: _Problem, T: int, passes: int = 30) -> list[int]:
    """Rau's HeightR: longest path to the end, edge ``u -> v`` weighted ``d_u + c - w*T``.

    Relaxed in reverse topological order until stable; below the iteration
    bound (with communication) it would not converge, and ``passes`` caps it:
    the heights only order the tasks.
    """
    dur = prob.dur
    succs = prob.succs
    h = list(dur)
    order = prob.topo[::-1]
    for _ in range(passes):
        changed = False
        for v in order:
            dv = dur[v]
            best = dv
            for x, w, c in succs[v]:
                val = dv + c + h[x] - w * T
                if val > best:
                    best = val
            if best != h[v]:
                h[v] = best
                changed = True
        if not changed:
            break
    return h


def _attempt(
    prob: _Problem,
    T: int,
    rank: list[float],
    budget: int,
    coloc: tuple[list[int], list[int]],
    stats: dict | None = None,
    noise: tuple[random.Random, float] | None = None,
    fit: float = 0.0,
    flush: bool = True,
) -> tuple[list[int], list[int]] | None:
    """One iterative-modulo-scheduling attempt at period ``T``: (processor, start) or None.

    ``rank`` breaks ties between tasks of equal height; ``coloc`` are the groups
    of :func:`_colocation`. On failure ``stats`` (when given) receives
    ``unplaced``, the tasks left without a slot.
    """
    n = prob.n
    dur = prob.dur
    preds = prob.preds
    succs = prob.succs
    allowed = prob.allowed
    group, gproc = coloc[0], list(coloc[1])
    ngroups = len(gproc)
    gcount = [0] * ngroups
    pinned = [p >= 0 for p in gproc]
    # Unplaced work of each group, and per processor of the groups committed to it: a
    # processor keeps room for it, so that a group's first task does not fill what the
    # rest of the group needs.
    rem = [0] * ngroups
    for v in range(n):
        if group[v] >= 0:
            rem[group[v]] += dur[v]
    reserve = [0] * prob.processors
    for gi in range(ngroups):
        if pinned[gi]:
            reserve[gproc[gi]] += rem[gi]
    tables = _Tables(prob.processors, T)
    load = tables.load
    find = tables.find if flush else tables.find_any
    heights = _heights(prob, T)
    jitter = 0.0
    fit_window = fit * T
    if noise is not None:
        # Perturbed priorities and processor choices, for the improvement attempts.
        nrng, level = noise
        jitter = level * T
        heights = [h + nrng.random() * jitter for h in heights]
    start: list[int | None] = [None] * n
    proc = [-1] * n
    prev: list[int | None] = [None] * n
    heap = [(-heights[v], rank[v], v) for v in range(n)]
    heapq.heapify(heap)
    unscheduled = n

    def evict(x: int) -> None:
        nonlocal unscheduled
        tables.remove(proc[x], start[x], dur[x])  # type: ignore[arg-type]
        g = group[x]
        if g >= 0:
            px = proc[x]
            rem[g] += dur[x]
            reserve[px] += dur[x]
            gcount[g] -= 1
            if gcount[g] == 0 and not pinned[g]:
                reserve[px] -= rem[g]
                gproc[g] = -1
        start[x] = None
        proc[x] = -1
        unscheduled += 1
        heapq.heappush(heap, (-heights[x], rank[x], x))

    # Rau's budget, plus giving up early once the count of unplaced tasks stops improving.
    fewest = n
    stalled = 0
    stall_limit = min(STALL_RATIO * n, STALL_CAP)
    while unscheduled:
        _h, _r, v = heapq.heappop(heap)
        if start[v] is not None:
            continue
        if budget <= 0 or stalled > stall_limit:
            if stats is not None:
                stats["unplaced"] = [x for x in range(n) if start[x] is None]
            return None
        budget -= 1
        if unscheduled < fewest:
            fewest = unscheduled
            stalled = 0
        else:
            stalled += 1
        d = dur[v]
        # Earliest start per processor: comm is saved only for predecessors on the same
        # processor. e_all holds on a processor without any placed predecessor; est[p] on
        # one with some, from the largest time among the other processors' predecessors.
        by_p0: dict[int, int] = {}
        by_p1: dict[int, int] = {}
        for u, w, c in preds[v]:
            su = start[u]
            if su is None:
                continue
            t0 = su + dur[u] - w * T
            q = proc[u]
            if t0 > by_p0.get(q, _NEG):
                by_p0[q] = t0
            if t0 + c > by_p1.get(q, _NEG):
                by_p1[q] = t0 + c
        e_all = e_next = 0
        e_who = -1
        for q, t1 in by_p1.items():
            if t1 > e_all:
                e_all, e_next, e_who = t1, e_all, q
            elif t1 > e_next:
                e_next = t1
        est = {q: max(t0, e_next if q == e_who else e_all) for q, t0 in by_p0.items()}
        # Latest start per processor from placed successors (through loop edges), likewise.
        lby_p0: dict[int, int] = {}
        lby_p1: dict[int, int] = {}
        for x, w, c in succs[v]:
            sx = start[x]
            if sx is None:
                continue
            t0 = sx + w * T - d
            q = proc[x]
            if t0 < lby_p0.get(q, _POS):
                lby_p0[q] = t0
            if t0 - c < lby_p1.get(q, _POS):
                lby_p1[q] = t0 - c
        l_all = l_next = _POS
        l_who = -1
        for q, t1 in lby_p1.items():
            if t1 < l_all:
                l_all, l_next, l_who = t1, l_all, q
            elif t1 < l_next:
                l_next = t1
        lat = {q: min(t0, l_next if q == l_who else l_all) for q, t0 in lby_p0.items()}

        g = group[v]
        if g < 0:
            cands = allowed[v]
            need = d
        elif gproc[g] < 0:
            cands = allowed[v]
            need = rem[g]
        else:
            cands = (gproc[g],)
            need = 0  # already reserved
        slots = []
        for p in cands:
            if load[p] + reserve[p] + need > T:
                continue
            lo = est.get(p, e_all)
            hi = min(lo + T - 1, lat.get(p, l_all))
            if hi < lo:
                continue
            t = find(p, lo, hi, d)
            if t is not None:
                slots.append((t + nrng.random() * jitter if jitter else t, t, p))
        best = None
        if slots:
            # Among the slots starting soon after the earliest, the fullest processor (best fit).
            first = min(slots)[0]
            window = first + fit_window
            best = min((-load[p] - reserve[p], key, t, p) for key, t, p in slots if key <= window)
            _fill, _key, t, p = best
            victims: list[int] = []
        else:
            # Forced placement (Rau): within one window, and later than last time when
            # estart has not moved, so that the task makes progress; the position and
            # processor that evict the least work win.
            choice = None
            pv = prev[v]
            for p in cands:
                lo = est.get(p, e_all)
                if pv is not None and lo <= pv:
                    lo = pv + 1
                for cost, t in tables.forced_options(p, lo, lo + T - 1, d, FORCED_CANDIDATES):
                    end = t + d
                    for x, w, c in succs[v]:
                        sx = start[x]
                        if sx is not None and sx + w * T < end + (c if proc[x] != p else 0):
                            cost += dur[x]
                    key = (cost, t, p)
                    if choice is None or key < choice:
                        choice = key
            assert choice is not None
            _cost, t, p = choice
            owner = tables.owner[p]
            victims = [owner[i] for i in tables.conflicts(p, t, d)]
        for x in victims:
            evict(x)
        start[v] = t
        proc[v] = p
        prev[v] = t
        tables.add(p, t, d, v)
        if g >= 0:
            if gproc[g] < 0:
                gproc[g] = p
                reserve[p] += rem[g]
            gcount[g] += 1
            rem[g] -= d
            reserve[p] -= d
        unscheduled -= 1
        if best is None:
            end = t + d
            for x, w, c in succs[v]:
                sx = start[x]
                if sx is not None and sx + w * T < end + (c if proc[x] != p else 0):
                    evict(x)
    return proc, start  # type: ignore[return-value]


def _is_valid(prob: _Problem, T: int, proc: list[int], start: list[int]) -> bool:
    """DESIGN.md section 1 checked directly: precedences, then disjoint arcs per processor."""
    dur = prob.dur
    for u, v, w, c in prob.edges:
        if start[v] + w * T < start[u] + dur[u] + (c if proc[u] != proc[v] else 0):
            return False
    arcs: list[list[tuple[int, int]]] = [[] for _ in range(prob.processors)]
    for v in range(prob.n):
        if proc[v] not in prob.allowed[v] or dur[v] > T:
            return False
        arcs[proc[v]].append((start[v] % T, dur[v]))
    for lst in arcs:
        lst.sort()
        for (s1, d1), (s2, _d2) in zip(lst, lst[1:], strict=False):
            if s1 + d1 > s2:
                return False
        if len(lst) > 1 and lst[-1][0] + lst[-1][1] > lst[0][0] + T:
            return False
    return True


def _fallback(prob: _Problem) -> tuple[int, list[int], list[int]]:
    """All tasks one after another in a topological order; ``T`` = their span.

    On one processor (the pinned one, if any) the span is ``sum(d_v)`` and every
    edge of positive distance holds because a whole iteration fits in one
    period. When pinned tasks force several processors, each task also waits
    for its largest outgoing communication, so that every edge holds likewise.
    """
    pinned = {a[0] for a in prob.allowed if len(a) == 1}
    several = len(pinned) > 1
    home = min(pinned) if pinned else 0
    proc = [a[0] if len(a) == 1 else home for a in prob.allowed]
    start = [0] * prob.n
    t = 0
    for v in prob.topo:
        start[v] = t
        t += prob.dur[v]
        if several:
            t += max((c for _x, _w, c in prob.succs[v]), default=0)
    return max(t, 1), proc, start


def _colocation_floor(prob: _Problem, lo: int, hi: int) -> int:
    """The least ``T`` in ``[lo, hi]`` whose forced co-location groups fit (monotone in ``T``)."""
    if not prob.ties or _colocation(prob, lo) is not None:
        return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _colocation(prob, mid) is None:
            lo = mid
        else:
            hi = mid
    return hi


def _rebalanced(
    prob: _Problem, proc: list[int], target: int, group: list[int] | None = None
) -> list[int] | None:
    """Processors of ``proc`` after local moves that bring every load to ``target`` or below.

    Items are the co-location groups (``group[v]``, ``-1`` for a task on its
    own; see :func:`_colocation`), which move as a whole. While a processor is
    over ``target``, the cheapest of these changes is made: move one of its
    items to a processor with room, or swap one of its items with a shorter
    item of another processor that then still has room. Cheapest is the least
    communication cost added on the items' edges, then the least work moved.
    A group that ``proc`` splits first joins the processor holding most of
    its work. ``None`` when no change helps.
    """
    d, n, processors = prob.dur, prob.n, prob.processors
    key = [v if group is None or group[v] < 0 else n + group[v] for v in range(n)]
    members: dict[int, list[int]] = {}
    for v in range(n):
        members.setdefault(key[v], []).append(v)
    items = list(members.values())
    item_of = [0] * n
    for i, vs in enumerate(items):
        for v in vs:
            item_of[v] = i
    size = [sum(d[v] for v in vs) for vs in items]
    where = []
    for vs in items:  # a group split by proc joins the processor with most of its work
        work: dict[int, int] = {}
        for v in vs:
            work[proc[v]] = work.get(proc[v], 0) + d[v]
        where.append(max(work, key=lambda p: (work[p], -p)))
    near: list[dict[int, int]] = [{} for _ in items]  # item -> {other item: comm}
    for u, v, _w, c in prob.edges:
        a, b = item_of[u], item_of[v]
        if a != b:
            near[a][b] = near[a].get(b, 0) + c
            near[b][a] = near[b].get(a, 0) + c
    load = [0] * processors
    for i, p in enumerate(where):
        load[p] += size[i]

    def cost(i: int, q: int, away: int = -1) -> int:
        """Comm added by moving item i to q (``away``: an item leaving q meanwhile)."""
        now = sum(c for j, c in near[i].items() if where[j] != where[i])
        then = sum(c for j, c in near[i].items() if (where[i] if j == away else where[j]) != q)
        return then - now

    for _ in range(len(items) * processors):
        p = max(range(processors), key=load.__getitem__)
        if load[p] <= target:
            return [where[item_of[v]] for v in range(n)]
        mine = [i for i in range(len(items)) if where[i] == p]
        best: tuple[int, int, int, int] | None = None  # (cost, work moved, i, j or -1-q)
        for i in mine:
            for q in range(processors):
                if q != p and load[q] + size[i] <= target:
                    option = (cost(i, q), size[i], i, -1 - q)
                    best = option if best is None or option < best else best
        if best is None:
            for i in mine:
                for j in range(len(items)):
                    q = where[j]
                    if q != p and size[j] < size[i] and load[q] + size[i] - size[j] <= target:
                        option = (cost(i, q, j) + cost(j, p, i), size[i] - size[j], i, j)
                        best = option if best is None or option < best else best
        if best is None:
            return None
        _c, _m, i, other = best
        if other < 0:
            q = -1 - other
        else:
            q = where[other]
            where[other] = p
            load[p] += size[other]
            load[q] -= size[other]
        where[i] = q
        load[p] -= size[i]
        load[q] += size[i]
    return None


def _rebalance(
    graph: TaskGraph,
    prob: _Problem,
    best: tuple[int, list[int], list[int]],
    floor: int,
    seed: int,
    deadline: float | None = None,
) -> tuple[int, list[int], list[int]]:
    """Lower the period by rebalancing processor loads, then rescheduling with them fixed.

    Near the resource bound the period is often the largest load: the search
    packed the circles unevenly. For ``target = T - 1, T - 2, ...`` the loads
    are brought down by :func:`_rebalanced`, moving the co-location groups of
    ``target`` whole (an edge that cannot cross processors at ``target`` is
    never cut), and the start times are found again by :func:`modulo_schedule`
    with the processors fixed; it stops at the first target that fails, at
    ``floor``, or once ``deadline`` (a :func:`time.perf_counter` value) has passed.
    """
    names = [t.name for t in graph.tasks]
    proc = best[1]
    while best[0] > floor and (deadline is None or time.perf_counter() < deadline):
        target = best[0] - 1
        coloc = _colocation(prob, target)
        if coloc is None:
            break
        moved = _rebalanced(prob, proc, target, coloc[0])
        if moved is None:
            break
        proc = moved
        sched = modulo_schedule(
            graph,
            prob.processors,
            lower_bound=floor,
            seed=seed,
            time_limit=0,
            fixed_processor=dict(zip(names, proc, strict=True)),
        )
        if sched.period >= best[0]:
            break
        best = (sched.period, [sched.processor[v] for v in names], [sched.start[v] for v in names])
        proc = best[1]
    return best


def _refined(
    graph: TaskGraph, processors: int, lower_bound: int, seed: int, time_limit: float | None
) -> Schedule | None:
    """The schedule of the next coarser decomposition, refined into ``graph`` (if any).

    A LayerPipe graph is coarsened to ``intra``, an ``intra`` graph to
    ``pipedream`` (:func:`lpsched.coarsen.coarsen`); the coarse graph is
    scheduled by :func:`modulo_schedule`, which coarsens it in turn, and the
    schedule refined (:func:`lpsched.coarsen.refine`). Fewer, longer tasks pack
    differently: on ResNet-18, 4 processors, this reaches the bound 1726 that
    the fine search misses (1755). With a time limit the coarse search makes no
    improvement attempts.
    """
    from ..coarsen import COARSER, coarsen, refine

    for decomposition in COARSER:
        coarsening = coarsen(graph, decomposition)
        if coarsening is not None:
            sched = modulo_schedule(
                coarsening.graph,
                processors,
                lower_bound=lower_bound,
                seed=seed,
                time_limit=None if time_limit is None else 0,
            )
            return refine(sched, graph, coarsening)
    return None


def _staged(graph: TaskGraph, processors: int, lower_bound: int, seed: int) -> Schedule | None:
    """The PipeDream planner's stages with start times by :func:`modulo_schedule`, if 2+ stages."""
    from .pipedream import plan_stages

    plan = plan_stages(graph, processors)
    if len(plan.stages) < 2:
        return None
    stage_of = {name: k for k, stage in enumerate(plan.stages) for name in stage}
    fixed = {t.name: stage_of[t.layer or t.name] for t in graph.tasks}
    return modulo_schedule(
        graph, processors, lower_bound=lower_bound, seed=seed, time_limit=0, fixed_processor=fixed
    )


def modulo_schedule(
    graph: TaskGraph,
    processors: int,
    *,
    lower_bound: int | None = None,
    seed: int = 0,
    time_limit: float | None = None,
    fixed_processor: Mapping[str, int] | None = None,
) -> Schedule:
    """Schedule ``graph`` periodically on ``processors`` processors by iterative modulo scheduling.

    Parameters
    ----------
    graph
        The task graph. With ``graph.staleness_cap`` set, the weight edges carry
        the cap as distance and the schedule is valid at the cap; lowering the
        staleness afterwards is the caller's business
        (:func:`lpsched.solve.least_staleness`).
    processors
        Number of identical processors ``P >= 1``.
    lower_bound
        A lower bound on the period (e.g. :attr:`lpsched.bounds.Bounds.lower_bound`);
        computed when ``None``. The search starts there and stops when it is met.
    seed
        Seed of the tie-breaks between tasks of equal height. Without a
        ``time_limit`` the result is a function of the graph, ``processors`` and
        the seed; with one, of how many improvement attempts fit in it too.
    time_limit
        Seconds after which no new improvement attempt starts (the search for a
        first schedule always completes); without one a fixed number
        (:data:`IMPROVEMENT_WORK` / tasks, within :data:`IMPROVEMENT_ATTEMPTS`) is made.
    fixed_processor
        Task name -> processor for the tasks whose processor is fixed (the
        PipeDream planner pins whole stages).

    Returns
    -------
    Schedule
        A schedule satisfying every precedence and resource constraint of
        DESIGN.md section 1 (checked before returning), starts shifted so that
        the earliest is 0.

    Raises
    ------
    InputError
        When ``processors < 1``, or a fixed processor is out of range or names
        an unknown task.
    """
    if isinstance(processors, bool) or not isinstance(processors, int) or processors < 1:
        raise InputError(f"processors must be a positive integer, got {processors!r}")
    t_begin = time.perf_counter()
    prob = _Problem.build(graph, processors, fixed_processor)
    if lower_bound is None:
        from ..bounds import lower_bounds

        lower_bound = lower_bounds(graph, processors).lower_bound
    best: tuple[int, list[int], list[int]] = _fallback(prob)
    floor = min(max(int(lower_bound), prob.min_period), best[0])
    floor = _colocation_floor(prob, floor, best[0])
    # The coarser decomposition's schedule, refined; the search below runs as if it did
    # not exist (taking it as the incumbent changes its path, often for the worse) unless
    # it already meets the floor.
    coarse: tuple[int, list[int], list[int]] | None = None
    if fixed_processor is None and processors > 1:
        refined = _refined(graph, processors, floor, seed, time_limit)
        if refined is not None and refined.period < best[0]:
            proc = [refined.processor[t.name] for t in graph.tasks]
            start = [refined.start[t.name] for t in graph.tasks]
            if _is_valid(prob, refined.period, proc, start):  # as lpsched.coarsen proves
                coarse = (refined.period, proc, start)
                if coarse[0] <= floor:
                    best = coarse
    rng = random.Random(seed)

    def ranks() -> list[float]:
        return [rng.random() for _ in range(prob.n)]

    budget = BUDGET_RATIO * prob.n
    shortfall = [0]

    def attempt(
        T: int, rank: list[float], noise: float = 0.0, fit: float = FIT_WINDOW, flush: bool = True
    ) -> bool:
        nonlocal best
        if T >= best[0]:
            return True
        shortfall[0] = sum(prob.dur)
        tried = []
        for cohesion in COHESION:
            coloc = _colocation(prob, T, cohesion)
            if coloc is None or coloc in tried:
                continue  # infeasible groups, or the same as a level already tried
            tried.append(coloc)
            stats: dict = {}
            got = _attempt(
                prob, T, rank, budget, coloc, stats, (rng, noise) if noise else None, fit, flush
            )
            if got is None:
                unplaced = sum(prob.dur[x] for x in stats["unplaced"])
                shortfall[0] = min(shortfall[0], unplaced)
                continue
            if not _is_valid(prob, T, *got):  # never expected; the fallback stays then
                continue
            best = (T, *got)
            return True
        return False

    # Raise T from the floor: by one (or 0.1% of the floor, in fine time units), then by
    # steps that double from 0.25% of the floor, and at least by the work left unplaced
    # spread over the processors (up to 4 steps).
    rank = ranks()
    tol = max(1, floor // 1000)
    step = max(1, floor // 400)
    last_fail = floor - 1
    if not attempt(floor, rank):
        last_fail = floor
        if fixed_processor is None and processors > 1:
            # The PipeDream layout (contiguous stages of whole layers) is a schedule too:
            # where communication dominates it can beat the free search, which it bounds.
            staged = _staged(graph, processors, floor, seed)
            if staged is not None and staged.period < best[0]:
                best = (
                    staged.period,
                    [staged.processor[t.name] for t in graph.tasks],
                    [staged.start[t.name] for t in graph.tasks],
                )
        T = floor + tol
        while T < best[0]:
            if attempt(T, rank):
                break
            spread = math.ceil(shortfall[0] / processors)
            last_fail = T
            T += max(step, min(spread, 4 * step))
            step *= 2
    # Binary search back down between the last failure and the success.
    lo, hi = last_fail, best[0]
    while hi - lo > tol:
        mid = (lo + hi) // 2
        if attempt(mid, rank):
            hi = best[0]
        else:
            lo = mid
    deadline = None if time_limit is None else t_begin + time_limit
    if fixed_processor is None and processors > 1:
        best = _rebalance(graph, prob, best, floor, seed, deadline)
    # Improvement: a bisection between the floor and the best period with perturbed
    # priorities and processor choices (several attempts per period near the end).
    fewest, most = IMPROVEMENT_ATTEMPTS
    attempts = max(fewest, min(most, IMPROVEMENT_WORK // prob.n))
    lo = floor - 1
    tries = 0
    while best[0] > floor:
        if deadline is None:
            if tries >= attempts:
                break
        elif time.perf_counter() >= deadline:
            break
        target = (lo + best[0]) // 2 if best[0] - lo > 2 * tol else best[0] - tol
        noise, fit, flush = VARIANTS[tries % len(VARIANTS)]
        if not attempt(max(floor, target), ranks(), noise, fit, flush):
            lo = max(lo, target)
        tries += 1
    if coarse is not None and coarse[0] < best[0]:
        best = _rebalance(graph, prob, coarse, floor, seed, deadline)
    T, proc, start = best
    lo_start = min(start)
    return Schedule(
        graph=graph,
        platform=processors,
        period=T,
        processor={t.name: proc[i] for i, t in enumerate(graph.tasks)},
        start={t.name: start[i] - lo_start for i, t in enumerate(graph.tasks)},
    )
