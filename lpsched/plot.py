"""Plots: Gantt charts of schedules, speedup, optimality gap, utilisation and memory.

Every ``plot_*`` function draws on ``ax`` (a new figure's axes when ``None``)
and returns the axes, so plots compose in notebooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .errors import InputError
from .files import check_output, write_bytes_atomic
from .platform import LINK_CLASSES
from .schedule import PORT_DIRECTIONS, Result, Schedule, Transfer

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
    # pyplot, not a bare Figure, so that a notebook shows the plot of `plot_*(result)`.
    import matplotlib.pyplot as plt

    _fig, new = plt.subplots(figsize=(width, height), layout="constrained")
    return new


def _label(
    ax: Axes, x: float, width: float, y: float, text: str, span: float, size: float = 7
) -> None:
    # Label only bars wide enough for the text, so 100+ tasks stay readable. A name is
    # text, never math: "$" or "^" in a layer name must not reach the math-text parser.
    if width >= span * 0.012 * (size / 7) * max(3, len(text)):
        ax.text(
            x + width / 2,
            y,
            text,
            ha="center",
            va="center",
            fontsize=size,
            clip_on=True,
            parse_math=False,
        )


def literal(text: str) -> str:
    """``text`` as matplotlib shows it literally in titles and legends: every ``$`` escaped.

    Names come from files (task, layer, network and platform names); without the
    escapes, two dollars make matplotlib parse what lies between as math text,
    and a name like ``a$^$b`` stops the drawing with a parse error.
    """
    return text.replace("$", r"\$")


def time_axis(sched: Schedule) -> tuple[float, str]:
    """Scale from time units to the x axis, and the axis' unit.

    Milliseconds when the graph's time unit is a time (``25us``: one unit is
    0.025 on the axis), else the graph's own unit, unscaled.
    """
    unit = sched.graph.time_unit_seconds
    if unit is None:
        return 1.0, sched.graph.time_unit or "time units"
    return unit * 1e3, "ms"


@dataclass(frozen=True)
class Lane:
    """One row of a Gantt chart: a processor, or one of its ports.

    Parameters
    ----------
    label
        The tick label: ``"P2"``, ``"P2 out"``, ``"P2 in inter"``.
    processor
        The processor it belongs to.
    port
        ``None`` for the processor's own lane, else ``(direction, link class)``.
    y, height
        Centre and height of the row on the y axis (top at 0, growing down).
    """

    label: str
    processor: int
    port: tuple[str, str] | None
    y: float
    height: float


#: Height of a port lane, as a share of a processor's lane.
PORT_LANE = 0.5


def gantt_lanes(sched: Schedule) -> list[Lane]:
    """The rows :func:`plot_gantt` draws: each processor, then its port lanes when it has any.

    Port lanes (an out-port and an in-port per link class that a transfer
    uses, the class named when two are) appear only when the schedule lists
    transfers; a ``delay`` schedule has one lane per processor, as ever.
    """
    used = {sched.platform.link_class(x.src, x.dst) for x in _drawn_transfers(sched)}
    classes = [c for c in LINK_CLASSES if c in used]
    lanes: list[Lane] = []
    y = 0.0
    for p in range(sched.processors):
        lanes.append(Lane(f"P{p}", p, None, y + 0.5, 1.0))
        y += 1.0
        for c in classes:
            for d in PORT_DIRECTIONS:
                name = f"P{p} {d}" + (f" {c}" if len(classes) > 1 else "")
                lanes.append(Lane(name, p, (d, c), y + PORT_LANE / 2, PORT_LANE))
                y += PORT_LANE
    return lanes


def _drawn_transfers(sched: Schedule) -> list[Transfer]:
    """The transfers a chart can place: on processors of the platform, busying a port."""
    P = sched.processors
    return [x for x in sched.transfers if x.duration > 0 and 0 <= x.src < P and 0 <= x.dst < P]


def _gantt_height(sched: Schedule) -> float:
    """Inches for a one-period chart: about half an inch per processor lane."""
    lanes = gantt_lanes(sched)
    rows = sum(lane.height for lane in lanes)
    return max(2.5, 0.45 * rows + 1.5)


def _arcs(start: int, duration: int, T: int) -> list[tuple[int, int]]:
    """``[start mod T, + duration)`` within one period: one piece, or two when it wraps."""
    r = start % T
    pieces = [(r, min(duration, T - r))]
    if r + duration > T:
        pieces.append((0, r + duration - T))
    return pieces


def plot_gantt(schedule: Schedule | Result, ax: Axes | None = None, labels: bool = True) -> Axes:
    """One period per processor: arcs ``[s mod T, s mod T + d)``, wrapped ones split in two.

    Tasks are coloured by kind (F, D, G, W, U or merged kinds) and labelled by
    layer. The x axis is in milliseconds when the time unit is a time
    (:func:`time_axis`), and each bar lasts the task's duration on its processor.
    When the schedule has transfers (``capacity: ports``), thin lanes under
    each processor (``P2 out``, ``P2 in``, :func:`gantt_lanes`) show them on the
    ports they busy, coloured by the producing task's kind and labelled by
    tensor where wide enough. A narrow panel at the right (:func:`memory_panel`)
    shows each processor's memory footprint against its capacity.
    """
    sched = _schedule(schedule)
    ax = _new_ax(ax, height=_gantt_height(sched))
    T = sched.period
    scale, axis_unit = time_axis(sched)
    lanes = gantt_lanes(sched)
    home = {lane.processor: lane for lane in lanes if lane.port is None}
    for t in sched.graph.tasks:
        lane = home.get(sched.processor[t.name])
        if lane is None:  # a processor outside the platform: the validator's to report
            continue
        colour = KIND_COLOURS.get(t.kind, _OTHER)
        for x, w in _arcs(sched.start[t.name], sched.duration(t.name), T):
            ax.broken_barh(
                [(x * scale, w * scale)],
                (lane.y - 0.4, 0.8),
                facecolors=colour,
                edgecolor="white",
                lw=0.5,
            )
            if labels:
                _label(ax, x * scale, w * scale, lane.y, t.layer or t.name, T * scale)
    _draw_transfers(ax, sched, lanes, labels)
    ax.set_xlim(0, T * scale)
    ax.set_ylim(sum(lane.height for lane in lanes), 0)
    ax.set_yticks([lane.y for lane in lanes], [lane.label for lane in lanes])
    for tick, lane in zip(ax.get_yticklabels(), lanes, strict=True):
        if lane.port is not None:
            tick.set_fontsize(7)
            tick.set_color("#555555")
    ax.set_xlabel(f"time within one period ({axis_unit}), T = {sched.describe_period()}")
    kinds = sorted(
        {t.kind for t in sched.graph.tasks},
        key=lambda k: list(KIND_COLOURS).index(k) if k in KIND_COLOURS else 99,
    )
    handles = [Patch(color=KIND_COLOURS.get(k, _OTHER), label=literal(k or "?")) for k in kinds]
    if _drawn_transfers(sched):
        # Port lanes reuse the kind colours: say that a bar there is a message.
        handles.append(
            Patch(facecolor="white", edgecolor="black", lw=0.5, label="transfer:\nits producer's")
        )
    side = memory_panel(ax, sched, lanes)
    # The legend goes right of the memory panel, when there is one.
    right = 1.0 if side is None else 1.0 + MEMORY_GAP + MEMORY_PANEL + 0.01
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(right, 1.0), fontsize=8, title="kind"
    )
    ax.set_title(literal(f"{sched.graph.name or 'schedule'}: one period on {_on(sched)}"))
    return ax


#: Width of the memory panel right of a Gantt chart, and the gap before it, as shares of
#: the chart's width.
MEMORY_PANEL = 0.13
MEMORY_GAP = 0.012

#: Colours of the memory panel: a footprint within its capacity, one over it, the capacity.
MEMORY_COLOURS = {"fits": "#4C72B0", "over": "#D62728", "capacity": "#E4E4E4"}


def byte_unit(nbytes: float) -> tuple[float, str]:
    """The decimal unit that reads ``nbytes`` best: ``(1e9, "GB")`` from 1 GB on, else MB ..."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return scale, unit
    return 1.0, "B"


