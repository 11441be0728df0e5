"""Plots in physical units: Gantt charts in ms, periods beside speedups, a line per platform."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.axes import Axes

from lpsched.graph import make_graph
from lpsched.networks import get_network
from lpsched.platform import Platform
from lpsched.plot import (
    plot_gantt,
    plot_gap,
    plot_speedup,
    plot_unrolled,
    plot_utilisation,
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
    platform = Platform.from_dict({"processors": [{"speed": 2}, {"speed": 2}]})
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
