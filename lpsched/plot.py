"""Plots: Gantt charts of schedules, speedup, optimality gap and utilisation.

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
    # pyplot, not a bare Figure, so that a notebook shows the plot of `plot_*(result)`.
    import matplotlib.pyplot as plt

    _fig, new = plt.subplots(figsize=(width, height), layout="constrained")
    return new


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


# ---------------------------------------------------------------------------
# Sweep plots
# ---------------------------------------------------------------------------
def _series_label(solver: str, decomposition: str, several_decompositions: bool) -> str:
    return f"{solver} ({decomposition})" if several_decompositions else solver


def _series_styles(df: Any) -> Any:
    """Line properties of a (decomposition, solver) series of a sweep table.

    Colour says the solver, line style and marker the decomposition, so that
    the two read apart and keep their look from one plot to the next.
    """
    solvers = list(dict.fromkeys(str(s) for s in df["solver"]))
    decomps = list(dict.fromkeys(str(d) for d in df["decomposition"]))
    colours = _iteration_colours(len(solvers))
    styles: list[Any] = ["-", "--", "-.", (0, (5, 1, 1, 1, 1, 1))]

    def style(decomposition: str, solver: str) -> dict[str, Any]:
        i = decomps.index(str(decomposition))
        out: dict[str, Any] = {"ls": styles[i % len(styles)], "marker": "os^Dv"[i % 5], "ms": 4}
        if solver:
            out["color"] = colours[solvers.index(str(solver))]
        return out

    return style


def _usable(df: Any) -> Any:
    """Rows with a validated schedule."""
    valid = df["valid"].astype("boolean").fillna(False).astype(bool)
    return df[valid & df["period"].notna()]


def plot_speedup(df: Any, ax: Axes | None = None) -> Axes:
    """Speedup ``sum(d) / T`` against the number of processors, from a sweep table.

    Draws the ideal line (speedup ``P``), the limit the lower bound allows
    (``sum(d) / LB``, dashed, one per decomposition, with the best lower bound
    of any solver at each ``P``) and one line per solver and decomposition.

    Parameters
    ----------
    df
        A table from :func:`lpsched.sweep.sweep` (one network).
    ax
        Axes to draw on; a new figure's when ``None``.
    """
    if len(df) == 0:
        raise InputError("nothing to plot: the sweep table is empty")
    ax = _new_ax(ax, width=7, height=4.5)
    rows = _usable(df)
    procs = sorted(int(p) for p in df["procs"].unique())
    ax.plot(procs, procs, color="black", lw=1, ls=":", label="ideal (speedup = P)")
    decomps = list(dict.fromkeys(df["decomposition"]))
    several = len(decomps) > 1
    style = _series_styles(df)
    reference = _reference(df)
    work = df.groupby(["network", "decomposition", "procs"])["total_work"].max()
    limit = (work.astype(float) / reference).dropna()
    for dec in decomps:
        part = limit[limit.index.get_level_values("decomposition") == dec]
        if len(part):
            label = f"lower-bound limit ({dec})" if several else "lower-bound limit"
            x = part.index.get_level_values("procs")
            ax.plot(
                x,
                part.to_numpy(),
                ls=style(dec, "")["ls"],
                lw=2.5,
                color="grey",
                alpha=0.45,
                label=label,
            )
    for (dec, solver), part in rows.groupby(["decomposition", "solver"], sort=False):
        part = part.sort_values("procs")
        ax.plot(
            part["procs"],
            part["speedup"],
            label=_series_label(str(solver), str(dec), several),
            **style(dec, solver),
        )
    ax.set_xlabel("processors P")
    ax.set_ylabel("speedup  sum(d) / T")
    names = ", ".join(dict.fromkeys(str(n) for n in df["network"]))
    ax.set_title(f"{names}: speedup against processors")
    ax.set_xticks(procs)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def _reference(df: Any) -> Any:
    """The best bound ``T*`` per (network, decomposition, procs); see :func:`gap_table`."""
    group = ["network", "decomposition", "procs"]
    ref = df.groupby(group)["lower_bound"].max().astype(float)
    optimal = df[(df["status"] == "optimal") & df["period"].notna()]
    if len(optimal):
        opt = optimal.groupby(group)["period"].min().astype(float)
        ref = _series_max(ref, opt)
    return ref.rename("reference")


def gap_table(df: Any) -> Any:
    """The gap of every row to the best bound known for its network, decomposition and ``P``.

    The reference ``T*`` of a grid point is the largest lower bound of any
    row there, raised to a proven-optimal period when one exists (they agree
    when a solver proves optimality). Adds columns ``reference`` and
    ``gap_to_best = (T - T*) / T``.
    """
    rows = _usable(df).copy()
    rows = rows.join(_reference(df), on=["network", "decomposition", "procs"])
    rows["gap_to_best"] = (rows["period"].astype(float) - rows["reference"]) / rows[
        "period"
    ].astype(float)
    return rows


def _series_max(a: Any, b: Any) -> Any:
    # Element-wise maximum of two series, ignoring a side that is missing.
    return a.combine(b, lambda x, y: max(v for v in (x, y) if v == v), fill_value=float("nan"))


def plot_gap(df: Any, ax: Axes | None = None, include_exact: bool = False) -> Axes:
    """Optimality gap ``(T - T*) / T`` of each heuristic against the number of processors.

    ``T*`` is the best lower bound at that ``P`` (the exact solver's period
    when it proved optimality); see :func:`gap_table`.

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

    ax = _new_ax(ax, width=7, height=4.5)
    rows = gap_table(df)
    if not include_exact:
        rows = rows[~rows["solver"].isin(EXACT_SOLVERS)]
    several = df["decomposition"].nunique() > 1
    style = _series_styles(df)
    for (dec, solver), part in rows.groupby(["decomposition", "solver"], sort=False):
        part = part.sort_values("procs")
        ax.plot(
            part["procs"],
            100 * part["gap_to_best"],
            label=_series_label(str(solver), str(dec), several),
            **style(dec, solver),
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
    ax.set_title(f"utilisation at T = {sched.period}")
    ax.legend(fontsize=8, loc="best")
    return ax


FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def save_figure(figure: Figure | Axes, path: str | Path, dpi: int = 120) -> Path:
    """Write a figure (or the figure of an axes) to ``path`` atomically.

    The file appears complete or not at all: it is written next to ``path``
    and renamed. The format follows the suffix: ``.png``, ``.svg`` or ``.pdf``.

    Raises
    ------
    InputError
        On another suffix, a missing directory or a write error.
    """
    p = Path(path)
    if p.suffix.lower() not in FIGURE_SUFFIXES:
        raise InputError(f"{p}: figure must be .png, .svg or .pdf")
    if not p.resolve().parent.is_dir():
        raise InputError(f"{p}: directory does not exist")
    fig = figure if isinstance(figure, Figure) else figure.get_figure()
    if fig is None:
        raise InputError("the axes belong to no figure")
    tmp = p.with_name(f".{p.stem}.tmp{p.suffix}")
    try:
        fig.savefig(tmp, dpi=dpi)
        tmp.replace(p)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{p}: cannot write ({err.strerror})") from None
    return p
