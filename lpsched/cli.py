"""The ``lpsched`` command line.

Exit codes: 0 success; 1 an invalid schedule or an infeasible instance; 2 bad
input or usage, with one line on stderr naming what is wrong.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .errors import InfeasibleError, InputError
from .files import brief, check_output, file_kind, shown, write_bytes_atomic
from .graph import TaskGraph, read_json, write_text_atomic
from .units import format_bytes, limit_text


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``lpsched: error: MESSAGE`` and exit 2 (argparse prints the usage too)."""
        self.exit(2, f"lpsched: error: {message}\n")


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


_SHOWN = 20  # violations listed by `validate` unless --all
_NETWORK_FLAGS = (
    "decomposition",
    "staleness",
    "net_opt",
    "batch_size",
    "throughput",
    "dtype",
    "time_unit",
)

#: Bytes per element of each ``--dtype``.
DTYPES = {"fp32": 4, "bf16": 2, "fp16": 2}

#: Limits of the solve flags. Seeds are 32-bit (CP-SAT's ``random_seed`` is an int32);
#: more than 256 search workers helps no solver; a time limit of more than 11 days is a
#: typing error, and NaN or infinity no limit at all.
MAX_SEED = 2**31 - 1
MAX_WORKERS = 256
MAX_TIME_LIMIT = 1e6

#: What each output flag may end in.
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
EXPORT_SUFFIXES = (".lp", ".mps")

_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


# ---------------------------------------------------------------- flag types
def _flag_int(text: str, what: str, minimum: int, maximum: int) -> int:
    """An integer flag in ``minimum..maximum``, exactly (``3.0`` and ``2**70`` refused)."""
    if not _INTEGER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{what} must be an integer, got {brief(text)}")
    digits = text.strip().lstrip("+-").lstrip("0")
    value = int(text) if len(digits) <= 18 else (maximum + 1 if "-" not in text else minimum - 1)
    if not minimum <= value <= maximum:
        raise argparse.ArgumentTypeError(
            f"{what} must be between {minimum} and {limit_text(maximum)}, got {brief(text)}"
        )
    return value


def seed_flag(text: str) -> int:
    """``--seed``: 0 .. 2**31-1."""
    return _flag_int(text, "seed", 0, MAX_SEED)


def workers_flag(text: str) -> int:
    """``--workers``: 1 .. 256."""
    return _flag_int(text, "workers", 1, MAX_WORKERS)


