"""Hostile input (issue 20): limits that hold, one-line errors, files that stay what they are.

Every case the issue lists that is outside the solvers and the sweeps is a regression
test here; ``tests/test_fuzz.py`` mutates the same files at random.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from lpsched.costs import CostModel
from lpsched.errors import InputError
from lpsched.files import MAX_DEPTH, check_output, read_json, write_text_atomic
from lpsched.graph import MAX_DISTANCE, MAX_UNITS, Edge, Task, TaskGraph
from lpsched.platform import Platform, check_scale
from lpsched.schedule import Result, Schedule, Status
from lpsched.validate import validate
from tests.cli_helpers import one_line_error, run

NETWORK_YAML = """\
format: lpsched-network/1
name: tiny
input: [8]
layers:
- {name: fc1, kind: dense, out_features: 4}
- {name: fc2, kind: dense, out_features: 2}
"""

PLATFORM_YAML = """\
format: lpsched-platform/1
processors: 2
links:
  intra: {bandwidth: 25GB/s, latency: 10us}
"""


def tiny_graph(names: tuple[str, str, str] = ("a", "b", "c")) -> TaskGraph:
    """Three tasks in a loop: a message with bytes, a fixed comm, a weight edge."""
    a, b, c = names
    return TaskGraph(
        (Task(a, 3, "l1", "F"), Task(b, 4, "l1", "D"), Task(c, 2, "l1", "U")),
        (
            Edge(a, b, 0, None, 1000, tensor="x"),
            Edge(b, c, 0, 1, 8),
            Edge(c, a, 2, None, 64, "l1", "w"),
        ),
        time_unit="1us",
        name="tiny",
    )


def tiny_schedule(graph: TaskGraph | None = None) -> Result:
    """A valid schedule made by hand: the three tasks in a row on processor 0 of 2."""
    g = tiny_graph() if graph is None else graph
    names = [t.name for t in g.tasks]
    sched = Schedule(g, 2, 9, dict.fromkeys(names, 0), dict(zip(names, (0, 3, 7), strict=True)))
    assert validate(sched) == []
    return Result(sched, Status.FEASIBLE, 7, "hand", 0.0)


def write_inputs(folder: Path) -> dict[str, Path]:
    """A graph, a schedule, a network and a platform file in ``folder``, all valid."""
    paths = {
        "graph": folder / "g.json",
        "schedule": folder / "s.json",
        "network": folder / "net.yaml",
        "platform": folder / "plat.yaml",
    }
    tiny_graph().to_json(paths["graph"])
    tiny_schedule().to_json(paths["schedule"])
    paths["network"].write_text(NETWORK_YAML)
    paths["platform"].write_text(PLATFORM_YAML)
    return paths


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    return write_inputs(tmp_path)


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``lpsched ARGV``; assert exit 2, nothing on stdout and one line; return the line."""
    code, out, err = run(capsys, *argv)
    assert code == 2, (code, out, err)
    assert out == ""
    return one_line_error(err)


def edited(path: Path, change: Any) -> Path:
    """Rewrite the JSON file ``path`` after ``change(data)``; return the path."""
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


