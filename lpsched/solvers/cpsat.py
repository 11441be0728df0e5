"""Exact periodic scheduling with CP-SAT (OR-Tools); the model is ``formulations/cpsat.md``.

For a fixed period ``T`` the model (constraints C1-C15 of the formulation) is a
feasibility problem whose constraints are all linear, because ``T`` is a
constant: start ``S_v = r_v + T*k_v`` with offset ``r_v`` and stage ``k_v``.
Feasibility is monotone in ``T`` (section 3), so the least period is certified
by proving ``T* - 1`` infeasible. The search (:data:`PLAN`) takes cheap proofs
from a bin-packing relaxation (section 4) and, under ports, from a relaxation
that assigns processors and counts port time (section 4.1), gives the heuristic
a share of the time, lets the same model with ``T`` a variable (C19) squeeze the
best schedule by large-neighbourhood search, and then tries one period below the best with
the fixed-period model, which both finds schedules and proves infeasibility.
At the optimal period a second model minimises communication volume or total
staleness, hinted with the first solution (section 5), for a bounded share of
the time: the call ends as soon as the period is proven and the secondary
objective is proven or has stopped improving (section 7).

The model takes a :class:`~lpsched.problem.Problem` as it is: a task lasts
``d_vp`` on processor ``p`` (C3, C9, C13), a message costs what its link class
charges (C3 with the same-node booleans C5), and only processors that
``platform.interchangeable()`` groups together are treated as symmetric (C11,
C12). On a uniform platform this is exactly the model for identical processors.
What the phases do on other platforms:

* ``packing`` (and its first-fit test): generalised, as a relaxation; the items
  are the tasks at their fastest durations, which every schedule's loads
  exceed, so a period it refutes is infeasible.
* ``segments``: skipped; its assignment model (:mod:`lpsched.solvers.segments`)
  needs a task to last the same on every processor.
* ``ports`` (capacity ports only): the port-assignment relaxation
  (:mod:`lpsched.solvers.port_assignment`), on identical processors with the
  fastest durations and the least transfer times, as a relaxation.
* ``heuristic``: iterative modulo scheduling of the problem when the registry's
  heuristic declares that it takes the platform, else skipped.
* ``variable``, ``descend``, ``bisect``, ``lower``: the full model, unchanged.

Under ``capacity: ports`` the model also places every transfer on the link
ports (C20-C25, :mod:`lpsched.solvers.cpsat_ports`, section 2.7 of the
formulation) and every schedule lists its transfers; under ``delay`` nothing
is added.

Under placement ``layer`` or ``stages`` every model keeps each layer on one
processor (C30) and, for ``stages``, each processor's layers contiguous (C31,
:mod:`lpsched.solvers.cpsat_placement`, section 2.9); warm starts and hints
that break the placement are dropped, the packing relaxation packs layers
whole (and in contiguous stages), ``segments`` is skipped, and under
``stages`` a greedy contiguous layout is timed when the heuristic found
nothing.

Every phase runs inside the time limit (section 7): a limit in wall seconds, or
with ``deterministic`` in CP-SAT's deterministic seconds with one worker, so
that the answer does not depend on how busy the machine is. On big instances
the expensive steps are skipped with a note in the log rather than run past
the limit: all-pairs longest paths above :data:`MAX_ALL_PAIRS_TASKS` tasks, a
model that could not be built in its share of the time
(:data:`MODEL_ITEMS_PER_SECOND`) or above :data:`MAX_MODEL_ITEMS`, and numbers
beyond what CP-SAT's 64-bit arithmetic takes (:data:`MAX_MAGNITUDE`).
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from ..bounds import PortModel, port_model
from ..errors import InputError
from ..graph import TaskGraph
from ..platform import Platform
from ..problem import Problem, as_problem
from ..schedule import Result, Schedule, Status, Transfer
from ..units import format_bytes, format_ms
from . import cpsat_memory as cpm
from . import cpsat_placement as cpl
from . import cpsat_ports as cpp
from .port_assignment import assignment_model
from .registry import SOLVERS, Options
from .toolkit import Clock, Incumbent, claim, least_staleness, one_processor

__all__ = [
    "ALL_PAIRS_PER_SECOND",
    "BUILD_SHARE",
    "LINEAR_DESCENT",
    "MAX_ALL_PAIRS_TASKS",
    "MAX_MAGNITUDE",
    "MAX_MODEL_ITEMS",
    "MAX_PACKING_ARCS",
    "MAX_SEGMENT_TRIES",
    "MAX_VARIABLE_INTERVALS",
    "MODEL_ITEMS_PER_SECOND",
    "NEIGHBOURHOOD_PATIENCE",
    "NEIGHBOURHOOD_SLICE",
    "PLAN",
    "PORT_PHASE_SECONDS",
    "PORT_STEP_SECONDS",
    "SECONDARY_FLOOR",
    "SECONDARY_OBJECTIVES",
    "SECONDARY_PATIENCE",
    "SECONDARY_SHARE",
    "SEGMENT_SLICE",
    "STAGE_LAYOUT_SHARE",
    "UNLIMITED_PHASE_SECONDS",
    "WARM_START_SHARE",
    "cp_solver",
    "run_cpsat",
    "solve_cpsat",
]

Log = Callable[[str], None]

#: Accepted values of ``secondary`` (besides ``None``).
SECONDARY_OBJECTIVES = ("comm", "staleness")

#: Without a time limit, the search with a variable period stops after this many
#: seconds (the proof that follows is not limited), and the secondary objective
#: gets at most this many seconds.
UNLIMITED_PHASE_SECONDS = 60.0

#: The secondary objective gets at most this share of the time limit ...
SECONDARY_SHARE = 0.25
#: ... and at most as long as the period search took, or this many seconds if that is more.
SECONDARY_FLOOR = 2.0
#: Wall seconds without a better value after which the secondary objective stops
#: (not with ``deterministic``: CP-SAT reports no deterministic time while it searches).
SECONDARY_PATIENCE = 1.0

#: The warm start (the heuristic in :func:`run_cpsat`) gets at most this share of the limit:
#: on small instances it ends long before (its default effort), on big ones it is what
#: finds the schedule while the models are too large to build in time.
WARM_START_SHARE = 0.5

#: Placement ``stages``: the share of the time the contiguous stage layout may take
#: after the heuristic phase, when that found nothing (:meth:`_Search.stage_layout`).
STAGE_LAYOUT_SHARE = 0.2

#: The period search (formulation, section 3): phases in order, each with its share
#: of the time left. ``packing``: bisection on the bin-packing relaxation;
#: ``heuristic``: iterative modulo scheduling; ``segments``: the lower bound with the
#: critical loop kept in a few pieces (:mod:`lpsched.solvers.segments`);
#: ``variable``: the model with ``T`` a variable; ``lower``/``lower-hard``: the
#: soft/hard model at the lower bound;
#: ``descend``/``descend-soft``: ``best - 1`` until proven infeasible; ``bisect``:
#: bisection with the hard model. The default was chosen by measurement
#: (``benchmarks/cpsat_targets.py``).
PLAN: tuple[tuple[str, float], ...] = (
    ("packing", 0.1),
    ("ports", 0.2),
    ("heuristic", 0.25),
    ("neighbourhood", 0.6),
    ("segments", 0.4),
    ("variable", 0.5),
    ("descend", 1.0),
)

#: Longest CP-SAT call of the ``neighbourhood`` phase (capacity ports only): the
#: model with the best schedule's processors fixed but for one or two of them,
#: the period a variable (section 3, "Neighbourhoods").
NEIGHBOURHOOD_SLICE = 3.0
#: The ``neighbourhood`` phase ends after this many calls in a row without a better period.
NEIGHBOURHOOD_PATIENCE = 8

#: The ``ports`` phase (capacity ports only): at most this many seconds in all, and
#: at most :data:`PORT_STEP_SECONDS` per period tried. Its rejections take a fraction
#: of a second (ResNet-18 on 8 ``pcie`` processors: 1,204 in 0.23 s), its assignments
#: up to several.
PORT_PHASE_SECONDS = 12.0
PORT_STEP_SECONDS = 3.0

#: CP-SAT's status of a feasibility model, as a relaxation step reports it.
_OUTCOMES = {
    cp_model.INFEASIBLE: "infeasible",
    cp_model.OPTIMAL: "feasible",
    cp_model.FEASIBLE: "feasible",
}

#: The bin-packing relaxation is skipped when its arc-flow graph would be larger.
MAX_PACKING_ARCS = 60_000

#: Longest CP-SAT call of the ``segments`` phase: finding an assignment takes from
#: under a second to over a minute depending on the seed (GPT-2 on 8 processors), so
#: short tries with new seeds beat one long one.
SEGMENT_SLICE = 5.0
#: At most this many tries in the ``segments`` phase: where the bound is out of reach the
#: timing model refutes each assignment within milliseconds (MLP on 3 processors: 646
#: tries in 10 s), and the measured successes took at most 6 tries.
MAX_SEGMENT_TRIES = 20

#: The model with the period a variable is skipped when it would hold more optional
#: intervals (C9) than this. Above it, CP-SAT's first descent does not check the time
#: limit: ResNet-50 on 32 processors (11,680 intervals with ``intra``, 19,680 with
#: ``layerpipe``) took 26 s and 22 s for a limit of 6 s and 8 s, and found nothing
#: (formulation, section 3).
MAX_VARIABLE_INTERVALS = 10_000

#: All-pairs longest paths (Floyd-Warshall: memory ``n^2``, time ``n^3``; 0.2 s at 600
#: tasks, 1.7 s at 1,000) are computed only up to this many tasks; above, the start
#: windows C7 come from path lengths and no co-location C15 is forced (section 2.3).
MAX_ALL_PAIRS_TASKS = 800

#: Variables and constraints of a model that Python builds per second, measured at
#: 80,000-130,000 (VGG-16, ResNet-50, GPT-2): a model whose size
#: (:func:`_model_items`) would take more than :data:`BUILD_SHARE` of a phase's time
#: to build is skipped. In deterministic seconds the same rule is a count of work.
MODEL_ITEMS_PER_SECOND = 50_000
#: The share of a phase's time that building its model may take.
BUILD_SHARE = 0.5
#: No model larger than this is built, whatever the time (its memory: about 1 kB an item).
MAX_MODEL_ITEMS = 400_000

#: A model whose numbers (start windows, ``w T``, durations, costs) exceed this is not
#: built: CP-SAT computes in 64 bits and refuses a constraint whose terms could overflow.
MAX_MAGNITUDE = 2**60

#: ``descend`` tries ``best - 1`` while the gap to the bound is at most this many units,
#: else the middle of the gap, so that periods of ``2^40`` units do not descend one by one.
LINEAR_DESCENT = 1024

#: Work of the all-pairs pass (``n^3`` additions) per second, measured at ``6e8``; with
#: ``deterministic`` each pass counts ``n^3`` / this many seconds against the budget, as
#: each model counts its items / :data:`MODEL_ITEMS_PER_SECOND`.
ALL_PAIRS_PER_SECOND = 6e8

#: Seconds between two looks of the watcher at ``stop`` and the patience of a search.
WATCH_SECONDS = 0.1

#: Seconds between two progress lines at least (a better value waits for the next one).
PROGRESS_SECONDS = 0.25


class _TooLarge(Exception):
    """A model would be too large to build in its time, or its numbers too large for CP-SAT."""


# ------------------------------------------------------------------------------ budget
@dataclass
class _Budget:
    """What one call may spend: wall seconds, or CP-SAT's deterministic seconds.

    In wall mode :meth:`spent` is the wall time since the call began; with
    ``deterministic`` it is the deterministic time the CP-SAT calls reported
    (:meth:`charge`), so that no decision depends on the wall clock. Python's
    own work (preprocessing, building models) is bounded by counts there.
    """

    limit: float | None
    deterministic: bool
    stop: threading.Event
    clock: Clock  # wall time since the call began: for logs and statistics
    used: float = 0.0  # deterministic seconds charged so far

    def spent(self) -> float:
        """Seconds spent: deterministic ones with ``deterministic``, else wall ones."""
        return self.used if self.deterministic else self.clock.elapsed()

    def remaining(self) -> float:
        """Seconds left (``math.inf`` without a limit, never below 0)."""
        if self.limit is None:
            return math.inf
        return max(0.0, self.limit - self.spent())

    def share(self, fraction: float, cap: float = math.inf) -> float:
        """``fraction`` of the seconds left, at most ``cap`` (``cap`` without a limit)."""
        left = self.remaining()
        return min(cap, left * fraction) if math.isfinite(left) else cap

    def out(self, margin: float = 0.05) -> bool:
        """Whether the call must stop: ``stop`` is set or at most ``margin`` seconds are left."""
        return self.stop.is_set() or self.remaining() <= margin

    def charge(self, solver: cp_model.CpSolver) -> None:
        """Count the deterministic time of a finished CP-SAT call."""
        self.used += solver.deterministic_time

    def charge_work(self, seconds: float) -> None:
        """Count Python's own work (a model built, a pass over all pairs) at its nominal rate.

        Only with ``deterministic``, where the wall clock does not count it: so that
        many small models do not run far past the limit unseen.
        """
        if self.deterministic:
            self.used += seconds


class _Progress:
    """Lines for a person (``log``): one per better period or bound, a few per second at most.

    A line that comes too soon after the previous one waits for the next one or
    for :meth:`flush`; it is formatted as PyVRP's and PyJobShop's displays are:
    ``cpsat  3.2 s  period 771 (19.28 ms)  bound 751  gap 2.6%``.
    """

    def __init__(self, log: Log | None, clock: Clock, unit_seconds: float | None) -> None:
        self.log, self.clock, self.unit = log, clock, unit_seconds
        self.last = -math.inf
        self.shown: tuple[int, int] | None = None
        self.pending: dict[str, str] = {}  # kind -> the latest line of that kind not yet written

    def period(self, T: int, bound: int) -> None:
        """Report the best period and the proven bound when either changed."""
        if self.log is None or self.shown == (T, bound):
            return
        self.shown = (T, bound)
        ms = f" ({format_ms(T * self.unit)})" if self.unit else ""
        gap = 100.0 * (T - bound) / T if T > 0 else 0.0
        self.line(f"period {T}{ms}  bound {bound}  gap {gap:.1f}%", kind="period")

    def line(self, text: str, kind: str = "other", force: bool = False) -> None:
        """``text`` after the time, now or with the next line (``force``: now).

        A later line of the same ``kind`` replaces one that waits; the lines
        of other kinds that wait are written first.
        """
        if self.log is None:
            return
        now = self.clock.elapsed()
        full = f"cpsat {now:5.1f} s  {text}"
        if not force and now - self.last < PROGRESS_SECONDS:
            self.pending[kind] = full
            return
        self.pending.pop(kind, None)
        self.flush()
        self.last = now
        self.log(full)

    def flush(self) -> None:
        """Write the lines that wait, if any."""
        if self.log is None:
            return
        for line in self.pending.values():
            self.log(line)
        if self.pending:
            self.last = self.clock.elapsed()
        self.pending.clear()


def _solve_watched(
    solver: cp_model.CpSolver,
    model: cp_model.CpModel,
    stop: threading.Event,
    callback: cp_model.CpSolverSolutionCallback | None = None,
    idle: Callable[[], bool] | None = None,
) -> int | None:
    """``solver.solve(model)``, stopped within :data:`WATCH_SECONDS` of ``stop`` or ``idle()``.

    CP-SAT blocks in native code, where Python's signal handlers do not run:
    a watcher thread looks at ``stop`` (set on Ctrl-C) and ``idle`` (the
    patience of a search) and calls ``stop_search``, after which CP-SAT
    returns its best solution. ``None`` when ``stop`` was set before the call
    (nothing was solved).
    """
    if stop.is_set():
        return None
    done = threading.Event()

    def watch() -> None:
        while not done.wait(WATCH_SECONDS):
            if stop.is_set() or (idle is not None and idle()):
                solver.stop_search()
                return

    watcher = threading.Thread(target=watch, name="lpsched-cpsat-watch", daemon=True)
    watcher.start()
    try:
        return solver.solve(model, callback)
    finally:
        done.set()
        watcher.join()


# ----------------------------------------------------------------------------- instance
@dataclass
class _Edge:
    src: int
    dst: int
    distance: int  # the fixed distance (for an auto weight edge: the cap)
    intra: int  # cost between two processors of one node
    inter: int  # cost between two nodes
    nbytes: int
    layer: str | None  # set when the distance is the staleness variable s_l
    # ports: least and largest delay from the producer's end to the data's arrival across
    # processors (the delay cost, which a transfer never beats, and the slowest transfer);
    # intra and inter are then the edge's pure delay, 0 (section 2.7)
    cross: tuple[int, int] | None = None


@dataclass
class _Instance:
    """The problem in index form."""

    problem: Problem
    names: list[str]
    dp: list[list[int]]  # d_vp: duration of v on p
    d: list[int]  # min_p d_vp: for relaxations (windows, packing, C14) and the orders
    edges: list[_Edge]
    layers: list[str]  # layers whose staleness is a variable (auto only)
    cap: int | None
    order: list[int]  # symmetry-breaking order of the tasks, longest first
    anchor: int  # the task whose offset is 0
    strongly_connected: bool
    pairs: list[tuple[int, int]]  # unordered ends of the edges between two tasks
    node: list[int]  # node of each processor
    groups: list[list[int]]  # interchangeable processors, each group in index order
    classes: tuple[str, ...]  # link classes some pair of processors uses
    relaxed_graph: TaskGraph  # fastest durations, cheapest links (the problem if uniform)
    ports: cpp.Ports | None = None  # capacity: ports, the tensors that travel (C20-C25)
    memory: cpm.Memory | None = None  # some processor's memory is limited (C26-C29)
    slack: int = 0  # (C18) soft distances: up to this much more on every loop-closing edge
    positions: dict[int, int] = field(default_factory=dict)  # processor -> index in its group

    @classmethod
    def build(cls, problem: Problem) -> _Instance:
        graph, P = problem.graph, problem.P
        names = [t.name for t in graph.tasks]
        idx = {name: i for i, name in enumerate(names)}
        dp = [list(row) for row in problem.durations]
        d = [min(row) for row in dp]
        cap = graph.staleness_cap
        edges = []
        layers: list[str] = []
        node = [q.node for q in problem.platform.processors]
        ports = cpp.Ports.build(problem, _link_classes(node)) if problem.ports and P > 1 else None
        for i, e in enumerate(graph.edges):
            layer = e.weights if cap is not None else None
            if layer is not None and layer not in layers:
                layers.append(layer)
            # On one processor no message is ever sent.
            cost = problem.comm[i] if P > 1 else {"intra": 0, "inter": 0}
            edges.append(
                _Edge(
                    idx[e.src], idx[e.dst], e.distance, cost["intra"], cost["inter"], e.bytes, layer
                )
            )
        if ports is not None:
            _port_edges(edges, ports)
        n = len(names)
        order = sorted(range(n), key=lambda v: (-d[v], v))
        comps = _sccs(n, [(e.src, e.dst) for e in edges])
        big = max(comps, key=len)
        anchor = min(big, key=lambda v: (-d[v], v))
        pairs = sorted({_pair(e.src, e.dst) for e in edges if e.src != e.dst})
        groups = [sorted(g) for g in problem.platform.interchangeable()]
        return cls(
            problem,
            names,
            dp,
            d,
            edges,
            layers,
            cap,
            order,
            anchor,
            len(big) == n,
            pairs,
            node,
            groups,
            _link_classes(node),
            problem.relaxed_graph(),
            ports,
            cpm.Memory.build(problem),
        )

    @property
    def graph(self) -> TaskGraph:
        return self.problem.graph

    @property
    def P(self) -> int:  # noqa: N802 (the formulation's name)
        return self.problem.P

    @property
    def n(self) -> int:
        return len(self.d)

    def position(self, p: int) -> int:
        """Index of processor ``p`` in its interchangeable group (C11, C12)."""
        if not self.positions:  # (computed once: a platform may have thousands)
            for g in self.groups:
                for j, q in enumerate(g):
                    self.positions[q] = j
        return self.positions[p]

    def distance_range(self, e: _Edge) -> tuple[int, int]:
        """Smallest and largest distance that edge ``e`` can have."""
        if e.layer is None:
            extra = self.slack if e.distance >= 1 and e.src != e.dst else 0
            return e.distance, e.distance + extra
        assert self.cap is not None
        return 1, self.cap + self.slack

    def cost(self, e: _Edge, p: int, q: int) -> int:
        """``c_e(p, q)``: 0 on one processor, else the cost of the pair's link class."""
        if p == q:
            return 0
        return e.intra if self.node[p] == self.node[q] else e.inter

    def cost_range(self, e: _Edge) -> tuple[int, int]:
        """Least and largest cost of ``e`` between two different processors of the platform.

        Under ports, for an edge a transfer carries: the least delay cost (no
        transfer arrives sooner) and the slowest arrival ``tau + latency`` (the
        wait for the port, less than ``T``, comes on top: :func:`_path_windows`).
        """
        if e.cross is not None:
            return e.cross
        costs = [e.intra if c == "intra" else e.inter for c in self.classes]
        return (min(costs), max(costs)) if costs else (0, 0)

    def base_cost(self, e: _Edge) -> int:
        """C3: the cost ``y_uv`` charges: ``c_intra`` when some node holds two processors.

        Else every processor is a node of its own, every crossing is ``inter``
        and ``y_uv`` charges ``c_inter`` (then no ``z_uv`` is needed).
        """
        return e.intra if "intra" in self.classes else e.inter

    def node_cost(self, e: _Edge) -> int:
        """C3: what ``z_uv`` adds across nodes, ``c_inter - c_intra`` (0 with one class)."""
        return e.inter - e.intra if len(self.classes) == 2 else 0

    def node_pairs(self) -> list[tuple[int, int]]:
        """The pairs whose cost depends on the node (C5): some edge with ``c_inter != c_intra``."""
        out = {_pair(e.src, e.dst) for e in self.edges if e.src != e.dst and self.node_cost(e)}
        return sorted(out)

    def longest_allowed(self, v: int, T: int) -> int:
        """``max_p d_vp`` over the processors fast enough for period ``T`` (C10)."""
        row = self.dp[v]
        top = max(row)
        if top <= T:
            return top
        return max((x for x in row if x <= T), default=min(row))

    def delay_view(self) -> _Instance:
        """The instance without its ports: tasks and pure delays only (a tensor costs 0)."""
        return replace(self, ports=None)

    def soft(self, T: int) -> _Instance:
        """The instance with soft distances (C18), slack enough for any packing at ``T``.

        With every task of a processor back to back and stages along a topological
        order of the distance-0 edges, no edge needs more than ``slack`` extra
        iterations, so the relaxed model has a solution whenever the loads fit.
        """
        worst = max((max(self.dp[e.src]) + self.cost_range(e)[1] for e in self.edges), default=0)
        if self.ports is not None:
            worst += T  # the wait for a port
        slack = self.n * (2 + -(-worst // T))
        return replace(self, slack=slack)


def _port_edges(edges: list[_Edge], ports: cpp.Ports) -> None:
    """Under ports, an edge a transfer carries has no pure delay; its crossing range instead."""
    for e, k in ports.tensor_edges().items():
        t = ports.tensors[k]
        costs = [edges[e].intra if c == "intra" else edges[e].inter for c in ports.classes]
        edges[e] = replace(edges[e], intra=0, inter=0, cross=(min(costs), max(t.arrive.values())))


def _link_classes(node: list[int]) -> tuple[str, ...]:
    """The link classes that join some pair of processors."""
    count = Counter(node)
    out = []
    if any(c >= 2 for c in count.values()):
        out.append("intra")
    if len(count) >= 2:
        out.append("inter")
    return tuple(out)


def _pair(u: int, v: int) -> tuple[int, int]:
    return (u, v) if u < v else (v, u)


def _sccs(n: int, arcs: Sequence[tuple[int, int]]) -> list[list[int]]:
    """Strongly connected components (iterative Tarjan)."""
    succ: list[list[int]] = [[] for _ in range(n)]
    for u, v in arcs:
        succ[u].append(v)
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    comps: list[list[int]] = []
    counter = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack[v] = True
            if i < len(succ[v]):
                work.append((v, i + 1))
                w = succ[v][i]
                if index[w] < 0:
                    work.append((w, 0))
                elif on_stack[w]:
                    low[v] = min(low[v], index[w])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp.append(w)
                    if w == v:
                        break
                comps.append(comp)
    return comps


# ------------------------------------------------------------------ preprocessing at T
@dataclass
class _Prep:
    """What the loosest form of the precedences implies at period ``T`` (section 2.3).

    Computed with ``lo`` set, everything holds for every period in ``[lo, T]``.
    """

    T: int
    windows: list[tuple[int, int]]  # (C7) start windows
    stages: list[tuple[int, int]]  # (C7) the stages the windows allow
    together: set[tuple[int, int]]  # (C15) pairs that cannot be on different processors
    anchored: bool  # windows relative to the anchor's start 0; else least stages (section 2.3)


def _longest(inst: _Instance, T: int) -> np.ndarray | None:
    """All-pairs longest paths of the loosest constraints C3, by Floyd-Warshall.

    Loosest: the fastest durations, no communication and the largest
    distances. ``None`` when a cycle is positive.
    """
    n = inst.n
    D = np.full((n, n), -np.inf)
    for e in inst.edges:
        if e.src != e.dst:
            w = inst.d[e.src] - inst.distance_range(e)[1] * T
            D[e.src, e.dst] = max(D[e.src, e.dst], w)
    np.fill_diagonal(D, np.maximum(np.diag(D), 0.0))
    for k in range(n):
        np.maximum(D, D[:, k : k + 1] + D[k : k + 1, :], out=D)
    if (np.diag(D) > 0).any():
        return None
    return D


def _prepare(inst: _Instance, T: int, lo: int | None = None) -> _Prep | None:
    """Windows and forced co-locations at period ``T`` (or every period in ``[lo, T]``).

    ``None`` when ``T`` is proven infeasible by the precedences alone (a cycle
    longer than its distance allows). Above :data:`MAX_ALL_PAIRS_TASKS` tasks
    the all-pairs pass is not run: the windows are those of a graph that is not
    strongly connected, no pair is forced together, and no cycle is checked
    (the model itself rejects such a period; section 2.3).
    """
    for e in inst.edges:  # a self-loop binds T alone
        if e.src == e.dst and inst.distance_range(e)[1] * T < inst.d[e.src]:
            return None
    # (C30: a placement keeps each unit together, whatever the period)
    joined = cpl.joined_pairs(inst.problem)
    if inst.n > MAX_ALL_PAIRS_TASKS:
        windows, stages = _path_windows(inst, T, lo)
        return _Prep(T, windows, stages, joined, anchored=False)
    D = _longest(inst, T)
    if D is None:
        return None
    if inst.strongly_connected:
        windows, stages = _anchored_windows(inst, D, T)
        return _Prep(T, windows, stages, _together(inst, D, T) | joined, anchored=True)
    windows, stages = _path_windows(inst, T, lo)
    return _Prep(T, windows, stages, _together(inst, D, T) | joined, anchored=False)


def _anchored_windows(
    inst: _Instance, D: np.ndarray, T: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """C7 of a strongly connected graph: ``D(a, v) <= S_v <= -D(v, a)`` (section 2.3).

    Both ends of a window move inwards as T falls: ``S_v / T`` and the windows
    at T bound every smaller period too.
    """
    a = inst.anchor
    windows = [(int(D[a, v]), int(-D[v, a])) for v in range(inst.n)]
    return windows, [(lo_v // T, hi_v // T) for lo_v, hi_v in windows]


def _path_windows(
    inst: _Instance, T: int, lo: int | None
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """C7 from the least stages: ``S_v in [0, T - 1 + L]``, L bounding any simple path.

    With the longest duration and the dearest link a task and a message can
    have (section 2.3); valid for every graph, in ``O(n + m)``.
    """
    n = inst.n
    periods = (T,) if lo is None else (lo, T)
    worst = [0] * n
    longest = [inst.longest_allowed(v, T) for v in range(n)]
    for e in inst.edges:
        if e.src != e.dst:
            top = longest[e.src] + inst.cost_range(e)[1]
            for t in periods:
                wait = t - 1 if e.cross is not None else 0  # a transfer waits < T for its port
                step = top + wait + (1 - inst.distance_range(e)[0]) * t - 1
                worst[e.src] = max(worst[e.src], step)
    span = T - 1 + sum(worst)
    return [(0, span)] * n, [(0, span // min(periods))] * n


def _together(inst: _Instance, D: np.ndarray, T: int) -> set[tuple[int, int]]:
    """C15: pairs that a loop leaves no room to put on different processors (section 2.3)."""
    d = inst.d
    together = set()
    # The way back from v to u crosses processors too, at no less than the cheapest message.
    back = min((inst.cost_range(e)[0] for e in inst.edges if e.src != e.dst), default=0)
    for e in inst.edges:
        u, v = e.src, e.dst
        if u != v and D[v, u] > -np.inf:
            cheapest = inst.cost_range(e)[0]
            if d[u] + cheapest + back - inst.distance_range(e)[1] * T + D[v, u] > 0:
                together.add(_pair(u, v))
    return together


def _groups(inst: _Instance, together: set[tuple[int, int]]) -> list[list[int]]:
    """Tasks joined by forced co-locations (union-find)."""
    parent = list(range(inst.n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for u, v in together:
        parent[find(u)] = find(v)
    out: dict[int, list[int]] = {}
    for v in range(inst.n):
        out.setdefault(find(v), []).append(v)
    return list(out.values())


# -------------------------------------------------------------- bin-packing relaxation
def _packing(inst: _Instance, prep: _Prep, limit: float, search: _Search) -> str:
    """Decide whether the co-location groups fit into ``P`` bins of size ``T`` (section 4).

    Items are the groups at the fastest durations: every schedule loads each
    processor with at least that much, so the relaxation holds on any platform.
    Returns ``"infeasible"`` (then so is the schedule), ``"feasible"`` (the
    relaxation, not the schedule) or ``"unknown"`` (time out, or the arc-flow
    graph is too large to try).
    """
    T, P = prep.T, inst.P
    groups = _groups(inst, prep.together)
    sizes = [sum(inst.d[v] for v in g) for g in groups]
    if max(sizes) > T or sum(sizes) > P * T:
        return "infeasible"
    if cpl.stages_refuted_groups(inst.problem, inst.d, groups, T):  # (C31: contiguous stages)
        return "infeasible"
    # Items of size 1 fill any gap: with sum <= P*T they never decide feasibility.
    count = Counter(s for s in sizes if s > 1)
    if len(count) == 0 or P == 1:
        return "feasible"
    if _first_fit(sorted(count.elements(), reverse=True), P, T):
        return "feasible"
    m = _arc_flow(count, P, T)
    if m is None:
        return "unknown"
    status, _ = search.run_model(m, limit, seed=search.seed, raw_log=False)
    if status == cp_model.INFEASIBLE:
        return "infeasible"
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return "feasible"
    return "unknown"


def _arc_flow(count: Counter[int], P: int, T: int) -> cp_model.CpModel | None:
    """The arc-flow model of bin packing; ``None`` above :data:`MAX_PACKING_ARCS` arcs.

    Valerio de Carvalho (1999): a bin is a path 0 -> T whose item arcs take items
    in non-increasing size.
    """
    types = sorted(count, reverse=True)
    arcs: set[tuple[int, int, int]] = set()
    reach = {0}
    for t, s in enumerate(types):
        frontier = set(reach)
        for _ in range(count[s]):
            nxt = {i + s for i in frontier if i + s <= T}
            arcs.update((i, i + s, t) for i in frontier if i + s <= T)
            if len(arcs) > MAX_PACKING_ARCS:
                return None
            if not nxt:
                break
            reach |= nxt
            frontier = nxt
    m = cp_model.CpModel()
    flow = {a: m.new_int_var(0, count[types[a[2]]], "") for a in sorted(arcs)}
    into: dict[int, list] = {i: [] for i in reach | {T}}
    out: dict[int, list] = {i: [] for i in reach | {T}}
    for (i, j, _t), f in flow.items():
        out[i].append(f)
        into[j].append(f)
    for i in reach:
        if i != T:  # loss arc: the rest of the bin stays empty
            f = m.new_int_var(0, P, "")
            out[i].append(f)
            into[T].append(f)
    for i in into:
        if i == 0:
            m.add(sum(out[i]) == P)
        elif i != T:
            m.add(sum(into[i]) == sum(out[i]))
    by_type: dict[int, list] = {}
    for (_i, _j, t), f in flow.items():
        by_type.setdefault(t, []).append(f)
    for t, s in enumerate(types):
        m.add(sum(by_type.get(t, [])) >= count[s])
    return m


def _first_fit(items: list[int], P: int, T: int) -> bool:
    """Whether first-fit decreasing packs the items into ``P`` bins of size ``T``."""
    room = [T] * P
    for s in items:
        for p in range(P):
            if room[p] >= s:
                room[p] -= s
                break
        else:
            return False
    return True


# ------------------------------------------------------------------------- the model
@dataclass
class _Model:
    """One model (fixed or variable period) and its variables, filled by the ``_add_*``."""

    model: cp_model.CpModel
    T: int | cp_model.IntVar
    lo: int | None  # with a variable period, its least value; else None
    hi: int  # the period (fixed), or its largest value
    x: list[list[cp_model.IntVar | int]] = field(default_factory=list)  # x[v][p]
    used: list[dict[int, cp_model.IntVar]] = field(default_factory=list)  # C12: used[i][p]
    r: list[cp_model.IntVar] = field(default_factory=list)
    k: list[cp_model.IntVar] = field(default_factory=list)
    S: list[cp_model.IntVar] = field(default_factory=list)
    second: list[Any] = field(default_factory=list)  # r_v + T: C9's second copies
    y: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)
    z: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)
    st: dict[str, cp_model.IntVar] = field(default_factory=dict)
    stT: dict[str, Any] = field(default_factory=dict)  # s_l T
    excess: list[cp_model.IntVar] = field(default_factory=list)
    dist: dict[int, Any] = field(default_factory=dict)  # edge index -> w_e T in C3
    ports: cpp.PortVars | None = None  # C20-C25
    memory: cpm.MemoryVars | None = None  # C26-C29

    def times_T(self, var: cp_model.IntVar, vlo: int, vhi: int, name: str) -> Any:
        """``T * var``: a linear expression for a fixed T, else a product (C19)."""
        if isinstance(self.T, int):
            return self.T * var
        assert self.lo is not None
        corners = [a * b for a in (self.lo, self.hi) for b in (vlo, vhi)]
        z = self.model.new_int_var(min(corners), max(corners), name)
        self.model.add_multiplication_equality(z, [self.T, var])
        return z


def _is_zero(b: cp_model.IntVar | int) -> bool:
    return isinstance(b, int) and b == 0


def _is_one(b: cp_model.IntVar | int) -> bool:
    return isinstance(b, int) and b == 1


def _build_model(
    inst: _Instance,
    prep: _Prep,
    lo: int | None = None,
    fixed: Sequence[int] | None = None,
    free: frozenset[int] = frozenset(),
) -> _Model:
    """The model of the formulation, C1-C15, one ``_add_*`` function per family.

    With ``lo`` set the period is a variable in ``[lo, prep.T]`` (then ``prep``
    must have been computed at the largest period ``prep.T``: its windows and
    co-locations hold for every smaller one), else the constant ``prep.T``.
    With ``fixed`` (a processor per task) every ``x_vp`` is that constant and
    the symmetry breaking C11, C12 is left out: only times and staleness remain;
    with ``free`` too, the tasks ``fixed`` puts on one of those processors may
    move among them (a neighbourhood, section 3) and the others keep theirs.
    The families are added in this order so that the model, and with it
    CP-SAT's search, stays the same from one release to the next. Raises
    :class:`_TooLarge` when its numbers could overflow CP-SAT's arithmetic.
    """
    _check_magnitude(inst, prep)
    m = cp_model.CpModel()
    T: int | cp_model.IntVar = prep.T if lo is None else m.new_int_var(lo, prep.T, "T")
    mod = _Model(m, T, lo, prep.T)
    _add_assignment(mod, inst, fixed, free)
    _add_speed_limits(mod, inst)
    _add_processor_order(mod, inst, fixed)
    _add_offsets(mod, inst, prep)
    _add_anchor(mod, inst)
    _add_different_processors(mod, inst, prep, fixed, free)
    _add_different_nodes(mod, inst, fixed, free)
    _add_staleness(mod, inst)
    _add_precedences(mod, inst)
    _add_second_copies(mod, inst)
    for p in range(inst.P):
        _add_modulo_resource(mod, inst, p)
        _add_load(mod, inst, p, fixed, free)
    _add_cumulative(mod, inst)
    if inst.ports is not None:  # (after the rest: the model under delay is unchanged)
        _add_ports(mod, inst, inst.ports)
    if inst.memory is not None:  # (likewise: the model without memory is unchanged)
        _add_memory(mod, inst, prep, inst.memory)
    _add_placement(mod, inst)  # (likewise: nothing under placement free)
    return mod


def _add_placement(mod: _Model, inst: _Instance) -> None:
    """Placements (:mod:`lpsched.solvers.cpsat_placement`, section 2.9).

    C30 layer co-location, C31 stage contiguity; nothing under ``free``.
    """
    cpl.add_layer_colocation(mod, inst.problem)
    cpl.add_stage_contiguity(mod, inst.problem)


def _add_memory(mod: _Model, inst: _Instance, prep: _Prep, memory: cpm.Memory) -> None:
    """Memory capacity (:mod:`lpsched.solvers.cpsat_memory`, section 2.8).

    C26 copies, C27 lifetimes on the producer's processor, C28 on a reader's,
    C29 capacity.
    """
    mv = cpm.add_copies(mod, inst, prep, memory)
    cpm.add_local_lifetimes(mod, inst, memory, mv, lambda e: _comm(mod, inst, e))
    cpm.add_remote_lifetimes(mod, inst, memory, mv)
    cpm.add_memory_capacity(mod, inst, memory, mv)


def _add_ports(mod: _Model, inst: _Instance, ports: cpp.Ports) -> None:
    """The transfers on link ports (:mod:`lpsched.solvers.cpsat_ports`, section 2.7).

    C20 presence, C21 link class, C22 start, C23 arrival, C24 port no-overlap,
    C25 port load.
    """
    pv = cpp.add_transfer_presence(mod, inst, ports)
    cpp.add_port_classes(mod, inst, ports, pv)
    cpp.add_transfer_times(mod, inst, ports, pv)
    cpp.add_arrivals(mod, inst, ports, pv)
    cpp.add_port_no_overlap(mod, inst, ports, pv)
    cpp.add_port_load(mod, inst, ports, pv)


def _check_magnitude(inst: _Instance, prep: _Prep) -> None:
    """Raise :class:`_TooLarge` when a term of the model could exceed :data:`MAX_MAGNITUDE`.

    The largest sums are those of C3 (two starts, ``w T``, a duration and a
    cost), C2 (``T k_v``) and C13 (every duration on one processor).
    """
    window = max(max(abs(a), abs(b)) for a, b in prep.windows)
    stage = max(max(abs(a), abs(b)) for a, b in prep.stages)
    top_w = max((inst.distance_range(e)[1] for e in inst.edges), default=0)
    cost = max((max(e.intra, e.inter) for e in inst.edges), default=0)
    longest = max(max(row) for row in inst.dp)
    size = 2 * window + prep.T * (top_w + stage + 2) + inst.n * longest + 2 * cost
    if size > MAX_MAGNITUDE:
        raise _TooLarge(f"its numbers reach about 2^{size.bit_length() - 1}, beyond 64 bits")


def _model_items(inst: _Instance, T: int) -> int:
    """About how many variables and constraints the model at period ``T`` holds, at most.

    Cheap (no loop over tasks and processors). Per task and processor C11 allows: the
    boolean, its two intervals, C12's boolean and implication; per task its
    offset, stage, start and their link, and C14's intervals; per pair joined by
    an edge ``y_uv`` and C4's three rows per processor; per edge C3.
    """
    items = (
        5 * _allowed_pairs(inst) + 7 * inst.n + len(inst.edges) + len(inst.pairs) * (1 + 3 * inst.P)
    )
    items += cpm.memory_items(inst, inst.memory) if inst.memory is not None else 0
    items += cpl.placement_items(inst.problem)
    return items + (cpp.port_items(inst, inst.ports) if inst.ports is not None else 0)


def _fixed_items(inst: _Instance, fixed: Sequence[int], free: frozenset[int]) -> int:
    """About how many variables and constraints a model with ``fixed`` processors holds.

    As :func:`_model_items`, with only the tasks on ``free`` processors
    choosing (among ``free``) and, under ports, transfers only for the
    ``(tensor, destination)`` pairs a free task can change, or those present.
    """
    moving = sum(1 for p in fixed if p in free)
    items = 5 * moving * max(1, len(free)) + 12 * inst.n + 2 * len(inst.edges)
    items += len(inst.pairs) * (1 + 3 * len(free))
    if inst.ports is not None:
        width = 1 + len(free)
        items += sum(20 * width + 2 * len(t.edges) * width for t in inst.ports.tensors)
    if inst.memory is not None:
        items += cpm.memory_items(inst, inst.memory)
    return items + cpl.placement_items(inst.problem)


def _add_assignment(
    mod: _Model, inst: _Instance, fixed: Sequence[int] | None, free: frozenset[int] = frozenset()
) -> None:
    """C1 one processor per task; C11 the i-th task of the order uses positions 0..i of a group.

    C10 with a fixed period: ``x_vp = 0`` where ``d_vp > T``. With ``fixed``
    a constant per task, except the tasks on a processor of ``free``, which
    choose among ``free`` (a neighbourhood).
    """
    m, P = mod.model, inst.P
    rank = {v: i for i, v in enumerate(inst.order)}
    position = [inst.position(p) for p in range(P)]
    for v in range(inst.n):
        row: list[cp_model.IntVar | int] = []
        moves = fixed is not None and fixed[v] in free
        for p in range(P):
            if moves:
                fits = p in free and (inst.dp[v][p] <= mod.hi or p == fixed[v])
                row.append(m.new_bool_var(f"x[{inst.names[v]},{p}]") if fits else 0)
            elif fixed is not None:
                row.append(int(fixed[v] == p))
            elif P == 1:
                row.append(1)
            elif position[p] > rank[v] or inst.dp[v][p] > mod.hi:
                row.append(0)
            else:
                row.append(m.new_bool_var(f"x[{inst.names[v]},{p}]"))
        mod.x.append(row)
        if P > 1 and (fixed is None or moves):
            m.add_exactly_one(b for b in row if not isinstance(b, int))


def _add_speed_limits(mod: _Model, inst: _Instance) -> None:
    """C10 with a variable period: ``x_vp = 1`` needs ``T >= d_vp`` (implied by C9)."""
    if mod.lo is None:
        return
    for v, row in enumerate(mod.x):
        for p, b in enumerate(row):
            if not isinstance(b, int) and inst.dp[v][p] > mod.lo:
                mod.model.add(mod.T >= inst.dp[v][p]).only_enforce_if(b)


def _add_processor_order(mod: _Model, inst: _Instance, fixed: Sequence[int] | None) -> None:
    """C12: a group's processors open in order along the symmetry order.

    ``used[i][g_j]``: processor ``g_j`` (position ``j`` of its group) holds one of
    the first ``i + 1`` tasks; task ``i`` may take ``g_j``, ``j > 0``, only if
    ``g_{j-1}`` was used before.
    """
    if inst.P == 1 or fixed is not None:
        return
    m, x = mod.model, mod.x
    for i, v in enumerate(inst.order):
        for g in inst.groups:
            for j in range(1, min(i, len(g) - 1) + 1):
                if not _is_zero(x[v][g[j]]):
                    m.add_implication(x[v][g[j]], mod.used[i - 1][g[j - 1]])
        cur: dict[int, cp_model.IntVar] = {}
        for g in inst.groups:
            for j in range(min(i, len(g) - 2) + 1):
                p = g[j]
                u = m.new_bool_var(f"used[{i},{p}]")
                if j < i:
                    m.add_max_equality(u, [mod.used[i - 1][p], x[v][p]])
                else:
                    m.add(u == x[v][p])
                cur[p] = u
        mod.used.append(cur)


def _add_offsets(mod: _Model, inst: _Instance, prep: _Prep) -> None:
    """C2 ``S_v = r_v + T k_v`` with ``0 <= r_v < T``; C7 start windows and stage ranges."""
    m, T = mod.model, mod.T
    for v in range(inst.n):
        wlo, whi = prep.windows[v]
        name = inst.names[v]
        klo, khi = prep.stages[v]
        rv = m.new_int_var(0, mod.hi - 1, f"r[{name}]")
        kv = m.new_int_var(klo, khi, f"k[{name}]")
        sv = m.new_int_var(wlo, whi, f"S[{name}]")
        if mod.lo is not None:
            m.add(rv <= T - 1)
        m.add(sv == rv + mod.times_T(kv, klo, khi, f"Tk[{name}]"))
        mod.r.append(rv)
        mod.k.append(kv)
        mod.S.append(sv)


def _add_anchor(mod: _Model, inst: _Instance) -> None:
    """C8 rotation symmetry: the anchor's offset is 0."""
    mod.model.add(mod.r[inst.anchor] == 0)


def _add_different_processors(
    mod: _Model,
    inst: _Instance,
    prep: _Prep,
    fixed: Sequence[int] | None,
    free: frozenset[int] = frozenset(),
) -> None:
    """C4 ``y_uv = [p_u != p_v]`` for every pair joined by an edge; C15 ``y_uv = 0``."""
    m, x = mod.model, mod.x
    for u, v in inst.pairs if inst.P > 1 else []:
        b = m.new_bool_var(f"y[{inst.names[u]},{inst.names[v]}]")
        if (u, v) in prep.together:
            m.add(b == 0)
        if fixed is not None and fixed[u] not in free and fixed[v] not in free:
            m.add(b == int(fixed[u] != fixed[v]))
            mod.y[(u, v)] = b
            continue
        for p in range(inst.P):
            xu, xv = x[u][p], x[v][p]
            if isinstance(xu, int) and isinstance(xv, int):
                if xu != xv:
                    m.add(b == 1)
                continue
            m.add(xu - xv <= b)
            m.add(xv - xu <= b)
            m.add(xu + xv + b <= 2)
        mod.y[(u, v)] = b


def _add_different_nodes(
    mod: _Model, inst: _Instance, fixed: Sequence[int] | None, free: frozenset[int] = frozenset()
) -> None:
    """C5 ``z_uv = [node(p_u) != node(p_v)]`` where an edge's cost depends on the node.

    With ``a_vm = sum of x_vp over the processors p of node m``, C4's three rows
    per node make ``z_uv`` exact, whatever the sign of ``c_inter - c_intra``.
    """
    m, x = mod.model, mod.x
    members: dict[int, list[int]] = {}
    for p, nd in enumerate(inst.node):
        members.setdefault(nd, []).append(p)
    for u, v in inst.node_pairs():
        b = m.new_bool_var(f"z[{inst.names[u]},{inst.names[v]}]")
        mod.z[(u, v)] = b
        if fixed is not None and fixed[u] not in free and fixed[v] not in free:
            m.add(b == int(inst.node[fixed[u]] != inst.node[fixed[v]]))
            continue
        for procs in members.values():
            au = sum(x[u][p] for p in procs)
            av = sum(x[v][p] for p in procs)
            m.add(au - av <= b)
            m.add(av - au <= b)
            m.add(au + av + b <= 2)


def _add_staleness(mod: _Model, inst: _Instance) -> None:
    """C6 staleness ``s_l`` of the auto layers; C18 with soft distances, the excess over the cap."""
    m = mod.model
    for layer in inst.layers:
        assert inst.cap is not None
        top = inst.cap + inst.slack
        mod.st[layer] = m.new_int_var(1, top, f"s[{layer}]")
        mod.stT[layer] = mod.times_T(mod.st[layer], 1, top, f"sT[{layer}]")
        if inst.slack:
            z = m.new_int_var(0, inst.slack, f"excess[{layer}]")
            m.add(z >= mod.st[layer] - inst.cap)
            mod.excess.append(z)


def _duration(inst: _Instance, x: list[list[cp_model.IntVar | int]], v: int) -> Any:
    """``sum_p d_vp x_vp``: the constant ``d_v`` when every processor gives the same."""
    row = inst.dp[v]
    if min(row) == max(row):
        return row[0]
    return sum(dv * b for dv, b in zip(row, x[v], strict=True) if not _is_zero(b))


def _comm(mod: _Model, inst: _Instance, e: _Edge) -> Any:
    """C3's message term ``c_intra y_uv + (c_inter - c_intra) z_uv``."""
    if inst.P == 1:
        return 0
    key = _pair(e.src, e.dst)
    base = inst.base_cost(e)
    comm = base * mod.y[key] if base else 0
    extra = inst.node_cost(e)
    if extra:
        comm = comm + extra * mod.z[key]
    return comm


def _add_precedences(mod: _Model, inst: _Instance) -> None:
    """C3 ``S_v + w T >= S_u + sum_p d_up x_up + c_e``; C18 excess distances when soft."""
    m, T = mod.model, mod.T
    for i, e in enumerate(inst.edges):
        u, v = e.src, e.dst
        wlo, whi = inst.distance_range(e)
        if e.layer is not None:
            dist = mod.stT[e.layer]
        elif whi > wlo:
            z = m.new_int_var(0, whi - wlo, f"excess[{inst.names[u]},{inst.names[v]}]")
            mod.excess.append(z)
            dist = wlo * T + mod.times_T(z, 0, whi - wlo, "")
        else:
            dist = e.distance * T
        mod.dist[i] = dist
        if u == v:
            m.add(dist >= _duration(inst, mod.x, u))
            continue
        m.add(mod.S[v] + dist >= mod.S[u] + _duration(inst, mod.x, u) + _comm(mod, inst, e))


def _add_second_copies(mod: _Model, inst: _Instance) -> None:
    """The starts ``r_v + T`` of C9's second copies (a variable when ``T`` is one)."""
    if isinstance(mod.T, int):
        mod.second = [mod.r[v] + mod.T for v in range(inst.n)]
        return
    for v in range(inst.n):
        a = mod.model.new_int_var(mod.lo or 0, 2 * mod.hi - 1, f"r2[{inst.names[v]}]")
        mod.model.add(a == mod.r[v] + mod.T)
        mod.second.append(a)


def _add_modulo_resource(mod: _Model, inst: _Instance, p: int) -> None:
    """C9 on processor ``p``: its tasks' copies ``[r_v, r_v + d_vp)``, ``+T`` never overlap."""
    m = mod.model
    ivs = []
    for v in range(inst.n):
        pres = mod.x[v][p]
        if _is_zero(pres):
            continue
        for start in (mod.r[v], mod.second[v]):
            if isinstance(pres, int):
                ivs.append(m.new_fixed_size_interval_var(start, inst.dp[v][p], ""))
            else:
                ivs.append(m.new_optional_fixed_size_interval_var(start, inst.dp[v][p], pres, ""))
    m.add_no_overlap(ivs)


def _add_load(
    mod: _Model,
    inst: _Instance,
    p: int,
    fixed: Sequence[int] | None,
    free: frozenset[int] = frozenset(),
) -> None:
    """C13 load of processor ``p``, ``sum_v d_vp x_vp <= T`` (redundant with C9)."""
    if inst.P == 1 or (fixed is not None and p not in free):
        return
    mod.model.add(_load_expr(mod, inst, p, fixed is not None) <= mod.T)


def _load_expr(mod: _Model, inst: _Instance, p: int, constants: bool) -> Any:
    """``sum_v d_vp x_vp``; with ``constants`` (a neighbourhood) the tasks fixed on ``p`` too."""
    x = mod.x
    load = sum(inst.dp[v][p] * x[v][p] for v in range(inst.n) if not isinstance(x[v][p], int))
    if constants:
        load = load + sum(inst.dp[v][p] for v in range(inst.n) if _is_one(x[v][p]))
    return load


def _add_cumulative(mod: _Model, inst: _Instance) -> None:
    """C14 at most ``P`` tasks at once, at their fastest durations (redundant with C9)."""
    if inst.P == 1:
        return
    m = mod.model
    ivs = [
        m.new_fixed_size_interval_var(start, inst.d[v], "")
        for v in range(inst.n)
        for start in (mod.r[v], mod.second[v])
    ]
    m.add_cumulative(ivs, [1] * len(ivs), inst.P)


def _allowed_pairs(inst: _Instance) -> int:
    """Task-processor pairs that C11 allows, in ``O(groups)``: at least those C10 allows too.

    The task of rank ``i`` may use the first ``i + 1`` processors of each group.
    """
    if inst.P == 1:
        return 0
    n = inst.n
    total = 0
    for g in inst.groups:
        s = len(g)
        total += s * (s + 1) // 2 + (n - s) * s if n >= s else n * (n + 1) // 2
    return total


def _optional_intervals(inst: _Instance, T: int | None = None) -> int:
    """How many optional intervals C9 holds: two per task and processor allowed by C10, C11."""
    if inst.P == 1:
        return 0
    position = [inst.position(p) for p in range(inst.P)]
    return 2 * sum(
        1
        for rank, v in enumerate(inst.order)
        for p in range(inst.P)
        if position[p] <= rank and (T is None or inst.dp[v][p] <= T)
    )


# --------------------------------------------------------------------------- solutions
@dataclass
class _Solution:
    """A schedule in index form: period, processor and start of every task, staleness."""

    T: int
    proc: list[int]
    start: list[int]
    staleness: dict[str, int]
    # ports: (tensor index, destination) -> start of the transfer; those the placement needs
    transfers: dict[tuple[int, int], int] = field(default_factory=dict)


def _extract(inst: _Instance, mod: _Model, solver: cp_model.CpSolver) -> _Solution:
    proc = []
    for row in mod.x:
        pv = 0
        for p, b in enumerate(row):
            if (b if isinstance(b, int) else solver.boolean_value(b)) == 1:
                pv = p
        proc.append(pv)
    T = mod.T if isinstance(mod.T, int) else int(solver.value(mod.T))
    start = [int(solver.value(s)) for s in mod.S]
    st = {layer: int(solver.value(var)) for layer, var in mod.st.items()}
    sol = _Solution(T, proc, start, st)
    if inst.ports is not None and mod.ports is not None:
        end = [start[v] + inst.dp[v][proc[v]] for v in range(inst.n)]
        sol.transfers = cpp.transfer_starts(inst.ports, mod.ports, solver, end, proc)
    return sol


def _normalise(inst: _Instance, sol: _Solution, prep: _Prep) -> _Solution:
    """Move a valid solution into the model's conventions, to be a complete hint.

    Processors are renamed within their groups in order of first use along the
    symmetry order (C11, C12); times shift so that the anchor starts at 0 (C8);
    when the windows are not anchored (``prep.anchored``: a graph that is not
    strongly connected, or too large for the all-pairs pass) the stages are then
    lowered to the least ones (section 2.3).
    """
    T = sol.T
    proc = _rename_processors(inst, sol.proc)
    shift = sol.start[inst.anchor]
    start = [s - shift for s in sol.start]
    if inst.ports is not None:
        return _normalise_ports(inst, inst.ports, sol, prep, proc, start)
    if not prep.anchored:
        off = [s % T for s in start]
        kk = [0] * len(start)
        changed = True
        while changed:  # longest-path fixpoint; terminates as the solution is valid
            changed = False
            for e in inst.edges:
                u, v = e.src, e.dst
                if u == v:
                    continue
                w = sol.staleness[e.layer] if e.layer is not None else e.distance
                c = inst.cost(e, proc[u], proc[v])
                du = inst.dp[u][proc[u]]
                need = -(-(off[u] + T * kk[u] + du + c - w * T - off[v]) // T)
                if need > kk[v]:
                    kk[v] = need
                    changed = True
        start = [off[v] + T * kk[v] for v in range(len(start))]
    return _Solution(T, proc, start, dict(sol.staleness))


def _normalise_ports(
    inst: _Instance,
    ports: cpp.Ports,
    sol: _Solution,
    prep: _Prep,
    proc: list[int],
    start: list[int],
) -> _Solution:
    """:func:`_normalise` with transfers.

    They are renamed and shifted with the tasks, then moved to their first
    start after the producer's end (C22's ``delta < T``).
    """
    T, shift = sol.T, sol.start[inst.anchor]
    rename = dict(zip(sol.proc, proc, strict=True))
    moved = {(k, rename[q]): t - shift for (k, q), t in sol.transfers.items() if q in rename}
    if not prep.anchored:
        start, moved = cpp.least_stages(inst, ports, T, proc, start, sol.staleness, moved)
    else:
        moved = cpp.least_stage_transfers(inst, ports, T, proc, start, moved)
    return _Solution(T, proc, start, dict(sol.staleness), moved)


def _rename_processors(inst: _Instance, proc: list[int]) -> list[int]:
    """Each group's processors renamed in order of first use along the symmetry order."""
    group = {p: g for g in inst.groups for p in g}
    taken = {id(g): 0 for g in inst.groups}
    rename: dict[int, int] = {}
    for v in inst.order:
        p = proc[v]
        if p not in rename:
            g = group[p]
            rename[p] = g[taken[id(g)]]
            taken[id(g)] += 1
    return [rename[p] for p in proc]


def _hint(inst: _Instance, mod: _Model, sol: _Solution) -> None:
    """A complete hint: every decision variable gets the (normalised) solution's value."""
    m = mod.model
    m.clear_hints()
    T = sol.T
    if not isinstance(mod.T, int):
        m.add_hint(mod.T, T)
    for v in range(inst.n):
        for p, b in enumerate(mod.x[v]):
            if not isinstance(b, int):
                m.add_hint(b, int(sol.proc[v] == p))
        m.add_hint(mod.S[v], sol.start[v])
        m.add_hint(mod.r[v], sol.start[v] % T)
        m.add_hint(mod.k[v], sol.start[v] // T)
    for i, row in enumerate(mod.used):
        seen = {sol.proc[v] for v in inst.order[: i + 1]}
        for p, b in row.items():
            m.add_hint(b, int(p in seen))
    for (u, v), b in mod.y.items():
        m.add_hint(b, int(sol.proc[u] != sol.proc[v]))
    for (u, v), b in mod.z.items():
        m.add_hint(b, int(inst.node[sol.proc[u]] != inst.node[sol.proc[v]]))
    for layer, var in mod.st.items():
        m.add_hint(var, sol.staleness[layer])
    if inst.ports is not None and mod.ports is not None:
        cpp.hint_ports(m, inst, inst.ports, mod.ports, T, sol.proc, sol.start, sol.transfers)


def _partial_hint(inst: _Instance, mod: _Model, sol: _Solution) -> None:
    """Hint a model at a smaller period with a solution's processors (renamed)."""
    proc = _rename_processors(inst, sol.proc)
    for v, row in enumerate(mod.x):
        for p, b in enumerate(row):
            if not isinstance(b, int):
                mod.model.add_hint(b, int(proc[v] == p))


def _schedule_of(inst: _Instance, sol: _Solution) -> Schedule:
    """The solution on the problem's graph as given (an auto graph keeps its cap)."""
    first = min(sol.start)  # starts from 0: a common shift changes nothing
    return Schedule(
        graph=inst.graph,
        platform=inst.problem.platform,
        period=sol.T,
        processor={name: sol.proc[v] for v, name in enumerate(inst.names)},
        start={name: sol.start[v] - first for v, name in enumerate(inst.names)},
        transfers=_transfers_of(inst, sol, first),
        placement=inst.problem.placement,
    )


def _transfers_of(inst: _Instance, sol: _Solution, shift: int) -> tuple[Transfer, ...]:
    """The solution's transfers (ports; none under delay), in the order of the tensors."""
    if inst.ports is None:
        return ()
    out = []
    for (k, q), t in sorted(sol.transfers.items()):
        tensor = inst.ports.tensors[k]
        p = sol.proc[tensor.producer]
        tau = tensor.tau[inst.ports.cls(p, q)]
        out.append(Transfer(tensor.name, inst.names[tensor.producer], p, q, t - shift, tau))
    return tuple(out)


def _least_staleness(inst: _Instance, sol: _Solution) -> dict[str, int]:
    """The least staleness of each auto layer that the solution's start times allow."""
    if inst.ports is not None:
        return cpp.port_staleness(inst, inst.ports, sol.T, sol.proc, sol.start, sol.transfers)
    return least_staleness(_schedule_of(inst, sol)).graph.staleness()


def _to_schedule(inst: _Instance, sol: _Solution) -> Schedule:
    """The solution as a schedule; an auto graph gets the least staleness (P4)."""
    if inst.ports is not None and inst.layers:
        sched = _schedule_of(inst, sol)
        return sched.with_graph(inst.graph.with_staleness(_least_staleness(inst, sol)))
    return least_staleness(_schedule_of(inst, sol))


def _from_schedule(inst: _Instance, sched: Schedule) -> _Solution:
    proc = [sched.processor[name] for name in inst.names]
    start = [sched.start[name] for name in inst.names]
    sol = _Solution(sched.period, proc, start, {})
    if inst.ports is not None:
        sol.transfers = _read_transfers(inst, inst.ports, sched)
    if inst.layers:
        assert inst.cap is not None
        sol.staleness = {layer: inst.cap for layer in inst.layers}
        if sol.T >= 1 and all(0 <= p < inst.P for p in proc):  # else _is_valid refuses it
            sol.staleness = _least_staleness(inst, sol)
    return sol


def _read_transfers(
    inst: _Instance, ports: cpp.Ports, sched: Schedule
) -> dict[tuple[int, int], int]:
    """A schedule's transfers by (tensor index, destination); those of no known tensor dropped."""
    index = {(inst.names[t.producer], t.name): k for k, t in enumerate(ports.tensors)}
    out = {}
    for x in sched.transfers:
        k = index.get((x.producer, x.tensor))
        if k is not None:
            out[(k, x.dst)] = x.start
    return out


def _is_valid(inst: _Instance, sol: _Solution) -> bool:
    """(P1), (P2) of formulations/README.md, as a cheap guard on hints and warm starts.

    Under ports, (P5)-(P7) too, by the validator: a schedule without its
    transfers is not valid there (it can still hint processors).
    """
    T = sol.T
    if T < 1 or any(not 0 <= p < inst.P for p in sol.proc):
        return False
    if not cpl.kept(inst.problem, sol.proc):  # (a warm start that breaks the placement: C30, C31)
        return False
    if any(not 1 <= s <= (inst.cap or 0) for s in sol.staleness.values()):
        return False
    if inst.ports is not None or (inst.memory is not None and not inst.problem.ports):
        from ..validate import validate

        sched = _schedule_of(inst, sol)
        if inst.layers:
            sched = sched.with_graph(inst.graph.with_staleness(sol.staleness))
        return not validate(sched)
    for e in inst.edges:
        w = sol.staleness[e.layer] if e.layer is not None else e.distance
        pu, pv = sol.proc[e.src], sol.proc[e.dst]
        c = inst.cost(e, pu, pv)
        if sol.start[e.dst] + w * T < sol.start[e.src] + inst.dp[e.src][pu] + c:
            return False
    arcs: dict[int, list[tuple[int, int]]] = {}
    for v, p in enumerate(sol.proc):
        if inst.dp[v][p] > T:
            return False
        arcs.setdefault(p, []).append((sol.start[v] % T, inst.dp[v][p]))
    for lst in arcs.values():
        lst.sort()
        for (a, da), (b, _db) in zip(lst, lst[1:], strict=False):
            if a + da > b:
                return False
        if lst[-1][0] + lst[-1][1] > T + lst[0][0]:
            return False
    return True


def _comm_bytes(inst: _Instance, sol: _Solution) -> int:
    """C16's value: bytes between processors (ports: each tensor once per destination)."""
    if inst.ports is not None:
        carried = inst.ports.tensor_edges()
        sent = sum(
            inst.ports.tensors[k].nbytes for k, _q in cpp.present_pairs(inst.ports, sol.proc)
        )
        return sent + sum(
            e.nbytes
            for i, e in enumerate(inst.edges)
            if i not in carried and sol.proc[e.src] != sol.proc[e.dst]
        )
    return sum(e.nbytes for e in inst.edges if sol.proc[e.src] != sol.proc[e.dst])


# ------------------------------------------------------------------------------ solving
def cp_solver(
    workers: int, seed: int, limit: float, log: Log | None, *, deterministic: bool = False
) -> cp_model.CpSolver:
    """A CP-SAT solver with lpsched's settings.

    Parameters
    ----------
    workers, seed
        Search workers and random seed.
    limit
        Seconds (at least 0.01 are given); ``math.inf`` for none.
    log
        Receives CP-SAT's log lines; ``None`` for silence.
    deterministic
        ``limit`` is CP-SAT's deterministic time (``max_deterministic_time``),
        not wall time: with one worker the search is then the same on any
        machine however busy.

    CP-SAT never catches SIGINT here (``catch_sigint_signal = False``): Python
    handles Ctrl-C and stops a running search through ``stop_search``.
    """
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.num_workers = workers
    prm.random_seed = seed
    prm.catch_sigint_signal = False
    if math.isfinite(limit):
        if deterministic:
            prm.max_deterministic_time = max(0.01, limit)
        else:
            prm.max_time_in_seconds = max(0.01, limit)
    if log is not None:
        prm.log_search_progress = True
        prm.log_to_stdout = False
        solver.log_callback = log
    return solver


def _heuristic_schedule(
    inst: _Instance,
    lower_bound: int,
    seed: int,
    time_limit: float | None,
    stop: threading.Event | None = None,
) -> Schedule | None:
    """The heuristic's schedule from ``lower_bound`` up; ``None`` if it cannot take the platform.

    On a uniform platform, iterative modulo scheduling of the relaxed graph (the
    problem itself) on ``P`` identical processors, as it always was; on another
    platform, of the problem, when the registry's heuristic declares that it
    takes such platforms (``SolverInfo.check``). ``stop`` ends it early, with its best.
    """
    from .heuristic import modulo_schedule

    effort = {"lower_bound": lower_bound, "seed": seed, "time_limit": time_limit, "stop": stop}
    if inst.problem.uniform and not inst.problem.ports:
        return modulo_schedule(inst.relaxed_graph, inst.P, **effort)
    problem = _heuristic_problem(inst.problem, seed)
    if problem is None:
        return None
    return _lift(modulo_schedule(problem, **effort), inst.problem)


def _heuristic_problem(problem: Problem, seed: int) -> Problem | None:
    """The problem the registry's heuristic schedules for CP-SAT, ``None`` when none.

    ``problem`` itself when the heuristic takes it, or takes it with links as
    delays: under ``capacity: ports`` a heuristic that does not declare ports
    may still place transfers (the schedule is validated before it is used),
    and a schedule without them hints CP-SAT, which adds them
    (:meth:`_Search.complete`).
    """
    plain = Options(seed=seed, secondary=None)
    platform = replace(problem.platform, capacity="delay") if problem.ports else problem.platform
    try:
        SOLVERS["heuristic"].check(Problem(problem.graph, platform), plain)
    except InputError:
        return None
    return problem


def _lift(sched: Schedule, problem: Problem) -> Schedule:
    """A schedule of :func:`_heuristic_problem`'s problem on ``problem``'s platform."""
    if sched.platform == problem.platform:
        return sched
    return replace(sched, platform=problem.platform, transfers=())


class _PeriodWatch(cp_model.CpSolverSolutionCallback):
    """Reports every better period the model with a variable period finds, as it finds it."""

    def __init__(self, search: _Search, period: cp_model.IntVar) -> None:
        super().__init__()
        self.search, self.var = search, period

    def on_solution_callback(self) -> None:
        T = int(self.value(self.var))
        if T < self.search.best.T:
            self.search.progress.period(T, self.search.lo)


class _ObjectiveWatch(cp_model.CpSolverSolutionCallback):
    """Follows the secondary objective: a progress line per better value, and its patience.

    :meth:`idle` is true once ``patience`` wall seconds passed without a better
    value since the first solution (the hint, found right after presolve).
    """

    def __init__(self, search: _Search, objective: str, value: int, patience: float | None):
        super().__init__()
        self.search, self.objective, self.patience = search, objective, patience
        self.value_now = value
        self.last: float | None = None
        self.improved = 0

    def on_solution_callback(self) -> None:
        now = time.perf_counter()
        if self.last is None:
            self.last = now
        value = int(round(self.objective_value))
        if value < self.value_now:
            self.value_now, self.last = value, now
            self.improved += 1
            shown = _format_objective(self.objective, value)
            line = f"{self.objective} {shown} at period {self.search.best.T}"
            self.search.progress.line(line, kind=self.objective)

    def idle(self) -> bool:
        """Whether the search went ``patience`` seconds without a better value."""
        if self.patience is None or self.last is None:
            return False
        return time.perf_counter() - self.last > self.patience


def _format_objective(objective: str, value: int) -> str:
    """A secondary objective's value for a person: bytes as ``12.3 MB``, staleness as is."""
    return format_bytes(value) if objective == "comm" else str(value)


@dataclass
class _Search:
    """State shared by the phases of :func:`solve_cpsat`."""

    inst: _Instance
    budget: _Budget
    workers: int
    seed: int
    lo: int  # proven lower bound
    best: _Solution
    stats: dict
    progress: _Progress
    incumbent: Incumbent
    log: Log | None = None  # notes for a person: steps skipped or cut short
    solver_log: Log | None = None  # every step, and CP-SAT's own log
    heuristic_bound: int | None = None  # the warm start is the heuristic's effort from here
    pending: _Solution | None = None  # ports: a warm start that lacks its transfers
    calls: int = 0
    found: bool = True  # memory: False while ``best`` (one processor) does not fit
    refuted: set[int] = field(default_factory=set)  # memory: periods proven infeasible alone

    @property
    def clock(self) -> Clock:
        """Wall time since the call began."""
        return self.budget.clock

    def next_seed(self) -> int:
        """A new seed for every CP-SAT call, so that a repeated attempt searches anew."""
        self.calls += 1
        return self.seed + self.calls - 1

    def say(self, line: str) -> None:
        """A line of detail, for the solver log only."""
        if self.solver_log is not None:
            self.solver_log(f"cpsat: {line}")

    def note(self, line: str) -> None:
        """A step skipped or cut short: once per call, to the log and the statistics."""
        notes = self.stats.setdefault("notes", [])
        if line in notes:
            return
        notes.append(line)
        if self.log is not None:
            self.progress.flush()  # (lines in the order of the events)
            self.log(f"cpsat: {line}")

    def step(self, what: str, T: int, outcome: str, seconds: float) -> None:
        self.stats["steps"].append(
            {"phase": what, "period": T, "outcome": outcome, "seconds": round(seconds, 3)}
        )

    def improve(self, sol: _Solution) -> bool:
        """Keep ``sol`` when its period is better; offer it as the incumbent and report it."""
        if self.found and sol.T >= self.best.T:
            return False
        self.best, self.found = sol, True
        self.incumbent.offer(_to_schedule(self.inst, sol))
        self.progress.period(sol.T, self.lo)
        return True

    def raise_bound(self, bound: int) -> None:
        """A proven lower bound (section 6): keep it when higher, and report it."""
        while bound in self.refuted:  # (memory: periods refuted one by one, section 2.8)
            bound += 1
        if bound > self.lo:
            self.lo = bound
            self.progress.period(self.best.T, self.lo)

    def refute(self, T: int) -> None:
        """Memory: ``T`` alone is proven infeasible (feasibility need not be monotone)."""
        self.refuted.add(T)
        if T == self.lo:
            self.raise_bound(T + 1)

    def below_best(self) -> int:
        """The period ``descend`` tries: ``best - 1``, or the next one not refuted (memory)."""
        gap = self.best.T - self.lo
        T = self.best.T - (1 if gap <= LINEAR_DESCENT else gap // 2)
        while T in self.refuted and T > self.lo:
            T -= 1
        return T

    def run_model(
        self,
        model: cp_model.CpModel,
        limit: float,
        *,
        seed: int | None = None,
        callback: cp_model.CpSolverSolutionCallback | None = None,
        idle: Callable[[], bool] | None = None,
        raw_log: bool = True,
        linearization: int | None = None,
    ) -> tuple[int | None, cp_model.CpSolver]:
        """Solve ``model`` for ``limit`` seconds of the budget, stoppable; charge its time.

        The seed is :meth:`next_seed` unless given. The status is ``None`` when
        the call was stopped before it began. ``linearization`` sets CP-SAT's
        ``linearization_level`` (default: CP-SAT's).
        """
        seed = self.next_seed() if seed is None else seed
        log = self.solver_log if raw_log else None
        solver = cp_solver(self.workers, seed, limit, log, deterministic=self.budget.deterministic)
        if linearization is not None:
            solver.parameters.linearization_level = linearization
        status = _solve_watched(solver, model, self.budget.stop, callback, idle)
        if status is not None:
            self.budget.charge(solver)
        return status, solver

    def affordable(self, what: str, T: int, seconds: float) -> bool:
        """Whether the model at ``T`` can be built in :data:`BUILD_SHARE` of ``seconds``.

        At most :data:`MAX_MODEL_ITEMS` items in any case; a refusal is noted.
        """
        items = _model_items(self.inst, T)
        if items <= min(MAX_MODEL_ITEMS, MODEL_ITEMS_PER_SECOND * BUILD_SHARE * seconds):
            return True
        why = (
            f"above {MAX_MODEL_ITEMS:,}"
            if items > MAX_MODEL_ITEMS
            else f"too many to build in {seconds:.1f} s"
        )
        self.note(f"{what}: skipped, a model of about {items:,} variables and constraints, {why}")
        return False

    def build(
        self,
        what: str,
        inst: _Instance,
        prep: _Prep,
        lo: int | None = None,
        fixed: Sequence[int] | None = None,
        free: frozenset[int] = frozenset(),
    ) -> _Model | None:
        """:func:`_build_model`, or ``None`` (noted) when its numbers are too large for CP-SAT."""
        try:
            mod = _build_model(inst, prep, lo, fixed, free)
        except _TooLarge as err:
            self.note(f"{what}: skipped, {err}")
            return None
        items = _model_items(inst, prep.T) if fixed is None else _fixed_items(inst, fixed, free)
        self.budget.charge_work(items / MODEL_ITEMS_PER_SECOND)
        return mod

    def prepare(self, inst: _Instance, T: int, lo: int | None = None) -> _Prep | None:
        """:func:`_prepare`, its all-pairs pass counted against a deterministic budget."""
        if inst.n <= MAX_ALL_PAIRS_TASKS:
            self.budget.charge_work(inst.n**3 / ALL_PAIRS_PER_SECOND)
        return _prepare(inst, T, lo)

    # -- phase 1: proofs that come cheap -----------------------------------------
    def raise_by_packing(self, budget: float) -> None:
        """Bisection on the bin-packing relaxation: every period it rejects is infeasible.

        The period just below the best comes first, with half the budget:
        when the heuristic's period is optimal (VGG-16 on 8 processors), that one
        step proves it (section 3), where the bisection takes several.
        """
        lo, hi = self.lo, self.best.T - 1
        stop = self.budget.spent() + budget
        if lo < hi:
            outcome = self.packing_step(hi, budget / 2)
            if outcome == "infeasible":
                return
            if outcome == "feasible":
                hi -= 1
        while lo <= hi and self.budget.spent() < stop and not self.budget.stop.is_set():
            T = (lo + hi) // 2
            outcome = self.packing_step(T, stop - self.budget.spent())
            if outcome == "infeasible":
                lo = T + 1
            elif outcome == "feasible":
                hi = T - 1
            else:
                break

    def packing_step(self, T: int, limit: float) -> str:
        """The packing relaxation at ``T`` for at most ``limit`` seconds; raises the bound."""
        t0 = time.perf_counter()
        prep = self.prepare(self.inst, T)
        if prep is None:
            outcome = "infeasible"
        else:
            outcome = _packing(self.inst, prep, min(limit, self.budget.remaining()), self)
        self.step("packing", T, outcome, time.perf_counter() - t0)
        self.say(f"T={T} packing {outcome} ({time.perf_counter() - t0:.2f} s)")
        if outcome == "infeasible":
            self.raise_bound(T + 1)
        return outcome

    def raise_by_ports(self, budget: float) -> None:
        """Bisection on the port-assignment relaxation (section 4.1; capacity ports only).

        A period it rejects is infeasible, and so is every smaller one. A step
        that times out decides nothing: the bisection goes on below it, where
        rejections come quicker. Finds no schedule: the relaxation's
        assignments scatter the training loop over the processors, and the
        model with their processors fixed found no timing below the best
        (ResNet-18 on 8 ``pcie`` processors).
        """
        if self.inst.ports is None:
            return
        ports = port_model(self.inst.problem)
        assert ports is not None  # (inst.ports is set on two processors or more)
        lo, hi = self.lo, self.best.T - 1
        stop = self.budget.spent() + budget
        while lo <= hi and not self.budget.stop.is_set() and stop - self.budget.spent() > 0.05:
            T = (lo + hi) // 2
            if self.ports_step(ports, T, stop) == "infeasible":
                lo = T + 1
            else:
                hi = T - 1

    def ports_step(self, ports: PortModel, T: int, stop: float) -> str:
        """The port-assignment relaxation at ``T``; raises the bound when it is infeasible.

        Parameters
        ----------
        ports
            The relaxed tensors and ports (:func:`lpsched.bounds.port_model`).
        T
            The period tried.
        stop
            The phase's end, in budget seconds: CP-SAT gets what is left of it
            once the model is built, at most :data:`PORT_STEP_SECONDS`.

        Returns
        -------
        str
            ``"infeasible"`` (proven, also by the precedences alone),
            ``"feasible"`` (the relaxation, not a schedule) or ``"unknown"``.
        """
        t0 = time.perf_counter()
        prep = self.prepare(self.inst, T)
        outcome, why = "infeasible", "precedences"
        if prep is not None:
            # (The best schedule's processors as a hint: a real assignment to start from.)
            args = (self.inst.d, sorted(prep.together), self.inst.P, ports, T, self.best.proc)
            am = assignment_model(*args)
            why = "loads"
            limit = min(PORT_STEP_SECONDS, stop - self.budget.spent())
            if am is not None and limit <= 0.01:
                outcome, why = "unknown", "no time left"
            elif am is not None:
                # Without the LP (level 0) CP-SAT refutes these in a fraction of the time:
                # ResNet-18 on 16 pcie processors, 1,100: 0.5 s against 4.5 s by default.
                status, _ = self.run_model(am.model, limit, raw_log=False, linearization=0)
                if status == cp_model.MODEL_INVALID:
                    raise RuntimeError(f"CP-SAT model invalid: {am.model.validate()}")
                outcome, why = _OUTCOMES.get(status, "unknown"), "CP-SAT"
        self.step("ports", T, outcome, time.perf_counter() - t0)
        self.say(f"T={T} port assignment {outcome}, {why} ({time.perf_counter() - t0:.2f} s)")
        if outcome == "infeasible":
            self.raise_bound(T + 1)
        return outcome

    # -- phase 2: searches for better schedules ---------------------------------------
    def heuristic(self, budget: float) -> None:
        """Iterative modulo scheduling (:mod:`lpsched.solvers.heuristic`) with a budget.

        Without a time limit on the call, or with ``deterministic``, its default
        effort is used (bounded by its step count), so that one seed gives one
        answer; then it is skipped when the warm start was that same run (from
        the same bound). Skipped when no heuristic takes the platform.
        """
        t0, spent = time.perf_counter(), self.budget.spent()
        wall = self.budget.limit is not None and not self.budget.deterministic
        if not wall and self.heuristic_bound == self.lo:
            self.say("heuristic: skipped, the warm start is its answer from this bound")
            return
        limit = max(0.01, budget) if wall else None
        sched = _heuristic_schedule(self.inst, self.lo, self.seed, limit, self.budget.stop)
        if sched is None:
            self.note("heuristic: skipped, no heuristic schedules this platform")
            return
        sol = _from_schedule(self.inst, sched)
        if _is_valid(self.inst, sol):
            self.improve(sol)
        elif self.inst.ports is not None:
            self.complete(sol, max(budget - (self.budget.spent() - spent), budget / 2))
        self.step("heuristic", sched.period, "feasible", time.perf_counter() - t0)
        self.say(f"heuristic: period {sched.period} ({time.perf_counter() - t0:.2f} s)")

    def minimise_period(
        self, mod: _Model, budget: float, spent: float, hint: _Solution | None = None
    ) -> tuple[int | None, cp_model.CpSolver, str]:
        """Minimise the variable period of ``mod`` and keep any schedule it finds.

        Parameters
        ----------
        mod
            A model built with the period a variable.
        budget
            The phase's seconds; what building the model took (since ``spent``,
            the budget spent when the phase began) counts against them.
        spent
            ``self.budget.spent()`` when the phase began.
        hint
            A solution to hint the model with, or ``None``.

        Returns
        -------
        tuple
            CP-SAT's status (``None``: stopped before it began), the solver, and
            the outcome's name for :meth:`step` (``"stopped"``, ``"optimal"``, ...).
        """
        assert not isinstance(mod.T, int)
        mod.model.minimize(mod.T)
        if hint is not None:
            _hint(self.inst, mod, hint)
        left = budget - (self.budget.spent() - spent)
        status, solver = self.run_model(mod.model, left, callback=_PeriodWatch(self, mod.T))
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.improve(_extract(self.inst, mod, solver))
        outcome = "stopped" if status is None else solver.status_name(status).lower()
        return status, solver, outcome

    def complete(self, sol: _Solution, budget: float) -> None:
        """Under ports, the transfers of a schedule placed without them (a delay heuristic).

        The model with ``sol``'s processors fixed and the period a variable in
        ``[lo, 2 lo]`` (C19), ``lo`` the larger of ``sol.T`` and its busiest
        port, hinted with its starts, minimises ``T``; what it finds is a
        schedule. Finds, never proves.
        """
        if self.budget.stop.is_set() or budget <= 0.05 or self.inst.ports is None:
            return
        if not cpl.kept(self.inst.problem, sol.proc):  # (its processors break C30, C31)
            return
        # (no period below the busiest port of the placement: C25)
        lo = max(sol.T, cpp.port_load(self.inst, self.inst.ports, sol.proc))
        hi = min(2 * lo, self.best.T - 1)
        if hi < lo or not self.affordable("transfers", hi, budget):
            return
        t0, spent = time.perf_counter(), self.budget.spent()
        prep = self.prepare(self.inst, hi, lo=lo)
        mod = None if prep is None else self.build("transfers", self.inst, prep, lo, sol.proc)
        if mod is None or prep is None:
            return
        hint = _normalise(self.inst, sol, prep)
        _status, _solver, outcome = self.minimise_period(mod, budget, spent, hint)
        self.step("transfers", lo, outcome, time.perf_counter() - t0)
        self.say(f"transfers for a placement at {lo}: best {self.best.T} ({outcome})")

    def first_schedule(self, budget: float) -> None:
        """Memory: look for any schedule when none is known (one processor does not fit).

        The model with the period a variable in ``[lo, 2 T_1]`` (C19, C26-C29),
        ``T_1`` the one-processor period, unhinted. Its objective bound is a
        proof over that range; a proof that nothing fits there is not one that
        nothing fits at all, so the result is then ``unknown``.
        """
        hi = max(2 * self.best.T, self.lo)
        if self.budget.stop.is_set() or not self.affordable("first schedule", hi, budget):
            return
        t0, spent = time.perf_counter(), self.budget.spent()
        prep = self.prepare(self.inst, hi, lo=self.lo)
        mod = None if prep is None else self.build("first schedule", self.inst, prep, lo=self.lo)
        if mod is None:
            return
        status, solver, outcome = self.minimise_period(mod, budget, spent)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.raise_bound(int(math.ceil(solver.best_objective_bound - 1e-6)))
        elif status == cp_model.INFEASIBLE:  # (exact on [lo, hi]: nothing fits up to hi)
            self.raise_bound(hi + 1)
        self.step("first schedule", hi, outcome, time.perf_counter() - t0)
        self.say(f"first schedule in [{self.lo}, {hi}]: {outcome}")

    def variable(self, budget: float) -> None:
        """Minimise T in the model with a variable period, hinted with the best schedule.

        Skipped when the model would hold more than :data:`MAX_VARIABLE_INTERVALS`
        optional intervals, or could not be built in its share of ``budget``.
        """
        if self.best.T <= self.lo or self.budget.stop.is_set():
            return
        size = 2 * _allowed_pairs(self.inst)  # C10 removes more: count exactly if it matters
        if size > MAX_VARIABLE_INTERVALS and size <= 100 * MAX_VARIABLE_INTERVALS:
            size = _optional_intervals(self.inst, self.best.T)
        if size > MAX_VARIABLE_INTERVALS:
            self.note(f"variable period: skipped, {size} optional intervals")
            return
        if not self.affordable("variable period", self.best.T, budget):
            return
        t0, spent = time.perf_counter(), self.budget.spent()
        prep = self.prepare(self.inst, self.best.T, lo=self.lo)
        assert prep is not None  # the best schedule is valid at its period
        mod = self.build("variable period", self.inst, prep, lo=self.lo)
        if mod is None:
            return
        assert not isinstance(mod.T, int)
        mod.model.minimize(mod.T)
        _hint(self.inst, mod, _normalise(self.inst, self.best, prep))
        left = budget - (self.budget.spent() - spent)  # building the model counts against it
        status, solver = self.run_model(mod.model, left, callback=_PeriodWatch(self, mod.T))
        outcome = "stopped" if status is None else solver.status_name(status).lower()
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.improve(_extract(self.inst, mod, solver))
            # (the objective bound is a proof: the model is exact for every T <= hi)
            self.raise_bound(int(math.ceil(solver.best_objective_bound - 1e-6)))
        elif status == cp_model.INFEASIBLE:  # impossible with a valid hint; be safe
            raise RuntimeError("CP-SAT found the warm start infeasible")
        self.step("variable period", self.best.T, outcome, time.perf_counter() - t0)
        self.say(
            f"variable period: best {self.best.T}, bound {self.lo} "
            f"({time.perf_counter() - t0:.2f} s)"
        )

    def neighbourhoods(self, budget: float) -> None:
        """Large neighbourhoods of the best schedule (capacity ports only; else nothing).

        Each call fixes the best schedule's processors but for those of a
        subset (none first: times and transfers only; then pairs with the
        busiest processor or port, then other pairs, in a seeded order) and
        minimises the period over ``[lo, best]`` (C19), hinted with the best
        schedule, for at most :data:`NEIGHBOURHOOD_SLICE` seconds. On a
        plateau (:func:`_plateau`: several processors or ports busy for the
        whole period, as on ResNet-18 on 16 processors, four at the period
        beside four idle) no pair lowers the period; there the busiest one's
        partners come least busy first, the busiest resource of the pair is
        minimised after the period, and a schedule of the same period is kept
        when its loads, largest first, are smaller (:func:`_standing`), each
        such move relieving one of them. Ends after
        :data:`NEIGHBOURHOOD_PATIENCE` calls in a row that change neither.
        Finds, never proves: the model is a restriction.
        """
        inst = self.inst
        if (inst.ports is None and inst.memory is None) or self.best.T <= self.lo:
            return
        stop = self.budget.spent() + budget
        rng = random.Random(self.seed)
        subsets: list[frozenset[int]] = []
        idle = tries = 0
        while self.budget.spent() < stop - 0.05 and self.best.T > self.lo:
            if self.budget.stop.is_set() or idle >= NEIGHBOURHOOD_PATIENCE:
                break
            if not subsets:
                subsets = _neighbourhood_order(inst, self.best, rng, first=tries == 0)
            free = subsets.pop(0)
            before = _standing(inst, self.best)
            left = stop - self.budget.spent()
            if not self.neighbourhood(free, min(NEIGHBOURHOOD_SLICE, left)):
                break
            tries += 1
            if _standing(inst, self.best) < before:
                idle, subsets = 0, []  # (a new best: start again from its own order)
            else:
                idle += 1
        self.say(f"neighbourhoods: {tries} tries, best {self.best.T}")

    def neighbourhood(self, free: frozenset[int], limit: float) -> bool:
        """One neighbourhood of :meth:`neighbourhoods`; False when its model is not built."""
        inst, T = self.inst, self.best.T
        t0, spent = time.perf_counter(), self.budget.spent()
        prep = self.prepare(inst, T, lo=self.lo)
        assert prep is not None  # the best schedule is valid at its period
        sol = _normalise(inst, self.best, prep)
        items = _fixed_items(inst, sol.proc, free)
        if items > min(MAX_MODEL_ITEMS, MODEL_ITEMS_PER_SECOND * BUILD_SHARE * limit):
            self.note(f"neighbourhood: skipped, a model of about {items:,} items")
            return False
        mod = self.build("neighbourhood", inst, prep, self.lo, sol.proc, free)
        if mod is None:
            return False
        assert not isinstance(mod.T, int)
        plateau = _plateau(inst, sol)
        if plateau:
            _minimise_crowding(mod, inst, free)
        else:
            mod.model.minimize(mod.T)
        _hint(inst, mod, sol)
        left = limit - (self.budget.spent() - spent)
        status, solver = self.run_model(mod.model, left, callback=_PeriodWatch(self, mod.T))
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            found = _extract(inst, mod, solver)
            if not self.improve(found) and plateau:
                if _standing(inst, found) < _standing(inst, self.best):
                    self.best = found  # (the same period, a busiest resource relieved)
        outcome = "stopped" if status is None else solver.status_name(status).lower()
        what = ",".join(map(str, sorted(free))) or "times"
        self.step(f"neighbourhood {what}", T, outcome, time.perf_counter() - t0)
        self.say(f"neighbourhood {what} at {T}: best {self.best.T} ({outcome})")
        return True

    def segments(self, budget: float) -> None:
        """Look for a schedule at the lower bound with the critical loop in a few pieces.

        Each try assigns processors with :func:`lpsched.solvers.segments.segment_model`
        (``P + P // 2`` pieces, a new seed each time, at most :data:`SEGMENT_SLICE` seconds)
        and gives the assignment to the fixed-period model at ``T = lo``, which then
        only decides the start times. Finds, never proves. Skipped on a platform
        that is not uniform: the assignment model needs identical processors.
        """
        inst, T = self.inst, self.lo
        if self.best.T <= T or inst.P == 1:
            return
        if not inst.problem.uniform:
            self.note("segments: skipped, the processors are not identical")
            return
        if inst.problem.placement != "free":  # (its pieces ignore C30, C31)
            self.note(f"segments: skipped, placement {inst.problem.placement}")
            return
        # the critical loop of the relaxed graph (the problem itself on a uniform platform)
        names = inst.problem.bounds.critical_loop
        if len(names) < 2 or not self.affordable("segments", T, budget):
            return
        index = {name: v for v, name in enumerate(inst.names)}
        t0 = time.perf_counter()
        stop = self.budget.spent() + budget
        outcome, tries = self.segment_tries([index[name] for name in names], stop)
        seconds = time.perf_counter() - t0
        self.step("segments", T, outcome, seconds)
        self.say(f"T={T} {outcome} (loop segments, {tries} tries, {seconds:.2f} s)")

    def segment_tries(self, loop: list[int], stop: float) -> tuple[str, int]:
        """:meth:`segments`' tries until one succeeds or the budget reaches ``stop``."""
        from .segments import segment_model

        inst, T = self.inst, self.lo
        prep = self.prepare(inst, T)
        pieces = segment_model(inst.d, loop, inst.P, T, inst.P + inst.P // 2)
        tries = 0
        # (no pieces: every task of the loop lasts one unit, there is nothing to cut)
        while prep is not None and pieces is not None and self.budget.spent() < stop - 0.05:
            if self.budget.stop.is_set() or tries == MAX_SEGMENT_TRIES:
                break
            tries += 1
            left = stop - self.budget.spent()
            status, solver = self.run_model(pieces.model, min(SEGMENT_SLICE, left), raw_log=False)
            if status == cp_model.INFEASIBLE:
                break  # no such assignment: another seed finds none either
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                continue
            mod = self.build("segments", inst, prep, fixed=pieces.assignment(solver))
            left = stop - self.budget.spent()
            if mod is None or left <= 0.01:
                break
            status, solver = self.run_model(mod.model, min(left, SEGMENT_SLICE))
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                self.improve(_extract(inst, mod, solver))
                return "feasible", tries
        return "unknown", tries

    def stage_layout(self, budget: float) -> None:
        """Placement ``stages``, after the heuristic when it found nothing: greedy stages.

        Runs only while the best schedule is still one processor (the heuristic
        kept no schedule of the placement, or takes no such platform).

        :func:`lpsched.solvers.cpsat_placement.stage_layout` cuts the units
        into at most ``P`` stages at the least period it can (from the bound
        up); the model with those processors fixed and the period a variable
        in ``[lo, min(2 lo, best - 1)]`` (C19), ``lo`` the larger of the bound and
        the layout's busiest processor or port, minimises ``T``. Finds, never proves.
        """
        inst = self.inst
        if inst.problem.placement != "stages" or len(set(self.best.proc)) > 1:
            return  # (only while nothing better than one processor is known)
        if self.budget.stop.is_set() or budget <= 0.05 or inst.P == 1:
            return
        T = self.lo
        proc = cpl.stage_layout(inst.problem, inst.d, T)
        while proc is None and T < self.best.T:
            T += max(1, (self.best.T - T) // 64)
            proc = cpl.stage_layout(inst.problem, inst.d, T)
        if proc is None:
            return
        lo = max(self.lo, max(_loads(inst, proc)))
        if inst.ports is not None:
            lo = max(lo, cpp.port_load(inst, inst.ports, proc))
        hi = min(2 * lo, self.best.T - 1)  # (narrow windows: a layout this tight rarely needs more)
        items = _fixed_items(inst, proc, frozenset())
        if hi < lo or items > min(MAX_MODEL_ITEMS, MODEL_ITEMS_PER_SECOND * BUILD_SHARE * budget):
            self.note(f"stage layout: skipped, a model of about {items:,} items")
            return
        t0, spent = time.perf_counter(), self.budget.spent()
        prep = self.prepare(inst, hi, lo=lo)
        mod = None if prep is None else self.build("stage layout", inst, prep, lo, proc)
        if mod is None:
            return
        _status, _solver, outcome = self.minimise_period(mod, budget, spent)
        self.step("stage layout", lo, outcome, time.perf_counter() - t0)
        self.say(f"stage layout from {lo}: best {self.best.T} ({outcome})")

    # -- phase 3: fixed periods ---------------------------------------------------
    def decide(self, T: int, model: str, limit: float) -> tuple[str, _Solution | None]:
        """Decide period ``T``: packing relaxation, then the hard or the soft model.

        ``"hard"`` is the model C1-C15; ``"soft"`` the relaxation C18 that
        minimises the distance excess.

        Returns ``("feasible", solution)``, ``("infeasible", None)`` (proven),
        ``("unknown", None)`` or ``("skipped", None)`` (the model is too large for
        the time, or its numbers for CP-SAT).
        """
        deadline = self.budget.spent() + limit
        inst = self.inst if model == "hard" else self.inst.soft(T)
        prep = self.prepare(inst, T)
        if prep is None:
            return "infeasible", None
        if _packing(inst, prep, min(limit / 4, 5.0), self) == "infeasible":
            return "infeasible", None
        what = f"fixed-period {model} model"
        if not self.affordable(what, T, limit):
            return "skipped", None
        mod = self.build(what, inst, prep)
        if mod is None:
            return "skipped", None
        if model == "soft":
            mod.model.minimize(sum(mod.excess))
        _partial_hint(inst, mod, self.best)
        left = deadline - self.budget.spent()  # the packing and the model took their share
        if left <= 0.01:
            return "unknown", None
        status, solver = self.run_model(mod.model, left)
        if status == cp_model.MODEL_INVALID:
            raise RuntimeError(f"CP-SAT model invalid: {mod.model.validate()}")
        # (memory: a proof holds for this period only, section 2.8)
        proven = "refuted" if inst.memory is not None else "infeasible"
        if status == cp_model.INFEASIBLE:
            return proven, None
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            if model == "hard" or solver.objective_value < 0.5:
                return "feasible", _extract(inst, mod, solver)
            if solver.best_objective_bound > 0.5:  # C18: no schedule without excess
                return proven, None
        return "unknown", None

    def attempt(self, T: int, model: str, limit: float) -> str:
        """:meth:`decide` ``T`` and record what it shows."""
        t0 = time.perf_counter()
        outcome, sol = self.decide(T, model, limit)
        seconds = time.perf_counter() - t0
        self.step(f"{model} model", T, outcome, seconds)
        self.say(f"T={T} {outcome} ({model} model, {seconds:.2f} s)")
        if outcome == "feasible":
            assert sol is not None
            self.improve(sol)
        elif outcome == "infeasible":
            # Monotone in T (section 3): every smaller period is infeasible too.
            self.raise_bound(T + 1)
        elif outcome == "refuted":  # (memory: this period alone, section 2.8)
            self.refute(T)
            outcome = "infeasible"
        return outcome

    def descend(self, soft: bool = False) -> None:
        """Try ``best - 1`` until it is proven infeasible or the time is up.

        A period gets half the time left (all of it below 10 s); when that proves
        nothing, the model with a variable period searches from the best schedule
        for a quarter of the time left (with a new seed), and the loop goes on.
        With ``soft``, each period first gets a share in the soft model C18.
        A model too large to build ends the phase. While the gap to the bound is
        above :data:`LINEAR_DESCENT` units, the middle of the gap is tried instead
        of ``best - 1`` (a period of ``2^40`` units does not descend one by one).
        """
        while self.best.T > self.lo and not self.budget.out():
            T = self.below_best()
            left = self.budget.remaining()
            outcome = "unknown"
            if soft:
                outcome = self.attempt(T, "soft", min(left / 4, UNLIMITED_PHASE_SECONDS))
                left = self.budget.remaining()
            if outcome == "unknown" and left > 0.05:
                outcome = self.attempt(T, "hard", left if left < 10 else left / 2)
            if outcome == "skipped" or self.budget.out():
                break  # (an infeasible T raised the bound to T + 1: the loop goes on above it)
            if outcome == "unknown":
                self.variable(self.budget.remaining() / 4)

    def bisect(self) -> None:
        """Bisection between the bound and the best period with the hard model.

        A step that times out proves nothing; the search goes on above it.
        """
        search_lo = self.lo
        while search_lo < self.best.T and not self.budget.out():
            hi = self.best.T - 1
            T = (search_lo + hi) // 2
            steps = max(1, math.ceil(math.log2(hi - search_lo + 2)))
            outcome = self.attempt(T, "hard", self.budget.remaining() / steps)
            if outcome == "skipped":
                break
            if outcome != "feasible":
                search_lo = T + 1

    def run(self, plan: Sequence[tuple[str, float]]) -> None:
        """The phases of ``plan`` in order until the best period meets the bound (section 3)."""
        budget = self.budget
        if self.pending is not None:  # ports: a warm start without its transfers
            self.complete(self.pending, budget.share(0.25, UNLIMITED_PHASE_SECONDS))
            self.pending = None
        if not self.found:  # memory: nothing known fits yet
            self.first_schedule(budget.share(0.5, UNLIMITED_PHASE_SECONDS))
            if not self.found:
                return
        for phase, fraction in plan:
            if self.best.T <= self.lo or budget.out():
                break
            if phase == "packing":
                self.raise_by_packing(budget.share(fraction, cap=10.0))
            elif phase == "ports":
                self.raise_by_ports(budget.share(fraction, cap=PORT_PHASE_SECONDS))
            elif phase == "heuristic":
                self.heuristic(budget.share(fraction, UNLIMITED_PHASE_SECONDS))
                self.stage_layout(budget.share(STAGE_LAYOUT_SHARE, UNLIMITED_PHASE_SECONDS))
            elif phase == "neighbourhood":
                self.neighbourhoods(budget.share(fraction, UNLIMITED_PHASE_SECONDS))
            elif phase == "segments":
                self.segments(budget.share(fraction, UNLIMITED_PHASE_SECONDS))
            elif phase == "variable":
                self.variable(budget.share(fraction, UNLIMITED_PHASE_SECONDS))
            elif phase in ("lower", "lower-hard"):
                model = "soft" if phase == "lower" else "hard"
                self.attempt(self.lo, model, budget.share(fraction, UNLIMITED_PHASE_SECONDS))
            elif phase in ("descend", "descend-soft"):
                self.descend(soft=phase == "descend-soft")
            elif phase == "bisect":
                self.bisect()
            else:
                raise ValueError(f"unknown phase {phase!r}")


def _loads(inst: _Instance, proc: Sequence[int]) -> list[int]:
    """Each processor's work per period under the assignment ``proc``."""
    load = [0] * inst.P
    for v, p in enumerate(proc):
        load[p] += inst.dp[v][p]
    return load


def _neighbourhood_order(
    inst: _Instance, sol: _Solution, rng: random.Random, first: bool
) -> list[frozenset[int]]:
    """The subsets of processors :meth:`_Search.neighbourhoods` frees, in order.

    The empty one first (when ``first``), then every pair with the processor
    whose load or port time is the largest (on a plateau its partners least
    busy first), then the other pairs shuffled.
    """
    P = inst.P
    busy = [max(pair) for pair in zip(*_busy(inst, sol), strict=True)]
    top = max(range(P), key=lambda p: (busy[p], -p))
    partners = [q for q in range(P) if q != top]
    rng.shuffle(partners)
    if _plateau(inst, sol):
        partners.sort(key=lambda q: busy[q])  # (stable: the idle first, in a seeded order)
    near = [frozenset((top, q)) for q in partners]
    rest = [frozenset((p, q)) for p in range(P) for q in range(p + 1, P) if top not in (p, q)]
    rng.shuffle(rest)
    return ([frozenset()] if first else []) + near + rest


def _busy(inst: _Instance, sol: _Solution) -> tuple[list[int], list[int]]:
    """Each processor's load and its busiest port's time (zeros under ``delay``)."""
    load = _loads(inst, sol.proc)
    if inst.ports is None:
        return load, [0] * inst.P
    return load, cpp.port_loads(inst.ports, sol.proc, inst.P)


def _plateau(inst: _Instance, sol: _Solution) -> bool:
    """Whether two or more processors or ports are busy for the whole period.

    Then relieving one leaves the period where it is. Elsewhere (VGG-16 on 4
    processors) the plain objective found 1503 where the plateau's found 1508.
    """
    load, port = _busy(inst, sol)
    return sum(1 for x in load + port if x >= sol.T) >= 2


def _standing(inst: _Instance, sol: _Solution) -> tuple[int, list[int]]:
    """The period, then every processor's load and busiest port's time, largest first.

    The neighbourhoods' order of schedules: a smaller one has a shorter period,
    or the same with its busiest resources less busy.
    """
    load, port = _busy(inst, sol)
    return sol.T, sorted(load + port, reverse=True)


def _minimise_crowding(mod: _Model, inst: _Instance, free: frozenset[int]) -> None:
    """The neighbourhood's objective: the period, then the busiest resource of ``free``.

    Every load of ``free`` is at most the period (C13, C24), so ``crowd <=
    hi`` and the weight ``hi + 1`` ranks any shorter period first.
    """
    loads = [_load_expr(mod, inst, p, constants=True) for p in sorted(free)]
    if inst.ports is not None and mod.ports is not None:
        loads += cpp.port_load_exprs(inst, inst.ports, mod.ports, free)
    if not loads:
        mod.model.minimize(mod.T)
        return
    crowd = mod.model.new_int_var(0, mod.hi, "crowd")
    for load in loads:
        mod.model.add(crowd >= load)
    mod.model.minimize(mod.T * (mod.hi + 1) + crowd)


def _secondary_terms(
    inst: _Instance, mod: _Model, sol: _Solution, objective: str
) -> tuple[list[Any], int]:
    """The terms of C16 or C17 and the solution's value of that objective."""
    if objective == "comm":
        # C16 communication volume: bytes of the edges between different processors;
        # under ports each tensor counts once per destination (C16').
        weight: dict[tuple[int, int], int] = {}
        carried = inst.ports.tensor_edges() if inst.ports is not None else {}
        sent: list[Any] = []
        if inst.ports is not None and mod.ports is not None:
            pv = mod.ports
            sent = [inst.ports.tensors[k].nbytes * pv.present[(k, q)] for k, q in pv.keys]
        for i, e in enumerate(inst.edges):
            if i in carried:
                continue
            if e.src != e.dst and e.nbytes:
                key = _pair(e.src, e.dst)
                weight[key] = weight.get(key, 0) + e.nbytes
        terms = [w * mod.y[key] for key, w in weight.items() if key in mod.y]
        return terms + sent, _comm_bytes(inst, sol)
    # C17 total staleness.
    return list(mod.st.values()), sum(_least_staleness(inst, sol).values())


def _has_terms(inst: _Instance, objective: str) -> bool:
    """Whether C16 or C17 has a term: bytes between two tasks, or an auto layer."""
    if objective == "comm":
        return inst.P > 1 and any(e.src != e.dst and e.nbytes for e in inst.edges)
    return bool(inst.layers)


def _secondary_limit(budget: _Budget) -> float:
    """The secondary objective's seconds (section 5): a bounded share of the limit.

    At most :data:`SECONDARY_SHARE` of the limit (:data:`UNLIMITED_PHASE_SECONDS`
    without one), at most as long as the period search took (at least
    :data:`SECONDARY_FLOOR`), and never more than is left.
    """
    cap = UNLIMITED_PHASE_SECONDS if budget.limit is None else SECONDARY_SHARE * budget.limit
    return min(budget.remaining(), cap, max(SECONDARY_FLOOR, budget.spent()))


def _secondary(search: _Search, objective: str, limit: float) -> None:
    """Minimise the secondary objective at the best period; keep the best if nothing better.

    Nothing is built when the objective has no term (no edge carries bytes) or
    its model would not be built in time. The search stops at ``limit``, when
    the objective is proven, or (not with ``deterministic``) after
    :data:`SECONDARY_PATIENCE` seconds without a better value.
    """
    inst, sol = search.inst, search.best
    if not _has_terms(inst, objective):
        search.note(f"{objective}: skipped, no edge carries bytes")
        return
    what = f"secondary objective {objective}"
    if not search.affordable(what, sol.T, limit):
        return
    spent = search.budget.spent()  # from here, building the model counts against the limit
    prep = search.prepare(inst, sol.T)
    assert prep is not None
    mod = search.build(what, inst, prep)
    if mod is None:
        return
    terms, value = _secondary_terms(inst, mod, sol, objective)
    mod.model.minimize(sum(terms))
    hinted = _normalise(inst, sol, prep)
    if inst.layers:
        hinted.staleness = _least_staleness(inst, hinted)
    _hint(inst, mod, hinted)
    patience = None if search.budget.deterministic else SECONDARY_PATIENCE
    watch = _ObjectiveWatch(search, objective, value, patience)
    t0 = time.perf_counter()
    left = limit - (search.budget.spent() - spent)
    status, solver = search.run_model(
        mod.model, left, seed=search.seed, callback=watch, idle=watch.idle
    )
    info = _secondary_info(search, watch, objective, value, status, solver)
    info["seconds"] = round(time.perf_counter() - t0, 3)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and solver.objective_value < value:
        search.best = _extract(inst, mod, solver)
    search.stats["secondary"] = info
    shown = [_format_objective(objective, info[k]) for k in ("initial", "value")]
    line = f"{objective} {shown[0]} -> {shown[1]} at period {sol.T} ({info['ended']})"
    search.progress.line(line, force=True)
    search.say(f"{line}, {info['seconds']:.2f} s")


def _secondary_info(
    search: _Search,
    watch: _ObjectiveWatch,
    objective: str,
    value: int,
    status: int | None,
    solver: cp_model.CpSolver,
) -> dict[str, Any]:
    """The secondary objective's statistics, and why its search ended."""
    info: dict[str, Any] = {"objective": objective, "initial": value, "value": value}
    info["improvements"] = watch.improved
    if status is None:
        info["status"] = "unknown"
    else:
        info["status"] = solver.status_name(status).lower()
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        info["value"] = min(value, int(round(solver.objective_value)))
        info["bound"] = int(math.ceil(solver.best_objective_bound - 1e-6))
    if status == cp_model.OPTIMAL:
        info["ended"] = "proven"
    elif search.budget.stop.is_set():
        info["ended"] = "interrupted"
    elif watch.idle():
        info["ended"] = f"no better value in {SECONDARY_PATIENCE:g} s"
    else:
        info["ended"] = "its share of the time limit"
    return info


# ------------------------------------------------------------------------ entry points
def _check_platform(problem: Problem) -> None:
    """Refuse what the model does not express: nothing any more (memory: C26-C29)."""


def _check_request(secondary: str | None, time_limit: float | None) -> None:
    if secondary is not None and secondary not in SECONDARY_OBJECTIVES:
        raise InputError(
            f"unknown secondary objective {secondary!r}; choose from {SECONDARY_OBJECTIVES}"
        )
    if time_limit is not None and not time_limit > 0:
        raise InputError(f"time limit must be positive, got {time_limit}")


def _warm_start(problem: Problem, options: Options) -> tuple[Schedule, str]:
    """The schedule to start from and where it came from.

    ``options.initial`` when given; else the registry's heuristic
    (:func:`lpsched.solvers.heuristic.modulo_schedule`) when it accepts the
    platform, with its default effort and at most :data:`WARM_START_SHARE` of
    the time limit (without a limit or with ``deterministic``: its default
    effort alone, bounded by its step count, so that a seed gives one answer);
    else every task on the fastest processor
    (:func:`lpsched.solvers.toolkit.one_processor`).
    """
    if options.initial is not None:
        return options.initial, "initial schedule"
    target = _heuristic_problem(problem, options.seed)
    if target is None:
        return one_processor(problem), "one processor"
    from ..errors import InfeasibleError
    from .memory_fit import memory_schedule

    limit = options.time_limit
    if limit is not None and not options.deterministic:
        limit = WARM_START_SHARE * limit
    else:
        limit = None
    # Without a memory capacity memory_schedule is modulo_schedule; with one, its
    # schedule fits, which is what the search needs to start from.
    try:
        sched = memory_schedule(
            target,
            lower_bound=problem.lower_bound,
            seed=options.seed,
            time_limit=limit,
            log=options.log,
            stop=options.stop,
        )
    except InfeasibleError:
        return one_processor(problem), "one processor"
    return _lift(sched, problem), "heuristic"


def _valid_schedule(schedule: Schedule) -> bool:
    from ..validate import validate

    return not validate(schedule)


def run_cpsat(problem: Problem, options: Options) -> Result:
    """The registry's ``cpsat``: :func:`solve_cpsat` from a warm start.

    Parameters
    ----------
    problem
        The task graph on its platform (any speeds, nodes and link classes).
    options
        Time limit, seed, workers, secondary objective, ``initial``,
        ``deterministic``, the logs, ``stop`` and ``incumbent`` (see
        :func:`solve_cpsat`). The warm start is ``options.initial``, else the
        registry's heuristic when it takes the platform, else every task on the
        fastest processor; the wall time it takes counts against the time limit
        (not with ``deterministic``, where the heuristic is bounded by its step
        count instead).

    Returns
    -------
    Result
        As :func:`solve_cpsat`, with the lower bound ``problem.lower_bound``.
    """
    _check_request(options.secondary, options.time_limit)
    clock = Clock(None)
    fallback = one_processor(problem)
    limited = any(q.memory is not None for q in problem.platform.processors)
    if not limited or _valid_schedule(fallback):  # (with memory it may not fit)
        options.incumbent.offer(fallback)  # something to keep if interrupted now
    initial, source = _warm_start(problem, options)
    if not problem.ports or _valid_schedule(initial):  # (ports: it may lack its transfers)
        options.incumbent.offer(initial)
    if options.log is not None:
        options.log(
            f"cpsat {clock.elapsed():5.1f} s  starts from the {source}: period {initial.period}"
        )
    limit = options.time_limit
    if limit is not None and not options.deterministic:
        limit = max(0.01, limit - clock.elapsed())
    settled = options.deterministic or options.time_limit is None  # the heuristic's own effort
    request = _Request(
        problem.lower_bound,
        initial,
        limit,
        options.workers,
        options.seed,
        options.secondary,
        options.log,
        options.deterministic,
        options.solver_log,
        options.stop,
        options.incumbent,
        began=clock.began,
        heuristic_bound=problem.lower_bound if source == "heuristic" and settled else None,
    )
    return _solve(problem, request)


def solve_cpsat(
    problem: Problem | TaskGraph,
    platform: Platform | int | None = None,
    *,
    lower_bound: int | None = None,
    initial: Schedule | None = None,
    time_limit: float | None = None,
    workers: int | None = None,
    seed: int = 0,
    secondary: str | None = "comm",
    log: Log | None = None,
    deterministic: bool = False,
    solver_log: Log | None = None,
    stop: threading.Event | None = None,
    incumbent: Incumbent | None = None,
) -> Result:
    """Minimise the period with CP-SAT, then a secondary objective at that period.

    Parameters
    ----------
    problem
        The problem, or a task graph (then ``platform`` is needed). With
        ``graph.staleness_cap`` set (the ``auto`` policy) each weighted layer's
        staleness is a decision in ``[1, cap]``; otherwise the distances are used
        as given.
    platform
        With a task graph: the platform, or ``P >= 1`` for the default platform
        of ``P`` identical processors.
    lower_bound
        A known lower bound on the period (default: ``problem.lower_bound``).
    initial
        A valid schedule of the problem to start from: its period is the first
        upper bound and it hints the first model. The result is never worse.
        Without one the search starts from every task on the fastest processor
        (the heuristic phase of :data:`PLAN` then runs as usual).
    time_limit
        Limit in seconds for the whole call (``None``: none): wall seconds, or
        deterministic ones with ``deterministic``. The call ends earlier once
        the period is proven and the secondary objective is proven or has
        stopped improving.
    workers
        CP-SAT search workers (default: the number of CPUs, at most 8; one with
        ``deterministic``).
    seed
        Random seed; with ``workers=1`` the same seed gives the same answer when
        no time limit is reached, and with ``deterministic`` always.
    secondary
        At the optimal period, minimise ``"comm"`` (bytes between processors per
        iteration) or ``"staleness"`` (total staleness; auto graphs only), or
        ``None``.
    log
        Receives lines for a person: one per better period or bound (time,
        period in units and ms, bound, gap), the secondary objective's result,
        and every step skipped on a big instance; ``None`` prints nothing.
    deterministic
        Budget every phase by CP-SAT's deterministic time and by work counts,
        never by the wall clock, with one worker and fixed seeds: the same call
        gives the same schedule on any machine however busy.
    solver_log
        Receives every step (prefixed ``cpsat:``) and CP-SAT's own log.
    stop
        When set (from another thread: Ctrl-C), the running CP-SAT search stops
        within about :data:`WATCH_SECONDS` and the best schedule so far returns.
    incumbent
        Receives every better schedule as it is found (for a caller that must
        return before the call does).

    Returns
    -------
    Result
        ``solver="cpsat"``, never ``INFEASIBLE`` (one processor always works).
        ``OPTIMAL`` only when the period equals the proven lower bound
        (``lower_bound``, the packing relaxation, one more than a period proven
        infeasible, or the variable-period model's bound); else ``FEASIBLE`` with
        that bound. ``stats`` lists every step (phase, period, outcome, seconds),
        the steps skipped (``notes``), the deterministic seconds spent and the
        secondary objective's result.

    Raises
    ------
    InputError
        On a bad platform or processor count, a platform with a memory
        capacity (the model has none), an unknown ``secondary``, a
        non-positive time limit, an ``initial`` schedule without some task of
        the graph, or a ``lower_bound`` above the period of a valid ``initial``
        schedule.
    """
    request = _Request(
        lower_bound,
        initial,
        time_limit,
        workers,
        seed,
        secondary,
        log,
        deterministic,
        solver_log,
        stop or threading.Event(),
        incumbent or Incumbent(),
    )
    return _solve(as_problem(problem, platform), request)


@dataclass(frozen=True)
class _Request:
    """The arguments of :func:`solve_cpsat`, and what :func:`run_cpsat` adds."""

    lower_bound: int | None
    initial: Schedule | None
    time_limit: float | None
    workers: int | None
    seed: int
    secondary: str | None
    log: Log | None
    deterministic: bool
    solver_log: Log | None
    stop: threading.Event
    incumbent: Incumbent
    began: float | None = None  # perf_counter() when the run began (progress lines count from it)
    heuristic_bound: int | None = None  # ``initial`` is the heuristic's default effort from here


def _solve(problem: Problem, request: _Request) -> Result:
    """:func:`solve_cpsat` of a problem: the period search, then the secondary objective."""
    clock = Clock(request.time_limit)
    _check_platform(problem)
    _check_request(request.secondary, request.time_limit)
    workers, stats = _workers(request)
    budget = _Budget(request.time_limit, request.deterministic, request.stop, clock)
    inst = _Instance.build(problem)
    bound = problem.lower_bound if request.lower_bound is None else int(request.lower_bound)
    lo = max(bound, max(inst.d), -(-sum(inst.d) // inst.P))
    best, pending = _first_solution(inst, request.initial, lo, request.log)
    shown = Clock(None, clock.began if request.began is None else request.began)
    progress = _Progress(request.log, shown, inst.graph.time_unit_seconds)
    search = _Search(
        inst, budget, workers, request.seed, lo, best, stats, progress, request.incumbent
    )
    search.log, search.solver_log = request.log, request.solver_log
    search.heuristic_bound = request.heuristic_bound
    search.pending = pending
    if inst.memory is not None:
        why = problem.bounds.memory_infeasible
        if why:
            return _infeasible(search, why)
        search.found = _is_valid(inst, best)  # (one processor need not fit)
    held = search.incumbent.best
    if search.found and (held is None or best.T < held.period):  # (run_cpsat offered its own)
        search.incumbent.offer(_to_schedule(inst, best))
    search.say(f"period in [{lo}, {best.T}], {inst.n} tasks, {inst.P} processors")
    progress.period(best.T, lo)
    if inst.n > MAX_ALL_PAIRS_TASKS:
        search.note(
            f"{inst.n} tasks: no all-pairs longest paths above {MAX_ALL_PAIRS_TASKS} "
            "(start windows from path lengths, no forced co-location)"
        )
    search.run(PLAN)
    objective = request.secondary
    wanted = (objective == "comm" and inst.P > 1) or (objective == "staleness" and inst.layers)
    if wanted and search.found and not budget.stop.is_set():
        assert objective is not None
        limit = _secondary_limit(budget)
        if limit > 0.05:
            _secondary(search, objective, limit)
    progress.flush()
    return _result(search)


def _workers(request: _Request) -> tuple[int, dict[str, Any]]:
    """CP-SAT's workers (one with ``deterministic``) and the statistics that start with them."""
    stats: dict[str, Any] = {"steps": []}
    workers = request.workers
    if request.deterministic:
        if workers not in (None, 1):
            stats["notes"] = [f"deterministic: one worker, not {workers}"]
        workers = 1
    elif workers is None:
        workers = max(1, min(8, os.cpu_count() or 1))
    stats["workers"] = workers
    return workers, stats


def _first_solution(
    inst: _Instance, initial: Schedule | None, lo: int, log: Log | None
) -> tuple[_Solution, _Solution | None]:
    """The first upper bound: ``initial`` when valid and better, else one processor.

    Second, under ports, ``initial`` when it is valid but for its transfers
    (to be completed by :meth:`_Search.complete`), else ``None``.
    """
    best = _from_schedule(inst, one_processor(inst.problem))
    if initial is None:
        return best, None
    for name in inst.names:
        if name not in initial.processor or name not in initial.start:
            raise InputError(f"initial schedule: no assignment for task {name!r}")
    if initial.period >= best.T:
        return best, None
    start = _from_schedule(inst, initial)
    if not _is_valid(inst, start):
        if inst.ports is not None and _is_valid(inst.delay_view(), start):
            return best, start
        if log is not None:
            log("cpsat: the initial schedule is not valid for this graph; ignored")
        return best, None
    if start.T < lo:
        raise InputError(
            f"lower bound {lo} exceeds the period {start.T} of the valid initial schedule"
        )
    return start, None


def _infeasible(search: _Search, why: str | None) -> Result:
    """No schedule: proven when ``why`` says why (:func:`lpsched.bounds.memory_infeasible`).

    Else (``None``) none that fits the memories was found: ``UNKNOWN``.
    """
    if why is not None:
        search.stats["infeasible"] = why
        search.note(f"infeasible: {why}")
    else:
        search.note("no schedule that fits the memories found in the time")
    search.stats["proven_lower_bound"] = search.lo
    return Result(
        schedule=None,
        status=Status.INFEASIBLE if why is not None else Status.UNKNOWN,
        lower_bound=search.lo,
        solver="cpsat",
        solve_seconds=search.clock.elapsed(),
        network=search.inst.graph.name,
        decomposition=search.inst.graph.decomposition,
        stats=search.stats,
    )


def _result(search: _Search) -> Result:
    """The best schedule with its status: ``OPTIMAL`` only at the proven bound.

    Memory: no schedule and ``UNKNOWN`` when none that fits was found.
    """
    inst = search.inst
    if not search.found:
        return _infeasible(search, None)
    schedule = _to_schedule(inst, search.best)
    lo = search.lo
    if lo > schedule.period:  # a proof contradicted by a valid schedule: a bug
        raise RuntimeError(f"cpsat: proven bound {lo} above the period {schedule.period}")
    search.stats["proven_lower_bound"] = lo
    search.stats["deterministic_seconds"] = round(search.budget.used, 3)
    if search.budget.stop.is_set():
        search.stats["stopped"] = True
    return Result(
        schedule=schedule,
        status=claim(schedule.period, lo),
        lower_bound=lo,
        solver="cpsat",
        solve_seconds=search.clock.elapsed(),
        network=inst.graph.name,
        decomposition=inst.graph.decomposition,
        stats=search.stats,
    )
