"""Layer factories and the built-in networks.

Every factory takes the per-sample input shape(s) and the layer's attributes,
checks that they connect, and returns a :class:`~lpsched.networks.layers.Layer`
whose output shape, parameters and MACs are computed from the shapes. A
:class:`NetworkBuilder` tracks the current shape so that the built-in networks
read like model code; :func:`get_network` builds them by name.

Shapes are per sample: ``(channels, height, width)`` for images,
``(features,)`` for vectors, ``(sequence, features)`` for token sequences and
``(sequence,)`` for token ids. A dense layer applies to the last axis of a
vector or sequence input and flattens an image input (as the classifiers of
AlexNet, VGG and ResNet do).

Counting MACs
-------------
``Layer.macs`` is the forward work of one sample (one image, or one sequence of
``seq_len`` tokens):

* Layers with weights (dense, conv2d, attention, mlp) count one
  multiply-accumulate (MAC) per product term of their matrix or convolution
  products: ``n_in * n_out`` per row of a dense layer (times the sequence length
  for a sequence), ``out_elements * (in_channels / groups) * kh * kw`` for a
  convolution. Biases, activations and batch norm folded into a convolution are
  not counted. These are the totals that model zoos publish as "FLOPs" (which
  are really MACs), so :attr:`Network.total_macs` matches them.
* Attention counts its four weight products (Q, K, V and output projections,
  ``4 * seq * d**2``) plus the two products without weights, the scores
  ``Q K^T`` and their product with ``V`` (``seq**2 * d`` each, over all heads,
  without a causal discount); softmax is not counted. The transformer mlp block
  counts its two products ``d -> hidden -> d``.
* Layers without weights count element operations: pool ``out_elements *
  window`` (global pooling: ``in_elements``), add ``out_elements`` per added
  operand (``(inputs - 1) * out_elements``), concat ``out_elements`` (one copy
  each), activation ``out_elements``. Normalisation counts ``2 * out_elements``
  (statistics, then normalise-and-scale) and the embedding ``out_elements``
  (a row lookup per output element); both have parameters, so they are weighted
  layers, and their small element work is part of ``total_macs``.

``Layer.weight_macs`` is the work of the products that involve the weights,
which is the cost of ``G`` (``W^T delta``) and of ``W`` (``dW``): equal to
``macs`` for dense, conv2d, mlp and embedding, the four projections for
attention, and ``out_elements`` (the scale by ``gamma``) for an affine norm.

GPT-2's language-model head is tied to the token embedding. The shared table
(``vocab * d`` parameters) is counted once, in the ``lm_head`` dense layer,
which does the large product with it (its forward, ``G`` and ``dW`` are real
matrix products). The embedding layer records ``tied="lm_head"`` and owns only
the position table, as pipeline systems keep a copy of a tied table at each end
and sum the two gradients; the embedding's sparse gradient of its copy is not
modelled. ``tie_lm_head=False`` gives the untied variant with both tables.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import InputError
from ..files import brief
from ..units import limit_text
from .layers import Layer, Network

__all__ = [
    "ACTIVATIONS",
    "BUILTIN_NETWORKS",
    "LAYER_KINDS",
    "NetworkBuilder",
    "activation",
    "add",
    "attention",
    "attr_defaults",
    "builtin_options",
    "concat",
    "conv2d",
    "dense",
    "embedding",
    "get_network",
    "make_layer",
    "mlp",
    "norm",
    "pool",
]

#: Activation functions a layer may carry (``activation=...``); a label only,
#: their element work is not counted.
ACTIVATIONS = frozenset(
    {
        "relu",
        "relu6",
        "leaky_relu",
        "elu",
        "gelu",
        "silu",
        "swish",
        "mish",
        "hardswish",
        "tanh",
        "sigmoid",
        "softmax",
    }
)

POOL_OPS = ("max", "avg", "global_avg", "global_max")
NORMS = ("batch", "layer")

Shape = tuple[int, ...]


# --------------------------------------------------------------------------- checks


def _fail(name: str, kind: str, message: str) -> InputError:
    return InputError(f"layer {name!r} ({kind}): {message}")


def _int(name: str, kind: str, key: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(name, kind, f"{key} must be an integer, got {value!r}")
    if value < minimum:
        raise _fail(name, kind, f"{key} must be >= {minimum}, got {value}")
    return value


def _pair(name: str, kind: str, key: str, value: object, minimum: int = 1) -> int | tuple[int, int]:
    """An int or a ``[h, w]`` pair; canonical form is an int when both are equal."""
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise _fail(name, kind, f"{key} must be an integer or [height, width], got {value!r}")
        first = _int(name, kind, key, value[0], minimum)
        second = _int(name, kind, key, value[1], minimum)
        return first if first == second else (first, second)
    return _int(name, kind, key, value, minimum)


def _hw(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else value


def _bool(name: str, kind: str, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _fail(name, kind, f"{key} must be true or false, got {value!r}")
    return value


def _choice(name: str, kind: str, key: str, value: object, choices: Sequence[str]) -> str:
    if value not in choices:
        raise _fail(name, kind, f"{key} must be one of {', '.join(choices)}; got {value!r}")
    return str(value)


def _activation(name: str, kind: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in ACTIVATIONS:
        known = ", ".join(sorted(ACTIVATIONS))
        raise _fail(name, kind, f"unknown activation {value!r} (known: {known})")
    return str(value)


def _shape(name: str, kind: str, shape: object) -> Shape:
    if not isinstance(shape, list | tuple) or not shape:
        raise _fail(name, kind, f"input shape must be a non-empty list of sizes, got {shape!r}")
    return tuple(_int(name, kind, "input shape", size) for size in shape)


def _name(name: object, kind: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{kind} layer: name must be a non-empty string, got {name!r}")
    return name


def _inputs(inputs: Sequence[str]) -> tuple[str, ...]:
    return (inputs,) if isinstance(inputs, str) else tuple(inputs)


def _attrs(*pairs: tuple[str, object]) -> tuple[tuple[str, object], ...]:
    """Canonical attributes: in factory order, ``None`` left out."""
    return tuple((key, value) for key, value in pairs if value is not None)


def _fmt(shape: Shape) -> str:
    return "x".join(map(str, shape))


# ------------------------------------------------------------------------ factories


def dense(
    name: str,
    in_shape: Sequence[int],
    out_features: int,
    *,
    bias: bool = True,
    activation: str | None = None,
    in_features: int | None = None,
    inputs: Sequence[str] = (),
) -> Layer:
    """A fully connected layer ``y = f(W x + b)``.

    Parameters
    ----------
    name
        Layer name.
    in_shape
        Input shape: ``(n_in,)``, ``(sequence, n_in)`` (applied to each token)
        or ``(C, H, W)`` (flattened to ``n_in = C*H*W``).
    out_features
        ``n_out``.
    bias
        Whether the layer has a bias (``n_out`` parameters, not counted in MACs).
    activation
        Fused activation (a label, see :data:`ACTIVATIONS`).
    in_features
        Expected ``n_in``; a mismatch raises (use it to check hand-written files).
    inputs
        Names of the producer layers.

    Returns
    -------
    Layer
        ``macs = weight_macs = rows * n_in * n_out``.

    Raises
    ------
    InputError
        When the shapes do not connect or a value is invalid.
    """
    kind = "dense"
    name = _name(name, kind)
    shape = _shape(name, kind, in_shape)
    n_out = _int(name, kind, "out_features", out_features)
    bias = _bool(name, kind, "bias", bias)
    act = _activation(name, kind, activation)
    if len(shape) == 3:
        lead: Shape = ()
        n_in = math.prod(shape)
    elif len(shape) in (1, 2):
        lead, n_in = shape[:-1], shape[-1]
    else:
        raise _fail(name, kind, f"expects a vector, sequence or image input, got {_fmt(shape)}")
    if in_features is not None and _int(name, kind, "in_features", in_features) != n_in:
        raise _fail(
            name, kind, f"expects {in_features} input features, input has {n_in} ({_fmt(shape)})"
        )
    macs = math.prod(lead) * n_in * n_out
    return Layer(
        name=name,
        kind=kind,
        inputs=_inputs(inputs),
        in_shape=shape,
        out_shape=(*lead, n_out),
        params=n_in * n_out + (n_out if bias else 0),
        macs=macs,
        weight_macs=macs,
        attrs=_attrs(("out_features", n_out), ("bias", bias), ("activation", act)),
    )


def conv2d(
    name: str,
    in_shape: Sequence[int],
    out_channels: int,
    kernel: int | Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    groups: int = 1,
    bias: bool = True,
    norm: str | None = None,
    activation: str | None = None,
    in_channels: int | None = None,
    inputs: Sequence[str] = (),
) -> Layer:
    """A 2-D convolution, optionally with batch norm folded in.

    Parameters
    ----------
    name
        Layer name.
    in_shape
        ``(C_in, H, W)``.
    out_channels
        ``C_out``.
    kernel, stride, padding
        An integer or ``[height, width]``.
    groups
        Channel groups (``C_in`` for a depthwise convolution); divides both
        ``C_in`` and ``C_out``.
    bias
        Whether the convolution has a bias (``C_out`` parameters).
    norm
        ``"batch"`` folds a batch norm into the layer: its ``2 * C_out``
        parameters are added, its element work is not counted.
    activation
        Fused activation (a label).
    in_channels
        Expected ``C_in``; a mismatch raises.
    inputs
        Names of the producer layers.

    Returns
    -------
    Layer
        ``macs = weight_macs = C_out * H_out * W_out * (C_in / groups) * kh * kw``.

    Raises
    ------
    InputError
        When the shapes do not connect or a value is invalid.
    """
    kind = "conv2d"
    name = _name(name, kind)
    shape = _shape(name, kind, in_shape)
    if len(shape) != 3:
        raise _fail(name, kind, f"expects a (channels, height, width) input, got {_fmt(shape)}")
    c_in, h, w = shape
    c_out = _int(name, kind, "out_channels", out_channels)
    kernel = _pair(name, kind, "kernel", kernel)
    stride = _pair(name, kind, "stride", stride)
    padding = _pair(name, kind, "padding", padding, minimum=0)
    groups = _int(name, kind, "groups", groups)
    bias = _bool(name, kind, "bias", bias)
    if norm is not None:
        norm = _choice(name, kind, "norm", norm, ("batch",))
    act = _activation(name, kind, activation)
    if in_channels is not None and _int(name, kind, "in_channels", in_channels) != c_in:
        raise _fail(
            name, kind, f"expects {in_channels} input channels, input has {c_in} ({_fmt(shape)})"
        )
    if c_in % groups or c_out % groups:
        raise _fail(
            name, kind, f"groups={groups} must divide in channels {c_in} and out_channels {c_out}"
        )
    (kh, kw), (sh, sw), (ph, pw) = _hw(kernel), _hw(stride), _hw(padding)
    h_out = (h + 2 * ph - kh) // sh + 1
    w_out = (w + 2 * pw - kw) // sw + 1
    if h_out < 1 or w_out < 1:
        raise _fail(
            name, kind, f"kernel {kh}x{kw} (padding {ph}x{pw}) does not fit its {h}x{w} input"
        )
    per_output = (c_in // groups) * kh * kw
    macs = c_out * h_out * w_out * per_output
    params = c_out * per_output + (c_out if bias else 0) + (2 * c_out if norm else 0)
    return Layer(
        name=name,
        kind=kind,
        inputs=_inputs(inputs),
        in_shape=shape,
        out_shape=(c_out, h_out, w_out),
        params=params,
        macs=macs,
        weight_macs=macs,
        attrs=_attrs(
            ("out_channels", c_out),
            ("kernel", kernel),
            ("stride", stride),
            ("padding", padding),
            ("groups", groups),
            ("bias", bias),
            ("norm", norm),
            ("activation", act),
        ),
    )


def pool(
    name: str,
    in_shape: Sequence[int],
    op: str,
    kernel: int | Sequence[int] | None = None,
    *,
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    inputs: Sequence[str] = (),
) -> Layer:
    """A pooling layer (no weights).

    Parameters
    ----------
    name
        Layer name.
    in_shape
        ``(C, H, W)``.
    op
        ``max``, ``avg``, or ``global_avg`` / ``global_max`` (output ``(C, 1, 1)``).
    kernel, stride, padding
        Window of ``max`` / ``avg``; ``stride`` defaults to ``kernel``. Not
        allowed for the global operations.
    inputs
        Names of the producer layers.

    Returns
    -------
    Layer
        ``macs = out_elements * window`` (``in_elements`` when global).

    Raises
    ------
    InputError
        When the window does not fit or a value is invalid.
    """
    kind = "pool"
    name = _name(name, kind)
    shape = _shape(name, kind, in_shape)
    op = _choice(name, kind, "op", op, POOL_OPS)
    if len(shape) != 3:
        raise _fail(name, kind, f"expects a (channels, height, width) input, got {_fmt(shape)}")
    c, h, w = shape
    if op.startswith("global"):
        if kernel is not None or stride is not None or padding != 0:
            raise _fail(name, kind, f"{op} takes no kernel, stride or padding")
        return Layer(
            name=name,
            kind=kind,
            inputs=_inputs(inputs),
            in_shape=shape,
            out_shape=(c, 1, 1),
            macs=c * h * w,
            attrs=_attrs(("op", op)),
        )
    if kernel is None:
        raise _fail(name, kind, f"{op} pooling needs a kernel")
    kernel = _pair(name, kind, "kernel", kernel)
    stride = kernel if stride is None else _pair(name, kind, "stride", stride)
    padding = _pair(name, kind, "padding", padding, minimum=0)
    (kh, kw), (sh, sw), (ph, pw) = _hw(kernel), _hw(stride), _hw(padding)
    h_out = (h + 2 * ph - kh) // sh + 1
    w_out = (w + 2 * pw - kw) // sw + 1
    if h_out < 1 or w_out < 1:
        raise _fail(
            name, kind, f"window {kh}x{kw} (padding {ph}x{pw}) does not fit its {h}x{w} input"
        )
    return Layer(
        name=name,
        kind=kind,
        inputs=_inputs(inputs),
        in_shape=shape,
        out_shape=(c, h_out, w_out),
        macs=c * h_out * w_out * kh * kw,
        attrs=_attrs(("op", op), ("kernel", kernel), ("stride", stride), ("padding", padding)),
    )


def add(
    name: str,
    in_shapes: Sequence[Sequence[int]],
    *,
    activation: str | None = None,
    inputs: Sequence[str] = (),
) -> Layer:
    """An element-wise sum of two or more inputs of one shape (a residual join).

    Returns
    -------
    Layer
        ``macs = (len(inputs) - 1) * out_elements``.

    Raises
    ------
    InputError
        When there are fewer than two inputs or their shapes differ.
    """
    kind = "add"
    name = _name(name, kind)
    shapes = [_shape(name, kind, shape) for shape in in_shapes]
    act = _activation(name, kind, activation)
    if len(shapes) < 2:
        raise _fail(name, kind, f"needs at least two inputs, got {len(shapes)}")
    if any(shape != shapes[0] for shape in shapes):
        got = ", ".join(_fmt(shape) for shape in shapes)
        raise _fail(name, kind, f"inputs must have one shape, got {got}")
    return Layer(
        name=name,
        kind=kind,
        inputs=_inputs(inputs),
        in_shape=shapes[0],
        out_shape=shapes[0],
        macs=(len(shapes) - 1) * math.prod(shapes[0]),
        attrs=_attrs(("activation", act)),
    )


def concat(
    name: str,
    in_shapes: Sequence[Sequence[int]],
    *,
    axis: int = 0,
    inputs: Sequence[str] = (),
) -> Layer:
    """Concatenation of two or more inputs along ``axis`` (0: channels or features).

    Returns
    -------
    Layer
        ``macs = out_elements`` (one copy each).

    Raises
    ------
    InputError
        When there are fewer than two inputs, or they differ in rank or in a
        size other than ``axis``.
    """
    kind = "concat"
    name = _name(name, kind)
    shapes = [_shape(name, kind, shape) for shape in in_shapes]
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise _fail(name, kind, f"axis must be an integer, got {axis!r}")
    if len(shapes) < 2:
        raise _fail(name, kind, f"needs at least two inputs, got {len(shapes)}")
    rank = len(shapes[0])
    if any(len(shape) != rank for shape in shapes):
        raise _fail(name, kind, f"inputs differ in rank: {', '.join(map(_fmt, shapes))}")
    if not -rank <= axis < rank:
        raise _fail(name, kind, f"axis {axis} out of range for rank-{rank} inputs")
    axis %= rank
    others = {shape[:axis] + shape[axis + 1 :] for shape in shapes}
    if len(others) > 1:
        raise _fail(
            name,
            kind,
            f"inputs must agree on every axis but {axis}, got {', '.join(map(_fmt, shapes))}",
        )
    out = list(shapes[0])
    out[axis] = sum(shape[axis] for shape in shapes)
    return Layer(
        name=name,
        kind=kind,
        inputs=_inputs(inputs),
        in_shape=shapes[0],
        out_shape=tuple(out),
        macs=math.prod(out),
        attrs=_attrs(("axis", axis)),
    )


def norm(
    name: str,
    in_shape: Sequence[int],
    norm: str,
    *,
    affine: bool = True,
    activation: str | None = None,
    inputs: Sequence[str] = (),
) -> Layer:
    """A batch norm (per channel, ``2 * C`` parameters) or layer norm (``2 * d``).

    Parameters
    ----------
    name
        Layer name.
    in_shape
        ``(C, H, W)`` or ``(C,)`` for batch norm; the last axis is normalised by
        layer norm.
    norm
        ``batch`` or ``layer``.
    affine
        Whether it has the scale and shift parameters; without them the layer
        has no weights.
    activation
        Fused activation (a label).
    inputs
        Names of the producer layers.

    Returns
    -------
    Layer
        ``macs = 2 * out_elements``; ``weight_macs = out_elements`` when affine.
    """
    kind = "norm"
    name = _name(name, kind)
    shape = _shape(name, kind, in_shape)
    norm = _choice(name, kind, "norm", norm, NORMS)
    affine = _bool(name, kind, "affine", affine)
    act = _activation(name, kind, activation)
    if norm == "batch":
        if len(shape) not in (1, 3):
            raise _fail(name, kind, f"batch norm expects (C,) or (C, H, W), got {_fmt(shape)}")
        width = shape[0]
    else:
        width = shape[-1]
    elements = math.prod(shape)
    return Layer(
        name=name,
        kind=kind,
        inputs=_inputs(inputs),
        in_shape=shape,
        out_shape=shape,
        params=2 * width if affine else 0,
        macs=2 * elements,
        weight_macs=elements if affine else 0,
        attrs=_attrs(("norm", norm), ("affine", affine), ("activation", act)),
    )


def activation(
    name: str, in_shape: Sequence[int], activation: str, *, inputs: Sequence[str] = ()
) -> Layer:
    """A stand-alone activation (built-ins fuse activations into their producers).

    Returns
    -------
    Layer
        ``macs = out_elements``.
    """
    kind = "activation"
    name = _name(name, kind)
    shape = _shape(name, kind, in_shape)
    act = _activation(name, kind, activation)
    if act is None:
        raise _fail(name, kind, "needs an activation")
    return Layer(
        name=name,
        kind=kind,
        inputs=_inputs(inputs),
        in_shape=shape,
        out_shape=shape,
        macs=math.prod(shape),
        attrs=_attrs(("activation", act)),
    )


def embedding(
    name: str,
    in_shape: Sequence[int],
    vocab: int,
    dim: int,
    *,
    positions: int = 0,
    tied: str | None = None,
    inputs: Sequence[str] = (),
) -> Layer:
    """Token embedding (plus a learned position table) of a ``(sequence,)`` input.

    Parameters
    ----------
    name
        Layer name.
    in_shape
        ``(sequence,)`` token ids.
    vocab, dim
        Token table size ``vocab x dim``.
    positions
        Rows of the position table (0: none); at least the sequence length.
    tied
        Name of the dense layer (``dim -> vocab``) that owns the token table
        when it is shared; the table's parameters are then counted there, not
        here. :meth:`NetworkBuilder.build` checks the target.
    inputs
        Names of the producer layers.

    Returns
    -------
    Layer
        Output ``(sequence, dim)``; ``macs = weight_macs = out_elements``.
    """
    kind = "embedding"
    name = _name(name, kind)
    shape = _shape(name, kind, in_shape)
    vocab = _int(name, kind, "vocab", vocab)
    dim = _int(name, kind, "dim", dim)
    positions = _int(name, kind, "positions", positions, minimum=0)
    if tied is not None and (not isinstance(tied, str) or not tied):
        raise _fail(name, kind, f"tied must be a layer name, got {tied!r}")
    if len(shape) != 1:
        raise _fail(name, kind, f"expects a (sequence,) input of token ids, got {_fmt(shape)}")
    seq = shape[0]
    if positions and seq > positions:
        raise _fail(name, kind, f"sequence length {seq} exceeds its {positions} positions")
    elements = seq * dim
    return Layer(
        name=name,
        kind=kind,
        inputs=_inputs(inputs),
        in_shape=shape,
        out_shape=(seq, dim),
        params=(0 if tied else vocab * dim) + positions * dim,
        macs=elements,
        weight_macs=elements,
        attrs=_attrs(("vocab", vocab), ("dim", dim), ("positions", positions), ("tied", tied)),
    )


def attention(
    name: str,
    in_shape: Sequence[int],
    heads: int,
    *,
    bias: bool = True,
    inputs: Sequence[str] = (),
) -> Layer:
    """Multi-head self-attention: QKV projection, scores, ``softmax(.) V``, output projection.

    Parameters
    ----------
    name
        Layer name.
    in_shape
        ``(sequence, d)``; ``heads`` divides ``d``.
    heads
        Number of heads (the MAC count does not depend on it).
    bias
        Whether the projections have biases (``4 * d`` parameters).
    inputs
        Names of the producer layers.

    Returns
    -------
    Layer
        ``params = 4 d^2 (+ 4 d)``, ``weight_macs = 4 seq d^2``,
        ``macs = weight_macs + 2 seq^2 d``.
    """
    kind = "attention"
    name = _name(name, kind)
    shape = _shape(name, kind, in_shape)
    heads = _int(name, kind, "heads", heads)
    bias = _bool(name, kind, "bias", bias)
    if len(shape) != 2:
        raise _fail(name, kind, f"expects a (sequence, features) input, got {_fmt(shape)}")
    seq, d = shape
    if d % heads:
        raise _fail(name, kind, f"{heads} heads do not divide the model width {d}")
    weight_macs = 4 * seq * d * d
    return Layer(
        name=name,
        kind=kind,
        inputs=_inputs(inputs),
        in_shape=shape,
        out_shape=shape,
        params=4 * d * d + (4 * d if bias else 0),
        macs=weight_macs + 2 * seq * seq * d,
        weight_macs=weight_macs,
        attrs=_attrs(("heads", heads), ("bias", bias)),
    )


def mlp(
    name: str,
    in_shape: Sequence[int],
    hidden: int | None = None,
    *,
    activation: str = "gelu",
    bias: bool = True,
    inputs: Sequence[str] = (),
) -> Layer:
    """A transformer MLP block: dense ``d -> hidden``, activation, dense ``hidden -> d``.

    Parameters
    ----------
    name
        Layer name.
    in_shape
        ``(sequence, d)`` or ``(d,)``.
    hidden
        Inner width, ``4 * d`` by default.
    activation
        The inner activation (a label).
    bias
        Whether both products have biases.
    inputs
        Names of the producer layers.

    Returns
    -------
    Layer
        ``macs = weight_macs = 2 * rows * d * hidden``.
    """
    kind = "mlp"
    name = _name(name, kind)
    shape = _shape(name, kind, in_shape)
    bias = _bool(name, kind, "bias", bias)
    act = _activation(name, kind, activation)
    if len(shape) not in (1, 2):
        raise _fail(name, kind, f"expects a (sequence, features) input, got {_fmt(shape)}")
    d = shape[-1]
    hidden = 4 * d if hidden is None else _int(name, kind, "hidden", hidden)
    macs = 2 * math.prod(shape[:-1]) * d * hidden
    return Layer(
        name=name,
        kind=kind,
        inputs=_inputs(inputs),
        in_shape=shape,
        out_shape=shape,
        params=2 * d * hidden + ((hidden + d) if bias else 0),
        macs=macs,
        weight_macs=macs,
        attrs=_attrs(("hidden", hidden), ("activation", act), ("bias", bias)),
    )


#: Layer kinds: name -> factory.
LAYER_KINDS: dict[str, Callable[..., Layer]] = {
    "dense": dense,
    "conv2d": conv2d,
    "pool": pool,
    "add": add,
    "concat": concat,
    "norm": norm,
    "activation": activation,
    "embedding": embedding,
    "attention": attention,
    "mlp": mlp,
}
_MULTI_INPUT = frozenset({"add", "concat"})
_REQUIRED = object()


def _attr_spec(kind: str) -> dict[str, object]:
    """Attribute name -> default (``_REQUIRED`` when it has none), from the factory."""
    params = list(inspect.signature(LAYER_KINDS[kind]).parameters.values())[2:]
    return {
        p.name: (_REQUIRED if p.default is inspect.Parameter.empty else p.default)
        for p in params
        if p.name != "inputs"
    }


_SPECS = {kind: _attr_spec(kind) for kind in LAYER_KINDS}


def attr_defaults(kind: str) -> dict[str, object]:
    """Optional attributes of a layer kind and their defaults.

    Raises
    ------
    InputError
        For an unknown kind.
    """
    if kind not in _SPECS:
        raise InputError(f"unknown layer kind {kind!r} (known: {', '.join(LAYER_KINDS)})")
    return {key: value for key, value in _SPECS[kind].items() if value is not _REQUIRED}


def make_layer(
    kind: str,
    name: str,
    in_shapes: Sequence[Sequence[int]],
    inputs: Sequence[str] = (),
    attrs: Mapping[str, object] | None = None,
) -> Layer:
    """Build a layer of ``kind`` from its attributes (the generic form of the factories).

    Parameters
    ----------
    kind
        A key of :data:`LAYER_KINDS`.
    name
        Layer name.
    in_shapes
        Shapes of the inputs, one per producer (the network input's when
        ``inputs`` is empty).
    inputs
        Names of the producer layers.
    attrs
        Attributes, as the factory's keyword arguments.

    Raises
    ------
    InputError
        For an unknown kind, an unknown or missing attribute, or shapes that do
        not connect; the message names the layer.
    """
    if not isinstance(kind, str) or kind not in LAYER_KINDS:
        raise InputError(f"layer {name!r}: unknown kind {kind!r} (known: {', '.join(LAYER_KINDS)})")
    attrs = dict(attrs or {})
    spec = _SPECS[kind]
    unknown = sorted(str(key) for key in attrs if key not in spec)
    if unknown:
        raise _fail(
            name, kind, f"unknown attribute {', '.join(unknown)} (allowed: {', '.join(spec)})"
        )
    missing = [key for key, default in spec.items() if default is _REQUIRED and key not in attrs]
    if missing:
        raise _fail(name, kind, f"missing attribute {', '.join(missing)}")
    if kind in _MULTI_INPUT:
        return LAYER_KINDS[kind](name, list(in_shapes), inputs=inputs, **attrs)
    if len(in_shapes) != 1:
        raise _fail(name, kind, f"takes one input, got {len(in_shapes)}")
    return LAYER_KINDS[kind](name, in_shapes[0], inputs=inputs, **attrs)


# -------------------------------------------------------------------------- builder


class NetworkBuilder:
    """Builds a network layer by layer, tracking the current layer and every shape.

    Each method adds one layer and returns its name. ``inputs=None`` reads the
    current (last added) layer, or the network input before the first layer;
    a name or a list of names reads those layers, and ``[]`` the network input.

    Parameters
    ----------
    name
        Network name.
    input_shape
        Per-sample input shape.

    Examples
    --------
    >>> b = NetworkBuilder("tiny", (3, 32, 32))
    >>> x = b.conv2d("conv1", 16, 3, padding=1, activation="relu")
    >>> y = b.conv2d("conv2", 16, 3, padding=1)
    >>> b.add("add", [x, y], activation="relu")
    'add'
    >>> b.shape()
    (16, 32, 32)
    """

    def __init__(self, name: str, input_shape: Sequence[int]):
        if not isinstance(name, str) or not name:
            raise InputError(f"network name must be a non-empty string, got {name!r}")
        if not isinstance(input_shape, list | tuple) or not input_shape:
            raise InputError(f"network {name}: input must be a list of sizes, got {input_shape!r}")
        for size in input_shape:
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise InputError(
                    f"network {name}: input sizes must be positive integers, got {input_shape!r}"
                )
        self.name = name
        self.input_shape: Shape = tuple(input_shape)
        self.current: str | None = None
        self._layers: list[Layer] = []
        self._shapes: dict[str, Shape] = {}

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The layers added so far."""
        return tuple(self._layers)

    def shape(self, layer: str | None = None) -> Shape:
        """Output shape of ``layer`` (default: the current layer, or the network input)."""
        layer = self.current if layer is None else layer
        if layer is None:
            return self.input_shape
        if layer not in self._shapes:
            raise InputError(f"network {self.name}: unknown layer {layer!r}")
        return self._shapes[layer]

    def layer(
        self, kind: str, name: str, inputs: str | Sequence[str] | None = None, **attrs: object
    ) -> str:
        """Add a layer of ``kind`` with attributes ``attrs``; see :func:`make_layer`."""
        if inputs is None:
            names: tuple[str, ...] = () if self.current is None else (self.current,)
        elif isinstance(inputs, str):
            names = (inputs,)
        elif isinstance(inputs, list | tuple):
            names = tuple(inputs)
        else:
            raise InputError(f"layer {name!r} ({kind}): inputs must be a list of layer names")
        for src in names:
            if not isinstance(src, str) or src not in self._shapes:
                raise InputError(f"layer {name!r} ({kind}): input {src!r} is not an earlier layer")
        if isinstance(name, str) and name in self._shapes:
            raise InputError(f"layer {name!r} ({kind}): duplicate layer name")
        shapes = [self._shapes[src] for src in names] or [self.input_shape]
        built = make_layer(kind, name, shapes, names, attrs)
        self._layers.append(built)
        self._shapes[built.name] = built.out_shape
        self.current = built.name
        return built.name

    def dense(self, name: str, out_features: int, *, inputs=None, **attrs: object) -> str:
        """Add a :func:`dense` layer."""
        return self.layer("dense", name, inputs, out_features=out_features, **attrs)

    def conv2d(
        self, name: str, out_channels: int, kernel: int, *, inputs=None, **attrs: object
    ) -> str:
        """Add a :func:`conv2d` layer."""
        return self.layer("conv2d", name, inputs, out_channels=out_channels, kernel=kernel, **attrs)

    def pool(
        self, name: str, op: str, kernel: int | None = None, *, inputs=None, **attrs: object
    ) -> str:
        """Add a :func:`pool` layer."""
        if kernel is not None:
            attrs["kernel"] = kernel
        return self.layer("pool", name, inputs, op=op, **attrs)

    def add(self, name: str, inputs: Sequence[str], **attrs: object) -> str:
        """Add an :func:`add` layer."""
        return self.layer("add", name, inputs, **attrs)

    def concat(self, name: str, inputs: Sequence[str], **attrs: object) -> str:
        """Add a :func:`concat` layer."""
        return self.layer("concat", name, inputs, **attrs)

    def norm(self, name: str, norm: str, *, inputs=None, **attrs: object) -> str:
        """Add a :func:`norm` layer."""
        return self.layer("norm", name, inputs, norm=norm, **attrs)

    def activation(self, name: str, activation: str, *, inputs=None) -> str:
        """Add an :func:`activation` layer."""
        return self.layer("activation", name, inputs, activation=activation)

    def embedding(self, name: str, vocab: int, dim: int, *, inputs=None, **attrs: object) -> str:
        """Add an :func:`embedding` layer."""
        return self.layer("embedding", name, inputs, vocab=vocab, dim=dim, **attrs)

    def attention(self, name: str, heads: int, *, inputs=None, **attrs: object) -> str:
        """Add an :func:`attention` layer."""
        return self.layer("attention", name, inputs, heads=heads, **attrs)

    def mlp(self, name: str, *, inputs=None, **attrs: object) -> str:
        """Add an :func:`mlp` block."""
        return self.layer("mlp", name, inputs, **attrs)

    def build(self) -> Network:
        """The network.

        Raises
        ------
        InputError
            When it has no layers, or an embedding is tied to a layer that is
            not a dense ``dim -> vocab`` layer of this network.
        """
        for layer in self._layers:
            tied = layer.attr("tied") if layer.kind == "embedding" else None
            if tied is None:
                continue
            target = next((t for t in self._layers if t.name == tied), None)
            dim, vocab = layer.attr("dim"), layer.attr("vocab")
            if target is None or target.kind != "dense" or target.attr("out_features") != vocab:
                n_in = None
            elif len(target.in_shape) == 3:
                n_in = math.prod(target.in_shape)
            else:
                n_in = target.in_shape[-1]
            if n_in != dim:
                raise InputError(
                    f"layer {layer.name!r} (embedding): tied to {tied!r}, which is not a "
                    f"dense {dim} -> {vocab} layer of network {self.name}"
                )
        return Network(self.name, self.input_shape, tuple(self._layers))


