"""A discrete-event simulation of a schedule's programs: what a runtime would achieve.

:func:`simulate` runs the per-processor programs of :mod:`lpsched.programs` for
``N`` iterations, with every duration (compute and transfer) drawn uniformly in
``d (1 +- jitter)``, and reports the period it achieves, the memory each
processor holds, how busy each link port is, and a deadlock when the programs
cannot finish.

What runs
---------
* Each processor's **stream** holds its compute and recv actions in program
  order and runs them one at a time. A compute lasts its drawn duration. A
  recv **blocks** the stream until its tensor (producer, name, producer
  iteration, from ``peer``) has arrived.
* A **send is non-blocking**: it is posted when its producer instance has
  finished (and, in ``timed`` mode, its scheduled time has come); it never
  waits for the stream.
* Under ``capacity: ports`` a posted transfer needs the out-port of its source
  and the in-port of its destination (of its link class); each port carries one
  transfer at a time. It lasts its drawn duration and the tensor arrives
  ``latency`` after it ends. A message of no duration (a fixed ``comm``, no
  bytes, an unlimited link) busies no port. How a free port picks the next
  transfer (``arbitration``):

  - ``"order"`` (default): each port carries its transfers in the **scheduled order**
    (a runtime that issues them on one ordered stream per port, as NCCL does
    per communicator): the next one waits until it is posted and is next on
    its other port too. In a valid schedule this cannot deadlock (everything a
    transfer waits for is scheduled earlier), and in ``asap`` mode at jitter 0
    nothing runs later than scheduled, ports included. It is what the programs
    say, and it keeps a late transfer from being overtaken (``benchmarks/jitter.md``:
    under ``fcfs`` one late transfer on a nearly saturated port can drop the
    pipeline into a slower self-timed regime, up to 1.43 T at jitter 0.1).
  - ``"fcfs"``: **first come, first served** (ties by scheduled
    time, then program order) among the waiting transfers whose other port is
    free too, so that a port never idles while a transfer that could use it
    waits. (Strictly in order of arrival, a transfer that heads one queue but
    waits for its other port holds up everything behind it: on VGG-16 at
    P = 8 that alone made the self-timed period 4.6% longer than ``T`` at
    jitter 0.)

  Under ``delay`` no port is busy: the tensor arrives ``latency`` after the
  send is posted. Latencies are never jittered: they are the link's, not the
  work's.
* ``mode="timed"`` (a runtime with a period clock): no action starts before
  its scheduled time. With ``jitter=0`` every action then runs exactly at its
  scheduled time in a valid schedule, and the achieved period is ``T``
  exactly (times stay integers). ``mode="asap"`` (self-timed): no release
  times, the orders alone.

Why a heap of events and not SimPy: the only processes are "a stream runs its
next action" and "a port serves its queue", each woken by one of four events
(a compute ends, a send is posted, a transfer ends, a tensor arrives); a
``heapq`` of ``(time, sequence, event)`` is forty lines, deterministic by
construction and needs no dependency.

What is measured
----------------
* ``C_i``, the completion of iteration ``i``: the end of its last compute
  action or the arrival of its last message (a recv is left out: it ends when
  the reader's stream reaches it, in a later iteration). Periods are
  ``C_{i+1} - C_i`` over the steady state, iterations ``depth .. N-1-depth``
  (the prologue and epilogue of the programs fill and drain the pipeline).
* Memory, counted here from the graph and the simulated times (not with
  :mod:`lpsched.footprint`): each tensor instance (producer, tensor, producer
  iteration) is held on its producer's processor from the producer's start
  until its last local reader ends and its last transfer ends (under
  ``delay``: until it arrives); on a processor it is sent to, from the start of
  its transfer (the receive buffer fills while the bytes come; under
  ``delay``, from the post) until its last reader there ends. Weights are the
  tensors of the weight edges (``U -> F``), so stashed versions count by the
  same rule; the initial weights (read before any update) are one copy per
  reading processor from time 0 until their last read. Optimizer state is
  ``optimizer_state x`` the parameter bytes, one copy with each update task.
  The footprint model charges each tensor ``ceil(L / T)`` copies for its
  periodic lifetime ``L``; this count follows the instances one by one, so at
  jitter 0 in timed mode its peak is at most the footprint (the footprint is
  an upper bound; the two agree when the copies' lifetimes line up), and with
  jitter it shows how much more a late reader makes a processor hold.
* Each port's busy share over the steady-state window ``[C_depth, C_{N-1-depth}]``.
* Causality, an independent check of the programs: every reader instance must
  start after its producer instance ended, and after the message arrived when
  the two sit on different processors (from the graph's edges, not the
  programs' recvs). A violation means the programs miss a dependency.

This module shares no code with the solvers (:mod:`lpsched.solvers`,
:mod:`lpsched.problem`, :mod:`lpsched.bounds`) nor with the validator
(:mod:`lpsched.validate`, :mod:`lpsched.footprint`): it runs the programs.
It takes every duration and latency from them (:mod:`lpsched.programs`
computes them from the platform, as the validator does) and reads the graph
only for the memory count and the causality check.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InputError
from .programs import Action, Programs, build_programs
from .schedule import Result, Schedule, tensor_name
from .units import format_bytes, format_ms

#: Simulation modes: ``timed`` (a period clock releases every action at its time), ``asap``.
MODES = ("timed", "asap")

#: How a port picks its next transfer: first come first served, or in the scheduled order.
ARBITRATIONS = ("order", "fcfs")

#: The most iterations one simulation runs, and the most actions it unrolls.
MAX_ITERATIONS = 100_000
MAX_ACTIONS = 5_000_000

#: How many causality violations a report spells out.
SHOWN_VIOLATIONS = 10

Time = int | float


@dataclass(frozen=True)
class Wait:
    """A processor blocked at a recv when nothing else can happen.

    Parameters
    ----------
    processor
        The blocked processor.
    tensor, producer, iteration, peer
        The tensor it waits for, the task producing it, the producer's
        iteration and the processor it comes from.
    reason
        Why it never arrives, one line.
    """

    processor: int
    tensor: str
    producer: str
    iteration: int
    peer: int
    reason: str

    def __str__(self) -> str:
        """The wait as one line: who waits for what, from whom, and why."""
        return (
            f"processor {self.processor} waits for {self.tensor} (iteration {self.iteration}) "
            f"from processor {self.peer}: {self.reason}"
        )


@dataclass(frozen=True)
class Deadlock:
    """No event is left and some stream is not done: every blocked processor and why."""

    time: Time
    waits: tuple[Wait, ...]

    def __str__(self) -> str:
        """The deadlock as one line: its time and every wait."""
        return f"deadlock at time {self.time}: " + "; ".join(str(w) for w in self.waits)


@dataclass(frozen=True)
class PortBusy:
    """One port's busy time over the steady-state window and its share of the window."""

    processor: int
    direction: str
    link: str
    busy: Time
    share: float


