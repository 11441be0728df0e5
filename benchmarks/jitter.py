"""Jitter study: how far above ``T`` do schedules run when durations are not exact?

For each network and solver, the LayerPipe schedule on ``P`` processors (default
platform: link ports) is simulated (:func:`lpsched.simulate.simulate`, timed
mode: a period clock releases every action at its scheduled time) for 200
iterations with every compute and transfer duration drawn uniformly in
``d (1 +- jitter)``, 20 seeds per jitter. The table gives, per schedule:

* ``T`` in ms, the solver's status, and how much slack the schedule has:
  ``util`` the busiest processor's busy share, ``port`` the busiest port's,
  ``tight`` the share of dependencies (edges) with no slack at all (the reader
  starts exactly when its data is ready), ``slack`` the median slack of an
  edge in % of ``T``;
* ``zero``: the achieved period at jitter 0 over ``T`` (asserted to be exactly 1,
  with both port arbitrations);
* per port arbitration (``fcfs``: a free port takes the earliest posted
  transfer; ``order``: each port keeps the schedule's order) and jitter: the
  median and the worst, over the seeds, of the achieved mean period over ``T``.

``--asap-memory`` instead gives, per schedule, the self-timed (``asap``) period at
jitter 0 under both arbitrations, and the simulated peak memory against the
footprint model's, at jitter 0 and 0.1.

``--zero-grid`` instead checks jitter 0 on the grid of ``benchmarks/ports.md``
(VGG-16, ResNet-18, ResNet-50, GPT-2 on 4, 8, 16 processors, default and
``pcie``), with the solvers named (heuristic and pipedream by default: CP-SAT at
60 s per solve would take 24 minutes).

Run::

    python benchmarks/jitter.py                        # about 15 minutes on 2 cores
    python benchmarks/jitter.py --nets vgg16 --solvers heuristic --seeds 5
    python benchmarks/jitter.py --zero-grid            # about 6 minutes
    python benchmarks/jitter.py --asap-memory --solvers heuristic,pipedream   # 3 minutes
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence

from lpsched.networks import get_network
from lpsched.platform import Platform, preset
from lpsched.problem import ceil_units, message_units
from lpsched.programs import build_programs
from lpsched.schedule import Result, Schedule, tensor_name
from lpsched.simulate import ARBITRATIONS, simulate
from lpsched.solve import solve
from lpsched.taskgraph import build_task_graph
from lpsched.validate import validate


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nets", default="vgg16,resnet50,gpt2")
    p.add_argument("--procs", default="8", help="processor counts, comma-separated")
    p.add_argument("--solvers", default="heuristic,pipedream,cpsat")
    p.add_argument("--time-limit", type=float, default=30.0, help="seconds per CP-SAT solve")
    p.add_argument("--workers", type=int, default=1, help="CP-SAT workers (1)")
    p.add_argument("--jitters", default="0.05,0.1")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--iterations", type=int, default=200)
    p.add_argument("--arbitrations", default=",".join(ARBITRATIONS))
    p.add_argument("--platform", help="a preset instead of the default platform")
    p.add_argument("--zero-grid", action="store_true", help="jitter 0 on the ports.md grid")
    p.add_argument(
        "--asap-memory",
        action="store_true",
        help="instead of the study: asap at jitter 0, and peak memory at jitter 0 and 0.1",
    )
    return p.parse_args(argv)


def platform_of(name: str | None, procs: int) -> Platform:
    return Platform.default(procs) if name in (None, "default") else preset(name, procs)


def solve_one(net: str, procs: int, solver: str, platform: Platform, args) -> Result:
    graph = build_task_graph(get_network(net), "layerpipe", processors=procs)
    if solver == "cpsat":
        return solve(graph, platform, solver, time_limit=args.time_limit, workers=args.workers)
    return solve(graph, platform, solver, deterministic=True)


def edge_slack(s: Schedule) -> list[int]:
    """Each edge's slack: the reader's start minus when its data is ready, in time units."""
    T, unit = s.period, s.graph.time_unit_seconds
    sent = {(x.producer, x.tensor, x.dst): x for x in s.transfers}
    out = []
    for i, e in enumerate(s.graph.edges):
        p, q = s.processor[e.src], s.processor[e.dst]
        ready = s.start[e.src] + s.duration(e.src)
        if p != q:
            link = s.platform.link(p, q)
            x = sent.get((e.src, tensor_name(s.graph, i), q))
            if e.comm is not None:
                ready += e.comm
            elif x is not None and s.platform.capacity == "ports":
                ready = x.start + x.duration + ceil_units(link.latency, unit)
            elif e.bytes > 0:
                ready += message_units(e.bytes, link, unit)
        out.append(s.start[e.dst] + e.distance * T - ready)
    return out


def check_zero(s: Schedule, iterations: int, arbitrations: Sequence[str]) -> None:
    """Jitter 0, timed: every steady-state period is exactly T (assert)."""
    for arbitration in arbitrations:
        rep = simulate(s, iterations=iterations, arbitration=arbitration)
        assert rep.deadlock is None and rep.violation_count == 0, rep.summary()
        assert rep.periods and all(p == s.period for p in rep.periods), rep.summary()


def study(s: Schedule, args, jitters: list[float], arbitrations: list[str]) -> dict:
    """Median and worst achieved mean period / T over the seeds, per arbitration and jitter."""
    programs = build_programs(s)
    out = {}
    for arbitration in arbitrations:
        for jitter in jitters:
            ratios = [
                simulate(
                    programs,
                    iterations=args.iterations,
                    jitter=jitter,
                    seed=seed,
                    arbitration=arbitration,
                ).mean
                / s.period
                for seed in range(args.seeds)
            ]
            out[(arbitration, jitter)] = (statistics.median(ratios), max(ratios))
    return out


def row(net: str, procs: int, solver: str, r: Result, args, jitters, arbitrations) -> list[str]:
    s = r.schedule
    assert s is not None and validate(s) == [], f"{net} {solver}: no valid schedule"
    check_zero(s, args.iterations, arbitrations)
    slack = edge_slack(s)
    top = s.busiest_port()
    cells = [
        net,
        str(procs),
        solver,
        f"{s.period_seconds * 1e3:.4g}",
        r.status.value[:4],
        f"{100 * max(s.utilisation()):.0f}",
        "-" if top is None or top.load is None else f"{100 * top.load:.0f}",
        f"{100 * sum(1 for x in slack if x == 0) / len(slack):.0f}",
        f"{100 * statistics.median(slack) / s.period:.1f}",
        "1",
    ]
    for (_, _), (median, worst) in study(s, args, jitters, arbitrations).items():
        cells += [f"{median:.4f}", f"{worst:.4f}"]
    return cells


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.zero_grid:
        return zero_grid(args)
    if args.asap_memory:
        return asap_memory(args)
    jitters = [float(x) for x in args.jitters.split(",")]
    arbitrations = args.arbitrations.split(",")
    header = ["net", "P", "solver", "T ms", "stat", "util%", "port%", "tight%", "slack%", "zero"]
    for a in arbitrations:
        for j in jitters:
            header += [f"{a} {j:g} med", f"{a} {j:g} worst"]
    rows = []
    started = time.perf_counter()
    for net in args.nets.split(","):
        for procs in (int(x) for x in args.procs.split(",")):
            platform = platform_of(args.platform, procs)
            for solver in args.solvers.split(","):
                t0 = time.perf_counter()
                r = solve_one(net, procs, solver, platform, args)
                t1 = time.perf_counter()
                rows.append(row(net, procs, solver, r, args, jitters, arbitrations))
                print(
                    f"{net} P={procs} {solver}: solve {t1 - t0:.1f} s, simulate "
                    f"{time.perf_counter() - t1:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    print_table(header, rows)
    print(f"\n{time.perf_counter() - started:.0f} s in all", file=sys.stderr)
    return 0


def zero_grid(args: argparse.Namespace) -> int:
    """Jitter 0 on the ports.md grid: every schedule's simulated period is exactly T."""
    solvers = args.solvers.split(",") if args.solvers != parse_args([]).solvers else None
    solvers = solvers or ["heuristic", "pipedream"]
    header = ["net", "P", "platform", "solver", "T", "T ms", "depth", "zero"]
    rows = []
    for platform_name in ("default", "pcie"):
        for net in ("vgg16", "resnet18", "resnet50", "gpt2"):
            for procs in (4, 8, 16):
                if net == "gpt2" and procs == 16 and platform_name == "default":
                    continue  # not in ports.md either
                platform = platform_of(platform_name, procs)
                for solver in solvers:
                    r = solve_one(net, procs, solver, platform, args)
                    s = r.schedule
                    assert s is not None and validate(s) == []
                    depth = build_programs(s).depth
                    check_zero(s, 2 * depth + 10, ARBITRATIONS)
                    period_ms = f"{s.period_seconds * 1e3:.4g}"
                    cells = [net, str(procs), platform_name, solver, str(s.period), period_ms]
                    rows.append([*cells, str(depth), "1 (exact)"])
                    print(" ".join(rows[-1]), file=sys.stderr, flush=True)
    print_table(header, rows)
    return 0