# ------------------------------------------------------------------ built-in networks


def _mlp_net(
    *, widths: tuple[int, ...] = (784, 1024, 1024, 1024, 10), activation: str = "relu"
) -> Network:
    b = NetworkBuilder("mlp", (widths[0],))
    for i, width in enumerate(widths[1:], start=1):
        last = i == len(widths) - 1
        b.dense(f"fc{i}", width, activation=None if last else activation)
    return b.build()


def _lenet5(*, num_classes: int = 10) -> Network:
    # LeCun et al. 1998 with full C3 connectivity, as in most reimplementations.
    b = NetworkBuilder("lenet5", (1, 32, 32))
    b.conv2d("conv1", 6, 5, activation="tanh")
    b.pool("pool1", "avg", 2)
    b.conv2d("conv2", 16, 5, activation="tanh")
    b.pool("pool2", "avg", 2)
    b.conv2d("conv3", 120, 5, activation="tanh")
    b.dense("fc1", 84, activation="tanh")
    b.dense("fc2", num_classes)
    return b.build()


def _alexnet(*, num_classes: int = 1000) -> Network:
    # torchvision's AlexNet (the one-GPU variant of Krizhevsky et al. 2012).
    # Its adaptive 6x6 average pool is the identity at 224x224 and is left out.
    b = NetworkBuilder("alexnet", (3, 224, 224))
    b.conv2d("conv1", 64, 11, stride=4, padding=2, activation="relu")
    b.pool("pool1", "max", 3, stride=2)
    b.conv2d("conv2", 192, 5, padding=2, activation="relu")
    b.pool("pool2", "max", 3, stride=2)
    b.conv2d("conv3", 384, 3, padding=1, activation="relu")
    b.conv2d("conv4", 256, 3, padding=1, activation="relu")
    b.conv2d("conv5", 256, 3, padding=1, activation="relu")
    b.pool("pool5", "max", 3, stride=2)
    b.dense("fc6", 4096, activation="relu")
    b.dense("fc7", 4096, activation="relu")
    b.dense("fc8", num_classes)
    return b.build()


