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

Graphs of more than :data:`MAX_BLOCKS` layers (a generated graph where every
task is a layer) are cut between blocks of consecutive layers, then layer by
layer around those cuts, so that the programme's time and memory stay
bounded; the plan is optimal among the cuts between blocks.

The stages then become a periodic schedule: processors fixed by the stages,
start times by :func:`~lpsched.solvers.heuristic.modulo_schedule`, which
raises the period above the slowest stage's work as far as the precedences and
communication need. Weight stashing is what the staleness stands for: with the ``auto``
policy the caller lowers each layer's staleness to what the start times need;
fixed distances are respected as given.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..graph import TaskGraph
from ..platform import LINK_CLASSES, Platform
from ..problem import Problem, as_problem
from ..schedule import Schedule
from .heuristic import modulo_schedule
from .toolkit import Clock

#: The most blocks the dynamic programme cuts between: with more layers, runs of
#: consecutive layers form the blocks (the built-in networks have at most 75 layers).
#: Time is (stages) x (blocks)^2, memory a few (blocks)^2 matrices.
MAX_BLOCKS = 512


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
    """Stage and cut costs of every block range, per stage (its processor and neighbours).

    ``work[p, l]`` is block ``l``'s work on processor ``p`` and ``between[k]``
    (``a < b``) the communication between blocks ``a`` and ``b`` in either
    direction in link class ``k``. Stage ``s`` runs on processor ``s``; a cut
    before stage ``s`` is crossed on the link between processors ``s - 1`` and
    ``s``. Matrices are cached by what they depend on (a few at a time), so a
    uniform platform builds each once.
    """

    #: Stage matrices kept at once (each (blocks + 1)^2 integers).
    CACHED = 8

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
        self.prefix = np.zeros((work.shape[0], L + 1), dtype=np.int64)
        self.prefix[:, 1:] = np.cumsum(work, axis=1)
        self.valid = np.arange(L + 1)[None, :] > np.arange(L + 1)[:, None]
        self._cache: dict[tuple[object, ...], np.ndarray] = {}

    def _block(self, k: str, a1: object, a2: object, b1: object, b2: object) -> np.ndarray:
        """``comm[a1:a2, b1:b2].sum()`` in class ``k``, elementwise over index arrays."""
        S = self.S[k]
        return S[a2, b2] - S[a1, b2] - S[a2, b1] + S[a1, b1]

    def _link(self, p: int, q: int) -> str | None:
        """The link class between stage processors ``p`` and ``q``, None if ``q`` is absent."""
        return self.platform.link_class(p, q) if 0 <= q < self.platform.P else None

    def _borders(self, s: int) -> tuple[str | None, str | None]:
        """The link classes to the previous and the next stage with ``comm="add"``, else None."""
        left = self._link(s, s - 1) if self.mode == "add" and s > 0 else None
        right = self._link(s, s + 1) if self.mode == "add" else None
        return left, right

    def cut(self, s: int) -> np.ndarray:
        """``cut[i]``: communication across the cut before block ``i`` into stage ``s >= 1``.

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
            self._keep(key, self._block(k, zero, i, i, np.full(L + 1, L)))
        return self._cache[key]

    def stage(self, s: int) -> np.ndarray:
        """``stage[i, j]``: the time of stage ``s`` holding blocks ``i..j-1`` (huge if ``j <= i``).

        Its work on processor ``s``; with ``comm="add"`` plus the communication
        on the edges with exactly one end in ``i..j-1``, those to earlier
        blocks on the link to processor ``s - 1``, those to later blocks on the
        link to processor ``s + 1``.
        """
        left, right = self._borders(s)
        key = ("stage", self.platform.processors[s].speed, left, right)
        if key not in self._cache:
            L = self.L
            i = np.arange(L + 1)[:, None]
            j = np.arange(L + 1)[None, :]
            prefix = self.prefix[s]
            t = prefix[j] - prefix[i]
            zero = np.zeros((L + 1, L + 1), dtype=np.int64)
            if left is not None:  # edges a < i <= b < j
                t = t + self._block(left, zero, i, i, j)
            if right is not None:  # edges i <= a < j <= b
                t = t + self._block(right, i, j, j, np.full((L + 1, L + 1), L))
            big = np.iinfo(np.int64).max // 4
            self._keep(key, np.where(self.valid, t, big))
        return self._cache[key]

    def stage_time(self, s: int, i: int, j: int) -> int:
        """``stage(s)[i, j]`` for one range ``i < j``, without building the matrix."""
        left, right = self._borders(s)
        t = int(self.prefix[s, j] - self.prefix[s, i])
        if left is not None:
            t += int(self._block(left, 0, i, i, j))
        if right is not None:
            t += int(self._block(right, i, j, j, self.L))
        return t

    def _keep(self, key: tuple[object, ...], matrix: np.ndarray) -> None:
        if len(self._cache) >= self.CACHED:
            self._cache.clear()  # heterogeneous stages: memory stays a few matrices
        self._cache[key] = matrix


def _blocks(L: int) -> list[int]:
    """The first layer of each block, then ``L``: :data:`MAX_BLOCKS` blocks at most.

    Up to :data:`MAX_BLOCKS` layers every layer is a block; above, runs of
    consecutive layers of equal count (within one) form the blocks.
    """
    B = min(L, MAX_BLOCKS)
    return [-(-b * L // B) for b in range(B + 1)]


def _layer_costs(
    problem: Problem,
    layers: list[str],
    bounds: list[int],
    durations: Callable[[int, int], int],
    stages: int,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each block's work on processors ``0..stages-1``, and the communication between blocks.

    A task's duration depends on a processor's speed only, so it is asked once
    per speed among those processors; the communication is summed edge by
    edge into a (blocks) x (blocks) matrix per link class.
    """
    graph = problem.graph
    B = len(bounds) - 1
    block_of = [0] * len(layers)
    for b in range(B):
        for position in range(bounds[b], bounds[b + 1]):
            block_of[position] = b
    pos = {name: block_of[k] for k, name in enumerate(layers)}
    block = [pos[name] for name in _layer_of(graph)]
    speeds = problem.platform.speeds[:stages]
    first = {}
    for p, speed in enumerate(speeds):
        first.setdefault(speed, p)
    by_speed = {}
    for speed, p in first.items():
        row = np.zeros(B, dtype=np.int64)
        np.add.at(row, block, [durations(v, p) for v in range(graph.n)])
        by_speed[speed] = row
    work = np.stack([by_speed[speed] for speed in speeds])
    between = {k: np.zeros((B, B), dtype=np.int64) for k in LINK_CLASSES}
    for e, edge in enumerate(graph.edges):
        a, b = block[graph.index(edge.src)], block[graph.index(edge.dst)]
        if a != b:
            for k in LINK_CLASSES:
                between[k][min(a, b), max(a, b)] += problem.comm[e][k]
    return work, between