@dataclass(frozen=True)
class Span:
    """One thing the simulation ran, at its actual times (``trace=True``).

    ``track`` is ``"compute"`` or a port, ``"out intra"``, ``"in inter"``, ...
    (the tracks of :mod:`lpsched.trace`). A transfer is a span on both its
    ports; a message that busies no port is a span of no length on the
    sender's out-port track, at its post. ``producer`` and ``peer`` (the
    other end) are a message's.
    """

    processor: int
    track: str
    name: str
    iteration: int
    start: Time
    end: Time
    producer: str | None = None
    peer: int | None = None


@dataclass(frozen=True)
class SimulationReport:
    """What :func:`simulate` measured (the module docstring says how).

    ``periods`` are the steady-state ``C_{i+1} - C_i`` in time units (integers
    at jitter 0); ``mean``, ``p50``, ``p99`` and ``max`` summarise them (``None``
    when fewer than two steady-state iterations ran, or on a deadlock). ``mean``
    is ``(C_last - C_first) / (number of periods)``, exact at jitter 0.
    """

    iterations: int
    jitter: float
    seed: int
    mode: str
    capacity: str
    period: int
    depth: int
    time_unit_seconds: float | None
    completions: tuple[Time, ...]
    periods: tuple[Time, ...]
    mean: float | None
    p50: Time | None
    p99: Time | None
    max: Time | None
    peak_memory: tuple[float, ...] | None
    ports: tuple[PortBusy, ...]
    deadlock: Deadlock | None
    violations: tuple[str, ...] = ()
    violation_count: int = 0
    makespan: Time = 0
    arbitration: str = "order"
    spans: tuple[Span, ...] = ()

    def ratio(self, value: Time | None) -> float | None:
        """``value / T``."""
        return None if value is None else value / self.period

    def ms(self, value: Time | None) -> float | None:
        """Time units in milliseconds; ``None`` without a physical time unit."""
        if value is None or self.time_unit_seconds is None:
            return None
        return value * self.time_unit_seconds * 1e3

    def busiest_port(self) -> PortBusy | None:
        """The port with the largest busy share, ``None`` when no port is busy."""
        busy = [x for x in self.ports if x.busy > 0]
        return max(busy, key=lambda x: x.share, default=None)

    def summary(self) -> str:
        """One line: achieved period (mean, p50, p99 in ms and x T), memory, busiest port."""
        ports = f", ports {self.arbitration}" if self.capacity == "ports" else ""
        head = (
            f"simulated {self.iterations} iterations ({self.mode}{ports}, jitter "
            f"{self.jitter:g}, seed {self.seed})"
        )
        if self.deadlock is not None:
            return f"{head}: {self.deadlock}"
        if self.mean is None:
            return f"{head}: too few iterations for a steady state (depth {self.depth})"
        parts = [f"{name} {self._time(v)}" for name, v in (("mean", self.mean), ("p50", self.p50))]
        parts.append(f"p99 {self._time(self.p99)}")
        line = f"{head}: period {', '.join(parts)} (T = {self._time(self.period, False)})"
        if self.peak_memory:
            line += f"; memory up to {format_bytes(max(self.peak_memory))}"
        top = self.busiest_port()
        if top is not None:
            where = "out of" if top.direction == "out" else "into"
            line += f"; busiest port {100 * top.share:.0f}% ({where} processor {top.processor})"
        if self.violation_count:
            line += f"; {self.violation_count} causality violations"
        return line

    def _time(self, value: Time | None, ratio: bool = True) -> str:
        """``value`` (time units) in ms, and over ``T`` with ``ratio``."""
        ms = self.ms(value)
        text = f"{value:g} units" if ms is None else format_ms(ms / 1e3)
        if ratio:
            text += f" ({self.ratio(value):.4f} x T)"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The whole report as JSON-ready data (times in time units and in ms)."""
        stats = {
            name: {"units": v, "ms": self.ms(v), "ratio": self.ratio(v)}
            for name, v in (("mean", self.mean), ("p50", self.p50), ("p99", self.p99))
            + (("max", self.max),)
        }
        return {
            "iterations": self.iterations,
            "jitter": self.jitter,
            "seed": self.seed,
            "mode": self.mode,
            "capacity": self.capacity,
            "arbitration": self.arbitration,
            "period": {"units": self.period, "ms": self.ms(self.period)},
            "depth": self.depth,
            "time_unit_seconds": self.time_unit_seconds,
            "achieved_period": stats,
            "periods": list(self.periods),
            "completions": list(self.completions),
            "makespan": self.makespan,
            "peak_memory_bytes": None if self.peak_memory is None else list(self.peak_memory),
            "ports": [
                {
                    "processor": x.processor,
                    "direction": x.direction,
                    "link": x.link,
                    "busy": x.busy,
                    "share": x.share,
                }
                for x in self.ports
            ],
            "deadlock": None if self.deadlock is None else _deadlock_dict(self.deadlock),
            "violation_count": self.violation_count,
            "violations": list(self.violations),
        }


def _deadlock_dict(d: Deadlock) -> dict[str, Any]:
    """The deadlock as JSON: its time, its line and every wait."""
    return {
        "time": d.time,
        "message": str(d),
        "waits": [
            {
                "processor": w.processor,
                "tensor": w.tensor,
                "producer": w.producer,
                "iteration": w.iteration,
                "peer": w.peer,
                "reason": w.reason,
            }
            for w in d.waits
        ],
    }


# ------------------------------------------------------------------ the engine
@dataclass
class _Send:
    """One unrolled send and what happened to it."""

    action: Action
    src: int
    order: int
    duration: Time
    post: Time | None = None
    begin: Time | None = None
    end: Time | None = None
    arrival: Time | None = None
    key: tuple[str, str, int, int, int] = field(init=False)
    ports: tuple[tuple[int, str, str], tuple[int, str, str]] = field(init=False)

    def __post_init__(self) -> None:
        """Its key (producer, tensor, ends, iteration) and its two ports."""
        a, link = self.action, self.action.link or "intra"
        self.key = (a.producer or "", a.name, self.src, a.peer or 0, a.iteration)
        self.ports = (self.src, "out", link), (a.peer or 0, "in", link)


@dataclass
class _Runs:
    """What the engine recorded: compute instances, sends, where each stream stopped, the end."""

    compute: dict[tuple[str, int], tuple[Time, Time]] = field(default_factory=dict)
    sends: dict[tuple[str, str, int, int, int], _Send] = field(default_factory=dict)
    position: list[int] = field(default_factory=list)
    horizon: Time = 0
    ports: bool = False


class _Engine:
    """The event loop: streams, sends, ports (the module docstring says what they do)."""

    def __init__(
        self,
        streams: list[list[Action]],
        durations: list[list[Time]],
        sends: list[_Send],
        capacity: str,
        timed: bool,
        arbitration: str,
    ) -> None:
        """The run's state: one stream, position and busy flag per processor; ports; the heap."""
        self.streams, self.durations, self.timed = streams, durations, timed
        self.ports = capacity == "ports"
        self.in_order = arbitration == "order"
        self.next = [0] * len(streams)
        self.busy = [False] * len(streams)
        self.waiting: dict[tuple[str, str, int, int, int], int] = {}
        self.runs = _Runs(sends={s.key: s for s in sends}, ports=self.ports)
        self.by_producer: dict[tuple[str, int], list[_Send]] = {}
        for s in sends:
            self.by_producer.setdefault((s.action.producer or "", s.action.iteration), []).append(s)
        self.queues: dict[tuple[int, str, str], list[tuple[Any, ...]]] = {}
        self.holder: dict[tuple[int, str, str], _Send | None] = {}
        self.heap: list[tuple[Any, ...]] = []
        self.seq = 0
        self.served: dict[tuple[int, str, str], int] = {}
        if self.in_order and self.ports:  # each port's transfers, in scheduled order
            for s in sorted(sends, key=lambda s: (s.action.time, s.order)):
                for port in s.ports if s.action.duration else ():
                    self.queues.setdefault(port, []).append((s.action.time, s.order, s))
                    self.served[port] = 0

    def push(self, time: Time, kind: str, payload: Any) -> None:
        """Schedule an event; ``seq`` breaks ties in push order (deterministic)."""
        self.seq += 1
        heapq.heappush(self.heap, (time, self.seq, kind, payload))

    def run(self) -> _Runs:
        """Run every event; returns the record (streams left unfinished: a deadlock)."""
        for p in range(len(self.streams)):
            self.advance(p, 0)
        handlers = {
            "compute_end": self.compute_end,
            "release": self.advance,
            "post": self.post,
            "transfer_end": self.transfer_end,
            "arrive": self.arrive,
        }
        now: Time = 0
        while self.heap:
            now, _, kind, payload = heapq.heappop(self.heap)
            handlers[kind](payload, now)
        self.runs.horizon = now
        self.runs.position = list(self.next)
        return self.runs

    def advance(self, p: int, now: Time) -> None:
        """Run processor ``p``'s stream from ``now`` until it computes, waits or is done."""
        stream = self.streams[p]
        while not self.busy[p] and self.next[p] < len(stream):
            a = stream[self.next[p]]
            if self.timed and a.time > now:
                self.push(a.time, "release", p)
                return
            if a.kind == "compute":
                end = now + self.durations[p][self.next[p]]
                self.runs.compute[(a.name, a.iteration)] = (now, end)
                self.busy[p] = True
                self.push(end, "compute_end", (p, a))
                return
            key = (a.producer or "", a.name, a.peer or 0, p, a.iteration)
            sent = self.runs.sends.get(key)
            if sent is None or sent.arrival is None or sent.arrival > now:
                self.waiting[key] = p
                return
            self.next[p] += 1

    def compute_end(self, payload: tuple[int, Action], now: Time) -> None:
        """A compute ended: free the processor, post its sends (at their time if timed)."""
        p, a = payload
        self.busy[p] = False
        self.next[p] += 1
        for s in self.by_producer.get((a.name, a.iteration), ()):
            if self.timed and s.action.time > now:
                self.push(s.action.time, "post", s)
            else:
                self.post(s, now)
        self.advance(p, now)

    def post(self, s: _Send, now: Time) -> None:
        """A send is posted: a pure delay arrives after its latency, else it waits for its ports."""
        s.post = now
        if not self.ports or s.action.duration == 0:  # a pure delay busies no port
            s.begin = s.end = now
            self.push(now + s.action.latency, "arrive", s)
            return
        if not self.in_order:
            entry = (now, s.action.time, s.order, s)
            for port in s.ports:
                bisect.insort(self.queues.setdefault(port, []), entry)
        self.serve(s.ports, now)

    def serve(self, ports: Sequence[tuple[int, str, str]], now: Time) -> None:
        """On each free port, start its next transfer where the other port is free too."""
        for port in ports:
            if self.holder.get(port) is not None:
                continue
            s = self.next_in_order(port) if self.in_order else self.first_come(port)
            if s is None:
                continue
            for q in s.ports:
                self.holder[q] = s
                if self.in_order:
                    self.served[q] += 1
                else:
                    queue = self.queues[q]
                    queue.pop(bisect.bisect_left(queue, (s.post, s.action.time, s.order)))
            s.begin = now
            self.push(now + s.duration, "transfer_end", s)

    def first_come(self, port: tuple[int, str, str]) -> _Send | None:
        """The earliest posted transfer waiting for ``port`` whose other port is free."""
        for entry in self.queues.get(port, ()):  # sorted by (post, scheduled time, order)
            s = entry[-1]
            if all(self.holder.get(q) is None for q in s.ports):
                return s
        return None

    def next_in_order(self, port: tuple[int, str, str]) -> _Send | None:
        """The port's next transfer in scheduled order, when posted and next on its other port."""
        queue, k = self.queues.get(port, ()), self.served.get(port, 0)
        if k == len(queue):
            return None
        s = queue[k][-1]
        if s.post is None:
            return None
        for q in s.ports:
            if self.holder.get(q) is not None or self.queues[q][self.served[q]][-1] is not s:
                return None
        return s

    def transfer_end(self, s: _Send, now: Time) -> None:
        """A transfer left its ports: it arrives after its latency; the ports serve the next."""
        s.end = now
        for port in s.ports:
            self.holder[port] = None
        self.push(now + s.action.latency, "arrive", s)
        self.serve(s.ports, now)

    def arrive(self, s: _Send, now: Time) -> None:
        """A tensor arrived: wake the processor whose receive waits for it."""
        s.arrival = now
        p = self.waiting.pop(s.key, None)
        if p is not None:
            self.advance(p, now)


