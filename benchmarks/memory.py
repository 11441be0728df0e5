"""Memory capacities (issue 15): every solver at 100%, 50% and 25% of the unconstrained footprint.

For each network the script builds the ``layerpipe`` task graph (``auto``
staleness) for ``P`` processors on the default platform (``capacity: ports``),
solves it with CP-SAT without a memory capacity and takes the largest
per-processor footprint of that schedule (``max(schedule.footprints())``, as
the validator counts it). Then, for each fraction of that footprint, it sets
every processor's memory to it and runs every solver through
:func:`lpsched.solve` (which validates every schedule, footprint included).

One line per solve: instance, P, platform, the capacity in GB and in % of the
footprint, the instance's lower bound (the best any of its solves reports, in
time units), the solver, its period, status, seconds and the schedule's
largest footprint in GB. The target: every row has a valid schedule or a
proven ``infeasible``; CP-SAT's rows are ``optimal`` or within 3% of the bound.

Rows are appended to a JSON-lines file (``-o``); a rerun with the same file
skips the solves it already holds, so an interrupted grid resumes.

Run::

    python benchmarks/memory.py                              # the grid: ~25 min
    python benchmarks/memory.py --quick                      # a smoke run: ~1 min
    python benchmarks/memory.py --nets gpt2 --fractions 0.25 --solvers heuristic,cpsat
    python benchmarks/memory.py -o /tmp/memory.jsonl         # resumable
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from lpsched import build_task_graph, get_network, solve
from lpsched.graph import TaskGraph
from lpsched.platform import Platform
from lpsched.schedule import Result
from lpsched.sweep import with_memory

GB = 1e9
SOLVERS = ("heuristic", "pipedream", "cpsat", "milp")
#: The CP-SAT target: proven optimal, or a gap ``(T - LB) / T`` of at most this.
TARGET_GAP = 0.03


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (``--quick`` fills in what is not given)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default=None, help="comma-separated networks (gpt2,vgg16)")
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--fractions", default=None, help="of the footprint (1,0.5,0.25)")
    ap.add_argument("--solvers", default=None, help=f"comma-separated ({','.join(SOLVERS)})")
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per solve (60)")
    ap.add_argument("--milp-time-limit", type=float, default=None, help="default: --time-limit")
    ap.add_argument("--workers", type=int, default=1, help="CP-SAT search workers")
    ap.add_argument("-o", "--output", default=None, help="JSON-lines file of rows (resumable)")
    ap.add_argument("--quick", action="store_true", help="vgg16, 1 and 0.25, 10 s, no MILP")
    args = ap.parse_args(argv)
    quick = {"nets": "vgg16", "fractions": "1,0.25", "solvers": "heuristic,pipedream,cpsat"}
    full = {"nets": "gpt2,vgg16", "fractions": "1,0.5,0.25", "solvers": ",".join(SOLVERS)}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.time_limit is None:
        args.time_limit = 10.0 if args.quick else 60.0
    if args.milp_time_limit is None:
        args.milp_time_limit = args.time_limit
    return args


def row_of(result: Result, key: dict, capacity: float | None) -> dict:
    """One table row: the key, then what the solve returned (footprint in GB)."""
    s = result.schedule
    return {
        **key,
        "capacity_gb": None if capacity is None else capacity / GB,
        "lb": result.lower_bound,
        "period": None if s is None else s.period,
        "period_ms": None if s is None or s.period_seconds is None else s.period_seconds * 1e3,
        "status": result.status.value,
        "seconds": round(result.solve_seconds, 2),
        "footprint_gb": None if s is None else max(s.footprints()) / GB,
        "reason": result.stats.get("reason"),
    }


class Rows:
    """The rows done so far, read from and appended to an optional JSON-lines file."""

    def __init__(self, path: str | None) -> None:
        self.path = None if path is None else Path(path)
        self.rows: list[dict] = []
        if self.path is not None and self.path.exists():
            self.rows = [json.loads(x) for x in self.path.read_text().splitlines() if x.strip()]

    def find(self, key: dict) -> dict | None:
        """The row of ``key`` (its ``net``, ``fraction`` and ``solver``), if done."""
        for r in self.rows:
            if all(r.get(k) == v for k, v in key.items()):
                return r
        return None

    def add(self, row: dict) -> None:
        """Keep ``row`` and append it to the file."""
        self.rows.append(row)
        if self.path is not None:
            with self.path.open("a") as f:
                f.write(json.dumps(row) + "\n")


def run_solve(
    graph: TaskGraph, platform: Platform, solver: str, args: argparse.Namespace
) -> Result:
    """One solve through :func:`lpsched.solve` (validated), CP-SAT with ``--workers``."""
    limit = args.milp_time_limit if solver.startswith("milp") else args.time_limit
    workers = args.workers if solver == "cpsat" else None
    return solve(graph, platform, solver, time_limit=limit, workers=workers)


def instance_rows(net: str, args: argparse.Namespace, rows: Rows) -> Iterable[dict]:
    """The rows of one network: the unconstrained CP-SAT solve, then every fraction x solver."""
    graph = build_task_graph(get_network(net), "layerpipe", processors=args.procs)
    base = Platform.default(args.procs)
    key = {"net": net, "procs": args.procs, "fraction": None, "solver": "cpsat"}
    ref = rows.find(key)
    if ref is None:
        ref = row_of(run_solve(graph, base, "cpsat", args), key, None)
        rows.add(ref)
    yield ref
    if ref["footprint_gb"] is None:
        return
    for fraction in (float(x) for x in args.fractions.split(",")):
        capacity = fraction * ref["footprint_gb"] * GB
        platform = with_memory(base, capacity)
        for solver in args.solvers.split(","):
            key = {"net": net, "procs": args.procs, "fraction": fraction, "solver": solver}
            row = rows.find(key)
            if row is None:
                print(f"  {net} {fraction:g} {solver} ...", file=sys.stderr, flush=True)
                row = row_of(run_solve(graph, platform, solver, args), key, capacity)
                rows.add(row)
            yield row


def verdict(row: dict) -> str:
    """Whether the row meets the target: ``ok``, or what misses it (CP-SAT: its own bound)."""
    if row["status"] == "infeasible":
        return "ok (proven)" if row["reason"] else "infeasible?"
    if row["period"] is None:
        return "MISS (no schedule)"
    if row["solver"] == "cpsat" and row["status"] != "optimal":
        gap = (row["period"] - row["lb"]) / row["period"]
        return "ok" if gap <= TARGET_GAP else f"MISS (gap {100 * gap:.1f}%)"
    return "ok"


def best_bounds(rows: list[dict]) -> dict[tuple, int]:
    """The best lower bound per ``(net, fraction)``: of its rows and of those with more memory.

    A schedule that fits a memory fits every larger one, so a bound proven
    with more memory (or none, fraction ``None``) holds with less.
    """
    best: dict[tuple, int] = {}
    for r in rows:
        k = (r["net"], r["fraction"])
        best[k] = max(
            x["lb"]
            for x in rows
            if x["net"] == r["net"]
            and (
                x["fraction"] is None
                or (r["fraction"] is not None and x["fraction"] >= r["fraction"])
            )
        )
    return best


def print_table(rows: list[dict]) -> None:
    """The table: the lower bound of an instance is :func:`best_bounds`'s."""
    best = best_bounds(rows)
    head = f"{'instance':9s} {'P':>2s} {'platform':8s} {'cap GB':>7s} {'cap %':>5s} {'LB':>6s}"
    print(f"{head} {'solver':9s} {'T':>6s} {'T ms':>7s} {'status':10s} {'s':>6s} {'mem GB':>7s}")
    for r in rows:
        lb = best[(r["net"], r["fraction"])]
        r = {**r, "lb": lb}
        cap = "-" if r["capacity_gb"] is None else f"{r['capacity_gb']:.2f}"
        pct = "-" if r["fraction"] is None else f"{100 * r['fraction']:.0f}"
        period = "-" if r["period"] is None else str(r["period"])
        ms = "-" if r["period_ms"] is None else f"{r['period_ms']:.2f}"
        mem = "-" if r["footprint_gb"] is None else f"{r['footprint_gb']:.2f}"
        line = f"{r['net']:9s} {r['procs']:>2d} {'default':8s} {cap:>7s} {pct:>5s} {lb:>6d}"
        line += f" {r['solver']:9s} {period:>6s} {ms:>7s} {r['status']:10s}"
        print(f"{line} {r['seconds']:>6.1f} {mem:>7s}  {verdict(r)}")


def main(argv: list[str] | None = None) -> int:
    """Run the grid and print its table; exit 1 when some row misses the target."""
    args = parse_args(argv)
    rows = Rows(args.output)
    done = []
    for net in args.nets.split(","):
        done.extend(instance_rows(net, args, rows))
    print(
        f"layerpipe, P = {args.procs}, default platform (ports); {args.time_limit:g} s per solve "
        f"(MILP {args.milp_time_limit:g} s), CP-SAT {args.workers} worker(s)"
    )
    print_table(done)
    misses = [r for r in done if not verdict(r).startswith("ok")]
    print(f"target met on {len(done) - len(misses)}/{len(done)} rows")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
