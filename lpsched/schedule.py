"""Periodic schedules, solver results and the ``lpsched-schedule/1`` file format."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from .errors import InputError
from .graph import TaskGraph, read_json, write_text_atomic

SCHEDULE_FORMAT = "lpsched-schedule/1"


class Status(StrEnum):
    """Solver status. ``OPTIMAL`` is only ever claimed when proven."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Schedule:
    """A periodic schedule: every task on one processor with a start time.

    Iteration ``i`` of task ``v`` runs on ``processor[v]`` during
    ``[start[v] + i*period, start[v] + i*period + d_v)``. The embedded graph
    carries the distances the schedule uses.

    Parameters
    ----------
    graph
        The task graph scheduled.
    processors
        Number of processors ``P``.
    period
        The iteration period ``T``.
    processor
        Processor of each task, by name, in ``0..P-1``.
    start
        Start time of iteration 0 of each task, by name (any integer).
    """

    graph: TaskGraph
    processors: int
    period: int
    processor: dict[str, int]
    start: dict[str, int]

    # ---------------------------------------------------------------- metrics
    @property
    def speedup(self) -> float:
        """``sum(d_v) / T``: throughput relative to one processor without communication."""
        return self.graph.total_work / self.period

    def utilisation(self) -> list[float]:
        """Busy fraction of each processor over one period."""
        busy = [0] * self.processors
        for t in self.graph.tasks:
            busy[self.processor[t.name]] += t.duration
        return [b / self.period for b in busy]

    def comm_bytes(self) -> int:
        """Bytes sent between processors per iteration."""
        return sum(
            e.bytes for e in self.graph.edges if self.processor[e.src] != self.processor[e.dst]
        )

    def comm_cost(self) -> int:
        """Sum of communication costs charged per iteration."""
        return sum(
            e.comm for e in self.graph.edges if self.processor[e.src] != self.processor[e.dst]
        )

    def staleness(self) -> dict[str, int]:
        """Staleness of each weighted layer, as the embedded graph's distances say."""
        return self.graph.staleness()

    def iterations_in_flight(self) -> int:
        """Largest number of iterations that have started and not finished at any time.

        Equals ``ceil(makespan of one iteration / T)`` at most; computed as the
        span of one iteration (earliest start to latest finish) over the period.
        """
        lo = min(self.start.values())
        hi = max(self.start[t.name] + t.duration for t in self.graph.tasks)
        return math.ceil((hi - lo) / self.period)

    def normalised(self) -> Schedule:
        """The same schedule with the earliest start shifted to 0."""
        lo = min(self.start.values())
        return replace(self, start={k: v - lo for k, v in self.start.items()})

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
        """One line: period, lower bound, gap, speedup, seconds."""
        if self.schedule is None:
            return (
                f"{self.solver}: {self.status.value}, no schedule; lower bound {self.lower_bound}; "
                f"{self.solve_seconds:.2f} s"
            )
        s = self.schedule
        settled = ""
        if "period_seconds" in self.stats:
            settled = f" (period settled after {self.stats['period_seconds']:.2f} s)"
        return (
            f"{self.solver}: period {s.period} ({self.status.value}), lower bound "
            f"{self.lower_bound}, gap {100 * (self.gap or 0):.1f}%, speedup {s.speedup:.2f} "
            f"on {s.processors} processors, {self.solve_seconds:.2f} s{settled}"
        )

    # -------------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        """The ``lpsched-schedule/1`` JSON object (requires a schedule)."""
        if self.schedule is None:
            raise ValueError("no schedule to write")
        s = self.schedule
        return {
            "format": SCHEDULE_FORMAT,
            "network": self.network or s.graph.name,
            "decomposition": self.decomposition or s.graph.decomposition,
            "solver": self.solver,
            "processors": s.processors,
            "period": s.period,
            "lower_bound": self.lower_bound,
            "status": self.status.value,
            "solve_seconds": round(self.solve_seconds, 4),
            "assignments": [
                {"task": t.name, "processor": s.processor[t.name], "start": s.start[t.name]}
                for t in s.graph.tasks
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
        """Read the ``lpsched-schedule/1`` format.

        Only the structure is checked here; whether the schedule is valid is
        the validator's job (:func:`lpsched.validate.validate`).
        """
        if not isinstance(data, dict):
            raise InputError(f"{source}: expected a JSON object")
        if data.get("format") != SCHEDULE_FORMAT:
            raise InputError(
                f"{source}: format must be {SCHEDULE_FORMAT!r}, got {data.get('format')!r}"
            )
        graph = TaskGraph.from_dict(data.get("graph"), source=f"{source}: graph")
        try:
            procs = int(data["processors"])
            period = int(data["period"])
            processor: dict[str, int] = {}
            start: dict[str, int] = {}
            for i, a in enumerate(data["assignments"]):
                name = a["task"]
                if name in processor:
                    raise InputError(f"{source}: assignments[{i}]: task {name!r} assigned twice")
                processor[name] = _as_int(a["processor"], f"assignments[{i}].processor")
                start[name] = _as_int(a["start"], f"assignments[{i}].start")
            status = Status(data.get("status", "unknown"))
        except KeyError as err:
            raise InputError(f"{source}: missing field {err}") from None
        except (TypeError, ValueError) as err:
            raise InputError(f"{source}: {err}") from None
        missing = [t.name for t in graph.tasks if t.name not in processor]
        if missing:
            raise InputError(f"{source}: task {missing[0]!r} has no assignment")
        unknown = [k for k in processor if k not in graph._index]
        if unknown:
            raise InputError(f"{source}: assignment for unknown task {unknown[0]!r}")
        sched = Schedule(graph, procs, period, processor, start)
        return cls(
            schedule=sched,
            status=status,
            lower_bound=int(data.get("lower_bound", 0)),
            solver=str(data.get("solver", "")),
            solve_seconds=float(data.get("solve_seconds", 0.0)),
            network=str(data.get("network", "") or ""),
            decomposition=str(data.get("decomposition", "") or ""),
        )

    @classmethod
    def read(cls, path: str | Path) -> Result:
        """Read a schedule JSON file."""
        return cls.from_dict(read_json(path), source=str(path))


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return value
