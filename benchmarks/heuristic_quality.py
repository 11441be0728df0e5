"""Quality and speed of the modulo-scheduling heuristic on the built-in networks.

For every built-in network and P = 2..16, with the layerpipe decomposition and
the ``auto`` staleness policy (cap 2P-1): the lower bound, the heuristic's
period, the gap ``(T - LB) / LB``, its seconds, and the PipeDream planner's
period beside it. Ends with the median and worst gaps.

Run: ``python benchmarks/heuristic_quality.py [--networks a,b] [--procs 2-16 | 2,4,8,16,32]
[--decomposition intra]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from lpsched.bounds import lower_bounds
from lpsched.errors import InputError
from lpsched.networks import BUILTIN_NETWORKS, get_network
from lpsched.solvers.heuristic import modulo_schedule
from lpsched.sweep import parse_procs
from lpsched.taskgraph import DECOMPOSITIONS, build_task_graph
from lpsched.validate import check_schedule


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default=",".join(BUILTIN_NETWORKS))
    parser.add_argument("--procs", default="2-16")
    parser.add_argument("--decomposition", default="layerpipe", choices=DECOMPOSITIONS)
    parser.add_argument("--no-pipedream", action="store_true")
    args = parser.parse_args()
    try:
        procs = parse_procs(args.procs)
        networks = {name: get_network(name) for name in args.networks.split(",")}
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    gaps: list[float] = []
    pd_gaps: list[float] = []
    worst = (0.0, "")
    print(
        f"{'network':10} {'P':>3} {'tasks':>5} {'LB':>8} {'T':>8} {'gap%':>6} {'sec':>6}"
        f" {'pipedream':>9} {'pd gap%':>7} {'pd sec':>6}"
    )
    for name, net in networks.items():
        for p in procs:
            graph = build_task_graph(net, args.decomposition, staleness="auto", processors=p)
            lb = lower_bounds(graph, p).lower_bound
            t0 = time.perf_counter()
            sched = modulo_schedule(graph, p, lower_bound=lb)
            sec = time.perf_counter() - t0
            check_schedule(sched)
            gap = (sched.period - lb) / lb
            gaps.append(gap)
            if gap >= worst[0]:
                worst = (gap, f"{name} P={p}")
            line = (
                f"{name:10} {p:3d} {graph.n:5d} {lb:8d} {sched.period:8d} {100 * gap:6.2f}"
                f" {sec:6.2f}"
            )
            if not args.no_pipedream:
                from lpsched.solvers.pipedream import pipedream_schedule

                t0 = time.perf_counter()
                pd = pipedream_schedule(graph, p)
                pd_sec = time.perf_counter() - t0
                check_schedule(pd)
                pd_gap = (pd.period - lb) / lb
                pd_gaps.append(pd_gap)
                line += f" {pd.period:9d} {100 * pd_gap:7.2f} {pd_sec:6.2f}"
            print(line, flush=True)
    print(
        f"heuristic: median gap {100 * statistics.median(gaps):.2f}%, "
        f"worst {100 * worst[0]:.2f}% ({worst[1]})"
    )
    if pd_gaps:
        print(
            f"pipedream: median gap {100 * statistics.median(pd_gaps):.2f}%, "
            f"worst {100 * max(pd_gaps):.2f}%"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
