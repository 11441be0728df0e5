"""The modulo-scheduling heuristic under bounded memory: retry until the footprint fits.

A processor with ``memory`` set must hold its footprint ((P8) of
``formulations/README.md``, counted by :mod:`lpsched.footprint`): every tensor
resident on it times the iterations its lifetime overlaps, plus optimizer
state. Staleness raises both weight versions and activation lifetimes, so a
tight memory lowers the staleness a schedule can afford and raises its period.
:func:`memory_schedule` wraps :func:`~lpsched.solvers.heuristic.modulo_schedule`
(which already keeps each processor's committed bytes within its memory when
it chooses a slot) in a loop of candidates, each checked against the
footprint with its staleness lowered
(:func:`~lpsched.solvers.toolkit.least_staleness`):

1. the full search at the graph's own staleness cap;
2. the PipeDream planner, which sizes its stages by their memory
   (:func:`~lpsched.solvers.pipedream.pipedream_schedule`), and under
   placement ``free`` or ``layer`` the heuristic's stage cuts (placement
   ``stages``, which keeps layers whole and contiguous: fewer activations in
   flight on each processor);
3. quick searches at lower caps (``auto`` graphs only: a fixed staleness is the
   user's choice), by bisection for the largest cap that fits;
4. for the attempt that overshoots least: longer periods (fewer copies of
   each lifetime), and layers moved from the processor over its memory to
   the one with most room, all processors then pinned;
5. under placement ``free``, for the attempts that did not fit at a period
   below the best that did: the task holding most on the processor over its
   memory pinned to the processor holding least and the rest placed again,
   task after task (:func:`_spread`);
6. under placement ``free`` or ``layer``, for the stage cuts that did not fit
   at a period below the best that did: an end layer of the stage over its
   memory moved to the next stage, the stages kept (:func:`_shift_cuts`).

The valid schedule of least period that fits is returned. When none fits,
:class:`~lpsched.errors.InfeasibleError` says which processor needed how many
bytes against its capacity in the attempt that came closest: that proves
nothing (a proof comes from :attr:`lpsched.bounds.Bounds.memory_infeasible`,
checked first, whose message then says so). Without any bounded memory this
is exactly :func:`~lpsched.solvers.heuristic.modulo_schedule`.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InfeasibleError
from ..graph import TaskGraph
from ..problem import Problem
from ..schedule import Schedule
from ..units import format_bytes
from .heuristic import modulo_schedule
from .toolkit import least_staleness

#: Periods tried for the attempt closest to fitting, as multiples of its period.
LONGER_PERIODS = (1.25, 1.5, 2.0, 3.0)
#: Rounds of moving a layer off the processor over its memory (each one rescheduled).
MOVE_ROUNDS = 6
#: Placements whose problems the stage cut search (placement ``stages``) also solves.
STAGED = ("free", "layer")
#: Share of the time limit the first, full search gets (the rest is for retries).
FIRST_SHARE = 0.4
#: Attempts that missed the memory at a shorter period than the best fit which
#: :func:`_spread` tries to repair, those closest to fitting first, and how far over
#: its memory (a share of it) a processor of such an attempt may be: a miss further
#: over needs more tasks moved than a few rounds move.
SPREAD_TRIES = 3
SPREAD_OVER = 0.35
#: Tasks :func:`_spread` pins apart at most in all (each a quick search), and the
#: rounds it waits for a lower overshoot before it gives an attempt up.
SPREAD_ROUNDS = 10
SPREAD_PATIENCE = 3

Log = Callable[[str], None]


def bounded(problem: Problem) -> bool:
    """Whether some processor of the problem's platform has a memory capacity."""
    return any(p.memory is not None for p in problem.platform.processors)


