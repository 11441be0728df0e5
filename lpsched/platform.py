"""The platform a schedule runs on: processors, links between them, and how links are shared.

A :class:`Platform` has processors, each with a relative compute ``speed``, a
``memory`` capacity (``None``: unlimited) and the ``node`` it sits in; two link
classes, ``intra`` (between processors of one node) and ``inter`` (between
nodes), each with a bandwidth and a latency; a ``capacity`` model for the links
and the ``optimizer_state`` kept per parameter byte. ``formulations/README.md``
states how the platform enters the model: a task of speed-1 duration ``d`` lasts
``ceil(d / speed)`` on a processor, and a message of ``b`` bytes between two
processors costs ``ceil((latency + b / bandwidth) / unit)`` time units of the
link class of the pair.

Platforms are written as YAML or JSON (``format: lpsched-platform/1``); the
numbers take units (``450GB/s``, ``200Gb/s``, ``3us``, ``80GB``). Named
presets describe machines a user recognises (:data:`PRESETS`).
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from .errors import InputError
from .files import brief, parse_yaml, read_text, refuse_kind
from .graph import MAX_UNITS, TaskGraph
from .units import (
    check_integer,
    format_bandwidth,
    format_bytes,
    format_time,
    limit_text,
    parse_quantity,
)

PLATFORM_FORMAT = "lpsched-platform/1"

#: The link models. ``delay``: a message only delays its consumer (links are never
#: busy). ``ports``: a message also occupies its sender's out-port and its
#: receiver's in-port while it is sent.
CAPACITIES = ("delay", "ports")

#: The link classes, by whether the two processors share a node.
LINK_CLASSES = ("intra", "inter")

#: The most processors a platform may have: far beyond any machine a schedule is
#: solved for, and small enough that per-processor tables stay cheap.
MAX_PROCESSORS = 4096

#: Limits of a link: at least 1 byte per second (or unlimited), a latency of at most one
#: hour. Slower links or longer latencies make every message exceed the time-unit limits.
MIN_BANDWIDTH = 1.0
MAX_LATENCY = 3600.0

#: The least memory a processor may have: one byte (``None`` is unlimited).
MIN_MEMORY = 1.0

#: The most extra bytes per parameter byte an optimiser may keep (Adam keeps 2).
MAX_OPTIMIZER_STATE = 100.0

#: The default link: the cost model's historical 50 GB/s and 10 us (between a PCIe
#: 4.0 x16 link and one NVLink bundle, with the start-up cost of an NCCL message).
DEFAULT_BANDWIDTH = 50e9
DEFAULT_LATENCY = 10e-6

_KEYS = (
    "format",
    "name",
    "processors",
    "speed",
    "memory",
    "nodes",
    "processors_per_node",
    "links",
    "capacity",
    "optimizer_state",
)
_PROCESSOR_KEYS = ("speed", "memory", "node")

#: Named platforms: ``name -> (description, specification)``. Per-GPU figures, one
#: direction: NVLink 4 (H100 SXM) moves 450 GB/s each way, PCIe 4.0 x16 about
#: 25 GB/s in practice, and one 400 Gb/s InfiniBand NIC per GPU 50 GB/s.
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "nvlink": (
        "one node of 8 GPUs joined by NVLink (450 GB/s each way per GPU, 3 us)",
        {
            "processors": 8,
            "links": {
                "intra": {"bandwidth": "450GB/s", "latency": "3us"},
                "inter": {"bandwidth": "50GB/s", "latency": "10us"},
            },
        },
    ),
    "pcie": (
        "one box of 8 GPUs on PCIe 4.0 x16 (25 GB/s per GPU, 10 us)",
        {
            "processors": 8,
            "links": {
                "intra": {"bandwidth": "25GB/s", "latency": "10us"},
                "inter": {"bandwidth": "25GB/s", "latency": "10us"},
            },
        },
    ),
    "ib": (
        "nodes of 8 NVLink GPUs (450 GB/s, 3 us), one 400 Gb/s InfiniBand NIC per GPU "
        "between nodes (10 us); 2 nodes unless --procs says otherwise",
        {
            "processors": 16,
            "processors_per_node": 8,
            "links": {
                "intra": {"bandwidth": "450GB/s", "latency": "3us"},
                "inter": {"bandwidth": "400Gb/s", "latency": "10us"},
            },
        },
    ),
}


@dataclass(frozen=True)
class Processor:
    """One processor.

    Parameters
    ----------
    speed
        Compute speed relative to the cost model's processor (``> 0``).
    memory
        Capacity in bytes, or ``None`` for unlimited.
    node
        Index of the node the processor sits in.
    """

    speed: float = 1.0
    memory: float | None = None
    node: int = 0


@dataclass(frozen=True)
class Link:
    """A link class: bytes per second (``math.inf`` allowed) and seconds of latency."""

    bandwidth: float = DEFAULT_BANDWIDTH
    latency: float = DEFAULT_LATENCY


@dataclass(frozen=True)
class Platform:
    """Processors, link classes and the link model that schedules run on.

    Parameters
    ----------
    processors
        The processors, in index order.
    intra, inter
        The link between two processors of one node, and between nodes.
    capacity
        ``"delay"`` or ``"ports"`` (:data:`CAPACITIES`).
    optimizer_state
        Extra bytes kept per parameter byte with each weight update (Adam: 2).
    name
        A preset's name or a file's, for reports.

    Raises
    ------
    InputError
        On a bad value; the message names it.
    """

    processors: tuple[Processor, ...]
    intra: Link = field(default_factory=Link)
    inter: Link = field(default_factory=Link)
    capacity: str = "ports"
    optimizer_state: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        procs = tuple(self.processors)
        object.__setattr__(self, "processors", procs)
        if not procs:
            raise InputError("platform: needs at least one processor")
        if len(procs) > MAX_PROCESSORS:
            raise InputError(f"platform: at most {MAX_PROCESSORS} processors, got {len(procs)}")
        for i, p in enumerate(procs):
            _check_processor(p, i)
        nodes = sorted({p.node for p in procs})
        if nodes != list(range(len(nodes))):
            raise InputError(f"platform: nodes must be numbered 0..N-1, got {nodes}")
        for cls_name in LINK_CLASSES:
            _check_link(getattr(self, cls_name), cls_name)
        if self.capacity not in CAPACITIES:
            raise InputError(
                f"platform: capacity must be one of {', '.join(CAPACITIES)}, got {self.capacity!r}"
            )
        _check_number(self.optimizer_state, "platform: optimizer_state", allow_zero=True)
        if self.optimizer_state > MAX_OPTIMIZER_STATE:
            raise InputError(
                f"platform: optimizer_state must be at most {MAX_OPTIMIZER_STATE:g}, "
                f"got {brief(self.optimizer_state)}"
            )
        object.__setattr__(self, "optimizer_state", float(self.optimizer_state))

    # ------------------------------------------------------------------ access
    @property
    def P(self) -> int:  # noqa: N802 (the field's name for the processor count)
        """Number of processors."""
        return len(self.processors)

    @property
    def speeds(self) -> tuple[float, ...]:
        """Speed of each processor."""
        return tuple(p.speed for p in self.processors)

    @property
    def nodes(self) -> int:
        """Number of nodes."""
        return 1 + max(p.node for p in self.processors)

    def link_class(self, p: int, q: int) -> str:
        """``"intra"`` when ``p`` and ``q`` share a node, else ``"inter"``."""
        return "intra" if self.processors[p].node == self.processors[q].node else "inter"

    def link(self, p: int, q: int) -> Link:
        """The link class between processors ``p`` and ``q``."""
        return self.intra if self.link_class(p, q) == "intra" else self.inter

    @property
    def link_classes(self) -> tuple[str, ...]:
        """The link classes that join some two processors, in :data:`LINK_CLASSES` order.

        ``intra`` needs a node of two processors, ``inter`` two nodes: one
        processor per node has only ``inter`` links, one processor none.
        """
        per_node = [0] * self.nodes
        for p in self.processors:
            per_node[p.node] += 1
        used = {"intra": max(per_node) > 1, "inter": self.nodes > 1}
        return tuple(c for c in LINK_CLASSES if used[c])

    def _one_link(self) -> bool:
        """Every two processors are joined alike (one link class in use, or equal links)."""
        return len(self.link_classes) <= 1 or self.intra == self.inter

    @property
    def uniform(self) -> bool:
        """All processors equally fast, and every pair of processors joined alike."""
        return len(set(self.speeds)) == 1 and self._one_link()

    def interchangeable(self) -> list[list[int]]:
        """Groups of processors that any schedule may swap: same speed, memory and node.

        When every two processors are joined alike (one node, one processor per
        node, or equal links) the node does not matter.
        """
        one_class = self._one_link()
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, p in enumerate(self.processors):
            key = (p.speed, p.memory) if one_class else (p.speed, p.memory, p.node)
            groups.setdefault(key, []).append(i)
        return list(groups.values())

    # --------------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        """The platform with SI numbers (bytes, bytes/s, seconds), as schedule files embed it."""

        def link(x: Link) -> dict[str, float | None]:
            bw = None if math.isinf(x.bandwidth) else x.bandwidth
            return {"bandwidth": bw, "latency": x.latency}

        out: dict[str, Any] = {
            "processors": [
                {"speed": p.speed, "memory": p.memory, "node": p.node} for p in self.processors
            ],
            "links": {"intra": link(self.intra), "inter": link(self.inter)},
            "capacity": self.capacity,
            "optimizer_state": self.optimizer_state,
        }
        if self.name:  # so that from_dict gives back an equal platform
            out["name"] = self.name
        return out

    @classmethod
    def from_dict(cls, data: Any, source: str = "platform") -> Platform:
        """Read the ``lpsched-platform/1`` form (see the module docstring), or :meth:`to_dict`'s.

        Raises
        ------
        InputError
            One line naming ``source`` and what is wrong.
        """
        try:
            return _from_spec(data)
        except InputError as err:
            raise InputError(f"{source}: {str(err).removeprefix('platform: ')}") from None

    @classmethod
    def read(cls, path: str | Path) -> Platform:
        """Read a platform from a YAML or JSON file."""
        return cls.from_dict(read_spec(path), source=str(path))

    @classmethod
    def default(
        cls, processors: int, bandwidth: float = DEFAULT_BANDWIDTH, latency: float = DEFAULT_LATENCY
    ) -> Platform:
        """``processors`` identical processors at speed 1 in one node, one link class."""
        n = _count(processors, "--procs")
        link = Link(bandwidth, latency)
        return cls(tuple(Processor() for _ in range(n)), link, link)

    def describe(self) -> str:
        """One line a person reads: counts, speeds, links, memory."""
        speeds = sorted(set(self.speeds))
        speed = f"speed {speeds[0]:g}" if len(speeds) == 1 else f"speeds {_speeds(self.speeds)}"
        mems = {p.memory for p in self.processors}
        memory = (
            "memory unlimited"
            if mems == {None}
            else "memory " + ", ".join(sorted(format_bytes(m) for m in mems if m is not None))
        )
        links = f"links {format_bandwidth(self.intra.bandwidth)}, {format_time(self.intra.latency)}"
        if self.nodes > 1:
            links = (
                f"{self.nodes} nodes; intra {format_bandwidth(self.intra.bandwidth)}, "
                f"{format_time(self.intra.latency)}; inter "
                f"{format_bandwidth(self.inter.bandwidth)}, {format_time(self.inter.latency)}"
            )
        name = f"{self.name}: " if self.name else ""
        return f"{name}{self.P} processors, {speed}, {links}, {memory}, capacity {self.capacity}"


def _speeds(speeds: Sequence[float]) -> str:
    return ",".join(f"{s:g}" for s in speeds)


# --------------------------------------------------------------------------- checks
def _check_number(value: Any, what: str, *, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{what} must be a number, got {brief(value)}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int beyond the float range
        finite = False
    if not finite or value < 0 or (value == 0 and not allow_zero):
        raise InputError(
            f"{what} must be {'>= 0' if allow_zero else '> 0'} and finite, got {brief(value)}"
        )


def _check_processor(p: Processor, i: int) -> None:
    if not isinstance(p, Processor):
        raise InputError(f"platform: processors[{i}] must be a Processor, got {p!r}")
    _check_number(p.speed, f"platform: processors[{i}].speed")
    if p.speed > 1e6 or p.speed < 1e-6:
        raise InputError(f"platform: processors[{i}].speed must be in 1e-6..1e6, got {p.speed!r}")
    if p.memory is not None:
        _check_number(p.memory, f"platform: processors[{i}].memory")
        if p.memory < MIN_MEMORY:
            raise InputError(
                f"platform: processors[{i}].memory must be at least 1 byte, got {brief(p.memory)}"
            )
    check_integer(p.node, f"platform: processors[{i}].node", 0, MAX_PROCESSORS - 1)


def _check_link(link: Link, what: str) -> None:
    if not isinstance(link, Link):
        raise InputError(f"platform: links.{what} must be a Link, got {link!r}")
    bw = link.bandwidth
    if isinstance(bw, bool) or not isinstance(bw, numbers.Real) or not bw > 0:
        raise InputError(f"platform: links.{what}.bandwidth must be > 0, got {brief(bw)}")
    if bw < MIN_BANDWIDTH:
        raise InputError(
            f"platform: links.{what}.bandwidth must be at least 1 B/s, got {brief(bw)}"
        )
    _check_number(link.latency, f"platform: links.{what}.latency", allow_zero=True)
    if link.latency > MAX_LATENCY:
        raise InputError(
            f"platform: links.{what}.latency must be at most 1 hour ({MAX_LATENCY:g} s), "
            f"got {brief(link.latency)}"
        )


def _count(value: Any, what: str) -> int:
    # Exact, as every integer lpsched reads: 8.0 processors is refused, not read as 8.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{what} must be an integer, got {brief(value)}")
    if not 1 <= value <= MAX_PROCESSORS:
        raise InputError(f"{what} must be between 1 and {MAX_PROCESSORS}, got {brief(value)}")
    return int(value)


# ------------------------------------------------------------------- specifications
def read_spec(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML or JSON platform file (not yet checked)."""
    p = Path(path)
    text = read_text(p)
    try:
        data = parse_yaml(text, str(p))
    except InputError as err:
        # "p:3: malformed YAML: ..." as "p: invalid YAML at line 3 (...)"
        raise InputError(_yaml_message(str(err), str(p))) from None
    if not isinstance(data, dict):
        raise InputError(f"{p}: expected a mapping of platform keys")
    refuse_kind(data, str(p), "lpsched-platform", PLATFORM_FORMAT)
    return data