def _vgg16(*, num_classes: int = 1000) -> Network:
    # Simonyan & Zisserman 2015, configuration D, as in torchvision.
    b = NetworkBuilder("vgg16", (3, 224, 224))
    for stage, (width, convs) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], 1):
        for i in range(1, convs + 1):
            b.conv2d(f"conv{stage}_{i}", width, 3, padding=1, activation="relu")
        b.pool(f"pool{stage}", "max", 2)
    b.dense("fc6", 4096, activation="relu")
    b.dense("fc7", 4096, activation="relu")
    b.dense("fc8", num_classes)
    return b.build()


def _conv_bn(
    b: NetworkBuilder,
    conv: str,
    width: int,
    kernel: int,
    stride: int = 1,
    *,
    act: str | None,
    fuse_norm: bool,
    inputs: str | None = None,
) -> str:
    """Convolution (no bias, padding kernel // 2) and batch norm, folded into it or separate.

    A separate norm is named after its convolution as in torchvision:
    ``layer1.0.conv2`` -> ``layer1.0.bn2``, ``layer2.0.downsample`` -> ``layer2.0.downsample_bn``.
    """
    pad = kernel // 2
    if fuse_norm:
        return b.conv2d(
            conv,
            width,
            kernel,
            stride=stride,
            padding=pad,
            bias=False,
            norm="batch",
            activation=act,
            inputs=inputs,
        )
    b.conv2d(conv, width, kernel, stride=stride, padding=pad, bias=False, inputs=inputs)
    head, _, last = conv.rpartition(".")
    bn = last.replace("conv", "bn") if last.startswith("conv") else f"{last}_bn"
    return b.norm(f"{head}.{bn}" if head else bn, "batch", activation=act)


