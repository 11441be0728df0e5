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

Under ``capacity: ports`` (``formulations/README.md``, "Link ports") the
stages exchange their tensors as transfers that busy ports, so a stage's time
is the larger of its work and each of its ports' loads, PipeDream's max of
compute and communication with every port counted apart: the out-port carries
one transfer per tensor the stage makes and an earlier or a later stage reads,
the in-port one per tensor it reads from elsewhere (once, however many of its
tasks read it), each ``ceil(bytes / bandwidth)`` units (:func:`_port_matrices`);
the cuts then cost nothing of their own. The programme stays exact for this
count; the count is exact when each tensor's readers on either side of its
stage share one stage, and a lower bound on the loads otherwise (a skip
connection read by two later stages travels twice). Under ``delay`` a cut
still counts a tensor once per edge that reads it, as before.

Graphs of more than :data:`MAX_BLOCKS` layers (a generated graph where every
task is a layer) are cut between blocks of consecutive layers, then layer by
layer around those cuts, so that the programme's time and memory stay
bounded; the plan is optimal among the cuts between blocks.

The stages then become a periodic schedule: processors fixed by the stages,
start times by :func:`~lpsched.solvers.heuristic.modulo_schedule`, which
raises the period above the slowest stage's work as far as the precedences and
communication need; under ``ports`` start times and transfers (one per
tensor and other processor that reads it) by :func:`ports_schedule`, which
raises it as far as the ports need too. Weight stashing is what the
staleness stands for: with the ``auto`` policy the caller lowers each layer's
staleness to what the start times need; fixed distances are respected as given.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InfeasibleError, InputError
from ..graph import TaskGraph
from ..platform import LINK_CLASSES, Platform
from ..problem import Problem, as_problem
from ..schedule import Schedule, Transfer
from ..units import format_bytes
from ..validate import validate
from .heuristic import modulo_schedule
from .modulo_tables import ReservationTables
from .toolkit import Clock, least_staleness

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
    port_times
        Under ``capacity: ports``, each stage's busiest port (the time its
        transfers in one direction and link class take per iteration), which
        its stage time includes; all zero under ``delay``.
    memory
        When some processor's memory is bounded, each stage's estimated
        footprint in bytes (:func:`memory_estimate`), which the plan keeps
        within its processor's memory; empty otherwise.
    """

    layers: list[str]
    stages: list[list[str]]
    stage_times: list[int]
    cut_times: list[int]
    stage_time: int
    port_times: list[int] = field(default_factory=list)
    memory: list[float] = field(default_factory=list)


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


def pipeline_layers(problem: Problem) -> list[str]:
    """The layers in the order the stages cut them.

    :func:`layer_order`, except under placement ``stages``: there the layers
    on one processor must be contiguous in the graph's own order
    (:attr:`~lpsched.problem.Problem.units`, which the validator checks), and
    the stages cut that order. The two agree on the built-in networks.
    """
    if problem.placement == "stages":
        tasks = problem.graph.tasks
        return [tasks[unit[0]].layer or tasks[unit[0]].name for unit in problem.units]
    return layer_order(problem.graph)


class _StageCosts:
    """Stage and cut costs of every block range, per stage (its processor and neighbours).

    ``work[p, l]`` is block ``l``'s work on processor ``p`` and ``between[k]``
    (``a < b``) the communication between blocks ``a`` and ``b`` in either
    direction in link class ``k``. Stage ``s`` runs on processor ``s``; a cut
    before stage ``s`` is crossed on the link between processors ``s - 1`` and
    ``s``. Under ``capacity: ports``, ``ports[(direction, k)][i, j]`` is the
    port time a stage holding blocks ``i..j-1`` spends in each of the four
    directions of :func:`_port_matrices` (class ``k``), and the cuts cost
    nothing of their own. Matrices are cached by what they depend on (a few
    at a time), so a uniform platform builds each once.
    """

    #: Stage matrices kept at once (each (blocks + 1)^2 integers).
    CACHED = 8

    def __init__(
        self,
        platform: Platform,
        work: np.ndarray,
        between: dict[str, np.ndarray],
        mode: str,
        ports: dict[tuple[str, str], np.ndarray] | None = None,
    ) -> None:
        self.platform, self.work, self.mode, self.ports = platform, work, mode, ports
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
        with ``comm="add"``, where it is part of the stage times). Under
        ``capacity: ports`` only the pure delays (edges with a fixed ``comm``)
        count here: tensors are the ports' loads.
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
        link to processor ``s + 1``. Under ``capacity: ports``
        (:meth:`port_loads`) the larger of the work and each port's load, or
        with ``comm="add"`` their sum.
        """
        if self.ports is not None:
            return self._ports_stage(s)
        left, right = self._borders(s)
        key = ("stage", self.platform.processors[s].speed, left, right)
        if key not in self._cache:
            big = np.iinfo(np.int64).max // 4
            self._keep(key, np.where(self.valid, self._work_and_borders(s), big))
        return self._cache[key]

    def _work_and_borders(self, s: int) -> np.ndarray:
        """Stage ``s``'s work on ``[i, j)``, plus with ``comm="add"`` its border edges' costs."""
        left, right = self._borders(s)
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
        return t

    def _neighbours(self, s: int) -> tuple[str, str]:
        """Link classes to the previous and the next stage's processors (one stands in for both).

        Stage ``s`` only has blocks to send to or receive from on a side that
        has a stage, so an absent side's class never weighs.
        """
        prev, nxt = self._link(s, s - 1), self._link(s, s + 1)
        prev = prev or nxt or "intra"
        return prev, nxt or prev

    def port_loads(self, s: int) -> list[np.ndarray]:
        """Each port's load ``[i, j]`` when stage ``s`` holds blocks ``i..j-1`` (ports).

        The out-port of a class carries the tensors sent to later stages (on
        the link to processor ``s + 1``) and to earlier ones (to ``s - 1``);
        the in-port, those received. A tensor counts once per direction and
        stage: exact when its readers on one side share a stage, a lower
        bound otherwise, and a neighbour's link class stands for all stages on
        its side.
        """
        assert self.ports is not None
        prev, nxt = self._neighbours(s)
        zero = np.zeros((self.L + 1, self.L + 1), dtype=np.int64)
        out = {k: zero for k in (prev, nxt)}
        into = {k: zero for k in (prev, nxt)}
        for way, k, side in (
            (out, nxt, "out_next"),
            (out, prev, "out_prev"),
            (into, prev, "in_prev"),
            (into, nxt, "in_next"),
        ):
            if (side, k) in self.ports:
                way[k] = way[k] + self.ports[side, k]
        return [*out.values(), *into.values()]

    def _ports_stage(self, s: int) -> np.ndarray:
        """:meth:`stage` under ``capacity: ports``."""
        key = ("ports", self.platform.processors[s].speed, *self._neighbours(s), *self._borders(s))
        if key not in self._cache:
            # The work and, with comm="add", the pure delays across the stage's borders.
            t = self._work_and_borders(s)
            for load in self.port_loads(s):
                t = t + load if self.mode == "add" else np.maximum(t, load)
            big = np.iinfo(np.int64).max // 4
            self._keep(key, np.where(self.valid, t, big))
        return self._cache[key]

    def stage_time(self, s: int, i: int, j: int) -> int:
        """``stage(s)[i, j]`` for one range ``i < j``, without building the matrix."""
        if self.ports is not None:
            return int(self._ports_stage(s)[i, j])
        left, right = self._borders(s)
        t = int(self.prefix[s, j] - self.prefix[s, i])
        if left is not None:
            t += int(self._block(left, 0, i, i, j))
        if right is not None:
            t += int(self._block(right, i, j, j, self.L))
        return t

    def port_time(self, s: int, i: int, j: int) -> int:
        """The busiest port's load of stage ``s`` holding blocks ``i..j-1`` (0 under delay)."""
        if self.ports is None:
            return 0
        return max((int(load[i, j]) for load in self.port_loads(s)), default=0)

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


