"""Sweeps, comparisons and their plots: rows agree with single solves, platforms, units, resume,
Dask, CLI."""

from __future__ import annotations

import csv
import io
import json
import sys

import pandas as pd
import pytest

from lpsched.bounds import lower_bounds
from lpsched.compare import compare, comparison_table, format_summary, summarise
from lpsched.errors import InputError
from lpsched.networks import get_network
from lpsched.platform import Platform, preset
from lpsched.plot import gap_table, plot_gap, plot_speedup, plot_utilisation, save_figure
from lpsched.solve import solve
from lpsched.solvers.registry import SOLVERS
from lpsched.sweep import (
    COLUMNS,
    COLUMNS_V1,
    KEY,
    ProgressPrinter,
    make_grid,
    normalise,
    parse_procs,
    read_results,
    sweep,
)
from lpsched.taskgraph import build_task_graph
from lpsched.units import format_ms
from tests.cli_helpers import one_line_error, run

# Everything but the wall time is a function of the inputs.
DETERMINISTIC = [c for c in COLUMNS if c not in ("seconds", "settled_seconds")]


def same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a[DETERMINISTIC], b[DETERMINISTIC])


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [("1-4", [1, 2, 3, 4]), ("8", [8]), ("2,4,8", [2, 4, 8]), ("1-3,8,2", [1, 2, 3, 8])],
)
def test_parse_procs(text, expected):
    assert parse_procs(text) == expected


@pytest.mark.parametrize("text", ["4-1", "0-3", "x", "", "1-", "2,,a", "0"])
def test_parse_procs_rejects(text):
    with pytest.raises(InputError, match="--procs"):
        parse_procs(text)


# ---------------------------------------------------------------------------
# Rows agree with single solves
# ---------------------------------------------------------------------------
def test_rows_agree_with_single_solves():
    df = sweep("mlp", procs=[1, 2, 3], decompositions=("layerpipe", "intra"), jobs=1)
    assert len(df) == 6
    assert list(df.columns) == list(COLUMNS)
    assert df["valid"].all()
    net = get_network("mlp")
    for row in df.itertuples(index=False):
        graph = build_task_graph(net, row.decomposition, "auto", processors=row.procs)
        result = solve(graph, row.procs, "heuristic", seed=0)
        sched = result.schedule
        assert sched is not None
        assert (row.period, row.status, row.lower_bound) == (
            sched.period,
            result.status.value,
            result.lower_bound,
        )
        assert row.comm_bytes == sched.comm_bytes()
        assert row.max_staleness == max(sched.staleness().values())
        assert row.speedup == pytest.approx(graph.total_work / row.period)
        assert row.period >= row.lower_bound
        # The same periods in milliseconds and iterations per second.
        unit = graph.time_unit_seconds
        assert row.platform == "default"
        assert row.period_ms == pytest.approx(row.period * unit * 1e3, rel=1e-12)
        assert row.lower_bound_ms == pytest.approx(row.lower_bound * unit * 1e3, rel=1e-12)
        assert row.iterations_per_s == pytest.approx(1 / sched.period_seconds, rel=1e-12)


# ---------------------------------------------------------------------------
# Platforms
# ---------------------------------------------------------------------------
def test_rows_on_a_preset_agree_with_single_solves_on_it():
    df = sweep("mlp", procs=[2, 3], platform="pcie", jobs=1)
    assert set(df["platform"]) == {"pcie"} and df["valid"].all()
    default = sweep("mlp", procs=[2, 3], jobs=1)
    net = get_network("mlp")
    for row, base in zip(df.itertuples(index=False), default.itertuples(index=False), strict=True):
        graph = build_task_graph(net, "layerpipe", "auto", processors=row.procs)
        result = solve(graph, preset("pcie", row.procs), "heuristic", seed=0)
        assert (row.period, row.lower_bound) == (result.period, result.lower_bound)
        assert result.schedule.platform.name == "pcie"
        # Slower links (25 GB/s against 50 GB/s) never lower the bound.
        assert row.lower_bound >= base.lower_bound


