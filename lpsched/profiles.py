"""Measured costs: PipeDream profiles (``graph.txt``) and lpsched's own profile CSV.

The MAC-based cost model (:mod:`lpsched.costs`) is a default, not the truth. A
measured profile gives, per layer, the forward time ``F``, the backward time or
its parts ``D``, ``G`` and ``W``, the weight update ``U``, and the bytes of the
layer's output and weights; :func:`~lpsched.taskgraph.build_task_graph` takes it
as ``measured=`` and uses it in place of the model for every primitive task, so
that every decomposition and staleness policy works unchanged
(``formulations/README.md``, "Measured costs").

**The split rule.** When a profile gives only a layer's whole backward time
``B`` (PipeDream does), it is split into the layer's ``D``, ``G`` and ``W``
tasks in proportion to the cost model's MAC counts of those tasks: ``D`` is
element-wise (one operation per output element), ``G`` and ``W`` are equal for
dense and convolution layers (both are the layer's forward product), and the
first layer has no ``G``. Parts that are measured are kept, and the rest of
``B`` is split among the others. A weight update that is not measured costs
nothing (its task lasts the minimum, one time unit).

**PipeDream's graph.txt** (the output of PipeDream's profiler) has node lines
``nodeN -- Desc -- forward_compute_time=MS, backward_compute_time=MS,
activation_size=BYTES, parameter_size=BYTES`` and edge lines ``<TAB>nodeA --
nodeB``; times are milliseconds for one mini-batch, sizes bytes. Its input node
is dropped (PipeDream's optimiser zeroes it: the data loader is not a stage), and
element-wise nodes (ReLU, Dropout, View, Size, ...) merge into a neighbour: into
the layer they feed when they feed one, so that every cut PipeDream's optimiser
can make before them remains (it cuts VGG-16 before ReLUs), else into the layer
that feeds them. The batch is not written in the file; it follows from the
activation sizes of the linear layers (``batch x out_features x 4`` bytes).

**The profile CSV** has a header and one row per layer: ``layer, F_ms, D_ms,
G_ms, W_ms, U_ms, out_bytes, param_bytes`` and optionally ``B_ms`` (the whole
backward time, to be split). An empty cell is not measured: the split rule fills
``D``, ``G`` and ``W`` from ``B_ms``, ``U`` counts as 0, and empty bytes are the
cost model's. Lines starting with ``#`` are comments; ``lpsched profile`` writes
one ``# lpsched-profile/1 batch_size=32 ...`` line, whose batch size the reader
keeps.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .files import brief, read_text, shown
from .graph import MAX_BYTES
from .networks.layers import Layer, Network

__all__ = [
    "CSV_COLUMNS",
    "PROFILE_TAG",
    "SPLIT_RULE",
    "LayerProfile",
    "LayerTimes",
    "PipeDreamGraph",
    "PipeDreamNode",
    "bundled_profiles",
    "load_pipedream",
    "parse_pipedream",
    "pipedream_network",
    "profile_to_csv",
    "read_profile_csv",
]

#: The rule that fills unmeasured backward parts, as every report states it.
SPLIT_RULE = (
    "backward split into D, G and W by their MACs (D element-wise; G = W for dense and "
    "convolution layers; no G for the first layer); an unmeasured U counts as 0"
)

#: Columns of the profile CSV, in the order :func:`profile_to_csv` writes them.
CSV_COLUMNS = ("layer", "F_ms", "D_ms", "G_ms", "W_ms", "U_ms", "out_bytes", "param_bytes")

#: The optional column of the whole backward time, split by :data:`SPLIT_RULE`.
_B_COLUMN = "B_ms"

#: The comment tag of the metadata line ``lpsched profile`` writes.
PROFILE_TAG = "lpsched-profile/1"

#: Bytes per element PipeDream's profiler measures (fp32).
_PIPEDREAM_ELEMENT = 4

#: Largest time a profile may give for one task (seconds): a day.
_MAX_SECONDS = 86_400.0

#: Relative tolerance of ``B`` against its measured parts.
_B_TOLERANCE = 1e-3

_KINDS = "FDGWU"


# --------------------------------------------------------------------------- costs
@dataclass(frozen=True)
class LayerTimes:
    """What was measured for one layer; ``None`` where nothing was.

    Parameters
    ----------
    F, D, G, W, U
        Seconds of each primitive task for one mini-batch.
    B
        Seconds of the whole backward pass (``D + G + W``), split by
        :data:`SPLIT_RULE` among the parts that are ``None``.
    out_bytes, param_bytes
        Bytes of the layer's output for one mini-batch and of its weights.
    """

    F: float | None = None
    D: float | None = None
    G: float | None = None
    W: float | None = None
    U: float | None = None
    B: float | None = None
    out_bytes: int | None = None
    param_bytes: int | None = None


@dataclass(frozen=True)
class LayerProfile:
    """Measured costs of a network's layers (the ``measured=`` of ``build_task_graph``).

    Parameters
    ----------
    layers
        Layer name -> :class:`LayerTimes`; every layer of the network.
    batch_size
        The mini-batch the times were measured at, when known.
    source
        Where the measurements come from, for messages.
    note
        What else a report should say (the device, the merged nodes).
    """

    layers: Mapping[str, LayerTimes]
    batch_size: int | None = None
    source: str = "profile"
    note: str = ""

    def seconds(self, layer: str, macs: Mapping[str, float]) -> dict[str, float]:
        """Seconds of each primitive task of ``layer``, filling unmeasured parts.

        Parameters
        ----------
        layer
            The layer's name.
        macs
            The cost model's MACs of each primitive task the layer has (its
            keys are the tasks that exist: ``F``, and ``D``, ``G``, ``W``,
            ``U`` where the layer has them).

        Raises
        ------
        InputError
            When the layer is not in the profile, a task it does not have is
            given a positive time, or a backward part is neither measured nor
            fillable from ``B``.
        """
        times = self._times(layer)
        where = f"{self.source}: layer {shown(layer)}"
        for kind in "DGWU":
            value = getattr(times, kind)
            if kind not in macs and value:
                raise InputError(f"{where} has no {kind} task, but {kind} is {_ms(value)}")
        if times.F is None:
            raise InputError(f"{where}: no forward time")
        out = {"F": times.F, "U": times.U or 0.0}
        out.update(self._backward(times, macs, where))
        return {kind: out[kind] for kind in macs}

    @staticmethod
    def _backward(times: LayerTimes, macs: Mapping[str, float], where: str) -> dict[str, float]:
        """``D``, ``G`` and ``W`` of one layer: measured, or their share of ``B`` by MACs."""
        needed = [k for k in "DGW" if k in macs]
        given = {k: getattr(times, k) for k in needed if getattr(times, k) is not None}
        missing = [k for k in needed if k not in given]
        measured = sum(given.values())
        if not missing:
            if times.B is not None and abs(times.B - measured) > _B_TOLERANCE * times.B + 1e-6:
                raise InputError(
                    f"{where}: B is {_ms(times.B)} but its parts "
                    f"{', '.join(needed)} sum to {_ms(measured)}"
                )
            return given
        if times.B is None:
            raise InputError(
                f"{where}: no {', '.join(missing)} time and no whole backward time B to split"
            )
        rest = times.B - measured
        if rest < -_B_TOLERANCE * times.B - 1e-6:
            raise InputError(
                f"{where}: B is {_ms(times.B)}, less than its measured parts ({_ms(measured)})"
            )
        rest = max(rest, 0.0)
        weights = [max(macs[k], 0.0) for k in missing]
        total = sum(weights)
        shares = [w / total for w in weights] if total > 0 else [1 / len(missing)] * len(missing)
        return {**given, **{k: rest * s for k, s in zip(missing, shares, strict=True)}}

    def output_bytes(self, layer: str) -> int | None:
        """Measured bytes of the layer's output (one mini-batch), or ``None``."""
        return self._times(layer).out_bytes

    def parameter_bytes(self, layer: str) -> int | None:
        """Measured bytes of the layer's weights, or ``None``."""
        return self._times(layer).param_bytes

    def _times(self, layer: str) -> LayerTimes:
        if layer not in self.layers:
            raise InputError(f"{self.source}: no measurements for layer {shown(layer)}")
        return self.layers[layer]

    def check(self, network: Network) -> None:
        """Refuse a profile whose layers are not exactly the network's.

        Raises
        ------
        InputError
            Naming the unknown layers, or the layers without a row, or a
            weightless layer given weights.
        """
        names = [layer.name for layer in network.layers]
        known = set(names)
        unknown = [name for name in self.layers if name not in known]
        if unknown:
            raise InputError(
                f"{self.source}: unknown layer(s) {_names(unknown)}: not layers of {network.name}"
            )
        missing = [name for name in names if name not in self.layers]
        if missing:
            raise InputError(
                f"{self.source}: no row for layer(s) {_names(missing)} of {network.name}"
            )
        for layer in network.layers:
            size = self.layers[layer.name].param_bytes
            if not layer.weighted and size:
                raise InputError(
                    f"{self.source}: layer {layer.name} has no weights, but param_bytes is {size}"
                )
            if layer.weighted and size == 0:
                raise InputError(
                    f"{self.source}: layer {layer.name} has weights, but param_bytes is 0"
                )

    def describe(self) -> str:
        """One line: where the costs come from, the batch, and how unmeasured parts are filled."""
        batch = f"batch {self.batch_size}" if self.batch_size is not None else "batch not stated"
        note = f", {self.note}" if self.note else ""
        split = any(t.B is not None for t in self.layers.values())
        return f"measured costs from {self.source} ({batch}{note}); " + (
            SPLIT_RULE if split else "every task as measured, an empty U counts as 0"
        )


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.6g} ms"


