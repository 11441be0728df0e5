"""Exact MILP for the minimal period on a platform, with PuLP and HiGHS or CBC.

The mathematics is in ``formulations/milp.md``; comments cite its equation
numbers (M1, M2, ...). For a fixed period ``T`` a mixed-integer program
(:mod:`lpsched.solvers.milp_model`) decides whether a periodic schedule
exists; :func:`run_milp` searches ``T`` between the lower bound and the period
of a warm start. Every ``T`` proven infeasible raises the lower bound, every
feasible one lowers the upper bound. A step tries the relaxation (M17), then
back-to-back placements and the restriction (M18) to its assignment, then the
full model (M1)-(M15); :mod:`lpsched.solvers.milp_backend` runs the solvers.

Under placement ``layer`` or ``stages`` the models carry (M35), (M36)
(:mod:`lpsched.solvers.milp_placement`), a heuristic warm start that breaks
the placement is replaced by one processor, and every schedule carries the
placement for the validator.

Everything runs inside the time limit: the warm start gets a share of it,
every model's size is estimated before it is built
(:func:`~lpsched.solvers.milp_model.estimate_size`) and a model that would
not fit its share of the time, :data:`MAX_NONZEROS` or :data:`MAX_MAGNITUDE`
is skipped with a note in the log, and the secondary objective gets a
bounded share (``formulations/milp.md``, "Budgets").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import networkx as nx

from ..errors import InputError
from ..graph import TaskGraph
from ..platform import Platform
from ..problem import Problem
from ..schedule import Result, Schedule, Status
from ..units import format_ms
from .milp_backend import BACKENDS, FEASIBLE, INFEASIBLE, UNKNOWN, solve_model
from .milp_memory import bounded, fits
from .milp_model import (
    ModelSize,
    PeriodModel,
    assignment_of,
    build_model,
    estimate_size,
    extract,
    magnitude,
    set_initial,
    starts_of,
)
from .milp_placement import broken_by
from .registry import SOLVERS, Options
from .toolkit import Clock, claim, least_staleness, one_processor

__all__ = [
    "BACKENDS",
    "MAX_MAGNITUDE",
    "MAX_NONZEROS",
    "SECONDARY_SECONDS",
    "best_rotation",
    "build_model",
    "contiguous",
    "estimate_size",
    "rotate",
    "rotation_periods",
    "run_milp",
    "solve_milp",
    "warm_start",
]

Log = Callable[[str], None]

# A step is not worth starting with less time than this (seconds).
_MIN_STEP_SECONDS = 0.2

# Improving solutions of the relaxation (objective (M19)) before it hands its
# assignment to the restriction: a few rounds buy much slack in the loops.
_RELAXED_SOLUTIONS = 3

#: The warm start (the heuristic) gets at most this share of the time limit: on
#: small instances it ends long before, on big ones it is what finds the schedule.
WARM_START_SHARE = 0.5

#: The secondary objective gets at most this share of the time limit ...
SECONDARY_SHARE = 0.25
#: ... and at most as long as the warm start and the period search took, or this
#: many seconds if that is more ...
SECONDARY_FLOOR = 3.0
#: ... and HiGHS stops it when no better solution came for this many seconds.
SECONDARY_PATIENCE = 1.0
#: Seconds the secondary objective may take at most when the call has no time limit.
SECONDARY_SECONDS = 60.0

#: No model with more nonzeros is built, whatever the time: PuLP holds about 300
#: bytes per nonzero, and the solver a copy.
MAX_NONZEROS = 2_000_000

#: Seconds per nonzero to build a model in PuLP and hand it to the solver (HiGHS
#: through highspy; CBC through an MPS file), measured at 7-9 us and 2-5 us on 2
#: busy cores and rounded up. A model whose estimate exceeds :data:`BUILD_SHARE`
#: of the time it may take is skipped.
SECONDS_PER_NONZERO = {"highs": 1.4e-5, "cbc": 1.6e-5}
#: The same for building and writing the exported model (LP or MPS).
EXPORT_SECONDS_PER_NONZERO = 1.6e-5
#: The share of a phase's time that building its model may take.
BUILD_SHARE = 0.5

#: No model whose numbers (``T (K + 1)``, durations, costs) exceed this is built:
#: one unit would be less than 1e-9 of them, below what HiGHS's and CBC's
#: tolerances (integrality 1e-6, feasibility 1e-7, relative after scaling) tell
#: apart, so an answer could be wrong (``formulations/milp.md``, "Numbers").
MAX_MAGNITUDE = 10**9

#: The phases stop this share of the limit (at most :data:`HEADROOM_SECONDS`) before it:
#: HiGHS and CBC overrun their own limits by 0.1-0.3 s a call (measured on lenet5), and
#: validating and returning the schedule takes time too.
HEADROOM = 0.02
HEADROOM_SECONDS = 1.0

#: Seconds between two progress lines at least; a line that comes sooner waits.
PROGRESS_INTERVAL = 0.25

#: What the log calls each model.
_MODEL = {
    "relaxed": "relaxation (M17)",
    "fixed": "restriction (M18)",
    "full": "full model (M1)-(M15)",
}

#: What the log calls each way a step is decided.
_HOW = {
    "relaxed": "the relaxation",
    "contiguous": "a back-to-back placement",
    "fixed": "the restriction",
    "full": "the full model",
    "none": "no model (none built)",
}


@dataclass
class _Search:
    """What every step of one call shares: the problem, the options, the clock, the log."""

    problem: Problem
    backend: str
    options: Options
    clock: Clock
    built: dict[str, int] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _noted: set[str] = field(default_factory=set)
    _last_line: float = -math.inf
    _pending: str | None = None

    @property
    def name(self) -> str:
        return BACKENDS[self.backend]

    def note(self, key: str, text: str) -> None:
        """Log ``text`` (a phase skipped or degraded) once per ``key``."""
        if key in self._noted:
            return
        self._noted.add(key)
        self.notes.append(text)
        if self.options.log is not None:
            self.options.log(f"{self.name}: {text}")

    def progress(self, period: int, bound: int, detail: str = "", *, now: bool = False) -> None:
        """One line: time, period (units and ms), bound, gap; at most one per interval."""
        if self.options.log is None:
            return
        unit = self.problem.graph.time_unit_seconds
        ms = f" ({format_ms(period * unit)})" if unit else ""
        gap = max(0.0, 100.0 * (period - bound) / period) if period > 0 else 0.0
        line = (
            f"{self.name}  {self.clock.elapsed():.1f} s  period {period}{ms}  "
            f"bound {bound}  gap {gap:.1f}%" + (f"  {detail}" if detail else "")
        )
        self._pending = line
        if now or time.perf_counter() - self._last_line >= PROGRESS_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Log the line that waits, if any."""
        if self._pending is not None and self.options.log is not None:
            self.options.log(self._pending)
            self._last_line = time.perf_counter()
        self._pending = None

    def stopped(self) -> bool:
        """Whether the caller asked to stop (Ctrl-C)."""
        return self.options.stop.is_set()

    def left(self, reserve: float = 0.0) -> float | None:
        """Seconds left less ``reserve`` and the headroom; ``None`` without a time limit."""
        left = self.clock.remaining()
        if math.isinf(left):
            return None
        headroom = min(HEADROOM_SECONDS, HEADROOM * (self.clock.limit or 0.0))
        return max(0.0, left - reserve - headroom)

    def offer(self, schedule: Schedule) -> None:
        """Hand a valid schedule of the problem to the caller's incumbent."""
        self.options.incumbent.offer(schedule)

    def solve(self, model: PeriodModel, time_limit: float | None, **kwargs: Any) -> str:
        return solve_model(
            model,
            self.backend,
            time_limit,
            self.options.seed,
            self.options.solver_log,
            stop=self.options.stop,
            **kwargs,
        )

    def build(
        self, T: int, seconds: float | None, variant: str, **kwargs: Any
    ) -> tuple[PeriodModel | None, str | None]:
        """The model, or ``None`` and why not (``numbers``, ``size``, ``time``), after an estimate.

        ``seconds``: the time the model's phase may take (``None``: no limit);
        building may take :data:`BUILD_SHARE` of it.
        """
        size = estimate_size(self.problem, T, variant=variant, **kwargs)
        why = self._too_big(T, size, seconds, variant)
        if why is not None:
            self.skipped.append({"period": T, "variant": variant, "why": why, **size.as_dict()})
            return None, why
        self.built[variant] = self.built.get(variant, 0) + 1
        return build_model(self.problem, T, variant=variant, **kwargs), None

    def _too_big(self, T: int, size: ModelSize, seconds: float | None, variant: str) -> str | None:
        """Why a model of this size cannot be built here, noted once; ``None`` when it can."""
        what = _MODEL[variant]
        largest = magnitude(self.problem, T)
        if largest > MAX_MAGNITUDE:
            self.note(
                "numbers",
                f"the {what} at T = {T} holds numbers up to {largest:.3g} > {MAX_MAGNITUDE:.0e}, "
                "beyond what the solvers' tolerances resolve to one unit: it is not built",
            )
            return "numbers"
        if size.nonzeros > MAX_NONZEROS:
            self.note(
                f"size {variant}",
                f"the {what} would have about {size.nonzeros:,} nonzeros "
                f"({size.pairs:,} pairs of tasks), more than {MAX_NONZEROS:,}: it is not built",
            )
            return "size"
        estimate = size.nonzeros * SECONDS_PER_NONZERO[self.backend]
        if seconds is not None and estimate > BUILD_SHARE * seconds:
            self.note(
                f"time {variant}",
                f"the {what} ({size.nonzeros:,} nonzeros) would take about {estimate:.1f} s "
                f"to build, more than {BUILD_SHARE:.0%} of its {seconds:.1f} s: skipped",
            )
            return "time"
        return None


