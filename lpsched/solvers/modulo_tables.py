"""Modulo reservation tables: one circle of length ``T`` per processor, with its occupied arcs.

The iterative modulo scheduler (:mod:`lpsched.solvers.heuristic`) keeps one
table per processor. A task of duration ``d`` (its duration on that
processor) started at ``t`` occupies the arc ``[t, t + d)`` modulo ``T``; the
tables answer where a task fits (flush against an occupied arc or anywhere),
what a forced placement would evict, and keep the free gaps sorted so that a
slot search walks gaps, not arcs.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator


class ReservationTables:
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


class PortTables:
    """Modulo reservation tables of the link ports (``capacity: ports``), two per transfer.

    Every processor has an out-port and an in-port per link class (``0``:
    ``intra``, ``1``: ``inter``), each a circle of length ``T`` like a
    processor's (:class:`ReservationTables`). A transfer from ``p`` to ``q`` of
    class ``c`` and duration ``tau`` occupies ``[t, t + tau)`` modulo ``T`` on
    the out-port of ``p`` and the in-port of ``q`` (``formulations/README.md``,
    (P7)); a transfer of duration 0 occupies nothing.
    """

    def __init__(self, processors: int, period: int) -> None:
        self.T = period
        self.tables = ReservationTables(4 * processors, period)

    @staticmethod
    def ports(p: int, q: int, cls: int) -> tuple[int, int]:
        """The table indices of the out-port of ``p`` and the in-port of ``q`` of class ``cls``."""
        return 4 * p + cls, 4 * q + 2 + cls

    def find(self, p: int, q: int, cls: int, lo: int, hi: int, tau: int) -> int | None:
        """Earliest ``t`` in ``[lo, hi]`` with ``[t, t + tau)`` free on both ports (modulo T).

        Each port's earliest free start is taken in turn until they agree: the
        candidate only grows, and one lap (``hi < lo + T``) bounds it.
        """
        if tau > self.T or hi < lo:
            return None
        if tau == 0:
            return lo
        a, b = self.ports(p, q, cls)
        t = lo
        while True:
            ta = self.tables.find_any(a, t, hi, tau)
            if ta is None:
                return None
            tb = self.tables.find_any(b, ta, hi, tau)
            if tb is None:
                return None
            if tb == ta:
                return ta
            t = tb

    def add(self, p: int, q: int, cls: int, t: int, tau: int, owner: int) -> None:
        """Occupy both ports with a transfer (``owner`` names it); the slot must be free."""
        if tau > 0:
            a, b = self.ports(p, q, cls)
            self.tables.add(a, t, tau, owner)
            self.tables.add(b, t, tau, owner)

    def remove(self, p: int, q: int, cls: int, t: int, tau: int) -> None:
        """Free both ports of a transfer added with :meth:`add`."""
        if tau > 0:
            a, b = self.ports(p, q, cls)
            self.tables.remove(a, t, tau)
            self.tables.remove(b, t, tau)
