"""A brute force for the least period of tiny instances, and a generator of them.

It shares nothing with the solvers or the bounds: it enumerates processor
assignments (up to renaming when the processors are identical) and start
offsets, and decides the stages by a longest-path test. Durations on each
processor and the cost of each edge between two processors are computed here
from the platform, by the rules of ``formulations/README.md``.

Under ``capacity: ports`` (``formulations/README.md``, "Link ports", (P5)-(P7))
every tensor that crosses gets one transfer per destination processor, with an
offset modulo ``T`` and a stage of its own: transfers on one port are disjoint
modulo ``T``, and (P5)-(P6) are difference constraints on the stages, decided
with the tasks' by the same longest-path test.

With finite memories (``formulations/README.md``, "Memory", (P8)) a candidate
is kept only when every processor's footprint fits; the footprint is
recounted here (:func:`brute_footprints`) from the rule, not taken from
``lpsched.footprint``. Stages then matter (a lifetime spans stages), so they
are enumerated within the tensions that memory allows, every transfer gets an
offset of its own, and an ``auto`` layer's staleness is enumerated over
``1..cap`` (more staleness keeps more weight versions).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from fractions import Fraction
from typing import NamedTuple

from hypothesis import strategies as st

from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform, Processor
from lpsched.schedule import Schedule, Transfer


# ------------------------------------------------------------------ brute force
def _assignments(n: int, P: int):
    """Processor assignments up to renaming (restricted growth strings)."""

    def grow(prefix: list[int], used: int):
        if len(prefix) == n:
            yield list(prefix)
            return
        for p in range(min(used + 1, P)):
            prefix.append(p)
            yield from grow(prefix, max(used, p + 1))
            prefix.pop()

    yield from grow([], 0)


def _stages(n: int, need: list[tuple[int, int, int]]) -> list[int] | None:
    """Integers k with k_v - k_u >= c for every (u, v, c), or None: a positive cycle.

    Bellman-Ford from a virtual source joined to every node by 0.
    """
    dist = [0] * n
    for _ in range(n + 1):
        changed = False
        for u, v, c in need:
            if dist[u] + c > dist[v]:
                dist[v] = dist[u] + c
                changed = True
        if not changed:
            return dist
    return None


def _offsets_exist(
    proc: list[int], dp: list[list[int]], edges: list, T: int, leaf: _Leaf | None = None
) -> list[int] | None:
    """Starts with disjoint arcs per processor and stages for every edge, or None.

    ``leaf(need, r, [])`` picks the stages when memory is finite (else the
    least stages of the longest-path test).
    """
    n = len(dp)
    d = [dp[v][proc[v]] for v in range(n)]
    r = [0] * n

    def disjoint(v: int) -> bool:
        for u in range(v):
            if proc[u] == proc[v]:
                if (r[v] - r[u]) % T < d[u] or (r[u] - r[v]) % T < d[v]:
                    return False
        return True

    def place(v: int) -> list[int] | None:
        if v == n:
            need = [
                (u, w, math.ceil((r[u] + d[u] + c[proc[u]][proc[w]] - r[w]) / T) - dist)
                for u, w, dist, c in edges
            ]
            k = _stages(n, need) if leaf is None else leaf(need, r, [])
            return None if k is None else [r[x] + k[x] * T for x in range(n)]
        # Shifting every start by one constant changes nothing: task 0 starts at 0.
        for t in range(1 if v == 0 else T):
            r[v] = t
            if disjoint(v):
                found = place(v + 1)
                if found is not None:
                    return found
        return None

    return place(0)


def _cost(e: Edge, link: Link, unit: float) -> int:
    if e.comm is not None:
        return e.comm
    if e.bytes == 0:
        return 0
    x = (link.latency + e.bytes / link.bandwidth) / unit
    return math.ceil(x - 1e-9 * x)


def _tables(graph: TaskGraph, platform: Platform) -> tuple[list[list[int]], list]:
    """Durations ``dp[v][p]`` and edges ``(u, v, distance, c[p][q])``."""
    P = platform.P
    dp = [
        [math.ceil(Fraction(t.duration) / Fraction(repr(q.speed))) for q in platform.processors]
        for t in graph.tasks
    ]
    unit = graph.time_unit_seconds or 1.0
    nodes = [q.node for q in platform.processors]
    idx = {t.name: i for i, t in enumerate(graph.tasks)}
    edges = []
    for e in graph.edges:
        c = [
            [
                0
                if p == q
                else _cost(e, platform.intra if nodes[p] == nodes[q] else platform.inter, unit)
                for q in range(P)
            ]
            for p in range(P)
        ]
        edges.append((idx[e.src], idx[e.dst], e, c))
    return dp, edges


def _choices(
    n: int,
    platform: Platform,
    dp: list[list[int]],
    T: int,
    graph: TaskGraph | None = None,
    placement: str = "free",
) -> Iterator[list[int]]:
    """Assignments whose processor loads fit in ``T`` (up to renaming on identical ones).

    Under ``placement`` ``layer`` or ``stages`` only those that keep it (:func:`keeps`).
    """
    P = platform.P
    identical = len(set(platform.processors)) == 1 and platform.nodes == 1
    choices = _assignments(n, P) if identical else itertools.product(range(P), repeat=n)
    for proc in choices:
        proc = list(proc)
        if placement != "free" and not keeps(graph, proc, placement):
            continue
        loads = [0] * P
        for v in range(n):
            loads[proc[v]] += dp[v][proc[v]]
        if max(loads) <= T:
            yield proc


def keeps(graph: TaskGraph, proc: list[int], placement: str) -> bool:
    """Whether the processors ``proc`` (by task index) keep ``placement``, recounted here.

    ``layer``: the tasks of one layer (a task without one is its own) share a
    processor; ``stages``: also, walking the layers in order of first
    appearance, a processor once left is never met again.
    """
    where: dict[str, int] = {}
    for t, p in zip(graph.tasks, proc, strict=True):
        key = f"L:{t.layer}" if t.layer else f"T:{t.name}"
        if where.setdefault(key, p) != p:
            return False
    if placement == "layer":
        return True
    seen: list[int] = []
    for p in where.values():  # dicts keep first appearance
        if seen and seen[-1] == p:
            continue
        if p in seen:
            return False
        seen.append(p)
    return True


#: Picks the stages of a candidate: ``leaf(need, r, o) -> k`` (None: none fits).
_Leaf = Callable[[list, list[int], list[int]], list[int] | None]


def _finite(platform: Platform) -> bool:
    """Whether some processor has a memory capacity."""
    return any(p.memory is not None for p in platform.processors)


def _feasible(
    graph: TaskGraph, platform: Platform, T: int, distance: dict[int, int], placement: str = "free"
) -> Schedule | None:
    """A schedule of period ``T`` with these distances, or None when there is none."""
    dp, raw = _tables(graph, platform)
    n = len(dp)
    if any(min(row) > T for row in dp):
        return None
    if platform.capacity == "ports":
        return _feasible_ports(graph, platform, T, distance, placement)
    edges = [(u, v, distance[i], c) for i, (u, v, _e, c) in enumerate(raw)]
    for proc in _choices(n, platform, dp, T, graph, placement):
        leaf = None
        if _finite(platform):
            d = [dp[v][proc[v]] for v in range(n)]
            leaf = _memory_leaf(graph, platform, T, proc, d, distance, [])
        starts = _offsets_exist(proc, dp, edges, T, leaf)
        if starts is not None:
            return _schedule(graph, platform, T, proc, starts, (), distance)
    return None


def _schedule(
    graph: TaskGraph,
    platform: Platform,
    T: int,
    proc: list[int],
    starts: list[int],
    transfers: tuple[Transfer, ...],
    distance: dict[int, int],
) -> Schedule:
    """The schedule of these starts; its graph has the distances used (no cap)."""
    names = [t.name for t in graph.tasks]
    edges = tuple(replace(e, distance=distance[i]) for i, e in enumerate(graph.edges))
    return Schedule(
        replace(graph, edges=edges, staleness_cap=None),
        platform,
        T,
        dict(zip(names, proc, strict=True)),
        dict(zip(names, starts, strict=True)),
        transfers=transfers,
    )


def _distances(graph: TaskGraph) -> dict[int, int]:
    """Each edge's distance; auto layers take the cap (more never hurts)."""
    distance = {}
    for i, e in enumerate(graph.edges):
        auto = graph.staleness_cap is not None and e.weights is not None
        distance[i] = graph.staleness_cap if auto else e.distance
    return distance


