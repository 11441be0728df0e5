"""LayerPipe against the PipeDream planner, written up as ``docs/results.md``.

For each network and ``P``, five solves on the same network, cost model and
staleness policy (``auto``, cap ``2P - 1``):

==================  ===============  ===========================================
side                decomposition    solver
==================  ===============  ===========================================
PipeDream planner   ``pipedream``    ``pipedream`` (the paper's baseline)
LayerPipe           ``layerpipe``    ``cpsat`` (optimal, or best found + status)
LayerPipe heur.     ``layerpipe``    ``heuristic``
intra               ``intra``        ``cpsat``
PipeDream optimal   ``pipedream``    ``cpsat`` (PipeDream's tasks, any placement)
==================  ===============  ===========================================

The speedup of LayerPipe over PipeDream is ``T_pipedream / T_layerpipe``
(:func:`lpsched.compare.comparison_table`); its average and maximum over
``P = 7..9`` (:func:`lpsched.compare.summarise`) stand beside the paper's
(Unnikrishnan & Parhi 2021: 25% on average, upwards of 80%, with 7 to 9
processors). The other three sides split that speedup into what scheduling
the same tasks optimally gains and what each decomposition gains, which is
what the discussion of the difference rests on.

The comparison runs on *variants*: platforms (``--platforms default,pcie``)
times link models (``--capacity ports,delay``), and memory capacities
(``--memory 80GB,32GB``, on the first platform and model). The first platform
and model are the headline (every section above runs on it, with all five
sides); the other variants run ``--sides`` (default the planner and LayerPipe)
and get compact tables beside the headline's. Rows carry the variant in their
``platform`` column (``default ports``, ``pcie delay``, ``default ports 80GB``).
A side whose solver declares no support for a variant (a memory capacity) is
shown as *refused*, never solved. ``--resume`` counts the ``default`` rows of a
CSV written before link ports as ``default delay`` (:func:`adopt_old_rows`).

Rows are solved by :func:`lpsched.sweep.run_grid` and kept in a CSV beside
the markdown (``--resume`` reuses them). The first line printed is the number
of solves and an upper estimate of the time (``--dry-run`` stops there). Run::

    python benchmarks/results.py --quick          # results-quick.md, a few minutes
    python benchmarks/results.py --resume --procs 4,8,16 --time-limit 20 --jobs 2 \
        --workers 1                               # docs/results.md, about half an hour
    python benchmarks/results.py                  # P 2-16, 60 s per solve: a day
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from csv import reader
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd

from lpsched.compare import comparison_table, summarise
from lpsched.costs import CostModel, format_time_unit, parse_time_unit
from lpsched.errors import InputError
from lpsched.networks import BUILTIN_NETWORKS, get_network
from lpsched.platform import DEFAULT_BANDWIDTH, DEFAULT_LATENCY, PRESETS
from lpsched.solve import SOLVERS
from lpsched.solvers.registry import SOLVERS as SOLVER_INFO
from lpsched.sweep import (
    COLUMNS,
    COLUMNS_V1,
    COLUMNS_V2,
    COLUMNS_V3,
    DEFAULT_PLATFORM,
    KEY,
    REDO_STATUSES,
    GridPoint,
    check_numbers,
    four_digits,
    grid_platforms,
    make_grid,
    memory_label,
    normalise,
    parse_memory,
    parse_names,
    parse_procs,
    platform_spec_of,
    read_results,
    row_key,
    run_grid,
)
from lpsched.taskgraph import build_task_graph

NETWORKS: tuple[str, ...] = ("alexnet", "vgg16", "resnet18", "resnet50", "gpt2")
PROCS = "2-16"
TIME_LIMIT = 60.0
#: The processor counts of the paper's claim.
WINDOW: tuple[int, ...] = (7, 8, 9)
#: Unnikrishnan & Parhi (2021), abstract: "an average speedup of 25% and upwards of 80%
#: with 7 to 9 processors with less communication overhead when compared to PipeDream".
PAPER_MEAN = 0.25
PAPER_MAX = 0.80
PAPER = (
    "N. K. Unnikrishnan and K. K. Parhi, *LayerPipe: Accelerating Deep Neural Network "
    "Training by Intra-Layer and Inter-Layer Gradient Pipelining and Multiprocessor "
    "Scheduling*, ICCAD 2021, arXiv:2108.06629"
)

#: Platforms (``default`` or presets of :data:`lpsched.platform.PRESETS`), link models and
#: memory capacities of a run; the first platform and model are the headline.
PLATFORMS = "default,pcie"
CAPACITY = "ports,delay"
CAPACITIES: tuple[str, ...] = ("ports", "delay")
MEMORY = "80GB,32GB"
#: The sides of every variant but the headline (which runs all five).
EXTRA_SIDES = "planner,layerpipe"

#: ``status`` of a row whose solver declares no support for its variant (no solve tried;
#: never written to the CSV).
REFUSED = "refused"

#: The label of the rows of CSVs written before link ports on the default platform: their
#: links were delays (:func:`adopt_old_rows`).
OLD_DEFAULT = f"{DEFAULT_PLATFORM} delay"

#: Seconds beyond its limit that a solve takes (building the task graph, the problem and
#: the model, validating), and the planner's seconds: the largest measured on 2 loaded
#: cores (gpt2 and resnet50 at P = 16 under ports), rounded up.
SOLVE_OVERHEAD = 1.0
PLANNER_SECONDS = 1.0

QUICK: dict[str, Any] = {
    "networks": ("alexnet", "vgg16"),
    "procs": "8",
    "time_limit": 5.0,
    "output": "results-quick.md",
}


@dataclass(frozen=True)
class Side:
    """One of the compared configurations: a decomposition solved by a solver."""

    key: str
    label: str
    decomposition: str
    solver: str


def sides(solver: str = "cpsat") -> list[Side]:
    """The five configurations, with ``solver`` as the exact solver."""
    return [
        Side("planner", "PipeDream planner", "pipedream", "pipedream"),
        Side("layerpipe", "LayerPipe", "layerpipe", solver),
        Side("heuristic", "LayerPipe heuristic", "layerpipe", "heuristic"),
        Side("intra", "intra", "intra", solver),
        Side("pd_opt", "PipeDream tasks, optimal", "pipedream", solver),
    ]


# ---------------------------------------------------------------------------
# Platforms, link models and memory capacities
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """One platform, link model and memory capacity that the comparison runs on.

    ``label`` is the ``platform`` column of its rows: ``"default ports"``,
    ``"pcie delay"``, ``"default ports 80GB"`` (named explicitly, so that rows
    of both link models share a CSV whatever ``Platform.default`` is).
    """

    platform: str
    capacity: str
    memory: float | None
    sides: tuple[str, ...]

    @property
    def base(self) -> str:
        """The platform and link model without the memory: ``"default ports"``."""
        return f"{self.platform} {self.capacity}"

    @property
    def label(self) -> str:
        """The ``platform`` column (:func:`lpsched.sweep.memory_platform_label`'s form)."""
        return self.base if self.memory is None else f"{self.base} {memory_label(self.memory)}"

    def spec(self) -> dict[str, Any]:
        """The platform specification of the grid (a preset, its link model and its name)."""
        spec = platform_spec_of(None if self.platform == DEFAULT_PLATFORM else self.platform)
        return {**spec, "capacity": self.capacity, "name": self.base}


def variants(
    platforms: Sequence[str],
    capacities: Sequence[str],
    memories: Sequence[float],
    extra_sides: Sequence[str],
) -> list[Variant]:
    """The variants of a run, the headline first.

    The headline (first platform, first link model, unlimited memory) runs
    every side; every other platform and link model, and the memory
    capacities (on the headline's platform and link model), run ``extra_sides``.
    """
    every = tuple(s.key for s in sides())
    extra = tuple(k for k in every if k in extra_sides)
    out = [
        Variant(p, c, None, every if (i, j) == (0, 0) else extra)
        for i, p in enumerate(platforms)
        for j, c in enumerate(capacities)
    ]
    out += [Variant(platforms[0], capacities[0], m, extra) for m in memories]
    return out


def refusal(solver: str, variant: Variant) -> str | None:
    """Why ``solver`` cannot run ``variant`` (its declared capabilities), or ``None``."""
    info = SOLVER_INFO[solver]
    if variant.memory is not None and not info.memory:
        return f"{solver} does not respect a memory capacity yet"
    if variant.capacity == "ports" and not info.ports:
        return f"{solver} does not schedule capacity: ports yet"
    return None


def refused_row(network: str, side: Side, variant: Variant, procs: int, why: str) -> dict[str, Any]:
    """A row of the table (status :data:`REFUSED`) for a grid point no solve was tried on."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(
        network=network,
        decomposition=side.decomposition,
        solver=side.solver,
        platform=variant.label,
        procs=procs,
        memory_gb=None if variant.memory is None else variant.memory / 1e9,
        status=REFUSED,
        error=why,
    )
    return row


def build_grid(
    networks: Sequence[str],
    procs: Sequence[int],
    runs: Sequence[Variant],
    *,
    solver: str = "cpsat",
    time_limit: float | None = TIME_LIMIT,
    workers: int | None = None,
) -> tuple[list[GridPoint], list[dict[str, Any]]]:
    """The grid points of every variant, side, network and ``P``, and the refused rows.

    A side whose solver declares no support for a variant (a memory capacity,
    link ports) is not solved: it becomes :func:`refused_row` rows, so that the
    markdown shows it. Points of one ``(decomposition, solver)`` pair shared by
    two sides (``solver="heuristic"``) appear once.
    """
    points: dict[tuple[Any, ...], GridPoint] = {}
    refused: dict[tuple[Any, ...], dict[str, Any]] = {}
    by_key = {s.key: s for s in sides(solver)}
    for v in runs:
        pairs = {(s.decomposition, s.solver): s for s in (by_key[k] for k in v.sides)}
        for (decomposition, name), side in pairs.items():
            why = refusal(name, v)
            for network in networks:
                if why is not None:
                    for p in procs:
                        row = refused_row(network, side, v, p, why)
                        refused.setdefault(row_key(SimpleNamespace(**row)), row)
                    continue
                grid = make_grid(
                    get_network(network),
                    list(procs),
                    [(decomposition, name)],
                    time_limit=time_limit,
                    workers=workers,
                    platform=v.spec(),
                    memory=None if v.memory is None else [v.memory],
                )
                points.update((g.key, g) for g in grid if g.key not in points)
    return list(points.values()), list(refused.values())


def read_adopted(csv: Path) -> tuple[pd.DataFrame, int]:
    """The rows of ``csv``, its ``default`` rows written before ports labelled ``default delay``.

    A CSV without the memory columns (:data:`lpsched.sweep.COLUMNS_V3` and
    older; ``docs/results.csv`` has no ``platform`` column at all, which
    :func:`lpsched.sweep.read_results` fills with ``default``) was written while
    the default platform's links were delays, so its ``default`` rows are this
    script's ``default delay`` rows. A CSV of the current format is read as it
    is (its ``default`` rows are whatever the default was then; this script
    never writes that label). Returns the rows and how many were relabelled.
    """
    with csv.open(newline="") as f:
        header = tuple(next(reader(f), ()))
    df = read_results(csv)
    if header not in (COLUMNS_V3, COLUMNS_V2, COLUMNS_V1):
        return df, 0
    old = df["platform"] == DEFAULT_PLATFORM
    df.loc[old, "platform"] = OLD_DEFAULT
    return normalise(df), int(old.sum())


def adopt_old_rows(csv: Path) -> int:
    """Rewrite ``csv`` in the current format with :func:`read_adopted`'s labels.

    So that ``--resume`` (:func:`lpsched.sweep.run_grid`, which reads the file
    itself) keeps the old rows. Returns how many rows were relabelled (0: the
    file is left as it is).
    """
    if not csv.is_file():
        return 0
    df, moved = read_adopted(csv)
    if not moved:
        return 0
    text = StringIO()
    df.reindex(columns=list(COLUMNS)).to_csv(text, index=False, lineterminator="\n")
    csv.write_text(text.getvalue())
    if not read_results(csv)[list(KEY)].equals(df[list(KEY)]):  # a format we did not foresee
        raise InputError(f"{csv}: could not rewrite the old rows; resume from a copy")
    return moved


def estimate_seconds(points: Sequence[GridPoint], time_limit: float | None) -> float:
    """An upper estimate of the seconds of ``points`` one at a time.

    The exact solvers and the heuristic use their whole limit when they prove
    nothing (the heuristic keeps improving until it), plus building the model;
    the planner takes well under a second (measured on 2 cores:
    :data:`SOLVE_OVERHEAD`, :data:`PLANNER_SECONDS`).
    """
    limit = TIME_LIMIT if time_limit is None else time_limit
    return sum(
        PLANNER_SECONDS if p.solver == "pipedream" else limit + SOLVE_OVERHEAD for p in points
    )


def todo_points(points: Sequence[GridPoint], csv: Path, resume: bool) -> list[GridPoint]:
    """The points that a run still solves: all, or with ``resume`` those not in ``csv``."""
    if not resume or not csv.is_file():
        return list(points)
    old = read_adopted(csv)[0]
    old = old[~old["status"].isin(REDO_STATUSES)]
    done = {row_key(r) for r in old.itertuples(index=False)}
    return [p for p in points if p.key not in done]


def run_rows(
    networks: Sequence[str],
    procs: Sequence[int],
    runs: Sequence[Variant] | None = None,
    *,
    solver: str = "cpsat",
    time_limit: float | None = TIME_LIMIT,
    jobs: int = 1,
    workers: int | None = None,
    csv: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Solve every variant's sides for every network and ``P``; the sweep table.

    ``runs`` defaults to the headline alone (``default ports``, every side).
    The refused rows of :func:`build_grid` are added (never written to the CSV:
    they cost nothing, and a solver that learns the variant later runs it).
    """
    if runs is None:
        runs = variants([DEFAULT_PLATFORM], ["ports"], [], [])
    points, refused = build_grid(
        networks, procs, runs, solver=solver, time_limit=time_limit, workers=workers
    )
    df = run_grid(points, jobs=jobs, output=csv, resume=resume, progress=progress)
    keys = {p.key for p in points}
    mask = [row_key(r) in keys for r in df.itertuples()]
    if not refused:
        return df[mask].reset_index(drop=True)
    extra = normalise(pd.DataFrame(refused, columns=list(COLUMNS)))
    if not any(mask):
        return extra
    return normalise(pd.concat([df[mask], extra], ignore_index=True)).reset_index(drop=True)


# ---------------------------------------------------------------------------
# Tables from the rows
# ---------------------------------------------------------------------------
def side_frame(rows: pd.DataFrame, side: Side) -> pd.DataFrame:
    """The rows of one side, indexed by ``(network, procs)``."""
    part = rows[(rows["decomposition"] == side.decomposition) & (rows["solver"] == side.solver)]
    return part.set_index(["network", "procs"])


def wide_table(rows: pd.DataFrame, solver: str = "cpsat") -> pd.DataFrame:
    """All sides side by side: one row per ``(network, procs)``.

    Returns
    -------
    pandas.DataFrame
        :func:`lpsched.compare.comparison_table` of the planner and LayerPipe
        (its columns and ``layerpipe_over_pipedream``), plus ``{side}_period``,
        ``{side}_period_ms``, ``{side}_status``, ``{side}_lower_bound`` and
        ``{side}_comm_bytes`` of the other sides.
    """
    table = comparison_table(rows, pipedream_solver="pipedream", layerpipe_solver=solver)
    table = table.set_index(["network", "procs"])
    for side in sides(solver):
        if side.key in ("planner", "layerpipe"):
            continue
        part = side_frame(rows, side)
        for c in ("period", "period_ms", "status", "lower_bound", "comm_bytes"):
            table[f"{side.key}_{c}"] = part[c].reindex(table.index)
    return table.reset_index()


def window_rows(table: pd.DataFrame, window: Sequence[int] = WINDOW) -> pd.DataFrame:
    """The rows of a comparison table with ``procs`` in ``window``."""
    return table[table["procs"].isin(list(window))]


def network_facts(networks: Sequence[str]) -> pd.DataFrame:
    """Per network: time unit, rounding error, total work and the longest task per decomposition.

    Durations do not depend on ``P`` (only the staleness cap does), so one
    graph per decomposition tells them.
    """
    out = []
    for name in networks:
        net = get_network(name)
        graphs = {d: build_task_graph(net, d, processors=8) for d in ("pipedream", "layerpipe")}
        g = graphs["layerpipe"]
        unit = parse_time_unit(g.time_unit)
        out.append(
            {
                "network": name,
                "description": BUILTIN_NETWORKS[name],
                "time_unit": g.time_unit,
                "unit_seconds": unit,
                "rounding_error": g.rounding_error,
                "total_work": g.total_work,
                "total_ms": g.total_work * unit * 1e3,
                "tasks_pipedream": graphs["pipedream"].n,
                "tasks_layerpipe": g.n,
                "longest_pipedream": max(t.duration for t in graphs["pipedream"].tasks),
                "longest_layerpipe": max(t.duration for t in g.tasks),
            }
        )
    return pd.DataFrame(out).set_index("network")


def planner_facts(networks: Sequence[str], procs: Sequence[int]) -> pd.DataFrame:
    """The PipeDream planner's own objective per ``(network, procs)``, and what sets it.

    Returns
    -------
    pandas.DataFrame
        Index ``(network, procs)``; ``stage_time`` (the objective: the slowest
        stage's work or the busiest cut's communication, whichever is larger)
        and ``bottleneck``: ``"layer"`` when a stage of one layer attains it
        (no contiguous cut can do better), ``"cut"`` when a cut does,
        ``"stage"`` otherwise.
    """
    from lpsched.solvers.pipedream import plan_stages

    records = []
    for name in networks:
        net = get_network(name)
        for p in procs:
            plan = plan_stages(build_task_graph(net, "pipedream", processors=p), p)
            if plan.cut_times and max(plan.cut_times) == plan.stage_time:
                what = "cut"
            elif any(
                len(st) == 1 and t == plan.stage_time
                for st, t in zip(plan.stages, plan.stage_times, strict=True)
            ):
                what = "layer"
            else:
                what = "stage"
            records.append(
                {"network": name, "procs": p, "stage_time": plan.stage_time, "bottleneck": what}
            )
    return pd.DataFrame(records).set_index(["network", "procs"])


def _geomean(values: pd.Series) -> float:
    v = pd.to_numeric(values, errors="coerce").astype("float64")
    v = v[(v > 0) & v.notna() & (v != math.inf)]
    return float(math.exp(sum(math.log(x) for x in v) / len(v))) if len(v) else math.nan


def _rel(a: object, b: object) -> float:
    """``a / b``, NaN when either is missing."""
    return math.nan if pd.isna(a) or pd.isna(b) else float(a) / float(b)


def _ratio(a: pd.Series, b: pd.Series) -> pd.Series:
    return a.astype("float64") / b.astype("float64")


# ---------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------
def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: int = 1) -> str:
    """A GitHub markdown table; the columns from index ``right`` on align right."""
    align = ["---" if i < right else "---:" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _num(value: object) -> str:
    return "–" if pd.isna(value) else f"{int(value):,}"


def _mb(value: object) -> str:
    return "–" if pd.isna(value) else f"{float(value) / 1e6:,.1f}"


def _x(value: object) -> str:
    return "–" if pd.isna(value) else f"{float(value):.2f}×"


def _pct(value: object, sign: bool = True) -> str:
    if pd.isna(value):
        return "–"
    return f"{100 * float(value):+.1f}%" if sign else f"{100 * float(value):.1f}%"


def _period(period: object, status: object, ms: object = math.nan) -> str:
    """``"1,345 (33.63 ms)"``, ``"1,345 (33.63 ms, feasible)"``; ms left out when unknown."""
    if pd.isna(period):
        return f"none ({status})" if isinstance(status, str) and status else "–"
    notes = [] if pd.isna(ms) else [f"{four_digits(float(ms))} ms"]
    if status != "optimal":
        notes.append(str(status))
    return f"{int(period):,}" + (f" ({', '.join(notes)})" if notes else "")


def _speedup_pct(ratio: object) -> str:
    return "–" if pd.isna(ratio) else f"{_x(ratio)} ({_pct(float(ratio) - 1)})"


def machine() -> str:
    """CPU model, core count and operating system of this machine."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = f", load average {os.getloadavg()[0]:.1f} at the start"
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}{load}"


def render(
    rows: pd.DataFrame,
    networks: Sequence[str],
    procs: Sequence[int],
    *,
    solver: str,
    time_limit: float | None,
    command: str,
    machine_text: str,
    when: str,
    csv_name: str | None,
    jobs: int = 1,
    planner: pd.DataFrame | None = None,
    runs: Sequence[Variant] | None = None,
) -> str:
    """The markdown document.

    Parameters
    ----------
    rows
        The sweep table of :func:`run_rows`.
    networks, procs
        The grid (sections and table rows follow it).
    solver
        The exact solver of the LayerPipe, intra and PipeDream-optimal sides.
    time_limit
        Seconds per solve, for the header.
    command, machine_text, when
        Provenance for the header.
    csv_name
        Name of the CSV holding the rows, or ``None``.
    jobs
        Solves that ran at once (their seconds are comparable only with 1).
    planner
        :func:`planner_facts`; computed when ``None``.
    runs
        The variants (:func:`variants`), the headline first; default the
        headline ``default ports`` alone.
    """
    if runs is None:
        runs = variants([DEFAULT_PLATFORM], ["ports"], [], [])
    facts = network_facts(networks)
    rows = with_ms(rows, facts)
    table = wide_table(rows[rows["platform"] == runs[0].label], solver)
    order = {n: i for i, n in enumerate(networks)}
    table = table.sort_values(
        ["network", "procs"], key=lambda c: c.map(order) if c.name == "network" else c
    ).reset_index(drop=True)
    if planner is None:
        planner = planner_facts(networks, procs)
    idx = pd.MultiIndex.from_frame(table[["network", "procs"]])
    for c in ("stage_time", "bottleneck"):
        table[c] = planner[c].reindex(idx).to_numpy()
    table["resource"] = table["network"].map(facts["total_work"]).astype("float64") / table["procs"]
    win = window_rows(table)
    limit = "none" if time_limit is None else f"{time_limit:g} s"
    out: list[str] = []
    w = out.append

    w("# LayerPipe against PipeDream: periods, speedups, communication\n")
    w(
        f"> Generated by `{command}` on {when} on {machine_text}; time limit {limit} per "
        f"solve, {'one solve' if jobs == 1 else f'{jobs} solves'} at a time."
        + (f" Rows: `{csv_name}`." if csv_name else "")
        + " Do not edit by hand: rerun the command.\n"
    )

    # ---------------------------------------------------------------- summary
    w("## Summary\n")
    w(
        f"The paper ({PAPER}) reports that LayerPipe achieves *an average speedup of 25% and "
        "upwards of 80% with 7 to 9 processors, with less communication overhead, when "
        "compared to PipeDream*. Here the same comparison on lpsched's cost model: the "
        f"PipeDream planner against LayerPipe scheduled by `{solver}` "
        "(speedup = PipeDream's period / LayerPipe's period; +25% means 1.25×), over "
        f"P = {_procs_text(win)}, on the platform `{runs[0].platform}` with link model "
        f"`{runs[0].capacity}` ({_platform_text(runs[0])[:-1].split(': ', 1)[-1]}; "
        "the other platforms and models, and memory capacities, follow the summary).\n"
    )
    srows = []
    for name in networks:
        part = win[win["network"] == name]
        s = summarise(part)
        srows.append(_summary_row(name, part, s))
    all_s = summarise(win) if len(win) else None
    if all_s is not None:
        srows.append(_summary_row("**all**", win, all_s, best_network=True))
    srows.append(["**paper**", _pct(PAPER_MEAN), _pct(PAPER_MAX), "–", "–", "LayerPipe less"])
    w(
        md_table(
            [
                "network",
                "mean speedup",
                "max speedup (at)",
                "LayerPipe proven optimal",
                "rows",
                "comm. MB LayerPipe / PipeDream (mean)",
            ],
            srows,
        )
        + "\n"
    )
    w(_verdict(win, all_s) + "\n")
    if sum(v.memory is None for v in runs) > 1:
        w(models_section(rows, runs, networks, solver))
    if any(v.memory is not None for v in runs):
        w(memory_section(rows, runs, networks, solver))

    # ---------------------------------------------------------------- setup
    w("## What is compared\n")
    w(
        "Every network is turned into a task graph per decomposition with the same cost model "
        "and the staleness policy `auto` (each layer's staleness chosen in [1, 2P − 1], "
        "lowered afterwards to the least the start times need), then solved:\n"
    )
    w(
        md_table(
            ["side", "decomposition", "solver", "meaning"],
            [
                [
                    "PipeDream planner",
                    "`pipedream`",
                    "`pipedream`",
                    "the paper's baseline: contiguous stages by dynamic programming over layer "
                    "ranges, backward pass of a layer as one task",
                ],
                [
                    "LayerPipe",
                    "`layerpipe`",
                    f"`{solver}`",
                    "F, D, G, W, U of every layer as separate tasks, any placement; optimal "
                    "or best found within the limit (status shown)",
                ],
                [
                    "LayerPipe heuristic",
                    "`layerpipe`",
                    "`heuristic`",
                    "modulo list scheduling of the same tasks",
                ],
                ["intra", "`intra`", f"`{solver}`", "F, D+G, W+U: intra-layer split only"],
                [
                    "PipeDream tasks, optimal",
                    "`pipedream`",
                    f"`{solver}`",
                    "PipeDream's tasks placed freely: the scheduler's share of the speedup",
                ],
            ],
            right=99,
        )
        + "\n"
    )
    w(
        "Periods are in each network's time unit (below), with milliseconds beside them. "
        "A period marked *feasible* is "
        "the best found within the time limit, not proven optimal; a LayerPipe speedup that "
        "rests on one is a lower bound on the speedup of an optimal LayerPipe schedule. "
        "Communication is the bytes per iteration on edges whose ends sit on different "
        "processors (activations, gradients and, when a layer's update is apart from its "
        "users, its weights).\n"
    )

    # ---------------------------------------------------------------- costs
    w("## Cost settings\n")
    cm = CostModel()
    w(
        "`lpsched.costs.CostModel` defaults (durations are `MACs / throughput`) and the link "
        "of the default platform (`lpsched.platform`: communication is "
        "`latency + bytes / bandwidth`), both rounded up to whole time units, communication "
        "charged only between processors:\n"
    )
    w(
        md_table(
            ["parameter", "value"],
            [
                ["batch size", str(cm.batch_size)],
                ["throughput per processor", f"{cm.throughput / 1e12:g} TMAC/s"],
                ["link bandwidth", f"{DEFAULT_BANDWIDTH / 1e9:g} GB/s"],
                ["latency per message", format_time_unit(DEFAULT_LATENCY)],
                ["bytes per element", f"{cm.bytes_per_element:g}"],
                ["time unit (model default)", cm.unit_name],
            ],
            right=99,
        )
        + "\n"
    )
    w(
        "The task graphs use, instead of the default time unit, the coarsest round unit whose "
        "rounding error stays within 2% (`lpsched.taskgraph.suggest_time_unit`):\n"
    )
    w(
        md_table(
            [
                "network",
                "time unit",
                "rounding error",
                "total work (units)",
                "total work (ms)",
                "tasks pipedream / layerpipe",
                "longest task pipedream / layerpipe",
            ],
            [
                [
                    n,
                    f["time_unit"],
                    _pct(f["rounding_error"], sign=False),
                    _num(f["total_work"]),
                    f"{f['total_ms']:,.2f}",
                    f"{f['tasks_pipedream']} / {f['tasks_layerpipe']}",
                    f"{f['longest_pipedream']:,} / {f['longest_layerpipe']:,}",
                ]
                for n, f in facts.iterrows()
            ],
        )
        + "\n"
    )

    # ---------------------------------------------------------------- per network
    w("## Speedup per processor count\n")
    w(
        "LB: the best lower bound on LayerPipe's period (resource, longest task, packing, "
        "iteration or co-location bound, or what the solver proved). Comm.: MB (10^6 bytes) "
        "per iteration.\n"
    )
    for name in networks:
        part = table[table["network"] == name]
        w(f"### {name} (time unit {facts.loc[name, 'time_unit']})\n")
        if part.empty:
            w("No rows.\n")
            continue
        w(
            md_table(
                [
                    "P",
                    "PipeDream T",
                    "PipeDream comm.",
                    "LayerPipe T",
                    "LB",
                    "LayerPipe comm.",
                    "speedup",
                ],
                [
                    [
                        str(r.procs),
                        _period(r.pipedream_period, r.pipedream_status, r.pipedream_period_ms),
                        _mb(r.pipedream_comm_bytes),
                        _period(r.layerpipe_period, r.layerpipe_status, r.layerpipe_period_ms),
                        _num(r.layerpipe_lower_bound),
                        _mb(r.layerpipe_comm_bytes),
                        _speedup_pct(r.layerpipe_over_pipedream),
                    ]
                    for r in part.itertuples()
                ],
            )
            + "\n"
        )

    # ---------------------------------------------------------------- ablation
    w("## Where the speedup comes from\n")
    w(
        "The same instances with the other sides: the planner's own objective (its slowest "
        "stage or busiest cut; *layer*: a stage of a single layer, which no contiguous cut can "
        "split), PipeDream's tasks placed freely, the intra decomposition, and LayerPipe by "
        f"the heuristic instead of `{solver}` (gap = heuristic / LayerPipe − 1).\n"
    )
    for name in networks:
        part = table[table["network"] == name]
        if part.empty:
            continue
        w(f"### {name}\n")
        w(
            md_table(
                [
                    "P",
                    "planner objective (set by)",
                    "PipeDream planner",
                    "PipeDream tasks, optimal",
                    "intra",
                    "LayerPipe",
                    "LayerPipe heuristic",
                    "heuristic gap",
                ],
                [
                    [
                        str(r.procs),
                        "–" if pd.isna(r.stage_time) else f"{_num(r.stage_time)} ({r.bottleneck})",
                        _period(r.pipedream_period, r.pipedream_status, r.pipedream_period_ms),
                        _period(r.pd_opt_period, r.pd_opt_status, r.pd_opt_period_ms),
                        _period(r.intra_period, r.intra_status, r.intra_period_ms),
                        _period(r.layerpipe_period, r.layerpipe_status, r.layerpipe_period_ms),
                        _period(r.heuristic_period, r.heuristic_status, r.heuristic_period_ms),
                        _pct(_rel(r.heuristic_period, r.layerpipe_period) - 1),
                    ]
                    for r in part.itertuples()
                ],
            )
            + "\n"
        )

    w(_ablation_summary(table, solver) + "\n")

    # ---------------------------------------------------------------- discussion
    w("## Why our figures differ from the paper's\n")
    w(_discussion(win, facts, solver) + "\n")
    return "\n".join(out)


def _ablation_summary(table: pd.DataFrame, solver: str) -> str:
    """The heuristic against LayerPipe's period, and intra against LayerPipe, over all rows."""
    parts = []
    heur = _ratio(table["heuristic_period"], table["layerpipe_period"]).dropna()
    if len(heur):
        parts.append(
            f"Over all {len(heur)} instances, the heuristic's LayerPipe period is on average "
            f"{_pct(heur.mean() - 1)} and at most {_pct(heur.max() - 1)} against `{solver}`'s "
            f"(negative: the heuristic's is shorter), and equal to it in {int((heur == 1).sum())}."
        )
    intra = _ratio(table["intra_period"], table["layerpipe_period"]).dropna()
    if len(intra):
        parts.append(
            f"The intra decomposition's period is on average "
            f"{_pct(intra.mean() - 1, sign=False)} and at most "
            f"{_pct(intra.max() - 1, sign=False)} above LayerPipe's, equal in "
            f"{int((intra == 1).sum())} of {len(intra)} (a period not proven optimal can make "
            "either side look better than it is)."
        )
    return " ".join(parts) if parts else "No instance has the periods to compare."


def _summary_row(
    name: str, part: pd.DataFrame, s: Mapping[str, Any], best_network: bool = False
) -> list[str]:
    if s["max_speedup"] is None:
        mean = best = "–"
    else:
        mean = _pct(s["mean_speedup"] - 1)
        both = part.dropna(subset=["layerpipe_over_pipedream"])
        at = both.loc[both["layerpipe_over_pipedream"].astype(float).idxmax()]
        where = (
            f"{at['network']}, P={int(at['procs'])}" if best_network else f"P={int(at['procs'])}"
        )
        best = f"{_pct(s['max_speedup'] - 1)} ({where})"
    both = part.dropna(subset=["layerpipe_comm_bytes", "pipedream_comm_bytes"])
    comm = (
        f"{_mb(both['layerpipe_comm_bytes'].mean())} / {_mb(both['pipedream_comm_bytes'].mean())}"
        if len(both)
        else "–"
    )
    return [name, mean, best, f"{s['layerpipe_proven']}/{s['total_rows']}", str(s["rows"]), comm]


def _verdict(win: pd.DataFrame, s: Mapping[str, Any] | None) -> str:
    """One paragraph: our mean and max beside the paper's, and by how much they differ."""
    if s is None or s["mean_speedup"] is None:
        return (
            f"No processor count in {WINDOW[0]}..{WINDOW[-1]} has both schedules, so the "
            "paper's figures cannot be compared with this run."
        )
    mean, best = s["mean_speedup"] - 1, s["max_speedup"] - 1
    d_mean, d_max = mean - PAPER_MEAN, best - PAPER_MAX
    text = (
        f"**Over P = {_procs_text(win)} and {win['network'].nunique()} networks "
        f"({s['rows']} instances), LayerPipe is on average {_faster(mean)} than the "
        f"PipeDream planner, against the paper's {_pct(PAPER_MEAN, sign=False)} faster: "
        f"{_pp(d_mean)}. The largest speedup is {_pct(best)} against the paper's "
        f"{_pct(PAPER_MAX)}: {_pp(d_max)}.**"
    )
    proven, total = s["layerpipe_proven"], s["total_rows"]
    if proven < total:
        text += (
            f" {total - proven} of the {total} LayerPipe periods are not proven optimal "
            "within the time limit; their speedups are lower bounds."
        )
    both = win.dropna(subset=["layerpipe_comm_bytes", "pipedream_comm_bytes"])
    if len(both):
        less = int((both["layerpipe_comm_bytes"] < both["pipedream_comm_bytes"]).sum())
        text += (
            f" LayerPipe communicates less than PipeDream in {less} of {len(both)} instances "
            f"({_mb(both['layerpipe_comm_bytes'].mean())} against "
            f"{_mb(both['pipedream_comm_bytes'].mean())} MB per iteration on average); the "
            "paper reports less communication overhead for LayerPipe."
        )
    return text


def _procs_text(win: pd.DataFrame) -> str:
    """The processor counts of the window's rows: ``"7..9"``, ``"8"``, ``"7, 9"``."""
    present = sorted({int(p) for p in win["procs"]})
    if not present:
        return f"{WINDOW[0]}..{WINDOW[-1]}"
    if len(present) > 2 and present == list(range(present[0], present[-1] + 1)):
        return f"{present[0]}..{present[-1]}"
    return ", ".join(map(str, present))


def _faster(x: float) -> str:
    """``0.25 -> "25.0% faster"``, ``-0.1 -> "10.0% slower"``."""
    return f"{abs(100 * x):.1f}% " + ("faster" if x >= 0 else "slower")


def _pp(diff: float) -> str:
    """A difference of two percentages, in percentage points."""
    if abs(diff) < 0.0005:
        return "the same"
    word = "higher" if diff > 0 else "lower"
    return f"{abs(100 * diff):.1f} percentage points {word}"


def _discussion(win: pd.DataFrame, facts: pd.DataFrame, solver: str) -> str:
    """Paragraphs on why the speedups differ, computed from the rows of the window."""
    paras: list[str] = []
    full = win.dropna(
        subset=["pipedream_period", "pd_opt_period", "intra_period", "layerpipe_period"]
    )
    if len(full):
        sched = _geomean(_ratio(full["pipedream_period"], full["pd_opt_period"]))
        intra = _geomean(_ratio(full["pd_opt_period"], full["intra_period"]))
        inter = _geomean(_ratio(full["intra_period"], full["layerpipe_period"]))
        total = _geomean(_ratio(full["pipedream_period"], full["layerpipe_period"]))
        paras.append(
            "**The split of the speedup.** Over the "
            f"{len(full)} instances with all four periods, the geometric-mean speedup "
            f"{_x(total)} is the product of three factors: placing PipeDream's own tasks "
            f"freely instead of in contiguous stages, scheduled by `{solver}` "
            f"({_x(sched)}), splitting the weight gradient from the activation gradient "
            f"(intra, {_x(intra)}), and splitting the activation gradient across layers "
            f"(LayerPipe, {_x(inter)}). The paper's speedup comes from its decompositions and "
            "its multiprocessor scheduling together; here "
            + (
                "the scheduler contributes more than the two decompositions"
                if math.log(sched) > math.log(intra) + math.log(inter)
                else "the two decompositions contribute more than the scheduler"
            )
            + ". A baseline that is itself a weak scheduler inflates the comparison, a strong "
            "one deflates it, whatever the decomposition is worth."
        )
    stage = win.dropna(subset=["pipedream_period", "stage_time"])
    if len(stage):
        over = _geomean(_ratio(stage["pipedream_period"], stage["stage_time"]))
        ideal = _geomean(_ratio(win["pipedream_period"], win["layerpipe_lower_bound"]))
        balance = _geomean(_ratio(stage["stage_time"], stage["resource"]))
        counts = stage["bottleneck"].value_counts()
        n_layer, n_cut = int(counts.get("layer", 0)), int(counts.get("cut", 0))
        if over > 1.005:
            why = (
                f"the period of the resulting periodic schedule is on average {_x(over)} that "
                "objective here, because a stage must also wait for the activations and "
                "gradients of its neighbours, and our model charges latency and bandwidth on "
                "every edge that crosses a cut"
            )
        else:
            why = (
                "the period of the resulting periodic schedule equals that objective here "
                f"({_x(over)} on average), so the planner loses in the balance alone"
            )
        paras.append(
            "**The planner optimises stage balance, not the period.** PipeDream's dynamic "
            "programme minimises the slowest stage (or the busiest cut's communication, which "
            f"it assumes overlapped); {why}. Its objective is on average {_x(balance)} the "
            f"resource bound (total work / P). In {n_layer} of {len(stage)} instances it is "
            "set by a stage holding a single layer, whose forward and backward tasks no "
            f"contiguous cut can separate, and in {n_cut} by a cut's communication. "
            "PipeDream's own optimiser may replicate such a stage (data parallelism within "
            "the stage, at the price of synchronising the replicas' weights); this planner "
            "does not, and a planner that balances better, by replication or on the paper's "
            "cost tables, leaves LayerPipe less to gain. No LayerPipe schedule can beat its "
            "lower bound: the planner's period over LayerPipe's lower bound, "
            f"{_x(ideal)} on average, caps the speedup of this comparison on our cost model."
        )
    if len(facts):
        ratio = (facts["longest_pipedream"] / facts["longest_layerpipe"]).astype(float)
        paras.append(
            "**The cost model.** Durations are MAC counts at one throughput for every kind of "
            "work, so a layer's backward task (D+G+W+U) lasts about twice its forward task, "
            "and the element-wise tasks (D, U) are almost free. LayerPipe's balance argument "
            "(three equal matrix products per layer) holds exactly in this model, but the "
            "largest layer still bounds both decompositions: the longest task is "
            + (
                f"{ratio.min():.2f}× shorter"
                if f"{ratio.min():.2f}" == f"{ratio.max():.2f}"
                else f"{ratio.min():.2f}× ({ratio.idxmin()}) to {ratio.max():.2f}× "
                f"({ratio.idxmax()}) shorter"
            )
            + " in the layerpipe decomposition than in the pipedream one (table above), and "
            "once P is large enough for the longest task to be the bound, that ratio is what "
            "the decomposition can gain. Below that P, the resource bound (total work / P) "
            "is the same for every decomposition, and a finer decomposition gains only what "
            "coarser tasks lose to packing, precedences and communication. The paper's own "
            "cost tables, which count clock cycles on its processor model, weigh the layers "
            "and the kinds of work differently, and so move both limits."
        )
    both = win.dropna(subset=["layerpipe_comm_bytes", "pipedream_comm_bytes"])
    if len(both):
        lp_mb, pd_mb = both["layerpipe_comm_bytes"].mean(), both["pipedream_comm_bytes"].mean()
        more = lp_mb > pd_mb
        ratio = f"{lp_mb / pd_mb:.2f}× the bytes of" if pd_mb > 0 else "more bytes than"
        exact = solver in ("cpsat", "milp", "milp-cbc")
        paras.append(
            "**Communication of weights.** Our graphs put the parameter bytes on the weight "
            "edges (U → F, U → G), so a schedule that runs a layer's update on another "
            "processor than its forward or activation-gradient task pays for moving the "
            "weights, as a real system would. PipeDream keeps each layer on one processor "
            "and only sends activations and gradients across stage borders. "
            + (
                f"LayerPipe's schedules here move {ratio} PipeDream's "
                f"({_mb(lp_mb)} against {_mb(pd_mb)} MB per iteration on average): the "
                "freedom to place the tasks of one layer apart is paid for in traffic, the "
                "opposite of the paper's finding. "
                if more
                else f"LayerPipe's schedules here move {ratio} PipeDream's "
                f"({_mb(lp_mb)} against {_mb(pd_mb)} MB per iteration on average), in line "
                "with the paper's finding. "
            )
            + (
                f"`{solver}` minimises the bytes only as a second objective at the best "
                "period, and a period that is not proven optimal may carry more traffic than "
                "necessary; the period, not the traffic, is what both sides optimise."
                if exact
                else "The period, not the traffic, is what both sides optimise."
            )
        )
    paras.append(
        "**The paper's processor model.** The paper counts clock cycles on its own model of "
        "identical processors and derives its task costs from it; we do not have its cost "
        "tables, so only the aggregate figures of its abstract are compared here, not per "
        "network values. Our processors are GPU-class (the cost settings above), links have "
        "a latency of "
        f"{format_time_unit(DEFAULT_LATENCY)} per message, every duration is rounded up "
        "to a whole time unit, and the staleness of every layer is a decision of the solver "
        "bounded by 2P − 1. Each of these changes both periods and hence the ratio; the "
        "difference above should be read with them in mind."
    )
    return "\n\n".join(paras)


# ---------------------------------------------------------------------------
# Link models and memory: the compact tables
# ---------------------------------------------------------------------------
def with_ms(rows: pd.DataFrame, facts: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with ``period_ms`` and ``lower_bound_ms`` filled from each network's time unit.

    Rows of CSVs written before platforms recorded no milliseconds; the time
    unit of a network's graphs does not depend on ``P`` (:func:`network_facts`).
    """
    out = rows.copy()
    unit_ms = out["network"].map(facts["unit_seconds"]).astype("float64") * 1e3
    for col, src in (("period_ms", "period"), ("lower_bound_ms", "lower_bound")):
        filled = pd.to_numeric(out[src], errors="coerce").astype("float64") * unit_ms
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64").fillna(filled)
    return out


def pair_frame(rows: pd.DataFrame, label: str, solver: str) -> pd.DataFrame:
    """The planner and LayerPipe rows of one variant side by side, indexed by ``(network, procs)``.

    Returns
    -------
    pandas.DataFrame
        :func:`lpsched.compare.comparison_table`'s columns, plus the LayerPipe
        and planner rows' ``link_busy_max``, ``memory_gb_max`` and
        ``bytes_per_iteration`` and ``error`` (prefixed ``layerpipe_`` and ``pipedream_``).
    """
    part = rows[rows["platform"] == label]
    table = comparison_table(part, pipedream_solver="pipedream", layerpipe_solver=solver)
    table = table.set_index(["network", "procs"])
    for key, prefix in (("planner", "pipedream"), ("layerpipe", "layerpipe")):
        side = next(s for s in sides(solver) if s.key == key)
        frame = side_frame(part, side)
        for c in ("link_busy_max", "memory_gb_max", "bytes_per_iteration", "error"):
            table[f"{prefix}_{c}"] = frame[c].reindex(table.index)
    return table


def _ms(ms: object, status: object, show_status: bool = True) -> str:
    """A period in ms for a compact table: ``"19.28"``, ``"19.28 (feasible)"``, ``"refused"``."""
    if status == REFUSED:
        return "refused"
    if pd.isna(ms):
        return f"none ({status})" if isinstance(status, str) and status else "–"
    text = four_digits(float(ms))
    return text + (f" ({status})" if show_status and status != "optimal" else "")


def _load(value: object) -> str:
    """The busiest link's load as a share of what it carries (``"420%"``), ``–`` unknown."""
    return "–" if pd.isna(value) else f"{100 * float(value):,.0f}%"


def _cells(frame: pd.DataFrame, key: tuple[str, int], busy: bool) -> list[str]:
    """Planner ms, LayerPipe ms (status), speedup (and LayerPipe's busiest link) of one row."""
    if key not in frame.index:
        return ["–"] * (4 if busy else 3)
    r = frame.loc[key]
    out = [
        _ms(r["pipedream_period_ms"], r["pipedream_status"], show_status=False),
        _ms(r["layerpipe_period_ms"], r["layerpipe_status"]),
        _speedup_pct(r["layerpipe_over_pipedream"]),
    ]
    return out + ([_load(r["layerpipe_link_busy_max"])] if busy else [])


def _bandwidth(v: Variant) -> float:
    """The slowest link class of ``v``'s platform on 8 processors, in bytes per second."""
    plat = grid_platforms(v.spec(), [8])[8]
    return (
        min(plat.intra.bandwidth, plat.inter.bandwidth) if plat.nodes > 1 else plat.intra.bandwidth
    )


def models_section(
    rows: pd.DataFrame, runs: Sequence[Variant], networks: Sequence[str], solver: str
) -> str:
    """``## Link ports and the delay model``: an overview, and per platform both models."""
    plain = [v for v in runs if v.memory is None]
    frames = {v.label: pair_frame(rows, v.label, solver) for v in plain}
    out = [
        "## Link ports and the delay model\n",
        "Under `capacity: ports` every transfer occupies the sender's out-port and the "
        "receiver's in-port for its bytes over the link's bandwidth, and two transfers on one "
        "port never overlap (formulations/README.md, (P5)-(P7)); under `capacity: delay` "
        "a message is only a delay and a link carries any number at once. Speedup = planner "
        "period / LayerPipe period on the same platform and link model; *busiest link*: "
        "the largest share of the period that any port of the LayerPipe schedule is busy "
        "(under delay: the bandwidth its messages would need over the link's, above 100% "
        "when the link could not carry them; – where the row predates the column).\n",
        md_table(
            ["platform", "instances", "mean speedup", "max speedup (at)", "LayerPipe proven",
             "LayerPipe busiest link (mean)"],
            [_overview_row(v.label, frames[v.label]) for v in plain],
        ) + "\n",
    ]  # fmt: skip
    for name in dict.fromkeys(v.platform for v in plain):
        models = [v for v in plain if v.platform == name]
        out.append(f"### {name}: " + " and ".join(v.capacity for v in models) + "\n")
        out.append(f"Periods in ms. {_platform_text(models[0])}\n")
        headers = ["network", "P"]
        for v in models:
            headers += [f"planner {v.capacity}", f"LayerPipe {v.capacity}",
                        f"speedup {v.capacity}", f"busiest link {v.capacity}"]  # fmt: skip
        body = [
            [n, str(p)] + [c for v in models for c in _cells(frames[v.label], (n, p), True)]
            for n in networks
            for p in sorted({int(q) for q in frames[models[0].label].index.get_level_values(1)})
        ]
        out.append(md_table(headers, body, right=1) + "\n")
        by_model = {v.capacity: frames[v.label] for v in models}
        if "ports" in by_model and "delay" in by_model:
            out.append(_why(by_model["ports"], by_model["delay"], _bandwidth(models[0])) + "\n")
    return "\n".join(out)


def _overview_row(label: str, frame: pd.DataFrame) -> list[str]:
    s = summarise(frame.reset_index())
    if s["max_speedup"] is None:
        return [f"`{label}`", "0", "–", "–", f"{s['layerpipe_proven']}/{s['total_rows']}", "–"]
    both = frame.dropna(subset=["layerpipe_over_pipedream"])
    at = both["layerpipe_over_pipedream"].astype(float).idxmax()
    return [
        f"`{label}`",
        str(s["rows"]),
        _pct(s["mean_speedup"] - 1),
        f"{_pct(s['max_speedup'] - 1)} ({at[0]}, P={at[1]})",
        f"{s['layerpipe_proven']}/{s['total_rows']}",
        _load(pd.to_numeric(frame["layerpipe_link_busy_max"], errors="coerce").mean()),
    ]


def _platform_text(v: Variant) -> str:
    """``"The platform: speed 1, links 50 GB/s, 10 us, memory unlimited."`` (no link model)."""
    plat = grid_platforms(v.spec(), [8])[8]
    text = plat.describe().split(" processors, ", 1)[-1]
    return f"The platform: {text.rsplit(', capacity ', 1)[0]}."


def _count(n: int, noun: str) -> str:
    """``(1, "instance") -> "1 instance"``, ``(3, ...) -> "3 instances"``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _why(ports: pd.DataFrame, delay: pd.DataFrame, bandwidth: float) -> str:
    """What changed from delay to ports on one platform and why, from the rows."""
    idx = ports.index.intersection(delay.index)
    p, d = ports.loc[idx], delay.loc[idx]
    ok = p["layerpipe_over_pipedream"].notna() & d["layerpipe_over_pipedream"].notna()
    if not ok.any():
        return "No instance has both link models' speedups, so they cannot be compared."
    p, d = p[ok], d[ok]
    sp_d, sp_p = d["layerpipe_over_pipedream"].mean() - 1, p["layerpipe_over_pipedream"].mean() - 1
    lp = _ratio(p["layerpipe_period"], d["layerpipe_period"]).mean()
    pdr = _ratio(p["pipedream_period"], d["pipedream_period"]).mean()
    procs = pd.Series(d.index.get_level_values("procs"), index=d.index).astype("float64")
    rate = (
        d["layerpipe_comm_bytes"].astype("float64")
        / procs
        / (d["layerpipe_period_ms"].astype("float64") / 1e3)
    )
    cause = "The links are why" if max(lp, pdr) > 1.005 else "The links barely matter here"
    text = (
        f"**Over the {_count(int(ok.sum()), 'instance')} with both models, LayerPipe is on "
        f"average {_faster(sp_d)} than the planner under delay and {_faster(sp_p)} under "
        f"ports.** Going from delay to ports lengthens LayerPipe's period {_x(lp)} on average "
        f"and the planner's {_x(pdr)}. {cause}: under delay LayerPipe's schedules send "
        f"{_mb(d['layerpipe_comm_bytes'].mean())} MB per iteration on average "
        f"(the planner's {_mb(d['pipedream_comm_bytes'].mean())} MB), "
        f"{rate.mean() / 1e9:,.1f} GB/s per processor at their period, against a link of "
        f"{bandwidth / 1e9:g} GB/s"
    )
    busy = pd.to_numeric(d["layerpipe_link_busy_max"], errors="coerce").dropna()
    if len(busy):
        text += (
            f"; their busiest port would need {_load(busy.mean())} of its bandwidth on "
            f"average (up to {_load(busy.max())}, over {_count(len(busy), 'row')} that "
            "record it)"
        )
    text += (
        ". Under ports a link carries only what fits in the period, and LayerPipe's schedules "
        f"send {_mb(p['layerpipe_comm_bytes'].mean())} MB per iteration instead"
    )
    pbusy = pd.to_numeric(p["layerpipe_link_busy_max"], errors="coerce").dropna()
    if len(pbusy):
        text += f", their busiest port busy {_load(pbusy.mean())} of the period on average"
    return text + "."


def memory_section(
    rows: pd.DataFrame, runs: Sequence[Variant], networks: Sequence[str], solver: str
) -> str:
    """``## Memory capacity``: the headline's comparison at each capacity beside unlimited."""
    caps = [runs[0]] + [v for v in runs if v.memory is not None]
    frames = {v.label: pair_frame(rows, v.label, solver) for v in caps}
    names = ["unlimited" if v.memory is None else memory_label(v.memory) for v in caps]
    out = [
        "## Memory capacity\n",
        f"The comparison of `{runs[0].label}` with every processor's memory capped "
        f"({', '.join(names[1:])}) beside unlimited. Periods in ms; *refused*: the solver "
        "does not take a memory capacity yet; *none (infeasible)*: it proved that no "
        "schedule fits. Footprint: the largest memory any processor of the unlimited "
        "LayerPipe schedule needs (the validator's count).\n",
    ]
    headers = ["network", "P"]
    for name in names:
        headers += [f"planner {name}", f"LayerPipe {name}", f"speedup {name}"]
    headers.append("LayerPipe footprint (GB)")
    head = frames[caps[0].label]
    body = []
    for n in networks:
        for p in sorted({int(q) for q in head.index.get_level_values(1)}):
            cells = [c for v in caps for c in _cells(frames[v.label], (n, p), False)]
            gb = head["layerpipe_memory_gb_max"].get((n, p), math.nan)
            body.append([n, str(p), *cells, "–" if pd.isna(gb) else f"{float(gb):,.1f}"])
    out.append(md_table(headers, body) + "\n")
    out.append(
        " ".join(
            _memory_text(frames[v.label], head, n) for v, n in zip(caps[1:], names[1:], strict=True)
        )
        + "\n"
    )
    return "\n".join(out)


def _memory_text(frame: pd.DataFrame, head: pd.DataFrame, name: str) -> str:
    """One capacity: schedules found, proven infeasible, refused; speedup beside unlimited."""
    status = frame["layerpipe_status"]
    n = len(frame)
    found = int(frame["layerpipe_period"].notna().sum())
    infeasible = int((status == "infeasible").sum())
    refused = int((status == REFUSED).sum()) + int((frame["pipedream_status"] == REFUSED).sum())
    text = (
        f"**{name}:** LayerPipe has a schedule in {found} of {n} instances, "
        f"{infeasible} proven infeasible"
    )
    if refused:
        whys = sorted(
            {
                str(frame.at[k, f"{side}_error"])
                for side in ("layerpipe", "pipedream")
                for k in frame.index[frame[f"{side}_status"] == REFUSED]
            }
        )
        text += f"; {refused} rows refused ({'; '.join(whys)})"
    both = frame["layerpipe_over_pipedream"].dropna()
    if len(both):
        same = head["layerpipe_over_pipedream"].reindex(both.index)
        text += (
            f"; over the {len(both)} instances with both periods, LayerPipe is "
            f"{_faster(both.mean() - 1)} than the planner (unlimited: "
            f"{_faster(same.mean() - 1)} on the same instances)"
        )
    return text + "."


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (:class:`InputError`, exit code 2)."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise InputError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="benchmarks/results.py",
        description="Compare LayerPipe with the PipeDream planner and write docs/results.md.",
    )
    parser.add_argument("--networks", help=f"comma-separated (default {','.join(NETWORKS)})")
    parser.add_argument("--procs", help=f"processor counts like 2-16 or 7,8,9 (default {PROCS})")
    parser.add_argument(
        "--time-limit", type=float, help=f"seconds per solve (default {TIME_LIMIT:g})"
    )
    parser.add_argument(
        "--solver",
        default="cpsat",
        help="exact solver of the LayerPipe, intra and PipeDream-optimal sides (default cpsat)",
    )
    parser.add_argument(
        "--platforms",
        help=f"default and/or presets ({', '.join(PRESETS)}), the first is the headline "
        f"(default {PLATFORMS})",
    )
    parser.add_argument(
        "--capacity",
        help=f"link models, the first is the headline's (default {CAPACITY}); rows are "
        "labelled 'default ports', 'pcie delay'",
    )
    parser.add_argument(
        "--memory",
        help=f"memory capacities per processor beside unlimited, on the headline's platform "
        f"and model (default {MEMORY}; 'unlimited' for none)",
    )
    parser.add_argument(
        "--sides",
        help="sides of every variant but the headline (which runs all): "
        f"{', '.join(s.key for s in sides())} or all (default {EXTRA_SIDES})",
    )
    parser.add_argument(
        "-o", "--output", help="markdown file (default docs/results.md; results-quick.md)"
    )
    parser.add_argument("--csv", help="CSV of the rows (default: the output with .csv)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows already in the CSV, solve the rest (the rows of CSVs written "
        "before link ports count as 'default delay')",
    )
    parser.add_argument("--jobs", type=int, default=1, help="solves at once (default 1)")
    parser.add_argument("--workers", type=int, help="CP-SAT search workers per solve")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="alexnet and vgg16, P 8, 5 s per solve, written to results-quick.md "
        "(explicit options override it)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the number of solves and the estimated time, solve nothing",
    )
    return parser


