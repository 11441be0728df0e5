"""Measured costs on the command line: ``lpsched profile``, ``pipedream:``, ``--costs``, modules.

``load_instance`` (:mod:`lpsched.cli.options`) asks :func:`special_network` for
the networks that are not built-ins or files (a PipeDream profile, a PyTorch
factory) and :func:`measured_costs` for the cost model of measured costs.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import replace
from typing import Any

from ..errors import InputError
from ..files import brief
from .options import check_outputs, say, seed_flag

#: ``package.module:factory`` (optionally ``torch:`` first): a PyTorch model factory.
FACTORY = re.compile(r"(?:torch:)?[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")

#: The prefix of a PipeDream profile given as NET.
PIPEDREAM = "pipedream:"


def special_network(spec: str, options: dict[str, Any]) -> tuple[Any, Any] | None:
    """The network (and measured costs) of ``pipedream:PATH`` or ``package.module:factory``.

    Returns
    -------
    (network, profile) or None
        ``profile`` is the :class:`~lpsched.profiles.LayerProfile` of a
        PipeDream profile, ``None`` for a PyTorch model; ``None`` when ``spec``
        is neither form.
    """
    if spec.startswith(PIPEDREAM):
        from ..profiles import load_pipedream

        if options:
            raise InputError("--net-opt applies to built-in networks only")
        return load_pipedream(spec[len(PIPEDREAM) :])
    if FACTORY.fullmatch(spec):
        from ..torch_import import load_factory

        if options:
            raise InputError("--net-opt applies to built-in networks only")
        return load_factory(spec), None
    return None


def measured_costs(args: argparse.Namespace, network: Any, measured: Any, costs: Any) -> Any:
    """The cost model for measured costs: the profile's batch, and a time unit fitted to it.

    ``--throughput`` is refused (the times are measured), and so is a
    ``--batch-size`` other than the one the profile was measured at.
    """
    from ..taskgraph import suggest_time_unit

    if getattr(args, "throughput", None) is not None:
        raise InputError(f"--throughput does not apply: {measured.source} gives measured times")
    every = all(
        t.out_bytes is not None and (t.param_bytes is not None or not network.layer(n).weighted)
        for n, t in measured.layers.items()
    )
    if every and getattr(args, "dtype", None) is not None:
        raise InputError(f"--dtype does not apply: {measured.source} gives every tensor's bytes")
    batch = getattr(args, "batch_size", None)
    if measured.batch_size is not None:
        if batch is not None and batch != measured.batch_size:
            raise InputError(
                f"--batch-size {batch}: {measured.source} was measured at batch "
                f"{measured.batch_size}, and measured times are not rescaled"
            )
        costs = replace(costs, batch_size=measured.batch_size)
    if (getattr(args, "time_unit", None) or "auto") == "auto":
        costs = replace(costs, time_unit=suggest_time_unit(network, costs, measured=measured))
    return costs


def cmd_profile(args: argparse.Namespace) -> int:
    """Time every task of a network's layers in PyTorch and write the profile CSV."""
    from ..files import write_text_atomic
    from ..profiler import profile_network
    from ..profiles import profile_to_csv

    if args.output:
        check_outputs([("-o", args.output, (".csv",))], inputs=[args.net])
    network = _network(args)
    rows, metadata = profile_network(
        network,
        batch_size=args.batch_size if args.batch_size is not None else 32,
        device=args.device,
        repeats=args.repeats,
        warmup=args.warmup,
        seed=args.seed,
        log=say if args.verbose else None,
    )
    text = profile_to_csv(rows, metadata)
    if args.output:
        write_text_atomic(args.output, text)
        total = sum(sum(v for v in (t.F, t.D, t.G, t.W, t.U) if v) for t in rows.values())
        say(
            f"wrote {args.output}: {len(rows)} layers of {network.name} at batch "
            f"{metadata['batch_size']} on {metadata['device']}, {1000 * total:.4g} ms per "
            f"iteration (median of {args.repeats})"
        )
    else:
        print(text, end="")
    return 0


def _network(args: argparse.Namespace) -> Any:
    """The network ``lpsched profile`` times: a built-in, a network file or a PyTorch factory."""
    from pathlib import Path

    from ..files import file_kind
    from ..networks import BUILTIN_NETWORKS, get_network
    from ..networks.io import network_from_dict, read_network_data
    from .options import parse_net_options, path_exists

    spec: str = args.net
    options = parse_net_options(args.net_opt or [])
    if spec in BUILTIN_NETWORKS:
        return get_network(spec, **options)
    if spec.startswith(PIPEDREAM):
        raise InputError(f"{brief(spec)} is measured already: lpsched profile takes a network")
    path = Path(spec)
    if path_exists(path):
        data = read_network_data(path)
        if file_kind(data) == "lpsched-graph":
            raise InputError(f"{spec}: is a task graph: lpsched profile takes a network")
        if options:
            raise InputError("--net-opt applies to built-in networks only")
        return network_from_dict(data, str(path), default_name=path.stem)
    found = special_network(spec, options)
    if found is None:
        known = ", ".join(BUILTIN_NETWORKS)
        raise InputError(f"unknown network {brief(spec)}: not a built-in ({known}) nor a file")
    return found[0]


def add_profile_args(p: argparse.ArgumentParser) -> None:
    """The flags of ``lpsched profile``."""
    p.add_argument(
        "net", metavar="NET", help="built-in network, network file or package.module:factory"
    )
    p.add_argument("-o", "--output", help="write the profile CSV here instead of stdout")
    p.add_argument("--batch-size", type=int, help="samples per mini-batch (default 32)")
    p.add_argument(
        "--device",
        choices=["cpu", "cuda", "auto"],
        default="cpu",
        help="where to time (default cpu)",
    )
    p.add_argument("--repeats", type=int, default=5, help="timed runs per task, median kept (5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs before them (2)")
    p.add_argument("--seed", type=seed_flag, default=0, help="seed of the random data (0)")
    p.add_argument(
        "--net-opt",
        action="append",
        metavar="KEY=VALUE",
        help="built-in network option, e.g. num_classes=10",
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="one line per layer")
    p.set_defaults(func=cmd_profile)