def time_limit_flag(text: str) -> float:
    """``--time-limit``: seconds, positive and finite, at most :data:`MAX_TIME_LIMIT`."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value <= MAX_TIME_LIMIT):  # NaN fails every comparison
        raise argparse.ArgumentTypeError(
            f"time limit must be a positive number of seconds up to {MAX_TIME_LIMIT:.0f}, "
            f"got {brief(text)}"
        )
    return value


# ---------------------------------------------------------------- instances
def _parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` network options; values are ints, floats, int lists (``1,2``) or strings.

    A key given twice is refused (which one was meant?).
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--net-opt expects KEY=VALUE, got {brief(pair)}")
        if key in out:
            raise InputError(f"--net-opt {brief(key)} given twice")
        out[key] = _parse_value(raw)
    return out


def _parse_value(raw: str) -> Any:
    """An option value: ASCII integers exactly, finite decimals, ``true``/``false``, else text.

    Integers of more than 18 digits, ``nan`` and ``inf`` stay text: the network's
    option check then refuses them with its limit, instead of a float being rounded.
    """
    if "," in raw:
        return [_parse_value(x) for x in raw.split(",") if x]
    text = raw.strip()
    if _INTEGER.fullmatch(text) and len(text.lstrip("+-")) <= 18:
        return int(text)
    if _FLOAT.fullmatch(text) and math.isfinite(float(text)):
        return float(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return raw


def _costs(args: argparse.Namespace, network: Any) -> Any:
    """The cost model from the flags; ``--time-unit auto`` picks one with <= 2% rounding error."""
    from dataclasses import replace

    from .costs import CostModel
    from .taskgraph import suggest_time_unit

    kwargs: dict[str, Any] = {}
    for flag in ("batch_size", "throughput"):
        value = getattr(args, flag, None)
        if value is not None:
            kwargs[flag] = value
    dtype = getattr(args, "dtype", None)
    if dtype is not None:
        kwargs["bytes_per_element"] = DTYPES[dtype]
    unit = getattr(args, "time_unit", None) or "auto"
    if unit != "auto":
        kwargs["time_unit"] = unit
    costs = CostModel(**kwargs)
    if unit == "auto":
        costs = replace(costs, time_unit=suggest_time_unit(network, costs))
    return costs


def load_instance(args: argparse.Namespace, processors: int | None = None) -> TaskGraph:
    """The task graph that ``args.net`` names: a built-in network, a network file or a graph file.

    A task-graph file is scheduled exactly as given: ``--decomposition`` and
    ``--staleness`` apply to networks only and are an error with a graph file.
    """
    from .networks import BUILTIN_NETWORKS, get_network
    from .networks.io import network_from_dict, read_network_data
    from .taskgraph import build_task_graph

    spec: str = args.net
    options = _parse_options(getattr(args, "net_opt", None) or [])
    path = Path(spec)
    if spec in BUILTIN_NETWORKS:
        network = get_network(spec, **options)
    elif _exists(path):
        is_json = path.suffix.lower() == ".json"
        data = read_json(path) if is_json else read_network_data(path)
        if file_kind(data) == "lpsched-graph":
            if not is_json:
                raise InputError(
                    f"{spec}: is a task-graph file, but only files ending in .json are read "
                    "as task graphs: rename it"
                )
            _refuse_network_flags(args, spec)
            return TaskGraph.from_dict(data, source=str(path))
        if options:
            raise InputError("--net-opt applies to built-in networks only")
        network = network_from_dict(data, str(path), default_name=path.stem)
    else:
        known = ", ".join(BUILTIN_NETWORKS)
        raise InputError(f"unknown network {brief(spec)}: not a built-in ({known}) nor a file")
    graph = build_task_graph(
        network,
        decomposition=getattr(args, "decomposition", None) or "layerpipe",
        staleness=getattr(args, "staleness", None) or "auto",
        costs=_costs(args, network),
        processors=processors,
    )
    graph.check_limits()  # each task fits; their sum may not
    return graph


def _exists(path: Path) -> bool:
    """Whether ``path`` names something; a name too long or with a NUL names nothing."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _refuse_network_flags(args: argparse.Namespace, spec: str) -> None:
    for flag in _NETWORK_FLAGS:
        if getattr(args, flag, None):
            option = "--" + flag.replace("_", "-")
            raise InputError(
                f"{spec} is a task graph, scheduled as given: {option} applies to networks only"
            )


def _link_value(text: str | None, kind: str, what: str) -> Any:
    """``25GB/s`` for both link classes, or ``intra=450GB/s,inter=50GB/s`` per class."""
    from .units import parse_quantity

    if text is None:
        return None
    if "=" not in text:
        return parse_quantity(text, kind, what, allow_zero=kind == "time", allow_inf=kind != "time")
    out = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key.strip() not in ("intra", "inter"):
            raise InputError(f"{what}: expected intra=VALUE,inter=VALUE, got {text!r}")
        out[key.strip()] = parse_quantity(
            value,
            kind,
            f"{what} {key.strip()}",
            allow_zero=kind == "time",
            allow_inf=kind != "time",
        )
    return out