@dataclass(frozen=True)
class Config:
    """What the command line asks for, checked."""

    networks: list[str]
    procs: list[int]
    runs: list[Variant]
    time_limit: float
    output: Path
    csv: Path


def parse_args(args: argparse.Namespace) -> Config:
    """Check the options and fill the defaults (``--quick`` changes them).

    Raises
    ------
    InputError
        One line naming the option.
    """
    d: dict[str, Any] = {
        "networks": NETWORKS,
        "procs": PROCS,
        "time_limit": TIME_LIMIT,
        "output": "docs/results.md",
    }
    if args.quick:
        d.update(QUICK)
    networks = parse_names(args.networks or d["networks"], BUILTIN_NETWORKS, "networks")
    procs = parse_procs(args.procs or d["procs"])
    if args.solver not in SOLVERS:
        raise InputError(f"--solver: unknown {args.solver!r}; choose from {', '.join(SOLVERS)}")
    platforms = parse_names(args.platforms or PLATFORMS, [DEFAULT_PLATFORM, *PRESETS], "platforms")
    capacities = parse_names(args.capacity or CAPACITY, CAPACITIES, "capacity")
    memories = [m for m in parse_memory(args.memory or MEMORY) if m is not None]
    keys = [s.key for s in sides()]
    extra = parse_names(args.sides or EXTRA_SIDES, [*keys, "all"], "sides")
    extra = keys if "all" in extra else extra
    if not {"planner", "layerpipe"} <= set(extra):
        raise InputError("--sides must include planner and layerpipe (the compared pair)")
    check_numbers(args.time_limit, 0, args.workers, args.jobs)
    output = Path(args.output or d["output"])
    if not output.resolve().parent.is_dir():
        raise InputError(f"{output}: directory does not exist")
    for name in platforms:  # a preset that cannot take one of the counts stops here
        grid_platforms(None if name == DEFAULT_PLATFORM else name, procs)
    return Config(
        networks=networks,
        procs=procs,
        runs=variants(platforms, capacities, memories, extra),
        time_limit=args.time_limit if args.time_limit is not None else d["time_limit"],
        output=output,
        csv=Path(args.csv) if args.csv else output.with_suffix(".csv"),
    )