# ------------------------------------------------------------------ the driver
def simulate(
    source: Programs | Schedule | Result,
    iterations: int = 200,
    jitter: float = 0.0,
    seed: int = 0,
    mode: str = "timed",
    schedule: Schedule | None = None,
    trace: bool = False,
    arbitration: str = "order",
) -> SimulationReport:
    """Run a schedule's programs for ``iterations`` iterations; report what they achieve.

    Parameters
    ----------
    source
        The programs (:func:`lpsched.programs.build_programs`), or a schedule
        (or a solver's result) whose programs to build.
    iterations
        ``N >= 1`` iterations (at most :data:`MAX_ITERATIONS`).
    jitter
        Every compute and transfer duration ``d`` is drawn uniformly in
        ``[d (1 - jitter), d (1 + jitter)]``; ``0 <= jitter < 1``.
    seed
        Seed of ``numpy.random.default_rng``: the same seed gives the same report.
    mode
        ``"timed"`` (nothing starts before its scheduled time) or ``"asap"``.
    schedule
        The schedule of ``source`` when it is programs: the graph for the
        memory count and the causality check (without it the report has neither).
    trace
        Keep every compute and transfer as a :class:`Span` in the report.
    arbitration
        How a port picks its next transfer (``capacity: ports``): ``"order"``
        (default), the scheduled order, or ``"fcfs"``, first come first served.

    Returns
    -------
    SimulationReport

    Raises
    ------
    InputError
        On a bad iteration count, jitter, seed, mode or arbitration, or too
        many actions to unroll (:data:`MAX_ACTIONS`).
    """
    _check_arguments(iterations, jitter, seed, mode)
    if arbitration not in ARBITRATIONS:
        raise InputError(f"arbitration must be one of {', '.join(ARBITRATIONS)}")
    if isinstance(source, Result):
        if source.schedule is None:
            raise InputError("the result has no schedule to simulate")
        source = source.schedule
    if isinstance(source, Schedule):
        schedule, programs = source.normalised(), build_programs(source)
    else:
        programs = source
        schedule = None if schedule is None else schedule.normalised()
    total = iterations * sum(len(loop) for loop in programs.loops)
    if total > MAX_ACTIONS:
        raise InputError(
            f"{iterations} iterations unroll {total} actions; at most {MAX_ACTIONS} "
            "(fewer iterations)"
        )
    streams, durations, sends = _unroll(programs, iterations, jitter, seed)
    engine = _Engine(streams, durations, sends, programs.capacity, mode == "timed", arbitration)
    runs = engine.run()
    report = _report(programs, schedule, streams, runs, iterations, jitter, seed, mode)
    spans = tuple(_spans(streams, runs)) if trace else ()
    return dataclasses.replace(report, arbitration=arbitration, spans=spans)