def _speeds(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        speeds = [float(x) for x in text.split(",")]
    except ValueError:
        raise InputError(f"--speeds must be numbers separated by commas, got {text!r}") from None
    return speeds


def platform_spec(args: argparse.Namespace, procs: int | None = None) -> dict[str, Any]:
    """The platform the flags describe, as a specification (``Platform.from_dict`` reads it).

    ``--platform`` names a preset or a file; without it the default platform
    of ``--procs`` processors. The other flags override what it says.
    """
    from .platform import PRESETS, override, preset_spec, read_spec
    from .units import parse_quantity

    name = getattr(args, "platform", None)
    if name is None:
        spec: dict[str, Any] = {}
    elif name in PRESETS:
        spec = preset_spec(name)
    elif _exists(Path(name)):
        spec = read_spec(name)
        spec.setdefault("name", Path(name).stem)
    else:
        raise InputError(
            f"unknown platform {brief(name)}: not a preset ({', '.join(PRESETS)}) nor a file"
        )
    memory = getattr(args, "memory", None)
    return override(
        spec,
        procs=procs,
        nodes=getattr(args, "nodes", None),
        speeds=_speeds(getattr(args, "speeds", None)),
        memory=None if memory is None else parse_quantity(memory, "bytes", "--memory"),
        bandwidth=_link_value(getattr(args, "bandwidth", None), "bandwidth", "--bandwidth"),
        latency=_link_value(getattr(args, "latency", None), "time", "--latency"),
        capacity=getattr(args, "capacity", None),
    )


def load_platform(args: argparse.Namespace) -> Any:
    """The platform of ``solve`` and ``bounds``: ``--platform``, ``--procs`` and overrides."""
    from .platform import Platform

    procs = getattr(args, "procs", None)
    spec = platform_spec(args, procs)
    name = getattr(args, "platform", None)
    if "processors" not in spec and name is None:  # a file without them says so below
        if getattr(args, "speeds", None):
            raise InputError("--speeds needs --procs or --platform")
        raise InputError("give --procs P or --platform NAME|FILE")
    source = name if name is not None and _exists(Path(name)) else "platform"
    return Platform.from_dict(spec, source=source)


# ----------------------------------------------------------------- commands
def cmd_networks(args: argparse.Namespace) -> int:
    """List the built-in networks."""
    from .networks import BUILTIN_NETWORKS, get_network

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
        _stderr(
            f"wrote {args.output}: {graph.n} tasks, {len(graph.edges)} edges, total work "
            f"{graph.total_work} {graph.time_unit}{note}"
        )
    else:
        print(text)
    return 0


def cmd_bounds(args: argparse.Namespace) -> int:
    """Print the lower bounds of an instance."""
    from .bounds import lower_bounds
    from .platform import check_scale

    platform = load_platform(args)
    graph = load_instance(args, platform.P)
    check_scale(platform, graph)
    bounds = lower_bounds(graph, platform)
    if args.json:
        print(json.dumps(bounds.to_dict()))
    else:
        print(bounds.summary())
    return 0


def cmd_solve(args: argparse.Namespace) -> int:
    """Solve one instance and report, write and plot the schedule."""
    from .platform import check_scale
    from .solve import solve

    check_outputs(
        [("-o", args.output, None), ("--gantt", args.gantt, FIGURE_SUFFIXES)]
        + [("--export", args.export, EXPORT_SUFFIXES)],
        inputs=[args.net, getattr(args, "platform", None)],
    )
    platform = load_platform(args)
    graph = load_instance(args, platform.P)
    check_scale(platform, graph)
    log = _stderr if args.verbose else None
    if args.verbose:
        _stderr(f"platform: {platform.describe()}")
    result = solve(
        graph,
        platform,
        args.solver,
        time_limit=args.time_limit,
        seed=args.seed,
        workers=args.workers,
        secondary=args.secondary,
        log=log,
        export=args.export,
    )
    if result.schedule is None:
        raise InfeasibleError(result.summary())
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
        return 0
    print(result.summary())
    if args.verbose:
        print(_processor_table(result))
    return 0


def check_outputs(
    outputs: Sequence[tuple[str, str | None, Sequence[str] | None]],
    inputs: Sequence[str | None] = (),
) -> None:
    """Check every output path of a command before any work: ``(flag, path, suffixes)``.

    Refuses a bad extension, a directory, a missing or read-only directory, two
    flags naming one file (the second would overwrite the first), and an output
    that is one of the command's input files (``solve net.yaml -o net.yaml``).
    """
    import os

    given = {os.path.realpath(p): p for p in inputs if p is not None and _exists(Path(p))}
    seen: dict[str, str] = {}
    for flag, path, suffixes in outputs:
        if path is None:
            continue
        check_output(path, suffixes, flag)
        real = os.path.realpath(path)
        if real in given:
            raise InputError(f"{flag} {shown(path)} is the input file {shown(given[real])}")
        if real in seen:
            raise InputError(f"{seen[real]} and {flag} name the same file {shown(path)}")
        seen[real] = flag


def render_gantt(result: Any, path: str) -> bytes:
    """The Gantt chart of ``result`` as the bytes of a PNG, SVG or PDF file (by ``path``)."""
    import io

    from .plot import gantt_figure

    buffer = io.BytesIO()
    try:
        gantt_figure(result).savefig(buffer, format=Path(path).suffix.lower()[1:], dpi=120)
    except ValueError as err:  # a chart matplotlib cannot draw: one line, not a traceback
        if isinstance(err, InputError):
            raise
        reason = brief(str(err).strip().splitlines()[0] if str(err).strip() else repr(err))
        raise InputError(f"--gantt {path}: cannot draw the chart ({reason})") from None
    return buffer.getvalue()


def _processor_table(result: Any) -> str:
    """Per processor: load, utilisation, footprint and its tasks by start within the period."""
    sched = result.schedule
    T = sched.period
    lines = [f"{'proc':>4} {'tasks':>5} {'busy':>7} {'util':>6} {'memory':>9}  tasks (start mod T)"]
    util = sched.utilisation()
    memory = sched.footprints()
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
            f"{format_bytes(memory[p]):>9}  {shown}{more}"
        )
    return "\n".join(lines)


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate a schedule file: exit 0 when valid, 1 with the violations listed."""
    from .schedule import Result
    from .validate import validate

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


def _add_executor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--jobs", "-j", type=int, help="rows solved in parallel, 1..1024 (default: all cores)"
    )
    p.add_argument(
        "--executor",
        choices=["local", "dask"],
        help="local processes (default) or a Dask cluster (pip install lpsched[dask])",
    )
    p.add_argument(
        "--scheduler", metavar="ADDRESS", help="existing Dask scheduler, e.g. tcp://host:8786"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line on stderr")


def _sweep_common(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments shared by ``sweep`` and ``compare``, from the command line.

    The network is resolved here, so that the cost model follows the same
    rules as ``lpsched solve`` (``--time-unit auto`` fitted to the network).
    The numbers, the output paths and the processor counts are checked first,
    so that bad input is refused before anything is built or written.
    """
    import os

    from .files import brief, check_output
    from .sweep import check_numbers, parse_procs, resolve_network

    check_numbers(args.time_limit, args.seed, args.workers, args.jobs)
    output, plot = getattr(args, "output", None), getattr(args, "plot", None)
    if output is not None:
        check_output(output, None, "-o")
    if plot is not None:
        from .plot import check_figure_path

        check_figure_path(plot, "--plot")
        if output is not None and os.path.realpath(output) == os.path.realpath(plot):
            raise InputError(f"-o and --plot name the same file {brief(plot)}")
    procs = parse_procs(args.procs)
    instance = resolve_network(args.net, _parse_options(args.net_opt or []))
    cost_flags = ("batch_size", "throughput", "time_unit")
    if isinstance(instance, TaskGraph):
        for flag in _NETWORK_FLAGS:
            if getattr(args, flag, None):
                option = "--" + flag.replace("_", "-")
                raise InputError(
                    f"{args.net} is a task graph, scheduled as given: {option} "
                    "applies to networks only"
                )
        costs = None
    else:
        given = any(getattr(args, flag, None) is not None for flag in cost_flags)
        costs = _costs(args, instance) if given else None
    # --procs is the range here: each row's platform is override(spec, procs=P), and a
    # solver that cannot take it (speeds, nodes, memory) is refused before any work.
    platform = platform_spec(args)
    return {
        "network": instance,
        "procs": procs,
        "platform": platform,
        "time_limit": args.time_limit,
        "seed": args.seed,
        "staleness": args.staleness,
        "costs": costs,
        "workers": args.workers,
        "executor": args.executor or ("dask" if args.scheduler else "local"),
        "jobs": args.jobs,
        "scheduler": args.scheduler,
        "progress": None if args.quiet else True,
    }