def test_every_row_gets_the_platform_with_its_own_processor_count():
    grid = [("layerpipe", "heuristic")]
    points = make_grid(get_network("mlp"), [1, 2, 4], grid, platform="nvlink")
    assert [p.platform for p in points] == [preset("nvlink", p) for p in (1, 2, 4)]
    assert all(p.platform_label == "nvlink" for p in points)
    spec = {"links": {"intra": {"bandwidth": "10GB/s"}}}
    (point,) = make_grid(get_network("mlp"), [3], grid, platform=spec)
    assert point.platform == Platform.from_dict({**spec, "processors": 3})
    assert point.key[3] == "custom"  # not the default platform, and no name of its own


def test_a_platform_that_cannot_take_a_count_stops_the_sweep_before_any_work(tmp_path):
    out = tmp_path / "r.csv"
    ran = []
    with pytest.raises(InputError, match=r"nodes of 8.*P=9\)") as err:
        sweep(
            "mlp",
            procs="8-12",
            platform="ib",
            output=out,
            jobs=1,
            progress=lambda *a: ran.append(a),
        )
    assert "\n" not in str(err.value)
    assert not ran and not out.exists()


def test_speeds_reach_the_rows(capsys):
    # Speed 2 everywhere is a uniform platform: every solver takes it, durations halve.
    code, stdout, err = run(
        capsys, "sweep", "mlp", "--procs", "2", "--speeds", "2,2", "--json", "-q", "-j", "1"
    )
    assert code == 0, err
    (row,) = json.loads(stdout)
    assert row["valid"] and row["platform"] == "custom"
    graph = build_task_graph(get_network("mlp"), "layerpipe", "auto", processors=2)
    fast = Platform.from_dict({"processors": [{"speed": 2}, {"speed": 2}]})
    assert row["lower_bound"] == solve(graph, fast, "heuristic").lower_bound
    assert row["lower_bound"] < lower_bounds(graph, 2).lower_bound


def test_mixed_speeds_validate_or_are_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "r.csv"
    argv = ["sweep", "mlp", "--procs", "2", "--speeds", "1,0.5", "-o", str(out), "-q", "-j", "1"]
    code, _, err = run(capsys, *argv)
    if SOLVERS["heuristic"].heterogeneous:
        assert code == 0, err
        assert read_results(out)["valid"].all()
    else:
        assert code == 2
        assert "different speeds" in one_line_error(err)
        assert not out.exists()


def test_compare_on_a_platform_names_its_ratio():
    table = compare("mlp", procs=[2], time_limit=5, solver="heuristic", platform="pcie", jobs=1)
    (row,) = table.itertuples(index=False)
    assert row.platform == "pcie"
    assert row.layerpipe_over_pipedream == pytest.approx(
        row.pipedream_period / row.layerpipe_period
    )
    assert row.layerpipe_period_ms / row.layerpipe_period == pytest.approx(
        row.pipedream_period_ms / row.pipedream_period
    )
    assert "speedup" not in table.columns


# ---------------------------------------------------------------------------
# Units where people read them
# ---------------------------------------------------------------------------
def test_bounds_summary_and_json_give_milliseconds(capsys):
    graph = build_task_graph(get_network("vgg16"), "layerpipe", "auto", processors=8)
    bounds = lower_bounds(graph, 8)
    ms = format_ms(bounds.lower_bound * graph.time_unit_seconds)
    assert f"lower bound     {bounds.lower_bound} ({ms})" in bounds.summary()
    code, stdout, err = run(capsys, "bounds", "vgg16", "--procs", "8", "--json")
    assert code == 0, err
    data = json.loads(stdout)
    ms = bounds.lower_bound * graph.time_unit_seconds * 1e3
    assert data["lower_bound_ms"] == pytest.approx(ms)
    assert data["time_unit_seconds"] == graph.time_unit_seconds


def test_cpsat_row_agrees_with_single_solve():
    df = sweep("lenet5", procs=[3], solvers=("cpsat",), time_limit=5, workers=1, jobs=1)
    (row,) = df.itertuples(index=False)
    graph = build_task_graph(get_network("lenet5"), "layerpipe", "auto", processors=3)
    result = solve(graph, 3, "cpsat", time_limit=5, workers=1, seed=0)
    assert row.status == result.status.value
    if result.status.value == "optimal":
        assert row.period == result.period
    assert row.valid
    assert row.lower_bound <= row.period


def test_parallel_local_equals_in_process():
    grid = {"procs": "1-4", "decompositions": ("layerpipe", "pipedream")}
    same_table(sweep("lenet5", jobs=1, **grid), sweep("lenet5", jobs=2, **grid))