def overshoot(schedule: Schedule) -> tuple[float, int, float, float]:
    """``(bytes over, processor, footprint, capacity)`` of the processor most over its memory.

    Bytes over is 0 or less when every footprint fits (then the processor is
    the one with least room).
    """
    fp = schedule.footprints()
    worst = (-math.inf, -1, 0.0, 0.0)
    for p, (nbytes, proc) in enumerate(zip(fp, schedule.platform.processors, strict=True)):
        if proc.memory is not None and nbytes - proc.memory > worst[0]:
            worst = (nbytes - proc.memory, p, nbytes, proc.memory)
    return worst


@dataclass(frozen=True)
class _Call:
    """What every retry of one call shares: the problem, the seed and the clock.

    ``left(share)`` is that share of the seconds left (``None`` without a limit);
    ``out()`` whether the limit has passed or ``stop`` is set.
    """

    problem: Problem
    seed: int
    left: Callable[[float], float | None]
    out: Callable[[], bool]
    stop: threading.Event | None = None

    def quick(self, graph: TaskGraph, **extra: object) -> Schedule:
        """A quick search of ``graph`` (:func:`_quick`) in 30% of the time left."""
        return _quick(self.problem, graph, self.seed, self.left(0.3), **extra)


class _Fit:
    """The candidates of one call: the best that fits, and the one closest to fitting."""

    def __init__(self, log: Log | None) -> None:
        self.log = log
        self.best: Schedule | None = None
        self.closest: tuple[float, int, float, float] | None = None
        self.near: Schedule | None = None  # the schedule of ``closest``
        # (bytes over / capacity, schedule) of each miss, on the processor most over
        self.misses: list[tuple[float, Schedule]] = []
        self.cut_misses: list[tuple[float, Schedule]] = []  # the misses of stage cuts

    def offer(self, schedule: Schedule, what: str, cut: bool = False) -> bool:
        """Record ``schedule`` (its staleness already lowered); whether it fits.

        ``cut``: the schedule is a stage cut's (contiguous stages of whole layers).
        """
        over = overshoot(schedule)
        fits = over[0] <= 0
        if fits and (self.best is None or schedule.period < self.best.period):
            self.best = schedule
        if not fits:
            miss = (over[0] / over[3] if over[3] > 0 else math.inf, schedule)
            self.misses.append(miss)
            if cut:
                self.cut_misses.append(miss)
            if self.closest is None or over[0] < self.closest[0]:
                self.closest, self.near = over, schedule
        if self.log is not None:
            verdict = "fits" if fits else f"processor {over[1]} over by {format_bytes(over[0])}"
            self.log(f"memory: {what}: period {schedule.period}, {verdict}")
        return fits

    def error(self) -> InfeasibleError:
        """The error when nothing fits, naming the closest attempt's processor and bytes."""
        assert self.closest is not None
        _over, p, need, cap = self.closest
        return InfeasibleError(
            f"no schedule found within memory (not a proof): processor {p} needed "
            f"{need:.0f} bytes ({format_bytes(need)}), capacity {cap:.0f} bytes "
            f"({format_bytes(cap)})"
        )


def capped(graph: TaskGraph, cap: int) -> TaskGraph:
    """The ``auto`` graph with staleness cap ``cap``: every weight edge at that distance."""
    fixed = graph.with_staleness(dict.fromkeys(graph.staleness(), cap))
    return dataclasses.replace(fixed, staleness_cap=cap)


