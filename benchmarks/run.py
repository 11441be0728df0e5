"""Benchmark grid: every solver on the built-in networks, decompositions and processor counts.

The grid is networks x decompositions x ``P`` x solvers, each solve with the
same time limit. Running, validation, the CSV and resuming are
:mod:`lpsched.sweep`'s (:func:`~lpsched.sweep.make_grid`,
:func:`~lpsched.sweep.run_grid`); this script only defines the grid and
formats the results:

* a table with one line per instance (network, decomposition, ``P``,
  platform): the best lower bound any solver knows (time units and ms), and per
  solver the period (time units and ms), status, seconds and gap in percent;
* a summary line per solver: the share of rows proven optimal, the median
  seconds, the median and the worst gap.

The gap of a row is ``(T - LB) / T`` with ``LB`` the best lower bound of the
instance over all its rows (an exact solver may prove more than the static
bound a heuristic row records), so that the gaps of different solvers on the
same instance share one reference.

Solves run one at a time by default (``--jobs 1``): on a small machine two
solves side by side slow each other down, and then the seconds mean nothing.

``--platform`` runs the grid on a preset (``pcie``, ``nvlink``, ``ib``) or a
platform file instead of the default platform; every ``P`` must fit it. The
rows go to a CSV in a new temporary directory unless ``-o`` names one (the
script never writes into the working directory by itself).

Run::

    python benchmarks/run.py --quick                   # a few minutes
    python benchmarks/run.py --quick --platform pcie   # the same on PCIe links
    python benchmarks/run.py -o results.csv --resume   # the full grid, hours
    python benchmarks/run.py --networks vgg16 --procs 8 --solvers cpsat,milp
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from lpsched.errors import InputError
from lpsched.networks import BUILTIN_NETWORKS, get_network
from lpsched.solve import SOLVERS
from lpsched.sweep import (
    DEFAULT_PLATFORM,
    GridPoint,
    PlatformLike,
    four_digits,
    make_grid,
    parse_names,
    parse_procs,
    platform_spec_of,
    row_key,
    run_grid,
)
from lpsched.taskgraph import DECOMPOSITIONS

#: The full grid.
NETWORKS: tuple[str, ...] = ("mlp", "lenet5", "alexnet", "vgg16", "resnet18", "resnet50", "gpt2")
GRID_DECOMPOSITIONS: tuple[str, ...] = ("pipedream", "intra", "layerpipe")
PROCS: tuple[int, ...] = (2, 4, 8, 16, 32)
GRID_SOLVERS: tuple[str, ...] = ("heuristic", "pipedream", "cpsat", "milp", "milp-cbc")
TIME_LIMIT = 60.0

#: ``--quick``: a few minutes on a laptop (8 exact solves of at most 10 s, 16 heuristic ones).
QUICK: dict[str, object] = {
    "networks": ("lenet5", "alexnet", "vgg16", "resnet18"),
    "decompositions": ("layerpipe",),
    "procs": (2, 8),
    "solvers": ("heuristic", "pipedream", "cpsat"),
    "time_limit": 10.0,
}

#: Instance key: the rows of one instance differ only by solver.
INSTANCE: tuple[str, ...] = ("network", "decomposition", "procs", "platform")

#: Short status names in the table (legend printed below it).
STATUS_ABBREV: dict[str, str] = {
    "optimal": "opt",
    "feasible": "feas",
    "unknown": "unk",
    "infeasible": "infeas",
    "invalid": "INVALID",
    "error": "ERROR",
}


# ---------------------------------------------------------------------------
# The grid
# ---------------------------------------------------------------------------
def build_points(
    networks: Sequence[str],
    decompositions: Sequence[str],
    procs: Sequence[int],
    solvers: Sequence[str],
    *,
    time_limit: float | None,
    seed: int = 0,
    workers: int | None = None,
    platform: PlatformLike = None,
) -> list[GridPoint]:
    """The grid points of networks x decompositions x solvers x processor counts.

    Parameters
    ----------
    networks
        Built-in network names.
    decompositions, solvers
        Names from :data:`lpsched.taskgraph.DECOMPOSITIONS` and :data:`lpsched.solve.SOLVERS`.
    procs
        Processor counts.
    time_limit, seed, workers
        Per solve, as for :func:`lpsched.solve.solve`.
    platform
        As for :func:`lpsched.sweep.sweep` (``None``: the default platform).

    Returns
    -------
    list[GridPoint]
        In the order network, decomposition, solver, ``P``.
    """
    points: list[GridPoint] = []
    for name in networks:
        points += make_grid(
            get_network(name),
            list(procs),
            [(d, s) for d in decompositions for s in solvers],
            time_limit=time_limit,
            seed=seed,
            workers=workers,
            platform=platform,
        )
    return points


def grid_rows(df: pd.DataFrame, points: Sequence[GridPoint]) -> pd.DataFrame:
    """The rows of ``df`` that belong to the grid, in the grid's order.

    A resumed CSV may hold rows of other grids; :func:`~lpsched.sweep.run_grid`
    sorts by name, while the grid lists networks from small to large.
    """
    rank = {p.key: i for i, p in enumerate(points)}
    keys = [row_key(r) for r in df.itertuples()]
    pos = pd.Series([rank.get(k, -1) for k in keys], index=df.index)
    return df[pos >= 0].iloc[pos[pos >= 0].argsort(kind="stable")].reset_index(drop=True)


# ---------------------------------------------------------------------------
# Gaps, table, summary
# ---------------------------------------------------------------------------
def with_best_gap(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``best_lower_bound`` (per instance, over its rows, and in ms), ``best_gap``, ``settled``.

    ``best_gap = (period - best_lower_bound) / period``; missing without a
    schedule. ``settled`` is ``settled_seconds`` (when the period was proven or
    the search for it ended; CP-SAT spends the rest of the limit on the
    secondary objective), or ``seconds`` in tables written before that column.
    """
    out = df.copy()
    settled = out["settled_seconds"] if "settled_seconds" in out else out["seconds"]
    out["settled"] = pd.to_numeric(settled, errors="coerce").fillna(out["seconds"])
    lb = pd.to_numeric(out["lower_bound"], errors="coerce").astype("float64")
    groups = [out[c] for c in INSTANCE]
    out["best_lower_bound"] = lb.groupby(groups).transform("max")
    # Milliseconds per time unit, from any row of the instance that has them.
    lb_ms = pd.to_numeric(out.get("lower_bound_ms"), errors="coerce").astype("float64")
    unit_ms = (lb_ms / lb.where(lb > 0)).groupby(groups).transform("max")
    out["best_lower_bound_ms"] = out["best_lower_bound"] * unit_ms
    period = pd.to_numeric(out["period"], errors="coerce").astype("float64")
    out["best_gap"] = (period - out["best_lower_bound"]) / period
    return out


