"""Parameter sweeps: solve a network on a grid of processor counts, solvers and decompositions.

Every grid point builds its own task graph (the ``auto`` staleness cap depends
on ``P``) and its own platform (one platform specification, given ``P``
processors: :func:`grid_platforms`), solves it with :func:`lpsched.solve.solve`,
validates the schedule with :func:`lpsched.validate.validate` and becomes one
row of a :class:`pandas.DataFrame` (:data:`COLUMNS`: periods in time units and
in milliseconds). A platform that cannot take one of the counts, or a solver
that cannot schedule it, stops the sweep before any work. Rows are written to a
CSV file as they finish, so an interrupted sweep keeps its work and
``resume=True`` carries on where it stopped.

The grid runs in parallel: on local processes (:mod:`concurrent.futures`) or on
a Dask cluster (``executor="dask"``, the optional ``lpsched[dask]`` extra).
"""

from __future__ import annotations

import csv
import heapq
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from .errors import InputError
from .files import brief, check_output
from .graph import GRAPH_FORMAT, TaskGraph, read_json, write_text_atomic
from .networks.layers import Network
from .platform import MAX_PROCESSORS, Platform
from .units import check_integer, four_digits, limit_text

#: Columns of a sweep table, in order. The first five are the key of a row (:data:`KEY`).
#: ``placement`` is the policy the row's schedule keeps (:mod:`lpsched.placement`); a row
#: of another policy than ``free`` names it in ``platform`` too (:func:`placement_label`),
#: as a memory sweep names the capacity, so that the key tells the rows apart.
#: ``period_ms``, ``lower_bound_ms`` and ``iterations_per_s`` are the period and the bound
#: in milliseconds and the iterations per second (empty when the time unit is no time);
#: ``seconds`` is the whole solve, ``settled_seconds`` when the period was settled (CP-SAT
#: spends what the limit leaves on the secondary objective); ``speedup`` is ``total_work / T``
#: and ``gap`` is ``(T - LB) / T`` as a fraction (tables a person reads print it in percent).
#: ``comm_bytes`` adds the bytes of every edge between processors; ``bytes_per_iteration``
#: counts each tensor once per destination processor (what the links carry,
#: :meth:`lpsched.schedule.Schedule.bytes_per_iteration`). ``link_busy_max`` is the largest
#: share of the period any port takes (:attr:`lpsched.schedule.PortLoad.load`): under
#: ``capacity: ports`` the busy time of its transfers over ``T`` (at most 1); under ``delay``
#: the time its bytes need at the link's bandwidth over the period, the bandwidth needed
#: over the link's, above 1 when the links could not carry the messages (empty without a
#: physical time unit; 0 when nothing crosses). ``memory_gb`` is the row's memory capacity
#: per processor in GB (:func:`capacity_gb`: the smallest when they differ; empty when
#: unlimited) and ``memory_gb_max`` the largest footprint of any processor in GB
#: (:meth:`lpsched.schedule.Schedule.footprints`, the validator's count).
COLUMNS: tuple[str, ...] = (
    "network",
    "decomposition",
    "solver",
    "platform",
    "procs",
    "placement",
    "memory_gb",
    "period",
    "period_ms",
    "lower_bound",
    "lower_bound_ms",
    "iterations_per_s",
    "status",
    "valid",
    "seconds",
    "settled_seconds",
    "speedup",
    "gap",
    "comm_bytes",
    "bytes_per_iteration",
    "link_busy_max",
    "memory_gb_max",
    "max_staleness",
    "iteration_bound",
    "total_work",
    "tasks",
    "utilisation",
    "time_limit",
    "seed",
    "error",
)

#: The columns of sweep tables written before placements (no ``placement``): read, never
#: written. Every schedule was ``free`` then, which the column reads as.
COLUMNS_V4: tuple[str, ...] = tuple(c for c in COLUMNS if c != "placement")

#: The columns of sweep tables written before memory (no ``memory_gb``, ``memory_gb_max``):
#: read, with those columns empty, never written. No solver took a memory capacity then,
#: so an empty ``memory_gb`` (unlimited) is what those rows ran with.
COLUMNS_V3: tuple[str, ...] = tuple(
    c for c in COLUMNS_V4 if c not in ("memory_gb", "memory_gb_max")
)

#: The columns of sweep tables written before link ports (no ``bytes_per_iteration``,
#: ``link_busy_max``, nor the memory columns): read, with those columns empty, never written.
COLUMNS_V2: tuple[str, ...] = tuple(
    c for c in COLUMNS_V3 if c not in ("bytes_per_iteration", "link_busy_max")
)

#: The columns of sweep tables written before platforms (lpsched 0.x): read, never written.
#: :func:`read_results` renames ``period_seconds`` to ``settled_seconds``, fills ``platform``
#: with ``"default"`` (the only platform then) and leaves the millisecond columns empty.
COLUMNS_V1: tuple[str, ...] = (
    "network",
    "decomposition",
    "solver",
    "procs",
    "period",
    "lower_bound",
    "status",
    "valid",
    "seconds",
    "period_seconds",
    "speedup",
    "gap",
    "comm_bytes",
    "max_staleness",
    "iteration_bound",
    "total_work",
    "tasks",
    "utilisation",
    "time_limit",
    "seed",
    "error",
)

#: A row's identity: ``resume`` skips the grid points whose key is in the CSV already.
KEY: tuple[str, ...] = ("network", "decomposition", "solver", "platform", "procs")

#: ``platform`` of the rows solved on the default platform (identical processors at speed 1,
#: one node, the cost model's link).
DEFAULT_PLATFORM = "default"

#: Solvers that prove optimality (the others are heuristics).
EXACT_SOLVERS: tuple[str, ...] = ("cpsat", "milp", "milp-cbc")

#: ``decomposition`` of the rows of a task-graph file that records none.
GIVEN = "given"

EXECUTORS: tuple[str, ...] = ("local", "dask")

#: Statuses of rows that ``resume`` runs again: a schedule that failed validation, an exception.
REDO_STATUSES: tuple[str, ...] = ("invalid", "error")

#: The most rows one sweep runs: far more than anyone waits for (at a second a row, ten
#: thousand rows take hours), and few enough that building the grid is instant.
MAX_GRID_ROWS = 10_000

#: The most processors of all the grid's platforms together (the sum of its counts):
#: every count gets its own platform, built and checked before the first row, and
#: ``1-4096`` (8.4 million processors) would take half a minute and a gigabyte to set up.
MAX_GRID_PROCESSORS = 2**20

#: At most this many rows in parallel (the other numbers every row takes are checked by
#: :func:`lpsched.solvers.registry.check_numbers`).
MAX_JOBS = 1024

_INT_COLUMNS = (
    "period",
    "lower_bound",
    "comm_bytes",
    "bytes_per_iteration",
    "max_staleness",
    "total_work",
    "tasks",
)
_FLOAT_COLUMNS = (
    "memory_gb",
    "memory_gb_max",
    "link_busy_max",
    "period_ms",
    "lower_bound_ms",
    "iterations_per_s",
    "seconds",
    "settled_seconds",
    "speedup",
    "gap",
    "iteration_bound",
    "utilisation",
    "time_limit",
)
_STR_COLUMNS = ("network", "decomposition", "solver", "platform", "placement", "status", "error")

#: What :func:`sweep` and :func:`lpsched.compare.compare` take as a platform: ``None``
#: (the default platform), a preset name or platform file, a specification mapping
#: (``lpsched.cli.platform_spec``, without a processor count) or a :class:`Platform`
#: (then only its own processor count).
PlatformLike = Mapping[str, Any] | str | os.PathLike[str] | Platform | None

#: ``progress(done, total, row)``: called in the calling process after every finished row.
ProgressCallback = Callable[[int, int, dict[str, Any]], None]


