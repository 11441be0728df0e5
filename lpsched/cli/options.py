"""The command line's flags: their types and groups, and the instance and platform they name."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..files import brief, check_output, file_kind, shown
from ..graph import TaskGraph, read_json
from ..solvers.registry import MAX_SEED, MAX_TIME_LIMIT, MAX_WORKERS
from ..units import limit_text


def say(line: str) -> None:
    """Print one line on stderr at once (progress, notes, errors)."""
    print(line, file=sys.stderr, flush=True)


NETWORK_FLAGS = (
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
def parse_net_options(pairs: Sequence[str]) -> dict[str, Any]:
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


def cost_model(args: argparse.Namespace, network: Any) -> Any:
    """The cost model from the flags; ``--time-unit auto`` picks one with <= 2% rounding error."""
    from dataclasses import replace

    from ..costs import CostModel
    from ..taskgraph import suggest_time_unit

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
    """The task graph that ``args.net`` names.

    A built-in network, a network file, a task-graph file, a PipeDream profile
    (``pipedream:PATH``) or a PyTorch model factory (``package.module:factory``).
    A task-graph file is scheduled exactly as given: ``--decomposition`` and
    ``--staleness`` apply to networks only and are an error with a graph file.
    ``--costs profile.csv`` (and a PipeDream profile) replace the cost model's
    times and bytes by measured ones; one line on stderr says where they come
    from and how unmeasured parts were filled.
    """
    from ..networks import BUILTIN_NETWORKS, get_network
    from ..networks.io import network_from_dict, read_network_data
    from ..profiles import read_profile_csv
    from ..taskgraph import build_task_graph
    from .profile import measured_costs, special_network

    spec: str = args.net
    options = parse_net_options(getattr(args, "net_opt", None) or [])
    costs_file = getattr(args, "costs", None)
    path = Path(spec)
    measured = None
    if spec in BUILTIN_NETWORKS:
        network = get_network(spec, **options)
    elif path_exists(path):
        is_json = path.suffix.lower() == ".json"
        data = read_json(path) if is_json else read_network_data(path)
        if file_kind(data) == "lpsched-graph":
            if not is_json:
                raise InputError(
                    f"{spec}: is a task-graph file, but only files ending in .json are read "
                    "as task graphs: rename it"
                )
            refuse_network_flags(args, spec)
            if costs_file:
                raise InputError(
                    f"{spec} is a task graph, scheduled as given: --costs applies to networks only"
                )
            return TaskGraph.from_dict(data, source=str(path))
        if options:
            raise InputError("--net-opt applies to built-in networks only")
        network = network_from_dict(data, str(path), default_name=path.stem)
    elif (found := special_network(spec, options)) is not None:
        network, measured = found
    else:
        known = ", ".join(BUILTIN_NETWORKS)
        raise InputError(f"unknown network {brief(spec)}: not a built-in ({known}) nor a file")
    if costs_file:
        if measured is not None:
            raise InputError(f"--costs: {spec} is a measured profile already")
        measured = read_profile_csv(costs_file, network)
    costs = cost_model(args, network)
    if measured is not None:
        costs = measured_costs(args, network, measured, costs)
    graph = build_task_graph(
        network,
        decomposition=getattr(args, "decomposition", None) or "layerpipe",
        staleness=getattr(args, "staleness", None) or "auto",
        costs=costs,
        processors=processors,
        measured=measured,
    )
    graph.check_limits()  # each task fits; their sum may not
    if measured is not None:
        say(f"{spec}: {measured.describe()}")
    return graph


def path_exists(path: Path) -> bool:
    """Whether ``path`` names something; a name too long or with a NUL names nothing."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def refuse_network_flags(args: argparse.Namespace, spec: str) -> None:
    """Refuse the network flags for a task-graph file, which is scheduled as given."""
    for flag in NETWORK_FLAGS:
        if getattr(args, flag, None):
            option = "--" + flag.replace("_", "-")
            raise InputError(
                f"{spec} is a task graph, scheduled as given: {option} applies to networks only"
            )


def _link_value(text: str | None, kind: str, what: str) -> Any:
    """``25GB/s`` for both link classes, or ``intra=450GB/s,inter=50GB/s`` per class."""
    from ..units import parse_quantity

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