def results_table(df: pd.DataFrame, solvers: Sequence[str]) -> pd.DataFrame:
    """One row per instance, columns ``lower_bound`` and ``(field, solver)`` for each solver.

    Parameters
    ----------
    df
        A sweep table (:data:`lpsched.sweep.COLUMNS`).
    solvers
        The solvers, in the order of their column blocks.

    Returns
    -------
    pandas.DataFrame
        Index :data:`INSTANCE` in the order the rows first appear in ``df``;
        columns ``("lower_bound", "")``, ``("lower_bound_ms", "")`` and, per
        solver, ``("period", s)``, ``("period_ms", s)``, ``("status", s)``,
        ``("seconds", s)``, ``("gap", s)``.
    """
    df = with_best_gap(df)
    values = ["period", "period_ms", "status", "settled", "best_gap"]
    wide = df.pivot(index=list(INSTANCE), columns="solver", values=values).rename(
        columns={"best_gap": "gap", "settled": "seconds"}, level=0
    )
    best = df.groupby(list(INSTANCE))[["best_lower_bound", "best_lower_bound_ms"]].max()
    fields = ("period", "period_ms", "status", "seconds", "gap")
    cols = [(f, s) for s in solvers for f in fields]
    wide = wide.reindex(columns=pd.MultiIndex.from_tuples(cols))
    wide.insert(0, ("lower_bound", ""), best["best_lower_bound"])
    wide.insert(1, ("lower_bound_ms", ""), best["best_lower_bound_ms"])
    order = list(dict.fromkeys(df[list(INSTANCE)].itertuples(index=False, name=None)))
    return wide.reindex(pd.MultiIndex.from_tuples(order, names=list(INSTANCE)))