# ---------------------------------------------------------------------------
# Parsing helpers (shared with the command line)
# ---------------------------------------------------------------------------
def parse_procs(text: str | int | Iterable[int]) -> list[int]:
    """Processor counts from ``"1-16"``, ``"2,4,8"``, ``"8"``, ``"1-4,8,16"`` or integers.

    Every count is checked against :data:`lpsched.platform.MAX_PROCESSORS` before a
    range is expanded, so ``"5-1000000000"`` is refused at once.

    Returns
    -------
    list[int]
        Sorted distinct counts, each in ``1..MAX_PROCESSORS``.

    Raises
    ------
    InputError
        On an empty list, a count out of range, a reversed range or anything
        that is not a number.
    """
    if isinstance(text, bool):
        raise InputError(f"--procs: expected counts like 1-16 or 2,4,8, got {text!r}")
    if isinstance(text, int):
        values = [_procs_count(text)]
    elif isinstance(text, str):
        values = []
        for part in text.split(","):
            lo, hi = _procs_range(part.strip(), text)
            values.extend(range(lo, hi + 1))
    else:
        values = []
        for v in text:
            whole = isinstance(v, int) or (isinstance(v, float) and v.is_integer())
            if isinstance(v, bool) or not whole:  # NaN and infinity are no counts either
                raise InputError(f"procs: expected integers, got {brief(v)}")
            values.append(_procs_count(int(v)))
    if not values:
        raise InputError(f"--procs: no processor counts in {brief(text)}")
    return sorted(set(values))


def _procs_range(part: str, text: str) -> tuple[int, int]:
    """``"3-8"`` -> ``(3, 8)``, ``"4"`` -> ``(4, 4)``, each end checked before any expansion."""
    lo, sep, hi = part.partition("-")
    try:
        a, b = (int(lo), int(hi)) if sep else (int(part), int(part))
    except ValueError:  # not a number, or more digits than int() reads
        raise InputError(
            f"--procs: expected counts like 1-16, 2,4,8 or 8, got {brief(text)}"
        ) from None
    a, b = _procs_count(a), _procs_count(b)
    if a > b:
        raise InputError(f"--procs: range {brief(part)} runs backwards")
    return a, b


def _procs_count(value: int) -> int:
    if value < 1:
        raise InputError(f"--procs: processor counts must be at least 1, got {value}")
    if value > MAX_PROCESSORS:
        raise InputError(
            f"--procs: at most {MAX_PROCESSORS} processors (lpsched.platform.MAX_PROCESSORS), "
            f"got {brief(value)}"
        )
    return value


def parse_names(text: str | Iterable[str], known: Iterable[str], what: str) -> list[str]:
    """Split ``"a,b"`` (or take a sequence) and check every name against ``known``.

    Raises
    ------
    InputError
        On an empty list or an unknown name, listing the known ones.
    """
    items = [s.strip() for s in text.split(",")] if isinstance(text, str) else list(text)
    names = list(dict.fromkeys(s for s in items if s))
    known = list(known)
    if not names:
        raise InputError(f"--{what}: no names given; choose from {', '.join(known)}")
    for name in names:
        if name not in known:
            raise InputError(f"--{what}: unknown name {name!r}; choose from {', '.join(known)}")
    return names


#: What :func:`sweep` takes as ``memory``: one capacity or several (a text ``"8GB,16GB"``,
#: or a sequence of bytes or texts); ``None`` or ``"unlimited"`` for no limit.
MemoryLike = str | float | Sequence[str | float | None]

#: Words of ``--memory`` that mean no capacity (as :func:`lpsched.units.parse_quantity` reads).
UNLIMITED = "unlimited"


def parse_memory(value: MemoryLike) -> list[float | None]:
    """Memory capacities per processor, in bytes, from ``"8GB,16GB,unlimited"`` or a sequence.

    Every entry is a size :func:`lpsched.units.parse_quantity` reads as bytes
    (``80GB``, ``80GiB``, ``8e10``); ``unlimited`` (or ``inf``, or ``None`` in a
    sequence) is no capacity. The order is kept: it is the order of the grid.

    Returns
    -------
    list[float | None]
        Distinct capacities in bytes, ``None`` for unlimited.

    Raises
    ------
    InputError
        One line: on an empty list, a size that does not parse, is below one
        byte or out of range, or a capacity given twice (``8GB,8000MB``).
    """
    from .platform import MIN_MEMORY
    from .units import format_bytes, parse_quantity

    if isinstance(value, str):
        items: list[Any] = [s.strip() for s in value.split(",")]
    elif isinstance(value, Sequence):
        items = list(value)
    else:
        items = [value]
    if not items or any(isinstance(x, str) and not x for x in items):
        raise InputError(f"--memory: expected sizes like 8GB,16GB,80GB, got {brief(value)}")
    out: list[float | None] = []
    for item in items:
        nbytes = None if item is None else parse_quantity(item, "bytes", "--memory", allow_inf=True)
        if nbytes is not None and math.isinf(nbytes):
            nbytes = None
        if nbytes is not None and nbytes < MIN_MEMORY:
            raise InputError(f"--memory must be at least 1 byte, got {brief(item)}")
        if nbytes in out:
            shown = UNLIMITED if nbytes is None else format_bytes(nbytes)
            raise InputError(f"--memory: capacity {shown} given twice (in {brief(value)})")
        out.append(nbytes)
    return out


def memory_label(nbytes: float | None) -> str:
    """A capacity as a platform label shows it: ``16e9 -> "16GB"``, ``None -> "unlimited"``."""
    from .units import format_bytes

    return UNLIMITED if nbytes is None else format_bytes(nbytes).replace(" ", "")


def capacity_gb(platform: Platform | None) -> float | None:
    """The ``memory_gb`` column: the smallest memory of any processor in GB, ``None`` if none."""
    if platform is None:
        return None
    finite = [p.memory for p in platform.processors if p.memory is not None]
    return min(finite) / 1e9 if finite else None


def with_memory(platform: Platform, nbytes: float | None) -> Platform:
    """``platform`` with every processor's memory set to ``nbytes`` (``None``: unlimited)."""
    from dataclasses import replace

    return replace(
        platform, processors=tuple(replace(p, memory=nbytes) for p in platform.processors)
    )


def memory_platform_label(base: Platform, nbytes: float | None) -> str:
    """The ``platform`` column of a memory sweep's row: ``"default 16GB"``, ``"pcie 80GB"``.

    The label of ``base`` without its memory (:func:`platform_label`), then the
    capacity (:func:`memory_label`). An unlimited row keeps the plain label
    (the rows of a sweep without ``--memory``), unless ``base`` itself has a
    memory, which the row then lifts: ``"a100 unlimited"``.
    """
    plain = platform_label(with_memory(base, None))
    if nbytes is None and all(p.memory is None for p in base.processors):
        return plain
    return f"{plain} {memory_label(nbytes)}"


def resolve_network(
    network: str | os.PathLike[str] | Network | TaskGraph,
    network_options: Mapping[str, Any] | None = None,
) -> Network | TaskGraph:
    """The network or task graph that ``network`` names.

    Parameters
    ----------
    network
        A built-in network name, a :class:`~lpsched.networks.layers.Network`,
        a :class:`~lpsched.graph.TaskGraph`, or the path of a network file or
        of a task-graph JSON file (``lpsched-graph/1``).
    network_options
        Options of a built-in network (:func:`lpsched.networks.get_network`).

    Raises
    ------
    InputError
        On an unknown name, a missing file, or options for something that is
        not a built-in network.
    """
    from .networks import BUILTIN_NETWORKS, get_network, load_network

    options = dict(network_options or {})
    if isinstance(network, Network | TaskGraph):
        if options:
            raise InputError("network options apply to built-in networks only")
        return network
    if not isinstance(network, str | os.PathLike):
        raise InputError(f"network must be a name, a path or a Network, got {network!r}")
    spec = os.fspath(network)
    if spec in BUILTIN_NETWORKS:
        return get_network(spec, **options)
    path = Path(spec)
    if not path.exists():
        known = ", ".join(BUILTIN_NETWORKS)
        raise InputError(f"unknown network {spec!r}: not a built-in ({known}) nor a file")
    if options:
        raise InputError("network options apply to built-in networks only")
    if path.suffix.lower() == ".json":
        data = read_json(path)
        if isinstance(data, dict) and data.get("format") == GRAPH_FORMAT:
            graph = TaskGraph.from_dict(data, source=str(path))
            return graph if graph.name else _renamed(graph, path.stem)
    return load_network(path)