def _yaml_message(message: str, source: str) -> str:
    rest = message.removeprefix(source)
    line, _, problem = rest.partition(": ")
    at = f" at line {line[1:]}" if line.startswith(":") else ""
    if "YAML" not in problem:
        return message
    return f"{source}: invalid YAML{at} ({problem.removeprefix('malformed YAML: ')})"


def preset_spec(name: str) -> dict[str, Any]:
    """A copy of the specification of preset ``name``."""
    if name not in PRESETS:
        raise InputError(f"unknown platform {name!r}; presets: {', '.join(PRESETS)}")
    spec = copy.deepcopy(PRESETS[name][1])
    spec["name"] = name
    return spec


def preset(name: str, processors: int | None = None) -> Platform:
    """The preset ``name``, with ``processors`` processors when given."""
    spec = preset_spec(name)
    if processors is not None:
        spec = override(spec, procs=processors)
    return _from_spec(spec)


def _from_spec(data: Any) -> Platform:
    if not isinstance(data, dict):
        raise InputError("platform: expected a mapping")
    refuse_kind(data, "platform", "lpsched-platform", PLATFORM_FORMAT)
    fmt = data.get("format", PLATFORM_FORMAT)
    if fmt != PLATFORM_FORMAT:
        raise InputError(f"platform: format must be {PLATFORM_FORMAT!r}, got {brief(fmt)}")
    unknown = [k for k in data if k not in _KEYS]
    if unknown:
        raise InputError(f"platform: unknown key {brief(unknown[0])}; known: {', '.join(_KEYS)}")
    procs = _processors(data)
    links = data.get("links", {}) or {}
    if not isinstance(links, dict):
        raise InputError("platform: links must be a mapping with intra and inter")
    bad = [k for k in links if k not in LINK_CLASSES]
    if bad:
        raise InputError(f"platform: unknown link class {brief(bad[0])}; known: intra, inter")
    intra = _link(links.get("intra"), "intra", Link())
    inter = _link(links.get("inter"), "inter", intra)
    opt = data.get("optimizer_state", 0)
    _check_number(opt, "platform: optimizer_state", allow_zero=True)
    return Platform(
        procs,
        intra,
        inter,
        capacity=str(data.get("capacity", "ports")),
        optimizer_state=float(opt),
        name=str(data.get("name", "") or ""),
    )


