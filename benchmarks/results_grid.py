"""The grid of ``benchmarks/results.py``: workloads, platforms, sides, and what each row solves.

A *cell* is one workload on one platform at one ``P`` (and memory capacity); a
*side* is what is solved on it (:data:`SIDES`). The grid is sized to fit the
budget of issue 19 (90 minutes on 2 cores): the planner and LayerPipe (CP-SAT)
run at every ``P`` a platform takes; the sides that split the speedup run at
the *core* counts only (``--core-procs``), and the 80 GB capacity only for the
planner and LayerPipe at the core counts.

Rows come from :func:`lpsched.sweep.run_grid`, whose ``run_point`` validates
every schedule (with the platform's ports and memory) before a row reports its
period. Rows do not keep their schedules, so :func:`check_rows` re-checks what
a row records (the key of every point present, ``valid``, the period against
the bound, port loads at most 1, footprints within the capacity), and
:func:`recheck_planner` solves the planner's rows again and validates the
schedules with :func:`lpsched.validate.validate` (the planner is deterministic
and cheap, so its periods must come out the same) and runs them in
:func:`lpsched.simulate.simulate` (:func:`simulated_problems`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from lpsched.errors import InputError
from lpsched.networks import BUILTIN_NETWORKS, get_network
from lpsched.platform import override, preset_spec
from lpsched.profiles import bundled_profiles, load_pipedream
from lpsched.sweep import GridPoint, make_grid, memory_label, row_key

#: The built-in networks on the cost model, then PipeDream's measured profiles.
WORKLOADS: tuple[str, ...] = (
    "alexnet",
    "vgg16",
    "resnet18",
    "resnet50",
    "gpt2",
    "pipedream:vgg16",
    "pipedream:resnet18",
)
MEASURED_PREFIX = "pipedream:"

#: The platforms of issue 19 and what each holds: nvlink and pcie are one box of 8 GPUs,
#: ib is two nodes (P split evenly, so P even) of NVLink GPUs joined by InfiniBand.
PLATFORM_NAMES: tuple[str, ...] = ("nvlink", "pcie", "ib")
PLATFORM_TEXT = {
    "nvlink": "one node of up to 8 GPUs, NVLink 450 GB/s, 3 us",
    "pcie": "one box of up to 8 GPUs, PCIe 4.0 25 GB/s, 10 us",
    "ib": "2 nodes of P/2 NVLink GPUs (450 GB/s), InfiniBand 400 Gb/s (50 GB/s) between, 10 us",
}
PROCS: tuple[int, ...] = tuple(range(2, 17))
CORE_PROCS: tuple[int, ...] = (4, 8, 16)
#: Memory capacities per processor; ``None`` is unlimited (every side), 80 GB (an H100's)
#: runs the planner and LayerPipe at the core counts.
MEMORY_GB = 80.0
#: Seconds per solve: CP-SAT sides, and the heuristic (which improves until its limit).
TIME_LIMIT = 20.0
HEURISTIC_LIMIT = 5.0
#: Seconds beyond its limit a solve takes (graph, model, bounds, validation; measured on 2
#: loaded cores, rounded up) and the planner's seconds.
SOLVE_OVERHEAD = 2.0
PLANNER_SECONDS = 1.0
#: Seconds to solve a planner row again and simulate it (measured: under 1 s on gpt2, P 16).
RECHECK_SECONDS = 1.0
#: Iterations of the simulation of each planner schedule the generator solves again.
SIMULATED_ITERATIONS = 20


@dataclass(frozen=True)
class Side:
    """One compared configuration.

    ``staleness`` ``None`` is the ``auto`` policy (cap ``2P - 1``); ``"P"`` caps it at
    ``P`` (``auto:P``, the depth of PipeDream's weight stashing). ``core``: solved
    at the core counts only.
    """

    key: str
    label: str
    decomposition: str
    solver: str
    placement: str = "free"
    staleness: str | None = None
    core: bool = False

    def tag(self) -> str:
        """What the ``platform`` column adds for this side (``""``, ``"stages"``, ``"auto:P"``)."""
        if self.staleness is not None:
            return f"auto:{self.staleness}"
        return "" if self.placement == "free" else self.placement


def sides(solver: str = "cpsat") -> list[Side]:
    """The sides of issue 19, with ``solver`` as the exact solver."""
    return [
        Side("planner", "PipeDream planner", "pipedream", "pipedream"),
        Side("layerpipe", "LayerPipe", "layerpipe", solver),
        Side("heuristic", "LayerPipe heuristic", "layerpipe", "heuristic", core=True),
        Side("intra", "intra", "intra", solver, core=True),
        Side("pd_opt", "PipeDream tasks, best", "pipedream", solver, core=True),
        Side("stages", "LayerPipe, stages", "layerpipe", solver, placement="stages", core=True),
        Side("stale", "LayerPipe, staleness ≤ P", "layerpipe", solver, staleness="P", core=True),
    ]


def allowed_procs(platform: str, procs: Sequence[int]) -> list[int]:
    """The counts of ``procs`` that ``platform`` takes (one box of 8; two even nodes)."""
    if platform == "ib":
        return [p for p in procs if p % 2 == 0]
    return [p for p in procs if p <= 8]


def platform_spec(platform: str) -> dict[str, Any]:
    """The platform specification of a grid: a preset, ports on, ib on 2 nodes."""
    spec = override(preset_spec(platform), capacity="ports")
    if platform == "ib":
        spec = override(spec, nodes=2)
    return spec


def workload(name: str) -> tuple[Any, Any]:
    """The network and the measured profile (or ``None``) of a workload name."""
    if name.startswith(MEASURED_PREFIX):
        profile = name[len(MEASURED_PREFIX) :]
        if profile not in bundled_profiles():
            known = ", ".join(MEASURED_PREFIX + p for p in bundled_profiles())
            raise InputError(f"unknown measured profile {name!r}; choose from {known}")
        return load_pipedream(profile)
    if name not in BUILTIN_NETWORKS:
        raise InputError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    return get_network(name), None


def row_label(platform: str, side: Side, memory_gb: float | None) -> str:
    """The ``platform`` column: ``"ib"``, ``"ib stages"``, ``"pcie auto:P"``, ``"nvlink 80GB"``."""
    parts = [platform, side.tag(), "" if memory_gb is None else memory_label(memory_gb * 1e9)]
    return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class GridSpec:
    """What a run solves."""

    workloads: tuple[str, ...]
    platforms: tuple[str, ...]
    procs: tuple[int, ...]
    core_procs: tuple[int, ...]
    solver: str = "cpsat"
    time_limit: float = TIME_LIMIT
    heuristic_limit: float = HEURISTIC_LIMIT
    memory_gb: float | None = MEMORY_GB
    workers: int | None = None


def side_points(spec: GridSpec, name: str, platform: str, side: Side) -> list[GridPoint]:
    """The points of one side of one workload on one platform (unlimited, and the capacity)."""
    network, profile = workload(name)
    procs = allowed_procs(platform, spec.core_procs if side.core else spec.procs)
    memories: list[float | None] = [None]
    if spec.memory_gb is not None and side.key in ("planner", "layerpipe"):
        memories.append(spec.memory_gb)
    limit = spec.heuristic_limit if side.solver == "heuristic" else spec.time_limit
    out: list[GridPoint] = []
    for gb in memories:
        for p in procs if gb is None else allowed_procs(platform, spec.core_procs):
            points = make_grid(
                network,
                [p],
                [(side.decomposition, side.solver)],
                staleness=None if side.staleness is None else f"auto:{p}",
                time_limit=None if side.solver == "pipedream" else limit,
                workers=spec.workers,
                platform=platform_spec(platform),
                measured=profile,
                memory=None if gb is None else [gb * 1e9],
                placement=side.placement,
            )
            out += [replace(q, network=name, label=row_label(platform, side, gb)) for q in points]
    return out


def build_points(spec: GridSpec, keys: Sequence[str] | None = None) -> list[GridPoint]:
    """Every point of the grid (``keys``: only those sides), each key once."""
    chosen = [s for s in sides(spec.solver) if keys is None or s.key in keys]
    points: dict[tuple[Any, ...], GridPoint] = {}
    for name in spec.workloads:
        for platform in spec.platforms:
            for side in chosen:
                for q in side_points(spec, name, platform, side):
                    points.setdefault(q.key, q)
    return list(points.values())


def estimate_seconds(points: Sequence[GridPoint]) -> float:
    """An upper estimate of the seconds of ``points`` one at a time (each takes its limit)."""
    return sum(
        PLANNER_SECONDS if q.time_limit is None else q.time_limit + SOLVE_OVERHEAD for q in points
    )


def side_of_row(row: Any, solver: str = "cpsat") -> str | None:
    """The key of the side a row belongs to (from its decomposition, solver and label)."""
    tag = row_tag(str(row.platform))
    for s in sides(solver):
        if (s.decomposition, s.solver, s.tag()) == (row.decomposition, row.solver, tag):
            return s.key
    return None


def row_tag(label: str) -> str:
    """The side's tag in a ``platform`` column (``"ib stages 80GB"`` -> ``"stages"``)."""
    words = label.split()[1:]
    return " ".join(w for w in words if not w.endswith("GB"))


def row_platform(label: str) -> str:
    """The platform name in a ``platform`` column (its first word)."""
    return label.split()[0]


def check_rows(rows: pd.DataFrame, points: Sequence[GridPoint]) -> list[str]:
    """What is wrong with the rows of ``points`` (empty: nothing), one line per problem.

    Every point must have its row; a row with a period must be ``valid``
    (validated with ports and memory when it was solved), not shorter than its
    lower bound, with no port busy more than the period and no footprint above
    its capacity.
    """
    problems: list[str] = []
    have = {row_key(r): r for r in rows.itertuples(index=False)}
    for q in points:
        r = have.get(q.key)
        if r is None:
            problems.append(f"{q.key}: no row")
            continue
        if r.status in ("invalid", "error"):
            problems.append(f"{q.key}: {r.status}: {r.error}")
        if pd.isna(r.period):
            continue
        if pd.isna(r.valid) or not bool(r.valid):
            problems.append(f"{q.key}: a period without a validated schedule")
        if not pd.isna(r.lower_bound) and int(r.period) < int(r.lower_bound):
            problems.append(f"{q.key}: period {r.period} below its bound {r.lower_bound}")
        if not pd.isna(r.link_busy_max) and float(r.link_busy_max) > 1 + 1e-9:
            problems.append(f"{q.key}: a port busy {float(r.link_busy_max):.3f} of the period")
        cap, peak = r.memory_gb, r.memory_gb_max
        if not pd.isna(cap) and not pd.isna(peak) and float(peak) > float(cap) * (1 + 1e-9):
            problems.append(f"{q.key}: footprint {float(peak):.2f} GB over {float(cap):g} GB")
    return problems


def recheck_planner(rows: pd.DataFrame, points: Sequence[GridPoint]) -> list[str]:
    """Solve the planner's points again, validate and simulate each schedule, compare with its row.

    Returns one line per problem (a violation, another period than the row's, or
    what :func:`simulated_problems` finds).
    """
    from lpsched.problem import Problem
    from lpsched.solve import solve
    from lpsched.validate import validate

    have = {row_key(r): r for r in rows.itertuples(index=False)}
    problems = []
    for q in points:
        if q.solver != "pipedream" or q.key not in have:
            continue
        result = solve(Problem(q.graph(), q.platform, q.placement), None, "pipedream")
        sched = result.schedule
        old = have[q.key].period
        if sched is None:
            if not pd.isna(old):
                problems.append(f"{q.key}: no schedule on the recheck, the row has {old}")
            continue
        bad = validate(sched)
        if bad:
            problems.append(f"{q.key}: recheck: {bad[0].message}")
        if pd.isna(old) or int(old) != sched.period:
            problems.append(f"{q.key}: recheck period {sched.period}, the row has {old}")
        problems += [f"{q.key}: simulated: {p}" for p in simulated_problems(sched)]
    return problems


def simulated_problems(sched: Any, iterations: int = SIMULATED_ITERATIONS) -> list[str]:
    """What running ``sched``'s programs (:func:`lpsched.simulate.simulate`, no jitter) shows.

    A valid schedule runs without deadlock or causality violation, every
    steady-state iteration lasting exactly its period, and within each
    processor's memory (the simulator's own count).
    """
    from lpsched.simulate import simulate

    rep = simulate(sched, iterations=iterations)
    out = []
    if rep.deadlock is not None:
        out.append("deadlock")
    if rep.violation_count:
        out.append(f"{rep.violation_count} violations, first: {rep.violations[0]}")
    if rep.max is not None and rep.max != sched.period:
        out.append(f"an iteration took {rep.max}, the period is {sched.period}")
    caps = [p.memory for p in sched.platform.processors]
    for i, (peak, cap) in enumerate(zip(rep.peak_memory or (), caps, strict=False)):
        if cap is not None and peak > cap:
            out.append(f"processor {i} peaks at {peak / 1e9:.2f} GB over {cap / 1e9:g} GB")
    return out
