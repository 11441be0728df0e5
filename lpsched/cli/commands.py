"""The commands on one instance: ``networks``, ``graph``, ``bounds``, ``solve``, ``validate``.

And ``platforms``, which lists the presets.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import InfeasibleError, InputError
from ..files import brief, write_bytes_atomic
from ..graph import write_text_atomic
from ..schedule import PORT_DIRECTIONS
from ..units import format_bytes, format_ms, format_time
from .options import (
    EXPORT_SUFFIXES,
    FIGURE_SUFFIXES,
    check_outputs,
    load_instance,
    load_platform,
    placement_flag,
    say,
)

_SHOWN = 20  # violations listed by `validate` unless --all


# ----------------------------------------------------------------- commands
def cmd_networks(args: argparse.Namespace) -> int:
    """List the built-in networks."""
    from ..networks import BUILTIN_NETWORKS, get_network

    rows = []
    for name, description in BUILTIN_NETWORKS.items():
        net = get_network(name)
        rows.append(
            {
                "name": name,
                "layers": len(net.layers),
                "weighted_layers": sum(1 for layer in net.layers if layer.weighted),
                "params": net.total_params,
                "macs_per_sample": net.total_macs,
                "gmacs_per_sample": round(net.total_macs / 1e9, 6),
                "description": description,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'network':<10} {'layers':>6} {'weighted':>8} {'params':>9} {'MAC/sample':>10}  about")
    for r in rows:
        print(
            f"{r['name']:<10} {r['layers']:>6} {r['weighted_layers']:>8} "
            f"{_si(r['params']):>9} {_si(r['macs_per_sample']):>10}  {r['description']}"
        )
    return 0


def _si(value: float) -> str:
    """``61.7k``, ``138.4M``, ``15.47G``: a count with a decimal prefix, four digits."""
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.4g}{prefix}"
    return f"{value:.4g}"


def cmd_graph(args: argparse.Namespace) -> int:
    """Build a task graph and write it as JSON."""
    if args.output:
        check_outputs([("-o", args.output, None)], inputs=[args.net])
    graph = load_instance(args)
    text = graph.to_json()
    if args.output:
        write_text_atomic(args.output, text + "\n")
        err = graph.rounding_error
        note = f", rounding error {100 * err:.2f}%" if err is not None else ""
        unit = graph.time_unit_seconds
        work = (
            f"{graph.total_work} time units"
            if unit is None
            else f"{format_ms(graph.total_work * unit)} ({graph.total_work} x {format_time(unit)})"
        )
        size = f"{graph.n} tasks, {len(graph.edges)} edges"
        say(f"wrote {args.output}: {size}, total work {work}{note}")
    else:
        print(text)
    return 0


def cmd_bounds(args: argparse.Namespace) -> int:
    """Print the lower bounds of an instance."""
    from ..bounds import lower_bounds
    from ..problem import Problem

    placement = placement_flag(args)
    platform = load_platform(args)
    graph = load_instance(args, platform.P)
    bounds = lower_bounds(Problem(graph, platform, placement))
    if args.json:
        print(json.dumps(bounds.to_dict()))
    else:
        print(bounds.summary())
    return 0


def cmd_solve(args: argparse.Namespace) -> int:
    """Solve one instance and report, write and plot the schedule."""
    from ..solve import solve

    check_outputs(
        [("-o", args.output, None), ("--gantt", args.gantt, FIGURE_SUFFIXES)]
        + [("--export", args.export, EXPORT_SUFFIXES)],
        inputs=[args.net, getattr(args, "platform", None)],
    )
    placement = placement_flag(args)
    platform = load_platform(args)
    graph = load_instance(args, platform.P)
    # A person watching sees the default time limit and one line per improvement (-v);
    # the solver's own log only with -vv.
    if args.verbose:
        say(f"platform: {platform.describe()}")
    result = solve(
        graph,
        platform,
        args.solver,
        time_limit=args.time_limit,
        seed=args.seed,
        workers=args.workers,
        secondary=args.secondary,
        log=say if args.verbose else _only_limits,
        export=args.export,
        deterministic=args.deterministic,
        solver_log=say if args.verbose >= 2 else None,
        placement=placement,
    )
    if result.schedule is None:
        raise InfeasibleError(result.summary())
    interrupted = bool(result.stats.get("interrupted"))
    # The chart is drawn before anything is written, so that a plotting error leaves no
    # schedule file behind; both are then written as the others are (links followed,
    # FIFOs written through).
    chart = render_gantt(result, args.gantt) if args.gantt else None
    if args.output:
        result.to_json(args.output)
    if chart is not None:
        write_bytes_atomic(args.gantt, chart)
    if args.json:
        print(result.to_json())
    else:
        print(result.summary())
        if args.verbose:
            print(processor_table(result))
    if interrupted:
        where = f", written to {args.output}" if args.output else ""
        say(f"lpsched: interrupted: kept the best schedule found (validated){where}")
        return 130
    return 0


def _only_limits(line: str) -> None:
    """Without -v, only the line that names the default time limit reaches stderr."""
    if "no time limit given" in line:
        say(line)


def render_gantt(result: Any, path: str) -> bytes:
    """The Gantt chart of ``result`` as the bytes of a PNG, SVG or PDF file (by ``path``)."""
    import io

    from ..plot import gantt_figure

    buffer = io.BytesIO()
    try:
        gantt_figure(result).savefig(buffer, format=Path(path).suffix.lower()[1:], dpi=120)
    except ValueError as err:  # a chart matplotlib cannot draw: one line, not a traceback
        if isinstance(err, InputError):
            raise
        reason = brief(str(err).strip().splitlines()[0] if str(err).strip() else repr(err))
        raise InputError(f"--gantt {path}: cannot draw the chart ({reason})") from None
    return buffer.getvalue()


def processor_table(result: Any) -> str:
    """Per processor: load, utilisation, footprint, capacity, port loads and tasks by start mod T.

    ``memory`` is the processor's footprint (the validator's count,
    :mod:`lpsched.footprint`); when the platform sets a memory, ``capacity``
    gives it and the footprint's share of it (over 100% when it does not fit).
    A port column is the share of the period the port is busy (``ports``) or
    would need at its bandwidth (``delay``, where it may exceed 100%); notes
    under the table say which.
    """
    sched = result.schedule
    T = sched.period
    ports, header, note = _port_columns(sched)
    memory = sched.footprints()
    caps, cap_header, cap_note = _capacity_column(sched, memory)
    lines = [
        f"{'proc':>4} {'tasks':>5} {'busy':>7} {'util':>6} {'memory':>9}{cap_header}{header}"
        "  tasks (start mod T)"
    ]
    util = sched.utilisation()
    for p in range(sched.processors):
        names = sorted(
            (t for t in sched.graph.tasks if sched.processor[t.name] == p),
            key=lambda t: (sched.start[t.name] % T, t.name),
        )
        busy = sum(sched.duration(t.name) for t in names)
        shown = ", ".join(f"{t.name}({sched.start[t.name] % T})" for t in names[:8])
        more = f", ... {len(names) - 8} more" if len(names) > 8 else ""
        lines.append(
            f"{p:>4} {len(names):>5} {busy:>7} {100 * util[p]:>5.1f}% "
            f"{format_bytes(memory[p]):>9}{caps[p]}{ports[p]}  {shown}{more}"
        )
    return "\n".join(lines + [n for n in (cap_note, note) if n])


def _capacity_column(sched: Any, memory: list[float]) -> tuple[list[str], str, str]:
    """The ``capacity`` cells (``"16 GB 77%"``, ``"-"`` where unlimited), header and note.

    None when no processor has a memory: the table is then as before capacities.
    """
    caps = [p.memory for p in sched.platform.processors]
    if all(c is None for c in caps):
        return [""] * sched.processors, "", ""
    cells = []
    for f, c in zip(memory, caps, strict=True):
        text = "-" if c is None else f"{format_bytes(c)} {100 * f / c:.0f}%"
        cells.append(f" {text:>14}{'!' if c is not None and f > c else ' '}")
    over = sum(1 for f, c in zip(memory, caps, strict=True) if c is not None and f > c)
    note = "capacity: the processor's memory and the footprint's share of it"
    if over:
        note += f"; ! marks {over} processor{'s' if over > 1 else ''} over capacity"
    return cells, f" {'capacity':>15}", note


def _port_columns(sched: Any) -> tuple[list[str], str, str]:
    """The port cells of each processor's row, their header and the note under the table.

    One column per direction and link class the platform has (``out``, ``in``;
    ``out/intra`` ... with two classes), then the bytes sent per iteration.
    None on one processor, where nothing crosses.
    """
    classes = sched.platform.link_classes
    if not classes:
        return [""] * sched.processors, "", ""
    loads = {(x.processor, x.direction, x.link): x for x in sched.port_loads()}
    cols = [(d, c) for c in classes for d in PORT_DIRECTIONS]
    names = [d if len(classes) == 1 else f"{d}/{c}" for d, c in cols]
    width = max(7, *(len(n) for n in names))
    header = "".join(f" {n:>{width}}" for n in names) + f" {'sent':>9}"
    cells = []
    for p in range(sched.processors):
        row = ""
        for d, c in cols:
            load = loads[(p, d, c)].load
            row += f" {'-' if load is None else f'{100 * load:.1f}%':>{width}}"
        sent = sum(loads[(p, "out", c)].bytes for c in classes)
        cells.append(f"{row} {format_bytes(sent):>9}")
    if sched.platform.capacity == "ports":
        note = "ports: the share of the period each port's transfers take; sent: bytes/iteration"
    else:
        note = (
            "ports (capacity delay, links never busy): the share of the period each port "
            "would need at its bandwidth, over 100% when it cannot carry the messages; "
            "sent: bytes/iteration"
        )
    return cells, header, note


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate a schedule file: exit 0 when valid, 1 with the violations listed."""
    from ..schedule import Result
    from ..validate import validate

    result = Result.read(args.schedule)
    sched = result.schedule
    assert sched is not None
    violations = validate(sched)
    if args.json:
        print(json.dumps({"valid": not violations, "violations": [v.message for v in violations]}))
    elif violations:
        print(f"{args.schedule}: INVALID, {len(violations)} violation(s):")
        shown = violations if args.all else violations[:_SHOWN]
        for v in shown:
            print(f"  {v.message}")
        if len(shown) < len(violations):
            print(f"  ... and {len(violations) - len(shown)} more (--all lists every one)")
    else:
        print(
            f"{args.schedule}: valid, period {sched.describe_period()} on "
            f"{sched.processors} processors, {sched.graph.n} tasks"
        )
    return 1 if violations else 0


def cmd_platforms(args: argparse.Namespace) -> int:
    """List the platform presets."""
    from ..platform import PRESETS, preset

    rows = [
        {"name": name, "description": desc, "platform": preset(name).to_dict()}
        for name, (desc, _spec) in PRESETS.items()
    ]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    width = max(len(name) for name in PRESETS)
    for name, (desc, _spec) in PRESETS.items():
        print(f"{name:<{width}}  {desc}")
        print(f"{'':<{width}}  {preset(name).describe()}")
    return 0