def _resnet(
    name: str,
    bottleneck: bool,
    depths: tuple[int, ...],
    *,
    num_classes: int,
    image_size: int,
    fuse_norm: bool,
) -> Network:
    # He et al. 2016 as in torchvision (v1.5: the stride sits on the 3x3
    # convolution of a bottleneck), with projection shortcuts where the shape
    # changes. Names follow torchvision's module names.
    b = NetworkBuilder(name, (3, image_size, image_size))
    _conv_bn(b, "conv1", 64, 7, 2, act="relu", fuse_norm=fuse_norm)
    x = b.pool("maxpool", "max", 3, stride=2, padding=1)
    expansion = 4 if bottleneck else 1
    channels = 64
    for stage, depth in enumerate(depths, start=1):
        planes = 64 * 2 ** (stage - 1)
        for block in range(depth):
            p = f"layer{stage}.{block}"
            stride = 2 if stage > 1 and block == 0 else 1
            fuse = {"fuse_norm": fuse_norm}
            if bottleneck:
                _conv_bn(b, f"{p}.conv1", planes, 1, act="relu", inputs=x, **fuse)
                _conv_bn(b, f"{p}.conv2", planes, 3, stride, act="relu", **fuse)
                y = _conv_bn(b, f"{p}.conv3", planes * 4, 1, act=None, **fuse)
            else:
                _conv_bn(b, f"{p}.conv1", planes, 3, stride, act="relu", inputs=x, **fuse)
                y = _conv_bn(b, f"{p}.conv2", planes, 3, act=None, **fuse)
            shortcut = x
            if stride != 1 or channels != planes * expansion:
                width = planes * expansion
                shortcut = _conv_bn(
                    b, f"{p}.downsample", width, 1, stride, act=None, inputs=x, **fuse
                )
            x = b.add(f"{p}.add", [y, shortcut], activation="relu")
            channels = planes * expansion
    b.pool("avgpool", "global_avg")
    b.dense("fc", num_classes)
    return b.build()


