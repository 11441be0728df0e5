"""Cost model and network -> task graph builder (``formulations/README.md``, the task graph)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from fractions import Fraction

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched.costs import CostModel, format_time_unit, parse_time_unit
from lpsched.errors import InputError
from lpsched.graph import Edge, Task, TaskGraph
from lpsched.networks.layers import Layer, Network
from lpsched.platform import Link, Platform, Processor
from lpsched.problem import Problem
from lpsched.taskgraph import (
    DECOMPOSITIONS,
    Staleness,
    build_task_graph,
    group_edges,
    layer_staleness,
    parse_staleness,
    suggest_time_unit,
)

# Durations equal MAC counts: throughput 1 MAC/s, 1 s units.
UNIT_COSTS = CostModel(batch_size=2, throughput=1, time_unit=1)


def dense(name: str, inputs: tuple[str, ...], n_in: int, n_out: int) -> Layer:
    return Layer(
        name, "dense", inputs, (n_in,), (n_out,), n_in * n_out + n_out, n_in * n_out, n_in * n_out
    )


def act(name: str, src: str, n: int) -> Layer:
    return Layer(name, "activation", (src,), (n,), (n,), 0, n, 0)


def chain() -> Network:
    """a (4 -> 8, fed by the input) -> relu -> b (8 -> 3)."""
    return Network(
        "chain", (4,), (dense("a", (), 4, 8), act("relu", "a", 8), dense("b", ("relu",), 8, 3))
    )


def diamond() -> Network:
    """a feeds b and c, whose outputs are added and fed to out."""
    return Network(
        "diamond",
        (4,),
        (
            dense("a", (), 4, 6),
            dense("b", ("a",), 6, 5),
            dense("c", ("a",), 6, 5),
            Layer("add", "add", ("b", "c"), (5,), (5,), 0, 5, 0),
            dense("out", ("add",), 5, 2),
        ),
    )


def constraints(g: TaskGraph) -> set[tuple[str, str, int]]:
    return {(e.src, e.dst, e.distance) for e in g.edges}


# ------------------------------------------------------------------ cost model
class TestCostModel:
    def test_defaults_are_valid_and_named(self):
        c = CostModel()
        assert c.batch_size == 32
        assert c.unit_name == "25us"
        assert c.to_dict()["time_unit"] == "25us"

    def test_compute_rounds_up_and_never_returns_zero(self):
        c = CostModel(throughput=1e12, time_unit="1us")  # 1e6 MACs per unit
        assert c.compute(0) == 1
        assert c.compute(1) == 1
        assert c.compute(3_000_000) == 3  # exact multiples are not bumped by float noise
        assert c.compute(3_000_001) == 4
        assert isinstance(c.compute(5.5e6), int)

    def test_exact_multiples_survive_float_units(self):
        c = CostModel()  # 10e12 MAC/s, 25us: 2.5e8 MACs per unit
        assert [c.compute(k * 250_000_000) for k in (1, 7, 240)] == [1, 7, 240]

    def test_comm_is_the_platforms(self):
        """Messages cost what the link takes, per link class (formerly ``CostModel.comm``)."""
        edges = (
            Edge("a", "b", 0, None, 0),  # no data, no message, no latency
            Edge("a", "c", 0, None, 1),  # 2us latency + 1ns, rounded up
            Edge("a", "d", 0, None, 8000),
            Edge("b", "d", 0, None, 8001),
        )
        g = TaskGraph(tuple(Task(x, 1) for x in "abcd"), edges, time_unit="1us")

        def costs_on(link: Link) -> list[int]:
            return [c["intra"] for c in Problem(g, Platform((Processor(),) * 2, link, link)).comm]

        assert costs_on(Link(1e9, 2e-6)) == [0, 3, 10, 11]
        assert costs_on(Link(math.inf, 0.0)) == [0, 0, 0, 0]
        for gone in ("bandwidth", "latency"):  # the platform's now, not the cost model's
            with pytest.raises(TypeError):
                CostModel(**{gone: 1})
        assert not hasattr(CostModel(), "comm") and not hasattr(CostModel(), "exact_comm")

    def test_rounding_error(self):
        c = CostModel(throughput=1, time_unit=1)
        assert c.rounding_error([1, 2, 3]) == 0.0
        assert c.rounding_error([0.5, 0.5]) == pytest.approx(1.0)  # 2 units for 1 exact
        assert c.rounding_error([0, 4]) == pytest.approx(0.25)  # zero work still costs a unit
        assert c.rounding_error([0]) == math.inf

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"batch_size": 0},
            {"batch_size": 2.5},
            {"batch_size": True},
            {"throughput": 0},
            {"throughput": -1e12},
            {"throughput": math.nan},
            {"throughput": math.inf},
            {"bytes_per_element": 0},
            {"time_unit": 0},
            {"time_unit": "-1us"},
            {"time_unit": "fast"},
            {"throughput": "1e12"},
        ],
    )
    def test_bad_parameters(self, kwargs):
        with pytest.raises(InputError, match="cost model|time unit"):
            CostModel(**kwargs)

    def test_bad_arguments(self):
        with pytest.raises(InputError):
            CostModel().compute(-1)
        with pytest.raises(InputError):
            CostModel().compute(math.nan)
        with pytest.raises(InputError):
            CostModel().compute("12")  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("text", "seconds", "name"),
        [
            ("100us", 1e-4, "100us"),
            ("0.5ms", 5e-4, "500us"),
            ("1ms", 1e-3, "1ms"),
            ("2s", 2.0, "2s"),
            ("1e-4", 1e-4, "100us"),
            (25e-6, 25e-6, "25us"),
            ("10ns", 1e-8, "10ns"),
            ("1.5ms", 1.5e-3, "1.5ms"),
        ],
    )
    def test_time_units(self, text, seconds, name):
        assert parse_time_unit(text) == pytest.approx(seconds)
        assert format_time_unit(parse_time_unit(text)) == name
        assert CostModel(time_unit=text).unit_name == name


# ----------------------------------------------------------- exact task graphs
S = 2  # staleness of the hand-written expectations


class TestChain:
    def test_layerpipe_tasks_and_edges(self):
        g = build_task_graph(chain(), "layerpipe", staleness=S, costs=UNIT_COSTS)
        durations = {t.name: t.duration for t in g.tasks}
        assert durations == {
            # a: 4 -> 8, batch 2: 64 MACs forward, 16 output elements, 40 params; no G
            "F:a": 64, "D:a": 16, "W:a": 64, "U:a": 40,
            # relu: 8 element ops forward, pass-through G over its 8 input elements
            "F:relu": 16, "D:relu": 16, "G:relu": 16,
            "F:b": 48, "D:b": 6, "G:b": 48, "W:b": 48, "U:b": 27,
        }  # fmt: skip
        assert {(t.name, t.layer, t.kind) for t in g.tasks} == {
            (name, name.split(":")[1], name.split(":")[0]) for name in durations
        }
        assert constraints(g) == {
            ("U:a", "F:a", S), ("F:a", "D:a", 0), ("G:relu", "D:a", 0), ("D:a", "W:a", 0),
            ("W:a", "U:a", 0), ("U:a", "U:a", 1),
            ("F:a", "F:relu", 0), ("F:relu", "D:relu", 0), ("G:b", "D:relu", 0),
            ("D:relu", "G:relu", 0),
            ("F:relu", "F:b", 0), ("U:b", "F:b", S), ("F:b", "D:b", 0), ("D:b", "G:b", 0),
            ("U:b", "G:b", S), ("D:b", "W:b", 0), ("F:relu", "W:b", 0), ("W:b", "U:b", 0),
            ("U:b", "U:b", 1),
        }  # fmt: skip
        assert len(g.edges) == len(constraints(g))
        weights = {(e.src, e.dst): e.weights for e in g.edges if e.weights}
        assert weights == {("U:a", "F:a"): "a", ("U:b", "F:b"): "b", ("U:b", "G:b"): "b"}
        nbytes = {(e.src, e.dst): e.bytes for e in g.edges}
        assert nbytes[("U:b", "F:b")] == 27 * 4  # parameter bytes
        assert nbytes[("F:relu", "W:b")] == 2 * 8 * 4  # a_{l-1}
        assert nbytes[("G:b", "D:relu")] == 2 * 8 * 4  # gradient w.r.t. relu's output
        assert nbytes[("D:b", "W:b")] == 2 * 3 * 4  # delta_b
        assert nbytes[("U:b", "U:b")] == 0
        assert g.name == "chain" and g.decomposition == "layerpipe"
        assert g.time_unit == "1s" and g.staleness_cap is None
        assert g.staleness() == {"a": S, "b": S}

    def test_intra(self):
        g = build_task_graph(chain(), "intra", staleness=S, costs=UNIT_COSTS)
        assert {t.name: t.duration for t in g.tasks} == {
            "F:a": 64, "A:a": 16, "WU:a": 104, "F:relu": 16, "A:relu": 32,
            "F:b": 48, "A:b": 54, "WU:b": 75,
        }  # fmt: skip
        assert constraints(g) == {
            ("WU:a", "F:a", S), ("F:a", "A:a", 0), ("A:relu", "A:a", 0), ("A:a", "WU:a", 0),
            ("WU:a", "WU:a", 1),
            ("F:a", "F:relu", 0), ("F:relu", "A:relu", 0), ("A:b", "A:relu", 0),
            ("F:relu", "F:b", 0), ("WU:b", "F:b", S), ("F:b", "A:b", 0), ("WU:b", "A:b", S),
            ("A:b", "WU:b", 0), ("F:relu", "WU:b", 0), ("WU:b", "WU:b", 1),
        }  # fmt: skip
        assert {t.kind for t in g.tasks} == {"F", "A", "WU"}

    def test_pipedream(self):
        g = build_task_graph(chain(), "pipedream", staleness=S, costs=UNIT_COSTS)
        assert {t.name: t.duration for t in g.tasks} == {
            "F:a": 64, "B:a": 120, "F:relu": 16, "B:relu": 32, "F:b": 48, "B:b": 129,
        }  # fmt: skip
        # U:b -> G:b became a self-loop with the staleness (still a constraint S*T >= d),
        # next to the distance-1 self-loop of U:b; both are kept since they differ in kind.
        assert sorted((e.src, e.dst, e.distance, e.weights) for e in g.edges) == sorted(
            [
                ("B:a", "F:a", S, "a"), ("F:a", "B:a", 0, None), ("B:relu", "B:a", 0, None),
                ("B:a", "B:a", 1, None),
                ("F:a", "F:relu", 0, None), ("F:relu", "B:relu", 0, None),
                ("B:b", "B:relu", 0, None),
                ("F:relu", "F:b", 0, None), ("B:b", "F:b", S, "b"), ("F:b", "B:b", 0, None),
                ("F:relu", "B:b", 0, None), ("B:b", "B:b", S, "b"), ("B:b", "B:b", 1, None),
            ]
        )  # fmt: skip
        # F:relu -> B:b carries a_{l-1} for W:b (F:relu -> F:b carries it to F:b).
        fb = [e for e in g.edges if (e.src, e.dst) == ("F:relu", "B:b")]
        assert len(fb) == 1 and fb[0].bytes == 2 * 8 * 4

    def test_first_weightless_layers_get_no_backward(self):
        net = Network(
            "prefix",
            (4,),
            (
                Layer("norm", "norm", (), (4,), (4,), 0, 4, 0),
                dense("a", ("norm",), 4, 3),
            ),
        )
        g = build_task_graph(net, "layerpipe", staleness="sync", costs=UNIT_COSTS)
        # No weights upstream of a: nobody needs the gradient w.r.t. norm's output.
        assert [t.name for t in g.tasks if t.layer == "norm"] == ["F:norm"]
        assert "G:a" not in {t.name for t in g.tasks}

    def test_products_without_weights_are_differentiated_twice(self):
        """Attention: G covers W^T delta and both operands of the score products."""
        att = Layer("att", "attention", ("a",), (2, 4), (2, 4), params=80, macs=100, weight_macs=60)
        net = Network("att", (2, 4), (dense("a", (), 8, 8), att))
        g = build_task_graph(net, staleness="sync", costs=UNIT_COSTS)
        assert g.task("F:att").duration == 2 * 100
        assert g.task("G:att").duration == 2 * (60 + 2 * 40)
        assert g.task("W:att").duration == 2 * 60
        assert g.task("U:att").duration == 80


class TestMerging:
    def test_multi_consumer_layer_gets_one_edge_per_consumer_gradient(self):
        g = build_task_graph(diamond(), "layerpipe", staleness="sync", costs=UNIT_COSTS)
        into_da = sorted(e.src for e in g.edges if e.dst == "D:a" and e.src.startswith("G:"))
        assert into_da == ["G:b", "G:c"]
        into_dadd = sorted(e.src for e in g.edges if e.dst == "D:add")
        assert into_dadd == ["F:add", "G:out"]
        # The output layer's gradient comes from the loss: D:out depends on F:out only.
        assert [e.src for e in g.edges if e.dst == "D:out"] == ["F:out"]
        # The add's pass-through gradient reads both inputs' worth of elements.
        assert g.task("G:add").duration == 2 * (5 + 5)
        assert {e.src for e in g.edges if e.dst == "F:add"} == {"F:b", "F:c"}

    @pytest.mark.parametrize("decomposition", ["intra", "pipedream"])
    @pytest.mark.parametrize("network", [chain, diamond])
    def test_merged_graph_is_the_layerpipe_graph_contracted(self, network, decomposition):
        """Independent contraction of the primitive graph implies the same constraints."""
        costs = CostModel(batch_size=4, throughput=1, time_unit=1)
        prim = build_task_graph(network(), "layerpipe", staleness=3, costs=costs)
        merged = build_task_graph(network(), decomposition, staleness=3, costs=costs)
        groups = {
            "intra": {"D": "A", "G": "A", "W": "WU", "U": "WU"},
            "pipedream": {"D": "B", "G": "B", "W": "B", "U": "B"},
        }[decomposition]

        def rename(name: str) -> str:
            kind, layer = name.split(":")
            return f"{groups.get(kind, kind)}:{layer}"

        durations: dict[str, int] = {}
        for t in prim.tasks:
            durations[rename(t.name)] = durations.get(rename(t.name), 0) + t.duration
        assert {t.name: t.duration for t in merged.tasks} == durations
        expected = [
            replace(e, src=rename(e.src), dst=rename(e.dst))
            for e in prim.edges
            if not (rename(e.src) == rename(e.dst) and e.distance == 0)
        ]
        # Every contracted constraint is implied by a kept edge of the same message: its
        # cost on any link is that of its bytes, and it is needed no later.
        for e in expected:
            assert any(
                (k.src, k.dst, k.weights, k.tensor) == (e.src, e.dst, e.weights, e.tensor)
                and k.distance <= e.distance
                and k.comm is None
                and k.bytes >= e.bytes
                for k in merged.edges
            ), e
        keys = {(e.src, e.dst, e.distance, e.bytes, e.weights, e.tensor) for e in expected}
        for k in merged.edges:  # and nothing is invented
            assert (k.src, k.dst, k.distance, k.bytes, k.weights, k.tensor) in keys

    def test_parallel_edges_merge_per_tensor(self):
        """One tensor sent twice is one message, needed at the smaller distance; two are two."""
        edges = [
            Edge("x", "y", 1, None, 8, tensor="a:x"),
            Edge("x", "y", 0, None, 8, tensor="a:x"),  # the same message, needed earlier
            Edge("x", "y", 2, None, 8, tensor="z:x"),  # another tensor: its own message
            Edge("x", "y", 3, None, 4, weights="l", tensor="w:l"),
            Edge("x", "y", 2, None, 4, weights="l", tensor="w:l"),
            Edge("x", "y", 0, None, 4, tensor="w:l"),  # weight edges never merge with others
            Edge("x", "x", 0, None, 8, tensor="a:x"),  # no part of the test: dropped below
        ]
        kept = group_edges(edges[:-1], {"x": "x", "y": "y"})
        assert sorted((e.distance, e.tensor, e.weights) for e in kept) == [
            (0, "a:x", None),
            (0, "w:l", None),
            (2, "w:l", "l"),
            (2, "z:x", None),
        ]
        # Fixed delays are kept where no kept edge implies them.
        fixed = [Edge("x", "y", 0, 3), Edge("x", "y", 0, 5), Edge("x", "y", 2, 9)]
        kept = group_edges(fixed, {"x": "x", "y": "y"})
        for e in fixed:
            assert any(k.distance <= e.distance and k.comm >= e.comm for k in kept), e
        # Inside one group: distance 0 is the order of the parts, a distance a self-loop.
        inside = group_edges(
            [Edge("x", "y", 0, None, 8, tensor="t"), Edge("y", "x", 1, None, 8, tensor="u")],
            {"x": "g", "y": "g"},
        )
        assert [(e.src, e.dst, e.distance) for e in inside] == [("g", "g", 1)]


# ------------------------------------------------------------------- staleness
class TestStaleness:
    @pytest.mark.parametrize(
        ("spec", "expected"),
        [
            ("sync", Staleness("fixed", 1)),
            (" SYNC ", Staleness("fixed", 1)),
            (1, Staleness("fixed", 1)),
            (4, Staleness("fixed", 4)),
            ("4", Staleness("fixed", 4)),
            ("layerpipe2", Staleness("layerpipe2")),
            ("auto", Staleness("auto")),
            ("auto:7", Staleness("auto", 7)),
        ],
    )
    def test_parse(self, spec, expected):
        assert parse_staleness(spec) == expected
        assert parse_staleness(parse_staleness(spec)) == expected
        assert parse_staleness(str(expected)) == expected  # str() round-trips

    @pytest.mark.parametrize(
        "spec", ["", "0", "-1", 0, -3, 1.5, True, None, "auto:", "auto:0", "auto:x", "fast", "2.5"]
    )
    def test_bad_specs(self, spec):
        with pytest.raises(InputError, match="staleness|cap"):
            parse_staleness(spec)

    def test_layerpipe2_default_stages(self):
        layers = (dense("a", (), 4, 4), act("r", "a", 4), dense("b", ("r",), 4, 4))
        net = Network("c3", (4,), (*layers, dense("c", ("b",), 4, 2)))
        g = build_task_graph(net, staleness="layerpipe2", costs=UNIT_COSTS)
        assert g.staleness() == {"a": 5, "b": 3, "c": 1}
        assert g.staleness_cap is None

    def test_layerpipe2_stage_map(self):
        net = diamond()
        stages = {"a": 0, "b": 1, "c": 1, "add": 1, "out": 4}  # gaps in numbering are fine
        dist, cap = layer_staleness(net, "layerpipe2", stages=stages)
        assert dist == {"a": 5, "b": 3, "c": 3, "out": 1} and cap is None
        g = build_task_graph(net, staleness="layerpipe2", stages=stages)
        assert g.staleness() == dist
        with pytest.raises(InputError, match="no stage for weighted layer"):
            layer_staleness(net, "layerpipe2", stages={"a": 0})
        with pytest.raises(InputError, match="unknown layer"):
            layer_staleness(net, "layerpipe2", stages={**stages, "zz": 1})

    def test_auto(self):
        net = diamond()  # 4 weighted layers
        g = build_task_graph(net, staleness="auto", costs=UNIT_COSTS)
        assert g.staleness_cap == 7
        assert {e.distance for e in g.edges if e.weights} == {7}
        g = build_task_graph(net, staleness="auto", processors=2)
        assert g.staleness_cap == 3 and set(g.staleness().values()) == {3}
        g = build_task_graph(net, staleness="auto:5", processors=2)
        assert g.staleness_cap == 5 and set(g.staleness().values()) == {5}
        # U -> U stays at distance 1: a layer's updates are sequential whatever the cap.
        assert all(e.distance == 1 for e in g.edges if e.src == e.dst and e.weights is None)

    def test_per_layer_mapping(self):
        net = chain()
        g = build_task_graph(net, staleness={"a": 3, "b": 1})
        assert g.staleness() == {"a": 3, "b": 1}
        with pytest.raises(InputError, match="no value"):
            build_task_graph(net, staleness={"a": 3})
        with pytest.raises(InputError, match="not weighted"):
            build_task_graph(net, staleness={"a": 3, "b": 1, "relu": 2})

    def test_bad_arguments(self):
        with pytest.raises(InputError, match="decomposition"):
            build_task_graph(chain(), "gpipe")
        with pytest.raises(InputError, match="processors"):
            build_task_graph(chain(), processors=0)
        with pytest.raises(InputError, match="Network"):
            build_task_graph("vgg16")  # type: ignore[arg-type]


# ------------------------------------------------------------------- loops
def max_cycle_ratio(g: TaskGraph) -> Fraction:
    """Brute force over simple cycles (small graphs only)."""
    d = {t.name: t.duration for t in g.tasks}
    best = Fraction(0)
    for e in g.edges:  # self-loops
        if e.src == e.dst:
            best = max(best, Fraction(d[e.src], e.distance))
    multi = g.to_networkx()
    simple = nx.DiGraph()
    for u, v, data in multi.edges(data=True):
        if u != v:
            w = data["distance"]
            if not simple.has_edge(u, v) or simple[u][v]["distance"] > w:
                simple.add_edge(u, v, distance=w)
    for cycle in nx.simple_cycles(simple):
        dist = sum(
            simple[u][v]["distance"] for u, v in zip(cycle, cycle[1:] + cycle[:1], strict=True)
        )
        best = max(best, Fraction(sum(d[v] for v in cycle), dist))
    return best


class TestLoops:
    def test_sync_chain_cannot_be_pipelined(self):
        """With s = 1 the loop through the first layer's update spans the whole iteration."""
        layers = (dense("a", (), 4, 6), dense("b", ("a",), 6, 5), dense("c", ("b",), 5, 3))
        net = Network("c3", (4,), layers)
        prim = build_task_graph(net, "layerpipe", staleness="sync", costs=UNIT_COSTS)
        p = {t.name: t.duration for t in prim.tasks}
        # U:a -> F:a -> F:b -> F:c -> D:c -> G:c -> D:b -> G:b -> D:a -> W:a -> U:a holds
        # every primitive task but the later layers' weight gradients and updates; merged
        # tasks drag those in with their other parts.
        expected = {
            "layerpipe": prim.total_work - sum(p[n] for n in ("W:b", "U:b", "W:c", "U:c")),
            "intra": prim.total_work - sum(p[n] for n in ("W:b", "U:b", "W:c", "U:c")),
            "pipedream": prim.total_work,  # B holds everything: no pipelining at all
        }
        for dec in DECOMPOSITIONS:
            g = build_task_graph(net, dec, staleness="sync", costs=UNIT_COSTS)
            assert max_cycle_ratio(g) == expected[dec]
            assert g.total_work == prim.total_work

    def test_sync_vgg16_iteration_bound(self):
        """The same on VGG-16 through lpsched.bounds: the longest single-distance loop."""
        from lpsched import bounds
        from lpsched.networks import get_network

        net = get_network("vgg16")
        g = build_task_graph(net, "layerpipe", staleness="sync")
        d = {t.name: t.duration for t in g.tasks}
        names = [layer.name for layer in net.layers]
        loops = [
            sum(d.get(f"{k}:{m}", 0) for m in names[i:] for k in "FD")
            + sum(d.get(f"G:{m}", 0) for m in names[i + 1 :])
            + d[f"W:{layer.name}"]
            + d[f"U:{layer.name}"]
            for i, layer in enumerate(net.layers)
            if layer.weighted
        ]
        assert bounds.iteration_bound(g)[0] == max(loops)
        pd = build_task_graph(net, "pipedream", staleness="sync")
        assert bounds.iteration_bound(pd)[0] == pd.total_work

    def test_every_weight_loop_has_the_layer_staleness(self):
        """The tightest loop through U_l -> F_l crosses exactly s_l iterations."""
        g = build_task_graph(diamond(), "layerpipe", staleness="layerpipe2", costs=UNIT_COSTS)
        zero = nx.DiGraph((e.src, e.dst) for e in g.edges if e.distance == 0)
        for layer, s in g.staleness().items():
            assert nx.has_path(zero, f"F:{layer}", f"U:{layer}")  # F -> D -> W -> U
            back = [e for e in g.edges if e.weights == layer and e.dst == f"F:{layer}"]
            assert [e.distance for e in back] == [s]

    def test_staleness_lowers_the_iteration_bound(self):
        net = diamond()
        sync = max_cycle_ratio(build_task_graph(net, staleness="sync", costs=UNIT_COSTS))
        stale = max_cycle_ratio(build_task_graph(net, staleness=3, costs=UNIT_COSTS))
        assert stale < sync

    def test_bounds_module_agrees(self):
        from lpsched import bounds

        for net in (chain(), diamond()):
            for dec in DECOMPOSITIONS:
                for spec in ("sync", 2, "layerpipe2"):
                    g = build_task_graph(net, dec, staleness=spec, costs=UNIT_COSTS)
                    value, _loop = bounds.iteration_bound(g)
                    assert value == max_cycle_ratio(g)


