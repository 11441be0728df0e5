"""Plots in physical units: Gantt charts in ms, periods beside speedups, a line per platform."""

from __future__ import annotations

import io
import os

import pandas as pd
import pytest
from matplotlib import cbook
from matplotlib.axes import Axes

from lpsched.errors import InputError
from lpsched.graph import Task, make_graph
from lpsched.networks import get_network
from lpsched.platform import Platform
from lpsched.plot import (
    LIMIT_WIDTH,
    gantt_figure,
    literal,
    plot_gantt,
    plot_gap,
    plot_speedup,
    plot_unrolled,
    plot_utilisation,
    save_figure,
    save_gantt,
    work_ms,
)
from lpsched.schedule import Schedule
from lpsched.solve import solve
from lpsched.sweep import sweep
from lpsched.taskgraph import build_task_graph
from lpsched.validate import check_schedule


def bars(ax: Axes) -> list[tuple[float, float, float]]:
    """``(x, width, row)`` of every bar that ``broken_barh`` drew."""
    out = []
    for coll in ax.collections:
        for path in coll.get_paths():
            xs, ys = path.vertices[:, 0], path.vertices[:, 1]
            out.append((float(xs.min()), float(xs.max() - xs.min()), float(ys.mean())))
    return out


def busy_per_row(ax: Axes, processors: int) -> list[float]:
    busy = [0.0] * processors
    for _x, width, row in bars(ax):
        busy[round(row)] += width
    return busy


@pytest.fixture(scope="module")
def fast_schedule() -> Schedule:
    """mlp on two processors of speed 2: every task lasts half its speed-1 duration, rounded up."""
    graph = build_task_graph(get_network("mlp"), "layerpipe", "auto", processors=2)
    # Under delay: two lanes, no port lanes (tests/test_link_report.py draws those).
    spec = {"processors": [{"speed": 2}, {"speed": 2}], "capacity": "delay"}
    platform = Platform.from_dict(spec)
    sched = solve(graph, platform, "heuristic").schedule
    assert sched is not None
    check_schedule(sched)
    return sched


def test_gantt_is_in_milliseconds_with_each_tasks_own_duration(fast_schedule) -> None:
    sched = fast_schedule
    unit_ms = sched.graph.time_unit_seconds * 1e3
    ax = plot_gantt(sched)
    assert ax.get_xlim() == pytest.approx((0, sched.period * unit_ms))
    assert "(ms)" in ax.get_xlabel() and sched.describe_period() in ax.get_xlabel()
    # Wrapped bars are split in two: per processor, the bars add up to its busy time.
    expected = [0.0, 0.0]
    for t in sched.graph.tasks:
        expected[sched.processor[t.name]] += sched.duration(t.name) * unit_ms
    assert busy_per_row(ax, 2) == pytest.approx(expected)
    # Tasks last ceil(d / 2) here, not d: the speed-1 durations would add up to more.
    speed_one = sum(t.duration for t in sched.graph.tasks) * unit_ms
    assert sum(expected) < speed_one
    for x, width, _row in bars(ax):
        assert 0 <= x and x + width <= sched.period * unit_ms * (1 + 1e-12)


def test_unrolled_is_in_milliseconds(fast_schedule) -> None:
    sched = fast_schedule.normalised()
    unit_ms = sched.graph.time_unit_seconds * 1e3
    ax = plot_unrolled(sched, iterations=3)
    end = max(sched.start[t.name] + sched.duration(t.name) for t in sched.graph.tasks)
    assert ax.get_xlim() == pytest.approx((0, (end + 2 * sched.period) * unit_ms))
    assert ax.get_xlabel().startswith("time (ms)")
    assert sum(busy_per_row(ax, 2)) == pytest.approx(
        3 * sum(sched.duration(t.name) for t in sched.graph.tasks) * unit_ms
    )


def test_without_a_physical_unit_the_axis_counts_time_units() -> None:
    graph = make_graph(
        [("a", 3), ("b", 4)], [("a", "b", 0, 1), ("b", "a", 2, 1)], time_unit="cycle"
    )
    assert graph.time_unit_seconds is None
    sched = solve(graph, 2, "heuristic").schedule
    ax = plot_gantt(sched)
    assert ax.get_xlim() == pytest.approx((0, sched.period))
    assert "(cycle)" in ax.get_xlabel()
    assert sum(busy_per_row(ax, 2)) == pytest.approx(7)


