"""benchmarks/results.py: platforms, link models and memory capacities in docs/results.md."""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import math
import re
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from lpsched.solvers.registry import SOLVERS as SOLVER_INFO
from lpsched.sweep import COLUMNS, COLUMNS_V1, normalise, read_results
from lpsched.units import four_digits

ROOT = Path(__file__).resolve().parents[1]


def load(name: str) -> ModuleType:
    """Import a script of benchmarks/ (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(
        f"benchmarks_{name}_script", ROOT / "benchmarks" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


results = load("results")


# ---------------------------------------------------------------------------
# A tiny real run: both link models, a memory capacity
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("results_script")
    md = tmp / "r.md"
    argv = [
        "--networks", "mlp",
        "--procs", "2",
        "--solver", "heuristic",
        "--time-limit", "1",
        "--platforms", "default",
        "--capacity", "ports,delay",
        "--memory", "80GB",
        "-o", str(md),
        "--no-progress",
    ]  # fmt: skip
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = results.main(argv)
    return code, out.getvalue(), md.read_text(), read_results(tmp / "r.csv")


def test_rows_are_labelled_by_platform_and_model(tiny) -> None:
    code, printed, _text, df = tiny
    assert code == 0
    memory = sum(SOLVER_INFO[s].memory for s in ("pipedream", "heuristic"))
    labels = {"default ports", "default delay"} | ({"default ports 80GB"} if memory else set())
    assert set(df["platform"]) == labels
    assert df["valid"].all()
    # The headline runs the four distinct (decomposition, solver) pairs of the five sides,
    # the delay variant only the planner and LayerPipe.
    assert len(df[df["platform"] == "default ports"]) == 4
    delay = df[df["platform"] == "default delay"]
    assert set(zip(delay["decomposition"], delay["solver"], strict=True)) == {
        ("pipedream", "pipedream"),
        ("layerpipe", "heuristic"),
    }
    plan = printed.splitlines()[0]
    assert re.match(r"results\.py: \d+ solves, at most \d+ minutes at 1 at a time", plan)
    # The memory variant solves only with the solvers that declare memory support.
    assert int(plan.split()[1]) == 4 + 2 + memory


def test_markdown_has_ports_delay_and_memory_sections(tiny) -> None:
    _code, _printed, text, df = tiny
    assert "## Summary" in text and "link model `ports`" in text
    assert "## Link ports and the delay model" in text
    assert "### default: ports and delay" in text
    assert "## Memory capacity" in text
    assert "| `default ports` |" in text and "| `default delay` |" in text
    # The compact table's speedups are the rows' period ratios.
    section = text.split("### default: ports and delay")[1].split("##")[0]
    row = next(ln for ln in section.splitlines() if ln.startswith("| mlp | 2 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    for offset, label in ((2, "default ports"), (6, "default delay")):
        part = df[df["platform"] == label].set_index(["decomposition", "solver"])
        planner = part.loc[("pipedream", "pipedream")]
        lp = part.loc[("layerpipe", "heuristic")]
        assert cells[offset] == four_digits(float(planner["period_ms"]))
        assert cells[offset + 1].split()[0] == four_digits(float(lp["period_ms"]))
        ratio = planner["period"] / lp["period"]
        assert cells[offset + 2] == f"{ratio:.2f}× ({100 * (ratio - 1):+.1f}%)"


def test_memory_rows_are_shown_refused_or_solved(tiny) -> None:
    _code, _printed, text, df = tiny
    section = text.split("## Memory capacity")[1].split("\n## ")[0]
    row = next(ln for ln in section.splitlines() if ln.startswith("| mlp | 2 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    memory = df[df["platform"] == "default ports 80GB"]
    for offset, solver in ((5, "pipedream"), (6, "heuristic")):
        if SOLVER_INFO[solver].memory:
            assert cells[offset] != "refused"
            assert solver in set(memory["solver"])
        else:
            assert cells[offset] == "refused"
            assert solver not in set(memory["solver"])  # refusals never reach the CSV
            assert f"{solver} does not respect a memory capacity yet" in section


# ---------------------------------------------------------------------------
# Rendering hand-made rows
# ---------------------------------------------------------------------------
def hand_rows() -> pd.DataFrame:
    """Planner and LayerPipe rows of alexnet at P = 2 and 4 under both models."""
    records = []
    periods = {  # (label, P): (planner, LayerPipe)
        ("default ports", 2): (1500, 1400),
        ("default ports", 4): (1100, 1000),
        ("default delay", 2): (1485, 1345),
        ("default delay", 4): (1012, 673),
    }
    for (label, p), (planner, lp) in periods.items():
        for decomposition, solver, period in (
            ("pipedream", "pipedream", planner),
            ("layerpipe", "cpsat", lp),
        ):
            records.append(
                {
                    "network": "alexnet",
                    "decomposition": decomposition,
                    "solver": solver,
                    "platform": label,
                    "procs": p,
                    "period": period,
                    "lower_bound": period if solver == "cpsat" else None,
                    "status": "optimal" if solver == "cpsat" else "feasible",
                    "valid": True,
                    "comm_bytes": 10**8 * p,
                    "link_busy_max": (0.5 if "ports" in label else 3.0),
                    "error": "",
                }
            )
    return normalise(pd.DataFrame(records, columns=list(COLUMNS)))


def test_render_compares_the_models_from_the_rows() -> None:
    rows = hand_rows()
    runs = results.variants(["default"], ["ports", "delay"], [], ["planner", "layerpipe"])
    text = results.render(
        rows,
        ["alexnet"],
        [2, 4],
        solver="cpsat",
        time_limit=1.0,
        command="python benchmarks/results.py",
        machine_text="test",
        when="now",
        csv_name=None,
        runs=runs,
    )
    ports = {2: 1500 / 1400, 4: 1100 / 1000}
    delay = {2: 1485 / 1345, 4: 1012 / 673}
    mean_p = sum(ports.values()) / 2 - 1
    mean_d = sum(delay.values()) / 2 - 1
    assert (
        f"LayerPipe is on average {100 * mean_d:.1f}% faster than the planner under delay "
        f"and {100 * mean_p:.1f}% faster under ports" in text
    )
    lp_ratio = (1400 / 1345 + 1000 / 673) / 2
    assert f"lengthens LayerPipe's period {lp_ratio:.2f}×" in text
    assert "would need 300% of its bandwidth on average" in text
    # The delay rows' milliseconds come from alexnet's time unit (2.5 us) when missing.
    section = text.split("### default: ports and delay")[1]
    row = next(ln for ln in section.splitlines() if ln.startswith("| alexnet | 4 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[7] == four_digits(673 * 2.5e-3)
    assert cells[8] == f"{delay[4]:.2f}× ({100 * (delay[4] - 1):+.1f}%)"
    assert math.isclose(float(cells[9].rstrip("%")), 300)


# ---------------------------------------------------------------------------
# Old CSVs, refusals, bad options
# ---------------------------------------------------------------------------
def test_old_rows_count_as_default_delay(tmp_path) -> None:
    old = tmp_path / "old.csv"
    row = dict.fromkeys(COLUMNS_V1, "")
    row.update(network="mlp", decomposition="layerpipe", solver="heuristic", procs="2")
    row.update(period="10", status="feasible", valid="True", seconds="0.1", error="")
    with old.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS_V1), lineterminator="\n")
        writer.writeheader()
        writer.writerow(row)
    assert results.adopt_old_rows(old) == 1
    df = read_results(old)
    assert list(df["platform"]) == ["default delay"] and int(df["period"].iloc[0]) == 10
    assert results.adopt_old_rows(old) == 0  # the current format is left as it is
    runs = results.variants(["default"], ["ports", "delay"], [], ["planner", "layerpipe"])
    points, _refused = results.build_grid(["mlp"], [2], runs, solver="heuristic", time_limit=1)
    todo = results.todo_points(points, old, resume=True)
    assert len(todo) == len(points) - 1
    assert ("mlp", "layerpipe", "heuristic", "default delay", 2) not in {p.key for p in todo}


def test_refusal_follows_declared_capabilities() -> None:
    for name, info in SOLVER_INFO.items():
        memory = results.Variant("default", "delay", 8e10, ("planner",))
        assert (results.refusal(name, memory) is None) == info.memory
        ports = results.Variant("pcie", "ports", None, ("planner",))
        assert (results.refusal(name, ports) is None) == info.ports
        assert results.refusal(name, results.Variant("pcie", "delay", None, ())) is None


@pytest.mark.parametrize(
    "args",
    [
        ["--platforms", "nope"],
        ["--capacity", "fast"],
        ["--memory", "lots"],
        ["--sides", "heuristic"],
        ["--sides", "planner,layerpipe,nope"],
        ["--jobs", "x"],
        ["--jobs", "0"],
        ["--procs", "0"],
        ["--unknown-option"],
    ],
)
def test_bad_options_exit_2_with_one_line(args, tmp_path, capsys) -> None:
    assert results.main([*args, "-o", str(tmp_path / "x.md"), "--dry-run"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert not (tmp_path / "x.csv").exists()