def _check_arguments(iterations: Any, jitter: Any, seed: Any, mode: Any) -> None:
    """Raise :class:`InputError` on an argument of :func:`simulate` out of range."""
    if type(iterations) is not int or not 1 <= iterations <= MAX_ITERATIONS:
        raise InputError(f"iterations must be an integer from 1 to {MAX_ITERATIONS}")
    if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter < 1:
        raise InputError(f"jitter must be a number in [0, 1), got {jitter!r}")
    if type(seed) is not int or not 0 <= seed < 2**32:
        raise InputError(f"seed must be an integer from 0 to 2**32-1, got {seed!r}")
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


@functools.lru_cache(maxsize=2)
def _unrolled(programs: Programs, iterations: int) -> list[list[Action]]:
    """:meth:`Programs.unrolled`, kept: seeds after the first reuse it (never mutated)."""
    return programs.unrolled(iterations)


def _unroll(
    programs: Programs, iterations: int, jitter: float, seed: int
) -> tuple[list[list[Action]], list[list[Time]], list[_Send]]:
    """The streams (compute and recv), their drawn durations, and the sends."""
    rng = np.random.default_rng(seed)

    def drawn(values: list[int]) -> list[Time]:
        """``values`` with each scaled by a factor drawn in ``1 +- jitter`` (exact at 0)."""
        if jitter == 0:
            return list(values)  # integers: exact times at jitter 0
        factors = rng.uniform(1 - jitter, 1 + jitter, size=len(values))
        return [float(v * f) for v, f in zip(values, factors, strict=True)]

    streams, durations, sends = [], [], []
    for p, actions in enumerate(_unrolled(programs, iterations)):
        stream = [a for a in actions if a.kind != "send"]
        streams.append(stream)
        durations.append(drawn([a.duration for a in stream]))
        mine = [a for a in actions if a.kind == "send"]
        for a, d in zip(mine, drawn([a.duration for a in mine]), strict=True):
            sends.append(_Send(a, p, len(sends), d))
    return streams, durations, sends