@dataclass
class _Step:
    """The answer of one step at ``T``: outcome, schedule, the model that decided, seconds.

    ``timed``: the step ended undecided because a solve or a model ran out of
    time (with more time it might decide), not because a model was too big.
    """

    outcome: str
    schedule: Schedule | None
    how: str
    seconds: float
    timed: bool = False


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------
def run_milp(
    problem: Problem, options: Options, backend: str = "highs", *, lower_bound: int | None = None
) -> Result:
    """Minimise the period of ``problem`` by a search over ``T``, one MILP per period.

    Parameters
    ----------
    problem
        The task graph on its platform (any speeds, one or several nodes,
        ``capacity: delay`` or ``ports``: then the schedule lists its
        transfers, (M20)-(M28) of ``formulations/milp.md``). With
        ``staleness_cap`` set, each weighted layer's staleness is chosen in
        ``[1, cap]`` and the schedule's graph carries the least staleness its
        starts allow.
    options
        ``time_limit`` (the whole call, warm start included: at most
        :data:`WARM_START_SHARE` of it for the heuristic, the period search
        what is left; a step that runs out of time proves nothing),
        ``seed`` (of the MILP solver), ``secondary`` (``"comm"``: at the best
        period, minimise the bytes sent between processors (M16) for at most
        :data:`SECONDARY_SHARE` of the limit and as long as the search took,
        :data:`SECONDARY_FLOOR` at least, stopped by HiGHS after
        :data:`SECONDARY_PATIENCE` seconds without a better solution),
        ``log`` (one line per period step or improvement: time, period in units
        and ms, bound, gap; and a note per phase skipped or degraded),
        ``solver_log`` (the raw HiGHS or CBC log), ``stop`` (checked between
        steps and by the running solver: the best schedule is returned at
        once), ``incumbent`` (offered every better schedule), ``export`` (a
        ``.lp`` or ``.mps`` path for the model of the best period; its time is
        kept aside from the search) and ``initial`` (a valid schedule to
        start from; else the heuristic's when it takes the platform, else
        every task on the fastest processor).
    backend
        ``"highs"`` (HiGHS through highspy) or ``"cbc"`` (PuLP's bundled CBC).
    lower_bound
        A proven lower bound on the period besides ``problem.lower_bound``.

    Returns
    -------
    Result
        ``OPTIMAL`` when the period equals the proven lower bound (the bound
        given or computed, or one more than the largest period proven
        infeasible); ``FEASIBLE`` otherwise; never worse than the warm start.
        ``stats``: ``steps`` (period, outcome, the model that decided,
        seconds), ``comm_bytes``, ``comm_minimal`` (proven minimal at this
        period), ``secondary`` (its seconds and bytes before and after),
        ``built`` (models built per variant), ``skipped`` (models not built:
        period, variant, why, estimated size), ``notes`` (what was skipped or
        degraded), ``stopped`` (``options.stop`` ended the call) and
        ``model`` (size of the exported model).

    Raises
    ------
    InputError
        On an unknown backend, a bad time limit, secondary objective, export
        path or initial schedule, or a platform with a memory capacity.
    """
    clock = Clock(options.time_limit)  # the warm start counts against the limit
    _check_request(problem, options, backend)
    search = _Search(problem, backend, options, clock)
    lb = max(problem.lower_bound, lower_bound or 0)
    if bounded(problem) and problem.bounds.memory_infeasible:
        return _no_schedule(search, lb, Status.INFEASIBLE, problem.bounds.memory_infeasible)
    best = warm_start(problem, options)
    if best.period < lb:
        raise InputError(f"initial period {best.period} is below the lower bound {lb}")
    if not fits(best):
        found, lb = _fitting_start(search, best, lb)
        if found is None:
            return _no_schedule(search, lb, Status.UNKNOWN, "no schedule found that fits")
        best = found
    search.offer(best)
    search.progress(best.period, lb, "warm start", now=True)
    reserve = _export_reserve(search, best) if options.export is not None else None
    best, proven, steps = _period_search(search, best, lb, reserve or 0.0)
    stats: dict[str, Any] = {"formulation": "offset", "backend": backend, "steps": steps}
    comm = options.secondary == "comm"
    best, comm_proven, secondary = _minimise_bytes(search, best, proven, reserve or 0.0, comm)
    steps.extend(secondary.pop("steps"))
    if comm:
        stats["secondary"] = secondary
    stats.update(comm_bytes=best.comm_bytes(), comm_minimal=comm_proven)
    if options.export is not None and reserve is not None:
        model = _export(search, best, Path(options.export), comm)
        if model is not None:
            stats["model"] = model
    search.flush()
    if problem.graph.staleness_cap is not None:
        # (P4), also for a warm start kept as it was (whose graph has fixed distances).
        best = least_staleness(best.with_graph(problem.graph))
    stats.update(
        built=dict(search.built),
        skipped=search.skipped,
        notes=search.notes,
        stopped=search.stopped(),
    )
    return Result(
        schedule=best,
        status=claim(best.period, proven),
        lower_bound=proven,
        solver=search.name,
        solve_seconds=clock.elapsed(),
        network=problem.graph.name,
        decomposition=problem.graph.decomposition,
        stats=stats,
    )