def _renamed(graph: TaskGraph, name: str) -> TaskGraph:
    from dataclasses import replace

    return replace(graph, name=name)


def platform_spec_of(platform: PlatformLike) -> dict[str, Any]:
    """The platform specification (without a processor count) that ``platform`` names.

    Parameters
    ----------
    platform
        ``None`` (the default platform), a preset name (:data:`lpsched.platform.PRESETS`),
        the path of a platform file, a specification mapping, or a
        :class:`~lpsched.platform.Platform` (its processors are listed, so only
        its own count fits).

    Raises
    ------
    InputError
        On an unknown preset or a missing or unreadable file.
    """
    from .platform import PRESETS, preset_spec, read_spec

    if platform is None:
        return {}
    if isinstance(platform, Platform):
        return {**platform.to_dict(), "name": platform_label(platform)}
    if isinstance(platform, Mapping):
        return dict(platform)
    if not isinstance(platform, str | os.PathLike):
        raise InputError(f"platform must be a preset, a file or a mapping, got {platform!r}")
    name = os.fspath(platform)
    if name in PRESETS:
        return preset_spec(name)
    if Path(name).exists():
        return {"name": Path(name).stem, **read_spec(name)}
    raise InputError(f"unknown platform {name!r}: not a preset ({', '.join(PRESETS)}) nor a file")


def platform_label(platform: Platform) -> str:
    """The ``platform`` column of rows on ``platform``.

    Its name (a preset's or a file's stem); without one, :data:`DEFAULT_PLATFORM`
    when it is the default platform of its processor count, else ``"custom"``
    (``--speeds`` or ``--bandwidth`` without ``--platform``). Flags that change a
    named platform keep its name: give such a sweep its own CSV.
    """
    if platform.name:
        return platform.name
    return DEFAULT_PLATFORM if platform == Platform.default(platform.P) else "custom"


def grid_platforms(platform: PlatformLike, procs: Iterable[int]) -> dict[int, Platform]:
    """The platform of every processor count: ``Platform.from_dict(override(spec, procs=P))``.

    Raises
    ------
    InputError
        One line naming the platform and the first ``P`` it cannot take (a
        preset with nodes of 8 and ``P = 12``, ``--speeds`` of another length).
    """
    from .platform import override

    spec = platform_spec_of(platform)
    source = f"platform {spec['name']}" if spec.get("name") else "platform"
    out = {}
    for p in procs:
        try:
            out[p] = Platform.from_dict(override(spec, procs=p), source=source)
        except InputError as err:
            raise InputError(f"{err} (at P={p})") from None
    return out


def check_solvers(
    graph: TaskGraph,
    solvers: Iterable[str],
    platforms: Iterable[Platform],
    label: Callable[[Platform], str] | None = None,
) -> None:
    """Refuse, before any work, a solver that cannot schedule one of the platforms.

    ``label`` names a platform in the message (default :func:`platform_label`;
    a memory sweep names the capacity).

    The registry's capability check (:meth:`lpsched.solvers.registry.SolverInfo.check`)
    looks at the problem's platform; one task graph of the grid serves for all,
    and one platform of each kind (:func:`platform_kind`): a problem holds a
    duration per task and processor, and building one for every ``P`` of
    ``1-1024`` would take minutes before the first row.

    Raises
    ------
    InputError
        Naming the platform, ``P`` and what the solver lacks.
    """
    from .problem import Problem
    from .solvers.registry import SOLVERS, Options

    names = list(dict.fromkeys(solvers))
    kinds: dict[tuple[Any, ...], Platform] = {}
    for plat in platforms:
        kinds.setdefault(platform_kind(plat), plat)  # the first: the smallest P
    for plat in kinds.values():
        problem = Problem(graph, plat)
        for solver in names:
            try:
                SOLVERS[solver].check(problem, Options(secondary=None))
            except InputError as err:
                name = (label or platform_label)(plat)
                raise InputError(f"platform {name} at P={plat.P}: {err}") from None


def platform_kind(platform: Platform) -> tuple[Any, ...]:
    """What a solver's capabilities depend on, without the processor count.

    The speeds (as a set), the memories, whether there are several nodes,
    whether the platform is uniform, the link model and the links.
    """
    return (
        frozenset(platform.speeds),
        frozenset(str(p.memory) for p in platform.processors),
        platform.nodes > 1,
        platform.uniform,
        platform.capacity,
        platform.intra,
        platform.inter,
    )


# ---------------------------------------------------------------------------
# One grid point
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class GridPoint:
    """Everything one worker needs to produce one row (picklable).

    Parameters
    ----------
    instance
        The network (built into a task graph for ``procs``) or a fixed task graph.
    network
        The name in the ``network`` column.
    decomposition, solver, procs
        The rest of the row's key, with :attr:`platform_label`.
    staleness, costs, measured
        Passed to :func:`lpsched.taskgraph.build_task_graph` (networks only):
        ``measured`` is a measured profile (:mod:`lpsched.profiles`), or ``None``.
    time_limit, seed, workers
        Passed to :func:`lpsched.solve.solve`.
    platform
        The platform of ``procs`` processors; ``None``: the default platform.
    label
        The ``platform`` column, when not :func:`platform_label` of ``platform``
        (a memory sweep names the capacity: :func:`memory_platform_label`; a
        placement other than ``free`` is named too: :func:`placement_label`).
    placement
        The placement policy (:mod:`lpsched.placement`) the row's schedule keeps.
    """

    instance: Network | TaskGraph
    network: str
    decomposition: str
    solver: str
    procs: int
    staleness: Any = "auto"
    costs: Any = None
    time_limit: float | None = None
    seed: int = 0
    workers: int | None = None
    platform: Platform | None = None
    measured: Any = None
    label: str | None = None
    placement: str = "free"

    def __post_init__(self) -> None:
        if self.platform is not None and self.platform.P != self.procs:
            raise InputError(
                f"grid point: the platform has {self.platform.P} processors, procs is {self.procs}"
            )

    @property
    def platform_label(self) -> str:
        """The ``platform`` column: :attr:`label`, else :func:`platform_label`."""
        if self.label is not None:
            return self.label
        base = DEFAULT_PLATFORM if self.platform is None else platform_label(self.platform)
        return base if self.placement == "free" else f"{base} {self.placement}"

    @property
    def key(self) -> tuple[str, str, str, str, int]:
        """``(network, decomposition, solver, platform, procs)``, as :data:`KEY`."""
        return (self.network, self.decomposition, self.solver, self.platform_label, self.procs)

    def graph(self) -> TaskGraph:
        """The task graph of this point (built per ``P``: the ``auto`` cap depends on it)."""
        if isinstance(self.instance, TaskGraph):
            return self.instance
        from .taskgraph import build_task_graph

        return build_task_graph(
            self.instance,
            decomposition=self.decomposition,
            staleness=self.staleness,
            costs=self.costs,
            processors=self.procs,
            measured=self.measured,
        )


def run_point(point: GridPoint) -> dict[str, Any]:
    """Build, solve and validate one grid point; return its row (a dict over :data:`COLUMNS`).

    A schedule that fails validation gives ``valid=False``, status ``invalid``
    and the first violation in ``error``; the row never reports its period,
    so no number in a table comes from an unchecked schedule. An exception
    (a solver bug, most likely) gives status ``error`` with the exception in
    ``error``, so that one failing row does not lose a long sweep; ``resume``
    redoes both kinds of row.
    """
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(
        network=point.network,
        decomposition=point.decomposition,
        solver=point.solver,
        platform=point.platform_label,
        procs=point.procs,
        placement=point.placement,
        memory_gb=capacity_gb(point.platform),
        time_limit=point.time_limit,
        seed=point.seed,
        error="",
    )
    start = time.perf_counter()
    try:
        _solve_into(point, row)
    except Exception as err:  # recorded in the row; the caller reports it
        row.update(dict.fromkeys(_SCHEDULE_COLUMNS), status="error", valid=None)
        row["error"] = f"{type(err).__name__}: {err}".splitlines()[0]
        row["seconds"] = time.perf_counter() - start
    return row