def memory_schedule(
    problem: Problem,
    *,
    lower_bound: int | None = None,
    seed: int = 0,
    time_limit: float | None = None,
    log: Log | None = None,
    stop: threading.Event | None = None,
) -> Schedule:
    """A heuristic schedule whose footprint fits every processor's memory.

    Parameters
    ----------
    problem
        The problem; its platform's processors may have ``memory`` set.
    lower_bound, seed, time_limit, log, stop
        As for :func:`~lpsched.solvers.heuristic.modulo_schedule`; the time
        limit covers every attempt (the first, full search gets
        :data:`FIRST_SHARE` of it). Without a limit the work is bounded by the
        attempts' count and each one's step limit, and the result deterministic.

    Returns
    -------
    Schedule
        Valid by (P1)-(P8); an ``auto`` graph's staleness lowered to what its
        start times need. Without bounded memory: ``modulo_schedule``'s
        schedule, unchanged.

    Raises
    ------
    InfeasibleError
        When the bounds prove that nothing fits (the message gives their
        reason), or when no attempt fitted (the message names the processor,
        the bytes it needed and its capacity, and says that this proves nothing).
    """
    kwargs = {"lower_bound": lower_bound, "seed": seed, "log": log, "stop": stop}
    if not bounded(problem):
        return modulo_schedule(problem, time_limit=time_limit, **kwargs)
    why = problem.bounds.memory_infeasible
    if why is not None:
        raise InfeasibleError(f"no schedule fits the memory (proven): {why}")
    began = time.perf_counter()

    def left(share: float = 1.0) -> float | None:
        if time_limit is None:
            return None
        return max(0.0, share * (time_limit - (time.perf_counter() - began)))

    def out() -> bool:
        return (stop is not None and stop.is_set()) or left() == 0.0

    fit = _Fit(log)
    call = _Call(problem, seed, left, out, stop)
    first = modulo_schedule(problem, time_limit=left(FIRST_SHARE), **kwargs)
    fit.offer(least_staleness(first), "the search")
    _planner(problem, fit, left(0.5), stop)
    if problem.placement in STAGED and not out():
        _stage_cuts(problem, fit, seed, left(0.3), stop)
    if fit.best is None or fit.best.period > first.period:
        _lower_caps(call, fit)
    if fit.best is None:
        _repairs(call, fit)
    _spread(call, fit)
    _shift_cuts(call, fit)
    if fit.best is None:
        raise fit.error()
    return fit.best


def _planner(
    problem: Problem, fit: _Fit, limit: float | None, stop: threading.Event | None
) -> None:
    """Offer the PipeDream planner's memory-aware schedule, if it finds one."""
    from .pipedream import pipedream_schedule

    try:
        planned = pipedream_schedule(problem, time_limit=limit, stop=stop)
    except InfeasibleError:
        return
    fit.offer(least_staleness(planned), "the PipeDream planner")


def _stage_cuts(
    problem: Problem, fit: _Fit, seed: int, limit: float | None, stop: threading.Event | None
) -> None:
    """Under placement ``free`` or ``layer``: offer the stage cut search's schedule.

    It keeps layers whole (so it keeps ``layer`` too) and contiguous, which
    holds fewer activations in flight on each processor than layers spread
    freely; :func:`_lower_caps` offers them at lower caps too. Measured
    (``benchmarks/memory.md``): VGG-16 on 8 processors at 50% of its
    unconstrained footprint, period 1075 where the planner gives 1325.
    """
    sched = _quick(problem, problem.graph, seed, limit, placement="stages", stop=stop)
    fit.offer(sched, "the stage cuts", cut=True)


def _quick(
    problem: Problem,
    graph: TaskGraph,
    seed: int,
    limit: float | None,
    placement: str | None = None,
    **extra: object,
) -> Schedule:
    """A quick search of ``graph`` on the problem's platform, staleness lowered.

    Under the problem's placement, or ``placement`` (a stricter one: ``stages``
    schedules keep ``layer`` and ``free``), the schedule then said to be
    under the problem's.
    """
    sched = modulo_schedule(
        Problem(graph, problem.platform, placement or problem.placement),
        seed=seed,
        time_limit=limit,
        quick=True,
        **extra,
    )
    return dataclasses.replace(least_staleness(sched), placement=problem.placement)


