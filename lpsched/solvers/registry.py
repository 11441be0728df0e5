"""The solvers lpsched offers, what each accepts, and how each is called.

Every solver is a function ``run(problem, options) -> Result`` registered here
with its capabilities; :func:`lpsched.solve.solve` checks a request against
them (a time limit, a secondary objective, a model export, heterogeneous
processors, several nodes) before any work, so that no caller tests solver
names. A new solver is one entry in :data:`SOLVERS`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import InfeasibleError, InputError
from ..placement import PLACEMENTS
from ..problem import Problem
from ..schedule import Result, Schedule, Status
from .toolkit import Incumbent

Log = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    """What a caller asks of a solver besides the problem.

    Parameters
    ----------
    time_limit
        Seconds for the whole call, or ``None``.
    seed, workers
        Random seed; search workers (CP-SAT).
    secondary
        ``"comm"``, ``"staleness"`` or ``None``: the objective at the best period.
    log
        Receives progress lines; ``None`` for silence.
    export
        MILP only: a ``.lp`` or ``.mps`` path for the model of the best period.
    initial
        A valid schedule of the problem to start from (a warm start).
    deterministic
        Stop by work, not by wall time, so that the answer does not depend on
        how busy the machine is: CP-SAT takes ``time_limit`` as deterministic
        seconds (``max_deterministic_time``) with one worker; other solvers
        count their own work.
    solver_log
        Receives the underlying solver's raw log (``-vv``); ``None`` for silence.
    stop
        Set when the caller wants the solver to stop now (Ctrl-C): a solver
        checks it between steps and ends its running search as soon as it can,
        returning the best schedule found.
    incumbent
        Where a solver offers every improving schedule as it finds it, so that
        an interrupted solve still has one (:class:`~lpsched.solvers.toolkit.Incumbent`).
    """

    time_limit: float | None = None
    seed: int = 0
    workers: int | None = None
    secondary: str | None = "comm"
    log: Log | None = None
    export: str | None = None
    initial: Schedule | None = None
    deterministic: bool = False
    solver_log: Log | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    incumbent: Incumbent = field(default_factory=Incumbent)


@dataclass(frozen=True)
class SolverInfo:
    """A solver and its declared capabilities.

    Attributes
    ----------
    name, description
        As the command line lists them.
    run
        ``run(problem, options) -> Result``.
    exact
        Whether it can prove a period minimal by search (not only by a bound).
    warm_start
        Whether it starts from the heuristic's schedule.
    secondaries
        The secondary objectives it accepts besides none.
    export
        Whether it can write its model (``--export``).
    heterogeneous
        Whether it schedules processors of different speeds.
    topology
        Whether it schedules platforms of several nodes with different links.
    ports
        Whether it schedules ``capacity: ports`` (transfers on link ports).
    memory
        Whether it keeps every processor's footprint within its memory.
    deterministic
        Whether ``Options.deterministic`` makes its answer independent of load.
    placements
        The placement policies (:mod:`lpsched.placement`) it keeps.
    default_time_limit
        Seconds it is given when the caller names no limit (exact solvers), so
        that no run is silently unbounded; ``None``: it needs none.
    """

    name: str
    description: str
    run: Callable[[Problem, Options], Result]
    exact: bool = False
    warm_start: bool = False
    secondaries: tuple[str, ...] = ()
    export: bool = False
    heterogeneous: bool = False
    topology: bool = False
    ports: bool = False
    memory: bool = False
    deterministic: bool = False
    placements: tuple[str, ...] = ("free",)
    default_time_limit: float | None = None

    def check(self, problem: Problem, options: Options) -> None:
        """Raise :class:`InputError` when this solver cannot take the request."""
        if options.secondary is not None and options.secondary not in self.secondaries:
            takes = [s.name for s in SOLVERS.values() if options.secondary in s.secondaries]
            raise InputError(f"--secondary {options.secondary} needs --solver {' or '.join(takes)}")
        if options.export is not None and not self.export:
            takes = [s.name for s in SOLVERS.values() if s.export]
            raise InputError(f"--export needs --solver {' or '.join(takes)}")
        if problem.placement not in self.placements:
            takes = [s.name for s in SOLVERS.values() if problem.placement in s.placements]
            needs = " or ".join(takes) or "(none yet)"
            raise InputError(f"--placement {problem.placement} needs --solver {needs}")
        platform = problem.platform
        if any(p.memory is not None for p in platform.processors) and not self.memory:
            raise InputError(
                f"--solver {self.name} does not respect a memory capacity yet; drop --memory"
            )
        if platform.capacity == "ports" and not self.ports:
            raise InputError(
                f"--solver {self.name} does not schedule capacity: ports yet; use capacity: delay"
            )
        if len(set(platform.speeds)) > 1 and not self.heterogeneous:
            raise InputError(
                f"--solver {self.name} does not schedule processors of different speeds"
            )
        if not platform.uniform and len(set(platform.speeds)) == 1 and not self.topology:
            raise InputError(
                f"--solver {self.name} does not schedule several nodes with other links"
            )


# ----------------------------------------------------------------- the solvers
def _none_found(problem: Problem, name: str, err: InfeasibleError) -> Result:
    """A heuristic that found no schedule within memory proves nothing: status unknown.

    (A proven infeasibility is the bounds' and is answered before any solver runs.)
    """
    return Result(None, Status.UNKNOWN, problem.lower_bound, name, 0.0, stats={"reason": str(err)})


def _heuristic(problem: Problem, options: Options) -> Result:
    from .memory_fit import memory_schedule
    from .toolkit import claim

    # Deterministic: no wall clock; the work is bounded by the heuristic's step limit.
    # Without a memory capacity memory_schedule is modulo_schedule.
    try:
        sched = memory_schedule(
            problem,
            lower_bound=problem.lower_bound,
            seed=options.seed,
            time_limit=None if options.deterministic else options.time_limit,
            log=options.log,
            stop=options.stop,
        )
    except InfeasibleError as err:
        return _none_found(problem, "heuristic", err)
    lb = problem.lower_bound
    return Result(sched, claim(sched.period, lb), lb, "heuristic", 0.0)


def _pipedream(problem: Problem, options: Options) -> Result:
    from .pipedream import pipedream_schedule
    from .toolkit import claim

    limit = None if options.deterministic else options.time_limit
    try:
        sched = pipedream_schedule(problem, time_limit=limit, log=options.log, stop=options.stop)
    except InfeasibleError as err:
        return _none_found(problem, "pipedream", err)
    lb = problem.lower_bound
    return Result(sched, claim(sched.period, lb), lb, "pipedream", 0.0)


def _cpsat(problem: Problem, options: Options) -> Result:
    from .cpsat import run_cpsat

    return run_cpsat(problem, options)


def _milp(backend: str) -> Callable[[Problem, Options], Result]:
    def run(problem: Problem, options: Options) -> Result:
        from .milp import run_milp

        return run_milp(problem, options, backend)

    return run


def _milp_entry(name: str, backend: str, label: str) -> SolverInfo:
    """The registry entry of the MILP with one backend (they differ in nothing else)."""
    return SolverInfo(
        name,
        f"exact MILP (PuLP + {label}), warm-started by the heuristic",
        _milp(backend),
        exact=True,
        warm_start=True,
        secondaries=("comm",),
        export=True,
        heterogeneous=True,
        topology=True,
        ports=True,
        memory=True,
        placements=PLACEMENTS,
        default_time_limit=DEFAULT_EXACT_SECONDS,
    )


#: The time limit of an exact solver when the caller names none.
DEFAULT_EXACT_SECONDS = 60.0

#: Limits of the numbers every solve takes: 32-bit seeds (CP-SAT's ``random_seed`` is an
#: int32); more than 256 search workers helps no solver; a time limit of more than 10^6 s
#: (11 days) is a typing error, and NaN or infinity no limit at all.
MAX_SEED = 2**31 - 1
MAX_WORKERS = 256
MAX_TIME_LIMIT = 1e6


def check_numbers(time_limit: float | None, seed: int, workers: int | None) -> None:
    """Refuse a time limit, seed or worker count out of range, naming the flag and its limit.

    Raises
    ------
    InputError
        ``--time-limit`` positive, finite, at most :data:`MAX_TIME_LIMIT`;
        ``--seed`` in ``0..MAX_SEED``; ``--workers`` in ``1..MAX_WORKERS``.
    """
    from ..units import check_integer, check_real

    if time_limit is not None:
        check_real(time_limit, "--time-limit", maximum=MAX_TIME_LIMIT, positive=True)
    check_integer(seed, "--seed", 0, MAX_SEED)
    if workers is not None:
        check_integer(workers, "--workers", 1, MAX_WORKERS)


SOLVERS: dict[str, SolverInfo] = {
    s.name: s
    for s in (
        SolverInfo(
            "heuristic",
            "modulo list scheduling (Rau's iterative modulo scheduling with processor choice)",
            _heuristic,
            heterogeneous=True,
            topology=True,
            ports=True,
            memory=True,
            placements=PLACEMENTS,
            deterministic=True,
        ),
        SolverInfo(
            "pipedream",
            "PipeDream planner: contiguous stages by dynamic programming (the baseline)",
            _pipedream,
            heterogeneous=True,
            topology=True,
            ports=True,
            memory=True,
            placements=PLACEMENTS,
            deterministic=True,
        ),
        SolverInfo(
            "cpsat",
            "exact CP-SAT model (OR-Tools), warm-started by the heuristic",
            _cpsat,
            exact=True,
            warm_start=True,
            secondaries=("comm", "staleness"),
            heterogeneous=True,
            topology=True,
            ports=True,
            memory=True,
            placements=PLACEMENTS,
            deterministic=True,
            default_time_limit=DEFAULT_EXACT_SECONDS,
        ),
        _milp_entry("milp", "highs", "HiGHS"),
        _milp_entry("milp-cbc", "cbc", "bundled CBC"),
    )
}