def plan_text(cfg: Config, args: argparse.Namespace) -> str:
    """The line printed before any solve: solves, reused rows, refusals, an upper time."""
    points, refused = build_grid(
        cfg.networks, cfg.procs, cfg.runs, solver=args.solver, time_limit=cfg.time_limit
    )
    todo = todo_points(points, cfg.csv, args.resume)
    minutes = estimate_seconds(todo, cfg.time_limit) / max(1, min(args.jobs, len(todo) or 1)) / 60
    runs = ", ".join(f"{v.label} ({len(v.sides)} sides)" for v in cfg.runs)
    return (
        f"results.py: {len(todo)} solves, at most {math.ceil(minutes)} minutes at {args.jobs} "
        f"at a time ({len(points) - len(todo)} rows reused from {cfg.csv}, {len(refused)} "
        f"refused by their solver); {len(cfg.networks)} networks x {len(cfg.procs)} counts "
        f"on {runs}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Solve the grid, write the markdown; return the exit code (2 on bad input).

    Returns
    -------
    int
        0 on success, 1 when a row failed (``invalid`` or ``error``), 2 on bad input.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
        cfg = parse_args(args)
        machine_text = machine()  # the load before the solves start
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        if args.resume and not args.dry_run:
            moved = adopt_old_rows(cfg.csv)
            if moved:
                print(f"{cfg.csv}: {moved} rows written before link ports are now {OLD_DEFAULT!r}")
        print(plan_text(cfg, args), flush=True)
        if args.dry_run:
            return 0
        rows = run_rows(
            cfg.networks,
            cfg.procs,
            cfg.runs,
            solver=args.solver,
            time_limit=cfg.time_limit,
            jobs=args.jobs,
            workers=args.workers,
            csv=cfg.csv,
            resume=args.resume,
            progress=not args.no_progress,
        )
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        csv_name = os.path.relpath(cfg.csv, cfg.output.parent)
    except ValueError:  # another drive
        csv_name = str(cfg.csv)
    text = render(
        rows,
        cfg.networks,
        cfg.procs,
        solver=args.solver,
        time_limit=cfg.time_limit,
        command=shlex.join(["python", "benchmarks/results.py", *argv]),
        machine_text=machine_text,
        when=when,
        csv_name=csv_name,
        jobs=args.jobs,
        runs=cfg.runs,
    )
    cfg.output.write_text(text)
    print(f"wrote {cfg.output} ({len(rows)} rows in {cfg.csv})")
    failed = rows[rows["status"].isin(("invalid", "error"))]
    for r in failed.itertuples(index=False):
        print(
            f"FAILED {r.network} {r.decomposition} {r.solver} {r.platform} P={r.procs}: "
            f"{r.status}: {r.error}",
            file=sys.stderr,
        )
    return 1 if len(failed) else 0


if __name__ == "__main__":
    sys.exit(main())
