"""How fast the MILP proves optimal periods: lenet5, alexnet and vgg16 (layerpipe) on 2, 4, 8.

For every instance (the ``layerpipe`` decomposition, the ``auto`` staleness policy, the
default cost model): the static lower bound, the modulo heuristic's period (the warm start
of every exact solver), then per solver (HiGHS, CBC, CP-SAT) the period, the status, the
lower bound it proved and the seconds, each with the same time limit (60 s). The target is
every instance proven optimal within the limit by HiGHS. Every schedule is validated.

Solves run one at a time; on a shared machine the seconds are noisy.

Run: ``python benchmarks/milp_targets.py [--networks lenet5,alexnet] [--procs 2,4,8]
[--solvers milp,milp-cbc,cpsat] [--time-limit 60] [--secondary comm]``
"""

from __future__ import annotations

import argparse
import time

from lpsched.bounds import lower_bounds
from lpsched.networks import get_network
from lpsched.solvers.heuristic import modulo_schedule
from lpsched.solvers.milp import solve_milp
from lpsched.taskgraph import build_task_graph
from lpsched.validate import check_schedule

SHORT = {"optimal": "opt", "feasible": "feas", "infeasible": "inf", "unknown": "unk"}


def solve(name: str, graph, processors: int, lb: int, initial, limit: float, secondary):
    """One solver on one instance: (period, status, proven lower bound, seconds)."""
    t0 = time.perf_counter()
    if name == "cpsat":
        from lpsched.solvers.cpsat import solve_cpsat

        res = solve_cpsat(
            graph,
            processors,
            lower_bound=lb,
            initial=initial,
            time_limit=limit,
            workers=2,
            secondary=secondary,
        )
    else:
        res = solve_milp(
            graph,
            processors,
            backend="cbc" if name == "milp-cbc" else "highs",
            lower_bound=lb,
            initial=initial,
            time_limit=limit,
            secondary=secondary,
        )
    seconds = time.perf_counter() - t0
    if res.schedule is not None:
        check_schedule(res.schedule)
    return res.period, res.status.value, res.lower_bound, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="lenet5,alexnet,vgg16")
    parser.add_argument("--procs", default="2,4,8")
    parser.add_argument("--solvers", default="milp,milp-cbc,cpsat")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument(
        "--secondary",
        default="none",
        choices=["none", "comm"],
        help="second objective at the best period (default none: time the period alone)",
    )
    args = parser.parse_args()
    solvers = args.solvers.split(",")
    secondary = None if args.secondary == "none" else args.secondary
    head = f"{'instance':10} {'P':>2} {'LB':>6} {'heur':>6}"
    for s in solvers:
        head += f" | {s:>8} {'status':>6} {'lb':>6} {'sec':>6}"
    print(head)
    proven = {s: 0 for s in solvers}
    count = 0
    for net_name in args.networks.split(","):
        net = get_network(net_name)
        for p in (int(x) for x in args.procs.split(",")):
            graph = build_task_graph(net, "layerpipe", staleness="auto", processors=p)
            lb = lower_bounds(graph, p).lower_bound
            initial = modulo_schedule(graph, p, lower_bound=lb)
            line = f"{net_name:10} {p:>2} {lb:>6} {initial.period:>6}"
            count += 1
            for s in solvers:
                period, status, bound, sec = solve(
                    s, graph, p, lb, initial, args.time_limit, secondary
                )
                proven[s] += status == "optimal"
                line += f" | {period:>8} {SHORT[status]:>6} {bound:>6} {sec:>6.1f}"
            print(line, flush=True)
    print("proven optimal: " + ", ".join(f"{s} {proven[s]}/{count}" for s in solvers))


if __name__ == "__main__":
    main()
