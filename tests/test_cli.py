"""The command line: exit codes, one-line errors, files, and the platform flags."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lpsched.platform import PRESETS, Link, Platform, override, preset, preset_spec
from lpsched.schedule import Result
from lpsched.validate import validate
from tests.cli_helpers import one_line_error, run

# "period 19.28 ms (771 x 25 us)": milliseconds, then the period in time units of the graph.
PERIOD = re.compile(r"period (\d+(?:\.\d+)?) ms \((\d+) x (\d+(?:\.\d+)?) (s|ms|us|ns)\)")


def test_networks_lists_every_builtin(capsys):
    code, out, _ = run(capsys, "networks", "--json")
    assert code == 0
    names = {row["name"] for row in json.loads(out)}
    assert {"mlp", "lenet5", "alexnet", "vgg16", "resnet18", "resnet50", "gpt2"} <= names


def test_graph_writes_a_graph_that_reads_back(tmp_path, capsys):
    path = tmp_path / "g.json"
    code, _, err = run(capsys, "graph", "lenet5", "--decomposition", "intra", "-o", str(path))
    assert code == 0, err
    data = json.loads(path.read_text())
    assert data["format"] == "lpsched-graph/2"
    assert {t["kind"] for t in data["tasks"]} >= {"F", "A", "WU"}
    # Costs come from the bytes and the platform: no fixed comm, a tensor per message.
    assert all("comm" not in e for e in data["edges"])
    assert all("tensor" in e for e in data["edges"] if e["bytes"])


def test_bounds_json_keys(capsys):
    code, out, _ = run(capsys, "bounds", "lenet5", "--procs", "4", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) >= {
        "lower_bound",
        "resource_bound",
        "longest_task",
        "iteration_bound",
        "critical_loop",
    }
    assert data["lower_bound"] >= max(data["resource_bound"], data["longest_task"])


def test_solve_json_is_a_valid_schedule(tmp_path, capsys):
    code, out, err = run(capsys, "solve", "lenet5", "--procs", "3", "--json")
    assert code == 0, err
    result = Result.from_dict(json.loads(out))
    assert result.schedule is not None
    assert validate(result.schedule) == []
    assert result.period >= result.lower_bound


def test_solve_writes_schedule_and_gantt_and_validate_accepts_it(tmp_path, capsys):
    sched, png = tmp_path / "s.json", tmp_path / "g.png"
    code, out, err = run(
        capsys, "solve", "mlp", "--procs", "2", "-o", str(sched), "--gantt", str(png)
    )
    assert code == 0, err
    assert "period" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    code, out, _ = run(capsys, "validate", str(sched))
    assert code == 0 and "valid" in out


def test_validate_rejects_a_broken_schedule(tmp_path, capsys):
    sched = tmp_path / "s.json"
    assert run(capsys, "solve", "mlp", "--procs", "2", "-o", str(sched))[0] == 0
    data = json.loads(sched.read_text())
    for a in data["assignments"]:
        a["start"] = 0  # everything at once: overlaps and broken precedences
        a["processor"] = 0
    sched.write_text(json.dumps(data))
    code, out, _ = run(capsys, "validate", str(sched), "--all")
    assert code == 1
    assert "INVALID" in out and "overlap" in out and "short by" in out


def test_graph_file_is_scheduled_as_given(tmp_path, capsys):
    path = tmp_path / "g.json"
    assert run(capsys, "graph", "mlp", "--staleness", "3", "-o", str(path))[0] == 0
    code, out, err = run(capsys, "solve", str(path), "--procs", "2", "--json")
    assert code == 0, err
    given = json.loads(path.read_text())["edges"]
    used = json.loads(out)["graph"]["edges"]
    assert [e["distance"] for e in used] == [e["distance"] for e in given]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["solve", "nosuchnet", "--procs", "2"], "unknown network"),
        (["solve", "mlp", "--procs", "0"], "--procs"),
        (["bounds", "mlp", "--procs", "-3"], "--procs"),
        (["solve", "mlp", "--procs", "2", "--staleness", "banana"], "staleness"),
        (["solve", "mlp", "--procs", "2", "--time-limit", "0"], "time limit"),
        (["solve", "mlp", "--procs", "two"], "--procs"),
        (["solve", "mlp", "--procs", "2", "--solver", "magic"], "--solver"),
        (["validate", "/nonexistent/s.json"], "no such file"),
        (["solve", "mlp", "--procs", "2", "-o", "/nonexistent/dir/s.json"], "directory"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert fragment in one_line_error(err)
    assert out == ""


def test_bad_files_are_one_line_exit_2(tmp_path, capsys):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"format": "lpsched-graph/1", "tasks": [')
    assert "line" in one_line_error(run(capsys, "bounds", str(bad_json), "--procs", "2")[2])

    zero_cycle = tmp_path / "cycle.json"
    zero_cycle.write_text(
        json.dumps(
            {
                "format": "lpsched-graph/1",
                "tasks": [{"name": "a", "duration": 1}, {"name": "b", "duration": 2}],
                "edges": [{"src": "a", "dst": "b"}, {"src": "b", "dst": "a"}],
            }
        )
    )
    code, _, err = run(capsys, "bounds", str(zero_cycle), "--procs", "2")
    line = one_line_error(err)
    assert code == 2 and ("a -> b -> a" in line or "b -> a -> b" in line)

    flagged = tmp_path / "g.json"
    assert run(capsys, "graph", "mlp", "-o", str(flagged))[0] == 0
    code, _, err = run(capsys, "solve", str(flagged), "--procs", "2", "-d", "pipedream")
    assert code == 2 and "as given" in one_line_error(err)


def test_nothing_half_written_on_error(tmp_path, capsys):
    out = tmp_path / "s.json"
    code, _, _ = run(capsys, "solve", "mlp", "--procs", "0", "-o", str(out))
    assert code == 2
    assert list(tmp_path.iterdir()) == []


def test_console_script_exit_code_and_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "lpsched.cli", "solve", "nosuchnet", "--procs", "2"],
        capture_output=True,
        text=True,
        cwd=Path(tmp_path),
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_version_1_graph_files_are_scheduled(tmp_path, capsys):
    path = tmp_path / "g1.json"
    path.write_text(
        json.dumps(
            {
                "format": "lpsched-graph/1",
                "time_unit": "us",
                "tasks": [{"name": "a", "duration": 2}, {"name": "b", "duration": 3}],
                "edges": [
                    {"src": "a", "dst": "b", "comm": 4},
                    {"src": "b", "dst": "a", "distance": 1},
                ],
            }
        )
    )
    code, out, err = run(capsys, "solve", str(path), "--procs", "2", "--json")
    assert code == 0, err
    result = Result.from_dict(json.loads(out))
    assert validate(result.schedule) == [] and result.period >= 5
    code, _, err = run(capsys, "solve", str(path), "--procs", "2", "-d", "pipedream")
    assert code == 2 and "as given" in one_line_error(err)


# ------------------------------------------------------------------- platforms
def test_platforms_lists_the_presets(capsys):
    code, out, err = run(capsys, "platforms")
    assert code == 0, err
    for name in PRESETS:
        assert re.search(rf"^{name}\s", out, re.M), out
    assert "2 nodes" in out and "450 GB/s" in out
    code, out, _ = run(capsys, "platforms", "--json")
    rows = json.loads(out)
    assert [r["name"] for r in rows] == list(PRESETS)
    for r in rows:
        assert Platform.from_dict(r["platform"]) == preset(r["name"])
        assert r["description"] == PRESETS[r["name"]][0]


def solve_ok(capsys, tmp_path, *argv: str) -> tuple[Result, str]:
    """Run ``lpsched solve ARGV -o FILE``; check the file validates; return it and stdout."""
    path = tmp_path / "s.json"
    code, out, err = run(capsys, "solve", *argv, "-o", str(path))
    assert code == 0, err
    result = Result.read(path)
    assert result.schedule is not None and validate(result.schedule) == []
    code, checked, _ = run(capsys, "validate", str(path))
    assert code == 0 and "valid" in checked
    return result, out


def check_summary(out: str, result: Result) -> None:
    m = PERIOD.search(out)
    assert m, out
    ms, units, number, suffix = m.groups()
    sched = result.schedule
    assert int(units) == sched.period and number + suffix == sched.graph.time_unit
    assert float(ms) == pytest.approx(sched.period * sched.graph.time_unit_seconds * 1e3, rel=1e-3)


@pytest.mark.parametrize("solver", ["heuristic", "pipedream"])
def test_solve_on_a_preset(tmp_path, capsys, solver):
    result, out = solve_ok(
        capsys, tmp_path, "vgg16", "--platform", "pcie", "--procs", "8", "--solver", solver
    )
    assert result.schedule.platform == preset("pcie", 8)
    check_summary(out, result)
    assert "on 8 processors" in out


def test_procs_is_not_needed_with_a_platform(tmp_path, capsys):
    result, _ = solve_ok(capsys, tmp_path, "mlp", "--platform", "nvlink")
    assert result.schedule.processors == 8
    code, _, err = run(capsys, "solve", "mlp")
    assert code == 2 and "--procs" in one_line_error(err)


def test_nodes_split_a_platform(tmp_path, capsys):
    # pcie joins every pair alike, so two nodes of it are still uniform.
    result, out = solve_ok(
        capsys,
        tmp_path,
        "vgg16",
        "--platform",
        "pcie",
        "--procs",
        "8",
        "--nodes",
        "2",
        "--solver",
        "heuristic",
    )
    platform = result.schedule.platform
    assert platform.nodes == 2 and [p.node for p in platform.processors] == [0] * 4 + [1] * 4
    check_summary(out, result)


def test_speeds_give_a_heterogeneous_platform(tmp_path, capsys):
    """Needs a platform-aware heuristic."""
    result, out = solve_ok(
        capsys,
        tmp_path,
        "vgg16",
        "--procs",
        "4",
        "--speeds",
        "1,1,0.5,0.5",
        "--solver",
        "heuristic",
    )
    assert result.schedule.platform.speeds == (1.0, 1.0, 0.5, 0.5)
    check_summary(out, result)


def test_two_link_classes(tmp_path, capsys):
    """Needs a topology-aware heuristic: NVLink within a node, InfiniBand between."""
    result, out = solve_ok(
        capsys, tmp_path, "vgg16", "--platform", "ib", "--procs", "16", "--solver", "heuristic"
    )
    platform = result.schedule.platform
    assert platform == preset("ib", 16) and platform.link_classes == ("intra", "inter")
    check_summary(out, result)


def test_link_flags_take_units_and_apply_to_graph_files(tmp_path, capsys):
    graph = tmp_path / "g.json"
    assert run(capsys, "graph", "mlp", "-o", str(graph))[0] == 0
    result, _ = solve_ok(
        capsys, tmp_path, str(graph), "--procs", "2", "--bandwidth", "200Gb/s", "--latency", "3us"
    )
    assert result.schedule.platform.intra == result.schedule.platform.inter == Link(25e9, 3e-6)
    code, out, err = run(
        capsys,
        "bounds",
        str(graph),
        "--procs",
        "4",
        "--bandwidth",
        "intra=450GB/s,inter=25GB/s",
        "--nodes",
        "2",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["processors"] == 4


def test_a_platform_file(tmp_path, capsys):
    path = tmp_path / "box.yaml"
    path.write_text("processors: 4\nlinks:\n  intra: {bandwidth: 25GB/s, latency: 10us}\n")
    result, _ = solve_ok(capsys, tmp_path, "mlp", "--platform", str(path))
    expected = Platform.from_dict(override(preset_spec("pcie"), procs=4) | {"name": "box"})
    assert result.schedule.platform == expected


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--platform", "dgx"], "unknown platform 'dgx'"),
        (["--platform", "ib", "--procs", "12"], "do not fill nodes of 8"),
        (["--procs", "2", "--bandwidth", "0"], "--bandwidth must be > 0"),
        (["--procs", "2", "--bandwidth", "fast"], "--bandwidth must be a quantity"),
        (["--procs", "2", "--bandwidth", "intra=1GB/s,across=2GB/s"], "--bandwidth"),
        (["--procs", "2", "--latency", "10 parsecs"], "--latency must be a quantity"),
        (["--procs", "2", "--latency=-1us"], "--latency must be >= 0"),
        (["--procs", "4", "--speeds", "1,1,0.5"], "--speeds lists 3 speeds for 4 processors"),
        (["--procs", "2", "--speeds", "1,fast"], "--speeds"),
        (["--procs", "2", "--speeds", "1,0"], "speed must be > 0"),
        (["--procs", "2", "--memory=-1GB"], "--memory must be > 0"),
        (["--procs", "2", "--memory", "80XB"], "--memory must be a quantity"),
        (["--procs", "3", "--nodes", "2"], "3 processors do not split evenly into 2 nodes"),
    ],
)
def test_bad_platform_input_is_one_line_exit_2(tmp_path, capsys, flags, fragment):
    out_file = tmp_path / "s.json"
    for command in ("solve", "bounds"):
        extra = ["-o", str(out_file)] if command == "solve" else []
        code, out, err = run(capsys, command, "mlp", *flags, *extra)
        assert code == 2
        assert fragment in one_line_error(err)
        assert out == ""
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_bad_platform_file_is_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("processors: 4\nspeeds: [1, 2, 3, 4]\n")
    out_file = tmp_path / "s.json"
    code, out, err = run(capsys, "solve", "mlp", "--platform", str(path), "-o", str(out_file))
    assert code == 2 and out == ""
    assert "unknown key 'speeds'" in one_line_error(err)
    assert not out_file.exists()
    path.write_text("processors: [1, 2\n")
    code, _, err = run(capsys, "bounds", "mlp", "--platform", str(path))
    assert code == 2 and "invalid YAML" in one_line_error(err)
