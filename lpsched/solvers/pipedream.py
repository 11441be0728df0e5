"""The PipeDream planner (Narayanan et al., SOSP 2019): the baseline LayerPipe compares against.

The layers, in a topological order of the layer DAG that the forward (``F``)
edges of distance 0 induce, are cut into at most ``P`` contiguous *stages*,
one per processor, every task of a layer on its layer's processor (no
replication). A dynamic programme over layer ranges minimises the slowest
stage, as PipeDream's optimiser does for a straight pipeline (its section 3.1
without replication):

    A(j, k) = min over i < j of max(A(i, k-1), C_k(i), t_k(i, j)),   A(j, 1) = t_1(0, j),

with ``t_k(i, j)`` the work of stage ``k`` holding layers ``i .. j-1`` and
``C_k(i)`` the communication crossing the cut before layer ``i`` into stage
``k`` (PipeDream's ``2 C_i``: activations forward and gradients back; skip
connections that jump the cut count too). PipeDream overlaps communication
with computation, hence the ``max``. With ``comm="add"`` the communication is
not overlapped: a stage then takes its work plus the communication on every
edge crossing into or out of it, and ``C`` drops out.

Stage ``k`` runs on processor ``k - 1``: on heterogeneous processors its work
is the sum of its tasks' durations at that processor's speed, and a cut's
communication goes over the link class between the two consecutive stages'
processors (with ``"add"``, a stage's border with the previous and the next
stage likewise). Every term depends on the stage's index and its range only,
so the programme stays exact for this objective.

The stages then become a periodic schedule: processors fixed by the stages,
start times by :func:`~lpsched.solvers.heuristic.modulo_schedule`, which
raises the period above the slowest stage's work as far as the precedences and
communication need. Weight stashing is what the staleness stands for: with the ``auto``
policy the caller lowers each layer's staleness to what the start times need;
fixed distances are respected as given.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..graph import TaskGraph
from ..platform import LINK_CLASSES, Platform
from ..problem import Problem, as_problem
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
        Each stage's time: its work on its processor, plus with ``comm="add"``
        the communication on the edges crossing its borders.
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


class _StageCosts:
    """Stage and cut costs of every layer range, per stage (its processor and neighbours).

    ``work[p, l]`` is layer ``l``'s work on processor ``p`` and ``between[k]``
    (``a < b``) the communication between layers ``a`` and ``b`` in either
    direction in link class ``k``. Stage ``s`` runs on processor ``s``; a cut
    before stage ``s`` is crossed on the link between processors ``s - 1`` and
    ``s``. Matrices are cached by what they depend on, so a uniform platform
    builds each once.
    """

    def __init__(
        self, platform: Platform, work: np.ndarray, between: dict[str, np.ndarray], mode: str
    ) -> None:
        self.platform, self.work, self.mode = platform, work, mode
        L = work.shape[1]
        self.L = L
        self.S: dict[str, np.ndarray] = {}
        for k, comm in between.items():
            S = np.zeros((L + 1, L + 1), dtype=np.int64)  # S[a, b] = comm[:a, :b].sum()
            S[1:, 1:] = comm.cumsum(axis=0).cumsum(axis=1)
            self.S[k] = S
        self.valid = np.arange(L + 1)[None, :] > np.arange(L + 1)[:, None]
        self._cache: dict[tuple[object, ...], np.ndarray] = {}

    def _block(
        self, k: str, a1: np.ndarray, a2: np.ndarray, b1: np.ndarray, b2: np.ndarray
    ) -> np.ndarray:
        """``comm[a1:a2, b1:b2].sum()`` in class ``k``, elementwise over index arrays."""
        S = self.S[k]
        return S[a2, b2] - S[a1, b2] - S[a2, b1] + S[a1, b1]

    def _link(self, p: int, q: int) -> str | None:
        """The link class between stage processors ``p`` and ``q``, None if ``q`` is absent."""
        return self.platform.link_class(p, q) if 0 <= q < self.platform.P else None

    def cut(self, s: int) -> np.ndarray:
        """``cut[i]``: communication across the cut before layer ``i`` into stage ``s >= 1``.

        The edges with one end before ``i`` and one at or after it (all zero
        with ``comm="add"``, where it is part of the stage times).
        """
        L = self.L
        if self.mode == "add":
            return np.zeros(L + 1, dtype=np.int64)
        k = self.platform.link_class(s - 1, s)
        key = ("cut", k)
        if key not in self._cache:
            i = np.arange(L + 1)
            zero = np.zeros(L + 1, dtype=np.int64)
            self._cache[key] = self._block(k, zero, i, i, np.full(L + 1, L))
        return self._cache[key]

    def stage(self, s: int) -> np.ndarray:
        """``stage[i, j]``: the time of stage ``s`` holding layers ``i..j-1`` (huge if ``j <= i``).

        Its work on processor ``s``; with ``comm="add"`` plus the communication
        on the edges with exactly one end in ``i..j-1``, those to earlier
        layers on the link to processor ``s - 1``, those to later layers on the
        link to processor ``s + 1``.
        """
        left = self._link(s, s - 1) if self.mode == "add" and s > 0 else None
        right = self._link(s, s + 1) if self.mode == "add" else None
        key = ("stage", self.platform.processors[s].speed, left, right)
        if key not in self._cache:
            L = self.L
            i = np.arange(L + 1)[:, None]
            j = np.arange(L + 1)[None, :]
            prefix = np.concatenate([[0], np.cumsum(self.work[s])])
            t = prefix[j] - prefix[i]
            zero = np.zeros((L + 1, L + 1), dtype=np.int64)
            if left is not None:  # edges a < i <= b < j
                t = t + self._block(left, zero, i, i, j)
            if right is not None:  # edges i <= a < j <= b
                t = t + self._block(right, i, j, j, np.full((L + 1, L + 1), L))
            big = np.iinfo(np.int64).max // 4
            self._cache[key] = np.where(self.valid, t, big)
        return self._cache[key]


def _layer_costs(
    problem: Problem, layers: list[str], durations: Sequence[Sequence[int]], stages: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each layer's work on processors ``0..stages-1``, and the communication between layers."""
    graph = problem.graph
    pos = {name: k for k, name in enumerate(layers)}
    L = len(layers)
    layer = _layer_of(graph)
    work = np.zeros((stages, L), dtype=np.int64)
    for v, name in enumerate(layer):
        work[:, pos[name]] += np.asarray(durations[v][:stages], dtype=np.int64)
    between = {k: np.zeros((L, L), dtype=np.int64) for k in LINK_CLASSES}
    for e, edge in enumerate(graph.edges):
        a, b = pos[layer[graph.index(edge.src)]], pos[layer[graph.index(edge.dst)]]
        if a != b:
            for k in LINK_CLASSES:
                between[k][min(a, b), max(a, b)] += problem.comm[e][k]
    return work, between


