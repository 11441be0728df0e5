"""The ``lpsched`` command line.

Exit codes: 0 success; 1 an invalid schedule or an infeasible instance; 2 bad
input or usage, with one line on stderr naming what is wrong; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from ..errors import InfeasibleError, InputError
from ..solve import abandoned
from .commands import cmd_bounds, cmd_graph, cmd_networks, cmd_platforms, cmd_solve, cmd_validate
from .export import add_export
from .options import (
    add_network_args,
    add_platform_args,
    add_sweep_args,
    say,
    seed_flag,
    time_limit_flag,
    workers_flag,
)
from .simulate import add_simulate
from .sweeps import cmd_compare, cmd_sweep


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``lpsched: error: MESSAGE`` and exit 2 (argparse prints the usage too)."""
        self.exit(2, f"lpsched: error: {_one_line(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    from .. import __version__

    parser = _Parser(
        prog="lpsched",
        description="Periodic schedules for pipelined DNN training, by integer programming.",
    )
    parser.add_argument("--version", action="version", version=f"lpsched {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (
        _add_listings,
        _add_graph,
        _add_bounds,
        _add_solve,
        _add_validate,
        _add_sweep,
        _add_compare,
        _add_profile,
        add_export,
        add_simulate,
    ):
        add(sub)
    return parser


def _add_listings(sub: Any) -> None:
    p = sub.add_parser("networks", help="built-in networks, their layers and total cost")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=cmd_networks)
    p = sub.add_parser("platforms", help="platform presets: processors, links, memory")
    p.add_argument("--json", action="store_true", help="print the presets as JSON")
    p.set_defaults(func=cmd_platforms)


def _add_graph(sub: Any) -> None:
    p = sub.add_parser("graph", help="build a task graph and write it as JSON")
    add_network_args(p)
    p.add_argument("-o", "--output", help="write the graph here instead of stdout")
    p.set_defaults(func=cmd_graph)


def _add_bounds(sub: Any) -> None:
    p = sub.add_parser("bounds", help="lower bounds: resource, longest task, iteration bound")
    add_network_args(p)
    add_platform_args(p, "one")
    p.add_argument("--json", action="store_true", help="print the bounds as one JSON object")
    p.set_defaults(func=cmd_bounds)


def _add_solve(sub: Any) -> None:
    from ..solve import SECONDARY, SOLVERS

    p = sub.add_parser("solve", help="find a schedule on P processors")
    add_network_args(p)
    add_platform_args(p, "one")
    p.add_argument(
        "--solver",
        "-s",
        choices=list(SOLVERS),
        default="heuristic",
        help="heuristic (default, fast), pipedream (the baseline planner), cpsat, milp, milp-cbc",
    )
    p.add_argument(
        "--time-limit",
        type=time_limit_flag,
        help="seconds for the whole solve (exact solvers), up to 1000000",
    )
    p.add_argument(
        "--seed", type=seed_flag, default=0, help="random seed of the search, 0..2**31-1 (0)"
    )
    p.add_argument(
        "--workers", type=workers_flag, help="CP-SAT search workers, 1..256 (default: all cores)"
    )
    p.add_argument(
        "--secondary",
        choices=list(SECONDARY),
        default="comm",
        help="at the best period, minimise comm (bytes sent, default) or staleness, or none",
    )
    p.add_argument("--export", help="MILP: write the model for the proven period (.lp or .mps)")
    p.add_argument("-o", "--output", help="write the schedule JSON here")
    p.add_argument("--gantt", help="write a Gantt chart (PNG, SVG or PDF) here")
    p.add_argument("--json", action="store_true", help="print the schedule JSON on stdout")
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="stop by work, not wall time: the same schedule on any machine, however busy "
        "(heuristic, pipedream, cpsat; the time limit then counts deterministic seconds)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v: one line per improvement and a per-processor table; -vv: the solver's own log",
    )
    p.set_defaults(func=cmd_solve)


def _add_validate(sub: Any) -> None:
    p = sub.add_parser("validate", help="check a schedule file against the definition")
    p.add_argument("schedule", help="schedule JSON (lpsched solve -o)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--all", action="store_true", help="list every violation, not the first 20")
    p.set_defaults(func=cmd_validate)


