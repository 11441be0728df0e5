"""PyTorch models (from_torch) and the profiler (lpsched profile); skipped without torch."""

from __future__ import annotations

import csv
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = nn.functional

from lpsched import (  # noqa: E402 - after the skip
    CostModel,
    InputError,
    build_task_graph,
    check_schedule,
    from_torch,
    get_network,
    solve,
)
from lpsched.profiler import profile_network  # noqa: E402
from tests.cli_helpers import one_line_error, run  # noqa: E402


# ---------------------------------------------------------------------- models
def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 5)
    )


class Residual(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(y)))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.block = Residual(8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.block(torch.relu(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


class Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x):
        h = self.ln1(x)
        a, _ = self.attn(h, h, h, need_weights=False)
        x = x + a
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class Transformer(nn.Module):
    def __init__(self, d: int = 16, heads: int = 2, seq: int = 6):
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(seq, d))
        self.blocks = nn.Sequential(Block(d, heads), Block(d, heads))
        self.head = nn.Linear(d, 7)

    def forward(self, x):
        return self.head(self.blocks(x + self.pos))


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------- from_torch
def test_mlp():
    module = mlp()
    net = from_torch(module, torch.randn(4, 20))
    assert net.total_params == _params(module)
    assert net.total_macs == 20 * 32 + 32 * 32 + 32 * 5
    assert [layer.kind for layer in net.layers] == ["dense"] * 3  # activations fused
    assert [layer.attr("activation") for layer in net.layers] == ["relu", "tanh", None]


def test_cnn_with_a_residual_block():
    module = CNN()
    net = from_torch(module, torch.randn(2, 3, 16, 16))
    assert net.total_params == _params(module)
    hw = 8 * 8  # the stem halves 16x16
    stem = 8 * hw * 3 * 9
    convs = 2 * (8 * hw * 8 * 9)
    norms = 2 * (2 * 8 * hw)  # 2 x out_elements each (weighted layers)
    fc = 8 * 10
    assert net.total_macs == stem + convs + norms + fc
    join = next(layer for layer in net.layers if layer.kind == "add")
    assert set(join.inputs) == {"stem", "block.bn2"}  # the skip is an edge of the DAG
    assert join.attr("activation") == "relu"
    assert net.layer("block.conv1").out_shape == (8, 8, 8)


def test_two_block_transformer():
    d, seq = 16, 6
    module = Transformer(d=d, seq=seq)
    net = from_torch(module, torch.randn(3, seq, d))
    assert net.total_params == _params(module)
    per_block = (
        2 * seq * d  # ln1
        + 4 * seq * d * d + 2 * seq * seq * d  # attention: projections, scores and values
        + 2 * seq * d  # ln2
        + seq * d * 4 * d + seq * 4 * d * d  # the MLP
    )  # fmt: skip
    positions = seq * d  # x + self.pos: one add per element, with weights
    head = seq * d * 7
    assert net.total_macs == 2 * per_block + positions + head
    attention = [layer for layer in net.layers if layer.kind == "attention"]
    assert len(attention) == 2 and all(layer.params == 4 * d * d + 4 * d for layer in attention)
    adds = [layer for layer in net.layers if layer.kind == "add" and len(layer.inputs) == 2]
    assert len(adds) == 4  # two residual joins per block


@pytest.mark.parametrize("make", [mlp, CNN, Transformer])
def test_imported_networks_schedule(make):
    module = make()
    x = {mlp: torch.randn(2, 20), CNN: torch.randn(2, 3, 16, 16)}.get(make, torch.randn(2, 6, 16))
    net = from_torch(module, x)
    graph = build_task_graph(net, "layerpipe", processors=2)
    result = solve(graph, 2, "heuristic", deterministic=True, time_limit=5)
    check_schedule(result.schedule)


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow: torch.fx cannot trace it
            return self.fc(x)
        return x


class Cumulative(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return torch.cumsum(self.fc(x), 1)


def test_untraceable_and_unsupported_modules():
    with pytest.raises(InputError, match="cannot trace Branchy"):
        from_torch(Branchy(), torch.randn(2, 4))
    with pytest.raises(InputError, match="unsupported operation.*cumsum"):
        from_torch(Cumulative(), torch.randn(2, 4))
    with pytest.raises(InputError, match="fails on the example input"):
        from_torch(mlp(), torch.randn(2, 3))
    with pytest.raises(InputError, match="nn.Module"):
        from_torch(lambda x: x, torch.randn(2, 3))


@pytest.fixture
def models_module(tmp_path, monkeypatch):
    """A package of model factories importable from the current directory."""
    (tmp_path / "lpsched_test_models.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn

            class Branchy(nn.Module):
                def forward(self, x):
                    return x if x.sum() > 0 else -x

            def good():
                return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2)), torch.randn(2, 6)

            def bad():
                return Branchy(), torch.randn(2, 6)
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    yield "lpsched_test_models"
    sys.modules.pop("lpsched_test_models", None)


def test_factory_on_the_command_line(capsys, tmp_path, models_module):
    out = tmp_path / "g.json"
    code, _o, err = run(capsys, "graph", f"{models_module}:good", "-o", str(out))
    assert code == 0, err
    assert out.exists()
    bad = tmp_path / "bad.json"
    code, _o, err = run(capsys, "graph", f"{models_module}:bad", "-o", str(bad))
    assert code == 2
    assert "cannot trace" in one_line_error(err)
    assert not bad.exists()
    code, _o, err = run(capsys, "solve", "no_such_module_here:make", "--procs", "2")
    assert code == 2 and "cannot import" in one_line_error(err)


# --------------------------------------------------------------------- profiler
def test_profile_lenet5_on_cpu(capsys, tmp_path):
    out = tmp_path / "p.csv"
    code, _o, err = run(capsys, "profile", "lenet5", "-o", str(out), "--batch-size", "4",
                        "--repeats", "2", "--warmup", "1")  # fmt: skip
    assert code == 0, err
    lines = out.read_text().splitlines()
    assert lines[0].startswith("# lpsched-profile/1") and "batch_size=4" in lines[0]
    rows = {r["layer"]: r for r in csv.DictReader(lines[1:])}
    graph = build_task_graph(get_network("lenet5"), "layerpipe", staleness=1)
    assert set(rows) == {layer.name for layer in get_network("lenet5").layers}
    for task in graph.tasks:  # every task of the graph has a positive time
        assert float(rows[task.layer][f"{task.kind}_ms"]) > 0, task.name
    present = {(t.layer, t.kind) for t in graph.tasks}
    for name, row in rows.items():  # and a task the graph lacks has none
        for kind in "FDGWU":
            assert (row[f"{kind}_ms"] != "") == ((name, kind) in present)
    sched = tmp_path / "s.json"
    code, _o, err = run(capsys, "solve", "lenet5", "--costs", str(out), "--procs", "2",
                        "--deterministic", "-o", str(sched))  # fmt: skip
    assert code == 0, err
    code, _o, err = run(capsys, "validate", str(sched))
    assert code == 0, err


def test_profile_every_layer_kind():
    # gpt2 has embedding, norm, attention, mlp and add layers; resnet18 conv, pool and dense
    gpt2 = get_network("gpt2", blocks=1, seq_len=8, d_model=32, heads=2, vocab=64, n_positions=8)
    for network in (gpt2, get_network("resnet18", image_size=32)):
        rows, meta = profile_network(network, batch_size=2, repeats=1, warmup=0)
        graph = build_task_graph(network, "layerpipe", staleness=1)
        for task in graph.tasks:
            assert getattr(rows[task.layer], task.kind) > 0, task.name
        assert meta["device"] == "cpu"


def test_profile_refuses_bad_input(capsys, tmp_path):
    out = tmp_path / "p.csv"
    for argv, needle in (
        (["profile", "pipedream:vgg16", "-o", str(out)], "measured already"),
        (["profile", "lenet5", "-o", str(out), "--repeats", "0"], "repeats"),
        (["profile", "lenet5", "-o", str(tmp_path / "p.txt")], ".csv"),
    ):
        code, _o, err = run(capsys, *argv)
        assert code == 2
        assert needle in one_line_error(err)
    assert not out.exists()


def test_measured_costs_drive_the_durations():
    network = get_network("lenet5")
    rows, _meta = profile_network(network, batch_size=2, repeats=1, warmup=0)
    from lpsched.profiles import LayerProfile

    profile = LayerProfile(rows, batch_size=2, source="test")
    graph = build_task_graph(network, "layerpipe", costs=CostModel(time_unit="1us"),
                             measured=profile)  # fmt: skip
    for task in graph.tasks:
        seconds = getattr(rows[task.layer], task.kind)
        assert task.duration == max(1, -(-round(seconds * 1e6, 6) // 1))