def _distance_choices(graph: TaskGraph, platform: Platform) -> list[dict[int, int]]:
    """The distances to try: the cap, or with finite memory every layer's ``1..cap``.

    With memory more staleness keeps more weight versions, so it may hurt; one
    staleness per layer, as :meth:`TaskGraph.with_staleness` gives.
    """
    base = _distances(graph)
    if graph.staleness_cap is None or not _finite(platform):
        return [base]
    layers = sorted({e.weights for e in graph.edges if e.weights is not None})
    out = []
    for pick in itertools.product(range(1, graph.staleness_cap + 1), repeat=len(layers)):
        s = dict(zip(layers, pick, strict=True))
        out.append(
            {
                i: s[e.weights] if e.weights is not None else base[i]
                for i, e in enumerate(graph.edges)
            }
        )
    return out


def brute_force_period(
    graph: TaskGraph, platform: Platform | int, limit: int | None = None, placement: str = "free"
) -> int | None:
    """The least period by enumeration, or None when no period up to ``limit`` fits.

    ``limit`` defaults to the least total work of one processor, where one
    processor running everything is always feasible without memory limits;
    with finite memories None means that no schedule of period at most
    ``limit`` fits (:func:`brute_force_schedule` gives the witness).
    """
    found = brute_force_schedule(graph, platform, limit, placement)
    return None if found is None else found.period


