"""Periodic schedules, solver results and the ``lpsched-schedule/2`` file format.

A schedule file is self-contained: it embeds the task graph (with the
distances the schedule uses), the platform with SI numbers (bytes, bytes/s,
seconds) and the time unit in seconds, so that anyone can recompute every
duration and check it without lpsched. Version-1 files (a processor count, no
platform) are still read: they ran on the default platform of that count.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from .errors import InputError
from .files import brief, parse_yaml, read_text, refuse_kind
from .graph import MAX_INT, TaskGraph, read_json, write_text_atomic
from .placement import PLACEMENTS
from .platform import LINK_CLASSES, MAX_PROCESSORS, Platform, platform_of
from .problem import scaled_duration
from .units import (
    check_integer,
    check_real,
    format_bandwidth,
    format_bytes,
    format_ms,
    format_time,
)

SCHEDULE_FORMAT = "lpsched-schedule/2"

#: Formats :meth:`Result.from_dict` reads.
SCHEDULE_FORMATS = ("lpsched-schedule/1", SCHEDULE_FORMAT)


class Status(StrEnum):
    """Solver status. ``OPTIMAL`` is only ever claimed when proven."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Transfer:
    """One message per period: a tensor sent from its producer's processor to another.

    Under ``capacity: ports`` iteration ``i`` of the transfer occupies the
    out-port of ``src`` and the in-port of ``dst`` (of the link class of the
    pair) during ``[start + i*T, start + i*T + duration)``.

    Parameters
    ----------
    tensor
        The tensor's name (an edge's ``tensor``, or ``e<index>:<src>-><dst>``
        for an edge without one).
    producer
        The task that produces it.
    src, dst
        The sending and the receiving processor.
    start, duration
        In time units; ``duration = ceil(bytes / bandwidth / unit)``.
    """

    tensor: str
    producer: str
    src: int
    dst: int
    start: int
    duration: int


#: The two directions of a port: a processor sends on its out-ports, receives on its in-ports.
PORT_DIRECTIONS = ("out", "in")


@dataclass(frozen=True)
class Message:
    """A tensor that crosses from its producer's processor to another one, once per iteration.

    One per tensor and destination processor, whatever the link model: under
    ``capacity: ports`` it is what a :class:`Transfer` carries; under
    ``delay`` it is what the links would have to carry.

    Parameters
    ----------
    tensor, producer
        The tensor's name and the task that produces it.
    src, dst
        The producer's processor and the destination.
    bytes
        The tensor's size: the most bytes of its edges (as :attr:`lpsched.problem.Problem.tensors`).
    """

    tensor: str
    producer: str
    src: int
    dst: int
    bytes: int


@dataclass(frozen=True)
class PortLoad:
    """What one port (processor, direction, link class) carries over one period.

    Parameters
    ----------
    processor, direction, link
        The port: a processor, ``"out"`` or ``"in"`` (:data:`PORT_DIRECTIONS`),
        ``"intra"`` or ``"inter"``.
    bytes
        Bytes through the port per iteration (of its messages, :class:`Message`).
    busy
        Time units its transfers occupy per period (``capacity: ports``);
        ``None`` under ``delay``, where no transfer is scheduled.
    period
        The period ``T`` in time units.
    seconds
        The time its bytes take at the link's bandwidth (0 when unlimited).
    period_seconds
        The period in seconds, ``None`` when the time unit is no time.
    bandwidth
        The link class's bandwidth in B/s.
    """

    processor: int
    direction: str
    link: str
    bytes: int
    busy: int | None
    period: int
    seconds: float
    period_seconds: float | None
    bandwidth: float

    @property
    def load(self) -> float | None:
        """The share of the period the port is busy, or would be.

        Under ``ports`` the transfers' time over ``T`` (at most 1 in a valid
        schedule); under ``delay`` the time its bytes need at the link's
        bandwidth over the period in seconds, which exceeds 1 when the links
        could not carry the messages: the delay model's blind spot. ``None``
        under ``delay`` without a physical time unit.
        """
        if self.busy is not None:
            return self.busy / self.period
        if self.period_seconds is None:
            return None
        return self.seconds / self.period_seconds

    @property
    def needed_bandwidth(self) -> float | None:
        """Bytes per second through the port: bytes per iteration over the period in seconds."""
        return None if self.period_seconds is None else self.bytes / self.period_seconds