def _frame_json(df: Any) -> list[dict[str, Any]]:
    # pandas writes NaN and <NA> as null and numpy integers as plain numbers.
    return json.loads(df.to_json(orient="records"))


def cmd_sweep(args: argparse.Namespace) -> int:
    """Solve a grid of processor counts, solvers and decompositions; print and save the table."""
    from .solve import SOLVERS
    from .sweep import format_table, parse_names, sweep
    from .taskgraph import DECOMPOSITIONS

    if args.resume and not args.output:
        raise InputError("--resume needs -o/--output (the CSV to resume)")
    kwargs = _sweep_common(args)
    solvers = parse_names(args.solvers, SOLVERS, "solvers")
    decomps = (
        None
        if args.decompositions is None
        else parse_names(args.decompositions, DECOMPOSITIONS, "decompositions")
    )
    try:
        df = sweep(
            solvers=solvers,
            decompositions=decomps,
            output=args.output,
            resume=args.resume,
            **kwargs,
        )
    except KeyboardInterrupt:
        if args.output:
            _stderr(f"lpsched: finished rows are in {args.output}; --resume carries on")
        raise
    if args.plot:
        from .plot import plot_speedup, save_figure

        save_figure(plot_speedup(df), args.plot, what="--plot")
        _stderr(f"wrote {args.plot}")
    if args.output:
        _stderr(f"wrote {args.output}: {len(df)} rows")
    if args.json:
        print(json.dumps(_frame_json(df)))
    else:
        print(format_table(df))
        for line in _sweep_summary(df):
            print(line)
    return _report_failures(df)