#: Extra bytes of optimizer state per parameter byte (32-bit state like 32-bit weights):
#: plain SGD keeps none, momentum one velocity, Adam two moments.
OPTIMIZERS: dict[str, int] = {"sgd": 0, "momentum": 1, "adam": 2}


def platform_spec(args: argparse.Namespace, procs: int | None = None) -> dict[str, Any]:
    """The platform the flags describe, as a specification (``Platform.from_dict`` reads it).

    ``--platform`` names a preset or a file; without it the default platform
    of ``--procs`` processors. The other flags override what it says.
    """
    from ..platform import PRESETS, override, preset_spec, read_spec
    from ..units import parse_quantity

    name = getattr(args, "platform", None)
    if name is None:
        spec: dict[str, Any] = {}
    elif name in PRESETS:
        spec = preset_spec(name)
    elif path_exists(Path(name)):
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
        optimizer_state=OPTIMIZERS.get(getattr(args, "optimizer", None) or ""),
    )


def placement_flag(args: argparse.Namespace) -> str:
    """The one placement policy of ``--placement`` (``free`` when not given).

    Raises
    ------
    InputError
        On an unknown policy, or several where the command takes one.
    """
    from ..placement import check_placement

    text = getattr(args, "placement", None)
    if text is None:
        return "free"
    if "," in text:
        raise InputError(f"--placement takes one policy here, got {brief(text)}")
    return check_placement(text.strip())


def load_platform(args: argparse.Namespace) -> Any:
    """The platform of ``solve`` and ``bounds``: ``--platform``, ``--procs`` and overrides."""
    from ..platform import Platform

    procs = getattr(args, "procs", None)
    spec = platform_spec(args, procs)
    name = getattr(args, "platform", None)
    if "processors" not in spec and name is None:  # a file without them says so below
        if getattr(args, "speeds", None):
            raise InputError("--speeds needs --procs or --platform")
        raise InputError("give --procs P or --platform NAME|FILE")
    source = name if name is not None and path_exists(Path(name)) else "platform"
    return Platform.from_dict(spec, source=source)


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

    given = {os.path.realpath(p): p for p in inputs if p is not None and path_exists(Path(p))}
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


# ------------------------------------------------------------------- parser
def add_network_args(p: argparse.ArgumentParser, decomposition: bool = True) -> None:
    """The network argument, the decomposition and staleness flags and the cost model."""
    p.add_argument(
        "net",
        metavar="NET",
        help="built-in network, network file, task-graph file, pipedream:graph.txt "
        "or package.module:factory (a PyTorch model)",
    )
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
    costs.add_argument(
        "--costs",
        metavar="PROFILE.csv",
        help="measured times and bytes per layer (lpsched profile writes one)",
    )
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


def add_platform_args(p: argparse.ArgumentParser, procs: str) -> None:
    """The platform flags; ``procs`` is 'one' (a single count) or a default range."""
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
    g.add_argument(
        "--capacity",
        choices=["ports", "delay"],
        help="link model: ports (a link carries one message at a time; the default) or delay "
        "(links never busy: the old model, for comparison)",
    )
    g.add_argument(
        "--placement",
        metavar="POLICY" if procs == "one" else "POLICY[,POLICY...]",
        help="where a layer's tasks may go: free (any processor, the default), layer (all "
        "of a layer's tasks on one processor) or stages (layer, and each processor's layers "
        "contiguous: a straight pipeline of at most P stages)"
        + ("" if procs == "one" else "; sweep takes several, e.g. free,stages (one row each)"),
    )
    g.add_argument(
        "--optimizer",
        choices=list(OPTIMIZERS),
        help="optimizer state kept with each layer's update: sgd none, momentum 1 and adam 2 "
        "extra copies of the parameters (default: the platform's, else none)",
    )


def add_sweep_args(p: argparse.ArgumentParser) -> None:
    """The flags every row of a sweep or comparison takes."""
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
    add_executor_args(p)


def add_executor_args(p: argparse.ArgumentParser) -> None:
    """Where the rows of a sweep run."""
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