#: Periods tried, doubling, when no warm start fits the memories.
FITTING_TRIES = 6


def _fitting_start(search: _Search, hint: Schedule, lb: int) -> tuple[Schedule | None, int]:
    """A schedule that fits the memories, searched up from ``hint``'s period: it and the bound.

    ``hint`` (the warm start, over a memory) only seeds the processor
    binaries. Each step at ``T`` decides as in the period search; an
    infeasible ``T`` raises the bound (feasibility is monotone in ``T`` under
    memory too, ``formulations/milp.md``, "Memory"), and the next step
    doubles ``T``, :data:`FITTING_TRIES` times at most.
    """
    T = max(lb, hint.period)
    for _ in range(FITTING_TRIES):
        left = search.left()
        if search.stopped() or (left is not None and left < _MIN_STEP_SECONDS):
            break
        budget = None if left is None else left / 2
        step = _step(search, T, hint, budget)
        search.progress(hint.period, lb, f"T {T} {step.outcome} (memory, {step.seconds:.2f} s)")
        if step.schedule is not None:
            return step.schedule, lb
        if step.outcome == INFEASIBLE:
            lb = max(lb, T + 1)
        if magnitude(search.problem, 2 * T) > MAX_MAGNITUDE:
            break
        T *= 2
    search.note("memory", "no schedule that fits the memories was found")
    return None, lb


