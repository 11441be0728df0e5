"""LayerPipe against PipeDream on measured costs: PipeDream's own VGG-16 and ResNet-18 profiles.

    python benchmarks/measured.py                 # both profiles, P = 2, 4, 8, 10 s per solve
    python benchmarks/measured.py --quick         # VGG-16, P = 4, 5 s
    python benchmarks/measured.py --profiles resnet18 --procs 4,8 --time-limit 60

For each profile (``lpsched/data/profiles/``, PipeDream's profiler output, MIT licence) and P,
on the default platform (50 GB/s, 10 us, delay): the PipeDream planner on the ``pipedream``
decomposition, and CP-SAT on ``layerpipe`` (warm-started by the heuristic). Every schedule
is validated; the table gives the period in ms, the status and the seconds, and the speedup
of LayerPipe over PipeDream. CP-SAT runs one worker in deterministic mode, so the same
command gives the same table on any machine.
"""

from __future__ import annotations

import argparse
import time

from lpsched import build_task_graph, check_schedule, solve
from lpsched.graph import time_unit_seconds
from lpsched.profiles import bundled_profiles, load_pipedream


def row(name: str, procs: int, time_limit: float) -> dict[str, object]:
    network, profile = load_pipedream(name)
    out: dict[str, object] = {"profile": name, "P": procs, "batch": profile.batch_size}
    for label, decomposition, solver in (
        ("pipedream", "pipedream", "pipedream"),
        ("layerpipe", "layerpipe", "cpsat"),
    ):
        graph = build_task_graph(network, decomposition, processors=procs, measured=profile)
        start = time.perf_counter()
        result = solve(graph, procs, solver, time_limit=time_limit, workers=1, deterministic=True)
        check_schedule(result.schedule)
        unit_ms = time_unit_seconds(graph.time_unit) * 1000
        out[f"{label}_ms"] = round(result.schedule.period * unit_ms, 3)
        out[f"{label}_status"] = str(result.status.value)
        out[f"{label}_s"] = round(time.perf_counter() - start, 2)
    out["speedup"] = round(float(out["pipedream_ms"]) / float(out["layerpipe_ms"]), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default=",".join(bundled_profiles()))
    parser.add_argument("--procs", default="2,4,8")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="VGG-16 on 4 processors, 5 s")
    args = parser.parse_args()
    if args.quick:
        args.profiles, args.procs, args.time_limit = "vgg16", "4", 5.0
    rows = [
        row(name, int(p), args.time_limit)
        for name in args.profiles.split(",")
        for p in args.procs.split(",")
    ]
    keys = list(rows[0])
    print(" ".join(f"{k:>16}" for k in keys))
    for r in rows:
        print(" ".join(f"{r[k]!s:>16}" for k in keys))


if __name__ == "__main__":
    main()