# --------------------------------------------------------- graph-wide invariants
def default_link_units(nbytes: int, unit: float) -> int:
    """``ceil((10 us + bytes / 50 GB/s) / unit)`` in exact arithmetic; no bytes, no message."""
    if nbytes == 0:
        return 0
    seconds = Fraction(10, 10**6) + Fraction(nbytes, 50 * 10**9)
    return math.ceil(seconds / Fraction(repr(unit)))


def check_invariants(g: TaskGraph, costs: CostModel) -> None:
    assert not g.zero_distance_cycle()
    assert g.time_unit_seconds == pytest.approx(costs.time_unit, rel=1e-12)
    comm = Problem(g, 4).comm  # the default platform: 50 GB/s and 10 us
    for e, c in zip(g.edges, comm, strict=True):
        assert e.comm is None  # derived from the bytes and the platform
        assert c == dict.fromkeys(("intra", "inter"), default_link_units(e.bytes, costs.time_unit))
        if e.weights is not None:
            assert e.src == f"{g.task(e.src).kind}:{e.weights}"
            assert e.tensor == f"w:{e.weights}"
        elif e.bytes:
            assert e.tensor is not None
    assert all(t.name == f"{t.kind}:{t.layer}" for t in g.tasks)


def roundtrip(g: TaskGraph) -> TaskGraph:
    return TaskGraph.from_dict(json.loads(g.to_json()))


