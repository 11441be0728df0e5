"""PyTorch models as networks: :func:`from_torch` traces an ``nn.Module`` with ``torch.fx``.

The module is traced symbolically (``torch.fx.symbolic_trace``) and run once
on the example input to record every tensor's shape (``ShapeProp``). Each
operation with work becomes a layer of the network, named after its node in
the traced graph (``layer1_0_conv1``); branches and skips stay a DAG. Shapes
are per sample: the first axis of the example input is the batch.

What each operation becomes (MACs per sample, README "Counting MACs"):

* ``nn.Linear`` / ``F.linear``: ``dense``, ``rows x in x out``;
* ``nn.Conv1d/2d/3d``: ``conv``, ``out_elements x (C_in / groups) x kernel``;
* ``nn.BatchNorm*``, ``nn.LayerNorm``, ``nn.GroupNorm``: ``norm``,
  ``2 x out_elements`` (``out_elements`` involve the weights);
* ``nn.MultiheadAttention`` (``batch_first=True``): ``attention``, its four
  projections ``(2 L_q + 2 L_k) E^2`` and the two products ``2 L_q L_k E``;
* ``nn.Embedding``: ``embedding``, ``out_elements``;
* pooling: ``pool``, ``out_elements x window`` (adaptive: ``in_elements``);
* sums and products of tensors: ``add`` / ``mul``, ``(inputs - 1) x out_elements``;
  ``torch.cat``: ``concat``; ``matmul`` of two tensors: ``matmul``, the product terms;
* activations: fused into the layer they follow when it is their only reader
  (as the built-in networks do), else an ``activation`` layer of ``out_elements``;
* views, reshapes, dropout, indexing and operations with constants only: no
  layer (the tensor keeps its producer).

Parameters count once, at their first use (a shared module's second call has
none); a parameter the forward pass reads directly (``x + self.pos``) belongs to
the operation that reads it. Anything else raises :class:`~lpsched.errors.InputError`
naming the operations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import InputError
from .files import brief
from .networks.layers import Layer, Network

__all__ = ["from_torch", "import_torch", "load_factory"]

#: How many unsupported operations a message names.
_SHOWN = 5


def import_torch() -> Any:
    """The ``torch`` module, or an :class:`InputError` saying how to install it."""
    try:
        import torch
    except ImportError:
        raise InputError(
            "PyTorch is not installed: pip install torch --index-url "
            "https://download.pytorch.org/whl/cpu (the CPU build; see README)"
        ) from None
    return torch


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


@dataclass
class _Trace:
    """What the walk over the traced graph has built so far."""

    batch: int
    layers: dict[str, Layer] = field(default_factory=dict)
    #: node name -> the layer its tensor comes from ("" for the network input)
    owner: dict[str, str] = field(default_factory=dict)
    made_by: dict[str, str] = field(default_factory=dict)  # node name -> its own layer
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    params: dict[str, int] = field(default_factory=dict)  # get_attr node -> numel
    seen: set[int] = field(default_factory=set)  # ids of parameters already counted
    unsupported: list[str] = field(default_factory=list)

    def count(self, tensors: Sequence[Any]) -> int:
        """Elements of the parameters among ``tensors`` not counted before."""
        total = 0
        for t in tensors:
            if id(t) not in self.seen and getattr(t, "requires_grad", False):
                self.seen.add(id(t))
                total += t.numel()
        return total


def _meta_shape(meta: Any) -> tuple[int, ...] | None:
    """The shape in a ``tensor_meta`` (the first tensor of a tuple output), or ``None``."""
    from torch.fx.passes.shape_prop import TensorMetadata

    if isinstance(meta, TensorMetadata):
        return tuple(int(s) for s in meta.shape)
    if isinstance(meta, list | tuple):
        for item in meta:
            shape = _meta_shape(item)
            if shape is not None:
                return shape
    return None


def _sample(shape: tuple[int, ...], batch: int, what: str) -> tuple[int, ...]:
    if not shape or shape[0] != batch:
        raise InputError(
            f"from_torch: {what} has shape {list(shape)}, whose first axis is not the "
            f"batch ({batch}): every activation must be batch first"
        )
    return shape[1:]


# ---------------------------------------------------------------- operation kinds
_ACTIVATIONS = {
    "ReLU": "relu",
    "ReLU6": "relu6",
    "LeakyReLU": "leaky_relu",
    "ELU": "elu",
    "GELU": "gelu",
    "SiLU": "silu",
    "Mish": "mish",
    "Hardswish": "hardswish",
    "Tanh": "tanh",
    "Sigmoid": "sigmoid",
    "Softmax": "softmax",
    "relu": "relu",
    "relu6": "relu6",
    "leaky_relu": "leaky_relu",
    "elu": "elu",
    "gelu": "gelu",
    "silu": "silu",
    "mish": "mish",
    "hardswish": "hardswish",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "softmax": "softmax",
    "log_softmax": "softmax",
}

#: Operations that make no layer: their tensor keeps its producer.
_ALIASES = frozenset(
    {
        "Dropout",
        "Dropout1d",
        "Dropout2d",
        "Dropout3d",
        "Identity",
        "Flatten",
        "Unflatten",
        "dropout",
        "flatten",
        "reshape",
        "view",
        "permute",
        "transpose",
        "contiguous",
        "squeeze",
        "unsqueeze",
        "expand",
        "getitem",
        "getattr",
        "chunk",
        "split",
        "t",
        "clone",
        "detach",
        "to",
        "float",
        "type_as",
        "size",
        "dim",
    }
)

_POOLS = ("MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool", "LPPool")
_NORMS = ("BatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm", "RMSNorm")
_JOINS = {"add": "add", "iadd": "add", "sub": "add", "mul": "mul", "imul": "mul"}
_JOINS.update({"truediv": "mul", "div": "mul"})


def _op_name(node: Any, module: Any) -> str:
    """A short name of what a node does: the module class, or the function or method name."""
    if node.op == "call_module":
        return type(module).__name__
    target = node.target
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


def _qualified(node: Any, module: Any) -> str:
    if node.op == "call_module":
        return f"{type(module).__module__}.{type(module).__name__} ({node.target})"
    target = node.target
    if isinstance(target, str):
        return f"Tensor.{target} ({node.name})"
    where = getattr(target, "__module__", None) or ""
    return f"{where}.{getattr(target, '__name__', target)} ({node.name})".lstrip(".")


# ------------------------------------------------------------------ layer makers
def _layer_name(node: Any, trace: _Trace) -> str:
    """A module's qualified name (``blocks.0.att``; ``layer0`` in a bare Sequential).

    A function's node name, or a module called a second time, keeps fx's node name.
    """
    name = str(node.target) if node.op == "call_module" else node.name
    name = f"layer{name}" if name[:1].isdigit() else name
    if name in trace.layers:
        name = node.name
    base, k = name, 1
    while name in trace.layers:
        name, k = f"{base}_{k}", k + 1
    return name


def _layer(
    node: Any,
    kind: str,
    trace: _Trace,
    inputs: list[str],
    macs: int,
    weight_macs: int,
    params: int,
    attrs: tuple[tuple[str, object], ...] = (),
) -> Layer:
    first = next((n.name for n in node.all_input_nodes if n.name in trace.shapes), None)
    in_shape = trace.shapes[first] if first is not None else ()
    return Layer(
        name=_layer_name(node, trace),
        kind=kind,
        inputs=tuple(dict.fromkeys(i for i in inputs if i)),
        in_shape=in_shape,
        out_shape=trace.shapes[node.name],
        params=params,
        macs=int(macs),
        weight_macs=int(weight_macs if params else 0),
        attrs=attrs,
    )


def _module_layer(node: Any, module: Any, trace: _Trace, inputs: list[str]) -> Layer | str | None:
    """The layer of a ``call_module`` node; ``"alias"`` for none; ``None`` if unsupported."""
    torch = import_torch()
    nn = torch.nn
    name = type(module).__name__
    out = math.prod(trace.shapes[node.name])
    first = node.all_input_nodes[0].name if node.all_input_nodes else ""
    in_shape = trace.shapes.get(first, ())
    params = trace.count(list(module.parameters()))
    if name in _ALIASES:
        return "alias"
    if name in _ACTIVATIONS:
        return _activation(node, _ACTIVATIONS[name], trace, inputs)
    if isinstance(module, nn.Linear):
        rows = math.prod(in_shape[:-1]) if in_shape else 1
        macs = rows * module.in_features * module.out_features
        attrs = (("out_features", module.out_features), ("bias", module.bias is not None))
        return _layer(node, "dense", trace, inputs, macs, macs, params, attrs)
    if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d):
        per = module.in_channels // module.groups * math.prod(module.kernel_size)
        attrs = (
            ("out_channels", module.out_channels),
            ("kernel", tuple(module.kernel_size)),
            ("stride", tuple(module.stride)),
            ("padding", module.padding),
            ("groups", module.groups),
            ("bias", module.bias is not None),
        )
        kind = "conv2d" if isinstance(module, nn.Conv2d) else f"conv{len(module.kernel_size)}d"
        return _layer(node, kind, trace, inputs, out * per, out * per, params, attrs)
    if name.startswith(_NORMS):
        norm = "batch" if name.startswith("BatchNorm") else "layer"
        attrs = (("norm", norm), ("affine", params > 0))
        return _layer(node, "norm", trace, inputs, 2 * out, out, params, attrs)
    if name.startswith(_POOLS):
        return _pool(node, module, trace, inputs, params)
    if isinstance(module, nn.Embedding):
        attrs = (("vocab", module.num_embeddings), ("dim", module.embedding_dim))
        return _layer(node, "embedding", trace, [], out, out, params, attrs)
    if isinstance(module, nn.MultiheadAttention):
        return _attention(node, module, trace, inputs, params)
    return None


def _pool(node: Any, module: Any, trace: _Trace, inputs: list[str], params: int) -> Layer:
    out = math.prod(trace.shapes[node.name])
    name = type(module).__name__
    first = node.all_input_nodes[0].name
    if name.startswith("Adaptive"):
        macs = math.prod(trace.shapes.get(first, ()))
        op = "global_max" if "Max" in name else "global_avg"
        attrs: tuple[tuple[str, object], ...] = (("op", op),)
    else:
        kernel = module.kernel_size
        window = (
            math.prod(kernel)
            if isinstance(kernel, tuple)
            else kernel ** (len(trace.shapes[node.name]) - 1)
        )
        macs = out * window
        attrs = (
            ("op", "max" if "Max" in name else "avg"),
            ("kernel", kernel),
            ("stride", module.stride),
            ("padding", module.padding),
        )
    return _layer(node, "pool", trace, inputs, macs, 0, params, attrs)


def _attention(node: Any, module: Any, trace: _Trace, inputs: list[str], params: int) -> Layer:
    if not module.batch_first:
        raise InputError(
            f"from_torch: {node.target}: nn.MultiheadAttention must have batch_first=True "
            "(lpsched shapes are batch first)"
        )
    args = list(node.args[:3])
    for key in ("query", "key", "value")[len(args) :]:
        args.append(node.kwargs.get(key))
    shapes = [trace.shapes.get(getattr(a, "name", ""), ()) for a in args]
    if len(shapes) < 3 or any(len(s) != 2 for s in shapes):
        raise InputError(
            f"from_torch: {node.target}: expected query, key and value of shape "
            "(batch, sequence, features)"
        )
    e = module.embed_dim
    lq, lk = shapes[0][0], shapes[1][0]
    weight_macs = (2 * lq + 2 * lk) * e * e
    macs = weight_macs + 2 * lq * lk * e
    attrs = (("heads", module.num_heads), ("bias", module.in_proj_bias is not None))
    return _layer(node, "attention", trace, inputs, macs, weight_macs, params, attrs)


def _activation(node: Any, label: str, trace: _Trace, inputs: list[str]) -> Layer | str:
    """Fuse into the producing layer when it is this node's only reader, else a layer."""
    source = node.all_input_nodes[0] if node.all_input_nodes else None
    owner = trace.owner.get(source.name, "") if source is not None else ""
    producer = trace.layers.get(owner)
    fusable = (
        producer is not None
        and source is not None
        and trace.made_by.get(source.name) == owner
        and len(source.users) == 1
        and producer.attr("activation") is None
        and producer.kind in ("dense", "conv2d", "norm", "add")
    )
    if fusable:
        assert producer is not None
        trace.layers[owner] = replace(producer, attrs=(*producer.attrs, ("activation", label)))
        return "alias"
    out = math.prod(trace.shapes[node.name])
    return _layer(node, "activation", trace, inputs, out, 0, 0, (("activation", label),))