# ------------------------------------------------------------------ the report
def _report(
    programs: Programs,
    schedule: Schedule | None,
    streams: list[list[Action]],
    runs: _Runs,
    iterations: int,
    jitter: float,
    seed: int,
    mode: str,
) -> SimulationReport:
    """The report of a finished run: periods over the steady state, memory, ports, deadlock."""
    deadlock = _deadlock(streams, runs)
    completions = _completions(runs, iterations)
    lo, hi = programs.depth, iterations - 1 - programs.depth
    steady = deadlock is None and hi > lo
    periods = [completions[i + 1] - completions[i] for i in range(lo, hi)] if steady else []
    ranked = sorted(periods)
    violations: list[str] = []
    peak = None
    if schedule is not None:
        violations = _causality(schedule, runs, iterations)
        peak = tuple(_peak_memory(schedule, runs, iterations))
    window = (completions[lo], completions[hi]) if steady else (0, runs.horizon)
    return SimulationReport(
        iterations=iterations,
        jitter=float(jitter),
        seed=seed,
        mode=mode,
        capacity=programs.capacity,
        period=programs.period,
        depth=programs.depth,
        time_unit_seconds=programs.time_unit_seconds,
        completions=tuple(completions),
        periods=tuple(periods),
        mean=(completions[hi] - completions[lo]) / (hi - lo) if steady else None,
        p50=_rank(ranked, 0.50),
        p99=_rank(ranked, 0.99),
        max=ranked[-1] if ranked else None,
        peak_memory=peak,
        ports=tuple(_port_busy(runs, window)) if programs.capacity == "ports" else (),
        deadlock=deadlock,
        violations=tuple(violations[:SHOWN_VIOLATIONS]),
        violation_count=len(violations),
        makespan=runs.horizon,
    )


