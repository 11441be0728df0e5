"""Layer factories, built-in networks and network files."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.errors import InputError
from lpsched.networks import (
    BUILTIN_NETWORKS,
    Network,
    NetworkBuilder,
    builtin_options,
    get_network,
    load_network,
    network_from_dict,
    network_to_dict,
    save_network,
)
from lpsched.networks import builtin as nb
from lpsched.networks.layers import Layer

INSTANCES = Path(__file__).resolve().parent.parent / "instances"
MAC_TOLERANCE = 0.02  # relative, against published GMAC figures given to two or three digits


# ------------------------------------------------------------------ published totals

# Published figures: torchvision model documentation ("GFLOPS", which counts MACs, and the
# exact parameter counts) and the Hugging Face GPT-2 small checkpoint (124,439,808 parameters).
PUBLISHED = {
    "alexnet": (0.714e9, 61_100_840),
    "vgg16": (15.47e9, 138_357_544),
    "resnet18": (1.81e9, 11_689_512),
    "resnet50": (4.09e9, 25_557_032),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_macs_and_params(name: str) -> None:
    macs, params = PUBLISHED[name]
    net = get_network(name)
    assert net.total_macs == pytest.approx(macs, rel=MAC_TOLERANCE)
    assert net.total_params == params


def test_gpt2_small_params_count_the_tied_table_once() -> None:
    net = get_network("gpt2")
    assert net.total_params == 124_439_808
    untied = get_network("gpt2", tie_lm_head=False)
    assert untied.total_params - net.total_params == 50257 * 768
    # The shared table is owned by the head, which does the large product with it.
    assert net.layer("lm_head").params == 50257 * 768
    assert net.layer("embed").params == 1024 * 768
    assert net.layer("embed").attr("tied") == "lm_head"


def test_gpt2_macs_follow_the_transformer_formula() -> None:
    seq, d, vocab, blocks = 1024, 768, 50257, 12
    net = get_network("gpt2")
    per_block = 12 * seq * d * d + 2 * seq * seq * d
    head = seq * d * vocab
    weighted_elementwise = sum(
        layer.macs for layer in net.layers if layer.kind in ("norm", "embedding")
    )
    assert net.total_macs == blocks * per_block + head + weighted_elementwise
    # Element work of norms and the embedding is a negligible part of the total.
    assert weighted_elementwise < 1e-3 * net.total_macs
    # Weight products per token ~ parameters outside the embeddings (Kaplan et al. 2020).
    block_weight_macs = sum(
        layer.weight_macs for layer in net.layers if layer.kind in ("attention", "mlp")
    )
    non_embedding = sum(
        layer.params for layer in net.layers if layer.kind in ("attention", "mlp", "norm")
    )
    assert block_weight_macs / seq == pytest.approx(non_embedding, rel=2e-3)


def test_gpt2_seq_len_attention_is_quadratic() -> None:
    d = 768
    nets = {s: get_network("gpt2", seq_len=s) for s in (64, 128, 256)}
    for s, net in nets.items():
        attn = net.layer("h0.attn")
        assert attn.weight_macs == 4 * s * d * d
        assert attn.macs - attn.weight_macs == 2 * s * s * d
        assert attn.weight_macs < attn.macs
        assert net.total_params == 124_439_808  # independent of the sequence length
    # total(s) = a*s + b*s^2 with b = 12 blocks * 2*d: quadratic part from attention only.
    t64, t128, t256 = (nets[s].total_macs for s in (64, 128, 256))
    assert (t256 - 2 * t128) == 12 * 2 * d * (256**2 - 2 * 128**2)
    assert (t128 - 2 * t64) == 12 * 2 * d * (128**2 - 2 * 64**2)
    with pytest.raises(InputError, match="seq_len 2048 exceeds n_positions 1024"):
        get_network("gpt2", seq_len=2048)


def test_small_networks() -> None:
    lenet = get_network("lenet5")
    assert lenet.total_params == 61_706
    assert lenet.total_macs == 117_600 + 240_000 + 48_000 + 10_080 + 840
    mlp = get_network("mlp")
    widths = (784, 1024, 1024, 1024, 10)
    assert [layer.out_shape for layer in mlp.layers] == [(w,) for w in widths[1:]]
    assert mlp.total_macs == sum(a * b for a, b in zip(widths, widths[1:], strict=False))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=2, max_size=6))
def test_mlp_widths_property(widths: list[int]) -> None:
    pairs = list(zip(widths, widths[1:], strict=False))
    net = get_network("mlp", widths=widths)
    assert net.total_macs == sum(a * b for a, b in pairs)
    assert net.total_params == sum((a + 1) * b for a, b in pairs)
    assert all(layer.weight_macs == layer.macs for layer in net.layers)
    # The command-line spelling gives the same network.
    assert get_network("mlp", widths="-".join(map(str, widths))) == net
    assert len(net.layers) == len(widths) - 1


# ------------------------------------------------------------------------- structure


@pytest.mark.parametrize(("name", "adds", "downsamples"), [("resnet18", 8, 3), ("resnet50", 16, 4)])
def test_resnets_are_dags_with_projection_shortcuts(name: str, adds: int, downsamples: int) -> None:
    net = get_network(name)
    layers = {layer.name: layer for layer in net.layers}
    add_layers = [layer for layer in net.layers if layer.kind == "add"]
    assert len(add_layers) == adds
    for layer in add_layers:
        assert len(layer.inputs) == 2
        assert len({layers[src].out_shape for src in layer.inputs}) == 1
    # Every block input feeds the residual path and the skip (or its projection).
    forks = [layer.name for layer in net.layers if len(net.consumers(layer.name)) >= 2]
    assert len(forks) == adds
    projections = [layer for layer in net.layers if layer.name.endswith(".downsample")]
    assert len(projections) == downsamples
    assert all(layer.attr("kernel") == 1 and layer.kind == "conv2d" for layer in projections)
    # Identity shortcuts: an add reads the block input directly.
    assert any(layers[src].kind in ("add", "pool") for add in add_layers for src in add.inputs)
    assert net.layers[-1].out_shape == (1000,)
    # Hundreds of tasks, not thousands: batch norm and ReLU are fused.
    assert len(net.layers) < 100
    assert not any(layer.kind in ("norm", "activation") for layer in net.layers)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_resnet_unfused_norm(name: str) -> None:
    fused = get_network(name)
    unfused = get_network(name, fuse_norm=False)
    norms = [layer for layer in unfused.layers if layer.kind == "norm"]
    convs = [layer for layer in unfused.layers if layer.kind == "conv2d"]
    assert len(norms) == len(convs) > 0
    assert all(layer.params == 2 * layer.out_shape[0] for layer in norms)
    assert unfused.total_params == fused.total_params
    # Separate norms add exactly their element work to the weighted total.
    assert unfused.total_macs - fused.total_macs == sum(layer.macs for layer in norms)
    assert len(unfused.layers) == len(fused.layers) + len(norms)


def test_resnet_image_size_option() -> None:
    small = get_network("resnet18", image_size=112)
    assert small.total_params == 11_689_512  # global pooling: weights do not depend on size
    assert small.total_macs < get_network("resnet18").total_macs / 3
    cifar = get_network("resnet18", image_size=32, num_classes=10)
    assert cifar.layer("avgpool").in_shape == (512, 1, 1)
    assert cifar.layers[-1].out_shape == (10,)


def test_gpt2_blocks_are_residual() -> None:
    net = get_network("gpt2", seq_len=32)
    assert net.layer("h0.add1").inputs == ("embed", "h0.attn")
    assert net.layer("h0.add2").inputs == ("h0.add1", "h0.mlp")
    assert sorted(net.consumers("h0.add1")) == ["h0.add2", "h0.ln2"]
    assert sum(layer.kind == "attention" for layer in net.layers) == 12
    assert net.layers[-1].name == "lm_head"
    assert net.layers[-1].out_shape == (32, 50257)


# -------------------------------------------------------------------------- factories


def test_factory_counts() -> None:
    conv = nb.conv2d("c", (32, 56, 56), 64, 3, stride=2, padding=1)
    assert conv.out_shape == (64, 28, 28)
    assert conv.params == 64 * 32 * 9 + 64
    assert conv.macs == conv.weight_macs == 64 * 28 * 28 * 32 * 9
    depthwise = nb.conv2d("dw", (32, 8, 8), 32, 3, padding=1, groups=32, bias=False)
    assert depthwise.params == 32 * 9
    assert depthwise.macs == 32 * 64 * 9
    rect = nb.conv2d("r", (8, 10, 20), 4, [1, 7], padding=[0, 3])
    assert rect.out_shape == (4, 10, 20)
    assert rect.attr("kernel") == (1, 7)
    fused = nb.conv2d("f", (8, 4, 4), 16, 1, bias=False, norm="batch")
    assert fused.params == 8 * 16 + 2 * 16
    assert nb.pool("p", (4, 8, 8), "max", 2).macs == 4 * 4 * 4 * 4
    glob = nb.pool("g", (4, 7, 7), "global_avg")
    assert glob.out_shape == (4, 1, 1) and glob.macs == 4 * 49 and not glob.weighted
    assert nb.add("a", [(4, 2), (4, 2), (4, 2)]).macs == 2 * 8
    assert nb.concat("k", [(2, 3, 3), (5, 3, 3)]).out_shape == (7, 3, 3)
    assert nb.concat("k", [(7, 2), (7, 3)], axis=-1).out_shape == (7, 5)
    bn = nb.norm("bn", (16, 5, 5), "batch")
    assert bn.params == 32 and bn.macs == 2 * 400 and bn.weight_macs == 400
    ln = nb.norm("ln", (10, 24), "layer")
    assert ln.params == 48
    assert not nb.norm("n", (10, 24), "layer", affine=False).weighted
    seq = nb.dense("d", (10, 24), 48)
    assert seq.out_shape == (10, 48) and seq.macs == 10 * 24 * 48
    att = nb.attention("att", (10, 24), heads=4)
    assert att.params == 4 * 24 * 24 + 4 * 24
    block = nb.mlp("m", (10, 24))
    assert block.params == 2 * 24 * 96 + 96 + 24 and block.macs == 2 * 10 * 24 * 96
    emb = nb.embedding("e", (10,), vocab=100, dim=24, positions=16)
    assert emb.out_shape == (10, 24) and emb.params == 100 * 24 + 16 * 24


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: nb.conv2d("c", (3, 8, 8), 4, 3, in_channels=4), "'c' .*expects 4 input channels"),
        (lambda: nb.dense("d", (10,), 5, in_features=12), "'d' .*expects 12 input features"),
        (lambda: nb.conv2d("c", (3, 4, 4), 4, 7), "'c' .*does not fit"),
        (lambda: nb.conv2d("c", (3, 8, 8), 4, 3, groups=2), "'c' .*groups"),
        (lambda: nb.conv2d("c", (30,), 4, 3), "'c' .*channels, height, width"),
        (lambda: nb.add("a", [(4, 2, 2), (8, 2, 2)]), "'a' .*one shape"),
        (lambda: nb.add("a", [(4,)]), "'a' .*at least two"),
        (lambda: nb.concat("k", [(4, 2, 2), (4, 3, 3)]), "'k' .*agree on every axis but 0"),
        (lambda: nb.concat("k", [(4, 2, 2), (4, 2)]), "'k' .*rank"),
        (lambda: nb.attention("t", (10, 24), heads=5), "'t' .*do not divide"),
        (lambda: nb.embedding("e", (20,), 9, 4, positions=16), "'e' .*exceeds"),
        (lambda: nb.pool("p", (4, 8, 8), "median", 2), "'p' .*op must be one of"),
        (lambda: nb.pool("p", (4, 8, 8), "global_avg", 2), "'p' .*no kernel"),
        (lambda: nb.dense("d", (10,), 0), "'d' .*out_features must be >= 1"),
        (lambda: nb.dense("d", (10,), 5, activation="relu9"), "'d' .*unknown activation"),
        (lambda: nb.norm("n", (4, 5), "batch"), "'n' .*batch norm expects"),
    ],
)
def test_factories_reject_shapes_that_do_not_connect(build, match: str) -> None:
    with pytest.raises(InputError, match=match):
        build()


def test_builder_errors() -> None:
    b = NetworkBuilder("t", (3, 8, 8))
    b.conv2d("c1", 4, 3, padding=1)
    with pytest.raises(InputError, match="'c2' .*'nope' is not an earlier layer"):
        b.conv2d("c2", 4, 3, inputs="nope")
    with pytest.raises(InputError, match="'c1' .*duplicate"):
        b.conv2d("c1", 4, 3)
    with pytest.raises(InputError, match="'x': unknown kind 'conv3d'"):
        b.layer("conv3d", "x")
    with pytest.raises(InputError, match="'x' .*missing attribute out_channels"):
        b.layer("conv2d", "x", kernel=3)
    with pytest.raises(InputError, match="'x' .*unknown attribute strides"):
        b.layer("conv2d", "x", out_channels=3, kernel=3, strides=2)
    with pytest.raises(InputError, match="no layers"):
        NetworkBuilder("empty", (3,)).build()
    tied = NetworkBuilder("t", (8,))
    tied.embedding("e", 100, 16, tied="head")
    tied.dense("head", 99, bias=False)
    with pytest.raises(InputError, match="'e' .*tied to 'head'"):
        tied.build()


def test_get_network_errors() -> None:
    with pytest.raises(InputError, match="unknown network 'resnet101'.*resnet50"):
        get_network("resnet101")
    with pytest.raises(InputError, match="gpt2: unknown option depth .*seq_len"):
        get_network("gpt2", depth=3)
    with pytest.raises(InputError, match="seq_len must be a positive integer"):
        get_network("gpt2", seq_len=0)
    with pytest.raises(InputError, match="seq_len"):
        get_network("gpt2", seq_len="long")
    with pytest.raises(InputError, match="fuse_norm"):
        get_network("resnet18", fuse_norm="maybe")
    with pytest.raises(InputError, match="widths must list at least two"):
        get_network("mlp", widths=[784])
    with pytest.raises(InputError, match="unknown option"):
        get_network("lenet5", widths=[1, 2])
    # Strings, as from a command line, are accepted.
    assert get_network("gpt2", seq_len="64", blocks="2", tie_lm_head="false").total_params > 0
    assert set(builtin_options("resnet50")) == {"num_classes", "image_size", "fuse_norm"}


# ----------------------------------------------------------------------- round trips


def _variants() -> list[tuple[str, dict]]:
    out = [(name, {}) for name in BUILTIN_NETWORKS]
    out += [("resnet18", {"fuse_norm": False}), ("resnet50", {"fuse_norm": False})]
    out += [("gpt2", {"seq_len": 128, "tie_lm_head": False})]
    return out


@pytest.mark.parametrize(("name", "options"), _variants())
def test_builtins_round_trip(tmp_path: Path, name: str, options: dict) -> None:
    net = get_network(name, **options)
    for suffix in (".yaml", ".json"):
        path = tmp_path / f"net{suffix}"
        save_network(net, path)
        back = load_network(path)
        assert back == net
        assert [dataclasses.asdict(layer) for layer in back.layers] == [
            dataclasses.asdict(layer) for layer in net.layers
        ]
    assert network_to_dict(network_from_dict(network_to_dict(net))) == network_to_dict(net)


def test_saved_yaml_is_one_line_per_layer(tmp_path: Path) -> None:
    net = get_network("resnet18")
    path = tmp_path / "r.yaml"
    save_network(net, path)
    lines = path.read_text().splitlines()
    assert lines[:4] == [
        "format: lpsched-network/1",
        "name: resnet18",
        "input: [3, 224, 224]",
        "layers:",
    ]
    assert len(lines) == 4 + len(net.layers)
    # Defaults (stride 1, padding 0, inputs = previous layer) are left out.
    assert "stride" not in lines[6] and "inputs" not in lines[6]


def test_hand_made_layer_cannot_be_written(tmp_path: Path) -> None:
    good = nb.dense("d", (4,), 3)
    bad = dataclasses.replace(good, macs=1)
    with pytest.raises(InputError, match="'d' .*cannot be written"):
        save_network(Network("n", (4,), (bad,)), tmp_path / "n.yaml")
    odd = Layer("x", "lstm", (), (4,), (4,), params=3)
    with pytest.raises(InputError, match="cannot write"):
        network_to_dict(Network("n", (4,), (odd,)))
    with pytest.raises(InputError, match=r"\.yaml, \.yml or \.json"):
        save_network(Network("n", (4,), (good,)), tmp_path / "n.txt")


# ------------------------------------------------------------------------- instances


@pytest.mark.parametrize("path", sorted(INSTANCES.glob("*.yaml")), ids=lambda p: p.name)
def test_instances_load_and_round_trip(tmp_path: Path, path: Path) -> None:
    net = load_network(path)
    assert net.name == path.stem
    assert net.total_macs > 0 and net.total_params > 0
    save_network(net, tmp_path / "copy.yaml")
    assert load_network(tmp_path / "copy.yaml") == net


def test_instances_cover_the_examples() -> None:
    assert {p.stem for p in INSTANCES.glob("*.yaml")} >= {"mlp-small", "lenet5", "tiny-resnet"}
    assert load_network(INSTANCES / "lenet5.yaml") == get_network("lenet5")
    chain = load_network(INSTANCES / "mlp-small.yaml")
    assert all(
        layer.inputs == (prev.name,)
        for prev, layer in zip(chain.layers, chain.layers[1:], strict=False)
    )
    tiny = load_network(INSTANCES / "tiny-resnet.yaml")
    kinds = {layer.kind for layer in tiny.layers}
    assert {"add", "concat"} <= kinds
    assert len(tiny.consumers("stem")) == 2
    assert len(tiny.layer("down.concat").inputs) == 2
    assert tiny.layer("down.concat").out_shape == (32, 16, 16)


# ---------------------------------------------------------------------- bad files


def _write(tmp_path: Path, text: str, name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


HEADER = "format: lpsched-network/1\nname: t\ninput: [3, 8, 8]\nlayers:\n"


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "  - name: c1\n    kind: conv2d\n   out_channels: [4\n")
    with pytest.raises(InputError, match=rf"{path.name}:7: malformed YAML"):
        load_network(path)


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"format": "lpsched-network/1",\n "input": [3,\n}', "net.json")
    with pytest.raises(InputError, match=rf"{path.name}:3: malformed JSON"):
        load_network(path)


@pytest.mark.parametrize(
    ("layers", "match"),
    [
        (
            "  - {name: c1, kind: conv3d, out_channels: 4}\n",
            r":5: layer 'c1': unknown kind 'conv3d'",
        ),
        (
            "  - {name: c1, kind: conv2d, kernel: 3}\n",
            r":5: layer 'c1' .*missing attribute out_chan",
        ),
        (
            "  - {name: c1, kind: conv2d, out_channels: 4, kernel: '3'}\n",
            r":5: .*'c1' .*kernel must",
        ),
        (
            "  - {name: c1, kind: conv2d, out_channels: 4, kernal: 3}\n",
            r":5: .*'c1' .*unknown attr",
        ),
        ("  - {name: c1, kind: conv2d, out_channels: 4, kernel: {a: 1}}\n", r":5: .*'c1'"),
        ("  - {kind: dense, out_features: 4}\n", r":5: a layer needs a name"),
        ("  - {name: d, out_features: 4}\n", r":5: layer 'd': missing kind"),
        (
            "  - {name: d, kind: dense, out_features: 4, inputs: [e]}\n",
            r":5: .*'e' is not an earlier",
        ),
        ("  - {name: d, kind: dense, out_features: 4, inputs: {a: b}}\n", r":5: .*inputs must be"),
        (
            "  - {name: a, kind: conv2d, out_channels: 4, kernel: 1}\n"
            "  - {name: b, kind: conv2d, out_channels: 5, kernel: 1, inputs: []}\n"
            "  - {name: s, kind: add, inputs: [a, b]}\n",
            r":7: layer 's' \(add\): inputs must have one shape, got 4x8x8, 5x8x8",
        ),
        (
            "  - {name: a, kind: pool, op: max, kernel: 2}\n"
            "  - {name: b, kind: pool, op: max, kernel: 1, inputs: []}\n"
            "  - {name: k, kind: concat, inputs: [a, b]}\n",
            r":7: layer 'k' \(concat\): inputs must agree",
        ),
        (
            "  - {name: c1, kind: conv2d, out_channels: 4, kernel: 3, kernel: 5}\n",
            r":5: malformed.*dup",
        ),
        ("  - 3\n", r":? layers\[0\]: a layer must be a mapping"),
    ],
)
def test_bad_layers_name_line_and_layer(tmp_path: Path, layers: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        load_network(_write(tmp_path, HEADER + layers))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("name: t\ninput: [3]\nlayers: []\n", "format must be 'lpsched-network/1' \\(missing\\)"),
        ("format: lpsched-network/2\ninput: [3]\nlayers: []\n", "format must be"),
        ("format: lpsched-network/1\ninput: [0]\nlayers: [{name: a}]\n", "input must be a list"),
        ("format: lpsched-network/1\ninput: [3]\nlayers: []\n", "layers must be a non-empty"),
        ("format: lpsched-network/1\ninput: [3]\nlayer: []\n", "unknown key layer"),
        ("- 1\n", "expected a mapping"),
        ("", "expected a mapping"),
    ],
)
def test_bad_top_level(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        load_network(_write(tmp_path, text))


def test_missing_file_and_defaults(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read network file"):
        load_network(tmp_path / "absent.yaml")
    path = _write(
        tmp_path, HEADER.replace("name: t\n", "") + "  - {name: d, kind: dense, out_features: 4}\n"
    )
    net = load_network(path)
    assert net.name == "net"  # from the file name
    assert net.layers[0].in_shape == (3, 8, 8) and net.layers[0].inputs == ()
    assert net.layers[0].params == 3 * 8 * 8 * 4 + 4
    assert math.prod(net.input_shape) == 192


def test_readme_error_example_is_real(tmp_path: Path) -> None:
    text = (INSTANCES / "tiny-resnet.yaml").read_text()
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  - name: down.pool"))
    stride = next(i for i in range(start, len(lines)) if lines[i].strip() == "stride: 2")
    lines[stride] = "    stride: 1"
    path = tmp_path / "tiny-resnet.yaml"
    path.write_text("\n".join(lines) + "\n")
    concat_line = next(i for i, line in enumerate(lines) if "name: down.concat" in line)
    expected = (
        f"{path}:{concat_line + 1}: layer 'down.concat' (concat): inputs must agree on every "
        "axis but 0, got 16x16x16, 16x32x32"
    )
    with pytest.raises(InputError) as info:
        load_network(path)
    assert str(info.value) == expected
    readme = (INSTANCES / "README.md").read_text()
    assert expected.replace(str(path), "instances/tiny-resnet.yaml") in readme
