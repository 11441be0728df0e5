"""Check that a refactor left the answers of ``docs/results.csv`` unchanged.

The deterministic solvers (``heuristic``, ``pipedream``: no time limit, a fixed
seed) must give every row's period again exactly. For the exact solvers a row
whose status was ``optimal`` is solved again with a short limit: a new proof
must give the same period, and no new schedule may beat a proven optimum.
Prints a table (instance, P, platform, lower bound, old and new period,
status, seconds) and a summary; exit 1 when any row changed.

    python benchmarks/unchanged.py                       # heuristic and pipedream rows
    python benchmarks/unchanged.py --solvers cpsat --time-limit 5 --max-seconds 3
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from lpsched import build_task_graph, get_network, solve

ROOT = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--csv", default=str(ROOT / "docs" / "results.csv"))
    p.add_argument("--solvers", default="heuristic,pipedream", help="comma-separated")
    p.add_argument("--networks", help="comma-separated (default: all in the CSV)")
    p.add_argument("--time-limit", type=float, default=5.0, help="seconds per exact solve")
    p.add_argument(
        "--max-seconds",
        type=float,
        default=3.0,
        help="exact solvers: only rows the old run settled within this many seconds",
    )
    return p


def _rows(args: argparse.Namespace) -> pd.DataFrame:
    df = pd.read_csv(args.csv)
    df = df[df["solver"].isin(args.solvers.split(","))]
    if args.networks:
        df = df[df["network"].isin(args.networks.split(","))]
    exact = ~df["solver"].isin(["heuristic", "pipedream"])
    settled = df["period_seconds"] if "period_seconds" in df else df["settled_seconds"]
    keep = ~exact | ((df["status"] == "optimal") & (settled <= args.max_seconds))
    return df[keep]


def _check(row: pd.Series, time_limit: float) -> dict[str, object]:
    P = int(row["procs"])
    graph = build_task_graph(get_network(row["network"]), row["decomposition"], processors=P)
    exact = row["solver"] not in ("heuristic", "pipedream")
    began = time.perf_counter()
    result = solve(
        graph,
        P,
        row["solver"],
        time_limit=time_limit if exact else None,
        workers=1,
        secondary="none",
    )
    old, new = int(row["period"]), result.period
    if not exact or result.status == "optimal":
        same = new == old
    else:
        same = new is not None and new >= old  # a proven optimum cannot be beaten
    return {
        "instance": f"{row['network']}/{row['decomposition']}",
        "P": P,
        "platform": "default",
        "solver": row["solver"],
        "lower_bound": result.lower_bound,
        "old": old,
        "new": new,
        "status": result.status.value,
        "seconds": round(time.perf_counter() - began, 2),
        "unchanged": same,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    rows = [_check(row, args.time_limit) for _, row in _rows(args).iterrows()]
    table = pd.DataFrame(rows)
    if table.empty:
        print("no rows")
        return 0
    print(table.to_string(index=False))
    changed = table[~table["unchanged"]]
    for solver, part in table.groupby("solver"):
        print(
            f"{solver}: {len(part)} rows, {int(part['unchanged'].sum())} unchanged, "
            f"median {part['seconds'].median():.2f} s"
        )
    return 1 if len(changed) else 0


if __name__ == "__main__":
    sys.exit(main())