def test_json_round_trip(tmp_path):
    for dec in DECOMPOSITIONS:
        g = build_task_graph(diamond(), dec, staleness="layerpipe2")
        assert roundtrip(g) == g
        path = tmp_path / f"{dec}.json"
        g.to_json(path)
        assert TaskGraph.read(path) == g
    g = build_task_graph(diamond(), staleness="auto")
    # Files carry fixed distances: the cap is a property of the builder, not of the file.
    assert roundtrip(g) == replace(g, staleness_cap=None)


def test_rounding_error_is_reported():
    exact = build_task_graph(chain(), costs=UNIT_COSTS)
    assert exact.rounding_error == 0.0
    coarse = CostModel(batch_size=2, throughput=1, time_unit=10)
    g = build_task_graph(chain(), costs=coarse)
    macs = [64, 16, 64, 40, 16, 16, 16, 48, 6, 48, 48, 27]
    assert g.rounding_error == pytest.approx(
        sum(math.ceil(m / 10) for m in macs) / (sum(macs) / 10) - 1
    )
    assert g.total_work == sum(math.ceil(m / 10) for m in macs)
    assert g.time_unit == "10s"


@pytest.mark.parametrize("max_error", [0.01, 0.05, 0.3])
def test_suggest_time_unit(max_error):
    costs = CostModel(batch_size=2, throughput=1e3)  # chain: 6 ms .. 64 ms per task
    unit = suggest_time_unit(chain(), costs, max_error=max_error)
    g = build_task_graph(chain(), costs=replace(costs, time_unit=unit))
    assert g.rounding_error <= max_error
    mantissa, exponent = f"{unit:e}".split("e")
    coarser = {1.0: 2, 2.0: 2.5, 2.5: 5, 5.0: 10}[float(mantissa)] * 10.0 ** int(exponent)
    worse = build_task_graph(chain(), costs=replace(costs, time_unit=coarser))
    assert worse.rounding_error > max_error  # the coarsest unit that is good enough