def brute_force_schedule(
    graph: TaskGraph, platform: Platform | int, limit: int | None = None, placement: str = "free"
) -> Schedule | None:
    """A schedule of the least period (the validator must accept it), or None.

    Auto layers take the cap without memory limits (more never hurts), and
    every staleness ``1..cap`` per layer with them; the graph the schedule
    embeds has the distances used. None only when memory rules out every
    period up to ``limit`` (see :func:`brute_force_period`). ``placement``
    (``free``, ``layer`` or ``stages``) keeps only the processor assignments
    that keep it (:func:`keeps`); the schedule carries it, so the validator
    checks it too.
    """
    if not isinstance(platform, Platform):
        platform = Platform.default(platform)
    choices = _distance_choices(graph, platform)
    dp, _ = _tables(graph, platform)
    lb = max(min(row) for row in dp)
    top = min(sum(dp[v][p] for v in range(len(dp))) for p in range(platform.P))
    for T in range(lb, (top if limit is None else limit) + 1):
        for distance in choices:
            found = _feasible(graph, platform, T, distance, placement)
            if found is not None:
                return replace(found, placement=placement)
    if not _finite(platform) and (limit is None or limit >= top):
        raise AssertionError("one processor at T = its total work is always feasible")
    return None


# ------------------------------------------------------------------ memory (P8)
def _tensor_name(e: Edge, i: int) -> str:
    return e.tensor if e.tensor is not None else f"e{i}:{e.src}->{e.dst}"


def _tensor_groups(graph: TaskGraph) -> dict[tuple[int, str], list[int]]:
    """Every edge grouped by (producer, tensor name): one tensor each, bytes = max."""
    idx = {t.name: i for i, t in enumerate(graph.tasks)}
    groups: dict[tuple[int, str], list[int]] = {}
    for i, e in enumerate(graph.edges):
        groups.setdefault((idx[e.src], _tensor_name(e, i)), []).append(i)
    return groups


def brute_footprints(
    graph: TaskGraph,
    platform: Platform,
    T: int,
    proc: list[int],
    start: list[int],
    distance: dict[int, int],
    sends: dict[tuple[int, str, int], tuple[int, int]],
) -> list[float]:
    """Bytes each processor holds, recounted from the rule of (P8).

    ``sends[(u, name, q)] = (start, duration)`` are the transfers under
    ``capacity: ports``; without one, a send starts when the producer ends and
    lasts the edge's cost (P0b).
    """
    dp, raw = _tables(graph, platform)
    n = len(dp)
    d = [dp[v][proc[v]] for v in range(n)]
    total = [0.0] * platform.P
    for (u, name), es in _tensor_groups(graph).items():
        nbytes = max(graph.edges[i].bytes for i in es)
        p, end = proc[u], start[u] + d[u]
        held = {p: [start[u], end]}
        for i in es:
            v = raw[i][1]
            q = proc[v]
            done = start[v] + distance[i] * T + d[v]
            if q == p:
                held[p][1] = max(held[p][1], done)
                continue
            t, tau = sends.get((u, name, q), (end, raw[i][3][p][q]))
            held[p][1] = max(held[p][1], t + tau)
            lo, hi = held.get(q, [t, done])
            held[q] = [min(lo, t), max(hi, done)]
        for q, (lo, hi) in held.items():
            total[q] += nbytes * math.ceil((hi - lo) / T)
    optimizer: dict[int, float] = {}
    for e in graph.edges:
        if e.weights is not None:
            u = graph.index(e.src)
            optimizer[u] = max(optimizer.get(u, 0.0), platform.optimizer_state * e.bytes)
    for u, nbytes in optimizer.items():
        total[proc[u]] += nbytes
    return total


