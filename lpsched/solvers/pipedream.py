"""The PipeDream planner (Narayanan et al., SOSP 2019): the baseline LayerPipe compares against.

The layers, in a topological order of the layer DAG that the forward (``F``)
edges of distance 0 induce, are cut into at most ``P`` contiguous *stages*,
one per processor, every task of a layer on its layer's processor (no
replication). A dynamic programme over layer ranges minimises the slowest
stage, as PipeDream's optimiser does for a straight pipeline (its section 3.1
without replication):

    A(j, k) = min over i < j of max(A(i, k-1), C(i), t(i, j)),   A(j, 1) = t(0, j),

with ``t(i, j)`` the work of a stage holding layers ``i .. j-1`` and ``C(i)``
the communication crossing the cut before layer ``i`` (PipeDream's
``2 C_i``: activations forward and gradients back; skip connections that
jump the cut count too). PipeDream overlaps communication with computation,
hence the ``max``. With ``comm="add"`` the communication is not overlapped: a
stage then takes its work plus the communication on every edge crossing into
or out of it, and ``C`` drops out.

The stages then become a periodic schedule: processors fixed by the stages,
start times by :func:`~lpsched.solvers.heuristic.modulo_schedule`, which
raises the period above the slowest stage's work as far as the precedences and
communication need. Weight stashing is what the staleness stands for: with the ``auto``
policy the caller lowers each layer's staleness to what the start times need;
fixed distances are respected as given.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..graph import TaskGraph
from ..schedule import Schedule
from .heuristic import modulo_schedule


@dataclass(frozen=True)
class StagePlan:
    """A cut of the layers into contiguous stages.

    Attributes
    ----------
    layers
        All layers in pipeline order (a task without a layer counts as a layer
        named after the task).
    stages
        The stages in order, each a list of layer names; stage ``k`` runs on
        processor ``k``.
    stage_times
        Each stage's time: its work, plus with ``comm="add"`` the communication
        on the edges crossing its borders.
    cut_times
        The communication crossing each cut between consecutive stages (all
        zero with ``comm="add"``, where it is part of the stage times).
    stage_time
        The quantity the plan minimises: the largest of the stage and cut times.
    """

    layers: list[str]
    stages: list[list[str]]
    stage_times: list[int]
    cut_times: list[int]
    stage_time: int


def _layer_of(graph: TaskGraph) -> list[str]:
    return [t.layer or t.name for t in graph.tasks]


def layer_order(graph: TaskGraph) -> list[str]:
    """Layers in a topological order of the DAG induced by the distance-0 ``F -> F`` edges.

    Ties (and layers without forward edges) follow the first appearance of a
    layer's tasks in a topological order of all distance-0 edges, so that the
    order is deterministic and sensible for graphs without ``F`` tasks.
    """
    n = graph.n
    layer = _layer_of(graph)
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for e in graph.edges:
        if e.distance == 0 and e.src != e.dst:
            u, v = graph.index(e.src), graph.index(e.dst)
            succ[u].append(v)
            indeg[v] += 1
    ready = [v for v in range(n) if indeg[v] == 0]
    heapq.heapify(ready)
    first: dict[str, int] = {}
    pos = 0
    while ready:
        u = heapq.heappop(ready)
        first.setdefault(layer[u], pos)
        pos += 1
        for v in succ[u]:
            indeg[v] -= 1
            if indeg[v] == 0:
                heapq.heappush(ready, v)
    # Layer DAG from the forward edges.
    kinds = [t.kind for t in graph.tasks]
    lsucc: dict[str, set[str]] = {name: set() for name in first}
    lindeg = dict.fromkeys(first, 0)
    for e in graph.edges:
        if e.distance != 0:
            continue
        u, v = graph.index(e.src), graph.index(e.dst)
        a, b = layer[u], layer[v]
        if kinds[u] == "F" and kinds[v] == "F" and a != b and b not in lsucc[a]:
            lsucc[a].add(b)
            lindeg[b] += 1
    heap = [(first[name], name) for name, k in lindeg.items() if k == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        _f, a = heapq.heappop(heap)
        order.append(a)
        for b in sorted(lsucc[a]):
            lindeg[b] -= 1
            if lindeg[b] == 0:
                heapq.heappush(heap, (first[b], b))
    if len(order) < len(first):
        # Forward edges that contract to a cycle (several F tasks per layer in a
        # hand-made graph): the rest follow their first appearance.
        placed = set(order)
        order += sorted((name for name in first if name not in placed), key=first.__getitem__)
    return order


def _range_costs(work: np.ndarray, comm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Work and communication of every layer range, and communication across every cut.

    ``comm[a, b]`` (``a < b``) is the communication between layers ``a`` and
    ``b`` in either direction. Returns ``W[i, j]``, the work of layers
    ``i..j-1``; ``X[i, j]``, the communication on the edges with exactly one
    end in ``i..j-1`` (``i <= a < j <= b`` or ``a < i <= b < j``); and
    ``cut[i]``, the communication on the edges with one end before ``i`` and
    one at or after it. Entries with ``j <= i`` are meaningless.
    """
    L = len(work)
    S = np.zeros((L + 1, L + 1), dtype=np.int64)  # S[a, b] = comm[:a, :b].sum()
    S[1:, 1:] = comm.cumsum(axis=0).cumsum(axis=1)

    def block(a1, a2, b1, b2):  # comm[a1:a2, b1:b2].sum(), elementwise over index arrays
        return S[a2, b2] - S[a1, b2] - S[a2, b1] + S[a1, b1]

    i = np.arange(L + 1)[:, None]
    j = np.arange(L + 1)[None, :]
    prefix = np.concatenate([[0], np.cumsum(work)])
    last = np.full((L + 1, L + 1), L)
    zero = np.zeros((L + 1, L + 1), dtype=np.int64)
    W = prefix[j] - prefix[i]
    X = block(i, j, j, last) + block(zero, i, i, j)
    k = np.arange(L + 1)
    cut = block(np.zeros(L + 1, dtype=np.int64), k, k, np.full(L + 1, L))
    return W, X, cut