def test_suggest_time_unit_limits():
    # Sub-nanosecond tasks: no unit in the series is fine enough, so the finest one.
    assert suggest_time_unit(chain(), CostModel(), max_error=0.01) == 1e-9
    with pytest.raises(InputError, match="max_error"):
        suggest_time_unit(chain(), max_error=0)


# ------------------------------------------------------------ random networks
@st.composite
def networks(draw) -> Network:
    n = draw(st.integers(1, 7))
    layers: list[Layer] = []
    for i in range(n):
        k = draw(st.integers(0, min(i, 2)))
        names = [layer.name for layer in layers]
        inputs: tuple[str, ...] = ()
        if k:
            inputs = tuple(sorted(draw(st.sets(st.sampled_from(names), min_size=k, max_size=k))))
        n_in = sum(layers[int(p[1:])].out_shape[0] for p in inputs) or 3
        n_out = draw(st.integers(1, 9))
        if inputs and draw(st.booleans()):
            layers.append(Layer(f"L{i}", "activation", inputs, (n_in,), (n_in,), 0, n_in, 0))
        else:
            layers.append(dense(f"L{i}", inputs, n_in, n_out))
    return Network("random", (3,), tuple(layers))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks(), spec=st.sampled_from(["sync", 2, "layerpipe2", "auto"]))
