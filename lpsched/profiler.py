"""``lpsched profile``: time each primitive task of a network's layers in PyTorch.

Each layer is built alone in PyTorch with its shapes (random data at the
chosen batch, fp32) and its five primitive tasks are timed separately, as
``formulations/README.md`` defines them:

* ``F``: the forward pass ``z = W a``, ``a = f(z)`` (autograd recording, as in training);
* ``D``: ``delta = f'(z) * g`` (the activation's backward; a copy when the layer
  has no activation);
* ``G``: the gradient with respect to the layer's inputs, ``W^T delta``
  (``torch.autograd.grad`` with respect to the inputs only);
* ``W``: the weight gradient ``dW = delta a^T`` (with respect to the weights only);
* ``U``: the SGD update ``W -= lr dW``.

Each is run ``warmup`` times, then ``repeats`` times with the device
synchronised around every run (CUDA), and the median is kept. Tasks a layer
does not have (``G`` of a layer fed by the network input, ``W`` and ``U`` of a
layer without weights) are left empty. PyTorch is an optional dependency
(``pip install "lpsched[torch]"``, CPU wheel: see README).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .costs import CostModel
from .errors import InputError
from .networks.layers import Layer, Network
from .profiles import LayerTimes
from .taskgraph import build_task_graph
from .torch_import import import_torch

__all__ = ["PROFILED_KINDS", "profile_network"]

#: Layer kinds the profiler builds.
PROFILED_KINDS = (
    "dense",
    "conv2d",
    "pool",
    "add",
    "concat",
    "norm",
    "activation",
    "embedding",
    "attention",
    "mlp",
)

#: Learning rate of the timed update (its value does not change the time).
_LR = 0.01

#: Largest activation a layer may have for the profiler (elements of one tensor).
_MAX_ELEMENTS = 2**31


@dataclass
class _Built:
    """One layer in PyTorch: inputs, weights, and its two halves ``z = pre(x)``, ``a = act(z)``."""

    inputs: list[Any]
    weights: list[Any]
    pre: Callable[[], Any]
    act: Callable[[Any], Any] | None


def _activation_fn(name: object) -> Callable[[Any], Any] | None:
    """The torch function of an activation label (``None`` for none)."""
    if name is None:
        return None
    torch = import_torch()
    F = torch.nn.functional
    table: dict[str, Callable[[Any], Any]] = {
        "relu": F.relu,
        "relu6": F.relu6,
        "leaky_relu": F.leaky_relu,
        "elu": F.elu,
        "gelu": F.gelu,
        "silu": F.silu,
        "swish": F.silu,
        "mish": F.mish,
        "hardswish": F.hardswish,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "softmax": lambda z: F.softmax(z, dim=-1),
    }
    if name not in table:
        raise InputError(f"lpsched profile: unknown activation {name!r}")
    return table[str(name)]


def _pair(value: object) -> Any:
    return tuple(value) if isinstance(value, list | tuple) else value


class _Factory:
    """Builds layers on one device at one batch size."""

    def __init__(self, network: Network, batch: int, device: str, needs_grad: set[str]):
        self.torch = import_torch()
        self.network, self.batch, self.device = network, batch, device
        self.shapes = {layer.name: layer.out_shape for layer in network.layers}
        self.needs_grad = needs_grad

    def tensor(self, shape: tuple[int, ...], grad: bool = False) -> Any:
        size = self.batch * math.prod(shape)
        if size > _MAX_ELEMENTS:
            raise InputError(
                f"lpsched profile: a tensor of {size} elements at batch {self.batch} is "
                "too large to build; profile at a smaller --batch-size"
            )
        t = self.torch.randn((self.batch, *shape), device=self.device)
        return t.requires_grad_(grad)

    def weight(self, *shape: int) -> Any:
        scale = 1 / math.sqrt(max(1, math.prod(shape[1:])))
        w = self.torch.randn(shape, device=self.device) * scale
        return w.requires_grad_(True)

    def inputs(self, layer: Layer) -> list[Any]:
        shapes = [self.shapes[p] for p in layer.inputs] or [layer.in_shape]
        return [self.tensor(s, layer.name in self.needs_grad) for s in shapes]

    def build(self, layer: Layer) -> _Built:
        maker = getattr(self, f"_{layer.kind}", None)
        if layer.kind not in PROFILED_KINDS or maker is None:
            raise InputError(
                f"lpsched profile: layer {layer.name}: kind {layer.kind!r} cannot be built in "
                f"PyTorch (kinds: {', '.join(PROFILED_KINDS)})"
            )
        return maker(layer)

    # One builder per layer kind: the layer's product(s) as ``pre``, its activation as ``act``.
    def _dense(self, layer: Layer) -> _Built:
        F = self.torch.nn.functional
        (x,) = self.inputs(layer)
        n_in = math.prod(layer.in_shape) if len(layer.in_shape) == 3 else layer.in_shape[-1]
        n_out = int(layer.attr("out_features"))
        w = [self.weight(n_out, n_in)] + ([self.weight(n_out)] if layer.attr("bias", True) else [])
        flat = len(layer.in_shape) == 3

        def pre() -> Any:
            return F.linear(x.flatten(1) if flat else x, *w)

        return _Built([x], w, pre, _activation_fn(layer.attr("activation")))

    def _conv2d(self, layer: Layer) -> _Built:
        F = self.torch.nn.functional
        (x,) = self.inputs(layer)
        c_in, c_out, groups = (
            layer.in_shape[0],
            int(layer.attr("out_channels")),
            layer.attr("groups", 1),
        )
        kernel = _pair(layer.attr("kernel"))
        kh, kw = kernel if isinstance(kernel, tuple) else (kernel, kernel)
        w = [self.weight(c_out, c_in // groups, kh, kw)]
        bias = self.weight(c_out) if layer.attr("bias", True) else None
        norm = [self.weight(c_out), self.weight(c_out)] if layer.attr("norm") else []
        stride, padding = _pair(layer.attr("stride", 1)), _pair(layer.attr("padding", 0))

        def pre() -> Any:
            z = F.conv2d(x, w[0], bias, stride, padding, 1, groups)
            return F.batch_norm(z, None, None, *norm, training=True) if norm else z

        weights = w + ([bias] if bias is not None else []) + norm
        return _Built([x], weights, pre, _activation_fn(layer.attr("activation")))

    def _pool(self, layer: Layer) -> _Built:
        F = self.torch.nn.functional
        (x,) = self.inputs(layer)
        op = layer.attr("op")
        kernel, padding = _pair(layer.attr("kernel")), _pair(layer.attr("padding", 0))
        stride = _pair(layer.attr("stride")) or kernel

        def pre() -> Any:
            if op == "global_avg":
                return F.adaptive_avg_pool2d(x, 1)
            if op == "global_max":
                return F.adaptive_max_pool2d(x, 1)
            pool = F.max_pool2d if op == "max" else F.avg_pool2d
            return pool(x, kernel, stride, padding)

        return _Built([x], [], pre, None)

    def _add(self, layer: Layer) -> _Built:
        xs = self.inputs(layer)
        return _Built(xs, [], lambda: sum(xs[1:], xs[0]), _activation_fn(layer.attr("activation")))

    def _concat(self, layer: Layer) -> _Built:
        xs = self.inputs(layer)
        axis = int(layer.attr("axis", 0)) + 1
        return _Built(xs, [], lambda: self.torch.cat(xs, dim=axis), None)

    def _norm(self, layer: Layer) -> _Built:
        F = self.torch.nn.functional
        (x,) = self.inputs(layer)
        batch_norm = layer.attr("norm") == "batch"
        width = layer.in_shape[0] if batch_norm else layer.in_shape[-1]
        w = [self.weight(width), self.weight(width)] if layer.params else [None, None]

        def pre() -> Any:
            if batch_norm:
                return F.batch_norm(x, None, None, *w, training=True)
            return F.layer_norm(x, (width,), *w)

        weights = [t for t in w if t is not None]
        return _Built([x], weights, pre, _activation_fn(layer.attr("activation")))

    def _activation(self, layer: Layer) -> _Built:
        (x,) = self.inputs(layer)
        return _Built([x], [], lambda: x * 1, _activation_fn(layer.attr("activation")))

    def _embedding(self, layer: Layer) -> _Built:
        F = self.torch.nn.functional
        seq = layer.in_shape[0]
        vocab, dim = int(layer.attr("vocab")), int(layer.attr("dim"))
        ids = self.torch.randint(vocab, (self.batch, seq), device=self.device)
        w = [self.weight(vocab, dim)]
        if layer.attr("positions", 0):
            w.append(self.weight(seq, dim))

        def pre() -> Any:
            z = F.embedding(ids, w[0])
            return z + w[1] if len(w) > 1 else z

        return _Built([], w, pre, None)

    def _attention(self, layer: Layer) -> _Built:
        F = self.torch.nn.functional
        (x,) = self.inputs(layer)
        seq, d = layer.in_shape
        heads = int(layer.attr("heads"))
        bias = layer.attr("bias", True)
        w = [self.weight(3 * d, d), self.weight(d, d)]
        b = [self.weight(3 * d), self.weight(d)] if bias else [None, None]

        def pre() -> Any:
            q, k, v = F.linear(x, w[0], b[0]).split(d, dim=-1)
            q, k, v = (
                t.reshape(self.batch, seq, heads, d // heads).transpose(1, 2) for t in (q, k, v)
            )
            out = (
                F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(self.batch, seq, d)
            )
            return F.linear(out, w[1], b[1])

        return _Built([x], w + [t for t in b if t is not None], pre, None)

    def _mlp(self, layer: Layer) -> _Built:
        F = self.torch.nn.functional
        (x,) = self.inputs(layer)
        d = layer.in_shape[-1]
        hidden = int(layer.attr("hidden") or 4 * d)
        act = _activation_fn(layer.attr("activation", "gelu")) or (lambda z: z)
        bias = layer.attr("bias", True)
        w = [self.weight(hidden, d), self.weight(d, hidden)]
        b = [self.weight(hidden), self.weight(d)] if bias else [None, None]

        def pre() -> Any:
            return F.linear(act(F.linear(x, w[0], b[0])), w[1], b[1])

        return _Built([x], w + [t for t in b if t is not None], pre, None)


def _median_seconds(
    run: Callable[[], Any], warmup: int, repeats: int, sync: Callable[[], None]
) -> float:
    """Median wall time of ``run`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        run()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _time_layer(
    built: _Built, tasks: set[str], warmup: int, repeats: int, sync: Callable[[], None]
) -> dict[str, float]:
    """Seconds of each of the layer's primitive tasks."""
    torch = import_torch()
    grad = torch.autograd.grad

    def forward() -> Any:
        z = built.pre()
        return z, (built.act(z) if built.act is not None else z)

    out = {"F": _median_seconds(forward, warmup, repeats, sync)}
    if tasks == {"F"}:
        return out  # nothing upstream has weights: no gradient is needed here
    z, a = forward()
    g = torch.randn_like(a)
    act = built.act is not None

    def d_task() -> Any:
        return grad(a, z, g, retain_graph=True)[0] if act else g.clone()

    delta = d_task()
    out["D"] = _median_seconds(d_task, warmup, repeats, sync)
    sources = [x for x in built.inputs if x.requires_grad]
    if "G" in tasks and sources:
        out["G"] = _median_seconds(
            lambda: grad(z, sources, delta, retain_graph=True), warmup, repeats, sync
        )
    elif "G" in tasks:  # a pass-through without an input to differentiate: a copy
        out["G"] = _median_seconds(delta.clone, warmup, repeats, sync)
    if "W" in tasks:
        weights = built.weights
        out["W"] = _median_seconds(
            lambda: grad(z, weights, delta, retain_graph=True), warmup, repeats, sync
        )
        dws = grad(z, weights, delta, retain_graph=True)
        copies = [w.detach().clone() for w in weights]  # the graph keeps the originals

        def update() -> None:
            with torch.no_grad():  # one fused SGD step over the layer's tensors
                torch._foreach_add_(copies, list(dws), alpha=-_LR)

        out["U"] = _median_seconds(update, warmup, repeats, sync)
    return {k: v for k, v in out.items() if k in tasks}


def _check_count(value: object, what: str, least: int) -> None:
    """An integer in ``least .. 2**20`` (batch size, repeats, warm-up runs)."""
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= 2**20:
        raise InputError(
            f"lpsched profile: {what} must be an integer in {least}..{2**20}, got {value!r}"
        )


def _device(torch: Any, device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("lpsched profile: --device cuda, but PyTorch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise InputError(f"lpsched profile: device must be cpu, cuda or auto, got {device!r}")
    return device


def profile_network(
    network: Network,
    *,
    batch_size: int = 32,
    device: str = "cpu",
    repeats: int = 5,
    warmup: int = 2,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> tuple[dict[str, LayerTimes], dict[str, object]]:
    """Time every primitive task of every layer of ``network`` in PyTorch.

    Parameters
    ----------
    network
        The network; every layer's kind must be one of :data:`PROFILED_KINDS`.
    batch_size
        Samples per mini-batch the layers run at.
    device
        ``cpu``, ``cuda`` or ``auto`` (CUDA when PyTorch sees a device).
    repeats, warmup
        Timed runs (their median is kept) and untimed runs before them.
    seed
        Seed of the random data.
    log
        Receives one line per layer.

    Returns
    -------
    rows, metadata
        Layer name -> :class:`~lpsched.profiles.LayerTimes` (seconds, the
        output and weight bytes at fp32), in the network's order; and what the
        ``# lpsched-profile/1`` line of the CSV records.

    Raises
    ------
    InputError
        When PyTorch is missing, the device is unavailable, a layer's kind
        cannot be built, or a number is out of range.
    """
    torch = import_torch()
    _check_count(batch_size, "batch size", 1)
    _check_count(repeats, "repeats", 1)
    _check_count(warmup, "warm-up runs", 0)
    device = _device(torch, device)
    graph = build_task_graph(
        network, "layerpipe", staleness=1, costs=CostModel(batch_size=batch_size)
    )
    tasks: dict[str, set[str]] = {}
    for task in graph.tasks:
        tasks.setdefault(task.layer or task.name, set()).add(task.kind)
    factory = _Factory(network, batch_size, device, {n for n, ks in tasks.items() if "G" in ks})
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    torch.manual_seed(seed)
    rows: dict[str, LayerTimes] = {}
    for layer in network.layers:
        built = factory.build(layer)
        try:
            seconds = _time_layer(built, tasks[layer.name], warmup, repeats, sync)
        except (RuntimeError, ValueError) as err:  # out of memory, a shape torch refuses
            text = (str(err).strip().splitlines() or [""])[0]
            raise InputError(f"lpsched profile: layer {layer.name}: PyTorch: {text}") from None
        rows[layer.name] = LayerTimes(
            **seconds,
            out_bytes=4 * batch_size * layer.out_elements,
            param_bytes=4 * layer.params if layer.weighted else None,
        )
        if log is not None:
            parts = ", ".join(f"{k} {1000 * v:.3g}" for k, v in seconds.items())
            log(f"profile: {layer.name}: {parts} ms")
    metadata: dict[str, object] = {
        "network": network.name,
        "batch_size": batch_size,
        "device": device if device == "cpu" else torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "repeats": repeats,
        "warmup": warmup,
    }
    return rows, metadata
