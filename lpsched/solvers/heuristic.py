"""Iterative modulo scheduling (Rau 1994) with processor choice and communication costs.

The heuristic takes a :class:`~lpsched.problem.Problem`: a task graph on a
platform whose processors may differ in speed and sit in several nodes. Task
``v`` lasts ``d_v(p)`` on processor ``p`` and edge ``e = u -> v`` costs
``c_e(p, q)`` from ``p`` to ``q`` (0 when ``p == q``), as
``formulations/README.md`` defines them.

For a candidate period ``T`` the tasks are placed one at a time in order of
decreasing *height* (the longest path to the end of the graph, every edge
weighted ``d_u + c - w*T`` with the fastest durations and the cheapest links:
Rau's ``HeightR``). Each task goes to the earliest start its placed
predecessors allow on a processor,

    s_v >= s_u + d_u(p_u) + c_e(p_u, p_v) - w * T,

no later than its placed successors allow (edges of positive distance close
loops), on the processor that offers the earliest *finish* ``t + d_v(p)`` of
a free slot of its modulo reservation table (:mod:`lpsched.solvers.modulo_tables`;
the occupied arcs of a circle of length ``T``, wrap-around included) in the
window ``[estart, estart + T - 1]``: a faster processor wins over a slower
one that is free at the same time, a slower one that is free earlier can
still win. When no processor has such a slot the task is forced in, at the
position and on the processor that evict the least work, and the tasks it
collides with, on its processor or through a violated edge, are placed again
later (Rau's budgeted backtracking; an attempt also gives up when the number
of unplaced tasks stops falling).

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
  at period ``T`` when ``d(C) + c_uv > w(C) * T`` even with the fastest
  durations and the cheapest link: the cycle alone would exceed its distance.
  Such ``u`` and ``v`` are kept on one processor (cycles through one edge of
  positive distance are examined), a group too long for every processor
  proves ``T`` infeasible before any attempt, a group only goes to a
  processor that can hold all of it, and that processor keeps room for the
  rest of the group once its first task is placed. With expensive weight
  transfers this keeps a layer's ``F``, ``W`` and ``U`` together. When a plain
  attempt fails, edges that would eat 70%, 50%, 30% or 20% of their cycle's
  slack are kept inside groups as well. A task or group that only one
  processor can hold in ``T`` (the fastest, when no other has its speed) is
  committed to it the same way, so that the processor keeps room for it.
* **The PipeDream layout as a candidate.** When the lower bound is not reached
  at once, the PipeDream planner's stages (:mod:`lpsched.solvers.pipedream`)
  are scheduled with fixed processors, and the free search has to beat them.
* **Rebalancing.** Near the resource bound the period found is often just the
  largest processor load: the circles were packed unevenly. Tasks are then
  moved, or swapped with shorter ones, from the most loaded processor to
  processors with room (least communication added first; a task's size is
  its duration on the processor it would occupy) until every load is under
  ``T - 1``, and the start times are found again with those processors fixed;
  this repeats while it succeeds (ResNet-50 on 16 processors: 1016 -> 988,
  which CP-SAT proves optimal; the resource bound is 986).
* **The coarser decomposition, refined.** A LayerPipe graph is also scheduled
  as ``intra`` (and that one as ``pipedream``), with fewer and longer tasks,
  and the schedule refined into the graph's own tasks (:mod:`lpsched.coarsen`),
  then rebalanced. A merged task is scheduled with the sum of its parts'
  durations on each processor (at a speed other than 1, ``ceil(sum d / s)``
  can be shorter than the parts, which then would not fit in its slot), so
  the refinement is exact on every platform. The better of the two searches is
  returned (ResNet-18 on 4 processors: 1755 -> 1726, the bound; ResNet-50 on
  32: 502 -> 498).
* **Fixed processors** (``fixed_processor``), which the PipeDream planner uses.
* **Placements** (``Problem.placement``, :mod:`lpsched.placement`). Under
  ``layer`` and ``stages`` every layer (:attr:`~lpsched.problem.Problem.units`)
  is a necessary co-location group: its first task placed fixes the
  processor of the others, which keeps room for them, a layer too long for
  ``T`` proves ``T`` infeasible, and rebalancing moves whole layers; the
  coarser decomposition keeps the layers. Under ``stages`` the processors
  come from cuts of the layers into at most ``P`` intervals instead
  (:func:`_stage_search`: the planner's cuts, then every cut moved by one
  layer), each scheduled with its processors fixed, the best kept. Fixed
  processors under ``stages`` must fix every task.
* **Layers kept whole, under ports.** Under ``capacity: ports`` and placement
  ``free``, the search is run again with every layer on one processor (as
  placement ``layer``), with :data:`LAYER_SHARE` of the steps, and the better
  schedule returned: a layer's forward and backward tasks read the same
  activations, which the free search sends over a port where they are heavy
  (ResNet-18 on 8 ``pcie`` processors: 1648 -> 1236). A quick search from a
  floor an eighth of the gap above the bound follows when the best is more
  than 2% above it (:data:`RESTART_SHIFT`): where the bound is loose, the
  periods tried from it decide where the search ends (GPT-2 on 4 ``pcie``
  processors: 3797 -> 3634).

**Time and work.** A time limit ends every phase at its next check (an
attempt checks every 64 steps; the co-location analysis, the coarser
decomposition, the PipeDream layout, rebalancing and the improvement
attempts check before they start and as they go; sub-searches get a share
of what is left), and the best schedule so far is returned, at worst the
one-processor schedule; the log names what was skipped or cut short. With a
limit or without, one call makes at most :data:`STEP_LIMIT` scheduling
steps, and the quadratic passes are bounded (:data:`COLOCATION_LIMIT`,
:data:`COLOCATION_CELLS`, :data:`REBALANCE_LIMIT`, and the planner's
``MAX_BLOCKS``), so that the work on a big graph is bounded and its memory
linear in the graph; no table has a row per processor and task. Up to those
bounds the search is the same with a limit as without: a limit that
suffices changes nothing. Progress goes to ``log``: one line per better
period (seconds, period, bound, gap), a few per second at most.

No step assumes identical processors, so the heuristic breaks no symmetry
between them (it tries every processor a task may use, except that of empty
processors of one speed and one node it tries the first only: they offer the
same, so the result is the same). On a uniform platform
it is exactly the search for ``P`` identical processors with the durations at
that speed and each edge's one crossing cost (at speed 1: the task graph as
given).

Every schedule returned has been checked against the model of
``formulations/README.md`` here; when nothing better is found the result is
the trivially valid schedule of all tasks in a topological order on the
fastest processor.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InfeasibleError, InputError
from ..graph import TaskGraph
from ..platform import Platform
from ..problem import Problem, as_problem
from ..schedule import Schedule, Transfer
from .modulo_tables import PortTables, ReservationTables

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
#: The levels tried under capacity: ports. There a failing attempt is expensive (each
#: step searches ports too) and the middle levels seldom decide: on VGG-16, ResNet-18,
#: ResNet-50 and GPT-2 at 8 and 16 processors no attempt at 0.7 or 0.5 succeeded where
#: 1.0 had failed, while 0.3 and 0.2 did (VGG-16, 8 pcie processors).
PORT_COHESION_LEVELS = (1.0, 0.3, 0.2)
#: Under capacity: ports, a free slot's key (its finish) grows by this many time units per
#: unit of port time its new transfers take: a crossing must win by what it costs the links.
PORT_WEIGHT = 1.0
#: Under capacity: ports, at a cohesion level ``c < 1`` a tensor whose transfer takes more
#: than ``PORT_COHESION * c`` of the period stays with its producer when its group fits.
PORT_COHESION = 0.5
#: Slots finishing within this fraction of T after the earliest compete by best fit.
FIT_WINDOW = 0.0
#: Under capacity: ports, the most scheduling steps per task of the free search of one
#: call (at least PORT_STEPS_LEAST; the layer search and the restart after it get
#: LAYER_SHARE and RESTART_SHARE more):
#: every step also searches ports, the free search seldom improves late, and the
#: planner's schedule is there from the start (see :func:`_modulo`).
PORT_STEPS_PER_TASK = 150
PORT_STEPS_LEAST = 40_000
#: Largest (edges of positive distance) x (tasks) for the co-location analysis.
COLOCATION_LIMIT = 20_000_000
#: Largest (tasks) x (edges of positive distance) held at once by the co-location analysis:
#: above it the back edges are taken in chunks, so that memory stays linear in the graph.
COLOCATION_CELLS = 2_000_000
#: Largest (chunks of back edges) x (tasks + edges) for the co-location analysis: each chunk
#: is a pass over the graph in Python.
COLOCATION_CALLS = 5_000_000
#: Under ports and placement ``free``, the search with every layer on one processor
#: (:func:`_layer_placed`) runs after the free search, with this share of its steps.
LAYER_SHARE = 0.3
#: Under ports, a quick search from the bound plus this share of the gap to the best
#: period (:func:`_restarted`) follows, with RESTART_SHARE of the free search's steps.
RESTART_SHIFT = 0.125
RESTART_SHARE = 0.6

#: The most scheduling steps (placements of a task, free or forced) one call makes, over
#: all its attempts and sub-searches, with a time limit or without: the work bound on big
#: graphs. The rows of docs/results.md take at most 51,012 (ResNet-50 on 6 processors).
STEP_LIMIT = 1_000_000
#: The most work units (see :class:`_Tally`) one rebalancing of the loads to one target
#: spends on its moves and swaps (a swap pairs every item of the most loaded processor
#: with every other item: quadratic); the rows of docs/results.md take at most 3,666.
REBALANCE_LIMIT = 1_000_000
#: Above this many tasks x processors the PipeDream layout is scheduled before the first
#: attempt (see :meth:`_Search.raise_period`); the built-in networks stay far below.
STAGED_FIRST = 1_000_000
#: Rounds of the local search over stage cuts under placement ``stages`` (see
#: :func:`_stage_search`); each tries at most ``2 (P - 1) + 1`` cuts.
STAGE_ROUNDS = 3
#: Under placement ``stages``, up to this many cuts are all tried on graphs of at most
#: STAGE_ALL_TASKS tasks (the brute force's sizes); larger ones search locally.
STAGE_ALL_CUTS = 64
STAGE_ALL_TASKS = 12
#: Seconds between two progress lines, at least (the last improvement is always shown).
PROGRESS_INTERVAL = 0.25

_NEG = -(1 << 62)
_POS = 1 << 62

#: Transfers as (tensor, destination, start), sorted; none under capacity: delay.
Sent = tuple[tuple[int, int, int], ...]
#: A schedule as lists by task index: (period, processor, start, transfers).
Placement = tuple[int, list[int], list[int], Sent]
Log = Callable[[str], None]
#: A co-location tie (u, v, comm, distance, length): the edge u -> v lies on a cycle of that
#: total distance and total duration; it cannot cross processors when comm > distance*T - length.
Tie = tuple[int, int, int, int, int]


# --------------------------------------------------------------------------- budget
@dataclass
class _Meter:
    """What one call and its sub-searches have spent, and where they report.

    ``steps`` counts scheduling steps (placements) over every attempt; ``notes``
    the phases skipped or cut short, each logged once; ``stop``, when set, ends
    every budget (the caller's Ctrl-C).
    """

    log: Log | None
    stop: threading.Event | None = None
    steps: int = 0
    began: float = field(default_factory=time.perf_counter)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        """Log ``text`` (a phase skipped or cut short) once per call."""
        if text not in self.notes:
            self.notes.append(text)
            if self.log is not None:
                self.log(f"heuristic: {text}")


@dataclass(frozen=True)
class _Budget:
    """A deadline (``time.perf_counter()`` seconds) and a step count a search may reach.

    Sub-searches get a :meth:`share` of what is left; all of them spend on
    one :class:`_Meter`.
    """

    meter: _Meter
    deadline: float = math.inf
    steps: int = STEP_LIMIT

    def out(self) -> bool:
        """Whether the deadline has passed, the steps are spent or the caller said stop."""
        stop = self.meter.stop
        return (
            self.meter.steps >= self.steps
            or time.perf_counter() >= self.deadline
            or (stop is not None and stop.is_set())
        )

    def why(self) -> str:
        """What ended the budget: a stop, the time limit or the step limit."""
        if self.meter.stop is not None and self.meter.stop.is_set():
            return "stopped"
        if time.perf_counter() >= self.deadline:
            return "time limit"
        return "step limit"

    def share(self, fraction: float) -> _Budget:
        """A budget of ``fraction`` of the time and the steps left."""
        now = time.perf_counter()
        deadline = self.deadline
        if math.isfinite(deadline):
            deadline = now + fraction * max(0.0, deadline - now)
        left = max(0, self.steps - self.meter.steps)
        return _Budget(self.meter, deadline, self.meter.steps + int(fraction * left))


def _unlimited() -> _Budget:
    """The budget of a call without a time limit and without a log."""
    return _Budget(_Meter(None))


class _Progress:
    """One log line per better period (time, period, bound, gap), a few per second at most.

    A better period that comes too soon after the last line waits for the
    next line or for :meth:`flush`.
    """

    def __init__(self, meter: _Meter, bound: int) -> None:
        self.meter, self.bound = meter, bound
        self.shown: int | None = None
        self.pending: int | None = None
        self.found = 0.0  # when the pending period was found
        self.last = -math.inf

    def better(self, period: int) -> None:
        """Record a period found; log it if better, unless the last line is too recent."""
        known = min(x for x in (self.shown, self.pending, period) if x is not None)
        if period > known or period == self.shown:
            return
        self.pending, self.found = period, time.perf_counter()
        if self.found - self.last >= PROGRESS_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Log the pending period, if any."""
        if self.pending is None or self.meter.log is None:
            return
        T, lb = self.pending, self.bound
        self.pending, self.shown, self.last = None, T, time.perf_counter()
        gap = 100.0 * (T - lb) / T if T > 0 else 0.0
        self.meter.log(
            f"heuristic: {self.found - self.meter.began:.2f} s  period {T}  bound {lb}  "
            f"gap {max(gap, 0.0):.1f}%"
        )


@dataclass
class _Instance:
    """The problem as integer lists, built once per call.

    Durations depend on a processor's speed only, so they are kept per *speed
    class* (``kind[p]``): ``dk[v][kind[p]]`` is task ``v`` on processor ``p``.
    A crossing of edge ``e`` costs ``ci[e]`` within a node and ``ce[e]``
    between nodes. ``dmin`` and ``cmin`` (fastest duration, cheapest crossing)
    are the relaxation that heights and the co-location analysis use: on it
    every bound they derive stays valid.
    """

    problem: Problem
    n: int
    processors: int
    kind: list[int]
    classes: list[list[int]]  # the processors of each speed class
    dk: list[list[int]]
    dmin: list[int]
    node: list[int]
    twin: list[int]  # processors of one speed and one node share a number (see _twins)
    ci: list[int]
    ce: list[int]
    cmin: list[int]
    one_link: bool  # every crossing of an edge costs the same: ci == ce
    # (other end, distance, edge index) per task; self-loops are left out: they only need
    # d <= w*T, which d <= T implies.
    preds: list[list[tuple[int, int, int]]]
    succs: list[list[tuple[int, int, int]]]
    edges: list[tuple[int, int, int, int]]  # (u, v, distance, edge index), all of them
    topo: list[int]  # a topological order of the distance-0 edges
    allowed: list[tuple[int, ...]]  # processors each task may use
    min_period: int  # bounds from durations, pinned loads and self-loops
    ties: list[Tie]  # see Tie
    # The durations given in place of the problem's (a coarse graph's merged tasks), if any.
    given: list[list[int]] | None
    free: bool  # no processor fixed (not even an empty mapping) and P > 1: the full search
    links: _Links | None = None  # the tensors that travel as transfers (capacity: ports)
    # Bounded memory: the bytes each task commits to its processor at least (each tensor
    # it produces, one copy, and its optimizer state) and each processor's memory
    # (math.inf when unlimited); None when no memory is bounded.
    resident: list[float] | None = None
    memory: list[float] | None = None

    @classmethod
    def build(
        cls,
        problem: Problem,
        fixed: Mapping[str, int] | None,
        durations: list[list[int]] | None = None,
        budget: _Budget | None = None,
    ) -> _Instance:
        """The instance of ``problem`` with ``fixed`` processors.

        ``durations`` (per task, per speed class of :func:`_speed_classes`)
        replaces the problem's durations; they must be at least the problem's.
        The co-location analysis (:func:`_cycle_ties`) stops when ``budget``
        runs out.
        """
        graph, platform, P = problem.graph, problem.platform, problem.P
        kind, classes = _speed_classes(platform)
        dk = durations or [[row[c[0]] for c in classes] for row in problem.durations]
        ci = [c["intra"] for c in problem.comm]
        ce = [c["inter"] if platform.nodes > 1 else c["intra"] for c in problem.comm]
        cmin = list(problem.min_comm)
        links = _links(problem)
        if links is not None:
            # A tensor's crossing costs its transfer and the latency at least (P5)-(P6).
            used = [c in platform.link_classes for c in ("intra", "inter")]
            for e, k in links.tensor_of.items():
                arrive = [links.arrival(k, c) for c in (0, 1)]
                ci[e], ce[e] = arrive[0], arrive[1] if platform.nodes > 1 else arrive[0]
                cmin[e] = min((a for a, u in zip(arrive, used, strict=True) if u), default=0)
        preds, succs, edges, topo = _adjacency(graph)
        inst = cls(
            problem=problem,
            n=graph.n,
            processors=P,
            kind=kind,
            classes=classes,
            dk=dk,
            dmin=[min(row) for row in dk],
            node=[q.node for q in platform.processors],
            twin=_twin_classes(kind, [q.node for q in platform.processors]),
            ci=ci,
            ce=ce,
            cmin=cmin,
            one_link=ci == ce,
            preds=preds,
            succs=succs,
            edges=edges,
            topo=topo,
            allowed=_allowed(graph, P, fixed),
            min_period=0,
            ties=[],
            given=durations,
            free=fixed is None and P > 1,
            links=links,
        )
        inst.min_period = _min_period(inst)
        inst.ties = _cycle_ties(inst, budget or _unlimited())
        inst.resident, inst.memory = _residents(problem)
        return inst

    def dur(self, v: int, p: int) -> int:
        """Duration of task ``v`` on processor ``p``."""
        return self.dk[v][self.kind[p]]

    def cost(self, e: int, p: int, q: int) -> int:
        """Cost of edge ``e`` from processor ``p`` to ``q``."""
        if p == q:
            return 0
        return self.ci[e] if self.node[p] == self.node[q] else self.ce[e]

    def pinned(self, fixed: Mapping[str, int]) -> _Instance:
        """The same problem (and durations) with ``fixed`` processors.

        What pins do not change (adjacency, order, co-location ties) is shared,
        not computed again.
        """
        inst = replace(
            self,
            allowed=_allowed(self.problem.graph, self.processors, fixed),
            min_period=0,
            free=False,
        )
        inst.min_period = _min_period(inst)
        return inst


@dataclass(frozen=True)
class _Links:
    """The tensors of a ``capacity: ports`` problem, as the attempts reserve their transfers.

    Link classes are numbers here: ``0`` within a node (``intra``), ``1``
    between nodes (``inter``). Only edges of :attr:`lpsched.problem.Problem.tensors`
    travel as transfers; edges with a fixed ``comm`` stay pure delays.

    Attributes
    ----------
    tensor_of
        Edge index -> tensor, for the edges that carry a tensor (self-loops included).
    producer
        Each tensor's producer.
    readers
        ``(reader, distance)`` per edge of each tensor, self-loops left out.
    tau
        Each tensor's transfer time per link class.
    latency
        The latency per link class, in time units.
    outs
        The tensors each task produces that some other task reads.
    ins
        ``(tensor, least distance)`` for each tensor each task reads from another task.
    heavy
        ``(producer, reader, transfer time on the cheapest link class in use)`` per
        reader: at a period below it the two cannot sit apart.
    """

    tensor_of: dict[int, int]
    producer: list[int]
    readers: list[list[tuple[int, int]]]
    tau: list[tuple[int, int]]
    latency: tuple[int, int]
    outs: list[list[int]]
    ins: list[list[tuple[int, int]]]
    heavy: list[tuple[int, int, int]]

    def arrival(self, k: int, cls: int) -> int:
        """From the start of tensor ``k``'s transfer of class ``cls`` to its arrival (P6)."""
        return self.tau[k][cls] + self.latency[cls]


def _class_pairs(platform: Platform) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """A pair of processors within a node and one between nodes (``None`` where none)."""
    node = [q.node for q in platform.processors]
    intra = inter = None
    for p in range(platform.P):
        for q in range(p + 1, platform.P):
            if node[p] == node[q]:
                intra = intra or (p, q)
            else:
                inter = inter or (p, q)
    return intra, inter


def _links(problem: Problem) -> _Links | None:
    """The transfers' data of a ports problem; ``None`` under delay or without tensors."""
    if not problem.ports or not problem.tensors or problem.P < 2:
        return None
    graph, tensors = problem.graph, problem.tensors
    pairs = _class_pairs(problem.platform)
    used = [pair is not None for pair in pairs]

    def per_class(f: Callable[[int, int], int]) -> tuple[int, int]:
        a, b = (f(*pair) if pair is not None else 0 for pair in pairs)
        return a, b

    latency = per_class(problem.latency_units)
    outs: list[list[int]] = [[] for _ in range(graph.n)]
    ins: list[dict[int, int]] = [{} for _ in range(graph.n)]
    readers: list[list[tuple[int, int]]] = []
    tau: list[tuple[int, int]] = []
    heavy = []
    for k, tensor in enumerate(tensors):
        u = tensor.producer
        tau.append(per_class(lambda p, q, k=k: problem.transfer_time(k, p, q)))
        cheapest = min((t for t, ok in zip(tau[-1], used, strict=True) if ok), default=0)
        mine = []
        for e in tensor.edges:
            edge = graph.edges[e]
            v = graph.index(edge.dst)
            if v != u:
                mine.append((v, edge.distance))
                ins[v][k] = min(ins[v].get(k, edge.distance), edge.distance)
                heavy.append((u, v, cheapest))
        readers.append(mine)
        if mine:
            outs[u].append(k)
    return _Links(
        tensor_of=dict(problem.tensor_of_edge),
        producer=[t.producer for t in tensors],
        readers=readers,
        tau=tau,
        latency=latency,
        outs=outs,
        ins=[sorted(d.items()) for d in ins],
        heavy=heavy,
    )


def _residents(problem: Problem) -> tuple[list[float] | None, list[float] | None]:
    """The bytes each task holds on its processor at least, and the memories; or Nones.

    Every tensor group (edges of one producer and one tensor name, bytes the
    largest) lives at least from its producer's start to its end, so one copy
    is always resident there ((P8) of ``formulations/README.md``); an update
    task also holds its optimizer state. Only when some memory is bounded.
    """
    platform, graph = problem.platform, problem.graph
    if all(p.memory is None for p in platform.processors):
        return None, None
    groups: dict[tuple[str, str], int] = {}
    opt: dict[str, float] = {}
    for i, e in enumerate(graph.edges):
        key = (e.src, e.tensor if e.tensor is not None else f"e{i}")
        groups[key] = max(groups.get(key, 0), e.bytes)
        if e.weights is not None and platform.optimizer_state:
            opt[e.src] = max(opt.get(e.src, 0.0), platform.optimizer_state * e.bytes)
    resident = [opt.get(t.name, 0.0) for t in graph.tasks]
    for (src, _name), nbytes in groups.items():
        resident[graph.index(src)] += nbytes
    memory = [math.inf if p.memory is None else float(p.memory) for p in platform.processors]
    return resident, memory


def _speed_classes(platform: Platform) -> tuple[list[int], list[list[int]]]:
    """The speed class of every processor, and the processors of every class."""
    index: dict[float, int] = {}
    classes: list[list[int]] = []
    kind = []
    for p, speed in enumerate(platform.speeds):
        if speed not in index:
            index[speed] = len(classes)
            classes.append([])
        classes[index[speed]].append(p)
        kind.append(index[speed])
    return kind, classes


def _twin_classes(kind: list[int], node: list[int]) -> list[int]:
    """A number per processor, the same for processors of one speed class and one node."""
    index: dict[tuple[int, int], int] = {}
    return [index.setdefault(key, len(index)) for key in zip(kind, node, strict=True)]


def _adjacency(
    graph: TaskGraph,
) -> tuple[
    list[list[tuple[int, int, int]]],
    list[list[tuple[int, int, int]]],
    list[tuple[int, int, int, int]],
    list[int],
]:
    """Predecessors and successors (no self-loops), all edges, and a topological order."""
    n = graph.n
    preds: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
    succs: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
    edges = []
    indeg = [0] * n
    for i, e in enumerate(graph.edges):
        u, v = graph.index(e.src), graph.index(e.dst)
        edges.append((u, v, e.distance, i))
        if u == v:
            continue
        preds[v].append((u, e.distance, i))
        succs[u].append((v, e.distance, i))
        if e.distance == 0:
            indeg[v] += 1
    return preds, succs, edges, _topological_order(n, succs, indeg)


def _allowed(graph: TaskGraph, P: int, fixed: Mapping[str, int] | None) -> list[tuple[int, ...]]:
    """The processors each task may use: its fixed one, or all."""
    allowed: list[tuple[int, ...]] = [tuple(range(P))] * graph.n
    for name, p in (fixed or {}).items():
        if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < P:
            raise InputError(f"fixed processor of task {name!r} must be in 0..{P - 1}, got {p!r}")
        allowed[graph.index(name)] = (p,)
    return allowed


def _min_period(inst: _Instance) -> int:
    """Bounds from the fastest durations, pinned loads and self-loops.

    A task lasts at least its duration on the fastest processor it may use;
    the tasks pinned to one processor add up there.
    """
    from ..bounds import packing_bound

    P = inst.processors
    load = [0] * P
    best = list(inst.dmin)
    for v, a in enumerate(inst.allowed):
        if len(a) == 1:
            best[v] = inst.dur(v, a[0])
            load[a[0]] += best[v]
    # A self-loop u -> u with distance w needs d_u <= w*T.
    self_need = max(
        (math.ceil(best[u] / w) for u, v, w, _e in inst.edges if u == v and w > 0), default=1
    )
    return max(
        math.ceil(sum(inst.dmin) / P),
        max(load),
        self_need,
        packing_bound(inst.dmin, P),
        max(best, default=1),
    )


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
        for v, w, _e in succs[u]:
            if w == 0:
                indeg[v] -= 1
                if indeg[v] == 0:
                    heapq.heappush(ready, v)
    return order


def _cycle_ties(inst: _Instance, budget: _Budget) -> list[Tie]:
    """Longest cycles through each edge that use exactly one edge of positive distance.

    For every back edge ``b = x -> y`` (distance ``w > 0``) the longest distance-0
    paths from ``y`` (forward) and into ``x`` (backward) are computed for all
    back edges of the same distance at once, as columns of a matrix; the longest
    cycle through a distance-0 edge ``u -> v`` and ``b`` is then
    ``fwd[u, b] + bwd[v, b]`` (fastest durations of the tasks on it; the cost
    of ``u -> v`` is its cheapest crossing, so a tie is necessary on any
    processors).

    Work and memory stay bounded: the back edges of one distance are taken in
    chunks of at most :data:`COLOCATION_CELLS` / ``n`` columns (a distance-0
    edge keeps its longest cycle over all chunks), and the analysis is skipped
    when (back edges) x (tasks) exceeds :data:`COLOCATION_LIMIT` or the chunks
    would take more than :data:`COLOCATION_CALLS` passes over tasks and edges. When
    ``budget`` runs out it stops with the ties found so far. Every tie is
    necessary on its own, so fewer ties only give smaller co-location groups
    and a weaker floor; skipping and stopping are noted in the log.
    """
    n = inst.n
    back = [(u, v, w) for u, v, w, _e in inst.edges if w > 0 and u != v]
    if not back:
        return []
    width = max(1, COLOCATION_CELLS // max(n, 1))
    distances = sorted({b[2] for b in back})
    chunks = sum(-(-sum(1 for b in back if b[2] == w) // width) for w in distances)
    if len(back) * n > COLOCATION_LIMIT or chunks * (n + len(inst.edges)) > COLOCATION_CALLS:
        budget.meter.note(
            f"co-location analysis skipped: {len(back)} back edges on {n} tasks "
            f"and {len(inst.edges)} edges is too much work"
        )
        return []
    d = np.asarray(inst.dmin, dtype=np.int64)
    ties: list[Tie] = []
    for w in distances:
        group = [b for b in back if b[2] == w]
        longest: dict[int, int] = {}  # distance-0 edge -> longest cycle through it, with b
        closing: dict[tuple[int, int], int] = {}  # back edge (x, y) -> its longest cycle
        for k in range(0, len(group), width):
            paths = _longest_paths(inst, d, group[k : k + width], budget)
            if paths is None:
                budget.meter.note(
                    f"co-location analysis cut short ({budget.why()}): "
                    f"{len(ties)} ties found, distances {w} and above not examined"
                )
                return ties
            _record_cycles(inst, group[k : k + width], *paths, longest, closing)
        for u, v, dist, e in inst.edges:
            c = inst.cmin[e]
            if c <= 0 or u == v:
                continue
            length = longest.get(e, 0) if dist == 0 else closing.get((u, v), 0) if dist == w else 0
            if length > 0:
                ties.append((u, v, c, w, length))
    return ties


def _longest_paths(
    inst: _Instance, d: np.ndarray, group: list[tuple[int, int, int]], budget: _Budget
) -> tuple[np.ndarray, np.ndarray] | None:
    """``fwd[v, b]`` (longest ``y_b ~> v``) and ``bwd[v, b]`` (longest ``v ~> x_b``).

    Distance-0 paths, counting the durations of both ends; ``None`` when
    ``budget`` runs out first.
    """
    n, topo, preds, succs = inst.n, inst.topo, inst.preds, inst.succs
    neg = np.int64(-(1 << 50))
    cols = np.arange(len(group))
    fwd = np.full((n, len(group)), neg, dtype=np.int64)
    bwd = np.full((n, len(group)), neg, dtype=np.int64)
    fwd[[b[1] for b in group], cols] = d[[b[1] for b in group]]
    bwd[[b[0] for b in group], cols] = d[[b[0] for b in group]]
    for i, v in enumerate(topo):
        if not i & 2047 and budget.out():
            return None
        for u, dist, _e in preds[v]:
            if dist == 0:
                np.maximum(fwd[v], fwd[u] + d[v], out=fwd[v])
    for i, u in enumerate(reversed(topo)):
        if not i & 2047 and budget.out():
            return None
        for v, dist, _e in succs[u]:
            if dist == 0:
                np.maximum(bwd[u], bwd[v] + d[u], out=bwd[u])
    return fwd, bwd


def _record_cycles(
    inst: _Instance,
    group: list[tuple[int, int, int]],
    fwd: np.ndarray,
    bwd: np.ndarray,
    longest: dict[int, int],
    closing: dict[tuple[int, int], int],
) -> None:
    """Fold one chunk of back edges into the longest cycles through each edge.

    ``longest[e]``: the longest cycle through distance-0 edge ``e`` and any
    back edge so far; ``closing[(x, y)]``: the longest cycle a back edge
    ``x -> y`` closes (its first occurrence; parallel ones close the same).
    """
    zero = [(u, v, e) for u, v, dist, e in inst.edges if dist == 0 and u != v and inst.cmin[e] > 0]
    step = max(1, COLOCATION_CELLS // max(len(group), 1))
    for k in range(0, len(zero), step):
        part = zero[k : k + step]
        us = np.fromiter((u for u, _v, _e in part), dtype=np.int64, count=len(part))
        vs = np.fromiter((v for _u, v, _e in part), dtype=np.int64, count=len(part))
        best = (fwd[us] + bwd[vs]).max(axis=1)
        for (_u, _v, e), length in zip(part, best.tolist(), strict=True):
            if length > longest.get(e, 0):
                longest[e] = length
    for i, (x, y, _w) in enumerate(group):
        closing.setdefault((x, y), int(fwd[x, i]))


# ---------------------------------------------------------------------- co-location
@dataclass(frozen=True)
class _Groups:
    """Tasks committed to one processor at a period (see :func:`_colocation`).

    Attributes
    ----------
    group
        The group of every task, ``-1`` for a free task on its own.
    proc
        Each group's processor: ``-1`` until its first task is placed, unless pinned.
    size
        ``size[g][k]``: group ``g``'s work on a processor of speed class ``k``.
    """

    group: list[int]
    proc: list[int]
    size: list[list[int]]


def _colocation(inst: _Instance, T: int, cohesion: float = 1.0) -> _Groups | None:
    """Groups of tasks committed to one processor at period ``T``; None if ``T`` is infeasible.

    Tasks joined by an edge that cannot cross processors at ``T`` form a group,
    and so does every pinned task (alone or with its group), and every task or
    group that only one processor can hold in ``T`` (:func:`_only_host`). With
    ``cohesion < 1`` an edge is also kept inside a group when its cost exceeds
    ``cohesion`` times the slack of its cycle (tightest first, as long as the
    group still fits in ``T`` at the fastest speed): a heuristic choice, since
    other crossings and waits on the same cycle eat into that slack. ``T`` is
    infeasible when a necessary group fits on no processor, holds tasks pinned
    to different processors, or the groups pinned to a processor exceed ``T``.
    """
    roots, pin = _joined(inst, T, cohesion)
    n, kinds = inst.n, len(inst.dk[0]) if inst.n else 1
    members: dict[int, list[int]] = {}
    for v in range(n):
        members.setdefault(roots[v], []).append(v)
    size = {
        r: inst.dk[vs[0]]
        if len(vs) == 1
        else [sum(inst.dk[v][k] for v in vs) for k in range(kinds)]
        for r, vs in members.items()
    }
    load = [0] * inst.processors
    for r in members:
        if pin[r] == -2 or min(size[r]) > T:
            return None
        if pin[r] == -1:
            pin[r] = _only_host(inst, size[r], T)
        if pin[r] >= 0:
            load[pin[r]] += size[r][inst.kind[pin[r]]]
            if load[pin[r]] > T:
                return None
    index: dict[int, int] = {}
    group = [-1] * n
    gproc: list[int] = []
    gsize: list[list[int]] = []
    for v in range(n):
        r = roots[v]
        if len(members[r]) == 1 and pin[r] == -1:
            continue  # a free task on its own
        if r not in index:
            index[r] = len(gproc)
            gproc.append(pin[r])
            gsize.append(size[r])
        group[v] = index[r]
    return _Groups(group, gproc, gsize)


def _only_host(inst: _Instance, size: list[int], T: int) -> int:
    """The one processor that can hold work of ``size`` (per speed class) in ``T``, else -1.

    On heterogeneous processors a long task (or group) may fit on the fastest
    processor only; it is then committed to it like a pinned one, so that the
    processor keeps room for it. Identical processors never have one.
    """
    host = -1
    if inst.processors == 1:
        return host  # nothing to choose
    for k, procs in enumerate(inst.classes):
        if size[k] <= T:
            if host != -1 or len(procs) > 1:
                return -1
            host = procs[0]
    return host


def _joined(inst: _Instance, T: int, cohesion: float) -> tuple[list[int], list[int]]:
    """The root of every task's group, and each root's pin.

    A pin is the processor the group is pinned to, ``-1`` when it is not
    pinned, ``-2`` when it holds tasks pinned to two processors. Necessary
    ties join unconditionally; optional ones (``cohesion < 1``) only while the
    group fits in ``T`` at the fastest durations and the pins agree.
    """
    n = inst.n
    parent = list(range(n))
    size = list(inst.dmin)
    pin = [a[0] if len(a) == 1 else -1 for a in inst.allowed]

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
        a, b = pin[ru], pin[rv]
        pin[rv] = b if a == -1 else a if b == -1 or a == b else -2

    if inst.problem.placement != "free":
        # Placement layer or stages: a layer's tasks share one processor, so each unit is
        # a necessary group (rebalancing then moves whole layers too).
        for unit in inst.problem.units:
            for v in unit[1:]:
                join(unit[0], v, False)
    optional = []
    for u, v, c, w, length in inst.ties:
        slack = w * T - length
        if c > slack:
            join(u, v, False)
        elif cohesion < 1 and c > cohesion * slack:
            optional.append((-c / max(slack, 1), u, v))
    if inst.links is not None:
        # A transfer longer than T busies a port more than a period (P7): no crossing.
        # Below that, one that takes a large part of a port's period is kept inside a
        # group at the lower cohesion levels, the largest first.
        for u, v, tau in inst.links.heavy:
            if tau > T:
                join(u, v, False)
            elif cohesion < 1 and tau > PORT_COHESION * cohesion * T:
                optional.append((-tau / T, u, v))
    optional.sort()
    for _key, u, v in optional:
        join(u, v, True)
    return [root(v) for v in range(n)], pin


def _colocation_floor(inst: _Instance, lo: int, hi: int) -> int:
    """The least ``T`` in ``[lo, hi]`` whose forced co-location groups fit (monotone in ``T``)."""
    trivial = not inst.ties and inst.links is None and inst.problem.placement == "free"
    if trivial or _colocation(inst, lo) is not None:
        return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _colocation(inst, mid) is None:
            lo = mid
        else:
            hi = mid
    return hi


def _heights(inst: _Instance, T: int, passes: int = 30) -> list[int]:
    """Rau's HeightR: longest path to the end, edge ``u -> v`` weighted ``d_u + c - w*T``.

    With the fastest durations and the cheapest crossings. Relaxed in reverse
    topological order until stable; below the iteration bound (with
    communication) it would not converge, and ``passes`` caps it: the heights
    only order the tasks.
    """
    dur = inst.dmin
    cmin = inst.cmin
    succs = [[(x, w, cmin[e]) for x, w, e in out] for out in inst.succs]
    h = list(dur)
    order = inst.topo[::-1]
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


# ------------------------------------------------------------------------- attempts
#: Where a task may start, from its placed neighbours: (earliest start per processor, on
#: any other processor; latest finish per processor, on any other processor).
_Window = tuple[dict[int, int], int, dict[int, int], int]


class _Attempt:
    """One iterative-modulo-scheduling attempt at period ``T``.

    ``rank`` breaks ties between tasks of equal height; ``groups`` are those of
    :func:`_colocation`; ``noise`` (a generator and a level in periods)
    perturbs the heights and the processor choice; slots finishing within
    ``fit * T`` of the earliest compete by best fit; ``flush`` keeps slots
    against occupied arcs. :meth:`run` returns (processor, start) per task,
    or ``None``; then :meth:`unplaced` lists the tasks left without a slot,
    and ``cut`` says whether ``limit`` (the call's budget) ended it.
    """

    def __init__(
        self,
        inst: _Instance,
        T: int,
        rank: list[float],
        budget: int,
        groups: _Groups,
        noise: tuple[random.Random, float] | None = None,
        fit: float = 0.0,
        flush: bool = True,
        limit: _Budget | None = None,
    ) -> None:
        n = inst.n
        self.inst, self.T, self.rank, self.budget = inst, T, rank, budget
        self.limit = limit or _unlimited()
        self.cut = False
        self.group, self.gproc = groups.group, list(groups.proc)
        self.gcount = [0] * len(self.gproc)
        self.fixed_group = [p >= 0 for p in self.gproc]
        # Unplaced work of each group per speed class, and per processor of the groups
        # committed to it: a processor keeps room for it, so that a group's first task
        # does not fill what the rest of the group needs.
        self.rem = [list(s) for s in groups.size]
        self.reserve = [0] * inst.processors
        for g, p in enumerate(self.gproc):
            if p >= 0:
                self.reserve[p] += self.rem[g][inst.kind[p]]
        self.fits = _fits(inst, groups, T)
        self.tables = ReservationTables(inst.processors, T)
        self.find = self.tables.find if flush else self.tables.find_any
        heights = _heights(inst, T)
        self.jitter = 0.0
        self.fit_window = fit * T
        self.nrng: random.Random | None = None
        if noise is not None:
            # Perturbed priorities and processor choices, for the improvement attempts.
            self.nrng, level = noise
            self.jitter = level * T
            heights = [h + self.nrng.random() * self.jitter for h in heights]
        self.heights = heights
        self.start: list[int | None] = [None] * n
        self.proc = [-1] * n
        self.prev: list[int | None] = [None] * n
        self.heap = [(-heights[v], rank[v], v) for v in range(n)]
        heapq.heapify(self.heap)
        self.unscheduled = n
        # Under capacity: ports, the transfers (tensor, destination) -> start, their
        # destinations per tensor, and the ports they occupy; ``blocked``: the candidates
        # of the task being placed whose ports cannot take one of its incoming transfers.
        self.links = inst.links
        self.ports = PortTables(inst.processors, T) if inst.links is not None else None
        self.xfer: dict[tuple[int, int], int] = {}
        self.dests: dict[int, set[int]] = {}
        self.blocked: set[int] = set()
        self.port_time: dict[int, int] = {}  # the candidates' port time of new transfers
        self.sent_time = 0  # the port time of the last outgoing check
        # Bounded memory: the bytes committed to each processor (see _residents).
        self.held = [0.0] * inst.processors

    def run(self) -> tuple[list[int], list[int]] | None:
        """Place every task, or give up: (processor, start) per task, or ``None``."""
        # Rau's budget, plus giving up early once the count of unplaced tasks stops improving.
        n = self.inst.n
        fewest = n
        stalled = 0
        stall_limit = min(STALL_RATIO * n, STALL_CAP)
        meter, most = self.limit.meter, self.limit.steps
        while self.unscheduled:
            _h, _r, v = heapq.heappop(self.heap)
            if self.start[v] is not None:
                continue
            if self.budget <= 0 or stalled > stall_limit:
                return None
            # The call's budget: steps counted exactly, the clock (and stop) read every 64.
            if meter.steps >= most or (not meter.steps & 63 and self.limit.out()):
                self.cut = True
                return None
            meter.steps += 1
            self.budget -= 1
            if self.unscheduled < fewest:
                fewest = self.unscheduled
                stalled = 0
            else:
                stalled += 1
            if not self._schedule(v):
                return None
        return self.proc, self.start  # type: ignore[return-value]

    def transfers(self) -> tuple[tuple[int, int, int], ...]:
        """The transfers reserved, ``(tensor, destination, start)``, sorted."""
        return tuple(sorted((k, q, t) for (k, q), t in self.xfer.items()))

    def unplaced(self) -> list[int]:
        """The tasks without a slot."""
        return [x for x in range(self.inst.n) if self.start[x] is None]

    def _schedule(self, v: int) -> bool:
        """Place ``v`` in a free slot, or force it in; False when no processor can hold it."""
        g = self.group[v]
        if g >= 0 and self.gproc[g] >= 0:
            cands: tuple[int, ...] = (self.gproc[g],)
        else:
            cands = self.fits[v]
        if not cands:
            return False
        twins = self._twins(cands)
        if self.links is not None:
            window = self._window_ports(v, cands, twins)
        elif self.inst.one_link:
            window = self._window_one_link(v)
        else:
            window = self._window_links(v, cands, twins)
        slot = self._free_slot(v, cands, window, twins)
        if slot is not None:
            t, p = slot
            victims: list[int] = []
        else:
            t, p = self._forced(v, cands, window, twins)
            owner = self.tables.owner[p]
            victims = [owner[i] for i in self.tables.conflicts(p, t, self.inst.dur(v, p))]
        for x in victims:
            self._evict(x)
        self._place(v, p, t)
        if slot is None:
            self._evict_late_successors(v)
        return True

    def _window_one_link(self, v: int) -> _Window:
        """The window of ``v`` when a crossing costs the same on every pair of processors.

        Communication is saved only for neighbours on the same processor:
        ``e_all`` holds on a processor without any placed predecessor, ``est[p]``
        on one with some, from the largest time among the other processors'
        predecessors (likewise the latest finish ``lat``, ``l_all``); this needs
        the predecessors once, not once per processor.
        """
        inst, T, start, proc = self.inst, self.T, self.start, self.proc
        dk, kind, ci = inst.dk, inst.kind, inst.ci
        by_p0: dict[int, int] = {}
        by_p1: dict[int, int] = {}
        for u, w, e in inst.preds[v]:
            su = start[u]
            if su is None:
                continue
            q = proc[u]
            t0 = su + dk[u][kind[q]] - w * T
            if t0 > by_p0.get(q, _NEG):
                by_p0[q] = t0
            if t0 + ci[e] > by_p1.get(q, _NEG):
                by_p1[q] = t0 + ci[e]
        e_all = e_next = 0
        e_who = -1
        for q, t1 in by_p1.items():
            if t1 > e_all:
                e_all, e_next, e_who = t1, e_all, q
            elif t1 > e_next:
                e_next = t1
        est = {q: max(t0, e_next if q == e_who else e_all) for q, t0 in by_p0.items()}
        lby_p0: dict[int, int] = {}
        lby_p1: dict[int, int] = {}
        for x, w, e in inst.succs[v]:
            sx = start[x]
            if sx is None:
                continue
            t0 = sx + w * T
            q = proc[x]
            if t0 < lby_p0.get(q, _POS):
                lby_p0[q] = t0
            if t0 - ci[e] < lby_p1.get(q, _POS):
                lby_p1[q] = t0 - ci[e]
        l_all = l_next = _POS
        l_who = -1
        for q, t1 in lby_p1.items():
            if t1 < l_all:
                l_all, l_next, l_who = t1, l_all, q
            elif t1 < l_next:
                l_next = t1
        lat = {q: min(t0, l_next if q == l_who else l_all) for q, t0 in lby_p0.items()}
        return est, e_all, lat, l_all

    def _twins(self, cands: Sequence[int]) -> list[int] | None:
        """For each candidate, the earlier one it is a twin of, or itself; None if no twins.

        Empty processors (no arc, nothing reserved) of one speed and one node
        offer a task the same slots and costs: only the first is examined,
        the others reuse its answer. Exact, and on many processors the work
        of a step is in the processors in use.
        """
        if len(cands) < 2:
            return None
        starts, reserve, twin = self.tables.starts, self.reserve, self.inst.twin
        mem = self.inst.memory
        first: dict[object, int] = {}
        out = None
        for i, p in enumerate(cands):
            if starts[p] or reserve[p]:
                continue
            # Bounded memory: twins also have one memory (they offer the same room).
            r = first.setdefault(twin[p] if mem is None else (twin[p], mem[p]), p)
            if r != p:
                if out is None:
                    out = list(cands)
                out[i] = r
        return out

    def _window_links(self, v: int, cands: Sequence[int], twins: list[int] | None) -> _Window:
        """The window of ``v`` with link classes: every neighbour's cost to every candidate.

        Twins (:meth:`_twins`) are left out: they have their first's window.
        """
        inst, T, start, proc = self.inst, self.T, self.start, self.proc
        ready = [
            (start[u] + inst.dur(u, proc[u]) - w * T, proc[u], e)  # type: ignore[operator]
            for u, w, e in inst.preds[v]
            if start[u] is not None
        ]
        due = [
            (start[x] + w * T, proc[x], e)  # type: ignore[operator]
            for x, w, e in inst.succs[v]
            if start[x] is not None
        ]
        cost = inst.cost
        own = cands if twins is None else [p for p, r in zip(cands, twins, strict=True) if r == p]
        est = {p: max([0, *(t0 + cost(e, q, p) for t0, q, e in ready)]) for p in own}
        lat = {p: min([_POS, *(t0 - cost(e, p, q) for t0, q, e in due)]) for p in own}
        return est, 0, lat, _POS

    def _free_slot(
        self, v: int, cands: Sequence[int], window: _Window, twins: list[int] | None
    ) -> tuple[int, int] | None:
        """The free slot ``(t, p)`` finishing first; among those finishing soon, the fullest ``p``.

        A processor takes ``v`` only with room for it (for its whole group when
        ``v`` is a group's first task) besides what it keeps for its groups. A
        twin (:meth:`_twins`) has its first's slot: without noise it never wins
        over it (same key, larger index) and is skipped; with noise it draws
        its own perturbation, in the same order as if it had been examined.
        """
        inst, T, load, reserve = self.inst, self.T, self.tables.load, self.reserve
        row, kind, fastest = inst.dk[v], inst.kind, inst.dmin[v]
        est, e_all, lat, l_all = window
        nrng, jitter, find = self.nrng, self.jitter, self.find
        g = self.group[v]
        first_of_group = g >= 0 and self.gproc[g] < 0
        slots = []
        seen: dict[int, tuple[int, int] | None] = {}
        for i, p in enumerate(cands):
            if twins is not None and twins[i] != p:
                got = seen[twins[i]]
                if got is not None and jitter:
                    slots.append((got[0] + nrng.random() * jitter, got[1], p))  # type: ignore[union-attr]
                continue
            got = None
            d = row[kind[p]]
            if g < 0:
                need = d
            elif first_of_group:
                need = self.rem[g][kind[p]]
            else:
                need = 0  # already reserved
            if load[p] + reserve[p] + need <= T and p not in self.blocked and self._room(v, p):
                lo = est.get(p, e_all)
                hi = min(lo + T - 1, lat.get(p, l_all) - d)
                t = find(p, lo, hi, d) if hi >= lo else None
                extra = 0
                if t is not None and self.ports is not None:
                    if not self._outgoing(v, p, t):
                        t = None  # the transfers to its placed readers find no ports
                    extra = PORT_WEIGHT * (self.port_time.get(p, 0) + self.sent_time)
                if t is not None:
                    # The finish, less the task's fastest duration (so that on identical
                    # processors the key is the start itself); under ports plus the
                    # port time the placement's transfers take, so that a crossing
                    # has to win by what it costs the links.
                    got = (t + d - fastest + extra, t)
                    key = got[0] + nrng.random() * jitter if jitter else got[0]  # type: ignore[union-attr]
                    slots.append((key, t, p))
            if twins is not None:
                seen[p] = got
        if not slots:
            return None
        window = min(slots)[0] + self.fit_window
        _fill, _key, t, p = min(
            (-load[p] - reserve[p], key, t, p) for key, t, p in slots if key <= window
        )
        return t, p

    def _room(self, v: int, p: int) -> bool:
        """Whether ``p``'s memory holds what ``v`` commits besides what is committed."""
        inst = self.inst
        if inst.resident is None:
            return True
        return self.held[p] + inst.resident[v] <= inst.memory[p]  # type: ignore[index]

    def _forced(
        self, v: int, cands: Sequence[int], window: _Window, twins: list[int] | None
    ) -> tuple[int, int]:
        """Rau's forced placement: ``(t, p)`` evicting the least work.

        Within one window, and later than last time when estart has not moved,
        so that the task makes progress; evicted work counts the arcs hit and
        the placed successors whose edges the placement would violate. Twins
        (:meth:`_twins`) tie with their first and lose on the index: skipped.
        """
        inst, T, start, proc = self.inst, self.T, self.start, self.proc
        row, kind, cost = inst.dk[v], inst.kind, inst.cost
        # (latest finish of v without comm, comm index, processor, work) per placed successor
        due = [
            (start[x] + w * T, e, proc[x], inst.dur(x, proc[x]))  # type: ignore[operator]
            for x, w, e in inst.succs[v]
            if start[x] is not None
        ]
        est, e_all = window[0], window[1]
        choice = None
        pv = self.prev[v]
        # Bounded memory: only processors with room, unless none has any.
        roomy = any(self._room(v, p) for i, p in enumerate(cands) if twins is None or twins[i] == p)
        for i, p in enumerate(cands):
            if twins is not None and twins[i] != p:
                continue
            if roomy and not self._room(v, p):
                continue
            d = row[kind[p]]
            a = est.get(p, e_all)
            if pv is not None and a <= pv:
                a = pv + 1
            limits = [(lim - cost(e, p, q), dx) for lim, e, q, dx in due]
            for evicted, t in self.tables.forced_options(p, a, a + T - 1, d, FORCED_CANDIDATES):
                end = t + d
                for lim, dx in limits:
                    if lim < end:
                        evicted += dx
                key = (evicted, t + d - inst.dmin[v], t, p)
                if choice is None or key < choice:
                    choice = key
        assert choice is not None
        return choice[2], choice[3]

    def _place(self, v: int, p: int, t: int) -> None:
        inst = self.inst
        d = inst.dur(v, p)
        self.start[v] = t
        self.proc[v] = p
        self.prev[v] = t
        self.tables.add(p, t, d, v)
        if inst.resident is not None:
            self.held[p] += inst.resident[v]
        g = self.group[v]
        if g >= 0:
            if self.gproc[g] < 0:
                self.gproc[g] = p
                self.reserve[p] += self.rem[g][inst.kind[p]]
            self.gcount[g] += 1
            rem = self.rem[g]
            for k, dv in enumerate(inst.dk[v]):
                rem[k] -= dv
            self.reserve[p] -= d
        self.unscheduled -= 1
        if self.ports is not None:
            self._incoming(v)
            self._outgoing(v, p, t, keep=True)

    def _evict(self, x: int) -> None:
        inst = self.inst
        if self.ports is not None:
            self._release_all(x)
        px = self.proc[x]
        d = inst.dur(x, px)
        self.tables.remove(px, self.start[x], d)  # type: ignore[arg-type]
        if inst.resident is not None:
            self.held[px] -= inst.resident[x]
        g = self.group[x]
        if g >= 0:
            rem = self.rem[g]
            for k, dx in enumerate(inst.dk[x]):
                rem[k] += dx
            self.reserve[px] += d
            self.gcount[g] -= 1
            if self.gcount[g] == 0 and not self.fixed_group[g]:
                self.reserve[px] -= rem[inst.kind[px]]
                self.gproc[g] = -1
        self.start[x] = None
        self.proc[x] = -1
        self.unscheduled += 1
        heapq.heappush(self.heap, (-self.heights[x], self.rank[x], x))

    def _evict_late_successors(self, v: int) -> None:
        """After a forced placement: evict the placed successors whose edges it violates."""
        inst, T, start, proc = self.inst, self.T, self.start, self.proc
        p = proc[v]
        end = start[v] + inst.dur(v, p)  # type: ignore[operator]
        carried = {} if self.links is None else self.links.tensor_of
        for x, w, e in inst.succs[v]:
            sx = start[x]
            if sx is None or (proc[x] != p and e in carried):
                continue  # a transfer carries it: _outgoing kept it or evicted x
            if sx + w * T < end + inst.cost(e, p, proc[x]):
                self._evict(x)

    # ------------------------------------------------------------ transfers (ports)
    def _cls(self, p: int, q: int) -> int:
        """The link class of ``p`` and ``q``: 0 within a node, 1 between nodes."""
        node = self.inst.node
        return 0 if node[p] == node[q] else 1

    def _inputs(self, v: int) -> list[tuple[int, int, int, int]]:
        """``(ready, tensor, least distance, producer)`` of ``v``'s placed inputs, by ready."""
        links, start, proc, inst = self.links, self.start, self.proc, self.inst
        out = []
        for k, w in links.ins[v]:  # type: ignore[union-attr]
            u = links.producer[k]  # type: ignore[union-attr]
            su = start[u]
            if su is not None:
                out.append((su + inst.dur(u, proc[u]), k, w, u))
        out.sort()
        return out

    def _due(self, k: int, q: int, cls: int) -> int:
        """The latest start of tensor ``k``'s transfer to ``q`` for its placed readers there."""
        links, start, proc, T = self.links, self.start, self.proc, self.T
        due = _POS
        for x, w in links.readers[k]:  # type: ignore[union-attr]
            sx = start[x]
            if sx is not None and proc[x] == q:
                due = min(due, sx + w * T)
        return due - links.arrival(k, cls) if due < _POS else _POS  # type: ignore[union-attr]

    def _window_ports(self, v: int, cands: Sequence[int], twins: list[int] | None) -> _Window:
        """:meth:`_window_links`, with each candidate's incoming transfers on its ports.

        For every tensor ``v`` reads from a placed producer elsewhere, the
        transfer to a candidate ``p`` is the one already there, or the earliest
        slot from the producer's end free on both ports (taken in order of
        readiness, so that they share ``p``'s in-port as :meth:`_incoming` will
        reserve them); ``v`` starts after every arrival (P6). A candidate whose
        ports cannot take one is ``blocked``: it offers no free slot.
        """
        est, e_all, lat, l_all = self._window_links(v, cands, twins)
        self.blocked = set()
        self.port_time = {}
        inputs = self._inputs(v)
        if not inputs:
            return est, e_all, lat, l_all
        T, proc, ports, links = self.T, self.proc, self.ports, self.links
        xfer = self.xfer
        for p in est:
            bound = est[p]
            held = []
            # Only a new transfer that another one follows needs holding its ports.
            fresh = sum(1 for _r, k, _w, u in inputs if proc[u] != p and (k, p) not in xfer)
            for ready, k, w, u in inputs:
                pu = proc[u]
                if pu == p:
                    continue
                c = self._cls(pu, p)
                t = xfer.get((k, p))
                if t is None:
                    tau = links.tau[k][c]  # type: ignore[union-attr]
                    t = ports.find(pu, p, c, ready, ready + T - 1, tau)  # type: ignore[union-attr]
                    if t is None:
                        self.blocked.add(p)
                        break
                    fresh -= 1
                    if fresh:
                        ports.add(pu, p, c, t, tau, -1)  # type: ignore[union-attr]
                        held.append((pu, c, t, tau))
                    self.port_time[p] = self.port_time.get(p, 0) + tau
                bound = max(bound, t + links.arrival(k, c) - w * T)  # type: ignore[union-attr]
            for pu, c, t, tau in reversed(held):
                ports.remove(pu, p, c, t, tau)  # type: ignore[union-attr]
            est[p] = bound
        return est, e_all, lat, l_all

    def _incoming(self, v: int) -> None:
        """Reserve the transfers ``v`` (just placed) reads; evict a producer none can serve.

        The transfer already on ``v``'s processor stays when it arrives in time;
        otherwise the earliest slot that serves every placed reader there is
        taken, in the order of :meth:`_window_ports` (after a free placement it
        finds the same slots).
        """
        links, ports, T = self.links, self.ports, self.T
        p = self.proc[v]
        for ready, k, _w, u in self._inputs(v):
            if self.start[u] is None:
                continue  # evicted by an earlier input
            pu = self.proc[u]
            if pu == p:
                continue
            c = self._cls(pu, p)
            due = self._due(k, p, c)
            t = self.xfer.get((k, p))
            if t is not None:
                if t <= due:
                    continue
                self._release(k, p)
            tau = links.tau[k][c]  # type: ignore[union-attr]
            t = ports.find(pu, p, c, ready, min(due, ready + T - 1), tau)  # type: ignore[union-attr]
            if t is None:
                self._evict(u)
            else:
                self._reserve(k, p, t)

    def _outgoing(self, v: int, p: int, t: int, keep: bool = False) -> bool:
        """Whether the transfers to ``v``'s placed readers fit if ``v`` starts at ``t`` on ``p``.

        Earliest deadline first, each at the earliest slot from ``v``'s end
        that arrives before its readers. ``keep``: ``v`` is placed there; the
        transfers are reserved and the readers of one that finds no slot are
        evicted (then it is not needed).
        """
        links, ports, start, proc, T = self.links, self.ports, self.start, self.proc, self.T
        self.sent_time = 0
        if not links.outs[v]:  # type: ignore[union-attr]
            return True
        end = t + self.inst.dur(v, p)
        todo = []
        for k in links.outs[v]:  # type: ignore[union-attr]
            qs = {proc[x] for x, _w in links.readers[k] if start[x] is not None}  # type: ignore[union-attr]
            for q in sorted(qs - {p}):
                c = self._cls(p, q)
                todo.append((self._due(k, q, c), k, q, c))
        todo.sort()
        held = []
        ok = True
        for _due, k, q, c in todo:
            due = self._due(k, q, c)  # its readers may have left (keep)
            if due == _POS:
                continue
            tau = links.tau[k][c]  # type: ignore[union-attr]
            s = ports.find(p, q, c, end, min(due, end + T - 1), tau)  # type: ignore[union-attr]
            if s is None:
                ok = False
                if not keep:
                    break
                for x, _w in links.readers[k]:  # type: ignore[union-attr]
                    if start[x] is not None and proc[x] == q:
                        self._evict(x)
            elif keep:
                self._reserve(k, q, s)
            else:
                ports.add(p, q, c, s, tau, -1)  # type: ignore[union-attr]
                held.append((q, c, s, tau))
                self.sent_time += tau
        for q, c, s, tau in reversed(held):
            ports.remove(p, q, c, s, tau)  # type: ignore[union-attr]
        return ok

    def _reserve(self, k: int, q: int, t: int) -> None:
        """Record tensor ``k``'s transfer to ``q`` at ``t`` and occupy its ports."""
        u = self.links.producer[k]  # type: ignore[union-attr]
        p = self.proc[u]
        c = self._cls(p, q)
        self.xfer[(k, q)] = t
        self.dests.setdefault(k, set()).add(q)
        self.ports.add(p, q, c, t, self.links.tau[k][c], k)  # type: ignore[union-attr]

    def _release(self, k: int, q: int) -> None:
        """Drop tensor ``k``'s transfer to ``q`` (its producer still placed) and free its ports."""
        u = self.links.producer[k]  # type: ignore[union-attr]
        p = self.proc[u]
        c = self._cls(p, q)
        t = self.xfer.pop((k, q))
        self.dests[k].discard(q)
        self.ports.remove(p, q, c, t, self.links.tau[k][c])  # type: ignore[union-attr]

    def _release_all(self, x: int) -> None:
        """Before ``x`` leaves: drop its tensors' transfers and those only ``x`` needed."""
        links, start, proc = self.links, self.start, self.proc
        px = proc[x]
        for k in links.outs[x]:  # type: ignore[union-attr]
            for q in sorted(self.dests.get(k, ())):
                self._release(k, q)
        for k, _w in links.ins[x]:  # type: ignore[union-attr]
            if (k, px) not in self.xfer:
                continue
            others = any(
                y != x and start[y] is not None and proc[y] == px
                for y, _d in links.readers[k]  # type: ignore[union-attr]
            )
            if not others:
                self._release(k, px)


def _fits(inst: _Instance, groups: _Groups, T: int) -> list[tuple[int, ...]]:
    """The processors each task may use that can hold it (its whole group, if any) in ``T``.

    Tasks with the same processors and the same speed classes fitting share
    one tuple: on many processors this is not a (tasks) x (processors) table.
    """
    out = []
    shared: dict[tuple[int, tuple[bool, ...]], tuple[int, ...]] = {}
    kind = inst.kind
    for v in range(inst.n):
        g = groups.group[v]
        size = inst.dk[v] if g < 0 else groups.size[g]
        allowed = inst.allowed[v]
        if len(allowed) == 1:
            out.append(allowed if size[kind[allowed[0]]] <= T else ())
            continue
        key = (id(allowed), tuple(x <= T for x in size))
        if key not in shared:
            shared[key] = tuple(p for p in allowed if key[1][kind[p]])
        out.append(shared[key])
    return out


def _is_valid(inst: _Instance, T: int, proc: list[int], start: list[int], sent: Sent = ()) -> bool:
    """The model of ``formulations/README.md`` checked directly: precedences, arcs, transfers."""
    carried = {} if inst.links is None else inst.links.tensor_of
    for u, v, w, e in inst.edges:
        pu, pv = proc[u], proc[v]
        if pu != pv and e in carried:
            continue  # its transfer carries it: _transfers_valid
        if start[v] + w * T < start[u] + inst.dur(u, pu) + inst.cost(e, pu, pv):
            return False
    arcs: list[list[tuple[int, int]]] = [[] for _ in range(inst.processors)]
    for v in range(inst.n):
        d = inst.dur(v, proc[v]) if 0 <= proc[v] < inst.processors else T + 1
        if proc[v] not in inst.allowed[v] or d > T:
            return False
        arcs[proc[v]].append((start[v] % T, d))
    for lst in arcs:
        lst.sort()
        for (s1, d1), (s2, _d2) in zip(lst, lst[1:], strict=False):
            if s1 + d1 > s2:
                return False
        if len(lst) > 1 and lst[-1][0] + lst[-1][1] > lst[0][0] + T:
            return False
    return inst.links is None or _transfers_valid(inst, T, proc, start, sent)


def _transfers_valid(
    inst: _Instance, T: int, proc: list[int], start: list[int], sent: Sent
) -> bool:
    """(P5)-(P7): exactly the transfers needed, after their producer, in time, ports free."""
    links = inst.links
    assert links is not None
    need = {
        (k, proc[x])
        for k, readers in enumerate(links.readers)
        for x, _w in readers
        if proc[x] != proc[links.producer[k]]
    }
    if len(sent) != len(need) or {(k, q) for k, q, _t in sent} != need:
        return False
    arcs: dict[int, list[tuple[int, int]]] = {}
    for k, q, t in sent:
        u = links.producer[k]
        p = proc[u]
        c = 0 if inst.node[p] == inst.node[q] else 1
        tau = links.tau[k][c]
        if tau > T or t < start[u] + inst.dur(u, p):
            return False
        arrive = t + links.arrival(k, c)
        if any(proc[x] == q and start[x] + w * T < arrive for x, w in links.readers[k]):
            return False
        if tau > 0:
            for port in PortTables.ports(p, q, c):
                arcs.setdefault(port, []).append((t % T, tau))
    for lst in arcs.values():
        lst.sort()
        for (s1, d1), (s2, _d2) in zip(lst, lst[1:], strict=False):
            if s1 + d1 > s2:
                return False
        if len(lst) > 1 and lst[-1][0] + lst[-1][1] > lst[0][0] + T:
            return False
    return True


def _fallback(inst: _Instance) -> Placement:
    """All tasks one after another in a topological order; ``T`` = their span.

    :func:`lpsched.solvers.toolkit.one_processor` with pinned tasks and the
    instance's durations (a coarse graph's merged tasks last the sum of their
    parts). On one processor (the fastest, of the pinned ones if any) the span
    is the total work there and every edge of positive distance holds because
    a whole iteration fits in one period. When pinned tasks force several
    processors, each task also waits for its largest outgoing communication,
    so that every edge holds likewise.
    """
    pinned = {a[0] for a in inst.allowed if len(a) == 1}
    speeds = inst.problem.platform.speeds
    home = max(pinned or range(inst.processors), key=lambda q: (speeds[q], -q))
    proc = [a[0] if len(a) == 1 else home for a in inst.allowed]
    several = len(pinned) > 1
    start = [0] * inst.n
    sent: list[tuple[int, int, int]] = []
    t = 0
    for v in inst.topo:
        start[v] = t
        t += inst.dur(v, proc[v])
        if several:
            wait = max((max(inst.ci[e], inst.ce[e]) for _x, _w, e in inst.succs[v]), default=0)
            if inst.links is not None:
                # One transfer after another, each port free: the next task waits for all.
                wait, t = _sequential_sends(inst, v, proc, t, sent)
            t += wait
    return max(t, 1), proc, start, tuple(sorted(sent))


def _sequential_sends(
    inst: _Instance, v: int, proc: list[int], t: int, sent: list[tuple[int, int, int]]
) -> tuple[int, int]:
    """``v``'s transfers back to back from ``t`` (appended to ``sent``): (wait, their end).

    The wait after their end covers the largest latency and every delay edge of ``v``.
    """
    links = inst.links
    assert links is not None
    p = proc[v]
    carried = links.tensor_of
    wait = max(
        (max(inst.ci[e], inst.ce[e]) for _x, _w, e in inst.succs[v] if e not in carried),
        default=0,
    )
    for k in links.outs[v]:
        for q in sorted({proc[x] for x, _w in links.readers[k]} - {p}):
            c = 0 if inst.node[p] == inst.node[q] else 1
            sent.append((k, q, t))
            t += links.tau[k][c]
            wait = max(wait, links.latency[c])
    return wait, t


# ---------------------------------------------------------------------- rebalancing
@dataclass
class _Items:
    """What rebalancing moves: co-location groups whole, other tasks alone.

    Attributes
    ----------
    members
        The tasks of each item.
    size
        ``size[i][k]``: item ``i``'s work on a processor of speed class ``k``.
    where
        Each item's processor.
    near
        ``near[i][j]``: the costs (within a node, between nodes) of the edges
        between items ``i`` and ``j``.
    load
        Each processor's load.
    """

    members: list[list[int]]
    size: list[list[int]]
    where: list[int]
    near: list[dict[int, list[int]]]
    load: list[int]


def _items(inst: _Instance, proc: list[int], group: list[int] | None) -> _Items:
    """The items of ``proc``; a group it splits joins the processor with most of its work."""
    n = inst.n
    key = [v if group is None or group[v] < 0 else n + group[v] for v in range(n)]
    by_key: dict[int, list[int]] = {}
    for v in range(n):
        by_key.setdefault(key[v], []).append(v)
    members = list(by_key.values())
    item_of = [0] * n
    for i, vs in enumerate(members):
        for v in vs:
            item_of[v] = i
    kinds = len(inst.dk[0])
    size = [[sum(inst.dk[v][k] for v in vs) for k in range(kinds)] for vs in members]
    where = []
    for vs in members:
        work: dict[int, int] = {}
        for v in vs:
            work[proc[v]] = work.get(proc[v], 0) + inst.dur(v, proc[v])
        where.append(max(work, key=lambda p: (work[p], -p)))
    near: list[dict[int, list[int]]] = [{} for _ in members]
    for u, v, _w, e in inst.edges:
        a, b = item_of[u], item_of[v]
        if a != b:
            for x, y in ((a, b), (b, a)):
                c = near[x].setdefault(y, [0, 0])
                c[0] += inst.ci[e]
                c[1] += inst.ce[e]
    load = [0] * inst.processors
    for i, p in enumerate(where):
        load[p] += size[i][inst.kind[p]]
    return _Items(members, size, where, near, load)


def _added_comm(inst: _Instance, items: _Items, i: int, q: int, away: int = -1) -> int:
    """Communication added by moving item ``i`` to ``q`` (``away``: an item leaving ``q``)."""
    where, node = items.where, inst.node
    here = where[i]

    def crossing(c: list[int], p: int, r: int) -> int:
        return 0 if p == r else c[0] if node[p] == node[r] else c[1]

    now = sum(crossing(c, here, where[j]) for j, c in items.near[i].items())
    then = sum(crossing(c, q, here if j == away else where[j]) for j, c in items.near[i].items())
    return then - now


@dataclass
class _Tally:
    """Work units one rebalancing may still spend (:data:`REBALANCE_LIMIT`), and its budget.

    A unit is one candidate checked in Python, or 64 checked at once by numpy.
    """

    budget: _Budget
    left: int = REBALANCE_LIMIT

    def spend(self, units: int) -> bool:
        """Spend ``units``; False once the units or the budget have run out."""
        self.left -= units
        return self.left >= 0 and not self.budget.out()


def _best_change(
    inst: _Instance, items: _Items, p: int, target: int, tally: _Tally | None = None
) -> tuple[int, int, int, int] | None:
    """The cheapest move or swap off ``p``: (comm added, work moved, item, other item or -1-q).

    First a move of one of ``p``'s items to a processor with room; else a swap
    with an item of another processor that is shorter on ``p`` and leaves room
    there. Sizes are each item's duration on the processor it would occupy.
    The swap partners are filtered by numpy (the pairs are quadratic in the
    items); ``None`` also when ``tally`` runs out.
    """
    tally = tally or _Tally(_unlimited())
    size, where, load, kind = items.size, items.where, items.load, inst.kind
    count = len(items.members)
    mine = [i for i in range(count) if where[i] == p]
    best: tuple[int, int, int, int] | None = None
    if not tally.spend(1 + count // 64 + len(mine) * inst.processors):
        return None
    for i in mine:
        for q in range(inst.processors):
            if q != p and load[q] + size[i][kind[q]] <= target:
                option = (_added_comm(inst, items, i, q), size[i][kind[p]], i, -1 - q)
                best = option if best is None or option < best else best
    if best is not None:
        return best
    sizes = np.asarray(size, dtype=np.int64).reshape(count, -1)  # sizes[j, class]
    at = np.asarray(where, dtype=np.int64)
    at_kind = np.asarray(kind, dtype=np.int64)[at]  # each item's processor's class
    rows = np.arange(count)
    own = sizes[rows, at_kind]  # each item's size where it is
    on_p = sizes[:, kind[p]]
    room = target - np.asarray(load, dtype=np.int64)[at] + own  # room on j's processor without j
    away = at != p
    for i in mine:
        if not tally.spend(1 + count // 64):
            return None
        fits = away & (on_p < on_p[i]) & (sizes[i][at_kind] <= room)
        for j in np.flatnonzero(fits).tolist():
            if not tally.spend(1):
                return None
            q = where[j]
            added = _added_comm(inst, items, i, q, j) + _added_comm(inst, items, j, p, i)
            option = (added, size[i][kind[p]] - size[j][kind[p]], i, j)
            best = option if best is None or option < best else best
    return best


def _rebalanced(
    inst: _Instance,
    proc: list[int],
    target: int,
    group: list[int] | None = None,
    tally: _Tally | None = None,
) -> list[int] | None:
    """Processors of ``proc`` after local moves that bring every load to ``target`` or below.

    Items are the co-location groups (``group[v]``, ``-1`` for a task on its
    own; see :func:`_colocation`), which move as a whole. While a processor is
    over ``target``, the cheapest change of :func:`_best_change` is made.
    Cheapest is the least communication cost added on the items' edges, then
    the least work moved. ``None`` when no change helps, or when ``tally``
    runs out first. (Pinned tasks are not looked at: rebalancing runs on free
    searches only.)
    """
    tally = tally or _Tally(_unlimited())
    items = _items(inst, proc, group)
    size, where, load, kind = items.size, items.where, items.load, inst.kind
    item_of = [0] * inst.n
    for i, vs in enumerate(items.members):
        for v in vs:
            item_of[v] = i
    for _ in range(len(items.members) * inst.processors):
        p = max(range(inst.processors), key=load.__getitem__)
        if load[p] <= target:
            return [where[item_of[v]] for v in range(inst.n)]
        best = _best_change(inst, items, p, target, tally)
        if best is None:
            return None
        _c, _m, i, other = best
        if other < 0:
            q = -1 - other
        else:
            q = where[other]
            where[other] = p
            load[p] += size[other][kind[p]]
            load[q] -= size[other][kind[q]]
        where[i] = q
        load[p] -= size[i][kind[p]]
        load[q] += size[i][kind[q]]
    return None


def _rebalance(
    inst: _Instance, best: Placement, floor: int, seed: int, budget: _Budget, label: str = ""
) -> Placement:
    """Lower the period by rebalancing processor loads, then rescheduling with them fixed.

    Near the resource bound the period is often the largest load: the search
    packed the circles unevenly. For ``target = T - 1, T - 2, ...`` the loads
    are brought down by :func:`_rebalanced`, moving the co-location groups of
    ``target`` whole (an edge that cannot cross processors at ``target`` is
    never cut), and the start times are found again with the processors
    fixed; it stops at the first target that fails, at ``floor``, or once the
    budget has run out (noted in the log, as is a rebalancing that ran out of
    its :data:`REBALANCE_LIMIT` units; ``label`` names the search in it).
    """
    names = [t.name for t in inst.problem.graph.tasks]
    proc = best[1]
    while best[0] > floor:
        if budget.out():
            budget.meter.note(f"{label}rebalancing skipped or cut short ({budget.why()})")
            break
        target = best[0] - 1
        coloc = _colocation(inst, target)
        if coloc is None:
            break
        tally = _Tally(budget)
        moved = _rebalanced(inst, proc, target, coloc.group, tally)
        if moved is None:
            if tally.left < 0:
                budget.meter.note(
                    f"{label}rebalancing stopped at period {target}: more than "
                    f"{REBALANCE_LIMIT:,} work units"
                )
            break
        proc = moved
        pinned = inst.pinned(dict(zip(names, proc, strict=True)))
        found = _modulo(pinned, floor, seed, budget, True, None, f"{label}rebalancing: ")
        if found[0] >= best[0]:
            break
        best = found
        proc = best[1]
    return best


# --------------------------------------------------------------------------- search
class _Search:
    """The period search of one call: the best placement so far and the attempts at a period.

    ``attempt(T, ...)`` tries every co-location level at ``T`` and keeps the
    first placement found; ``shortfall`` is the least unplaced work of the
    last failed period, which the upward search uses to size its steps. Every
    loop stops once ``budget`` runs out; a better placement is reported to
    ``progress`` (the top-level search only).
    """

    def __init__(
        self,
        inst: _Instance,
        seed: int,
        budget: _Budget,
        progress: _Progress | None = None,
        label: str = "",
    ) -> None:
        self.inst = inst
        self.limit = budget
        self.progress = progress
        self.label = label
        self._best: Placement = _fallback(inst)
        if progress is not None:
            progress.better(self._best[0])
        self.rng = random.Random(seed)
        self.budget = BUDGET_RATIO * inst.n
        self.shortfall = 0
        # A period known elsewhere (the caller's incumbent): nothing at or above it is
        # worth finding. Infinite but under ports (see :func:`_modulo`).
        self.ceiling: int | float = math.inf

    @property
    def best(self) -> Placement:
        """The best placement so far (the fallback at first)."""
        return self._best

    @property
    def top(self) -> int:
        """The period to beat: the best so far's, or ``ceiling`` when that is lower."""
        return min(self._best[0], self.ceiling)

    @best.setter
    def best(self, placement: Placement) -> None:
        if self.progress is not None and placement[0] < self._best[0]:
            self.progress.better(placement[0])
        self._best = placement

    def out(self, phase: str) -> bool:
        """Whether the budget has run out; if so, say that ``phase`` was skipped or cut short."""
        if not self.limit.out():
            return False
        self.limit.meter.note(f"{self.label}{phase} skipped or cut short ({self.limit.why()})")
        return True

    def ranks(self) -> list[float]:
        """Fresh random tie-breaks between tasks of equal height."""
        return [self.rng.random() for _ in range(self.inst.n)]

    def attempt(
        self,
        T: int,
        rank: list[float],
        noise: float = 0.0,
        fit: float = FIT_WINDOW,
        flush: bool = True,
    ) -> bool:
        """Whether a placement of period ``T`` (or better) is known after trying ``T``.

        False also when the budget ran out during the attempt (then nothing is
        learnt about ``T``; the callers stop).
        """
        inst = self.inst
        if T >= self.top:
            return True
        self.shortfall = sum(inst.dmin)
        tried = []
        for cohesion in COHESION if inst.links is None else PORT_COHESION_LEVELS:
            if self.limit.out():
                return False
            coloc = _colocation(inst, T, cohesion)
            if coloc is None or coloc in tried:
                continue  # infeasible groups, or the same as a level already tried
            tried.append(coloc)
            perturb = (self.rng, noise) if noise else None
            attempt = _Attempt(
                inst, T, rank, self.budget, coloc, perturb, fit, flush, limit=self.limit
            )
            got = attempt.run()
            if attempt.cut:
                return False
            if got is None:
                unplaced = sum(inst.dmin[x] for x in attempt.unplaced())
                self.shortfall = min(self.shortfall, unplaced)
                continue
            sent = attempt.transfers()
            if not _is_valid(inst, T, *got, sent):  # never expected; the fallback stays then
                continue
            self.best = (T, *got, sent)
            return True
        return False

    def raise_period(self, floor: int, rank: list[float], free: bool, seed: int) -> int:
        """Raise ``T`` from ``floor`` until an attempt succeeds; the last period that failed.

        By one (or 0.1% of the floor, in fine time units), then by steps that
        double from 0.25% of the floor, and at least by the work left unplaced
        spread over the processors (up to 4 steps). Before, when the floor
        fails and ``free``, the PipeDream layout is taken if it is better
        (with at most half of the budget left); on instances of more than
        :data:`STAGED_FIRST` tasks x processors it is taken first, since its
        steps try one processor each: a first schedule then comes soon.
        """
        tol = max(1, floor // 1000)
        step = max(1, floor // 400)
        early = free and self.inst.n * self.inst.processors > STAGED_FIRST
        if early:
            self.take_staged(floor, seed)
        if self.attempt(floor, rank):
            return floor - 1
        if free and not early:
            self.take_staged(floor, seed)
        last_fail = floor
        T = floor + tol
        while T < self.top and not self.out("the search for a first period"):
            if self.attempt(T, rank):
                break
            spread = math.ceil(self.shortfall / self.inst.processors)
            last_fail = T
            T += max(step, min(spread, 4 * step))
            step *= 2
        return last_fail

    def take_staged(self, floor: int, seed: int) -> None:
        """The PipeDream layout, if it is better than the best placement (half the budget)."""
        if self.out("the PipeDream layout"):
            return
        if self.inst.links is not None and self.inst.given is None:
            return  # under ports the planner's own schedule is the incumbent (_modulo)
        # The PipeDream layout (contiguous stages of whole layers) is a schedule too:
        # where communication dominates it can beat the free search, which it bounds.
        staged = _staged(self.inst, floor, seed, self.limit.share(0.5), self.progress)
        if staged is not None and staged[0] < self.best[0]:
            self.best = staged

    def bisect(self, lo: int, rank: list[float], tol: int) -> None:
        """Binary search back down between the last failure ``lo`` and the best period."""
        hi = self.top
        while hi - lo > tol and not self.out("the binary search"):
            mid = (lo + hi) // 2
            if self.attempt(mid, rank):
                hi = self.top
            else:
                lo = mid

    def improve(self, floor: int, tol: int) -> None:
        """A bisection between the floor and the best period with perturbed attempts.

        Priorities and processor choices are perturbed (several attempts per
        period near the end); :data:`IMPROVEMENT_WORK` / tasks attempts are
        made, within :data:`IMPROVEMENT_ATTEMPTS`, fewer when the budget runs out.
        """
        fewest, most = IMPROVEMENT_ATTEMPTS
        attempts = max(fewest, min(most, IMPROVEMENT_WORK // self.inst.n))
        lo = floor - 1
        tries = 0
        while self.top > floor and tries < attempts:
            if self.out("improvement attempts"):
                break
            best = self.top
            target = (lo + best) // 2 if best - lo > 2 * tol else best - tol
            noise, fit, flush = VARIANTS[tries % len(VARIANTS)]
            if not self.attempt(max(floor, target), self.ranks(), noise, fit, flush):
                lo = max(lo, target)
            tries += 1


def _modulo(
    inst: _Instance,
    lower_bound: int | None,
    seed: int,
    budget: _Budget,
    quick: bool = False,
    progress: _Progress | None = None,
    label: str = "",
    ceiling: int | float = math.inf,
) -> Placement:
    """The search of :func:`modulo_schedule` on an instance; starts shifted to begin at 0.

    ``quick``: the search for a first period and its binary search only, no
    rebalancing and no improvement attempts (the sub-searches with fixed
    processors are quick). ``progress`` receives every better period;
    ``label`` (``"name: "``) names a sub-search in the log. ``ceiling``: a
    period the caller has already (under ports: the search looks below it
    only, and may return a worse placement, which the caller then drops).
    """
    if lower_bound is None:
        lower_bound = inst.problem.lower_bound
    search = _Search(inst, seed, budget, progress, label)
    search.ceiling = ceiling
    floor = min(max(int(lower_bound), inst.min_period), search.best[0])
    floor = _colocation_floor(inst, floor, search.best[0])
    free = inst.free
    if free and inst.problem.placement == "stages":
        # Contiguous stages: the processors come from a cut of the layers, not from the
        # free search (whose choices and rebalancing moves would break the intervals).
        T, proc, start, sent = _stage_search(inst, floor, seed, budget, quick, progress)
        lo = min(start)
        return T, proc, [s - lo for s in start], tuple((k, q, t - lo) for k, q, t in sent)
    # The coarser decomposition's schedule, refined; the search below runs as if it did
    # not exist (taking it as the incumbent changes its path, often for the worse) unless
    # it already meets the floor. It gets at most half of the budget.
    if free and inst.links is not None:
        # Under ports the planner's schedule is the incumbent from the start: cheap, valid,
        # and where links are scarce often the best (the search then stops below it).
        planned = _planner_ports(inst, budget.share(0.5))
        if planned is not None and planned[0] < search.best[0]:
            search.best = planned
    coarse = None
    if free and not search.out("the coarser decomposition"):
        # Under ports the coarse search need not find what is already known.
        above = search.top if inst.links is not None else math.inf
        coarse = _refined(inst, floor, seed, budget.share(0.5), quick, progress, above)
    if coarse is not None and coarse[0] >= search.best[0]:
        coarse = None
    if coarse is not None and coarse[0] <= floor:
        search.best = coarse
    rank = search.ranks()
    tol = max(1, floor // 1000)
    last_fail = search.raise_period(floor, rank, free, seed)
    search.bisect(last_fail, rank, tol)
    if free and not quick and search.best[0] < search.ceiling:
        search.best = _rebalance(inst, search.best, floor, seed, budget, label)
    if free and not quick and inst.links is not None:
        timed = _ports_timed(inst, search.best[1], budget)
        if timed is not None and timed[0] < search.best[0]:
            search.best = timed
    if not quick:
        search.improve(floor, tol)
    if coarse is not None and coarse[0] < search.best[0]:
        search.best = coarse if quick else _rebalance(inst, coarse, floor, seed, budget, label)
    T, proc, start, sent = search.best
    lo = min(start)
    return T, proc, [s - lo for s in start], tuple((k, q, t - lo) for k, q, t in sent)


def _port_retries(
    inst: _Instance,
    best: Placement,
    lower_bound: int,
    seed: int,
    call: _Budget,
    steps: int,
    progress: _Progress,
) -> Placement:
    """Under ports: ``best``, or what the layer search, then the restart, find better.

    Each gets its own share of ``steps`` within the call's limit: taken from
    the free search, those steps cost it more than they bring (ResNet-50, 16
    processors: 2211 against 2084). A candidate is kept when shorter and valid.
    """
    for share, retry in ((LAYER_SHARE, _layer_placed), (RESTART_SHARE, _restarted)):
        own = replace(call, steps=min(call.steps, call.meter.steps + int(share * steps)))
        found = retry(inst, best, lower_bound, seed, own, progress)
        if found is not None and found[0] < best[0] and _is_valid(inst, *found):
            best = found
    return best


def _layer_placed(
    inst: _Instance,
    best: Placement,
    lower_bound: int,
    seed: int,
    budget: _Budget,
    progress: _Progress,
) -> Placement | None:
    """The search with every layer on one processor, below ``best``; ``None`` when skipped.

    Placement ``layer`` is a restriction of ``free``, but where activations are
    heavy its search finds what the free one misses: a layer's forward and
    backward tasks read the same activations, and apart they send them over a
    port (ResNet-18, 8 ``pcie`` processors: 1236 against 1648). Only under
    placement ``free`` with no fixed processor, when some layer has two tasks
    or more (else it is the free search again) and ``best`` is above the
    bound. Under a time limit it gets what the free search left, which may be
    nothing.
    """
    if not inst.free or inst.problem.placement != "free" or best[0] <= lower_bound:
        return None
    if budget.out() or all(len(u) == 1 for u in inst.problem.units):
        return None
    layered = Problem(inst.problem.graph, inst.problem.platform, "layer")
    sub = _Instance.build(layered, None, budget=budget)
    label = "the layer placement: "
    return _modulo(sub, lower_bound, seed, budget, False, progress, label, best[0])


def _restarted(
    inst: _Instance,
    best: Placement,
    lower_bound: int,
    seed: int,
    budget: _Budget,
    progress: _Progress,
) -> Placement | None:
    """A quick search from a floor :data:`RESTART_SHIFT` of the gap higher; ``None`` when skipped.

    Where the bound is far below what the search finds, the periods it tries
    from the bound up decide where it ends: GPT-2 on 4 ``pcie`` processors ends
    at 3797 from the bound 3571 and at 3634 from 3599, on 8 at 2854 from 2635 and
    at 2691 from 2662. Only when ``best`` is more than 2% above the bound.
    """
    gap = best[0] - lower_bound
    if gap * 50 <= best[0] or budget.out():
        return None
    floor = lower_bound + int(RESTART_SHIFT * gap)
    return _modulo(inst, floor, seed, budget, True, progress, "a higher floor: ", best[0])


def _refined(
    inst: _Instance,
    lower_bound: int,
    seed: int,
    budget: _Budget,
    quick: bool = False,
    progress: _Progress | None = None,
    ceiling: int | float = math.inf,
) -> Placement | None:
    """The schedule of the next coarser decomposition, refined into the instance's (if any).

    A LayerPipe graph is coarsened to ``intra``, an ``intra`` graph to
    ``pipedream`` (:func:`lpsched.coarsen.coarsen`); the coarse graph is
    scheduled by the same search, within ``budget``, which coarsens it in
    turn, with every merged task lasting the sum of its parts' durations on
    each processor, and the schedule refined (:func:`lpsched.coarsen.refine`):
    its parts then fill the merged task's slot exactly. Fewer, longer tasks
    pack differently: on ResNet-18, 4 processors, this reaches the bound 1726
    that the fine search misses (1755). A ``quick`` search is quick there
    too. ``None`` also when the refined
    schedule is not valid (never expected: :mod:`lpsched.coarsen` proves it is).
    """
    from ..coarsen import COARSER, coarsen, refine

    graph, platform = inst.problem.graph, inst.problem.platform
    for decomposition in COARSER:
        coarsening = coarsen(graph, decomposition)
        if coarsening is None:
            continue
        kinds = range(len(inst.dk[0]))
        parts = [[graph.index(m) for m in coarsening.parts[t.name]] for t in coarsening.graph.tasks]
        summed = [[sum(inst.dk[m][k] for m in ms) for k in kinds] for ms in parts]
        # A merged task is one layer's tasks: the coarse graph keeps the layers and their order.
        placed = Problem(coarsening.graph, platform, inst.problem.placement)
        coarse = _Instance.build(placed, None, summed, budget)
        label = f"the {decomposition} decomposition: "
        # Under ports a coarse instance's own coarser search is quick: two levels of full
        # searches cost most of the call (VGG-16, 8 pcie: 17 of 41 s, never the best).
        nested = quick or (inst.links is not None and inst.given is not None)
        # Under ports the refinement may need a search of its own (_with_transfers):
        # the coarse search leaves it a fifth of the budget.
        own = budget if inst.links is None else budget.share(0.8)
        # Under ports a coarse period is no period of the instance's until its transfers
        # are found (_with_transfers, often at a longer period): only that one is shown.
        told = progress if inst.links is None else None
        T, proc, start, _sent = _modulo(
            coarse, lower_bound, seed, own, nested, told, label, ceiling
        )
        if T >= ceiling:
            return None  # no better than the caller's incumbent (ports only)
        names = [t.name for t in coarsening.graph.tasks]
        sched = Schedule(
            coarsening.graph,
            platform,
            T,
            dict(zip(names, proc, strict=True)),
            dict(zip(names, start, strict=True)),
        )
        refined = refine(sched, graph, coarsening, lambda v, p: inst.dur(graph.index(v), p))
        placement = _placement(inst, refined)
        if inst.links is not None:
            placement = _with_transfers(inst, placement, lower_bound, seed, budget)
        if not _is_valid(inst, *placement):
            return None
        if progress is not None and told is None:
            progress.better(placement[0])
        return placement
    return None


def _staged(
    inst: _Instance,
    lower_bound: int,
    seed: int,
    budget: _Budget,
    progress: _Progress | None = None,
) -> Placement | None:
    """The PipeDream planner's stages with start times by the search, if 2+ stages.

    The planner sees the instance's durations (a coarse graph's merged tasks
    last the sum of their parts), asked once per speed (never a (tasks) x
    (processors) table); the search is quick and runs within ``budget``.
    """
    from .pipedream import plan_stages

    problem = inst.problem
    plan = plan_stages(
        problem,
        durations=inst.dur,
        time_limit=max(0.0, budget.deadline - time.perf_counter()),
        log=budget.meter.note,
    )
    if len(plan.stages) < 2:
        return None
    stage_of = {name: k for k, stage in enumerate(plan.stages) for name in stage}
    fixed = {t.name: stage_of[t.layer or t.name] for t in problem.graph.tasks}
    label = "the PipeDream layout: "
    return _modulo(inst.pinned(fixed), lower_bound, seed, budget, True, progress, label)


#: A cut of the layers under placement ``stages``: the stage boundaries ``0 = b_0 < b_1 <
#: ... < b_S = L`` in :attr:`lpsched.problem.Problem.units` order; stage ``s`` (units
#: ``b_s .. b_{s+1} - 1``) runs on processor ``s``.
Cut = tuple[int, ...]


def _stage_search(
    inst: _Instance,
    floor: int,
    seed: int,
    budget: _Budget,
    quick: bool = False,
    progress: _Progress | None = None,
) -> Placement:
    """Under placement ``stages``: the best of a few cuts of the layers, each scheduled pinned.

    On a tiny graph (:data:`STAGE_ALL_TASKS`) with few cuts (at most
    :data:`STAGE_ALL_CUTS`) every cut is tried, the least loaded first.
    Else the starting cuts are the PipeDream planner's, with communication
    overlapped and added (:func:`lpsched.solvers.pipedream.plan_stages`, on
    the instance's durations, in the units' order); then up to
    :data:`STAGE_ROUNDS` rounds of local search try every cut moved by one
    layer either way and the heaviest stage split in two (when fewer than
    ``P`` stages), moving to the best. A cut whose busiest processor's work is
    no less than the best period found is skipped: its period cannot be lower.
    Each cut's start times come from the quick search with its processors
    pinned (under ports also from the planner's ports search,
    :func:`_ports_timed`); on processors of several speeds a cut is also
    tried with its stages of most work on the fastest processors. Unless
    ``quick``, the best cut then gets the full pinned search (improvement
    attempts). At worst the one-processor schedule, which keeps every placement.
    """
    from .pipedream import plan_stages

    units = inst.problem.units
    state = _StageState(inst, floor, seed, budget, progress)
    left = _seconds_left(budget)
    few = _all_cuts(len(units), inst.processors) if inst.n <= STAGE_ALL_TASKS else None
    for cut in sorted(few or (), key=state.floor_of):
        state.evaluate(cut)  # a tiny graph: every cut, the least loaded first
    for comm in ("overlap", "add"):
        if budget.out():
            break
        plan = plan_stages(inst.problem, comm=comm, durations=inst.dur, time_limit=left)
        sizes = [len(stage) for stage in plan.stages]
        if sum(sizes) == len(units):  # the units' order (pipedream.pipeline_layers)
            state.evaluate(tuple(np.cumsum([0, *sizes]).tolist()))
    for _ in range(STAGE_ROUNDS):
        centre = state.cut
        if centre is None or state.out("the stage cuts' local search"):
            break
        for cut in _neighbour_cuts(inst, centre):
            state.evaluate(cut)
        if state.cut == centre:
            break
    if not quick and state.cut is not None and not state.out("the best cut's full search"):
        state.evaluate(state.cut, full=True)
    return state.best


class _StageState:
    """The cuts tried by :func:`_stage_search` and the best placement so far."""

    def __init__(
        self, inst: _Instance, floor: int, seed: int, budget: _Budget, progress: _Progress | None
    ) -> None:
        self.inst, self.floor, self.seed, self.budget = inst, floor, seed, budget
        self.progress = progress
        self.best: Placement = _fallback(inst)
        self.cut: Cut | None = None
        self.hosts_of: tuple[int, ...] = ()  # the best cut's processor per stage
        self.tried: set[Cut] = set()
        self.names = [t.name for t in inst.problem.graph.tasks]
        if progress is not None:
            progress.better(self.best[0])

    def out(self, phase: str) -> bool:
        """Whether the budget has run out; if so, say that ``phase`` was skipped or cut short."""
        if not self.budget.out():
            return False
        self.budget.meter.note(f"stages: {phase} skipped or cut short ({self.budget.why()})")
        return True

    def proc(self, cut: Cut, hosts: Sequence[int]) -> list[int]:
        """Each task's processor under ``cut``, stage ``s`` on ``hosts[s]``."""
        proc = [0] * self.inst.n
        for s, (a, b) in enumerate(zip(cut, cut[1:], strict=False)):
            for unit in self.inst.problem.units[a:b]:
                for v in unit:
                    proc[v] = hosts[s]
        return proc

    def hosts(self, cut: Cut) -> list[tuple[int, ...]]:
        """Processors for the stages: in order; with several speeds also by work and speed."""
        inst = self.inst
        S = len(cut) - 1
        out = [tuple(range(S))]
        if len(inst.classes) > 1:
            work = [
                sum(inst.dmin[v] for unit in inst.problem.units[a:b] for v in unit)
                for a, b in zip(cut, cut[1:], strict=False)
            ]
            speeds = inst.problem.platform.speeds
            fast = sorted(range(inst.processors), key=lambda p: (-speeds[p], p))
            by_work = sorted(range(S), key=lambda s: (-work[s], s))
            hosts = [0] * S
            for s, p in zip(by_work, fast, strict=False):
                hosts[s] = p
            if tuple(hosts) != out[0]:
                out.append(tuple(hosts))
        return out

    def floor_of(self, cut: Cut) -> int:
        """The most work of one stage of ``cut`` at the fastest speed: its period is no less."""
        units, dmin = self.inst.problem.units, self.inst.dmin
        return max(
            sum(dmin[v] for unit in units[a:b] for v in unit)
            for a, b in zip(cut, cut[1:], strict=False)
        )

    def evaluate(self, cut: Cut, full: bool = False) -> None:
        """Schedule ``cut`` (once; ``full``: again with the full pinned search); keep the best."""
        if (cut in self.tried and not full) or len(cut) - 1 > self.inst.processors:
            return
        self.tried.add(cut)
        for hosts in [self.hosts_of] if full else self.hosts(cut):
            self.place(cut, hosts, full)

    def place(self, cut: Cut, hosts: Sequence[int], full: bool) -> None:
        """Schedule ``cut`` with its stages on ``hosts``; keep it if it is the best."""
        inst = self.inst
        if self.best[0] <= self.floor:
            return  # a lower bound met: no cut does better
        proc = self.proc(cut, hosts)
        load = [0] * inst.processors
        for v, p in enumerate(proc):
            load[p] += inst.dur(v, p)
        if max(load) >= self.best[0] or self.out("the stage cuts"):
            return
        pinned = inst.pinned(dict(zip(self.names, proc, strict=True)))
        found = _modulo(pinned, self.floor, self.seed, self.budget, not full, self.progress, "")
        if inst.links is not None and not full:
            timed = _ports_timed(inst, proc, self.budget)
            found = timed if timed is not None and timed[0] < found[0] else found
        if found[0] < self.best[0]:
            self.best, self.cut, self.hosts_of = found, cut, tuple(hosts)
            if self.progress is not None:
                self.progress.better(found[0])


def _all_cuts(L: int, P: int) -> list[Cut] | None:
    """Every cut of ``L`` layers into at most ``P`` stages, if there are few; else None."""
    count = sum(math.comb(L - 1, k) for k in range(min(P, L)))
    if count > STAGE_ALL_CUTS:
        return None
    return [
        (0, *inner, L) for k in range(min(P, L)) for inner in itertools.combinations(range(1, L), k)
    ]


def _neighbour_cuts(inst: _Instance, cut: Cut) -> list[Cut]:
    """The cuts one layer away from ``cut``, and with its heaviest stage split in two.

    Each inner boundary moves by one layer either way (no stage left empty);
    with fewer stages than processors, the stage of most work (at speed 1) is
    also split where its two halves' work is most even.
    """
    out: list[Cut] = []
    for i in range(1, len(cut) - 1):
        for b in (cut[i] - 1, cut[i] + 1):
            if cut[i - 1] < b < cut[i + 1]:
                out.append((*cut[:i], b, *cut[i + 1 :]))
    if len(cut) - 1 < inst.processors:
        units = inst.problem.units
        work = [sum(inst.dmin[v] for v in unit) for unit in units]
        spans = [(sum(work[a:b]), a, b) for a, b in zip(cut, cut[1:], strict=False) if b - a > 1]
        if spans:
            total, a, b = max(spans)
            acc = np.cumsum(work[a:b]).tolist()
            split = a + 1 + min(range(b - a - 1), key=lambda k: abs(2 * acc[k] - total))
            out.append(tuple(sorted({*cut, split})))
    return out


def _planner_ports(inst: _Instance, budget: _Budget) -> Placement | None:
    """The PipeDream planner's own ports schedule (stages, start times, transfers), if valid.

    Only under ``capacity: ports`` and on the problem's own durations (not a
    coarse instance, whose merged tasks may last longer than the problem says).
    The planner sizes each stage by the larger of its work and its port loads
    and fits the transfers between stages, where :func:`_staged` only keeps
    its stages: on ResNet-18, 16 processors, 915 against the search's 1154.
    """
    if inst.links is None or inst.given is not None or budget.out():
        return None
    from .pipedream import pipedream_schedule

    try:
        schedule = pipedream_schedule(
            inst.problem, time_limit=_seconds_left(budget), stop=budget.meter.stop
        )
    except InfeasibleError:
        return None  # bounded memory and no plan that fits: the search goes on
    return _from_schedule(inst, schedule)


def _ports_timed(inst: _Instance, proc: list[int], budget: _Budget) -> Placement | None:
    """Start times and transfers for fixed processors by the planner's ports search, if valid.

    :func:`lpsched.solvers.pipedream.ports_schedule` fits the transfers into
    the slack of a delay twin and often needs a shorter period for one
    placement than this module's own search with the processors pinned
    (ResNet-50, 8 pcie processors: 3131 against 3507). Not on coarse instances.
    """
    if inst.links is None or inst.given is not None or budget.out():
        return None
    from .pipedream import ports_schedule

    schedule = ports_schedule(
        inst.problem, list(proc), time_limit=_seconds_left(budget), stop=budget.meter.stop
    )
    return _from_schedule(inst, schedule)


def _seconds_left(budget: _Budget) -> float | None:
    """The seconds left to ``budget``, or ``None`` when it has no deadline."""
    left = budget.deadline - time.perf_counter()
    return None if not math.isfinite(left) else max(0.0, left)


def _from_schedule(inst: _Instance, schedule: Schedule) -> Placement | None:
    """A ports schedule of the instance's problem as a placement, if :func:`_is_valid` agrees."""
    tasks = inst.problem.graph.tasks
    index = {(tasks[t.producer].name, t.name): k for k, t in enumerate(inst.problem.tensors)}
    sent = tuple(
        sorted((index[(x.producer, x.tensor)], x.dst, x.start) for x in schedule.transfers)
    )
    placement = (*_placement(inst, schedule)[:3], sent)
    return placement if _is_valid(inst, *placement) else None


def _placement(inst: _Instance, schedule: Schedule) -> Placement:
    """A schedule of the instance's graph as lists by task index (no transfers)."""
    tasks = inst.problem.graph.tasks
    return (
        schedule.period,
        [schedule.processor[t.name] for t in tasks],
        [schedule.start[t.name] for t in tasks],
        (),
    )


def _with_transfers(
    inst: _Instance, placement: Placement, lower_bound: int, seed: int, budget: _Budget
) -> Placement:
    """The placement with transfers that fit its start times, or scheduled again around them.

    Earliest deadline first, each transfer at the earliest slot from its
    producer's end that is free on both ports and arrives in time; when one
    finds none, the processors are kept and the start times found again
    (a quick search), as rebalancing does.
    """
    T, proc, start, _sent = placement
    links = inst.links
    assert links is not None
    todo = []
    for k, readers in enumerate(links.readers):
        u = links.producer[k]
        p = proc[u]
        for q in sorted({proc[x] for x, _w in readers} - {p}):
            c = 0 if inst.node[p] == inst.node[q] else 1
            due = min(start[x] + w * T for x, w in readers if proc[x] == q)
            due -= links.arrival(k, c)
            todo.append((due, start[u] + inst.dur(u, p), k, q, c))
    todo.sort()
    ports = PortTables(inst.processors, T)
    sent = []
    for due, ready, k, q, c in todo:
        p = proc[links.producer[k]]
        t = ports.find(p, q, c, ready, min(due, ready + T - 1), links.tau[k][c])
        if t is None:
            names = [x.name for x in inst.problem.graph.tasks]
            pinned = inst.pinned(dict(zip(names, proc, strict=True)))
            return _modulo(pinned, lower_bound, seed, budget, True, None, "refinement: ")
        ports.add(p, q, c, t, links.tau[k][c], k)
        sent.append((k, q, t))
    return T, proc, start, tuple(sorted(sent))


def modulo_schedule(
    problem: Problem | TaskGraph,
    platform: Platform | int | None = None,
    *,
    lower_bound: int | None = None,
    seed: int = 0,
    time_limit: float | None = None,
    fixed_processor: Mapping[str, int] | None = None,
    log: Log | None = None,
    quick: bool = False,
    stop: threading.Event | None = None,
) -> Schedule:
    """Schedule a problem periodically by iterative modulo scheduling.

    Parameters
    ----------
    problem
        The problem; or a task graph, with its platform as ``platform``. With
        ``graph.staleness_cap`` set, the weight edges carry the cap as distance
        and the schedule is valid at the cap; lowering the staleness afterwards
        is the caller's business (:func:`lpsched.solvers.toolkit.least_staleness`).
    platform
        Only with a task graph: the platform, or ``P >= 1`` for the default
        platform of ``P`` identical processors.
    lower_bound
        A lower bound on the period (e.g. :attr:`lpsched.problem.Problem.lower_bound`,
        used when ``None``). The search starts there and stops when it is met.
    seed
        Seed of the tie-breaks between tasks of equal height. The result is a
        function of the problem and the seed whenever the search ends before
        ``time_limit``.
    time_limit
        Seconds for the whole call, or ``None``. The search is the same with a
        limit as without; when the limit comes first, every phase stops at its
        next check (an attempt every 64 steps) and the best schedule found so
        far is returned: at worst the one-processor schedule, which is always
        there. The phases skipped or cut short are logged. With a limit or
        without, one call makes at most :data:`STEP_LIMIT` scheduling steps,
        its co-location analysis is bounded by :data:`COLOCATION_LIMIT`, and
        each rebalancing by :data:`REBALANCE_LIMIT`: on big graphs the work is
        bounded and the result still deterministic.
    fixed_processor
        Task name -> processor for the tasks whose processor is fixed (the
        PipeDream planner pins whole stages). Under placement ``stages``
        every task or none.
    log
        Receives one line per better period (seconds, period, bound, gap), at
        most a few per second, a line per phase skipped or cut short, and a
        last line with the period, the steps made and the seconds.
    quick
        Only the search for a first period and its binary search (the coarser
        decomposition's too): no rebalancing, no improvement attempts.
    stop
        When set (from another thread: Ctrl-C), the search ends as at the time
        limit, within 64 steps, with the best schedule found.

    Returns
    -------
    Schedule
        A schedule of ``problem.graph`` on ``problem.platform`` that satisfies
        every precedence and resource constraint of ``formulations/README.md``
        (checked before returning), starts shifted so that the earliest is 0.

    Raises
    ------
    InputError
        When the processor count is not a positive integer, a problem comes
        with another platform, a fixed processor is out of range or names an
        unknown task, some tasks only are fixed under placement ``stages``,
        or the time limit is negative or not a number.
    """
    if not isinstance(problem, Problem) and not isinstance(platform, Platform):
        if isinstance(platform, bool) or not isinstance(platform, int) or platform < 1:
            raise InputError(f"processors must be a positive integer, got {platform!r}")
    budget = _call_budget(time_limit, log, stop)
    problem = as_problem(problem, platform)
    if problem.placement == "stages" and fixed_processor:
        loose = [t.name for t in problem.graph.tasks if t.name not in fixed_processor]
        if loose:
            # Pins and the stage search do not mix: which cut would the pins allow?
            raise InputError(
                f"placement stages: fixed_processor must fix every task or none ({loose[0]!r} "
                "is not fixed)"
            )
    inst = _Instance.build(problem, fixed_processor, budget=budget)
    call = budget
    steps = max(PORT_STEPS_LEAST, PORT_STEPS_PER_TASK * inst.n)
    if inst.links is not None:
        budget = replace(budget, steps=min(call.steps, budget.meter.steps + steps))
    if lower_bound is None:
        lower_bound = problem.lower_bound
    progress = _Progress(budget.meter, int(lower_bound))
    found = _modulo(inst, lower_bound, seed, budget, quick, progress)
    if not quick and inst.links is not None:
        found = _port_retries(inst, found, int(lower_bound), seed, call, steps, progress)
    T, proc, start, sent = found
    progress.flush()
    if log is not None:
        seconds = time.perf_counter() - budget.meter.began
        log(f"heuristic: period {T} in {budget.meter.steps:,} steps, {seconds:.2f} s")
    names = [t.name for t in problem.graph.tasks]
    schedule = Schedule(
        graph=problem.graph,
        platform=problem.platform,
        period=T,
        processor=dict(zip(names, proc, strict=True)),
        start=dict(zip(names, start, strict=True)),
        transfers=_transfer_list(inst, proc, sent),
    )
    if problem.ports:
        schedule = _checked(problem, schedule, log)
    return schedule


def _transfer_list(inst: _Instance, proc: list[int], sent: Sent) -> tuple[Transfer, ...]:
    """The transfers of a placement as the schedule lists them."""
    links = inst.links
    if links is None:
        return ()
    problem = inst.problem
    out = []
    for k, q, t in sent:
        u = links.producer[k]
        p = proc[u]
        out.append(
            Transfer(
                tensor=problem.tensors[k].name,
                producer=problem.graph.tasks[u].name,
                src=p,
                dst=q,
                start=t,
                duration=problem.transfer_time(k, p, q),
            )
        )
    return tuple(out)


def _checked(problem: Problem, schedule: Schedule, log: Log | None) -> Schedule:
    """``schedule`` if the validator accepts it, else the one-processor schedule (never expected).

    Under ``capacity: ports`` the search's own check (:func:`_is_valid`) is the
    model as this module reads it; the validator reads it independently.
    """
    from ..validate import validate
    from .toolkit import one_processor

    # (P8) is not this module's to keep: memory_fit checks footprints and retries.
    violations = [x for x in validate(schedule) if x.kind != "memory"]
    if not violations:
        return schedule
    if log is not None:
        log(f"heuristic: schedule rejected ({violations[0]}); one processor instead")
    return one_processor(problem)


def _call_budget(
    time_limit: float | None, log: Log | None, stop: threading.Event | None = None
) -> _Budget:
    """The budget of one call: ``time_limit`` seconds from now (if any) and :data:`STEP_LIMIT`."""
    meter = _Meter(log, stop)
    if time_limit is None:
        return _Budget(meter, steps=STEP_LIMIT)
    if isinstance(time_limit, bool) or not isinstance(time_limit, int | float):
        raise InputError(f"time limit must be a number of seconds, got {time_limit!r}")
    if not time_limit >= 0:  # also NaN
        raise InputError(f"time limit must be 0 or more seconds, got {time_limit!r}")
    return _Budget(meter, meter.began + float(time_limit), STEP_LIMIT)