def _names(names: Sequence[str]) -> str:
    shownames = ", ".join(shown(n) for n in names[:5])
    return shownames + (f" and {len(names) - 5} more" if len(names) > 5 else "")


# ----------------------------------------------------------------- PipeDream files
@dataclass(frozen=True)
class PipeDreamNode:
    """One node line of a PipeDream ``graph.txt``.

    Attributes
    ----------
    id, desc
        The node's name (``node4``) and its module description (``Conv2d(...)``).
    forward_ms, backward_ms
        Forward and backward compute time of one mini-batch, milliseconds.
    activation_bytes, parameter_bytes
        Bytes of the node's output (one mini-batch) and of its parameters.
    line
        Line number in the file.
    """

    id: str
    desc: str
    forward_ms: float
    backward_ms: float
    activation_bytes: float
    parameter_bytes: float
    line: int

    @property
    def op(self) -> str:
        """The module name of the description: ``Conv2d``, ``ReLU``, ``Input``."""
        return self.desc.split("(", 1)[0].strip()


@dataclass(frozen=True)
class PipeDreamGraph:
    """A parsed ``graph.txt``: nodes in file order and edges ``(producer, consumer)``."""

    nodes: tuple[PipeDreamNode, ...]
    edges: tuple[tuple[str, str], ...]
    source: str


