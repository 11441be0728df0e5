"""The commands over grids of processor counts: ``sweep`` and ``compare``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import InputError
from ..files import brief, check_output
from ..graph import TaskGraph, write_text_atomic
from ..profiles import read_profile_csv
from .options import (
    NETWORK_FLAGS,
    cost_model,
    parse_net_options,
    placement_flag,
    platform_spec,
    say,
)
from .profile import measured_costs, special_network


def _sweep_common(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments shared by ``sweep`` and ``compare``, from the command line.

    The network is resolved here, so that the cost model follows the same
    rules as ``lpsched solve`` (``--time-unit auto`` fitted to the network).
    The numbers, the output paths and the processor counts are checked first,
    so that bad input is refused before anything is built or written.
    """
    import os

    from ..sweep import check_numbers, parse_procs, resolve_network

    check_numbers(args.time_limit, args.seed, args.workers, args.jobs)
    output, plot = getattr(args, "output", None), getattr(args, "plot", None)
    if output is not None:
        check_output(output, None, "-o")
    if plot is not None:
        from ..plot import check_figure_path

        check_figure_path(plot, "--plot")
        if output is not None and os.path.realpath(output) == os.path.realpath(plot):
            raise InputError(f"-o and --plot name the same file {brief(plot)}")
    procs = parse_procs(args.procs)
    options = parse_net_options(args.net_opt or [])
    found = special_network(args.net, options)
    instance, measured = found if found is not None else (resolve_network(args.net, options), None)
    if getattr(args, "costs", None):
        if isinstance(instance, TaskGraph):
            raise InputError(
                f"{args.net} is a task graph, scheduled as given: --costs applies to networks only"
            )
        if measured is not None:
            raise InputError(f"--costs: {args.net} is a measured profile already")
        measured = read_profile_csv(args.costs, instance)
    cost_flags = ("batch_size", "throughput", "time_unit")
    if isinstance(instance, TaskGraph):
        for flag in NETWORK_FLAGS:
            if getattr(args, flag, None):
                option = "--" + flag.replace("_", "-")
                raise InputError(
                    f"{args.net} is a task graph, scheduled as given: {option} "
                    "applies to networks only"
                )
        costs = None
    elif measured is not None:
        # Measured times: the profile's batch and a time unit fitted to them, as in solve.
        costs = measured_costs(args, instance, measured, cost_model(args, instance))
        say(f"{args.net}: {measured.describe()}")
    else:
        given = any(getattr(args, flag, None) is not None for flag in cost_flags)
        costs = cost_model(args, instance) if given else None
    # --procs is the range here: each row's platform is override(spec, procs=P), and a
    # solver that cannot take it (speeds, nodes, memory) is refused before any work.
    platform = platform_spec(args)
    return {
        "network": instance,
        "procs": procs,
        "platform": platform,
        "time_limit": args.time_limit,
        "seed": args.seed,
        "staleness": args.staleness,
        "costs": costs,
        "measured": measured,
        "workers": args.workers,
        "executor": args.executor or ("dask" if args.scheduler else "local"),
        "jobs": args.jobs,
        "scheduler": args.scheduler,
        "progress": None if args.quiet else True,
    }


def _frame_json(df: Any) -> list[dict[str, Any]]:
    # pandas writes NaN and <NA> as null and numpy integers as plain numbers.
    return json.loads(df.to_json(orient="records"))


def cmd_sweep(args: argparse.Namespace) -> int:
    """Solve a grid of processor counts, solvers and decompositions; print and save the table."""
    from ..solve import SOLVERS
    from ..sweep import format_table, parse_memory, parse_names, parse_placements, sweep
    from ..taskgraph import DECOMPOSITIONS

    if args.resume and not args.output:
        raise InputError("--resume needs -o/--output (the CSV to resume)")
    # --memory here is a list (one row per capacity, each its own platform label); the
    # platform itself is built without it, and each capacity replaces every processor's.
    memory = None if args.memory is None else parse_memory(args.memory)
    # --placement here is a list too: one row per policy (labelled when several).
    placements = parse_placements("free" if args.placement is None else args.placement)
    kwargs = _sweep_common(argparse.Namespace(**{**vars(args), "memory": None}))
    solvers = parse_names(args.solvers, SOLVERS, "solvers")
    decomps = (
        None
        if args.decompositions is None
        else parse_names(args.decompositions, DECOMPOSITIONS, "decompositions")
    )
    try:
        df = sweep(
            solvers=solvers,
            decompositions=decomps,
            output=args.output,
            resume=args.resume,
            memory=memory,
            placement=placements,
            **kwargs,
        )
    except KeyboardInterrupt:
        if args.output:
            say(f"lpsched: finished rows are in {args.output}; --resume carries on")
        raise
    if args.plot:
        from ..plot import plot_sweep, save_figure

        # Period against capacity over several memories, else speedup against P.
        save_figure(plot_sweep(df), args.plot, what="--plot")
        say(f"wrote {args.plot}")
    if args.output:
        say(f"wrote {args.output}: {len(df)} rows")
    if args.json:
        print(json.dumps(_frame_json(df)))
    else:
        print(format_table(df))
        for line in _sweep_summary(df):
            print(line)
    return _report_failures(df)


