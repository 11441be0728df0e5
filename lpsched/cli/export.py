"""``lpsched export``: a schedule file as per-processor programs, a trace, a torch action CSV."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from ..errors import InputError
from ..files import brief
from .options import check_outputs, say

#: The most iterations ``--iterations`` takes, and the most actions an export may unroll:
#: a CSV row or a trace event each, so that a typo cannot fill the disk.
MAX_ITERATIONS = 1_000_000
MAX_ACTIONS = 5_000_000


def iterations_type(maximum: int) -> Callable[[str], int]:
    """An argparse ``type`` for ``--iterations``: an exact integer ``1 .. maximum``.

    Shared by ``export`` and ``simulate`` so that both word a bad count alike.
    """

    def parse(text: str) -> int:
        """``text`` as a count, or :class:`argparse.ArgumentTypeError`."""
        value = text.strip()
        if not value.lstrip("+").isdigit() or len(value) > len(str(maximum)) + 1:
            raise argparse.ArgumentTypeError(
                f"must be an integer from 1 to {maximum:,}, got {brief(text)}"
            )
        n = int(value)
        if not 1 <= n <= maximum:
            raise argparse.ArgumentTypeError(f"must be an integer from 1 to {maximum:,}, got {n}")
        return n

    return parse


def read_valid_schedule(path: str) -> Any:
    """The schedule of the file ``path``; :class:`InputError` (one line) when it is invalid.

    Shared by ``export`` and ``simulate``: programs follow a schedule only when
    it is valid, so both refuse an invalid one before any work.
    """
    from ..schedule import Result
    from ..validate import validate

    schedule = Result.read(path).schedule
    assert schedule is not None  # (Result.read always gives one)
    violations = validate(schedule)
    if violations:
        n = len(violations)
        raise InputError(
            f"{path}: invalid schedule ({n} violation{'s' if n != 1 else ''}, first: "
            f"{violations[0].message}); lpsched validate {path} lists them"
        )
    return schedule


def add_export(sub: Any) -> None:
    """Register ``lpsched export`` on the subparsers ``sub``."""
    from ..torch_export import TORCH_FORMATS

    p = sub.add_parser(
        "export",
        help="a schedule as programs, a trace or a torch action CSV",
        description="Turn a valid schedule file into per-processor programs (JSON: prologue, "
        "loop, epilogue; CSV: every action of N iterations), a Chrome/Perfetto trace of N "
        "iterations, or the per-rank action CSV of torch.distributed.pipelining (stage-shaped "
        "schedules only). Default N: 2 x depth + 2 (depth = prologue windows).",
    )
    p.add_argument("schedule", help="a schedule file (lpsched solve -o)")
    p.add_argument("--programs", metavar="PATH", help="write the programs here (.json or .csv)")
    p.add_argument("--trace", metavar="PATH", help="write a Chrome/Perfetto trace here (.json)")
    p.add_argument(
        "--torch-pipelining",
        metavar="PATH",
        help="write torch.distributed.pipelining's per-rank action CSV here (.csv)",
    )
    p.add_argument(
        "--torch-format",
        choices=TORCH_FORMATS,
        default="compute_only",
        help="compute_only (default: torch adds the sends and receives) or compute_comms",
    )
    p.add_argument(
        "--iterations",
        "-n",
        type=iterations_type(MAX_ITERATIONS),
        metavar="N",
        help="iterations (microbatches) to unroll; default 2 x depth + 2",
    )
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    """Validate the schedule, build its programs and write every output asked for.

    Every output is built before the first is written: an error leaves nothing behind.
    """
    outputs = [
        ("--programs", args.programs, (".json", ".csv")),
        ("--trace", args.trace, (".json",)),
        ("--torch-pipelining", args.torch_pipelining, (".csv",)),
    ]
    if not any(path for _, path, _ in outputs):
        raise InputError("export: give at least one of --programs, --trace, --torch-pipelining")
    check_outputs(outputs, inputs=[args.schedule])
    schedule = read_valid_schedule(args.schedule)
    from ..programs import build_programs

    programs = build_programs(schedule)
    n = args.iterations or programs.default_iterations()
    per_iteration = sum(len(loop) for loop in programs.loops)
    if n * per_iteration > MAX_ACTIONS:
        raise InputError(
            f"--iterations {n}: {n} x {per_iteration} actions is more than the limit of "
            f"{MAX_ACTIONS:,}; unroll fewer iterations"
        )
    texts = _texts(args, schedule, programs, n)
    from ..graph import write_text_atomic

    for path, (text, line) in texts.items():
        write_text_atomic(path, text)
        say(f"wrote {path}: {line}")
    return 0


def _texts(args: argparse.Namespace, schedule: Any, programs: Any, n: int) -> dict[str, Any]:
    """``path -> (text, what it holds)`` for every output asked for."""
    from ..programs import programs_csv, programs_to_dict

    where = f"{programs.processors} processors, period {schedule.describe_period()}"
    what = f"depth {programs.depth}, {n} iteration{'s' if n != 1 else ''}"
    out: dict[str, Any] = {}
    if args.programs and args.programs.lower().endswith(".json"):
        if n < programs.depth:
            raise InputError(
                f"--iterations {n} is less than the depth {programs.depth}: the programs JSON "
                f"holds a prologue and an epilogue of {programs.depth} windows each"
            )
        text = json.dumps(programs_to_dict(programs, n), indent=1) + "\n"
        out[args.programs] = (text, f"programs of {where}, depth {programs.depth}")
    elif args.programs:
        out[args.programs] = (programs_csv(programs, n), f"programs of {where}, {what}")
    if args.trace:
        from ..trace import programs_trace

        text = json.dumps(programs_trace(programs, n), separators=(",", ":")) + "\n"
        out[args.trace] = (text, f"trace of {where}, {what}")
    if args.torch_pipelining:
        out[args.torch_pipelining] = _torch_text(args, schedule, programs, n)
    return out


def _torch_text(args: argparse.Namespace, schedule: Any, programs: Any, n: int) -> Any:
    """The torch CSV and its line; says which processor each rank is and what torch skips."""
    from ..torch_export import skipping_tensors, stages_of, torch_actions, torch_csv

    stages = stages_of(schedule)
    rows = torch_actions(schedule, programs, n, comms=args.torch_format == "compute_comms")
    ranks = ", ".join(f"rank {st.index} = processor {st.processor}" for st in stages)
    skipped = skipping_tensors(schedule, stages)
    if skipped:
        say(
            f"note: {len(skipped)} tensors cross non-adjacent stages, e.g. {skipped[0]}: "
            "torch's runtime sends only between adjacent stages"
        )
    line = (
        f"{len(stages)} stages ({ranks}), {n} microbatch{'es' if n != 1 else ''}, "
        f"{args.torch_format}; U tasks "
        "dropped (torch steps the optimizer after the step)"
    )
    return torch_csv(rows), line