def memory_panel(ax: Axes, sched: Schedule, lanes: list[Lane] | None = None) -> Axes | None:
    """Each processor's footprint against its capacity, in a panel right of a Gantt chart.

    One bar per processor lane (sharing the chart's rows): the footprint
    (:meth:`lpsched.schedule.Schedule.footprints`), blue, or red when it exceeds
    the processor's memory; the capacity, when set, as a grey bar behind it
    with a black end. The text reads ``footprint / capacity`` in the unit of
    the largest of them (GB for real networks, :func:`byte_unit`).

    Returns
    -------
    Axes | None
        The panel (a child of ``ax``), or ``None`` when the footprint cannot
        be counted (a schedule whose tasks are not all on the platform: the
        validator reports it).
    """
    lanes = gantt_lanes(sched) if lanes is None else lanes
    if any(not 0 <= sched.processor.get(t.name, -1) < sched.processors for t in sched.graph.tasks):
        return None
    try:
        foot = sched.footprints()
    except (KeyError, IndexError, ValueError, ZeroDivisionError):
        return None
    caps = [p.memory for p in sched.platform.processors]
    scale, unit = byte_unit(max([*foot, *(c for c in caps if c is not None)], default=0.0))
    side = ax.inset_axes((1.0 + MEMORY_GAP, 0.0, MEMORY_PANEL, 1.0), sharey=ax)
    widest = 0.0
    for lane in lanes:
        if lane.port is not None:
            continue
        f, c = foot[lane.processor] / scale, caps[lane.processor]
        text = _four_digits(f)
        if c is not None:
            c /= scale
            side.barh(lane.y + 0.12, c, height=0.5, color=MEMORY_COLOURS["capacity"], lw=0)
            side.plot([c, c], [lane.y - 0.13, lane.y + 0.37], color="black", lw=1)
            text += f" / {_four_digits(c)}"
            widest = max(widest, c)
        over = c is not None and f > c
        side.barh(
            lane.y + 0.12,
            f,
            height=0.3,
            color=MEMORY_COLOURS["over" if over else "fits"],
            lw=0,
        )
        widest = max(widest, f)
        side.text(
            0.02,
            lane.y - 0.25,
            text + (" over!" if over else ""),
            transform=side.get_yaxis_transform(),
            fontsize=6,
            va="center",
            color=MEMORY_COLOURS["over"] if over else "black",
            parse_math=False,
        )
    side.set_xlim(0, 1.05 * widest if widest > 0 else 1.0)
    side.tick_params(axis="y", left=False, labelleft=False)
    side.tick_params(axis="x", labelsize=6)
    side.set_title(f"memory ({unit})", fontsize=8)
    side.set_xlabel("footprint / capacity", fontsize=7)
    return side