def _function_layer(
    node: Any, op: str, trace: _Trace, inputs: list[str], params: int, weights: int
) -> Layer | str | None:
    """The layer of a ``call_function`` / ``call_method`` node (see :func:`_module_layer`).

    ``params`` elements of parameters in ``weights`` operands are read by it.
    """
    out = math.prod(trace.shapes[node.name])
    tensors = [n for n in node.all_input_nodes if n.name in trace.shapes]
    if op in _ALIASES and not params:
        return "alias"
    if op in _ACTIVATIONS and not params:
        return _activation(node, _ACTIVATIONS[op], trace, inputs)
    if op in _JOINS:
        if len(tensors) + weights < 2:
            return "alias"  # an operation with a constant: its producer's
        operands = len(tensors) + weights
        return _layer(node, _JOINS[op], trace, inputs, (operands - 1) * out, out, params)
    if op in ("cat", "concat", "stack"):
        return _layer(node, "concat", trace, inputs, out, out, params)
    if op in ("matmul", "bmm", "mm"):
        inner = _inner(node, trace)
        return _layer(node, "matmul", trace, inputs, out * inner, out * inner, params)
    if op == "linear":
        inner = _inner(node, trace)
        return _layer(node, "dense", trace, inputs, out * inner, out * inner, params)
    if op == "scaled_dot_product_attention":
        q, k = (trace.shapes[n.name] for n in tensors[:2])
        macs = 2 * math.prod(q[:-1]) * k[-2] * q[-1]
        return _layer(node, "attention", trace, inputs, macs, 0, params)
    if op in ("mean", "sum", "amax", "max", "adaptive_avg_pool2d", "avg_pool2d", "max_pool2d"):
        first = math.prod(trace.shapes[tensors[0].name]) if tensors else out
        return _layer(node, "pool", trace, inputs, first, 0, params)
    if op in ("layer_norm", "batch_norm", "group_norm"):
        return _layer(node, "norm", trace, inputs, 2 * out, out, params)
    return None


