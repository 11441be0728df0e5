"""What every solver needs alike: the clock, least staleness, the one-processor schedule, status.

Solvers import these instead of writing them again; nothing here knows any
one formulation.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import networkx as nx

from ..problem import Problem
from ..schedule import Schedule, Status


@dataclass
class Clock:
    """Wall time since creation against an optional limit in seconds.

    Parameters
    ----------
    limit
        Seconds, or ``None`` for no limit.
    """

    limit: float | None
    began: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        """Seconds since creation."""
        return time.perf_counter() - self.began

    def remaining(self) -> float:
        """Seconds left (``math.inf`` without a limit, never below 0)."""
        if self.limit is None:
            return math.inf
        return max(0.0, self.limit - self.elapsed())

    def share(self, fraction: float, cap: float = math.inf) -> float:
        """``fraction`` of the seconds left, at most ``cap`` (``cap`` without a limit)."""
        left = self.remaining()
        return min(cap, left * fraction) if math.isfinite(left) else cap

    @property
    def expired(self) -> bool:
        """Whether the limit has passed."""
        return self.remaining() <= 0


class Incumbent:
    """The best schedule found so far, offered by a solver as it searches (thread-safe).

    An interrupted solve returns it: a solver offers every schedule it is about
    to rely on (valid for its problem), the lowest period wins.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._best: Schedule | None = None

    def offer(self, schedule: Schedule | None) -> None:
        """Keep ``schedule`` when it beats the best so far."""
        if schedule is None:
            return
        with self._lock:
            if self._best is None or schedule.period < self._best.period:
                self._best = schedule

    @property
    def best(self) -> Schedule | None:
        """The best schedule offered, or ``None``."""
        with self._lock:
            return self._best


def claim(period: int | None, bound: int, proven: bool = False) -> Status:
    """The status a solver may claim: ``OPTIMAL`` only when the period is proven minimal.

    Proven means the period equals a lower bound, or the solver itself
    proved that no smaller period exists (``proven``). A time limit that ends
    the search leaves ``FEASIBLE``; without a schedule the status is
    ``UNKNOWN`` (``INFEASIBLE`` is only ever set by a solver that proved it).
    """
    if period is None:
        return Status.UNKNOWN
    if period <= bound or proven:
        return Status.OPTIMAL
    return Status.FEASIBLE


def least_staleness(schedule: Schedule) -> Schedule:
    """Lower every layer's staleness to the least that the start times allow.

    Only for graphs built with the ``auto`` staleness policy
    (``graph.staleness_cap`` set); other schedules come back unchanged. A weight
    edge ``u -> v`` of layer ``l`` needs ``s_l * T >= s_u + d_u + c - s_v``, so
    ``s_l = max(1, ceil((s_u + d_u + c - s_v) / T))`` over the layer's weight
    edges keeps the schedule valid with the smallest delay of the gradients.
    Under ``capacity: ports`` an edge whose tensor crosses processors needs
    its transfer's arrival instead, ``s_l * T >= t + tau + latency - s_v``
    ((P6) of ``formulations/README.md``); the transfers stay as they are (a
    distance changes neither (P5) nor the ports, (P7)).
    """
    graph = schedule.graph
    if graph.staleness_cap is None:
        return schedule
    problem = Problem(graph, schedule.platform)
    arrival = _arrivals(problem, schedule)
    need: dict[str, int] = {}
    T = schedule.period
    for i, e in enumerate(graph.edges):
        if e.weights is None:
            continue
        pu, pv = schedule.processor[e.src], schedule.processor[e.dst]
        ready = schedule.start[e.src] + schedule.duration(e.src) + problem.delay_cost(i, pu, pv)
        k = problem.tensor_of_edge.get(i) if problem.ports and pu != pv else None
        if k is not None and (k, pv) in arrival:
            ready = arrival[(k, pv)]
        slack = ready - schedule.start[e.dst]
        need[e.weights] = max(need.get(e.weights, 1), 1, math.ceil(slack / T))
    return schedule.with_graph(graph.with_staleness(need))


def _arrivals(problem: Problem, schedule: Schedule) -> dict[tuple[int, int], int]:
    """``(tensor index, destination) -> arrival`` of the schedule's transfers (ports only).

    A transfer the problem does not know (another graph's) is left out: its
    edges then keep the pure-delay bound, and the validator judges the rest.
    """
    if not problem.ports:
        return {}
    index = {
        (problem.graph.tasks[t.producer].name, t.name): k for k, t in enumerate(problem.tensors)
    }
    out = {}
    for x in schedule.transfers:
        k = index.get((x.producer, x.tensor))
        if k is not None:
            out[(k, x.dst)] = x.start + x.duration + problem.latency_units(x.src, x.dst)
    return out


def one_processor(problem: Problem) -> Schedule:
    """Every task on the fastest processor, back to back in a topological order.

    The period is the total work there; every distance-0 edge goes forward
    in the order, and every edge of distance ``w >= 1`` reaches at least one
    period ahead, so the schedule is valid (the graph's distances as given;
    an ``auto`` graph at its cap).
    """
    graph = problem.graph
    p = max(range(problem.P), key=lambda q: (problem.platform.processors[q].speed, -q))
    dag = nx.DiGraph()
    dag.add_nodes_from(range(graph.n))
    dag.add_edges_from(
        (graph.index(e.src), graph.index(e.dst))
        for e in graph.edges
        if e.distance == 0 and e.src != e.dst
    )
    start: dict[str, int] = {}
    t = 0
    for v in nx.lexicographical_topological_sort(dag):
        start[graph.tasks[v].name] = t
        t += problem.duration(v, p)
    processor = dict.fromkeys(start, p)
    return Schedule(graph, problem.platform, t, processor, start)
