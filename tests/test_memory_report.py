"""Memory in the reports: sweep columns, the memory-period curve, the -v table and the Gantt.

Solvers do not take a memory capacity yet (``SolverInfo.memory`` is False), so the
pieces are tested directly: capacities parsed into grid platforms and labels, the
CSV columns from a hand-built schedule, the plot from rows built here, and the
command line's refusals. One end-to-end test runs the curve once the heuristic
declares memory, and asserts the refusal until then.
"""

from __future__ import annotations

import csv
import io
import math

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from lpsched.cli.commands import processor_table  # noqa: E402
from lpsched.errors import InputError  # noqa: E402
from lpsched.graph import Edge, Task, TaskGraph  # noqa: E402
from lpsched.networks import get_network  # noqa: E402
from lpsched.platform import Link, Platform, Processor, preset  # noqa: E402
from lpsched.plot import (  # noqa: E402
    MEMORY_COLOURS,
    UNLIMITED_AT,
    gantt_figure,
    memory_panel,
    over_memory,
    plot_memory,
    plot_sweep,
)
from lpsched.schedule import Result, Schedule, Status, Transfer  # noqa: E402
from lpsched.solvers.registry import SOLVERS  # noqa: E402
from lpsched.sweep import (  # noqa: E402
    COLUMNS,
    COLUMNS_V3,
    MAX_GRID_ROWS,
    capacity_gb,
    grid_platforms,
    make_grid,
    memory_grid,
    memory_platform_label,
    normalise,
    parse_memory,
    read_results,
    schedule_columns,
    sweep,
    with_memory,
)
from lpsched.validate import check_schedule  # noqa: E402

from .cli_helpers import one_line_error, run  # noqa: E402

GB = 1e9
FREE = Link(math.inf, 0.0)  # no communication cost: lifetimes are the tasks' own


# ------------------------------------------------------------------ capacities
def test_capacities_parse_in_order_with_unlimited() -> None:
    assert parse_memory("16GB, 8GB,unlimited,1GiB") == [16 * GB, 8 * GB, None, 2.0**30]
    assert parse_memory([8e9, None]) == [8 * GB, None]
    assert parse_memory(80e9) == [80 * GB]
    assert parse_memory("80GB") == [80 * GB]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("8GB,8000MB", "capacity 8 GB given twice"),
        ("unlimited,inf", "capacity unlimited given twice"),
        ("8XB", "--memory must be a quantity"),
        ("", "expected sizes like"),
        ("8GB,,16GB", "expected sizes like"),
        ("0.5B", "at least 1 byte"),
        ("-1GB", "--memory must be > 0"),
        ("0", "--memory must be > 0"),
    ],
)
def test_bad_capacities_are_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        parse_memory(text)
    assert "\n" not in str(err.value)


def test_every_capacity_is_a_platform_of_every_count_with_its_label() -> None:
    cells = memory_grid(grid_platforms(None, [2, 4]), parse_memory("8GB,16GB,unlimited"))
    assert [label for label, _ in cells] == ["default 8GB", "default 16GB", "default"]
    for (_label, by_procs), nbytes in zip(cells, [8 * GB, 16 * GB, None], strict=True):
        assert sorted(by_procs) == [2, 4]
        for P, plat in by_procs.items():
            assert plat.P == P and {p.memory for p in plat.processors} == {nbytes}
            assert capacity_gb(plat) == (None if nbytes is None else nbytes / GB)
            assert with_memory(plat, None) == Platform.default(P)
    # A named platform keeps its name; one that has a memory says when a row lifts it.
    assert memory_platform_label(preset("pcie", 4), 80 * GB) == "pcie 80GB"
    assert memory_platform_label(with_memory(Platform.default(2), 40 * GB), None) == (
        "default unlimited"
    )
    # Two capacities that print alike would give their rows one key.
    with pytest.raises(InputError, match="read the same"):
        memory_grid(grid_platforms(None, [2]), [16 * GB, 16.00001 * GB])


