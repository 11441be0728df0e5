"""LayerPipe against PipeDream for real (issue 19), written up as ``docs/results.md``.

Workloads: the built-in networks on the cost model and PipeDream's measured
profiles (``pipedream:vgg16``, ``pipedream:resnet18``, in ``lpsched/data/profiles/``
with their MIT licence). Platforms: ``nvlink`` and ``pcie`` (one box, P 2-8)
and ``ib`` (two nodes, P even 2-16), link ports on, memory unlimited and 80 GB.
Sides (:func:`results_grid.sides`): the PipeDream planner; LayerPipe by CP-SAT
(every P); at the core counts, the heuristic, intra, PipeDream's tasks by
CP-SAT, LayerPipe in contiguous stages and LayerPipe with staleness at most P.

The modules: :mod:`results_grid` (the grid, its estimate and the row checks),
:mod:`results_tables` (speedups, splits, verdicts, gaps), :mod:`results_render`
(the markdown) and :mod:`results_plots` (the PNGs beside it). The first line
printed is the number of solves and an upper estimate of the time
(``--dry-run`` stops there). Run::

    python benchmarks/results.py --quick            # /tmp-sized: results-quick.md
    python benchmarks/results.py --jobs 2           # docs/results.md: at most 82 minutes
    python benchmarks/results.py --jobs 2 --resume  # go on after an interruption
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the results_* modules beside this

from results_grid import (  # noqa: E402 - after the path they live on
    CORE_PROCS,
    HEURISTIC_LIMIT,
    MEMORY_GB,
    PLATFORM_NAMES,
    PROCS,
    RECHECK_SECONDS,
    TIME_LIMIT,
    WORKLOADS,
    GridSpec,
    build_points,
    check_rows,
    estimate_seconds,
    recheck_planner,
    workload,
)
from results_render import RunFacts, render  # noqa: E402

from lpsched.errors import InputError  # noqa: E402
from lpsched.solve import SOLVERS  # noqa: E402
from lpsched.sweep import (  # noqa: E402
    REDO_STATUSES,
    check_numbers,
    parse_memory,
    parse_names,
    parse_procs,
    read_results,
    row_key,
    run_grid,
)

QUICK: dict[str, Any] = {
    "workloads": "alexnet,pipedream:vgg16",
    "platforms": "nvlink,ib",
    "procs": "4,8",
    "core_procs": "8",
    "time_limit": 3.0,
    "heuristic_limit": 1.0,
    "output": "results-quick.md",
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (:class:`InputError`, exit code 2)."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise InputError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="benchmarks/results.py",
        description="Compare LayerPipe with PipeDream (issue 19) and write docs/results.md.",
    )
    add = p.add_argument
    add(
        "--workloads",
        "--networks",
        dest="workloads",
        help=f"comma-separated (default {','.join(WORKLOADS)})",
    )
    add("--platforms", help=f"of {', '.join(PLATFORM_NAMES)} (default all)")
    add(
        "--procs",
        help="processor counts of the planner and LayerPipe (default 2-16; each "
        "platform keeps those it takes)",
    )
    add(
        "--core-procs",
        help="counts of the other sides and of the memory capacity "
        f"(default {','.join(map(str, CORE_PROCS))})",
    )
    add("--time-limit", type=float, help=f"seconds per CP-SAT solve (default {TIME_LIMIT:g})")
    add(
        "--heuristic-limit",
        type=float,
        help=f"seconds per heuristic solve (default {HEURISTIC_LIMIT:g})",
    )
    add("--solver", default="cpsat", help="exact solver of the CP-SAT sides (default cpsat)")
    add(
        "--memory",
        help=f"capacity per processor beside unlimited (default {MEMORY_GB:g}GB; "
        "'unlimited' for none)",
    )
    add("-o", "--output", help="markdown file (default docs/results.md; results-quick.md)")
    add("--csv", help="CSV of the rows (default: the output with .csv)")
    add("--resume", action="store_true", help="keep the rows already in the CSV")
    add("--jobs", type=int, default=1, help="solves at once (default 1)")
    add("--workers", type=int, help="CP-SAT search workers per solve")
    add(
        "--quick",
        action="store_true",
        help="alexnet and pipedream:vgg16 on nvlink and ib, "
        "P 4 and 8, 3 s per solve, to results-quick.md (explicit options override it)",
    )
    add("--no-plots", action="store_true", help="write no PNG")
    add("--no-recheck", action="store_true", help="do not solve the planner's rows again")
    add("--no-progress", action="store_true", help="no progress lines on stderr")
    add("--dry-run", action="store_true", help="print the solves and the estimate, solve nothing")
    return p  # fmt: skip


@dataclass(frozen=True)
class Config:
    """What the command line asks for, checked."""

    spec: GridSpec
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
        "workloads": ",".join(WORKLOADS),
        "platforms": ",".join(PLATFORM_NAMES),
        "procs": ",".join(map(str, PROCS)),
        "core_procs": ",".join(map(str, CORE_PROCS)),
        "time_limit": TIME_LIMIT,
        "heuristic_limit": HEURISTIC_LIMIT,
        "output": "docs/results.md",
    }
    if args.quick:
        d.update(QUICK)
    names = [x.strip() for x in (args.workloads or d["workloads"]).split(",") if x.strip()]
    for name in names:
        workload(name)  # an unknown workload stops here
    if args.solver not in SOLVERS:
        raise InputError(f"--solver: unknown {args.solver!r}; choose from {', '.join(SOLVERS)}")
    limit = args.time_limit if args.time_limit is not None else d["time_limit"]
    heuristic = args.heuristic_limit if args.heuristic_limit is not None else d["heuristic_limit"]
    check_numbers(limit, 0, args.workers, args.jobs)
    check_numbers(heuristic)
    memory = parse_memory(args.memory or f"{MEMORY_GB:g}GB")
    if len(memory) != 1:
        raise InputError("--memory: give one capacity (or 'unlimited')")
    output = Path(args.output or d["output"])
    if not output.resolve().parent.is_dir():
        raise InputError(f"{output}: directory does not exist")
    spec = GridSpec(
        workloads=tuple(names),
        platforms=tuple(parse_names(args.platforms or d["platforms"], PLATFORM_NAMES, "platforms")),
        procs=tuple(parse_procs(args.procs or d["procs"])),
        core_procs=tuple(parse_procs(args.core_procs or d["core_procs"])),
        solver=args.solver,
        time_limit=limit,
        heuristic_limit=heuristic,
        memory_gb=None if memory[0] is None else memory[0] / 1e9,
        workers=args.workers,
    )
    csv = Path(args.csv) if args.csv else output.with_suffix(".csv")
    return Config(spec=spec, output=output, csv=csv)


def todo_points(points: Sequence[Any], csv: Path, resume: bool) -> list[Any]:
    """The points a run still solves: all, or with ``resume`` those not done in ``csv``."""
    if not resume or not csv.is_file():
        return list(points)
    old = read_results(csv)
    done = {row_key(r) for r in old[~old["status"].isin(REDO_STATUSES)].itertuples(index=False)}
    return [p for p in points if p.key not in done]


def plan_text(
    points: Sequence[Any], todo: Sequence[Any], cfg: Config, jobs: int, recheck: bool = True
) -> str:
    """The line printed before any solve: solves, reused rows, an upper estimate.

    The estimate adds the recheck of every planner row (one at a time) to the solves.
    """
    minutes = estimate_minutes(todo, jobs) + (recheck_minutes(points) if recheck else 0.0)
    s = cfg.spec
    return (
        f"results.py: {len(todo)} solves, at most {math.ceil(minutes)} minutes at {jobs} at a "
        f"time ({len(points) - len(todo)} rows reused from {cfg.csv}); {len(s.workloads)} "
        f"workloads on {', '.join(s.platforms)}, P {','.join(map(str, s.procs))} (core "
        f"{','.join(map(str, s.core_procs))}), {s.time_limit:g} s per CP-SAT solve"
    )


def estimate_minutes(todo: Sequence[Any], jobs: int) -> float:
    """The upper estimate of :func:`results_grid.estimate_seconds` over ``jobs``, in minutes."""
    return estimate_seconds(todo) / max(1, min(jobs, len(todo) or 1)) / 60


def recheck_minutes(points: Sequence[Any]) -> float:
    """An upper estimate of :func:`results_grid.recheck_planner` over ``points``, in minutes."""
    return sum(q.solver == "pipedream" for q in points) * RECHECK_SECONDS / 60


def machine() -> str:
    """CPU model, core count, operating system and load of this machine."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = (
        f", load average {os.getloadavg()[0]:.1f} at the start" if hasattr(os, "getloadavg") else ""
    )
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}{load}"