def test_graph_file_is_scheduled_as_given(tmp_path):
    graph = build_task_graph(get_network("mlp"), "intra", 2)
    path = tmp_path / "g.json"
    path.write_text(graph.to_json())
    df = sweep(path, procs=[2, 3], jobs=1)
    assert set(df["decomposition"]) == {"intra"}
    assert df["valid"].all()
    with pytest.raises(InputError, match="task graph"):
        sweep(path, procs=[2], decompositions=("layerpipe",), jobs=1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"network": "nosuchnet"}, "unknown network"),
        ({"solvers": ("heuristic", "magic")}, "unknown name 'magic'"),
        ({"decompositions": "layerpipe,bogus"}, "unknown name 'bogus'"),
        ({"procs": "3-1"}, "backwards"),
        ({"executor": "slurm"}, "unknown executor"),
        ({"scheduler": "tcp://localhost:1"}, "needs executor 'dask'"),
        ({"resume": True}, "resume needs an output"),
        ({"time_limit": 0}, "time limit must be positive"),
        ({"jobs": 0}, "--jobs must be a positive integer"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"network": "mlp", "procs": [2], "jobs": 1, **kwargs}
    with pytest.raises(InputError, match=match):
        sweep(args.pop("network"), **args)


# ---------------------------------------------------------------------------
# Output CSV and resume
# ---------------------------------------------------------------------------
GRID = {"procs": "1-4", "decompositions": ("layerpipe", "intra"), "jobs": 1}


def test_rows_reach_the_csv_as_they_finish(tmp_path):
    out = tmp_path / "r.csv"
    lines_seen = []

    def progress(done, total, row):
        lines_seen.append(len(out.read_text().splitlines()))

    df = sweep("mlp", output=out, progress=progress, **GRID)
    # After the k-th row, the file has the header and k rows.
    assert lines_seen == [k + 1 for k in range(1, len(df) + 1)]
    same_table(read_results(out), df)


def test_interrupted_and_resumed_sweep_gives_the_same_table(tmp_path):
    full = sweep("mlp", **GRID)

    out = tmp_path / "r.csv"

    def interrupt_after_three(done, total, row):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep("mlp", output=out, progress=interrupt_after_three, **GRID)
    assert len(read_results(out)) == 3
    # A kill in the middle of a write leaves half a line; resume must drop it.
    with out.open("a") as f:
        f.write("mlp,layerpipe,heur")

    ran = []
    resumed = sweep("mlp", output=out, resume=True, progress=lambda d, t, r: ran.append(r), **GRID)
    assert len(ran) == len(full) - 3
    same_table(resumed, full)
    same_table(read_results(out), full)


def test_resume_from_half_the_grid_keeps_old_rows_and_redoes_failures(tmp_path):
    out = tmp_path / "r.csv"
    sweep("mlp", procs="1-2", decompositions=("layerpipe", "intra"), output=out, jobs=1)
    # Pretend one row crashed: resume must run it again.
    df = read_results(out)
    df.loc[0, ["status", "error"]] = ["error", "RuntimeError: boom"]
    df.to_csv(out, index=False)
    ran = []
    resumed = sweep("mlp", output=out, resume=True, progress=lambda d, t, r: ran.append(r), **GRID)
    assert len(ran) == 4 + 1
    same_table(resumed, sweep("mlp", **GRID))
    # A row outside the new grid is kept.
    more = sweep("mlp", procs=[5], decompositions=("layerpipe",), output=out, resume=True, jobs=1)
    assert len(more) == len(resumed) + 1
    assert list(more[list(KEY)].itertuples(index=False)) == sorted(
        more[list(KEY)].itertuples(index=False)
    )


def test_without_resume_the_csv_starts_afresh(tmp_path):
    out = tmp_path / "r.csv"
    sweep("mlp", procs="1-3", output=out, jobs=1)
    sweep("mlp", procs=[4], output=out, jobs=1)
    assert list(read_results(out)["procs"]) == [4]


