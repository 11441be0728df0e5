"""Sweeps, comparisons and their plots: rows agree with single solves, platforms, units, resume,
Dask, CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from lpsched.bounds import lower_bounds
from lpsched.cli import build_parser
from lpsched.compare import (
    compare,
    comparison_table,
    format_comparison,
    format_summary,
    layerpipe_label,
    summarise,
)
from lpsched.errors import InputError
from lpsched.networks import get_network
from lpsched.platform import MAX_PROCESSORS, Platform, preset
from lpsched.plot import gap_table, plot_gap, plot_speedup, plot_utilisation, save_figure
from lpsched.solve import solve
from lpsched.solvers.registry import SOLVERS
from lpsched.sweep import (
    COLUMNS,
    COLUMNS_V1,
    KEY,
    MAX_GRID_PROCESSORS,
    Eta,
    GridPoint,
    ProgressPrinter,
    check_numbers,
    four_digits,
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


@pytest.mark.parametrize(
    ("value", "text"),
    [(18.775, "18.78"), (751 * 25e-6 * 1e3, "18.78"), (0.0037475, "0.003748"), (3.14159, "3.142")]
    + [(9999.95, "10000"), (266845.4, "266845"), (0.0, "0"), (-2.5, "-2.5")],
)
def test_four_digits_rounds_as_format_ms_does(value, text):
    assert four_digits(value) == text
    if value > 0:
        assert format_ms(value / 1e3) in (f"{text} ms", f"{float(text):.4g} ms")


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
        ({"time_limit": 0}, "--time-limit must be > 0"),
        ({"jobs": 0}, "--jobs must be >= 1"),
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
    # Old tables have no time unit, and no link or memory columns.
    unknown = (
        "period_ms",
        "lower_bound_ms",
        "iterations_per_s",
        "bytes_per_iteration",
        "link_busy_max",
        "memory_gb_max",
    )
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
    assert "1 of 3 proven optimal" in format_summary(s)


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
    with pytest.raises(InputError, match=r"must end in \.png, \.svg, \.pdf"):
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
        assert cells[5] == str(row.period)
        assert float(cells[6]) == pytest.approx(row.period_ms, rel=5e-4)
        assert len(cells[6].replace(".", "").lstrip("0")) <= 4
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


# ---------------------------------------------------------------------------
# Numbers and ranges: refused at once, naming the limit
# ---------------------------------------------------------------------------
def test_a_huge_range_of_counts_is_refused_before_it_is_expanded():
    with pytest.raises(InputError, match=f"at most {MAX_PROCESSORS} processors") as err:
        parse_procs("5-1000000000")
    assert "MAX_PROCESSORS" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match=f"at most {MAX_PROCESSORS}"):
        parse_procs([2, 10**12])
    for bad in (float("inf"), float("nan"), 2.5, "3", True):
        with pytest.raises(InputError, match="expected integers"):
            parse_procs([2, bad])
    assert parse_procs([4.0, 2]) == [2, 4]
    with pytest.raises(InputError, match="--procs: expected counts") as err:
        parse_procs("1-" + "9" * 5000)  # more digits than int() converts
    assert len(str(err.value)) < 200
    assert parse_procs(f"{MAX_PROCESSORS - 1}-{MAX_PROCESSORS}") == [
        MAX_PROCESSORS - 1,
        MAX_PROCESSORS,
    ]


@pytest.mark.parametrize(
    ("procs", "solvers", "match"),
    [
        (f"1-{MAX_PROCESSORS}", "heuristic,pipedream,cpsat", f"{3 * MAX_PROCESSORS} rows "),
        ("1-2000", "heuristic", r"add up to 2001000 processors, more than the limit of 2\*\*20"),
    ],
)
def test_a_grid_too_large_is_refused_before_any_platform_is_built(
    tmp_path, monkeypatch, procs, solvers, match
):
    import lpsched.sweep as sweep_module

    def no_platforms(*args, **kwargs):
        raise AssertionError("platforms were built for a grid that is refused")

    monkeypatch.setattr(sweep_module, "grid_platforms", no_platforms)
    out = tmp_path / "r.csv"
    with pytest.raises(InputError, match=match) as err:
        sweep("mlp", procs=procs, solvers=solvers, output=out, jobs=1)
    assert "\n" not in str(err.value) and "split the sweep" in str(err.value)
    assert not out.exists()


def test_a_grid_up_to_the_limits_is_built_with_one_check_per_kind_of_platform(monkeypatch):
    import lpsched.problem as problem_module

    built = []
    real = problem_module.Problem.__init__

    def counting(self, graph, platform):
        built.append(platform.P)
        real(self, graph, platform)

    monkeypatch.setattr(problem_module.Problem, "__init__", counting)
    counts = [2**k for k in range(13)]
    assert sum(counts) <= MAX_GRID_PROCESSORS and counts[-1] == MAX_PROCESSORS
    points = make_grid(get_network("mlp"), counts, [("layerpipe", "heuristic")])
    assert [p.procs for p in points] == counts
    assert [p.platform.P for p in points] == counts
    # Default platforms of every size are one kind: one problem is built to check them.
    assert built == [1]
    # One node at P=8, two at P=16 and 24: two kinds, each checked at its smallest P.
    built.clear()
    grid = (get_network("mlp"), [8, 16, 24], [("layerpipe", "heuristic")])
    if SOLVERS["heuristic"].topology:
        assert len(make_grid(*grid, platform="ib")) == 3
    else:
        with pytest.raises(InputError, match=r"ib at P=16: .*several nodes"):
            make_grid(*grid, platform="ib")
    assert built == [8, 16]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"time_limit": float("nan")}, "--time-limit must be a finite number"),
        ({"time_limit": float("inf")}, "--time-limit must be a finite number"),
        ({"time_limit": -1.0}, "--time-limit must be > 0"),
        ({"time_limit": 2e6}, "--time-limit must be at most"),
        ({"time_limit": True}, "--time-limit must be a number"),
        ({"seed": 2**70}, "--seed must be at most 2147483647"),
        ({"seed": -1}, "--seed must be >= 0"),
        ({"seed": 1.5}, "--seed must be an integer"),
        ({"workers": -3}, "--workers must be >= 1"),
        ({"workers": 10**6}, "--workers must be at most 256"),
        ({"jobs": 0}, "--jobs must be >= 1"),
        ({"jobs": True}, "--jobs must be an integer"),
    ],
)
def test_numbers_out_of_range_are_refused_with_their_limit(kwargs, match):
    with pytest.raises(InputError, match=match) as err:
        check_numbers(**kwargs)
    assert "\n" not in str(err.value)
    ran = []
    with pytest.raises(InputError, match=match):
        sweep("mlp", procs=[2], progress=lambda *a: ran.append(a), **{"jobs": 1, **kwargs})
    assert ran == []


@pytest.mark.parametrize(
    ("command", "flags", "named"),
    [
        ("sweep", ["--procs", "5-1000000000"], str(MAX_PROCESSORS)),
        ("compare", ["--procs", "5-1000000000"], str(MAX_PROCESSORS)),
        ("sweep", ["--time-limit", "nan"], "--time-limit"),
        ("sweep", ["--time-limit", "inf"], "--time-limit"),
        ("compare", ["--time-limit", "0"], "--time-limit must be > 0"),
        ("sweep", ["--time-limit", "-2"], "--time-limit must be > 0"),
        ("sweep", ["--workers", "-3"], "--workers must be >= 1"),
        ("compare", ["--workers", "-3"], "--workers must be >= 1"),
        ("sweep", ["--jobs", "0"], "--jobs must be >= 1"),
        ("compare", ["--jobs", "0"], "--jobs must be >= 1"),
        ("sweep", ["--seed", str(2**70)], "at most 2147483647"),
        ("sweep", ["--seed", "2**70"], "--seed"),
        ("sweep", ["--plot", "speedup.txt"], "must end in .png, .svg, .pdf"),
        ("sweep", ["--plot", "dir.png"], "is a directory"),
        ("sweep", ["-o", "s.png", "--plot", "./s.png"], "same file"),
        ("sweep", ["-o", "dir.png"], "is a directory"),
        ("compare", ["-o", "dir.png"], "is a directory"),
        ("sweep", ["--plot", "missing/s.png"], "does not exist"),
    ],
)
def test_cli_bad_numbers_and_paths_exit_2_before_any_work(
    tmp_path, capsys, monkeypatch, command, flags, named
):
    import lpsched.sweep as sweep_module

    def no_rows(point):
        raise AssertionError("a row ran")

    monkeypatch.setattr(sweep_module, "run_point", no_rows)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir.png").mkdir()
    argv = [command, "mlp", "-P", "2", "-q"]
    argv += [] if "--jobs" in flags else ["-j", "1"]
    argv += [] if "-o" in flags else ["-o", "r.csv"]
    code, stdout, err = run(capsys, *argv, *flags)
    assert code == 2 and stdout == ""
    assert named in one_line_error(err)
    assert [p.name for p in tmp_path.iterdir()] == ["dir.png"]
    assert list((tmp_path / "dir.png").iterdir()) == []


# ---------------------------------------------------------------------------
# The ETA weighs each row by its time limit or by what rows like it took
# ---------------------------------------------------------------------------
def finished(point: GridPoint, seconds: float) -> dict:
    """The row of ``point`` as a worker returns it, having taken ``seconds``."""
    return {
        "network": point.network,
        "decomposition": point.decomposition,
        "solver": point.solver,
        "platform": point.platform_label,
        "procs": point.procs,
        "seconds": seconds,
        "period": 10,
        "period_ms": None,
        "gap": 0.0,
        "status": "optimal",
    }


@pytest.fixture(scope="module")
def fast_then_slow() -> list[GridPoint]:
    """Four heuristic rows, then four CP-SAT rows of 30 s each (the grid's order)."""
    pairs = [("layerpipe", "heuristic"), ("layerpipe", "cpsat")]
    points = make_grid(get_network("mlp"), "1-4", pairs, time_limit=30)
    assert [p.solver for p in points] == ["heuristic"] * 4 + ["cpsat"] * 4
    return points


def test_eta_weighs_the_rows_left_by_their_time_limits(fast_then_slow):
    points = fast_then_slow
    eta = Eta(points, jobs=1)
    for k, p in enumerate(points[:4], 1):
        eta.record(finished(p, 0.25), 0.25 * k)
    # Four rows of 30 s are left: two minutes, not the one second four rows took.
    assert eta.remaining(1.0) == pytest.approx(120)
    # Two at a time, the heuristic rows ending in pairs: one minute.
    eta = Eta(points, jobs=2)
    for k, p in enumerate(points[:4]):
        eta.record(finished(p, 0.25), 0.25 * (1 + k // 2))
    assert eta.remaining(0.5) == pytest.approx(60)


def test_progress_line_counts_on_the_slow_rows_to_come(fast_then_slow):
    now = [0.0]
    log = io.StringIO()
    printer = ProgressPrinter(log, clock=lambda: now[0])
    printer.plan(fast_then_slow, jobs=1)
    for k, p in enumerate(fast_then_slow[:4], 1):
        now[0] = 0.25 * k
        printer(k, 8, finished(p, 0.25))
    first, *rows = log.getvalue().splitlines()
    # Before any row: the heuristic rows' time is unknown, so is the end.
    assert first.startswith("[....................] 0/8 0:00:00 (eta ?)")
    assert "starting 8 rows" in first
    # After one: three rows like it (0.75 s) and four of 30 s.
    assert "1/8 0:00:00 (eta 0:02:01)" in rows[0]
    assert "4/8 0:00:01 (eta 0:02:00)" in rows[-1]
    assert "period 10, gap 0.0% (optimal)" in rows[-1]


def test_eta_counts_down_a_running_row_and_never_promises_the_past():
    points = make_grid(get_network("mlp"), "1-2", [("layerpipe", "cpsat")], time_limit=30)
    eta = Eta(points, jobs=2)
    assert eta.remaining(0.0) == pytest.approx(30)
    assert eta.remaining(29.0) == pytest.approx(1)
    # A row past its limit (building its model, say) ends no earlier than now.
    assert eta.remaining(45.0) == 0


def test_eta_of_rows_without_a_limit_is_the_mean_of_their_solver():
    pairs = [("layerpipe", "heuristic"), ("layerpipe", "pipedream")]
    points = make_grid(get_network("mlp"), "1-3", pairs, time_limit=30)
    eta = Eta(points, jobs=1)
    assert eta.remaining(0.0) is None  # a heuristic's time limit says nothing of its time
    eta.record(finished(points[0], 2.0), 2.0)
    assert eta.remaining(2.0) == pytest.approx(5 * 2.0)  # the one row measured
    eta.record(finished(points[1], 4.0), 6.0)
    eta.record(finished(points[2], 3.0), 9.0)
    # No pipedream row has ended: the mean of the rows without a limit, 3 s.
    assert eta.remaining(9.0) == pytest.approx(3 * 3.0)
    eta.record(finished(points[3], 1.0), 10.0)
    assert eta.remaining(10.0) == pytest.approx(2 * 1.0)


def test_a_sweep_announces_its_rows_before_the_first_ends():
    log = io.StringIO()
    df = sweep(
        "mlp",
        procs=[1],
        solvers=("cpsat",),
        time_limit=1,
        workers=1,
        jobs=1,
        progress=ProgressPrinter(log),
    )
    assert df["valid"].all()
    first, last = log.getvalue().splitlines()
    assert first.startswith("[....................] 0/1 0:00:00 (eta 0:00:01)  starting 1 row")
    assert last.startswith("[####################] 1/1") and "(eta 0:00:00)" in last


# ---------------------------------------------------------------------------
# Pool workers die with their parent
# ---------------------------------------------------------------------------
SLOW_SWEEP = """
import os
import sys
import time

import lpsched.sweep as sweep_module
from lpsched.cli import main


def slow_row(point):
    # Say which process runs the row, then take far longer than the test waits.
    path = os.path.join(sys.argv[1], f"{os.getpid()}.pid")
    with open(path + ".tmp", "w") as f:
        f.write("running")
    os.replace(path + ".tmp", path)
    time.sleep(120)
    raise SystemExit("the row outlived the test")


if __name__ == "__main__":
    sweep_module.run_point = slow_row
    sys.exit(main(["sweep", "mlp", "-P", sys.argv[2], "-j", "2", "-q"]))
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by its new parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def slow_sweep(tmp_path):
    """Start ``lpsched sweep`` of slow rows on two workers; yield it and the workers' pids."""
    script = tmp_path / "slow_sweep.py"
    script.write_text(SLOW_SWEEP)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    started = []

    def start(procs: str) -> tuple[subprocess.Popen, list[int]]:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(tmp_path), procs],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # its own process group: a terminal's, for SIGINT
        )
        started.append(proc)
        pids = lambda: [int(p.stem) for p in tmp_path.glob("*.pid")]  # noqa: E731
        assert wait_until(lambda: len(pids()) == 2, 60), "the two rows never started"
        assert proc.pid not in pids()
        return proc, pids()

    yield start
    for proc in started:  # after a failure: leave no process behind
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def test_pool_workers_die_with_a_killed_sweep(slow_sweep):
    proc, workers = slow_sweep("1-2")
    os.kill(proc.pid, signal.SIGKILL)
    # The workers held the pipes too: end of output means that they are gone.
    try:
        proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail("the workers outlived their sweep, holding its stdout and stderr open")
    assert proc.returncode == -signal.SIGKILL
    assert wait_until(lambda: not any(alive(pid) for pid in workers), 5)


def test_ctrl_c_ends_a_parallel_sweep_at_once(slow_sweep):
    # Five rows on two workers: three wait in the pool, where they cannot be cancelled.
    proc, workers = slow_sweep("1-5")
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends its foreground group
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail("Ctrl-C left the sweep running its queued rows")
    assert proc.returncode == 130
    assert err.decode().strip().endswith("lpsched: interrupted")
    assert "Traceback" not in err.decode()
    assert wait_until(lambda: not any(alive(pid) for pid in workers), 5)


# ---------------------------------------------------------------------------
# Names and output: how many periods are proven, gaps in percent
# ---------------------------------------------------------------------------
def test_compare_says_how_many_periods_are_proven():
    rows = fake_rows(
        {
            ("pipedream", "pipedream", 2): 30,
            ("layerpipe", "cpsat", 2): 20,
            ("pipedream", "pipedream", 3): 24,
            ("layerpipe", "cpsat", 3): 10,
            ("pipedream", "pipedream", 4): 20,
            ("layerpipe", "cpsat", 4): 12,
        }
    )
    some = summarise(comparison_table(rows), solver="cpsat")
    line = format_summary(some)
    assert line.startswith("LayerPipe (CP-SAT, 1 of 3 proven optimal) over the PipeDream planner")
    assert "(optimal)" not in line
    proven = rows[rows["procs"] == 3]
    every = summarise(comparison_table(proven), solver="cpsat")
    assert layerpipe_label(every) == "LayerPipe (CP-SAT, 1 of 1 proven optimal)"
    assert layerpipe_label(summarise(comparison_table(rows))) == "LayerPipe (1 of 3 proven optimal)"
    alone = summarise(comparison_table(rows[rows["decomposition"] == "layerpipe"]), solver="milp")
    assert format_summary(alone) == (
        "no processor count has both schedules; LayerPipe (MILP/HiGHS, 1 of 3 proven optimal)"
    )


def test_compare_prints_the_layerpipe_gap_in_percent(capsys):
    table = compare("mlp", procs=[2, 3], time_limit=5, solver="heuristic", jobs=1)
    assert table.attrs["summary"]["layerpipe_solver"] == "heuristic"
    for row in table.itertuples(index=False):
        T, lb = row.layerpipe_period, row.layerpipe_lower_bound
        assert row.layerpipe_gap == pytest.approx((T - lb) / T)
    text = format_comparison(table)
    header, *lines = text.splitlines()
    assert "layerpipe_gap%" in header.split()
    column = header.split().index("layerpipe_gap%")
    for line, row in zip(lines, table.itertuples(index=False), strict=True):
        assert line.split()[column] == f"{100 * row.layerpipe_gap:.1f}"
    code, stdout, err = run(capsys, "compare", "mlp", "-P", "2", "-s", "heuristic", "-q", "-j", "1")
    assert code == 0, err
    assert "LayerPipe (heuristic, " in stdout and " of 1 proven optimal)" in stdout


def test_help_never_calls_a_comparison_optimal(capsys):
    assert "LayerPipe (optimal)" not in build_parser().format_help()
    code, compare_help, _ = run(capsys, "compare", "--help")
    assert code == 0
    compare_help = " ".join(compare_help.split())
    assert "how many LayerPipe periods are proven optimal" in compare_help
    assert "LayerPipe (optimal)" not in compare_help
    code, sweep_help, _ = run(capsys, "sweep", "--help")
    assert code == 0
    sweep_help = " ".join(sweep_help.split())
    for flag, limit in (("--seed", "2**31-1"), ("--workers", "1..256"), ("--jobs", "1..1024")):
        assert flag in sweep_help and limit in sweep_help