def _memory_edges(
    graph: TaskGraph,
    T: int,
    proc: list[int],
    d: list[int],
    distance: dict[int, int],
    r: list[int],
    o: list[int],
    xs: list[_Transfer],
) -> list[tuple[int, int, int, int, int]]:
    """``(x, y, a, holder, bytes)``: a residency on ``holder`` has ``>= k_y - k_x + a`` copies.

    Nodes are tasks, then transfers (``n + j``, offset ``o[j]``); ``r`` the
    task offsets. Each such pair also has a stage constraint (an edge, (P5) or
    (P6)), so its tension is bounded below.
    """
    n = len(d)
    node = {(x.u, x.name, x.dst): j for j, x in enumerate(xs)}
    out = []
    for (u, name), es in _tensor_groups(graph).items():
        b = max(graph.edges[i].bytes for i in es)
        p = proc[u]
        for i in es:
            v = graph.index(graph.edges[i].dst)
            q, w = proc[v], distance[i]
            if q == p:
                out.append((u, v, w + math.ceil((r[v] + d[v] - r[u]) / T), p, b))
            elif (u, name, q) in node:
                j = node[(u, name, q)]
                out.append((n + j, v, w + math.ceil((r[v] + d[v] - o[j]) / T), q, b))
                out.append((u, n + j, math.ceil((o[j] + xs[j].tau - r[u]) / T), p, b))
            else:
                out.append((u, v, w + math.ceil((r[v] + d[v] - r[u] - d[u]) / T), q, b))
    return out


def _memory_leaf(
    graph: TaskGraph,
    platform: Platform,
    T: int,
    proc: list[int],
    d: list[int],
    distance: dict[int, int],
    xs: list[_Transfer],
) -> _Leaf:
    """Stages whose footprints fit every memory, for offsets ``r`` (tasks) and ``o`` (transfers)."""
    n = len(d)
    mem = [p.memory for p in platform.processors]

    def leaf(need: list, r: list[int], o: list[int]) -> list[int] | None:
        def fits(k: list[int]) -> bool:
            starts = [r[v] + k[v] * T for v in range(n)]
            sends = {(x.u, x.name, x.dst): (o[j] + k[n + j] * T, x.tau) for j, x in enumerate(xs)}
            used = brute_footprints(graph, platform, T, proc, starts, distance, sends)
            return all(m is None or f <= m for f, m in zip(used, mem, strict=True))

        medges = _memory_edges(graph, T, proc, d, distance, r, o, xs)
        return _memory_stages(n + len(xs), need, medges, mem, fits)

    return leaf


