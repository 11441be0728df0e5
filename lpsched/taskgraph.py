"""From a network to a task graph (``formulations/README.md``, "Training as a task graph").

Every layer ``l`` contributes primitive tasks

* ``F:l``  forward, ``z_l = W_l a_{l-1}``, ``a_l = f(z_l)``;
* ``D:l``  ``delta_l = f'(z_l) * g_l``;
* ``G:l``  ``g_{l-1} = W_l^T delta_l`` (the gradient sent to the producers);
* ``W:l``  ``dW_l = delta_l a_{l-1}^T``;
* ``U:l``  ``W_l -= lr * dW_l``;

``W`` and ``U`` only for layers with weights. Costs, for batch ``b``: ``F`` is
``b*macs``, ``D`` ``b*out_elements``, ``W`` ``b*weight_macs``, ``U`` ``params``;
``G`` is ``b*weight_macs`` plus twice the forward MACs that involve no weights
(attention's score products have two activation operands to differentiate), and
for a weightless layer one element operation per input element.

A backward task exists only where a gradient is needed: ``G:l`` when some
producer of ``l`` has weights itself or upstream (so never for a layer fed only
by the network input), ``D:l`` when ``l`` or something upstream has weights.

A *decomposition* then groups the primitive tasks into schedulable tasks
(:data:`DECOMPOSITIONS`) and a *staleness policy* (:func:`parse_staleness`)
fixes the distance ``s_l`` of each layer's weight edges ``U:l -> F:l`` and
``U:l -> G:l``.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from .costs import CostModel
from .errors import InputError
from .files import brief
from .graph import MAX_DISTANCE, Edge, Task, TaskGraph
from .networks.layers import Layer, Network
from .units import limit_text

#: Decomposition name -> what a layer's tasks are.
DECOMPOSITIONS: dict[str, str] = {
    "pipedream": "F, B=D+G+W+U: the whole backward pass of a layer is one task (PipeDream)",
    "intra": "F, A=D+G, WU=W+U: the weight gradient apart from the activation gradient",
    "layerpipe": "F, D, G, W, U: every primitive task on its own (LayerPipe)",
}

#: Primitive kind -> merged kind, per decomposition.
_GROUPS: dict[str, dict[str, str]] = {
    "pipedream": {"F": "F", "D": "B", "G": "B", "W": "B", "U": "B"},
    "intra": {"F": "F", "D": "A", "G": "A", "W": "WU", "U": "WU"},
    "layerpipe": {k: k for k in "FDGWU"},
}

#: Order of kinds within a layer (forward first, then the backward chain).
_KIND_ORDER = {k: i for i, k in enumerate(("F", "D", "A", "B", "G", "W", "WU", "U"))}

#: Staleness policy names -> what they mean (for help texts).
STALENESS_POLICIES: dict[str, str] = {
    "sync": "s_l = 1 for every layer: synchronous SGD",
    "N": "s_l = N for every layer (a positive integer)",
    "layerpipe2": "s_l = 1 + 2*S(l), S(l) = pipeline stages after layer l's stage",
    "auto": "the solver chooses s_l in [1, cap], cap = 2*processors - 1 "
    "(or 2*weighted layers - 1 without processors)",
    "auto:CAP": "as auto with the given cap",
}


@dataclass(frozen=True)
class Staleness:
    """A parsed staleness policy.

    Parameters
    ----------
    policy
        ``"fixed"`` (every layer ``value``), ``"layers"`` (``per_layer``),
        ``"layerpipe2"`` or ``"auto"`` (cap ``value``, ``None`` for the default).
    value
        The staleness of ``fixed``, or the cap of ``auto``.
    per_layer
        Layer name -> staleness, for ``layers``.
    """

    policy: str
    value: int | None = None
    per_layer: Mapping[str, int] = field(default_factory=dict, hash=False)

    def __str__(self) -> str:
        if self.policy == "fixed":
            return "sync" if self.value == 1 else str(self.value)
        if self.policy == "auto":
            return "auto" if self.value is None else f"auto:{self.value}"
        return self.policy


def _positive_int(value: object, what: str, maximum: int = MAX_DISTANCE) -> int:
    """A positive integer up to ``maximum`` (a staleness: :data:`~lpsched.graph.MAX_DISTANCE`).

    Text of ASCII digits is read exactly; text of more digits than any limit is
    refused as too large without converting it.
    """
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
        digits = value.strip().lstrip("+-").lstrip("0")
        if len(digits) > 18 and not value.strip().startswith("-"):
            raise InputError(f"{what} must be at most {limit_text(maximum)}, got {brief(value)}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InputError(f"{what} must be a positive integer, got {brief(value)}")
    if value > maximum:
        raise InputError(f"{what} must be at most {limit_text(maximum)}, got {brief(value)}")
    return int(value)


def parse_staleness(spec: str | int | Mapping[str, int] | Staleness) -> Staleness:
    """Parse a staleness policy.

    Parameters
    ----------
    spec
        ``"sync"`` (``s_l = 1``), a positive integer (or its text),
        ``"layerpipe2"``, ``"auto"``, ``"auto:CAP"``, a mapping layer name ->
        staleness, or an already parsed :class:`Staleness`.

    Raises
    ------
    InputError
        On anything else, naming the accepted forms.
    """
    if isinstance(spec, Staleness):
        return spec
    if isinstance(spec, Mapping):
        return Staleness(
            "layers",
            per_layer={
                str(k): _positive_int(v, f"staleness of layer {brief(k)}") for k, v in spec.items()
            },
        )
    if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        return Staleness("fixed", _positive_int(spec, "staleness"))
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text == "sync":
            return Staleness("fixed", 1)
        if text == "layerpipe2":
            return Staleness("layerpipe2")
        if text == "auto":
            return Staleness("auto")
        if text.startswith("auto:"):
            return Staleness("auto", _positive_int(text[5:], f"staleness cap in {brief(spec)}"))
        if re.fullmatch(r"[+-]?\d+", text):
            return Staleness("fixed", _positive_int(text, "staleness"))
    raise InputError(
        f"unknown staleness {brief(spec)}: expected sync, a positive integer, layerpipe2, "
        "auto or auto:CAP"
    )


def layerpipe2_staleness(
    network: Network, stages: Mapping[str, int] | None = None
) -> dict[str, int]:
    """LayerPipe2 staleness ``s_l = 1 + 2*S(l)`` of every weighted layer.

    ``S(l)`` is the number of pipeline stages after the stage of layer ``l``:
    the gradient of the loss takes ``S(l)`` stages to come back to ``l``, each
    crossing costing two iterations (one forward, one backward hop).

    Parameters
    ----------
    network
        The network.
    stages
        Layer name -> stage number (any integers, later stages larger) for every
        weighted layer; names of weightless layers are allowed and ignored.
        Default: one stage per weighted layer, in topological order.

    Raises
    ------
    InputError
        When the map misses a weighted layer or names an unknown one.
    """
    weighted = [layer.name for layer in network.layers if layer.weighted]
    if stages is None:
        stages = {name: i for i, name in enumerate(weighted)}
    known = {layer.name for layer in network.layers}
    for name, stage in stages.items():
        if name not in known:
            raise InputError(f"stage map: unknown layer {name!r} in network {network.name}")
        if isinstance(stage, bool) or not isinstance(stage, numbers.Integral):
            raise InputError(f"stage map: stage of {name!r} must be an integer, got {stage!r}")
    missing = [name for name in weighted if name not in stages]
    if missing:
        raise InputError(f"stage map: no stage for weighted layer(s) {', '.join(missing)}")
    used = sorted({stages[name] for name in weighted})
    after = {stage: len(used) - 1 - i for i, stage in enumerate(used)}
    return {name: 1 + 2 * after[stages[name]] for name in weighted}


def default_staleness_cap(network: Network, processors: int | None = None) -> int:
    """The cap of ``auto``: ``2P - 1``, or ``2*(weighted layers) - 1`` without ``P``.

    ``2P - 1`` is the LayerPipe2 staleness of the first of ``P`` stages, the
    largest any layer needs when every processor holds one stage.
    """
    if processors is not None:
        return 2 * _positive_int(processors, "processors") - 1
    return max(1, 2 * sum(1 for layer in network.layers if layer.weighted) - 1)


def layer_staleness(
    network: Network,
    staleness: str | int | Mapping[str, int] | Staleness = "auto",
    processors: int | None = None,
    stages: Mapping[str, int] | None = None,
) -> tuple[dict[str, int], int | None]:
    """The distance of each weighted layer's weight edges, and the ``auto`` cap.

    Returns
    -------
    distances, cap
        Weighted layer name -> distance of its weight edges; the cap (equal to
        every distance) for ``auto``, else ``None``.
    """
    policy = parse_staleness(staleness)
    weighted = [layer.name for layer in network.layers if layer.weighted]
    if policy.policy == "fixed":
        assert policy.value is not None
        return {name: policy.value for name in weighted}, None
    if policy.policy == "layerpipe2":
        return layerpipe2_staleness(network, stages), None
    if policy.policy == "layers":
        unknown = sorted(set(policy.per_layer) - set(weighted))
        if unknown:
            raise InputError(
                f"staleness: {', '.join(unknown)} not weighted layers of {network.name}"
            )
        missing = [name for name in weighted if name not in policy.per_layer]
        if missing:
            raise InputError(f"staleness: no value for weighted layer(s) {', '.join(missing)}")
        return {name: policy.per_layer[name] for name in weighted}, None
    cap = policy.value if policy.value is not None else default_staleness_cap(network, processors)
    return {name: cap for name in weighted}, cap


# --------------------------------------------------------------------------- builder
class MeasuredCosts(Protocol):
    """Measured costs that replace the cost model's (:class:`lpsched.profiles.LayerProfile`).

    Each method answers for one layer of the network; ``None`` keeps the cost
    model's bytes.
    """

    def seconds(self, layer: str, macs: Mapping[str, float]) -> Mapping[str, float]:
        """Seconds of each primitive task of ``layer`` (``macs``: the model's MACs by kind)."""
        ...

    def output_bytes(self, layer: str) -> int | None:
        """Bytes of the layer's output tensor for one mini-batch."""
        ...

    def parameter_bytes(self, layer: str) -> int | None:
        """Bytes of the layer's weights."""
        ...


@dataclass
class _Primitive:
    name: str
    layer: str
    kind: str
    macs: float  # cost in MACs (element operations count as one)


def _primitives(
    network: Network,
    costs: CostModel,
    distance: Mapping[str, int],
    measured: MeasuredCosts | None = None,
) -> tuple[list[_Primitive], list[Edge]]:
    """Primitive tasks and edges (``formulations/README.md``), before any merging.

    With ``measured``, its times and bytes replace the model's; a time ``t`` is
    carried as ``t * throughput`` MACs, which :meth:`CostModel.compute` turns
    back into ``t / time_unit``.
    """
    b = costs.batch_size
    layers = {layer.name: layer for layer in network.layers}
    inputs = {layer.name: tuple(dict.fromkeys(layer.inputs)) for layer in network.layers}
    consumers: dict[str, list[str]] = {name: [] for name in layers}
    for layer in network.layers:
        for p in inputs[layer.name]:
            consumers[p].append(layer.name)

    # A gradient w.r.t. a layer's output is needed iff it or something upstream has weights.
    needs_grad: dict[str, bool] = {}
    for layer in network.layers:
        needs_grad[layer.name] = layer.weighted or any(needs_grad[p] for p in inputs[layer.name])
    has_d = needs_grad
    has_g = {name: any(needs_grad[p] for p in inputs[name]) for name in layers}

    def act_bytes(layer: Layer) -> int:
        size = None if measured is None else measured.output_bytes(layer.name)
        return costs.data_bytes(b * layer.out_elements) if size is None else size

    prims: list[_Primitive] = []
    edges: list[Edge] = []

    def edge(
        src: str,
        dst: str,
        nbytes: int,
        tensor: str | None,
        dist: int = 0,
        weights: str | None = None,
    ) -> None:
        edges.append(Edge(src, dst, dist, None, nbytes, weights, tensor))

    for layer in network.layers:
        name = layer.name
        f, d, g, w, u = (f"{k}:{name}" for k in "FDGWU")
        prims.append(_Primitive(f, name, "F", b * layer.macs))
        for p in inputs[name]:
            edge(f"F:{p}", f, act_bytes(layers[p]), f"a:{p}")
        if has_d[name]:
            prims.append(_Primitive(d, name, "D", b * layer.out_elements))
            edge(f, d, act_bytes(layer), f"z:{name}")
            for c in consumers[name]:
                # this layer's share of g_c: what G_c sends back to this input
                edge(f"G:{c}", d, act_bytes(layer), f"g:{c}>{name}")
        if has_g[name]:
            if layer.weighted:
                # W^T delta, plus the products without weights (attention's scores and
                # softmax(.)V), differentiated w.r.t. both operands: twice their forward
                # MACs. For dense and convolution layers (macs == weight_macs) this is
                # the table's b*n_in*n_out.
                g_macs = b * (layer.weight_macs + 2 * max(0, layer.macs - layer.weight_macs))
            else:  # pass-through: one element operation per input element
                g_macs = b * sum(layers[p].out_elements for p in inputs[name])
            prims.append(_Primitive(g, name, "G", g_macs))
            edge(d, g, act_bytes(layer), f"delta:{name}")
        if layer.weighted:
            size = None if measured is None else measured.parameter_bytes(name)
            wbytes = costs.data_bytes(layer.params) if size is None else size
            s = distance[name]
            prims.append(_Primitive(w, name, "W", b * layer.weight_macs))
            prims.append(_Primitive(u, name, "U", layer.params))
            edge(u, f, wbytes, f"w:{name}", s, name)
            if has_g[name]:
                edge(u, g, wbytes, f"w:{name}", s, name)
            edge(d, w, act_bytes(layer), f"delta:{name}")
            for p in inputs[name]:
                edge(f"F:{p}", w, act_bytes(layers[p]), f"a:{p}")  # a_{l-1}
            edge(w, u, wbytes, f"dW:{name}")
            edge(u, u, 0, None, 1)  # the weights stay where they are
    if measured is not None:
        _measure(prims, costs, measured)
    return prims, edges


def _measure(prims: list[_Primitive], costs: CostModel, measured: MeasuredCosts) -> None:
    """Replace each primitive's MACs by its measured seconds times the model's throughput."""
    by_layer: dict[str, list[_Primitive]] = {}
    for p in prims:
        by_layer.setdefault(p.layer, []).append(p)
    for layer, parts in by_layer.items():
        seconds = measured.seconds(layer, {p.kind: p.macs for p in parts})
        for p in parts:
            p.macs = seconds[p.kind] * costs.throughput


def suggest_time_unit(
    network: Network,
    costs: CostModel | None = None,
    *,
    max_error: float = 0.02,
    measured: MeasuredCosts | None = None,
) -> float:
    """The coarsest round time unit whose rounding error stays within ``max_error``.

    One default unit cannot suit every network: LeNet-5 at batch 32 runs in
    microseconds, GPT-2 in seconds. Coarse units keep durations small (solver
    effort grows with them); fine units keep the rounding error small. This
    picks, from the series ``{1, 2, 2.5, 5} x 10^k`` seconds between 1 ns and
    1 s, the coarsest unit whose :meth:`CostModel.rounding_error` on the
    network's primitive tasks is at most ``max_error`` (the finest when none
    is). Use it as ``replace(costs, time_unit=suggest_time_unit(net, costs))``.

    Parameters
    ----------
    network
        The network.
    costs
        The cost model whose other parameters apply; default ``CostModel()``.
    max_error
        Largest acceptable relative rounding error, ``> 0``.
    measured
        Measured costs that replace the model's (see :func:`build_task_graph`).

    Returns
    -------
    float
        Seconds per time unit.
    """
    if not (isinstance(max_error, int | float) and math.isfinite(max_error) and max_error > 0):
        raise InputError(f"max_error must be a positive number, got {max_error!r}")
    costs = CostModel() if costs is None else costs
    ones = {layer.name: 1 for layer in network.layers}
    prims, _edges = _primitives(network, costs, ones, measured)
    macs = [p.macs for p in prims]
    candidates = [m * 10.0**k for k in range(0, -10, -1) for m in (5, 2.5, 2, 1)]
    for unit in candidates:  # coarse to fine
        unit = float(f"{unit:.3g}")  # 2.5e-05, not 2.5000000000000005e-05
        if replace(costs, time_unit=unit).rounding_error(macs) <= max_error:
            return unit
    return candidates[-1]


def group_edges(edges: Iterable[Edge], group: Mapping[str, str]) -> list[Edge]:
    """The edges between groups of tasks, ``group`` mapping a task to its group's name.

    The rule every decomposition merges by (:func:`build_task_graph`,
    :func:`lpsched.coarsen.coarsen`): an edge inside a group is dropped when its
    distance is 0 (the parts run in order) and kept as a self-loop otherwise;
    parallel edges are reduced by :func:`_merge_edges`.
    """
    merged = [
        replace(e, src=group[e.src], dst=group[e.dst])
        for e in edges
        if not (group[e.src] == group[e.dst] and e.distance == 0)
    ]
    return _merge_edges(merged)


def _merge_edges(edges: list[Edge]) -> list[Edge]:
    """Drop edges implied by a parallel edge between the same two tasks.

    Only edges of one tensor (and the same fixed ``comm``, if any) are compared,
    since different tensors are different messages. Of those, ``u -> v`` with
    distance ``w1`` implies the same message at ``w2 >= w1`` (``T > 0``), so
    only the smallest distance is kept. Weight edges are compared only with
    weight edges of the same layer: their distance is the layer's staleness,
    which a solver or :meth:`TaskGraph.with_staleness` may still change.
    """
    groups: dict[tuple[object, ...], list[Edge]] = {}
    for e in edges:
        groups.setdefault((e.src, e.dst, e.weights, e.tensor, e.comm, e.bytes), []).append(e)
    out: list[Edge] = []
    for group in groups.values():
        kept = [min(group, key=lambda e: e.distance)]
        out.extend(kept)
    return out


def build_task_graph(
    network: Network,
    decomposition: str = "layerpipe",
    staleness: str | int | Mapping[str, int] | Staleness = "auto",
    costs: CostModel | None = None,
    processors: int | None = None,
    *,
    stages: Mapping[str, int] | None = None,
    measured: MeasuredCosts | None = None,
) -> TaskGraph:
    """The task graph of one training iteration of ``network``.

    Parameters
    ----------
    network
        The network (a DAG of layers).
    decomposition
        ``pipedream``, ``intra`` or ``layerpipe`` (:data:`DECOMPOSITIONS`).
    staleness
        A policy for :func:`parse_staleness`: ``sync``, an integer,
        ``layerpipe2``, ``auto``, ``auto:CAP`` or a layer -> staleness mapping.
    costs
        The cost model; default: :class:`~lpsched.costs.CostModel()` with the
        time unit of :func:`suggest_time_unit` (at most 2% rounding error).
    processors
        Number of processors; only sets the default cap of ``auto``.
    stages
        Stage map for ``layerpipe2`` (see :func:`layerpipe2_staleness`).
    measured
        Measured times and bytes per layer (:mod:`lpsched.profiles`) that
        replace the cost model's; the cost model then only sets the time unit
        (and the bytes of layers the measurements leave out).

    Returns
    -------
    TaskGraph
        Tasks ``f"{kind}:{layer}"`` with durations in ``costs.unit_name``;
        ``staleness_cap`` set for ``auto``, ``rounding_error`` always.

    Raises
    ------
    InputError
        On an unknown decomposition, a bad staleness policy, stage map or
        processor count.
    """
    if not isinstance(network, Network):
        raise InputError(f"expected a Network, got {type(network).__name__}")
    if decomposition not in DECOMPOSITIONS:
        raise InputError(
            f"unknown decomposition {decomposition!r}: expected one of {', '.join(DECOMPOSITIONS)}"
        )
    if processors is not None:
        processors = _positive_int(processors, "processors")
    if costs is None:
        # One fixed unit would round LeNet-5's tasks to 1 or give GPT-2 huge durations.
        unit = suggest_time_unit(network, measured=measured)
        costs = replace(CostModel(), time_unit=unit)
    elif not isinstance(costs, CostModel):
        raise InputError(f"expected a CostModel, got {type(costs).__name__}")
    distance, cap = layer_staleness(network, staleness, processors, stages)
    prims, prim_edges = _primitives(network, costs, distance, measured)

    # Group primitive tasks; a merged task lasts the sum of its parts' rounded durations,
    # so that the total work is the same in every decomposition.
    kind_of = _GROUPS[decomposition]
    group: dict[str, str] = {}
    duration: dict[str, int] = {}
    meta: dict[str, tuple[str, str]] = {}
    for p in prims:
        kind = kind_of[p.kind]
        name = f"{kind}:{p.layer}"
        group[p.name] = name
        duration[name] = duration.get(name, 0) + costs.compute(p.macs)
        meta[name] = (p.layer, kind)

    position = {layer.name: i for i, layer in enumerate(network.layers)}

    def order(name: str) -> tuple[int, int, int]:
        layer, kind = meta[name]
        # Forward tasks in topological order, then the backward tasks in reverse.
        if kind == "F":
            return (0, position[layer], 0)
        return (1, -position[layer], _KIND_ORDER[kind])

    tasks = tuple(
        Task(name, duration[name], meta[name][0], meta[name][1]) for name in sorted(meta, key=order)
    )
    return TaskGraph(
        tasks=tasks,
        edges=tuple(group_edges(prim_edges, group)),
        time_unit=costs.unit_name,
        name=network.name,
        decomposition=decomposition,
        staleness_cap=cap,
        rounding_error=costs.rounding_error(p.macs for p in prims),
    )