_FIELDS = ("forward_compute_time", "backward_compute_time", "activation_size", "parameter_size")

#: Node operations that carry no work worth a stage of their own: they merge into a
#: neighbour (:func:`pipedream_network`).
ELEMENTWISE = frozenset(
    {
        "ReLU",
        "ReLU6",
        "LeakyReLU",
        "ELU",
        "GELU",
        "SiLU",
        "Sigmoid",
        "Tanh",
        "Hardtanh",
        "Softmax",
        "LogSoftmax",
        "Dropout",
        "Dropout2d",
        "View",
        "Size",
        "Flatten",
        "Identity",
        "Contiguous",
        "__getitem__",
    }
)


def _number(text: str, where: str, what: str) -> float:
    """A finite non-negative number of a node line (a ``[a; b]`` list sums)."""
    text = text.strip()
    parts = text[1:-1].split(";") if text.startswith("[") and text.endswith("]") else [text]
    total = 0.0
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise InputError(f"{where}: {what} must be a number, got {brief(text)}") from None
        if not math.isfinite(value) or value < 0:
            raise InputError(f"{where}: {what} must be a finite number >= 0, got {brief(text)}")
        total += value
    return total


def _node_line(text: str, where: str, lineno: int) -> PipeDreamNode:
    """Parse ``id -- desc -- forward_compute_time=..., ... [-- stage_id=N]``."""
    tokens = text.strip().split(" -- ")
    if tokens and tokens[-1].startswith("stage_id="):
        tokens = tokens[:-1]
    if len(tokens) < 3 or not tokens[-1].startswith("forward_compute_time="):
        raise InputError(
            f"{where}: expected 'nodeN -- Desc -- forward_compute_time=..., "
            f"backward_compute_time=..., activation_size=..., parameter_size=...', "
            f"got {brief(text.strip())} (is the file truncated?)"
        )
    node_id, desc, meta = tokens[0].strip(), " -- ".join(tokens[1:-1]).strip(), tokens[-1]
    values: dict[str, float] = {}
    for item in re.split(r",\s+(?=[a-z_]+=)", meta.strip()):
        key, sep, value = item.partition("=")
        if not sep or key not in _FIELDS or key in values:
            raise InputError(f"{where}: unexpected field {brief(item)} in node {shown(node_id)}")
        values[key] = _number(value, where, key)
    absent = [key for key in _FIELDS if key not in values]
    if absent:
        raise InputError(
            f"{where}: node {shown(node_id)} lacks {', '.join(absent)} (is the file truncated?)"
        )
    if not node_id or any(c.isspace() for c in node_id):
        raise InputError(f"{where}: bad node name {brief(node_id)}")
    return PipeDreamNode(
        node_id,
        desc,
        values["forward_compute_time"],
        values["backward_compute_time"],
        values["activation_size"],
        values["parameter_size"],
        lineno,
    )