# ------------------------------------------------------------------ output files
def _drain(path: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(path, "rb") as f:
            into.append(f.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("command", ["solve", "graph"])
def test_a_fifo_stays_a_fifo_and_receives_the_file(tmp_path, capsys, inputs, command):
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = _drain(fifo, received)
    argv = [command, str(inputs["network"]), "-o", str(fifo)]
    if command == "solve":
        argv += ["--procs", "2"]
    code, _, err = run(capsys, *argv)
    reader.join(10)
    assert code == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    expected = "lpsched-schedule/2" if command == "solve" else "lpsched-graph/2"
    assert json.loads(received[0])["format"] == expected


def test_a_symlink_stays_a_link_and_its_target_is_written(tmp_path, capsys, inputs):
    target, link = tmp_path / "target.json", tmp_path / "link.json"
    target.write_text("old\n")
    link.symlink_to(target.name)
    code, _, err = run(capsys, "solve", str(inputs["graph"]), "--procs", "2", "-o", str(link))
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == target.name
    assert Result.read(target).schedule is not None


def test_a_regular_file_is_replaced_atomically(tmp_path, inputs):
    path = tmp_path / "out.json"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    before_inode, before = path.stat().st_ino, listing(tmp_path)
    write_text_atomic(path, "new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # permissions kept
    assert path.stat().st_ino != before_inode  # a new file renamed over the old one
    assert listing(tmp_path) == before  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    path.write_text("old\n")

    def broken(*_args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(InputError, match="No space left"):
        write_text_atomic(path, "new\n")
    assert path.read_text() == "old\n" and listing(tmp_path) == ["out.json"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
@pytest.mark.parametrize("command", ["solve", "graph"])
def test_dev_full_is_one_line_and_exit_2(capsys, inputs, command):
    argv = [command, str(inputs["graph"]), "-o", "/dev/full"]
    line = refused(capsys, *argv, *(["--procs", "2"] if command == "solve" else []))
    assert "/dev/full" in line and "No space left" in line
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--gantt", "g.txt"], "--gantt g.txt: must end in .png, .svg, .pdf"),
        (["--gantt", "sub.png"], "is a directory"),
        (["-o", "sub"], "is a directory"),
        (["-o", "missing/s.json"], "does not exist"),
        (["--gantt", "missing/g.png"], "does not exist"),
        (["--export", "m.txt"], "--export m.txt: must end in .lp, .mps"),
        (["-o", "x.png", "--gantt", "x.png"], "name the same file"),
        (["-o", ""], "empty path"),
        (["-o", "g.json"], "-o g.json is the input file"),
        (["--gantt", "plat.yaml"], "must end in"),
        (["--platform", "plat.yaml", "-o", "./plat.yaml"], "is the input file"),
    ],
)
def test_outputs_are_checked_before_any_work(
    tmp_path, capsys, monkeypatch, inputs, flags, fragment
):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub.png").mkdir()

    def no_work(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the instance was loaded before the outputs were checked")

    monkeypatch.setattr("lpsched.cli.commands.load_instance", no_work)
    monkeypatch.chdir(tmp_path)
    before = listing(tmp_path)
    assert fragment in refused(capsys, "solve", str(inputs["graph"]), "--procs", "2", *flags)
    assert listing(tmp_path) == before


def test_graph_output_is_checked_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("lpsched.cli.commands.load_instance", lambda *_a: 1 / 0)
    assert "is a directory" in refused(capsys, "graph", "mlp", "-o", str(tmp_path))
    assert "does not exist" in refused(capsys, "graph", "mlp", "-o", str(tmp_path / "x" / "g"))
    net = tmp_path / "net.yaml"
    net.write_text(NETWORK_YAML)
    assert "is the input file" in refused(capsys, "graph", str(net), "-o", str(net))
    assert net.read_text() == NETWORK_YAML


def test_a_gantt_that_fails_leaves_no_schedule_file(tmp_path, capsys, monkeypatch, inputs):
    def broken(_result: Any) -> None:
        raise InputError("cannot draw")

    monkeypatch.setattr("lpsched.plot.gantt_figure", broken)
    out, png = tmp_path / "new.json", tmp_path / "g.png"
    argv = ["solve", str(inputs["graph"]), "--procs", "2", "-o", str(out), "--gantt", str(png)]
    assert "cannot draw" in refused(capsys, *argv)
    assert not out.exists() and not png.exists()


def test_gantt_goes_through_a_symlink(tmp_path, capsys, inputs):
    target, link = tmp_path / "chart.svg", tmp_path / "link.svg"
    link.symlink_to(target.name)
    code, _, err = run(capsys, "solve", str(inputs["graph"]), "--procs", "2", "--gantt", str(link))
    assert code == 0, err
    assert link.is_symlink() and target.read_bytes().lstrip().startswith(b"<?xml")


def test_check_output_api(tmp_path):
    assert check_output(tmp_path / "a.png", (".png",)) == tmp_path / "a.png"
    with pytest.raises(InputError, match="must end in .png"):
        check_output(tmp_path / "a.PNG.txt", (".png",))
    os.mkfifo(tmp_path / "f")
    assert check_output(tmp_path / "f") == tmp_path / "f"  # written through later
    with pytest.raises(InputError, match="File name too long"):
        check_output(tmp_path / ("x" * 300))


# --------------------------------------------------------------- graph numbers
@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d["tasks"][0].update(duration=3.0), "duration must be an integer, got 3.0"),
        (lambda d: d["tasks"][0].update(duration=1e300), "must be an integer, got 1e+300"),
        (lambda d: d["tasks"][0].update(duration=2**63), "at most 2**40"),
        (lambda d: d["tasks"][0].update(duration=MAX_UNITS + 1), "at most 2**40"),
        (lambda d: d["tasks"][0].update(duration=True), "must be an integer, got True"),
        (lambda d: d["tasks"][0].update(duration="3"), "must be an integer, got '3'"),
        (lambda d: d["edges"][1].update(comm=10**20), "comm must be at most 2**40"),
        (lambda d: d["edges"][1].update(comm=1.5), "comm must be an integer"),
        (lambda d: d["edges"][0].update(bytes=2**60 + 1), "bytes must be at most 2**60"),
        (lambda d: d["edges"][2].update(distance=MAX_DISTANCE + 1), "at most 10**6"),
        (lambda d: d["edges"][2].update(distance=2.0), "distance must be an integer"),
        (lambda d: d.update(time_unit="1e-30s"), "between 1ns and 1h"),
        (lambda d: d.update(time_unit="2e4s"), "between 1ns and 1h"),
        (lambda d: d.update(time_unit=25), "time_unit must be a string"),
        (lambda d: d.update(rounding_error="x"), "rounding_error must be a number"),
        (lambda d: d["tasks"][0].update(layer=5), "layer must be a string"),
        (lambda d: d["tasks"][0].update(name="a\nb"), "must be printable"),
        (lambda d: d["tasks"][0].update(name="x" * 2000), "longer than 1000 characters"),
        (lambda d: d["edges"][0].update(tensor=["x"]), "tensor must be a string"),
        (
            lambda d: [t.update(duration=MAX_UNITS // 2 + 1) for t in d["tasks"]],
            "total work",
        ),
        (lambda d: d.update(format="lpsched-graph/3"), "format must be 'lpsched-graph/2'"),
        (lambda d: d.update(tasks={"a": 1}), "'tasks' and 'edges' must be lists"),
        (lambda d: d["tasks"].append(7), "tasks[3] must be an object, got 7"),
    ],
)
def test_graph_file_numbers_have_limits(capsys, inputs, change, fragment):
    path = edited(inputs["graph"], change)
    line = refused(capsys, "bounds", str(path), "--procs", "2")
    assert fragment in line and line.startswith(f"lpsched: error: {path}: ")


def test_slow_processors_and_links_are_held_to_the_limits(capsys, inputs):
    big = edited(inputs["graph"], lambda d: d["tasks"][0].update(duration=2**30))
    line = refused(capsys, "bounds", str(big), "--procs", "2", "--speeds", "1,1e-6")
    assert "more than the limit of 2**40" in line
    heavy = edited(inputs["graph"], lambda d: d["edges"][0].update(bytes=2**50))
    line = refused(capsys, "solve", str(heavy), "--procs", "2", "--bandwidth", "1B/s")
    assert "message of" in line and "more than the limit of 2**40" in line
    # the same graph on one processor sends nothing: no message, no limit
    assert run(capsys, "bounds", str(heavy), "--procs", "1", "--bandwidth", "1B/s")[0] == 0


def test_check_scale_accepts_what_fits():
    check_scale(Platform.default(2), tiny_graph())  # no error
    with pytest.raises(InputError, match="total work"):
        big = TaskGraph((Task("a", 2**39), Task("b", 2**39)), ())
        check_scale(Platform.from_dict({"processors": 2, "speed": 0.5}), big)


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--procs", "1000000000"], "--procs must be between 1 and 4096"),
        (["--procs", "2", "--staleness", str(10**30)], "staleness must be at most 10**6"),
        (["--procs", "2", "--staleness", "auto:2000000"], "staleness cap"),
        (["--procs", "2", "--time-unit", "1e-30s"], "time unit must be between 1ns and 1h"),
        (["--procs", "2", "--time-unit", "7200s"], "time unit must be between 1ns and 1h"),
        (["--procs", "2", "--throughput", "1e-300"], "throughput (MAC/s) must be at least 1"),
        (["--procs", "2", "--throughput", "1e19"], "at most 1e+18"),
        (["--procs", "2", "--throughput", "nan"], "throughput"),
        (["--procs", "2", "--batch-size", "99999999"], "batch size must be at most 2**20"),
        (["--procs", "2", "--seed", str(2**70)], "seed must be between 0 and 2147483647"),
        (["--procs", "2", "--seed", "-1"], "seed must be between 0"),
        (["--procs", "2", "--seed", "1.0"], "seed must be an integer"),
        (["--procs", "2", "--workers", "-3"], "workers must be between 1 and 256"),
        (["--procs", "2", "--workers", "257"], "workers must be between 1 and 256"),
        (["--procs", "2", "--time-limit", "nan"], "time limit must be a positive number"),
        (["--procs", "2", "--time-limit", "inf"], "time limit"),
        (["--procs", "2", "--time-limit", "-5"], "time limit"),
        (["--procs", "2", "--time-limit", "1e7"], "up to 1000000"),
        (["--procs", "2", "--net-opt", "widths=1000000000000,1000000000000"], "at most 2**20"),
        (["--procs", "2", "--net-opt", "widths=8,nan"], "must be a positive integer"),
        (["--procs", "2", "--net-opt", "widths=8,2", "--net-opt", "widths=4,2"], "given twice"),
        (["--procs", "2", "--memory", "0.5B"], "at least 1 byte"),
        (["--procs", "2", "--bandwidth", "1e-30B/s"], "at least 1 B/s"),
        (["--procs", "2", "--latency", "2h"], "--latency must be a quantity"),
        (["--procs", "2", "--latency", "7200s"], "at most 1 hour"),
        (["--procs", "2", "--speeds", "1,nan"], "speed"),
        (["--procs", "2", "--nodes", "5000"], "--nodes must be between 1 and 4096"),
    ],
)
def test_flags_have_limits_that_name_them(tmp_path, capsys, flags, fragment):
    out = tmp_path / "s.json"
    assert fragment in refused(capsys, "solve", "mlp", *flags, "-o", str(out))
    assert not out.exists()


def test_bounds_has_no_time_limit_flag(capsys):
    # bounds runs no search; a limit it would ignore is refused rather than accepted.
    code, _, err = run(capsys, "bounds", "mlp", "--procs", "2", "--time-limit", "nan")
    assert code == 2 and "unrecognized arguments" in err


def test_cost_model_limits():
    with pytest.raises(InputError, match="throughput"):
        CostModel(throughput=1e-300)
    with pytest.raises(InputError, match="time unit must be between 1ns and 1h"):
        CostModel(time_unit=1e-30)
    costs = CostModel()
    with pytest.raises(InputError, match="more than the limit of 2\\*\\*40"):
        costs.compute(10**400)
    with pytest.raises(InputError, match="more than the limit of 2\\*\\*40"):
        costs.compute(1e300)
    with pytest.raises(InputError, match="2\\*\\*60 bytes"):
        costs.data_bytes(10**400)
    assert costs.compute(0) == 1 and costs.data_bytes(3) == 12


def test_python_graphs_keep_int64_room():
    # A graph built in Python may exceed the file limit (the bounds are exact there),
    # never int64.
    TaskGraph((Task("a", 10**17),), ())
    with pytest.raises(InputError, match="at most 2\\*\\*62"):
        TaskGraph((Task("a", 2**63),), ())
    with pytest.raises(InputError, match="must be an integer"):
        TaskGraph((Task("a", 3.0),), ())  # type: ignore[arg-type]
    with pytest.raises(InputError, match="exceeds the limit of 2\\*\\*40"):
        TaskGraph((Task("a", 2**41),), ()).check_limits()
    with pytest.raises(InputError, match="total work"):
        TaskGraph((Task("a", 2**39), Task("b", 2**39 + 1)), ()).check_limits()


# -------------------------------------------------------------- schedule reader
@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d.update(period=9.7), "period must be an integer, got 9.7"),
        (lambda d: d.update(period="9"), "period must be an integer, got '9'"),
        (lambda d: d.update(period=True), "period must be an integer, got True"),
        (lambda d: d.update(period=float("inf")), "period must be an integer, got inf"),
        (lambda d: d.update(period=0), "period must be >= 1"),
        (lambda d: d.update(period=2**70), "period must be at most 2**62"),
        (lambda d: d.update(lower_bound="7"), "lower_bound must be an integer, got '7'"),
        (lambda d: d.update(lower_bound=float("nan")), "lower_bound must be an integer"),
        (lambda d: d.update(processors=True), "processors must be an integer, got True"),
        (lambda d: d.update(processors=1.9), "processors must be an integer, got 1.9"),
        (lambda d: d.update(processors=3), "processors is 3 but the platform has 2"),
        (lambda d: d.pop("period"), "missing field 'period'"),
        (lambda d: d.update(assignments="x"), "assignments must be a list"),
        (lambda d: d.update(assignments=["x"]), "assignments[0] must be an object"),
        (lambda d: d["assignments"][0].update(task=[1]), "task must be a string"),
        (lambda d: d["assignments"][0].update(start=1.5), "start must be an integer"),
        (lambda d: d["assignments"][0].update(processor=True), "processor must be an integer"),
        (lambda d: d["assignments"][0].pop("start"), "missing field 'start'"),
        (lambda d: d.update(status="great"), "status must be one of"),
        (lambda d: d.update(solve_seconds="x"), "solve_seconds must be a number"),
        (lambda d: d.update(solve_seconds=float("nan")), "solve_seconds must be a finite"),
        (lambda d: d.update(solver=3), "solver must be a string"),
        (lambda d: d.update(transfers="x"), "transfers must be a list"),
        (lambda d: d.update(graph=[]), "graph: expected a JSON object"),
        (lambda d: d["platform"].update(processors=2.0), "processors must be an integer"),
        (lambda d: d.update(format="lpsched-network/1"), "it is a network file"),
    ],
)
def test_the_schedule_reader_is_strict(capsys, inputs, change, fragment):
    path = edited(inputs["schedule"], change)
    line = refused(capsys, "validate", str(path))
    assert fragment in line and line.startswith(f"lpsched: error: {path}: ")