def tensor_name(graph: TaskGraph, index: int) -> str:
    """The name of the tensor edge ``index`` carries (its own when the edge names none)."""
    e = graph.edges[index]
    return e.tensor if e.tensor is not None else f"e{index}:{e.src}->{e.dst}"


@dataclass(frozen=True)
class Schedule:
    """A periodic schedule: every task on one processor with a start time.

    Iteration ``i`` of task ``v`` runs on ``processor[v]`` during
    ``[start[v] + i*period, start[v] + i*period + d_v)``, where ``d_v`` is the
    task's duration on that processor. The embedded graph carries the
    distances the schedule uses.

    Parameters
    ----------
    graph
        The task graph scheduled.
    platform
        The platform, or a processor count ``P`` for the default platform.
    period
        The iteration period ``T``.
    processor
        Processor of each task, by name, in ``0..P-1``.
    start
        Start time of iteration 0 of each task, by name (any integer).
    transfers
        The messages between processors (``capacity: ports``); empty under
        ``capacity: delay``, where a message only delays its consumer.
    placement
        The placement policy the schedule keeps (:mod:`lpsched.placement`):
        ``free``, ``layer`` (every task of a layer on one processor) or
        ``stages`` (each processor's layers contiguous); the validator checks it.
    """

    graph: TaskGraph
    platform: Platform
    period: int
    processor: dict[str, int]
    start: dict[str, int]
    transfers: tuple[Transfer, ...] = ()
    placement: str = "free"

    def __post_init__(self) -> None:
        object.__setattr__(self, "platform", platform_of(self.platform))
        object.__setattr__(self, "transfers", tuple(self.transfers))

    @property
    def processors(self) -> int:
        """Number of processors ``P``."""
        return self.platform.P

    def duration(self, name: str) -> int:
        """Duration of task ``name`` on its processor."""
        speed = self.platform.processors[self.processor[name]].speed
        return scaled_duration(self.graph.task(name).duration, speed)

    @property
    def period_seconds(self) -> float | None:
        """The period in seconds, ``None`` when the graph's time unit is no time."""
        unit = self.graph.time_unit_seconds
        return None if unit is None else self.period * unit

    def describe_period(self) -> str:
        """``"19.28 ms (771 x 25 us)"``, or ``"771 time units"`` without a physical unit."""
        seconds = self.period_seconds
        unit = self.graph.time_unit_seconds
        if seconds is None or unit is None:
            return f"{self.period} time units"
        return f"{format_ms(seconds)} ({self.period} x {format_time(unit)})"

    # ---------------------------------------------------------------- metrics
    @property
    def speedup(self) -> float:
        """``sum(d_v) / T``: throughput relative to one processor without communication."""
        return self.graph.total_work / self.period

    def utilisation(self) -> list[float]:
        """Busy fraction of each processor over one period."""
        busy = [0] * self.processors
        for t in self.graph.tasks:
            busy[self.processor[t.name]] += self.duration(t.name)
        return [b / self.period for b in busy]

    def footprints(self) -> list[float]:
        """Bytes each processor holds (:mod:`lpsched.footprint`), as the validator counts them."""
        from .validate import memory_footprints

        return memory_footprints(self)

    def comm_bytes(self) -> int:
        """Bytes sent between processors per iteration."""
        return sum(
            e.bytes for e in self.graph.edges if self.processor[e.src] != self.processor[e.dst]
        )

    def messages(self) -> list[Message]:
        """The tensors that cross between processors per iteration, one per destination.

        Only edges whose cost derives from bytes (no fixed ``comm``, bytes > 0)
        carry messages, as in :attr:`lpsched.problem.Problem.tensors`; a
        fixed ``comm`` is a pure delay in both link models.
        """
        size: dict[tuple[str, str], int] = {}
        crossing: dict[tuple[str, str, int], int] = {}
        P = self.processors
        for i, e in enumerate(self.graph.edges):
            if e.comm is not None or e.bytes <= 0:
                continue
            key = (e.src, tensor_name(self.graph, i))
            size[key] = max(size.get(key, 0), e.bytes)
            p, q = self.processor[e.src], self.processor[e.dst]
            # A processor outside 0..P-1 is the validator's to report, not a port here.
            if p != q and 0 <= p < P and 0 <= q < P:
                crossing.setdefault((*key, q), p)
        return [
            Message(name, producer, p, q, size[(producer, name)])
            for (producer, name, q), p in crossing.items()
        ]

    def bytes_per_iteration(self) -> int:
        """Bytes sent between processors per iteration: every :meth:`messages` once."""
        return sum(m.bytes for m in self.messages())

    def port_loads(self) -> list[PortLoad]:
        """Every port's bytes and busy time: by processor, then direction, then link class.

        Under ``capacity: ports`` the busy time adds the durations of the
        transfers on the port; under ``delay`` there is none, and
        :attr:`PortLoad.load` says what the bytes would need instead.
        """
        platform = self.platform
        ports = [
            (p, d, c) for p in range(self.processors) for d in PORT_DIRECTIONS for c in LINK_CLASSES
        ]
        nbytes = dict.fromkeys(ports, 0)
        for m in self.messages():
            cls = platform.link_class(m.src, m.dst)
            nbytes[(m.src, "out", cls)] += m.bytes
            nbytes[(m.dst, "in", cls)] += m.bytes
        busy: dict[tuple[int, str, str], int] | None = None
        if platform.capacity == "ports":
            busy = dict.fromkeys(ports, 0)
            for x in self.transfers:
                if 0 <= x.src < self.processors and 0 <= x.dst < self.processors:
                    cls = platform.link_class(x.src, x.dst)
                    busy[(x.src, "out", cls)] += max(0, x.duration)
                    busy[(x.dst, "in", cls)] += max(0, x.duration)
        links = {"intra": platform.intra, "inter": platform.inter}
        out = []
        for port in ports:
            bandwidth = links[port[2]].bandwidth
            out.append(
                PortLoad(
                    *port,
                    bytes=nbytes[port],
                    busy=None if busy is None else busy[port],
                    period=self.period,
                    seconds=0.0 if math.isinf(bandwidth) else nbytes[port] / bandwidth,
                    period_seconds=self.period_seconds,
                    bandwidth=bandwidth,
                )
            )
        return out

    def busiest_port(self) -> PortLoad | None:
        """The port with the largest :attr:`PortLoad.load`; ``None`` when none carries a byte.

        Also ``None`` when no load is known (``delay`` without a physical time unit).
        """
        known = [x for x in self.port_loads() if x.bytes > 0 and x.load is not None]
        return max(known, key=lambda x: x.load or 0.0, default=None)

    def link_utilisation(self) -> list[dict[str, Any]]:
        """Per processor: each port's :attr:`PortLoad.load` and the bytes sent and received.

        ``[{"processor": 0, "out": {"intra": 0.83, "inter": 0.0}, "in": {...},
        "bytes_out": ..., "bytes_in": ...}, ...]``, as the schedule file holds it.
        """
        rows: list[dict[str, Any]] = [
            {"processor": p, "out": {}, "in": {}, "bytes_out": 0, "bytes_in": 0}
            for p in range(self.processors)
        ]
        for x in self.port_loads():
            row = rows[x.processor]
            row[x.direction][x.link] = x.load
            row[f"bytes_{x.direction}"] += x.bytes
        return rows

    def staleness(self) -> dict[str, int]:
        """Staleness of each weighted layer, as the embedded graph's distances say."""
        return self.graph.staleness()

    def iterations_in_flight(self) -> int:
        """Largest number of iterations that have started and not finished at any time.

        Equals ``ceil(makespan of one iteration / T)`` at most; computed as the
        span of one iteration (earliest start to latest finish) over the period.
        """
        lo = min(self.start.values())
        hi = max(self.start[t.name] + self.duration(t.name) for t in self.graph.tasks)
        return math.ceil((hi - lo) / self.period)

    def normalised(self) -> Schedule:
        """The same schedule with the earliest start shifted to 0 (its transfers with it)."""
        lo = min(self.start.values())
        return replace(
            self,
            start={k: v - lo for k, v in self.start.items()},
            transfers=tuple(replace(x, start=x.start - lo) for x in self.transfers),
        )

    def with_graph(self, graph: TaskGraph) -> Schedule:
        """The same placement on another graph with the same task names."""
        return replace(self, graph=graph)