def _report_failures(df: Any) -> int:
    """List rows of invalid schedules or crashed solvers on stderr; 1 when there are any."""
    from .sweep import DEFAULT_PLATFORM, REDO_STATUSES

    failed = df[df["status"].isin(REDO_STATUSES)]
    for r in failed.itertuples(index=False):
        what = "invalid schedule" if r.status == "invalid" else "solver error"
        on = "" if r.platform == DEFAULT_PLATFORM else f" on {r.platform}"
        _stderr(f"lpsched: {what}: {r.solver} {r.decomposition} P={r.procs}{on}: {r.error}")
    return 1 if len(failed) else 0


def _sweep_summary(df: Any) -> list[str]:
    """One line per solver, decomposition and platform: optimal rows, best period, mean gap.

    The speedup is ``sum(d) / T`` (the total work over the period), the gap in percent.
    """
    import pandas as pd

    from .sweep import DEFAULT_PLATFORM, four_digits

    lines = []
    for (dec, solver, plat), part in df.groupby(["decomposition", "solver", "platform"], sort=True):
        ok = part[part["period"].notna()]
        optimal = int((part["status"] == "optimal").sum())
        on = "" if plat == DEFAULT_PLATFORM else f" on {plat}"
        line = f"{solver} ({dec}){on}: {len(part)} rows, {optimal} optimal"
        if len(ok):
            best = ok.loc[ok["speedup"].idxmax()]
            ms = best["period_ms"]
            period = f"period {best['period']}"
            if not pd.isna(ms):
                period += f", {four_digits(ms)} ms"  # as the table shows it
            line += (
                f", best speedup (work/T) {best['speedup']:.2f} at P={best['procs']} ({period}), "
                f"mean gap {100 * ok['gap'].mean():.1f}%"
            )
        missing = len(part) - len(ok)
        if missing:
            line += f", {missing} without a schedule"
        lines.append(line)
    return lines