def _report_failures(df: Any) -> int:
    """List rows of invalid schedules or crashed solvers on stderr; 1 when there are any."""
    from ..sweep import DEFAULT_PLATFORM, REDO_STATUSES

    failed = df[df["status"].isin(REDO_STATUSES)]
    for r in failed.itertuples(index=False):
        what = "invalid schedule" if r.status == "invalid" else "solver error"
        on = "" if r.platform == DEFAULT_PLATFORM else f" on {r.platform}"
        say(f"lpsched: {what}: {r.solver} {r.decomposition} P={r.procs}{on}: {r.error}")
    return 1 if len(failed) else 0


def _sweep_summary(df: Any) -> list[str]:
    """One line per solver, decomposition, platform and placement: optimal rows, best period.

    The speedup is ``sum(d) / T`` (the total work over the period), the gap in percent;
    a placement other than ``free`` is named beside the decomposition.
    """
    import pandas as pd

    from ..sweep import DEFAULT_PLATFORM, four_digits

    lines = []
    # In the table's order: a memory sweep's capacities in turn, not by the text of their labels.
    for (dec, solver, plat, placed), part in df.groupby(
        ["decomposition", "solver", "platform", "placement"], sort=False
    ):
        ok = part[part["period"].notna()]
        optimal = int((part["status"] == "optimal").sum())
        on = "" if plat == DEFAULT_PLATFORM else f" on {plat}"
        how = "" if placed == "free" else f", placement {placed}"
        line = f"{solver} ({dec}{how}){on}: {len(part)} rows, {optimal} optimal"
        if len(ok):
            best = ok.loc[ok["speedup"].idxmax()]
            ms = best["period_ms"]
            period = f"period {best['period']}"
            if not pd.isna(ms):
                period += f", {four_digits(ms)} ms"  # as the table shows it
            line += (
                f", best speedup (work/T) {best['speedup']:.2f} at P={best['procs']} ({period}), "
                f"mean gap {100 * ok['gap'].mean():.1f}%"
            )
        # A capacity no schedule fits (proven) is a result, not a failure to find one.
        infeasible = int((part["status"] == "infeasible").sum())
        if infeasible:
            line += f", {infeasible} proven infeasible"
        missing = len(part) - len(ok) - infeasible
        if missing:
            line += f", {missing} without a schedule"
        lines.append(line)
    return lines


def cmd_compare(args: argparse.Namespace) -> int:
    """LayerPipe's best period against the PipeDream planner's, per processor count.

    The summary line says how many LayerPipe periods are proven optimal; it
    never calls LayerPipe optimal when only some are.
    """
    from ..compare import compare, format_comparison, format_summary

    placement = placement_flag(args)
    kwargs = _sweep_common(args)
    table = compare(solver=args.solver, placement=placement, **kwargs)
    summary = table.attrs["summary"]
    if args.output:
        write_text_atomic(args.output, table.to_csv(index=False))
        say(f"wrote {args.output}: {len(table)} rows")
    if args.json:
        print(
            json.dumps(
                {
                    "network": str(table["network"].iloc[0]) if len(table) else "",
                    "rows": _frame_json(table),
                    "summary": summary,
                }
            )
        )
    else:
        print(format_comparison(table))
        print(format_summary(summary))
    failed = table[table["error"] != ""]
    for r in failed.itertuples(index=False):
        say(f"lpsched: failed at P={r.procs}: {r.error}")
    return 1 if len(failed) else 0