@dataclass(frozen=True)
class Result:
    """What a solver returns: a schedule (or none), its status, the best bound and the time.

    Parameters
    ----------
    schedule
        The best schedule found, or ``None`` (infeasible or nothing found).
    status
        :class:`Status`; ``OPTIMAL`` only when proven.
    lower_bound
        The best lower bound on the period known (from :mod:`lpsched.bounds` or the solver).
    solver
        Solver name (``heuristic``, ``pipedream``, ``cpsat``, ``milp``, ``milp-cbc``).
    solve_seconds
        Wall time.
    network, decomposition
        Provenance, copied into the schedule file.
    stats
        Free-form solver statistics (bisection steps, nodes, ...).
    """

    schedule: Schedule | None
    status: Status
    lower_bound: int
    solver: str
    solve_seconds: float
    network: str = ""
    decomposition: str = ""
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def period(self) -> int | None:
        """The schedule's period, or ``None``."""
        return None if self.schedule is None else self.schedule.period

    @property
    def gap(self) -> float | None:
        """Relative gap ``(T - LB) / T``; ``0`` when optimal, ``None`` without a schedule."""
        if self.schedule is None:
            return None
        return (self.schedule.period - self.lower_bound) / self.schedule.period

    def summary(self) -> str:
        """One line: period (ms and time units), status, lower bound, gap, speedup, seconds."""
        if self.schedule is None:
            reason = self.stats.get("reason")
            why = f" ({reason})" if reason else ""
            return (
                f"{self.solver}: {self.status.value}, no schedule{why}; lower bound "
                f"{self.lower_bound}; {self.solve_seconds:.2f} s"
            )
        s = self.schedule
        settled = ""
        if "settled_seconds" in self.stats:
            settled = f" (period settled after {self.stats['settled_seconds']:.2f} s)"
        rate = ""
        if s.period_seconds is not None:
            rate = f", {1 / s.period_seconds:.1f} iterations/s"
        placed = f", placement {s.placement}" if s.placement != "free" else ""
        memory = f", memory up to {format_bytes(max(s.footprints()))}"
        links = link_summary(s)
        links = f"; {links}" if links else ""
        return (
            f"{self.solver}: period {s.describe_period()}, {self.status.value}{rate}; lower bound "
            f"{self.lower_bound}, gap {100 * (self.gap or 0):.1f}%, speedup {s.speedup:.2f} "
            f"on {s.processors} processors{placed}{memory}{links}; "
            f"{self.solve_seconds:.2f} s{settled}"
        )

    # -------------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        """The ``lpsched-schedule/2`` JSON object (requires a schedule).

        ``period_ms`` and ``time_unit_seconds`` are ``None`` when the graph's
        time unit is no time; ``transfers`` is empty under ``capacity: delay``.
        ``transfers[*].producer`` (the producing task) is beyond the minimal
        format: a tensor's name need not be unique across producers.

        ``bytes_per_iteration`` and ``links`` are derived output, which
        :meth:`from_dict` ignores (:meth:`Schedule.link_utilisation`): per
        processor, each port's share of the period (``out``/``in``, then
        ``intra``/``inter``) and the bytes it sends and receives per
        iteration. Under ``ports`` the share is the transfers' busy time over
        ``T``; under ``delay`` it is the time the bytes would need at the
        link's bandwidth over the period, ``null`` without a physical time unit.
        """
        if self.schedule is None:
            raise ValueError("no schedule to write")
        s = self.schedule
        seconds = s.period_seconds
        return {
            "format": SCHEDULE_FORMAT,
            "network": self.network or s.graph.name,
            "decomposition": self.decomposition or s.graph.decomposition,
            "solver": self.solver,
            "processors": s.processors,
            "period": s.period,
            "period_ms": None if seconds is None else seconds * 1e3,
            "time_unit_seconds": s.graph.time_unit_seconds,
            "lower_bound": self.lower_bound,
            "status": self.status.value,
            "solve_seconds": round(self.solve_seconds, 4),
            "placement": s.placement,
            "platform": s.platform.to_dict(),
            "assignments": [
                {"task": t.name, "processor": s.processor[t.name], "start": s.start[t.name]}
                for t in s.graph.tasks
            ],
            "memory": [
                {"processor": p, "footprint": f, "capacity": proc.memory}
                for p, (f, proc) in enumerate(
                    zip(s.footprints(), s.platform.processors, strict=True)
                )
            ],
            "bytes_per_iteration": s.bytes_per_iteration(),
            "links": s.link_utilisation(),
            "transfers": [
                {
                    "tensor": x.tensor,
                    "producer": x.producer,
                    "src": x.src,
                    "dst": x.dst,
                    "start": x.start,
                    "duration": x.duration,
                }
                for x in s.transfers
            ],
            "graph": s.graph.to_dict(),
        }

    def to_json(self, path: str | Path | None = None) -> str:
        """Serialise to JSON; write it atomically to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            write_text_atomic(path, text + "\n")
        return text

    @classmethod
    def from_dict(cls, data: Any, source: str = "schedule") -> Result:
        """Read the ``lpsched-schedule/2`` (or ``/1``) format.

        Only the structure is checked here; whether the schedule is valid is
        the validator's job (:func:`lpsched.validate.validate`). Numbers must
        be what they say: a period of ``9.7``, ``"9"``, ``true`` or
        ``Infinity`` is refused, as are processors ``1.9`` or ``true``.

        Raises
        ------
        InputError
            One line naming ``source`` and the field.
        """
        if not isinstance(data, dict):
            raise InputError(f"{source}: expected a JSON object")
        refuse_kind(data, source, "lpsched-schedule", SCHEDULE_FORMAT)
        if data.get("format") not in SCHEDULE_FORMATS:
            raise InputError(
                f"{source}: format must be {SCHEDULE_FORMAT!r}, got {brief(data.get('format'))}"
            )
        graph = TaskGraph.from_dict(data.get("graph"), source=f"{source}: graph")
        try:
            platform = _platform(data, source)
            period = _as_int(_required(data, "period"), "period", 1, MAX_INT)
            processor, start = _assignments(_required(data, "assignments"), graph, platform.P)
            transfers = _transfers(data.get("transfers", []))
            placement = data.get("placement", "free")
            if placement not in PLACEMENTS:
                raise InputError(
                    f"placement must be one of {', '.join(PLACEMENTS)}, got {brief(placement)}"
                )
            result = cls(
                schedule=Schedule(graph, platform, period, processor, start, transfers, placement),
                status=_status(data.get("status", "unknown")),
                lower_bound=_as_int(data.get("lower_bound", 0), "lower_bound", 0, MAX_INT),
                solver=_text(data, "solver"),
                solve_seconds=check_real(
                    data.get("solve_seconds", 0.0), "solve_seconds", 0, _MAX_SECONDS
                ),
                network=_text(data, "network"),
                decomposition=_text(data, "decomposition"),
            )
        except InputError as err:
            message = str(err)
            raise InputError(
                message if message.startswith(source) else f"{source}: {message}"
            ) from None
        return result

    @classmethod
    def read(cls, path: str | Path) -> Result:
        """Read a schedule JSON file.

        Raises
        ------
        InputError
            One line naming the file: unreadable, not JSON, an lpsched file of
            another kind (a network or platform YAML too), or a bad field.
        """
        p = Path(path)
        if p.suffix.lower() in (".yaml", ".yml"):
            # Network and platform files are YAML: say which one it is, not "invalid JSON".
            data = parse_yaml(read_text(p), str(p))
            refuse_kind(data, str(p), "lpsched-schedule", SCHEDULE_FORMAT)
            raise InputError(
                f"{p}: a YAML file, not a schedule: schedule files are the JSON that "
                "lpsched solve -o writes"
            )
        return cls.from_dict(read_json(p), source=str(p))


