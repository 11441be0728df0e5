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
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import networkx as nx

from .errors import InputError
from .files import read_json, write_text_atomic

GRAPH_FORMAT = "lpsched-graph/2"

#: Formats :meth:`TaskGraph.from_dict` reads; in version 1 every edge has a fixed ``comm``.
GRAPH_FORMATS = ("lpsched-graph/1", GRAPH_FORMAT)


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


def _check_int(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InputError(f"{what} must be an integer, got {value!r}")
    if value < minimum:
        raise InputError(f"{what} must be >= {minimum}, got {value}")
    return value


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
        index: dict[str, int] = {}
        for i, t in enumerate(self.tasks):
            if not isinstance(t.name, str) or not t.name:
                raise InputError(f"task {i}: name must be a non-empty string")
            if t.name in index:
                raise InputError(f"duplicate task name {t.name!r}")
            _check_int(t.duration, f"task {t.name!r}: duration", 1)
            index[t.name] = i
        if not self.tasks:
            raise InputError("task graph has no tasks")
        for e in self.edges:
            for end in (e.src, e.dst):
                if end not in index:
                    raise InputError(f"edge {e.src} -> {e.dst}: unknown task {end!r}")
            _check_int(e.distance, f"edge {e.src} -> {e.dst}: distance", 0)
            if e.comm is not None:
                _check_int(e.comm, f"edge {e.src} -> {e.dst}: comm", 0)
            _check_int(e.bytes, f"edge {e.src} -> {e.dst}: bytes", 0)
            if e.tensor is not None and not isinstance(e.tensor, str):
                raise InputError(f"edge {e.src} -> {e.dst}: tensor must be a string")
        if self.staleness_cap is not None:
            _check_int(self.staleness_cap, "staleness cap", 1)
        object.__setattr__(self, "_index", index)
        cycle = self.zero_distance_cycle()
        if cycle:
            loop = " -> ".join([*cycle, cycle[0]])
            raise InputError(f"cycle with zero total distance: {loop}")

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
        """A cycle of distance-0 edges as a list of task names, or ``[]`` when there is none."""
        g = nx.DiGraph()
        g.add_nodes_from(t.name for t in self.tasks)
        g.add_edges_from((e.src, e.dst) for e in self.edges if e.distance == 0)
        try:
            cycle = nx.find_cycle(g)
        except nx.NetworkXNoCycle:
            return []
        return [u for u, _v in cycle]

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
        fmt = data.get("format")
        if fmt not in GRAPH_FORMATS:
            raise InputError(f"{source}: format must be {GRAPH_FORMAT!r}, got {fmt!r}")
        default_comm = 0 if fmt == GRAPH_FORMATS[0] else None
        raw_tasks = data.get("tasks")
        raw_edges = data.get("edges", [])
        if not isinstance(raw_tasks, list) or not isinstance(raw_edges, list):
            raise InputError(f"{source}: 'tasks' and 'edges' must be lists")
        try:
            tasks = [
                Task(
                    name=_field(t, "name", str, source, f"tasks[{i}]"),
                    duration=_field(t, "duration", None, source, f"tasks[{i}]"),
                    layer=str(t.get("layer", "") or ""),
                    kind=str(t.get("kind", "") or ""),
                )
                for i, t in enumerate(raw_tasks)
            ]
            edges = [
                Edge(
                    src=_field(e, "src", str, source, f"edges[{i}]"),
                    dst=_field(e, "dst", str, source, f"edges[{i}]"),
                    distance=e.get("distance", 0),
                    comm=e.get("comm", default_comm),
                    bytes=e.get("bytes", 0),
                    weights=e.get("weights"),
                    tensor=e.get("tensor"),
                )
                for i, e in enumerate(raw_edges)
            ]
            graph = cls(
                tasks=tuple(tasks),
                edges=tuple(edges),
                time_unit=str(data.get("time_unit", "us")),
                name=str(data.get("network", "") or ""),
                decomposition=str(data.get("decomposition", "") or ""),
                rounding_error=data.get("rounding_error"),
            )
        except InputError as err:
            raise InputError(f"{source}: {err}") from None
        except (AttributeError, TypeError) as err:
            raise InputError(f"{source}: malformed task or edge ({err})") from None
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


def _field(obj: Any, key: str, typ: type | None, source: str, where: str) -> Any:
    if not isinstance(obj, dict):
        raise InputError(f"{where} must be an object")
    if key not in obj:
        raise InputError(f"{where} has no {key!r}")
    value = obj[key]
    if typ is not None and not isinstance(value, typ):
        raise InputError(f"{where}.{key} must be a {typ.__name__}, got {value!r}")
    return value


_UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def time_unit_seconds(text: str) -> float | None:
    """Seconds in a time unit written ``"25us"``, ``"us"`` or ``"1e-4"``; ``None`` if no time."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)?\s*(s|ms|us|ns)?\s*", str(text))
    if m is None or (m.group(1) is None and m.group(2) is None):
        return None
    value = float(m.group(1) or 1) * _UNIT_SECONDS[m.group(2) or "s"]
    return value if value > 0 and math.isfinite(value) else None


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