def _lower_caps(call: _Call, fit: _Fit) -> None:
    """Bisect for the largest staleness cap below the graph's whose quick search fits.

    Under placement ``free`` or ``layer`` the stage cut search is bisected on its
    own: it keeps layers whole and often fits at caps where spread layers do not,
    and were its fits to steer one bisection, the caps at which the free search
    fits would never be tried.
    """
    graph = call.problem.graph
    if graph.staleness_cap is None or graph.staleness_cap < 2:
        return
    placements = [None, "stages"] if call.problem.placement in STAGED else [None]
    for placement in placements:
        what = "" if placement is None else ", stage cuts"
        tried: dict[int, tuple[bool, int]] = {}  # cap -> (fits, period)
        lo, hi = 1, graph.staleness_cap - 1
        while lo <= hi and not call.out():
            cap = (lo + hi + 1) // 2
            sched = call.quick(capped(graph, cap), placement=placement)
            fits = fit.offer(sched, f"staleness cap {cap}{what}", cut=placement is not None)
            tried[cap] = (fits, sched.period)
            if tried[cap][0]:
                lo = cap + 1
            else:
                hi = cap - 1
        if placement is None:
            _step_down(call, fit, tried)


def _step_down(call: _Call, fit: _Fit, tried: dict[int, tuple[bool, int]]) -> None:
    """The caps the bisection skipped below its least miss shorter than the best fit.

    A footprint is not monotone in the cap, so the bisection may jump over the
    caps whose schedules overshoot by little at a period below the best fit;
    those misses are what :func:`_spread` repairs. Downward from that miss,
    until a cap fits, was tried, or is no shorter than the best fit.
    """
    best = math.inf if fit.best is None else fit.best.period
    short = [cap for cap, (fits, period) in tried.items() if not fits and period < best]
    cap = min(short, default=1) - 1
    while cap >= 1 and cap not in tried and not call.out():
        sched = call.quick(capped(call.problem.graph, cap))
        if fit.offer(sched, f"staleness cap {cap}") or sched.period >= best:
            return
        cap -= 1


def _repairs(call: _Call, fit: _Fit) -> None:
    """Longer periods, then layers moved off the processor over its memory.

    Both start from the attempt closest to fitting, on its graph (its cap).
    """
    near = fit.near
    assert near is not None
    graph = _capped_like(call.problem, near)
    for factor in LONGER_PERIODS:
        if call.out() or fit.best is not None:
            return
        floor = math.ceil(near.period * factor)
        fit.offer(call.quick(graph, lower_bound=floor), f"period >= {floor}")
    proc = dict(near.processor)
    for _ in range(MOVE_ROUNDS):
        if call.out() or fit.best is not None:
            return
        moved = _move_layer(call.problem, fit.near or near, proc)
        if moved is None:
            return
        proc = moved
        sched = call.quick(graph, fixed_processor=proc)
        fit.offer(sched, "a layer moved")


def _spread(call: _Call, fit: _Fit) -> None:
    """Repair the misses shorter than the best fit by pinning tasks apart.

    A miss at a short period overshoots where a few readers keep long stashes
    (the first layers' activations, read back at the end of the pipeline). The
    task whose inputs weigh most on the processor most over its memory is
    pinned to the processor that holds least, and every task not pinned is
    placed again by a quick search (so that the period stays short); then the
    next, until the schedule fits, :data:`SPREAD_PATIENCE` rounds pass without
    a lower overshoot, or the period reaches the best fit's; at most
    :data:`SPREAD_ROUNDS` rounds in all, on misses at most :data:`SPREAD_OVER`
    over. Under placement ``free`` only: a task pinned apart would split a
    layer (``layer``) or a stage (``stages``). Measured
    (``benchmarks/memory.md``, VGG-16 on 8 processors): at 50% of the
    unconstrained footprint 988 where the stage cuts give 1075, at 25% 1732
    where they give 2924.
    """
    if call.problem.placement != "free" or call.problem.P < 2:
        return  # (one processor: nowhere to pin a task apart)
    best = math.inf if fit.best is None else fit.best.period
    misses = sorted(
        (x for x in fit.misses if x[1].period < best and x[0] <= SPREAD_OVER),
        key=lambda x: x[0],
    )
    rounds = SPREAD_ROUNDS
    for _over, near in misses[:SPREAD_TRIES]:
        graph = _capped_like(call.problem, near)
        # The first round places anew what the miss had placed: its overshoot is no yardstick.
        sched, pins, least, waited = near, {}, math.inf, 0
        while rounds > 0 and waited < SPREAD_PATIENCE and not call.out():
            rounds -= 1
            if fit.best is not None and sched.period >= fit.best.period:
                break
            p = overshoot(sched)[1]
            task = _heaviest_reader(sched, p, pins)
            if task is None:
                break
            fp = sched.footprints()
            pins[task] = min((q for q in range(call.problem.P) if q != p), key=lambda q: (fp[q], q))
            sched = call.quick(graph, fixed_processor=pins)
            if fit.offer(sched, f"{len(pins)} pinned apart"):
                break
            over = overshoot(sched)[0]
            least, waited = (over, 0) if over < least else (least, waited + 1)