def _resnet18(*, num_classes: int = 1000, image_size: int = 224, fuse_norm: bool = True) -> Network:
    return _resnet(
        "resnet18",
        False,
        (2, 2, 2, 2),
        num_classes=num_classes,
        image_size=image_size,
        fuse_norm=fuse_norm,
    )


def _resnet50(*, num_classes: int = 1000, image_size: int = 224, fuse_norm: bool = True) -> Network:
    return _resnet(
        "resnet50",
        True,
        (3, 4, 6, 3),
        num_classes=num_classes,
        image_size=image_size,
        fuse_norm=fuse_norm,
    )


def _gpt2(
    *,
    seq_len: int = 1024,
    blocks: int = 12,
    d_model: int = 768,
    heads: int = 12,
    vocab: int = 50257,
    n_positions: int = 1024,
    tie_lm_head: bool = True,
) -> Network:
    # Radford et al. 2019, GPT-2 small by default (pre-norm blocks).
    if seq_len > n_positions:
        raise InputError(f"seq_len {seq_len} exceeds n_positions {n_positions}")
    b = NetworkBuilder("gpt2", (seq_len,))
    tied = "lm_head" if tie_lm_head else None
    x = b.embedding("embed", vocab, d_model, positions=n_positions, tied=tied)
    for i in range(blocks):
        h = f"h{i}"
        b.norm(f"{h}.ln1", "layer", inputs=x)
        a = b.attention(f"{h}.attn", heads)
        x = b.add(f"{h}.add1", [x, a])
        b.norm(f"{h}.ln2", "layer")
        m = b.mlp(f"{h}.mlp", hidden=4 * d_model)
        x = b.add(f"{h}.add2", [x, m])
    b.norm("ln_f", "layer")
    b.dense("lm_head", vocab, bias=False)
    return b.build()