def asap_memory(args: argparse.Namespace) -> int:
    """Per schedule: asap at jitter 0 (both arbitrations), and the simulated peak memory.

    The peak at jitter 0 (timed) beside the footprint model's, the largest peak for seeds
    0-2 at jitter 0.1, and the largest growth of one processor's peak under that jitter.
    """
    header = ["net", "P", "solver", "asap fcfs", "asap order", "peak GB", "footprint GB"]
    header += ["peak 0.1 GB", "worst proc"]
    rows = []
    for net in args.nets.split(","):
        for procs in (int(x) for x in args.procs.split(",")):
            platform = platform_of(args.platform, procs)
            for solver in args.solvers.split(","):
                s = solve_one(net, procs, solver, platform, args).schedule
                assert s is not None and validate(s) == []
                asap = [
                    simulate(s, iterations=args.iterations, mode="asap", arbitration=a).mean
                    / s.period
                    for a in ("fcfs", "order")
                ]
                base = simulate(s, iterations=args.iterations).peak_memory
                runs = [
                    simulate(s, iterations=args.iterations, jitter=0.1, seed=k).peak_memory
                    for k in range(3)
                ]
                grow = max(a / b for run in runs for a, b in zip(run, base, strict=True) if b)
                peaks = sorted(max(run) / 1e9 for run in runs)
                rows.append(
                    [net, str(procs), solver, f"{asap[0]:.4f}", f"{asap[1]:.4f}"]
                    + [f"{max(base) / 1e9:.2f}", f"{max(s.footprints()) / 1e9:.2f}"]
                    + [f"{peaks[0]:.2f}-{peaks[-1]:.2f}", f"x{grow:.2f}"]
                )
                print(" ".join(rows[-1]), file=sys.stderr, flush=True)
    print_table(header, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