def test_random_networks(net, spec):
    costs = CostModel(batch_size=3, throughput=7, time_unit=2)
    graphs = {
        dec: build_task_graph(net, dec, staleness=spec, costs=costs) for dec in DECOMPOSITIONS
    }
    works = {g.total_work for g in graphs.values()}
    assert len(works) == 1  # merging preserves the sum of durations
    assert len({g.rounding_error for g in graphs.values()}) == 1
    for g in graphs.values():
        check_invariants(g, costs)
        assert roundtrip(g) == replace(g, staleness_cap=None)
    lp = graphs["layerpipe"]
    names = {t.name for t in lp.tasks}
    for layer in net.layers:
        # A gradient exists where the layer or something upstream has weights; G sends
        # it on when some producer needs it (so never from a layer fed by the input).
        upstream = any(f"D:{p}" in names for p in layer.inputs)
        assert (f"D:{layer.name}" in names) == (layer.weighted or upstream)
        assert (f"G:{layer.name}" in names) == upstream
        if layer.weighted:
            assert {f"{k}:{layer.name}" for k in "FDWU"} <= names
        if not layer.inputs:
            assert f"G:{layer.name}" not in names
        # one gradient edge from each consumer's G when the layer needs one
        if f"D:{layer.name}" in names:
            grads = sorted(
                e.src for e in lp.edges if e.dst == f"D:{layer.name}" and e.src[0] == "G"
            )
            assert grads == sorted(f"G:{c}" for c in net.consumers(layer.name))
    n_weighted = sum(layer.weighted for layer in net.layers)
    assert len(graphs["pipedream"].tasks) == len(net.layers) + sum(
        1 for layer in net.layers if f"D:{layer.name}" in names
    )
    assert sum(t.kind == "WU" for t in graphs["intra"].tasks) == n_weighted