def _four_digits(x: float) -> str:
    """``12.284 -> "12.28"``, ``0.0252 -> "0.0252"``: four significant digits, no exponent."""
    return f"{x:.4g}" if 1e-3 <= abs(x) < 1e4 or x == 0 else f"{x:.2e}"


def _draw_transfers(ax: Axes, sched: Schedule, lanes: list[Lane], labels: bool) -> None:
    """Each transfer on its sender's out-lane and its receiver's in-lane, wrapped mod ``T``."""
    transfers = _drawn_transfers(sched)
    if not transfers:
        return
    T = sched.period
    scale, _unit = time_axis(sched)
    lane_of = {(lane.processor, lane.port): lane for lane in lanes if lane.port is not None}
    kind = {t.name: t.kind for t in sched.graph.tasks}
    for lane in lanes:
        if lane.port is None and lane.processor > 0:
            # A faint rule above each processor keeps its port lanes with it.
            ax.axhline(lane.y - lane.height / 2, color="#cccccc", lw=0.6, zorder=0)
    for x in transfers:
        cls = sched.platform.link_class(x.src, x.dst)
        colour = KIND_COLOURS.get(kind.get(x.producer, ""), _OTHER)
        for p, d in ((x.src, "out"), (x.dst, "in")):
            lane = lane_of[(p, (d, cls))]
            for a, w in _arcs(x.start, x.duration, T):
                ax.broken_barh(
                    [(a * scale, w * scale)],
                    (lane.y - 0.4 * lane.height, 0.8 * lane.height),
                    facecolors=colour,
                    edgecolor="black",
                    lw=0.3,
                    alpha=0.75,
                )
                if labels:
                    # The tensor and where it goes (out-lane) or comes from (in-lane).
                    text = (
                        f"{x.tensor}\u2192P{x.dst}" if d == "out" else f"{x.tensor}\u2190P{x.src}"
                    )
                    _label(ax, a * scale, w * scale, lane.y, text, T * scale, size=6)


def _on(sched: Schedule) -> str:
    """``"4 processors"``, or ``"4 processors (pcie)"`` on a named platform."""
    name = sched.platform.name
    return f"{sched.processors} processors" + (f" ({name})" if name else "")