def test_utilisation_title_gives_the_period_in_ms(fast_schedule) -> None:
    ax = plot_utilisation(fast_schedule)
    assert fast_schedule.describe_period() in ax.get_title() and "ms" in ax.get_title()


@pytest.fixture(scope="module")
def two_platforms() -> pd.DataFrame:
    default = sweep("lenet5", procs="1-3", jobs=1)
    pcie = sweep("lenet5", procs="1-3", jobs=1, platform="pcie")
    return pd.concat([default, pcie], ignore_index=True)


def right_axes(ax: Axes) -> list[Axes]:
    return [c for c in ax.child_axes if c.get_ylabel().startswith("period")]


def test_speedup_plot_reads_periods_in_ms_on_the_right(two_platforms) -> None:
    df = two_platforms
    graph = build_task_graph(get_network("lenet5"), "layerpipe", "auto", processors=1)
    total_ms = graph.total_work * graph.time_unit_seconds * 1e3
    assert work_ms(df) == pytest.approx(total_ms, rel=1e-12)
    # The right axis is T = work / speedup: every row's period in ms.
    for row in df.itertuples(index=False):
        assert total_ms / row.speedup == pytest.approx(row.period_ms, rel=1e-9)
    ax = plot_speedup(df)
    (right,) = right_axes(ax)
    assert "[ms]" in right.get_ylabel()


def test_speedup_plot_draws_one_line_per_platform(two_platforms) -> None:
    ax = plot_speedup(two_platforms)
    labels = [line.get_label() for line in ax.get_lines()]
    assert {"heuristic on default", "heuristic on pcie"} <= set(labels)
    assert {"lower-bound limit on default", "lower-bound limit on pcie"} <= set(labels)
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "heuristic on pcie")
    pcie = two_platforms[two_platforms["platform"] == "pcie"].sort_values("procs")
    assert list(line.get_ydata()) == pytest.approx(pcie["speedup"].tolist())
    ax = plot_gap(two_platforms)
    assert {ln.get_label() for ln in ax.get_lines()} >= {
        "heuristic on default",
        "heuristic on pcie",
    }


def test_no_right_axis_when_the_rows_do_not_share_one_work(two_platforms) -> None:
    other = sweep("mlp", procs="1-2", jobs=1)
    mixed = pd.concat([two_platforms, other], ignore_index=True)
    assert work_ms(mixed) is None
    assert right_axes(plot_speedup(mixed)) == []
    old = two_platforms.assign(period_ms=float("nan"))  # a table read from an old CSV
    assert work_ms(old) is None
    assert right_axes(plot_speedup(old)) == []


# ---------------------------------------------------------------------------
# Names are text, never math
# ---------------------------------------------------------------------------
ODD_NAMES = ("a$^$b", "x$\\frac{$", "c$1", "w_$\\undefined$")


@pytest.fixture(scope="module")
def odd_result():
    """A schedule whose task, layer, kind and graph names hold math-text characters."""
    a, b = ODD_NAMES[0], ODD_NAMES[1]
    tasks = [Task(f"F:{a}", 3, layer=a, kind="F$x$"), Task(b, 4, layer=ODD_NAMES[3])]
    edges = [(f"F:{a}", b, 0, 1), (b, f"F:{a}", 2, 1)]
    graph = make_graph(tasks, edges, time_unit="cycle", name="net$_$")
    result = solve(graph, 2, "heuristic")
    check_schedule(result.schedule)
    return result


def test_literal_keeps_dollars_out_of_math_text() -> None:
    for name in ODD_NAMES:
        assert not cbook.is_math_text(literal(name))
    # A name with two dollars is math text unless escaped: the drawing would parse it.
    assert cbook.is_math_text(ODD_NAMES[0])