def cmd_compare(args: argparse.Namespace) -> int:
    """LayerPipe's best period against the PipeDream planner's, per processor count.

    The summary line says how many LayerPipe periods are proven optimal; it
    never calls LayerPipe optimal when only some are.
    """
    from .compare import compare, format_comparison, format_summary

    kwargs = _sweep_common(args)
    table = compare(solver=args.solver, **kwargs)
    summary = table.attrs["summary"]
    if args.output:
        write_text_atomic(args.output, table.to_csv(index=False))
        _stderr(f"wrote {args.output}: {len(table)} rows")
    if args.json:
        print(
            json.dumps(
                {
                    "network": str(table["network"].iloc[0]) if len(table) else "",
                    "rows": _frame_json(table),
                    "summary": summary,
                }
            )
        )
    else:
        print(format_comparison(table))
        print(format_summary(summary))
    failed = table[table["error"] != ""]
    for r in failed.itertuples(index=False):
        _stderr(f"lpsched: failed at P={r.procs}: {r.error}")
    return 1 if len(failed) else 0


# ------------------------------------------------------------------- parser
def _add_network_args(p: argparse.ArgumentParser, decomposition: bool = True) -> None:
    p.add_argument("net", metavar="NET", help="built-in network, network file or task-graph file")
    if decomposition:
        p.add_argument(
            "--decomposition",
            "-d",
            choices=["pipedream", "intra", "layerpipe"],
            help="how primitive tasks are grouped (default layerpipe)",
        )
        p.add_argument(
            "--staleness",
            help="sync, an integer, layerpipe2, auto or auto:CAP (default auto, cap 2P-1)",
        )
    costs = p.add_argument_group("cost model (networks only)")
    costs.add_argument("--batch-size", type=int, help="mini-batch size (default 32)")
    costs.add_argument("--throughput", type=float, help="MACs per second per processor (10e12)")
    costs.add_argument(
        "--dtype",
        choices=list(DTYPES),
        help="element type of activations, gradients and weights (default fp32: 4 bytes)",
    )
    costs.add_argument(
        "--time-unit",
        help="duration unit, e.g. 25us or 1ms; auto (default): the coarsest with <= 2%% rounding",
    )
    p.add_argument(
        "--net-opt",
        action="append",
        metavar="KEY=VALUE",
        help="built-in network option, e.g. seq_len=128 or widths=784,512,10",
    )


def _add_platform_args(p: argparse.ArgumentParser, procs: str) -> None:
    g = p.add_argument_group("platform")
    if procs == "one":
        g.add_argument(
            "--procs", "-P", type=int, help="number of processors (or the count of --platform)"
        )
    else:
        g.add_argument(
            "--procs", "-P", default=procs, help=f"counts: 1-16, 2,4,8 or 8 (default {procs})"
        )
    g.add_argument(
        "--platform", metavar="NAME|FILE", help="a preset (lpsched platforms) or a platform YAML"
    )
    g.add_argument(
        "--bandwidth",
        metavar="BW",
        help="link bandwidth, e.g. 25GB/s or 200Gb/s, or intra=450GB/s,inter=50GB/s "
        "(default 50GB/s)",
    )
    g.add_argument(
        "--latency", metavar="TIME", help="link latency per message, e.g. 10us (default 10us)"
    )
    g.add_argument("--memory", metavar="SIZE", help="memory per processor, e.g. 80GB or 80GiB")
    g.add_argument("--nodes", type=int, help="split the processors evenly into this many nodes")
    g.add_argument(
        "--speeds", metavar="S,S,...", help="relative speed of each processor, e.g. 1,1,0.5,0.5"
    )
    g.add_argument("--capacity", choices=["delay", "ports"], help="link model (default delay)")