def solver_summary(df: pd.DataFrame, solvers: Sequence[str]) -> pd.DataFrame:
    """Per solver: rows, proven optimal, median seconds, median and worst gap.

    Returns
    -------
    pandas.DataFrame
        Index ``solver``; columns ``rows``, ``optimal``, ``proven_share``
        (``optimal / rows``), ``median_seconds``, ``with_schedule``,
        ``median_gap``, ``worst_gap`` (over the rows with a schedule, gaps as in
        :func:`with_best_gap`), ``failed`` (status ``invalid`` or ``error``).
    """
    df = with_best_gap(df)
    rows = []
    for s in solvers:
        part = df[df["solver"] == s]
        gaps = part["best_gap"].dropna()
        n = len(part)
        optimal = int((part["status"] == "optimal").sum())
        rows.append(
            {
                "solver": s,
                "rows": n,
                "optimal": optimal,
                "proven_share": optimal / n if n else math.nan,
                "median_seconds": float(part["settled"].median()) if n else math.nan,
                "with_schedule": len(gaps),
                "median_gap": float(gaps.median()) if len(gaps) else math.nan,
                "worst_gap": float(gaps.max()) if len(gaps) else math.nan,
                "failed": int(part["status"].isin(("invalid", "error")).sum()),
            }
        )
    return pd.DataFrame(rows).set_index("solver")


def _fmt_int(value: object) -> str:
    return "-" if pd.isna(value) else str(int(value))


def _fmt_pct(value: object) -> str:
    return "-" if pd.isna(value) else f"{100 * float(value):.1f}"


def _fmt_ms(value: object) -> str:
    return "-" if pd.isna(value) else four_digits(float(value))


def _fmt_sec(value: object) -> str:
    if pd.isna(value):
        return "-"
    v = float(value)
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def text_table(
    columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]], left: int = 0
) -> str:
    """A plain-text table with a two-line header; the first ``left`` columns align left.

    Parameters
    ----------
    columns
        ``(group, name)`` per column; consecutive equal groups share one
        centred label on the first header line.
    rows
        Cell texts.
    left
        How many leading columns are text (left-aligned); the rest align right.
    """
    widths = [max([len(name)] + [len(r[i]) for r in rows]) for i, (_g, name) in enumerate(columns)]
    # Widen the last column of a group whose label is longer than its columns.
    spans: list[tuple[str, int, int]] = []
    for i, (group, _name) in enumerate(columns):
        if spans and spans[-1][0] == group:
            spans[-1] = (group, spans[-1][1], i + 1)
        else:
            spans.append((group, i, i + 1))
    for group, a, b in spans:
        room = sum(widths[a:b]) + 2 * (b - a - 1)
        if len(group) > room:
            widths[b - 1] += len(group) - room

    def cell(i: int, text: str) -> str:
        return text.ljust(widths[i]) if i < left else text.rjust(widths[i])

    top = "  ".join(g.center(sum(widths[a:b]) + 2 * (b - a - 1)) for g, a, b in spans)
    lines = [top.rstrip(), "  ".join(cell(i, n) for i, (_g, n) in enumerate(columns))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(cell(i, c) for i, c in enumerate(r)) for r in rows]
    return "\n".join(lines)