def test_gantt_draws_names_with_math_text_characters(odd_result, tmp_path) -> None:
    fig = gantt_figure(odd_result)
    fig.savefig(io.BytesIO(), format="png")  # a math-text parse error would raise here
    top = fig.axes[0]
    labels = {t.get_text() for t in top.texts}
    assert labels == {ODD_NAMES[0], ODD_NAMES[3]}  # as written: no escapes shown
    assert all(not t.get_parse_math() for t in top.texts)
    shown = [t.get_text() for t in top.get_legend().get_texts()] + [top.get_title()]
    assert not any(cbook.is_math_text(text) for text in shown)
    assert "net$_$" in top.get_title().replace("\\$", "$")
    out = tmp_path / "g.svg"
    save_gantt(odd_result, out)
    assert out.read_text().lstrip().startswith("<?xml")


# ---------------------------------------------------------------------------
# Speedup plot: the limit is visible, no series hides another
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def twins() -> pd.DataFrame:
    """Two solvers with equal rows: the heuristic's, relabelled as a second solver."""
    heuristic = sweep("lenet5", procs="1-3", jobs=1)
    return pd.concat([heuristic, heuristic.assign(solver="cpsat")], ignore_index=True)


def test_equal_series_stay_apart(twins) -> None:
    ax = plot_speedup(twins)
    series = {
        ln.get_label(): ln for ln in ax.get_lines() if ln.get_label() in ("heuristic", "cpsat")
    }
    a, b = series["heuristic"], series["cpsat"]
    # The same values...
    assert list(a.get_ydata()) == list(b.get_ydata())
    # ... drawn with another marker, a little apart, each within a fifth of a processor.
    assert a.get_marker() != b.get_marker() and a.get_color() != b.get_color()
    for line in (a, b):
        assert list(line.get_xdata()) == pytest.approx([1, 2, 3], abs=0.2)
    assert all(xa != xb for xa, xb in zip(a.get_xdata(), b.get_xdata(), strict=True))
    gap = plot_gap(twins, include_exact=True)
    xs = [tuple(ln.get_xdata()) for ln in gap.get_lines() if ln.get_label() in series]
    assert len(xs) == 2 and xs[0] != xs[1]


def test_the_lower_bound_limit_is_visible_and_in_the_legend(twins) -> None:
    ax = plot_speedup(twins)
    (limit,) = [ln for ln in ax.get_lines() if ln.get_label() == "lower-bound limit"]
    others = [ln for ln in ax.get_lines() if ln is not limit]
    # Under the series, and wider than any of them with its markers: it shows around a
    # series that reaches it.
    assert limit.get_linewidth() == LIMIT_WIDTH
    for line in others:
        assert limit.get_zorder() < line.get_zorder()
        assert limit.get_linewidth() > max(line.get_linewidth(), line.get_markersize())
    assert limit.get_alpha() >= 0.4 and limit.get_visible()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "lower-bound limit" in legend
    # Where the heuristic proves its period, the limit and the series meet.
    best = twins[twins["solver"] == "heuristic"].sort_values("procs")
    optimal = best["status"] == "optimal"
    limit_y = dict(zip(limit.get_xdata(), limit.get_ydata(), strict=True))
    for p, speedup in zip(best["procs"][optimal], best["speedup"][optimal], strict=True):
        assert limit_y[p] == pytest.approx(speedup)


# ---------------------------------------------------------------------------
# Figure files: checked before drawing, written as every file is
# ---------------------------------------------------------------------------
def test_a_bad_figure_path_is_refused_before_drawing(fast_schedule, tmp_path, monkeypatch) -> None:
    import lpsched.plot as plot_module

    def no_drawing(*args, **kwargs):
        raise AssertionError("drew a figure for a path that is refused")

    monkeypatch.setattr(plot_module, "gantt_figure", no_drawing)
    (tmp_path / "d.png").mkdir()
    for path, message in (
        (tmp_path / "g.txt", "must end in .png, .svg, .pdf"),
        (tmp_path / "d.png", "is a directory"),
        (tmp_path / "missing" / "g.png", "does not exist"),
    ):
        with pytest.raises(InputError, match=message):
            save_gantt(fast_schedule, path)
    assert [p.name for p in tmp_path.iterdir()] == ["d.png"]


def test_a_figure_follows_a_link_and_leaves_no_temporary_file(fast_schedule, tmp_path) -> None:
    target = tmp_path / "real.png"
    link = tmp_path / "link.png"
    os.symlink(target.name, link)
    save_figure(plot_utilisation(fast_schedule), link)
    assert link.is_symlink() and target.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.png", "real.png"]