def plan_stages(graph: TaskGraph, processors: int, *, comm: str = "overlap") -> StagePlan:
    """Cut the layers into at most ``processors`` contiguous stages, minimising the slowest.

    Parameters
    ----------
    graph
        The task graph; tasks are grouped by :attr:`~lpsched.graph.Task.layer`.
    processors
        The most stages allowed, ``P >= 1``.
    comm
        ``"overlap"`` (PipeDream): communication runs beside computation, so the
        objective is the larger of the slowest stage's work and the busiest cut's
        communication. ``"add"``: a stage's time is its work plus the
        communication crossing its borders.

    Returns
    -------
    StagePlan
        An optimal cut (fewest stages among the optimal ones, and among those the
        first in the order the dynamic programme meets them).
    """
    if isinstance(processors, bool) or not isinstance(processors, int) or processors < 1:
        raise InputError(f"processors must be a positive integer, got {processors!r}")
    if comm not in ("overlap", "add"):
        raise InputError(f"comm must be 'overlap' or 'add', got {comm!r}")
    layers = layer_order(graph)
    pos = {name: k for k, name in enumerate(layers)}
    L = len(layers)
    layer = _layer_of(graph)
    work = np.zeros(L, dtype=np.int64)
    for t, name in zip(graph.tasks, layer, strict=True):
        work[pos[name]] += t.duration
    between = np.zeros((L, L), dtype=np.int64)
    for e in graph.edges:
        a, b = pos[layer[graph.index(e.src)]], pos[layer[graph.index(e.dst)]]
        if a != b:
            between[min(a, b), max(a, b)] += e.comm
    W, X, cut = _range_costs(work, between)
    big = np.iinfo(np.int64).max // 4
    valid = np.arange(L + 1)[None, :] > np.arange(L + 1)[:, None]
    if comm == "add":
        stage = np.where(valid, W + X, big)
        cut = np.zeros(L + 1, dtype=np.int64)
    else:
        stage = np.where(valid, W, big)
    # best[j] = A(j, k); cuts[k-1][j] = the i attaining it.
    best = stage[0].copy()
    cuts: list[np.ndarray] = [np.zeros(L + 1, dtype=np.int64)]
    answers = [int(best[L])]
    for _k in range(2, min(processors, L) + 1):
        cand = np.maximum(np.maximum(best, cut)[:, None], stage)
        arg = cand.argmin(axis=0)
        best = cand[arg, np.arange(L + 1)]
        cuts.append(arg)
        answers.append(int(best[L]))
    k = int(np.argmin(answers))  # first minimum: the fewest stages
    bounds = [L]
    j = L
    for level in range(k, 0, -1):
        j = int(cuts[level][j])
        bounds.append(j)
    bounds.append(0)
    bounds.sort()
    pairs = list(zip(bounds, bounds[1:], strict=False))
    times = [int(stage[a, b]) for a, b in pairs]
    return StagePlan(
        layers=layers,
        stages=[layers[a:b] for a, b in pairs],
        stage_times=times,
        cut_times=[int(cut[b]) for b in bounds[1:-1]],
        stage_time=answers[k],
    )


def pipedream_schedule(graph: TaskGraph, processors: int) -> Schedule:
    """The PipeDream baseline: contiguous stages by :func:`plan_stages`, then periodic start times.

    Parameters
    ----------
    graph
        The task graph.
    processors
        Number of processors ``P >= 1``; stage ``k`` runs on processor ``k``.

    Returns
    -------
    Schedule
        A valid periodic schedule in which every layer's tasks share the
        processor of the layer's stage.
    """
    plan = plan_stages(graph, processors)
    stage_of = {name: k for k, stage in enumerate(plan.stages) for name in stage}
    fixed = {t.name: stage_of[t.layer or t.name] for t in graph.tasks}
    return modulo_schedule(graph, processors, fixed_processor=fixed)