def test_infinity_in_a_schedule_file_is_one_line(capsys, inputs):
    path = inputs["schedule"]
    path.write_text(path.read_text().replace('"period": 9', '"period": Infinity'))
    assert "period must be an integer, got inf" in refused(capsys, "validate", str(path))


def test_the_hand_made_schedule_validates(capsys, inputs):
    code, out, err = run(capsys, "validate", str(inputs["schedule"]))
    assert code == 0 and "valid" in out, err


# ---------------------------------------------------------------------- parsers
def _deep_json(levels: int) -> str:
    return '{"format": "lpsched-graph/2", "tasks": ' + "[" * levels + "]" * levels + "}"


@pytest.mark.parametrize("kind", ["graph", "schedule", "network", "platform"])
@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"format": "\xff\xfe"}\n', "not UTF-8"),
        (b"[" * 20_000 + b"]" * 20_000, "nested"),
        (_deep_json(MAX_DEPTH + 1).encode(), f"nested deeper than {MAX_DEPTH} levels"),
        (b'{"format": 1' + b"9" * 5000 + b"}", "thousands of digits"),
    ],
)
def test_unreadable_files_are_one_line(tmp_path, capsys, kind, content, fragment):
    suffix = {"network": ".yaml", "platform": ".yaml"}.get(kind, ".json")
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    argv = {
        "graph": ["bounds", str(path), "--procs", "2"],
        "schedule": ["validate", str(path)],
        "network": ["graph", str(path)],
        "platform": ["bounds", "mlp", "--platform", str(path)],
    }[kind]
    line = refused(capsys, *argv)
    assert fragment in line and str(path) in line


