"""Network description files (YAML or JSON, one structure).

A file names the input shape and lists the layers in a topological order; each
layer has a ``name``, a ``kind`` (a key of :data:`~lpsched.networks.builtin.LAYER_KINDS`),
optional ``inputs`` and the attributes of its kind (the keyword arguments of its
factory in :mod:`lpsched.networks.builtin`). Shapes, parameters and MACs are
inferred, never written::

    format: lpsched-network/1
    name: tiny
    input: [3, 32, 32]
    layers:
    - {name: conv1, kind: conv2d, out_channels: 16, kernel: 3, padding: 1}
    - {name: pool, kind: pool, op: global_avg}
    - {name: fc, kind: dense, out_features: 10}

``inputs`` defaults to the previous layer (the network input for the first);
``inputs: []`` reads the network input. See ``instances/README.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError
from ..files import brief, check_nesting, parse_yaml, read_text, refuse_kind, write_text_atomic
from ..units import limit_text
from .builtin import LAYER_KINDS, NetworkBuilder, attr_defaults
from .layers import Network

__all__ = [
    "NETWORK_FORMAT",
    "load_network",
    "network_from_dict",
    "network_to_dict",
    "network_to_text",
    "read_network_data",
    "save_network",
]

NETWORK_FORMAT = "lpsched-network/1"
_TOP_KEYS = ("format", "name", "description", "input", "layers")


# ----------------------------------------------------------------------------- YAML


class _LineDict(dict):
    """A mapping that remembers the line it starts on in its file."""

    line: int | None = None


class _LineLoader(yaml.SafeLoader):
    """Safe YAML loader that records mapping lines and rejects duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key; construct_mapping reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def _construct_map(loader: _LineLoader, node: yaml.MappingNode):
    data = _LineDict()
    data.line = node.start_mark.line + 1
    yield data
    data.update(loader.construct_mapping(node))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def _parse(text: str, source: str, as_json: bool) -> Any:
    if not as_json:
        return parse_yaml(text, source, _LineLoader)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{source}:{error.lineno}: malformed JSON: {error.msg}") from None
    except RecursionError:
        raise InputError(f"{source}: JSON nested too deeply") from None
    except ValueError:  # an integer of more digits than Python converts (4300)
        raise InputError(f"{source}: malformed JSON: a number of thousands of digits") from None
    check_nesting(data, source)
    return data


# ---------------------------------------------------------------------------- load


#: The largest size a layer attribute or an input dimension may have (channels, features,
#: kernel, vocabulary ...): beyond any network, and small enough that MAC counts stay
#: far inside the float range.
MAX_SIZE = 2**31

#: The most layers in a network file (each becomes up to five tasks).
MAX_LAYERS = 40_000


def _check_sizes(attrs: Mapping[str, Any], where: str) -> None:
    """Refuse integer attributes (or lists of them) above :data:`MAX_SIZE`."""
    for key, value in attrs.items():
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, int) and not isinstance(item, bool) and item > MAX_SIZE:
                raise InputError(
                    f"{where}: {key} must be at most {limit_text(MAX_SIZE)}, got {brief(item)}"
                )


def network_from_dict(
    data: Mapping[str, Any], source: str = "<network>", default_name: str | None = None
) -> Network:
    """Build a network from its description (the parsed content of a file).

    Parameters
    ----------
    data
        The description: ``format``, ``name``, ``input``, ``layers``.
    source
        Where it came from, for error messages (a file name).
    default_name
        Network name when ``data`` has none.

    Raises
    ------
    InputError
        On a malformed description; the message names the source, the line
        (for YAML files) and the layer.
    """
    if not isinstance(data, Mapping):
        raise InputError(f"{source}: expected a mapping with format, name, input and layers")
    refuse_kind(data, source, "lpsched-network", NETWORK_FORMAT)
    unknown = [str(key) for key in data if key not in _TOP_KEYS]
    if unknown:
        raise InputError(
            f"{source}: unknown key {', '.join(unknown)} (allowed: {', '.join(_TOP_KEYS)})"
        )
    if data.get("format") != NETWORK_FORMAT:
        got = f"got {brief(data['format'])}" if "format" in data else "missing"
        raise InputError(f"{source}: format must be {NETWORK_FORMAT!r} ({got})")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise InputError(f"{source}: name must be a non-empty string, got {brief(name)}")
    shape = data.get("input")
    if (
        not isinstance(shape, list | tuple)
        or not shape
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape)
    ):
        raise InputError(
            f"{source}: input must be a list of positive sizes, e.g. [3, 224, 224]; "
            f"got {brief(shape)}"
        )
    _check_sizes({"input": shape}, source)
    layers = data.get("layers")
    if not isinstance(layers, list) or not layers:
        raise InputError(f"{source}: layers must be a non-empty list")
    if len(layers) > MAX_LAYERS:
        raise InputError(f"{source}: {len(layers)} layers, more than the limit of {MAX_LAYERS}")
    builder = NetworkBuilder(name, tuple(shape))
    for index, entry in enumerate(layers):
        line = getattr(entry, "line", None)
        where = f"{source}:{line}" if line else f"{source}: layers[{index}]"
        if not isinstance(entry, Mapping):
            raise InputError(f"{where}: a layer must be a mapping with name and kind")
        attrs = dict(entry)
        layer_name = attrs.pop("name", None)
        kind = attrs.pop("kind", None)
        if not isinstance(layer_name, str) or not layer_name:
            raise InputError(f"{where}: a layer needs a name (a string), got {brief(layer_name)}")
        if kind is None:
            raise InputError(
                f"{where}: layer {brief(layer_name)}: missing kind "
                f"(one of {', '.join(LAYER_KINDS)})"
            )
        inputs = attrs.pop("inputs", None)
        names_ok = isinstance(inputs, str) or (
            isinstance(inputs, list) and all(isinstance(x, str) for x in inputs)
        )
        if inputs is not None and not names_ok:
            raise InputError(
                f"{where}: layer {brief(layer_name)}: inputs must be a layer name "
                "or a list of names"
            )
        _check_sizes(attrs, f"{where}: layer {brief(layer_name)}")
        try:
            builder.layer(kind, layer_name, inputs, **{str(k): v for k, v in attrs.items()})
        except InputError as error:
            raise InputError(f"{where}: {error}") from None
        except (TypeError, ValueError, OverflowError) as error:  # a value no factory expects
            raise InputError(
                f"{where}: layer {brief(layer_name)} ({brief(kind)}): {brief(str(error))}"
            ) from None
    try:
        return builder.build()
    except InputError as error:
        raise InputError(f"{source}: {error}") from None


