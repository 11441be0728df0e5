"""``lpsched simulate``: run a schedule's programs in a discrete-event simulation.

Exit codes: 0 the programs ran to the end; 1 a deadlock (or a reader that ran
before its data, which would be a bug of the programs); 2 bad input (an
unreadable or invalid schedule, iterations outside ``1..100000``, jitter
outside ``[0, 1)``), one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from ..simulate import ARBITRATIONS, MAX_ITERATIONS, MODES
from .export import iterations_type, read_valid_schedule
from .options import check_outputs, say, seed_flag


def jitter_flag(text: str) -> float:
    """``--jitter``: a fraction in ``[0, 1)``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < 1:  # NaN fails every comparison
        raise argparse.ArgumentTypeError(f"jitter must be a number in [0, 1), got {text!r}")
    return value


def add_simulate(sub: Any) -> None:
    """Register ``lpsched simulate`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "simulate",
        help="run a schedule's programs with jitter: achieved period",
        description="Run the per-processor programs of a schedule (lpsched.programs) in a "
        "discrete-event simulation, every compute and transfer lasting d (1 +- jitter): the "
        "achieved period, the peak memory per processor and each link port's busy share.",
    )
    p.add_argument("schedule", help="a schedule file (lpsched solve -o)")
    p.add_argument(
        "--iterations",
        "-n",
        type=iterations_type(MAX_ITERATIONS),
        default=200,
        help=f"iterations to run, 1..{MAX_ITERATIONS} (200)",
    )
    p.add_argument(
        "--jitter",
        type=jitter_flag,
        default=0.0,
        help="durations drawn uniformly in d (1 +- jitter), 0 <= jitter < 1 (0)",
    )
    p.add_argument("--seed", type=seed_flag, default=0, help="random seed, 0..2**31-1 (0)")
    p.add_argument(
        "--mode",
        choices=list(MODES),
        default="timed",
        help="timed: nothing starts before its scheduled time (default); asap: self-timed",
    )
    p.add_argument(
        "--arbitration",
        choices=list(ARBITRATIONS),
        default="order",
        help="how a link port picks its next transfer: order, the schedule's order "
        "(default), or fcfs, first come first served",
    )
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    p.add_argument(
        "--trace",
        help="write what the simulation ran (actual times) as a Chrome/Perfetto trace (.json)",
    )
    p.set_defaults(func=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    """Simulate a schedule file; 0 done, 1 deadlock, 2 bad input (raised as InputError)."""
    from ..simulate import simulate

    check_outputs([("--trace", args.trace, (".json",))], inputs=[args.schedule])
    schedule = read_valid_schedule(args.schedule)
    report = simulate(
        schedule,
        iterations=args.iterations,
        jitter=args.jitter,
        seed=args.seed,
        mode=args.mode,
        trace=args.trace is not None,
        arbitration=args.arbitration,
    )
    if args.trace is not None:
        _write_trace(args.trace, report, schedule.processors)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(report.summary())
    if report.deadlock is not None:
        say(f"lpsched: deadlock: {report.deadlock}")
        return 1
    if report.violation_count:
        say(f"lpsched: the programs miss a dependency: {report.violations[0]}")
        return 1
    return 0


def _write_trace(path: str, report: Any, processors: int) -> None:
    """The simulated spans as a trace (:func:`lpsched.trace.write_trace`), with the settings."""
    from ..trace import Span, write_trace

    spans = [
        Span(
            x.processor,
            x.track,
            x.name,
            x.start,
            x.end - x.start,
            _args(x),
        )
        for x in report.spans
    ]
    settings = {
        "simulated": True,
        "period": report.period,
        "iterations": report.iterations,
        "jitter": report.jitter,
        "seed": report.seed,
        "mode": report.mode,
        "arbitration": report.arbitration,
    }
    write_trace(path, spans, report.time_unit_seconds, processors, settings)


def _args(span: Any) -> dict[str, Any]:
    """What a trace event shows beside its name: the iteration, and a message's ends."""
    out: dict[str, Any] = {"iteration": span.iteration}
    if span.producer is not None:
        other = "to" if span.track.startswith("out") else "from"
        out |= {"producer": span.producer, other: span.peer}
    return out