@dataclass(frozen=True)
class _Builtin:
    build: Callable[..., Network]
    description: str


_BUILTINS: dict[str, _Builtin] = {
    "mlp": _Builtin(_mlp_net, "multilayer perceptron 784-1024-1024-1024-10 (option widths)"),
    "lenet5": _Builtin(_lenet5, "LeNet-5 on 1x32x32 (LeCun et al. 1998), 61.7k params"),
    "alexnet": _Builtin(_alexnet, "AlexNet, torchvision variant, 224x224, 61.1M params, 0.71 GMAC"),
    "vgg16": _Builtin(_vgg16, "VGG-16 (configuration D), 224x224, 138.4M params, 15.5 GMAC"),
    "resnet18": _Builtin(_resnet18, "ResNet-18, 224x224, basic blocks, 11.7M params, 1.8 GMAC"),
    "resnet50": _Builtin(_resnet50, "ResNet-50, 224x224, bottlenecks, 25.6M params, 4.1 GMAC"),
    "gpt2": _Builtin(_gpt2, "GPT-2 small, 12 blocks, d=768, 12 heads, seq_len 1024, 124M params"),
}

#: Built-in networks: name -> one-line description.
BUILTIN_NETWORKS: dict[str, str] = {name: spec.description for name, spec in _BUILTINS.items()}