def format_table(table: pd.DataFrame, solvers: Sequence[str]) -> str:
    """Render :func:`results_table` as text: periods and bounds in time units and ms, statuses,
    seconds, gaps in percent.
    """
    columns = [("", "network"), ("", "decomposition"), ("", "P"), ("", "platform")]
    columns += [("", "LB"), ("", "LB ms")]
    for s in solvers:
        columns += [(s, "T"), (s, "ms"), (s, "status"), (s, "s"), (s, "gap%")]
    rows = []
    for (network, decomposition, procs, platform), rec in table.iterrows():
        cells = [str(network), str(decomposition), str(procs), str(platform)]
        cells += [_fmt_int(rec[("lower_bound", "")]), _fmt_ms(rec[("lower_bound_ms", "")])]
        for s in solvers:
            status = rec[("status", s)]
            cells += [
                _fmt_int(rec[("period", s)]),
                _fmt_ms(rec[("period_ms", s)]),
                "-" if pd.isna(status) else STATUS_ABBREV.get(str(status), str(status)),
                _fmt_sec(rec[("seconds", s)]),
                _fmt_pct(rec[("gap", s)]),
            ]
        rows.append(cells)
    return text_table(columns, rows, left=2)


def format_summary(summary: pd.DataFrame) -> list[str]:
    """One line per solver of :func:`solver_summary`."""
    width = max([len(str(s)) for s in summary.index] + [1])
    lines = []
    for solver, r in summary.iterrows():
        share = "-" if pd.isna(r["proven_share"]) else f"{100 * r['proven_share']:.0f}%"
        line = (
            f"{str(solver):<{width}}  proven optimal {int(r['optimal'])}/{int(r['rows'])} "
            f"({share}), median {_fmt_sec(r['median_seconds'])} s, gap median "
            f"{_fmt_pct(r['median_gap'])}% worst {_fmt_pct(r['worst_gap'])}% "
            f"({int(r['with_schedule'])} with a schedule)"
        )
        if r["failed"]:
            line += f", {int(r['failed'])} FAILED (invalid or error)"
        lines.append(line)
    return lines


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Run the benchmark grid (networks x decompositions x P x solvers), "
        "print a table and a summary per solver.",
    )
    parser.add_argument("--networks", help=f"comma-separated (default {','.join(NETWORKS)})")
    parser.add_argument(
        "--decompositions", help=f"comma-separated (default {','.join(GRID_DECOMPOSITIONS)})"
    )
    parser.add_argument(
        "--procs", help=f"counts like 2,4,8 or 2-16 (default {','.join(map(str, PROCS))})"
    )
    parser.add_argument("--solvers", help=f"comma-separated (default {','.join(GRID_SOLVERS)})")
    parser.add_argument(
        "--time-limit", type=float, help=f"seconds per solve (default {TIME_LIMIT:g})"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="solves at once (default 1; more makes the seconds meaningless on a small machine)",
    )
    parser.add_argument("--workers", type=int, help="CP-SAT search workers per solve")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--platform",
        metavar="NAME|FILE",
        help="a platform preset (default, pcie, nvlink, ib) or a platform file; "
        "every P must fit it (default: the default platform)",
    )
    parser.add_argument(
        "--capacity",
        choices=("ports", "delay"),
        help="the link model, whatever the platform says; rows name it (e.g. 'pcie delay')",
    )
    parser.add_argument(
        "-o", "--output", help="CSV of the rows (default: results.csv in a new temporary directory)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="keep the rows already in the CSV, run the rest"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a grid of a few minutes: lenet5/alexnet/vgg16/resnet18, layerpipe, P 2 and 8, "
        "heuristic/pipedream/cpsat, 10 s (explicit options override it)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    return parser


def with_capacity(platform: str | None, capacity: str | None) -> PlatformLike:
    """The ``--platform`` of the grid, with its link model replaced by ``--capacity``.

    A replaced model renames the platform (``pcie delay``), so that rows of
    both models share a CSV and a table without being taken for one another.
    """
    name = None if platform in (None, DEFAULT_PLATFORM) else platform
    if capacity is None:
        return name
    spec = platform_spec_of(name)
    label = spec.get("name") or DEFAULT_PLATFORM
    return {**spec, "capacity": capacity, "name": f"{label} {capacity}"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the grid and print the table and the summary; return the exit code.

    Returns
    -------
    int
        0 when every row has a valid schedule or a clean status, 1 when a row
        failed (``invalid`` or ``error``), 2 on bad input.
    """
    args = _parser().parse_args(argv)
    defaults: dict[str, object] = {
        "networks": NETWORKS,
        "decompositions": GRID_DECOMPOSITIONS,
        "procs": PROCS,
        "solvers": GRID_SOLVERS,
        "time_limit": TIME_LIMIT,
    }
    if args.quick:
        defaults.update(QUICK)
    try:
        if args.resume and not args.output:
            raise InputError("--resume needs -o/--output (the CSV to resume)")
        platform = with_capacity(args.platform, args.capacity)
        networks = parse_names(args.networks or defaults["networks"], BUILTIN_NETWORKS, "networks")
        decomps = parse_names(
            args.decompositions or defaults["decompositions"], DECOMPOSITIONS, "decompositions"
        )
        procs = parse_procs(args.procs if args.procs else defaults["procs"])
        solvers = parse_names(args.solvers or defaults["solvers"], SOLVERS, "solvers")
        time_limit = float(
            args.time_limit if args.time_limit is not None else defaults["time_limit"]
        )
        points = build_points(
            networks,
            decomps,
            procs,
            solvers,
            time_limit=time_limit,
            seed=args.seed,
            workers=args.workers,
            platform=platform,
        )
        # Never into the working directory (a checkout, most likely) unless asked to.
        if args.output:
            output = Path(args.output)
        else:
            output = Path(tempfile.mkdtemp(prefix="lpsched-bench-")) / "results.csv"
        print(
            f"grid: {len(networks)} networks x {len(decomps)} decompositions x {len(procs)} "
            f"processor counts x {len(solvers)} solvers = {len(points)} solves, "
            f"time limit {time_limit:g} s, {args.jobs} at a time; rows in {output}",
            flush=True,
        )
        if args.jobs > 1:
            print(
                f"warning: {args.jobs} solves at once; their seconds are not comparable",
                file=sys.stderr,
            )
        df = run_grid(
            points,
            jobs=args.jobs,
            output=output,
            resume=args.resume,
            progress=not args.no_progress,
        )
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return report(grid_rows(df, points), solvers)


def report(df: pd.DataFrame, solvers: Sequence[str]) -> int:
    """Print the table, its legend and the summary per solver; 1 when a row failed, else 0."""
    print()
    print(format_table(results_table(df, solvers), solvers))
    print(
        "\nLB: best lower bound of the instance over its rows; T: period (time units), ms: "
        "the same in milliseconds; s: seconds until the period was settled; "
        "gap% = 100 (T - LB) / T; status "
        + ", ".join(f"{v} = {k}" for k, v in STATUS_ABBREV.items())
    )
    print()
    summary = solver_summary(df, solvers)
    for line in format_summary(summary):
        print(line)
    failed = df[df["status"].isin(("invalid", "error"))]
    for r in failed.itertuples(index=False):
        on = "" if r.platform == DEFAULT_PLATFORM else f" on {r.platform}"
        print(
            f"FAILED {r.network} {r.decomposition} {r.solver} P={r.procs}{on}: "
            f"{r.status}: {r.error}",
            file=sys.stderr,
        )
    return 1 if len(failed) else 0


if __name__ == "__main__":
    sys.exit(main())
