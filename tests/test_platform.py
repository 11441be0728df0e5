"""Platforms: presets, files, command-line overrides, round trips and interchangeable groups."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lpsched.errors import InputError
from lpsched.platform import (
    DEFAULT_BANDWIDTH,
    DEFAULT_LATENCY,
    MAX_PROCESSORS,
    PRESETS,
    Link,
    Platform,
    Processor,
    override,
    platform_of,
    preset,
    preset_spec,
)


def nodes_of(platform: Platform) -> list[int]:
    return [p.node for p in platform.processors]


# ------------------------------------------------------------------ presets
def test_presets_are_what_they_describe():
    assert set(PRESETS) == {"nvlink", "pcie", "ib"}
    nvlink = preset("nvlink")
    assert (nvlink.P, nvlink.nodes, nvlink.name) == (8, 1, "nvlink")
    assert nvlink.intra == Link(450e9, 3e-6)
    assert nvlink.uniform  # one node: the inter link is never used
    pcie = preset("pcie")
    assert (pcie.P, pcie.nodes) == (8, 1)
    assert pcie.intra == pcie.inter == Link(25e9, 10e-6)
    ib = preset("ib")
    assert (ib.P, ib.nodes) == (16, 2)
    assert nodes_of(ib) == [0] * 8 + [1] * 8
    assert ib.intra == Link(450e9, 3e-6)
    assert ib.inter == Link(400e9 / 8, 10e-6)  # 400 Gb/s
    assert not ib.uniform
    for name in PRESETS:
        platform = preset(name)
        assert platform.speeds == (1.0,) * platform.P
        assert all(p.memory is None for p in platform.processors)
        assert platform.capacity == "ports"
        assert name in platform.describe()


def test_procs_resizes_a_preset():
    assert preset("nvlink", 4).P == 4 and preset("nvlink", 4).nodes == 1
    assert preset("pcie", 1).P == 1
    ib = preset("ib", 24)
    assert (ib.P, ib.nodes) == (24, 3)  # nodes of 8
    assert nodes_of(ib) == [0] * 8 + [1] * 8 + [2] * 8
    assert preset("ib", 8).nodes == 1
    with pytest.raises(InputError, match="12 processors do not fill nodes of 8"):
        preset("ib", 12)
    with pytest.raises(InputError, match="unknown platform 'dgx'"):
        preset("dgx")
    with pytest.raises(InputError, match="--procs"):
        preset("pcie", 0)


def test_preset_specs_are_copies():
    spec = preset_spec("ib")
    spec["links"]["intra"]["bandwidth"] = "1GB/s"
    assert preset("ib").intra.bandwidth == 450e9


def test_default_platform_is_the_old_cost_model():
    p = Platform.default(4)
    assert p.P == 4 and p.nodes == 1 and p.uniform
    assert p.intra == p.inter == Link(DEFAULT_BANDWIDTH, DEFAULT_LATENCY) == Link(50e9, 10e-6)
    assert platform_of(4) == p and platform_of(p) is p
    for bad in (0, -1, MAX_PROCESSORS + 1, 2.5, True, "4"):
        with pytest.raises(InputError):
            platform_of(bad)


# -------------------------------------------------------------------- files
def write(tmp_path, name: str, data: dict, as_json: bool = False):
    path = tmp_path / name
    path.write_text(json.dumps(data) if as_json else yaml.safe_dump(data, allow_unicode=True))
    return path


@pytest.mark.parametrize("as_json", [False, True])
def test_count_form(tmp_path, as_json):
    path = write(
        tmp_path,
        "p.json" if as_json else "p.yaml",
        {
            "format": "lpsched-platform/1",
            "name": "box",
            "processors": 6,
            "speed": 0.5,
            "memory": "80GiB",
            "nodes": 3,
            "links": {"intra": {"bandwidth": "200Gb/s", "latency": "2us"}},
        },
        as_json,
    )
    p = Platform.read(path)
    assert p.P == 6 and p.nodes == 3 and p.name == "box"
    assert nodes_of(p) == [0, 0, 1, 1, 2, 2]
    assert p.speeds == (0.5,) * 6
    assert {q.memory for q in p.processors} == {80 * 2**30}
    assert p.intra == Link(25e9, 2e-6)
    assert p.inter == p.intra  # an inter link not given is the intra link


def test_list_form_with_per_processor_values(tmp_path):
    text = """