def test_csv_columns(tmp_path):
    out = tmp_path / "r.csv"
    df = sweep("mlp", procs=[2], output=out, jobs=1)
    with out.open() as f:
        header = next(csv.reader(f))
    assert header == list(COLUMNS) == list(df.columns)
    assert header[:5] == list(KEY) == ["network", "decomposition", "solver", "platform", "procs"]
    assert {"period_ms", "lower_bound_ms", "iterations_per_s", "settled_seconds"} <= set(header)
    assert "period_seconds" not in header  # it held the seconds to settle the period
    (row,) = df.itertuples(index=False)
    assert 0 < row.settled_seconds <= row.seconds


def test_an_old_csv_is_read_back_and_resumed(tmp_path):
    new = sweep("mlp", procs="1-3", jobs=1)
    old = new.rename(columns={"settled_seconds": "period_seconds"})[list(COLUMNS_V1)]
    path = tmp_path / "old.csv"
    old.to_csv(path, index=False)
    back = read_results(path)
    assert list(back.columns) == list(COLUMNS)
    assert back["settled_seconds"].tolist() == pytest.approx(new["settled_seconds"].tolist())
    assert set(back["platform"]) == {"default"} and back["period_ms"].isna().all()
    unknown = ("period_ms", "lower_bound_ms", "iterations_per_s")  # no time unit in old tables
    same = [c for c in DETERMINISTIC if c not in unknown]
    pd.testing.assert_frame_equal(back[same], new[same])
    # Resuming on the default platform keeps the old rows and writes the file anew.
    ran = []
    sweep("mlp", procs="1-4", output=path, resume=True, jobs=1, progress=lambda *a: ran.append(a))
    assert len(ran) == 1
    with path.open() as f:
        assert next(csv.reader(f)) == list(COLUMNS)
    assert list(read_results(path)["procs"]) == [1, 2, 3, 4]