def _no_schedule(search: _Search, lb: int, status: Status, why: str) -> Result:
    """The result without a schedule: ``infeasible`` (proven) or ``unknown``, and why."""
    search.flush()
    problem = search.problem
    return Result(
        schedule=None,
        status=status,
        lower_bound=lb,
        solver=search.name,
        solve_seconds=search.clock.elapsed(),
        network=problem.graph.name,
        decomposition=problem.graph.decomposition,
        stats={
            "formulation": "offset",
            "backend": search.backend,
            "reason": why,
            "built": dict(search.built),
            "skipped": search.skipped,
            "notes": search.notes,
            "stopped": search.stopped(),
        },
    )


def solve_milp(
    graph: TaskGraph,
    platform: Platform | int,
    *,
    backend: str = "highs",
    lower_bound: int | None = None,
    initial: Schedule | None = None,
    time_limit: float | None = None,
    seed: int = 0,
    export: str | Path | None = None,
    log: Log | None = None,
    secondary: str | None = "comm",
    solver_log: Log | None = None,
) -> Result:
    """:func:`run_milp` of ``Problem(graph, platform)`` with the options as keywords.

    Raises
    ------
    InputError
        As :func:`run_milp`, and on a processor count that is not a positive integer.
    """
    if not isinstance(platform, Platform) and (
        isinstance(platform, bool) or not isinstance(platform, int) or platform < 1
    ):
        raise InputError(f"processors must be a positive integer, got {platform!r}")
    options = Options(
        time_limit=time_limit,
        seed=seed,
        secondary=secondary,
        log=log,
        export=None if export is None else str(export),
        initial=initial,
        solver_log=solver_log,
    )
    return run_milp(Problem(graph, platform), options, backend, lower_bound=lower_bound)


def _check_request(problem: Problem, options: Options, backend: str) -> None:
    """Raise :class:`InputError` on what the MILP cannot take."""
    if backend not in BACKENDS:
        raise InputError(f"unknown MILP backend {backend!r}: expected highs or cbc")
    limit = options.time_limit
    if limit is not None and not (limit > 0 and math.isfinite(limit)):
        raise InputError(f"time limit must be a positive number of seconds, got {limit}")
    export = options.export
    if export is not None and Path(export).suffix.lower() not in (".lp", ".mps"):
        raise InputError(f"export file {str(export)!r} must end in .lp or .mps")
    if options.secondary not in (None, "comm", "none"):
        raise InputError(f"unknown secondary objective {options.secondary!r} for the MILP")


# ---------------------------------------------------------------------------
# Warm start
# ---------------------------------------------------------------------------
def warm_start(problem: Problem, options: Options) -> Schedule:
    """The first upper bound: ``options.initial``, the heuristic's schedule, or one processor.

    The heuristic is asked through the registry when it takes the platform
    (with the options less what only exact solvers take, and at most
    :data:`WARM_START_SHARE` of ``options.time_limit``); otherwise every
    task runs on the fastest processor (:func:`~lpsched.solvers.toolkit.one_processor`).

    Raises
    ------
    InputError
        When ``options.initial`` is not a valid schedule of the problem.
    """
    if options.initial is not None:
        return _check_initial(problem, options.initial)
    heuristic = SOLVERS["heuristic"]
    limit = None if options.time_limit is None else WARM_START_SHARE * options.time_limit
    plain = replace(options, secondary=None, export=None, initial=None, time_limit=limit)
    try:
        heuristic.check(problem, plain)
    except InputError:
        sched = None
    else:
        sched = heuristic.run(problem, plain).schedule
    if sched is not None and not fits(sched):
        sched = None  # over a memory: the search looks for one that fits
    if sched is not None and broken_by(problem, _assignment(problem, sched)) is not None:
        sched = None  # (a heuristic that does not keep the placement: (M35), (M36))
    if sched is None:
        sched = one_processor(problem)
        if options.log is not None:
            options.log(f"warm start: every task on one processor, period {sched.period}")
    return _check_initial(problem, sched, memory=False)


def _check_initial(problem: Problem, initial: Schedule, *, memory: bool = True) -> Schedule:
    """``initial`` on the problem (with its own staleness for ``auto``); InputError if invalid.

    With ``memory=False`` a footprint over a memory is let through (the
    search then starts from a period where one fits, :func:`_fitting_start`).
    """
    from ..validate import validate

    sched = _on_problem(problem, initial)
    problems = [v for v in validate(sched) if memory or v.kind != "memory"]
    if problems:
        raise InputError(f"initial schedule is not valid: {problems[0].message}")
    return sched


def _on_problem(problem: Problem, initial: Schedule) -> Schedule:
    """``initial`` on the problem's graph (with its own staleness for ``auto``)."""
    graph = problem.graph
    names = {t.name for t in graph.tasks}
    if set(initial.processor) != names or set(initial.start) != names:
        raise InputError("initial schedule: its tasks differ from the graph's")
    if graph.staleness_cap is not None:
        cap = graph.staleness_cap
        used = {k: min(max(v, 1), cap) for k, v in initial.graph.staleness().items()}
        target = graph.with_staleness(used)
    else:
        target = graph
    sched = Schedule(
        target,
        problem.platform,
        initial.period,
        dict(initial.processor),
        dict(initial.start),
        transfers=initial.transfers,
        placement=problem.placement,  # (the validator then checks it: (M35), (M36))
    )
    return sched