def checks(rows: pd.DataFrame, points: Sequence[Any], recheck: bool) -> tuple[list[str], int]:
    """The row checks and, with ``recheck``, the planner rows solved again (:mod:`results_grid`)."""
    problems = check_rows(rows, points)
    planners = [q for q in points if q.solver == "pipedream"] if recheck else []
    problems += recheck_planner(rows, planners)
    return problems, len(planners)


def main(argv: Sequence[str] | None = None) -> int:
    """Solve the grid, check the rows, write the markdown and plots; return the exit code.

    Returns
    -------
    int
        0 on success, 1 when a row or a check failed, 2 on bad input.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    start = time.perf_counter()
    try:
        args = build_parser().parse_args(argv)
        cfg = parse_args(args)
        machine_text, when = machine(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        points = build_points(cfg.spec)
        todo = todo_points(points, cfg.csv, args.resume)
        print(plan_text(points, todo, cfg, args.jobs, not args.no_recheck), flush=True)
        if args.dry_run:
            return 0
        rows = run_grid(
            points, jobs=args.jobs, output=cfg.csv, resume=args.resume,
            progress=not args.no_progress,
        )  # fmt: skip
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    keys = {p.key for p in points}
    rows = rows[[row_key(r) in keys for r in rows.itertuples(index=False)]].reset_index(drop=True)
    problems, rechecked = checks(rows, points, not args.no_recheck)
    facts = RunFacts(
        command=shlex.join(["python", "benchmarks/results.py", *argv]),
        when=when,
        machine=machine_text,
        jobs=args.jobs,
        minutes=(time.perf_counter() - start) / 60,
        solved=len(todo),
        reused=len(points) - len(todo),
        estimate_minutes=estimate_minutes(todo, args.jobs)
        + (0.0 if args.no_recheck else recheck_minutes(points)),
        solve_minutes=float(pd.to_numeric(rows["seconds"], errors="coerce").sum()) / 60,
        csv_name=_relative(cfg.csv, cfg.output.parent),
        problems=tuple(problems),
        rechecked=rechecked,
    )
    if not args.no_plots:
        facts = replace(facts, plots=_plots(rows, cfg))
    cfg.output.write_text(render(rows, cfg.spec, facts))
    print(f"wrote {cfg.output} ({len(rows)} rows in {cfg.csv}; {len(facts.plots)} plots)")
    for line in problems:
        print(f"FAILED {line}", file=sys.stderr)
    return 1 if problems else 0


def _plots(rows: pd.DataFrame, cfg: Config) -> dict[str, str]:
    from results_plots import write_plots
    from results_tables import wide

    paths = write_plots(
        rows, wide(rows, cfg.spec.solver), cfg.spec.platforms, cfg.spec.memory_gb, cfg.output
    )
    return {k: _relative(v, cfg.output.parent) for k, v in paths.items()}


def _relative(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path, base)
    except ValueError:  # another drive
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
