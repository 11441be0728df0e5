"""A problem: one task graph on one platform, with everything the solvers derive from the pair.

:class:`Problem` is built once and handed to every solver and bound. It holds a
task's duration on each processor (``ceil(d / speed)``), each edge's
communication cost in each link class, and the lower bounds, computed once.
The validator does not use it: it recomputes all of this from the schedule
file, so that it can catch the solvers' mistakes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING

from .errors import InputError
from .graph import Edge, TaskGraph
from .placement import check_placement, placement_units
from .platform import LINK_CLASSES, Link, Platform, platform_of

if TYPE_CHECKING:
    from .bounds import Bounds

# Products of floats that are integers in exact arithmetic (3 * 25e-6 / 25e-6) land a
# few ulps above the integer; this tolerance keeps ceil() from adding a unit.
_REL_TOL = 1e-9


def exact_speed(speed: float) -> Fraction:
    """A speed as the decimal it is written as: ``0.6`` is 3/5, not the binary float nearest it."""
    return Fraction(repr(float(speed)))


def scaled_duration(duration: int, speed: float) -> int:
    """``ceil(duration / speed)``, exactly, with the speed as written (:func:`exact_speed`)."""
    return max(1, math.ceil(Fraction(duration) / exact_speed(speed)))


def _duration_table(graph: TaskGraph, speeds: tuple[float, ...]) -> tuple[tuple[int, ...], ...]:
    """``durations[v][p]``, computed once per distinct speed in integer arithmetic.

    ``ceil(d / (a/b)) = ceil(d b / a)`` for the speed ``a/b`` as written.
    """
    distinct = sorted(set(speeds))
    column = {}
    for s in distinct:
        q = exact_speed(s)
        a, b = q.numerator, q.denominator
        column[s] = [max(1, -(-t.duration * b // a)) for t in graph.tasks]
    if len(distinct) == 1:
        row_of = column[distinct[0]]
        return tuple((d,) * len(speeds) for d in row_of)
    cols = [column[s] for s in speeds]
    return tuple(zip(*cols, strict=True))


def message_units(nbytes: int, link: Link, unit_seconds: float) -> int:
    """Time units one message of ``nbytes`` takes on ``link``: ``ceil((lat + b/bw) / unit)``.

    No bytes, no message: 0, not even the latency.
    """
    if nbytes == 0:
        return 0
    x = (link.latency + nbytes / link.bandwidth) / unit_seconds
    return math.ceil(x - _REL_TOL * abs(x))


@dataclass(frozen=True)
class Tensor:
    """A tensor that may travel between processors under ``capacity: ports``.

    Attributes
    ----------
    producer
        Index of the task that produces it.
    name
        Its name (:func:`lpsched.schedule.tensor_name`).
    bytes
        Its size.
    edges
        Indices of the edges that read it (all from ``producer``).
    """

    producer: int
    name: str
    bytes: int
    edges: tuple[int, ...]


def ceil_units(seconds: float, unit_seconds: float) -> int:
    """Whole time units of ``seconds``, rounded up (0 for no time)."""
    if seconds == 0:
        return 0
    x = seconds / unit_seconds
    return math.ceil(x - _REL_TOL * abs(x))


@dataclass(frozen=True)
class Problem:
    """A task graph on a platform: the instance every solver and bound takes.

    Parameters
    ----------
    graph
        The task graph (durations at speed 1).
    platform
        The platform; an integer ``P`` is the default platform of ``P`` processors.
    placement
        Where the tasks of one layer may go (:mod:`lpsched.placement`):
        ``free``, ``layer`` or ``stages``.

    Attributes
    ----------
    durations
        ``durations[v][p]``: task ``v``'s duration on processor ``p``.
    comm
        ``comm[e]``: edge ``e``'s cost across processors per link class,
        ``{"intra": c, "inter": c}`` (equal for a fixed ``comm``).

    Raises
    ------
    InputError
        When edges carry bytes but the graph's time unit is no time (then no
        link time can be expressed in it).
    """

    graph: TaskGraph
    platform: Platform
    placement: str
    durations: tuple[tuple[int, ...], ...] = field(init=False, repr=False)
    comm: tuple[dict[str, int], ...] = field(init=False, repr=False)

    def __init__(self, graph: TaskGraph, platform: Platform | int, placement: str = "free") -> None:
        object.__setattr__(self, "graph", graph)
        object.__setattr__(self, "platform", platform_of(platform))
        object.__setattr__(self, "placement", check_placement(placement))
        _check_size(graph, self.platform)
        object.__setattr__(self, "durations", _duration_table(graph, self.platform.speeds))
        object.__setattr__(self, "comm", tuple(self._edge_costs(e) for e in graph.edges))

    def _edge_costs(self, e: Edge) -> dict[str, int]:
        if e.comm is not None:
            return dict.fromkeys(LINK_CLASSES, e.comm)
        if e.bytes == 0:
            return dict.fromkeys(LINK_CLASSES, 0)
        unit = self.graph.time_unit_seconds
        if unit is None:
            raise InputError(
                f"edge {e.src} -> {e.dst} carries bytes, but the time unit "
                f"{self.graph.time_unit!r} is no time; give the edge a fixed 'comm'"
            )
        links = {"intra": self.platform.intra, "inter": self.platform.inter}
        return {c: message_units(e.bytes, links[c], unit) for c in LINK_CLASSES}

    # ------------------------------------------------------------------ access
    @property
    def P(self) -> int:  # noqa: N802 (the field's name for the processor count)
        """Number of processors."""
        return self.platform.P

    @property
    def n(self) -> int:
        """Number of tasks."""
        return self.graph.n

    def duration(self, v: int, p: int) -> int:
        """Duration of task ``v`` (an index) on processor ``p``."""
        return self.durations[v][p]

    def edge_cost(self, e: int, p: int, q: int) -> int:
        """Communication cost of edge ``e`` (an index) from processor ``p`` to ``q``."""
        if p == q:
            return 0
        return self.comm[e][self.platform.link_class(p, q)]

    @cached_property
    def min_durations(self) -> list[int]:
        """Each task's duration on the fastest processor."""
        return [min(row) for row in self.durations]

    @cached_property
    def min_comm(self) -> list[int]:
        """Each edge's cheapest cost across processors (the class of the cheapest link).

        Only the link classes some two processors use count: with one processor
        per node every crossing is ``inter``; on one processor nothing crosses.
        """
        classes = self.platform.link_classes
        if not classes:
            return [0 for _ in self.comm]
        return [min(c[k] for k in classes) for c in self.comm]

    @property
    def uniform(self) -> bool:
        """Identical processors and one link class: durations and costs need no processor."""
        return self.platform.uniform

    def relaxed_graph(self) -> TaskGraph:
        """The graph with every duration at the fastest speed and every cost at the cheapest link.

        Every schedule of this problem is a schedule of the relaxed graph on
        ``P`` identical processors (tasks only get shorter, messages cheaper),
        so any lower bound of the relaxed graph bounds this problem. On a
        uniform platform it is this problem exactly.
        """
        tasks = tuple(
            replace(t, duration=d)
            for t, d in zip(self.graph.tasks, self.min_durations, strict=True)
        )
        edges = tuple(
            replace(e, comm=c) for e, c in zip(self.graph.edges, self.min_comm, strict=True)
        )
        return replace(self.graph, tasks=tasks, edges=edges)

    @cached_property
    def tensors(self) -> list[Tensor]:
        """The tensors edges carry as messages: derived cost (no fixed ``comm``) and bytes > 0.

        Under ``capacity: ports`` each travels once to every other processor
        that runs one of its readers; edges with a fixed ``comm`` stay pure delays.
        """
        from .schedule import tensor_name

        groups: dict[tuple[int, str], list[int]] = {}
        for i, e in enumerate(self.graph.edges):
            if e.comm is None and e.bytes > 0:
                key = (self.graph.index(e.src), tensor_name(self.graph, i))
                groups.setdefault(key, []).append(i)
        return [
            Tensor(u, name, max(self.graph.edges[i].bytes for i in idx), tuple(idx))
            for (u, name), idx in groups.items()
        ]

    @property
    def ports(self) -> bool:
        """Whether links are ports (``capacity: ports``): messages are transfers that busy them."""
        return self.platform.capacity == "ports"

    @cached_property
    def tensor_of_edge(self) -> dict[int, int]:
        """Edge index -> index in :attr:`tensors` of the tensor it carries (messages only).

        Under ``capacity: ports`` these edges take no :meth:`edge_cost`: their
        data arrives by the tensor's transfer, (P5)-(P7) of ``formulations/README.md``.
        """
        return {e: k for k, t in enumerate(self.tensors) for e in t.edges}

    def delay_cost(self, e: int, p: int, q: int) -> int:
        """The cost of edge ``e`` from ``p`` to ``q`` as a pure delay in this link model.

        Under ``capacity: delay`` it is :meth:`edge_cost`; under ``ports`` an
        edge that carries a tensor costs 0 here (its transfer carries it) and
        an edge with a fixed ``comm`` keeps its delay.
        """
        if self.ports and e in self.tensor_of_edge:
            return 0
        return self.edge_cost(e, p, q)

    def transfer_time(self, k: int, p: int, q: int) -> int:
        """Time units tensor ``k`` (of :attr:`tensors`) busies the ports from ``p`` to ``q``."""
        return 0 if p == q else self.transfer_units(self.tensors[k].bytes, p, q)

    def arrival_delay(self, k: int, p: int, q: int) -> int:
        """From a transfer's start to when tensor ``k`` may be read on ``q``: ``tau + latency``."""
        if p == q:
            return 0
        return self.transfer_time(k, p, q) + self.latency_units(p, q)

    def transfer_units(self, nbytes: int, p: int, q: int) -> int:
        """Time units a transfer of ``nbytes`` from ``p`` to ``q`` occupies their ports."""
        link = self.platform.link(p, q)
        unit = self.graph.time_unit_seconds
        if math.isinf(link.bandwidth) or unit is None:
            return 0
        return ceil_units(nbytes / link.bandwidth, unit)

    def latency_units(self, p: int, q: int) -> int:
        """The latency between ``p`` and ``q`` in whole time units (ports model)."""
        unit = self.graph.time_unit_seconds
        return 0 if unit is None else ceil_units(self.platform.link(p, q).latency, unit)

    @cached_property
    def units(self) -> tuple[tuple[int, ...], ...]:
        """Task indices per layer in layer order (:func:`lpsched.placement.placement_units`).

        Under ``placement`` ``layer`` or ``stages`` each unit sits on one processor.
        """
        return placement_units(self.graph)

    @cached_property
    def bounds(self) -> Bounds:
        """The lower bounds (:func:`lpsched.bounds.lower_bounds`), computed once."""
        from .bounds import problem_bounds

        return problem_bounds(self)

    @property
    def lower_bound(self) -> int:
        """The best lower bound on the period."""
        return self.bounds.lower_bound