def _inner(node: Any, trace: _Trace) -> int:
    """The contracted size of a matrix product: the last axis of its first operand."""
    shape = _meta_shape(node.all_input_nodes[0].meta.get("tensor_meta"))
    return shape[-1] if shape else 1


# ----------------------------------------------------------------------- the walk
def _visit(node: Any, gm: Any, trace: _Trace) -> None:
    """Add what one node of the traced graph makes to ``trace``."""
    if node.op == "output":
        return
    meta_shape = _meta_shape(node.meta.get("tensor_meta"))
    if node.op == "get_attr":
        value = _fetch(gm, node.target)
        trace.params[node.name] = trace.count([value])
        return
    if node.op == "placeholder":
        if meta_shape is not None:
            trace.shapes[node.name] = _sample(meta_shape, trace.batch, f"input {node.name}")
            trace.owner[node.name] = ""
        return
    if meta_shape is None:
        return  # a number (x.size(0)) or None: no tensor, no layer
    readers = [n for n in node.all_input_nodes if n.name in trace.owner]
    weights = [n for n in node.all_input_nodes if n.name in trace.params]
    params = sum(trace.params.pop(n.name) for n in weights)
    inputs = [trace.owner[n.name] for n in readers]
    if not readers or len(meta_shape) == 0 or meta_shape[0] != trace.batch:
        # Made from parameters (self.w.t()) or constants, or a statistic: no activation.
        # Parameters flow on to the operation that reads this tensor.
        if params or (weights and not readers):
            trace.params[node.name] = params
        if readers:
            trace.owner[node.name] = inputs[0]
        return
    trace.shapes[node.name] = meta_shape[1:]
    module = gm.get_submodule(node.target) if node.op == "call_module" else None
    op = _op_name(node, module)
    made = (
        _module_layer(node, module, trace, inputs)
        if module is not None
        else _function_layer(node, op, trace, inputs, params, len(weights))
    )
    if made is None:
        trace.unsupported.append(_qualified(node, module))
        trace.owner[node.name] = node.name
        return
    if isinstance(made, Layer):
        trace.layers[made.name] = made
        trace.owner[node.name] = made.name
        trace.made_by[node.name] = made.name
    else:
        trace.owner[node.name] = trace.owner.get(readers[0].name, "") if readers else ""


