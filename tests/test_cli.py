"""The command line: the contract of DESIGN.md section 4 (exit codes, one-line errors, files)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lpsched.schedule import Result
from lpsched.validate import validate
from tests.cli_helpers import one_line_error, run


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
    assert data["format"] == "lpsched-graph/1"
    assert {t["kind"] for t in data["tasks"]} >= {"F", "A", "WU"}


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
