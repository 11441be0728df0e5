"""LayerPipe against PipeDream: the period of each on the same network, cost model, platform, ``P``.

For every processor count, the PipeDream planner (solver ``pipedream`` on the
``pipedream`` decomposition: contiguous stages, the whole backward pass of a
layer as one task) is compared with the best LayerPipe schedule the exact solver
finds (solver ``cpsat`` on the ``layerpipe`` decomposition; optimal where it is
proven). Both graphs come from the same network with the same cost model and
staleness policy, so the ratio of the periods (``layerpipe_over_pipedream``) is
the throughput gained by the finer decomposition and the exact scheduler
together. A LayerPipe period that is not proven optimal is visible in
``layerpipe_status`` and ``layerpipe_gap``, and the summary line says how many
were proven (:func:`layerpipe_label`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from .errors import InputError
from .graph import TaskGraph
from .networks.layers import Network
from .placement import check_placement
from .sweep import (
    PlatformLike,
    ProgressCallback,
    check_numbers,
    format_table,
    make_grid,
    parse_procs,
    resolve_network,
    run_grid,
)

#: Columns of the table :func:`compare` returns. ``layerpipe_over_pipedream`` is
#: ``pipedream_period / layerpipe_period``: LayerPipe's throughput over PipeDream's
#: (1.25 means 25% more iterations per second). Periods are in time units and, in the
#: ``_ms`` columns, in milliseconds; ``layerpipe_gap`` is ``(T - LB) / T`` of the LayerPipe
#: period, a fraction (printed in percent).
COMPARE_COLUMNS: tuple[str, ...] = (
    "network",
    "platform",
    "procs",
    "placement",
    "pipedream_period",
    "pipedream_period_ms",
    "pipedream_iterations_per_s",
    "pipedream_status",
    "pipedream_comm_bytes",
    "pipedream_max_staleness",
    "layerpipe_period",
    "layerpipe_period_ms",
    "layerpipe_iterations_per_s",
    "layerpipe_lower_bound",
    "layerpipe_lower_bound_ms",
    "layerpipe_status",
    "layerpipe_gap",
    "layerpipe_comm_bytes",
    "layerpipe_max_staleness",
    "layerpipe_over_pipedream",
    "seconds",
    "error",
)

#: The columns :func:`format_comparison` prints.
SHOWN_COMPARE_COLUMNS: tuple[str, ...] = (
    "network",
    "platform",
    "procs",
    "placement",
    "pipedream_period",
    "pipedream_period_ms",
    "pipedream_status",
    "layerpipe_period",
    "layerpipe_period_ms",
    "layerpipe_lower_bound",
    "layerpipe_status",
    "layerpipe_gap",
    "layerpipe_over_pipedream",
    "pipedream_comm_bytes",
    "layerpipe_comm_bytes",
    "seconds",
)

_KEY = ["network", "platform", "procs", "placement"]


def compare(
    network: str | os.PathLike[str] | Network,
    procs: str | Iterable[int] = range(7, 10),
    *,
    time_limit: float | None,
    solver: str = "cpsat",
    seed: int = 0,
    staleness: Any = None,
    costs: Any = None,
    network_options: Mapping[str, Any] | None = None,
    platform: PlatformLike = None,
    measured: Any = None,
    workers: int | None = None,
    executor: str = "local",
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: bool | ProgressCallback | None = None,
    placement: str = "free",
) -> pd.DataFrame:
    """PipeDream's period against LayerPipe's best (proven or not) for each processor count.

    Parameters
    ----------
    network
        A built-in network name, a network file or a
        :class:`~lpsched.networks.layers.Network` (not a task graph: the
        comparison needs two decompositions of the same network).
    procs
        Processor counts: integers or text like ``"7-9"``.
    time_limit
        Seconds per LayerPipe solve (``None``: until proven optimal, which
        may take long on large networks).
    solver
        The LayerPipe solver; ``cpsat`` (default) proves optimality, any
        other name of :data:`lpsched.solve.SOLVERS` works too.
    seed, workers
        For the LayerPipe solver (see :func:`lpsched.solve.solve`).
    staleness, costs, network_options, platform, measured
        As for :func:`lpsched.sweep.sweep`; the same for both sides.
    executor, jobs, scheduler, progress
        As for :func:`lpsched.sweep.sweep`.
    placement
        The placement policy both sides keep (:mod:`lpsched.placement`), in
        the ``placement`` column: one policy per comparison.

    Returns
    -------
    pandas.DataFrame
        One row per processor count, columns :data:`COMPARE_COLUMNS`, with
        ``layerpipe_over_pipedream = pipedream_period / layerpipe_period``
        (``NaN`` when either has no schedule). ``df.attrs["summary"]`` holds
        :func:`summarise` of the table.

    Raises
    ------
    InputError
        Before any work: on a task graph, an unknown network, solver or
        platform, bad processor counts, or a platform that cannot take one of them.
    """
    instance = resolve_network(network, network_options)
    if isinstance(instance, TaskGraph):
        raise InputError(
            f"{instance.name}: compare needs a network, not a task graph (it builds the "
            "pipedream and layerpipe decompositions of the same network)"
        )
    check_numbers(time_limit, seed, workers, jobs)
    check_placement(placement)
    plist = parse_procs(procs)
    points = make_grid(
        instance,
        plist,
        [("pipedream", "pipedream"), ("layerpipe", solver)],
        staleness=staleness,
        costs=costs,
        time_limit=time_limit,
        seed=seed,
        workers=workers,
        platform=platform,
        measured=measured,
        placement=placement,
    )
    rows = run_grid(points, executor=executor, jobs=jobs, scheduler=scheduler, progress=progress)
    table = comparison_table(rows, pipedream_solver="pipedream", layerpipe_solver=solver)
    table.attrs["summary"] = summarise(table, solver=solver)
    return table


def comparison_table(
    rows: pd.DataFrame, *, pipedream_solver: str = "pipedream", layerpipe_solver: str = "cpsat"
) -> pd.DataFrame:
    """Pair the PipeDream and LayerPipe rows of a sweep table by network, platform and ``P``.

    Parameters
    ----------
    rows
        A sweep table (:data:`lpsched.sweep.COLUMNS`) holding rows of
        ``pipedream_solver`` on the ``pipedream`` decomposition and of
        ``layerpipe_solver`` on the ``layerpipe`` decomposition.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARE_COLUMNS`, sorted by network, platform, ``procs``
        and placement.
    """
    if "placement" not in rows.columns:
        rows = rows.assign(placement="free")  # a table built before placements
    sides = {
        "pipedream": rows[
            (rows["decomposition"] == "pipedream") & (rows["solver"] == pipedream_solver)
        ],
        "layerpipe": rows[
            (rows["decomposition"] == "layerpipe") & (rows["solver"] == layerpipe_solver)
        ],
    }
    keep = (
        "period",
        "period_ms",
        "iterations_per_s",
        "status",
        "comm_bytes",
        "max_staleness",
        "lower_bound",
        "lower_bound_ms",
        "gap",
        "seconds",
        "error",
    )
    frames = []
    for side, df in sides.items():
        part = df[[*_KEY, *keep]].rename(columns={k: f"{side}_{k}" for k in keep})
        frames.append(part.set_index(_KEY))
    table = frames[0].join(frames[1], how="outer").reset_index()
    table["layerpipe_over_pipedream"] = table["pipedream_period"].astype("float64") / table[
        "layerpipe_period"
    ].astype("float64")
    table["seconds"] = table["pipedream_seconds"] + table["layerpipe_seconds"]
    table["error"] = [
        "; ".join(f"{side}: {msg}" for side, msg in (("pipedream", a), ("layerpipe", b)) if msg)
        for a, b in zip(
            table["pipedream_error"].fillna(""), table["layerpipe_error"].fillna(""), strict=True
        )
    ]
    table = table.sort_values(_KEY, kind="stable").reset_index(drop=True)
    return table.reindex(columns=list(COMPARE_COLUMNS))


def format_comparison(table: pd.DataFrame, columns: Sequence[str] = SHOWN_COMPARE_COLUMNS) -> str:
    """A comparison table as a person reads it: periods in time units and ms, ``-`` for none."""
    return format_table(table, columns)


#: How summaries name the solvers.
SOLVER_TITLES = {
    "cpsat": "CP-SAT",
    "milp": "MILP/HiGHS",
    "milp-cbc": "MILP/CBC",
    "heuristic": "heuristic",
    "pipedream": "PipeDream planner",
}


def summarise(table: pd.DataFrame, solver: str | None = None) -> dict[str, Any]:
    """Average and largest speedup of LayerPipe over PipeDream across the processor counts.

    The speedups are the table's ``layerpipe_over_pipedream``.

    Parameters
    ----------
    table
        A table of :func:`comparison_table`.
    solver
        The LayerPipe solver, for :func:`layerpipe_label`.

    Returns
    -------
    dict
        ``mean_speedup`` (arithmetic mean over the rows with both periods),
        ``geomean_speedup``, ``max_speedup`` and ``max_speedup_procs`` (the
        ``P`` attaining it), ``min_speedup``, ``rows`` (counted rows),
        ``layerpipe_proven`` (how many LayerPipe periods are proven optimal, of
        ``total_rows = len(table)``) and ``layerpipe_solver``. Speedups are
        ``None`` when no row has both periods.
    """
    both = table.dropna(subset=["layerpipe_over_pipedream"])
    proven = int((table["layerpipe_status"] == "optimal").sum())
    out: dict[str, Any] = {
        "rows": int(len(both)),
        "procs": [int(p) for p in table["procs"]],
        "layerpipe_proven": proven,
        "total_rows": int(len(table)),
        "layerpipe_solver": solver,
        "mean_speedup": None,
        "geomean_speedup": None,
        "max_speedup": None,
        "max_speedup_procs": None,
        "min_speedup": None,
    }
    if len(both):
        speedups = both["layerpipe_over_pipedream"].astype(float)
        best = int(speedups.to_numpy().argmax())
        out.update(
            mean_speedup=float(speedups.mean()),
            geomean_speedup=float(math.exp(sum(math.log(x) for x in speedups) / len(speedups))),
            max_speedup=float(speedups.iloc[best]),
            max_speedup_procs=int(both["procs"].iloc[best]),
            min_speedup=float(speedups.min()),
        )
    return out


def layerpipe_label(summary: Mapping[str, Any]) -> str:
    """``LayerPipe (CP-SAT, 1 of 3 proven optimal)``: the solver and how many periods are proven.

    "Optimal" is never said of a whole comparison whose periods are not all proven.
    """
    proven = f"{summary['layerpipe_proven']} of {summary['total_rows']} proven optimal"
    solver = summary.get("layerpipe_solver")
    if not solver:
        return f"LayerPipe ({proven})"
    return f"LayerPipe ({SOLVER_TITLES.get(solver, solver)}, {proven})"


def format_summary(summary: Mapping[str, Any]) -> str:
    """One line: mean and largest speedup, and how many LayerPipe periods are proven optimal."""
    label = layerpipe_label(summary)
    if summary["mean_speedup"] is None:
        return f"no processor count has both schedules; {label}"
    return (
        f"{label} over the PipeDream planner: mean speedup {summary['mean_speedup']:.3f}x, "
        f"max {summary['max_speedup']:.3f}x at P={summary['max_speedup_procs']}"
    )