def _fetch(gm: Any, target: str) -> Any:
    value = gm
    for part in target.split("."):
        value = getattr(value, part)
    return value


def _is_leaf(module: Any) -> bool:
    """Whether the walk handles ``module`` whole (everything else is traced through)."""
    torch = import_torch()
    nn = torch.nn
    name = type(module).__name__
    whole = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Embedding, nn.MultiheadAttention)
    return (
        isinstance(module, whole)
        or name in _ACTIVATIONS
        or name in _ALIASES
        or name.startswith(_NORMS + _POOLS)
    )


def _leaf_tracer() -> Any:
    """An fx tracer that stops at the modules :func:`_is_leaf` names."""
    import torch.fx

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m: Any, module_qualified_name: str) -> bool:
            return _is_leaf(m)

    return Tracer()


def _trace(module: Any, inputs: tuple[Any, ...], label: str) -> Any:
    """Trace ``module`` and run it once on ``inputs`` to record shapes (``ShapeProp``)."""
    torch = import_torch()
    from torch.fx.passes.shape_prop import ShapeProp

    if not isinstance(module, torch.nn.Module):
        raise InputError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    try:
        gm = torch.fx.GraphModule(module, _leaf_tracer().trace(module))
    except Exception as err:  # fx raises many kinds (TraceError, TypeError, ...)
        raise InputError(f"from_torch: torch.fx cannot trace {label}: {_first_line(err)}") from None
    was_training = gm.training
    gm.eval()  # no running statistics change, no dropout: only the shapes are wanted
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(*inputs)
    except Exception as err:
        raise InputError(
            f"from_torch: {label} fails on the example input: {_first_line(err)}"
        ) from None
    finally:
        gm.train(was_training)
    return gm