def cmd_platforms(args: argparse.Namespace) -> int:
    """List the platform presets."""
    from .platform import PRESETS, preset

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


def _add_sweep_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--staleness",
        help="sync, an integer, layerpipe2, auto or auto:CAP (default auto, cap 2P-1)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        help="seconds per row of an exact solver, up to 1000000 (the ETA counts on it)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="random seed of every row, 0..2**31-1 (default 0)"
    )
    p.add_argument(
        "--workers",
        type=int,
        help="CP-SAT workers per row, 1..256 (default 1 when rows run in parallel)",
    )
    _add_executor_args(p)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    from . import __version__

    parser = _Parser(
        prog="lpsched",
        description="Periodic schedules for pipelined DNN training, by integer programming.",
    )
    parser.add_argument("--version", action="version", version=f"lpsched {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("networks", help="built-in networks, their layers and total cost")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_networks)

    p = sub.add_parser("graph", help="build a task graph and write it as JSON")
    _add_network_args(p)
    p.add_argument("-o", "--output", help="write the graph here instead of stdout")
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("platforms", help="platform presets: processors, links, memory")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_platforms)

    p = sub.add_parser("bounds", help="lower bounds: resource, longest task, iteration bound")
    _add_network_args(p)
    _add_platform_args(p, "one")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bounds)

    from .solve import SECONDARY, SOLVERS

    p = sub.add_parser("solve", help="find a schedule on P processors")
    _add_network_args(p)
    _add_platform_args(p, "one")
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
        "-v", "--verbose", action="store_true", help="solver log and per-processor table"
    )
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("validate", help="check a schedule file against the definition")
    p.add_argument("schedule", help="schedule JSON (lpsched solve -o)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--all", action="store_true", help="list every violation, not the first 20")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("sweep", help="solve for many processor counts, solvers, decompositions")
    _add_network_args(p, decomposition=False)
    _add_platform_args(p, "1-16")
    p.add_argument(
        "--solvers", default="heuristic", help=f"comma-separated, from {', '.join(SOLVERS)}"
    )
    p.add_argument(
        "--decompositions",
        help="comma-separated, from pipedream, intra, layerpipe (default layerpipe)",
    )
    _add_sweep_args(p)
    p.add_argument("-o", "--output", help="CSV that receives every row as it finishes")
    p.add_argument("--resume", action="store_true", help="skip the rows already in -o")
    p.add_argument("--plot", help="write the speedup plot (PNG, SVG or PDF) here")
    p.add_argument("--json", action="store_true", help="print the table as JSON rows")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser(
        "compare",
        help="LayerPipe (exact solver) against the PipeDream planner, per P",
        description="LayerPipe's best period (by --solver) against the PipeDream planner's, "
        "per processor count; the summary says how many LayerPipe periods are proven optimal.",
    )
    _add_network_args(p, decomposition=False)
    _add_platform_args(p, "7-9")
    p.add_argument(
        "--solver",
        "-s",
        choices=list(SOLVERS),
        default="cpsat",
        help="LayerPipe solver (default cpsat; the summary says how many rows it proved)",
    )
    _add_sweep_args(p)
    p.add_argument("-o", "--output", help="write the comparison table (CSV) here")
    p.add_argument("--json", action="store_true", help="print rows and summary as one JSON object")
    p.set_defaults(func=cmd_compare)
    return parser


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's exit flush does not raise again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no real file (tests capture it)
        pass


def _one_line(err: Exception) -> str:
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
        _stderr(f"lpsched: error: {_one_line(err)}")
        return 2
    except InfeasibleError as err:
        _stderr(f"lpsched: infeasible: {_one_line(err)}")
        return 1
    except MemoryError:
        _stderr("lpsched: error: out of memory: the instance is too large for this machine")
        return 2
    except KeyboardInterrupt:
        _stderr("lpsched: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