# ---------------------------------------------------------------------------
# The period search
# ---------------------------------------------------------------------------
def _period_search(
    search: _Search, best: Schedule, lb: int, reserve: float
) -> tuple[Schedule, int, list[dict[str, Any]]]:
    """Steps over ``T`` from ``lb`` up to the best period: the best schedule, the proven bound.

    The first step tries ``T = lb`` (often optimal, and it gets twice the
    share of time), the next ones bisect what is undecided. A step that runs
    out of time moves the search above it; when every period below the best
    one has, the search starts again from the proven bound with longer steps,
    unless no step of the round ran out of time (its models were too big:
    more time would decide nothing). ``reserve`` seconds are kept for the export.
    """
    steps: list[dict[str, Any]] = []
    proven = lb  # every T < proven is infeasible
    low = lb  # the search looks at [low, best.period - 1]
    share = 1.0  # a step gets share * (time left) / (steps still to go)
    timed = False  # a step of this round ran out of time
    while best.period > proven and not search.stopped():
        left = search.left(reserve)
        if left is not None and left < _MIN_STEP_SECONDS:
            break
        hi = best.period
        if low >= hi:
            if not timed:
                search.note("undecided", "the periods left are undecided and too big to model")
                break
            # Every T in [proven, hi - 1] was tried and ran out of time: start again
            # from the proven bound with longer steps (iterative deepening).
            low, share, timed = proven, share * 2, False
        T = low if not steps else (low + hi - 1) // 2
        todo = 1 + max(1, math.ceil(math.log2(hi - low + 1)))
        budget = None if left is None else min(left, share * left / todo * (1 if steps else 2))
        step = _step(search, T, best, budget)
        if step.schedule is not None:
            best = step.schedule
            search.offer(best)
        seconds = round(step.seconds, 3)
        steps.append({"period": T, "outcome": step.outcome, "by": step.how, "seconds": seconds})
        if step.outcome == INFEASIBLE:
            proven = max(proven, T + 1)
            low = max(low, T + 1)
        elif step.outcome == UNKNOWN:
            low = max(low, T + 1)
            timed = timed or step.timed
        detail = f"T {T} {step.outcome} by {_HOW[step.how]} ({step.seconds:.2f} s)"
        search.progress(best.period, proven, detail, now=step.schedule is not None)
    return best, proven, steps


def _step(search: _Search, T: int, best: Schedule, budget: float | None) -> _Step:
    """Decide whether period ``T`` is feasible: relaxation, restriction, full model.

    The relaxation (M17) proves most infeasible periods and proposes an
    assignment; the restriction to that assignment (M18) turns it into a
    schedule most of the time; the full model (M1)-(M15) settles the rest.
    When the relaxation cannot be built, the best schedule's assignment is
    placed back to back instead. A schedule returned is validated.
    """
    t0 = time.perf_counter()
    end = None if budget is None else t0 + budget

    def left(fraction: float = 1.0) -> float | None:
        if end is None:
            return None
        return max(0.05, fraction * (end - time.perf_counter()))

    def done(outcome: str, sched: Schedule | None, how: str, timed: bool = False) -> _Step:
        return _Step(outcome, sched, how, time.perf_counter() - t0, timed)

    relaxed, why = search.build(T, left(0.4), "relaxed", objective="latency")
    timed = why == "time"
    assignment, starts = None, None
    if relaxed is None:
        assignment = _assignment(search.problem, best)  # the degraded step: no MILP
    elif relaxed.trivially_infeasible:
        return done(INFEASIBLE, None, "relaxed")
    else:
        set_initial(relaxed, best, full=False)
        outcome = search.solve(
            relaxed, left(0.4), warm_start=True, max_solutions=_RELAXED_SOLUTIONS
        )
        if outcome == INFEASIBLE:
            return done(INFEASIBLE, None, "relaxed")
        timed = timed or (outcome == UNKNOWN and end is not None)
        if outcome == FEASIBLE:
            assignment, starts = assignment_of(relaxed), starts_of(relaxed)
    hint = None
    if assignment is not None and not search.stopped():
        sched, fixed, cut = _sequence(search, T, assignment, _deadline(left(0.5)), starts)
        if sched is not None:
            return done(FEASIBLE, sched, "fixed" if fixed is not None else "contiguous")
        timed = timed or cut
        if relaxed is not None and fixed is not None and not fixed.proven:
            hint = assignment  # the restriction ran out of time: the assignment may be fine
    if search.stopped():
        return done(UNKNOWN, None, "none")
    if end is not None and time.perf_counter() > end - _MIN_STEP_SECONDS / 4:
        return done(UNKNOWN, None, "full", True)
    outcome, sched, how, cut = _full_step(search, T, best, hint, end)
    return done(outcome, sched, how, timed or cut)


def _assignment(problem: Problem, schedule: Schedule) -> dict[int, int]:
    """Task position -> processor of ``schedule``."""
    return {v: schedule.processor[t.name] for v, t in enumerate(problem.graph.tasks)}


def _deadline(seconds: float | None) -> float | None:
    """``seconds`` from now on the ``time.perf_counter()`` clock (``None`` stays ``None``)."""
    return None if seconds is None else time.perf_counter() + seconds