def plot_unrolled(
    schedule: Schedule | Result, iterations: int | None = None, ax: Axes | None = None
) -> Axes:
    """Several unrolled iterations in absolute time, coloured by iteration: the pipeline filling.

    The x axis is in milliseconds when the time unit is a time (:func:`time_axis`).

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
    scale, axis_unit = time_axis(sched)
    cmap = _iteration_colours(iterations)
    end = 0
    for i in range(iterations):
        for t in sched.graph.tasks:
            x = sched.start[t.name] + i * T
            d = sched.duration(t.name)
            ax.broken_barh(
                [(x * scale, d * scale)],
                (sched.processor[t.name] - 0.4, 0.8),
                facecolors=cmap[i],
                edgecolor="white",
                lw=0.3,
            )
            end = max(end, x + d)
    for k in range(1, end // T + 1):
        ax.axvline(k * T * scale, color="black", lw=0.5, ls=":")
    ax.set_xlim(0, end * scale)
    ax.set_ylim(sched.processors - 0.5, -0.5)
    ax.set_yticks(range(sched.processors), [f"P{p}" for p in range(sched.processors)])
    ax.set_xlabel(f"time ({axis_unit}); dotted lines every period T = {sched.describe_period()}")
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
    top_height = _gantt_height(sched)
    fig = Figure(figsize=(12, top_height + height), layout="constrained")
    top, bottom = fig.subplots(2, 1, height_ratios=[top_height, height])
    plot_gantt(sched, ax=top)
    plot_unrolled(sched, ax=bottom)
    if isinstance(result, Result):
        # The summary outgrows the figure's width (links, memory): wrap it at its "; ".
        fig.suptitle(literal(_wrap_summary(result.summary())), fontsize=9)
    return fig


def _wrap_summary(line: str, width: int = 150) -> str:
    """``line`` on as few lines of at most ``width`` characters as its ``"; "`` allow."""
    out: list[str] = []
    for part in line.split("; "):
        if out and len(out[-1]) + 2 + len(part) <= width:
            out[-1] += "; " + part
        else:
            out.append(part)
    return "\n".join(out)


def save_gantt(result: Schedule | Result, path: str | Path) -> None:
    """Write :func:`gantt_figure` to ``path`` (format from the suffix: png, svg, pdf).

    As :func:`save_figure`: the path is checked before the chart is drawn.
    """
    check_figure_path(path, "--gantt")
    save_figure(gantt_figure(result), path, what="--gantt")


# ---------------------------------------------------------------------------
# Sweep plots
# ---------------------------------------------------------------------------
#: A grid point of a sweep table, without the solver: the rows that share one best bound.
_POINT = ["network", "decomposition", "platform", "procs"]

#: One line of a sweep plot.
_SERIES = ["decomposition", "solver", "platform"]


def _with_platform(df: Any) -> Any:
    """The table with a ``platform`` column (tables built by hand may lack it)."""
    from .sweep import DEFAULT_PLATFORM

    return df if "platform" in df.columns else df.assign(platform=DEFAULT_PLATFORM)


def _series_label(solver: str, decomposition: str, platform: str, df: Any) -> str:
    """``solver``, with the decomposition and the platform when the table has several."""
    return literal(f"{solver}{_qualifiers(decomposition, platform, df)}")


def _qualifiers(decomposition: str, platform: str, df: Any) -> str:
    """``" (layerpipe)"``, ``" on pcie"``, both or nothing: what tells the series apart."""
    out = f" ({decomposition})" if df["decomposition"].nunique() > 1 else ""
    return out + (f" on {platform}" if df["platform"].nunique() > 1 else "")


_MARKERS = "osD^vPX*"
_DASHES: tuple[Any, ...] = ("-", "--", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (3, 1)))
_FILLS = ("full", "none", "left", "bottom", "right", "top")


class SeriesStyle:
    """Line properties of the (decomposition, solver, platform) series of a sweep table.

    Colour and marker say the solver, line style the decomposition and the
    marker's fill the platform, so that the series read apart and keep their
    look from one plot to the next. Equal values must not hide one another (a
    heuristic that finds the optimum draws exactly the exact solver's line), so
    each series is also drawn a few hundredths of a processor to the side of
    the count it belongs to (:meth:`offset`), and in order, earlier series with
    larger markers.
    """

    def __init__(self, df: Any) -> None:
        self.solvers = list(dict.fromkeys(str(s) for s in df["solver"]))
        self.decomps = list(dict.fromkeys(str(d) for d in df["decomposition"]))
        self.platforms = list(dict.fromkeys(str(p) for p in df["platform"]))
        self.series = list(
            dict.fromkeys(
                (str(d), str(s), str(p))
                for d, s, p in zip(df["decomposition"], df["solver"], df["platform"], strict=True)
            )
        )
        self.colours = _iteration_colours(len(self.solvers))
        procs = sorted({int(p) for p in df["procs"]})
        step = min((b - a for a, b in zip(procs, procs[1:], strict=False)), default=1)
        n = len(self.series)
        # At most 30% of the space between two counts, and 0.06 of it between neighbours.
        self._spread = 0.0 if n < 2 else min(0.06 * step, 0.3 * step / (n - 1))

    def dashes(self, decomposition: str) -> Any:
        """The line style of a decomposition."""
        return _DASHES[self.decomps.index(str(decomposition)) % len(_DASHES)]

    def offset(self, decomposition: str, solver: str, platform: str) -> float:
        """How far right of its ``P`` the series is drawn (centred on ``P``)."""
        k = self.series.index((str(decomposition), str(solver), str(platform)))
        return (k - (len(self.series) - 1) / 2) * self._spread

    def __call__(self, decomposition: str, solver: str, platform: str) -> dict[str, Any]:
        """Keyword arguments of :meth:`matplotlib.axes.Axes.plot` for the series."""
        s = self.solvers.index(str(solver))
        k = self.series.index((str(decomposition), str(solver), str(platform)))
        fill = self.platforms.index(str(platform)) if len(self.platforms) > 1 else 0
        return {
            "color": self.colours[s],
            "marker": _MARKERS[s % len(_MARKERS)],
            "fillstyle": _FILLS[fill % len(_FILLS)],
            "ls": self.dashes(decomposition),
            "lw": 1.4,
            "ms": max(3.5, 7.0 - 1.0 * k),
            "zorder": 3,
        }


def _usable(df: Any) -> Any:
    """Rows with a validated schedule."""
    valid = df["valid"].astype("boolean").fillna(False).astype(bool)
    return df[valid & df["period"].notna()]


def plot_speedup(df: Any, ax: Axes | None = None) -> Axes:
    """Speedup ``sum(d) / T`` against the number of processors, from a sweep table.

    Draws the ideal line (speedup ``P``), the limit the lower bound allows
    (``sum(d) / LB``, a light grey band under the series, one per decomposition
    and platform, with the best lower bound of any solver at each ``P``) and one
    line per solver, decomposition and platform, each with its own colour and
    marker and drawn slightly apart (:class:`SeriesStyle`). When every row shares one total work in
    milliseconds (one network, a time unit that is a time), the right axis
    reads the period in ms (``T = sum(d) / speedup``).

    Parameters
    ----------
    df
        A table from :func:`lpsched.sweep.sweep` (one network).
    ax
        Axes to draw on; a new figure's when ``None``.
    """
    if len(df) == 0:
        raise InputError("nothing to plot: the sweep table is empty")
    df = _with_platform(df)
    ax = _new_ax(ax, width=7, height=4.5)
    rows = _usable(df)
    procs = sorted(int(p) for p in df["procs"].unique())
    ax.plot(procs, procs, color="black", lw=1, ls=":", label="ideal (speedup = P)", zorder=2)
    style = SeriesStyle(df)
    _limit_lines(ax, df, style)
    for (dec, solver, plat), part in rows.groupby(_SERIES, sort=False):
        part = part.sort_values("procs")
        ax.plot(
            part["procs"].astype(float) + style.offset(dec, solver, plat),
            part["speedup"],
            label=_series_label(str(solver), str(dec), str(plat), df),
            **style(dec, solver, plat),
        )
    ax.set_xlabel("processors P")
    ax.set_ylabel("speedup  sum(d) / T")
    _period_axis(ax, rows)
    names = ", ".join(dict.fromkeys(str(n) for n in df["network"]))
    ax.set_title(literal(f"{names}: speedup against processors"))
    ax.set_xticks(procs)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return ax


#: Width in points of the lower-bound limit: a band wider than any series' line and
#: markers, so that it shows around a series that reaches it (a proven optimum does).
LIMIT_WIDTH = 9.0


def _limit_lines(ax: Axes, df: Any, style: SeriesStyle) -> None:
    """``sum(d) / LB`` per decomposition and platform, a light band under the series."""
    work = df.groupby(_POINT)["total_work"].max()
    limit = (work.astype(float) / _reference(df)).dropna()
    for (dec, plat), part in limit.groupby(level=["decomposition", "platform"], sort=False):
        ax.plot(
            part.index.get_level_values("procs"),
            part.to_numpy(),
            ls=style.dashes(dec),
            lw=LIMIT_WIDTH,
            color="#b0b0b0",
            alpha=0.5,
            solid_capstyle="round",
            zorder=1,
            label=literal("lower-bound limit" + _qualifiers(str(dec), str(plat), df)),
        )


def work_ms(rows: Any) -> float | None:
    """The total work in milliseconds that every row with a period shares, or ``None``.

    ``None`` when the rows differ (several networks or time units), or when a
    row has no period in milliseconds (a time unit that is no time, an old table).
    """
    rows = rows[rows["period"].notna()]
    if not len(rows) or "period_ms" not in rows.columns or rows["period_ms"].isna().any():
        return None
    per_row = (
        rows["total_work"].astype(float)
        * rows["period_ms"].astype(float)
        / rows["period"].astype(float)
    )
    lo, hi = float(per_row.min()), float(per_row.max())
    return lo if hi - lo <= 1e-9 * hi else None


def _period_axis(ax: Axes, rows: Any) -> None:
    """A right axis in ms of period, ``T = work / speedup``, when the work is one number."""
    import numpy as np

    work = work_ms(rows)
    if work is None:
        return

    def period(speedup: Any) -> Any:
        # Its own inverse; the axis may ask for speedup 0 at its edge.
        x = np.asarray(speedup, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, work / np.where(x > 0, x, 1.0), np.inf)

    right = ax.secondary_yaxis("right", functions=(period, period))
    right.set_ylabel("period T  [ms]")


def _reference(df: Any) -> Any:
    """The best bound ``T*`` per grid point (network, decomposition, platform, procs).

    See :func:`gap_table`.
    """
    df = _with_platform(df)
    ref = df.groupby(_POINT)["lower_bound"].max().astype(float)
    optimal = df[(df["status"] == "optimal") & df["period"].notna()]
    if len(optimal):
        opt = optimal.groupby(_POINT)["period"].min().astype(float)
        ref = _series_max(ref, opt)
    return ref.rename("reference")


def gap_table(df: Any) -> Any:
    """The gap of every row to the best bound known for its grid point.

    The reference ``T*`` of a grid point (network, decomposition, platform and
    ``P``) is the largest lower bound of any row there, raised to a
    proven-optimal period when one exists (they agree when a solver proves
    optimality). Adds columns ``reference`` and ``gap_to_best = (T - T*) / T``
    (a fraction; :func:`plot_gap` draws it in percent).
    """
    df = _with_platform(df)
    rows = _usable(df).copy()
    rows = rows.join(_reference(df), on=_POINT)
    rows["gap_to_best"] = (rows["period"].astype(float) - rows["reference"]) / rows[
        "period"
    ].astype(float)
    return rows


def _series_max(a: Any, b: Any) -> Any:
    # Element-wise maximum of two series, ignoring a side that is missing.
    return a.combine(b, lambda x, y: max(v for v in (x, y) if v == v), fill_value=float("nan"))


def plot_gap(df: Any, ax: Axes | None = None, include_exact: bool = False) -> Axes:
    """Optimality gap ``100 (T - T*) / T`` in percent of each heuristic against ``P``.

    ``T*`` is the best lower bound at that grid point (the exact solver's
    period when it proved optimality); see :func:`gap_table`.

    Parameters
    ----------
    df
        A table from :func:`lpsched.sweep.sweep`.
    ax
        Axes to draw on; a new figure's when ``None``.
    include_exact
        Also draw the exact solvers (``cpsat``, ``milp``, ``milp-cbc``), whose
        gap is zero where they proved optimality.
    """
    from .sweep import EXACT_SOLVERS

    df = _with_platform(df)
    ax = _new_ax(ax, width=7, height=4.5)
    rows = gap_table(df)
    if not include_exact:
        rows = rows[~rows["solver"].isin(EXACT_SOLVERS)]
    style = SeriesStyle(df)
    for (dec, solver, plat), part in rows.groupby(_SERIES, sort=False):
        part = part.sort_values("procs")
        ax.plot(
            part["procs"].astype(float) + style.offset(dec, solver, plat),
            100 * part["gap_to_best"],
            label=_series_label(str(solver), str(dec), str(plat), df),
            **style(dec, solver, plat),
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("processors P")
    ax.set_ylabel("gap to best bound (T - T*) / T  [%]")
    ax.set_xticks(sorted(int(p) for p in df["procs"].unique()))
    ax.set_title("optimality gap of the heuristics")
    ax.grid(True, alpha=0.3)
    if len(rows):
        ax.legend(fontsize=8)
    return ax


def over_memory(df: Any) -> bool:
    """Whether a sweep table runs over several memory capacities (unlimited is one of them)."""
    if "memory_gb" not in df.columns or not len(df):
        return False
    return df["memory_gb"].astype(float).fillna(-1.0).nunique() > 1


def plot_sweep(df: Any, ax: Axes | None = None) -> Axes:
    """A sweep's plot: :func:`plot_memory` over several capacities, else :func:`plot_speedup`."""
    return plot_memory(df, ax) if over_memory(df) else plot_speedup(df, ax)


#: Where an unlimited capacity sits on a memory axis: this factor right of the largest one.
UNLIMITED_AT = 2.0


def memory_rows(df: Any) -> Any:
    """The rows of a memory plot: a ``series`` label and ``x``, the capacity in GB.

    A series is a solver, decomposition, platform (without its capacity:
    :func:`lpsched.sweep.base_labels`) and ``P``; an unlimited capacity sits at
    :data:`UNLIMITED_AT` times the largest one (1 GB when none is finite).
    Rows with a validated schedule and rows proven ``infeasible`` are kept;
    ``y`` is the period in ms (time units when some row lacks ms), missing
    for infeasible rows.
    """
    from .sweep import base_labels

    df = _with_platform(df)
    if "memory_gb" not in df.columns:
        df = df.assign(memory_gb=float("nan"))
    df = df.assign(base=base_labels(df), memory_gb=df["memory_gb"].astype(float))
    finite = df["memory_gb"].dropna()
    unlimited = UNLIMITED_AT * float(finite.max()) if len(finite) else 1.0
    usable = _usable(df)
    in_ms = bool(len(usable)) and not usable["period_ms"].isna().any()
    rows = _concat([usable, df[df["status"] == "infeasible"]])
    rows = rows.assign(
        x=rows["memory_gb"].fillna(unlimited),
        y=rows["period_ms" if in_ms else "period"].astype(float),
        unlimited=rows["memory_gb"].isna(),
    )
    rows.attrs.update(in_ms=in_ms, unlimited_at=unlimited)
    return rows


def _concat(frames: list[Any]) -> Any:
    """``pandas.concat`` of the non-empty frames (pandas warns about empty ones)."""
    import pandas as pd

    kept = [f for f in frames if len(f)]
    return pd.concat(kept) if kept else frames[0].iloc[0:0]


def plot_memory(df: Any, ax: Axes | None = None) -> Axes:
    """The memory-period curve: the best period (ms) against the memory capacity (GB).

    One line per solver, decomposition, platform and ``P`` (:func:`memory_rows`),
    on a logarithmic capacity axis; an unlimited capacity is the last tick,
    joined by a dotted line. A row whose solver proved that no schedule fits
    (status ``infeasible``) has no period: it is a cross at the foot of the
    axes, above its capacity; other rows without a schedule are left out.

    Parameters
    ----------
    df
        A table from :func:`lpsched.sweep.sweep` with ``memory`` capacities.
    ax
        Axes to draw on; a new figure's when ``None``.
    """
    if len(df) == 0:
        raise InputError("nothing to plot: the sweep table is empty")
    rows = memory_rows(df)
    ax = _new_ax(ax, width=7, height=4.5)
    procs = rows["procs"].nunique() > 1
    keyed = rows.assign(
        platform=[
            f"{b} P={p}" if procs else str(b)
            for b, p in zip(rows["base"], rows["procs"], strict=True)
        ]
    )
    style = SeriesStyle(keyed if len(keyed) else _with_platform(df))
    foot = ax.get_xaxis_transform()  # x in data, y in axes: the foot of the plot
    crossed = False
    for k, ((dec, solver, plat), part) in enumerate(keyed.groupby(_SERIES, sort=False)):
        part = part.sort_values("x")
        kwargs = style(dec, solver, plat)
        label = literal(f"{solver}{_qualifiers(str(dec), str(plat), keyed)}")
        ok = part[part["y"].notna()]
        finite, unlimited = ok[~ok["unlimited"]], ok[ok["unlimited"]]
        ax.plot(finite["x"], finite["y"], label=label, **kwargs)
        if len(unlimited):
            joined = ok.iloc[-2:] if len(finite) else unlimited
            ax.plot(
                joined["x"],
                joined["y"],
                **{**kwargs, "ls": ":"},
                label=None if len(finite) else label,
            )
        bad = part[part["y"].isna()]
        if len(bad):
            crossed = True
            ax.plot(
                bad["x"],
                [0.03 + 0.045 * k] * len(bad),  # stacked: one series' cross hides no other's
                transform=foot,
                ls="none",
                marker="x",
                color=kwargs["color"],
                ms=8,
                mew=2,
                zorder=4,
                clip_on=False,
            )
    if crossed:
        ax.plot(
            [],
            [],
            ls="none",
            marker="x",
            color="black",
            ms=8,
            mew=2,
            label="proven infeasible (no schedule fits)",
        )
    _memory_ticks(ax, rows)
    ax.set_ylabel("period T  [ms]" if rows.attrs["in_ms"] else "period T  [time units]")
    ax.set_xlabel("memory capacity per processor  [GB]")
    names = ", ".join(dict.fromkeys(str(n) for n in df["network"]))
    on = f" at P={int(rows['procs'].iloc[0])}" if len(rows) and not procs else ""
    ax.set_title(literal(f"{names}: best period against memory{on}"))
    ax.grid(True, alpha=0.3)
    if len(rows):
        ax.legend(fontsize=8)
    return ax


def _memory_ticks(ax: Axes, rows: Any) -> None:
    """A log axis with a tick at every capacity, and ``unlimited`` at its place."""
    from matplotlib.ticker import NullLocator

    if not len(rows):
        return
    ax.set_xscale("log")
    ticks = sorted(set(rows["x"].astype(float)))
    names = [
        "unlimited" if x == rows.attrs["unlimited_at"] and rows["unlimited"].any() else f"{x:.4g}"
        for x in ticks
    ]
    ax.set_xticks(ticks, names)
    ax.xaxis.set_minor_locator(NullLocator())
    lo, hi = min(ticks), max(ticks)
    ax.set_xlim(lo / 1.25, hi * 1.25)


def plot_utilisation(schedule: Schedule | Result, ax: Axes | None = None) -> Axes:
    """Busy fraction of each processor over one period, as bars, with the mean dashed."""
    sched = _schedule(schedule)
    ax = _new_ax(ax, width=max(4, 0.5 * sched.processors + 2), height=3.5)
    util = [100 * u for u in sched.utilisation()]
    procs = range(sched.processors)
    ax.bar(procs, util, color=KIND_COLOURS["F"])
    mean = sum(util) / len(util)
    ax.axhline(mean, color="black", ls="--", lw=1, label=f"mean {mean:.1f}%")
    ax.set_xticks(list(procs), [f"P{p}" for p in procs])
    ax.set_ylim(0, 105)
    ax.set_ylabel("busy time / period  [%]")
    ax.set_title(f"utilisation at T = {sched.describe_period()}")
    ax.legend(fontsize=8, loc="best")
    return ax


#: The figure formats, by suffix.
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def check_figure_path(path: str | Path, what: str = "figure") -> Path:
    """Refuse a figure path before any work: another suffix, a directory, no directory.

    Raises
    ------
    InputError
        One line naming ``what`` (the flag, ``"--plot"``) and the path
        (:func:`lpsched.files.check_output`).
    """
    return check_output(path, FIGURE_SUFFIXES, what)


def save_figure(
    figure: Figure | Axes, path: str | Path, dpi: int = 120, what: str = "figure"
) -> Path:
    """Write a figure (or the figure of an axes) to ``path`` as files are written here.

    The figure is drawn in memory first, so that a drawing error leaves nothing
    behind; then a regular file is replaced atomically, a symbolic link followed
    and a FIFO written through (:func:`lpsched.files.write_bytes_atomic`). The
    format follows the suffix: ``.png``, ``.svg`` or ``.pdf``.

    Raises
    ------
    InputError
        On another suffix, a directory, a missing directory or a write error.
    """
    import io

    p = check_figure_path(path, what)
    fig = figure if isinstance(figure, Figure) else figure.get_figure()
    if fig is None:
        raise InputError("the axes belong to no figure")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=p.suffix.lower()[1:], dpi=dpi)
    write_bytes_atomic(p, buffer.getvalue())
    return p