#: The most task-processor pairs a problem may have: every solver keeps a table (or
#: variables) of that size, and 10 million is ten times a 20,000-task graph on 500
#: processors.
MAX_PAIRS = 10_000_000


def _check_size(graph: TaskGraph, platform: Platform) -> None:
    """Refuse an instance too large for any solver, and durations past the graph's limits."""
    from .platform import check_scale

    pairs = graph.n * platform.P
    if pairs > MAX_PAIRS:
        raise InputError(
            f"{graph.n} tasks on {platform.P} processors are {pairs} task-processor pairs, "
            f"more than the limit of {MAX_PAIRS:,}: use fewer processors or a coarser "
            "decomposition"
        )
    check_scale(platform, graph)


def as_problem(
    graph: TaskGraph | Problem,
    platform: Platform | int | None = None,
    placement: str | None = None,
) -> Problem:
    """A :class:`Problem` from a problem, or from a graph, a platform (or ``P``) and a placement.

    ``placement=None`` keeps a problem's own and means ``free`` for a graph.
    """
    if isinstance(graph, Problem):
        if platform is not None and platform_of(platform) != graph.platform:
            raise InputError("a Problem already has its platform; pass no other")
        if placement is not None and placement != graph.placement:
            return Problem(graph.graph, graph.platform, placement)
        return graph
    if platform is None:
        raise InputError("a task graph needs a platform or a processor count")
    return Problem(graph, platform, "free" if placement is None else placement)