def test_without_capacities_the_grid_is_as_before() -> None:
    mlp = get_network("mlp")
    plain = make_grid(mlp, [2, 3], [("layerpipe", "heuristic")])
    unlimited = make_grid(mlp, [2, 3], [("layerpipe", "heuristic")], memory=[None])
    assert [p.key for p in plain] == [p.key for p in unlimited]
    assert [p.platform for p in plain] == [p.platform for p in unlimited]


def test_a_finite_capacity_is_refused_until_the_solver_takes_memory() -> None:
    grid = (get_network("mlp"), [2], [("layerpipe", "heuristic")])
    if not SOLVERS["heuristic"].memory:
        with pytest.raises(InputError, match="platform default 8GB at P=2: .*memory"):
            make_grid(*grid, memory="8GB,16GB")
    else:
        points = make_grid(*grid, memory="8GB,16GB")
        assert [p.platform_label for p in points] == ["default 8GB", "default 16GB"]


def test_the_grid_size_counts_capacities() -> None:
    # 4000 counts x 3 capacities > MAX_GRID_ROWS: refused before any platform is built.
    assert 4000 * 3 > MAX_GRID_ROWS >= 4000
    with pytest.raises(InputError, match="x 3 memory capacities"):
        make_grid(get_network("mlp"), "1-4000", [("layerpipe", "heuristic")], memory="1GB,2GB,3GB")


# ------------------------------------------------------------------ sweep CSV
def hand_result(memory: float | None) -> Result:
    """a (2 units) sends x (3 GB) to b on the other processor, T = 10, free links.

    Held on 0 during [0, 2) (a's run, sent at its end at no cost), on 1 during
    [2, 7) (from the send to b's end): one copy of 3 GB on each.
    """
    g = TaskGraph(
        (Task("a", 2), Task("b", 2)),
        (Edge("a", "b", 0, None, 3_000_000_000, tensor="x"),),
        time_unit="1us",
    )
    plat = Platform((Processor(1.0, memory), Processor(1.0, memory)), FREE, FREE)
    sent = (Transfer("x", "a", 0, 1, 2, 0),)  # ports: free links take no time
    s = Schedule(g, plat, 10, {"a": 0, "b": 1}, {"a": 0, "b": 5}, sent)
    return Result(s, Status.FEASIBLE, 4, "hand", 0.0, network="hand")


def test_the_csv_holds_the_capacity_and_the_largest_footprint(tmp_path) -> None:
    result = hand_result(4 * GB)
    check_schedule(result.schedule)
    plat = result.schedule.platform
    cols = schedule_columns(result)
    assert cols["memory_gb_max"] == pytest.approx(3.0)  # the hand count above
    row = {
        "network": "hand",
        "decomposition": "given",
        "solver": "hand",
        "platform": memory_platform_label(plat, 4 * GB),
        "procs": 2,
        "memory_gb": capacity_gb(plat),
        "status": "feasible",
        "valid": True,
        **cols,
    }
    assert row["platform"] == "custom 4GB"  # free links: not the default platform
    path = tmp_path / "s.csv"
    normalise(pd.DataFrame([row])).to_csv(path, index=False)
    back = read_results(path)
    assert list(back.columns) == list(COLUMNS)
    assert back.loc[0, "memory_gb"] == 4.0 and back.loc[0, "memory_gb_max"] == pytest.approx(3.0)