def _until(deadline: float | None) -> float | None:
    """Seconds until ``deadline`` (at least 0.05: a solver needs a positive limit)."""
    return None if deadline is None else max(0.05, deadline - time.perf_counter())


def _full_step(
    search: _Search,
    T: int,
    best: Schedule,
    hint: dict[int, int] | None,
    deadline: float | None,
) -> tuple[str, Schedule | None, str, bool]:
    """The full model (M1)-(M15) at ``T``, warm-started by ``hint`` or the best assignment.

    Building it counts against ``deadline``. The last value says whether it
    ran out of time (or was skipped for time).
    """
    full, why = search.build(T, _until(deadline), "full")
    if full is None:
        return UNKNOWN, None, "none", why == "time"
    if hint is not None:
        for (v, p), var in full.x.items():
            var.setInitialValue(1 if hint[v] == p else 0)
    else:
        set_initial(full, best, full=False)
    outcome = search.solve(full, _until(deadline), warm_start=True)
    sched = None
    if outcome == FEASIBLE:
        sched = _verified(extract(full), search.options.log)
        if sched is None:
            outcome = UNKNOWN
    cut = outcome == UNKNOWN and deadline is not None and not search.stopped()
    return outcome, sched, "full", cut


# ---------------------------------------------------------------------------
# The secondary objective and the export
# ---------------------------------------------------------------------------
def _secondary_budget(search: _Search, reserve: float) -> float:
    """Seconds for the secondary objective: a bounded share of the limit (see :func:`run_milp`)."""
    limit = search.options.time_limit
    cap = SECONDARY_SECONDS if limit is None else SECONDARY_SHARE * limit
    budget = min(cap, max(search.clock.elapsed(), SECONDARY_FLOOR))
    left = search.left(reserve)
    return budget if left is None else min(budget, left)


def _minimise_bytes(
    search: _Search, best: Schedule, bound: int, reserve: float, wanted: bool
) -> tuple[Schedule, bool, dict[str, Any]]:
    """The secondary objective at the best period: fewer bytes between processors (M16).

    The relaxation (M17) minimising bytes gives a lower bound and an
    assignment; its restriction (M18) a schedule, kept only when it sends
    fewer bytes. Returns the schedule, whether its bytes are proven minimal
    at this period, and what it did (``steps``: none when it did not run).
    """
    problem, T = search.problem, best.period
    info: dict[str, Any] = {"objective": "comm", "initial": best.comm_bytes(), "steps": []}
    budget = _secondary_budget(search, reserve)
    if not wanted or budget <= _MIN_STEP_SECONDS or search.stopped():
        info.update(value=info["initial"], seconds=0.0, status="skipped")
        return best, False, info
    t0 = time.perf_counter()
    end = t0 + budget
    relaxed, _ = search.build(T, 0.6 * budget, "relaxed", objective="comm")
    proven = False
    outcome = UNKNOWN
    if relaxed is not None:
        set_initial(relaxed, best, full=True)
        patience = SECONDARY_PATIENCE if search.backend == "highs" else None
        limit = _until(t0 + 0.6 * budget)  # building it counted
        outcome = search.solve(relaxed, limit, warm_start=True, patience=patience)
    if relaxed is not None and outcome == FEASIBLE and not search.stopped():
        assignment = assignment_of(relaxed)
        sched, _, _ = _sequence(search, T, assignment, end, starts_of(relaxed))
        if sched is not None and sched.comm_bytes() < best.comm_bytes():
            best = sched
            search.offer(best)
        # An optimum of the relaxation bounds the bytes of every schedule of period T.
        graph = problem.graph
        index = graph.index
        lower = sum(
            e.bytes for e in graph.edges if assignment[index(e.src)] != assignment[index(e.dst)]
        )
        proven = relaxed.proven and best.comm_bytes() <= lower
    seconds = time.perf_counter() - t0
    status = "minimal" if proven else ("lower" if best.comm_bytes() < info["initial"] else "kept")
    info.update(value=best.comm_bytes(), seconds=round(seconds, 3), status=status)
    info["steps"] = [{"period": T, "outcome": "comm", "by": "relaxed", "seconds": info["seconds"]}]
    detail = (
        f"bytes {info['initial']:,} -> {info['value']:,}"
        f"{' (minimal)' if proven else ''} ({seconds:.2f} s)"
    )
    search.progress(best.period, bound, detail, now=True)
    return best, proven, info


def _export_reserve(search: _Search, best: Schedule) -> float | None:
    """Seconds kept for the export, or ``None`` (noted) when its model cannot be built."""
    comm = search.options.secondary == "comm"
    T = best.period
    size = estimate_size(search.problem, T, objective="comm" if comm else None)
    seconds = size.nonzeros * EXPORT_SECONDS_PER_NONZERO
    largest = magnitude(search.problem, T)
    left = search.left()
    if largest > MAX_MAGNITUDE or size.nonzeros > MAX_NONZEROS:
        why = f"numbers up to {largest:.3g}" if largest > MAX_MAGNITUDE else "its size"
        search.note("export", f"no model exported: {size.nonzeros:,} nonzeros, {why}")
        return None
    if left is not None and seconds > BUILD_SHARE * left:
        search.note("export", f"no model exported: it would take about {seconds:.1f} s")
        return None
    return seconds