def parse_pipedream(text: str, source: str) -> PipeDreamGraph:
    """Parse the text of a PipeDream ``graph.txt``.

    Raises
    ------
    InputError
        One line naming the file and line: a malformed or incomplete node line,
        an edge naming an unknown node, a duplicate node, a cycle, a graph
        without nodes, or a node other than an input that nothing feeds (what
        a file truncated in its edge list looks like).
    """
    nodes: dict[str, PipeDreamNode] = {}
    edges: dict[tuple[str, str], int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        where = f"{source}:{lineno}"
        if not line.strip():
            continue
        if line.startswith("\t"):
            pair = line.strip().split(" -- ")
            if len(pair) != 2 or not all(pair):
                raise InputError(
                    f"{where}: expected an edge '<TAB>nodeA -- nodeB', got {brief(line.strip())}"
                )
            edges.setdefault((pair[0].strip(), pair[1].strip()), lineno)
            continue
        node = _node_line(line, where, lineno)
        if node.id in nodes:
            raise InputError(f"{where}: node {shown(node.id)} defined twice")
        nodes[node.id] = node
    if not nodes:
        raise InputError(f"{source}: no node lines: not a PipeDream graph.txt")
    for (a, b), lineno in edges.items():
        for end in (a, b):
            if end not in nodes:
                raise InputError(f"{source}:{lineno}: edge names unknown node {shown(end)}")
        if a == b:
            raise InputError(f"{source}:{lineno}: edge from {shown(a)} to itself")
    graph = PipeDreamGraph(tuple(nodes.values()), tuple(edges), source)
    _check_connected(graph)
    return graph


def _check_connected(graph: PipeDreamGraph) -> None:
    """Every node but an input has a producer, and the edges form a DAG."""
    fed = {b for _a, b in graph.edges}
    if any(n.op == "Input" for n in graph.nodes):
        for node in graph.nodes:
            if node.id not in fed and node.op != "Input":
                raise InputError(
                    f"{graph.source}:{node.line}: node {node.id} ({brief(node.desc)}) has no "
                    "producer and is not an Input (is the file truncated?)"
                )
    component = {n.id: n.id for n in graph.nodes}

    def find(v: str) -> str:
        while component[v] != v:
            component[v] = component[component[v]]
            v = component[v]
        return v

    for a, b in graph.edges:
        component[find(a)] = find(b)
    if len({find(n.id) for n in graph.nodes}) > 1:
        raise InputError(
            f"{graph.source}: the nodes are not all connected by edges (is the file truncated?)"
        )
    _topological(graph)


def _topological(graph: PipeDreamGraph) -> list[str]:
    """Node ids in a topological order (ties in file order)."""
    import networkx as nx

    position = {n.id: i for i, n in enumerate(graph.nodes)}
    dag = nx.DiGraph()
    dag.add_nodes_from(position)
    dag.add_edges_from(graph.edges)
    try:
        return list(nx.lexicographical_topological_sort(dag, key=position.__getitem__))
    except nx.NetworkXUnfeasible:
        stuck = nx.find_cycle(dag)[0][0]
        raise InputError(f"{graph.source}: the edges form a cycle through node {stuck}") from None


def _groups(graph: PipeDreamGraph, order: list[str]) -> dict[str, str]:
    """Node id -> the main node of the layer it joins (inputs map to ``""``: dropped).

    An element-wise node joins its consumer when it has exactly one (visited in
    reverse order, so that a run of them reaches the layer at its end), else its
    producer when it has exactly one; otherwise it is a layer of its own.
    Contracting an edge whose tail has one out-edge (or whose head has one
    in-edge) never makes a cycle.
    """
    ops = {n.id: n.op for n in graph.nodes}
    succ: dict[str, list[str]] = {v: [] for v in order}
    pred: dict[str, list[str]] = {v: [] for v in order}
    for a, b in graph.edges:
        succ[a].append(b)
        pred[b].append(a)
    owner = {v: ("" if ops[v] == "Input" else v) for v in order}

    def root(v: str) -> str:
        while owner[v] and owner[v] != v:
            v = owner[v]
        return owner[v]

    for v in reversed(order):
        if ops[v] in ELEMENTWISE and len(succ[v]) == 1:
            owner[v] = root(succ[v][0])
    for v in order:
        real = [p for p in pred[v] if root(p)]
        if ops[v] in ELEMENTWISE and owner[v] == v and len(real) == 1:
            owner[v] = root(real[0])
    return {v: root(v) for v in order}


_INTS = re.compile(r"\d+")


def _fan_in(node: PipeDreamNode) -> int | None:
    """MACs per output element of a convolution or linear node, from its description."""
    desc = node.desc
    if node.op == "Linear":
        m = re.search(r"in_features=(\d+)", desc)
        return int(m.group(1)) if m else None
    if node.op.startswith("Conv"):
        args = _INTS.findall(desc.split("kernel_size", 1)[0])
        m = re.search(r"kernel_size=\(?([\d, ]+)\)?", desc)
        g = re.search(r"groups=(\d+)", desc)
        if len(args) < 2 or m is None:
            return None
        kernel = math.prod(int(k) for k in _INTS.findall(m.group(1)))
        return int(args[0]) // (int(g.group(1)) if g else 1) * kernel
    return None


_KIND_OF = (
    ("Conv", "conv2d"),
    ("Linear", "dense"),
    ("BatchNorm", "norm"),
    ("LayerNorm", "norm"),
    ("MaxPool", "pool"),
    ("AvgPool", "pool"),
    ("AdaptiveAvgPool", "pool"),
    ("AdaptiveMaxPool", "pool"),
    ("Add", "add"),
    ("Cat", "concat"),
    ("Concat", "concat"),
    ("Embedding", "embedding"),
)


def _kind(op: str) -> str:
    for prefix, kind in _KIND_OF:
        if op.startswith(prefix):
            return kind
    return op.lower() or "layer"


def _batch_size(graph: PipeDreamGraph) -> int | None:
    """The batch the activation sizes imply: ``bytes / (4 out_features)`` of linear nodes."""
    batches = set()
    for node in graph.nodes:
        m = re.search(r"out_features=(\d+)", node.desc) if node.op == "Linear" else None
        if m is None:
            continue
        elements = node.activation_bytes / _PIPEDREAM_ELEMENT
        batch = elements / int(m.group(1))
        if batch >= 1 and batch == int(batch):
            batches.add(int(batch))
    return batches.pop() if len(batches) == 1 else None


def pipedream_network(graph: PipeDreamGraph, name: str) -> tuple[Network, LayerProfile]:
    """A network and its measured costs from a parsed ``graph.txt``.

    Each layer is named after its main node (``node4``) and records the nodes
    merged into it (attribute ``nodes``) and the main node's description
    (``desc``). Shapes are flat element counts per sample (per mini-batch when
    the batch is unknown), fp32; MAC counts are what the split rule needs:
    ``out_elements x fan-in`` for convolution and linear layers.

    Returns
    -------
    network, profile
        The layers in a topological order, and their :class:`LayerProfile`.
    """
    order = _topological(graph)
    nodes = {n.id: n for n in graph.nodes}
    owner = _groups(graph, order)
    members: dict[str, list[str]] = {}
    for v in order:
        if owner[v]:
            members.setdefault(owner[v], []).append(v)
    layers_in: dict[str, list[str]] = {g: [] for g in members}
    for a, b in graph.edges:
        ga, gb = owner[a], owner[b]
        if ga and gb and ga != gb and ga not in layers_in[gb]:
            layers_in[gb].append(ga)
    batch = _batch_size(graph)
    per = batch or 1
    exits: dict[str, float] = {}
    for a, b in graph.edges:
        if owner[a] and owner[a] != owner[b]:
            exits[owner[a]] = max(exits.get(owner[a], 0.0), nodes[a].activation_bytes)
    layers: list[Layer] = []
    times: dict[str, LayerTimes] = {}
    for g in sorted(members, key=order.index):
        main = nodes[g]
        group = [nodes[v] for v in members[g]]
        out_bytes = exits.get(g, main.activation_bytes)
        params = sum(n.parameter_bytes for n in group)
        layer = _profile_layer(main, group, layers_in[g], out_bytes, params, per, exits, nodes)
        layers.append(layer)
        times[g] = LayerTimes(
            F=sum(n.forward_ms for n in group) / 1000,
            B=sum(n.backward_ms for n in group) / 1000,
            out_bytes=_whole_bytes(out_bytes, graph.source, g),
            param_bytes=_whole_bytes(params, graph.source, g) if params else None,
        )
    merged = sum(len(m) - 1 for m in members.values())
    dropped = sum(1 for v in order if not owner[v])
    network = Network(name, _input_shape(graph, per), tuple(layers))
    note = (
        f"{len(graph.nodes)} nodes: {dropped} input(s) dropped, {merged} element-wise "
        f"merged, {len(layers)} layers"
    )
    return network, LayerProfile(times, batch, graph.source, note)


def _profile_layer(
    main: PipeDreamNode,
    group: list[PipeDreamNode],
    inputs: list[str],
    out_bytes: float,
    param_bytes: float,
    per: int,
    exits: Mapping[str, float],
    nodes: Mapping[str, PipeDreamNode],
) -> Layer:
    """The layer of one group of nodes, with the MACs the split rule needs."""
    out = max(1, math.ceil(out_bytes / _PIPEDREAM_ELEMENT / per))
    ins = [max(1, math.ceil(exits.get(p, nodes[p].activation_bytes) / 4 / per)) for p in inputs]
    params = math.ceil(param_bytes / _PIPEDREAM_ELEMENT)
    kind = _kind(main.op)
    fan_in = _fan_in(main)
    if kind in ("conv2d", "dense") and fan_in is not None and params:
        macs = weight_macs = out * fan_in
    elif kind == "norm" and params:
        macs, weight_macs = 2 * out, out
    else:  # a weighted node of another kind: D, G and W in equal shares
        # (weightless: F is measured, and D and G use the element counts only)
        macs, weight_macs = out, out if params else 0
    attrs = (("desc", main.desc), ("nodes", ",".join(n.id for n in group)))
    return Layer(
        name=main.id,
        kind=kind,
        inputs=tuple(inputs),
        in_shape=(ins[0] if ins else out,),
        out_shape=(out,),
        params=params,
        macs=macs,
        weight_macs=weight_macs,
        attrs=attrs,
    )


def _input_shape(graph: PipeDreamGraph, per: int) -> tuple[int, ...]:
    sizes = [n.activation_bytes for n in graph.nodes if n.op == "Input"]
    return (max(1, math.ceil(sum(sizes) / _PIPEDREAM_ELEMENT / per)),)


def _whole_bytes(value: float, source: str, layer: str) -> int:
    if value > MAX_BYTES:
        raise InputError(f"{source}: layer {layer}: {value:.4g} bytes, more than the limit")
    return math.ceil(value)


#: Where the bundled profiles are (``pipedream:vgg16``).
_BUNDLED = Path(__file__).parent / "data" / "profiles"


def bundled_profiles() -> dict[str, Path]:
    """Name -> ``graph.txt`` of the PipeDream profiles shipped with lpsched."""
    if not _BUNDLED.is_dir():
        return {}
    return {p.parent.name: p for p in sorted(_BUNDLED.glob("*/graph.txt"))}


def load_pipedream(spec: str | Path) -> tuple[Network, LayerProfile]:
    """Read a PipeDream ``graph.txt`` (a path, its folder, or a bundled name: ``vgg16``).

    The network is named after the file's folder when the file is called
    ``graph.txt`` (``profiles/vgg16/graph.txt`` gives ``vgg16``), else after
    the file.

    Raises
    ------
    InputError
        When the file cannot be read or is not a valid profile.
    """
    path = Path(spec)
    bundled = bundled_profiles()
    if not _exists(path) and str(spec) in bundled:
        path = bundled[str(spec)]
    elif path.is_dir() and (path / "graph.txt").is_file():
        path = path / "graph.txt"
    text = read_text(path)
    bundled_name = str(spec) in bundled and path == bundled[str(spec)]
    source = f"{spec} (PipeDream profile bundled with lpsched)" if bundled_name else str(spec)
    graph = parse_pipedream(text, source)
    name = path.parent.name if path.name == "graph.txt" and path.parent.name else path.stem
    return pipedream_network(graph, name or "pipedream")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


# ------------------------------------------------------------------------ the CSV
def _cell_time(text: str, where: str, column: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: {column} must be a number of ms, got {brief(text)}") from None
    if not math.isfinite(value):
        raise InputError(f"{where}: {column} must be finite, got {brief(text)}")
    if value < 0:
        raise InputError(f"{where}: negative {column} {brief(text)}")
    if value / 1000 > _MAX_SECONDS:
        raise InputError(f"{where}: {column} {brief(text)} is more than a day")
    return value / 1000


def _cell_bytes(text: str, where: str, column: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(
            f"{where}: {column} must be a number of bytes, got {brief(text)}"
        ) from None
    if not math.isfinite(value) or value != int(value):
        raise InputError(f"{where}: {column} must be a whole number of bytes, got {brief(text)}")
    if value < 0:
        raise InputError(f"{where}: negative {column} {brief(text)}")
    if value > MAX_BYTES:
        raise InputError(f"{where}: {column} {brief(text)} exceeds the limit of bytes")
    return int(value)


def _metadata(lines: list[str]) -> dict[str, str]:
    """``key=value`` pairs of the ``# lpsched-profile/1 ...`` comment line, if any."""
    for line in lines:
        words = line.lstrip("#").split()
        if words and words[0] == PROFILE_TAG:
            return dict(w.split("=", 1) for w in words[1:] if "=" in w)
    return {}


def read_profile_csv(path: str | Path, network: Network) -> LayerProfile:
    """Read a profile CSV for ``network`` (the format is in the module's docstring).

    Raises
    ------
    InputError
        One line naming the file (and row): an unknown or repeated column or
        layer, a layer of the network without a row, a negative, non-finite or
        non-numeric time, bytes that are not whole, no forward time.
    """
    source = str(path)
    text = read_text(path).removeprefix("\ufeff")  # a spreadsheet's byte-order mark
    lines = text.splitlines()
    comments = [line for line in lines if line.lstrip().startswith("#")]
    body = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not body:
        raise InputError(f"{source}: empty profile: expected a header {','.join(CSV_COLUMNS)}")
    rows = list(csv.reader(io.StringIO("\n".join(body))))
    header = [h.strip() for h in rows[0]]
    allowed = (*CSV_COLUMNS, _B_COLUMN)
    for column in header:
        if column not in allowed:
            raise InputError(
                f"{source}: unknown column {brief(column)} (columns: {', '.join(allowed)})"
            )
    if len(set(header)) < len(header):
        raise InputError(f"{source}: a column appears twice in the header")
    for column in ("layer", "F_ms"):
        if column not in header:
            raise InputError(f"{source}: no {column} column")
    layers: dict[str, LayerTimes] = {}
    for number, row in enumerate(rows[1:], start=2):
        where = f"{source}: row {number}"
        if len(row) != len(header):
            raise InputError(f"{where}: {len(row)} cells, the header has {len(header)}")
        cells = dict(zip(header, row, strict=True))
        name = cells["layer"].strip()
        if not name:
            raise InputError(f"{where}: empty layer name")
        if name in layers:
            raise InputError(f"{where}: layer {shown(name)} appears twice")
        where = f"{where} ({shown(name)})"
        times = {k: _cell_time(cells.get(f"{k}_ms", ""), where, f"{k}_ms") for k in "FDGWUB"}
        if times["F"] is None:
            raise InputError(f"{where}: no F_ms (the forward time must be measured)")
        layers[name] = LayerTimes(
            **times,
            out_bytes=_cell_bytes(cells.get("out_bytes", ""), where, "out_bytes"),
            param_bytes=_cell_bytes(cells.get("param_bytes", ""), where, "param_bytes"),
        )
    meta = _metadata(comments)
    batch = meta.get("batch_size")
    note = f"device {meta['device']}" if "device" in meta else ""
    profile = LayerProfile(layers, int(batch) if batch and batch.isdigit() else None, source, note)
    profile.check(network)
    return profile


def profile_to_csv(
    rows: Mapping[str, LayerTimes], metadata: Mapping[str, object] | None = None
) -> str:
    """The CSV text of measured layers (times in ms with 6 significant digits).

    Parameters
    ----------
    rows
        Layer name -> times (seconds) and bytes, in the order to write; a
        ``B_ms`` column follows when some row has a whole backward time.
    metadata
        ``key=value`` pairs for the ``# lpsched-profile/1`` comment line.
    """
    out = io.StringIO()
    if metadata:
        pairs = " ".join(f"{k}={str(v).replace(' ', '_')}" for k, v in metadata.items())
        out.write(f"# {PROFILE_TAG} {pairs}\n")
    kinds = _KINDS + ("B" if any(t.B is not None for t in rows.values()) else "")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *([_B_COLUMN] if "B" in kinds else [])])
    for name, t in rows.items():
        cells = ["" if getattr(t, k) is None else f"{1000 * getattr(t, k):.6g}" for k in kinds]
        sizes = ["" if v is None else str(v) for v in (t.out_bytes, t.param_bytes)]
        writer.writerow([name, *cells[:5], *sizes, *cells[5:]])
    return out.getvalue()