def _block_of(graph: TaskGraph, layers: list[str], bounds: list[int]) -> list[int]:
    """Each task's block: the block of its layer, whose first layers are ``bounds``."""
    B = len(bounds) - 1
    block_of = [0] * len(layers)
    for b in range(B):
        for position in range(bounds[b], bounds[b + 1]):
            block_of[position] = b
    pos = {name: block_of[k] for k, name in enumerate(layers)}
    return [pos[name] for name in _layer_of(graph)]


def _layer_costs(
    problem: Problem,
    block: list[int],
    B: int,
    durations: Callable[[int, int], int],
    stages: int,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each block's work on processors ``0..stages-1``, and the communication between blocks.

    A task's duration depends on a processor's speed only, so it is asked once
    per speed among those processors; the communication is summed edge by
    edge into a (blocks) x (blocks) matrix per link class (under ``capacity:
    ports`` only the pure delays: tensors travel as transfers).
    """
    graph = problem.graph
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
        if problem.ports and e in problem.tensor_of_edge:
            continue  # a transfer: the ports' load (_port_matrices), not a delay
        a, b = block[graph.index(edge.src)], block[graph.index(edge.dst)]
        if a != b:
            for k in LINK_CLASSES:
                between[k][min(a, b), max(a, b)] += problem.comm[e][k]
    return work, between


#: The four port loads of a stage under ``capacity: ports`` (:func:`_port_matrices`).
PORT_SIDES = ("out_next", "out_prev", "in_prev", "in_next")


def _class_pairs(platform: Platform, stages: int) -> dict[str, tuple[int, int]]:
    """One pair of stage processors per link class that joins two of them."""
    pairs: dict[str, tuple[int, int]] = {}
    for p in range(stages):
        for q in range(p + 1, stages):
            pairs.setdefault(platform.link_class(p, q), (p, q))
    return pairs


def _port_matrices(
    problem: Problem, block: list[int], B: int, stages: int
) -> dict[tuple[str, str], np.ndarray]:
    """Port time per side and link class of every block range ``[i, j)`` (``capacity: ports``).

    ``M[side, k][i, j]`` for a stage holding blocks ``i..j-1``, in transfer
    times of class ``k`` (``ceil(bytes / bandwidth)`` each, no latency: it
    busies no port), one transfer per tensor and side, as (P7) of
    ``formulations/README.md`` counts them:

    * ``out_next``: tensors made in the stage with a reader after it,
    * ``out_prev``: tensors made in the stage with a reader before it,
    * ``in_prev``: tensors made before the stage with a reader in it,
    * ``in_next``: tensors made after the stage with a reader in it.

    Each tensor adds a few rectangles of ``(i, j)`` (one per reader block for
    the ``in`` sides: the range holds a reader when the first reader past its
    border lies inside), summed through a 2-D difference array.
    """
    graph = problem.graph
    pairs = _class_pairs(problem.platform, stages)
    diff = {
        (side, k): np.zeros((B + 2, B + 2), dtype=np.int64) for side in PORT_SIDES for k in pairs
    }
    for tensor in problem.tensors:
        a = block[tensor.producer]
        readers = {block[graph.index(graph.edges[e].dst)] for e in tensor.edges}
        rects = _tensor_rectangles(a, readers, B)
        for k, (p, q) in pairs.items():
            tau = problem.transfer_units(tensor.bytes, p, q)
            if tau == 0:
                continue
            for side, i0, i1, j0, j1 in rects:
                D = diff[side, k]
                D[i0, j0] += tau
                D[i0, j1 + 1] -= tau
                D[i1 + 1, j0] -= tau
                D[i1 + 1, j1 + 1] += tau
    return {key: D.cumsum(axis=0).cumsum(axis=1)[: B + 1, : B + 1] for key, D in diff.items()}


def _tensor_rectangles(a: int, readers: set[int], B: int) -> list[tuple[str, int, int, int, int]]:
    """The ranges of blocks whose ports carry a tensor made in block ``a``, read in ``readers``.

    ``(side, i0, i1, j0, j1)``: a stage holding blocks ``[i, j)`` with
    ``i0 <= i <= i1`` and ``j0 <= j <= j1`` (always ``i1 < j0``) carries it on ``side``.
    """
    later = sorted(r for r in readers if r > a)
    earlier = sorted((r for r in readers if r < a), reverse=True)
    rects: list[tuple[str, int, int, int, int]] = []
    if later:
        rects.append(("out_next", 0, a, a + 1, later[-1]))
        prev = a
        for r in later:  # the first reader at or after i is r: inside when j > r
            rects.append(("in_prev", prev + 1, r, r + 1, B))
            prev = r
    if earlier:
        rects.append(("out_prev", earlier[-1] + 1, a, a + 1, B))
        prev = a
        for r in earlier:  # the last reader before j is r: inside when i <= r
            rects.append(("in_next", 0, r, r + 1, prev))
            prev = r
    return rects


def plan_stages(
    problem: Problem | TaskGraph,
    platform: Platform | int | None = None,
    *,
    comm: str = "overlap",
    durations: Callable[[int, int], int] | None = None,
    time_limit: float | None = None,
    log: Callable[[str], None] | None = None,
    memory: bool = True,
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
        Under ``capacity: ports`` the communication is each port's load (see
        the module's text): ``"overlap"`` takes the larger of the work and
        every port's load, ``"add"`` their sum.
    durations
        ``durations(v, p)``, task ``v``'s duration on processor ``p``, in place
        of the problem's (the heuristic passes a coarse graph's merged tasks
        as the sum of their parts); it must depend on ``p``'s speed only.
    time_limit
        Seconds; when they run out the programme stops adding stages (the plan
        then has fewer stages than it could), saying so through ``log``.
    log
        Receives a line when the time limit or :data:`MAX_BLOCKS` bounds the plan.
    memory
        When some processor's memory is bounded, admit only stages whose
        estimated footprint (:func:`memory_estimate`) fits their processor's
        memory, PipeDream's rule (its planner rejects a stage whose stash does
        not fit); ``False`` ignores memory. Without a bound nothing changes.

    Returns
    -------
    StagePlan
        An optimal cut (fewest stages among the optimal ones, and among those the
        first in the order the dynamic programme meets them). With more than
        :data:`MAX_BLOCKS` layers the cuts are between blocks of consecutive
        layers (:func:`_blocks`), then layer by layer within the blocks beside
        those cuts (:func:`_around_cuts`): the programme's time and memory stay
        bounded, and the plan is optimal among the cuts of the first pass.
        Under bounded memory the best cut whose estimates fit (between blocks
        only, one dynamic programme per stage count), or when none fits the
        unconstrained one, saying so through ``log``; whether its schedule
        fits is :func:`pipedream_schedule`'s to check.
    """
    if not isinstance(problem, Problem) and not isinstance(platform, Platform):
        if isinstance(platform, bool) or not isinstance(platform, int) or platform < 1:
            raise InputError(f"processors must be a positive integer, got {platform!r}")
    if comm not in ("overlap", "add"):
        raise InputError(f"comm must be 'overlap' or 'add', got {comm!r}")
    clock = Clock(time_limit)
    problem = as_problem(problem, platform)
    layers = pipeline_layers(problem)
    duration = durations or problem.duration
    if memory and bounded_memory(problem.platform):
        plans = _memory_plans(problem, layers, duration, comm, clock)
        if plans:
            return plans[0]
        if log is not None:
            log("PipeDream planner: no stage plan fits the memory estimate; ignoring memory")
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
    block = _block_of(problem.graph, layers, bounds)
    work, between = _layer_costs(problem, block, B, duration, most)
    ports = _port_matrices(problem, block, B, most) if problem.ports else None
    costs = _StageCosts(problem.platform, work, between, comm, ports)
    answers, cuts = _programme(costs, most, clock)
    if len(answers) < most and log is not None:
        log(f"PipeDream planner: time limit, {len(answers)} of up to {most} stages examined")
    k = int(np.argmin(answers))  # first minimum: the fewest stages
    return _as_plan(costs, layers, bounds, _cut_of(cuts, k, B), answers[k])


def _cut_of(cuts: list[np.ndarray], last: int, B: int) -> list[int]:
    """The cuts ``0 = c_0 < ... < c_S = B`` that ``cuts`` records for stages ``0..last``."""
    cut = [B]
    j = B
    for level in range(last, 0, -1):
        j = int(cuts[level][j])
        cut.append(j)
    cut.append(0)
    cut.sort()
    return cut


def _as_plan(
    costs: _StageCosts,
    layers: list[str],
    bounds: list[int],
    cut: list[int],
    objective: int,
    memory: list[float] | None = None,
) -> StagePlan:
    """The plan that cuts the blocks at ``cut`` (its first entry 0, its last the block count)."""
    pairs = list(zip(cut, cut[1:], strict=False))
    return StagePlan(
        layers=layers,
        stages=[layers[bounds[a] : bounds[b]] for a, b in pairs],
        stage_times=[costs.stage_time(s, a, b) for s, (a, b) in enumerate(pairs)],
        cut_times=[int(costs.cut(s)[b]) for s, b in enumerate(cut[1:-1], start=1)],
        stage_time=objective,
        port_times=[costs.port_time(s, a, b) for s, (a, b) in enumerate(pairs)],
        memory=memory or [],
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
        times get what is left; the result is the same as without a limit
        when both end in time.
    log
        Receives what the planner and the start-time search report.
    stop
        When set, the start-time search ends with the best schedule found.

    Returns
    -------
    Schedule
        A valid periodic schedule in which every layer's tasks share the
        processor of the layer's stage. Under ``capacity: delay`` the start
        times are :func:`~lpsched.solvers.heuristic.modulo_schedule`'s; under
        ``ports`` they and the transfers between the stages are
        :func:`ports_schedule`'s. When some processor's memory is bounded,
        the plans are :func:`_within_memory`'s, and the schedule fits (P8)
        with its staleness already lowered
        (:func:`~lpsched.solvers.toolkit.least_staleness`).

    Raises
    ------
    InfeasibleError
        Under bounded memory: when no schedule fits (proven by
        :func:`memory_shortfall` or the bounds, the message says so), or when the planner
        found none that fits (the message says that this proves nothing).
    """
    clock = Clock(time_limit)
    say = None if log is None else _prefixed(log)
    given = problem.platform if isinstance(problem, Problem) else platform
    if isinstance(given, Platform) and bounded_memory(given):
        return _within_memory(as_problem(problem, platform), time_limit, say, stop)
    plan = plan_stages(problem, platform, time_limit=time_limit, log=say)
    problem = as_problem(problem, platform)
    stage_of = {name: k for k, stage in enumerate(plan.stages) for name in stage}
    fixed = {t.name: stage_of[t.layer or t.name] for t in problem.graph.tasks}
    left = None if time_limit is None else clock.remaining()
    if problem.ports:
        proc = [fixed[t.name] for t in problem.graph.tasks]
        return ports_schedule(problem, proc, time_limit=left, log=say, stop=stop)
    return modulo_schedule(problem, fixed_processor=fixed, time_limit=left, log=say, stop=stop)


# ---------------------------------------------------------------- ports: start times


@dataclass(frozen=True)
class _Crossing:
    """One transfer a placement needs: tensor ``tensor`` from processor ``src`` to ``dst``.

    ``tau`` busies ports ``out_port`` and ``in_port`` (indices of
    :func:`_port_index`); the readers may start ``arrival = tau + latency`` after it.
    """

    tensor: int
    src: int
    dst: int
    tau: int
    arrival: int
    out_port: int
    in_port: int


def _port_index(p: int, direction: str, link: str) -> int:
    """The index of processor ``p``'s port ``direction`` (out or in) of class ``link``: 4 each."""
    return 4 * p + 2 * LINK_CLASSES.index(link) + (direction == "in")


class _Placed:
    """A placement (processor per task) with what start times must respect, as integer lists.

    ``preds[v]``: ``(u, w, e)`` per edge ``e = u -> v`` of distance ``w``; an
    edge that carries a tensor across processors has ``via[e]``, the key
    ``(tensor, destination)`` of the transfer it waits for, the others wait
    ``delay[e]`` (:meth:`~lpsched.problem.Problem.delay_cost`) after ``u`` ends.
    ``sends[u]``: the transfers of the tensors ``u`` makes, one per tensor and
    other processor that reads it.
    """

    def __init__(self, problem: Problem, proc: list[int]) -> None:
        graph = problem.graph
        n = graph.n
        self.problem, self.proc, self.n = problem, proc, n
        self.dur = [problem.duration(v, proc[v]) for v in range(n)]
        self.edges: list[tuple[int, int, int, int]] = []
        self.preds: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
        self.via: dict[int, tuple[int, int]] = {}
        self.delay: list[int] = []
        self.crossings: dict[tuple[int, int], _Crossing] = {}
        for e, edge in enumerate(graph.edges):
            u, v = graph.index(edge.src), graph.index(edge.dst)
            self.edges.append((u, v, edge.distance, e))
            self.preds[v].append((u, edge.distance, e))
            self.delay.append(problem.delay_cost(e, proc[u], proc[v]))
            # Under delay no tensor travels as a transfer: every edge waits its delay.
            k = problem.tensor_of_edge.get(e) if problem.ports else None
            if k is not None and proc[u] != proc[v]:
                self.via[e] = (k, proc[v])
                self.crossings.setdefault((k, proc[v]), self._crossing(k, proc[u], proc[v]))
        self.sends: list[list[_Crossing]] = [[] for _ in range(n)]
        for (k, _q), c in sorted(self.crossings.items()):
            self.sends[problem.tensors[k].producer].append(c)
        self.order = _zero_distance_order(self.edges, n)

    def _crossing(self, k: int, p: int, q: int) -> _Crossing:
        link = self.problem.platform.link_class(p, q)
        return _Crossing(
            tensor=k,
            src=p,
            dst=q,
            tau=self.problem.transfer_time(k, p, q),
            arrival=self.problem.arrival_delay(k, p, q),
            out_port=_port_index(p, "out", link),
            in_port=_port_index(q, "in", link),
        )

    def floor(self) -> int:
        """A period below which this placement has no start times: processor and port loads.

        Every task and transfer fits in one period, and on each processor and
        port they never overlap modulo ``T`` ((P2), (P7) of ``formulations/README.md``).
        """
        load = [0] * self.problem.P
        for v in range(self.n):
            load[self.proc[v]] += self.dur[v]
        ports = [0] * (4 * self.problem.P)
        for c in self.crossings.values():
            ports[c.out_port] += c.tau
            ports[c.in_port] += c.tau
        longest = max([1, *self.dur, *(c.tau for c in self.crossings.values())])
        return max(longest, *load, *ports)

    def ready(self, e: int, u: int, start: list[int], sent: dict[tuple[int, int], int]) -> int:
        """When edge ``e`` out of ``u`` lets its reader start, given ``u``'s start and transfers."""
        key = self.via.get(e)
        if key is None:
            return start[u] + self.dur[u] + self.delay[e]
        return sent[key] + self.crossings[key].arrival


def _zero_distance_order(edges: list[tuple[int, int, int, int]], n: int) -> list[int]:
    """A topological order of the distance-0 edges, the lower index first among the ready."""
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for u, v, w, _e in edges:
        if w == 0 and u != v:
            succ[u].append(v)
            indeg[v] += 1
    ready = [v for v in range(n) if indeg[v] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        u = heapq.heappop(ready)
        order.append(u)
        for v in succ[u]:
            indeg[v] -= 1
            if indeg[v] == 0:
                heapq.heappush(ready, v)
    return order


#: Start times and transfer starts (by ``(tensor, destination)``) of one period.
Found = tuple[list[int], dict[tuple[int, int], int]]


def _attempt(placed: _Placed, T: int, flush: bool = False) -> Found | None:
    """Start times and transfer starts at period ``T``, or None where this pass finds none.

    Tasks go in :func:`_zero_distance_order`, each at the earliest time its
    placed predecessors (and their transfers) allow with its processor free
    modulo ``T`` (with ``flush``, against an occupied arc where one fits:
    fewer gaps too short to use); right after a task, its transfers go at
    the earliest time both their ports are free. The edges this order cannot
    see (distance 1 or more, back to an earlier task) are checked at the end.
    """
    P = placed.problem.P
    tasks = ReservationTables(P, T)
    ports = ReservationTables(4 * P, T)
    start = [0] * placed.n
    done = [False] * placed.n
    sent: dict[tuple[int, int], int] = {}
    for v in placed.order:
        est = 0  # nothing needs a start before 0, and a shift changes nothing modulo T
        for u, w, e in placed.preds[v]:
            if done[u]:
                est = max(est, placed.ready(e, u, start, sent) - w * T)
        d, p = placed.dur[v], placed.proc[v]
        t = est if d == 0 else _task_slot(tasks, p, est, est + T - 1, d, flush)
        if t is None:
            return None
        if d:
            tasks.add(p, t, d, v)
        start[v], done[v] = t, True
        for c in placed.sends[v]:
            x = _port_slot(ports, c, t + d, t + d + T - 1)
            if x is None:
                return None
            sent[c.tensor, c.dst] = x
    return (start, sent) if _holds(placed, T, start, sent) else None


def _task_slot(
    tasks: ReservationTables, p: int, lo: int, hi: int, d: int, flush: bool
) -> int | None:
    """The earliest free ``t`` in ``[lo, hi]`` on ``p``; with ``flush``, a flush one if any."""
    t = tasks.find(p, lo, hi, d) if flush else None
    return tasks.find_any(p, lo, hi, d) if t is None else t


def _port_slot(ports: ReservationTables, c: _Crossing, lo: int, hi: int) -> int | None:
    """The earliest start in ``[lo, hi]`` with both ports of ``c`` free (then taken), or None."""
    if c.tau == 0:
        return lo if lo <= hi else None  # infinite bandwidth: listed, but on no port
    while True:
        a = ports.find_any(c.out_port, lo, hi, c.tau)
        b = None if a is None else ports.find_any(c.in_port, a, hi, c.tau)
        if b is None:
            return None
        if b == a:
            ports.add(c.out_port, a, c.tau, c.tensor)
            ports.add(c.in_port, a, c.tau, c.tensor)
            return a
        lo = b  # the in-port is busy until b: no common slot before it


def _holds(placed: _Placed, T: int, start: list[int], sent: dict[tuple[int, int], int]) -> bool:
    """Whether every edge's reader starts late enough ((P1), (P6) of ``formulations/README.md``)."""
    return all(start[v] + w * T >= placed.ready(e, u, start, sent) for u, v, w, e in placed.edges)


#: A period no pass of :func:`_attempt` reaches (Python integers: no overflow).
UNBOUNDED = 1 << 62

#: Relative step of the period search above the floor, before it bisects.
PERIOD_STEP = 1 / 64

#: Calls of the start-time heuristic on the delay twin (:func:`_from_heuristic`).
HEURISTIC_TRIES = 6


def ports_schedule(
    problem: Problem,
    proc: list[int],
    *,
    time_limit: float | None = None,
    log: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
    lower: int = 1,
) -> Schedule:
    """Start times and transfers for tasks on fixed processors under ``capacity: ports``.

    Under ``capacity: delay`` the same searches give start times alone (no
    transfers), which :func:`_within_memory` uses for periods above the one
    the placement needs.

    The best of three searches, each from the placement's floor
    (:meth:`_Placed.floor`) up to the best period found so far:
    :func:`_attempt` first fit, then flush (:func:`_stepped`), then the
    start-time heuristic on the delay twin with the transfers fitted into its
    slack (:func:`_from_heuristic`). A safe period (:func:`_safe_period`)
    is always there, so the time limit and ``stop`` only cut searches short.

    Parameters
    ----------
    problem
        The problem; its platform must say ``capacity: ports``.
    proc
        The processor of each task, by index.
    time_limit, log, stop
        As for :func:`pipedream_schedule`.
    lower
        The least period wanted (a longer period holds fewer iterations in
        flight, so less memory): the searches start there.

    Returns
    -------
    Schedule
        A schedule with one transfer per tensor and processor that reads it
        elsewhere, valid by (P1)-(P7) of ``formulations/README.md``, starts
        shifted so that the earliest is 0, its period at least ``lower``.
    """
    clock = Clock(time_limit)

    def out() -> bool:
        return clock.expired or (stop is not None and stop.is_set())

    placed = _Placed(problem, proc)
    floor = max(placed.floor(), lower)
    # At or above the safe period nothing wraps, so the pass succeeds there too.
    T = max(_safe_period(placed), lower)
    found = _attempt(placed, T)
    assert found is not None  # the safe period always succeeds (see _safe_period)
    best: tuple[int, Found] = (T, found)
    for flush in (False, True):
        if not out():
            best = min(best, _stepped(placed, floor, best, flush, out), key=lambda b: b[0])
    if not out() and best[0] > floor:
        left = None if time_limit is None else clock.remaining()
        best = min(best, _from_heuristic(placed, floor, best, left, stop), key=lambda b: b[0])
    if log is not None:
        log(f"period {best[0]} with {len(placed.crossings)} transfers (floor {floor})")
    return _as_schedule(placed, best[0], *best[1])


def _stepped(
    placed: _Placed,
    floor: int,
    best: tuple[int, Found],
    flush: bool,
    out: Callable[[], bool],
) -> tuple[int, Found]:
    """:func:`_attempt` from ``floor`` up by :data:`PERIOD_STEP`, then bisected down.

    Success is not monotone in ``T`` (a longer circle moves every wrap), so
    the bisection only narrows between the last failure and a success.
    """
    T, failed = floor, floor - 1
    while T < best[0] and not out():
        found = _attempt(placed, T, flush)
        if found is not None:
            best = (T, found)
            break
        failed, T = T, T + max(1, int(T * PERIOD_STEP))
    T = best[0]
    while T - failed > 1 and not out():
        mid = (failed + T) // 2
        found = _attempt(placed, mid, flush)
        if found is None:
            failed = mid
        else:
            T, best = mid, (mid, found)
    return best


def _from_heuristic(
    placed: _Placed,
    floor: int,
    best: tuple[int, Found],
    time_limit: float | None,
    stop: threading.Event | None,
) -> tuple[int, Found]:
    """Start times by the heuristic on the delay twin, transfers fitted in their slack.

    The twin (:func:`_delay_twin`) waits for each transfer's arrival after
    its producer ends, so its start times satisfy every edge if each transfer
    can start in its window (:func:`_fitted`); when one cannot, the heuristic
    tries again from a higher period (more room on the ports modulo ``T``),
    by :data:`PERIOD_STEP`, then twice, four times that..., at most
    :data:`HEURISTIC_TRIES` times and below ``best``.
    """
    clock = Clock(time_limit)
    twin = _delay_twin(placed)
    fixed = {t.name: p for t, p in zip(twin.graph.tasks, placed.proc, strict=True)}
    lower = floor
    for attempt in range(HEURISTIC_TRIES):
        if lower >= best[0] or clock.expired or (stop is not None and stop.is_set()):
            break
        left = None if time_limit is None else clock.remaining()
        sched = modulo_schedule(
            twin, lower_bound=lower, fixed_processor=fixed, time_limit=left, quick=True, stop=stop
        )
        T = sched.period
        if T >= best[0]:
            break
        start = [sched.start[t.name] for t in twin.graph.tasks]
        sent = _fitted(placed, T, start)
        if sent is not None:
            return (T, (start, sent))
        lower = T + max(1, int(T * PERIOD_STEP * 2**attempt))
    return best


def _delay_twin(placed: _Placed) -> Problem:
    """The placement's problem under ``capacity: delay``, transfers as delays with room to wait.

    An edge that crosses processors with a tensor gets a fixed ``comm``: its
    transfer's arrival (``tau + latency``) plus the time the other transfers
    on the busier of its two ports take, so that its window can hold the
    wait for them; the other edges cost what they did (0 on one processor,
    their delay otherwise). Longer delays lengthen the pipeline, not the
    period, unless they close a tight cycle.
    """
    problem = placed.problem
    graph = problem.graph
    load = [0] * (4 * problem.P)
    for c in placed.crossings.values():
        load[c.out_port] += c.tau
        load[c.in_port] += c.tau
    room = {
        key: c.arrival + max(load[c.out_port], load[c.in_port]) - c.tau
        for key, c in placed.crossings.items()
    }
    edges = tuple(
        replace(edge, comm=room[placed.via[e]]) if e in placed.via else edge
        for e, edge in enumerate(graph.edges)
    )
    platform = replace(problem.platform, capacity="delay")
    return Problem(replace(graph, edges=edges), platform, problem.placement)


def _fitted(placed: _Placed, T: int, start: list[int]) -> dict[tuple[int, int], int] | None:
    """Transfer starts for fixed task starts at period ``T``, or None where some do not fit.

    Each transfer may start from its producer's end to its earliest reader's
    start (distances counted) less its arrival; the tightest windows go
    first (the longest transfers first among windows of a period or more),
    each at the earliest time both its ports are free.
    """
    P = placed.problem.P
    latest: dict[tuple[int, int], int] = {}
    for _u, v, w, e in placed.edges:
        key = placed.via.get(e)
        if key is not None:
            deadline = start[v] + w * T - placed.crossings[key].arrival
            latest[key] = min(latest.get(key, deadline), deadline)
    tensors = placed.problem.tensors
    earliest = {
        key: start[tensors[key[0]].producer] + placed.dur[tensors[key[0]].producer]
        for key in latest
    }

    def urgency(key: tuple[int, int]) -> tuple[int, int, tuple[int, int]]:
        # A window of a period or more may take any residue: those go last, longest first.
        room = min(latest[key] - earliest[key], T)
        return (room, -placed.crossings[key].tau, key)

    ports = ReservationTables(4 * P, T)
    sent: dict[tuple[int, int], int] = {}
    for key in sorted(latest, key=urgency):
        x = _port_slot(ports, placed.crossings[key], earliest[key], latest[key])
        if x is None:
            return None
        sent[key] = x
    return sent if _holds(placed, T, start, sent) else None


def _safe_period(placed: _Placed) -> int:
    """A period at which :func:`_attempt` succeeds: the makespan of its pass without a period.

    With ``T`` at least every task's end and every edge's ready time of that
    pass, nothing wraps modulo ``T``, so the pass at ``T`` places everything
    where it did, and an edge of distance ``w >= 1`` needs at most ``T <= w T``.
    """
    found = _attempt(placed, UNBOUNDED)
    assert found is not None  # every edge of distance >= 1 reaches a period ahead
    start, sent = found
    ends = [start[v] + placed.dur[v] for v in range(placed.n)]
    ready = [placed.ready(e, u, start, sent) for u, _v, _w, e in placed.edges]
    return max([1, *ends, *ready, *(c.tau for c in placed.crossings.values())])


def _as_schedule(
    placed: _Placed, T: int, start: list[int], sent: dict[tuple[int, int], int]
) -> Schedule:
    """The schedule of ``placed`` at period ``T``, shifted so that the earliest start is 0."""
    problem = placed.problem
    graph = problem.graph
    shift = min(start, default=0)
    transfers = tuple(
        Transfer(
            tensor=problem.tensors[k].name,
            producer=graph.tasks[problem.tensors[k].producer].name,
            src=c.src,
            dst=c.dst,
            start=sent[k, q] - shift,
            duration=c.tau,
        )
        for (k, q), c in sorted(placed.crossings.items())
    )
    names = [t.name for t in graph.tasks]
    return Schedule(
        graph=graph,
        platform=problem.platform,
        period=T,
        processor=dict(zip(names, placed.proc, strict=True)),
        start={name: s - shift for name, s in zip(names, start, strict=True)},
        transfers=transfers,
    )


def _prefixed(log: Callable[[str], None]) -> Callable[[str], None]:
    """``log`` with the start-time search's lines named after the planner."""

    def say(line: str) -> None:
        log(f"pipedream: {line.removeprefix('heuristic: ')}")

    return say


# ---------------------------------------------------------------- memory


def bounded_memory(platform: Platform) -> bool:
    """Whether some processor of ``platform`` has a memory capacity (``None`` is unlimited)."""
    return any(p.memory is not None for p in platform.processors)


def _tensor_groups(graph: TaskGraph) -> list[tuple[int, int, list[int]]]:
    """``(producer, bytes, edges)`` per tensor as :mod:`lpsched.footprint` groups them.

    All edges from one producer with one tensor name (an edge without a name
    is a tensor of its own), bytes the largest; those of 0 bytes are left out.
    """
    groups: dict[tuple[str, str], list[int]] = {}
    for i, e in enumerate(graph.edges):
        name = e.tensor if e.tensor is not None else f"e{i}"
        groups.setdefault((e.src, name), []).append(i)
    out = []
    for (src, _name), edges in groups.items():
        nbytes = max(graph.edges[i].bytes for i in edges)
        if nbytes > 0:
            out.append((graph.index(src), nbytes, edges))
    return out


def _stashed(graph: TaskGraph, e: int) -> bool:
    """Whether edge ``e``'s reader keeps its tensor for every iteration in flight.

    Weights (read at the layer's staleness) and a forward task's output read
    by a backward task (the stashed activations): their lifetime spans the
    way through the later stages and back.
    """
    edge = graph.edges[e]
    if edge.weights is not None:
        return True
    u, v = graph.tasks[graph.index(edge.src)], graph.tasks[graph.index(edge.dst)]
    return u.kind == "F" and v.kind not in (None, "F")


def _add_contains(D: np.ndarray, points: set[int], B: int, nbytes: float) -> None:
    """Add ``nbytes`` to every range ``[i, j)`` of blocks that holds one of ``points``.

    Disjoint rectangles through the difference array ``D``: the first point
    ``q`` at or after ``i`` lies inside when ``j > q``.
    """
    prev = -1
    for q in sorted(points):
        D[prev + 1, q + 1] += nbytes
        D[prev + 1, B + 1] -= nbytes
        D[q + 1, q + 1] -= nbytes
        D[q + 1, B + 1] += nbytes
        prev = q


@dataclass(frozen=True)
class MemoryCosts:
    """What a stage holding blocks ``[i, j)`` keeps, as ``(blocks + 1)^2`` matrices of bytes.

    Attributes
    ----------
    stash
        Tensors held once per iteration in flight: weights (one version per
        iteration between an update and its use) and activations stashed for
        the backward pass, made in the stage or received.
    resident
        Every tensor the stage holds (the stashed ones included), once.
    state
        Prefix sums of the optimizer state per block (``optimizer_state x``
        parameter bytes, with the update task).
    """

    stash: np.ndarray
    resident: np.ndarray
    state: np.ndarray

    def estimate(self, s: int, S: int, depth: int | None = None) -> np.ndarray:
        """``[i, j]``: the estimated footprint of stage ``s`` of ``S`` holding blocks ``i..j-1``.

        Stage ``s`` keeps ``S - s`` iterations in flight, as the start-time
        search places them (1F1B-like: an iteration's forward pass goes through
        the ``S - s - 1`` later stages and back before its backward pass here):
        the stash ``S - s`` times, everything else once, plus the optimizer state.
        With ``depth``, at most ``depth`` iterations in flight (a period long
        enough for fewer).
        """
        flight = S - s if depth is None else min(S - s, depth)
        extra = max(0, flight - 1)
        state = self.state[None, :] - self.state[:, None]
        return self.resident + extra * self.stash + state


def memory_costs(problem: Problem, block: list[int], B: int) -> MemoryCosts:
    """:class:`MemoryCosts` of the problem's tensors for tasks in blocks ``block`` (``B`` blocks).

    A tensor is resident on a stage holding its producer or one of its
    readers, and stashed there when one of the stage's readers stashes it
    (:func:`_stashed`); the rule follows :mod:`lpsched.footprint`, with the
    copies estimated per stage (:meth:`MemoryCosts.estimate`).
    """
    graph = problem.graph
    stash = np.zeros((B + 2, B + 2))
    resident = np.zeros((B + 2, B + 2))
    state = np.zeros(B + 1)
    factor = problem.platform.optimizer_state
    for u, nbytes, edges in _tensor_groups(graph):
        readers = {block[graph.index(graph.edges[e].dst)] for e in edges}
        keep = {block[graph.index(graph.edges[e].dst)] for e in edges if _stashed(graph, e)}
        _add_contains(resident, readers | {block[u]}, B, nbytes)
        if keep:
            _add_contains(stash, keep, B, nbytes)
        if factor and any(graph.edges[e].weights is not None for e in edges):
            state[block[u] + 1] += factor * nbytes
    return MemoryCosts(
        stash=stash.cumsum(axis=0).cumsum(axis=1)[: B + 1, : B + 1],
        resident=resident.cumsum(axis=0).cumsum(axis=1)[: B + 1, : B + 1],
        state=np.cumsum(state),
    )


def memory_estimate(problem: Problem, plan: StagePlan) -> list[float]:
    """Each stage's estimated footprint in bytes (:meth:`MemoryCosts.estimate`) under ``plan``."""
    layers = plan.layers
    position = {name: k for k, name in enumerate(layers)}
    block = _block_of(problem.graph, layers, list(range(len(layers) + 1)))
    costs = memory_costs(problem, block, len(layers))
    S = len(plan.stages)
    out = []
    for s, stage in enumerate(plan.stages):
        i = position[stage[0]]
        out.append(float(costs.estimate(s, S)[i, i + len(stage)]))
    return out


#: A stage time no plan reaches (the same as the stage matrices' empty ranges).
_BIG = np.iinfo(np.int64).max // 4


def _fitting_programme(
    costs: _StageCosts,
    memory: MemoryCosts,
    limits: list[float | None],
    S: int,
    depth: int | None = None,
) -> tuple[int, list[int]] | None:
    """The best plan in exactly ``S`` stages whose estimates fit ``limits``: objective and cut.

    :func:`_programme`'s recurrence with the ranges whose estimate exceeds the
    stage's processor's limit taken out; None when no such plan exists.
    """
    L = costs.L

    def allowed(s: int) -> np.ndarray:
        t = costs.stage(s)
        if limits[s] is None:
            return t
        return np.where(memory.estimate(s, S, depth) <= limits[s], t, _BIG)

    best = allowed(0)[0].copy()
    cuts: list[np.ndarray] = [np.zeros(L + 1, dtype=np.int64)]
    for s in range(1, S):
        cand = np.maximum(np.maximum(best, costs.cut(s))[:, None], allowed(s))
        arg = cand.argmin(axis=0)
        best = cand[arg, np.arange(L + 1)]
        cuts.append(arg)
    if best[L] >= _BIG:
        return None
    return int(best[L]), _cut_of(cuts, S - 1, L)


def _memory_plans(
    problem: Problem,
    layers: list[str],
    duration: Callable[[int, int], int],
    comm: str,
    clock: Clock,
    scale: float = 1.0,
    depth: int | None = None,
) -> list[StagePlan]:
    """Per stage count, the best plan whose estimates fit ``scale x`` each memory; best first.

    ``depth`` caps the iterations in flight the estimates count
    (:meth:`MemoryCosts.estimate`).

    The blocks are :func:`_blocks`'s (every layer up to :data:`MAX_BLOCKS`
    layers), without the refinement around the cuts. Stage counts are tried
    from 1 up while the clock has time (one at least).
    """
    bounds = _blocks(len(layers))
    B = len(bounds) - 1
    most = min(problem.P, B)
    block = _block_of(problem.graph, layers, bounds)
    work, between = _layer_costs(problem, block, B, duration, most)
    ports = _port_matrices(problem, block, B, most) if problem.ports else None
    costs = _StageCosts(problem.platform, work, between, comm, ports)
    memory = memory_costs(problem, block, B)
    limits = [None if p.memory is None else scale * p.memory for p in problem.platform.processors]
    plans = []
    for S in range(1, most + 1):
        if S > 1 and clock.expired:
            break
        found = _fitting_programme(costs, memory, limits, S, depth)
        if found is not None:
            objective, cut = found
            pairs = enumerate(zip(cut, cut[1:], strict=False))
            held = [float(memory.estimate(s, S, depth)[a, b]) for s, (a, b) in pairs]
            plans.append(_as_plan(costs, layers, bounds, cut, objective, held))
    plans.sort(key=lambda plan: (plan.stage_time, len(plan.stages)))
    return plans


def memory_shortfall(problem: Problem) -> str | None:
    """Why no schedule of any solver fits the memories, or None where this test proves nothing.

    Each task's output tensors are resident on its processor at least while
    it runs (one copy each when its duration is 1 unit or more,
    :mod:`lpsched.footprint`), with its optimizer state; so what one task
    holds must fit the largest memory, and all of it the memories together.
    Only when every processor's memory is bounded.
    """
    limits = [p.memory for p in problem.platform.processors]
    if any(m is None for m in limits):
        return None
    graph = problem.graph
    factor = problem.platform.optimizer_state
    held: dict[int, list[float]] = {}  # task -> [outputs, optimizer state]
    for u, nbytes, edges in _tensor_groups(graph):
        entry = held.setdefault(u, [0.0, 0.0])
        if problem.min_durations[u] >= 1:
            entry[0] += nbytes
        if any(graph.edges[e].weights is not None for e in edges):
            entry[1] += factor * nbytes
    largest = max(limits)
    if held:
        u, (outputs, state) = max(held.items(), key=lambda x: (sum(x[1]), -x[0]))
        if outputs + state > largest:  # the task that holds the most is named
            task = graph.tasks[u]
            return (
                f"task {task.name} (layer {task.layer or task.name}) holds at least "
                f"{format_bytes(outputs + state)} ({format_bytes(outputs)} of outputs and "
                f"weights, {format_bytes(state)} of optimizer state) on one processor, "
                f"more than the largest memory, {format_bytes(largest)}"
            )
    total = sum(a + b for a, b in held.values())
    if total > sum(limits):
        return (
            f"the tasks hold at least {format_bytes(total)} (one copy of every output and "
            f"the optimizer state), more than all memories together, {format_bytes(sum(limits))}"
        )
    return None


#: Fractions of each memory the estimates of successive rounds of plans must fit
#: (:func:`_within_memory`): an estimate may fall short of the footprint it stands for.
MEMORY_SCALES = (1.0, 0.85, 0.7, 0.55, 0.4)

#: Plans whose period :func:`_within_memory` raises when none fits at its own.
SLOWER_PLANS = 4

#: Iterations in flight the estimates of the plans made for a longer period count.
FEW_IN_FLIGHT = 1


def _within_memory(
    problem: Problem,
    time_limit: float | None,
    log: Callable[[str], None] | None,
    stop: threading.Event | None,
) -> Schedule:
    """:func:`pipedream_schedule` when some processor's memory is bounded.

    Round by round (:data:`MEMORY_SCALES`), the best plan per stage count whose
    estimates fit (:func:`_memory_plans`; the first round adds the plan that
    ignores memory), each scheduled and checked by the validator with its
    staleness lowered; the first round with a schedule that fits gives the
    one of the least period. When none fits, the period of the first
    :data:`SLOWER_PLANS` plans is raised until one does (:func:`_slowed`).
    """
    clock = Clock(time_limit)
    why = memory_shortfall(problem)
    if why is not None:
        raise InfeasibleError(f"no schedule fits the memory: {why}")
    # The bounds' proofs too ((B14)-(B15), (B20)), as solve() checks them, for direct callers.
    proven = problem.bounds.memory_infeasible
    if proven is not None:
        raise InfeasibleError(f"no schedule fits the memory (proven): {proven}")
    layers = pipeline_layers(problem)
    tried: list[tuple[StagePlan, int]] = []  # plan and its period without memory
    seen: set[tuple[tuple[str, ...], ...]] = set()
    for round_, scale in enumerate(MEMORY_SCALES):
        if tried and _stopped(clock, stop):
            break
        plans = _memory_plans(problem, layers, problem.duration, "overlap", clock, scale)
        if round_ == 0:
            plans.append(plan_stages(problem, memory=False))
        best: Schedule | None = None
        for plan in plans:
            key = tuple(tuple(stage) for stage in plan.stages)
            if key in seen or (tried and _stopped(clock, stop)):
                continue
            seen.add(key)
            sched, fits = _plan_schedule(problem, plan, 1, clock, stop)
            tried.append((plan, sched.period))
            if fits and (best is None or sched.period < best.period):
                best = sched
        if best is not None:
            if log is not None:
                log(f"memory: period {best.period} within memory (round {round_ + 1})")
            return best
    return _slowest_resort(problem, tried, clock, log, stop)


def _slowest_resort(
    problem: Problem,
    tried: list[tuple[StagePlan, int]],
    clock: Clock,
    log: Callable[[str], None] | None,
    stop: threading.Event | None,
) -> Schedule:
    """The least period found by raising the period of some plans, else the error.

    First the plans whose estimates fit with :data:`FEW_IN_FLIGHT` iterations
    in flight (made for a longer period), then those tried, by their period.
    """
    best: Schedule | None = None
    seen = {tuple(tuple(stage) for stage in plan.stages) for plan, _ in tried}
    fresh = []
    for plan in _memory_plans(
        problem, pipeline_layers(problem), problem.duration, "overlap", clock, 1.0, FEW_IN_FLIGHT
    ):
        key = tuple(tuple(stage) for stage in plan.stages)
        if key not in seen and not _stopped(clock, stop):
            seen.add(key)
            sched, fits = _plan_schedule(problem, plan, 1, clock, stop)
            if fits and (best is None or sched.period < best.period):
                best = sched
            fresh.append((plan, sched.period))
    ranked = fresh + sorted(tried, key=lambda x: (x[1], x[0].stage_time, len(x[0].stages)))
    tried = tried + fresh
    for plan, period in ranked[:SLOWER_PLANS]:
        if _stopped(clock, stop):
            break
        cap = None if best is None else best.period
        found = _slowed(problem, plan, period, cap, clock, stop)
        if found is not None and (best is None or found.period < best.period):
            best = found
    if best is None:
        raise InfeasibleError(
            f"pipedream: none of the {len(tried)} stage plans tried fits the memory, even "
            f"with a longer period{_widest_layer(problem)} (the planner found none; this "
            "proves no infeasibility)"
        )
    if log is not None:
        log(f"memory: period {best.period} within memory, raised from the plans' own")
    return best


def _stopped(clock: Clock, stop: threading.Event | None) -> bool:
    return clock.expired or (stop is not None and stop.is_set())


def _plan_schedule(
    problem: Problem, plan: StagePlan, lower: int, clock: Clock, stop: threading.Event | None
) -> tuple[Schedule, bool]:
    """The plan's schedule, period at least ``lower``, its staleness lowered; and whether it fits.

    Fitting is the validator's word (every check, memory (P8) included), so
    a schedule said to fit is one :func:`~lpsched.validate.validate` accepts.
    """
    stage_of = {name: k for k, stage in enumerate(plan.stages) for name in stage}
    proc = [stage_of[t.layer or t.name] for t in problem.graph.tasks]
    left = None if clock.limit is None else clock.remaining()
    if problem.ports or lower > 1:
        # The modulo search keeps its lifetimes as a longer period stretches them;
        # ports_schedule's passes place each iteration compactly (delay: no transfers).
        sched = ports_schedule(problem, proc, time_limit=left, stop=stop, lower=lower)
    else:
        fixed = {t.name: p for t, p in zip(problem.graph.tasks, proc, strict=True)}
        sched = modulo_schedule(
            problem, fixed_processor=fixed, lower_bound=lower, time_limit=left, stop=stop
        )
    sched = least_staleness(sched)
    return sched, not validate(sched)


def _roomy_period(problem: Problem, plan: StagePlan) -> int:
    """A period past which a longer one frees no more memory for ``plan`` (a search's end).

    One iteration's work and every edge's cost laid end to end (one unit
    more per edge for the rounding of a transfer and its latency): no
    lifetime of one iteration is longer.
    """
    stage_of = {name: k for k, stage in enumerate(plan.stages) for name in stage}
    graph = problem.graph
    proc = [stage_of[t.layer or t.name] for t in graph.tasks]
    work = sum(problem.duration(v, proc[v]) for v in range(graph.n))
    comm = sum(
        problem.edge_cost(e, proc[graph.index(edge.src)], proc[graph.index(edge.dst)]) + 1
        for e, edge in enumerate(graph.edges)
    )
    return work + comm


def _slowed(
    problem: Problem,
    plan: StagePlan,
    period: int,
    cap: int | None,
    clock: Clock,
    stop: threading.Event | None,
) -> Schedule | None:
    """The plan's schedule at the least period above ``period`` found to fit, or None.

    Periods rise by an eighth of ``period``, then twice, four times that...,
    up to :func:`_roomy_period` (and below ``cap``); then the last failure
    and the first fit are bisected (a longer period mostly holds fewer
    iterations in flight, but not always: the bisection only narrows).
    """
    roomy = max(period + 1, _roomy_period(problem, plan))
    step, failed, found = max(1, period // 8), period, None
    while found is None and not _stopped(clock, stop):
        T = min(failed + step, roomy)
        if cap is not None and T >= cap:
            return None
        sched, fits = _plan_schedule(problem, plan, T, clock, stop)
        if fits:
            found = sched
        elif T >= roomy:
            return None
        else:
            failed, step = max(T, sched.period), 2 * step
    while found is not None and found.period - failed > 1 and not _stopped(clock, stop):
        mid = (failed + found.period) // 2
        sched, fits = _plan_schedule(problem, plan, mid, clock, stop)
        if fits and sched.period < found.period:
            found = sched
        else:
            failed = mid
    return found


def _widest_layer(problem: Problem) -> str:
    """``", layer X alone holds ..."``: a layer too big for the largest memory, or ``""``.

    All tasks of a layer share a stage, so each tensor it makes or reads is
    held there once at least (with its optimizer state): a plan needs every
    layer to fit one memory.
    """
    limits = [p.memory for p in problem.platform.processors]
    if any(m is None for m in limits):
        return ""
    layers = pipeline_layers(problem)
    block = _block_of(problem.graph, layers, list(range(len(layers) + 1)))
    costs = memory_costs(problem, block, len(layers))
    alone = [float(costs.estimate(0, 1)[b, b + 1]) for b in range(len(layers))]
    b = int(np.argmax(alone))
    if alone[b] <= max(limits):
        return ""
    return (
        f"; layer {layers[b]} alone holds about {format_bytes(alone[b])} on its stage, "
        f"more than the largest memory, {format_bytes(max(limits))}"
    )
