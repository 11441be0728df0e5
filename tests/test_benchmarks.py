"""benchmarks/run.py on tiny grids: rows, summaries, markdown (results.py: its own test file)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from lpsched.networks import get_network
from lpsched.platform import preset
from lpsched.solve import solve
from lpsched.sweep import read_results
from lpsched.taskgraph import build_task_graph
from lpsched.units import four_digits

ROOT = Path(__file__).resolve().parents[1]


def load(name: str) -> ModuleType:
    """Import a script of benchmarks/ (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(
        f"benchmarks_{name}", ROOT / "benchmarks" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


run = load("run")
results = load("results")

SOLVERS = ("heuristic", "pipedream")


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def best_gaps(df: pd.DataFrame) -> pd.Series:
    """(T - LB) / T with LB the largest lower bound of the instance, recomputed by hand."""
    best = {}
    for r in df.itertuples():
        key = (r.network, r.decomposition, r.procs)
        best[key] = max(best.get(key, 0), int(r.lower_bound))
    return pd.Series(
        [
            (int(r.period) - best[(r.network, r.decomposition, r.procs)]) / int(r.period)
            for r in df.itertuples()
        ],
        index=df.index,
    )


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, pd.DataFrame, Path]:
    tmp = tmp_path_factory.mktemp("run")
    csv = tmp / "r.csv"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run.main(
            [
                "--networks", "mlp,lenet5",
                "--decompositions", "layerpipe,pipedream",
                "--procs", "2",
                "--solvers", ",".join(SOLVERS),
                "--time-limit", "1",
                "-o", str(csv),
                "--no-progress",
            ]
        )  # fmt: skip
    return code, out.getvalue(), read_results(csv), csv


def test_run_table_has_one_line_per_instance(grid_run) -> None:
    code, text, df, _csv = grid_run
    assert code == 0
    assert len(df) == 2 * 2 * len(SOLVERS)
    assert set(df["solver"]) == set(SOLVERS)
    lines = text.splitlines()
    for network in ("mlp", "lenet5"):
        for decomposition in ("layerpipe", "pipedream"):
            found = [ln for ln in lines if re.match(rf"{network}\s+{decomposition}\s+2\s", ln)]
            assert len(found) == 1, (network, decomposition, text)
            cells = found[0].split()
            part = df[(df["network"] == network) & (df["decomposition"] == decomposition)]
            lb = int(part["lower_bound"].max())
            unit_ms = float((part["period_ms"] / part["period"]).iloc[0])
            assert cells[3] == "default"
            assert int(cells[4]) == lb
            assert cells[5] == four_digits(lb * unit_ms)
            for i, solver in enumerate(SOLVERS):
                row = part[part["solver"] == solver].iloc[0]
                period, ms, status, _sec, gap = cells[6 + 5 * i : 11 + 5 * i]
                assert int(period) == int(row["period"])
                assert ms == four_digits(row["period_ms"])
                assert status == run.STATUS_ABBREV[row["status"]]
                assert gap == pct((row["period"] - lb) / row["period"])
    # The grid's order (mlp before lenet5), not the alphabetical order of the CSV.
    first = [ln.split()[0] for ln in lines if re.match(r"(mlp|lenet5)\s+\w+\s+2\s", ln)]
    assert first == ["mlp", "mlp", "lenet5", "lenet5"]


def test_run_summary_is_recomputed_from_the_csv(grid_run) -> None:
    _code, text, df, _csv = grid_run
    gaps = best_gaps(df)
    for solver in SOLVERS:
        part = df[df["solver"] == solver]
        line = next(ln for ln in text.splitlines() if ln.startswith(f"{solver} "))
        optimal = int((part["status"] == "optimal").sum())
        share = optimal / len(part)
        assert f"proven optimal {optimal}/{len(part)} ({100 * share:.0f}%)" in line
        assert f"median {run._fmt_sec(part['settled_seconds'].median())} s" in line
        g = gaps[part.index]
        assert f"gap median {pct(g.median())}% worst {pct(g.max())}%" in line
        assert f"({len(part)} with a schedule)" in line
    summary = run.solver_summary(df, SOLVERS)
    assert summary.loc["heuristic", "rows"] == 4
    assert summary.loc["heuristic", "worst_gap"] == pytest.approx(
        gaps[df["solver"] == "heuristic"].max()
    )


def test_run_resume_keeps_rows_and_quick_sets_the_grid(grid_run, tmp_path, monkeypatch) -> None:
    _code, _text, df, csv = grid_run
    code = run.main(
        ["--networks", "mlp,lenet5", "--decompositions", "layerpipe,pipedream", "--procs", "2",
         "--solvers", ",".join(SOLVERS), "--time-limit", "1", "-o", str(csv), "--resume",
         "--no-progress"]
    )  # fmt: skip
    assert code == 0
    again = read_results(csv)
    pd.testing.assert_series_equal(again["seconds"], df["seconds"])  # nothing solved twice
    # --quick supplies what is not given: layerpipe only, 10 s; without -o the rows go to a
    # new temporary directory, never into the working directory.
    work, scratch = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    scratch.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where mkdtemp creates
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run.main(
            ["--quick", "--networks", "mlp", "--procs", "2", "--solvers", "heuristic",
             "--no-progress"]
        )  # fmt: skip
    assert code == 0
    assert list(work.iterdir()) == []
    where = Path(re.search(r"rows in (\S+)", out.getvalue()).group(1))
    assert where.parent.parent == scratch
    quick = read_results(where)
    assert list(quick["decomposition"]) == ["layerpipe"]
    assert list(quick["time_limit"]) == [10.0]
    assert run.main(["--resume", "--networks", "mlp", "--no-progress"]) == 2


def test_run_bad_input_exits_2(capsys) -> None:
    assert run.main(["--networks", "nonet", "--no-progress"]) == 2
    assert "nonet" in capsys.readouterr().err
    assert run.main(["--networks", "mlp", "--platform", "ib", "--procs", "4"]) == 2
    assert "nodes of 8" in capsys.readouterr().err
    assert run.main(["--networks", "mlp", "--platform", "nosuch", "--procs", "4"]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_run_on_a_preset(tmp_path) -> None:
    csv = tmp_path / "pcie.csv"
    out = io.StringIO()
    argv = ["--networks", "mlp", "--decompositions", "layerpipe", "--procs", "2,4",
            "--solvers", "heuristic", "--platform", "pcie", "-o", str(csv),
            "--no-progress"]  # fmt: skip
    with contextlib.redirect_stdout(out):
        assert run.main(argv) == 0
    df = read_results(csv)
    assert set(df["platform"]) == {"pcie"} and df["valid"].all()
    for r in df.itertuples(index=False):
        graph = build_task_graph(get_network("mlp"), "layerpipe", "auto", processors=r.procs)
        assert r.period == solve(graph, preset("pcie", r.procs), "heuristic").period
        pattern = rf"mlp\s+layerpipe\s+{r.procs}\s"
        line = next(ln for ln in out.getvalue().splitlines() if re.match(pattern, ln))
        assert line.split()[3] == "pcie" and line.split()[6] == str(r.period)


def test_results_bad_input_exits_2(tmp_path, capsys) -> None:
    assert results.main(["--networks", "nonet", "-o", str(tmp_path / "x.md")]) == 2
    assert "nonet" in capsys.readouterr().err
    assert results.main(["--solver", "nosolver", "-o", str(tmp_path / "x.md")]) == 2