def _add_sweep(sub: Any) -> None:
    from ..solve import SOLVERS

    p = sub.add_parser("sweep", help="solve for many processor counts, solvers, decompositions")
    add_network_args(p, decomposition=False)
    add_platform_args(p, "1-16")
    _set_help(
        p,
        "memory",
        "memory per processor, or several for a memory-period curve (one row per capacity): "
        "e.g. 80GB or 8GB,16GB,32GB,unlimited",
        "SIZE[,SIZE...]",
    )
    p.add_argument(
        "--solvers", default="heuristic", help=f"comma-separated, from {', '.join(SOLVERS)}"
    )
    p.add_argument(
        "--decompositions",
        help="comma-separated, from pipedream, intra, layerpipe (default layerpipe)",
    )
    add_sweep_args(p)
    p.add_argument("-o", "--output", help="CSV that receives every row as it finishes")
    p.add_argument("--resume", action="store_true", help="skip the rows already in -o")
    p.add_argument(
        "--plot",
        help="write the speedup plot against P (PNG, SVG or PDF) here; with several --memory, "
        "the period against the memory capacity",
    )
    p.add_argument("--json", action="store_true", help="print the table as JSON rows")
    p.set_defaults(func=cmd_sweep)


def _set_help(p: argparse.ArgumentParser, dest: str, text: str, metavar: str) -> None:
    """Reword a shared flag's help where the command reads it differently (sweep's --memory)."""
    for action in p._actions:  # argparse keeps no public index of its options
        if action.dest == dest:
            action.help, action.metavar = text, metavar


def _add_compare(sub: Any) -> None:
    from ..solve import SOLVERS

    p = sub.add_parser(
        "compare",
        help="LayerPipe (exact solver) against the PipeDream planner, per P",
        description="LayerPipe's best period (by --solver) against the PipeDream planner's, "
        "per processor count; the summary says how many LayerPipe periods are proven optimal.",
    )
    add_network_args(p, decomposition=False)
    add_platform_args(p, "7-9")
    p.add_argument(
        "--solver",
        "-s",
        choices=list(SOLVERS),
        default="cpsat",
        help="LayerPipe solver (default cpsat; the summary says how many rows it proved)",
    )
    add_sweep_args(p)
    p.add_argument("-o", "--output", help="write the comparison table (CSV) here")
    p.add_argument("--json", action="store_true", help="print rows and summary as one JSON object")
    p.set_defaults(func=cmd_compare)


def _add_profile(sub: Any) -> None:
    from .profile import add_profile_args

    p = sub.add_parser(
        "profile",
        help="time every task of a network's layers in PyTorch; write the profile CSV",
        description="Build each layer in PyTorch with its shapes and time F, D, G, W and U "
        "separately (warm-up, then the median of repeats) on the CPU or a CUDA device. "
        "Needs PyTorch (pip install 'lpsched[torch]'; the CPU wheel: see README). "
        "Use the CSV with --costs.",
    )
    add_profile_args(p)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's exit flush does not raise again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no real file (tests capture it)
        pass


def _one_line(err: Exception | str) -> str:
    """The message on one line, whatever a file name or a value in it holds."""
    return str(err).replace("\r", "\\r").replace("\n", "\\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # `lpsched graph vgg16 | head`: the reader left; say nothing more, as `cat` does.
        _silence_stdout()
        return 0
    except InputError as err:
        say(f"lpsched: error: {_one_line(err)}")
        return 2
    except InfeasibleError as err:
        say(f"lpsched: infeasible: {_one_line(err)}")
        return 1
    except MemoryError:
        say("lpsched: error: out of memory: the instance is too large for this machine")
        return 2
    except KeyboardInterrupt:
        say("lpsched: interrupted")
        return 130


def run() -> NoReturn:
    """The console script: :func:`main`, then exit with its code.

    When Ctrl-C left a solver thread running in native code, the interpreter's
    normal exit can abort the process under it (SIGABRT instead of 130); the
    output is written by then, so the process leaves at once.
    """
    code = main()
    if abandoned():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
