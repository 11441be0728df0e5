"""Typed layers and networks (DAGs of layers) with shapes, parameters and MAC counts.

Counting convention: one multiply-accumulate (MAC) per product term of a
matrix or convolution product, forward pass, per sample; biases, activations,
normalisation and pooling are counted as element operations in ``macs`` of the
layers that have no weights (see README, "Counting MACs").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InputError


@dataclass(frozen=True)
class Layer:
    """One layer of a network.

    Parameters
    ----------
    name
        Unique name within the network.
    kind
        ``dense``, ``conv2d``, ``pool``, ``add``, ``concat``, ``norm``,
        ``activation``, ``attention``, ``mlp``, ``embedding``, ...
    inputs
        Names of the producer layers; ``()`` for a layer fed by the network input.
    in_shape
        Per-sample shape of the (first) input.
    out_shape
        Per-sample output shape.
    params
        Trainable parameters; ``0`` means the layer has no ``W``/``U`` tasks.
    macs
        Forward multiply-accumulates per sample (element operations for
        layers without weights).
    weight_macs
        MACs per sample of the products that involve the weights: the cost of
        ``G`` (``W^T delta``) and of ``W`` (``dW``). Equals ``macs`` for dense
        and convolution layers; smaller for attention, whose score products
        have no weights.
    attrs
        Kind-specific attributes (kernel, stride, heads, ...), for display.
    """

    name: str
    kind: str
    inputs: tuple[str, ...]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int = 0
    macs: int = 0
    weight_macs: int = 0
    attrs: tuple[tuple[str, object], ...] = ()

    @property
    def weighted(self) -> bool:
        """Whether the layer has trainable weights (and so ``W`` and ``U`` tasks)."""
        return self.params > 0

    def attr(self, key: str, default: object = None) -> object:
        """The attribute ``key`` of :attr:`attrs`, or ``default`` when absent."""
        for name, value in self.attrs:
            if name == key:
                return value
        return default

    @property
    def attributes(self) -> dict[str, object]:
        """:attr:`attrs` as a dictionary."""
        return dict(self.attrs)

    @property
    def out_elements(self) -> int:
        """Output elements per sample."""
        return math.prod(self.out_shape)

    @property
    def in_elements(self) -> int:
        """Elements per sample of the (first) input."""
        return math.prod(self.in_shape)


@dataclass(frozen=True)
class Network:
    """A network: a DAG of layers listed in a topological order.

    Parameters
    ----------
    name
        Network name (``vgg16``, ...).
    input_shape
        Per-sample input shape.
    layers
        Layers in topological order: every input of a layer comes before it.

    Raises
    ------
    InputError
        On duplicate layer names, unknown or later inputs.
    """

    name: str
    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for layer in self.layers:
            if layer.name in seen:
                raise InputError(f"network {self.name}: duplicate layer name {layer.name!r}")
            for src in layer.inputs:
                if src not in seen:
                    raise InputError(
                        f"network {self.name}: layer {layer.name!r} reads {src!r}, "
                        "which is not an earlier layer"
                    )
            seen.add(layer.name)
        if not self.layers:
            raise InputError(f"network {self.name}: no layers")

    def layer(self, name: str) -> Layer:
        """The layer called ``name``."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise InputError(f"network {self.name}: unknown layer {name!r}")

    def consumers(self, name: str) -> list[str]:
        """Names of the layers that read layer ``name``."""
        return [layer.name for layer in self.layers if name in layer.inputs]

    @property
    def total_macs(self) -> int:
        """Forward MACs per sample of the weighted layers (the published convention)."""
        return sum(layer.macs for layer in self.layers if layer.weighted)

    @property
    def total_params(self) -> int:
        """Trainable parameters."""
        return sum(layer.params for layer in self.layers)