#: The columns that only a validated schedule fills.
_SCHEDULE_COLUMNS = (
    "period",
    "period_ms",
    "iterations_per_s",
    "speedup",
    "gap",
    "comm_bytes",
    "bytes_per_iteration",
    "link_busy_max",
    "memory_gb_max",
    "max_staleness",
    "utilisation",
)


def _solve_into(point: GridPoint, row: dict[str, Any]) -> None:
    from .problem import Problem
    from .solve import solve
    from .validate import InvalidScheduleError, validate

    graph = point.graph()
    unit = graph.time_unit_seconds
    row.update(total_work=graph.total_work, tasks=graph.n)
    # One problem: solve() computes its bounds (inside its own clock, as a single solve
    # does) and the row reads them from the same cache.
    problem = Problem(
        graph, point.procs if point.platform is None else point.platform, point.placement
    )
    start = time.perf_counter()
    try:
        result = solve(
            problem,
            None,
            point.solver,
            time_limit=point.time_limit,
            seed=point.seed,
            workers=point.workers,
        )
    except InvalidScheduleError as err:
        # solve() validates too; a failure is a solver bug, kept visible in the table.
        _bounds_into(row, problem.bounds, unit)
        row.update(status="invalid", valid=False, seconds=time.perf_counter() - start)
        row["error"] = str(err.violations[0]) if err.violations else str(err).splitlines()[0]
        return
    _bounds_into(row, problem.bounds, unit)
    row.update(
        status=str(result.status.value),
        seconds=result.solve_seconds,
        # CP-SAT spends what the limit leaves on the secondary objective; this is when
        # the period was settled (proven, or the best at the limit).
        settled_seconds=result.stats.get("settled_seconds", result.solve_seconds),
        lower_bound=result.lower_bound,
        lower_bound_ms=_ms(result.lower_bound, unit),
    )
    sched = result.schedule
    if sched is None:
        return
    violations = validate(sched)
    if violations:
        row.update(status="invalid", valid=False, error=violations[0].message)
        return
    row.update(valid=True, **schedule_columns(result))


def schedule_columns(result: Any) -> dict[str, Any]:
    """The columns of a row that only its (validated) schedule fills, from a result.

    Parameters
    ----------
    result
        A :class:`lpsched.schedule.Result` with a schedule.

    Returns
    -------
    dict[str, Any]
        A value for each of ``period`` ... ``utilisation`` (:data:`COLUMNS`):
        ``memory_gb_max`` is the largest footprint (:meth:`Schedule.footprints
        <lpsched.schedule.Schedule.footprints>`) in GB, ``gap`` the result's.
    """
    sched = result.schedule
    unit = sched.graph.time_unit_seconds
    staleness = sched.staleness()
    util = sched.utilisation()
    seconds = sched.period_seconds
    return {
        "period": sched.period,
        "period_ms": _ms(sched.period, unit),
        "iterations_per_s": None if seconds is None else 1.0 / seconds,
        "speedup": sched.speedup,
        "gap": result.gap,
        "comm_bytes": sched.comm_bytes(),
        "bytes_per_iteration": sched.bytes_per_iteration(),
        "link_busy_max": _link_busy_max(sched),
        "memory_gb_max": max(sched.footprints()) / 1e9,
        "max_staleness": max(staleness.values()) if staleness else None,
        "utilisation": sum(util) / len(util),
    }


def _link_busy_max(sched: Any) -> float | None:
    """The ``link_busy_max`` of a schedule (see :data:`COLUMNS`)."""
    loads = [x.load for x in sched.port_loads()]
    if any(x is None for x in loads):
        return None
    return max((x for x in loads if x is not None), default=0.0)


def _bounds_into(row: dict[str, Any], bounds: Any, unit: float | None) -> None:
    ib = bounds.iteration_bound
    row["iteration_bound"] = None if ib is None else float(ib)
    row["lower_bound"] = bounds.lower_bound
    row["lower_bound_ms"] = _ms(bounds.lower_bound, unit)


def _ms(units: int, unit_seconds: float | None) -> float | None:
    """``units`` time units in milliseconds; ``None`` when the time unit is no time."""
    return None if unit_seconds is None else units * unit_seconds * 1e3


# ---------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------
class Eta:
    """Seconds left in a sweep, with each row weighted by what it is expected to take.

    A row of an exact solver with a time limit is expected to take its limit (it
    may end sooner, once its period is settled, so the estimate errs long and
    shrinks as such rows end early). Any other row is expected to take the mean
    seconds of the finished rows of its solver without a limit; before one of
    them has finished, of all finished rows without a limit, else of all
    finished rows. The rows are then replayed as a process pool runs them: in
    order, each on the first free of ``jobs`` workers, a finished row ending
    when it did and a running one no earlier than now. So a sweep whose fast
    rows finish first does not promise its end after one second.

    Parameters
    ----------
    points
        The rows to run, in the order they are submitted.
    jobs
        How many rows run at once.
    """

    #: Seconds between two replays; in between, the last estimate counts down.
    REPLAY_EVERY = 1.0

    def __init__(self, points: Sequence[GridPoint], jobs: int) -> None:
        from .solvers.registry import SOLVERS as REGISTRY

        self.index = {p.key: i for i, p in enumerate(points)}
        self.solvers = [p.solver for p in points]
        self.limits = [
            p.time_limit if p.solver in REGISTRY and REGISTRY[p.solver].exact else None
            for p in points
        ]
        self.jobs = max(1, min(jobs, len(points)))
        self.ended: dict[int, float] = {}  # row -> elapsed seconds when it ended
        # Sums and counts of the seconds of finished rows without a limit, by solver.
        self._sum: dict[str | None, float] = {}
        self._count: dict[str | None, int] = {}
        self._last: tuple[float, float | None] | None = None

    def record(self, row: Mapping[str, Any], elapsed: float) -> None:
        """Note that ``row`` ended ``elapsed`` seconds after the sweep started."""
        try:
            i = self.index[tuple(row[c] for c in KEY[:4]) + (int(row["procs"]),)]
        except (KeyError, TypeError, ValueError):
            return  # not a row of this plan
        self.ended[i] = elapsed
        self._last = None
        seconds = row.get("seconds")
        if _missing(seconds):
            return
        # Groups: the solver's own rows without a limit, all rows without one (None),
        # and rows with a limit ("*"), the last resort.
        groups = ("*",) if self.limits[i] is not None else (self.solvers[i], None)
        for group in groups:
            self._sum[group] = self._sum.get(group, 0.0) + float(seconds)
            self._count[group] = self._count.get(group, 0) + 1

    def _mean(self, group: str | None) -> float | None:
        count = self._count.get(group, 0)
        return self._sum[group] / count if count else None

    def expected(self, i: int) -> float | None:
        """Seconds row ``i`` is expected to take; ``None`` while nothing tells."""
        if self.limits[i] is not None:
            return float(self.limits[i])
        for guess in (self._mean(self.solvers[i]), self._mean(None)):
            if guess is not None:
                return guess
        total = self._sum.get(None, 0.0) + self._sum.get("*", 0.0)
        count = self._count.get(None, 0) + self._count.get("*", 0)
        return total / count if count else None

    def remaining(self, elapsed: float) -> float | None:
        """Seconds from ``elapsed`` until the last row ends; ``None`` while nothing tells."""
        if self._last is not None and elapsed - self._last[0] < self.REPLAY_EVERY:
            at, left = self._last
            return None if left is None else max(0.0, left - (elapsed - at))
        left = self._replay(elapsed)
        self._last = (elapsed, left)
        return left

    def _replay(self, elapsed: float) -> float | None:
        free = [0.0] * self.jobs  # when each worker is next free
        end = elapsed
        means: dict[str, float | None] = {}  # expected seconds of a row without a limit
        for i, solver in enumerate(self.solvers):
            start = heapq.heappop(free)
            if i in self.ended:
                stop = self.ended[i]
            else:
                limit = self.limits[i]
                if limit is None and solver not in means:
                    means[solver] = self.expected(i)
                cost = float(limit) if limit is not None else means[solver]
                if cost is None:
                    return None
                stop = max(start + cost, elapsed)
                end = max(end, stop)
            heapq.heappush(free, stop)
        return end - elapsed