def from_torch(module: Any, example_input: Any, *, name: str | None = None) -> Network:
    """The network of a PyTorch module: layers, shapes, parameters and MACs, as a DAG.

    Parameters
    ----------
    module
        A ``torch.nn.Module`` that ``torch.fx.symbolic_trace`` can trace.
    example_input
        A tensor (or a tuple of tensors) the module runs on; its first axis is
        the batch, and shapes are recorded per sample.
    name
        The network's name; default: the module's class name in lower case.

    Returns
    -------
    Network
        One layer per operation with work (see the module docstring).

    Raises
    ------
    InputError
        When PyTorch is missing, the module cannot be traced or fails on the
        input, or it uses operations lpsched does not know (all are named).
    """
    torch = import_torch()
    inputs = tuple(example_input) if isinstance(example_input, list | tuple) else (example_input,)
    if not inputs or not all(isinstance(x, torch.Tensor) for x in inputs):
        raise InputError("from_torch: the example input must be a tensor or a tuple of tensors")
    if inputs[0].dim() < 1:
        raise InputError("from_torch: the example input needs a batch axis")
    label = name or type(module).__name__
    gm = _trace(module, inputs, label)
    trace = _Trace(batch=int(inputs[0].shape[0]))
    for node in gm.graph.nodes:
        _visit(node, gm, trace)
    if trace.unsupported:
        listed = ", ".join(trace.unsupported[:_SHOWN])
        more = len(trace.unsupported) - _SHOWN
        tail = f" and {more} more" if more > 0 else ""
        raise InputError(f"from_torch: {label}: unsupported operation(s) {listed}{tail}")
    if not trace.layers:
        raise InputError(f"from_torch: {label} has no operation with work")
    input_shape = tuple(int(s) for s in inputs[0].shape[1:]) or (1,)
    return Network(name or type(module).__name__.lower(), input_shape, tuple(trace.layers.values()))


def load_factory(spec: str) -> Network:
    """The network of ``package.module:factory``: ``factory()`` returns ``(module, input)``.

    The current directory is searched first, as ``python -m`` does.

    Raises
    ------
    InputError
        When the module cannot be imported, the factory is missing or fails,
        or its result is not ``(nn.Module, example input)``.
    """
    import importlib
    import os
    import sys

    path, _, attr = spec.removeprefix("torch:").rpartition(":")
    import_torch()
    added = os.getcwd() not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        mod = importlib.import_module(path)
    except Exception as err:
        raise InputError(f"{brief(spec)}: cannot import {path}: {_first_line(err)}") from None
    finally:
        if added:
            sys.path.remove(os.getcwd())
    factory: Callable[[], Any] | None = getattr(mod, attr, None)
    if not callable(factory):
        raise InputError(f"{brief(spec)}: {path} has no callable {attr}")
    try:
        made = factory()
    except Exception as err:
        raise InputError(f"{brief(spec)}: {attr}() failed: {_first_line(err)}") from None
    if not (isinstance(made, tuple) and len(made) == 2):
        raise InputError(f"{brief(spec)}: {attr}() must return (module, example_input)")
    return from_torch(made[0], made[1], name=attr)
