"""CP-SAT targets: the least period of LayerPipe schedules, proven within a time limit.

For each network and processor count the script builds the ``layerpipe`` task
graph with ``auto`` staleness, takes the static lower bound
(:func:`lpsched.bounds.lower_bounds`) and the heuristic's period
(:func:`lpsched.solvers.heuristic.modulo_schedule`, its default effort), then
runs :func:`lpsched.solvers.cpsat.solve_cpsat` warm-started by that schedule,
as ``lpsched solve --solver cpsat`` does. Every schedule goes through the
validator. One line per instance: lower bound, heuristic period, CP-SAT period,
its status, the bound CP-SAT proved and the seconds.

``--plan`` replaces the period search's phases (``lpsched.solvers.cpsat.PLAN``)
to compare strategies, e.g. ``--plan bisect`` for bisection with the fixed-period
model alone or ``--plan variable:1`` for the model with the period a variable.

Run::

    python benchmarks/cpsat_targets.py                       # 12 solves, up to 60 s each
    python benchmarks/cpsat_targets.py --networks vgg16 --procs 8 --workers 2 -v
    python benchmarks/cpsat_targets.py --plan bisect         # approach (a) alone
"""

from __future__ import annotations

import argparse
import sys
import time

from lpsched.bounds import lower_bounds
from lpsched.networks import get_network
from lpsched.solvers import cpsat
from lpsched.solvers.heuristic import modulo_schedule
from lpsched.taskgraph import build_task_graph
from lpsched.validate import validate


def parse_plan(text: str) -> tuple[tuple[str, float], ...]:
    """``"packing:0.1,descend"`` -> ``(("packing", 0.1), ("descend", 1.0))``."""
    plan = []
    for item in text.split(","):
        name, _, share = item.partition(":")
        plan.append((name.strip(), float(share) if share else 1.0))
    return tuple(plan)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", default="vgg16,resnet18,gpt2")
    ap.add_argument("--procs", default="2,4,8,16")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--secondary", default="none", choices=("none", "comm", "staleness"))
    ap.add_argument("--plan", default=None, help="phases, e.g. packing:0.1,descend")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the search's progress")
    args = ap.parse_args(argv)
    if args.plan:
        cpsat.PLAN = parse_plan(args.plan)

    def progress(line: str) -> None:
        if line.startswith("cpsat:"):
            print(f"    {line}", file=sys.stderr, flush=True)

    print(f"plan: {', '.join(f'{p}:{s:g}' for p, s in cpsat.PLAN)}; workers {args.workers}")
    header = f"{'instance':10s} {'P':>3s} {'LB':>6s} {'heur':>6s} {'cpsat':>6s} {'status':9s}"
    print(f"{header} {'proven':>6s} {'seconds':>8s}")
    proven = 0
    total = 0
    for name in args.networks.split(","):
        network = get_network(name)
        for P in (int(p) for p in args.procs.split(",")):
            graph = build_task_graph(network, "layerpipe", staleness="auto", processors=P)
            lb = lower_bounds(graph, P).lower_bound
            initial = modulo_schedule(graph, P, lower_bound=lb, seed=args.seed)
            t0 = time.perf_counter()
            result = cpsat.solve_cpsat(
                graph,
                P,
                lower_bound=lb,
                initial=initial,
                time_limit=args.time_limit,
                workers=args.workers,
                seed=args.seed,
                secondary=None if args.secondary == "none" else args.secondary,
                log=progress if args.verbose else None,
            )
            seconds = time.perf_counter() - t0
            assert result.schedule is not None
            problems = validate(result.schedule)
            status = result.status.value if not problems else "INVALID"
            total += 1
            proven += result.status.value == "optimal" and not problems
            print(
                f"{name:10s} {P:3d} {lb:6d} {initial.period:6d} {result.period:6d} "
                f"{status:9s} {result.lower_bound:6d} {seconds:8.1f}",
                flush=True,
            )
    print(f"proven optimal: {proven}/{total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