def test_a_sweep_writes_the_memory_columns_and_old_tables_read(tmp_path) -> None:
    path = tmp_path / "s.csv"
    df = sweep("mlp", procs=[2], memory="unlimited", output=path, jobs=1)
    with path.open() as f:
        assert next(csv.reader(f)) == list(COLUMNS)
    (row,) = df.itertuples(index=False)
    assert row.platform == "default" and pd.isna(row.memory_gb)
    # The producer holds each tensor: the footprint is at least the largest one.
    graph = make_grid(get_network("mlp"), [2], [("layerpipe", "heuristic")])[0].graph()
    assert row.memory_gb_max * GB >= max(e.bytes for e in graph.edges) > 0
    old = tmp_path / "old.csv"
    df[list(COLUMNS_V3)].to_csv(old, index=False)
    back = read_results(old)
    assert list(back.columns) == list(COLUMNS)
    assert back["memory_gb"].isna().all() and back["memory_gb_max"].isna().all()
    same = [c for c in COLUMNS if c not in ("memory_gb_max",)]
    pd.testing.assert_frame_equal(back[same], df[same])


def curve_rows() -> pd.DataFrame:
    """Rows of a memory sweep built by hand, in no order: two solvers, 8GB proven infeasible."""
    rows = []
    periods = {"cpsat": [None, 850, 780, 760, 760], "heuristic": [None, 900, 800, 771, 771]}
    for solver, values in periods.items():
        for gb, T in zip([8, 16, 32, 80, None], values, strict=True):
            rows.append(
                {
                    "network": "vgg16",
                    "decomposition": "layerpipe",
                    "solver": solver,
                    "platform": "default" if gb is None else f"default {gb}GB",
                    "procs": 8,
                    "memory_gb": gb,
                    "period": T,
                    "period_ms": None if T is None else T * 0.025,
                    "lower_bound": 751,
                    "status": "infeasible" if T is None else "feasible",
                    "valid": None if T is None else True,
                    "total_work": 6000,
                    "speedup": None if T is None else 6000 / T,
                }
            )
    return normalise(pd.DataFrame(rows[::-1]))


def test_rows_of_one_platform_follow_one_another_by_capacity() -> None:
    df = curve_rows()
    part = df[df["solver"] == "heuristic"]
    assert list(part["platform"]) == [
        "default 8GB",
        "default 16GB",
        "default 32GB",
        "default 80GB",
        "default",
    ]


# ------------------------------------------------------------------ the curve
def test_the_curve_is_period_against_capacity_with_infeasible_marked() -> None:
    df = curve_rows()
    assert over_memory(df)
    ax = plot_sweep(df)
    assert "memory capacity" in ax.get_xlabel() and "[ms]" in ax.get_ylabel()
    assert ax.get_xscale() == "log"
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["8", "16", "32", "80", "unlimited"]
    lines = {line.get_label(): line for line in ax.get_lines()}
    heur = lines["heuristic"]
    assert list(heur.get_xdata()) == [16, 32, 80]  # 8GB has no period: not on the line
    assert list(heur.get_ydata()) == pytest.approx([22.5, 20.0, 19.275])
    # The unlimited row sits UNLIMITED_AT x the largest capacity, joined by a dotted line.
    dotted = [
        line
        for line in ax.get_lines()
        if line.get_linestyle() == ":" and line.get_color() == heur.get_color()
    ]
    assert [list(line.get_xdata()) for line in dotted] == [[80, UNLIMITED_AT * 80]]
    crosses = [
        line for line in ax.get_lines() if line.get_marker() == "x" and len(line.get_xdata())
    ]
    assert sorted(x for line in crosses for x in line.get_xdata()) == [8, 8]
    assert "proven infeasible (no schedule fits)" in [
        t.get_text() for t in ax.get_legend().get_texts()
    ]


def test_one_capacity_plots_speedup_against_p() -> None:
    df = curve_rows()
    one = df[df["memory_gb"] == 16].copy()
    one = pd.concat([one, one.assign(procs=4, platform="default 16GB")], ignore_index=True)
    assert not over_memory(one)
    assert plot_sweep(one).get_xlabel() == "processors P"
    assert plot_memory(df[df["solver"] == "cpsat"]).get_title().endswith("at P=8")