@pytest.mark.parametrize("kind", ["network", "platform"])
def test_deep_yaml_and_alias_bombs_are_one_line(tmp_path, capsys, kind):
    deep, bomb = tmp_path / "deep.yaml", tmp_path / "bomb.yaml"
    deep.write_text("format: x\nlayers: " + "- " * 3000 + "x\n")
    # Nine levels of nine aliases: 9**9 strings if anything expanded them.
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    bomb.write_text("\n".join(lines) + "\n")
    for path in (deep, bomb):
        argv = (
            ["graph", str(path)]
            if kind == "network"
            else ["bounds", "mlp", "--platform", str(path)]
        )
        line = refused(capsys, *argv)
        assert str(path) in line


def test_read_json_api(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": [1, 2]}')
    assert read_json(path) == {"a": [1, 2]}
    with pytest.raises(InputError, match="is a directory"):
        read_json(tmp_path)


# ----------------------------------------------------------------- wrong kinds
@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["bounds", "{graph_yaml}", "--procs", "2"], "only files ending in .json"),
        (["bounds", "{schedule}", "--procs", "2"], "it is a schedule file"),
        (["bounds", "{platform}", "--procs", "2"], "it is a platform file; pass it"),
        (["validate", "{network}"], "it is a network file"),
        (["validate", "{platform}"], "it is a platform file; pass it"),
        (["validate", "{graph}"], "it is a task-graph file"),
        (["bounds", "mlp", "--platform", "{schedule}"], "it is a schedule file"),
        (["bounds", "mlp", "--platform", "{network}"], "it is a network file"),
        (["bounds", "mlp", "--platform", "{graph}"], "it is a task-graph file"),
    ],
)
def test_files_of_the_wrong_kind_are_one_clear_line(tmp_path, capsys, inputs, argv, fragment):
    graph_yaml = tmp_path / "g.yaml"
    graph_yaml.write_text(inputs["graph"].read_text())
    names = {key: str(path) for key, path in inputs.items()} | {"graph_yaml": str(graph_yaml)}
    assert fragment in refused(capsys, *(a.format(**names) for a in argv))


def test_a_platform_file_without_processors_names_its_keys(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text("cpus: 4\n")
    assert "unknown key 'cpus'" in refused(capsys, "bounds", "mlp", "--platform", str(path))


# ------------------------------------------------------------------- odd names
def test_dollar_signs_in_names_crash_nothing_here(tmp_path, capsys):
    graph = tiny_graph(("$a$", r"$\frac{1}{$", "x$^"))
    path = tmp_path / "g.json"
    graph.to_json(path)
    sched = tmp_path / "s.json"
    for argv in (
        ["bounds", str(path), "--procs", "2"],
        ["solve", str(path), "--procs", "2", "-o", str(sched), "-v"],
        ["solve", str(path), "--procs", "1", "--gantt", str(tmp_path / "g.svg")],
        ["validate", str(sched)],
        ["graph", str(path), "-o", str(tmp_path / "again.json")],
    ):
        code, out, err = run(capsys, *argv)
        assert code == 0, (argv, err)
    assert TaskGraph.read(tmp_path / "again.json") == graph
