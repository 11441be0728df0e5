"""Chrome / Perfetto traces of a schedule's programs, or of anything that ran on processors.

A trace is the JSON object format of the Trace Event Format that
``chrome://tracing`` and https://ui.perfetto.dev read: ``{"traceEvents": [...]}``.
Each processor is a process (``"processor 2"``); each process has one thread
per track: ``compute`` for its tasks and one per port in use (``out intra``,
``in inter``, ...) for the transfers that busy it. A span is a complete event
(``"ph": "X"``) with ``ts`` and ``dur`` in microseconds; a span of no duration
(a message under ``capacity: delay``, a fixed ``comm``, a transfer over an
unlimited link) is an instant event (``"ph": "i"``) on its track. Metadata
events (``"ph": "M"``) name the processes and threads and fix their order.

:func:`write_trace` takes any iterable of :class:`Span` in time units, so a
simulator can write what it ran in the same form as :func:`program_spans`
writes what the schedule plans.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import write_text_atomic
from .programs import Programs

#: The track of a processor's computations; port tracks are ``"<direction> <link class>"``.
COMPUTE_TRACK = "compute"


@dataclass(frozen=True)
class Span:
    """Something that ran on one processor's track for a while.

    Parameters
    ----------
    processor
        The processor (a process in the trace).
    track
        Its track on that processor (a thread): :data:`COMPUTE_TRACK`, a port
        such as ``"out intra"``, or any other name.
    name
        The event's name: a task's or a tensor's.
    start, duration
        In time units (floats allowed: a simulator's times need not be whole).
    args
        Shown with the event (iteration, op, bytes, peer, ...).
    """

    processor: int
    track: str
    name: str
    start: float
    duration: float
    args: Mapping[str, Any] = field(default_factory=dict)


def program_spans(programs: Programs, iterations: int) -> list[Span]:
    """The spans of the unrolled programs: every computation, and every transfer on its ports.

    A transfer under ``capacity: ports`` busies the sender's out-port and the
    receiver's in-port of its link class for its duration: it is a span on
    both tracks. A message that takes no port time is one instant span on the
    sender's out-port track. Receives are not spans: a receive only waits.
    """
    out = []
    for p, actions in enumerate(programs.unrolled(iterations)):
        for a in actions:
            args: dict[str, Any] = {"iteration": a.iteration, "op": a.op}
            if a.kind == "compute":
                out.append(Span(p, COMPUTE_TRACK, a.name, a.time, a.duration, args))
                continue
            if a.kind != "send":
                continue
            assert a.peer is not None
            args |= {"bytes": a.bytes, "producer": a.producer, "latency": a.latency}
            # peer: the other end, the receiver on the out-port, the sender on the in-port.
            out.append(
                Span(p, f"out {a.link}", a.name, a.time, a.duration, args | {"peer": a.peer})
            )
            if a.duration > 0:
                out.append(
                    Span(a.peer, f"in {a.link}", a.name, a.time, a.duration, args | {"peer": p})
                )
    return out


def _track_order(track: str) -> tuple[int, str]:
    """Compute first, then out-ports, in-ports and anything else, by name."""
    rank = {"compute": 0, "out": 1, "in": 2}
    return (rank.get(track.split(" ")[0], 3), track)


def trace_events(
    spans: Iterable[Span],
    unit_seconds: float | None,
    processors: int = 0,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The trace object of ``spans``: events sorted by process, thread and time.

    Parameters
    ----------
    spans
        What ran, in time units.
    unit_seconds
        Seconds per time unit; ``None`` (no physical unit): one time unit is
        written as one microsecond, and ``otherData`` says so.
    processors
        Name at least processors ``0 .. processors-1``, even those without spans.
    metadata
        Added to ``otherData``.
    """
    scale = 1.0 if unit_seconds is None else unit_seconds * 1e6
    spans = list(spans)
    tracks: dict[int, set[str]] = {p: {COMPUTE_TRACK} for p in range(processors)}
    for s in spans:
        tracks.setdefault(s.processor, {COMPUTE_TRACK}).add(s.track)
    tid = {
        (p, t): i
        for p, names in tracks.items()
        for i, t in enumerate(sorted(names, key=_track_order))
    }
    events: list[dict[str, Any]] = []
    for s in spans:
        event: dict[str, Any] = {
            "name": s.name,
            "cat": s.track.split(" ")[0],
            "ph": "X" if s.duration > 0 else "i",
            "ts": s.start * scale,
            "pid": s.processor,
            "tid": tid[(s.processor, s.track)],
            "args": dict(s.args),
        }
        if s.duration > 0:
            event["dur"] = s.duration * scale
        else:
            event["s"] = "t"  # an instant event of its thread
        events.append(event)
    events.sort(key=lambda e: (e["pid"], e["tid"], e["ts"]))
    meta: list[dict[str, Any]] = []
    for p in sorted(tracks):
        meta.append(_meta("process_name", p, 0, {"name": f"processor {p}"}))
        meta.append(_meta("process_sort_index", p, 0, {"sort_index": p}))
    for (p, t), i in sorted(tid.items()):
        meta.append(_meta("thread_name", p, i, {"name": t}))
        meta.append(_meta("thread_sort_index", p, i, {"sort_index": i}))
    other: dict[str, Any] = {"time_unit_seconds": unit_seconds}
    if unit_seconds is None:
        other["note"] = "the schedule has no physical time unit: 1 time unit is written as 1 us"
    other |= dict(metadata or {})
    return {"traceEvents": meta + events, "displayTimeUnit": "ms", "otherData": other}


def _meta(name: str, pid: int, tid: int, args: dict[str, Any]) -> dict[str, Any]:
    """A metadata event (``ph: M``): a process or thread name or sort index."""
    return {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": args}


def write_trace(
    path: str | Path,
    spans: Iterable[Span],
    unit_seconds: float | None,
    processors: int = 0,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write the trace of ``spans`` (:func:`trace_events`) to ``path``, atomically."""
    trace = trace_events(spans, unit_seconds, processors, metadata)
    write_text_atomic(path, json.dumps(trace, separators=(",", ":")) + "\n")


def programs_trace(programs: Programs, iterations: int) -> dict[str, Any]:
    """The trace object of ``iterations`` of ``programs`` (:func:`program_spans`)."""
    return trace_events(
        program_spans(programs, iterations),
        programs.time_unit_seconds,
        programs.processors,
        {
            "period": programs.period,
            "depth": programs.depth,
            "capacity": programs.capacity,
            "iterations": iterations,
        },
    )