def link_summary(schedule: Schedule) -> str:
    """The links part of :meth:`Result.summary`; empty when no message crosses.

    Under ``ports``: ``links: busiest port 83% (out of processor 2), 1.9 GB per
    iteration``. Under ``delay``, what the busiest port would need:
    ``links: need 212 GB/s out of processor 3 (link 50 GB/s), 1.9 GB per
    iteration``. The link class is named when the platform has two.
    """
    total = schedule.bytes_per_iteration()
    if total == 0:
        return ""
    per = f"{format_bytes(total)} per iteration"
    top = schedule.busiest_port()
    if top is None or top.load is None:
        return f"links: {per}"
    two = len(schedule.platform.link_classes) > 1
    where = f"{'out of' if top.direction == 'out' else 'into'} processor {top.processor}"
    if top.busy is not None:
        cls = f"{top.link} " if two else ""
        return f"links: busiest port {100 * top.load:.0f}% ({cls}{where}), {per}"
    cls = f"{top.link} link" if two else "link"
    need = format_bandwidth(top.needed_bandwidth or 0.0)
    return f"links: need {need} {where} ({cls} {format_bandwidth(top.bandwidth)}), {per}"


#: The most seconds a schedule file may say its solve took (a year).
_MAX_SECONDS = 3.2e7