# ------------------------------------------------------------ built-in networks
def _builtin_names() -> list[str]:
    try:
        from lpsched.networks import BUILTIN_NETWORKS
    except ImportError:
        return []
    return sorted(BUILTIN_NETWORKS)


@pytest.mark.parametrize(
    "name",
    _builtin_names() or [pytest.param("none", marks=pytest.mark.skip("no built-in networks yet"))],
)
def test_builtin_networks(name):
    from lpsched.networks import get_network

    net = get_network(name)
    costs = CostModel()
    costs = replace(costs, time_unit=suggest_time_unit(net, costs))
    works = set()
    for dec in DECOMPOSITIONS:
        for spec in ("auto", "layerpipe2"):
            g = build_task_graph(net, dec, staleness=spec, costs=costs, processors=4)
            check_invariants(g, costs)  # including: distance-0 edges form a DAG
            works.add(g.total_work)
            assert 0 <= g.rounding_error <= 0.02
            assert g.name == net.name and g.decomposition == dec
            assert set(g.staleness()) == {layer.name for layer in net.layers if layer.weighted}
    assert len(works) == 1


def test_default_costs_suit_vgg16():
    """The calibration target of the defaults (see lpsched/costs.py)."""
    from lpsched.networks import get_network

    g = build_task_graph(get_network("vgg16"), "layerpipe", staleness="sync")
    assert 100 <= max(g.durations) <= 1000  # a few hundred units
    assert 1000 <= g.total_work <= 10_000  # a few thousand
    assert g.rounding_error < 0.05
    assert g.time_unit == "25us"