def _export(search: _Search, best: Schedule, path: Path, comm: bool) -> dict[str, int] | None:
    """Write the full model at the best period as LP or MPS; return its size.

    PuLP's writers put no solution values in the file; the best schedule is
    one of the model's solutions.
    """
    if search.stopped():
        search.note("export", "no model exported: stopped")
        return None
    model = build_model(search.problem, best.period, objective="comm" if comm else None)
    set_initial(model, best, full=True)
    try:
        if path.suffix.lower() == ".lp":
            model.prob.writeLP(str(path))
        else:
            model.prob.writeMPS(str(path))
    except OSError as err:
        raise InputError(f"{path}: cannot write ({err.strerror})") from None
    search.note("written", f"model for T = {best.period} written to {path}")
    return model.size()


# ---------------------------------------------------------------------------
# The restriction (M18): back-to-back placements, then the MILP
# ---------------------------------------------------------------------------
def _sequence(
    search: _Search,
    T: int,
    assignment: dict[int, int],
    deadline: float | None,
    hint: list[float] | None = None,
) -> tuple[Schedule | None, PeriodModel | None, bool]:
    """Solve the restriction (M18) to ``assignment`` by ``deadline``: a valid schedule or ``None``.

    Back-to-back placements (:func:`contiguous`) in the order of ``hint`` and in
    topological order come first; the MILP only when both fail (and when it
    can be built). Also returns the MILP (``None`` when none was solved) and
    whether it ran out of time (or was skipped for time).
    """
    for order in ([hint] if hint is not None else []) + [None]:
        quick = contiguous(search.problem, T, assignment, order)
        if quick is not None and not fits(quick):
            continue  # over a memory: the restriction's MILP may still place it (M30)
        if quick is not None and _verified(quick, search.options.log) is not None:
            return quick, None, False
    if search.stopped():
        return None, None, False
    fixed, why = search.build(T, _until(deadline), "fixed", assignment=assignment)
    if fixed is None:
        return None, None, why == "time"
    if fixed.trivially_infeasible:
        return None, None, False
    outcome = search.solve(fixed, _until(deadline), warm_start=False)
    if outcome != FEASIBLE:
        cut = outcome == UNKNOWN and deadline is not None and not search.stopped()
        return None, fixed, cut
    return _verified(extract(fixed), search.options.log), fixed, False


def contiguous(
    problem: Problem,
    T: int,
    assignment: dict[int, int],
    hint: list[float] | None = None,
) -> Schedule | None:
    """A quick try at the restriction (M18): each processor's tasks back to back.

    Tasks follow ``hint`` (e.g. the starts of the relaxation (M17), modulo
    ``T``) or else a topological order of the distance-0 edges on every
    processor; each processor's circle is turned (:func:`rotate`), and the
    least stages then solve the difference constraints
    ``k_v - k_u >= ceil((lat_e - w_e*T - r_v + r_u) / T)`` (Bellman-Ford).
    ``None`` when a processor is overloaded or a loop needs more periods than
    its distance gives, and always under ``capacity: ports`` when tensors
    travel (it places no transfers: the restriction's MILP does; with only
    fixed delays ports and delay are one model).
    """
    if problem.ports and problem.tensors:
        return None
    graph = problem.graph
    n, index = graph.n, graph.index
    if hint is None:
        g = nx.DiGraph()
        g.add_nodes_from(range(n))
        g.add_edges_from(
            (index(e.src), index(e.dst)) for e in graph.edges if e.distance == 0 and e.src != e.dst
        )
        sequence = list(nx.lexicographical_topological_sort(g))
    else:
        sequence = sorted(range(n), key=lambda v: (hint[v] % T, v))
    offset = [0] * n
    fill: dict[int, int] = {}
    for v in sequence:
        p = assignment[v]
        offset[v] = fill.get(p, 0)
        fill[p] = offset[v] + problem.duration(v, p)
    if max(fill.values()) > T:
        return None
    rotate(problem, T, assignment, offset)
    stage = _least_stages(problem, T, assignment, offset)
    if stage is None:
        return None
    names = [t.name for t in graph.tasks]
    sched = Schedule(
        graph,
        problem.platform,
        T,
        {names[v]: assignment[v] for v in range(n)},
        {names[v]: offset[v] + T * stage[v] for v in range(n)},
        placement=problem.placement,
    )
    return least_staleness(sched)


def _latency(problem: Problem, e_idx: int, assignment: dict[int, int]) -> int:
    """``d_u(p_u) + c_e(p_u, p_v)``: how long after ``u`` starts its message reaches ``v``."""
    e = problem.graph.edges[e_idx]
    u, v = problem.graph.index(e.src), problem.graph.index(e.dst)
    pu, pv = assignment[u], assignment[v]
    return problem.duration(u, pu) + problem.edge_cost(e_idx, pu, pv)


