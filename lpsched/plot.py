"""Plots: Gantt charts of periodic schedules.

Every ``plot_*`` function draws on ``ax`` (a new figure's axes when ``None``)
and returns the axes, so plots compose in notebooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .errors import InputError
from .schedule import Result, Schedule

KIND_COLOURS = {
    "F": "#4C72B0",
    "D": "#DD8452",
    "G": "#C44E52",
    "W": "#55A868",
    "U": "#8172B3",
    "B": "#CCB974",
    "A": "#DA8BC3",
    "WU": "#64B5CD",
}
_OTHER = "#999999"


def _schedule(obj: Schedule | Result) -> Schedule:
    if isinstance(obj, Result):
        if obj.schedule is None:
            raise ValueError("the result has no schedule to plot")
        return obj.schedule
    return obj


def _new_ax(ax: Axes | None, width: float = 10, height: float = 4) -> Axes:
    if ax is not None:
        return ax
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig.add_subplot()


def _label(ax: Axes, x: float, width: float, y: float, text: str, span: float) -> None:
    # Label only bars wide enough for the text, so 100+ tasks stay readable.
    if width >= span * 0.012 * max(3, len(text)):
        ax.text(x + width / 2, y, text, ha="center", va="center", fontsize=7, clip_on=True)


def plot_gantt(schedule: Schedule | Result, ax: Axes | None = None, labels: bool = True) -> Axes:
    """One period per processor: arcs ``[s mod T, s mod T + d)``, wrapped ones split in two.

    Tasks are coloured by kind (F, D, G, W, U or merged kinds) and labelled by layer.
    """
    sched = _schedule(schedule)
    ax = _new_ax(ax, height=max(2.5, 0.45 * sched.processors + 1.5))
    T = sched.period
    for t in sched.graph.tasks:
        p = sched.processor[t.name]
        r = sched.start[t.name] % T
        colour = KIND_COLOURS.get(t.kind, _OTHER)
        pieces = [(r, min(t.duration, T - r))]
        if r + t.duration > T:
            pieces.append((0, r + t.duration - T))
        for x, w in pieces:
            ax.broken_barh([(x, w)], (p - 0.4, 0.8), facecolors=colour, edgecolor="white", lw=0.5)
            if labels:
                _label(ax, x, w, p, t.layer or t.name, T)
    ax.set_xlim(0, T)
    ax.set_ylim(sched.processors - 0.5, -0.5)
    ax.set_yticks(range(sched.processors), [f"P{p}" for p in range(sched.processors)])
    ax.set_xlabel(f"time within one period ({sched.graph.time_unit}), T = {T}")
    kinds = sorted(
        {t.kind for t in sched.graph.tasks},
        key=lambda k: list(KIND_COLOURS).index(k) if k in KIND_COLOURS else 99,
    )
    ax.legend(
        handles=[Patch(color=KIND_COLOURS.get(k, _OTHER), label=k or "?") for k in kinds],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=8,
        title="kind",
    )
    ax.set_title(f"{sched.graph.name or 'schedule'}: one period on {sched.processors} processors")
    return ax


def plot_unrolled(
    schedule: Schedule | Result, iterations: int | None = None, ax: Axes | None = None
) -> Axes:
    """Several unrolled iterations in absolute time, coloured by iteration: the pipeline filling.

    Parameters
    ----------
    iterations
        How many iterations to draw; default: the iterations in flight plus two (at most 8).
    """
    sched = _schedule(schedule).normalised()
    if iterations is None:
        iterations = min(8, sched.iterations_in_flight() + 2)
    if iterations < 1:
        raise InputError(f"iterations must be at least 1, got {iterations}")
    ax = _new_ax(ax, height=max(2.5, 0.45 * sched.processors + 1.5))
    T = sched.period
    cmap = _iteration_colours(iterations)
    end = 0
    for i in range(iterations):
        for t in sched.graph.tasks:
            x = sched.start[t.name] + i * T
            ax.broken_barh(
                [(x, t.duration)],
                (sched.processor[t.name] - 0.4, 0.8),
                facecolors=cmap[i],
                edgecolor="white",
                lw=0.3,
            )
            end = max(end, x + t.duration)
    for k in range(1, end // T + 1):
        ax.axvline(k * T, color="black", lw=0.5, ls=":")
    ax.set_xlim(0, end)
    ax.set_ylim(sched.processors - 0.5, -0.5)
    ax.set_yticks(range(sched.processors), [f"P{p}" for p in range(sched.processors)])
    ax.set_xlabel(f"time ({sched.graph.time_unit}); dotted lines every period T = {T}")
    ax.legend(
        handles=[Patch(color=cmap[i], label=f"iteration {i}") for i in range(iterations)],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=8,
    )
    ax.set_title(f"{iterations} iterations unrolled ({sched.iterations_in_flight()} in flight)")
    return ax


def _iteration_colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def gantt_figure(result: Schedule | Result) -> Figure:
    """A figure with the one-period view above the unrolled view."""
    sched = _schedule(result)
    height = max(2.5, 0.45 * sched.processors + 1.5)
    fig = Figure(figsize=(12, 2 * height), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    plot_gantt(sched, ax=top)
    plot_unrolled(sched, ax=bottom)
    if isinstance(result, Result):
        fig.suptitle(result.summary(), fontsize=9)
    return fig


def save_gantt(result: Schedule | Result, path: str | Path) -> None:
    """Write :func:`gantt_figure` to ``path`` (format from the suffix: png, svg, pdf)."""
    p = Path(path)
    if p.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InputError(f"{p}: Gantt chart must be .png, .svg or .pdf")
    fig = gantt_figure(result)
    tmp = p.with_name(f".{p.stem}.tmp{p.suffix}")
    try:
        fig.savefig(tmp, dpi=120)
        tmp.replace(p)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{p}: cannot write ({err.strerror})") from None