def _memory_stages(
    nn: int,
    need: list[tuple[int, int, int]],
    medges: list[tuple[int, int, int, int, int]],
    mem: list[float | None],
    fits: Callable[[list[int]], bool],
) -> list[int] | None:
    """Stages meeting ``need`` whose footprint ``fits``, or None.

    A residency term ``k_y - k_x + a`` times its bytes is at most the memory
    of its holder, so every memory-feasible stage vector has each such tension
    in ``[c, floor(M / b) - a]`` (``c`` from ``need``). The tensions of a
    spanning forest of these pairs are enumerated; the rest of the stages
    (pairs that memory does not see) follow from the longest-path test.
    """
    rng: dict[tuple[int, int], list[float]] = {}
    for x, y, a, h, b in medges:
        if b <= 0 or mem[h] is None or x == y:
            continue
        cap = math.floor(mem[h] / b) - a
        lo, hi = (x, y), [-math.inf, cap]
        if x > y:
            lo, hi = (y, x), [-cap, math.inf]
        cur = rng.setdefault(lo, [-math.inf, math.inf])
        cur[0], cur[1] = max(cur[0], hi[0]), min(cur[1], hi[1])
    for x, y, c in need:
        key, lo = ((x, y), c) if x < y else ((y, x), None)
        if key in rng:
            if lo is not None:
                rng[key][0] = max(rng[key][0], lo)
            else:
                rng[key][1] = min(rng[key][1], -c)
    if any(lo > hi for lo, hi in rng.values()):
        return None
    # Every memory-feasible solution meets the caps: add them to the test.
    base = list(need)
    for (x, y), (lo, hi) in rng.items():
        base += [(x, y, int(lo)), (y, x, -int(hi))]
    tree = _forest(nn, list(rng))
    spans = []
    for x, y in tree:
        lo, hi = rng[(x, y)]
        assert lo > -math.inf, "every memory term has a stage constraint"
        spans.append(range(int(lo), int(hi) + 1))
    for pick in itertools.product(*spans):
        fixed = [(x, y, t) for (x, y), t in zip(tree, pick, strict=True)]
        fixed += [(y, x, -t) for (x, y), t in zip(tree, pick, strict=True)]
        k = _stages(nn, base + fixed)
        if k is not None and fits(k):
            return k
    return None