def _processors(data: Mapping[str, Any]) -> tuple[Processor, ...]:
    raw = data.get("processors")
    if raw is None:
        raise InputError("platform: 'processors' is required (a count or a list)")
    speed = _speed(data.get("speed", 1.0), "speed")
    memory = _memory(data.get("memory"), "memory")
    if isinstance(raw, list):
        if "nodes" in data or "processors_per_node" in data:
            raise InputError("platform: with a list of processors, give each its 'node'")
        _count(len(raw), "platform: number of processors")
        out = []
        for i, entry in enumerate(raw):
            if not isinstance(entry, dict):
                raise InputError(f"platform: processors[{i}] must be a mapping")
            bad = [k for k in entry if k not in _PROCESSOR_KEYS]
            if bad:
                raise InputError(f"platform: processors[{i}]: unknown key {brief(bad[0])}")
            node = entry.get("node", 0)
            if isinstance(node, bool) or not isinstance(node, int) or node < 0:
                raise InputError(f"platform: processors[{i}].node must be an integer >= 0")
            check_integer(node, f"platform: processors[{i}].node", 0, MAX_PROCESSORS - 1)
            out.append(
                Processor(
                    _speed(entry.get("speed", speed), f"processors[{i}].speed"),
                    _memory(entry.get("memory", memory), f"processors[{i}].memory"),
                    node,
                )
            )
        _count(len(out), "platform: number of processors")
        return tuple(out)
    n = _count(raw, "platform: processors")
    nodes = _nodes(data, n)
    per = n // nodes
    return tuple(Processor(speed, memory, i // per) for i in range(n))


def _nodes(data: Mapping[str, Any], n: int) -> int:
    if "nodes" in data and "processors_per_node" in data:
        raise InputError("platform: give 'nodes' or 'processors_per_node', not both")
    if "processors_per_node" in data:
        per = _count(data["processors_per_node"], "platform: processors_per_node")
        if n % per:
            raise InputError(
                f"platform: {n} processors do not fill nodes of {per}; use a multiple of {per}"
            )
        return max(1, n // per)
    nodes = _count(data.get("nodes", 1), "platform: nodes")
    if n % nodes:
        raise InputError(f"platform: {n} processors do not split evenly into {nodes} nodes")
    return nodes


def _speed(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"platform: {what} must be a number, got {brief(value)}")
    _check_number(value, f"platform: {what}")
    return float(value)


def _memory(value: Any, what: str) -> float | None:
    if value is None:
        return None
    return parse_quantity(value, "bytes", f"platform: {what}")


def _link(raw: Any, what: str, default: Link) -> Link:
    if raw is None:
        return default
    if not isinstance(raw, dict):
        raise InputError(f"platform: links.{what} must be a mapping of bandwidth and latency")
    bad = [k for k in raw if k not in ("bandwidth", "latency")]
    if bad:
        raise InputError(f"platform: links.{what}: unknown key {brief(bad[0])}")
    bw = raw.get("bandwidth", default.bandwidth)
    bandwidth = (
        math.inf
        if bw is None
        else parse_quantity(bw, "bandwidth", f"platform: links.{what}.bandwidth", allow_inf=True)
    )
    latency = parse_quantity(
        raw.get("latency", default.latency),
        "time",
        f"platform: links.{what}.latency",
        allow_zero=True,
    )
    return Link(bandwidth, latency)


def override(
    spec: Mapping[str, Any],
    *,
    procs: int | None = None,
    nodes: int | None = None,
    speeds: Sequence[float] | None = None,
    memory: Any = None,
    bandwidth: Any = None,
    latency: Any = None,
    capacity: str | None = None,
    optimizer_state: float | None = None,
) -> dict[str, Any]:
    """A copy of a platform specification with the command line's overrides applied.

    ``bandwidth`` and ``latency`` are one value for both link classes, or a
    mapping ``{"intra": ..., "inter": ...}``. ``speeds`` lists one speed per
    processor; with ``procs`` too, their lengths must agree.

    Raises
    ------
    InputError
        When the overrides contradict each other or the specification.
    """
    out = copy.deepcopy(dict(spec))
    if procs is not None:
        procs = _count(procs, "--procs")
        if isinstance(out.get("processors"), list):
            if len(out["processors"]) != procs:
                raise InputError(
                    f"--procs {procs}: the platform lists {len(out['processors'])} processors"
                )
        else:
            out["processors"] = procs
            # A node count that the new count does not fill is refused when the platform is
            # built (_nodes), unless --nodes (below) replaces it.
    if nodes is not None:
        out.pop("processors_per_node", None)
        out["nodes"] = _count(nodes, "--nodes")
    if speeds is not None:
        out = _with_speeds(out, list(speeds))
    if memory is not None:
        _set_all(out, "memory", memory)
    for key, value in (("bandwidth", bandwidth), ("latency", latency)):
        if value is None:
            continue
        links = out.setdefault("links", {})
        per_class = value if isinstance(value, Mapping) else dict.fromkeys(LINK_CLASSES, value)
        for cls_name, v in per_class.items():
            links.setdefault(cls_name, {})[key] = v
    if capacity is not None:
        out["capacity"] = capacity
    if optimizer_state is not None:
        out["optimizer_state"] = optimizer_state
    return out


def _set_all(spec: dict[str, Any], key: str, value: Any) -> None:
    spec[key] = value
    if isinstance(spec.get("processors"), list):
        for entry in spec["processors"]:
            entry[key] = value


def _with_speeds(spec: dict[str, Any], speeds: list[float]) -> dict[str, Any]:
    raw = spec.get("processors")
    n = len(raw) if isinstance(raw, list) else raw
    if n is not None and "processors" in spec and n != len(speeds):
        raise InputError(f"--speeds lists {len(speeds)} speeds for {n} processors")
    if isinstance(raw, list):
        for entry, s in zip(raw, speeds, strict=True):
            entry["speed"] = s
        return spec
    tmp = dict(spec, processors=len(speeds))
    base = _processors({k: v for k, v in tmp.items() if k != "speed"})
    spec = {k: v for k, v in spec.items() if k not in ("nodes", "processors_per_node", "speed")}
    spec["processors"] = [
        {"speed": s, "memory": p.memory, "node": p.node} for s, p in zip(speeds, base, strict=True)
    ]
    spec.pop("memory", None)
    return spec


def platform_of(value: Platform | int) -> Platform:
    """A platform from a platform or a processor count (the default platform of ``P``)."""
    if isinstance(value, Platform):
        return value
    return Platform.default(_count(value, "--procs"))


def check_scale(platform: Platform, graph: TaskGraph) -> None:
    """Refuse a graph whose durations or messages on ``platform`` exceed the graph's limits.

    A task of speed-1 duration ``d`` lasts ``ceil(d / speed)`` on a processor and a
    message of ``b`` bytes ``(latency + b / bandwidth) / unit`` time units, so a slow
    processor or link can take a graph within :data:`~lpsched.graph.MAX_UNITS` past it.
    Checked on the slowest processor and the slowest link class in use: the longest
    task, the total work and the largest message must each stay within the limit.

    Raises
    ------
    InputError
        Naming what exceeds the limit and what makes it smaller.
    """
    limit = limit_text(MAX_UNITS)
    slowest = min(Fraction(repr(float(s))) for s in platform.speeds)
    longest = max(graph.tasks, key=lambda t: t.duration)
    if Fraction(longest.duration) / slowest > MAX_UNITS:
        raise InputError(
            f"task {brief(longest.name)} lasts {float(longest.duration / slowest):.4g} time "
            f"units at speed {float(slowest):g}, more than the limit of {limit}"
        )
    if Fraction(graph.total_work) / slowest > MAX_UNITS:
        raise InputError(
            f"the total work lasts {float(graph.total_work / slowest):.4g} time units at speed "
            f"{float(slowest):g}, more than the limit of {limit}"
        )
    unit = graph.time_unit_seconds
    sizes = [e.bytes for e in graph.edges if e.comm is None and e.bytes > 0]
    if unit is None or not sizes:
        return  # no message takes time (or the Problem refuses bytes without a time unit)
    for cls_name in platform.link_classes:
        link = getattr(platform, cls_name)
        units = (link.latency + max(sizes) / link.bandwidth) / unit
        if units > MAX_UNITS:
            raise InputError(
                f"a message of {max(sizes)} bytes takes {units:.4g} time units of "
                f"{graph.time_unit} on the {cls_name} link, more than the limit of {limit} "
                "(a faster link or a coarser time unit makes it fewer)"
            )