class ProgressPrinter:
    """A one-line progress display on a text stream (stderr by default).

    On a terminal the line is rewritten in place; elsewhere (logs, CI) one
    line is printed per finished row, so a log file shows every result. The
    estimate of the time left weighs each row by its time limit or by what
    rows like it took (:class:`Eta`) once :meth:`plan` has named the rows; tqdm
    would not know better, and it is not a dependency of lpsched. Notebooks
    can pass their own callback to :func:`sweep`.

    Parameters
    ----------
    stream
        Where to print; default :data:`sys.stderr`.
    clock
        Seconds from some origin; default :func:`time.perf_counter` (tests pass their own).
    """

    def __init__(
        self, stream: TextIO | None = None, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.start = clock()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._open = False
        self.eta: Eta | None = None

    def plan(self, points: Sequence[GridPoint], jobs: int) -> None:
        """Start the clock for ``points``, run ``jobs`` at a time, and say so in one line.

        :func:`run_grid` calls it before the first row; without it the estimate
        is the mean time per finished row times the rows left.
        """
        self.start = self.clock()
        self.eta = Eta(points, jobs)
        if not points:
            return
        left = self.eta.remaining(0.0)
        n = len(points)
        at_once = f", {self.eta.jobs} at a time" if self.eta.jobs > 1 else ""
        self._write(
            f"[{'.' * 20}] 0/{n} {_clock(0)} (eta {_eta_text(left)})  "
            f"starting {n} row{'s' if n > 1 else ''}{at_once}",
            last=False,
        )

    def __call__(self, done: int, total: int, row: dict[str, Any]) -> None:
        """Report that ``done`` of ``total`` rows are finished, the last being ``row``."""
        elapsed = self.clock() - self.start
        if self.eta is not None:
            self.eta.record(row, elapsed)
            left = self.eta.remaining(elapsed) if done < total else 0.0
        else:
            left = elapsed / done * (total - done) if done else 0.0
        width = 20
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "." * (width - filled)
        plat = row.get("platform")
        on = f" on {plat}" if plat and plat != DEFAULT_PLATFORM else ""
        self._write(
            f"[{bar}] {done}/{total} {_clock(elapsed)} (eta {_eta_text(left)})  "
            f"{row['network']} {row['decomposition']} {row['solver']} P={row['procs']}{on}: "
            f"{_outcome(row)}",
            last=done == total,
        )

    def _write(self, line: str, last: bool) -> None:
        if self._tty:
            self.stream.write("\r\x1b[2K" + line + ("\n" if last else ""))
            self._open = not last
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End a line left open on a terminal, so that what follows starts on its own line."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


def _outcome(row: Mapping[str, Any]) -> str:
    """``period 40 (1 ms), gap 2.5% (feasible)`` or ``no schedule (unknown)``."""
    period = row.get("period")
    if _missing(period):
        return f"no schedule ({row['status']})"
    what = f"period {period}"
    if not _missing(row.get("period_ms")):
        what += f" ({four_digits(row['period_ms'])} ms)"
    if not _missing(row.get("gap")):
        what += f", gap {percent(row['gap'])}%"
    return f"{what} ({row['status']})"


def _eta_text(seconds: float | None) -> str:
    return "?" if seconds is None else _clock(seconds)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


# ---------------------------------------------------------------------------
# Executors
# ---------------------------------------------------------------------------
def _run_local(points: Sequence[GridPoint], jobs: int) -> Iterator[dict[str, Any]]:
    if jobs == 1 or len(points) <= 1:
        for p in points:
            yield run_point(p)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = _mp_context()
    # The lifeline: this process holds its write end, every worker watches the read end.
    # A forked worker inherits the write end too and closes its copy (die_with_parent).
    lifeline, lifeline_w = context.Pipe(duplex=False)
    inherited = lifeline_w if context.get_start_method() == "fork" else None
    pool = ProcessPoolExecutor(
        max_workers=min(jobs, len(points)),
        mp_context=context,
        initializer=die_with_parent,
        initargs=(lifeline, inherited),
    )
    try:
        futures = [pool.submit(run_point, p) for p in points]
        for fut in as_completed(futures):
            yield fut.result()
    except BaseException:
        # An error, Ctrl-C or a caller that stops reading: no row still running will be
        # read, and a row queued in the pool cannot be cancelled, so cutting the lifeline
        # ends every worker now instead of after a whole row. Finished rows are saved.
        lifeline_w.close()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        lifeline_w.close()
        lifeline.close()


def die_with_parent(lifeline: Any, inherited: Any = None) -> None:
    """Pool initializer: end this worker as soon as the sweep that started it dies.

    A sweep killed by SIGKILL cannot stop its workers, which would finish their
    row and then wait for work, holding the caller's stdout and stderr open.
    So the sweep holds the write end of a pipe, the *lifeline*, that no one
    writes to, and a daemon thread of each worker waits on its read end: when
    the sweep dies, the kernel closes its end, the read ends in end-of-file and
    the worker leaves at once with :func:`os._exit`, whatever its row is doing.
    This works for every start method (the parent of a ``forkserver`` worker is
    the server, which outlives the sweep while workers live). On Linux a forked
    worker also asks for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``),
    which holds even while a solver keeps the GIL.

    Parameters
    ----------
    lifeline
        The read end (a :class:`multiprocessing.connection.Connection`).
    inherited
        The write end, when the worker was forked and holds a copy of it (closed
        here, or the pipe would never end while the worker lives).
    """
    if inherited is not None:
        inherited.close()
        _ask_for_parent_death_signal()
    watcher = threading.Thread(
        target=_wait_for_end_of, args=(lifeline,), name="lpsched-lifeline", daemon=True
    )
    watcher.start()


def _ask_for_parent_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1  # <linux/prctl.h>
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # no prctl here: the lifeline still works
        pass


def _wait_for_end_of(lifeline: Any) -> None:
    try:
        while True:
            lifeline.recv_bytes()  # nobody writes: this returns only at end-of-file
    except (EOFError, OSError):
        pass
    os._exit(1)  # no cleanup: nothing of a half-solved row is worth keeping


def _mp_context() -> Any:
    """Fork when it is safe (Linux, no other threads): workers start in milliseconds.

    Forking a process that runs threads (a Dask client, a notebook kernel's
    helpers) can copy a held lock and hang, so then ``forkserver`` starts
    clean workers instead, at the price of importing lpsched in each (~1 s).
    Elsewhere the platform's default (``spawn``) is the safe choice.
    """
    import multiprocessing
    import threading

    if sys.platform == "linux":
        method = "fork" if threading.active_count() == 1 else "forkserver"
        return multiprocessing.get_context(method)
    return multiprocessing.get_context()


def _import_dask() -> Any:
    try:
        from dask import distributed
    except ImportError:
        raise InputError(
            "executor 'dask' needs dask.distributed: pip install lpsched[dask]"
        ) from None
    return distributed


def _run_dask(
    points: Sequence[GridPoint], jobs: int, scheduler: str | None
) -> Iterator[dict[str, Any]]:
    if not points:
        return
    distributed = _import_dask()
    cluster = None
    try:
        if scheduler is None:
            cluster = distributed.LocalCluster(
                n_workers=jobs,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            client = distributed.Client(cluster)
        else:
            try:
                client = distributed.Client(scheduler, timeout="20s")
            except (OSError, TimeoutError, ValueError) as err:
                raise InputError(f"--scheduler {scheduler}: cannot connect ({err})") from None
        try:
            futures = [client.submit(run_point, p, pure=False) for p in points]
            for fut in distributed.as_completed(futures):
                yield fut.result()
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------
def _csv_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same float
    return value


def read_results(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a sweep CSV back into the table :func:`sweep` returns (same dtypes).

    A last line cut short by an interruption is ignored. A table written before
    platforms (:data:`COLUMNS_V1`) is read too: its ``period_seconds`` becomes
    ``settled_seconds``, its rows ran on the ``default`` platform, and its
    millisecond columns are empty (it recorded no time unit). A table written
    before link ports (:data:`COLUMNS_V2`) reads with empty
    ``bytes_per_iteration`` and ``link_busy_max``, one written before
    memory (:data:`COLUMNS_V3`, and the older ones) with empty ``memory_gb``
    (unlimited: no solver took a capacity then) and ``memory_gb_max``, and
    one written before placements (:data:`COLUMNS_V4`, and the older ones)
    with ``placement`` ``free``, the only policy then.

    Raises
    ------
    InputError
        When the file is not a sweep CSV (other columns).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror})") from None
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    lines = text.splitlines()
    if not lines:
        return normalise(pd.DataFrame(columns=list(COLUMNS)))
    header = tuple(next(csv.reader([lines[0]])))
    if header not in (COLUMNS, COLUMNS_V4, COLUMNS_V3, COLUMNS_V2, COLUMNS_V1):
        raise InputError(
            f"{path}: not a sweep table of this lpsched version (columns {', '.join(header)}); "
            "write to a new file"
        )
    from io import StringIO

    df = pd.read_csv(
        StringIO(text),
        dtype={c: str for c in _STR_COLUMNS if c in header},
        keep_default_na=False,
        na_values=[""],
        float_precision="round_trip",
    )
    if header == COLUMNS_V1:
        df = df.rename(columns={"period_seconds": "settled_seconds"})
        df["platform"] = DEFAULT_PLATFORM
    return normalise(df)


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """A sweep table with the standard column order and dtypes, sorted by :data:`KEY`.

    Integers that may be missing (no schedule) are nullable ``Int64``;
    ``valid`` is nullable ``boolean`` (missing: no schedule to check); an
    empty ``platform`` is :data:`DEFAULT_PLATFORM`, an empty ``placement`` ``free``.
    """
    df = df.reindex(columns=list(COLUMNS)).copy()
    for c in _STR_COLUMNS:
        df[c] = df[c].astype(object).where(df[c].notna(), "").astype(str)
    # Tables built by hand (or before platforms) ran on the default platform.
    df["platform"] = df["platform"].where(df["platform"] != "", DEFAULT_PLATFORM)
    # Tables written before placements: every schedule was free.
    df["placement"] = df["placement"].where(df["placement"] != "", "free")
    df["procs"] = pd.to_numeric(df["procs"]).astype("int64")
    df["seed"] = pd.to_numeric(df["seed"]).astype("Int64")
    for c in _INT_COLUMNS:
        df[c] = pd.to_numeric(df[c]).astype("Int64")
    for c in _FLOAT_COLUMNS:
        df[c] = pd.to_numeric(df[c]).astype("float64")
    df["valid"] = df["valid"].map(_as_bool).astype("boolean")
    # The rows of one platform at several capacities follow one another by capacity
    # (8GB before 16GB, unlimited last), not by the text of their labels; without
    # capacities this is the order of KEY.
    order = df.assign(_base=base_labels(df))
    by = [
        "network",
        "decomposition",
        "solver",
        "_base",
        "memory_gb",
        "platform",
        "placement",
        "procs",
    ]
    order = order.sort_values(by, kind="stable", na_position="last")
    return df.loc[order.index].reset_index(drop=True)


def base_labels(df: pd.DataFrame) -> pd.Series:
    """Each row's ``platform`` without the capacity a memory sweep appends (``"default 16GB"``).

    Rows of one platform at several capacities share it: plots draw them as one line.
    """
    out = []
    for label, gb in zip(df["platform"], df["memory_gb"], strict=True):
        text = str(label)
        suffix = " " + (UNLIMITED if _missing(gb) else memory_label(float(gb) * 1e9))
        out.append(text.removesuffix(suffix))
    return pd.Series(out, index=df.index, dtype=object)


#: The columns :func:`format_table` prints, in order.
SHOWN_COLUMNS: tuple[str, ...] = (
    "network",
    "decomposition",
    "solver",
    "platform",
    "procs",
    "placement",
    "period",
    "period_ms",
    "lower_bound",
    "lower_bound_ms",
    "status",
    "iterations_per_s",
    "speedup",
    "gap",
    "comm_bytes",
    "memory_gb_max",
    "max_staleness",
    "seconds",
)


def format_table(df: pd.DataFrame, columns: Sequence[str] = SHOWN_COLUMNS) -> str:
    """A sweep table as a person reads it: periods in time units and in ms, gaps in percent.

    A gap column (``gap``, ``layerpipe_gap``) is printed as ``gap%``
    (``100 (T - LB) / T``, one decimal; the table keeps the fraction);
    milliseconds and iterations per second have four significant digits; a
    missing value is ``-``.
    """
    if "placement" in columns and (
        "placement" not in df.columns or (df["placement"] == "free").all()
    ):
        columns = [c for c in columns if c != "placement"]  # tables as before placements
    gaps = [c for c in columns if c == "gap" or c.endswith("_gap")]
    shown = df[list(columns)].rename(columns={c: f"{c}%" for c in gaps})
    for c in shown.columns:
        if c.endswith("_ms") or c.endswith("iterations_per_s"):
            fmt: Callable[[Any], str] = four_digits
        elif c.endswith("gap%"):
            fmt = percent
        elif shown[c].dtype.kind == "f":
            fmt = "{:.3g}".format
        else:
            fmt = str
        # Text cells: pandas prints a missing nullable integer as <NA> whatever na_rep says.
        shown[c] = [("-" if _missing(x) else fmt(x)) for x in shown[c]]
    return shown.to_string(index=False)


def percent(fraction: float) -> str:
    """A fraction in percent with one decimal, without the sign: ``0.0123 -> "1.2"``."""
    return f"{100 * fraction:.1f}"


def _as_bool(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return pd.NA
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower(), pd.NA)
    return bool(value)


class _CsvSink:
    """Appends rows to a CSV as they arrive: header once, flushed after every row."""

    def __init__(self, path: Path, fresh: bool) -> None:
        self.path = path
        if fresh:
            write_text_atomic(path, ",".join(COLUMNS) + "\n")
        try:
            self.file = path.open("a", newline="")
        except OSError as err:
            raise InputError(f"{path}: cannot write ({err.strerror})") from None
        self.writer = csv.writer(self.file, lineterminator="\n")

    def write(self, row: Mapping[str, Any]) -> None:
        self.writer.writerow([_csv_value(row.get(c)) for c in COLUMNS])
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def _rewrite(path: Path, df: pd.DataFrame) -> None:
    """Write ``df`` as the CSV (atomically): drops rows to redo and a truncated last line."""
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for rec in df.to_dict(orient="records"):
        writer.writerow([_csv_value(None if _isna(rec[c]) else rec[c]) for c in COLUMNS])
    write_text_atomic(path, buf.getvalue())


def _isna(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------
def _check_executor(executor: str, jobs: int | None, scheduler: str | None) -> int:
    if executor not in EXECUTORS:
        raise InputError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
    if scheduler is not None and executor != "dask":
        raise InputError("a scheduler address needs executor 'dask'")
    check_numbers(jobs=jobs)
    if executor == "dask":
        _import_dask()
    return jobs if jobs is not None else (os.cpu_count() or 1)


def make_grid(
    instance: Network | TaskGraph,
    procs: str | Iterable[int],
    pairs: Iterable[tuple[str | None, str]],
    *,
    staleness: Any = None,
    costs: Any = None,
    time_limit: float | None = None,
    seed: int = 0,
    workers: int | None = None,
    platform: PlatformLike = None,
    measured: Any = None,
    memory: MemoryLike | None = None,
    placement: str | Sequence[str] = "free",
) -> list[GridPoint]:
    """The grid points of ``(decomposition, solver)`` pairs times processor counts (and memories).

    Parameters
    ----------
    instance
        A network, or a task graph, which is scheduled as given: its rows carry
        the graph's own decomposition (or ``"given"``) whatever the pairs say.
    procs
        Processor counts (see :func:`parse_procs`).
    pairs
        ``(decomposition, solver)`` pairs, in the order the grid lists them.
    staleness, costs, time_limit, seed, workers, measured
        As for :func:`sweep`.
    platform
        As for :func:`sweep`: each ``P`` gets ``override(spec, procs=P)``.
    memory
        As for :func:`sweep`: ``None``, or capacities (:func:`parse_memory`),
        each giving every ``P`` its own platform (:func:`memory_grid`).
    placement
        As for :func:`sweep`: one policy or several (:func:`parse_placements`),
        the outermost loop of the grid after the pairs.

    Raises
    ------
    InputError
        Before any work: on an unknown solver, bad processor counts, time limit,
        seed or workers (:func:`check_numbers`), bad memory capacities, a grid of more than
        :data:`MAX_GRID_ROWS` rows or :data:`MAX_GRID_PROCESSORS` processors,
        staleness or costs given with a task graph, a platform that cannot take
        one of the counts, or a solver that cannot schedule it.
    """
    from .solve import SOLVERS

    plist = parse_procs(procs if isinstance(procs, str) else list(procs))
    check_numbers(time_limit, seed, workers)
    if isinstance(instance, TaskGraph):
        if staleness is not None or costs is not None or measured is not None:
            raise InputError(
                f"{instance.name} is a task graph, scheduled as given: staleness and costs "
                "apply to networks only"
            )
    else:
        from .taskgraph import parse_staleness

        staleness = parse_staleness("auto" if staleness is None else staleness)
    pairs = list(pairs)
    for _decomposition, solver in pairs:
        if solver not in SOLVERS:
            raise InputError(f"unknown solver {solver!r}; choose from {', '.join(SOLVERS)}")
    capacities = None if memory is None else parse_memory(memory)
    placements = parse_placements(placement)
    _check_grid_size(
        len(pairs), plist, 1 if capacities is None else len(capacities), len(placements)
    )
    bases = grid_platforms(platform, plist)
    cells = memory_grid(bases, capacities)
    points = [
        GridPoint(
            instance=instance,
            network=instance.name,
            decomposition=(
                instance.decomposition or GIVEN
                if isinstance(instance, TaskGraph)
                else str(decomposition)
            ),
            solver=solver,
            procs=p,
            staleness=staleness,
            costs=costs,
            time_limit=time_limit,
            seed=seed,
            workers=workers,
            platform=plat,
            measured=measured,
            label=label if policy == "free" else placement_label(label, plat, policy),
            placement=policy,
        )
        for decomposition, solver in pairs
        for policy in placements
        for label, by_procs in cells
        for p, plat in by_procs.items()
    ]
    if points:
        every = [plat for _label, by_procs in cells for plat in by_procs.values()]
        base = bases[plist[0]]
        name = (
            None
            if capacities is None
            else lambda plat: memory_platform_label(base, plat.processors[0].memory)
        )
        check_solvers(points[0].graph(), [s for _d, s in pairs], every, name)
    return points


def parse_placements(value: str | Sequence[str]) -> list[str]:
    """Placement policies from ``"free,stages"`` or a sequence, in order, each once.

    Raises
    ------
    InputError
        On an unknown policy (naming the choices), an empty list, or one given twice.
    """
    from .placement import check_placement

    items = value.split(",") if isinstance(value, str) else list(value)
    names = [check_placement(x.strip() if isinstance(x, str) else x) for x in items]
    if not names:
        raise InputError("--placement: give at least one of free, layer, stages")
    twice = sorted({x for x in names if names.count(x) > 1})
    if twice:
        raise InputError(f"--placement: {twice[0]} given twice (in {brief(value)})")
    return names


def placement_label(label: str | None, platform: Platform, placement: str) -> str:
    """The ``platform`` column of a row of a placement other than ``free``: ``"default stages"``.

    The placement follows the platform's own label and comes before a memory
    sweep's capacity (``"pcie stages 16GB"``), so that :func:`base_labels`
    still strips the capacity and plots draw one line per placement.
    """
    if label is None:
        return f"{platform_label(platform)} {placement}"
    plain = platform_label(with_memory(platform, None))
    if label.startswith(plain):
        return f"{plain} {placement}{label[len(plain) :]}"
    return f"{label} {placement}"


def memory_grid(
    platforms: Mapping[int, Platform], capacities: Sequence[float | None] | None
) -> list[tuple[str | None, dict[int, Platform]]]:
    """The platforms of a grid by label: one set per memory capacity, or the given ones.

    Parameters
    ----------
    platforms
        The platform of each processor count (:func:`grid_platforms`).
    capacities
        Bytes per processor (``None``: unlimited) from :func:`parse_memory`;
        ``None``: no memory sweep, the platforms as given.

    Returns
    -------
    list[tuple[str | None, dict[int, Platform]]]
        ``(label, {P: platform})`` in the order of ``capacities``; the label is
        ``None`` (each platform's own, :func:`platform_label`) without capacities,
        else :func:`memory_platform_label` of the capacity.

    Raises
    ------
    InputError
        When two capacities would share a label (``16GB`` and ``16.00001GB``):
        their rows would have one key.
    """
    if capacities is None:
        return [(None, dict(platforms))]
    out: list[tuple[str | None, dict[int, Platform]]] = []
    seen: dict[str, float | None] = {}
    for nbytes in capacities:
        by_procs = {p: with_memory(plat, nbytes) for p, plat in platforms.items()}
        base = next(iter(platforms.values()), None)
        label = memory_platform_label(base, nbytes) if base is not None else memory_label(nbytes)
        if label in seen:
            raise InputError(
                f"--memory: {seen[label]:.0f} and {nbytes:.0f} bytes read the same as a "
                f"platform label ({label!r}): give capacities apart in their first 4 digits"
            )
        seen[label] = nbytes
        out.append((label, by_procs))
    return out


def check_numbers(
    time_limit: float | None = None,
    seed: int = 0,
    workers: int | None = None,
    jobs: int | None = None,
) -> None:
    """Refuse a number a sweep would pass to its rows, before any row runs.

    Checked here, not in the workers, so that bad input stops the sweep before it
    starts (and one bad row does not become ten thousand ``error`` rows).

    Raises
    ------
    InputError
        One line naming the flag and its limit: ``--time-limit`` positive, finite
        and at most :data:`MAX_TIME_LIMIT`; ``--seed`` in ``0..MAX_SEED``;
        ``--workers`` in ``1..MAX_WORKERS``; ``--jobs`` in ``1..MAX_JOBS``.
    """
    from .solvers.registry import check_numbers as check_row_numbers

    check_row_numbers(time_limit, seed, workers)
    if jobs is not None:
        check_integer(jobs, "--jobs", 1, MAX_JOBS)


def _check_grid_size(
    pairs: int, counts: Sequence[int], capacities: int = 1, placements: int = 1
) -> None:
    rows = pairs * len(counts) * capacities * placements
    if rows > MAX_GRID_ROWS:
        memories = f" x {capacities} memory capacities" if capacities > 1 else ""
        memories += f" x {placements} placements" if placements > 1 else ""
        raise InputError(
            f"the grid has {rows} rows ({pairs} solver and decomposition pairs x {len(counts)} "
            f"processor counts{memories}), more than the limit of "
            f"{limit_text(MAX_GRID_ROWS)}: split the sweep"
        )
    total = sum(counts) * capacities * placements
    if total > MAX_GRID_PROCESSORS:
        raise InputError(
            f"--procs: the counts add up to {total} processors, more than the limit of "
            f"{limit_text(MAX_GRID_PROCESSORS)} for one sweep: split the sweep or give "
            "fewer counts (e.g. 1,2,4,...,4096)"
        )


def run_grid(
    points: Sequence[GridPoint],
    *,
    executor: str = "local",
    jobs: int | None = None,
    scheduler: str | None = None,
    output: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool | ProgressCallback | None = None,
) -> pd.DataFrame:
    """Run grid points (see :func:`make_grid`) and return their table; see :func:`sweep`."""
    njobs = _check_executor(executor, jobs, scheduler)
    seen: set[tuple[Any, ...]] = set()
    for p in points:
        if p.key in seen:
            raise InputError(f"grid point {p.key} appears twice")
        seen.add(p.key)

    old = normalise(pd.DataFrame(columns=list(COLUMNS)))
    sink = None
    if output is not None:
        path = check_output(output, None, "output")
        if resume and path.exists():
            old = read_results(path)
            # Rows of invalid schedules and crashed solvers are redone; the rest is kept.
            old = old[~old["status"].isin(REDO_STATUSES)]
            old = old.drop_duplicates(list(KEY), keep="last").reset_index(drop=True)
            _rewrite(path, old)
            sink = _CsvSink(path, fresh=False)
        else:
            sink = _CsvSink(path, fresh=True)
    elif resume:
        raise InputError("resume needs an output CSV")

    done_keys = {row_key(r) for r in old.itertuples(index=False)}
    todo = [p for p in points if p.key not in done_keys]
    if executor == "dask" or (njobs > 1 and len(todo) > 1):
        # One CP-SAT worker per row: the rows themselves fill the cores.
        todo = [p if p.workers is not None else _with_workers(p, 1) for p in todo]
    if progress is True:
        report: ProgressCallback | None = ProgressPrinter()
    elif progress is False or progress is None:
        report = None
    else:
        report = progress

    rows: list[dict[str, Any]] = []
    try:
        if isinstance(report, ProgressPrinter):
            report.plan(todo, njobs)
        stream = (
            _run_dask(todo, njobs, scheduler) if executor == "dask" else _run_local(todo, njobs)
        )
        for row in stream:
            rows.append(row)
            if sink is not None:
                sink.write(row)
            if report is not None:
                report(len(rows), len(todo), row)
    finally:
        if sink is not None:
            sink.close()
        if isinstance(report, ProgressPrinter):
            report.close()
    new = normalise(pd.DataFrame(rows, columns=list(COLUMNS)))
    frames = [f for f in (old, new) if len(f)]
    if not frames:
        return new
    return normalise(pd.concat(frames, ignore_index=True))


def row_key(row: Any) -> tuple[str, str, str, str, int]:
    """The :data:`KEY` of a row (a named tuple of :meth:`pandas.DataFrame.itertuples`)."""
    return (row.network, row.decomposition, row.solver, row.platform, int(row.procs))


def _with_workers(point: GridPoint, workers: int) -> GridPoint:
    from dataclasses import replace

    return replace(point, workers=workers)


def sweep(
    network: str | os.PathLike[str] | Network | TaskGraph,
    procs: str | Iterable[int] = range(1, 17),
    solvers: str | Sequence[str] = ("heuristic",),
    decompositions: str | Sequence[str] | None = None,
    *,
    time_limit: float | None = None,
    seed: int = 0,
    staleness: Any = None,
    costs: Any = None,
    network_options: Mapping[str, Any] | None = None,
    platform: PlatformLike = None,
    memory: MemoryLike | None = None,
    measured: Any = None,
    workers: int | None = None,
    executor: str = "local",
    jobs: int | None = None,
    scheduler: str | None = None,
    output: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool | ProgressCallback | None = None,
    placement: str | Sequence[str] = "free",
) -> pd.DataFrame:
    """Solve ``network`` for every processor count, solver and decomposition.

    Parameters
    ----------
    network
        A built-in network name, a :class:`~lpsched.networks.layers.Network`,
        a network file, or a task-graph (file or :class:`~lpsched.graph.TaskGraph`),
        which is scheduled as given (decompositions, staleness and costs do not apply).
    procs
        Processor counts: integers or text like ``"1-16"`` or ``"2,4,8"``.
    solvers
        Solver names (:data:`lpsched.solve.SOLVERS`), a sequence or ``"a,b"``.
    decompositions
        Decomposition names (:data:`lpsched.taskgraph.DECOMPOSITIONS`);
        default ``("layerpipe",)``. Must be ``None`` for a task graph.
    time_limit, seed
        Per row, for :func:`lpsched.solve.solve`.
    staleness
        Staleness policy (default ``"auto"``; its cap ``2P - 1`` follows each row's ``P``).
    costs
        A :class:`~lpsched.costs.CostModel` (default: the default model).
    measured
        Measured per-layer costs (:mod:`lpsched.profiles`) that replace the cost
        model's times and bytes, or ``None``.
    network_options
        Options of a built-in network, e.g. ``{"widths": [784, 512, 10]}``.
    platform
        The platform, without a processor count: ``None`` (the default
        platform), a preset name (``"pcie"``), a platform file, or a
        specification mapping (what ``lpsched.cli.platform_spec`` returns).
        Each row runs on ``Platform.from_dict(override(spec, procs=P))``
        (:func:`lpsched.platform.override`) and carries its name in ``platform``
        (:func:`platform_label`).
    memory
        A memory-period curve: memory capacities per processor (``"8GB,16GB,80GB"``,
        ``[8e9, 16e9, None]``; ``None`` or ``"unlimited"`` entries for no limit,
        :func:`parse_memory`), each setting every processor's memory of the
        platform; one row per capacity (and ``P``, solver, decomposition), its
        ``platform`` naming the capacity (``"default 16GB"``,
        :func:`memory_platform_label`) and ``memory_gb`` holding it. ``None``
        (the default): the platform's own memory, one row per grid point.
        A row whose solver proves that no schedule fits has status ``infeasible``
        and no period.
    placement
        Placement policies (:mod:`lpsched.placement`): one (``"stages"``) or
        several (``"free,stages"``, a sequence), one row per policy (and ``P``,
        solver, decomposition, capacity) with the policy in ``placement``; with
        a policy other than ``free`` is named in ``platform`` too
        (:func:`placement_label`: ``"default stages"``), so that the key, plots
        and summaries tell the rows apart.
    workers
        CP-SAT search workers per row. Default: 1 when rows run in parallel
        (the rows fill the cores), else all cores.
    executor
        ``"local"`` (processes on this machine) or ``"dask"``.
    jobs
        Parallel rows: local processes or local Dask workers; default
        :func:`os.cpu_count`. ``jobs=1`` runs in this process.
    scheduler
        Address of an existing Dask scheduler (``"tcp://host:8786"``), with
        ``executor="dask"``; default: start a local cluster.
    output
        CSV file that receives each row as it finishes (header once, flushed
        per row). Without ``resume`` it is started afresh.
    resume
        Keep the rows already in ``output`` and run only the missing grid
        points (key :data:`KEY`); rows of invalid schedules are redone.
    progress
        ``True`` for a progress line on stderr (:class:`ProgressPrinter`), or
        a callable ``progress(done, total, row)``; ``None`` for silence.

    Returns
    -------
    pandas.DataFrame
        One row per grid point (plus rows of ``output`` outside the grid
        when resuming), columns :data:`COLUMNS`, sorted by :data:`KEY`.

    Raises
    ------
    InputError
        Before any work: on an unknown network, solver, decomposition, platform
        or executor, bad processor counts or memory capacities, a platform that cannot take one of
        them (a preset with nodes of 8 and ``P = 12``), a solver that cannot
        schedule the platform, or dask missing for ``executor="dask"``.
    """
    from .solve import SOLVERS
    from .taskgraph import DECOMPOSITIONS

    instance = resolve_network(network, network_options)
    solver_names = parse_names(solvers, SOLVERS, "solvers")
    if isinstance(instance, TaskGraph):
        if decompositions is not None:
            raise InputError(
                f"{instance.name} is a task graph, scheduled as given: decompositions "
                "apply to networks only"
            )
        decomps: list[Any] = [None]
    else:
        decomps = parse_names(
            "layerpipe" if decompositions is None else decompositions,
            DECOMPOSITIONS,
            "decompositions",
        )
    points = make_grid(
        instance,
        parse_procs(procs),
        [(d, s) for d in decomps for s in solver_names],
        staleness=staleness,
        costs=costs,
        time_limit=time_limit,
        seed=seed,
        workers=workers,
        platform=platform,
        measured=measured,
        memory=memory,
        placement=placement,
    )
    return run_grid(
        points,
        executor=executor,
        jobs=jobs,
        scheduler=scheduler,
        output=output,
        resume=resume,
        progress=progress,
    )
