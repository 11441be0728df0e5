"""Task graphs: the periodic scheduling instance (``formulations/README.md``, section 1).

A :class:`TaskGraph` holds tasks with integer durations (at speed 1) and edges
with a distance (iterations crossed), the tensor they carry and its bytes. The
communication an edge costs across processors follows from its bytes and the
link between the two processors (:mod:`lpsched.problem`); an edge with a fixed
``comm`` is a pure delay instead. Constructors check their input and raise
:class:`~lpsched.errors.InputError` with a message naming the problem.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import networkx as nx

from .errors import InputError
from .files import brief, read_json, refuse_kind, write_text_atomic
from .units import check_integer, limit_text, time_unit_value

__all__ = [
    "GRAPH_FORMAT",
    "GRAPH_FORMATS",
    "MAX_BYTES",
    "MAX_DISTANCE",
    "MAX_EDGES",
    "MAX_INT",
    "MAX_NAME",
    "MAX_TASKS",
    "MAX_UNITS",
    "MAX_UNIT_SECONDS",
    "MIN_UNIT_SECONDS",
    "Edge",
    "Task",
    "TaskGraph",
    "make_graph",
    "read_json",
    "time_unit_seconds",
    "write_text_atomic",
]

GRAPH_FORMAT = "lpsched-graph/2"

#: Formats :meth:`TaskGraph.from_dict` reads; in version 1 every edge has a fixed ``comm``.
GRAPH_FORMATS = ("lpsched-graph/1", GRAPH_FORMAT)

#: The most time units a task may last, a fixed message may cost and a graph's total work
#: may sum to in a graph read from a file or built from a network
#: (:meth:`TaskGraph.check_limits`). The period on one processor is at most the total
#: work, so every period a solver needs fits in 2**40 and, times a distance of at most
#: :data:`MAX_DISTANCE` (< 2**20), in 2**60: int64 arithmetic (CP-SAT, HiGHS, numpy)
#: never overflows. With a time unit of 1 ns it is 18 minutes per task.
MAX_UNITS = 2**40

#: What :class:`TaskGraph` itself accepts for a duration or a fixed comm: any int64
#: with room to add a few of them. Graphs from files and networks meet :data:`MAX_UNITS`.
MAX_INT = 2**62

#: The most bytes an edge may carry (an exabyte).
MAX_BYTES = 2**60

#: The largest distance (iterations crossed) of an edge, and so the largest staleness.
MAX_DISTANCE = 10**6

#: The most tasks and edges in one graph: ten times the largest graph lpsched has been
#: benchmarked on (20,000 tasks), so that a hostile file is refused before any solver
#: builds tables of it.
MAX_TASKS = 200_000
MAX_EDGES = 1_000_000

#: The most characters in a task, layer or tensor name.
MAX_NAME = 1000

#: The time units a graph may have, in seconds: 1 ns to 1 hour. A finer unit makes
#: every duration exceed :data:`MAX_UNITS`; a coarser one rounds every task to one unit.
MIN_UNIT_SECONDS = 1e-9
MAX_UNIT_SECONDS = 3600.0


@dataclass(frozen=True)
class Task:
    """One schedulable task.

    Parameters
    ----------
    name
        Unique name, e.g. ``"F:conv1"``.
    duration
        Positive integer duration in the graph's time unit.
    layer
        The network layer the task belongs to (may be empty).
    kind
        ``F``, ``D``, ``G``, ``W``, ``U`` or a merged kind (``B``, ``A``, ``WU``).
    """

    name: str
    duration: int
    layer: str = ""
    kind: str = ""


@dataclass(frozen=True)
class Edge:
    """A precedence ``src -> dst``: ``s_dst + distance*T >= s_src + d_src + c(p_src, p_dst)``.

    ``c(p, q)`` is 0 on one processor. Across processors it is ``comm`` when
    the edge has a fixed ``comm`` (a pure delay), else the time the link
    between ``p`` and ``q`` takes to send ``bytes`` (latency + bytes /
    bandwidth, in whole time units; nothing when ``bytes`` is 0).

    Parameters
    ----------
    src, dst
        Task names.
    distance
        Non-negative number of iterations the edge reaches across.
    comm
        A fixed communication delay in time units, charged only across
        processors, or ``None`` to derive it from ``bytes`` and the platform.
    bytes
        Data carried per iteration.
    weights
        Name of the layer whose weights the edge carries (``U -> F`` and
        ``U -> G`` edges), else ``None``. Its distance is that layer's staleness.
    tensor
        Name of the tensor carried (``"a:conv1"``); edges from one producer with
        the same tensor carry the same data. ``None``: a tensor of its own.
    """

    src: str
    dst: str
    distance: int = 0
    comm: int | None = None
    bytes: int = 0
    weights: str | None = None
    tensor: str | None = None


def _check_int(value: Any, what: Callable[[], str], minimum: int, maximum: int) -> int:
    """``value`` when an exact integer in range, else :func:`check_integer`'s message.

    ``what`` is called only for a message: building one per task would cost more
    than the check (graphs have 20,000 tasks).
    """
    if type(value) is int and minimum <= value <= maximum:
        return value
    # Exact: 3.0 is no integer (issue 20: it passed the check and crashed later).
    return check_integer(value, what(), minimum, maximum)


def _shown(name: Any) -> str:
    """A task name as messages show it: as is when short and printable, else quoted and cut."""
    if isinstance(name, str) and len(name) <= 80 and name.isprintable():
        return name
    return brief(name)


def _check_name(value: Any, what: Callable[[], str], *, empty: bool = False) -> None:
    if type(value) is str and (value or empty) and len(value) <= MAX_NAME and value.isprintable():
        return
    what = what()
    if not isinstance(value, str) or (not value and not empty):
        kind = "a string" if empty else "a non-empty string"
        raise InputError(f"{what} must be {kind}, got {brief(value)}")
    if len(value) > MAX_NAME:
        raise InputError(f"{what} is longer than {MAX_NAME} characters: {brief(value)}")
    if not value.isprintable():  # a newline or NUL would break one-line messages and tables
        raise InputError(f"{what} must be printable (no control characters), got {brief(value)}")


@dataclass(frozen=True)
class TaskGraph:
    """A periodic scheduling instance: tasks and edges with distances and costs.

    Parameters
    ----------
    tasks
        The tasks; names must be unique, durations positive integers.
    edges
        The edges; both ends must be tasks, distances and costs non-negative
        integers. Distance-0 edges must form a DAG.
    time_unit
        The unit of durations and costs (e.g. ``"us"``).
    name
        The network the graph was built from, if any.
    decomposition
        The decomposition it was built with, if any.
    staleness_cap
        ``None`` when the distances are fixed (always so for a graph read from a
        file). An integer when the staleness policy is ``auto``: every weight
        edge then has this distance, and a scheduler may lower each layer's
        staleness to the least its start times allow.
    rounding_error
        Relative rounding error of the cost model (``sum(rounded) / sum(exact) - 1``),
        when the graph was built from a network.

    Raises
    ------
    InputError
        On duplicate or unknown task names, bad durations, distances or costs,
        or a cycle whose distances sum to zero.
    """

    tasks: tuple[Task, ...]
    edges: tuple[Edge, ...]
    time_unit: str = "us"
    name: str = ""
    decomposition: str = ""
    staleness_cap: int | None = None
    rounding_error: float | None = None
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "edges", tuple(self.edges))
        if len(self.tasks) > MAX_TASKS or len(self.edges) > MAX_EDGES:
            raise InputError(
                f"task graph has {len(self.tasks)} tasks and {len(self.edges)} edges; "
                f"at most {MAX_TASKS} tasks and {MAX_EDGES} edges"
            )
        index = self._check_tasks()
        if not self.tasks:
            raise InputError("task graph has no tasks")
        for e in self.edges:
            self._check_edge(e, index)
        if self.staleness_cap is not None:
            _check_int(self.staleness_cap, lambda: "staleness cap", 1, MAX_DISTANCE)
        self._check_labels()
        object.__setattr__(self, "_index", index)
        cycle = self.zero_distance_cycle()
        if cycle:
            loop = " -> ".join([*cycle, cycle[0]])
            raise InputError(f"cycle with zero total distance: {loop}")

    def _check_tasks(self) -> dict[str, int]:
        """The index of task names; refuses bad names, duplicates and durations."""
        index: dict[str, int] = {}
        for i, t in enumerate(self.tasks):
            if not isinstance(t, Task):
                raise InputError(f"task {i}: expected a Task, got {brief(t)}")
            _check_name(t.name, lambda i=i: f"task {i}: name")
            if t.name in index:
                raise InputError(f"duplicate task name {brief(t.name)}")
            _check_int(t.duration, lambda t=t: f"task {brief(t.name)}: duration", 1, MAX_INT)
            _check_name(t.layer, lambda t=t: f"task {brief(t.name)}: layer", empty=True)
            _check_name(t.kind, lambda t=t: f"task {brief(t.name)}: kind", empty=True)
            index[t.name] = i
        return index

    @staticmethod
    def _check_edge(e: Edge, index: Mapping[str, int]) -> None:
        if not isinstance(e, Edge):
            raise InputError(f"expected an Edge, got {brief(e)}")

        def where() -> str:
            return f"edge {_shown(e.src)} -> {_shown(e.dst)}"

        for end in (e.src, e.dst):
            if not isinstance(end, str) or end not in index:
                raise InputError(f"{where()}: unknown task {brief(end)}")
        _check_int(e.distance, lambda: f"{where()}: distance", 0, MAX_DISTANCE)
        if e.comm is not None:
            _check_int(e.comm, lambda: f"{where()}: comm", 0, MAX_INT)
        _check_int(e.bytes, lambda: f"{where()}: bytes", 0, MAX_BYTES)
        if e.tensor is not None and not isinstance(e.tensor, str):
            raise InputError(f"{where()}: tensor must be a string")
        if e.tensor is not None:
            _check_name(e.tensor, lambda: f"{where()}: tensor")
        if e.weights is not None:
            _check_name(e.weights, lambda: f"{where()}: weights")

    def _check_labels(self) -> None:
        for key in ("time_unit", "name", "decomposition"):
            if not isinstance(getattr(self, key), str):
                raise InputError(f"{key} must be a string, got {brief(getattr(self, key))}")
        seconds = time_unit_seconds(self.time_unit)
        if seconds is not None and not (
            MIN_UNIT_SECONDS * (1 - 1e-9) <= seconds <= MAX_UNIT_SECONDS * (1 + 1e-9)
        ):
            raise InputError(
                f"time unit {brief(self.time_unit)} must be between 1ns and 1h "
                f"({MIN_UNIT_SECONDS:g} to {MAX_UNIT_SECONDS:g} s)"
            )
        err = self.rounding_error
        if err is not None and (
            isinstance(err, bool) or not isinstance(err, int | float) or not err >= -1
        ):
            raise InputError(f"rounding_error must be a number >= -1, got {brief(err)}")

    def check_limits(self) -> None:
        """Refuse durations, fixed comms or a total work above :data:`MAX_UNITS`.

        Graphs read from files and built from networks are checked so; a graph
        built in Python may go up to :data:`MAX_INT` (bounds are exact there).

        Raises
        ------
        InputError
            Naming the task or edge and the limit.
        """
        limit = limit_text(MAX_UNITS)
        for t in self.tasks:
            if t.duration > MAX_UNITS:
                raise InputError(
                    f"task {brief(t.name)}: duration {t.duration} exceeds the limit of {limit} "
                    f"time units (a coarser time unit makes it smaller)"
                )
        for e in self.edges:
            if e.comm is not None and e.comm > MAX_UNITS:
                raise InputError(
                    f"edge {_shown(e.src)} -> {_shown(e.dst)}: comm {e.comm} exceeds the limit "
                    f"of {limit} time units"
                )
        if self.total_work > MAX_UNITS:
            raise InputError(
                f"total work {self.total_work} exceeds the limit of {limit} time units "
                "(a coarser time unit makes it smaller)"
            )

    # ------------------------------------------------------------------ access
    @property
    def n(self) -> int:
        """Number of tasks."""
        return len(self.tasks)

    def index(self, name: str) -> int:
        """Position of task ``name`` in :attr:`tasks`."""
        try:
            return self._index[name]
        except KeyError:
            raise InputError(f"unknown task {name!r}") from None

    def task(self, name: str) -> Task:
        """The task called ``name``."""
        return self.tasks[self.index(name)]

    @property
    def durations(self) -> list[int]:
        """Durations in task order."""
        return [t.duration for t in self.tasks]

    @property
    def total_work(self) -> int:
        """Sum of all durations (the period on one processor without communication)."""
        return sum(t.duration for t in self.tasks)

    @property
    def time_unit_seconds(self) -> float | None:
        """Seconds per time unit (``"25us"`` -> ``2.5e-05``), ``None`` when the unit is no time."""
        return time_unit_seconds(self.time_unit)

    @property
    def layers(self) -> list[str]:
        """Layer names in order of first appearance."""
        return list(dict.fromkeys(t.layer for t in self.tasks if t.layer))

    def staleness(self) -> dict[str, int]:
        """Each layer's staleness: the largest distance of its weight edges."""
        out: dict[str, int] = {}
        for e in self.edges:
            if e.weights is not None:
                out[e.weights] = max(out.get(e.weights, 0), e.distance)
        return out

    def with_staleness(self, staleness: Mapping[str, int]) -> TaskGraph:
        """A copy whose weight edges of each layer in ``staleness`` get that distance.

        The copy has fixed distances (``staleness_cap=None``).
        """
        edges = tuple(
            replace(e, distance=int(staleness[e.weights]))
            if e.weights is not None and e.weights in staleness
            else e
            for e in self.edges
        )
        return replace(self, edges=edges, staleness_cap=None)

    def to_networkx(self) -> nx.MultiDiGraph:
        """The graph as a networkx multigraph; edge attributes as in :class:`Edge`."""
        g = nx.MultiDiGraph()
        for t in self.tasks:
            g.add_node(t.name, duration=t.duration, layer=t.layer, kind=t.kind)
        for e in self.edges:
            g.add_edge(
                e.src, e.dst, distance=e.distance, comm=e.comm, bytes=e.bytes, tensor=e.tensor
            )
        return g

    def zero_distance_cycle(self) -> list[str]:
        """A cycle of distance-0 edges as a list of task names, or ``[]`` when there is none.

        An iterative depth-first search, linear in the graph (``networkx.find_cycle``
        took a minute on a 20,000-task DAG, issue 20).
        """
        succ: list[list[int]] = [[] for _ in self.tasks]
        for e in self.edges:
            if e.distance == 0:
                succ[self._index[e.src]].append(self._index[e.dst])
        state = [0] * len(self.tasks)  # 0 unseen, 1 on the current path, 2 done
        parent = [-1] * len(self.tasks)
        for root in range(len(self.tasks)):
            if state[root]:
                continue
            state[root] = 1
            stack = [(root, iter(succ[root]))]
            while stack:
                u, successors = stack[-1]
                for v in successors:
                    if state[v] == 0:
                        state[v], parent[v] = 1, u
                        stack.append((v, iter(succ[v])))
                        break
                    if state[v] == 1:  # back to the path: v -> ... -> u -> v
                        cycle = [u]
                        while cycle[-1] != v:
                            cycle.append(parent[cycle[-1]])
                        return [self.tasks[i].name for i in reversed(cycle)]
                else:
                    state[u] = 2
                    stack.pop()
        return []

    # --------------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        """The graph in the ``lpsched-graph/2`` JSON format (``comm`` only where it is fixed)."""
        out: dict[str, Any] = {"format": GRAPH_FORMAT, "time_unit": self.time_unit}
        if self.name:
            out["network"] = self.name
        if self.decomposition:
            out["decomposition"] = self.decomposition
        if self.rounding_error is not None:
            out["rounding_error"] = self.rounding_error
        out["tasks"] = [
            {"name": t.name, "duration": t.duration, "layer": t.layer, "kind": t.kind}
            for t in self.tasks
        ]
        edges = []
        for e in self.edges:
            d: dict[str, Any] = {"src": e.src, "dst": e.dst, "distance": e.distance}
            if e.comm is not None:
                d["comm"] = e.comm
            d["bytes"] = e.bytes
            if e.tensor is not None:
                d["tensor"] = e.tensor
            if e.weights is not None:
                d["weights"] = e.weights
            edges.append(d)
        out["edges"] = edges
        return out

    @classmethod
    def from_dict(cls, data: Any, source: str = "task graph") -> TaskGraph:
        """Read the ``lpsched-graph/2`` (or ``/1``) format; distances are kept exactly as given.

        In version 1 every edge's ``comm`` (default 0) is a fixed delay, as it
        was then; in version 2 an edge without ``comm`` derives it from its bytes.

        Raises
        ------
        InputError
            When the data does not follow the format; the message names ``source``.
        """
        if not isinstance(data, dict):
            raise InputError(f"{source}: expected a JSON object")
        refuse_kind(data, source, "lpsched-graph", GRAPH_FORMAT)
        fmt = data.get("format")
        if fmt not in GRAPH_FORMATS:
            raise InputError(f"{source}: format must be {GRAPH_FORMAT!r}, got {brief(fmt)}")
        default_comm = 0 if fmt == GRAPH_FORMATS[0] else None
        raw_tasks = data.get("tasks")
        raw_edges = data.get("edges", [])
        if not isinstance(raw_tasks, list) or not isinstance(raw_edges, list):
            raise InputError(f"{source}: 'tasks' and 'edges' must be lists")
        if len(raw_tasks) > MAX_TASKS or len(raw_edges) > MAX_EDGES:  # before building them
            raise InputError(
                f"{source}: {len(raw_tasks)} tasks and {len(raw_edges)} edges; "
                f"at most {MAX_TASKS} tasks and {MAX_EDGES} edges"
            )
        try:
            tasks = [_task(t, f"tasks[{i}]") for i, t in enumerate(raw_tasks)]
            edges = [_edge(e, f"edges[{i}]", default_comm) for i, e in enumerate(raw_edges)]
            graph = cls(
                tasks=tuple(tasks),
                edges=tuple(edges),
                time_unit=_optional(data, "time_unit", "us"),
                name=_optional(data, "network", ""),
                decomposition=_optional(data, "decomposition", ""),
                rounding_error=data.get("rounding_error"),
            )
            graph.check_limits()
        except InputError as err:
            raise InputError(f"{source}: {err}") from None
        return graph

    def to_json(self, path: str | Path | None = None) -> str:
        """Serialise to JSON; write it to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            write_text_atomic(path, text + "\n")
        return text

    @classmethod
    def read(cls, path: str | Path) -> TaskGraph:
        """Read a task-graph JSON file."""
        return cls.from_dict(read_json(path), source=str(path))


def _field(obj: Any, key: str, typ: type | None, where: str) -> Any:
    if not isinstance(obj, dict):
        raise InputError(f"{where} must be an object, got {brief(obj)}")
    if key not in obj:
        raise InputError(f"{where} has no {key!r}")
    value = obj[key]
    if typ is not None and not isinstance(value, typ):
        raise InputError(f"{where}.{key} must be a {typ.__name__}, got {brief(value)}")
    return value


def _optional(obj: dict[str, Any], key: str, default: str) -> str:
    """A string field that may be absent or null; anything but a string is refused."""
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InputError(f"{key} must be a string, got {brief(value)}")
    return value


def _task(raw: Any, where: str) -> Task:
    name = _field(raw, "name", str, where)
    # A file meets the solvers' limit, not only the constructor's (MAX_UNITS, not MAX_INT).
    duration = _check_int(
        _field(raw, "duration", None, where), lambda: f"task {brief(name)}: duration", 1, MAX_UNITS
    )
    return Task(
        name=name,
        duration=duration,
        layer=_optional(raw, "layer", ""),
        kind=_optional(raw, "kind", ""),
    )


def _edge(raw: Any, where: str, default_comm: int | None) -> Edge:
    comm = raw.get("comm", default_comm) if isinstance(raw, dict) else None
    if comm is not None:
        comm = _check_int(comm, lambda: f"{where}: comm", 0, MAX_UNITS)
    return Edge(
        src=_field(raw, "src", str, where),
        dst=_field(raw, "dst", str, where),
        distance=raw.get("distance", 0),
        comm=comm,
        bytes=raw.get("bytes", 0),
        weights=raw.get("weights"),
        tensor=raw.get("tensor"),
    )


def time_unit_seconds(text: str) -> float | None:
    """Seconds in a time unit written ``"25us"``, ``"us"`` or ``"1e-4"``; ``None`` if no time."""
    value = time_unit_value(text, bare=True)
    return value if value is not None and value > 0 and math.isfinite(value) else None


def make_graph(
    tasks: Iterable[tuple[str, int] | Task],
    edges: Iterable[tuple | Edge] = (),
    **kwargs: Any,
) -> TaskGraph:
    """Build a graph from short tuples: ``("a", 3)`` and ``("a", "b", distance, comm)``.

    Convenient in tests and notebooks.
    """
    ts = [t if isinstance(t, Task) else Task(t[0], t[1]) for t in tasks]
    es = [e if isinstance(e, Edge) else Edge(*e) for e in edges]
    return TaskGraph(tuple(ts), tuple(es), **kwargs)
