"""Coarser decompositions of a task graph, and schedules refined from them.

A decomposition (``formulations/README.md``) groups the primitive tasks of a layer:
``intra`` merges ``D+G`` into ``A`` and ``W+U`` into ``WU``, ``pipedream`` merges
the whole backward pass into ``B``. :func:`coarsen` applies such a grouping to a
finer graph, merging tasks of one layer by their ``kind`` the way
:func:`lpsched.taskgraph.build_task_graph` does (durations summed, external edges
kept, parallel edges reduced to the ones that bind).

**Refinement.** Every schedule of the coarse graph gives one of the fine graph
with the same period (:func:`refine`): a merged task's parts run back to back,
in a topological order of their distance-0 edges, in the merged task's slot on
its processor. An edge entering a part entered the merged task, so its data is
there when the slot starts; an edge leaving a part left the merged task, whose
slot ends no earlier; its cost was at least the part's (:func:`~lpsched.taskgraph.group_edges`
keeps the costliest edge of each distance). An edge between two parts with
distance ``w >= 1`` spans at most one slot, ``d <= T <= w T``. So the finer
decomposition is never worse than the coarser one, and a heuristic for the fine
graph may start from the coarse graph's schedule, which is smaller to search.

On a platform, a part lasts ``ceil(d / s)`` on a processor of speed ``s``
(the schedule's platform says which). At speed 1 the parts add up to the
merged task exactly; at other speeds they may add up to more than the merged
task's ``ceil(sum d / s)``, so the argument needs the coarse schedule to hold
each merged task's slot for its parts' total: a coarse schedule found with
those durations (as :mod:`lpsched.solvers.heuristic` does) refines exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import networkx as nx

from .errors import InputError
from .graph import Task, TaskGraph
from .problem import scaled_duration
from .schedule import Schedule
from .taskgraph import group_edges

#: Decompositions from the finest to the coarsest: task kind -> merged kind.
COARSER: dict[str, dict[str, str]] = {
    "intra": {"D": "A", "G": "A", "W": "WU", "U": "WU"},
    "pipedream": {"D": "B", "G": "B", "W": "B", "U": "B", "A": "B", "WU": "B"},
}


@dataclass(frozen=True)
class Coarsening:
    """A coarse graph and, for each of its tasks, the fine tasks it merges.

    Attributes
    ----------
    graph
        The coarse task graph.
    parts
        Coarse task name -> the fine task names it merges, in the order they
        run inside its slot.
    """

    graph: TaskGraph
    parts: dict[str, tuple[str, ...]]


def coarsen(graph: TaskGraph, decomposition: str) -> Coarsening | None:
    """``graph`` with each layer's tasks merged as in ``decomposition``.

    Parameters
    ----------
    graph
        A task graph whose tasks carry ``layer`` and ``kind`` (built-in
        networks do; a task without a layer, or of another kind, stays alone).
    decomposition
        A key of :data:`COARSER`: ``intra`` or ``pipedream``.

    Returns
    -------
    Coarsening or None
        ``None`` when nothing merges, when a merged name would clash with an
        unmerged task, or when merging closes a cycle of distance 0.
    """
    if decomposition not in COARSER:
        raise InputError(
            f"cannot coarsen to {decomposition!r}: expected one of {', '.join(COARSER)}"
        )
    kinds = COARSER[decomposition]
    group: dict[str, str] = {}
    for t in graph.tasks:
        merged = t.layer and t.kind in kinds
        group[t.name] = f"{kinds[t.kind]}:{t.layer}" if merged else t.name
    if len(set(group.values())) == graph.n:
        return None
    if any(group[t.name] != t.name and group[t.name] in group for t in graph.tasks):
        return None  # a merged name is the name of a task of the graph
    # Parts run in a topological order of the distance-0 edges of the whole graph.
    order = {name: i for i, name in enumerate(_topological(graph))}
    parts: dict[str, list[str]] = {}
    for t in graph.tasks:
        parts.setdefault(group[t.name], []).append(t.name)
    tasks = []
    for name, members in parts.items():
        members.sort(key=order.__getitem__)
        first = graph.tasks[graph.index(members[0])]
        kind = kinds[first.kind] if name != first.name else first.kind
        duration = sum(graph.durations[graph.index(m)] for m in members)
        tasks.append(Task(name, duration, first.layer, kind))
    try:
        coarse = TaskGraph(
            tasks=tuple(tasks),
            edges=tuple(group_edges(graph.edges, group)),
            time_unit=graph.time_unit,
            name=graph.name,
            decomposition=decomposition,
            staleness_cap=graph.staleness_cap,
            rounding_error=graph.rounding_error,
        )
    except InputError:  # merging closed a zero-distance cycle
        return None
    return Coarsening(coarse, {name: tuple(members) for name, members in parts.items()})


def refine(
    schedule: Schedule,
    graph: TaskGraph,
    coarsening: Coarsening,
    duration: Callable[[str, int], int] | None = None,
) -> Schedule:
    """The schedule of the fine ``graph`` that ``schedule`` of the coarse graph gives.

    Parameters
    ----------
    schedule
        A valid schedule of ``coarsening.graph``, in which every merged task's
        slot holds its parts (always at speed 1; see the module's docstring).
    graph
        The graph ``coarsening`` was made from.
    coarsening
        What :func:`coarsen` returned for ``graph``.
    duration
        ``duration(task, processor)`` of a fine task; by default its duration
        on that processor of the schedule's platform, ``ceil(d / speed)``.

    Returns
    -------
    Schedule
        Same period and platform; each merged task's parts back to back from
        its start. When ``schedule`` fixed the staleness of an ``auto`` graph,
        the fine graph gets the same staleness.
    """
    speeds = schedule.platform.speeds
    if duration is None:

        def duration(name: str, p: int) -> int:
            return scaled_duration(graph.durations[graph.index(name)], speeds[p])

    processor: dict[str, int] = {}
    start: dict[str, int] = {}
    for name, members in coarsening.parts.items():
        t = schedule.start[name]
        p = schedule.processor[name]
        for member in members:
            processor[member] = p
            start[member] = t
            t += duration(member, p)
    if graph.staleness_cap is not None and schedule.graph.staleness_cap is None:
        graph = graph.with_staleness(schedule.graph.staleness())
    return Schedule(graph, schedule.platform, schedule.period, processor, start)


def _topological(graph: TaskGraph) -> list[str]:
    """Task names in a topological order of the distance-0 edges, ties by position."""
    dag = nx.DiGraph()
    dag.add_nodes_from(t.name for t in graph.tasks)
    dag.add_edges_from((e.src, e.dst) for e in graph.edges if e.distance == 0 and e.src != e.dst)
    return list(nx.lexicographical_topological_sort(dag, key=graph.index))
