"""``--placement`` on the command line: solve, validate, bounds, sweep and compare."""

from __future__ import annotations

import contextlib
import io
import json

import pandas as pd
import pytest

from lpsched.cli import main
from lpsched.sweep import COLUMNS, COLUMNS_V4, make_grid, read_results
from tests.cli_helpers import one_line_error, run


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict, str]:
    """``lpsched solve alexnet --procs 4 --placement stages -o s.json``: path, file, stdout.

    Once for the module (capsys is per test): the command line runs with its
    output redirected here.
    """
    path = tmp_path_factory.mktemp("placement") / "s.json"
    out = io.StringIO()
    argv = ["solve", "alexnet", "--procs", "4", "--placement", "stages", "--deterministic"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main([*argv, "-o", str(path)])
    assert code == 0
    return str(path), json.loads(path.read_text()), out.getvalue()


def _proc(data: dict) -> dict[str, int]:
    """Task -> processor of a schedule file."""
    return {a["task"]: a["processor"] for a in data["assignments"]}


def test_solve_writes_the_placement(staged):
    _path, data, out = staged
    assert data["placement"] == "stages"
    assert "placement stages" in out
    # The layers on each processor are consecutive in the graph's order: recounted here.
    tasks = data["graph"]["tasks"]
    order = list(dict.fromkeys(t["layer"] for t in tasks))
    where = {t["layer"]: _proc(data)[t["name"]] for t in tasks}
    runs = [
        where[name] for i, name in enumerate(order) if i == 0 or where[order[i - 1]] != where[name]
    ]
    assert len(runs) == len(set(runs)) > 1


def test_validate_accepts_the_file(staged, capsys):
    path, _data, _out = staged
    code, out, _err = run(capsys, "validate", path)
    assert code == 0 and "valid" in out


def _edited(tmp_path, data: dict, moves: dict[str, int]) -> str:
    broken = json.loads(json.dumps(data))
    for a in broken["assignments"]:
        a["processor"] = moves.get(a["task"], a["processor"])
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    return str(path)


def test_validate_names_a_split_layer(staged, tmp_path, capsys):
    _path, data, _out = staged
    tasks = data["graph"]["tasks"]
    victim = next(t for t in tasks if t["kind"] == "U")
    home = _proc(data)[victim["name"]]
    path = _edited(tmp_path, data, {victim["name"]: (home + 1) % 4})
    code, out, _err = run(capsys, "validate", path)
    assert code == 1
    assert f"its layer {victim['layer']}" in out and "placement stages" in out


def test_validate_names_a_broken_interval(staged, tmp_path, capsys):
    """Swapping the processors of the first and the last layer breaks contiguity, not layers."""
    _path, data, _out = staged
    tasks = data["graph"]["tasks"]
    order = list(dict.fromkeys(t["layer"] for t in tasks))
    first, last = order[0], order[-1]
    where = {t["layer"]: _proc(data)[t["name"]] for t in tasks}
    p, q = where[first], where[last]
    assert p != q
    moves = {t["name"]: q for t in tasks if t["layer"] == first}
    moves |= {t["name"]: p for t in tasks if t["layer"] == last}
    path = _edited(tmp_path, data, moves)
    code, out, _err = run(capsys, "validate", path)
    assert code == 1
    assert "not contiguous" in out and "split" not in out
    # The same assignment as a free schedule breaks nothing of the placement.
    free = json.loads(open(path).read())
    free["placement"] = "free"
    (tmp_path / "free.json").write_text(json.dumps(free))
    code, out, _err = run(capsys, "validate", str(tmp_path / "free.json"), "--json")
    assert not any("placement" in v for v in json.loads(out)["violations"])


@pytest.mark.parametrize("command", ["solve", "bounds", "sweep", "compare"])
def test_bad_placement_exits_2_with_one_line(command, capsys):
    code, _out, err = run(capsys, command, "mlp", "--procs", "2", "--placement", "x")
    assert code == 2
    line = one_line_error(err)
    assert "placement" in line and "free, layer, stages" in line


def test_solve_takes_one_placement(capsys):
    code, _out, err = run(capsys, "solve", "mlp", "--procs", "2", "--placement", "free,stages")
    assert code == 2
    assert "one policy" in one_line_error(err)


def test_bounds_json_carries_the_placement(capsys):
    code, out, _err = run(
        capsys, "bounds", "alexnet", "--procs", "4", "--placement", "layer", "--json"
    )
    assert code == 0
    assert json.loads(out)["placement"] == "layer"


def test_sweep_with_two_placements_gives_both_rows(tmp_path, capsys):
    path = tmp_path / "sweep.csv"
    sweep = ["sweep", "alexnet", "--procs", "4", "--placement", "free,stages"]
    sweep += ["-o", str(path), "-j", "1", "-q"]
    code, out, _err = run(capsys, *sweep)
    assert code == 0
    df = read_results(path)
    assert sorted(df["placement"]) == ["free", "stages"]
    assert set(df["platform"]) == {"default", "default stages"}
    assert df["valid"].all()
    staged = df[df["placement"] == "stages"].iloc[0]
    assert staged["period"] >= staged["lower_bound"]
    assert "placement stages" in out  # the summary line names it
    # --resume knows both rows: nothing runs again (a rerun would append rows).
    code, _out, _err = run(capsys, *sweep, "--resume")
    assert code == 0 and len(read_results(path)) == 2


def test_compare_carries_the_placement(capsys):
    code, out, _err = run(
        capsys,
        "compare",
        "mlp",
        "--procs",
        "2",
        "--solver",
        "heuristic",
        "--placement",
        "stages",
        "--json",
        "-j",
        "1",
        "-q",
    )
    assert code == 0
    rows = json.loads(out)["rows"]
    assert [r["placement"] for r in rows] == ["stages"]


def test_old_sweep_tables_read_as_free(tmp_path):
    """A CSV written before placements (no column) reads back with placement free."""
    row = dict.fromkeys(COLUMNS_V4, "")
    row.update(network="mlp", decomposition="layerpipe", solver="heuristic", procs=2, seed=0)
    path = tmp_path / "old.csv"
    pd.DataFrame([row], columns=list(COLUMNS_V4)).to_csv(path, index=False)
    df = read_results(path)
    assert list(df.columns) == list(COLUMNS)
    assert list(df["placement"]) == ["free"]


def test_grid_of_placements_is_labelled():
    from lpsched.networks import get_network

    points = make_grid(get_network("mlp"), [2], [("layerpipe", "heuristic")], placement="layer")
    assert [(p.placement, p.platform_label) for p in points] == [("layer", "default layer")]
    points = make_grid(
        get_network("mlp"),
        [2],
        [("layerpipe", "heuristic")],
        placement=["free", "stages"],
        memory="1GB",
    )
    assert [p.platform_label for p in points] == ["default 1GB", "default stages 1GB"]
    assert len({p.key for p in points}) == 2