def test_resume_refuses_a_foreign_csv(tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a sweep table"):
        sweep("mlp", procs=[2], output=out, resume=True, jobs=1)


# ---------------------------------------------------------------------------
# Dask
# ---------------------------------------------------------------------------
def test_dask_equals_local():
    distributed = pytest.importorskip("dask.distributed")
    grid = {"procs": "1-3", "decompositions": ("layerpipe", "pipedream")}
    local = sweep("lenet5", jobs=1, **grid)
    same_table(sweep("lenet5", executor="dask", jobs=1, **grid), local)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        remote = sweep("lenet5", executor="dask", scheduler=cluster.scheduler_address, **grid)
    same_table(remote, local)


def test_missing_dask_is_an_input_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(InputError, match=r"pip install lpsched\[dask\]"):
        sweep("mlp", procs=[2], executor="dask")


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------
def fake_rows(periods: dict[tuple[str, str, int], int | None]) -> pd.DataFrame:
    rows = []
    for (dec, solver, p), period in periods.items():
        rows.append(
            {
                "network": "net",
                "decomposition": dec,
                "solver": solver,
                "procs": p,
                "period": period,
                "lower_bound": 10,
                "status": "optimal" if period == 10 else ("feasible" if period else "unknown"),
                "valid": True if period else None,
                "seconds": 0.5,
                "comm_bytes": 100 * p if period else None,
                "error": "",
            }
        )
    return normalise(pd.DataFrame(rows))


def test_comparison_table_pairs_rows_and_summarises():
    rows = fake_rows(
        {
            ("pipedream", "pipedream", 2): 30,
            ("layerpipe", "cpsat", 2): 20,
            ("pipedream", "pipedream", 3): 24,
            ("layerpipe", "cpsat", 3): 10,
            ("pipedream", "pipedream", 4): 20,
            ("layerpipe", "cpsat", 4): None,
            ("layerpipe", "heuristic", 2): 25,  # another solver: ignored
        }
    )
    table = comparison_table(rows)
    assert list(table["procs"]) == [2, 3, 4]
    ratio = table["layerpipe_over_pipedream"]
    assert ratio.iloc[0] == pytest.approx(1.5)
    assert ratio.iloc[1] == pytest.approx(2.4)
    assert pd.isna(ratio.iloc[2])
    assert set(table["platform"]) == {"default"}
    assert list(table["layerpipe_status"]) == ["feasible", "optimal", "unknown"]
    s = summarise(table)
    assert s["mean_speedup"] == pytest.approx(1.95)
    assert (s["max_speedup"], s["max_speedup_procs"]) == (pytest.approx(2.4), 3)
    assert (s["rows"], s["layerpipe_proven"], s["total_rows"]) == (2, 1, 3)
    assert "1/3" in format_summary(s)


def test_compare_speedups_come_from_its_own_periods():
    table = compare("mlp", procs=[2, 3], time_limit=5, workers=1, jobs=1)
    assert list(table["procs"]) == [2, 3]
    assert (table["error"] == "").all()
    recomputed = table["pipedream_period"].astype(float) / table["layerpipe_period"].astype(float)
    assert table["layerpipe_over_pipedream"].tolist() == pytest.approx(recomputed.tolist())
    assert table.attrs["summary"]["max_speedup"] == pytest.approx(recomputed.max())
    net = get_network("mlp")
    for row in table.itertuples(index=False):
        pd_graph = build_task_graph(net, "pipedream", "auto", processors=row.procs)
        pd_result = solve(pd_graph, row.procs, "pipedream")
        assert row.pipedream_period == pd_result.period
        assert row.pipedream_comm_bytes == pd_result.schedule.comm_bytes()
        assert row.layerpipe_lower_bound <= row.layerpipe_period


def test_compare_rejects_a_task_graph(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(build_task_graph(get_network("mlp"), "layerpipe", 2).to_json())
    with pytest.raises(InputError, match="needs a network"):
        compare(path, procs=[2], time_limit=1)


# ---------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------
def test_plots_draw_every_series_and_save(tmp_path):
    df = sweep("lenet5", procs="1-4", decompositions=("layerpipe", "pipedream"), jobs=1)
    ax = plot_speedup(df)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0].startswith("ideal")
    assert sum(lab.startswith("lower-bound") for lab in labels) == 2
    assert {"heuristic (layerpipe)", "heuristic (pipedream)"} <= set(labels)
    ideal = ax.get_lines()[0]
    assert list(ideal.get_xdata()) == list(ideal.get_ydata()) == [1, 2, 3, 4]

    ax = plot_gap(df)
    assert {line.get_label() for line in ax.get_lines()} >= {"heuristic (layerpipe)"}
    png = save_figure(ax, tmp_path / "gap.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(InputError, match=".png, .svg or .pdf"):
        save_figure(ax, tmp_path / "gap.jpg")

    graph = build_task_graph(get_network("lenet5"), "layerpipe", processors=3)
    result = solve(graph, 3)
    ax = plot_utilisation(result)
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == pytest.approx([100 * u for u in result.schedule.utilisation()])


def test_gap_table_uses_the_best_bound():
    rows = fake_rows({("layerpipe", "heuristic", 2): 12, ("layerpipe", "cpsat", 2): 10})
    rows.loc[rows["solver"] == "heuristic", "lower_bound"] = 8  # weaker bound of that row
    gaps = gap_table(rows).set_index("solver")
    assert gaps.loc["heuristic", "reference"] == 10
    assert gaps.loc["heuristic", "gap_to_best"] == pytest.approx(2 / 12)
    assert gaps.loc["cpsat", "gap_to_best"] == 0


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
def test_cli_sweep_happy_path(tmp_path, capsys):
    out, png = tmp_path / "r.csv", tmp_path / "s.png"
    code, stdout, err = run(
        capsys, "sweep", "mlp", "--procs", "1-3", "-o", str(out), "--plot", str(png), "-j", "1"
    )
    assert code == 0, err
    assert len(read_results(out)) == 3
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "speedup" in stdout and "heuristic (layerpipe): 3 rows" in stdout
    assert "3/3" in err  # the progress line


def test_cli_sweep_json(capsys):
    code, stdout, err = run(capsys, "sweep", "mlp", "--procs", "2,4", "--json", "-q", "-j", "1")
    assert code == 0, err
    rows = json.loads(stdout)
    assert [r["procs"] for r in rows] == [2, 4]
    assert err == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["sweep", "mlp", "--procs", "5-2"],
        ["sweep", "mlp", "--procs", "two"],
        ["sweep", "mlp", "--solvers", "heuristic,nope"],
        ["sweep", "mlp", "--decompositions", "nope"],
        ["sweep", "nosuchnet", "--procs", "2"],
        ["sweep", "mlp", "--resume"],
        ["sweep", "mlp", "--executor", "local", "--scheduler", "tcp://127.0.0.1:1"],
        ["sweep", "mlp", "--plot", "speedup.jpg"],
        ["compare", "mlp", "--procs", "0"],
        ["compare", "nosuchnet"],
        ["sweep", "mlp", "--platform", "nosuchplatform"],
        ["sweep", "mlp", "--procs", "1-3", "--speeds", "1,1"],
        ["compare", "mlp", "--platform", "ib", "--procs", "7-9"],
    ],
)
def test_cli_bad_input_exits_2(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2
    one_line_error(err)


def test_cli_bad_platform_for_a_count_writes_nothing(tmp_path, capsys):
    out, png = tmp_path / "r.csv", tmp_path / "s.png"
    argv = ["sweep", "mlp", "--platform", "ib", "--procs", "8-12", "-o", str(out)]
    argv += ["--plot", str(png)]
    code, stdout, err = run(capsys, *argv)
    assert code == 2 and stdout == ""
    line = one_line_error(err)
    assert "ib" in line and "P=9" in line
    assert list(tmp_path.iterdir()) == []


def test_cli_sweep_on_a_preset(tmp_path, capsys):
    out = tmp_path / "r.csv"
    argv = ["sweep", "mlp", "--procs", "2,4", "--platform", "pcie", "-o", str(out), "-q", "-j", "1"]
    code, stdout, err = run(capsys, *argv)
    assert code == 0, err
    df = read_results(out)
    assert df["valid"].all() and set(df["platform"]) == {"pcie"}
    for row in df.itertuples(index=False):
        graph = build_task_graph(get_network("mlp"), "layerpipe", "auto", processors=row.procs)
        assert row.period == solve(graph, preset("pcie", row.procs)).period
        # The printed line shows the period beside its milliseconds, the gap in percent.
        line = next(ln for ln in stdout.splitlines() if f" pcie {row.procs:>5} " in ln)
        cells = line.split()
        assert cells[5:7] == [str(row.period), f"{row.period_ms:.4g}"]
        assert cells[12] == f"{100 * row.gap:.1f}"
    assert "gap%" in stdout.splitlines()[0]
    assert "heuristic (layerpipe) on pcie: 2 rows" in stdout


def test_cli_graph_file_takes_no_network_flags(tmp_path, capsys):
    path = tmp_path / "g.json"
    path.write_text(build_task_graph(get_network("mlp"), "layerpipe", 2).to_json())
    code, _, err = run(capsys, "sweep", str(path), "--procs", "2", "--batch-size", "4")
    assert code == 2
    assert "--batch-size" in one_line_error(err)
    code, _, err = run(capsys, "compare", str(path), "--procs", "2")
    assert code == 2
    assert "needs a network" in one_line_error(err)


def test_cli_compare_happy_path(tmp_path, capsys):
    out = tmp_path / "c.csv"
    argv = ["compare", "mlp", "-P", "2", "--time-limit", "5", "--workers", "1", "-q", "-j", "1"]
    code, stdout, err = run(capsys, *argv, "-o", str(out), "--json")
    assert code == 0, err
    data = json.loads(stdout)
    (row,) = data["rows"]
    ratio = row["layerpipe_over_pipedream"]
    assert ratio == pytest.approx(row["pipedream_period"] / row["layerpipe_period"])
    assert data["summary"]["max_speedup"] == pytest.approx(ratio)
    assert len(pd.read_csv(out)) == 1
    code, stdout, err = run(capsys, *argv)
    assert code == 0, err
    assert "mean speedup" in stdout


# ---------------------------------------------------------------------------
# Progress printer
# ---------------------------------------------------------------------------
class Terminal(io.StringIO):
    def isatty(self):
        return True


ROW = {"network": "mlp", "decomposition": "layerpipe", "solver": "heuristic", "procs": 2}


def test_progress_printer_rewrites_one_line_on_a_terminal():
    term = Terminal()
    printer = ProgressPrinter(term)
    printer(1, 3, {**ROW, "period": 40, "status": "feasible"})
    printer(2, 3, {**ROW, "period": None, "status": "unknown"})
    printer.close()  # interrupted before the last row: the line is ended
    text = term.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "2/3" in text and "no schedule (unknown)" in text


def test_progress_printer_prints_a_line_per_row_elsewhere():
    log = io.StringIO()
    printer = ProgressPrinter(log)
    for k in (1, 2):
        printer(k, 2, {**ROW, "period": 40, "status": "optimal"})
    printer.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in log.getvalue()
    assert lines[1].startswith("[####################] 2/2")
