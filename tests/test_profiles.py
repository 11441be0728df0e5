"""Measured costs: PipeDream's graph.txt, the profile CSV, and the VGG-16 stage split."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lpsched import CostModel, InputError, build_task_graph, check_schedule, get_network, solve
from lpsched.graph import time_unit_seconds
from lpsched.platform import Platform
from lpsched.profiles import (
    LayerProfile,
    LayerTimes,
    bundled_profiles,
    load_pipedream,
    parse_pipedream,
    profile_to_csv,
    read_profile_csv,
)
from tests.cli_helpers import one_line_error, run

PROFILES = Path(__file__).resolve().parent.parent / "lpsched" / "data" / "profiles"
VGG = PROFILES / "vgg16" / "graph.txt"
RESNET = PROFILES / "resnet18" / "graph.txt"


def _raw_nodes(path: Path) -> tuple[dict[str, dict], list[tuple[str, str]]]:
    """graph.txt read the plain way, independently of lpsched.profiles."""
    nodes, edges = {}, []
    for line in path.read_text().splitlines():
        if line.startswith("\t"):
            a, b = line.strip().split(" -- ")
            edges.append((a, b))
        elif line.strip():
            parts = line.split(" -- ")
            fields = dict(item.split("=") for item in parts[2].split(", "))
            nodes[parts[0]] = {"desc": parts[1], **{k: float(v) for k, v in fields.items()}}
    return nodes, edges


def _chain(path: Path) -> tuple[list[str], dict[str, dict]]:
    """The nodes in a topological order, the input node dropped (VGG-16 is a chain but for
    its Size node, which PipeDream's antichains also order between the pool and the view)."""
    nodes, edges = _raw_nodes(path)
    indegree = {v: 0 for v in nodes}
    for _a, b in edges:
        indegree[b] += 1
    order, ready = [], [v for v in nodes if indegree[v] == 0]
    while ready:
        v = ready.pop(0)
        order.append(v)
        for a, b in edges:
            if a == v:
                indegree[b] -= 1
                if indegree[b] == 0:
                    ready.append(b)
    assert nodes[order[0]]["desc"] == "Input"
    return order[1:], nodes


def _pipedream_reference(path: Path, stages: int, bandwidth: float) -> tuple[float, list[list]]:
    """PipeDream's optimiser for a straight pipeline (Narayanan et al. 2019, section 3.1).

    Exactly ``stages`` contiguous stages, no replication; a stage takes the
    larger of its compute (forward + backward of its nodes) and the time to
    send its input activation forward and its gradient back (2 x bytes /
    bandwidth), ties going to the first split met. Returns the stage time in
    ms and the stages as lists of node ids.
    """
    order, nodes = _chain(path)
    work = [nodes[v]["forward_compute_time"] + nodes[v]["backward_compute_time"] for v in order]
    prefix = [0.0]
    for w in work:
        prefix.append(prefix[-1] + w)
    n = len(order)

    def comm(i: int) -> float:  # the cut before node i, in ms
        return 2 * nodes[order[i - 1]]["activation_size"] / bandwidth * 1000

    best = {(j, 1): (prefix[j], [0]) for j in range(1, n + 1)}
    for s in range(2, stages + 1):
        for j in range(s, n + 1):
            options = []
            for i in range(s - 1, j):
                prev, starts = best[(i, s - 1)]
                options.append((max(prev, prefix[j] - prefix[i], comm(i)), starts + [i]))
            best[(j, s)] = min(options, key=lambda o: o[0])  # first minimum
    value, starts = best[(n, stages)]
    bounds = [*starts, n]
    return value, [order[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def _pipedream_time(path: Path, stages: list[list[str]], bandwidth: float) -> float:
    """PipeDream's objective for a given split: the slowest stage's compute or input transfer."""
    _order, nodes = _chain(path)
    times = []
    for k, stage in enumerate(stages):
        compute = sum(nodes[v]["forward_compute_time"] + nodes[v]["backward_compute_time"]
                      for v in stage)  # fmt: skip
        incoming = 2 * nodes[stages[k - 1][-1]]["activation_size"] / bandwidth * 1000 if k else 0
        times.append(max(compute, incoming))
    return max(times)


def _stages(result, network) -> list[list[str]]:
    """The profile nodes each processor runs, from a schedule's processor of every task."""
    nodes: dict[int, list[str]] = {}
    for layer in network.layers:
        p = result.schedule.processor[f"F:{layer.name}"]
        nodes.setdefault(p, []).extend(layer.attr("nodes").split(","))
    return [nodes[p] for p in sorted(nodes)]


def _four_at_50() -> Platform:
    return Platform.from_dict(
        {"processors": 4, "links": {"intra": {"bandwidth": 50e9, "latency": 10e-6}}},
        source="test",
    )


# ----------------------------------------------------------------------- the check
def test_vgg16_pipedream_matches_pipedreams_optimiser():
    reference, split = _pipedream_reference(VGG, 4, 50e9)
    assert reference == pytest.approx(216.45)  # the figure PipeDream's optimiser prints
    network, profile = load_pipedream(VGG)
    # 1 us is the profile's own precision: durations are then the measured times exactly,
    # plus one unit for each unmeasured weight update and for rounding the split parts up.
    graph = build_task_graph(
        network, "pipedream", costs=CostModel(time_unit="1us"), processors=4, measured=profile
    )
    result = solve(graph, _four_at_50(), "pipedream", deterministic=True)
    check_schedule(result.schedule)
    stages = _stages(result, network)
    # Only the first stage sets the time; many splits of the rest tie, and PipeDream breaks
    # the tie by the order it meets them. So: the same first stage, contiguous stages in
    # PipeDream's order, and a split PipeDream's own objective rates optimal.
    assert stages[0] == split[0]
    order, _nodes = _chain(VGG)
    assert [v for stage in stages for v in stage] == order
    assert _pipedream_time(VGG, stages, 50e9) == pytest.approx(reference)
    period_ms = result.schedule.period * time_unit_seconds(graph.time_unit) * 1000
    assert reference <= period_ms <= reference + 0.01


def test_vgg16_pipedream_at_the_default_unit_keeps_the_bottleneck_stage():
    reference, split = _pipedream_reference(VGG, 4, 50e9)
    network, profile = load_pipedream(VGG)
    graph = build_task_graph(network, "pipedream", processors=4, measured=profile)
    assert graph.rounding_error <= 0.02
    result = solve(graph, _four_at_50(), "pipedream", deterministic=True)
    check_schedule(result.schedule)
    stages = _stages(result, network)
    assert stages[0] == split[0]  # conv1_1, ReLU, conv1_2: the stage that sets the time
    assert _pipedream_time(VGG, stages, 50e9) == pytest.approx(reference)
    period_ms = result.schedule.period * time_unit_seconds(graph.time_unit) * 1000
    assert reference <= period_ms <= reference * 1.02


def test_vgg16_cli_reports_batch_and_split(capsys, tmp_path):
    out = tmp_path / "s.json"
    code, stdout, err = run(
        capsys, "solve", f"pipedream:{VGG}", "--procs", "4", "--solver", "pipedream",
        "-d", "pipedream", "--bandwidth", "50GB/s", "--time-unit", "1us",
        "--deterministic", "-o", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert "batch 128" in err and "backward split into D, G and W" in err
    code, _out, err = run(capsys, "validate", str(out))
    assert code == 0, err
    data = json.loads(out.read_text())
    reference, _split = _pipedream_reference(VGG, 4, 50e9)
    assert reference <= data["period"] * data["time_unit_seconds"] * 1000 <= reference + 0.01
    assert stdout.startswith("pipedream: period ")


# ------------------------------------------------------------------- the reader
def test_vgg16_network_keeps_every_node_once():
    nodes, _edges = _raw_nodes(VGG)
    network, profile = load_pipedream(VGG)
    assert network.name == "vgg16"
    assert profile.batch_size == 128
    covered = [v for layer in network.layers for v in layer.attr("nodes").split(",")]
    inputs = [v for v, n in nodes.items() if n["desc"] == "Input"]
    assert sorted(covered + inputs) == sorted(nodes)
    assert network.total_params * 4 == sum(n["parameter_size"] for n in nodes.values())
    kinds = [layer.kind for layer in network.layers]
    assert kinds.count("conv2d") == 13 and kinds.count("dense") == 3 and kinds.count("pool") == 5
    # An element-wise node joins the layer it feeds: every ReLU sits before a weighted node
    # or a pool, so that the cut before it stays available.
    for layer in network.layers:
        members = layer.attr("nodes").split(",")
        assert members[-1] == layer.name
        assert all(nodes[v]["desc"].split("(")[0] in ("ReLU", "Dropout", "View", "Size")
                   for v in members[:-1])  # fmt: skip
    total = sum(n["forward_compute_time"] + n["backward_compute_time"]
                for v, n in nodes.items() if v not in inputs)  # fmt: skip
    measured = sum(t.F + t.B for t in profile.layers.values())
    assert measured * 1000 == pytest.approx(total)


def test_resnet18_keeps_the_skips_and_schedules():
    nodes, _edges = _raw_nodes(RESNET)
    network, profile = load_pipedream(RESNET)
    assert profile.batch_size == 256
    assert network.total_params == 11_689_512  # torchvision's ResNet-18
    joins = [layer for layer in network.layers if layer.kind == "add"]
    assert len(joins) == 8 and all(len(layer.inputs) == 2 for layer in joins)
    graph = build_task_graph(network, "layerpipe", processors=3, measured=profile)
    result = solve(graph, 3, "heuristic", deterministic=True, time_limit=5)
    check_schedule(result.schedule)


def test_bundled_names():
    assert set(bundled_profiles()) >= {"vgg16", "resnet18"}
    network, profile = load_pipedream("resnet18")
    assert network.name == "resnet18" and "bundled" in profile.source
    assert (PROFILES / "LICENSE-pipedream.txt").read_text().startswith("MIT License")


def test_split_rule_follows_macs():
    network, profile = load_pipedream(VGG)
    graph = build_task_graph(
        network, "layerpipe", costs=CostModel(time_unit="1us"), measured=profile
    )
    duration = {t.name: t.duration for t in graph.tasks}
    first, second = network.layers[0], network.layers[1]
    assert f"G:{first.name}" not in duration  # the first layer needs no input gradient
    assert f"G:{second.name}" in duration
    # conv1_2 (node4, with the ReLU node3 before it): D : G : W = 1 : 576 : 576 (64 x 3 x 3)
    times = profile.layers[second.name]
    seconds = profile.seconds(second.name, {"F": 1.0, "D": 1.0, "G": 576.0, "W": 576.0, "U": 1.0})
    assert seconds["G"] == pytest.approx(seconds["W"])
    assert seconds["D"] * 576 == pytest.approx(seconds["G"])
    assert seconds["D"] + seconds["G"] + seconds["W"] == pytest.approx(times.B)
    assert seconds["U"] == 0
    b_ms = (5.553 + 113.330) * 1000
    parts = sum(duration[f"{k}:{second.name}"] for k in "DGW")
    assert b_ms <= parts <= b_ms + 3  # each part rounded up to the microsecond


@pytest.mark.parametrize("decomposition", ["pipedream", "intra", "layerpipe"])
def test_every_decomposition_sums_the_same_work(decomposition):
    network, profile = load_pipedream(VGG)
    costs = CostModel(time_unit="1us")
    base = build_task_graph(network, "layerpipe", costs=costs, measured=profile)
    graph = build_task_graph(network, decomposition, costs=costs, measured=profile)
    assert graph.total_work == base.total_work
    # the forward tasks are the measured forward times, rounded up to the microsecond
    forward = {t.layer: t.duration for t in graph.tasks if t.kind == "F"}
    for name, times in profile.layers.items():
        assert forward[name] == max(1, math.ceil(round(times.F * 1e6, 6)))


def test_measured_bytes_on_edges():
    network, profile = load_pipedream(VGG)
    graph = build_task_graph(network, "pipedream", measured=profile)
    for e in graph.edges:
        layer = e.tensor.split(":", 1)[1].split(">")[-1] if e.tensor else None
        if e.tensor and e.tensor.startswith(("a:", "z:")):
            assert e.bytes == profile.layers[layer].out_bytes
        if e.tensor and e.tensor.startswith("w:"):
            assert e.bytes == profile.layers[layer].param_bytes


# ------------------------------------------------------------------ bad profiles
def _truncations() -> dict[str, str]:
    text = VGG.read_text()
    lines = text.splitlines(keepends=True)
    first_edge = next(i for i, line in enumerate(lines) if line.startswith("\t"))
    return {
        "mid-line": text[: len(text) // 3],
        "in the edges": "".join(lines[: first_edge + 10]),
        "before the edges": "".join(lines[:first_edge]),
        "empty": "",
    }


@pytest.mark.parametrize("case", list(_truncations()))
def test_truncated_graph_txt_is_refused(case):
    with pytest.raises(InputError):
        parse_pipedream(_truncations()[case], "graph.txt")


@pytest.mark.parametrize(
    "text, match",
    [
        ("node1 -- Input -- forward_compute_time=1, backward_compute_time=0, "
         "activation_size=-4, parameter_size=0\n", "activation_size"),
        ("node1 -- Input -- forward_compute_time=1, backward_compute_time=0, "
         "activation_size=4, parameter_size=0\n\tnode1 -- node9\n", "unknown node"),
        ("node1 -- Input -- forward_compute_time=nan, backward_compute_time=0, "
         "activation_size=4, parameter_size=0\n", "finite"),
    ],
)  # fmt: skip
def test_malformed_graph_txt(text, match):
    with pytest.raises(InputError, match=match):
        parse_pipedream(text, "graph.txt")


def test_truncated_graph_txt_cli_exits_2_and_writes_nothing(capsys, tmp_path):
    bad = tmp_path / "graph.txt"
    bad.write_text(_truncations()["in the edges"])
    out = tmp_path / "g.json"
    code, _out, err = run(capsys, "graph", f"pipedream:{bad}", "-o", str(out))
    assert code == 2
    assert "truncated" in one_line_error(err)
    assert not out.exists()


# ---------------------------------------------------------------------- the CSV
def _lenet_rows(network) -> dict[str, LayerTimes]:
    """Made-up measurements: F of 1 ms per layer, every other part 0.25 ms."""
    graph = build_task_graph(network, "layerpipe", staleness=1)
    kinds: dict[str, set[str]] = {}
    for t in graph.tasks:
        kinds.setdefault(t.layer, set()).add(t.kind)
    return {
        layer.name: LayerTimes(
            **{k: (1e-3 if k == "F" else 2.5e-4) for k in "FDGWU" if k in kinds[layer.name]},
            out_bytes=1000 * (i + 1),
            param_bytes=4 * layer.params if layer.weighted else None,
        )
        for i, layer in enumerate(network.layers)
    }


def test_csv_round_trip_and_costs_flag(capsys, tmp_path):
    network = get_network("lenet5")
    rows = _lenet_rows(network)
    path = tmp_path / "p.csv"
    path.write_text(profile_to_csv(rows, {"batch_size": 16, "device": "cpu"}))
    profile = read_profile_csv(path, network)
    assert profile.batch_size == 16
    assert profile.layers == rows
    graph = build_task_graph(network, "layerpipe", costs=CostModel(time_unit="50us"),
                             measured=profile)  # fmt: skip
    for t in graph.tasks:
        assert t.duration == (20 if t.kind == "F" else 5)
    edges = [e for e in graph.edges if e.tensor == "a:conv1"]
    assert edges and all(e.bytes == 1000 for e in edges)
    out = tmp_path / "s.json"
    code, stdout, err = run(capsys, "solve", "lenet5", "--costs", str(path), "--procs", "2",
                            "--deterministic", "-o", str(out))  # fmt: skip
    assert code == 0, err
    assert "measured costs from" in err and "batch 16" in err
    code, _o, err = run(capsys, "validate", str(out))
    assert code == 0, err


def test_csv_whole_backward_is_split(tmp_path):
    network = get_network("mlp", widths=[8, 4, 2])
    path = tmp_path / "p.csv"
    path.write_text("layer,F_ms,B_ms,D_ms\nfc1,1,3,\nfc2,1,3,0.5\n")
    profile = read_profile_csv(path, network)
    graph = build_task_graph(network, "layerpipe", costs=CostModel(time_unit="1us"),
                             measured=profile)  # fmt: skip
    d = {t.name: t.duration for t in graph.tasks}
    # fc1 (first layer): D : W = 4 : 32 (out elements : 8 x 4 MACs), no G
    assert (d["D:fc1"], d["W:fc1"]) == (math.ceil(3000 / 9), math.ceil(3000 * 8 / 9))
    # fc2: D measured at 0.5 ms, the other 2.5 ms split equally into G and W (4 x 2 MACs each)
    assert d["D:fc2"] == 500 and abs(d["G:fc2"] - d["W:fc2"]) <= 1
    assert d["G:fc2"] + d["W:fc2"] in (2500, 2501, 2502)
    assert d["U:fc1"] == d["U:fc2"] == 1  # not measured: the shortest task


@pytest.mark.parametrize(
    "body, match",
    [
        ("layer,F_ms\nconv1,1\nnope,1\n", "unknown layer"),
        ("layer,F_ms,D_ms\nconv1,1,-0.5\n", "negative D_ms"),
        ("layer,F_ms\nconv1,1\n", "no row for layer"),
        ("layer,F_ms,X_ms\nconv1,1,1\n", "unknown column"),
        ("layer,F_ms\nconv1,fast\n", "number"),
        ("layer,F_ms\nconv1,inf\n", "finite"),
        ("layer,F_ms,out_bytes\nconv1,1,1.5\n", "whole number"),
        ("layer,F_ms\nconv1,1\nconv1,2\n", "twice"),
        ("layer,D_ms\nconv1,1\n", "no F_ms"),
    ],
)
def test_bad_csv_is_refused(body, match, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(body)
    with pytest.raises(InputError, match=match):
        read_profile_csv(path, get_network("lenet5"))


@pytest.mark.parametrize("body", ["layer,F_ms\nnope,1\n", "layer,F_ms,D_ms\nconv1,1,-2\n"])
def test_bad_csv_cli_exits_2_and_writes_nothing(capsys, tmp_path, body):
    rows = profile_to_csv(_lenet_rows(get_network("lenet5")))
    path = tmp_path / "p.csv"
    head, *rest = rows.splitlines()
    extra = body.splitlines()[1]
    if "D_ms" in body:  # a negative time in an otherwise complete profile
        rest[0] = rest[0].replace("0.25", "-2", 1)
    else:  # a complete profile plus a layer lenet5 does not have
        rest.append(extra + ",,,,,,")
    path.write_text("\n".join([head, *rest]) + "\n")
    out = tmp_path / "s.json"
    code, _o, err = run(capsys, "solve", "lenet5", "--costs", str(path), "--procs", "2",
                        "-o", str(out))  # fmt: skip
    assert code == 2
    line = one_line_error(err)
    assert ("unknown layer" in line) or ("negative" in line)
    assert not out.exists()


def test_positive_time_for_a_task_the_layer_lacks(tmp_path):
    network = get_network("lenet5")
    rows = dict(_lenet_rows(network))
    rows["pool1"] = LayerTimes(F=1e-3, D=1e-4, G=1e-4, W=1e-3)
    profile = LayerProfile(rows, source="p.csv")
    with pytest.raises(InputError, match="pool1 has no W task"):
        build_task_graph(network, "layerpipe", measured=profile)


def test_measured_flags_are_checked(capsys):
    code, _o, err = run(capsys, "graph", "pipedream:vgg16", "--batch-size", "32")
    assert code == 2 and "measured at batch 128" in one_line_error(err)
    code, _o, err = run(capsys, "graph", "pipedream:vgg16", "--throughput", "1e12")
    assert code == 2 and "--throughput" in one_line_error(err)


def test_pipedream_profile_as_csv_gives_the_same_graph(tmp_path):
    network, profile = load_pipedream(RESNET)
    path = tmp_path / "resnet18.csv"
    path.write_text(profile_to_csv(profile.layers, {"batch_size": profile.batch_size}))
    again = read_profile_csv(path, network)
    assert again.batch_size == 256
    costs = CostModel(time_unit="1us")
    one = build_task_graph(network, "intra", costs=costs, measured=profile)
    two = build_task_graph(network, "intra", costs=costs, measured=again)
    assert [t.duration for t in one.tasks] == [t.duration for t in two.tasks]
    assert [e.bytes for e in one.edges] == [e.bytes for e in two.edges]


def test_sweep_and_compare_take_a_measured_profile(tmp_path, capsys):
    from lpsched.sweep import read_results
    from tests.cli_helpers import run

    out = tmp_path / "rows.csv"
    code, _, err = run(
        capsys,
        "sweep",
        "pipedream:resnet18",
        "--procs",
        "2,3",
        "--solvers",
        "heuristic",
        "-o",
        str(out),
        "-q",
    )
    assert code == 0, err
    assert "measured costs" in err and "backward split" in err
    df = read_results(out)
    assert list(df["procs"]) == [2, 3] and df["valid"].all()
    # Measured times reach the rows: the period in ms is the graph's, at the profile's unit.
    assert (df["period_ms"] > 0).all() and df["period_ms"].iloc[1] < df["period_ms"].iloc[0]
    code, _, err = run(
        capsys, "compare", "pipedream:resnet18", "--procs", "2", "--solver", "heuristic", "-q"
    )
    assert code == 0, err