def plan_stages(
    problem: Problem | TaskGraph,
    platform: Platform | int | None = None,
    *,
    comm: str = "overlap",
    durations: Sequence[Sequence[int]] | None = None,
) -> StagePlan:
    """Cut the layers into at most ``P`` contiguous stages, minimising the slowest.

    Parameters
    ----------
    problem
        The problem; or a task graph, with its platform as ``platform``. Tasks
        are grouped by :attr:`~lpsched.graph.Task.layer`; stage ``s`` runs on
        processor ``s``, so its work is its tasks' durations there.
    platform
        Only with a task graph: the platform, or ``P >= 1`` (the most stages)
        for the default platform.
    comm
        ``"overlap"`` (PipeDream): communication runs beside computation, so the
        objective is the larger of the slowest stage's work and the busiest cut's
        communication, a cut crossed on the link between its two stages'
        processors. ``"add"``: a stage's time is its work plus the
        communication crossing its borders, on the links to its neighbours.
    durations
        ``durations[v][p]`` in place of the problem's (the heuristic passes a
        coarse graph's merged tasks as the sum of their parts).

    Returns
    -------
    StagePlan
        An optimal cut (fewest stages among the optimal ones, and among those the
        first in the order the dynamic programme meets them).
    """
    if not isinstance(problem, Problem) and not isinstance(platform, Platform):
        if isinstance(platform, bool) or not isinstance(platform, int) or platform < 1:
            raise InputError(f"processors must be a positive integer, got {platform!r}")
    if comm not in ("overlap", "add"):
        raise InputError(f"comm must be 'overlap' or 'add', got {comm!r}")
    problem = as_problem(problem, platform)
    layers = layer_order(problem.graph)
    L = len(layers)
    most = min(problem.P, L)
    work, between = _layer_costs(
        problem, layers, problem.durations if durations is None else durations, most
    )
    costs = _StageCosts(problem.platform, work, between, comm)
    answers, cuts = _programme(costs, most)
    k = int(np.argmin(answers))  # first minimum: the fewest stages
    bounds = [L]
    j = L
    for level in range(k, 0, -1):
        j = int(cuts[level][j])
        bounds.append(j)
    bounds.append(0)
    bounds.sort()
    pairs = list(zip(bounds, bounds[1:], strict=False))
    return StagePlan(
        layers=layers,
        stages=[layers[a:b] for a, b in pairs],
        stage_times=[int(costs.stage(s)[a, b]) for s, (a, b) in enumerate(pairs)],
        cut_times=[int(costs.cut(s)[b]) for s, b in enumerate(bounds[1:-1], start=1)],
        stage_time=answers[k],
    )


def _programme(costs: _StageCosts, most: int) -> tuple[list[int], list[np.ndarray]]:
    """The dynamic programme over stages: the best objective with ``1..most`` stages, and cuts.

    ``A(j, s)``, the best slowest stage of layers ``0..j-1`` in stages
    ``0..s``, is ``min over i < j of max(A(i, s-1), cut_s(i), stage_s(i, j))``:
    exact, since every term depends on the stage's index and range only.
    ``cuts[s][j]`` is the ``i`` attaining ``A(j, s)``.
    """
    L = costs.L
    best = costs.stage(0)[0].copy()
    cuts: list[np.ndarray] = [np.zeros(L + 1, dtype=np.int64)]
    answers = [int(best[L])]
    for s in range(1, most):
        cand = np.maximum(np.maximum(best, costs.cut(s))[:, None], costs.stage(s))
        arg = cand.argmin(axis=0)
        best = cand[arg, np.arange(L + 1)]
        cuts.append(arg)
        answers.append(int(best[L]))
    return answers, cuts


def pipedream_schedule(
    problem: Problem | TaskGraph, platform: Platform | int | None = None
) -> Schedule:
    """The PipeDream baseline: contiguous stages by :func:`plan_stages`, then periodic start times.

    Parameters
    ----------
    problem
        The problem; or a task graph, with its platform as ``platform``.
    platform
        Only with a task graph: the platform, or ``P >= 1`` for the default
        platform; stage ``s`` runs on processor ``s``.

    Returns
    -------
    Schedule
        A valid periodic schedule in which every layer's tasks share the
        processor of the layer's stage.
    """
    plan = plan_stages(problem, platform)
    problem = as_problem(problem, platform)
    stage_of = {name: k for k, stage in enumerate(plan.stages) for name in stage}
    fixed = {t.name: stage_of[t.layer or t.name] for t in problem.graph.tasks}
    return modulo_schedule(problem, fixed_processor=fixed)