def _shift_cuts(call: _Call, fit: _Fit) -> None:
    """Repair the stage cuts' misses shorter than the best fit by moving their end layers.

    :func:`_spread` places every task anew, which loses a cut's contiguous
    stages; here the stages stay and the heaviest end layer of the stage most
    over its memory moves to the neighbouring stage (or an empty processor)
    that has room for it (:func:`_move_layer` under placement ``stages``), the
    start times found again with every processor fixed; up to
    :data:`MOVE_ROUNDS` moves per miss, on the :data:`SPREAD_TRIES` misses
    closest to fitting (at most :data:`SPREAD_OVER` over), until one fits, a
    move's period reaches the best fit's, or a move leaves more bytes over
    than before it. ResNet-50's PipeDream profile on 8 ``pcie`` processors
    with 16 GB: the cut at staleness cap 3 missed by 3.1 GB at 7267, the best
    fit was 10760; three moves fit at 7651.
    """
    if call.problem.placement not in STAGED:
        return
    misses = sorted((x for x in fit.cut_misses if x[0] <= SPREAD_OVER), key=lambda x: x[0])
    for _over, near in misses[:SPREAD_TRIES]:
        best = math.inf if fit.best is None else fit.best.period
        if near.period >= best or call.out():
            continue
        graph = _capped_like(call.problem, near)
        staged = Problem(graph, call.problem.platform, "stages")
        sched, proc, over = near, dict(near.processor), overshoot(near)[0]
        seen = {tuple(sorted(proc.items()))}
        for _ in range(MOVE_ROUNDS):
            moved = _move_layer(staged, sched, proc)
            key = None if moved is None else tuple(sorted(moved.items()))
            if moved is None or call.out() or key in seen:
                break  # (a layer moved back: the stage over its memory alternates)
            proc = moved
            seen.add(key)
            sched = _timed(call, graph, proc)
            if fit.offer(sched, "an end layer moved to the next stage") or sched.period >= best:
                break
            now = overshoot(sched)[0]
            if now >= over:
                break  # the move overloads the next stage more than it relieved this one
            over = now


def _timed(call: _Call, graph: TaskGraph, proc: dict[str, int]) -> Schedule:
    """Start times for fixed processors: the quick pinned search, or under ports the planner's.

    As the stage cut search times a cut: under ports the planner's fitting of
    the transfers (:func:`lpsched.solvers.pipedream.ports_schedule`) often
    needs a much shorter period than the pinned search.
    """
    sched = call.quick(graph, fixed_processor=proc)
    if not call.problem.ports or call.out():
        return sched
    from .pipedream import ports_schedule

    problem = Problem(graph, call.problem.platform, call.problem.placement)
    order = [proc[t.name] for t in graph.tasks]
    timed = ports_schedule(problem, order, time_limit=call.left(0.3), stop=call.stop)
    timed = least_staleness(timed)
    return timed if timed.period < sched.period else sched