def _spans(streams: list[list[Action]], runs: _Runs) -> list[Span]:
    """Every compute instance and every message, at its simulated times."""
    where = {a.name: p for p, stream in enumerate(streams) for a in stream if a.kind == "compute"}
    out = [
        Span(where[name], "compute", name, i, start, end)
        for (name, i), (start, end) in runs.compute.items()
    ]
    for s in runs.sends.values():
        a = s.action
        if s.begin is None or s.end is None:
            continue
        ports = s.ports if a.duration and runs.ports else s.ports[:1]
        for p, direction, link in ports:
            peer = a.peer if direction == "out" else s.src
            span = Span(
                p, f"{direction} {link}", a.name, a.iteration, s.begin, s.end, a.producer, peer
            )
            out.append(span)
    return sorted(out, key=lambda x: (x.processor, x.track, x.start))


def _rank(ranked: list[Time], q: float) -> Time | None:
    """The nearest-rank ``q`` quantile: an observed value (exact at jitter 0)."""
    if not ranked:
        return None
    return ranked[max(0, math.ceil(q * len(ranked)) - 1)]


def _completions(runs: _Runs, iterations: int) -> list[Time]:
    """``C_i``: the last compute end or message arrival of iteration ``i`` (0 if none ran)."""
    done: list[Time] = [0] * iterations
    for (_, i), (_, end) in runs.compute.items():
        done[i] = max(done[i], end)
    for s in runs.sends.values():
        if s.arrival is not None:
            i = s.action.iteration
            done[i] = max(done[i], s.arrival)
    return done