def test_several_counts_are_lines_of_their_own() -> None:
    df = curve_rows()
    both = pd.concat([df, df.assign(procs=4)], ignore_index=True)
    labels = [t.get_text() for t in plot_memory(normalise(both)).get_legend().get_texts()]
    assert "heuristic on default P=4" in labels and "heuristic on default P=8" in labels


# ------------------------------------------------------------------ -v and Gantt
def test_the_table_shows_footprint_and_capacity() -> None:
    fits = processor_table(hand_result(4 * GB)).splitlines()
    assert fits[0].split()[:6] == ["proc", "tasks", "busy", "util", "memory", "capacity"]
    assert "3 GB" in fits[1] and "4 GB 75%" in fits[1] and "!" not in fits[1]
    over = processor_table(hand_result(2 * GB)).splitlines()
    assert "2 GB 150%!" in over[1] and "! marks 2 processors over capacity" in over[3]
    plain = processor_table(hand_result(None)).splitlines()
    assert "capacity" not in plain[0] and "3 GB" in plain[1]


def test_the_gantt_has_a_memory_bar_per_processor() -> None:
    fig = gantt_figure(hand_result(2.5 * GB))
    top = fig.axes[0]
    (side,) = [a for a in top.child_axes if a.get_title() == "memory (GB)"]
    bars = [(b.get_width(), to_hex(b.get_facecolor())) for b in side.patches]
    # Per processor: the capacity behind, then the footprint, red: 3 GB > 2.5 GB.
    assert (
        bars
        == [(2.5, MEMORY_COLOURS["capacity"].lower()), (3.0, MEMORY_COLOURS["over"].lower())] * 2
    )
    assert [t.get_text() for t in side.texts] == ["3 / 2.5 over!"] * 2
    fig.savefig(io.BytesIO(), format="png")
    fits = memory_panel(top, hand_result(None).schedule)
    assert fits is not None
    assert [to_hex(b.get_facecolor()) for b in fits.patches] == [MEMORY_COLOURS["fits"].lower()] * 2


# ------------------------------------------------------------------ command line
@pytest.mark.parametrize(
    ("memory", "message"),
    [
        ("8GB,8000MB", "given twice"),
        ("8XB", "must be a quantity"),
        ("8GB,,16GB", "expected sizes"),
        ("0.1B", "at least 1 byte"),
    ],
)
def test_bad_memory_lists_exit_2_in_one_line(capsys, tmp_path, memory, message) -> None:
    out = tmp_path / "s.csv"
    code, _out, err = run(
        capsys, "sweep", "mlp", "--procs", "2", f"--memory={memory}", "-o", str(out)
    )
    assert code == 2
    assert message in one_line_error(err)
    assert not out.exists()  # refused before any work


def test_the_memory_period_curve_end_to_end(capsys, tmp_path) -> None:
    """Refused while the heuristic does not take memory; the curve once it does."""
    out, fig = tmp_path / "s.csv", tmp_path / "s.png"
    argv = ["sweep", "mlp", "--procs", "2", "--memory", "20MB,1GB,unlimited", "-q"]
    code, stdout, err = run(capsys, *argv, "-o", str(out), "--plot", str(fig))
    if not SOLVERS["heuristic"].memory:
        assert code == 2
        assert "does not respect a memory capacity" in one_line_error(err)
        assert not out.exists() and not fig.exists()
        return
    assert code == 0, err
    df = read_results(out)
    assert list(df["platform"]) == ["default 20MB", "default 1GB", "default"]
    assert df["memory_gb"].tolist()[:2] == [0.02, 1.0] and pd.isna(df["memory_gb"].iloc[2])
    for r in df.itertuples(index=False):
        if pd.isna(r.period):
            assert r.status in ("infeasible", "unknown")
        else:
            assert r.valid and (pd.isna(r.memory_gb) or r.memory_gb_max <= r.memory_gb)
    assert fig.read_bytes().startswith(b"\x89PNG")
    assert "default 1GB" in stdout