def _forest(nn: int, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A spanning forest of the pairs (union-find), as pairs ``(x, y)``, ``x < y``."""
    parent = list(range(nn))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    out = []
    for x, y in pairs:
        a, b = find(x), find(y)
        if a != b:
            parent[a] = b
            out.append((x, y))
    return out


# ------------------------------------------------------------ ports (P5)-(P7)
class _Transfer(NamedTuple):
    """One transfer of an assignment: tensor ``name`` of task ``u`` from ``src`` to ``dst``."""

    u: int
    tau: int
    arrive: int  # tau + latency
    ports: tuple[tuple[int, str, str], ...]
    readers: list[tuple[int, int]]  # (task, distance)
    name: str
    src: int
    dst: int


def _units(seconds: float, unit: float) -> int:
    """Whole time units of ``seconds``, rounded up (0 for no time)."""
    if seconds == 0:
        return 0
    x = seconds / unit
    return math.ceil(x - 1e-9 * x)


def _messages(graph: TaskGraph) -> list[tuple[int, str, int, list[int]]]:
    """Tensors ``(producer, name, bytes, edge indices)``.

    Edges without a fixed comm and with bytes, grouped by producer and tensor
    name (an edge that names none is a tensor of its own).
    """
    idx = {t.name: i for i, t in enumerate(graph.tasks)}
    groups: dict[tuple[int, str], list[int]] = {}
    for i, e in enumerate(graph.edges):
        if e.comm is None and e.bytes > 0:
            name = e.tensor if e.tensor is not None else f"e{i}:{e.src}->{e.dst}"
            groups.setdefault((idx[e.src], name), []).append(i)
    return [(u, k, max(graph.edges[i].bytes for i in es), es) for (u, k), es in groups.items()]


def _transfers(
    graph: TaskGraph, platform: Platform, proc: list[int], distance: dict[int, int]
) -> list[_Transfer]:
    """The transfers of assignment ``proc``: one per tensor and other processor reading it."""
    unit = graph.time_unit_seconds or 1.0
    idx = {t.name: i for i, t in enumerate(graph.tasks)}
    out = []
    for u, name, nbytes, es in _messages(graph):
        p = proc[u]
        readers: dict[int, list[tuple[int, int]]] = {}
        for i in es:
            v = idx[graph.edges[i].dst]
            if proc[v] != p:
                readers.setdefault(proc[v], []).append((v, distance[i]))
        for q, rs in sorted(readers.items()):
            same = platform.processors[p].node == platform.processors[q].node
            link, cls = (platform.intra, "intra") if same else (platform.inter, "inter")
            tau = 0 if math.isinf(link.bandwidth) else _units(nbytes / link.bandwidth, unit)
            arrive = tau + _units(link.latency, unit)
            out.append(_Transfer(u, tau, arrive, ((p, "out", cls), (q, "in", cls)), rs, name, p, q))
    return out


def _feasible_ports(
    graph: TaskGraph, platform: Platform, T: int, distance: dict[int, int], placement: str = "free"
) -> Schedule | None:
    """A schedule of period ``T`` meeting (P1)-(P7), or None when there is none.

    Called by :func:`_feasible`, which has refused a task longer than ``T`` on every processor.
    """
    dp, raw = _tables(graph, platform)
    n = len(dp)
    message = {i for *_, es in _messages(graph) for i in es}
    for proc in _choices(n, platform, dp, T, graph, placement):
        xs = _transfers(graph, platform, proc, distance)
        load: dict[tuple, int] = {}
        count: dict[tuple, int] = {}
        for x in xs:
            for port in x.ports:
                load[port] = load.get(port, 0) + x.tau
                count[port] = count.get(port, 0) + (x.tau > 0)
        if any(busy > T for busy in load.values()):
            continue
        # Edges on one processor, fixed delays, and zero-byte edges: task to task.
        edges = [
            (u, v, distance[i], c[proc[u]][proc[v]])
            for i, (u, v, _e, c) in enumerate(raw)
            if i not in message or proc[u] == proc[v]
        ]
        # A transfer alone on both its ports (or of no duration) may start at any time:
        # eliminating its start leaves s_v + w T >= s_u + d_u + tau + latency, exactly.
        # With finite memory a transfer's start moves bytes between its two ends: place all.
        contested = [x for x in xs if x.tau > 0 and any(count[p] > 1 for p in x.ports)]
        free = [x for x in xs if not (x.tau > 0 and any(count[p] > 1 for p in x.ports))]
        if _finite(platform):
            contested, free = xs, []
        edges += [(x.u, v, w, x.arrive) for x in free for v, w in x.readers]
        d = [dp[v][proc[v]] for v in range(n)]
        leaf = None
        if _finite(platform):
            leaf = _memory_leaf(graph, platform, T, proc, d, distance, contested)
        found = _port_offsets(proc, d, edges, contested, T, leaf)
        if found is not None:
            return _witness(graph, platform, T, proc, d, found, contested, free, distance)
    return None


def _witness(
    graph: TaskGraph,
    platform: Platform,
    T: int,
    proc: list[int],
    d: list[int],
    found: tuple[list[int], list[int], list[int]],
    contested: list[_Transfer],
    free: list[_Transfer],
    distance: dict[int, int],
) -> Schedule:
    """The schedule of offsets ``r``, ``o`` and stages ``k``; a free transfer starts at once."""
    r, o, k = found
    n = len(r)
    s = [r[v] + k[v] * T for v in range(n)]
    starts = [o[j] + k[n + j] * T for j in range(len(contested))]
    starts += [s[x.u] + d[x.u] for x in free]
    names = [t.name for t in graph.tasks]
    transfers = tuple(
        Transfer(x.name, names[x.u], x.src, x.dst, t, x.tau)
        for x, t in zip(contested + free, starts, strict=True)
    )
    return _schedule(graph, platform, T, proc, s, transfers, distance)


def _task_need(r: list[int], d: list[int], edges: list, T: int, upto: int) -> list:
    """Stage constraints ``(u, v, c)``: ``k_v - k_u >= c`` of the edges among tasks < ``upto``."""
    return [
        (u, v, math.ceil((r[u] + d[u] + c - r[v]) / T) - w)
        for u, v, w, c in edges
        if u < upto and v < upto
    ]


def _port_offsets(
    proc: list[int],
    d: list[int],
    edges: list,
    contested: list[_Transfer],
    T: int,
    leaf: _Leaf | None = None,
) -> tuple[list[int], list[int], list[int]] | None:
    """Task offsets, then offsets of the contested transfers, with stages for all."""
    n = len(d)
    r = [0] * n
    # Until a contested transfer is placed, its readers wait at least tau + latency.
    relaxed = edges + [(x.u, v, w, x.arrive) for x in contested for v, w in x.readers]

    def place(v: int) -> tuple[list[int], list[int], list[int]] | None:
        if v == n:
            return _place_transfers(r, d, edges, contested, T, leaf)
        for t in range(1 if v == 0 else T):  # shifting every start changes nothing
            r[v] = t
            if any(
                proc[u] == proc[v] and ((t - r[u]) % T < d[u] or (r[u] - t) % T < d[v])
                for u in range(v)
            ):
                continue
            if _stages(v + 1, _task_need(r, d, relaxed, T, v + 1)) is not None:
                found = place(v + 1)
                if found is not None:
                    return found
        return None

    return place(0)


def _place_transfers(
    r: list[int],
    d: list[int],
    edges: list,
    contested: list[_Transfer],
    T: int,
    leaf: _Leaf | None = None,
) -> tuple[list[int], list[int], list[int]] | None:
    """Offsets of the contested transfers: disjoint per port modulo ``T``, stages for all."""
    n, m = len(r), len(contested)
    o = [0] * m
    base = _task_need(r, d, edges, T, n)

    def need(j: int) -> list:
        """Exact (P5)-(P6) of transfers < ``j`` (node ``n + i``); relaxed edges for the rest."""
        out = list(base)
        for i, x in enumerate(contested):
            if i < j:
                out.append((x.u, n + i, math.ceil((r[x.u] + d[x.u] - o[i]) / T)))
                out += [
                    (n + i, v, math.ceil((o[i] + x.arrive - r[v]) / T) - w) for v, w in x.readers
                ]
            else:
                out += [
                    (x.u, v, math.ceil((r[x.u] + d[x.u] + x.arrive - r[v]) / T) - w)
                    for v, w in x.readers
                ]
        return out

    def place(j: int) -> tuple[list[int], list[int], list[int]] | None:
        if j == m:
            k = _stages(n + m, need(m)) if leaf is None else leaf(need(m), r, o)
            return None if k is None else (list(r), list(o), k)
        x = contested[j]
        for delta in range(T):  # from the producer's end on: the earliest first
            o[j] = (r[x.u] + d[x.u] + delta) % T
            if any(
                set(x.ports) & set(y.ports)
                and ((o[j] - o[i]) % T < y.tau or (o[i] - o[j]) % T < x.tau)
                for i, y in enumerate(contested[:j])
            ):
                continue
            if _stages(n + m, need(j + 1)) is not None:
                found = place(j + 1)
                if found is not None:
                    return found
        return None

    return place(0)


# ------------------------------------------------------------------- generators
@st.composite
def tiny_graphs(
    draw: st.DrawFn, max_tasks: int = 6, max_duration: int = 4, max_comm: int = 2
) -> TaskGraph:
    """<= 6 tasks, durations 1..4, comm 0..2; distance-0 edges go forward, others any way."""
    n = draw(st.integers(2, max_tasks))
    durations = draw(st.lists(st.integers(1, max_duration), min_size=n, max_size=n))
    raw = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.integers(0, n - 1),
                st.integers(0, 2),
                st.integers(0, max_comm),
            ),
            max_size=9,
        )
    )
    edges = []
    for u, v, w, c in raw:
        if w == 0 and u >= v:
            u, v = min(u, v), max(u, v)
            if u == v:
                continue
        edges.append(Edge(f"t{u}", f"t{v}", w, c, bytes=8 * (c + 1)))
    return TaskGraph(tuple(Task(f"t{i}", dur) for i, dur in enumerate(durations)), tuple(edges))


@st.composite
def tiny_byte_graphs(
    draw: st.DrawFn, max_tasks: int = 5, max_duration: int = 4, shared: bool = False
) -> TaskGraph:
    """Like :func:`tiny_graphs`, but edges carry bytes (0..2) and no fixed comm.

    With the time unit ``1us`` and the links of :func:`tiny_platforms`, a byte
    costs one unit within a node and two between nodes. With ``shared``, some
    edges of one producer name one tensor (``out:<producer>``), which travels
    once per destination under ``capacity: ports``; the others name none.
    """
    g = draw(tiny_graphs(max_tasks=max_tasks, max_duration=max_duration, max_comm=2))
    edges = tuple(
        Edge(
            e.src,
            e.dst,
            e.distance,
            None,
            e.comm or 0,
            tensor=f"out:{e.src}" if shared and draw(st.booleans()) else None,
        )
        for e in g.edges
    )
    return TaskGraph(g.tasks, edges, time_unit="1us")


@st.composite
def tiny_platforms(
    draw: st.DrawFn, max_procs: int = 3, capacity: str = "delay", memory: bool = False
) -> Platform:
    """1..3 processors of speeds 0.5..2, in one or two nodes; 1 B/us intra, 0.5 B/us inter.

    With ``capacity="ports"`` the links are ports; then the latencies are
    sometimes 1 or 2 us (units of :func:`tiny_byte_graphs`) and the intra link
    sometimes infinitely fast (transfers of no duration, which busy no port).
    With ``memory``, each processor holds 2..12 bytes (or sometimes unlimited)
    and the optimizer state is 0, 1 or 2 bytes per parameter byte.
    """
    P = draw(st.integers(1, max_procs))
    speeds = draw(st.lists(st.sampled_from([0.5, 1.0, 1.5, 2.0]), min_size=P, max_size=P))
    two = P > 1 and draw(st.booleans())
    nodes = [0] * P if not two else [0] + [draw(st.integers(0, 1)) for _ in range(P - 1)]
    if two and 1 not in nodes:
        nodes[-1] = 1
    mems: list[float | None] = [None] * P
    optimizer = 0.0
    if memory:
        sizes = st.sampled_from([2, 3, 4, 5, 6, 8, 12, None])
        mems = draw(st.lists(sizes, min_size=P, max_size=P))
        optimizer = float(draw(st.integers(0, 2)))
    procs = tuple(Processor(s, m, n) for s, m, n in zip(speeds, mems, nodes, strict=True))
    if capacity != "ports":
        return Platform(
            procs, Link(1e6, 0.0), Link(0.5e6, 0.0), capacity=capacity, optimizer_state=optimizer
        )
    intra = Link(draw(st.sampled_from([1e6, 1e6, math.inf])), draw(st.sampled_from([0, 0, 1e-6])))
    inter = Link(0.5e6, draw(st.sampled_from([0, 1e-6, 2e-6])))
    return Platform(procs, intra, inter, capacity="ports", optimizer_state=optimizer)


@st.composite
def tiny_weight_graphs(draw: st.DrawFn, max_tasks: int = 4, max_duration: int = 3) -> TaskGraph:
    """:func:`tiny_byte_graphs` plus one or two layers of weights, staleness ``auto``.

    A layer ``L<j>`` has an update task ``U`` whose weights ``w:L<j>`` (1..2
    bytes) are read by one or two tasks at the cap (``staleness_cap`` 1..3),
    as ``build_task_graph`` marks ``U -> F`` and ``U -> G``; a distance-0 edge
    from the first reader to ``U`` (the gradient) closes the loop, so the
    staleness is what lets the loop overlap iterations, and stashing costs
    memory. The update may read its own weights (a PipeDream ``B`` task).
    """
    g = draw(tiny_byte_graphs(max_tasks=max_tasks, max_duration=max_duration))
    n = len(g.tasks)
    cap = draw(st.integers(1, 3))
    edges = list(g.edges)
    for j in range(draw(st.integers(1, 2))):
        f = draw(st.integers(0, n - 1))
        u = draw(st.integers(f, n - 1))
        readers = {f} | ({draw(st.integers(0, n - 1))} if draw(st.booleans()) else set())
        wbytes = draw(st.integers(1, 2))
        for v in sorted(readers):
            edges.append(Edge(f"t{u}", f"t{v}", cap, None, wbytes, f"L{j}", f"w:L{j}"))
        if u != f:
            edges.append(Edge(f"t{f}", f"t{u}", 0, None, draw(st.integers(0, 2)), None, f"dW:L{j}"))
    return replace(g, edges=tuple(edges), staleness_cap=cap)


@st.composite
def tiny_layered_graphs(draw: st.DrawFn, max_tasks: int = 5, ports: bool = False) -> TaskGraph:
    """:func:`tiny_graphs` (or :func:`tiny_byte_graphs` with ``ports``) with tasks in layers.

    Each task joins one of up to three layers ``L0..L2`` or none (then it is a
    layer of its own, as placements count it), so that ``layer`` and
    ``stages`` have something to keep together.
    """
    g = draw(tiny_byte_graphs(max_tasks=max_tasks) if ports else tiny_graphs(max_tasks=max_tasks))
    picks = st.sampled_from(["L0", "L1", "L2", ""])
    tasks = tuple(replace(t, layer=draw(picks)) for t in g.tasks)
    return replace(g, tasks=tasks)