def _least_stages(
    problem: Problem, T: int, assignment: dict[int, int], offset: list[int]
) -> list[int] | None:
    """The least stages for fixed offsets; ``None`` on a positive cycle.

    The difference constraints ``k_v >= k_u + need_e`` are solved component
    by component (strongly connected, in topological order): each component's
    incoming rows are final when it is reached, and Bellman-Ford within it
    takes at most its size in rounds, so a graph with few loops takes about
    one pass over its edges, not ``n`` of them.
    """
    graph = problem.graph
    rows = []
    for e_idx, e in enumerate(graph.edges):
        u, v = graph.index(e.src), graph.index(e.dst)
        lat = _latency(problem, e_idx, assignment)
        need = -(-(lat - e.distance * T - offset[v] + offset[u]) // T)
        if u == v:
            if need > 0:
                return None
            continue
        rows.append((u, v, need))
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.n))
    g.add_edges_from((u, v) for u, v, _ in rows)
    dag = nx.condensation(g)
    rank = {c: i for i, c in enumerate(nx.topological_sort(dag))}
    component = {v: rank[c] for v, c in dag.graph["mapping"].items()}
    into: dict[int, list[tuple[int, int, int]]] = {}
    for row in rows:
        into.setdefault(component[row[1]], []).append(row)
    sizes = {rank[c]: len(dag.nodes[c]["members"]) for c in dag.nodes}
    stage = [0] * graph.n
    for c in sorted(into):
        inner = []
        for u, v, need in into[c]:
            if component[u] != c:
                stage[v] = max(stage[v], stage[u] + need)  # u's component is final
            else:
                inner.append((u, v, need))
        if inner and not _relax(stage, inner, sizes[c]):
            return None  # a loop asks for more periods than its distance gives
    return stage


def _relax(stage: list[int], rows: list[tuple[int, int, int]], size: int) -> bool:
    """Bellman-Ford on one component of ``size`` tasks; ``False`` on a positive cycle."""
    for _ in range(size + 1):
        changed = False
        for u, v, need in rows:
            if stage[u] + need > stage[v]:
                stage[v] = stage[u] + need
                changed = True
        if not changed:
            return True
    return False


def rotate(problem: Problem, T: int, assignment: dict[int, int], offset: list[int]) -> None:
    """Turn each processor's circle so that crossing edges reach across few periods.

    A rotation keeps the arcs of a processor disjoint; it changes how many periods
    ``ceil((lat_e - w_e T - r_v + r_u) / T)`` each edge between two processors
    needs. Two rounds of coordinate descent over the processors minimise their
    sum, each turn chosen by :func:`best_rotation`.
    """
    graph = problem.graph
    crossing: dict[int, list[tuple[int, int, int]]] = {}
    for e_idx, e in enumerate(graph.edges):
        u, v = graph.index(e.src), graph.index(e.dst)
        if assignment[u] != assignment[v]:
            item = (u, v, _latency(problem, e_idx, assignment) - e.distance * T)
            crossing.setdefault(assignment[u], []).append(item)
            crossing.setdefault(assignment[v], []).append(item)
    first = min(assignment.values())
    for _ in range(2):
        for p, items in crossing.items():
            if p == first:
                continue  # turning every processor alike changes nothing
            terms = [(lat, offset[u], offset[v], assignment[u] == p) for u, v, lat in items]
            rho = best_rotation(T, terms)
            for v in assignment:
                if assignment[v] == p:
                    offset[v] = (offset[v] + rho) % T


def rotation_periods(T: int, terms: list[tuple[int, int, int, bool]], rho: int) -> int:
    """``sum ceil((lat - r_v' + r_u') / T)`` with the turned end's offset ``(r + rho) mod T``.

    Each term is ``(lat, r_u, r_v, u_turns)``: ``u_turns`` says which end sits
    on the processor being turned.
    """
    total = 0
    for lat, ru, rv, u_turns in terms:
        if u_turns:
            ru = (ru + rho) % T
        else:
            rv = (rv + rho) % T
        total += -(-(lat - rv + ru) // T)
    return total


def best_rotation(T: int, terms: list[tuple[int, int, int, bool]]) -> int:
    """The least ``rho`` in ``[0, T)`` minimising :func:`rotation_periods`.

    Each term is a step function of ``rho`` with two steps at most: with the
    turned offset ``X = (r + rho) mod T``, ``ceil((a + X)/T)`` (``u`` turns,
    ``a = lat - r_v``) is ``ceil(a/T)`` plus 1 from ``X = (1 - a) mod T`` on,
    and ``ceil((b - X)/T)`` (``v`` turns, ``b = lat + r_u``) is ``ceil(b/T)``
    less 1 from ``X = b mod T`` on (no step when that is 0); the step ends
    where ``X`` wraps to 0. The sum's changes are swept in order of ``rho``:
    ``O(m log m)`` for ``m`` terms, whatever ``T`` is.
    """
    value = 0
    change: dict[int, int] = {}
    for lat, ru, rv, u_turns in terms:
        if u_turns:
            a, r, sign = lat - rv, ru, 1
            value += -(-a // T)
            step = (1 - a) % T
        else:
            b, r, sign = lat + ru, rv, -1
            value += -(-b // T)
            step = b % T
        if step == 0:
            continue
        if r >= step:
            value += sign  # at rho = 0 the turned offset is already past the step
        up, wrap = (step - r) % T, (-r) % T
        if up:
            change[up] = change.get(up, 0) + sign
        if wrap:
            change[wrap] = change.get(wrap, 0) - sign
    best, best_rho = value, 0
    for rho in sorted(change):
        value += change[rho]
        if value < best:
            best, best_rho = value, rho
    return best_rho


def _verified(schedule: Schedule, log: Log | None) -> Schedule | None:
    """``schedule`` if the validator accepts it, else ``None`` (a rounding accident)."""
    from ..validate import validate

    problems = validate(schedule)
    if problems:
        if log is not None:
            log(f"solver solution rejected by the validator: {problems[0].message}")
        return None
    return schedule