def _port_busy(runs: _Runs, window: tuple[Time, Time]) -> list[PortBusy]:
    """Each used port's busy time inside ``window`` and its share of the window."""
    lo, hi = window
    busy: dict[tuple[int, str, str], Time] = {}
    for s in runs.sends.values():
        for port in s.ports:
            busy.setdefault(port, 0)
            if s.begin is not None and s.end is not None:
                busy[port] += max(0, min(s.end, hi) - max(s.begin, lo))
    length = hi - lo
    return [
        PortBusy(p, d, link, b, b / length if length > 0 else 0.0)
        for (p, d, link), b in sorted(busy.items())
    ]


def _deadlock(streams: list[list[Action]], runs: _Runs) -> Deadlock | None:
    """The blocked processors when some stream is unfinished, each with why, else ``None``."""
    blocked = {
        p: stream[runs.position[p]]
        for p, stream in enumerate(streams)
        if runs.position[p] < len(stream)
    }
    if not blocked:
        return None
    waits = []
    for p, a in sorted(blocked.items()):
        peer = a.peer or 0
        s = runs.sends.get((a.producer or "", a.name, peer, p, a.iteration))
        if s is None:
            why = f"processor {peer}'s program has no such send"
        elif s.post is None:
            why = f"its send was never posted: producer {a.producer} (iteration {a.iteration}) "
            why += "never ran"
            if peer in blocked:
                b = blocked[peer]
                why += f" (processor {peer} is blocked waiting for {b.name}, iteration "
                why += f"{b.iteration})"
        else:
            why = "its transfer never got its ports"
        waits.append(Wait(p, a.name, a.producer or "", a.iteration, peer, why))
    return Deadlock(runs.horizon, tuple(waits))