def _unknown_network(name: object) -> InputError:
    return InputError(f"unknown network {name!r} (built-in: {', '.join(_BUILTINS)})")


def builtin_options(name: str) -> dict[str, object]:
    """Options of the built-in network ``name`` and their defaults.

    Raises
    ------
    InputError
        For an unknown network.
    """
    if name not in _BUILTINS:
        raise _unknown_network(name)
    params = inspect.signature(_BUILTINS[name].build).parameters.values()
    return {p.name: p.default for p in params}


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}

#: The largest integer option (a width, a vocabulary, a sequence length ...): sizes
#: far beyond any network's, and small enough that MAC counts stay exact and durations
#: stay inside the limits of :mod:`lpsched.graph` at sane time units.
MAX_OPTION = 2**20

#: Options that multiply the number of layers get smaller limits (the graph's task limit
#: would refuse them anyway, after building millions of layers).
_OPTION_LIMITS = {"blocks": 1024}

#: The most sizes a list option (``widths``) may have: one layer each.
MAX_OPTION_ITEMS = 1024


def _option(network: str, key: str, value: object, default: object) -> object:
    """Coerce an option to its default's type; strings are accepted, as from a command line."""
    bad = InputError(f"network {network}: bad value {brief(value)} for option {key}")
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise bad
    if isinstance(default, int):
        limit = _OPTION_LIMITS.get(key, MAX_OPTION)
        if isinstance(value, str) and re.fullmatch(r"\s*[0-9]{1,18}\s*", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(
                f"network {network}: option {key} must be a positive integer, got {brief(value)}"
            )
        if value > limit:
            raise InputError(
                f"network {network}: option {key} must be at most {limit_text(limit)}, "
                f"got {brief(value)}"
            )
        return value
    if isinstance(default, tuple):
        items = re.split(r"[-,x\s]+", value.strip()) if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or len(items) < 2:
            raise InputError(
                f"network {network}: option {key} must list at least two sizes, "
                f"e.g. 784-256-10; got {brief(value)}"
            )
        if len(items) > MAX_OPTION_ITEMS:
            raise InputError(
                f"network {network}: option {key} lists {len(items)} sizes, "
                f"more than the limit of {MAX_OPTION_ITEMS}"
            )
        return tuple(_option(network, key, item, 1) for item in items)
    if isinstance(default, str):
        if not isinstance(value, str) or not value:
            raise bad
        return value
    raise bad  # pragma: no cover - every option default has one of the types above


def get_network(name: str, **options: object) -> Network:
    """The built-in network ``name`` (see :data:`BUILTIN_NETWORKS`).

    Parameters
    ----------
    name
        ``mlp``, ``lenet5``, ``alexnet``, ``vgg16``, ``resnet18``, ``resnet50`` or ``gpt2``.
    **options
        Network options (see :func:`builtin_options`): ``widths`` and
        ``activation`` (mlp); ``num_classes`` (CNNs); ``image_size`` and
        ``fuse_norm`` (resnets); ``seq_len``, ``blocks``, ``d_model``, ``heads``,
        ``vocab``, ``n_positions`` and ``tie_lm_head`` (gpt2). Values may be
        strings, as given on a command line (``widths="784-256-10"``).

    Raises
    ------
    InputError
        For an unknown network, an unknown option or a bad option value.
    """
    defaults = builtin_options(name)
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        allowed = ", ".join(defaults) or "none"
        unknown_text = ", ".join(unknown)
        raise InputError(f"network {name}: unknown option {unknown_text} (options: {allowed})")
    kwargs = {key: _option(name, key, value, defaults[key]) for key, value in options.items()}
    try:
        return _BUILTINS[name].build(**kwargs)
    except InputError as error:
        if str(error).startswith(f"network {name}"):
            raise
        raise InputError(f"network {name}: {error}") from None