processors:
  - {speed: 2, memory: 80GB, node: 0}
  - {speed: 1, node: 0}
  - {node: 1}
memory: 40GB
speed: 1.5
links:
  intra: {bandwidth: 450GB/s, latency: 3us}
  inter: {bandwidth: 25GiB/s, latency: 0.01ms}
capacity: delay
optimizer_state: 2
"""
    path = tmp_path / "list.yaml"
    path.write_text(text)
    p = Platform.read(path)
    assert p.processors == (
        Processor(2.0, 80e9, 0),
        Processor(1.0, 40e9, 0),  # the top-level memory is every processor's default
        Processor(1.5, 40e9, 1),  # and the top-level speed
    )
    assert p.nodes == 2 and p.link_class(0, 1) == "intra" and p.link_class(1, 2) == "inter"
    assert p.link(0, 2) == Link(25 * 2**30, 1e-5)
    assert p.optimizer_state == 2.0
    assert not p.uniform


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"processors": 4, "speeds": [1, 2]}, "unknown key 'speeds'"),
        ({"format": "lpsched-platform/2", "processors": 4}, "format must be 'lpsched-platform/1'"),
        ({"format": "lpsched-graph/2", "processors": 4}, "format must be"),
        ({"processors": 4, "memory": "80XB"}, "memory must be a quantity"),
        ({"processors": 4, "links": {"intra": {"bandwidth": "fast"}}}, "bandwidth must be"),
        ({"processors": 4, "links": {"intra": {"latency": "3 parsecs"}}}, "latency must be"),
        ({"processors": 4, "links": {"intra": {"bandwidth": "0GB/s"}}}, "bandwidth must be > 0"),
        ({"processors": 4, "links": {"intra": {"latency": "-1us"}}}, "latency must be >= 0"),
        ({"processors": 4, "links": {"intra": {"width": 1}}}, "unknown key 'width'"),
        ({"processors": 4, "links": {"local": {}}}, "unknown link class 'local'"),
        ({"processors": 3, "nodes": 2}, "3 processors do not split evenly into 2 nodes"),
        ({"processors": 6, "processors_per_node": 4}, "do not fill nodes of 4"),
        ({"processors": 4, "nodes": 2, "processors_per_node": 2}, "not both"),
        ({"processors": 0}, "between 1 and"),
        ({"processors": 2.5}, "must be an integer"),
        ({"speed": 1}, "'processors' is required"),
        ({"processors": 2, "speed": 0}, "speed must be > 0"),
        ({"processors": 2, "speed": "fast"}, "speed must be a number"),
        ({"processors": [{"speed": 1, "gpu": "h100"}]}, "unknown key 'gpu'"),
        ({"processors": [{"node": 1}]}, "nodes must be numbered 0..N-1"),
        ({"processors": [{"node": -1}]}, "node must be an integer >= 0"),
        ({"processors": [{"speed": 1}], "nodes": 1}, "give each its 'node'"),
        ({"processors": [3]}, "processors\\[0\\] must be a mapping"),
        ({"processors": 2, "capacity": "shared"}, "capacity must be one of"),
        ({"processors": 2, "optimizer_state": -1}, "optimizer_state must be >= 0"),
    ],
)
def test_bad_files_are_one_line_errors_naming_the_file(tmp_path, data, fragment):
    path = write(tmp_path, "bad.yaml", data)
    with pytest.raises(InputError, match=fragment) as info:
        Platform.read(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message


def test_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        Platform.read(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("processors: [1, 2\n")
    with pytest.raises(InputError, match="invalid YAML"):
        Platform.read(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="mapping"):
        Platform.read(bad)


# ---------------------------------------------------------------- overrides
def test_override_speeds():
    spec = override({}, procs=4, speeds=[1, 1, 0.5, 0.5], nodes=2)
    p = Platform.from_dict(spec)
    assert p.speeds == (1.0, 1.0, 0.5, 0.5) and nodes_of(p) == [0, 0, 1, 1]
    assert Platform.from_dict(override({}, speeds=[2, 1])).P == 2  # the speeds give the count
    with pytest.raises(InputError, match="--speeds lists 3 speeds for 4 processors"):
        override({}, procs=4, speeds=[1, 1, 1])
    with pytest.raises(InputError, match="--speeds lists 2 speeds for 8 processors"):
        override(preset_spec("pcie"), speeds=[1, 1])
    listed = {"processors": [{"speed": 1}, {"speed": 1}]}
    assert Platform.from_dict(override(listed, speeds=[3, 0.5])).speeds == (3.0, 0.5)
    with pytest.raises(InputError, match="--speeds"):
        override(listed, speeds=[1])
    # The override is a copy: the specification given is left as it was.
    assert listed == {"processors": [{"speed": 1}, {"speed": 1}]}


def test_override_memory_and_procs():
    p = Platform.from_dict(override(preset_spec("ib"), memory="80GB"))
    assert {q.memory for q in p.processors} == {80e9}
    listed = {"processors": [{"memory": "1GB"}, {"node": 1}]}
    p = Platform.from_dict(override(listed, memory=16e9))
    assert [q.memory for q in p.processors] == [16e9, 16e9]
    with pytest.raises(InputError, match="--procs 3: the platform lists 2 processors"):
        override(listed, procs=3)
    assert Platform.from_dict(override(listed, procs=2)).P == 2
    p = Platform.from_dict(override(preset_spec("ib"), procs=16, nodes=4))
    assert p.nodes == 4 and nodes_of(p) == [i // 4 for i in range(16)]


def test_override_links_per_class():
    spec = override(preset_spec("ib"), bandwidth={"intra": "100GB/s", "inter": 1e9}, latency="1us")
    p = Platform.from_dict(spec)
    assert p.intra == Link(100e9, 1e-6) and p.inter == Link(1e9, 1e-6)
    p = Platform.from_dict(override(preset_spec("ib"), bandwidth={"inter": "200Gb/s"}))
    assert p.intra == Link(450e9, 3e-6) and p.inter == Link(25e9, 10e-6)
    one = Platform.from_dict(override({"processors": 2}, bandwidth=math.inf, latency=0))
    assert one.intra == one.inter == Link(math.inf, 0.0)
    assert Platform.from_dict(override({"processors": 2}, capacity="delay")).capacity == "delay"


# -------------------------------------------------------------- round trips
@st.composite
def platforms(draw: st.DrawFn) -> Platform:
    n = draw(st.integers(1, 6))
    nodes = sorted(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    renumber = {v: i for i, v in enumerate(dict.fromkeys(nodes))}
    speeds = st.sampled_from([0.1, 0.25, 1 / 3, 0.5, 1.0, 1.5, 2.0, 8.0])
    memory = st.none() | st.sampled_from([16e9, 80e9, 80 * 2.0**30])
    procs = tuple(Processor(draw(speeds), draw(memory), renumber[v]) for v in nodes)
    bandwidth = st.sampled_from([math.inf, 25e9, 50e9, 450e9, 1e6])
    latency = st.sampled_from([0.0, 3e-6, 1e-5])
    links = [Link(draw(bandwidth), draw(latency)) for _ in range(2)]
    name = draw(st.sampled_from(["", "box", "ib"]))
    opt = draw(st.sampled_from([0.0, 2.0]))
    return Platform(procs, links[0], links[1], optimizer_state=opt, name=name)


@settings(max_examples=80, deadline=None)
@given(platforms())
def test_to_dict_from_dict_round_trip(platform):
    data = platform.to_dict()
    assert json.loads(json.dumps(data)) == data  # plain JSON: infinite bandwidth is null
    assert Platform.from_dict(data) == platform
    assert Platform.from_dict(json.loads(json.dumps(data))) == platform


@settings(max_examples=80, deadline=None)
@given(platforms())
def test_interchangeable_groups(platform):
    groups = platform.interchangeable()
    flat = sorted(i for g in groups for i in g)
    assert flat == list(range(platform.P))  # a partition of the processors
    procs = platform.processors
    used = {
        "intra" if a.node == b.node else "inter"
        for i, a in enumerate(procs)
        for b in procs[i + 1 :]
    }
    assert set(platform.link_classes) == used
    one_class = len(used) <= 1 or platform.intra == platform.inter
    assert platform.uniform == (one_class and len(set(platform.speeds)) == 1)
    for group in groups:
        for i in group:
            a, b = platform.processors[group[0]], platform.processors[i]
            assert (a.speed, a.memory) == (b.speed, b.memory)
            if not one_class:
                assert a.node == b.node
    # Maximal: processors alike in every respect that matters share a group.
    key = {i: g for g, group in enumerate(groups) for i in group}
    for i, a in enumerate(platform.processors):
        for j, b in enumerate(platform.processors):
            alike = (a.speed, a.memory) == (b.speed, b.memory) and (one_class or a.node == b.node)
            assert (key[i] == key[j]) == alike


def test_interchangeable_hand_cases():
    assert Platform.default(3).interchangeable() == [[0, 1, 2]]
    mixed = Platform.from_dict(override({}, speeds=[1, 0.5, 1, 0.5]))
    assert mixed.interchangeable() == [[0, 2], [1, 3]]
    assert preset("ib").interchangeable() == [list(range(8)), list(range(8, 16))]
    # Two nodes joined exactly like one node: the node does not matter.
    flat = Platform.from_dict(override(preset_spec("pcie"), nodes=2))
    assert flat.nodes == 2 and flat.uniform and flat.interchangeable() == [list(range(8))]
    memories = Platform((Processor(1, 80e9), Processor(1, 40e9), Processor(1, 80e9)))
    assert memories.interchangeable() == [[0, 2], [1]]


def test_link_classes_in_use():
    assert Platform.default(1).link_classes == ()
    assert Platform.default(3).link_classes == ("intra",)
    assert preset("ib").link_classes == ("intra", "inter")
    # One processor per node: every crossing is inter-node, so all pairs are joined alike.
    spec = override({}, procs=4, nodes=4, bandwidth={"intra": "450GB/s", "inter": "25GB/s"})
    apart = Platform.from_dict(spec)
    assert apart.nodes == 4 and apart.link_classes == ("inter",)
    assert apart.intra != apart.inter and apart.uniform
    assert apart.interchangeable() == [[0, 1, 2, 3]]
    # Nodes of 1 and 2 processors: both classes.
    mixed = Platform((Processor(node=0), Processor(node=1), Processor(node=1)), inter=Link(1e9))
    assert mixed.link_classes == ("intra", "inter") and not mixed.uniform
    assert mixed.interchangeable() == [[0], [1, 2]]


def test_platform_checks():
    with pytest.raises(InputError, match="at least one processor"):
        Platform(())
    with pytest.raises(InputError, match=f"at most {MAX_PROCESSORS}"):
        Platform((Processor(),) * (MAX_PROCESSORS + 1))
    with pytest.raises(InputError, match="speed must be in"):
        Platform((Processor(1e-7),))
    with pytest.raises(InputError, match="bandwidth must be > 0"):
        Platform((Processor(),), Link(0, 0))
    with pytest.raises(InputError, match="latency"):
        Platform((Processor(),), Link(1e9, math.nan))
    with pytest.raises(InputError, match="nodes must be numbered"):
        Platform((Processor(node=0), Processor(node=2)))