# ------------------------------------------------------------------ independent checks
def _edge_groups(schedule: Schedule) -> dict[tuple[str, str], list[Any]]:
    """Edges by (producer, tensor name): the readers of each tensor."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for i, e in enumerate(schedule.graph.edges):
        groups.setdefault((e.src, tensor_name(schedule.graph, i)), []).append(e)
    return groups


def _send_of(runs: _Runs, e: Any, name: str, p: int, q: int, i: int) -> _Send | None:
    """The send that carries edge ``e``'s tensor ``name`` of iteration ``i`` from ``p`` to ``q``.

    Edges of one named tensor with different fixed delays travel as messages named
    ``"<tensor> (comm <c>)"`` (:mod:`lpsched.programs`); the edge's own ``comm`` names its one.
    """
    sent = runs.sends.get((e.src, name, p, q, i))
    if sent is None and e.comm is not None:
        sent = runs.sends.get((e.src, f"{name} (comm {e.comm})", p, q, i))
    return sent


def _causality(schedule: Schedule, runs: _Runs, iterations: int) -> list[str]:
    """Reader instances that started before their data was there (from the graph's edges)."""
    proc, out = schedule.processor, []
    for (u, name), edges in _edge_groups(schedule).items():
        p = proc[u]
        for e in edges:
            q = proc[e.dst]
            for j in range(max(0, e.distance), iterations):
                reader = runs.compute.get((e.dst, j))
                if reader is None:
                    continue  # a deadlock stopped it: reported as such
                i = j - e.distance
                made = runs.compute.get((u, i))
                ready = None if made is None else made[1]
                if q != p and made is not None:
                    s = _send_of(runs, e, name, p, q, i)
                    ok = s is not None and s.begin is not None and s.begin >= made[1]
                    ready = s.arrival if ok and s is not None else None
                if ready is None or reader[0] < ready:
                    out.append(
                        f"{e.dst} (iteration {j}) on processor {q} started at {reader[0]} before "
                        f"{name} of {u} (iteration {i}) was there"
                        + ("" if ready is None else f" (at {ready})")
                    )
    return out


def _peak_memory(schedule: Schedule, runs: _Runs, iterations: int) -> list[float]:
    """Each processor's peak bytes over the run (the module docstring says what is held)."""
    proc = schedule.processor
    events: list[list[tuple[Time, float]]] = [[] for _ in range(schedule.processors)]

    def hold(q: int, begin: Time, end: Time, nbytes: float) -> None:
        """Processor ``q`` holds ``nbytes`` during ``[begin, end)``."""
        if end > begin:
            events[q] += [(begin, nbytes), (end, -nbytes)]

    for (u, name), edges in _edge_groups(schedule).items():
        nbytes = max(e.bytes for e in edges)
        if nbytes == 0:
            continue
        p = proc[u]
        for i in range(iterations):
            made = runs.compute.get((u, i))
            if made is None:
                continue
            held: dict[int, list[Time]] = {p: [made[0], made[1]]}
            for e in edges:
                q, reader = proc[e.dst], runs.compute.get((e.dst, i + e.distance))
                if q != p:
                    s = _send_of(runs, e, name, p, q, i)
                    if s is None or s.begin is None:
                        continue
                    gone = s.end if s.action.duration else s.arrival
                    held[p][1] = max(held[p][1], gone if gone is not None else runs.horizon)
                    lo, hi = held.get(q, [s.begin, s.begin])
                    held[q] = [min(lo, s.begin), hi]
                if reader is not None:  # an unread tail copy leaves at its last simulated use
                    held[q][1] = max(held[q][1], reader[1])
            for q, (lo, hi) in held.items():
                hold(q, lo, hi, nbytes)
        _initial_copies(proc, edges, runs, iterations, nbytes, hold)
    peaks = []
    for q, ev in enumerate(events):
        ev.sort()  # at equal times frees (negative) come first: lifetimes are half-open
        level = top = 0.0
        for _, delta in ev:
            level += delta
            top = max(top, level)
        peaks.append(top + _optimizer_bytes(schedule, q))
    return peaks


def _initial_copies(
    proc: dict[str, int],
    edges: list[Any],
    runs: _Runs,
    iterations: int,
    nbytes: float,
    hold: Any,
) -> None:
    """The initial version (read before its producer's first instance): one copy per reader."""
    last: dict[int, Time] = {}
    for e in edges:
        j = min(e.distance, iterations) - 1
        reader = runs.compute.get((e.dst, j)) if j >= 0 else None
        if reader is not None:
            q = proc[e.dst]
            last[q] = max(last.get(q, 0), reader[1])
    for q, end in last.items():
        hold(q, 0, end, nbytes)


def _optimizer_bytes(schedule: Schedule, q: int) -> float:
    """Optimizer state kept on ``q``: ``optimizer_state x`` each local update's parameters."""
    factor = schedule.platform.optimizer_state
    params: dict[str, int] = {}
    for e in schedule.graph.edges:
        if e.weights is not None and schedule.processor[e.src] == q:
            params[e.src] = max(params.get(e.src, 0), e.bytes)
    return factor * sum(params.values())