def plan_stages(
    problem: Problem | TaskGraph,
    platform: Platform | int | None = None,
    *,
    comm: str = "overlap",
    durations: Callable[[int, int], int] | None = None,
    time_limit: float | None = None,
    log: Callable[[str], None] | None = None,
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
        ``durations(v, p)``, task ``v``'s duration on processor ``p``, in place
        of the problem's (the heuristic passes a coarse graph's merged tasks
        as the sum of their parts); it must depend on ``p``'s speed only.
    time_limit
        Seconds; when they run out the programme stops adding stages (the plan
        then has fewer stages than it could), saying so through ``log``.
    log
        Receives a line when the time limit or :data:`MAX_BLOCKS` bounds the plan.

    Returns
    -------
    StagePlan
        An optimal cut (fewest stages among the optimal ones, and among those the
        first in the order the dynamic programme meets them). With more than
        :data:`MAX_BLOCKS` layers the cuts are between blocks of consecutive
        layers (:func:`_blocks`), then layer by layer within the blocks beside
        those cuts (:func:`_around_cuts`): the programme's time and memory stay
        bounded, and the plan is optimal among the cuts of the first pass.
    """
    if not isinstance(problem, Problem) and not isinstance(platform, Platform):
        if isinstance(platform, bool) or not isinstance(platform, int) or platform < 1:
            raise InputError(f"processors must be a positive integer, got {platform!r}")
    if comm not in ("overlap", "add"):
        raise InputError(f"comm must be 'overlap' or 'add', got {comm!r}")
    clock = Clock(time_limit)
    problem = as_problem(problem, platform)
    layers = layer_order(problem.graph)
    duration = durations or problem.duration
    bounds = _blocks(len(layers))
    plan = _plan(problem, layers, bounds, duration, comm, clock, log)
    if len(bounds) - 1 < len(layers):
        if log is not None:
            log(
                f"PipeDream planner: {len(layers)} layers cut between {len(bounds) - 1} "
                "blocks of consecutive layers, then layer by layer around the cuts"
            )
        finer = _around_cuts(bounds, plan)
        if len(finer) > len(bounds) and not clock.expired:
            refined = _plan(problem, layers, finer, duration, comm, clock, log)
            plan = refined if refined.stage_time < plan.stage_time else plan
    return plan


def _plan(
    problem: Problem,
    layers: list[str],
    bounds: list[int],
    duration: Callable[[int, int], int],
    comm: str,
    clock: Clock,
    log: Callable[[str], None] | None,
) -> StagePlan:
    """The best cut of ``layers`` at the positions ``bounds`` (first layers of the blocks)."""
    B = len(bounds) - 1
    most = min(problem.P, B)
    work, between = _layer_costs(problem, layers, bounds, duration, most)
    costs = _StageCosts(problem.platform, work, between, comm)
    answers, cuts = _programme(costs, most, clock)
    if len(answers) < most and log is not None:
        log(f"PipeDream planner: time limit, {len(answers)} of up to {most} stages examined")
    k = int(np.argmin(answers))  # first minimum: the fewest stages
    cut = [B]
    j = B
    for level in range(k, 0, -1):
        j = int(cuts[level][j])
        cut.append(j)
    cut.append(0)
    cut.sort()
    pairs = list(zip(cut, cut[1:], strict=False))
    return StagePlan(
        layers=layers,
        stages=[layers[bounds[a] : bounds[b]] for a, b in pairs],
        stage_times=[costs.stage_time(s, a, b) for s, (a, b) in enumerate(pairs)],
        cut_times=[int(costs.cut(s)[b]) for s, b in enumerate(cut[1:-1], start=1)],
        stage_time=answers[k],
    )


def _around_cuts(bounds: list[int], plan: StagePlan) -> list[int]:
    """``bounds`` with the layers near each cut of ``plan`` as blocks of their own.

    Within the two blocks beside a cut, the layers at most ``MAX_BLOCKS / (2
    cuts)`` from it (one at least): about :data:`MAX_BLOCKS` more blocks in all.
    """
    index = {x: b for b, x in enumerate(bounds)}
    finer = set(bounds)
    cuts = len(plan.stages) - 1
    half = max(1, MAX_BLOCKS // (2 * max(cuts, 1)))
    position = 0
    for stage in plan.stages[:-1]:
        position += len(stage)
        b = index[position]
        finer.update(
            range(max(bounds[b - 1], position - half), min(bounds[b + 1], position + half) + 1)
        )
    return sorted(finer)


def _programme(costs: _StageCosts, most: int, clock: Clock) -> tuple[list[int], list[np.ndarray]]:
    """The dynamic programme over stages: the best objective with ``1..most`` stages, and cuts.

    ``A(j, s)``, the best slowest stage of blocks ``0..j-1`` in stages
    ``0..s``, is ``min over i < j of max(A(i, s-1), cut_s(i), stage_s(i, j))``:
    exact, since every term depends on the stage's index and range only.
    ``cuts[s][j]`` is the ``i`` attaining ``A(j, s)``. Stages are added while
    the clock has time (one stage always).
    """
    L = costs.L
    best = costs.stage(0)[0].copy()
    cuts: list[np.ndarray] = [np.zeros(L + 1, dtype=np.int64)]
    answers = [int(best[L])]
    for s in range(1, most):
        if clock.expired:
            break
        cand = np.maximum(np.maximum(best, costs.cut(s))[:, None], costs.stage(s))
        arg = cand.argmin(axis=0)
        best = cand[arg, np.arange(L + 1)]
        cuts.append(arg)
        answers.append(int(best[L]))
    return answers, cuts


def pipedream_schedule(
    problem: Problem | TaskGraph,
    platform: Platform | int | None = None,
    *,
    time_limit: float | None = None,
    log: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> Schedule:
    """The PipeDream baseline: contiguous stages by :func:`plan_stages`, then periodic start times.

    Parameters
    ----------
    problem
        The problem; or a task graph, with its platform as ``platform``.
    platform
        Only with a task graph: the platform, or ``P >= 1`` for the default
        platform; stage ``s`` runs on processor ``s``.
    time_limit
        Seconds for the whole call, or ``None``: the plan and then the start
        times (:func:`~lpsched.solvers.heuristic.modulo_schedule`) get what is
        left; the result is the same as without a limit when both end in time.
    log
        Receives what the planner and the start-time search report.
    stop
        When set, the start-time search ends with the best schedule found.

    Returns
    -------
    Schedule
        A valid periodic schedule in which every layer's tasks share the
        processor of the layer's stage.
    """
    clock = Clock(time_limit)
    say = None if log is None else _prefixed(log)
    plan = plan_stages(problem, platform, time_limit=time_limit, log=say)
    problem = as_problem(problem, platform)
    stage_of = {name: k for k, stage in enumerate(plan.stages) for name in stage}
    fixed = {t.name: stage_of[t.layer or t.name] for t in problem.graph.tasks}
    left = None if time_limit is None else clock.remaining()
    return modulo_schedule(problem, fixed_processor=fixed, time_limit=left, log=say, stop=stop)


def _prefixed(log: Callable[[str], None]) -> Callable[[str], None]:
    """``log`` with the start-time search's lines named after the planner."""

    def say(line: str) -> None:
        log(f"pipedream: {line.removeprefix('heuristic: ')}")

    return say