def load_network(path: str | Path) -> Network:
    """Read a network description file (``.json``, else YAML).

    The network is named after the file when the file gives no ``name``.

    Raises
    ------
    InputError
        When the file cannot be read or is malformed (with file and line), or
        a layer is invalid (naming the layer).
    """
    path = Path(path)
    return network_from_dict(read_network_data(path), str(path), default_name=path.stem)


def read_network_data(path: str | Path) -> Any:
    """The parsed content of a network file (JSON for ``.json``, else YAML), not yet checked.

    Raises
    ------
    InputError
        When the file cannot be read or parsed: one line with the file (and line).
    """
    path = Path(path)
    try:
        text = read_text(path)
    except InputError as error:
        reason = str(error).removeprefix(f"{path}: ")
        raise InputError(f"{path}: cannot read network file: {reason}") from None
    return _parse(text, str(path), path.suffix.lower() == ".json")


# ---------------------------------------------------------------------------- save


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def network_to_dict(network: Network) -> dict[str, Any]:
    """The description of ``network``, from which :func:`network_from_dict` rebuilds it.

    Default inputs (the previous layer) and attributes equal to their defaults
    are left out.

    Raises
    ------
    InputError
        When a layer is not what its kind and attributes build (a layer made
        by hand rather than by the factories), so it cannot be written.
    """
    layers: list[dict[str, Any]] = []
    previous: tuple[str, ...] = ()
    for layer in network.layers:
        entry: dict[str, Any] = {"name": layer.name, "kind": layer.kind}
        if layer.inputs != previous:
            entry["inputs"] = list(layer.inputs)
        try:
            defaults = attr_defaults(layer.kind)
        except InputError as error:
            raise InputError(f"network {network.name}: cannot write layer: {error}") from None
        for key, value in layer.attrs:
            default = defaults.get(key, _plain)  # a sentinel no value equals
            if type(value) is type(default) and value == default:
                continue
            entry[key] = _plain(value)
        layers.append(entry)
        previous = (layer.name,)
    data = {
        "format": NETWORK_FORMAT,
        "name": network.name,
        "input": list(network.input_shape),
        "layers": layers,
    }
    try:
        rebuilt = network_from_dict(data, "its description")
    except InputError as error:
        raise InputError(f"network {network.name}: cannot be written: {error}") from None
    for old, new in zip(network.layers, rebuilt.layers, strict=True):
        if old != new:
            raise InputError(
                f"network {network.name}: layer {old.name!r} ({old.kind}) cannot be written: "
                "its shapes or costs are not those its kind and attributes give"
            )
    return data


def network_to_text(network: Network, fmt: str = "yaml") -> str:
    """The description of ``network`` as YAML or JSON text, one line per layer."""
    data = network_to_dict(network)
    if fmt == "json":
        head = ",\n".join(
            f" {json.dumps(key)}: {json.dumps(data[key])}" for key in ("format", "name", "input")
        )
        rows = ",\n".join(f"  {json.dumps(layer)}" for layer in data["layers"])
        return f'{{\n{head},\n "layers": [\n{rows}\n ]\n}}\n'
    if fmt != "yaml":
        raise InputError(f"unknown network file format {fmt!r} (yaml or json)")
    head = {key: data[key] for key in ("format", "name", "input")}
    lines = [yaml.safe_dump(head, default_flow_style=None, sort_keys=False).rstrip(), "layers:"]
    for layer in data["layers"]:
        row = yaml.safe_dump(layer, default_flow_style=True, sort_keys=False, width=1 << 30)
        lines.append(f"- {row.strip()}")
    return "\n".join(lines) + "\n"


def save_network(network: Network, path: str | Path) -> None:
    """Write ``network`` to ``path``: JSON for ``.json``, YAML for ``.yaml`` / ``.yml``.

    Raises
    ------
    InputError
        For another suffix, a network that cannot be written (see
        :func:`network_to_dict`) or a file that cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise InputError(f"{path}: network files end in .yaml, .yml or .json")
    text = network_to_text(network, "json" if suffix == ".json" else "yaml")
    write_text_atomic(path, text)  # "PATH: cannot write (...)"; links and FIFOs kept