#: The largest number (period, bound, start, processor) a schedule file may hold: an
#: int64 with room to add a few (:data:`lpsched.graph.MAX_INT`).
MAX_START = MAX_INT


def _as_int(value: Any, what: str, minimum: int | None = None, maximum: int | None = None) -> int:
    return check_integer(value, what, minimum, maximum)


def _required(data: dict[str, Any], key: str) -> Any:
    if key not in data:
        raise InputError(f"missing field {key!r}")
    return data[key]


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{key} must be a string, got {brief(value)}")
    return value


def _status(value: Any) -> Status:
    if not isinstance(value, str) or value not in {s.value for s in Status}:
        known = ", ".join(s.value for s in Status)
        raise InputError(f"status must be one of {known}, got {brief(value)}")
    return Status(value)


def _platform(data: dict[str, Any], source: str) -> Platform:
    """The embedded platform (version 2) or the default one of ``processors`` (version 1)."""
    procs = _as_int(_required(data, "processors"), "processors", 1, MAX_PROCESSORS)
    if "platform" not in data:
        return platform_of(procs)
    platform = Platform.from_dict(data["platform"], source=f"{source}: platform")
    if platform.P != procs:
        raise InputError(f"processors is {procs} but the platform has {platform.P}")
    return platform


def _assignments(raw: Any, graph: TaskGraph, procs: int) -> tuple[dict[str, int], dict[str, int]]:
    """Processor and start of every task; each task exactly once, every one known."""
    if not isinstance(raw, list):
        raise InputError(f"assignments must be a list, got {brief(raw)}")
    processor: dict[str, int] = {}
    start: dict[str, int] = {}
    for i, a in enumerate(raw):
        where = f"assignments[{i}]"
        if not isinstance(a, dict):
            raise InputError(f"{where} must be an object, got {brief(a)}")
        name = _required(a, "task")
        if not isinstance(name, str):
            raise InputError(f"{where}.task must be a string, got {brief(name)}")
        if name in processor:
            raise InputError(f"{where}: task {brief(name)} assigned twice")
        # Any integer processor: one outside 0..P-1 is the validator's to report.
        processor[name] = _as_int(
            _required(a, "processor"), f"{where}.processor", -MAX_START, MAX_START
        )
        start[name] = _as_int(_required(a, "start"), f"{where}.start", -MAX_START, MAX_START)
    missing = [t.name for t in graph.tasks if t.name not in processor]
    if missing:
        raise InputError(f"task {brief(missing[0])} has no assignment")
    unknown = [k for k in processor if k not in graph._index]
    if unknown:
        raise InputError(f"assignment for unknown task {brief(unknown[0])}")
    return processor, start


def _transfers(raw: Any) -> tuple[Transfer, ...]:
    if not isinstance(raw, list):
        raise InputError("transfers must be a list")
    return tuple(_transfer(x, f"transfers[{i}]") for i, x in enumerate(raw))


def _transfer(raw: Any, where: str) -> Transfer:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected an object")
    tensor, producer = _required(raw, "tensor"), raw.get("producer", "")
    if not isinstance(tensor, str) or not isinstance(producer, str):
        raise InputError(f"{where}: tensor and producer must be strings")
    src, dst, start, duration = (
        _as_int(_required(raw, k), f"{where}.{k}", -MAX_START, MAX_START)
        for k in ("src", "dst", "start", "duration")
    )
    return Transfer(tensor, producer, src, dst, start, duration)