def _heaviest_reader(schedule: Schedule, p: int, pinned: dict[str, int]) -> str | None:
    """The task on ``p``, not yet pinned, whose inputs stay longest in bytes x copies.

    An input of edge ``u -> v`` lives from ``u``'s start to the end of ``v``'s
    iteration ``w`` later: ``ceil((s_v + w T + d_v - s_u) / T)`` copies of its
    bytes (the footprint's rule, :mod:`lpsched.footprint`, per edge).
    """
    T = schedule.period
    held: dict[str, float] = {}
    for e in schedule.graph.edges:
        v = e.dst
        if schedule.processor[v] != p or v in pinned or e.bytes == 0:
            continue
        life = schedule.start[v] + e.distance * T + schedule.duration(v) - schedule.start[e.src]
        held[v] = held.get(v, 0.0) + e.bytes * max(1, math.ceil(life / T))
    return max(held, key=lambda v: (held[v], v), default=None)


def _capped_like(problem: Problem, schedule: Schedule) -> TaskGraph:
    """The graph ``schedule`` was found on: an ``auto`` graph capped at its largest staleness."""
    graph = schedule.graph
    if graph.staleness_cap is None and problem.graph.staleness_cap is not None:
        graph = capped(problem.graph, max(graph.staleness().values(), default=1))
    return graph


def _move_layer(
    problem: Problem, schedule: Schedule, proc: dict[str, int]
) -> dict[str, int] | None:
    """``proc`` with the heaviest layer of the processor most over its memory moved.

    A layer's tasks move together (its weights, stashes and optimizer state
    stay with one processor), to the processor with most room that can take
    the bytes the layer produces; ``None`` when no layer fits anywhere.
    """
    over, p, _need, _cap = overshoot(schedule)
    if over <= 0:
        return None
    fp = schedule.footprints()
    room = {
        q: proc_q.memory - fp[q]
        for q, proc_q in enumerate(problem.platform.processors)
        if q != p and proc_q.memory is not None
    }
    produced: dict[str, float] = {}
    factor = problem.platform.optimizer_state
    for e in problem.graph.edges:
        layer = problem.graph.task(e.src).layer or e.src
        if proc[e.src] == p:
            extra = factor * e.bytes if e.weights is not None else 0.0
            produced[layer] = produced.get(layer, 0.0) + e.bytes + extra
    ends = _stage_ends(problem, proc, p) if problem.placement == "stages" else None
    for layer, nbytes in sorted(produced.items(), key=lambda kv: (-kv[1], kv[0])):
        fits = [q for q, r in room.items() if r >= nbytes]
        if ends is not None:
            fits = [q for q in fits if q in ends.get(layer, ())]
        if fits:
            q = max(fits, key=lambda x: (room[x], -x))
            return {
                name: q if (problem.graph.task(name).layer or name) == layer else where
                for name, where in proc.items()
            }
    return None


def _stage_ends(problem: Problem, proc: dict[str, int], p: int) -> dict[str, set[int]]:
    """Under placement ``stages``: the layers at either end of ``p``'s interval, and where to.

    Only an end layer may leave ``p`` without splitting its interval, and only
    to the processor of the layer next to it (whose interval it then extends)
    or to a processor that holds nothing.
    """
    tasks = problem.graph.tasks
    where = [proc[tasks[unit[0]].name] for unit in problem.units]
    names = [tasks[unit[0]].layer or tasks[unit[0]].name for unit in problem.units]
    empty = set(range(problem.P)) - set(where)
    mine = [i for i, q in enumerate(where) if q == p]
    if not mine:
        return {}
    out: dict[str, set[int]] = {}
    for i, j in ((mine[0], mine[0] - 1), (mine[-1], mine[-1] + 1)):
        out.setdefault(names[i], set(empty))
        if 0 <= j < len(where):
            out[names[i]].add(where[j])
    return out
